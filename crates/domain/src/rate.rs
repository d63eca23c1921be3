//! Token buckets for rate limits: the arithmetic, kept apart from where a
//! backend keeps the buckets.

use chrono::{DateTime, Utc};

/// One client's bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Tokens left.
    pub tokens: f64,
    /// When `tokens` was last computed.
    pub at: DateTime<Utc>,
}

impl Bucket {
    /// A full bucket of `per_minute` tokens.
    pub fn full(per_minute: u32, now: DateTime<Utc>) -> Bucket {
        Bucket { tokens: f64::from(per_minute.max(1)), at: now }
    }

    /// Refills for the time since the last take and takes one token;
    /// `false` when none was left. A clock that went back refills nothing.
    pub fn take(&mut self, per_minute: u32, now: DateTime<Utc>) -> bool {
        let cap = f64::from(per_minute.max(1));
        let elapsed = (now - self.at).num_microseconds().unwrap_or(i64::MAX).max(0) as f64 / 1e6;
        self.tokens = (self.tokens + elapsed * cap / 60.0).min(cap);
        self.at = self.at.max(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether the bucket would be full again at `now` (so it can be forgotten).
    pub fn is_full_at(&self, per_minute: u32, now: DateTime<Utc>) -> bool {
        let cap = f64::from(per_minute.max(1));
        let elapsed = (now - self.at).num_seconds().max(0) as f64;
        self.tokens + elapsed * cap / 60.0 >= cap
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn bursts_refuses_then_refills() {
        let t = DateTime::<Utc>::UNIX_EPOCH;
        let mut b = Bucket::full(3, t);
        assert!(b.take(3, t) && b.take(3, t) && b.take(3, t));
        assert!(!b.take(3, t));
        assert!(!b.take(3, t + Duration::seconds(10)));
        assert!(b.take(3, t + Duration::seconds(21)));
        assert!(b.is_full_at(3, t + Duration::minutes(5)));
    }

    #[test]
    fn a_clock_going_back_or_far_forward_is_harmless() {
        let t = DateTime::<Utc>::UNIX_EPOCH + Duration::days(1);
        let mut b = Bucket::full(1, t);
        assert!(b.take(1, t));
        assert!(!b.take(1, t - Duration::hours(1)));
        assert!(b.take(1, DateTime::<Utc>::MAX_UTC));
    }
}
