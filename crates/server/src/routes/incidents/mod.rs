//! Incidents: smart-eyes alerts grouped across devices in space and time,
//! read within the caller's territory and reviewed by operators. The views
//! here are what every incident endpoint returns.

pub mod list;
pub mod read;
pub mod review;
pub mod stats;

use chrono::{DateTime, Utc};
use citygrid_domain::UnitCode;
use citygrid_domain::case::CaseId;
use citygrid_domain::eyes::{AlertType, IncidentId, IncidentState, Severity};
use citygrid_store::{IncidentRecord, StoredDetection};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// An incident as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentView {
    /// Id.
    id: IncidentId,
    /// Alert type.
    kind: AlertType,
    /// Review state.
    state: IncidentState,
    /// Highest severity of its alerts.
    severity: Severity,
    /// Earliest alert.
    first_seen: DateTime<Utc>,
    /// Latest alert.
    last_seen: DateTime<Utc>,
    /// Alerts that joined it.
    count: u64,
    /// The first 64 distinct devices that reported it.
    devices: Vec<String>,
    /// Whether more devices reported it than `devices` lists.
    devices_truncated: bool,
    /// The first 32 distinct evidence digests.
    evidence: Vec<String>,
    /// Mean position of its alerts, longitude.
    lon: f64,
    /// Mean position of its alerts, latitude.
    lat: f64,
    /// `[min_lon, min_lat, max_lon, max_lat]` around its alerts.
    #[schema(value_type = Vec<f64>)]
    bbox: [f64; 4],
    /// The territory unit of its first alert.
    territory: UnitCode,
    /// The rule that opened it.
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<String>,
    /// The case it was promoted to.
    #[serde(skip_serializing_if = "Option::is_none")]
    case_id: Option<CaseId>,
    /// The incident it was merged into.
    #[serde(skip_serializing_if = "Option::is_none")]
    merged_into: Option<IncidentId>,
    /// Rises with every change.
    version: u64,
    /// Last written.
    updated_at: DateTime<Utc>,
}

impl From<IncidentRecord> for IncidentView {
    fn from(r: IncidentRecord) -> Self {
        let i = r.incident;
        let b = i.bbox;
        IncidentView {
            id: i.id,
            kind: i.kind,
            state: i.state,
            severity: i.severity,
            first_seen: i.first_seen,
            last_seen: i.last_seen,
            count: i.count,
            devices: i.devices,
            devices_truncated: i.devices_truncated,
            evidence: i.evidence,
            lon: i.centroid.lon,
            lat: i.centroid.lat,
            bbox: [b.min_lon, b.min_lat, b.max_lon, b.max_lat],
            territory: r.territory,
            rule: r.rule,
            case_id: i.case_id,
            merged_into: i.merged_into,
            version: r.version,
            updated_at: r.updated_at,
        }
    }
}

/// A stored detection as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DetectionView {
    /// The source's id.
    id: String,
    /// The device.
    device: String,
    /// When the device saw it.
    at: DateTime<Utc>,
    /// What was seen.
    label: String,
    /// Detector confidence.
    score: f64,
    /// Longitude.
    lon: f64,
    /// Latitude.
    lat: f64,
    /// Attachment digests.
    evidence: Vec<String>,
    /// Attributes as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    attributes: Option<Value>,
    /// When it was accepted.
    received_at: DateTime<Utc>,
    /// The rule that raised its alert.
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<String>,
}

impl From<StoredDetection> for DetectionView {
    fn from(s: StoredDetection) -> Self {
        let d = s.detection;
        DetectionView {
            id: d.id,
            device: d.device,
            at: d.at,
            label: d.label,
            score: d.score,
            lon: d.lon,
            lat: d.lat,
            evidence: d.evidence,
            attributes: d.attributes,
            received_at: s.received_at,
            rule: s.rule,
        }
    }
}
