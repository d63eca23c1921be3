//! Uploaded files' metadata.

use std::future::Future;

use citygrid_domain::audit::AuditEvent;

use crate::{AttachmentMeta, Result};

/// Uploaded files' metadata.
pub trait AttachmentStore: Send + Sync {
    /// Records an attachment whose bytes are already on disk.
    fn put_attachment(&self, meta: AttachmentMeta, audit: AuditEvent) -> impl Future<Output = Result<()>> + Send;

    /// One attachment's metadata.
    fn attachment(&self, sha256: &str) -> impl Future<Output = Result<Option<AttachmentMeta>>> + Send;

    /// Which of these hashes are not known attachments.
    fn missing_attachments(&self, hashes: Vec<String>) -> impl Future<Output = Result<Vec<String>>> + Send;
}
