//! Moving a whole installation between backends (embedded → PostgreSQL):
//! every table read out page by page and written verbatim into an empty
//! store, ids, instants and audit hashes exactly as they were.

use std::future::Future;

use citygrid_domain::audit::AuditRecord;
use citygrid_domain::{Category, Department};
use serde::{Deserialize, Serialize};

use crate::{
    AttachmentMeta, CaseRecord, DeviceRecord, IncidentRecord, Result, SessionRecord, StoredDetection, StoredUnit,
    StoredZone, UserRecord,
};

/// The tables of a store, in the order a move copies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    /// Installation settings.
    Meta,
    /// Territory units.
    Units,
    /// Zones.
    Zones,
    /// Case categories.
    Categories,
    /// Departments.
    Departments,
    /// User accounts.
    Users,
    /// Login sessions.
    Sessions,
    /// Devices.
    Devices,
    /// Attachment metadata.
    Attachments,
    /// Attachment bytes.
    Blobs,
    /// Cases with their timelines and sealed contacts.
    Cases,
    /// Incidents (smart eyes).
    Incidents,
    /// Detections (smart eyes).
    Detections,
    /// The audit trail.
    Audit,
}

impl Table {
    /// Every table, in copy order.
    pub const ALL: [Table; 14] = [
        Table::Meta,
        Table::Units,
        Table::Zones,
        Table::Categories,
        Table::Departments,
        Table::Users,
        Table::Sessions,
        Table::Devices,
        Table::Attachments,
        Table::Blobs,
        Table::Cases,
        Table::Incidents,
        Table::Detections,
        Table::Audit,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Table::Meta => "meta",
            Table::Units => "units",
            Table::Zones => "zones",
            Table::Categories => "categories",
            Table::Departments => "departments",
            Table::Users => "users",
            Table::Sessions => "sessions",
            Table::Devices => "devices",
            Table::Attachments => "attachments",
            Table::Blobs => "blobs",
            Table::Cases => "cases",
            Table::Incidents => "incidents",
            Table::Detections => "detections",
            Table::Audit => "audit",
        }
    }
}

/// One row of one table, as it crosses between backends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "table", content = "row")]
pub enum Row {
    /// A setting.
    Meta {
        /// Its key.
        key: String,
        /// Its value.
        value: String,
    },
    /// A territory unit.
    Unit(StoredUnit),
    /// A zone.
    Zone(StoredZone),
    /// A category.
    Category(Category),
    /// A department.
    Department(Department),
    /// A user.
    User(UserRecord),
    /// A session.
    Session(SessionRecord),
    /// A device.
    Device(DeviceRecord),
    /// Attachment metadata.
    Attachment(AttachmentMeta),
    /// Attachment bytes.
    Blob {
        /// Hex SHA-256 of the bytes.
        sha256: String,
        /// The bytes.
        #[serde(with = "hex_bytes")]
        bytes: Vec<u8>,
    },
    /// A case, its timeline and sealed contact.
    Case(Box<CaseRecord>),
    /// An incident, versioned as stored.
    Incident(Box<IncidentRecord>),
    /// A detection.
    Detection(Box<StoredDetection>),
    /// An audit record, numbered and chained as stored.
    Audit(AuditRecord),
}

impl Row {
    /// The table it belongs to.
    pub fn table(&self) -> Table {
        match self {
            Row::Meta { .. } => Table::Meta,
            Row::Unit(_) => Table::Units,
            Row::Zone(_) => Table::Zones,
            Row::Category(_) => Table::Categories,
            Row::Department(_) => Table::Departments,
            Row::User(_) => Table::Users,
            Row::Session(_) => Table::Sessions,
            Row::Device(_) => Table::Devices,
            Row::Attachment(_) => Table::Attachments,
            Row::Blob { .. } => Table::Blobs,
            Row::Case(_) => Table::Cases,
            Row::Incident(_) => Table::Incidents,
            Row::Detection(_) => Table::Detections,
            Row::Audit(_) => Table::Audit,
        }
    }

    /// The row's key within its table: what [`TransferStore::export_rows`]
    /// orders by and continues after. Numeric keys (case id, incident id,
    /// audit seq) are zero-padded to 20 digits so that text order is numeric
    /// order; a detection's is its device and source id joined by U+0001
    /// (below every character either may hold), so text order is the order
    /// of the pair.
    pub fn key(&self) -> String {
        match self {
            Row::Meta { key, .. } => key.clone(),
            Row::Unit(u) => u.unit.code.to_string(),
            Row::Zone(z) => z.zone.id.clone(),
            Row::Category(c) => c.code.to_string(),
            Row::Department(d) => d.code.clone(),
            Row::User(u) => u.id.clone(),
            Row::Session(s) => s.token_hash.clone(),
            Row::Device(d) => d.id.clone(),
            Row::Attachment(a) => a.sha256.clone(),
            Row::Blob { sha256, .. } => sha256.clone(),
            Row::Case(c) => format!("{:020}", c.case.id),
            Row::Incident(i) => format!("{:020}", i.incident.id),
            Row::Detection(d) => detection_key(&d.detection.device, &d.detection.id),
            Row::Audit(a) => format!("{:020}", a.seq),
        }
    }
}

/// A detection's [`Row::key`]: device and source id joined by U+0001.
pub fn detection_key(device: &str, source_id: &str) -> String {
    format!("{device}\u{1}{source_id}")
}

/// The device and source id a detection's [`Row::key`] joins.
pub fn split_detection_key(key: &str) -> Option<(&str, &str)> {
    key.split_once('\u{1}')
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}

/// Reading a whole store out and writing it verbatim into another.
pub trait TransferStore: Send + Sync {
    /// Up to `limit` rows of `table` in key order (see [`Row::key`]), after
    /// the row keyed `after`.
    fn export_rows(
        &self,
        table: Table,
        after: Option<String>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Row>>> + Send;

    /// Writes rows exactly as given: ids, instants, versions, audit numbers
    /// and hashes. They are history, not new changes, so they carry no audit
    /// record of their own. A row whose key exists already is a
    /// [`crate::StoreError::Conflict`]; the batch is all or nothing.
    fn import_rows(&self, rows: Vec<Row>) -> impl Future<Output = Result<()>> + Send;

    /// After the last import: new case ids continue after the largest
    /// imported one, and new audit records chain on from the imported heads.
    fn finish_import(&self) -> impl Future<Output = Result<()>> + Send;
}
