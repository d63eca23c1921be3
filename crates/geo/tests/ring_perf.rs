//! How long validation takes on a ring built to defeat an x-sweep (a comb
//! of long horizontal teeth, whose segments all overlap in x), on a unit of
//! many parts stacked the same way, and on the Wuhu demo. Ignored by default (they print a time; nothing is asserted
//! about it):
//!
//! ```sh
//! cargo test --release -p citygrid-geo --test ring_perf -- --ignored --nocapture
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use chrono::NaiveDate;
use citygrid_domain::{Unit, UnitCode};
use citygrid_geo::{TerritoryFeature, validate};
use geo::{Coord, LineString, MultiPolygon, Polygon};

/// A closed comb ring of `teeth` horizontal teeth, 4 positions each (plus 3),
/// simple: a spine along x = 118 and teeth reaching to x = 119.
fn comb(teeth: usize) -> Vec<Coord<f64>> {
    let d = 1.0 / teeth as f64;
    let mut pts = vec![Coord { x: 118.0, y: 31.0 }];
    for i in 0..teeth {
        let y0 = 31.0 + i as f64 * d;
        let y1 = y0 + d / 2.0;
        pts.extend([
            Coord { x: 119.0, y: y0 },
            Coord { x: 119.0, y: y1 },
            Coord { x: 118.001, y: y1 },
            Coord { x: 118.001, y: y0 + d },
        ]);
    }
    pts.push(Coord { x: 118.0, y: 31.0 + teeth as f64 * d });
    pts.push(Coord { x: 118.0, y: 31.0 });
    pts
}

#[test]
#[ignore = "prints a time; run with --ignored --nocapture, in release"]
fn a_60k_comb_validates_quickly() {
    let ring = comb(15_000);
    let unit = Unit::new(UnitCode::parse("340200").unwrap(), "comb", NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
    let feature = TerritoryFeature {
        unit,
        geometry: MultiPolygon::new(vec![Polygon::new(LineString::new(ring.clone()), vec![])]),
    };
    let start = Instant::now();
    let problems = validate(std::slice::from_ref(&feature));
    let took = start.elapsed();
    println!("comb of {} positions: validated in {took:?}: {problems:?}", ring.len());
    assert_eq!(problems, vec![]);
}

/// A unit of 60,000 thin strips stacked one on the next: every pair of
/// parts overlaps in x, so the parts check must not compare them pair by pair.
#[test]
#[ignore = "prints a time; run with --ignored --nocapture, in release"]
fn sixty_thousand_strips_validate_quickly() {
    let n = 60_000;
    let h = 1.0 / n as f64;
    let strips: Vec<Polygon<f64>> = (0..n)
        .map(|k| {
            let (y0, y1) = (31.0 + k as f64 * h, 31.0 + (k + 1) as f64 * h);
            let ring = [(118.0, y0), (119.0, y0), (119.0, y1), (118.0, y1), (118.0, y0)];
            Polygon::new(LineString::new(ring.iter().map(|&(x, y)| Coord { x, y }).collect()), vec![])
        })
        .collect();
    let unit = Unit::new(UnitCode::parse("340200").unwrap(), "strips", NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
    let feature = TerritoryFeature { unit, geometry: MultiPolygon::new(strips) };
    let start = Instant::now();
    let problems = validate(std::slice::from_ref(&feature));
    println!("{n} strips: validated in {:?}: {problems:?}", start.elapsed());
    assert_eq!(problems, vec![]);
}

/// The Wuhu demo (8,000-odd units, a few in several parts) must
/// stay quick to validate with the checks of a geometry's parts.
#[test]
#[ignore = "prints a time; run with --ignored --nocapture, in release"]
fn the_wuhu_demo_validates_quickly() {
    let demo = citygrid_geo::wuhu_demo(0).unwrap();
    let start = Instant::now();
    let problems = validate(&demo);
    println!("Wuhu demo, {} units: validated in {:?}", demo.len(), start.elapsed());
    assert_eq!(problems, vec![]);
}

/// The case bounding boxes do not help with: a star of 30,000 positions,
/// long thin spikes out of a small centre, whose segments' boxes nearly all
/// meet one another (every box holds the centre), so the ring check still
/// compares most pairs. Kept to measure it.
#[test]
#[ignore = "prints a time; run with --ignored --nocapture, in release"]
fn a_star_of_long_spikes_is_the_worst_case() {
    let n = 30_000;
    let mut ring: Vec<Coord<f64>> = (0..n)
        .map(|k| {
            let t = k as f64 / n as f64 * std::f64::consts::TAU;
            let r = if k % 2 == 0 { 0.4 } else { 0.001 };
            Coord { x: 118.5 + r * t.cos(), y: 31.5 + r * t.sin() }
        })
        .collect();
    ring.push(ring[0]);
    let unit = Unit::new(UnitCode::parse("340200").unwrap(), "star", NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
    let feature =
        TerritoryFeature { unit, geometry: MultiPolygon::new(vec![Polygon::new(LineString::new(ring), vec![])]) };
    let start = Instant::now();
    let problems = validate(std::slice::from_ref(&feature));
    println!("star of {n} positions: validated in {:?}: {problems:?}", start.elapsed());
    assert_eq!(problems, vec![]);
}
