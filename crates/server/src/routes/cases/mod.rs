//! Cases: report, list, read, act, and read their attachments.

pub mod act;
pub mod attachment;
pub mod create;
pub mod list;
pub mod read;

use chrono::Utc;
use citygrid_domain::access::{CaseFacts, Operation, Principal, Scope, authorize, may_act};
use citygrid_domain::case::{ActionKind, Case, CaseId, TimelineEntry};
use citygrid_domain::personal::Contact;
use citygrid_store::{CaseRecord, NearbyCase, Store};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

/// Every department a timeline ever dispatched the case to.
pub fn departments_ever(timeline: &[TimelineEntry]) -> Vec<String> {
    let mut v: Vec<String> = timeline
        .iter()
        .filter_map(|e| e.data.department.as_ref().map(|d| std::iter::once(d).chain(&e.data.assists)))
        .flatten()
        .cloned()
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The policy's view of a case.
pub fn facts<'a>(case: &'a Case, ever: &'a [String]) -> CaseFacts<'a> {
    CaseFacts {
        territory: &case.territory,
        reporter: &case.reporter,
        department: case.department.as_deref(),
        departments_ever: ever,
    }
}

/// Loads a case the caller may perform `op` on (404 when absent or out of scope).
pub async fn load_for<S: Store>(
    app: &App<S>,
    caller: &Caller,
    id: CaseId,
    op: Operation,
) -> ApiResult<std::sync::Arc<CaseRecord>> {
    let resource = format!("case/{id}");
    let Some(rec) = app.store.case(id).await? else {
        return Err(ApiError::not_found(resource));
    };
    let ever = departments_ever(&rec.timeline);
    app.authorize(&caller.principal, caller.ip, op, &Scope::Case(facts(&rec.case, &ever)), &resource).await?;
    Ok(rec)
}

/// The actions this caller could take on this case now.
pub fn allowed_for(who: &Principal, case: &Case, ever: &[String]) -> Vec<ActionKind> {
    let scope = Scope::Case(facts(case, ever));
    case.state
        .allowed()
        .iter()
        .copied()
        .filter(|a| may_act(who.role, *a) && authorize(who, Operation::ActOnCase(*a), &scope).is_ok())
        .collect()
}

/// A case as the API returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseView {
    /// The case.
    #[serde(flatten)]
    pub case: Case,
    /// Whether the running node's deadline has passed.
    pub overdue: bool,
    /// The reporter's contact: masked unless `unmask=true` was asked for and allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
    /// What the caller may do next.
    pub allowed_actions: Vec<ActionKind>,
}

impl CaseView {
    /// The view of `case` for `who`, with an already decided contact form.
    pub fn new(who: &Principal, case: Case, ever: &[String], contact: Option<Contact>) -> CaseView {
        CaseView { overdue: case.is_overdue(Utc::now()), allowed_actions: allowed_for(who, &case, ever), contact, case }
    }
}

/// A case with its timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseDetail {
    /// The case.
    pub case: CaseView,
    /// Every step, oldest first (serialised straight from the shared record).
    #[serde(serialize_with = "timeline_of")]
    #[schema(value_type = Vec<TimelineEntry>)]
    pub timeline: std::sync::Arc<CaseRecord>,
}

fn timeline_of<S: serde::Serializer>(r: &std::sync::Arc<CaseRecord>, s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&r.timeline, s)
}

/// A newly reported case.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedResponse {
    /// The case.
    pub case: CaseView,
    /// Its timeline (the report).
    pub timeline: Vec<TimelineEntry>,
    /// Open cases of the same category nearby: possible duplicates to merge.
    pub possible_duplicates: Vec<NearbyCase>,
}

/// Opens a sealed contact and masks it.
pub fn masked_contact<S>(app: &App<S>, rec: &CaseRecord) -> ApiResult<Option<Contact>> {
    open_contact(app, rec).map(|c| c.map(|c| c.masked()))
}

/// Opens a sealed contact in the clear (callers audit the read).
pub fn open_contact<S>(app: &App<S>, rec: &CaseRecord) -> ApiResult<Option<Contact>> {
    rec.contact.as_ref().map(|s| app.vault.open(&s.ciphertext).map_err(ApiError::internal)).transpose()
}

/// Checks every cited attachment exists.
pub async fn check_evidence<S: Store>(app: &App<S>, evidence: &[String]) -> ApiResult<()> {
    if evidence.is_empty() {
        return Ok(());
    }
    let missing = app.store.missing_attachments(evidence.to_vec()).await?;
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_attachment",
            format!("upload these attachments first: {}", missing.join(", ")),
        ))
    }
}
