//! Water-quality readings from HJ 212 stations.

use std::future::Future;

use citygrid_domain::WaterClass;
use citygrid_domain::audit::AuditEvent;

use crate::{ReadingPage, ReadingQuery, Result, StoreError, WaterReading};

/// Water-quality readings, kept per station and factor.
pub trait WaterStore: Send + Sync {
    /// Appends readings durably (when it returns, they are committed),
    /// all or nothing. Idempotent on `(station, data_time, kind, factor)`:
    /// a reading already stored is skipped, not replaced. Returns how many
    /// were new. The audit record is written when at least one was.
    fn append_readings(
        &self,
        readings: Vec<WaterReading>,
        audit: AuditEvent,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// One station's readings with `from <= data_time < to`, in
    /// `(data_time, kind, factor)` order, one page of `limit` at a time.
    fn readings(&self, query: ReadingQuery) -> impl Future<Output = Result<ReadingPage>> + Send;
}

/// A water class as both backends store it (`I` … `worse_than_V`).
pub fn class_text(c: Option<WaterClass>) -> Option<String> {
    c.and_then(|c| serde_json::to_value(c).ok()).and_then(|v| v.as_str().map(str::to_owned))
}

/// A stored water class read back; text that names no class is corrupt data.
pub fn class_of(column: &str, text: Option<String>) -> Result<Option<WaterClass>> {
    text.map(|t| {
        serde_json::from_value(serde_json::Value::String(t.clone()))
            .map_err(|_| StoreError::Backend(format!("stored {column} {t:?} is not a water class")))
    })
    .transpose()
}

/// Refuses a batch with a value that is not a finite number.
pub fn check_values(readings: &[WaterReading]) -> Result<()> {
    match readings.iter().find(|r| !r.value.is_finite()) {
        Some(r) => Err(StoreError::Invalid(format!("reading {} of {} is not a finite number", r.factor, r.station))),
        None => Ok(()),
    }
}
