//! `POST /api/v1/cases/{id}/actions`: one action per call.

use axum::Json;
use axum::extract::State;
use citygrid_domain::case::{Action, CaseId, TimelineEntry};
use citygrid_store::Store;
use serde::Serialize;
use utoipa::ToSchema;

use super::CaseView;
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath};

/// The outcome of an action.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionResponse {
    /// The case after the action.
    case: CaseView,
    /// The entry appended.
    entry: TimelineEntry,
}

/// Performs one action: register, reject, merge, dispatch, acknowledge,
/// return, handle, self_handle, verify, close, extend, suspend, resume,
/// void or evaluate. A transition the loop forbids is refused with 409
/// `invalid_transition`, naming the current state and the allowed actions.
#[utoipa::path(post, path = "/api/v1/cases/{id}/actions", tag = "cases", request_body = Action,
    params(("id" = i64, Path, description = "Case id", minimum = 1)),
    responses((status = 200, body = ActionResponse), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn act<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiPath(id): ApiPath<CaseId>,
    ApiJson(action): ApiJson<Action>,
) -> ApiResult<Json<ActionResponse>> {
    let acted = app.act(&caller.actor(), id, action).await?;
    let case = CaseView::new(&caller.principal, acted.case, &acted.departments_ever, acted.contact);
    Ok(Json(ActionResponse { case, entry: acted.entry }))
}
