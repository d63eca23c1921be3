//! The Wuhu demo partition and point location on it.

// clippy.toml allows these in #[test] functions only; the shared helpers
// here are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use citygrid_domain::{Level, Point, UnitCode};
use citygrid_geo::wuhu::SHOWCASE_TOWNSHIP;
use citygrid_geo::{TerritoryFeature, TerritoryIndex, validate, wuhu_city_outline, wuhu_demo};
use geo::{Area, BooleanOps, BoundingRect, Centroid, Intersects};

fn demo() -> &'static [TerritoryFeature] {
    static DEMO: OnceLock<Vec<TerritoryFeature>> = OnceLock::new();
    DEMO.get_or_init(|| wuhu_demo(0).unwrap())
}

fn index() -> &'static TerritoryIndex {
    static INDEX: OnceLock<TerritoryIndex> = OnceLock::new();
    INDEX.get_or_init(|| TerritoryIndex::build(demo()).unwrap())
}

fn by_code() -> BTreeMap<&'static str, &'static TerritoryFeature> {
    demo().iter().map(|f| (f.unit.code.as_str(), f)).collect()
}

fn count(level: Level) -> usize {
    demo().iter().filter(|f| f.unit.level == level).count()
}

#[test]
fn counts() {
    assert_eq!(count(Level::City), 1);
    assert_eq!(count(Level::District), 9);
    assert_eq!(count(Level::Township), 79);
    assert_eq!(count(Level::Community), 950);
    let grids = count(Level::Grid);
    assert!((5_000..=10_000).contains(&grids), "{grids} grids");
    // Every community has grids.
    let with_grids: BTreeSet<_> =
        demo().iter().filter(|f| f.unit.level == Level::Grid).filter_map(|f| f.unit.parent.clone()).collect();
    assert_eq!(with_grids.len(), 950);
}

#[test]
fn micro_grids_only_in_the_showcase_township() {
    let mut per_grid: BTreeMap<&UnitCode, usize> = BTreeMap::new();
    for f in demo().iter().filter(|f| f.unit.level == Level::MicroGrid) {
        assert!(f.unit.code.as_str().starts_with(SHOWCASE_TOWNSHIP), "{}", f.unit.code);
        if let Some(p) = &f.unit.parent {
            *per_grid.entry(p).or_default() += 1;
        }
    }
    let showcase_grids = demo()
        .iter()
        .filter(|f| f.unit.level == Level::Grid && f.unit.code.as_str().starts_with(SHOWCASE_TOWNSHIP))
        .count();
    assert!(showcase_grids > 0);
    assert_eq!(per_grid.len(), showcase_grids);
    assert!(per_grid.values().all(|n| (4..=9).contains(n)), "{per_grid:?}");
}

#[test]
fn codes_parents_and_flags() {
    let all = by_code();
    assert_eq!(all.len(), demo().len(), "duplicate codes");
    let real: BTreeSet<&str> = ["340200", "340202", "340207", "340209", "340210", "340212", "340223", "340281"].into();
    for f in demo() {
        let u = &f.unit;
        assert_eq!(UnitCode::parse(u.code.as_str()).as_ref(), Ok(&u.code));
        assert_eq!(u.level, u.code.level(), "{}", u.code);
        assert_eq!(u.parent, u.code.parent(), "{}", u.code);
        if let Some(p) = &u.parent {
            assert!(all.contains_key(p.as_str()), "parent of {} missing", u.code);
        }
        assert_eq!(u.synthetic, !real.contains(u.code.as_str()), "{}", u.code);
        assert_eq!(u.valid_from, citygrid_geo::DEFAULT_VALID_FROM);
        assert_eq!(u.valid_to, None);
        assert!(!f.geometry.0.is_empty(), "{}", u.code);
        if u.level == Level::Grid {
            let parent = all[&u.code.as_str()[..12]];
            let serial: u32 = u.code.as_str()[12..].parse().unwrap();
            assert_eq!(u.name, format!("{}第{serial}网格", parent.unit.name));
        }
    }
    assert_eq!(all["340202012"].unit.name, "方村街道");
    assert_eq!(all["340271"].unit.name, "芜湖经济技术开发区");
}

#[test]
fn siblings_tile_their_parent() {
    let mut sums: BTreeMap<&str, f64> = BTreeMap::new();
    for f in demo() {
        if let Some(p) = &f.unit.parent {
            *sums.entry(p.as_str()).or_default() += f.geometry.unsigned_area();
        }
    }
    let all = by_code();
    for (parent, sum) in sums {
        let area = all[parent].geometry.unsigned_area();
        let err = (sum - area).abs() / area;
        assert!(err < 0.005, "children of {parent} cover {:.3}% of it", sum / area * 100.0);
    }
}

#[test]
fn district_level_units_do_not_overlap() {
    let districts: Vec<&TerritoryFeature> = demo().iter().filter(|f| f.unit.level == Level::District).collect();
    for (i, a) in districts.iter().enumerate() {
        for b in &districts[i + 1..] {
            let overlap = a.geometry.intersection(&b.geometry).unsigned_area();
            // Overlay re-snaps carved hosts to a ~1e-9° grid: slivers of a
            // fraction of a square metre are noise.
            assert!(
                overlap < 1e-7 * a.geometry.unsigned_area(),
                "{} and {} overlap by {overlap}",
                a.unit.code,
                b.unit.code
            );
        }
    }
}

#[test]
fn zones_are_contiguous_and_sized_by_township_count() {
    let all = by_code();
    let townships = |code: &str| {
        demo().iter().filter(|f| f.unit.level == Level::Township && f.unit.code.as_str().starts_with(code)).count()
            as f64
    };
    for (zone, host) in [("340271", "340207"), ("340272", "340209")] {
        let z = &all[zone];
        assert!(z.unit.synthetic);
        assert_eq!(z.geometry.0.len(), 1, "zone {zone} is in pieces");
        let (za, ha) = (z.geometry.unsigned_area(), all[host].geometry.unsigned_area());
        let want = townships(zone) / (townships(zone) + townships(host));
        let got = za / (za + ha);
        assert!((got - want).abs() < 0.02, "{zone}: share {got:.3}, want {want:.3}");
    }
}

#[test]
fn grid_serials_run_north_to_south() {
    // Serials go by rows from north to south, so the first grid of a
    // community is (almost always) north of its last one.
    let mut grids: BTreeMap<&str, Vec<&TerritoryFeature>> = BTreeMap::new();
    for f in demo().iter().filter(|f| f.unit.level == Level::Grid) {
        grids.entry(&f.unit.code.as_str()[..12]).or_default().push(f);
    }
    let lat = |f: &TerritoryFeature| f.geometry.centroid().map_or(0.0, |c| c.y());
    let north_first = grids.values().filter(|g| g.first().zip(g.last()).is_some_and(|(a, b)| lat(a) > lat(b))).count();
    assert!(north_first * 100 >= grids.len() * 95, "{north_first} of {}", grids.len());
}

#[test]
fn deterministic_for_a_seed() {
    let again = wuhu_demo(0).unwrap();
    assert!(again == demo(), "two runs with seed 0 differ");
    // Another seed moves boundaries (and so grid counts) but not the real units.
    let other = wuhu_demo(1).unwrap();
    assert!(other.iter().zip(demo()).any(|(a, b)| a.geometry != b.geometry));
    let real = |fs: &[TerritoryFeature]| -> Vec<TerritoryFeature> {
        fs.iter().filter(|f| !f.unit.synthetic).cloned().collect()
    };
    assert_eq!(real(&other), real(demo()));
}

#[test]
fn the_demo_validates_cleanly() {
    let problems = validate(demo());
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_demo_round_trips_through_geojson() {
    let refs: Vec<&TerritoryFeature> = demo().iter().collect();
    let text = citygrid_geo::to_feature_collection(&refs).to_string();
    let back = citygrid_geo::parse_territory_geojson(&text).unwrap();
    assert_eq!(back.len(), demo().len());
    for (a, b) in back.iter().zip(demo()) {
        assert_eq!(a.unit, b.unit);
        let (x, y) = (a.geometry.unsigned_area(), b.geometry.unsigned_area());
        // Rings come back reoriented (RFC 7946), which only reorders the area sum.
        assert!((x - y).abs() <= 1e-9 * y, "{}: {x} vs {y}", a.unit.code);
    }
}

#[test]
fn outside_the_city_is_none() {
    let idx = index();
    assert_eq!(idx.len(), demo().len());
    for (lon, lat) in [(0.0, 0.0), (117.0, 31.2), (118.4, 32.0), (119.0, 31.0)] {
        assert!(idx.locate(Point { lon, lat }).is_none(), "{lon},{lat}");
    }
    // Inside the city box but outside the outline (the far north-east corner).
    let city = wuhu_city_outline().unwrap();
    let r = city.bounding_rect().unwrap();
    let corner = geo::Point::new(r.max().x - 1e-4, r.max().y - 1e-4);
    assert!(!city.intersects(&corner));
    assert!(idx.locate(Point { lon: corner.x(), lat: corner.y() }).is_none());
}

#[test]
fn a_known_point_gets_the_full_chain() {
    // The centre of 镜湖区's main part.
    let loc = index().locate(Point { lon: 118.385, lat: 31.345 }).unwrap();
    let chain: Vec<&str> = loc.chain.iter().map(UnitCode::as_str).collect();
    assert_eq!(chain[0], "340200");
    assert_eq!(chain[1], "340202");
    assert!(chain.len() >= 5, "{chain:?}");
    assert_eq!(loc.at(Level::Grid).map(|c| &c.as_str()[..12]), Some(chain[3]));
}
