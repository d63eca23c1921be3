//! What the embedded store keeps in memory because only one process ever
//! opens it: leases, rate-limit buckets and the (silent) change feed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use citygrid_domain::rate::Bucket;
use citygrid_store::Change;
use parking_lot::Mutex;
use tokio::sync::broadcast;

/// Buckets kept before full ones are swept.
const SWEEP_AT: usize = 10_000;

/// Process-local coordination.
pub(crate) struct Local {
    leases: Mutex<HashMap<String, (String, DateTime<Utc>)>>,
    buckets: Mutex<HashMap<String, (Bucket, u32)>>,
    changes: broadcast::Sender<Change>,
}

impl Local {
    pub(crate) fn new() -> Local {
        Local {
            leases: Mutex::new(HashMap::new()),
            buckets: Mutex::new(HashMap::new()),
            changes: broadcast::channel(16).0,
        }
    }

    pub(crate) fn try_lease(&self, name: &str, holder: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> bool {
        let mut l = self.leases.lock();
        match l.get(name) {
            Some((h, exp)) if h != holder && *exp > now => false,
            _ => {
                l.insert(name.to_owned(), (holder.to_owned(), until));
                true
            }
        }
    }

    pub(crate) fn release_lease(&self, name: &str, holder: &str) {
        let mut l = self.leases.lock();
        if l.get(name).is_some_and(|(h, _)| h == holder) {
            l.remove(name);
        }
    }

    pub(crate) fn take_token(&self, key: &str, per_minute: u32, now: DateTime<Utc>) -> bool {
        let mut b = self.buckets.lock();
        if b.len() > SWEEP_AT {
            b.retain(|_, (bucket, rate)| !bucket.is_full_at(*rate, now));
        }
        let (bucket, rate) = b.entry(key.to_owned()).or_insert((Bucket::full(per_minute, now), per_minute));
        *rate = per_minute;
        bucket.take(per_minute, now)
    }

    /// No other process shares this store, so nothing is ever sent.
    pub(crate) fn changes(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }
}
