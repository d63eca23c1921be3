//! Cases and their timelines.

use std::future::Future;

use citygrid_domain::audit::AuditEvent;
use citygrid_domain::case::{Case, CaseId, CaseState, TimelineEntry};

use crate::{CaseFilter, CasePage, CaseRecord, CaseScope, CreatedCase, NearbyQuery, Result, SealedContact};

/// Cases and their timelines.
pub trait CaseStore: Send + Sync {
    /// Stores a new case (its `id` is assigned here) with its report entry,
    /// and lists open cases of the same category near it.
    fn create_case(
        &self,
        case: Case,
        report: TimelineEntry,
        contact: Option<SealedContact>,
        nearby: NearbyQuery,
        audit: AuditEvent,
    ) -> impl Future<Output = Result<CreatedCase>> + Send;

    /// Appends one entry, and the case as it stands after it, if the stored
    /// case is still at `entry.seq - 1` ([`StoreError::Conflict`] otherwise).
    fn append_entry(
        &self,
        case: Case,
        entry: TimelineEntry,
        audit: AuditEvent,
    ) -> impl Future<Output = Result<()>> + Send;

    /// One case with its timeline (shared: backends may serve it from memory).
    fn case(&self, id: CaseId) -> impl Future<Output = Result<Option<std::sync::Arc<CaseRecord>>>> + Send;

    /// Cases matching a filter, newest first, one page at a time.
    fn list_cases(&self, filter: CaseFilter) -> impl Future<Output = Result<CasePage>> + Send;

    /// Count of cases per state, within a scope.
    fn count_by_state(&self, scope: CaseScope) -> impl Future<Output = Result<Vec<(CaseState, u64)>>> + Send;

    /// Loads whole cases with their timelines at once (demo seeding, restore).
    /// The whole load is one write with one audit record; each case gets a
    /// fresh id.
    fn import_cases(
        &self,
        cases: Vec<CaseRecord>,
        audit: AuditEvent,
    ) -> impl Future<Output = Result<Vec<CaseId>>> + Send;
}
