//! `POST /api/v1/detections`: a device's (or gateway's) batch of detections
//! into the intake pipeline (`citygrid_app::eyes::Intake`). The answer,
//! per item, comes only once every accepted item is durable.

use axum::Json;
use axum::extract::State;
use citygrid_app::eyes::{Intake, IntakeSource, ItemOutcome, ItemStatus};
use citygrid_domain::eyes::{Detection, IncidentId};
use citygrid_store::{MAX_DETECTION_BATCH, Store};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;

/// One detection as a source sends it.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)] // documents the wire shape; items are read one by one as JSON values
pub struct DetectionItem {
    /// The source's own id; with `device`, the idempotency key (1–128 printable characters).
    #[schema(example = "evt-20260501-0001")]
    id: String,
    /// The device that saw it: the key's own device.
    #[schema(value_type = super::devices::DeviceId)]
    device: String,
    /// When the device saw it (RFC 3339); at most 5 minutes ahead, at most 30 days old.
    at: chrono::DateTime<chrono::Utc>,
    /// What was seen, snake_case: `fishing`, `vessel`, `dumping`, `smoke`, …
    #[schema(example = "fishing", pattern = "^[a-z][a-z0-9_]{0,63}$")]
    label: String,
    /// Detector confidence, 0.0–1.0.
    #[schema(minimum = 0.0, maximum = 1.0, example = 0.91)]
    score: f64,
    /// Longitude, inside the city.
    #[schema(value_type = citygrid_domain::schema::Longitude)]
    lon: f64,
    /// Latitude, inside the city.
    #[schema(value_type = citygrid_domain::schema::Latitude)]
    lat: f64,
    /// SHA-256 digests of attachments already uploaded (at most 16).
    #[serde(default)]
    evidence: Vec<String>,
    /// Free-form attributes: a JSON object of at most 32 keys and 4 KiB.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    attributes: Option<Value>,
}

/// A batch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DetectionBatchBody {
    /// 1–1,000 detections. Items are read one by one: an unreadable item is
    /// rejected alone, with a reason.
    #[schema(value_type = Vec<DetectionItem>, min_items = 1, max_items = 1000)]
    detections: Vec<Value>,
}

/// What became of one item.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemResult {
    /// The item's `id` as sent (empty if it had none).
    id: String,
    /// Its `device` as sent (empty if it had none).
    device: String,
    /// `accepted` (durably stored), `duplicate` (stored before) or `rejected`.
    #[schema(value_type = String, pattern = "^(accepted|duplicate|rejected)$", example = "accepted")]
    status: ItemStatus,
    /// The incident it joined or opened, if a rule matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    incident: Option<IncidentId>,
    /// Why it was rejected, naming the field.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// The answer: one result per item, in order, and the tallies.
#[derive(Debug, Serialize, ToSchema)]
pub struct DetectionBatchResponse {
    /// Per item, in the order sent.
    items: Vec<ItemResult>,
    /// How many were accepted.
    accepted: usize,
    /// How many were duplicates.
    duplicate: usize,
    /// How many were rejected.
    rejected: usize,
}

impl From<ItemOutcome> for ItemResult {
    fn from(o: ItemOutcome) -> Self {
        ItemResult { id: o.id, device: o.device, status: o.status, incident: o.incident, reason: o.reason }
    }
}

/// A string field of an unreadable item, for its answer.
fn field(v: &Value, name: &str) -> String {
    v.get(name).and_then(Value::as_str).map(|s| s.chars().take(128).collect()).unwrap_or_default()
}

/// Takes a batch of detections from a device key (its own detections
/// only). Each item is answered `accepted` (with its incident, if a rule
/// matched), `duplicate` or `rejected` with a reason; the answer is sent
/// once the accepted ones are durable. 503 with `Retry-After` when the
/// store is saturated: nothing of the batch was stored, send it again.
#[utoipa::path(post, path = "/api/v1/detections", tag = "eyes", request_body = DetectionBatchBody,
    security(("api_key" = [])),
    responses((status = 200, body = DetectionBatchResponse), (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody), (status = 413, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)))]
pub async fn submit<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiJson(body): ApiJson<DetectionBatchBody>,
) -> ApiResult<Json<DetectionBatchResponse>> {
    if body.detections.len() > MAX_DETECTION_BATCH {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_detections",
            format!("at most {MAX_DETECTION_BATCH} detections per batch; split it"),
        ));
    }
    if body.detections.is_empty() {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "no_detections",
            "send at least one detection",
        ));
    }
    // Items that do not even read as a detection are answered here; the
    // rest go through the pipeline, and the answers are put back in order.
    let mut unreadable: Vec<(usize, ItemResult)> = vec![];
    let mut parsed: Vec<Detection> = Vec::with_capacity(body.detections.len());
    for (i, v) in body.detections.into_iter().enumerate() {
        let (id, device) = (field(&v, "id"), field(&v, "device"));
        match serde_json::from_value::<Detection>(v) {
            Ok(d) => parsed.push(d),
            Err(e) => unreadable.push((
                i,
                ItemResult {
                    id,
                    device,
                    status: ItemStatus::Rejected,
                    incident: None,
                    reason: Some(format!("unreadable item: {e}")),
                },
            )),
        }
    }
    // Authorized even when no item was readable, so a caller that may not
    // submit learns nothing from its items.
    let outcomes = app.submit(&caller.actor(), IntakeSource::Http, parsed).await?;
    let total = outcomes.len() + unreadable.len();
    let mut items = Vec::with_capacity(total);
    let mut outcomes = outcomes.into_iter();
    let mut unreadable = unreadable.into_iter().peekable();
    while items.len() < total {
        match unreadable.next_if(|(i, _)| *i == items.len()) {
            Some((_, r)) => items.push(r),
            None => match outcomes.next() {
                Some(o) => items.push(o.into()),
                None => break,
            },
        }
    }
    let count = |s: ItemStatus| items.iter().filter(|r| r.status == s).count();
    let (accepted, duplicate, rejected) =
        (count(ItemStatus::Accepted), count(ItemStatus::Duplicate), count(ItemStatus::Rejected));
    Ok(Json(DetectionBatchResponse { items, accepted, duplicate, rejected }))
}
