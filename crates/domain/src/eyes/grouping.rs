//! Space-time grouping of alerts into incidents, across devices.
//!
//! An alert joins the nearest joinable incident of its type whose centroid
//! lies within R metres of it and whose time span, widened by T minutes on
//! each side, contains its time; otherwise it opens a new incident. R and T
//! are per alert type ([`GroupingParams`]). T is also the quiet time: an
//! incident no alert has reached for T is closed for joining.
//!
//! Why the centroid and not any member point: joining on any member would
//! let an incident creep along a river reach one hop at a time without
//! limit (single-link chaining); measuring to the centroid keeps an
//! incident about R across. Ties in distance go to the lower id, so the
//! result never depends on hash order: the same stream (and the same calls
//! to [`Grouper::advance`], [`Grouper::load`] and [`Grouper::set_state`])
//! always gives the same incidents.
//!
//! Cost: open incidents are indexed in a hash grid per alert type whose
//! cells are R wide (in degrees of latitude), so an alert looks at the few
//! cells its R-circle touches, not at every incident; near the poles, where
//! that would be many cells, it falls back to a scan. Memory is bounded:
//! incidents leave once quiet ([`Grouper::advance`], also run by every
//! [`Grouper::group`] with the newest alert time as the clock), and past
//! [`GroupingConfig::max_open`] the one closest to expiry leaves early. An
//! incident stays [`GroupingConfig::late_secs`] past its quiet time and past
//! the last alert that touched it, so late alerts (a device replaying its
//! backlog) still find the incident they belong to.
//!
//! The grid does not wrap the antimeridian; a city does not straddle it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use chrono::{DateTime, Duration, Utc};
use thiserror::Error;

use super::alert::{Alert, AlertType};
use super::incident::{Incident, IncidentId, IncidentState};
use crate::geometry::Point;

/// Metres per degree of latitude (mean Earth radius).
const METRES_PER_DEGREE: f64 = 111_195.0;
/// Above this many grid cells per look-up, scanning every incident is cheaper.
const MAX_SCAN_CELLS: i64 = 64;
/// Largest radius accepted, in metres.
pub const MAX_RADIUS_M: f64 = 50_000.0;
/// Longest quiet time accepted, in minutes (a week).
pub const MAX_QUIET_MINUTES: u32 = 7 * 24 * 60;

/// How far apart in space (R) and time (T) alerts of one type may be and
/// still be one incident.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupingParams {
    /// R: the largest distance to an incident's centroid, metres (1–50,000).
    pub radius_m: f64,
    /// T: the quiet time and the largest gap in time, minutes (1–10,080).
    pub quiet_minutes: u32,
}

impl GroupingParams {
    /// The defaults for a type, from how each matter behaves on the river.
    pub fn default_for(kind: AlertType) -> GroupingParams {
        let p = |radius_m, quiet_minutes| GroupingParams { radius_m, quiet_minutes };
        match kind {
            // A boat or an angler stays within a few hundred metres.
            AlertType::IllegalFishing => p(500.0, 30),
            // Dredgers work a reach for hours.
            AlertType::IllegalSandMining => p(1_000.0, 60),
            // Smoke drifts and is seen from afar.
            AlertType::AirPollution => p(2_000.0, 60),
            // Stations are kilometres apart and sample hourly.
            AlertType::WaterPollution => p(5_000.0, 180),
            // A bank moves slowly; one spot over a day is one matter.
            AlertType::BankDisplacement => p(300.0, 24 * 60),
            AlertType::IllegalDumping => p(300.0, 120),
            // Traffic events are short and local to a stretch of channel.
            AlertType::RiverTraffic => p(1_000.0, 15),
            AlertType::ShipPollution => p(1_000.0, 60),
            AlertType::RingCheckpoint => p(300.0, 15),
            AlertType::DeviceFault => p(200.0, 12 * 60),
        }
    }

    /// T as a duration.
    pub fn quiet(&self) -> Duration {
        Duration::minutes(i64::from(self.quiet_minutes))
    }

    /// Whether both values are within their documented ranges.
    pub fn is_valid(&self) -> bool {
        (1.0..=MAX_RADIUS_M).contains(&self.radius_m) && (1..=MAX_QUIET_MINUTES).contains(&self.quiet_minutes)
    }
}

/// Why a grouping configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GroupingError {
    /// R or T out of range for a type.
    #[error("grouping for {0}: radius_m must be 1–50000 and quiet_minutes 1–10080")]
    BadParams(AlertType),
    /// `max_open` of zero or `late_secs` over a day.
    #[error("grouping: max_open must be at least 1 and late_secs at most 86400")]
    BadLimits,
}

/// R and T for every type, and the grouper's memory bounds. In a file
/// (the `[grouping]` table of the rules file): optional `max_open` and
/// `late_secs`, and per type `illegal_fishing = { radius_m = 500.0,
/// quiet_minutes = 30 }`; types left out keep their defaults.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(try_from = "GroupingFile")]
pub struct GroupingConfig {
    params: [GroupingParams; AlertType::ALL.len()],
    /// Most incidents held for joining at once.
    pub max_open: usize,
    /// How long past its quiet time, and past the last alert that touched
    /// it, an incident is kept for late alerts, in seconds (0–86,400).
    pub late_secs: u32,
}

impl Default for GroupingConfig {
    fn default() -> Self {
        GroupingConfig { params: AlertType::ALL.map(GroupingParams::default_for), max_open: 100_000, late_secs: 600 }
    }
}

/// [`GroupingConfig`] as written in a file.
#[derive(serde::Deserialize)]
struct GroupingFile {
    max_open: Option<usize>,
    late_secs: Option<u32>,
    // Any other key must be an alert type, so a misspelt one is refused.
    #[serde(flatten)]
    types: std::collections::BTreeMap<AlertType, GroupingParams>,
}

impl TryFrom<GroupingFile> for GroupingConfig {
    type Error = GroupingError;
    fn try_from(file: GroupingFile) -> Result<Self, Self::Error> {
        let mut config = GroupingConfig::default();
        config.max_open = file.max_open.unwrap_or(config.max_open);
        config.late_secs = file.late_secs.unwrap_or(config.late_secs);
        for (kind, params) in file.types {
            config.set(kind, params)?;
        }
        config.validate()?;
        Ok(config)
    }
}

impl GroupingConfig {
    /// R and T for `kind`.
    pub fn params(&self, kind: AlertType) -> GroupingParams {
        self.params.get(kind.index()).copied().unwrap_or_else(|| GroupingParams::default_for(kind))
    }

    /// Sets R and T for `kind`.
    pub fn set(&mut self, kind: AlertType, params: GroupingParams) -> Result<(), GroupingError> {
        if !params.is_valid() {
            return Err(GroupingError::BadParams(kind));
        }
        if let Some(slot) = self.params.get_mut(kind.index()) {
            *slot = params;
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), GroupingError> {
        if let Some(kind) = AlertType::ALL.into_iter().find(|k| !self.params(*k).is_valid()) {
            return Err(GroupingError::BadParams(kind));
        }
        if self.max_open == 0 || self.late_secs > 86_400 {
            return Err(GroupingError::BadLimits);
        }
        Ok(())
    }
}

/// What grouping one alert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Grouped {
    /// It opened a new incident.
    Opened {
        /// The new incident.
        id: IncidentId,
    },
    /// It joined an existing incident.
    Joined {
        /// The incident it joined.
        id: IncidentId,
    },
}

impl Grouped {
    /// The incident concerned.
    pub fn id(self) -> IncidentId {
        match self {
            Grouped::Opened { id } | Grouped::Joined { id } => id,
        }
    }
}

/// A grid cell: alert type and cell column and row.
type Cell = (AlertType, i32, i32);

#[derive(Debug, Clone)]
struct Slot {
    incident: Incident,
    cell: Cell,
    /// The grouper's clock when an alert last reached it (or it was loaded).
    touched: DateTime<Utc>,
}

/// The incidents open for joining, indexed in space; see the module docs.
#[derive(Debug, Clone)]
pub struct Grouper {
    config: GroupingConfig,
    slots: HashMap<IncidentId, Slot>,
    cells: HashMap<Cell, Vec<IncidentId>>,
    /// When each incident may leave, earliest first. Lazy: an entry may be
    /// earlier than its incident's current time (re-queued when reached)
    /// or name an incident already gone (skipped).
    expiry: BinaryHeap<Reverse<(DateTime<Utc>, IncidentId)>>,
    clock: Option<DateTime<Utc>>,
}

impl Grouper {
    /// An empty grouper.
    pub fn new(config: GroupingConfig) -> Result<Grouper, GroupingError> {
        config.validate()?;
        Ok(Grouper { config, slots: HashMap::new(), cells: HashMap::new(), expiry: BinaryHeap::new(), clock: None })
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &GroupingConfig {
        &self.config
    }

    /// The newest alert time seen.
    pub fn clock(&self) -> Option<DateTime<Utc>> {
        self.clock
    }

    /// How many incidents are held for joining.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// A held incident.
    pub fn get(&self, id: IncidentId) -> Option<&Incident> {
        self.slots.get(&id).map(|s| &s.incident)
    }

    /// Every held incident, in no particular order.
    pub fn incidents(&self) -> impl Iterator<Item = &Incident> {
        self.slots.values().map(|s| &s.incident)
    }

    /// Groups one alert: joins it to the nearest matching incident or opens
    /// one with the id `next_id` gives (called only then). Read the result
    /// back with [`Grouper::get`] to store it.
    pub fn group(&mut self, alert: &Alert<'_>, next_id: impl FnOnce() -> IncidentId) -> Grouped {
        let clock = self.clock.map_or(alert.at, |c| c.max(alert.at));
        self.clock = Some(clock);
        self.advance(clock);
        if let Some(id) = self.nearest(alert) {
            let cell_deg = self.cell_deg(alert.kind);
            if let Some(slot) = self.slots.get_mut(&id) {
                slot.incident.absorb(alert);
                slot.touched = clock;
                let cell = cell_of(alert.kind, slot.incident.centroid, cell_deg);
                if cell != slot.cell {
                    let old = std::mem::replace(&mut slot.cell, cell);
                    unindex(&mut self.cells, old, id);
                    self.cells.entry(cell).or_default().push(id);
                }
                return Grouped::Joined { id };
            }
        }
        while self.slots.len() >= self.config.max_open && self.evict_first(None) {}
        let id = next_id();
        self.insert(Incident::open(id, alert), clock);
        Grouped::Opened { id }
    }

    /// Takes in an incident kept elsewhere (after a restart), replacing one
    /// with its id; one that is not joinable is only forgotten.
    pub fn load(&mut self, incident: Incident) {
        self.remove(incident.id);
        if incident.is_joinable() {
            let touched = self.clock.map_or(incident.last_seen, |c| c.max(incident.last_seen));
            self.insert(incident, touched);
        }
    }

    /// Records a state change made elsewhere: an incident that is no
    /// longer joinable (dismissed, merged, promoted) is forgotten.
    /// Returns whether the incident was held.
    pub fn set_state(&mut self, id: IncidentId, state: IncidentState) -> bool {
        if !state.is_joinable() {
            return self.remove(id);
        }
        match self.slots.get_mut(&id) {
            Some(slot) => {
                slot.incident.state = state;
                true
            }
            None => false,
        }
    }

    /// Forgets every incident that may leave before `now` (see the module
    /// docs); returns how many left. [`Grouper::group`] does this with its
    /// own clock; a caller with a timer may do it while no alerts come.
    pub fn advance(&mut self, now: DateTime<Utc>) -> usize {
        let mut gone = 0;
        while self.evict_first(Some(now)) {
            gone += 1;
        }
        gone
    }

    /// The nearest joinable incident for `alert`, ties to the lower id.
    fn nearest(&self, alert: &Alert<'_>) -> Option<IncidentId> {
        let params = self.config.params(alert.kind);
        let quiet = params.quiet();
        let mut best: Option<(f64, IncidentId)> = None;
        let mut consider = |slot: &Slot| {
            let i = &slot.incident;
            if i.kind != alert.kind
                || !i.is_joinable()
                || alert.at < i.first_seen - quiet
                || alert.at > i.last_seen + quiet
            {
                return;
            }
            let d = i.centroid.distance_m(&alert.point);
            let better = best.is_none_or(|(bd, bid)| d < bd || (d == bd && i.id < bid));
            if d <= params.radius_m && better {
                best = Some((d, i.id));
            }
        };
        let cell_deg = self.cell_deg(alert.kind);
        let b = alert.point.bbox_around(params.radius_m);
        let (_, x0, y0) = cell_of(alert.kind, Point { lon: b.min_lon, lat: b.min_lat }, cell_deg);
        let (_, x1, y1) = cell_of(alert.kind, Point { lon: b.max_lon, lat: b.max_lat }, cell_deg);
        let cells = (i64::from(x1) - i64::from(x0) + 1) * (i64::from(y1) - i64::from(y0) + 1);
        if cells > MAX_SCAN_CELLS {
            self.slots.values().for_each(consider);
        } else {
            for x in x0..=x1 {
                for y in y0..=y1 {
                    for id in self.cells.get(&(alert.kind, x, y)).into_iter().flatten() {
                        if let Some(slot) = self.slots.get(id) {
                            consider(slot);
                        }
                    }
                }
            }
        }
        best.map(|(_, id)| id)
    }

    fn cell_deg(&self, kind: AlertType) -> f64 {
        self.config.params(kind).radius_m / METRES_PER_DEGREE
    }

    /// When a held incident may leave: `late` past both its quiet time and
    /// the last touch.
    fn leaves_at(&self, slot: &Slot) -> DateTime<Utc> {
        let quiet_end = slot.incident.last_seen + self.config.params(slot.incident.kind).quiet();
        quiet_end.max(slot.touched) + Duration::seconds(i64::from(self.config.late_secs))
    }

    fn insert(&mut self, incident: Incident, touched: DateTime<Utc>) {
        let id = incident.id;
        // A reused id replaces the incident it named.
        self.remove(id);
        let cell = cell_of(incident.kind, incident.centroid, self.cell_deg(incident.kind));
        let slot = Slot { incident, cell, touched };
        self.expiry.push(Reverse((self.leaves_at(&slot), id)));
        self.cells.entry(cell).or_default().push(id);
        self.slots.insert(id, slot);
        // Entries of forgotten incidents linger until reached; rebuild
        // when they outnumber the live ones so the queue stays bounded.
        if self.expiry.len() > 2 * self.slots.len() + 1024 {
            let live: Vec<_> = self.slots.iter().map(|(id, s)| Reverse((self.leaves_at(s), *id))).collect();
            self.expiry = live.into();
        }
    }

    fn remove(&mut self, id: IncidentId) -> bool {
        match self.slots.remove(&id) {
            Some(slot) => {
                unindex(&mut self.cells, slot.cell, id);
                true
            }
            None => false,
        }
    }

    /// Removes the incident that leaves first, if it leaves before `before`
    /// (or unconditionally with `None`); false when none was removed.
    fn evict_first(&mut self, before: Option<DateTime<Utc>>) -> bool {
        while let Some(Reverse((at, id))) = self.expiry.peek().copied() {
            if before.is_some_and(|b| at >= b) {
                return false;
            }
            self.expiry.pop();
            let Some(slot) = self.slots.get(&id) else { continue };
            let current = self.leaves_at(slot);
            if current > at {
                // It was touched since it was queued: queue it again.
                self.expiry.push(Reverse((current, id)));
                continue;
            }
            self.remove(id);
            return true;
        }
        false
    }
}

fn cell_of(kind: AlertType, p: Point, cell_deg: f64) -> Cell {
    // Float-to-int `as` saturates, and coordinates are bounded anyway.
    (kind, (p.lon / cell_deg).floor() as i32, (p.lat / cell_deg).floor() as i32)
}

fn unindex(cells: &mut HashMap<Cell, Vec<IncidentId>>, cell: Cell, id: IncidentId) {
    if let Some(ids) = cells.get_mut(&cell) {
        if let Some(pos) = ids.iter().position(|x| *x == id) {
            ids.swap_remove(pos);
        }
        if ids.is_empty() {
            cells.remove(&cell);
        }
    }
}

#[cfg(test)]
mod tests;
