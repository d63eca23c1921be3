//! Importing territory units with boundaries: one rule set for every way a
//! file comes in (`POST /api/v1/territory/import`, `citygrid import
//! territory`, a future sync). A file is read (and repaired, if asked),
//! validated against the units already known (codes and parents, ring
//! validity, sibling overlaps and gaps, children outside their parent),
//! encoded for storage, and the territory as it will be is indexed, all
//! before anything is written: what is stored is known to load again. The
//! units are then written in one transaction with their audit event.

use std::collections::HashSet;
use std::sync::Arc;

use citygrid_domain::UnitCode;
use citygrid_domain::access::{Operation, Scope};
use citygrid_domain::audit::AuditEvent;
use citygrid_geo::repair::{self, Change, Checked, Format, Parsed};
use citygrid_geo::{KnownUnits, Problem, TerritoryFeature};
use citygrid_store::{Store, StoredUnit};

use crate::actor::Actor;
use crate::core::Core;
use crate::error::{AppError, AppResult};
use crate::world::{Territory, stored_unit};

/// A territory file to import.
#[derive(Debug, Clone)]
pub struct ImportTerritory {
    /// The file's text.
    pub text: String,
    /// GeoJSON FeatureCollection or CSV with WKT boundaries.
    pub format: Format,
    /// Repair what can be repaired unambiguously, listing every change.
    pub repair: bool,
    /// Check (and repair, if asked) but write nothing.
    pub dry_run: bool,
}

/// An accepted file.
#[derive(Debug, Clone)]
pub struct TerritoryImported {
    /// Whether this was only a check.
    pub dry_run: bool,
    /// Units in the file.
    pub units: usize,
    /// Units written (0 on a dry run).
    pub imported: usize,
    /// Repairs made, by feature.
    pub changes: Vec<Change>,
    /// Problems that do not block the import (gaps between siblings).
    pub warnings: Vec<Problem>,
}

/// A checked file ready to write: the units to store and the territory as
/// it will be once they are.
pub struct Plan {
    /// The checked features, repairs and warnings.
    pub checked: Checked,
    /// Units as the store keeps them, and the territory with them merged
    /// in; `None` on a dry run.
    pub next: Option<(Vec<StoredUnit>, Territory)>,
}

/// Reads a territory file: each feature checked on its own (and repaired,
/// if asked). Needs nothing but the file, so a caller can refuse a broken
/// file before it opens anything. CPU-bound.
pub fn parse(text: &str, format: Format, repair: bool) -> AppResult<Parsed> {
    repair::read_territory(text, format, repair).map_err(|r| AppError::InvalidBoundaries(Box::new(r)))
}

/// The rule set: checks parsed features against `current` (repairing
/// across features if asked) and, unless `dry_run`, encodes them for
/// storage and builds the territory they will make. CPU-bound: run it off
/// the async workers.
pub fn plan(parsed: Parsed, current: &[TerritoryFeature], repair: bool, dry_run: bool) -> AppResult<Plan> {
    let known = KnownUnits { codes: Default::default(), features: current.iter().collect() };
    let checked = parsed.check(&known, repair).map_err(|r| AppError::InvalidBoundaries(Box::new(r)))?;
    if dry_run {
        return Ok(Plan { checked, next: None });
    }
    let stored = checked.features.iter().map(stored_unit).collect::<Result<Vec<StoredUnit>, _>>().map_err(|e| {
        // The check should have refused such a boundary; say so where operators look.
        tracing::warn!(error = %e, "territory import passed the check but cannot be stored");
        AppError::invalid(e.to_string())
    })?;
    let next = merged(current, &checked.features).map_err(AppError::Internal)?;
    Ok(Plan { checked, next: Some((stored, next)) })
}

/// `current` with `features` added or replacing units of the same code.
fn merged(current: &[TerritoryFeature], features: &[TerritoryFeature]) -> Result<Territory, String> {
    let replaced: HashSet<&UnitCode> = features.iter().map(|f| &f.unit.code).collect();
    let all = current.iter().filter(|f| !replaced.contains(&f.unit.code)).chain(features).cloned().collect();
    Territory::new(all)
}

/// Checks `parsed` against `current`, writes it with `audit` unless a dry
/// run, and returns the outcome with the territory to swap in. For callers
/// without a [`Core`] (the CLI on a data directory); a running service
/// uses [`Core::import_territory`], which also serialises imports and swaps
/// the result in.
pub async fn import_parsed<S: Store>(
    store: &S,
    current: Arc<Territory>,
    parsed: Parsed,
    repair: bool,
    dry_run: bool,
    audit: AuditEvent,
) -> AppResult<(TerritoryImported, Option<Territory>)> {
    let plan = tokio::task::spawn_blocking(move || plan(parsed, current.features(), repair, dry_run)).await??;
    let Plan { checked, next } = plan;
    let units = checked.features.len();
    let (imported, next) = match next {
        Some((stored, next)) => (store.upsert_units(stored, audit).await?, Some(next)),
        None => (0, None),
    };
    let outcome = TerritoryImported { dry_run, units, imported, changes: checked.changes, warnings: checked.warnings };
    Ok((outcome, next))
}

impl<S: Store> Core<S> {
    /// Imports territory units (administrators): checked against the
    /// territory as the previous import left it (imports run one at a
    /// time), written in one transaction (new codes added, existing codes
    /// replaced), and the point-location index rebuilt and swapped in whole.
    /// A file with any error is refused with every problem located
    /// ([`AppError::InvalidBoundaries`]) and nothing changes. Audited as
    /// `territory.import`.
    ///
    /// Callers that must not leave a half-done import behind when their
    /// client goes away run this in its own task (`tokio::spawn`).
    pub async fn import_territory(&self, actor: &Actor, req: ImportTerritory) -> AppResult<TerritoryImported> {
        let resource = "territory";
        self.authorize_actor(actor, Operation::ManageReference, &Scope::Global, resource).await?;
        let audit = self.actor_event(actor, "territory.import", resource);
        let ImportTerritory { text, format, repair, dry_run } = req;
        let parsed = tokio::task::spawn_blocking(move || parse(&text, format, repair)).await??;
        // Checked against the territory as the store holds it: another
        // process may have imported since this one last reloaded.
        self.reference_turn(async || {
            let current = Arc::new(self.territory_in_store().await?);
            let (outcome, next) = import_parsed(&self.store, current, parsed, repair, dry_run, audit).await?;
            if let Some(next) = next {
                self.set_territory(next);
            }
            Ok(outcome)
        })
        .await
    }
}
