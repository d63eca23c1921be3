//! `GET /api/v1/incidents/stats`: false-positive rates per device and rule.

use axum::Json;
use axum::extract::State;
use citygrid_store::{FalsePositives, Store};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiResult;

/// One device's or rule's false-positive rate.
#[derive(Debug, Serialize, ToSchema)]
pub struct FalsePositiveRate {
    /// The device or rule id.
    key: String,
    /// Its detections that joined an incident.
    total: u64,
    /// Of those, in incidents dismissed as false positives.
    dismissed: u64,
    /// `dismissed / total`.
    rate: f64,
}

impl From<FalsePositives> for FalsePositiveRate {
    fn from(f: FalsePositives) -> Self {
        let rate = if f.total == 0 { 0.0 } else { f.dismissed as f64 / f.total as f64 };
        FalsePositiveRate { key: f.key, total: f.total, dismissed: f.dismissed, rate }
    }
}

/// False-positive rates.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentStats {
    /// Per device, by id.
    devices: Vec<FalsePositiveRate>,
    /// Per rule, by id.
    rules: Vec<FalsePositiveRate>,
}

/// False-positive rates per device and per rule, over the incidents the
/// caller may see: detections in dismissed incidents / detections in any.
#[utoipa::path(get, path = "/api/v1/incidents/stats", tag = "eyes",
    responses((status = 200, body = IncidentStats), (status = 403, body = crate::error::ErrorBody)))]
pub async fn stats<S: Store>(State(app): State<App<S>>, caller: Caller) -> ApiResult<Json<IncidentStats>> {
    let s = app.false_positive_rates(&caller.actor()).await?;
    Ok(Json(IncidentStats {
        devices: s.devices.into_iter().map(FalsePositiveRate::from).collect(),
        rules: s.rules.into_iter().map(FalsePositiveRate::from).collect(),
    }))
}
