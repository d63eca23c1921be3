//! Devices (cameras, radars, stations, gateways) and their keys.

use std::future::Future;

use chrono::{DateTime, Utc};
use citygrid_domain::audit::AuditEvent;

use crate::{DeviceRecord, Result};

/// Devices (cameras, radars, stations, gateways) and their keys.
pub trait DeviceStore: Send + Sync {
    /// Registers a device; [`StoreError::Conflict`](crate::StoreError::Conflict)
    /// if the id, the key or a water station's `MN` is taken.
    fn create_device(&self, device: DeviceRecord, audit: AuditEvent) -> impl Future<Output = Result<()>> + Send;

    /// A device by the hash of its API key.
    fn device_by_key_hash(&self, key_hash: &str) -> impl Future<Output = Result<Option<DeviceRecord>>> + Send;

    /// A device by id.
    fn device(&self, id: &str) -> impl Future<Output = Result<Option<DeviceRecord>>> + Send;

    /// A water station by its HJ 212 station code (`MN`).
    fn device_by_mn(&self, mn: &str) -> impl Future<Output = Result<Option<DeviceRecord>>> + Send;

    /// Every device.
    fn devices(&self) -> impl Future<Output = Result<Vec<DeviceRecord>>> + Send;

    /// Revokes a device's key.
    fn revoke_device(&self, id: &str, at: DateTime<Utc>, audit: AuditEvent) -> impl Future<Output = Result<()>> + Send;

    /// Moves devices' `last_seen` forward (never back) to the instants
    /// given; unknown ids are skipped. Liveness telemetry, not a change of
    /// data: no audit record, and callers throttle it (not one per packet).
    fn touch_devices(&self, seen: Vec<(String, DateTime<Utc>)>) -> impl Future<Output = Result<()>> + Send;
}
