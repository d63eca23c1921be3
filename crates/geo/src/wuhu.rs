//! The demo city: Wuhu (芜湖市, 340200).
//!
//! Real: the city outline, the seven districts' boundaries, and every
//! township and community code and name (`data/wuhu/`). Synthetic (and
//! flagged `synthetic = true`): the two development zones' areas, carved from
//! their host districts; township and community boundaries; unit grids for
//! every community; micro-grids for one showcase township. The synthetic
//! partition is a seeded Voronoi partition, deterministic for a given seed.

use std::collections::BTreeMap;

use citygrid_domain::{Level, Unit, UnitCode};
use geo::{Area, Centroid, Coord, LineString, MultiPolygon, Orient, orient::Direction};
use geojson::{FeatureCollection, GeometryValue};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::csv_io::parse_divisions_csv;
use crate::geojson_io::{DEFAULT_VALID_FROM, multipolygon_from_value};
use crate::voronoi::{carve, partition};
use crate::{GeoError, TerritoryFeature};

const CITY_GEOJSON: &str = include_str!("../../../data/wuhu/city.geojson");
const DISTRICTS_GEOJSON: &str = include_str!("../../../data/wuhu/districts.geojson");
const DIVISIONS_CSV: &str = include_str!("../../../data/wuhu/divisions.csv");
const YANGTZE_GEOJSON: &str = include_str!("../../../data/wuhu/yangtze.geojson");

/// The city's code.
pub const CITY_CODE: &str = "340200";
/// The township whose grids get micro-grids: the first 镜湖区 township in
/// `divisions.csv` (方村街道).
pub const SHOWCASE_TOWNSHIP: &str = "340202012";
/// `valid_from` of every demo unit.
pub const DEMO_VALID_FROM: chrono::NaiveDate = DEFAULT_VALID_FROM;

/// A development zone with no boundary of its own: its code, its host
/// district, and a point inside the host where its area is carved.
struct Zone {
    code: &'static str,
    host: &'static str,
    anchor: [f64; 2],
}

/// 芜湖经济技术开发区 lies north of the old city on the south bank, within
/// 鸠江区; 三山经济开发区 is the western part of 弋江区 (the former 三山区).
const ZONES: [Zone; 2] = [
    Zone { code: "340271", host: "340207", anchor: [118.40, 31.40] },
    Zone { code: "340272", host: "340209", anchor: [118.20, 31.21] },
];

/// Approximate kilometres per degree of latitude, for sizing grids.
const KM_PER_DEGREE: f64 = 111.32;

/// The demo partition of Wuhu: city, 9 district-level units, 79 townships,
/// 950 communities, unit grids for every community, and micro-grids for
/// [`SHOWCASE_TOWNSHIP`]. Sorted by code (so parents precede children);
/// deterministic for a given `seed` (the demo uses 0).
pub fn wuhu_demo(seed: u64) -> Result<Vec<TerritoryFeature>, GeoError> {
    let units = parse_divisions_csv(DIVISIONS_CSV)
        .map_err(|r| GeoError::Data { file: "divisions.csv", message: r.by_row().to_string() })?;
    let data_err = |message: String| GeoError::Data { file: "divisions.csv", message };
    let mut children: BTreeMap<UnitCode, Vec<Unit>> = BTreeMap::new();
    let mut city: Option<Unit> = None;
    for mut u in units {
        u.valid_from = DEMO_VALID_FROM;
        match u.parent.clone() {
            Some(p) => children.entry(p).or_default().push(u),
            None => city = Some(u),
        }
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| a.code.cmp(&b.code));
    }
    let city = city
        .filter(|c| c.code.as_str() == CITY_CODE)
        .ok_or_else(|| data_err(format!("no row for the city {CITY_CODE}")))?;

    let mut district_geoms = load_districts()?;
    for zone in &ZONES {
        let count =
            |code: &str| -> usize { UnitCode::parse(code).ok().and_then(|c| children.get(&c)).map_or(0, Vec::len) };
        let (z, h) = (count(zone.code), count(zone.host));
        if z == 0 {
            return Err(data_err(format!("zone {} has no township", zone.code)));
        }
        let host = district_geoms.remove(zone.host).ok_or_else(|| GeoError::Data {
            file: "districts.geojson",
            message: format!("no boundary for host district {}", zone.host),
        })?;
        let share = z as f64 / (z + h) as f64;
        let (piece, rest) = carve(zone.code, &host, zone.anchor, share)?;
        district_geoms.insert(zone.host.to_owned(), rest);
        district_geoms.insert(zone.code.to_owned(), piece);
    }

    let mut out =
        vec![TerritoryFeature { unit: Unit { synthetic: false, ..city.clone() }, geometry: wuhu_city_outline()? }];
    let mut generator = Generator { seed, children: &children, out: &mut out };
    for d in children.get(&city.code).map(Vec::as_slice).unwrap_or_default() {
        let geometry = district_geoms.remove(d.code.as_str()).ok_or_else(|| GeoError::Data {
            file: "districts.geojson",
            message: format!("no boundary for district {} {}", d.code, d.name),
        })?;
        let is_zone = ZONES.iter().any(|z| z.code == d.code.as_str());
        generator.emit(Unit { synthetic: is_zone, ..d.clone() }, geometry)?;
    }
    out.sort_by(|a, b| a.unit.code.cmp(&b.unit.code));
    for f in &mut out {
        f.geometry = f.geometry.orient(Direction::Default);
    }
    Ok(out)
}

/// Emits units depth-first, partitioning each one among its children.
struct Generator<'a> {
    seed: u64,
    children: &'a BTreeMap<UnitCode, Vec<Unit>>,
    out: &'a mut Vec<TerritoryFeature>,
}

impl Generator<'_> {
    fn emit(&mut self, unit: Unit, geometry: MultiPolygon<f64>) -> Result<(), GeoError> {
        let kids: Vec<Unit> = match unit.level {
            Level::Community => self.grids_of(&unit, &geometry),
            Level::Grid if unit.code.as_str().starts_with(SHOWCASE_TOWNSHIP) => self.micro_grids_of(&unit),
            Level::Grid | Level::MicroGrid => Vec::new(),
            _ => self.children.get(&unit.code).cloned().unwrap_or_default(),
        };
        if !kids.is_empty() {
            let mut rng = rng_for(self.seed, unit.code.as_str());
            let cells = partition(unit.code.as_str(), &geometry, kids.len(), &mut rng)?;
            for (kid, cell) in kids.into_iter().zip(cells) {
                self.emit(Unit { synthetic: true, ..kid }, cell)?;
            }
        }
        self.out.push(TerritoryFeature { unit, geometry });
        Ok(())
    }

    /// Unit grids for a community: residents' committees (urban, serial
    /// 001–199) get more and denser grids than villages; both scale with area.
    fn grids_of(&self, community: &Unit, geometry: &MultiPolygon<f64>) -> Vec<Unit> {
        let km2 = area_km2(geometry);
        let serial: u32 = community.code.as_str()[9..12].parse().unwrap_or(0);
        let n = if serial < 200 {
            (5.0 + 1.5 * km2).round().clamp(6.0, 16.0)
        } else {
            (2.0 + 0.6 * km2).round().clamp(3.0, 10.0)
        } as u32;
        (1..=n)
            .filter_map(|k| {
                let code = community.code.child_code(k)?;
                Some(Unit {
                    level: Level::Grid,
                    parent: Some(community.code.clone()),
                    code,
                    name: format!("{}第{k}网格", community.name),
                    valid_from: DEMO_VALID_FROM,
                    valid_to: None,
                    synthetic: true,
                })
            })
            .collect()
    }

    /// 4–9 micro-grids (buildings or villager groups) per grid.
    fn micro_grids_of(&self, grid: &Unit) -> Vec<Unit> {
        let mut rng = rng_for(self.seed ^ 0x6d69_6372_6f67_7264, grid.code.as_str());
        let n: u32 = rng.random_range(4..=9);
        (1..=n)
            .filter_map(|k| {
                let code = grid.code.child_code(k)?;
                Some(Unit {
                    level: Level::MicroGrid,
                    parent: Some(grid.code.clone()),
                    code,
                    name: format!("{}第{k}微网格", grid.name),
                    valid_from: DEMO_VALID_FROM,
                    valid_to: None,
                    synthetic: true,
                })
            })
            .collect()
    }
}

/// An RNG per unit, derived from the seed and the unit's code, so a unit's
/// partition does not depend on the order in which units are processed.
fn rng_for(seed: u64, code: &str) -> ChaCha8Rng {
    // FNV-1a: stable across runs and platforms, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in code.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    ChaCha8Rng::seed_from_u64(splitmix(seed ^ splitmix(h)))
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Approximate area in km² (planar degrees scaled at the centroid's latitude).
fn area_km2(mp: &MultiPolygon<f64>) -> f64 {
    let lat = mp.centroid().map_or(31.0, |c| c.y());
    mp.unsigned_area() * KM_PER_DEGREE * KM_PER_DEGREE * lat.to_radians().cos()
}

fn parse_fc(file: &'static str, text: &str) -> Result<FeatureCollection, GeoError> {
    text.parse::<FeatureCollection>().map_err(|e| GeoError::Data { file, message: e.to_string() })
}

/// The seven districts' real boundaries by code.
fn load_districts() -> Result<BTreeMap<String, MultiPolygon<f64>>, GeoError> {
    let fc = parse_fc("districts.geojson", DISTRICTS_GEOJSON)?;
    let mut out = BTreeMap::new();
    for f in &fc.features {
        let code = f
            .property("code")
            .and_then(|v| v.as_str())
            .ok_or_else(|| GeoError::Data { file: "districts.geojson", message: "a feature has no code".into() })?;
        let geom = f.geometry.as_ref().and_then(|g| multipolygon_from_value(&g.value)).ok_or_else(|| {
            GeoError::Data { file: "districts.geojson", message: format!("district {code} has no polygon geometry") }
        })?;
        out.insert(code.to_owned(), geom);
    }
    Ok(out)
}

/// The city's real outline (from `data/wuhu/city.geojson`).
pub fn wuhu_city_outline() -> Result<MultiPolygon<f64>, GeoError> {
    let fc = parse_fc("city.geojson", CITY_GEOJSON)?;
    fc.features
        .first()
        .and_then(|f| f.geometry.as_ref())
        .and_then(|g| multipolygon_from_value(&g.value))
        .ok_or_else(|| GeoError::Data { file: "city.geojson", message: "no polygon geometry".into() })
}

/// The Yangtze's course between the north-bank and south-bank districts
/// (from `data/wuhu/yangtze.geojson`). Empty only if the embedded file were
/// broken, which a test rules out.
pub fn wuhu_yangtze() -> LineString<f64> {
    let line = parse_fc("yangtze.geojson", YANGTZE_GEOJSON).ok().and_then(|fc| {
        match &fc.features.first()?.geometry.as_ref()?.value {
            GeometryValue::LineString { coordinates } => coordinates
                .iter()
                .map(|p| match p.as_slice() {
                    [x, y, ..] => Some(Coord { x: *x, y: *y }),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>(),
            _ => None,
        }
    });
    LineString::new(line.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{BoundingRect, Intersects};

    #[test]
    fn river_and_outline_load() {
        let river = wuhu_yangtze();
        assert!(river.0.len() > 10, "{}", river.0.len());
        let city = wuhu_city_outline().unwrap();
        let r = city.bounding_rect().unwrap();
        assert!(river.0.iter().all(|c| r.intersects(c)));
        assert!(city.intersects(&river));
    }

    #[test]
    fn showcase_is_the_first_jinghu_township() {
        let units = parse_divisions_csv(DIVISIONS_CSV).unwrap();
        let first = units.iter().find(|u| u.parent.as_ref().is_some_and(|p| p.as_str() == "340202"));
        assert_eq!(first.map(|u| u.code.as_str()), Some(SHOWCASE_TOWNSHIP));
    }

    #[test]
    fn unit_rngs_are_stable_and_distinct() {
        let a: u64 = rng_for(0, "340202").random();
        let b: u64 = rng_for(0, "340202").random();
        let c: u64 = rng_for(0, "340207").random();
        let d: u64 = rng_for(1, "340202").random();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }
}
