//! The values that cross the storage contract.

use chrono::{DateTime, Utc};
use citygrid_domain::access::{CaseScope, Role};
use citygrid_domain::case::{Case, CaseId, CaseState, TimelineEntry};
use citygrid_domain::{BBox, CategoryCode, DeviceKind, Point, ReadingKind, Unit, UnitCode, WaterClass, Zone};
use serde::{Deserialize, Serialize};

/// A territory unit with its boundary as a GeoJSON geometry object (text),
/// which the store keeps opaque.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredUnit {
    /// The unit.
    pub unit: Unit,
    /// Its boundary, a GeoJSON `Polygon` or `MultiPolygon` geometry.
    pub geometry: String,
}

/// A zone with its geometry as a GeoJSON geometry object (text), which the
/// store keeps opaque.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredZone {
    /// The zone.
    pub zone: Zone,
    /// Its area, a GeoJSON `Polygon` or `MultiPolygon` geometry.
    pub geometry: String,
}

/// A case with its whole timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseRecord {
    /// The case as its timeline folds up.
    pub case: Case,
    /// Every entry, in order.
    pub timeline: Vec<TimelineEntry>,
    /// The reporter's sealed contact, if one was given.
    pub contact: Option<SealedContact>,
}

/// Which open cases count as near a new report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NearbyQuery {
    /// Search radius in metres; 0 disables the search.
    pub radius_m: f64,
    /// How many to return at most.
    pub limit: usize,
}

/// A case near a new report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NearbyCase {
    /// The case.
    pub id: CaseId,
    /// Its state.
    pub state: CaseState,
    /// How far it is, in metres.
    pub distance_m: f64,
    /// Its description.
    pub description: String,
}

/// What [`crate::Store::create_case`] gives back.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatedCase {
    /// The stored case, with its id.
    pub case: Case,
    /// Its report entry.
    pub entry: TimelineEntry,
    /// Open cases of the same category nearby, nearest first.
    pub nearby: Vec<NearbyCase>,
}

/// A filtered, paged list query.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFilter {
    /// The caller's visibility.
    pub scope: CaseScope,
    /// Any of these states (empty = all).
    pub states: Vec<CaseState>,
    /// This category.
    pub category: Option<CategoryCode>,
    /// Within this unit's subtree.
    pub territory: Option<UnitCode>,
    /// Only cases overdue at this instant.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Reported at or after.
    pub reported_from: Option<DateTime<Utc>>,
    /// Reported before.
    pub reported_to: Option<DateTime<Utc>>,
    /// Inside this box.
    pub bbox: Option<BBox>,
    /// Reporter contact matching this blind index (phone or ID number).
    pub contact_index: Option<String>,
    /// Continue after this id (ids descend).
    pub after: Option<CaseId>,
    /// Page size.
    pub limit: usize,
}

impl CaseFilter {
    /// Everything visible in `scope`, first page of `limit`.
    pub fn scoped(scope: CaseScope, limit: usize) -> Self {
        CaseFilter {
            scope,
            states: vec![],
            category: None,
            territory: None,
            overdue_at: None,
            reported_from: None,
            reported_to: None,
            bbox: None,
            contact_index: None,
            after: None,
            limit,
        }
    }
}

/// One page of cases.
#[derive(Debug, Clone, PartialEq)]
pub struct CasePage {
    /// The cases, newest first.
    pub cases: Vec<Case>,
    /// The id to continue after, when there may be more.
    pub next_after: Option<CaseId>,
}

/// An uploaded file, stored by content hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttachmentMeta {
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// MIME type, as detected from the bytes.
    pub content_type: String,
    /// Who uploaded it first.
    pub uploaded_by: String,
    /// When.
    pub uploaded_at: DateTime<Utc>,
}

/// Which audit records to read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    /// Records with `seq` greater than this.
    pub after_seq: Option<u64>,
    /// By this actor.
    pub actor: Option<String>,
    /// With this action.
    pub action: Option<String>,
    /// About this resource.
    pub resource: Option<String>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
    /// At most this many (0 = no limit).
    pub limit: usize,
}

/// A reporter's contact details, encrypted by the server before they reach
/// the store, with keyed blind indexes for exact-match search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedContact {
    /// The encrypted contact (key id, nonce and ciphertext, encoded).
    pub ciphertext: String,
    /// Blind index of the phone number.
    pub phone_index: Option<String>,
    /// Blind index of the resident ID number.
    pub id_index: Option<String>,
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// Stable id.
    pub id: String,
    /// Login name, unique.
    pub username: String,
    /// Name shown in timelines.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Territory binding.
    pub unit: Option<UnitCode>,
    /// Department binding.
    pub department: Option<String>,
    /// Argon2 PHC string.
    pub password_hash: String,
    /// Disabled accounts cannot log in.
    pub active: bool,
    /// Consecutive failed logins.
    pub failed_logins: u32,
    /// No login before this instant.
    pub locked_until: Option<DateTime<Utc>>,
    /// When created.
    pub created_at: DateTime<Utc>,
}

/// A login session; the token itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// Whose.
    pub user_id: String,
    /// When it began.
    pub created_at: DateTime<Utc>,
    /// When it ends by itself.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A device (camera, radar, station, gateway) and its API key's hash.
///
/// Fields after `revoked_at` came with the perception layer; devices
/// registered before read back with their defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// Stable id, e.g. `cam-yangtze-017`.
    pub id: String,
    /// Human name.
    pub name: String,
    /// What it is.
    pub kind: DeviceKind,
    /// SHA-256 of the API key, hex.
    pub key_hash: String,
    /// Where it stands: the deepest territory unit containing its position.
    pub unit: Option<UnitCode>,
    /// When registered.
    pub created_at: DateTime<Utc>,
    /// When its key was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Its position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Point>,
    /// The zones it watches, by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<String>,
    /// For a water station: how it speaks HJ 212 and which section it samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub station: Option<StationLink>,
    /// The gateway device it is registered under, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// Expected seconds between two reports (silent longer: a fault).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_interval_secs: Option<u32>,
    /// When it last reported, as last written by [`crate::DeviceStore::touch_devices`]
    /// (throttled: may lag the true instant by up to the caller's interval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<DateTime<Utc>>,
}

impl DeviceRecord {
    /// The station code (`MN`), for a water station.
    pub fn mn(&self) -> Option<&str> {
        self.station.as_ref().map(|s| s.mn.as_str())
    }
}

/// A water station's HJ 212 identity and section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StationLink {
    /// The HJ 212 station code (`MN`), unique among devices.
    pub mn: String,
    /// Its HJ 212 access password (`PW`), sealed by the application's
    /// keyring before it reaches the store; never shown by the API.
    pub pw_sealed: String,
    /// The `water_section` zone it samples (giving the target class).
    pub water_section: String,
}

/// One factor's value from a water station, classified under GB 3838.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaterReading {
    /// The station's device id.
    pub station: String,
    /// The instant the value is for (HJ 212 `DataTime`).
    pub data_time: DateTime<Utc>,
    /// Which series.
    pub kind: ReadingKind,
    /// HJ 212 factor code, e.g. `w01018`.
    pub factor: String,
    /// The value (`-Rtd` or `-Avg`).
    pub value: f64,
    /// The station's data flag as sent (`N` normal, `D` fault, …).
    pub flag: Option<String>,
    /// This value's GB 3838 class (`None`: no limit for the factor, or
    /// not a normal measurement).
    pub class: Option<WaterClass>,
    /// The whole sample's class: the worst of its assessed values.
    pub sample_class: Option<WaterClass>,
    /// The section's target class when the reading arrived.
    pub target: Option<WaterClass>,
    /// When the platform received it.
    pub received_at: DateTime<Utc>,
}

impl WaterReading {
    /// Where a page of readings continues after this one.
    pub fn cursor(&self) -> ReadingCursor {
        ReadingCursor { data_time: self.data_time, kind: self.kind, factor: self.factor.clone() }
    }
}

/// A position in the order readings are listed: by data time, then the
/// series' name (`daily` < `hourly` < `minute` < `realtime`, as the stores
/// sort text), then the factor code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadingCursor {
    /// Data time.
    pub data_time: DateTime<Utc>,
    /// Series.
    pub kind: ReadingKind,
    /// Factor code.
    pub factor: String,
}

impl Ord for ReadingCursor {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.data_time, self.kind.as_str(), &self.factor).cmp(&(other.data_time, other.kind.as_str(), &other.factor))
    }
}

impl PartialOrd for ReadingCursor {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Which readings to list: one station, a time range, one page.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadingQuery {
    /// The station's device id.
    pub station: String,
    /// Data time at or after.
    pub from: DateTime<Utc>,
    /// Data time before.
    pub to: DateTime<Utc>,
    /// Only this series.
    pub kind: Option<ReadingKind>,
    /// Continue after this reading.
    pub after: Option<ReadingCursor>,
    /// Page size (at least 1).
    pub limit: usize,
}

/// One page of readings, in `(data_time, kind, factor)` order.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadingPage {
    /// The readings.
    pub readings: Vec<WaterReading>,
    /// Where to continue, when there may be more.
    pub next: Option<ReadingCursor>,
}

/// What a login attempt changes, written with its audit record at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginOutcome {
    /// The user.
    pub user_id: String,
    /// Failed logins after this attempt.
    pub failed_logins: u32,
    /// Lock until, after this attempt.
    pub locked_until: Option<DateTime<Utc>>,
    /// The new session, on success.
    pub session: Option<SessionRecord>,
}
