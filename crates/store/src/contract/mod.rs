//! The storage contract, one trait per concern.

mod accounts;
mod attachments;
mod audit;
mod cases;
mod devices;
mod meta;
mod reference;

pub use accounts::AccountStore;
pub use attachments::AttachmentStore;
pub use audit::AuditStore;
pub use cases::CaseStore;
pub use devices::DeviceStore;
pub use meta::MetaStore;
pub use reference::ReferenceStore;
