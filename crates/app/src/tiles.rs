//! The per-territory cache of simplified map layers (the geometry work is
//! in [`citygrid_geo::tiles`]). It lives in the [`crate::world::Territory`],
//! so replacing the boundaries replaces the cache.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use citygrid_geo::TerritoryFeature;
use citygrid_geo::tiles::{LayerKind, TileLayer};
use parking_lot::Mutex;

/// Simplified layers kept per territory. Each is built once, on first use,
/// for one (layer, zoom); the bound keeps a client walking every level and
/// zoom from holding hundreds of copies of the grid layer in memory.
const MAX_CACHED_LAYERS: usize = 32;

type Slot = Arc<OnceLock<Arc<TileLayer>>>;

/// The slots, each with the tick it was last used at, and the clock.
#[derive(Default)]
struct Slots {
    tick: u64,
    map: HashMap<(LayerKind, u8), (Slot, u64)>,
}

/// The simplified layers of one territory, by (layer, zoom). It lives in
/// the territory, so replacing the boundaries replaces the cache.
#[derive(Default)]
pub struct TileCache {
    slots: Mutex<Slots>,
}

impl TileCache {
    fn slot(&self, kind: LayerKind, zoom: u8) -> Slot {
        let mut s = self.slots.lock();
        s.tick += 1;
        let now = s.tick;
        if !s.map.contains_key(&(kind, zoom))
            && s.map.len() >= MAX_CACHED_LAYERS
            && let Some(oldest) = s.map.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| *k)
        {
            s.map.remove(&oldest);
        }
        let (slot, used) = s.map.entry((kind, zoom)).or_default();
        *used = now;
        Arc::clone(slot)
    }

    /// The layer if it is already built.
    pub fn cached(&self, kind: LayerKind, zoom: u8) -> Option<Arc<TileLayer>> {
        self.slot(kind, zoom).get().cloned()
    }

    /// The layer, built from `features` if needed (this can take a tenth of
    /// a second for a city's grids: call it off the async workers).
    /// Concurrent callers for the same layer wait for one build.
    pub fn layer(&self, features: &[TerritoryFeature], kind: LayerKind, zoom: u8) -> Arc<TileLayer> {
        let slot = self.slot(kind, zoom);
        Arc::clone(slot.get_or_init(|| Arc::new(TileLayer::build(&kind.select(features), zoom))))
    }
}
