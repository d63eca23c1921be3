//! How long one device has kept seeing one label: the memory behind rules
//! like "a vessel stationary for over 10 minutes".
//!
//! A streak per (device, label) runs while reports keep coming at most
//! [`TrackerConfig::max_gap_secs`] apart and stay within
//! [`TrackerConfig::max_drift_m`] of where the streak began (so a vessel
//! passing through a reach does not count as stationary). Its length is
//! the time from its first to its latest report. A report that arrives out
//! of order is measured against the streak without changing it.
//!
//! Memory is bounded: stale streaks are swept once per gap of detection
//! time, and at [`TrackerConfig::capacity`] new pairs are not tracked until
//! the next sweep frees room, which errs towards no alert rather than
//! unbounded growth. The tracker's clock is the newest `at` it has seen, so
//! the same stream always gives the same answers.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::geometry::Point;

/// How streaks are kept.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackerConfig {
    /// Longest silence between two reports of one streak, in seconds (1–3600).
    pub max_gap_secs: u32,
    /// Farthest a report may be from the streak's first, in metres (> 0).
    pub max_drift_m: f64,
    /// Most (device, label) pairs tracked at once (1–10,000,000).
    pub capacity: usize,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        // Cameras report a visible object every few seconds; two minutes
        // bridges a short occlusion. 150 m absorbs position noise of a
        // camera's estimate without letting a moving vessel pass as still.
        TrackerConfig { max_gap_secs: 120, max_drift_m: 150.0, capacity: 100_000 }
    }
}

impl TrackerConfig {
    /// Whether every field is within its documented range.
    pub fn is_valid(&self) -> bool {
        (1..=3600).contains(&self.max_gap_secs)
            && self.max_drift_m.is_finite()
            && self.max_drift_m > 0.0
            && (1..=10_000_000).contains(&self.capacity)
    }

    fn gap(&self) -> Duration {
        Duration::seconds(i64::from(self.max_gap_secs))
    }
}

#[derive(Debug, Clone, Copy)]
struct Streak {
    started: DateTime<Utc>,
    last: DateTime<Utc>,
    origin: Point,
}

/// Streaks per (device, label); see the module docs.
#[derive(Debug, Clone)]
pub struct PersistenceTracker {
    config: TrackerConfig,
    /// Keyed by `device \0 label`: one string, so a lookup needs no
    /// allocation (`scratch` is reused) and ids cannot contain NUL.
    streaks: HashMap<String, Streak>,
    scratch: String,
    clock: Option<DateTime<Utc>>,
    next_sweep: Option<DateTime<Utc>>,
}

impl PersistenceTracker {
    /// An empty tracker.
    pub fn new(config: TrackerConfig) -> Self {
        PersistenceTracker { config, streaks: HashMap::new(), scratch: String::new(), clock: None, next_sweep: None }
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// How many streaks are held.
    pub fn len(&self) -> usize {
        self.streaks.len()
    }

    /// Whether no streak is held.
    pub fn is_empty(&self) -> bool {
        self.streaks.is_empty()
    }

    /// Records that `device` reported `label` at `at` and `point`, and
    /// returns how long its streak has lasted up to `at` (zero for a new one).
    pub fn observe(&mut self, device: &str, label: &str, at: DateTime<Utc>, point: Point) -> Duration {
        let clock = self.clock.map_or(at, |c| c.max(at));
        self.clock = Some(clock);
        if self.next_sweep.is_none_or(|next| clock >= next) {
            self.sweep(clock);
        }
        self.scratch.clear();
        self.scratch.push_str(device);
        self.scratch.push('\0');
        self.scratch.push_str(label);
        let gap = self.config.gap();
        if let Some(s) = self.streaks.get_mut(self.scratch.as_str()) {
            if at < s.last {
                // Late report: measured, not recorded, so arrival order
                // cannot stretch or break a streak.
                return if at >= s.started { at - s.started } else { Duration::zero() };
            }
            if at - s.last <= gap && s.origin.distance_m(&point) <= self.config.max_drift_m {
                s.last = at;
                return at - s.started;
            }
            *s = Streak { started: at, last: at, origin: point };
            return Duration::zero();
        }
        if self.streaks.len() < self.config.capacity {
            self.streaks.insert(self.scratch.clone(), Streak { started: at, last: at, origin: point });
        }
        Duration::zero()
    }

    /// Drops streaks that can no longer be extended at `clock`.
    fn sweep(&mut self, clock: DateTime<Utc>) {
        let gap = self.config.gap();
        self.streaks.retain(|_, s| s.last + gap >= clock);
        self.next_sweep = Some(clock + gap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64, sec: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000) + Duration::minutes(min) + Duration::seconds(sec)
    }

    const P: Point = Point { lon: 118.36, lat: 31.35 };

    fn east(m: f64) -> Point {
        Point { lon: P.lon + m / 95_000.0, lat: P.lat }
    }

    #[test]
    fn a_streak_grows_while_reports_keep_coming() {
        let mut tr = PersistenceTracker::new(TrackerConfig::default());
        assert_eq!(tr.observe("cam-1", "vessel", t(0, 0), P), Duration::zero());
        for m in 1..=10 {
            assert_eq!(tr.observe("cam-1", "vessel", t(m, 0), P), Duration::minutes(m));
        }
        // Another device or label has its own streak.
        assert_eq!(tr.observe("cam-2", "vessel", t(10, 0), P), Duration::zero());
        assert_eq!(tr.observe("cam-1", "person", t(10, 0), P), Duration::zero());
        assert_eq!(tr.len(), 3);
    }

    #[test]
    fn a_gap_or_a_move_restarts_it() {
        let mut tr = PersistenceTracker::new(TrackerConfig::default());
        tr.observe("cam-1", "vessel", t(0, 0), P);
        assert_eq!(tr.observe("cam-1", "vessel", t(2, 0), P), Duration::minutes(2), "exactly the gap");
        assert_eq!(tr.observe("cam-1", "vessel", t(4, 1), P), Duration::zero(), "past the gap");
        assert_eq!(tr.observe("cam-1", "vessel", t(5, 0), east(100.0)), Duration::seconds(59));
        assert_eq!(tr.observe("cam-1", "vessel", t(6, 0), east(300.0)), Duration::zero(), "moved away");
        assert_eq!(tr.observe("cam-1", "vessel", t(7, 0), east(300.0)), Duration::minutes(1));
    }

    #[test]
    fn late_reports_are_measured_not_recorded() {
        let mut tr = PersistenceTracker::new(TrackerConfig::default());
        tr.observe("cam-1", "vessel", t(10, 0), P);
        tr.observe("cam-1", "vessel", t(11, 0), P);
        assert_eq!(tr.observe("cam-1", "vessel", t(10, 30), P), Duration::seconds(30));
        assert_eq!(tr.observe("cam-1", "vessel", t(5, 0), east(900.0)), Duration::zero());
        assert_eq!(tr.observe("cam-1", "vessel", t(12, 0), P), Duration::minutes(2));
    }

    #[test]
    fn memory_is_bounded_and_stale_streaks_go() {
        let config = TrackerConfig { capacity: 3, ..TrackerConfig::default() };
        let mut tr = PersistenceTracker::new(config);
        for d in ["a-1", "a-2", "a-3", "a-4"] {
            tr.observe(d, "vessel", t(0, 0), P);
        }
        assert_eq!(tr.len(), 3, "the fourth is not tracked");
        tr.observe("a-4", "vessel", t(1, 0), P);
        assert_eq!(tr.len(), 3);
        // Once the clock passes the gap, a sweep frees the stale ones.
        tr.observe("a-5", "vessel", t(10, 0), P);
        assert_eq!(tr.len(), 1);
        assert_eq!(tr.observe("a-5", "vessel", t(11, 0), P), Duration::minutes(1));
    }

    #[test]
    fn config_bounds() {
        assert!(TrackerConfig::default().is_valid());
        assert!(!TrackerConfig { max_gap_secs: 0, ..TrackerConfig::default() }.is_valid());
        assert!(!TrackerConfig { max_drift_m: f64::NAN, ..TrackerConfig::default() }.is_valid());
        assert!(!TrackerConfig { capacity: 0, ..TrackerConfig::default() }.is_valid());
    }
}
