//! Point location: which chain of units contains a point.
//!
//! The index is a tree descent. Starting from the roots (units whose parent
//! is not in the set, normally the city), each step looks among the current
//! unit's children for one that contains the point: a bounding-box prefilter
//! (an R-tree when a unit has many children, a linear scan of boxes when it
//! has few) and then an exact point-in-polygon test on a polygon prepared
//! with y-strips. The descent stops where no child contains the point, so a
//! point in a community without grids ends at the community (属地兜底).
//!
//! # Boundaries
//!
//! Containment includes the boundary. A point on an edge or vertex shared by
//! siblings therefore lies in several; it is given to the sibling with the
//! smallest code. This is deterministic and the same at every level.
//!
//! Everything lives in this module so it can later be swapped for a
//! cell-based index without touching callers.

use std::collections::BTreeMap;

use citygrid_domain::{Level, Point, UnitCode};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};
use serde::Serialize;

use crate::prepared::PreparedPolygon;
use crate::{GeoError, TerritoryFeature};

/// Fan-out above which a unit's children get their own R-tree; below it a
/// linear scan over boxes is faster than a tree query.
const RTREE_MIN_CHILDREN: usize = 24;
/// Codes have at most six levels, so a chain is never longer.
const MAX_DEPTH: usize = 6;

type BoxEntry = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// Children of one unit (or the roots), sorted by code.
#[derive(Debug)]
struct Children {
    /// Node indices; since nodes are sorted by code, index order is code order.
    ids: Vec<u32>,
    /// The children's boxes, alongside `ids`, so rejecting a child by its
    /// box does not touch the child's node.
    boxes: Vec<[f64; 4]>,
    tree: Option<RTree<BoxEntry>>,
}

#[derive(Debug)]
struct Node {
    code: UnitCode,
    bbox: [f64; 4],
    polygon: PreparedPolygon,
    children: Children,
}

/// Answers "which units contain this point". Immutable after [`build`](Self::build).
#[derive(Debug)]
pub struct TerritoryIndex {
    /// Sorted by code.
    nodes: Vec<Node>,
    roots: Children,
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

impl TerritoryIndex {
    /// Builds the index. Fails on duplicate codes, empty or non-finite
    /// geometries, and units whose declared parent contradicts their code.
    /// A unit whose parent is not in the set becomes a root. Validity dates
    /// are not looked at: pass the units valid on the day of interest.
    pub fn build(features: &[TerritoryFeature]) -> Result<TerritoryIndex, GeoError> {
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
        let mut nodes = Vec::with_capacity(order.len());
        let mut child_ids: Vec<Vec<u32>> = vec![Vec::new(); order.len()];
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
            let polygon = PreparedPolygon::new(&f.geometry).ok_or_else(|| {
                let finite = f.geometry.0.iter().all(|p| {
                    std::iter::once(p.exterior())
                        .chain(p.interiors())
                        .flat_map(|r| r.0.iter())
                        .all(|c| c.x.is_finite() && c.y.is_finite())
                });
                if finite {
                    GeoError::EmptyGeometry { code: code.to_string() }
                } else {
                    GeoError::NonFiniteCoordinate { code: code.to_string() }
                }
            })?;
            match f.unit.parent.as_ref().and_then(|p| position.get(p)) {
                // `order` is sorted, so pushing in this loop keeps children sorted too.
                Some(&parent) => child_ids[parent as usize].push(k as u32),
                None => root_ids.push(k as u32),
            }
            nodes.push(Node {
                code: code.clone(),
                bbox: polygon.bbox(),
                polygon,
                children: Children { ids: Vec::new(), boxes: Vec::new(), tree: None },
            });
        }
        let bbox_of = |id: u32| nodes[id as usize].bbox;
        let children: Vec<Children> = child_ids.into_iter().map(|ids| Children::new(ids, bbox_of)).collect();
        let roots = Children::new(root_ids, bbox_of);
        for (node, ch) in nodes.iter_mut().zip(children) {
            node.children = ch;
        }
        Ok(TerritoryIndex { nodes, roots })
    }

    /// Chain city→deepest unit containing the point, or None when outside the city.
    ///
    /// More precisely: `None` when no root unit contains the point; otherwise
    /// the descent from the root that contains it, stopping where no child
    /// does. Boundary points go to the sibling with the smallest code.
    pub fn locate(&self, p: Point) -> Option<Location> {
        let mut buf = [0u32; MAX_DEPTH];
        let n = self.descend(p.lon, p.lat, &mut buf);
        (n > 0).then(|| Location { chain: buf[..n].iter().map(|&i| self.nodes[i as usize].code.clone()).collect() })
    }

    /// The smallest unit containing the point, without building the chain
    /// (no allocation).
    pub fn locate_deepest(&self, p: Point) -> Option<&UnitCode> {
        let mut buf = [0u32; MAX_DEPTH];
        let n = self.descend(p.lon, p.lat, &mut buf);
        n.checked_sub(1).map(|last| &self.nodes[buf[last] as usize].code)
    }

    /// Number of units indexed.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the index has no unit.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn descend(&self, x: f64, y: f64, out: &mut [u32; MAX_DEPTH]) -> usize {
        let mut n = 0;
        let mut level = &self.roots;
        while n < MAX_DEPTH {
            let Some(hit) = self.first_containing(level, x, y) else {
                break;
            };
            out[n] = hit;
            n += 1;
            level = &self.nodes[hit as usize].children;
        }
        n
    }

    /// The child with the smallest code that contains the point.
    #[inline]
    fn first_containing(&self, children: &Children, x: f64, y: f64) -> Option<u32> {
        match &children.tree {
            None => children.ids.iter().zip(&children.boxes).find_map(|(&id, &[x0, y0, x1, y1])| {
                (x >= x0 && x <= x1 && y >= y0 && y <= y1 && self.nodes[id as usize].polygon.contains(x, y))
                    .then_some(id)
            }),
            Some(tree) => {
                let mut best: Option<u32> = None;
                for entry in tree.locate_all_at_point(&[x, y]) {
                    let id = entry.data;
                    if best.is_some_and(|b| b < id) {
                        continue;
                    }
                    if self.nodes[id as usize].polygon.contains(x, y) {
                        best = Some(id);
                    }
                }
                best
            }
        }
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use citygrid_domain::Unit;
    use geo::{MultiPolygon, polygon};

    fn feature(code: &str, x0: f64, y0: f64, x1: f64, y1: f64) -> TerritoryFeature {
        let code = UnitCode::parse(code).unwrap();
        TerritoryFeature {
            unit: Unit {
                level: code.level(),
                parent: code.parent(),
                code,
                name: "t".into(),
                valid_from: crate::DEFAULT_VALID_FROM,
                valid_to: None,
                synthetic: true,
            },
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

    #[test]
    fn descends_and_falls_back() {
        let idx = TerritoryIndex::build(&small()).unwrap();
        assert_eq!(idx.len(), 7);
        let at = |x, y| codes(idx.locate(Point { lon: x, lat: y }));
        assert_eq!(at(0.5, 0.5), ["340200", "340202", "340202001", "340202001001", "340202001001001"]);
        // A community part without grids ends at the community.
        assert_eq!(at(0.5, 1.5), ["340200", "340202", "340202001", "340202001001"]);
        // A district with no townships ends at the district.
        assert_eq!(at(3.0, 1.0), ["340200", "340207"]);
        assert!(idx.locate(Point { lon: 5.0, lat: 1.0 }).is_none());
        assert!(idx.locate(Point { lon: f64::NAN, lat: 1.0 }).is_none());
        let loc = idx.locate(Point { lon: 0.5, lat: 0.5 }).unwrap();
        assert_eq!(loc.deepest().map(|c| c.as_str()), Some("340202001001001"));
        assert_eq!(loc.at(Level::Township).map(|c| c.as_str()), Some("340202001"));
        assert_eq!(idx.locate_deepest(Point { lon: 0.5, lat: 1.5 }).map(|c| c.as_str()), Some("340202001001"));
    }

    #[test]
    fn shared_edges_go_to_the_smallest_code() {
        let idx = TerritoryIndex::build(&small()).unwrap();
        let at = |x, y| codes(idx.locate(Point { lon: x, lat: y }));
        // On the edge x = 1 between communities 001 and 002: 001 wins.
        assert_eq!(at(1.0, 1.5).last().map(String::as_str), Some("340202001001"));
        // On the district border x = 2: 340202 wins over 340207.
        assert_eq!(at(2.0, 1.0)[1], "340202");
        // The city's outer boundary is inside.
        assert_eq!(at(4.0, 2.0), ["340200", "340207"]);
    }

    #[test]
    fn many_children_use_the_rtree_and_the_same_rule() {
        let mut fs = vec![feature("340202001", 0.0, 0.0, 40.0, 1.0)];
        for k in 0..40 {
            let code = format!("340202001{:03}", k + 1);
            fs.push(feature(&code, k as f64, 0.0, k as f64 + 1.0, 1.0));
        }
        let idx = TerritoryIndex::build(&fs).unwrap();
        assert!(idx.nodes[0].children.tree.is_some());
        for k in 0..40 {
            let loc = idx.locate(Point { lon: k as f64 + 0.5, lat: 0.5 }).unwrap();
            assert_eq!(loc.chain[1].as_str(), format!("340202001{:03}", k + 1));
            // The shared edge on the west goes to the smaller (western) code.
            let edge = idx.locate(Point { lon: k as f64 + 1.0, lat: 0.5 }).unwrap();
            assert_eq!(edge.chain[1].as_str(), format!("340202001{:03}", k + 1));
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
        assert!(TerritoryIndex::build(&[]).unwrap().is_empty());
    }

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<TerritoryIndex>();
    }
}
