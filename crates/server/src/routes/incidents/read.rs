//! `GET /api/v1/incidents/{id}`: one incident with its first detections.

use axum::Json;
use axum::extract::State;
use citygrid_domain::eyes::IncidentId;
use citygrid_store::Store;
use serde::Serialize;
use utoipa::ToSchema;

use super::{DetectionView, IncidentView};
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::ApiPath;

/// How many detections an incident's page lists.
pub const DETECTIONS_SHOWN: usize = 200;

/// An incident and its detections.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentDetailView {
    /// The incident.
    incident: IncidentView,
    /// Its first 200 detections, earliest first (`count` says how many joined).
    detections: Vec<DetectionView>,
}

/// One incident with its first 200 detections. Outside the caller's
/// territory it does not exist (404).
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "eyes",
    params(("id" = u64, Path, description = "Incident id", minimum = 1)),
    responses((status = 200, body = IncidentDetailView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn read<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiPath(id): ApiPath<IncidentId>,
) -> ApiResult<Json<IncidentDetailView>> {
    let detail = app.incident_detail(&caller.actor(), id, DETECTIONS_SHOWN).await?;
    Ok(Json(IncidentDetailView {
        incident: detail.record.into(),
        detections: detail.detections.into_iter().map(DetectionView::from).collect(),
    }))
}
