//! The intake's in-memory state: the rules, the persistence tracker and the
//! grouper, with what the store needs to write each held incident (its
//! version, territory and opening rule).
//!
//! Why one lock over grouping *and* the durable write: the grouper decides
//! from what it holds, and what it holds must be what is stored, or a
//! failed write would leave it counting alerts nobody stored, and two
//! batches writing the same incident could land out of order. Holding the
//! lock until the batch is durable keeps memory and store in step; the
//! cheap per-item work (validation, location, zone look-up) happens before
//! it is taken. Writes by other processes are caught by the incidents'
//! versions: a conflicting write fails, the touched incidents are reloaded
//! from the store, and the batch is grouped once more.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use citygrid_domain::UnitCode;
use citygrid_domain::eyes::{Grouper, Incident, IncidentId, MAX_QUIET_MINUTES, PersistenceTracker, RuleSet};
use citygrid_store::{IncidentRecord, Store};

use crate::error::{AppError, AppResult};

/// Most batches waiting for (or holding) the intake lock at once; one more
/// is refused at once with [`AppError::Overloaded`] (HTTP 503 with
/// `Retry-After`), so a flood costs memory for this many batches at most
/// and every caller learns to back off rather than wait without bound.
pub const INTAKE_QUEUE: usize = 64;

/// The rules shipped with CityGrid (`data/rules.toml`): what a server runs
/// with unless it is given others.
pub const SEEDED_RULES: &str = include_str!("../../../../data/rules.toml");

/// What the store keeps beside a held incident.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Held {
    /// The stored version.
    pub version: u64,
    /// Where its first alert was.
    pub territory: UnitCode,
    /// The rule that opened it.
    pub rule: Option<String>,
}

/// The state behind the intake lock.
pub(crate) struct Pipeline {
    /// Streaks per (device, label), for persistence rules.
    pub tracker: PersistenceTracker,
    /// Incidents open for joining.
    pub grouper: Grouper,
    /// Version, territory and rule of every incident the grouper holds
    /// (and perhaps of some it has let go; pruned now and then).
    pub held: HashMap<IncidentId, Held>,
    /// The id the next new incident gets.
    pub next_id: IncidentId,
}

impl Pipeline {
    /// The record to store for `incident` at its next version.
    pub fn next_record(&self, incident: Incident, now: DateTime<Utc>) -> Option<IncidentRecord> {
        let held = self.held.get(&incident.id)?;
        Some(IncidentRecord {
            incident,
            version: held.version + 1,
            territory: held.territory.clone(),
            rule: held.rule.clone(),
            updated_at: now,
        })
    }

    /// Takes in a stored incident (start, or after a failed write).
    pub fn load(&mut self, r: IncidentRecord) {
        self.held.insert(r.incident.id, Held { version: r.version, territory: r.territory, rule: r.rule });
        self.grouper.load(r.incident);
    }

    /// Forgets what is kept for incidents the grouper let go, once there
    /// are many: keeps `held` as bounded as the grouper.
    pub fn prune(&mut self) {
        if self.held.len() > 2 * self.grouper.len() + 1024 {
            let grouper = &self.grouper;
            self.held.retain(|id, _| grouper.get(*id).is_some());
        }
    }
}

/// The smart-eyes state a [`crate::Core`] holds.
pub struct Eyes {
    /// The rules, fixed for the life of the process.
    pub(crate) rules: RuleSet,
    /// Grouping and writing, one batch at a time (see the module docs).
    pub(crate) pipeline: tokio::sync::Mutex<Pipeline>,
    /// Places in the queue for the lock ([`INTAKE_QUEUE`]).
    pub(crate) admission: tokio::sync::Semaphore,
}

impl Eyes {
    /// Loads the open incidents of the last week (no incident stays
    /// joinable longer) into a fresh grouper running `rules`.
    pub async fn load<S: Store>(store: &S, rules: RuleSet, now: DateTime<Utc>) -> AppResult<Eyes> {
        let grouper = Grouper::new(rules.grouping().clone()).map_err(AppError::internal)?;
        let late = Duration::seconds(i64::from(rules.grouping().late_secs));
        let since = now - Duration::minutes(i64::from(MAX_QUIET_MINUTES)) - late;
        let mut pipeline = Pipeline {
            tracker: rules.tracker(),
            grouper,
            held: HashMap::new(),
            next_id: store.max_incident_id().await? + 1,
        };
        for r in store.open_incidents(since).await? {
            pipeline.load(r);
        }
        Ok(Eyes {
            rules,
            pipeline: tokio::sync::Mutex::new(pipeline),
            admission: tokio::sync::Semaphore::new(INTAKE_QUEUE),
        })
    }

    /// The rules in force.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }
}
