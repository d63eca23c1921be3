//! `POST /api/v1/incidents/{id}/confirm|dismiss|merge|promote`: review
//! decisions (operators in the incident's territory). A state that does
//! not allow the decision is 409 `invalid_transition`.

use axum::Json;
use axum::extract::State;
use citygrid_app::eyes::Review;
use citygrid_domain::eyes::IncidentId;
use citygrid_store::Store;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::IncidentView;
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath};
use crate::routes::cases::CaseView;

/// The incident after a decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewResponse {
    /// The incident.
    incident: IncidentView,
}

/// Where to merge.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    /// An open or confirmed incident of the same type.
    #[schema(minimum = 1)]
    into: IncidentId,
}

/// A promoted incident and its case.
#[derive(Debug, Serialize, ToSchema)]
pub struct PromoteResponse {
    /// The incident, now `promoted`, naming the case.
    incident: IncidentView,
    /// The new case.
    case: CaseView,
}

async fn decide<S: Store>(app: &App<S>, caller: &Caller, id: IncidentId, r: Review) -> ApiResult<Json<ReviewResponse>> {
    let rec = app.review_incident(&caller.actor(), id, r).await?;
    Ok(Json(ReviewResponse { incident: rec.into() }))
}

/// Confirms an open incident: it is real.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/confirm", tag = "eyes",
    params(("id" = u64, Path, description = "Incident id", minimum = 1)),
    responses((status = 200, body = ReviewResponse), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)))]
pub async fn confirm<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiPath(id): ApiPath<IncidentId>,
) -> ApiResult<Json<ReviewResponse>> {
    decide(&app, &caller, id, Review::Confirm).await
}

/// Dismisses an incident as a false positive (counted in the rates).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/dismiss", tag = "eyes",
    params(("id" = u64, Path, description = "Incident id", minimum = 1)),
    responses((status = 200, body = ReviewResponse), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)))]
pub async fn dismiss<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiPath(id): ApiPath<IncidentId>,
) -> ApiResult<Json<ReviewResponse>> {
    decide(&app, &caller, id, Review::Dismiss).await
}

/// Merges an incident into another of the same type.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/merge", tag = "eyes", request_body = MergeBody,
    params(("id" = u64, Path, description = "Incident id", minimum = 1)),
    responses((status = 200, body = ReviewResponse), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn merge<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiPath(id): ApiPath<IncidentId>,
    ApiJson(body): ApiJson<MergeBody>,
) -> ApiResult<Json<ReviewResponse>> {
    decide(&app, &caller, id, Review::Merge { into: body.into }).await
}

/// Opens a case for an incident: the category configured for its type,
/// its centroid's place, its stored attachments, a description naming it;
/// the incident records the case.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/promote", tag = "eyes",
    params(("id" = u64, Path, description = "Incident id", minimum = 1)),
    responses((status = 200, body = PromoteResponse), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn promote<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiPath(id): ApiPath<IncidentId>,
) -> ApiResult<Json<PromoteResponse>> {
    let p = app.promote_incident(&caller.actor(), id).await?;
    let case = CaseView::new(&caller.principal, p.case, &[], None);
    Ok(Json(PromoteResponse { incident: p.incident.into(), case }))
}
