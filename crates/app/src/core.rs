//! [`Core`]: the state every use case shares, whoever calls it.

use std::sync::Arc;

use chrono::Utc;
use citygrid_domain::calendar::WorkingCalendar;
use citygrid_domain::case::DeadlinePolicy;
use citygrid_geo::ZoneIndex;
use citygrid_store::Store;
use parking_lot::RwLock;

use citygrid_domain::eyes::RuleSet;

use crate::error::{AppError, AppResult};
use crate::eyes::{Eyes, SEEDED_RULES};
use crate::vault::Vault;
use crate::world::{Territory, World};

/// The application state that is not tied to one way of calling it: the
/// store, the reference data, the calendar and deadline policy, and the
/// personal-data keys. Share it behind an `Arc` between the HTTP server,
/// listeners and schedulers so they all see the same reference data.
pub struct Core<S> {
    /// The store.
    pub store: S,
    /// Reference data, replaced whole on change.
    world: RwLock<World>,
    /// Working calendar for deadlines.
    pub calendar: WorkingCalendar,
    /// Verify/close limits.
    pub policy: DeadlinePolicy,
    /// Personal-data keys.
    pub vault: Vault,
    /// Radius within which open cases of the same category are offered as
    /// possible duplicates of a new report, in metres.
    pub nearby_radius_m: f64,
    /// Held while reference data (territory, zones) is checked, written and
    /// swapped, so changes run one at a time and none is lost.
    pub(crate) reference_lock: tokio::sync::Mutex<()>,
    /// When devices were last heard from, throttling `last_seen` writes.
    pub liveness: crate::liveness::Liveness,
    /// Smart eyes: rules and the grouper the intake feeds.
    pub(crate) eyes: Eyes,
    /// Skip every policy check: see [`Core::skip_policy_checks`]. The field,
    /// and the switch, exist only in builds with the `unchecked-baseline`
    /// feature, which only the benchmarks enable.
    #[cfg(feature = "unchecked-baseline")]
    pub(crate) unchecked_baseline: bool,
}

/// The parts a [`Core`] is assembled from.
pub struct CoreParts<S> {
    /// The store.
    pub store: S,
    /// Working calendar.
    pub calendar: WorkingCalendar,
    /// Verify/close limits.
    pub policy: DeadlinePolicy,
    /// Keys.
    pub vault: Vault,
    /// Duplicate-hint radius for new reports, in metres.
    pub nearby_radius_m: f64,
}

impl<S: Store> Core<S> {
    /// Loads the reference data from the store and assembles the state.
    pub async fn load(parts: CoreParts<S>) -> AppResult<Core<S>> {
        let rules = RuleSet::from_toml(SEEDED_RULES).map_err(AppError::internal)?;
        Core::load_with_rules(parts, rules).await
    }

    /// [`Core::load`] with smart-eyes rules other than the seeded ones.
    /// The grouper starts from the store's open incidents.
    pub async fn load_with_rules(parts: CoreParts<S>, rules: RuleSet) -> AppResult<Core<S>> {
        let world = crate::reload::load_world(&parts.store).await?;
        let eyes = Eyes::load(&parts.store, rules, now()).await?;
        Ok(Core {
            eyes,
            world: RwLock::new(world),
            calendar: parts.calendar,
            policy: parts.policy,
            vault: parts.vault,
            nearby_radius_m: parts.nearby_radius_m,
            reference_lock: tokio::sync::Mutex::new(()),
            liveness: crate::liveness::Liveness::default(),
            #[cfg(feature = "unchecked-baseline")]
            unchecked_baseline: false,
            store: parts.store,
        })
    }

    /// Makes every policy check pass: the baseline the benchmarks measure
    /// the checks against. Only in builds with the `unchecked-baseline`
    /// feature; the product never enables it.
    #[cfg(feature = "unchecked-baseline")]
    pub fn skip_policy_checks(mut self) -> Self {
        self.unchecked_baseline = true;
        self
    }
}

impl<S> Core<S> {
    /// The smart-eyes rules in force.
    pub fn eyes_rules(&self) -> &RuleSet {
        self.eyes.rules()
    }

    /// The reference data as of now: a snapshot, cheap to clone, that later
    /// changes do not touch.
    pub fn world(&self) -> World {
        self.world.read().clone()
    }

    /// Swaps in a new zone index (built from what was just stored).
    pub(crate) fn set_zones(&self, zones: ZoneIndex) {
        self.world.write().zones = Arc::new(zones);
    }

    /// Swaps in a new territory (built from what was just stored).
    pub(crate) fn set_territory(&self, territory: Territory) {
        self.world.write().territory = Arc::new(territory);
    }

    /// Swaps in a new catalogue (read from what was just stored).
    pub(crate) fn set_catalog(&self, catalog: crate::world::Catalog) {
        self.world.write().catalog = Arc::new(catalog);
    }

    /// Swaps in a whole new snapshot.
    pub(crate) fn set_world(&self, world: World) {
        *self.world.write() = world;
    }
}

/// The current time at millisecond precision: what timelines record (and
/// what keeps their JSON short).
pub fn now() -> chrono::DateTime<Utc> {
    let t = Utc::now();
    chrono::DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}
