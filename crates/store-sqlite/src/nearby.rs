//! Open cases by category and ~200 m cell, in memory, for the duplicate hint.
//!
//! Every new report asks "which open cases of this category are near?". Asked
//! of SQLite, that is a dozen index seeks per report on the single writer's
//! thread; here it is a few hash lookups. The embedded store is owned by one
//! process and every write passes through it, so the index stays exact: it is
//! loaded on open and updated after each committed write.

use std::collections::HashMap;
use std::sync::Arc;

use citygrid_domain::case::{Case, CaseId, CaseState};
use citygrid_domain::{CategoryCode, Point};
use citygrid_store::{NearbyCase, NearbyQuery};
use parking_lot::RwLock;

/// Size of a cell in degrees (about 220 m by 190 m at 31°N).
const CELL_DEG: f64 = 0.002;
/// Largest radius served, in cells each way (about 4 km).
const MAX_CELLS: i64 = 20;

type Cell = (i64, i64);

/// What the hint shows of an open case.
#[derive(Clone)]
pub(crate) struct OpenCase {
    pub id: CaseId,
    pub location: Point,
    pub state: CaseState,
    pub description: Arc<str>,
}

type Key = (CategoryCode, Cell);

#[derive(Default)]
struct Inner {
    cells: HashMap<Key, Vec<OpenCase>>,
    /// Where each indexed case sits, to move or drop it.
    at: HashMap<CaseId, Key>,
}

#[derive(Default)]
pub(crate) struct NearbyIndex {
    inner: RwLock<Inner>,
}

fn cell(p: &Point) -> Cell {
    ((p.lon / CELL_DEG).floor() as i64, (p.lat / CELL_DEG).floor() as i64)
}

impl NearbyIndex {
    /// Records the case as it now stands: added while open, removed once not.
    pub fn update(&self, case: &Case) {
        let mut g = self.inner.write();
        let Inner { cells, at } = &mut *g;
        if let Some(old) = at.remove(&case.id)
            && let Some(list) = cells.get_mut(&old)
        {
            list.retain(|o| o.id != case.id);
            if list.is_empty() {
                cells.remove(&old);
            }
        }
        if case.state.is_open() {
            let key = (case.category.clone(), cell(&case.location));
            cells.entry(key.clone()).or_default().push(OpenCase {
                id: case.id,
                location: case.location,
                state: case.state,
                description: Arc::from(case.description.as_str()),
            });
            at.insert(case.id, key);
        }
    }

    /// Replaces the whole index with these cases (the open ones among them).
    pub fn reload(&self, cases: &[Case]) {
        let mut fresh = NearbyIndex::default();
        cases.iter().for_each(|c| fresh.update(c));
        let inner = std::mem::take(fresh.inner.get_mut());
        *self.inner.write() = inner;
    }

    /// Open cases of `category` within the radius of `at`, nearest first.
    pub fn near(&self, category: &CategoryCode, at: &Point, q: NearbyQuery) -> Vec<NearbyCase> {
        if q.radius_m <= 0.0 || q.limit == 0 {
            return vec![];
        }
        let b = at.bbox_around(q.radius_m);
        let (lo, hi) =
            (cell(&Point { lon: b.min_lon, lat: b.min_lat }), cell(&Point { lon: b.max_lon, lat: b.max_lat }));
        let (x1, y1) = (hi.0.min(lo.0 + 2 * MAX_CELLS), hi.1.min(lo.1 + 2 * MAX_CELLS));
        let g = self.inner.read();
        let cells = &g.cells;
        let mut hits: Vec<NearbyCase> = vec![];
        for x in lo.0..=x1 {
            for y in lo.1..=y1 {
                let Some(list) = cells.get(&(category.clone(), (x, y))) else { continue };
                for o in list {
                    let d = at.distance_m(&o.location);
                    if d <= q.radius_m {
                        hits.push(NearbyCase {
                            id: o.id,
                            state: o.state,
                            distance_m: (d * 10.0).round() / 10.0,
                            description: o.description.to_string(),
                        });
                    }
                }
            }
        }
        hits.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m).then(a.id.cmp(&b.id)));
        hits.truncate(q.limit);
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: CaseId, cat: &str, lon: f64, state: CaseState) -> Case {
        let json = serde_json::json!({
            "id": id, "state": state, "category": cat, "urgent": false, "source": "hotline",
            "location": {"lon": lon, "lat": 31.33}, "territory": "340202", "description": format!("case {id}"),
            "reporter": "r", "reported_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
            "self_handled": false, "returns": 0, "reworks": 0, "extensions": 0, "version": 1
        });
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn finds_open_cases_of_the_category_nearest_first_and_forgets_closed_ones() {
        let ix = NearbyIndex::default();
        let q = NearbyQuery { radius_m: 200.0, limit: 5 };
        ix.update(&case(1, "E0101", 118.3810, CaseState::Reported));
        ix.update(&case(2, "E0101", 118.3801, CaseState::Dispatched));
        ix.update(&case(3, "E0102", 118.3800, CaseState::Reported));
        ix.update(&case(4, "E0101", 118.3900, CaseState::Reported));
        let at = Point { lon: 118.38, lat: 31.33 };
        let cat = CategoryCode::parse("E0101").unwrap();
        let ids = |v: Vec<NearbyCase>| v.into_iter().map(|n| n.id).collect::<Vec<_>>();
        assert_eq!(ids(ix.near(&cat, &at, q)), vec![2, 1]);
        ix.update(&case(2, "E0101", 118.3801, CaseState::Closed));
        assert_eq!(ids(ix.near(&cat, &at, q)), vec![1]);
        // A corrected category moves the case.
        ix.update(&case(1, "E0102", 118.3810, CaseState::Registered));
        assert!(ix.near(&cat, &at, q).is_empty());
        assert_eq!(ids(ix.near(&CategoryCode::parse("E0102").unwrap(), &at, q)), vec![3, 1]);
        assert_eq!(ix.inner.read().at.len(), 3);
    }

    #[test]
    fn cells_partition_the_plane_and_boxes_cover_their_circle() {
        for (lon, lat) in [(118.38, 31.33), (118.004_99, 31.0), (-0.001, -0.001), (179.999, 45.0)] {
            let p = Point { lon, lat };
            let b = p.bbox_around(200.0);
            let (lo, hi) =
                (cell(&Point { lon: b.min_lon, lat: b.min_lat }), cell(&Point { lon: b.max_lon, lat: b.max_lat }));
            let c = cell(&p);
            assert!(lo.0 <= c.0 && c.0 <= hi.0 && lo.1 <= c.1 && c.1 <= hi.1);
        }
    }
}
