//! The hash-chained audit trail.

use std::future::Future;

use citygrid_domain::audit::{AuditEvent, AuditRecord, ChainHead};

use crate::{AuditFilter, Result};

/// The hash-chained audit trail.
pub trait AuditStore: Send + Sync {
    /// Appends an audit record by itself (logins, denials, reads).
    fn append_audit(&self, event: AuditEvent) -> impl Future<Output = Result<()>> + Send;

    /// Audit records matching a filter, in chain order.
    fn audit_records(&self, filter: AuditFilter) -> impl Future<Output = Result<Vec<AuditRecord>>> + Send;

    /// Every chain's current head, by chain number, as of the last commit:
    /// the last record's link and hash. A chain with no record yet may be
    /// left out or given as [`ChainHead::genesis`]. What an audit checkpoint
    /// records.
    fn audit_heads(&self) -> impl Future<Output = Result<Vec<ChainHead>>> + Send;
}
