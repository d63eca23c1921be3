//! `GET /api/v1/cases/{id}`: one case with its timeline.

use axum::Json;
use axum::extract::State;
use citygrid_domain::access::{Operation, Scope};
use citygrid_domain::case::CaseId;
use citygrid_store::Store;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{CaseDetail, CaseView, departments_ever, facts, load_for, masked_contact, open_contact};
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiPath, ApiQuery};

/// Read options.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadQuery {
    /// Show the reporter's contact in the clear (operators and the leading
    /// department only; every such read is audited).
    #[serde(default)]
    unmask: bool,
}

/// One case with its whole timeline; the contact is masked unless asked for and allowed.
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases",
    params(("id" = i64, Path, description = "Case id", minimum = 1), ReadQuery),
    responses((status = 200, body = CaseDetail), (status = 404, body = crate::error::ErrorBody)))]
pub async fn read<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiPath(id): ApiPath<CaseId>,
    ApiQuery(q): ApiQuery<ReadQuery>,
) -> ApiResult<Json<CaseDetail>> {
    let rec = load_for(&app, &caller, id, Operation::ReadCase).await?;
    let ever = departments_ever(&rec.timeline);
    let contact = if q.unmask && rec.contact.is_some() {
        let resource = format!("case/{id}/contact");
        let scope = Scope::Case(facts(&rec.case, &ever));
        app.authorize(&caller.principal, caller.ip, Operation::UnmaskCase, &scope, &resource).await?;
        let clear = open_contact(&app, &rec)?;
        app.store.append_audit(app.audit_event(&caller.principal, caller.ip, "case.unmask", &resource)).await?;
        clear
    } else {
        masked_contact(&app, &rec)?
    };
    let view = CaseView::new(&caller.principal, rec.case.clone(), &ever, contact);
    Ok(Json(CaseDetail { case: view, timeline: rec }))
}
