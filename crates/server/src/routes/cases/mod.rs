//! Cases: report, list, read, act, and read their attachments.

pub mod act;
pub mod attachment;
pub mod create;
pub mod list;
pub mod read;

use chrono::Utc;
use citygrid_domain::access::{Operation, Principal, Scope, authorize, may_act};
use citygrid_domain::case::{ActionKind, Case, CaseId, TimelineEntry};
use citygrid_domain::personal::Contact;
use citygrid_store::{CaseRecord, NearbyCase, Store};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiResult;

pub use citygrid_app::cases::{departments_ever, facts};

/// Loads a case the caller may perform `op` on (404 when absent or out of scope).
pub async fn load_for<S: Store>(
    app: &App<S>,
    caller: &Caller,
    id: CaseId,
    op: Operation,
) -> ApiResult<std::sync::Arc<CaseRecord>> {
    Ok(app.case_for(&caller.actor(), id, op).await?)
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
    Ok(app.core().masked_contact(rec)?)
}

/// Opens a sealed contact in the clear (callers audit the read).
pub fn open_contact<S>(app: &App<S>, rec: &CaseRecord) -> ApiResult<Option<Contact>> {
    Ok(app.core().open_contact(rec)?)
}
