//! Rate limits that hold across every process sharing the store.

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::Result;

/// Token buckets keyed by client, shared by every process.
pub trait RateStore: Send + Sync {
    /// Takes one token from `key`'s bucket, which holds at most `per_minute`
    /// tokens and refills at `per_minute` a minute; `false` when it is empty.
    fn take_token(&self, key: &str, per_minute: u32, now: DateTime<Utc>) -> impl Future<Output = Result<bool>> + Send;
}
