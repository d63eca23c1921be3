//! Devices (cameras, radars, stations) and their keys.

use std::future::Future;

use chrono::{DateTime, Utc};
use citygrid_domain::audit::AuditEvent;

use crate::{DeviceRecord, Result};

/// Devices (cameras, radars, stations) and their keys.
pub trait DeviceStore: Send + Sync {
    /// Registers a device; [`StoreError::Conflict`] if the id is taken.
    fn create_device(&self, device: DeviceRecord, audit: AuditEvent) -> impl Future<Output = Result<()>> + Send;

    /// A device by the hash of its API key.
    fn device_by_key_hash(&self, key_hash: &str) -> impl Future<Output = Result<Option<DeviceRecord>>> + Send;

    /// Every device.
    fn devices(&self) -> impl Future<Output = Result<Vec<DeviceRecord>>> + Send;

    /// Revokes a device's key.
    fn revoke_device(&self, id: &str, at: DateTime<Utc>, audit: AuditEvent) -> impl Future<Output = Result<()>> + Send;
}
