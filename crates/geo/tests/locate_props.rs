//! Property tests of point location against a brute-force reference.
//!
//! The reference tests every unit's polygon with `geo`'s `Intersects`
//! (boundary included, exact predicates) and descends from the roots taking
//! the smallest containing code at each level — the documented rule. The
//! index must agree with it everywhere: at random points, exactly on shared
//! vertices and edges, a floating-point step away from them, on grid-cell
//! lines, and on small synthetic partitions full of degeneracies, for grids
//! from one cell to fine ones.

// clippy.toml allows these in #[test] functions only; the shared helpers
// here are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::OnceLock;

use citygrid_domain::{Level, Point, Unit, UnitCode};
use citygrid_geo::index::IndexOptions;
use citygrid_geo::{TerritoryFeature, TerritoryIndex, wuhu_city_outline, wuhu_demo};
use geo::{BoundingRect, Contains, Coord, Intersects, LineString, MultiPolygon, Polygon, Rect};
use proptest::prelude::*;

/// A set of features with the brute-force reference over it.
struct Reference {
    features: Vec<TerritoryFeature>,
    boxes: Vec<Rect<f64>>,
    codes: BTreeSet<UnitCode>,
}

impl Reference {
    fn new(features: Vec<TerritoryFeature>) -> Reference {
        let boxes = features.iter().map(|f| f.geometry.bounding_rect().unwrap()).collect();
        let codes = features.iter().map(|f| f.unit.code.clone()).collect();
        Reference { features, boxes, codes }
    }

    /// The chain by the rule, testing every polygon (a box test first, which
    /// changes nothing but the time taken).
    fn locate(&self, p: Point) -> Vec<String> {
        let pt = geo::Point::new(p.lon, p.lat);
        let hits: Vec<&TerritoryFeature> = self
            .features
            .iter()
            .zip(&self.boxes)
            .filter(|(f, b)| b.intersects(&pt) && f.geometry.intersects(&pt))
            .map(|(f, _)| f)
            .collect();
        let mut chain: Vec<String> = Vec::new();
        let mut current: Option<&UnitCode> = None;
        loop {
            let next = hits
                .iter()
                .filter(|f| match current {
                    None => f.unit.parent.as_ref().is_none_or(|p| !self.codes.contains(p)),
                    Some(c) => f.unit.parent.as_ref() == Some(c),
                })
                .map(|f| &f.unit.code)
                .min();
            match next {
                Some(c) => {
                    chain.push(c.to_string());
                    current = Some(c);
                }
                None => return chain,
            }
        }
    }

    fn feature(&self, code: &str) -> &TerritoryFeature {
        self.features.iter().find(|f| f.unit.code.as_str() == code).unwrap()
    }
}

fn codes(idx: &TerritoryIndex, p: Point) -> Vec<String> {
    let fast: Vec<String> = idx.locate_chain(p).map(|c| c.codes().map(|c| c.to_string()).collect()).unwrap_or_default();
    // The three query forms agree.
    let owned: Vec<String> = idx.locate(p).map(|l| l.chain.into_iter().map(String::from).collect()).unwrap_or_default();
    assert_eq!(fast, owned);
    assert_eq!(idx.locate_deepest(p).map(|c| c.to_string()), fast.last().cloned());
    fast
}

fn demo() -> &'static Reference {
    static DEMO: OnceLock<Reference> = OnceLock::new();
    DEMO.get_or_init(|| Reference::new(wuhu_demo(0).unwrap()))
}

/// The demo indexed with the default grid, a coarse one (many edges per
/// cell) and a fine one.
fn demo_indexes() -> &'static [TerritoryIndex] {
    static INDEXES: OnceLock<Vec<TerritoryIndex>> = OnceLock::new();
    INDEXES.get_or_init(|| {
        [None, Some(1 << 12), Some(1 << 20)]
            .into_iter()
            .map(|target_cells| TerritoryIndex::build_with(&demo().features, IndexOptions { target_cells }).unwrap())
            .collect()
    })
}

fn city_box() -> Rect<f64> {
    wuhu_city_outline().unwrap().bounding_rect().unwrap()
}

/// Grids and micro-grids of the demo.
fn leaves() -> &'static [&'static TerritoryFeature] {
    static LEAVES: OnceLock<Vec<&'static TerritoryFeature>> = OnceLock::new();
    LEAVES.get_or_init(|| {
        demo().features.iter().filter(|f| matches!(f.unit.level, Level::Grid | Level::MicroGrid)).collect()
    })
}

/// Checks one point against the reference and the structural properties.
/// `interior`: the point is random, so (almost surely) on no boundary.
fn check_demo_point(p: Point, interior: bool) -> Result<(), TestCaseError> {
    let want = demo().locate(p);
    for idx in demo_indexes() {
        let got = codes(idx, p);
        prop_assert_eq!(&got, &want, "at {:?} ({:?})", p, idx.stats());
    }
    // The chain is a path down the tree and its deepest unit holds the point.
    for w in want.windows(2) {
        let child = UnitCode::parse(&w[1]).unwrap();
        prop_assert_eq!(child.parent().map(String::from), Some(w[0].clone()));
    }
    if let Some(deepest) = want.last() {
        prop_assert!(demo().feature(deepest).geometry.intersects(&geo::Point::new(p.lon, p.lat)));
    }
    // Inside the city, every community has grids, so the chain reaches a
    // grid: exactly one, the smallest-code grid of its community holding
    // the point. (On a border the demo's levels are snapped separately, so
    // the district the rule picks may miss the point by a sliver at
    // township level; the chain then stops at the smallest containing unit,
    // as the reference does.)
    let pt = geo::Point::new(p.lon, p.lat);
    if interior && wuhu_city_outline().unwrap().contains(&pt) {
        prop_assert!(want.len() >= 5, "{:?} at {:?}", want, p);
        let grid = &want[4];
        let rivals = demo()
            .features
            .iter()
            .filter(|f| f.unit.level == Level::Grid && f.unit.code.as_str().starts_with(&want[3]))
            .filter(|f| f.geometry.intersects(&pt))
            .map(|f| f.unit.code.to_string())
            .min();
        prop_assert_eq!(rivals.as_ref(), Some(grid));
    }
    Ok(())
}

fn vertex(leaf: usize, k: usize) -> Coord<f64> {
    let f = leaves()[leaf % leaves().len()];
    let poly = &f.geometry.0[k % f.geometry.0.len()];
    let ring = &poly.exterior().0;
    ring[k % (ring.len() - 1)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Random points in the city's box: every point gets the reference's
    /// chain; inside the city, exactly one grid, whose polygon holds it.
    #[test]
    fn random_points_agree_with_brute_force(fx in 0.0f64..=1.0, fy in 0.0f64..=1.0) {
        let r = city_box();
        check_demo_point(Point { lon: r.min().x + r.width() * fx, lat: r.min().y + r.height() * fy }, true)?;
    }

    /// Points exactly on grid vertices, which neighbouring grids (and often
    /// communities, townships, districts) share: one chain, the rule's.
    #[test]
    fn shared_vertices_are_assigned_once(leaf in 0usize..100_000, k in 0usize..1000) {
        let c = vertex(leaf, k);
        check_demo_point(Point { lon: c.x, lat: c.y }, false)?;
    }

    /// Points on edges (midpoints and other fractions, which land on or a
    /// rounding step beside the edge) and a floating-point step off vertices.
    #[test]
    fn points_on_and_beside_edges(leaf in 0usize..100_000, k in 0usize..1000, t in prop::sample::select(vec![0.5, 0.25, 1.0 / 3.0, 0.9]), ulps in -2i32..=2) {
        let (a, b) = (vertex(leaf, k), vertex(leaf, k + 1));
        let on = Point { lon: a.x + (b.x - a.x) * t, lat: a.y + (b.y - a.y) * t };
        check_demo_point(on, false)?;
        let step = |v: f64| (0..ulps.unsigned_abs()).fold(v, |v, _| if ulps > 0 { v.next_up() } else { v.next_down() });
        check_demo_point(Point { lon: step(a.x), lat: a.y }, false)?;
        check_demo_point(Point { lon: a.x, lat: step(a.y) }, false)?;
    }
}

#[test]
fn every_point_of_a_lattice_is_assigned_exactly_once() {
    // Dense sweep of one showcase township (micro-grids) and its border:
    // points in a lattice, each located once; the reference agrees and the
    // located grid holds the point.
    let t = demo().feature("340202012").geometry.bounding_rect().unwrap();
    let n = 120;
    for i in 0..=n {
        for j in 0..=n {
            let p = Point {
                lon: t.min().x + t.width() * i as f64 / n as f64,
                lat: t.min().y + t.height() * j as f64 / n as f64,
            };
            let want = demo().locate(p);
            for idx in demo_indexes() {
                assert_eq!(codes(idx, p), want, "at {p:?}");
            }
        }
    }
}

#[test]
fn the_answer_does_not_depend_on_input_order() {
    let mut shuffled = demo().features.clone();
    shuffled.reverse();
    shuffled.swap(10, 4000);
    let a = &demo_indexes()[0];
    let b = TerritoryIndex::build(&shuffled).unwrap();
    for leaf in (0..leaves().len()).step_by(7) {
        for k in 0..3 {
            let c = vertex(leaf, k);
            let p = Point { lon: c.x, lat: c.y };
            assert_eq!(codes(a, p), codes(&b, p), "at {p:?}");
        }
    }
}

// ---------------------------------------------------------------------------
// Synthetic partitions full of degeneracies: lattice coordinates, so queries
// land exactly on edges and vertices, cell lines and cell centres line up
// with edges, and some units overlap or leave gaps.

fn unit(code: &str) -> Unit {
    let code = UnitCode::parse(code).unwrap();
    Unit { synthetic: true, ..Unit::new(code, "t", citygrid_geo::DEFAULT_VALID_FROM) }
}

fn poly(points: &[(f64, f64)]) -> Polygon<f64> {
    let mut c: Vec<Coord<f64>> = points.iter().map(|&(x, y)| Coord { x, y }).collect();
    c.push(c[0]);
    Polygon::new(LineString::new(c), vec![])
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon<f64> {
    poly(&[(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
}

fn feature(code: &str, polys: Vec<Polygon<f64>>) -> TerritoryFeature {
    TerritoryFeature { unit: unit(code), geometry: MultiPolygon::new(polys) }
}

/// A 4×4 city of two districts, one township each, two communities each
/// (2×2 squares). Each community's four unit squares share its centre, moved
/// by `skew`; each square is split into two triangles along a diagonal
/// chosen by `diagonals`, and each triangle is a grid unless `missing` drops
/// it (a gap, where the community answers).
fn lattice_city(diagonals: u32, missing: u32, skew: (f64, f64)) -> Vec<TerritoryFeature> {
    let mut fs = vec![feature("340200", vec![rect(0.0, 0.0, 4.0, 4.0)])];
    let mut bit = 0u32;
    for (d, dx) in [("340202", 0.0), ("340207", 2.0)] {
        fs.push(feature(d, vec![rect(dx, 0.0, dx + 2.0, 4.0)]));
        fs.push(feature(&format!("{d}001"), vec![rect(dx, 0.0, dx + 2.0, 4.0)]));
        for (c, cy) in [("001", 0.0), ("002", 2.0)] {
            let community = format!("{d}001{c}");
            fs.push(feature(&community, vec![rect(dx, cy, dx + 2.0, cy + 2.0)]));
            let centre = (dx + 1.0 + skew.0, cy + 1.0 + skew.1);
            let corner = |x: f64, y: f64| if (x, y) == (dx + 1.0, cy + 1.0) { centre } else { (x, y) };
            let mut serial = 0;
            for sx in 0..2 {
                for sy in 0..2 {
                    let (x, y) = (dx + sx as f64, cy + sy as f64);
                    let [a, b, cc, dd] =
                        [corner(x, y), corner(x + 1.0, y), corner(x + 1.0, y + 1.0), corner(x, y + 1.0)];
                    let (t1, t2) =
                        if diagonals >> bit & 1 == 1 { ([a, b, cc], [a, cc, dd]) } else { ([a, b, dd], [b, cc, dd]) };
                    for t in [t1, t2] {
                        serial += 1;
                        if missing >> bit & 1 == 0 || serial % 2 == 0 {
                            fs.push(feature(&format!("{community}{serial:03}"), vec![poly(&t)]));
                        }
                    }
                    bit += 1;
                }
            }
        }
    }
    fs
}

fn lattice_sizes() -> Vec<IndexOptions> {
    [Some(1), Some(3), Some(16), Some(64), Some(100), Some(4096), None]
        .into_iter()
        .map(|target_cells| IndexOptions { target_cells })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Every lattice point, half-lattice point and a few random points of
    /// random lattice cities, for grids of every size.
    #[test]
    fn lattice_cities_agree_with_brute_force(
        diagonals in any::<u32>(),
        missing in any::<u32>(),
        skew in prop::sample::select(vec![(0.0, 0.0), (0.25, 0.0), (0.1, 0.3), (-0.5, 0.5)]),
        extra in prop::collection::vec((-0.5f64..4.5, -0.5f64..4.5), 16),
    ) {
        let fs = lattice_city(diagonals, missing, skew);
        let reference = Reference::new(fs.clone());
        let mut points: Vec<Point> = Vec::new();
        for i in -2..=18 {
            for j in -2..=18 {
                points.push(Point { lon: i as f64 * 0.25, lat: j as f64 * 0.25 });
            }
        }
        points.extend(extra.iter().map(|&(lon, lat)| Point { lon, lat }));
        for (cx, cy) in [(1.0, 1.0), (1.0, 3.0), (3.0, 1.0), (3.0, 3.0)] {
            points.push(Point { lon: cx + skew.0, lat: cy + skew.1 });
            points.push(Point { lon: cx + skew.0 / 2.0, lat: cy + skew.1 / 2.0 });
        }
        let want: Vec<Vec<String>> = points.iter().map(|p| reference.locate(*p)).collect();
        for opts in lattice_sizes() {
            let idx = TerritoryIndex::build_with(&fs, opts).unwrap();
            for (p, w) in points.iter().zip(&want) {
                prop_assert_eq!(&codes(&idx, *p), w, "at {:?} with {:?}", p, opts);
            }
        }
    }

    /// Overlapping random rectangles and triangles as siblings (data the
    /// validator rejects, but the rule still decides), queried at random
    /// points, at their vertices and at edge midpoints.
    #[test]
    fn overlapping_siblings_agree_with_brute_force(
        shapes in prop::collection::vec(((0.0f64..10.0, 0.0f64..10.0), (0.1f64..5.0, 0.1f64..5.0), any::<bool>()), 1..12),
        queries in prop::collection::vec((-1.0f64..16.0, -1.0f64..16.0), 32),
    ) {
        let mut fs = vec![feature("340202001", vec![rect(0.0, 0.0, 15.0, 15.0)])];
        let mut points: Vec<Point> = queries.iter().map(|&(lon, lat)| Point { lon, lat }).collect();
        for (k, ((x, y), (w, h), tri)) in shapes.iter().enumerate() {
            let p = if *tri { poly(&[(*x, *y), (x + w, *y), (*x, y + h)]) } else { rect(*x, *y, x + w, y + h) };
            for w in p.exterior().0.windows(2) {
                points.push(Point { lon: w[0].x, lat: w[0].y });
                points.push(Point { lon: (w[0].x + w[1].x) / 2.0, lat: (w[0].y + w[1].y) / 2.0 });
            }
            fs.push(feature(&format!("340202001{:03}", k + 1), vec![p]));
        }
        let reference = Reference::new(fs.clone());
        for opts in lattice_sizes() {
            let idx = TerritoryIndex::build_with(&fs, opts).unwrap();
            for p in &points {
                prop_assert_eq!(codes(&idx, *p), reference.locate(*p), "at {:?} with {:?}", p, opts);
            }
        }
    }
}
