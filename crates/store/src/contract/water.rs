//! Water-quality readings from HJ 212 stations.

use std::future::Future;

use citygrid_domain::audit::AuditEvent;

use crate::{ReadingPage, ReadingQuery, Result, WaterReading};

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
