//! The storage contract, one trait per concern.

mod accounts;
mod attachments;
mod audit;
mod blobs;
mod cases;
mod changes;
mod devices;
mod eyes;
mod feed;
mod leases;
mod meta;
mod rates;
mod reference;
mod transfer;
/// Water-quality readings from HJ 212 stations.
pub mod water;

pub use accounts::AccountStore;
pub use attachments::AttachmentStore;
pub use audit::AuditStore;
pub use blobs::BlobStore;
pub use cases::CaseStore;
pub use changes::{Change, ChangeFeed};
pub use devices::DeviceStore;
pub use eyes::{
    DetectionBatch, EyesStore, FalsePositiveStats, FalsePositives, IncidentFilter, IncidentPage, IncidentRecord,
    MAX_DETECTION_BATCH, MAX_INCIDENT_PAGE, Recorded, StoredDetection,
};
pub use feed::{CaseChange, FeedEvent, FeedItem, FeedStore, IncidentChange};
pub use leases::LeaseStore;
pub use meta::MetaStore;
pub use rates::RateStore;
pub use reference::ReferenceStore;
pub use transfer::{Row, Table, TransferStore, detection_key, split_detection_key};
pub use water::WaterStore;
