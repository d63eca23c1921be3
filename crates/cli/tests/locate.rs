//! `citygrid locate` end to end: a data directory seeded by `citygrid import`
//! with the Wuhu demo territory, every answer checked against a brute force
//! over the same polygons (not against the index the command uses).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use citygrid_domain::{Level, Point, UnitCode};
use citygrid_geo::{TerritoryFeature, wuhu_demo};
use citygrid_store::prelude::*;
use citygrid_store_sqlite::{SqliteOptions, SqliteStore};
use common::*;
use geo::{BoundingRect, Coord, Intersects, Rect};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Deterministic points in a box (xorshift), written as Rust prints them.
fn points(bbox: [f64; 4], n: usize) -> Vec<Point> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| Point { lon: bbox[0] + (bbox[2] - bbox[0]) * next(), lat: bbox[1] + (bbox[3] - bbox[1]) * next() })
        .collect()
}

/// The documented rule by brute force (as in `citygrid-geo`'s
/// `locate_props`): every unit's polygon tested with `geo`'s `Intersects`
/// (boundary included), then from the roots down, at each step the smallest
/// code among the containing children of the unit chosen last.
struct Reference<'a> {
    features: &'a [TerritoryFeature],
    boxes: Vec<Rect<f64>>,
    codes: BTreeSet<&'a UnitCode>,
}

impl<'a> Reference<'a> {
    fn new(features: &'a [TerritoryFeature]) -> Self {
        let boxes = features.iter().map(|f| f.geometry.bounding_rect().unwrap()).collect();
        Reference { features, boxes, codes: features.iter().map(|f| &f.unit.code).collect() }
    }

    /// Every unit whose polygon holds `p` (a box test first changes nothing
    /// but the time taken).
    fn holding(&self, p: Point) -> Vec<&'a TerritoryFeature> {
        let pt = geo::Point::new(p.lon, p.lat);
        self.features
            .iter()
            .zip(&self.boxes)
            .filter(|(f, b)| b.intersects(&pt) && f.geometry.intersects(&pt))
            .map(|(f, _)| f)
            .collect()
    }

    fn chain(&self, p: Point) -> Vec<&'a UnitCode> {
        let hits = self.holding(p);
        let mut chain = Vec::new();
        let mut current: Option<&UnitCode> = None;
        while let Some(next) = hits
            .iter()
            .filter(|f| match current {
                None => f.unit.parent.as_ref().is_none_or(|parent| !self.codes.contains(parent)),
                Some(c) => f.unit.parent.as_ref() == Some(c),
            })
            .map(|f| &f.unit.code)
            .min()
        {
            chain.push(next);
            current = Some(next);
        }
        chain
    }

    /// The output line `citygrid locate` must write for input `lon,lat`
    /// (the fields as written, padding trimmed).
    fn line(&self, lon: &str, lat: &str) -> String {
        let p = Point { lon: lon.trim().parse().unwrap(), lat: lat.trim().parse().unwrap() };
        let mut columns = [""; 4];
        for code in self.chain(p) {
            let column = match code.level() {
                Level::District => 0,
                Level::Township => 1,
                Level::Community => 2,
                Level::Grid => 3,
                Level::City | Level::MicroGrid => continue,
            };
            columns[column] = code.as_str();
        }
        format!("{},{},{}", lon.trim(), lat.trim(), columns.join(","))
    }
}

/// The territory as `locate` loads it: the units the import stored. (Not
/// the in-memory demo: the GeoJSON round trip can move a coordinate by a
/// floating-point step, and border points must lie on the borders the
/// command holds.)
fn stored_territory(data: &Path) -> Vec<TerritoryFeature> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store = SqliteStore::open_dir(data, SqliteOptions::default()).unwrap();
    let units = rt.block_on(store.territory()).unwrap();
    drop(store);
    citygrid_server::world::features_from_stored(units).unwrap()
}

/// Points on the borders: vertices of grids and micro-grids (shared with
/// their neighbours and often with every level above), points on their
/// edges, and points a floating-point step away from vertices.
fn border_points(features: &[TerritoryFeature], n: usize) -> Vec<Point> {
    let leaves: Vec<&TerritoryFeature> =
        features.iter().filter(|f| matches!(f.unit.level, Level::Grid | Level::MicroGrid)).collect();
    let mut out = Vec::new();
    for k in 0..n {
        let f = leaves[(k * 7919) % leaves.len()];
        let ring = &f.geometry.0[k % f.geometry.0.len()].exterior().0;
        let i = (k * 31) % (ring.len() - 1);
        let (a, b): (Coord<f64>, Coord<f64>) = (ring[i], ring[i + 1]);
        out.push(match k % 4 {
            0 => Point { lon: a.x, lat: a.y },
            1 => Point { lon: (a.x + b.x) / 2.0, lat: (a.y + b.y) / 2.0 },
            2 => Point { lon: a.x.next_up(), lat: a.y },
            _ => Point { lon: a.x, lat: a.y.next_down() },
        });
    }
    out
}

#[test]
fn locates_stdin_against_an_imported_territory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();

    // No store at all, then a store without territory: clear errors, no panic.
    let o = citygrid_with_input(&["locate", "--data-dir", d], b"118.4,31.3\n");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no CityGrid store"), "{}", stderr(&o));
    let categories = format!("{}/../../data/categories.csv", env!("CARGO_MANIFEST_DIR"));
    assert!(citygrid_with_input(&["import", "categories", &categories, "--data-dir", d], b"").status.success());
    let o = citygrid_with_input(&["locate", "--data-dir", d], b"118.4,31.3\n");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no territory units"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));

    // Import the demo territory as a user would: a GeoJSON file.
    let demo = wuhu_demo(0).unwrap();
    let file = dir.path().join("wuhu.geojson");
    std::fs::write(&file, citygrid_geo::to_feature_collection(&demo.iter().collect::<Vec<_>>()).to_string()).unwrap();
    let o = citygrid_with_input(&["import", "territory", file.to_str().unwrap(), "--data-dir", d], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    let territory = stored_territory(&data);
    let codes = |fs: &[TerritoryFeature]| fs.iter().map(|f| f.unit.code.clone()).collect::<BTreeSet<_>>();
    assert_eq!(codes(&territory), codes(&demo));
    let reference = Reference::new(&territory);

    // Input: a header, many points (enough for several parallel pieces),
    // CRLF on some lines, padded fields, and malformed lines among them.
    let r = citygrid_geo::wuhu_city_outline().unwrap().bounding_rect().unwrap();
    // Random points in the city's box (inside and outside the city),
    // points on borders, and points outside the territory altogether.
    let random = points([r.min().x, r.min().y, r.max().x, r.max().y], 6000);
    let border = border_points(&territory, 3000);
    // Many of them are shared by several grids, where only the rule decides.
    let grids = |p: &Point| reference.holding(*p).iter().filter(|f| f.unit.level == Level::Grid).count();
    let shared = border.iter().filter(|p| grids(p) >= 2).count();
    assert!(shared > 500, "{shared} border points shared by grids");
    let mut border = border.into_iter();
    let mut pts: Vec<Point> = Vec::new();
    for (i, p) in random.into_iter().enumerate() {
        pts.push(p);
        if i % 2 == 1 {
            pts.extend(border.next());
        }
    }
    pts.extend([(0.0, 0.0), (-180.0, -90.0), (180.0, 90.0), (118.4, 35.0)].map(|(lon, lat)| Point { lon, lat }));
    let malformed = ["", "abc,31.3", "118.4,31.3,7", "31.3,118.4", "118.4;31.3", "NaN,31.3"];
    let mut input = String::from("lon,lat\r\n");
    // (input line text, expected output line)
    let mut want: Vec<String> = vec!["lon,lat,district,township,community,grid".into()];
    for (i, p) in pts.iter().enumerate() {
        let (lon, lat) = if i % 7 == 3 {
            (format!(" {}", p.lon), format!("{}\t", p.lat))
        } else {
            (p.lon.to_string(), p.lat.to_string())
        };
        input.push_str(&format!("{lon},{lat}{}", if i % 2 == 0 { "\r\n" } else { "\n" }));
        want.push(reference.line(&lon, &lat));
        if i % 1000 == 500 {
            let bad = malformed[(i / 1000) % malformed.len()];
            input.push_str(bad);
            input.push('\n');
            want.push(",,,,,".into());
        }
    }
    // A last line without a line end.
    input.push_str("118.38,31.33");
    want.push(reference.line("118.38", "31.33"));
    assert!(want.iter().filter(|l| l.ends_with(",,,,") && !l.starts_with(',')).count() > 100, "points outside");
    assert!(want.iter().filter(|l| !l.ends_with(',')).count() > 1000, "points in a grid");

    let o = citygrid_with_input(&["locate", "--data-dir", d, "--threads", "3"], input.as_bytes());
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout.clone()).unwrap();
    assert!(out.ends_with('\n') && !out.contains('\r'));
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got.len(), want.len());
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "output line {}", k + 1);
    }
    let e = stderr(&o);
    // The first malformed line is the 502nd data line: line 503 of the input.
    let bad = want.iter().filter(|l| *l == ",,,,,").count();
    assert!(e.contains(&format!("{bad} malformed")) && e.contains("first at line 503"), "{e}");

    // One thread gives the same bytes.
    let o1 = citygrid_with_input(&["locate", "--data-dir", d, "--threads", "1"], input.as_bytes());
    assert!(o1.status.success() && o1.stdout == o.stdout, "{}", stderr(&o1));

    // --strict: the output stops before the first malformed line, exit 1.
    let o = citygrid_with_input(&["locate", "--data-dir", d, "--strict"], input.as_bytes());
    assert!(!o.status.success());
    assert!(stderr(&o).contains("line 503"), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert_eq!(out.lines().collect::<Vec<_>>(), got[..502]);
}
