//! The CityGrid storage contract.
//!
//! [`Store`] lists every operation the server needs, in the domain's words;
//! each backend (`citygrid-store-sqlite`, later PostgreSQL) implements it and
//! proves itself against the shared [`conformance`] suite. The server is
//! generic over the trait and never asks which backend it has.

#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
mod types;

use std::future::Future;

use chrono::{DateTime, Utc};

use citygrid_domain::audit::{AuditEvent, AuditRecord};
use citygrid_domain::case::{Case, CaseId, CaseState, TimelineEntry};
use citygrid_domain::{Category, Department};

pub use citygrid_domain::access::CaseScope;
pub use error::StoreError;
pub use types::*;

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything the server persists.
///
/// Every write that changes state takes the [`AuditEvent`] describing it and
/// appends it to the hash-chained trail in the same transaction.
pub trait Store: Send + Sync + 'static {
    /// A free-form setting, e.g. whether the demo was seeded.
    fn meta(&self, key: &str) -> impl Future<Output = Result<Option<String>>> + Send;
    /// Sets a free-form setting.
    fn set_meta(&self, key: &str, value: &str) -> impl Future<Output = Result<()>> + Send;

    /// Every territory unit with its geometry.
    fn territory(&self) -> impl Future<Output = Result<Vec<StoredUnit>>> + Send;
    /// Inserts or replaces units, all or nothing.
    fn upsert_units(&self, units: Vec<StoredUnit>, audit: AuditEvent) -> impl Future<Output = Result<usize>> + Send;

    /// Every zone with its geometry, by id.
    fn zones(&self) -> impl Future<Output = Result<Vec<StoredZone>>> + Send;
    /// Inserts or replaces zones, all or nothing: a zone that fails
    /// [`citygrid_domain::Zone::validate`], or an id given twice, is
    /// [`StoreError::Invalid`] and nothing is written.
    fn put_zones(&self, zones: Vec<StoredZone>, audit: AuditEvent) -> impl Future<Output = Result<()>> + Send;
    /// Deletes one zone; [`StoreError::NotFound`] when there is none with that id.
    fn delete_zone(&self, id: &str, audit: AuditEvent) -> impl Future<Output = Result<()>> + Send;

    /// Every category.
    fn categories(&self) -> impl Future<Output = Result<Vec<Category>>> + Send;
    /// Inserts or replaces categories, all or nothing.
    fn put_categories(&self, categories: Vec<Category>, audit: AuditEvent) -> impl Future<Output = Result<()>> + Send;
    /// Every department.
    fn departments(&self) -> impl Future<Output = Result<Vec<Department>>> + Send;
    /// Inserts or replaces departments, all or nothing.
    fn put_departments(
        &self,
        departments: Vec<Department>,
        audit: AuditEvent,
    ) -> impl Future<Output = Result<()>> + Send;

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
    fn import_cases(&self, cases: Vec<CaseRecord>) -> impl Future<Output = Result<Vec<CaseId>>> + Send;

    /// Records an attachment whose bytes are already on disk.
    fn put_attachment(&self, meta: AttachmentMeta, audit: AuditEvent) -> impl Future<Output = Result<()>> + Send;
    /// One attachment's metadata.
    fn attachment(&self, sha256: &str) -> impl Future<Output = Result<Option<AttachmentMeta>>> + Send;
    /// Which of these hashes are not known attachments.
    fn missing_attachments(&self, hashes: Vec<String>) -> impl Future<Output = Result<Vec<String>>> + Send;

    /// Appends an audit record by itself (logins, denials, reads).
    fn append_audit(&self, event: AuditEvent) -> impl Future<Output = Result<()>> + Send;
    /// Audit records matching a filter, in chain order.
    fn audit_records(&self, filter: AuditFilter) -> impl Future<Output = Result<Vec<AuditRecord>>> + Send;

    /// Creates a user; [`StoreError::Conflict`] if the username is taken.
    fn create_user(&self, user: UserRecord, audit: AuditEvent) -> impl Future<Output = Result<()>> + Send;
    /// Replaces a user's record (role, binding, password, active).
    fn update_user(&self, user: UserRecord, audit: AuditEvent) -> impl Future<Output = Result<()>> + Send;
    /// A user by login name.
    fn user_by_username(&self, username: &str) -> impl Future<Output = Result<Option<UserRecord>>> + Send;
    /// A user by id.
    fn user(&self, id: &str) -> impl Future<Output = Result<Option<UserRecord>>> + Send;
    /// Every user.
    fn users(&self) -> impl Future<Output = Result<Vec<UserRecord>>> + Send;
    /// Records a login attempt's effects and its audit record together.
    fn record_login(&self, outcome: LoginOutcome, audit: AuditEvent) -> impl Future<Output = Result<()>> + Send;
    /// A session by token hash.
    fn session(&self, token_hash: &str) -> impl Future<Output = Result<Option<SessionRecord>>> + Send;
    /// Revokes one session (`Some(hash)`) or all of a user's (`None`); returns how many.
    fn revoke_sessions(
        &self,
        user_id: &str,
        token_hash: Option<String>,
        at: DateTime<Utc>,
        audit: AuditEvent,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Registers a device; [`StoreError::Conflict`] if the id is taken.
    fn create_device(&self, device: DeviceRecord, audit: AuditEvent) -> impl Future<Output = Result<()>> + Send;
    /// A device by the hash of its API key.
    fn device_by_key_hash(&self, key_hash: &str) -> impl Future<Output = Result<Option<DeviceRecord>>> + Send;
    /// Every device.
    fn devices(&self) -> impl Future<Output = Result<Vec<DeviceRecord>>> + Send;
    /// Revokes a device's key.
    fn revoke_device(&self, id: &str, at: DateTime<Utc>, audit: AuditEvent) -> impl Future<Output = Result<()>> + Send;
}
