//! The CityGrid storage contract.
//!
//! The operations the server needs are named in the domain's words and split
//! by concern, one trait each ([`MetaStore`], [`ReferenceStore`],
//! [`CaseStore`], [`AttachmentStore`], [`BlobStore`], [`AuditStore`],
//! [`AccountStore`], [`DeviceStore`], [`WaterStore`], [`EyesStore`], [`LeaseStore`], [`RateStore`],
//! [`ChangeFeed`], [`TransferStore`]); [`Store`] is all of them. Each backend
//! (`citygrid-store-sqlite`, later PostgreSQL) implements them and proves
//! itself against the shared [`conformance`] suite. The server is generic
//! over [`Store`] and never asks which backend it has.
//!
//! Every write that changes data takes the
//! [`AuditEvent`](citygrid_domain::audit::AuditEvent) describing it and
//! appends it to the hash-chained trail in the same transaction; a write that
//! fails leaves neither the change nor the record.

#[cfg(feature = "conformance")]
pub mod conformance;
mod contract;
/// Water readings: the contract and the encodings both backends share.
pub use contract::water;
mod error;
mod types;

pub use citygrid_domain::access::CaseScope;
pub use contract::{
    AccountStore, AttachmentStore, AuditStore, BlobStore, CaseChange, CaseStore, Change, ChangeFeed, DetectionBatch,
    DeviceStore, EyesStore, FalsePositiveStats, FalsePositives, FeedEvent, FeedItem, FeedStore, IncidentChange,
    IncidentFilter, IncidentPage, IncidentRecord, LeaseStore, MAX_DETECTION_BATCH, MAX_INCIDENT_PAGE, MetaStore,
    RateStore, Recorded, ReferenceStore, Row, StoredDetection, Table, TransferStore, WaterStore, detection_key,
    split_detection_key,
};
pub use error::StoreError;
pub use types::*;

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything the server persists: every concern's trait at once.
pub trait Store:
    MetaStore
    + ReferenceStore
    + CaseStore
    + AttachmentStore
    + BlobStore
    + AuditStore
    + AccountStore
    + DeviceStore
    + EyesStore
    + FeedStore
    + WaterStore
    + LeaseStore
    + RateStore
    + ChangeFeed
    + TransferStore
    + 'static
{
}

impl<T> Store for T where
    T: MetaStore
        + ReferenceStore
        + CaseStore
        + AttachmentStore
        + BlobStore
        + AuditStore
        + AccountStore
        + DeviceStore
        + EyesStore
        + FeedStore
        + WaterStore
        + LeaseStore
        + RateStore
        + ChangeFeed
        + TransferStore
        + 'static
{
}

/// The traits, for code that calls a concrete backend's methods.
pub mod prelude {
    pub use crate::{
        AccountStore, AttachmentStore, AuditStore, BlobStore, CaseStore, ChangeFeed, DeviceStore, EyesStore, FeedStore,
        LeaseStore, MetaStore, RateStore, ReferenceStore, Store, TransferStore, WaterStore,
    };
}
