//! Smart eyes: detections as they were accepted, and the incidents they
//! were grouped into.
//!
//! The intake writes a whole batch at once ([`EyesStore::record_detections`]):
//! its detections, idempotent on `(device, source id)`, the incidents the
//! batch opened or changed, and one audit record, in one transaction.
//! Incidents carry a version: every write names the version it replaces,
//! so two writers can never silently overwrite each other.

use std::future::Future;

use chrono::{DateTime, Utc};
use citygrid_domain::access::CaseScope;
use citygrid_domain::audit::AuditEvent;
use citygrid_domain::eyes::{AlertType, Detection, Incident, IncidentId, IncidentState};
use citygrid_domain::{BBox, UnitCode};
use serde::{Deserialize, Serialize};

use crate::Result;

/// Most detections one [`EyesStore::record_detections`] call takes.
pub const MAX_DETECTION_BATCH: usize = 1_000;

/// Most incidents one list page holds.
pub const MAX_INCIDENT_PAGE: usize = 500;

/// A detection as stored: what the source sent and what the pipeline made of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredDetection {
    /// What the source sent; `(device, id)` is the key.
    pub detection: Detection,
    /// When the intake accepted it.
    pub received_at: DateTime<Utc>,
    /// The territory unit its point lies in.
    pub territory: UnitCode,
    /// The rule that raised its alert, if one did.
    pub rule: Option<String>,
    /// The incident its alert joined or opened, if any.
    pub incident: Option<IncidentId>,
}

/// An incident as stored: the domain's incident with what storage and
/// review need beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentRecord {
    /// The incident.
    pub incident: Incident,
    /// 1 when opened, one more with every write.
    pub version: u64,
    /// The territory unit of its first alert: who may see it.
    pub territory: UnitCode,
    /// The rule that opened it.
    pub rule: Option<String>,
    /// When it was last written.
    pub updated_at: DateTime<Utc>,
}

/// One durable intake step.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionBatch {
    /// At most [`MAX_DETECTION_BATCH`] detections; each is inserted unless
    /// its `(device, id)` is stored already (or came earlier in the batch).
    pub detections: Vec<StoredDetection>,
    /// Incidents opened (version 1, which must be a new id) or changed
    /// (version n, replacing exactly the stored version n − 1) by the batch.
    pub incidents: Vec<IncidentRecord>,
    /// The batch's one audit record.
    pub audit: AuditEvent,
}

/// Whether a detection of a batch was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recorded {
    /// Stored now.
    Inserted,
    /// Its `(device, id)` was stored already; nothing changed.
    Duplicate,
}

/// Which incidents to list.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentFilter {
    /// The caller's visibility (`All`, `Territory` or `Nothing`; other
    /// scopes see nothing).
    pub scope: CaseScope,
    /// Any of these types (empty = all).
    pub kinds: Vec<AlertType>,
    /// Any of these states (empty = all).
    pub states: Vec<IncidentState>,
    /// Centroid inside this box.
    pub bbox: Option<BBox>,
    /// Last seen at or after.
    pub from: Option<DateTime<Utc>>,
    /// First seen before.
    pub to: Option<DateTime<Utc>>,
    /// Continue after this id (ids descend, newest first).
    pub after: Option<IncidentId>,
    /// Page size, 1–[`MAX_INCIDENT_PAGE`].
    pub limit: usize,
}

impl IncidentFilter {
    /// Everything visible in `scope`, first page of `limit`.
    pub fn scoped(scope: CaseScope, limit: usize) -> IncidentFilter {
        IncidentFilter { scope, kinds: vec![], states: vec![], bbox: None, from: None, to: None, after: None, limit }
    }
}

/// One page of incidents.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentPage {
    /// Newest (highest id) first.
    pub incidents: Vec<IncidentRecord>,
    /// The id to continue after, when there may be more.
    pub next_after: Option<IncidentId>,
}

/// Dismissed against total for one device or rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FalsePositives {
    /// The device or rule id.
    pub key: String,
    /// Its detections that joined an incident.
    pub total: u64,
    /// Of those, the ones whose incident was dismissed as a false positive.
    pub dismissed: u64,
}

/// False-positive counts per device and per rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FalsePositiveStats {
    /// Per device, by id.
    pub devices: Vec<FalsePositives>,
    /// Per rule, by id.
    pub rules: Vec<FalsePositives>,
}

/// Detections and incidents.
pub trait EyesStore: Send + Sync {
    /// Writes one batch in one transaction (see [`DetectionBatch`]) and says,
    /// per detection in order, whether it was inserted. An incident whose
    /// stored version is not the one it replaces is a
    /// [`crate::StoreError::Conflict`] and nothing is written; more than
    /// [`MAX_DETECTION_BATCH`] detections is [`crate::StoreError::Invalid`].
    fn record_detections(&self, batch: DetectionBatch) -> impl Future<Output = Result<Vec<Recorded>>> + Send;

    /// Which of these `(device, id)` keys are stored, as a flag per key.
    fn detections_known(&self, keys: Vec<(String, String)>) -> impl Future<Output = Result<Vec<bool>>> + Send;

    /// One incident.
    fn incident(&self, id: IncidentId) -> impl Future<Output = Result<Option<IncidentRecord>>> + Send;

    /// The first `limit` detections of an incident, earliest first (ties by
    /// device and id).
    fn incident_detections(
        &self,
        id: IncidentId,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredDetection>>> + Send;

    /// Incidents matching a filter, newest first, one page at a time.
    fn list_incidents(&self, filter: IncidentFilter) -> impl Future<Output = Result<IncidentPage>> + Send;

    /// Open and confirmed incidents last seen at or after `since`, by id:
    /// what the grouper reloads after a restart.
    fn open_incidents(&self, since: DateTime<Utc>) -> impl Future<Output = Result<Vec<IncidentRecord>>> + Send;

    /// The largest incident id ever stored (0 if none).
    fn max_incident_id(&self) -> impl Future<Output = Result<IncidentId>> + Send;

    /// Replaces an incident after a review decision: `record.version` must
    /// be the stored version plus one ([`crate::StoreError::Conflict`]
    /// otherwise, [`crate::StoreError::NotFound`] if there is none).
    fn update_incident(&self, record: IncidentRecord, audit: AuditEvent) -> impl Future<Output = Result<()>> + Send;

    /// Dismissed and total detection counts per device and per rule, over
    /// incidents visible in `scope`.
    fn false_positives(&self, scope: CaseScope) -> impl Future<Output = Result<FalsePositiveStats>> + Send;
}
