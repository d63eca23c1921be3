//! When devices were last heard from, written to the store at most once a
//! [`Liveness::interval`] per device, so that a station reporting every few
//! seconds costs one small write a minute, not one per packet.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use parking_lot::Mutex;

/// Per device, the `last_seen` last written to the store.
#[derive(Debug)]
pub struct Liveness {
    interval: TimeDelta,
    written: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl Default for Liveness {
    fn default() -> Self {
        Liveness::new(TimeDelta::seconds(60))
    }
}

impl Liveness {
    /// Writes at most once per `interval` per device.
    pub fn new(interval: TimeDelta) -> Liveness {
        Liveness { interval, written: Mutex::new(HashMap::new()) }
    }

    /// The least time between two writes of one device's `last_seen`.
    pub fn interval(&self) -> TimeDelta {
        self.interval
    }

    /// Notes that `device` was heard at `at`; `true` when it is time to
    /// write it (the first time, or `interval` after the last write), and
    /// then counts it as written.
    pub fn due(&self, device: &str, at: DateTime<Utc>) -> bool {
        let mut written = self.written.lock();
        match written.get_mut(device) {
            Some(last) if at < *last + self.interval => false,
            Some(last) => {
                *last = at;
                true
            }
            None => {
                written.insert(device.to_owned(), at);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_once_per_interval() {
        let l = Liveness::new(TimeDelta::seconds(60));
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert!(l.due("ws-1", t));
        assert!(!l.due("ws-1", t + TimeDelta::seconds(59)));
        assert!(l.due("ws-2", t + TimeDelta::seconds(59)), "per device");
        assert!(l.due("ws-1", t + TimeDelta::seconds(60)));
        assert!(!l.due("ws-1", t + TimeDelta::seconds(61)));
    }
}
