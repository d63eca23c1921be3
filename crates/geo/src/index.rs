//! Point location: which chain of units contains a point.
//!
//! # Semantics
//!
//! The answer is a descent of the territory tree. Starting from the roots
//! (units whose parent is not in the set, normally the city), each step takes
//! among the current unit's children the one that contains the point; the
//! descent stops where no child does, so a point in a community part without
//! grids ends at the community (属地兜底). The chain is the path from the
//! root to where the descent stopped.
//!
//! # Boundaries
//!
//! Containment includes the boundary. A point on an edge or vertex shared by
//! siblings therefore lies in several; it is given to the sibling with the
//! **smallest code**. This is deterministic, the same at every level and
//! independent of the order units were given in, and it means a point on a
//! border is assigned exactly once. Polygons are tested with the even-odd
//! rule over all their rings (holes and multi-part units work) and every
//! sign is decided by an exact orientation predicate, so "on the boundary"
//! is exact, not within a tolerance. A city's outer boundary is inside.
//!
//! # How it is fast
//!
//! The descent above is the specification and is what the index computes,
//! but not by descending at query time. At build time a uniform grid of
//! cells is laid over all units, and the descent is run once per *cell*
//! (the `cells` module): for each unit a cell is either entirely inside it, entirely
//! outside, or crossed by its boundary. Most cells resolve to one deepest
//! unit for every point in them, and a query there is one array read. A cell
//! crossed by boundaries keeps the short list of units whose boundary
//! crosses it (with the few edges that touch the cell), a reference point in
//! the cell, and whether each of those units contains it; a query there
//! tests only those edges, counting crossings from the reference point. No
//! query ever looks at an edge outside its cell, so the cost does not grow
//! with a polygon's vertex count, and large polygons are subdivided by
//! construction. Chains are precomputed per unit, so the full chain costs no
//! more than the deepest unit.
//!
//! Changing boundaries means building a new index and swapping it in whole
//! (the server replaces its `Territory`); an index is immutable.

mod cells;

use std::collections::BTreeMap;

use citygrid_domain::{Level, Point, UnitCode};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};
use serde::Serialize;

use crate::prepared::{PreparedPolygon, edges_of};
use crate::{GeoError, TerritoryFeature};

use cells::{CellGrid, NONE};

/// Fan-out above which a unit's children get their own R-tree (build time
/// only); below it a linear scan over boxes is faster than a tree query.
const RTREE_MIN_CHILDREN: usize = 24;
/// Codes have at most six levels, so a chain is never longer.
const MAX_DEPTH: usize = 6;

type BoxEntry = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// How the cell grid is sized.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IndexOptions {
    /// Cells to aim for. `None` sizes the grid from the number of edges, as
    /// fine as pays off (see [`IndexOptions::default`]).
    pub target_cells: Option<usize>,
}

impl Default for IndexOptions {
    /// Sized automatically: a few cells per polygon edge, between 2¹⁰ and
    /// 2²² cells.
    fn default() -> Self {
        IndexOptions { target_cells: None }
    }
}

/// Sizes of the index, for reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IndexStats {
    /// Units indexed.
    pub units: usize,
    /// Edges of all units' boundaries.
    pub edges: usize,
    /// Grid columns.
    pub columns: usize,
    /// Grid rows.
    pub rows: usize,
    /// Cells whose every point has the same chain (answered by one read).
    pub resolved_cells: usize,
    /// Cells crossed by a boundary that decides the answer.
    pub mixed_cells: usize,
    /// Units listed in mixed cells, over all of them.
    pub mixed_entries: usize,
    /// Edge references in mixed cells, over all of them (an edge is listed
    /// once per cell and unit).
    pub cell_edges: usize,
    /// Distinct edges stored (a border shared by units is stored once).
    pub distinct_edges: usize,
    /// Mixed-cell entries that fall back to a whole-polygon test (no usable
    /// reference point); normally zero.
    pub fallback_entries: usize,
    /// Bytes the index holds: cells, mixed cells' programs, edges, chains,
    /// codes and fallback polygons, heap included.
    pub bytes: usize,
}

/// Answers "which units contain this point". Immutable after [`build`](Self::build).
#[derive(Debug)]
pub struct TerritoryIndex {
    /// By unit, sorted by code.
    codes: Vec<UnitCode>,
    /// The chain of every unit, root first, ending at the unit itself.
    chains: Vec<ChainIds>,
    grid: CellGrid,
    /// Whole-polygon tests, only for units some mixed cell falls back to.
    fallback: Vec<Option<PreparedPolygon>>,
    edge_count: usize,
}

#[derive(Debug, Clone, Copy)]
struct ChainIds {
    ids: [u32; MAX_DEPTH],
    len: u8,
}

/// The units containing a point, from the top of the tree down.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Location {
    /// `[city, district, township, community, grid, micro-grid]`, as deep as
    /// the data goes at that point.
    pub chain: Vec<UnitCode>,
}

impl Location {
    /// The smallest unit containing the point (the last of the chain).
    pub fn deepest(&self) -> Option<&UnitCode> {
        self.chain.last()
    }

    /// The unit of the given level in the chain, if the chain reaches it.
    pub fn at(&self, level: Level) -> Option<&UnitCode> {
        self.chain.iter().find(|c| c.level() == level)
    }
}

/// The units containing a point, borrowed from the index: the same answer as
/// [`Location`] without allocating.
#[derive(Debug, Clone, Copy)]
pub struct Chain<'a> {
    codes: &'a [UnitCode],
    ids: &'a [u32],
}

impl<'a> Chain<'a> {
    /// The codes from the top of the tree down.
    pub fn codes(&self) -> impl ExactSizeIterator<Item = &'a UnitCode> + DoubleEndedIterator + 'a {
        let codes = self.codes;
        self.ids.iter().map(move |&i| &codes[i as usize])
    }

    /// The smallest unit containing the point.
    pub fn deepest(&self) -> &'a UnitCode {
        // A chain is never empty: it ends at the unit the point was located in.
        let last = self.ids.last().copied().unwrap_or(0);
        &self.codes[last as usize]
    }

    /// The unit of the given level in the chain, if the chain reaches it.
    pub fn at(&self, level: Level) -> Option<&'a UnitCode> {
        self.codes().find(|c| c.level() == level)
    }

    /// Number of units in the chain.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Always false: a chain holds at least the unit located in.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The owned form.
    pub fn to_location(&self) -> Location {
        Location { chain: self.codes().cloned().collect() }
    }
}

impl TerritoryIndex {
    /// Builds the index. Fails on duplicate codes, empty or non-finite
    /// geometries, and units whose declared parent contradicts their code.
    /// A unit whose parent is not in the set becomes a root. Validity dates
    /// are not looked at: pass the units valid on the day of interest.
    pub fn build(features: &[TerritoryFeature]) -> Result<TerritoryIndex, GeoError> {
        Self::build_with(features, IndexOptions::default())
    }

    /// [`build`](Self::build) with an explicit grid size (tests use coarse
    /// and fine grids to exercise both kinds of cell).
    pub fn build_with(features: &[TerritoryFeature], options: IndexOptions) -> Result<TerritoryIndex, GeoError> {
        let tree = Tree::new(features)?;
        let (grid, needs_fallback) = CellGrid::build(&tree, options);
        let chains = (0..tree.codes.len()).map(|i| tree.chain_of(i as u32)).collect();
        let edge_count = tree.edges.len();
        let Tree { codes, polygons, .. } = tree;
        let fallback =
            polygons.into_iter().zip(needs_fallback).map(|(p, needed)| if needed { Some(p) } else { None }).collect();
        Ok(TerritoryIndex { codes, chains, grid, fallback, edge_count })
    }

    /// Chain city→deepest unit containing the point, or None when outside the city.
    ///
    /// More precisely: `None` when no root unit contains the point; otherwise
    /// the descent from the root that contains it, stopping where no child
    /// does. Boundary points go to the sibling with the smallest code.
    pub fn locate(&self, p: Point) -> Option<Location> {
        self.locate_chain(p).map(|c| c.to_location())
    }

    /// The same answer as [`locate`](Self::locate), borrowed from the index
    /// (no allocation): the fast path for bulk location.
    #[inline]
    pub fn locate_chain(&self, p: Point) -> Option<Chain<'_>> {
        let node = self.grid.locate(p.lon, p.lat, &self.fallback);
        self.chain(node)
    }

    /// The smallest unit containing the point, without building the chain
    /// (no allocation).
    #[inline]
    pub fn locate_deepest(&self, p: Point) -> Option<&UnitCode> {
        let node = self.grid.locate(p.lon, p.lat, &self.fallback);
        self.codes.get(node as usize)
    }

    /// Number of units indexed.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether the index has no unit.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// Sizes and memory of the structure.
    pub fn stats(&self) -> IndexStats {
        let g = &self.grid;
        let code_bytes: usize =
            self.codes.iter().map(|c| std::mem::size_of::<UnitCode>() + c.as_str().len()).sum::<usize>();
        let fallback_bytes: usize = self
            .fallback
            .iter()
            .map(|p| std::mem::size_of::<Option<PreparedPolygon>>() + p.as_ref().map_or(0, PreparedPolygon::heap_bytes))
            .sum();
        IndexStats {
            units: self.codes.len(),
            edges: self.edge_count,
            columns: g.columns(),
            rows: g.rows(),
            resolved_cells: g.resolved_cells(),
            mixed_cells: g.mixed_cells(),
            mixed_entries: g.entry_count(),
            cell_edges: g.edge_count(),
            distinct_edges: g.distinct_edges(),
            fallback_entries: g.fallback_entries(),
            bytes: std::mem::size_of::<Self>()
                + g.heap_bytes()
                + code_bytes
                + self.chains.capacity() * std::mem::size_of::<ChainIds>()
                + fallback_bytes,
        }
    }

    #[inline]
    fn chain(&self, node: u32) -> Option<Chain<'_>> {
        let c = self.chains.get(node as usize)?;
        Some(Chain { codes: &self.codes, ids: &c.ids[..usize::from(c.len)] })
    }
}

/// The territory tree as the build needs it: units sorted by code, each
/// with its polygon and children, and the plain top-down descent that
/// defines the answer. Dropped once the cells are built.
struct Tree {
    codes: Vec<UnitCode>,
    parents: Vec<u32>,
    polygons: Vec<PreparedPolygon>,
    children: Vec<Children>,
    roots: Children,
    /// Every unit's edges, `edge_starts[i]..edge_starts[i + 1]` for unit `i`.
    edges: Vec<[f64; 4]>,
    edge_starts: Vec<usize>,
}

/// Children of one unit (or the roots), sorted by code.
#[derive(Debug)]
struct Children {
    /// Node indices; since nodes are sorted by code, index order is code order.
    ids: Vec<u32>,
    /// The children's boxes, alongside `ids`.
    boxes: Vec<[f64; 4]>,
    tree: Option<RTree<BoxEntry>>,
}

impl Tree {
    fn new(features: &[TerritoryFeature]) -> Result<Tree, GeoError> {
        let mut order: Vec<usize> = (0..features.len()).collect();
        order.sort_by(|&a, &b| features[a].unit.code.cmp(&features[b].unit.code).then(a.cmp(&b)));
        for w in order.windows(2) {
            if features[w[0]].unit.code == features[w[1]].unit.code {
                return Err(GeoError::DuplicateCode {
                    code: features[w[0]].unit.code.to_string(),
                    first: w[0].min(w[1]),
                    second: w[0].max(w[1]),
                });
            }
        }
        let position: BTreeMap<&UnitCode, u32> =
            order.iter().enumerate().map(|(k, &i)| (&features[i].unit.code, k as u32)).collect();
        let n = order.len();
        let mut codes = Vec::with_capacity(n);
        let mut parents = Vec::with_capacity(n);
        let mut polygons = Vec::with_capacity(n);
        let mut edges = Vec::new();
        let mut edge_starts = Vec::with_capacity(n + 1);
        let mut child_ids: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut root_ids = Vec::new();
        for (k, &i) in order.iter().enumerate() {
            let f = &features[i];
            let code = &f.unit.code;
            if let Some(declared) = &f.unit.parent
                && Some(declared) != code.parent().as_ref()
            {
                return Err(GeoError::ParentMismatch {
                    code: code.to_string(),
                    declared: declared.to_string(),
                    implied: code.parent().map(|p| p.to_string()).unwrap_or_default(),
                });
            }
            let own = edges_of(&f.geometry);
            let polygon = PreparedPolygon::from_edges(&own).ok_or_else(|| {
                if own.iter().flatten().all(|v| v.is_finite()) {
                    GeoError::EmptyGeometry { code: code.to_string() }
                } else {
                    GeoError::NonFiniteCoordinate { code: code.to_string() }
                }
            })?;
            let parent = f.unit.parent.as_ref().and_then(|p| position.get(p)).copied();
            match parent {
                // `order` is sorted, so pushing in this loop keeps children sorted too.
                Some(p) => child_ids[p as usize].push(k as u32),
                None => root_ids.push(k as u32),
            }
            edge_starts.push(edges.len());
            edges.extend_from_slice(&own);
            codes.push(code.clone());
            parents.push(parent.unwrap_or(NONE));
            polygons.push(polygon);
        }
        edge_starts.push(edges.len());
        let bbox_of = |id: u32| polygons[id as usize].bbox();
        let children = child_ids.into_iter().map(|ids| Children::new(ids, bbox_of)).collect();
        let roots = Children::new(root_ids, bbox_of);
        Ok(Tree { codes, parents, polygons, children, roots, edges, edge_starts })
    }

    fn len(&self) -> usize {
        self.codes.len()
    }

    fn edges_of(&self, node: u32) -> &[[f64; 4]] {
        let i = node as usize;
        &self.edges[self.edge_starts[i]..self.edge_starts[i + 1]]
    }

    fn children_of(&self, node: u32) -> &Children {
        if node == NONE { &self.roots } else { &self.children[node as usize] }
    }

    fn chain_of(&self, node: u32) -> ChainIds {
        let mut ids = [0u32; MAX_DEPTH];
        let mut path = Vec::with_capacity(MAX_DEPTH);
        let mut cur = node;
        // Codes have at most six levels and a parent's code is shorter than
        // its child's, so this walk is at most six steps.
        while cur != NONE && path.len() < MAX_DEPTH {
            path.push(cur);
            cur = self.parents[cur as usize];
        }
        for (slot, id) in ids.iter_mut().zip(path.iter().rev()) {
            *slot = *id;
        }
        ChainIds { ids, len: path.len() as u8 }
    }

    /// The deepest unit of the descent at a point (the specification of the
    /// answer), or [`NONE`]. Used for cells no boundary touches.
    fn descend(&self, x: f64, y: f64) -> u32 {
        let mut cur = NONE;
        for _ in 0..MAX_DEPTH {
            match self.first_containing(self.children_of(cur), x, y) {
                Some(hit) => cur = hit,
                None => break,
            }
        }
        cur
    }

    /// The child with the smallest code that contains the point.
    fn first_containing(&self, children: &Children, x: f64, y: f64) -> Option<u32> {
        let mut best: Option<u32> = None;
        children.for_each_box_hit(x, y, |id| {
            if best.is_none_or(|b| id < b) && self.polygons[id as usize].contains(x, y) {
                best = Some(id);
            }
        });
        best
    }
}

impl Children {
    fn new(ids: Vec<u32>, bbox_of: impl Fn(u32) -> [f64; 4]) -> Self {
        let boxes: Vec<[f64; 4]> = ids.iter().map(|&id| bbox_of(id)).collect();
        let tree = (ids.len() >= RTREE_MIN_CHILDREN).then(|| {
            let entries = ids
                .iter()
                .zip(&boxes)
                .map(|(&id, &[x0, y0, x1, y1])| GeomWithData::new(Rectangle::from_corners([x0, y0], [x1, y1]), id))
                .collect();
            RTree::bulk_load(entries)
        });
        Self { ids, boxes, tree }
    }

    /// Calls `f` for every child whose box holds the point (in no particular order).
    fn for_each_box_hit(&self, x: f64, y: f64, mut f: impl FnMut(u32)) {
        match &self.tree {
            None => {
                for (&id, &[x0, y0, x1, y1]) in self.ids.iter().zip(&self.boxes) {
                    if x >= x0 && x <= x1 && y >= y0 && y <= y1 {
                        f(id);
                    }
                }
            }
            Some(tree) => {
                for entry in tree.locate_all_at_point(&[x, y]) {
                    f(entry.data);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use citygrid_domain::Unit;
    use geo::{MultiPolygon, polygon};

    fn feature(code: &str, x0: f64, y0: f64, x1: f64, y1: f64) -> TerritoryFeature {
        let code = UnitCode::parse(code).unwrap();
        TerritoryFeature {
            unit: Unit { synthetic: true, ..Unit::new(code, "t", crate::DEFAULT_VALID_FROM) },
            geometry: MultiPolygon::new(vec![polygon![
                (x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1)
            ]]),
        }
    }

    fn codes(loc: Option<Location>) -> Vec<String> {
        loc.map(|l| l.chain.into_iter().map(String::from).collect()).unwrap_or_default()
    }

    fn small() -> Vec<TerritoryFeature> {
        vec![
            feature("340202001", 0.0, 0.0, 2.0, 2.0),
            feature("340200", 0.0, 0.0, 4.0, 2.0),
            feature("340202", 0.0, 0.0, 2.0, 2.0),
            feature("340207", 2.0, 0.0, 4.0, 2.0),
            feature("340202001001", 0.0, 0.0, 1.0, 2.0),
            feature("340202001002", 1.0, 0.0, 2.0, 2.0),
            feature("340202001001001", 0.0, 0.0, 1.0, 1.0),
        ]
    }

    /// Grid sizes from one cell (everything mixed) to fine (cells smaller
    /// than the units, aligned with their edges).
    fn sizes() -> Vec<IndexOptions> {
        [Some(1), Some(2), Some(7), Some(64), Some(1000), None]
            .into_iter()
            .map(|target_cells| IndexOptions { target_cells })
            .collect()
    }

    #[test]
    fn descends_and_falls_back() {
        for opts in sizes() {
            let idx = TerritoryIndex::build_with(&small(), opts).unwrap();
            assert_eq!(idx.len(), 7);
            let at = |x, y| codes(idx.locate(Point { lon: x, lat: y }));
            assert_eq!(at(0.5, 0.5), ["340200", "340202", "340202001", "340202001001", "340202001001001"]);
            // A community part without grids ends at the community.
            assert_eq!(at(0.5, 1.5), ["340200", "340202", "340202001", "340202001001"]);
            // A district with no townships ends at the district.
            assert_eq!(at(3.0, 1.0), ["340200", "340207"]);
            assert!(idx.locate(Point { lon: 5.0, lat: 1.0 }).is_none());
            assert!(idx.locate(Point { lon: f64::NAN, lat: 1.0 }).is_none());
            assert!(idx.locate(Point { lon: 1.0, lat: f64::INFINITY }).is_none());
            let loc = idx.locate(Point { lon: 0.5, lat: 0.5 }).unwrap();
            assert_eq!(loc.deepest().map(|c| c.as_str()), Some("340202001001001"));
            assert_eq!(loc.at(Level::Township).map(|c| c.as_str()), Some("340202001"));
            assert_eq!(idx.locate_deepest(Point { lon: 0.5, lat: 1.5 }).map(|c| c.as_str()), Some("340202001001"));
            let chain = idx.locate_chain(Point { lon: 0.5, lat: 0.5 }).unwrap();
            assert_eq!(chain.len(), 5);
            assert_eq!(chain.deepest().as_str(), "340202001001001");
            assert_eq!(chain.at(Level::Community).map(|c| c.as_str()), Some("340202001001"));
            assert_eq!(chain.at(Level::MicroGrid), None);
            assert_eq!(chain.to_location(), loc);
        }
    }

    #[test]
    fn shared_edges_go_to_the_smallest_code() {
        for opts in sizes() {
            let idx = TerritoryIndex::build_with(&small(), opts).unwrap();
            let at = |x, y| codes(idx.locate(Point { lon: x, lat: y }));
            // On the edge x = 1 between communities 001 and 002: 001 wins.
            assert_eq!(at(1.0, 1.5).last().map(String::as_str), Some("340202001001"), "{opts:?}");
            // On the district border x = 2: 340202 wins over 340207.
            assert_eq!(at(2.0, 1.0)[1], "340202");
            // The city's outer boundary is inside, corners included.
            assert_eq!(at(4.0, 2.0), ["340200", "340207"]);
            assert_eq!(at(4.0, 1.0), ["340200", "340207"]);
            assert_eq!(at(0.0, 0.0), ["340200", "340202", "340202001", "340202001001", "340202001001001"]);
            // The grid's corner inside the community: the grid holds it.
            assert_eq!(at(1.0, 1.0).last().map(String::as_str), Some("340202001001001"));
            // Just outside.
            assert!(at(4.0 + 1e-12, 1.0).is_empty());
            assert!(at(-1e-300, 1.0).is_empty());
        }
    }

    #[test]
    fn many_children_and_the_same_rule() {
        let mut fs = vec![feature("340202001", 0.0, 0.0, 40.0, 1.0)];
        for k in 0..40 {
            let code = format!("340202001{:03}", k + 1);
            fs.push(feature(&code, k as f64, 0.0, k as f64 + 1.0, 1.0));
        }
        for opts in sizes() {
            let idx = TerritoryIndex::build_with(&fs, opts).unwrap();
            for k in 0..40 {
                let loc = idx.locate(Point { lon: k as f64 + 0.5, lat: 0.5 }).unwrap();
                assert_eq!(loc.chain[1].as_str(), format!("340202001{:03}", k + 1));
                // The shared edge on the west goes to the smaller (western) code.
                let edge = idx.locate(Point { lon: k as f64 + 1.0, lat: 0.5 }).unwrap();
                assert_eq!(edge.chain[1].as_str(), format!("340202001{:03}", k + 1));
            }
        }
    }

    #[test]
    fn overlapping_siblings_go_to_the_smallest_code() {
        // Bad data the validator would reject, but the rule must still hold:
        // where 001 and 002 overlap, 001 wins, also in its interior.
        let fs = vec![
            feature("340202001", 0.0, 0.0, 4.0, 4.0),
            feature("340202001002", 1.0, 1.0, 3.0, 3.0),
            feature("340202001001", 2.0, 2.0, 4.0, 4.0),
        ];
        for opts in sizes() {
            let idx = TerritoryIndex::build_with(&fs, opts).unwrap();
            let deepest = |x, y| idx.locate_deepest(Point { lon: x, lat: y }).map(|c| c.as_str().to_owned());
            assert_eq!(deepest(2.5, 2.5).as_deref(), Some("340202001001"));
            assert_eq!(deepest(1.5, 1.5).as_deref(), Some("340202001002"));
            assert_eq!(deepest(0.5, 0.5).as_deref(), Some("340202001"));
            assert_eq!(deepest(3.5, 3.5).as_deref(), Some("340202001001"));
        }
    }

    #[test]
    fn holes_and_multi_part_units() {
        let mut fs = small();
        // The micro-less grid gets a hole; the district 340207 a second part.
        fs[6].geometry = MultiPolygon::new(vec![polygon!(
            exterior: [(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 1.0)],
            interiors: [[(x: 0.25, y: 0.25), (x: 0.75, y: 0.25), (x: 0.75, y: 0.75), (x: 0.25, y: 0.75)]],
        )]);
        fs[3].geometry.0.push(polygon![(x: 5.0, y: 0.0), (x: 6.0, y: 0.0), (x: 6.0, y: 1.0)]);
        for opts in sizes() {
            let idx = TerritoryIndex::build_with(&fs, opts).unwrap();
            let depth = |x, y| idx.locate(Point { lon: x, lat: y }).map_or(0, |l| l.chain.len());
            assert_eq!(depth(0.5, 0.5), 4, "in the hole: the community");
            assert_eq!(depth(0.25, 0.5), 5, "on the hole's edge: the grid");
            assert_eq!(depth(0.1, 0.5), 5);
            // The detached part lies outside the city: its root is missing.
            assert_eq!(depth(5.8, 0.2), 0);
        }
    }

    #[test]
    fn build_errors_name_the_unit() {
        let mut fs = small();
        fs.push(feature("340202", 0.0, 0.0, 1.0, 1.0));
        let e = TerritoryIndex::build(&fs).unwrap_err();
        assert!(e.to_string().contains("340202"), "{e}");
        assert!(matches!(e, GeoError::DuplicateCode { first: 2, second: 7, .. }), "{e:?}");

        let mut fs = small();
        fs[0].geometry = MultiPolygon::new(vec![]);
        let e = TerritoryIndex::build(&fs).unwrap_err();
        assert_eq!(e, GeoError::EmptyGeometry { code: "340202001".into() });

        let mut fs = small();
        fs[0].unit.parent = Some(UnitCode::parse("340207").unwrap());
        assert!(matches!(TerritoryIndex::build(&fs), Err(GeoError::ParentMismatch { .. })));

        let mut fs = small();
        fs[0].geometry = MultiPolygon::new(vec![polygon![(x: 0.0, y: 0.0), (x: f64::NAN, y: 1.0), (x: 1.0, y: 1.0)]]);
        assert!(matches!(TerritoryIndex::build(&fs), Err(GeoError::NonFiniteCoordinate { .. })));
        let empty = TerritoryIndex::build(&[]).unwrap();
        assert!(empty.is_empty());
        assert!(empty.locate(Point { lon: 0.0, lat: 0.0 }).is_none());
    }

    #[test]
    fn degenerate_extents() {
        // A unit with zero height (a sliver) next to a normal one.
        let mut fs = vec![feature("340200", 0.0, 0.0, 1.0, 1.0)];
        fs[0].geometry = MultiPolygon::new(vec![polygon![(x: 0.0, y: 1.0), (x: 1.0, y: 1.0), (x: 2.0, y: 1.0)]]);
        let idx = TerritoryIndex::build(&fs).unwrap();
        assert_eq!(idx.locate_deepest(Point { lon: 0.5, lat: 1.0 }).map(|c| c.as_str()), Some("340200"));
        assert_eq!(idx.locate_deepest(Point { lon: 0.5, lat: 1.5 }), None);
    }

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<TerritoryIndex>();
    }
}
