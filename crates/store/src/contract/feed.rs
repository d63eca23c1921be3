//! The live feed: every change to a case, numbered in commit order, kept
//! for a while so that a watcher who lost its connection can resume.

use std::future::Future;

use chrono::{DateTime, Utc};
use citygrid_domain::UnitCode;
use citygrid_domain::audit::AuditEvent;
use citygrid_domain::case::{ActionKind, Case, CaseId, CaseState, TimelineEntry};
use serde::{Deserialize, Serialize};

use crate::{IncidentRecord, Result};
use citygrid_domain::eyes::{AlertType, IncidentId, IncidentState, Severity};

/// One numbered change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedEvent {
    /// Its number: rises with every change; the `Last-Event-ID` of a watcher.
    pub seq: u64,
    /// When the change happened.
    pub at: DateTime<Utc>,
    /// What changed.
    pub item: FeedItem,
}

/// What a feed event is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "subject", rename_all = "snake_case")]
pub enum FeedItem {
    /// A case was reported or acted on.
    Case(CaseChange),
    /// An incident was opened, grew, or was reviewed.
    Incident(IncidentChange),
}

/// An incident as one of its changes left it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentChange {
    /// The incident.
    pub id: IncidentId,
    /// Its version after the change.
    pub version: u64,
    /// Its alert type.
    pub kind: AlertType,
    /// Its state after the change.
    pub state: IncidentState,
    /// Its severity after the change.
    pub severity: Severity,
    /// Detections so far.
    pub count: u64,
    /// The unit that decides who may see it.
    pub territory: UnitCode,
    /// Longitude of its centroid.
    pub lon: f64,
    /// Latitude of its centroid.
    pub lat: f64,
    /// The case it was promoted to.
    pub case: Option<CaseId>,
}

impl IncidentChange {
    /// The change a write of `r` makes.
    pub fn of(r: &IncidentRecord) -> IncidentChange {
        let i = &r.incident;
        IncidentChange {
            id: i.id,
            version: r.version,
            kind: i.kind,
            state: i.state,
            severity: i.severity,
            count: i.count,
            territory: r.territory.clone(),
            lon: i.centroid.lon,
            lat: i.centroid.lat,
            case: i.case_id,
        }
    }
}

/// A case as one of its changes left it: enough to place it on a map and
/// to decide who may see it, not the whole case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseChange {
    /// The case.
    pub id: CaseId,
    /// Its version after the change.
    pub version: u32,
    /// The action that changed it.
    pub action: ActionKind,
    /// Its state after the change.
    pub state: CaseState,
    /// Where it is.
    pub territory: UnitCode,
    /// Longitude.
    pub lon: f64,
    /// Latitude.
    pub lat: f64,
    /// Who reported it.
    pub reporter: String,
    /// Its lead department after the change.
    pub department: Option<String>,
    /// Its assisting departments after the change.
    pub assists: Vec<String>,
    /// When its current step is due.
    pub deadline: Option<DateTime<Utc>>,
}

impl CaseChange {
    /// The change `entry` made, leaving `case` as it is.
    pub fn of(case: &Case, entry: &TimelineEntry) -> CaseChange {
        CaseChange {
            id: case.id,
            version: case.version,
            action: entry.action,
            state: case.state,
            territory: case.territory.clone(),
            lon: case.location.lon,
            lat: case.location.lat,
            reporter: case.reporter.clone(),
            department: case.department.clone(),
            assists: case.assists.clone(),
            deadline: case.deadline,
        }
    }
}

/// The numbered changes. Case writes ([`crate::CaseStore::create_case`],
/// [`crate::CaseStore::append_entry`]) and incident writes
/// ([`crate::EyesStore::record_detections`],
/// [`crate::EyesStore::update_incident`]) add theirs in the same
/// transaction; bulk imports and moves between backends add none.
pub trait FeedStore: Send + Sync {
    /// Up to `limit` events numbered above `after`, in order. Numbers are
    /// unique and rising but may have gaps, and on a backend with several
    /// writers a number may commit after a higher one (see the backend).
    fn feed_after(&self, after: u64, limit: usize) -> impl Future<Output = Result<Vec<FeedEvent>>> + Send;

    /// The lowest and highest number still kept, if any event is.
    fn feed_bounds(&self) -> impl Future<Output = Result<Option<(u64, u64)>>> + Send;

    /// Forgets events that happened before `before`; returns how many.
    fn prune_feed(&self, before: DateTime<Utc>, audit: AuditEvent) -> impl Future<Output = Result<u64>> + Send;
}
