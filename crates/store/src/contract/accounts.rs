//! User accounts and their sessions.

use std::future::Future;

use chrono::{DateTime, Utc};
use citygrid_domain::audit::AuditEvent;

use crate::{LoginOutcome, Result, SessionRecord, UserRecord};

/// User accounts and their sessions.
pub trait AccountStore: Send + Sync {
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
}
