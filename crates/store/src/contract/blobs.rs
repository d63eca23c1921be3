//! Attachment bytes, addressed by the SHA-256 of their content, kept where
//! every process of the installation reaches them.

use std::future::Future;

use crate::Result;

/// Attachment bytes, addressed by the SHA-256 of their content.
pub trait BlobStore: Send + Sync {
    /// Keeps `bytes` under `sha256` (the caller computed it). Idempotent:
    /// storing the same content again changes nothing. Durable when it returns.
    fn put_blob(&self, sha256: &str, bytes: Vec<u8>) -> impl Future<Output = Result<()>> + Send;

    /// The bytes stored under `sha256`, if any.
    fn blob(&self, sha256: &str) -> impl Future<Output = Result<Option<Vec<u8>>>> + Send;
}
