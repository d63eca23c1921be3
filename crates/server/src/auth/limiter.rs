//! Per-client token buckets, for login and unauthenticated endpoints.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

use parking_lot::Mutex;

/// Buckets kept before idle ones are swept.
const SWEEP_AT: usize = 10_000;

/// A rate limit of `per_minute` requests per client, with bursts of the same size.
pub struct RateLimiter {
    per_minute: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    /// A limiter allowing `per_minute` requests per client address.
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter { per_minute: f64::from(per_minute.max(1)), buckets: Mutex::new(HashMap::new()) }
    }

    /// Seconds until a refused client has a token again.
    pub fn wait_secs(&self) -> u64 {
        (60.0 / self.per_minute).ceil() as u64
    }

    /// Takes one token for `ip`; `false` when the client must wait.
    pub fn allow(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let rate = self.per_minute / 60.0;
        let mut b = self.buckets.lock();
        if b.len() > SWEEP_AT {
            let cap = self.per_minute;
            b.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * rate < cap);
        }
        let (tokens, at) = b.entry(ip).or_insert((self.per_minute, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(self.per_minute);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refuses_per_client() {
        let l = RateLimiter::new(3);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        assert!(l.allow(a) && l.allow(a) && l.allow(a));
        assert!(!l.allow(a));
        assert!(l.allow(b));
    }
}
