//! Free-form settings of the installation (e.g. whether the demo was seeded).

use std::future::Future;

use citygrid_domain::audit::AuditEvent;

use crate::Result;

/// Free-form settings of the installation (e.g. whether the demo was seeded).
pub trait MetaStore: Send + Sync {
    /// A free-form setting, e.g. whether the demo was seeded.
    fn meta(&self, key: &str) -> impl Future<Output = Result<Option<String>>> + Send;

    /// Sets a free-form setting, with its audit record.
    fn set_meta(&self, key: &str, value: &str, audit: AuditEvent) -> impl Future<Output = Result<()>> + Send;
}
