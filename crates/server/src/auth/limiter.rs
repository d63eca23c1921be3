//! Per-client rate limits for login and unauthenticated endpoints, kept by
//! the store (`RateStore`) so that they hold across every server process.

use std::net::IpAddr;

use chrono::Utc;
use citygrid_store::Store;

use crate::error::ApiResult;

/// A limit of `per_minute` requests per client address, with bursts of the
/// same size, under one name (`login`, `public`).
pub struct RateLimiter {
    name: &'static str,
    per_minute: u32,
}

impl RateLimiter {
    /// A limiter named `name` allowing `per_minute` requests per client.
    pub fn new(name: &'static str, per_minute: u32) -> RateLimiter {
        RateLimiter { name, per_minute: per_minute.max(1) }
    }

    /// Seconds until a refused client has a token again.
    pub fn wait_secs(&self) -> u64 {
        60u64.div_ceil(u64::from(self.per_minute))
    }

    /// Takes one token for `ip`; `false` when the client must wait.
    pub async fn allow<S: Store>(&self, store: &S, ip: IpAddr) -> ApiResult<bool> {
        Ok(store.take_token(&format!("{}:{ip}", self.name), self.per_minute, Utc::now()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_whole_seconds() {
        assert_eq!(RateLimiter::new("login", 10).wait_secs(), 6);
        assert_eq!(RateLimiter::new("login", 7).wait_secs(), 9);
        assert_eq!(RateLimiter::new("login", 0).wait_secs(), 60);
    }
}
