//! Reference data: the territory, zones, categories and departments.

use std::future::Future;

use citygrid_domain::audit::AuditEvent;
use citygrid_domain::{Category, Department};

use crate::{Result, StoredUnit, StoredZone};

/// Reference data: the territory, zones, categories and departments.
pub trait ReferenceStore: Send + Sync {
    /// Every territory unit with its geometry.
    fn territory(&self) -> impl Future<Output = Result<Vec<StoredUnit>>> + Send;

    /// Inserts or replaces units, all or nothing.
    fn upsert_units(&self, units: Vec<StoredUnit>, audit: AuditEvent) -> impl Future<Output = Result<usize>> + Send;

    /// Every zone with its geometry, by id.
    fn zones(&self) -> impl Future<Output = Result<Vec<StoredZone>>> + Send;

    /// Inserts or replaces zones, all or nothing: a zone that fails
    /// [`citygrid_domain::Zone::validate`], or an id given twice, is
    /// [`StoreError::Invalid`] and nothing is written.
    fn put_zones(&self, zones: Vec<StoredZone>, audit: AuditEvent) -> impl Future<Output = Result<()>> + Send;

    /// Deletes one zone; [`StoreError::NotFound`] when there is none with that id.
    fn delete_zone(&self, id: &str, audit: AuditEvent) -> impl Future<Output = Result<()>> + Send;

    /// Every category.
    fn categories(&self) -> impl Future<Output = Result<Vec<Category>>> + Send;

    /// Inserts or replaces categories, all or nothing.
    fn put_categories(&self, categories: Vec<Category>, audit: AuditEvent) -> impl Future<Output = Result<()>> + Send;

    /// Every department.
    fn departments(&self) -> impl Future<Output = Result<Vec<Department>>> + Send;

    /// Inserts or replaces departments, all or nothing.
    fn put_departments(
        &self,
        departments: Vec<Department>,
        audit: AuditEvent,
    ) -> impl Future<Output = Result<()>> + Send;
}
