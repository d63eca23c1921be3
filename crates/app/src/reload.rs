//! Reloading reference data from the store into the [`World`]: at start,
//! after a write made elsewhere (another process, a transfer), or on a
//! scheduler's tick. Each part is rebuilt off to the side and swapped in
//! whole, so no reader sees half of it.

use std::sync::Arc;

use citygrid_geo::ZoneIndex;
use citygrid_store::Store;

use crate::core::Core;
use crate::error::{AppError, AppResult};
use crate::world::{Catalog, Territory, World, zones_from_stored};

/// Reads and indexes every part of the reference data.
pub(crate) async fn load_world<S: Store>(store: &S) -> AppResult<World> {
    let units = store.territory().await?;
    let categories = store.categories().await?;
    let departments = store.departments().await?;
    let zones = store.zones().await?;
    // Parsing every boundary and building the indexes is CPU work.
    let (territory, zones) = tokio::task::spawn_blocking(move || {
        let territory = Territory::from_stored(units).map_err(AppError::Internal)?;
        let zones = zones_from_stored(zones).map_err(AppError::Internal)?;
        Ok::<_, AppError>((territory, zones))
    })
    .await??;
    let catalog = Catalog::new(categories, departments);
    Ok(World { territory: Arc::new(territory), catalog: Arc::new(catalog), zones: Arc::new(zones) })
}

impl<S: Store> Core<S> {
    /// Reloads all reference data (territory, zones, catalogue) and swaps
    /// it in as one snapshot.
    pub async fn reload_world(&self) -> AppResult<()> {
        let _turn = self.reference_lock.lock().await;
        let world = load_world(&self.store).await?;
        self.set_world(world);
        Ok(())
    }

    /// Reloads the territory from the store.
    pub async fn reload_territory(&self) -> AppResult<()> {
        let _turn = self.reference_lock.lock().await;
        let t = self.territory_in_store().await?;
        self.set_territory(t);
        Ok(())
    }

    /// Reloads the zones from the store.
    pub async fn reload_zones(&self) -> AppResult<()> {
        let _turn = self.reference_lock.lock().await;
        let index = self.zones_in_store().await?;
        self.set_zones(index);
        Ok(())
    }

    /// The zone index of what the store holds now.
    pub(crate) async fn zones_in_store(&self) -> AppResult<ZoneIndex> {
        let zones = self.store.zones().await?;
        tokio::task::spawn_blocking(|| zones_from_stored(zones)).await?.map_err(AppError::Internal)
    }

    /// The territory as the store holds it now.
    pub(crate) async fn territory_in_store(&self) -> AppResult<Territory> {
        let units = self.store.territory().await?;
        // Parsing every boundary and building the index is seconds of CPU.
        tokio::task::spawn_blocking(|| Territory::from_stored(units)).await?.map_err(AppError::Internal)
    }

    /// Reloads categories and departments from the store.
    pub async fn reload_catalog(&self) -> AppResult<()> {
        let cat = Catalog::new(self.store.categories().await?, self.store.departments().await?);
        self.set_catalog(cat);
        Ok(())
    }
}
