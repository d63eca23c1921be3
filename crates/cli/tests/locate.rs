//! `citygrid locate` end to end: a data directory seeded by `citygrid import`
//! with the Wuhu demo territory, answers checked against `TerritoryIndex`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Output;

use citygrid_domain::{Level, Point};
use citygrid_geo::{TerritoryIndex, wuhu_demo};
use common::*;
use geo::BoundingRect;

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

fn expected(index: &TerritoryIndex, lon: &str, lat: &str) -> String {
    let p = Point { lon: lon.trim().parse().unwrap(), lat: lat.trim().parse().unwrap() };
    let chain = index.locate_chain(p);
    let mut line = format!("{},{}", lon.trim(), lat.trim());
    for level in [Level::District, Level::Township, Level::Community, Level::Grid] {
        line.push(',');
        if let Some(code) = chain.and_then(|c| c.at(level)) {
            line.push_str(code.as_str());
        }
    }
    line
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
    let index = TerritoryIndex::build(&demo).unwrap();

    // Input: a header, many points (enough for several parallel pieces),
    // CRLF on some lines, padded fields, and malformed lines among them.
    let r = citygrid_geo::wuhu_city_outline().unwrap().bounding_rect().unwrap();
    let pts = points([r.min().x, r.min().y, r.max().x, r.max().y], 6000);
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
        want.push(expected(&index, &lon, &lat));
        if i % 1000 == 500 {
            let bad = malformed[(i / 1000) % malformed.len()];
            input.push_str(bad);
            input.push('\n');
            want.push(",,,,,".into());
        }
    }
    // A last line without a line end.
    input.push_str("118.38,31.33");
    want.push(expected(&index, "118.38", "31.33"));
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
    assert!(e.contains("6 malformed") && e.contains("first at line 503"), "{e}");

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
