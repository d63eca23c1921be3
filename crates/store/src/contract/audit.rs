//! The hash-chained audit trail.

use std::future::Future;

use citygrid_domain::audit::{AuditEvent, AuditRecord};

use crate::{AuditFilter, Result};

/// The hash-chained audit trail.
pub trait AuditStore: Send + Sync {
    /// Appends an audit record by itself (logins, denials, reads).
    fn append_audit(&self, event: AuditEvent) -> impl Future<Output = Result<()>> + Send;

    /// Audit records matching a filter, in chain order.
    fn audit_records(&self, filter: AuditFilter) -> impl Future<Output = Result<Vec<AuditRecord>>> + Send;
}
