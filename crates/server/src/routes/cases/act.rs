//! `POST /api/v1/cases/{id}/actions`: one action per call.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use citygrid_domain::access::Operation;
use citygrid_domain::case::{Action, CaseId, DecideContext, TimelineEntry, decide};
use citygrid_store::{Store, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

use super::{CaseView, check_evidence, departments_ever, load_for, masked_contact};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};

/// The outcome of an action.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionResponse {
    /// The case after the action.
    case: CaseView,
    /// The entry appended.
    entry: TimelineEntry,
}

/// Attempts made when a concurrent change wins the race.
const ATTEMPTS: usize = 3;

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
    let who = &caller.principal;
    for attempt in 1..=ATTEMPTS {
        let rec = load_for(&app, &caller, id, Operation::ActOnCase(action.kind())).await?;
        if attempt == 1 {
            // Only after authorization, so that nobody can probe which attachments exist.
            check_evidence(&app, action.evidence()).await?;
            // A duplicate may only be merged into a case the caller can see;
            // otherwise the answer would reveal which case ids exist elsewhere.
            if let Action::Merge { into, .. } = &action {
                load_for(&app, &caller, *into, Operation::ReadCase).await?;
            }
        }
        let world = app.world();
        let catalog = &world.catalog;
        let mut action = action.clone();
        // The category the case will have after the action decides its limits.
        let code = match &action {
            Action::Register { category: Some(c), .. } => c.clone(),
            _ => rec.case.category.clone(),
        };
        let category = catalog.categories.get(&code).ok_or_else(|| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_category", format!("no category {code}"))
        })?;
        if let Action::Dispatch { department, assists, .. } = &mut action {
            if department.is_none() {
                let d = catalog.default_department(category, &rec.case.territory).ok_or_else(|| {
                    ApiError::invalid(format!(
                        "no {} department serves {}; name one",
                        category.department_type, rec.case.territory
                    ))
                })?;
                *department = Some(d.code.clone());
            }
            if let Some(unknown) =
                department.iter().chain(assists.iter()).find(|d| !catalog.departments.contains_key(*d))
            {
                return Err(ApiError::invalid(format!("no department {unknown}")));
            }
        }
        let ctx = DecideContext {
            now: crate::app::now(),
            actor: &who.id,
            actor_role: who.role.as_str(),
            calendar: &app.calendar,
            category,
            policy: &app.policy,
        };
        let entry = decide(&rec.case, &action, &ctx)?;
        let mut case = rec.case.clone();
        case.apply(&entry);
        let audit = app.audit_event(who, caller.ip, &format!("case.{}", entry.action), &format!("case/{id}"));
        match app.store.append_entry(case.clone(), entry.clone(), audit).await {
            Ok(()) => {
                let mut timeline = rec.timeline.clone();
                timeline.push(entry.clone());
                let ever = departments_ever(&timeline);
                let contact = masked_contact(&app, &rec)?;
                return Ok(Json(ActionResponse { case: CaseView::new(who, case, &ever, contact), entry }));
            }
            Err(StoreError::Conflict(_)) if attempt < ATTEMPTS => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::new(StatusCode::CONFLICT, "conflict", "the case kept changing; reload and retry"))
}
