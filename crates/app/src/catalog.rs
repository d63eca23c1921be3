//! Editing the catalogue: categories (with their time limits) and
//! departments. One rule set for the HTTP edits, `citygrid import
//! categories|departments` and the demo seed: every category valid, every
//! department with a code of 1–64 characters, a name and a type, serving a
//! known unit; no code twice in one batch.

use std::collections::HashSet;

use citygrid_domain::access::{Operation, Scope};
use citygrid_domain::audit::AuditEvent;
use citygrid_domain::{Category, Department, UnitCode};
use citygrid_store::Store;

use crate::actor::Actor;
use crate::core::Core;
use crate::error::{AppError, AppResult};

/// Checks one category.
pub fn check_category(c: &Category) -> AppResult<()> {
    c.validate().map_err(|e| AppError::invalid(e.to_string()))
}

/// Checks one department; `unit_exists` says whether a territory unit is known.
pub fn check_department(d: &Department, unit_exists: impl Fn(&UnitCode) -> bool) -> AppResult<()> {
    if d.code.trim().is_empty() || d.code.chars().count() > Department::MAX_CODE_CHARS {
        return Err(AppError::invalid(format!(
            "a department code must be 1–{} characters",
            Department::MAX_CODE_CHARS
        )));
    }
    if d.name.trim().is_empty() || d.department_type.trim().is_empty() {
        return Err(AppError::invalid("name and department_type are required"));
    }
    if !unit_exists(&d.territory) {
        return Err(AppError::invalid(format!("territory {} is not a known unit", d.territory)));
    }
    Ok(())
}

/// Checks and writes categories in one transaction (new codes added,
/// existing replaced) with `audit`; the number written. For callers without
/// a [`Core`] (the CLI); a running service uses [`Core::put_category`].
pub async fn write_categories<S: Store>(store: &S, cats: Vec<Category>, audit: AuditEvent) -> AppResult<usize> {
    let mut seen = HashSet::new();
    for c in &cats {
        check_category(c).map_err(|e| AppError::invalid(format!("category {}: {e}", c.code)))?;
        if !seen.insert(&c.code) {
            return Err(AppError::invalid(format!("category {} appears twice", c.code)));
        }
    }
    let n = cats.len();
    store.put_categories(cats, audit).await?;
    Ok(n)
}

/// Checks departments against the units the store holds and writes them in
/// one transaction with `audit`; the number written. For callers without a
/// [`Core`] (the CLI); a running service uses [`Core::put_department`].
pub async fn write_departments<S: Store>(store: &S, depts: Vec<Department>, audit: AuditEvent) -> AppResult<usize> {
    let units: HashSet<UnitCode> = store.territory().await?.into_iter().map(|u| u.unit.code).collect();
    let mut seen = HashSet::new();
    for d in &depts {
        check_department(d, |c| units.contains(c))
            .map_err(|e| AppError::invalid(format!("department {}: {e}", d.code)))?;
        if !seen.insert(&d.code) {
            return Err(AppError::invalid(format!("department {} appears twice", d.code)));
        }
    }
    let n = depts.len();
    store.put_departments(depts, audit).await?;
    Ok(n)
}

impl<S: Store> Core<S> {
    /// Creates or replaces one category (administrators), then reloads the
    /// catalogue. Audited as `category.put`.
    pub async fn put_category(&self, actor: &Actor, cat: Category) -> AppResult<Category> {
        let resource = format!("category/{}", cat.code);
        self.authorize_actor(actor, Operation::ManageReference, &Scope::Global, &resource).await?;
        check_category(&cat)?;
        let ev = self.actor_event(actor, "category.put", &resource);
        self.store.put_categories(vec![cat.clone()], ev).await?;
        self.reload_catalog().await?;
        Ok(cat)
    }

    /// Creates or replaces one department (administrators), serving a unit
    /// of the loaded territory, then reloads the catalogue. Audited as
    /// `department.put`.
    pub async fn put_department(&self, actor: &Actor, dept: Department) -> AppResult<Department> {
        let resource = format!("department/{}", dept.code);
        self.authorize_actor(actor, Operation::ManageReference, &Scope::Global, &resource).await?;
        let territory = self.world().territory;
        check_department(&dept, |c| territory.get(c).is_some())?;
        let ev = self.actor_event(actor, "department.put", &resource);
        self.store.put_departments(vec![dept.clone()], ev).await?;
        self.reload_catalog().await?;
        Ok(dept)
    }
}
