//! Zones in space: the index that answers "which zones are here, now", the
//! border extraction behind `ring_district`, and the Wuhu demo zones.
//!
//! Zone geometry is longitude/latitude like the territory's; widths are in
//! metres (see [`crate::buffer`]).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use citygrid_domain::zone::{Schedule, WaterClass, Zone, ZoneKind};
use citygrid_domain::{Level, Point, UnitCode};
use geo::{
    BooleanOps, BoundingRect, Coord, Distance, Haversine, Intersects, Line, LineString, MultiLineString, MultiPolygon,
};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};

use crate::buffer::{self, Ends, LocalFrame};
use crate::prepared::PreparedPolygon;
use crate::wuhu::{CITY_CODE, DEMO_VALID_FROM, wuhu_city_outline, wuhu_yangtze};
use crate::{GeoError, TerritoryFeature};

type BoxEntry = GeomWithData<Rectangle<[f64; 2]>, u32>;

#[derive(Debug)]
struct Entry {
    zone: Zone,
    geometry: MultiPolygon<f64>,
    /// `None` when the geometry has no edge: such a zone contains nothing.
    prepared: Option<PreparedPolygon>,
}

/// Answers "which zones contain this point (at this time)". Immutable after
/// [`build`](Self::build); rebuild it whole when zones change.
///
/// A box per polygon part goes into an R-tree; candidates are then tested
/// exactly (boundary counts as inside) on y-strip–prepared polygons, so a
/// query costs a few edge tests even for zones with thousands of vertices.
#[derive(Debug)]
pub struct ZoneIndex {
    /// Sorted by kind, then id.
    entries: Vec<Entry>,
    tree: RTree<BoxEntry>,
}

impl Default for ZoneIndex {
    fn default() -> Self {
        ZoneIndex::build(Vec::new())
    }
}

impl ZoneIndex {
    /// Indexes zones with their geometry. Ids are unique: of zones sharing
    /// an id, the last one given wins.
    pub fn build(zones: Vec<(Zone, MultiPolygon<f64>)>) -> ZoneIndex {
        let by_id: BTreeMap<String, (Zone, MultiPolygon<f64>)> =
            zones.into_iter().map(|(z, g)| (z.id.clone(), (z, g))).collect();
        let mut list: Vec<(Zone, MultiPolygon<f64>)> = by_id.into_values().collect();
        list.sort_by(|a, b| (a.0.kind, &a.0.id).cmp(&(b.0.kind, &b.0.id)));
        let mut boxes = Vec::new();
        let entries: Vec<Entry> = list
            .into_iter()
            .enumerate()
            .map(|(i, (zone, geometry))| {
                for part in &geometry.0 {
                    if let Some(r) = part.bounding_rect() {
                        let rect = Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
                        boxes.push(BoxEntry::new(rect, i as u32));
                    }
                }
                let prepared = PreparedPolygon::new(&geometry);
                Entry { zone, geometry, prepared }
            })
            .collect();
        ZoneIndex { entries, tree: RTree::bulk_load(boxes) }
    }

    /// Number of zones.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no zones.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every zone with its geometry, by kind then id.
    pub fn iter(&self) -> impl Iterator<Item = (&Zone, &MultiPolygon<f64>)> {
        self.entries.iter().map(|e| (&e.zone, &e.geometry))
    }

    /// One zone with its geometry.
    pub fn get(&self, id: &str) -> Option<(&Zone, &MultiPolygon<f64>)> {
        self.entries.iter().find(|e| e.zone.id == id).map(|e| (&e.zone, &e.geometry))
    }

    /// Zones whose geometry contains `p` (boundary included), whatever the
    /// time, by kind then id.
    pub fn containing(&self, p: Point) -> Vec<&Zone> {
        self.hits(p).map(|i| &self.entries[i].zone).collect()
    }

    /// Zones that contain `p` and are active at `at` (validity and schedule),
    /// by kind then id.
    pub fn zones_at(&self, p: Point, at: DateTime<Utc>) -> Vec<&Zone> {
        self.hits(p).map(|i| &self.entries[i].zone).filter(|z| z.active_at(at)).collect()
    }

    fn hits(&self, p: Point) -> impl Iterator<Item = usize> + '_ {
        let mut ids: Vec<usize> = self.tree.locate_all_at_point(&[p.lon, p.lat]).map(|e| e.data as usize).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter().filter(move |&i| self.entries[i].prepared.as_ref().is_some_and(|pp| pp.contains(p.lon, p.lat)))
    }
}

/// Segments closer than this to the outer boundary count as part of it,
/// which absorbs boundaries that are not noded exactly alike.
pub const PERIMETER_TOLERANCE_M: f64 = 10.0;

/// The borders between `parts` that lie inside `whole`: every edge of a part
/// that is not within `tolerance_m` metres of `whole`'s boundary, each
/// shared edge once, joined into polylines (e.g. the internal district
/// borders of a city).
pub fn internal_borders(
    parts: &[&MultiPolygon<f64>],
    whole: &MultiPolygon<f64>,
    tolerance_m: f64,
) -> MultiLineString<f64> {
    let Some(frame) = LocalFrame::around(whole) else { return MultiLineString::new(vec![]) };
    let mut perimeter = Vec::new();
    for poly in &whole.0 {
        for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
            for w in ring.0.windows(2) {
                perimeter.push(Line::new(frame.to_local(w[0]), frame.to_local(w[1])));
            }
        }
    }
    let perimeter = RTree::bulk_load(perimeter);
    let on_perimeter = |a: Coord<f64>, b: Coord<f64>| {
        let (a, b) = (frame.to_local(a), frame.to_local(b));
        let mid = geo::Point::new((a.x + b.x) / 2.0, (a.y + b.y) / 2.0);
        perimeter.locate_within_distance(mid, tolerance_m * tolerance_m).next().is_some()
    };
    let key = |a: Coord<f64>, b: Coord<f64>| {
        let (p, q) = ((a.x.to_bits(), a.y.to_bits()), (b.x.to_bits(), b.y.to_bits()));
        if p <= q { (p, q) } else { (q, p) }
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for part in parts {
        for poly in &part.0 {
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                let mut run: Vec<Coord<f64>> = Vec::new();
                for w in ring.0.windows(2) {
                    let keep = w[0] != w[1] && !on_perimeter(w[0], w[1]) && seen.insert(key(w[0], w[1]));
                    if keep {
                        if run.is_empty() {
                            run.push(w[0]);
                        }
                        run.push(w[1]);
                    } else if run.len() >= 2 {
                        out.push(LineString::new(std::mem::take(&mut run)));
                    } else {
                        run.clear();
                    }
                }
                if run.len() >= 2 {
                    out.push(LineString::new(run));
                }
            }
        }
    }
    MultiLineString::new(out)
}

/// Polygons smaller than this (m²) are dropped from clipped zones: they are
/// slivers where a buffer grazes a boundary, not places.
const SLIVER_M2: f64 = 1.0;

fn without_slivers(mp: MultiPolygon<f64>) -> MultiPolygon<f64> {
    let keep = |p: &geo::Polygon<f64>| buffer::area_m2(&MultiPolygon::new(vec![p.clone()])) >= SLIVER_M2;
    MultiPolygon::new(mp.0.into_iter().filter(keep).collect())
}

/// `line` cut at the given distances from its start (metres, haversine),
/// as consecutive pieces; distances beyond its length are ignored.
pub fn split_line(line: &LineString<f64>, cuts_m: &[f64]) -> Vec<LineString<f64>> {
    let mut cuts: Vec<f64> = cuts_m.iter().copied().filter(|c| c.is_finite() && *c > 0.0).collect();
    cuts.sort_by(f64::total_cmp);
    let mut pieces = Vec::new();
    let mut current: Vec<Coord<f64>> = line.0.first().copied().into_iter().collect();
    let mut walked = 0.0;
    let mut next = cuts.iter().peekable();
    for w in line.0.windows(2) {
        let len = Haversine.distance(geo::Point::from(w[0]), geo::Point::from(w[1]));
        while let Some(&&c) = next.peek() {
            if c >= walked + len || len <= 0.0 {
                break;
            }
            let f = (c - walked) / len;
            let at = Coord { x: w[0].x + f * (w[1].x - w[0].x), y: w[0].y + f * (w[1].y - w[0].y) };
            current.push(at);
            pieces.push(LineString::new(std::mem::replace(&mut current, vec![at])));
            next.next();
        }
        current.push(w[1]);
        walked += len;
    }
    if current.len() >= 2 {
        pieces.push(LineString::new(current));
    }
    pieces
}

/// A well-known site of Wuhu around which the demo draws a key area.
struct Site {
    id: &'static str,
    name: &'static str,
    /// GCJ-02 longitude, latitude; approximate.
    at: [f64; 2],
}

/// The demo's key areas. Positions are approximate (read off web maps to
/// a few hundred metres, GCJ-02), which is why every zone says so in its note.
const SITES: [Site; 4] = [
    Site { id: "key-wuhu-station", name: "芜湖站 (Wuhu railway station)", at: [118.3717, 31.3361] },
    Site { id: "key-yangtze-bridge", name: "芜湖长江大桥 (Wuhu Yangtze River Bridge)", at: [118.3300, 31.3930] },
    Site {
        id: "key-jinghu", name: "镜湖—中山路步行街 (Jinghu lake and pedestrian street)", at: [118.3760, 31.3470]
    },
    Site { id: "key-wanzhi-town", name: "湾沚区政府 (Wanzhi district seat)", at: [118.5720, 31.1360] },
];

/// Widths of the demo zones, in metres.
mod width {
    /// `ring_city`: the band inside the city perimeter.
    pub const RING_CITY: f64 = 3_000.0;
    /// `ring_district`: either side of internal district borders.
    pub const RING_DISTRICT: f64 = 1_000.0;
    /// `key_area` radius.
    pub const KEY_AREA: f64 = 1_000.0;
    /// `fishing_ban_water` and `water_section`: either side of the river course.
    pub const WATER: f64 = 1_000.0;
    /// `no_sand_mining`: either side of the river course.
    pub const NO_SAND_MINING: f64 = 800.0;
    /// `shoreline`: the band beyond the water's buffer, on each bank.
    pub const SHORELINE: f64 = 200.0;
    /// Length of each `water_section`.
    pub const SECTION: f64 = 10_000.0;
}

/// The demo's water sections: `(id, name, target class)`, consecutive
/// 10 km pieces of the river from the line's start at Wuhu city, upstream.
const SECTIONS: [(&str, &str, WaterClass); 3] = [
    ("ws-yangtze-1", "长江芜湖城区段 (km 0–10: 弋江区/镜湖区 ↔ 鸠江区)", WaterClass::III),
    ("ws-yangtze-2", "长江三山段 (km 10–20: 弋江区/三山经开区 ↔ 鸠江区)", WaterClass::II),
    ("ws-yangtze-3", "长江三山上游段 (km 20–30: 三山经开区 ↔ 鸠江区)", WaterClass::II),
];

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(DEMO_VALID_FROM)
}

fn demo_zone(id: &str, name: &str, kind: ZoneKind, territory: Option<UnitCode>, note: &str) -> Zone {
    Zone {
        id: id.to_owned(),
        name: name.to_owned(),
        kind,
        valid_from: DEMO_VALID_FROM,
        valid_to: None,
        schedule: None,
        territory,
        target_class: None,
        note: Some(note.to_owned()),
    }
}

/// Every demo zone but `ring_city`.
fn river_and_district_zones(
    city: &MultiPolygon<f64>,
    river: &LineString<f64>,
    districts: &[&TerritoryFeature],
    clip: &dyn Fn(MultiPolygon<f64>) -> MultiPolygon<f64>,
    district_at: &dyn Fn(f64, f64) -> Option<UnitCode>,
) -> Vec<(Zone, MultiPolygon<f64>)> {
    let city_code = UnitCode::parse(CITY_CODE).ok();
    let mut out = Vec::new();
    let parts: Vec<&MultiPolygon<f64>> = districts.iter().map(|d| &d.geometry).collect();
    let borders = internal_borders(&parts, city, PERIMETER_TOLERANCE_M);
    out.push((
        demo_zone(
            "ring-district",
            "芜湖市环区圈 (1 km either side of district borders)",
            ZoneKind::RingDistrict,
            city_code.clone(),
            "real district borders; the borders of the two development zones (340271, 340272) are synthetic",
        ),
        clip(buffer::buffer_lines(&borders, width::RING_DISTRICT)),
    ));

    for s in &SITES {
        let [lon, lat] = s.at;
        out.push((
            demo_zone(
                s.id,
                s.name,
                ZoneKind::KeyArea,
                district_at(lon, lat),
                &format!("1 km around an approximate position ({lon}, {lat}, GCJ-02); check before real use"),
            ),
            buffer::buffer_point(geo::Point::new(lon, lat), width::KEY_AREA),
        ));
    }

    let course = MultiLineString::new(vec![river.clone()]);
    let water = buffer::buffer_lines(&course, width::WATER);
    let mut ban = demo_zone(
        "yangtze-fishing-ban",
        "长江芜湖段禁捕水域 (Yangtze fishing ban water)",
        ZoneKind::FishingBanWater,
        city_code.clone(),
        "1 km either side of the mid-channel line; the ten-year Yangtze fishing ban, year-round",
    );
    ban.valid_from = date(2021, 1, 1);
    ban.valid_to = Some(date(2030, 12, 31));
    ban.schedule = None::<Schedule>;
    out.push((ban, clip(water.clone())));

    out.push((
        demo_zone(
            "yangtze-no-sand-mining",
            "长江芜湖段禁采区 (Yangtze no-sand-mining reach)",
            ZoneKind::NoSandMining,
            city_code.clone(),
            "800 m either side of the mid-channel line",
        ),
        clip(buffer::buffer_lines(&course, width::NO_SAND_MINING)),
    ));

    let outer = buffer::buffer_lines(&course, width::WATER + width::SHORELINE);
    out.push((
        demo_zone(
            "yangtze-shoreline",
            "长江芜湖段岸线 (Yangtze shoreline, both banks)",
            ZoneKind::Shoreline,
            city_code.clone(),
            "the 200 m band beyond the 1 km water buffer, on each bank (schematic: the real banks are not surveyed here)",
        ),
        clip(outer.difference(&water)),
    ));

    let cuts: Vec<f64> = (1..=SECTIONS.len()).map(|k| k as f64 * width::SECTION).collect();
    let pieces = split_line(river, &cuts);
    // Flat ends meet exactly at a cut, but near a bend one piece's buffer can
    // reach over the cut; taking away what earlier sections already hold
    // keeps the sections disjoint.
    let mut taken = MultiPolygon::new(vec![]);
    for ((id, name, class), piece) in SECTIONS.iter().zip(pieces) {
        let mut z = demo_zone(
            id,
            name,
            ZoneKind::WaterSection,
            city_code.clone(),
            "a 10 km piece of the 1 km water buffer; demo target class",
        );
        z.target_class = Some(*class);
        let geometry = buffer::buffer_lines_with(&MultiLineString::new(vec![piece]), width::WATER, Ends::Flat);
        let section = without_slivers(clip(geometry).difference(&taken));
        taken = taken.union(&section);
        out.push((z, section));
    }

    out
}

/// The Wuhu demo zones, from the real city outline, the district boundaries
/// among `features` (district-level units) and the Yangtze line:
///
/// - `ring_city`: the 3 km band inside the city perimeter;
/// - `ring_district`: 1 km either side of internal district borders (the
///   development zones' carved borders included, which are synthetic);
/// - 4 `key_area`s: 1 km around well-known sites (positions approximate);
/// - on the Yangtze (clipped to the city): `fishing_ban_water` 1 km either
///   side of the course, year-round 2021-01-01..2030-12-31 (the ten-year
///   ban); `no_sand_mining` 800 m; `shoreline` the 200 m band beyond the
///   1 km water buffer on each bank; 3 `water_section`s, consecutive 10 km
///   pieces of the water buffer with target classes III, II, II.
///
/// Deterministic; sorted by kind, then id.
pub fn wuhu_demo_zones(features: &[TerritoryFeature]) -> Result<Vec<(Zone, MultiPolygon<f64>)>, GeoError> {
    let city = wuhu_city_outline()?;
    let river = wuhu_yangtze();
    if river.0.len() < 2 {
        return Err(GeoError::Data { file: "yangtze.geojson", message: "the river line is empty".into() });
    }
    let districts: Vec<&TerritoryFeature> = features.iter().filter(|f| f.unit.level == Level::District).collect();
    if districts.len() < 2 {
        return Err(GeoError::Data {
            file: "districts.geojson",
            message: format!("ring_district needs at least two district-level features, got {}", districts.len()),
        });
    }
    let city_code = UnitCode::parse(CITY_CODE).ok();
    let district_at = |lon: f64, lat: f64| {
        districts
            .iter()
            .find(|d| d.geometry.intersects(&geo::Point::new(lon, lat)))
            .map(|d| d.unit.code.clone())
            .or_else(|| city_code.clone())
    };
    let clip = |mp: MultiPolygon<f64>| without_slivers(mp.intersection(&city));
    let mut out = Vec::new();

    // The two rings are the costly part (~100 ms each in release, mostly
    // i_overlay resolving thousands of overlapping arcs); build the city
    // ring on a second thread meanwhile.
    let (ring, rest) = std::thread::scope(|scope| {
        let ring = scope.spawn(|| without_slivers(buffer::inner_band(&city, width::RING_CITY)));
        let rest = river_and_district_zones(&city, &river, &districts, &clip, &district_at);
        (ring.join(), rest)
    });
    let ring =
        ring.map_err(|_| GeoError::Data { file: "city.geojson", message: "buffering the city outline failed".into() })?;
    out.push((
        demo_zone(
            "ring-city",
            "芜湖市环城圈 (3 km inside the city perimeter)",
            ZoneKind::RingCity,
            city_code.clone(),
            "the band within 3 km of the real city outline, inside it",
        ),
        ring,
    ));

    out.extend(rest);

    for (z, g) in &out {
        if g.0.is_empty() {
            return Err(GeoError::EmptyGeometry { code: z.id.clone() });
        }
    }
    out.sort_by(|a, b| (a.0.kind, &a.0.id).cmp(&(b.0.kind, &b.0.id)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buffer::area_m2;
    use chrono::TimeZone;
    use geo::{Contains, Destination};

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 4, 0, 0).single().unwrap()
    }

    fn p(lon: f64, lat: f64) -> Point {
        Point::new(lon, lat).unwrap()
    }

    fn demo() -> (Vec<TerritoryFeature>, Vec<(Zone, MultiPolygon<f64>)>) {
        // District-level features are enough for the zones, and much faster
        // to get than the whole synthetic partition.
        let features: Vec<TerritoryFeature> =
            crate::wuhu_demo(0).unwrap().into_iter().filter(|f| f.unit.level <= Level::District).collect();
        let zones = wuhu_demo_zones(&features).unwrap();
        (features, zones)
    }

    #[test]
    fn the_demo_zones() {
        let (features, zones) = demo();
        let kinds: Vec<&str> = zones.iter().map(|(z, _)| z.kind.as_str()).collect();
        for k in ZoneKind::ALL {
            assert!(kinds.contains(&k.as_str()), "no {k}");
        }
        assert_eq!(zones.iter().filter(|(z, _)| z.kind == ZoneKind::KeyArea).count(), 4);
        assert_eq!(zones.iter().filter(|(z, _)| z.kind == ZoneKind::WaterSection).count(), 3);
        for (z, g) in &zones {
            z.validate().unwrap();
            assert!(!g.0.is_empty(), "{}", z.id);
            assert!(g.0.iter().all(|p| area_m2(&MultiPolygon::new(vec![p.clone()])) >= SLIVER_M2), "{}", z.id);
            assert!(g.0.iter().flat_map(|p| p.exterior().0.iter()).all(|c| c.x.is_finite() && c.y.is_finite()));
            eprintln!("{:<24} {:>10.2} km² {:>5} parts {:?}", z.id, area_m2(g) / 1e6, g.0.len(), z.territory);
        }
        // Key areas sit inside the city, in a district.
        let city = wuhu_city_outline().unwrap();
        for s in &SITES {
            assert!(city.contains(&geo::Point::new(s.at[0], s.at[1])), "{} is outside the city", s.id);
            let (z, _) = zones.iter().find(|(z, _)| z.id == s.id).unwrap();
            assert_eq!(z.territory.as_ref().unwrap().level(), Level::District, "{}", s.id);
        }
        // Deterministic.
        assert_eq!(zones, wuhu_demo_zones(&features).unwrap());
    }

    #[test]
    fn widths_are_right_in_metres() {
        let (_, zones) = demo();
        let get = |id: &str| zones.iter().find(|(z, _)| z.id == id).map(|(_, g)| g.clone()).unwrap();
        let area = |id: &str| area_m2(&get(id)) / 1e6;
        let river = wuhu_yangtze();
        let length_km =
            river.0.windows(2).map(|w| Haversine.distance(geo::Point::from(w[0]), geo::Point::from(w[1]))).sum::<f64>()
                / 1000.0;
        // A 2 km wide strip along ~51 km, a little less where it is clipped or bends.
        let ban = area("yangtze-fishing-ban");
        assert!(
            ban > 0.9 * 2.0 * length_km && ban < 1.05 * (2.0 * length_km + std::f64::consts::PI),
            "{ban} km² for {length_km} km"
        );
        let sand = area("yangtze-no-sand-mining");
        assert!((sand / ban - 0.8).abs() < 0.03, "{sand} vs {ban}");
        let shore = area("yangtze-shoreline");
        assert!((shore / ban - 0.2).abs() < 0.03, "{shore} vs {ban}");
        // Sections: three times ~20 km², not overlapping, inside the ban water.
        let ws: Vec<MultiPolygon<f64>> = ["ws-yangtze-1", "ws-yangtze-2", "ws-yangtze-3"].map(get).to_vec();
        for w in &ws {
            let a = area_m2(w) / 1e6;
            assert!((a - 20.0).abs() < 1.0, "{a}");
            assert!(area_m2(&w.difference(&get("yangtze-fishing-ban"))) < 1e4, "sections lie within the water");
        }
        assert!(area_m2(&ws[0].intersection(&ws[1])) < 1.0);
        assert!(area_m2(&ws[1].intersection(&ws[2])) < 1.0);
        // A point 900 m off the course is in the water, 1,100 m off is on the shore.
        let c = geo::Point::from(river.0[40]);
        let next = geo::Point::from(river.0[41]);
        let bearing = geo::Bearing::bearing(&Haversine, c, next);
        let side = |d: f64| {
            let q = Haversine.destination(c, bearing + 90.0, d);
            p(q.x(), q.y())
        };
        let index = ZoneIndex::build(zones.clone());
        let ids = |q: Point| index.zones_at(q, at(2026, 5, 1)).iter().map(|z| z.id.clone()).collect::<Vec<_>>();
        let near = ids(side(700.0));
        assert!(
            near.contains(&"yangtze-fishing-ban".to_owned()) && near.contains(&"yangtze-no-sand-mining".to_owned()),
            "{near:?}"
        );
        let mid = ids(side(900.0));
        assert!(
            mid.contains(&"yangtze-fishing-ban".to_owned()) && !mid.contains(&"yangtze-no-sand-mining".to_owned()),
            "{mid:?}"
        );
        let shore_ids = ids(side(1100.0));
        assert!(
            shore_ids.contains(&"yangtze-shoreline".to_owned())
                && !shore_ids.contains(&"yangtze-fishing-ban".to_owned()),
            "{shore_ids:?}"
        );
        assert!(!ids(side(1300.0)).iter().any(|i| i.starts_with("yangtze")));
        // The river is a district border, so its water is in ring_district too.
        assert!(near.contains(&"ring-district".to_owned()), "{near:?}");
        // The city ring is 3 km wide: 2.9 km inside the perimeter is in it, 3.1 km is not.
        let city = wuhu_city_outline().unwrap();
        let ring = get("ring-city");
        let ring_area = area_m2(&ring) / 1e6;
        let city_area = area_m2(&city) / 1e6;
        assert!(ring_area > 0.2 * city_area && ring_area < city_area, "{ring_area} of {city_area}");
        // Key areas are 1 km disks.
        let station = get("key-wuhu-station");
        assert!((area_m2(&station) / 1e6 - std::f64::consts::PI).abs() < 0.02);
    }

    #[test]
    fn the_city_ring_is_3km_from_the_perimeter() {
        use geo::Euclidean;
        let city = wuhu_city_outline().unwrap();
        let ring = buffer::inner_band(&city, width::RING_CITY);
        let r = city.bounding_rect().unwrap();
        let (mut near, mut far) = (0, 0);
        for i in 0..60 {
            for j in 0..60 {
                let q = geo::Point::new(
                    r.min().x + (i as f64 + 0.5) / 60.0 * r.width(),
                    r.min().y + (j as f64 + 0.5) / 60.0 * r.height(),
                );
                if !city.contains(&q) {
                    continue;
                }
                // Distance to the perimeter in a frame centred on the point
                // itself, where the scale is exact for the few km that matter.
                let f = LocalFrame::new(q.x(), q.y());
                let d = city
                    .0
                    .iter()
                    .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
                    .map(|ring| Euclidean.distance(&geo::Point::new(0.0, 0.0), &f.project(ring)))
                    .fold(f64::INFINITY, f64::min);
                if d < 2_985.0 {
                    assert!(ring.intersects(&q), "{q:?} is {d:.0} m from the perimeter but not in the ring");
                    near += 1;
                } else if d > 3_015.0 {
                    assert!(!ring.contains(&q), "{q:?} is {d:.0} m from the perimeter but in the ring");
                    far += 1;
                }
            }
        }
        assert!(near > 100 && far > 100, "{near} {far}");
    }

    #[test]
    fn the_index_filters_by_time_and_place() {
        let square = |x0: f64, y0: f64, s: f64| {
            MultiPolygon::new(vec![geo::Rect::new(Coord { x: x0, y: y0 }, Coord { x: x0 + s, y: y0 + s }).to_polygon()])
        };
        let mk = |id: &str, kind| demo_zone(id, id, kind, None, "test");
        let mut ban = mk("ban", ZoneKind::FishingBanWater);
        ban.valid_from = date(2021, 1, 1);
        ban.valid_to = Some(date(2030, 12, 31));
        let mut night = mk("night", ZoneKind::KeyArea);
        night.schedule = Some(serde_json::from_str(r#"{"hours":[{"from":"22:00","to":"06:00"}]}"#).unwrap());
        let big = mk("big", ZoneKind::RingCity);
        let index = ZoneIndex::build(vec![
            (ban, square(118.0, 31.0, 0.1)),
            (night, square(118.05, 31.05, 0.1)),
            (big, square(117.0, 30.0, 5.0)),
            (mk("empty", ZoneKind::Shoreline), MultiPolygon::new(vec![])),
        ]);
        assert_eq!(index.len(), 4);
        let ids = |v: Vec<&Zone>| v.iter().map(|z| z.id.as_str()).collect::<Vec<_>>().join(",");
        let noon = Utc.with_ymd_and_hms(2026, 5, 1, 4, 0, 0).unwrap();
        let late = Utc.with_ymd_and_hms(2026, 5, 1, 15, 0, 0).unwrap(); // 23:00 CST
        assert_eq!(ids(index.containing(p(118.07, 31.07))), "big,night,ban");
        assert_eq!(ids(index.zones_at(p(118.07, 31.07), noon)), "big,ban");
        assert_eq!(ids(index.zones_at(p(118.07, 31.07), late)), "big,night,ban");
        assert_eq!(ids(index.zones_at(p(118.07, 31.07), at(2031, 1, 2))), "big");
        // The boundary counts as inside.
        assert_eq!(ids(index.containing(p(118.0, 31.02))), "big,ban");
        assert_eq!(ids(index.containing(p(125.0, 31.0))), "");
        assert!(ZoneIndex::default().is_empty());
        assert!(index.get("night").is_some());
        // Later duplicates replace earlier ones.
        let dup = ZoneIndex::build(vec![
            (mk("a", ZoneKind::KeyArea), square(0.0, 0.0, 1.0)),
            (mk("a", ZoneKind::Shoreline), square(5.0, 5.0, 1.0)),
        ]);
        assert_eq!(dup.len(), 1);
        assert_eq!(dup.iter().next().unwrap().0.kind, ZoneKind::Shoreline);
    }

    #[test]
    fn internal_borders_skip_the_perimeter_and_shared_edges_once() {
        // Two unit squares side by side inside their union: one shared edge.
        let sq = |x0: f64| {
            MultiPolygon::new(vec![
                geo::Rect::new(Coord { x: x0, y: 31.0 }, Coord { x: x0 + 0.1, y: 31.1 }).to_polygon(),
            ])
        };
        let (a, b) = (sq(118.0), sq(118.1));
        let whole = MultiPolygon::new(vec![
            geo::Rect::new(Coord { x: 118.0, y: 31.0 }, Coord { x: 118.2, y: 31.1 }).to_polygon(),
        ]);
        let borders = internal_borders(&[&a, &b], &whole, PERIMETER_TOLERANCE_M);
        assert_eq!(borders.0.len(), 1, "{borders:?}");
        assert!(borders.0[0].0.iter().all(|c| (c.x - 118.1).abs() < 1e-12));
    }

    #[test]
    fn lines_split_at_distances() {
        let line = LineString::from(vec![(118.0, 31.0), (118.0, 31.2), (118.1, 31.2)]);
        let pieces = split_line(&line, &[5_000.0, 30_000.0, 1e9]);
        assert_eq!(pieces.len(), 3);
        let len = |l: &LineString<f64>| {
            l.0.windows(2).map(|w| Haversine.distance(geo::Point::from(w[0]), geo::Point::from(w[1]))).sum::<f64>()
        };
        assert!((len(&pieces[0]) - 5_000.0).abs() < 1.0);
        assert!((len(&pieces[1]) - 25_000.0).abs() < 1.0);
        assert_eq!(pieces[0].0.last(), pieces[1].0.first());
        assert_eq!(pieces[2].0.last(), line.0.last());
        assert_eq!(split_line(&line, &[]).len(), 1);
    }

    /// The reference, in two steps. Geometry: every part of every zone
    /// tested with `geo`'s `Intersects` (boundary included, exact
    /// predicates; a box test first changes nothing but the time), giving
    /// the positions in `zones` that hold `q`.
    fn brute_force_holding(zones: &[(Zone, MultiPolygon<f64>)], boxes: &[Vec<geo::Rect<f64>>], q: Point) -> Vec<usize> {
        let pt = geo::Point::new(q.lon, q.lat);
        (0..zones.len())
            .filter(|&i| zones[i].1.0.iter().zip(&boxes[i]).any(|(part, b)| b.intersects(&pt) && part.intersects(&pt)))
            .collect()
    }

    /// Time: of those zones, the ones active at `at` by the zone's own rule
    /// (`None`: whatever the time), as ids by kind then id.
    fn brute_force_at(
        zones: &[(Zone, MultiPolygon<f64>)],
        holding: &[usize],
        at: Option<DateTime<Utc>>,
    ) -> Vec<String> {
        let mut hits: Vec<&Zone> =
            holding.iter().map(|&i| &zones[i].0).filter(|z| at.is_none_or(|t| z.active_at(t))).collect();
        hits.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
        hits.into_iter().map(|z| z.id.clone()).collect()
    }

    /// Query points for the zones: a lattice over (and beyond) the city's
    /// box, every seventh vertex of every ring (on the boundary, often shared
    /// by zones cut from one another), a floating-point step off each, and
    /// points on the edge after it.
    fn zone_query_points(zones: &[(Zone, MultiPolygon<f64>)]) -> Vec<(Point, &'static str)> {
        let r = wuhu_city_outline().unwrap().bounding_rect().unwrap();
        let mut out = Vec::new();
        let n = 60;
        for i in 0..=n {
            for j in 0..=n {
                let lon = r.min().x - 0.05 + (r.width() + 0.1) * i as f64 / n as f64;
                let lat = r.min().y - 0.05 + (r.height() + 0.1) * j as f64 / n as f64;
                out.push((p(lon, lat), "lattice"));
            }
        }
        for (_, g) in zones {
            for poly in &g.0 {
                for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                    for w in ring.0.windows(2).step_by(7) {
                        let (a, b) = (w[0], w[1]);
                        out.push((p(a.x, a.y), "vertex"));
                        out.push((p(a.x.next_up(), a.y), "beside"));
                        out.push((p(a.x, a.y.next_down()), "beside"));
                        out.push((p((a.x + b.x) / 2.0, (a.y + b.y) / 2.0), "edge"));
                        out.push((p(a.x + (b.x - a.x) / 3.0, a.y + (b.y - a.y) / 3.0), "edge"));
                    }
                }
            }
        }
        out
    }

    /// The zones with every kind of time rule added: a night schedule, a
    /// seasonal daytime one, and validity that ends or starts later.
    fn timed_variant(zones: &[(Zone, MultiPolygon<f64>)]) -> Vec<(Zone, MultiPolygon<f64>)> {
        let mut out = zones.to_vec();
        for (z, _) in &mut out {
            match z.kind {
                ZoneKind::KeyArea => {
                    z.schedule = Some(serde_json::from_str(r#"{"hours":[{"from":"22:00","to":"06:00"}]}"#).unwrap());
                }
                ZoneKind::RingDistrict => {
                    z.schedule = Some(
                        serde_json::from_str(
                            r#"{"seasons":[{"from":"03-01","to":"06-30"}],"hours":[{"from":"08:00","to":"18:00"}]}"#,
                        )
                        .unwrap(),
                    );
                }
                ZoneKind::WaterSection => z.valid_to = Some(date(2025, 12, 31)),
                ZoneKind::Shoreline => z.valid_from = date(2026, 6, 1),
                _ => {}
            }
        }
        out
    }

    #[test]
    fn demo_zone_lookups_match_brute_force() {
        let (_, mut zones) = demo();
        // Every demo zone is one polygon (the city ring with holes); add one
        // of several far-apart parts (disjoint, as a valid zone's are: the
        // Jinghu disk overlaps the station's).
        let parts = zones
            .iter()
            .filter(|(z, _)| z.kind == ZoneKind::KeyArea && z.id != "key-jinghu")
            .flat_map(|(_, g)| g.0.clone())
            .collect();
        let several = demo_zone("key-all", "all key areas", ZoneKind::KeyArea, None, "test: one zone, many parts");
        zones.push((several, MultiPolygon::new(parts)));
        let points = zone_query_points(&zones);
        let noon = Utc.with_ymd_and_hms(2026, 5, 1, 4, 0, 0).unwrap();
        let late = Utc.with_ymd_and_hms(2026, 5, 1, 15, 0, 0).unwrap(); // 23:00 CST
        let times = [
            at(2023, 6, 1), // the fishing ban only: the rest starts in 2024
            noon,           // everything (the variant: not the night key areas)
            late,           // the variant: night key areas, no daytime ring
            at(2026, 8, 1), // the variant: out of the ring's season, shoreline started
            at(2031, 1, 2), // the ban is over
        ];
        let (mut checked, mut hits, mut timed_out) = (0usize, 0usize, 0usize);
        let mut hit_points_by_sort: BTreeMap<&str, usize> = BTreeMap::new();
        let boxes: Vec<Vec<geo::Rect<f64>>> =
            zones.iter().map(|(_, g)| g.0.iter().map(|part| part.bounding_rect().unwrap()).collect()).collect();
        // The variant has the same geometry, in the same order.
        let variants = [zones.clone(), timed_variant(&zones)];
        let indexes = variants.clone().map(ZoneIndex::build);
        let ids = |v: Vec<&Zone>| v.into_iter().map(|z| z.id.clone()).collect::<Vec<_>>();
        for (q, what) in &points {
            let holding = brute_force_holding(&zones, &boxes, *q);
            if !holding.is_empty() {
                *hit_points_by_sort.entry(what).or_default() += 1;
            }
            for (zones, index) in variants.iter().zip(&indexes) {
                let anywhen = brute_force_at(zones, &holding, None);
                assert_eq!(ids(index.containing(*q)), anywhen, "{what} point {q:?}");
                for t in times {
                    let want = brute_force_at(zones, &holding, Some(t));
                    assert_eq!(ids(index.zones_at(*q, t)), want, "{what} point {q:?} at {t}");
                    checked += 1;
                    hits += want.len();
                    timed_out += anywhen.len() - want.len();
                }
            }
        }
        // The comparison was not vacuous: points inside zones of every sort,
        // on their boundaries, and zones left out for their time.
        eprintln!("{checked} lookups, {hits} hits, {timed_out} left out by time; {hit_points_by_sort:?}");
        assert!(hits > checked / 10, "{hits} of {checked}");
        assert!(timed_out > checked / 20, "{timed_out} of {checked}");
        for what in ["lattice", "vertex", "beside", "edge"] {
            assert!(hit_points_by_sort.get(what).copied().unwrap_or(0) > 100, "{what}: {hit_points_by_sort:?}");
        }
    }

    /// Times building the demo zones and `zones_at` at 20,000 points spread
    /// over the city's box (prints; asserts nothing). Run in release:
    /// `cargo test --release -p citygrid-geo --lib zones::tests::bench_demo_zones -- --ignored --nocapture`.
    #[test]
    #[ignore = "prints a time; run with --ignored --nocapture, in release"]
    fn bench_demo_zones() {
        let features: Vec<TerritoryFeature> =
            crate::wuhu_demo(0).unwrap().into_iter().filter(|f| f.unit.level <= Level::District).collect();
        let t = std::time::Instant::now();
        let zones = wuhu_demo_zones(&features).unwrap();
        let built = t.elapsed();
        let index = ZoneIndex::build(zones);
        let t = std::time::Instant::now();
        let mut hits = 0;
        let n = 20_000;
        for i in 0..n {
            let q = p(117.7 + 1.2 * (i as f64 / n as f64), 30.8 + 0.8 * ((i * 7919 % n) as f64 / n as f64));
            hits += std::hint::black_box(index.zones_at(q, at(2026, 5, 1))).len();
        }
        let per = t.elapsed() / n as u32;
        println!("demo zones in {built:?}; zones_at {per:?} per point, {hits} hits");
    }
}
