//! Editing zones (geofences): put one, delete one. Each change is checked,
//! the zone index is rebuilt with it off the async workers, the change is
//! stored with its audit event, and the new index swapped in whole. See
//! `docs/zones.md`.

use std::sync::Arc;

use citygrid_domain::access::{Operation, Scope};
use citygrid_domain::{Point, Zone};
use citygrid_store::{Store, StoredZone};
use geo::{CoordsIter, Intersects, MultiPolygon, Validation};

use crate::actor::Actor;
use crate::core::Core;
use crate::error::{AppError, AppResult};
use crate::world::{geometry_from_json, geometry_to_json};

/// Most positions a zone's area may have: far above any buffer the demo
/// draws (the city ring has a few thousand), low enough that checking and
/// indexing a zone stays well under a second.
pub const MAX_ZONE_POSITIONS: usize = 50_000;

fn invalid_geometry(message: impl Into<String>) -> AppError {
    AppError::rule("invalid_geometry", message)
}

/// Parses and checks a zone's area: a valid (multi)polygon of real
/// longitude/latitude coordinates, every ring with at least four positions,
/// at most [`MAX_ZONE_POSITIONS`], that reads back as it will be stored.
/// Returns the area and the text to store. CPU-bound: run off the async
/// workers.
pub fn checked_geometry(value: &serde_json::Value) -> AppResult<(MultiPolygon<f64>, String)> {
    let mp = geometry_from_json(&value.to_string()).map_err(invalid_geometry)?;
    if mp.0.is_empty() {
        return Err(invalid_geometry("the geometry has no polygon"));
    }
    let positions = mp.coords_count();
    if positions > MAX_ZONE_POSITIONS {
        return Err(invalid_geometry(format!(
            "the geometry has {positions} positions; a zone may have at most {MAX_ZONE_POSITIONS} (simplify it)"
        )));
    }
    let short = mp.0.iter().flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors())).any(|r| r.0.len() < 4);
    if short {
        return Err(invalid_geometry("every ring needs at least four positions, the last equal to the first"));
    }
    if mp.coords_iter().any(|c| Point::new(c.x, c.y).is_none()) {
        return Err(invalid_geometry("every coordinate must be a longitude in −180..180 and a latitude in −90..90"));
    }
    mp.check_validation().map_err(|e| invalid_geometry(format!("the geometry is not a valid polygon: {e}")))?;
    // What is stored must load again on the next start.
    let text = geometry_to_json(&mp).map_err(|e| invalid_geometry(e.to_string()))?;
    geometry_from_json(&text).map_err(AppError::Internal)?;
    Ok((mp, text))
}

impl<S: Store> Core<S> {
    /// Creates or replaces one zone (administrators). The zone is validated
    /// (id, name, dates, schedule, target class only on water sections),
    /// its area checked ([`checked_geometry`]), the owning territory must
    /// exist and the area must touch it. Audited as `zone.put`. Returns the
    /// area as stored.
    pub async fn put_zone(
        &self,
        actor: &Actor,
        zone: Zone,
        geometry: serde_json::Value,
    ) -> AppResult<(Zone, MultiPolygon<f64>)> {
        let resource = format!("zone/{}", zone.id);
        self.authorize_actor(actor, Operation::ManageReference, &Scope::Global, &resource).await?;
        zone.validate().map_err(|e| AppError::invalid(e.to_string()))?;
        let territory = Arc::clone(&self.world().territory);
        let owner = zone.territory.clone();
        let (geometry, text) = tokio::task::spawn_blocking(move || {
            let (geometry, text) = checked_geometry(&geometry)?;
            if let Some(code) = &owner {
                let unit = territory
                    .get(code)
                    .ok_or_else(|| AppError::invalid(format!("territory {code} is not a known unit")))?;
                if !unit.geometry.intersects(&geometry) {
                    return Err(invalid_geometry(format!("the zone lies entirely outside its territory {code}")));
                }
            }
            Ok((geometry, text))
        })
        .await??;
        // One reference-data change at a time across every process, the new
        // index built from what the store holds (another process may have
        // changed a zone this process has not reloaded yet).
        let ev = self.actor_event(actor, "zone.put", &resource);
        let stored = StoredZone { zone: zone.clone(), geometry: text };
        self.reference_turn(async || {
            self.store.put_zones(vec![stored], ev).await?;
            let index = self.zones_in_store().await?;
            self.set_zones(index);
            Ok(())
        })
        .await?;
        Ok((zone, geometry))
    }

    /// Deletes one zone (administrators); [`AppError::NotFound`] when there
    /// is none. Audited as `zone.delete`.
    pub async fn delete_zone(&self, actor: &Actor, id: &str) -> AppResult<()> {
        let resource = format!("zone/{id}");
        self.authorize_actor(actor, Operation::ManageReference, &Scope::Global, &resource).await?;
        let ev = self.actor_event(actor, "zone.delete", &resource);
        self.reference_turn(async || {
            self.store.delete_zone(id, ev).await?;
            let index = self.zones_in_store().await?;
            self.set_zones(index);
            Ok(())
        })
        .await?;
        Ok(())
    }
}
