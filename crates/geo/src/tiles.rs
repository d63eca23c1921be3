//! Boundaries for a map console: the units in a viewport, simplified for the
//! zoom level, so a browser never downloads every grid at once.
//!
//! # Scale
//!
//! Web Mercator with 256-pixel tiles, as MapLibre and Leaflet use: at zoom
//! `z` a screen pixel spans `360 / (256 · 2^z)` degrees of longitude and
//! `cos φ` times that of latitude. Simplification measures distances in a
//! frame where latitude differences are stretched by `1 / cos φ0` (φ0 the
//! middle of the layer), i.e. in screen distance, and the tolerance is half
//! a pixel. Coordinates are rounded to the coarsest decimal step that stays
//! under a fifth of a pixel.
//!
//! # Topology
//!
//! Simplifying each polygon on its own moves a shared border differently on
//! its two sides and opens visible slivers. Instead the rings of a whole
//! layer are treated as one coverage:
//!
//! 1. vertices lying on another ring's edge (a neighbour's border was cut
//!    there) are inserted into that edge, so both sides carry the same
//!    vertices;
//! 2. rings are cut into arcs at junctions, the vertices where the pair of
//!    neighbouring vertices differs between rings (where three units meet,
//!    or a shared border ends);
//! 3. each arc is simplified once (Douglas–Peucker, end points fixed) and
//!    rounded once, and every ring using it uses that result;
//! 4. an arc whose simplified segments cross or touch another segment
//!    (its own or another arc's) is simplified again at a quarter of the
//!    tolerance, down to keeping every vertex;
//! 5. rings that collapse (fewer than three distinct positions, or zero
//!    area) are dropped, and a polygon whose exterior collapses goes with
//!    its holes. What a unit loses that way is narrower than the tolerance.
//!
//! The result: neighbours share identical borders at every zoom, and no
//! output ring is unclosed, degenerate or self-crossing (as long as the
//! input coverage had none).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use citygrid_domain::{Level, UnitCode};
use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::{BoundingRect, Coord, LineString, MultiPolygon, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree, RTreeObject};

use crate::TerritoryFeature;

/// The deepest zoom level served (as in most web map styles).
pub const MAX_ZOOM: u8 = 22;
/// Tile edge in pixels for the Web Mercator pyramid.
pub const TILE_SIZE: f64 = 256.0;
/// Most decimal places written (about 1 cm); finer would only grow payloads.
pub const MAX_DECIMALS: u32 = 7;
/// Vertices closer than this (degrees, about 0.1 mm) are merged, and a
/// vertex this close to another ring's edge is inserted into that edge:
/// generated partitions and boolean operations cut neighbours separately,
/// and their "shared" vertices differ by floating-point noise only (in the
/// Wuhu demo by under 1e-9; a thousand times that catches only a handful
/// more).
const NODE_EPSILON: f64 = 1e-9;
/// Refinement steps per arc: three tolerances (÷1, ÷4, ÷16), then every
/// vertex rounded, then every vertex as given.
const LAST_STEP: u8 = 4;

/// Degrees of longitude one screen pixel spans at `zoom` (zooms above
/// [`MAX_ZOOM`] count as [`MAX_ZOOM`]).
pub fn degrees_per_pixel(zoom: u8) -> f64 {
    360.0 / (TILE_SIZE * f64::from(1u32 << zoom.min(MAX_ZOOM)))
}

/// The simplification tolerance at `zoom`: half a pixel, in degrees of
/// longitude (the unit of the frame [`simplify_coverage`] measures in).
pub fn tolerance(zoom: u8) -> f64 {
    0.5 * degrees_per_pixel(zoom)
}

/// `cos φ`, kept away from zero so polar latitudes do not blow up scales.
fn lat_cos(lat: f64) -> f64 {
    lat.to_radians().cos().clamp(0.01, 1.0)
}

/// Decimal places for coordinates at `zoom` near latitude `lat`: the
/// coarsest step of at most a fifth of a pixel along the shorter
/// (latitude) side of a pixel, capped at [`MAX_DECIMALS`].
pub fn decimals(zoom: u8, lat: f64) -> u32 {
    let step = 0.2 * degrees_per_pixel(zoom) * lat_cos(lat);
    let d = (-step.log10()).ceil();
    if d.is_nan() || d < 0.0 { 0 } else { (d as u32).min(MAX_DECIMALS) }
}

/// The level a console shows by default at `zoom`: districts up to 9,
/// townships at 10–11, communities at 12–13, unit grids at 14–16 and
/// micro-grids from 17 (chosen so a typical unit of the level spans a few
/// dozen pixels or more).
pub fn default_level(zoom: u8) -> Level {
    match zoom {
        0..=9 => Level::District,
        10..=11 => Level::Township,
        12..=13 => Level::Community,
        14..=16 => Level::Grid,
        _ => Level::MicroGrid,
    }
}

/// Why a tile request is malformed.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum TileError {
    /// Not four comma-separated finite numbers.
    #[error("bbox must be four comma-separated numbers min_lon,min_lat,max_lon,max_lat; got {0:?}")]
    MalformedBbox(String),
    /// A longitude outside -180..180 or a latitude outside -90..90.
    #[error("bbox out of range: longitudes must be in -180..180 and latitudes in -90..90")]
    BboxOutOfRange,
    /// `min >= max` on an axis (a box across the antimeridian included).
    #[error("bbox is inverted or empty: min_lon < max_lon and min_lat < max_lat are required")]
    InvertedBbox,
    /// Not a whole number in `0..=22`.
    #[error("zoom must be a whole number from 0 to 22; got {0:?}")]
    InvalidZoom(String),
}

/// Input quoted in an error message, cut short so a huge parameter is not
/// echoed back whole.
fn quoted(s: &str) -> String {
    s.chars().take(64).collect()
}

/// A viewport in longitude/latitude degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bbox {
    /// West edge.
    pub min_lon: f64,
    /// South edge.
    pub min_lat: f64,
    /// East edge.
    pub max_lon: f64,
    /// North edge.
    pub max_lat: f64,
}

impl Bbox {
    /// Parses `min_lon,min_lat,max_lon,max_lat` (the order of GeoJSON bboxes
    /// and of MapLibre's `getBounds().toArray().flat()`).
    pub fn parse(s: &str) -> Result<Bbox, TileError> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        let nums: Option<Vec<f64>> = parts.iter().map(|p| p.parse::<f64>().ok().filter(|v| v.is_finite())).collect();
        match nums.as_deref() {
            Some(&[min_lon, min_lat, max_lon, max_lat]) => Bbox::new(min_lon, min_lat, max_lon, max_lat),
            _ => Err(TileError::MalformedBbox(quoted(s))),
        }
    }

    /// A checked box.
    pub fn new(min_lon: f64, min_lat: f64, max_lon: f64, max_lat: f64) -> Result<Bbox, TileError> {
        let lon_ok = |v: f64| (-180.0..=180.0).contains(&v);
        let lat_ok = |v: f64| (-90.0..=90.0).contains(&v);
        if !(lon_ok(min_lon) && lon_ok(max_lon) && lat_ok(min_lat) && lat_ok(max_lat)) {
            return Err(TileError::BboxOutOfRange);
        }
        if min_lon >= max_lon || min_lat >= max_lat {
            return Err(TileError::InvertedBbox);
        }
        Ok(Bbox { min_lon, min_lat, max_lon, max_lat })
    }

    /// Whether the box meets `[min_x, min_y, max_x, max_y]` (edges included).
    pub fn intersects(&self, b: &[f64; 4]) -> bool {
        self.min_lon <= b[2] && b[0] <= self.max_lon && self.min_lat <= b[3] && b[1] <= self.max_lat
    }
}

/// Parses a zoom level: a whole number in `0..=22`.
pub fn parse_zoom(s: &str) -> Result<u8, TileError> {
    s.trim().parse::<u8>().ok().filter(|z| *z <= MAX_ZOOM).ok_or_else(|| TileError::InvalidZoom(quoted(s)))
}

/// Which units a layer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LayerKind {
    /// Exactly the units of one level (what an explicit `level` asks for).
    Level(Level),
    /// Every unit of a level plus every childless unit above it (a community
    /// without grids, say), so the layer covers the whole territory at the
    /// finest detail available down to that level.
    Finest(Level),
}

impl LayerKind {
    /// The level named.
    pub fn level(self) -> Level {
        match self {
            LayerKind::Level(l) | LayerKind::Finest(l) => l,
        }
    }

    /// The layer's units among `features`, in the order given.
    pub fn select(self, features: &[TerritoryFeature]) -> Vec<&TerritoryFeature> {
        match self {
            LayerKind::Level(l) => features.iter().filter(|f| f.unit.level == l).collect(),
            LayerKind::Finest(l) => {
                let parents: HashSet<&UnitCode> = features.iter().filter_map(|f| f.unit.parent.as_ref()).collect();
                features
                    .iter()
                    .filter(|f| f.unit.level == l || (f.unit.level < l && !parents.contains(&f.unit.code)))
                    .collect()
            }
        }
    }
}

/// One unit of a layer, serialised for its zoom.
#[derive(Debug, Clone)]
pub struct TileFeature {
    /// The unit's code.
    pub code: UnitCode,
    /// `[min_lon, min_lat, max_lon, max_lat]` of the unit's full boundary.
    pub bbox: [f64; 4],
    /// The GeoJSON Feature: id and properties `code`, `name`, `level`,
    /// `parent`, and the simplified geometry.
    pub json: String,
    /// A stable 64-bit hash of `json`, for ETags.
    pub digest: u64,
    /// Positions written (closing positions included).
    pub vertices: usize,
}

type BoxEntry = GeomWithData<Rectangle<[f64; 2]>, u32>;
/// A segment's box with `(ring or arc, segment index)`.
type SegEntry = GeomWithData<Rectangle<[f64; 2]>, (u32, u32)>;

/// Every unit of a layer simplified and serialised for one zoom, with an
/// index of their boxes. Immutable; built once and cached by the caller.
#[derive(Debug)]
pub struct TileLayer {
    zoom: u8,
    features: Vec<TileFeature>,
    tree: RTree<BoxEntry>,
}

impl TileLayer {
    /// Simplifies `features` as one coverage for `zoom` and serialises them.
    /// Units that vanish at this zoom (narrower than half a pixel
    /// everywhere) are left out.
    pub fn build(features: &[&TerritoryFeature], zoom: u8) -> TileLayer {
        let boxes: Vec<Option<[f64; 4]>> = features
            .iter()
            .map(|f| f.geometry.bounding_rect().map(|r| [r.min().x, r.min().y, r.max().x, r.max().y]))
            .collect();
        let (lo, hi) =
            boxes.iter().flatten().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), b| (lo.min(b[1]), hi.max(b[3])));
        let mid_lat = if lo <= hi { (lo + hi) / 2.0 } else { 0.0 };
        let how = Simplify {
            tolerance: tolerance(zoom),
            y_scale: 1.0 / lat_cos(mid_lat),
            decimals: Some(decimals(zoom, mid_lat)),
        };
        let geoms: Vec<&MultiPolygon<f64>> = features.iter().map(|f| &f.geometry).collect();
        let simplified = simplify_coverage(&geoms, how);
        let mut out = Vec::with_capacity(features.len());
        for ((f, bbox), mp) in features.iter().zip(boxes).zip(simplified) {
            let Some(bbox) = bbox else { continue };
            if mp.0.is_empty() {
                continue;
            }
            let (json, vertices) = feature_json(f, &mp);
            out.push(TileFeature { code: f.unit.code.clone(), bbox, digest: fnv1a(json.as_bytes()), json, vertices });
        }
        let entries = out
            .iter()
            .enumerate()
            .map(|(i, f)| {
                BoxEntry::new(Rectangle::from_corners([f.bbox[0], f.bbox[1]], [f.bbox[2], f.bbox[3]]), i as u32)
            })
            .collect();
        TileLayer { zoom, features: out, tree: RTree::bulk_load(entries) }
    }

    /// The zoom it was built for.
    pub fn zoom(&self) -> u8 {
        self.zoom
    }

    /// Number of units kept.
    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// Whether no unit is kept.
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// Every unit kept, in input order.
    pub fn features(&self) -> &[TileFeature] {
        &self.features
    }

    /// The units whose box meets `bbox`, in input order.
    pub fn query(&self, bbox: &Bbox) -> Vec<&TileFeature> {
        let env = AABB::from_corners([bbox.min_lon, bbox.min_lat], [bbox.max_lon, bbox.max_lat]);
        let mut hits: Vec<u32> = self.tree.locate_in_envelope_intersecting(&env).map(|e| e.data).collect();
        hits.sort_unstable();
        hits.into_iter().filter_map(|i| self.features.get(i as usize)).collect()
    }
}

/// 64-bit FNV-1a: tiny, and stable across builds and Rust versions (unlike
/// `DefaultHasher`), so ETags survive restarts.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_more(0xcbf2_9ce4_8422_2325, bytes)
}

/// Continues an [`fnv1a`] hash over more bytes, as if they had been
/// appended to the input.
pub fn fnv1a_more(mut hash: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn feature_json(f: &TerritoryFeature, mp: &MultiPolygon<f64>) -> (String, usize) {
    let u = &f.unit;
    let code = serde_json::Value::from(u.code.as_str()).to_string();
    let name = serde_json::Value::from(u.name.as_str()).to_string();
    let parent =
        u.parent.as_ref().map_or_else(|| "null".to_owned(), |p| serde_json::Value::from(p.as_str()).to_string());
    let mut s = String::with_capacity(160 + 24 * mp.0.iter().map(|p| p.exterior().0.len()).sum::<usize>());
    let _ = write!(
        s,
        r#"{{"type":"Feature","id":{code},"properties":{{"code":{code},"name":{name},"level":"{}","parent":{parent}}},"geometry":"#,
        u.level.as_str()
    );
    let mut vertices = 0;
    let write_polygon = |s: &mut String, p: &Polygon<f64>, vertices: &mut usize| {
        s.push('[');
        for (k, ring) in std::iter::once(p.exterior()).chain(p.interiors()).enumerate() {
            if k > 0 {
                s.push(',');
            }
            s.push('[');
            for (i, c) in ring.0.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                // Display prints the shortest text that reads back as the
                // same f64, so a rounded coordinate prints its decimals only.
                let _ = write!(s, "[{},{}]", c.x, c.y);
            }
            *vertices += ring.0.len();
            s.push(']');
        }
        s.push(']');
    };
    if let [p] = mp.0.as_slice() {
        s.push_str(r#"{"type":"Polygon","coordinates":"#);
        write_polygon(&mut s, p, &mut vertices);
    } else {
        s.push_str(r#"{"type":"MultiPolygon","coordinates":["#);
        for (j, p) in mp.0.iter().enumerate() {
            if j > 0 {
                s.push(',');
            }
            write_polygon(&mut s, p, &mut vertices);
        }
        s.push(']');
    }
    s.push_str("}}");
    (s, vertices)
}

/// How [`simplify_coverage`] simplifies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Simplify {
    /// Douglas–Peucker tolerance, in degrees of longitude.
    pub tolerance: f64,
    /// Factor on latitude differences so distances are screen distances in
    /// Web Mercator (`1 / cos φ0`); 1 measures in plain degrees.
    pub y_scale: f64,
    /// Decimal places kept; `None` keeps coordinates as they are.
    pub decimals: Option<u32>,
}

/// One ring of the input, cut into arcs.
struct RingRef {
    feature: u32,
    polygon: u32,
    hole: bool,
    /// `(arc, reversed)` in ring order.
    arcs: Vec<(u32, bool)>,
}

/// Simplifies polygons that form a coverage (neighbours sharing borders)
/// so that every shared border is simplified once and both neighbours get
/// the same result (see the module docs). Returns one multipolygon per
/// input, in order; a unit that collapses entirely comes back empty.
/// Exterior rings come out counter-clockwise and holes clockwise (RFC 7946).
pub fn simplify_coverage(polygons: &[&MultiPolygon<f64>], how: Simplify) -> Vec<MultiPolygon<f64>> {
    simplify_counted(polygons, how).0
}

/// [`simplify_coverage`], also counting arc refinements (for tests).
fn simplify_counted(polygons: &[&MultiPolygon<f64>], how: Simplify) -> (Vec<MultiPolygon<f64>>, usize) {
    let mut vertices = Vertices::default();
    let mut rings: Vec<(u32, u32, bool, Vec<u32>)> = Vec::new();
    for (fi, mp) in polygons.iter().enumerate() {
        for (pj, poly) in mp.0.iter().enumerate() {
            for (k, ring) in std::iter::once(poly.exterior()).chain(poly.interiors()).enumerate() {
                let ids = vertices.ring(ring);
                if ids.len() >= 3 {
                    rings.push((fi as u32, pj as u32, k > 0, ids));
                } else if k == 0 {
                    break; // no exterior, no polygon
                }
            }
        }
    }
    snap(&mut rings, &vertices.coords);
    rings.retain(|r| r.3.len() >= 3);
    node(&mut rings, &vertices.coords, how.y_scale);
    let (arcs, refs) = cut_into_arcs(rings, &vertices.coords);

    let mut step = vec![0u8; arcs.len()];
    let mut refinements = 0;
    // Junctions left unrounded: where rounding alone makes arcs cross.
    let mut exact = vec![false; vertices.coords.len()];
    let mut at_junction: HashMap<u32, Vec<usize>> = HashMap::new();
    for (a, ids) in arcs.iter().enumerate() {
        for end in [ids.first(), ids.last()].into_iter().flatten() {
            at_junction.entry(*end).or_default().push(a);
        }
    }
    let mut out: Vec<Vec<Coord<f64>>> = vec![Vec::new(); arcs.len()];
    let mut todo: Vec<usize> = (0..arcs.len()).collect();
    let mut assembled: Vec<Option<LineString<f64>>>;
    loop {
        for &a in &todo {
            out[a] = simplify_arc(&arcs[a], &vertices.coords, how, step[a], &exact);
        }
        assembled = refs.iter().map(|r| assemble(&r.arcs, &out, !r.hole)).collect();
        let users = arc_users(&refs, &assembled, arcs.len());
        let mut next: Vec<usize> = Vec::new();
        for a in conflicting_arcs(&out, &users) {
            if step[a] < LAST_STEP {
                step[a] += 1;
                refinements += 1;
                next.push(a);
                continue;
            }
            for end in [arcs[a].first(), arcs[a].last()].into_iter().flatten() {
                if !exact[*end as usize] {
                    exact[*end as usize] = true;
                    refinements += 1;
                    next.extend(at_junction.get(end).into_iter().flatten());
                }
            }
            // Otherwise the input itself conflicts here; it is kept as given.
        }
        if next.is_empty() {
            break;
        }
        next.sort_unstable();
        next.dedup();
        todo = next;
    }

    let mut result: Vec<MultiPolygon<f64>> = vec![MultiPolygon(Vec::new()); polygons.len()];
    // Rings arrive grouped by feature and polygon, exterior first; a hole
    // goes with the polygon just pushed, if its exterior survived.
    let mut open: Option<(u32, u32)> = None;
    for (r, ring) in refs.iter().zip(assembled) {
        let key = (r.feature, r.polygon);
        let Some(target) = result.get_mut(r.feature as usize) else { continue };
        match ring {
            Some(ring) if !r.hole => {
                target.0.push(Polygon::new(ring, Vec::new()));
                open = Some(key);
            }
            None if !r.hole => open = None,
            Some(ring) if open == Some(key) => {
                if let Some(poly) = target.0.last_mut() {
                    poly.interiors_push(ring);
                }
            }
            _ => {}
        }
    }
    (result, refinements)
}

/// For every arc, the polygons (numbered in ring order) that keep a ring
/// using it: a hole counts only while its polygon's exterior survives.
fn arc_users(refs: &[RingRef], assembled: &[Option<LineString<f64>>], n_arcs: usize) -> Vec<Vec<u32>> {
    let mut users: Vec<Vec<u32>> = vec![Vec::new(); n_arcs];
    let mut polygon = 0u32;
    let mut prev: Option<(u32, u32)> = None;
    let mut alive = false;
    for (r, ring) in refs.iter().zip(assembled) {
        let key = (r.feature, r.polygon);
        if prev != Some(key) {
            polygon += 1;
            prev = Some(key);
            alive = !r.hole && ring.is_some();
        }
        if alive && ring.is_some() {
            for &(a, _) in &r.arcs {
                if let Some(u) = users.get_mut(a as usize)
                    && !u.contains(&polygon)
                {
                    u.push(polygon);
                }
            }
        }
    }
    users
}

/// The vertex table: each distinct position once.
#[derive(Default)]
struct Vertices {
    coords: Vec<Coord<f64>>,
    ids: HashMap<(u64, u64), u32>,
}

impl Vertices {
    fn id(&mut self, c: Coord<f64>) -> u32 {
        // `+ 0.0` turns -0.0 into 0.0 so the two zeros are one position.
        let key = ((c.x + 0.0).to_bits(), (c.y + 0.0).to_bits());
        let next = self.coords.len() as u32;
        *self.ids.entry(key).or_insert_with(|| {
            self.coords.push(c);
            next
        })
    }

    /// A ring's vertex ids, without the closing repeat or consecutive
    /// repeats; empty if a coordinate is not finite.
    fn ring(&mut self, ring: &LineString<f64>) -> Vec<u32> {
        if ring.0.iter().any(|c| !c.x.is_finite() || !c.y.is_finite()) {
            return Vec::new();
        }
        let mut ids: Vec<u32> = ring.0.iter().map(|c| self.id(*c)).collect();
        clean(&mut ids);
        ids
    }
}

/// Merges vertices closer than the noding epsilon into the first of them:
/// neighbours cut separately carry the "same" vertex a rounding error apart.
fn snap(rings: &mut [(u32, u32, bool, Vec<u32>)], coords: &[Coord<f64>]) {
    let points: Vec<GeomWithData<[f64; 2], u32>> =
        coords.iter().enumerate().map(|(i, c)| GeomWithData::new([c.x, c.y], i as u32)).collect();
    let tree = RTree::bulk_load(points);
    let mut rep: Vec<u32> = (0..coords.len() as u32).collect();
    let mut done = vec![false; coords.len()];
    let mut moved = false;
    for (i, c) in coords.iter().enumerate() {
        if done[i] {
            continue;
        }
        done[i] = true;
        for near in tree.locate_within_distance([c.x, c.y], NODE_EPSILON * NODE_EPSILON) {
            let j = near.data as usize;
            if !done[j] {
                done[j] = true;
                rep[j] = i as u32;
                moved = true;
            }
        }
    }
    if !moved {
        return;
    }
    for r in rings.iter_mut() {
        r.3.iter_mut().for_each(|v| *v = rep[*v as usize]);
        clean(&mut r.3);
    }
}

/// Removes repeated positions, the closing repeat and spikes (a vertex
/// whose two neighbours coincide: the ring runs out and back) from an open
/// ring of vertex ids, cyclically. Input data has a few spikes, and snapping
/// or simplification makes more; none of them encloses any area.
fn clean<T: PartialEq + Copy>(ids: &mut Vec<T>) {
    ids.dedup();
    loop {
        while ids.len() > 1 && ids.first() == ids.last() {
            ids.pop();
        }
        let n = ids.len();
        if n < 3 {
            return;
        }
        let Some(tip) = (0..n).find(|&i| ids[(i + n - 1) % n] == ids[(i + 1) % n]) else { return };
        let next = (tip + 1) % n;
        ids.remove(tip.max(next));
        ids.remove(tip.min(next));
    }
}

fn seg_rect(a: Coord<f64>, b: Coord<f64>) -> Rectangle<[f64; 2]> {
    Rectangle::from_corners([a.x, a.y], [b.x, b.y])
}

/// Inserts every vertex lying within [`NODE_EPSILON`] of another ring's
/// edge (strictly between its ends) into that edge.
fn node(rings: &mut [(u32, u32, bool, Vec<u32>)], coords: &[Coord<f64>], y_scale: f64) {
    let mut segs: Vec<SegEntry> = Vec::new();
    for (ri, r) in rings.iter().enumerate() {
        let ids = &r.3;
        for i in 0..ids.len() {
            let (a, b) = (coords[ids[i] as usize], coords[ids[(i + 1) % ids.len()] as usize]);
            segs.push(GeomWithData::new(seg_rect(a, b), (ri as u32, i as u32)));
        }
    }
    let tree = RTree::bulk_load(segs);
    // (ring, edge, position along the edge, vertex)
    let mut inserts: Vec<(u32, u32, f64, u32)> = Vec::new();
    let mut used = vec![false; coords.len()];
    for r in rings.iter() {
        r.3.iter().for_each(|&v| used[v as usize] = true);
    }
    for (v, &p) in coords.iter().enumerate() {
        if !used[v] {
            continue; // snapped onto another vertex
        }
        let env =
            AABB::from_corners([p.x - NODE_EPSILON, p.y - NODE_EPSILON], [p.x + NODE_EPSILON, p.y + NODE_EPSILON]);
        for e in tree.locate_in_envelope_intersecting(&env) {
            let (ri, i) = e.data;
            let ids = &rings[ri as usize].3;
            let (ia, ib) = (ids[i as usize], ids[(i as usize + 1) % ids.len()]);
            if ia == v as u32 || ib == v as u32 {
                continue;
            }
            let (a, b) = (coords[ia as usize], coords[ib as usize]);
            let (dx, dy) = (b.x - a.x, (b.y - a.y) * y_scale);
            let (px, py) = (p.x - a.x, (p.y - a.y) * y_scale);
            let len2 = dx * dx + dy * dy;
            if len2 == 0.0 {
                continue;
            }
            let t = (px * dx + py * dy) / len2;
            let (ex, ey) = (px - t * dx, py - t * dy);
            if t > 0.0 && t < 1.0 && ex * ex + ey * ey <= NODE_EPSILON * NODE_EPSILON {
                inserts.push((ri, i, t, v as u32));
            }
        }
    }
    if inserts.is_empty() {
        return;
    }
    inserts.sort_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)).then(x.2.total_cmp(&y.2)));
    let mut k = 0;
    while k < inserts.len() {
        let ri = inserts[k].0;
        let ids = std::mem::take(&mut rings[ri as usize].3);
        let mut new_ids = Vec::with_capacity(ids.len() + 4);
        for (i, &id) in ids.iter().enumerate() {
            new_ids.push(id);
            while k < inserts.len() && inserts[k].0 == ri && inserts[k].1 == i as u32 {
                if new_ids.last() != Some(&inserts[k].3) {
                    new_ids.push(inserts[k].3);
                }
                k += 1;
            }
        }
        clean(&mut new_ids);
        rings[ri as usize].3 = new_ids;
    }
}

/// Marks junctions and cuts every ring into arcs; identical arcs (either
/// direction) are stored once.
fn cut_into_arcs(rings: Vec<(u32, u32, bool, Vec<u32>)>, coords: &[Coord<f64>]) -> (Vec<Vec<u32>>, Vec<RingRef>) {
    let n = coords.len();
    let mut pair: Vec<Option<(u32, u32)>> = vec![None; n];
    let mut junction = vec![false; n];
    for (.., ids) in &rings {
        let m = ids.len();
        for i in 0..m {
            let (p, v, q) = (ids[(i + m - 1) % m], ids[i], ids[(i + 1) % m]);
            let key = (p.min(q), p.max(q));
            match pair[v as usize] {
                None => pair[v as usize] = Some(key),
                Some(k) if k != key => junction[v as usize] = true,
                Some(_) => {}
            }
        }
    }
    // A ring with no junction is an island or is shared whole (a hole
    // filled by another unit): cut it at its least vertex, which any ring
    // with the same vertices picks too.
    for (.., ids) in &rings {
        if !ids.iter().any(|&v| junction[v as usize]) {
            let least = ids.iter().copied().min_by(|&a, &b| {
                let (ca, cb) = (coords[a as usize], coords[b as usize]);
                ca.x.total_cmp(&cb.x).then(ca.y.total_cmp(&cb.y))
            });
            if let Some(v) = least {
                junction[v as usize] = true;
            }
        }
    }
    let mut arcs: Vec<Vec<u32>> = Vec::new();
    let mut arc_ids: HashMap<Vec<u32>, u32> = HashMap::new();
    let mut refs = Vec::with_capacity(rings.len());
    for (feature, polygon, hole, ids) in rings {
        let m = ids.len();
        let Some(start) = ids.iter().position(|&v| junction[v as usize]) else { continue };
        let mut parts = Vec::new();
        let mut arc = vec![ids[start]];
        for step in 1..=m {
            let v = ids[(start + step) % m];
            arc.push(v);
            if junction[v as usize] {
                let rev: Vec<u32> = arc.iter().rev().copied().collect();
                let (key, reversed) = if rev < arc { (rev, true) } else { (std::mem::take(&mut arc), false) };
                let next = arcs.len() as u32;
                let id = *arc_ids.entry(key).or_insert_with_key(|k| {
                    arcs.push(k.clone());
                    next
                });
                parts.push((id, reversed));
                arc = vec![v];
            }
        }
        refs.push(RingRef { feature, polygon, hole, arcs: parts });
    }
    (arcs, refs)
}

fn round_to(c: Coord<f64>, decimals: Option<u32>) -> Coord<f64> {
    match decimals {
        Some(d) => {
            let f = 10f64.powi(d as i32);
            Coord { x: (c.x * f).round() / f, y: (c.y * f).round() / f }
        }
        None => c,
    }
}

/// One arc simplified at refinement `step`: Douglas–Peucker at the
/// tolerance divided by `4^step` for steps 0–2, every vertex from step 3;
/// rounded, except the interior of step 4. End points are rounded unless
/// marked `exact`, the same way for every arc, so arcs still meet exactly
/// at junctions.
fn simplify_arc(ids: &[u32], coords: &[Coord<f64>], how: Simplify, step: u8, exact: &[bool]) -> Vec<Coord<f64>> {
    let pts: Vec<Coord<f64>> = ids.iter().map(|&i| coords[i as usize]).collect();
    let keep: Vec<bool> = if step >= 3 {
        vec![true; pts.len()]
    } else {
        douglas_peucker(&pts, how.tolerance / 4f64.powi(i32::from(step)), how.y_scale)
    };
    let interior = if step >= LAST_STEP { None } else { how.decimals };
    let last = pts.len().saturating_sub(1);
    let mut out: Vec<Coord<f64>> = Vec::new();
    for (i, (&c, &k)) in pts.iter().zip(&keep).enumerate() {
        if !k {
            continue;
        }
        let c = if (i == 0 || i == last) && !exact[ids[i] as usize] {
            round_to(c, how.decimals)
        } else {
            round_to(c, interior)
        };
        if i == last && out.len() > 1 && out.last() == Some(&c) {
            out.pop();
        }
        if out.last() != Some(&c) || i == last {
            out.push(c);
        }
    }
    out
}

/// Which points Douglas–Peucker keeps (the ends always), with distances
/// measured with latitude scaled by `y_scale`. A closed arc (same ends)
/// measures from the end point itself.
fn douglas_peucker(pts: &[Coord<f64>], tolerance: f64, y_scale: f64) -> Vec<bool> {
    let n = pts.len();
    let mut keep = vec![false; n];
    if n == 0 {
        return keep;
    }
    keep[0] = true;
    keep[n - 1] = true;
    let p: Vec<(f64, f64)> = pts.iter().map(|c| (c.x, c.y * y_scale)).collect();
    let tol2 = tolerance * tolerance;
    let mut stack = vec![(0usize, n - 1)];
    while let Some((s, e)) = stack.pop() {
        if e <= s + 1 {
            continue;
        }
        let (a, b) = (p[s], p[e]);
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len2 = dx * dx + dy * dy;
        let mut far = (0.0, s);
        for (i, q) in p.iter().enumerate().take(e).skip(s + 1) {
            let (qx, qy) = (q.0 - a.0, q.1 - a.1);
            let d2 = if len2 == 0.0 {
                qx * qx + qy * qy
            } else {
                let t = ((qx * dx + qy * dy) / len2).clamp(0.0, 1.0);
                let (ex, ey) = (qx - t * dx, qy - t * dy);
                ex * ex + ey * ey
            };
            if d2 > far.0 {
                far = (d2, i);
            }
        }
        if far.0 > tol2 {
            keep[far.1] = true;
            stack.push((s, far.1));
            stack.push((far.1, e));
        }
    }
    keep
}

/// Whether two distinct, non-degenerate segments meet anywhere other than
/// a shared end point (crossing, touching, or overlapping along a line).
pub(crate) fn segments_conflict(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>, d: Coord<f64>) -> bool {
    let o1 = RobustKernel::orient2d(a, b, c);
    let o2 = RobustKernel::orient2d(a, b, d);
    if o1 == Orientation::Collinear && o2 == Orientation::Collinear {
        // On one line: a conflict if they overlap over a positive length.
        let along = |p: Coord<f64>| if (b.x - a.x).abs() >= (b.y - a.y).abs() { p.x } else { p.y };
        let (s0, s1) = (along(a).min(along(b)), along(a).max(along(b)));
        let (t0, t1) = (along(c).min(along(d)), along(c).max(along(d)));
        return s1.min(t1) > s0.max(t0);
    }
    if a == c || a == d || b == c || b == d {
        // Not collinear, so the shared end is their only common point.
        return false;
    }
    let o3 = RobustKernel::orient2d(c, d, a);
    let o4 = RobustKernel::orient2d(c, d, b);
    o1 != o2 && o3 != o4
}

/// Arcs with a segment that conflicts with another segment. Two identical
/// segments of different arcs are no conflict when no surviving polygon
/// uses both arcs: that is a unit (or a gap) that collapsed at this zoom,
/// and its neighbours now share a border. Otherwise (a hole pressed onto its
/// own exterior, a unit pinched to zero width) they are.
fn conflicting_arcs(arcs: &[Vec<Coord<f64>>], users: &[Vec<u32>]) -> Vec<usize> {
    let mut segs: Vec<SegEntry> = Vec::new();
    for (ai, pts) in arcs.iter().enumerate() {
        for (i, w) in pts.windows(2).enumerate() {
            if w[0] != w[1] {
                segs.push(GeomWithData::new(seg_rect(w[0], w[1]), (ai as u32, i as u32)));
            }
        }
    }
    let tree = RTree::bulk_load(segs);
    let shared_user = |a: u32, b: u32| {
        let (ua, ub) = (&users[a as usize], &users[b as usize]);
        ua.iter().any(|u| ub.contains(u))
    };
    let mut bad = vec![false; arcs.len()];
    for s in tree.iter() {
        let (ai, i) = s.data;
        let (a, b) = (arcs[ai as usize][i as usize], arcs[ai as usize][i as usize + 1]);
        for t in tree.locate_in_envelope_intersecting(&s.geom().envelope()) {
            if t.data <= s.data {
                continue;
            }
            let (aj, j) = t.data;
            let (c, d) = (arcs[aj as usize][j as usize], arcs[aj as usize][j as usize + 1]);
            let same = (a == c && b == d) || (a == d && b == c);
            let conflict = if same { ai == aj || shared_user(ai, aj) } else { segments_conflict(a, b, c, d) };
            if conflict {
                bad[ai as usize] = true;
                bad[aj as usize] = true;
            }
        }
    }
    bad.iter().enumerate().filter(|(_, b)| **b).map(|(i, _)| i).collect()
}

/// Twice the signed area (positive counter-clockwise), relative to the
/// first point to keep precision.
fn signed_area2(pts: &[Coord<f64>]) -> f64 {
    let Some(&o) = pts.first() else { return 0.0 };
    let n = pts.len();
    (0..n)
        .map(|i| {
            let (p, q) = (pts[i], pts[(i + 1) % n]);
            (p.x - o.x) * (q.y - o.y) - (q.x - o.x) * (p.y - o.y)
        })
        .sum()
}

/// A ring from its simplified arcs: repeats and spikes removed, closed,
/// oriented (exterior counter-clockwise); `None` if it collapsed.
fn assemble(parts: &[(u32, bool)], arcs: &[Vec<Coord<f64>>], exterior: bool) -> Option<LineString<f64>> {
    let mut pts: Vec<Coord<f64>> = Vec::new();
    for &(a, reversed) in parts {
        let arc = arcs.get(a as usize)?;
        let mut push = |c: Coord<f64>| {
            if pts.last() != Some(&c) {
                pts.push(c);
            }
        };
        if reversed {
            arc.iter().rev().for_each(|&c| push(c));
        } else {
            arc.iter().for_each(|&c| push(c));
        }
    }
    clean(&mut pts);
    if pts.len() < 3 {
        return None;
    }
    let area2 = signed_area2(&pts);
    if area2 == 0.0 || !area2.is_finite() {
        return None;
    }
    if (area2 > 0.0) != exterior {
        pts.reverse();
    }
    pts.push(pts[0]);
    Some(LineString(pts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    fn mp(p: Polygon<f64>) -> MultiPolygon<f64> {
        MultiPolygon(vec![p])
    }

    #[test]
    fn pixel_and_tolerance() {
        assert!((degrees_per_pixel(0) - 360.0 / 256.0).abs() < 1e-12);
        assert!((degrees_per_pixel(1) * 2.0 - degrees_per_pixel(0)).abs() < 1e-12);
        assert!((tolerance(10) - 0.5 * 360.0 / 256.0 / 1024.0).abs() < 1e-15);
        assert_eq!(degrees_per_pixel(40), degrees_per_pixel(MAX_ZOOM));
    }

    #[test]
    fn decimals_grow_with_zoom() {
        let ds: Vec<u32> = (0..=MAX_ZOOM).map(|z| decimals(z, 31.3)).collect();
        assert!(ds.windows(2).all(|w| w[0] <= w[1]), "{ds:?}");
        assert_eq!(ds[0], 1);
        // At zoom 14 a pixel is ~8 m; 5 decimals (~1 m) is under a fifth of it.
        assert_eq!(ds[14], 5);
        assert_eq!(ds[22], MAX_DECIMALS);
        for z in 0..=MAX_ZOOM {
            let step = 10f64.powi(-(decimals(z, 31.3) as i32));
            assert!(step <= 0.2 * degrees_per_pixel(z) * lat_cos(31.3) || decimals(z, 31.3) == MAX_DECIMALS);
        }
    }

    #[test]
    fn levels_by_zoom() {
        assert_eq!(default_level(0), Level::District);
        assert_eq!(default_level(9), Level::District);
        assert_eq!(default_level(10), Level::Township);
        assert_eq!(default_level(12), Level::Community);
        assert_eq!(default_level(14), Level::Grid);
        assert_eq!(default_level(17), Level::MicroGrid);
        assert_eq!(default_level(22), Level::MicroGrid);
        let ls: Vec<Level> = (0..=MAX_ZOOM).map(default_level).collect();
        assert!(ls.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn bbox_parsing() {
        let b = Bbox::parse("118.1, 31.0,118.5,31.4").unwrap();
        assert_eq!(b, Bbox { min_lon: 118.1, min_lat: 31.0, max_lon: 118.5, max_lat: 31.4 });
        for bad in ["", "1,2,3", "1,2,3,4,5", "a,b,c,d", "1,2,3,NaN", "1,2,inf,4", "1;2;3;4"] {
            assert!(matches!(Bbox::parse(bad), Err(TileError::MalformedBbox(_))), "{bad}");
        }
        assert_eq!(Bbox::parse("-181,0,1,1"), Err(TileError::BboxOutOfRange));
        assert_eq!(Bbox::parse("0,-91,1,1"), Err(TileError::BboxOutOfRange));
        assert_eq!(Bbox::parse("118.5,31,118.1,31.4"), Err(TileError::InvertedBbox));
        assert_eq!(Bbox::parse("118.1,31.4,118.5,31.0"), Err(TileError::InvertedBbox));
        assert_eq!(Bbox::parse("118.1,31,118.1,31.4"), Err(TileError::InvertedBbox));
        let long = "9".repeat(10_000);
        let msg = Bbox::parse(&long).unwrap_err().to_string();
        assert!(msg.len() < 200, "{msg}");
    }

    #[test]
    fn zoom_parsing() {
        assert_eq!(parse_zoom("0"), Ok(0));
        assert_eq!(parse_zoom("22"), Ok(22));
        for bad in ["23", "-1", "1.5", "", "x", "256"] {
            assert!(matches!(parse_zoom(bad), Err(TileError::InvalidZoom(_))), "{bad}");
        }
    }

    #[test]
    fn segment_conflicts() {
        let c = |x: f64, y: f64| Coord { x, y };
        // Crossing.
        assert!(segments_conflict(c(0., 0.), c(2., 2.), c(0., 2.), c(2., 0.)));
        // Sharing an end only.
        assert!(!segments_conflict(c(0., 0.), c(1., 1.), c(1., 1.), c(2., 0.)));
        // T-touch without a shared vertex.
        assert!(segments_conflict(c(0., 0.), c(2., 0.), c(1., 0.), c(1., 1.)));
        // Collinear, overlapping.
        assert!(segments_conflict(c(0., 0.), c(2., 0.), c(1., 0.), c(3., 0.)));
        // Collinear, end to end.
        assert!(!segments_conflict(c(0., 0.), c(1., 0.), c(1., 0.), c(2., 0.)));
        // Collinear backtrack from a shared end.
        assert!(segments_conflict(c(0., 0.), c(2., 0.), c(2., 0.), c(1., 0.)));
        // Apart.
        assert!(!segments_conflict(c(0., 0.), c(1., 0.), c(0., 1.), c(1., 1.)));
    }

    #[test]
    fn shared_border_is_simplified_once() {
        // Two squares sharing a wiggly border; the wiggle is below tolerance.
        let left = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.001, y: 0.5), (x: 1.0, y: 1.0), (x: 0.0, y: 1.0)];
        let right =
            polygon![(x: 1.0, y: 0.0), (x: 2.0, y: 0.0), (x: 2.0, y: 1.0), (x: 1.0, y: 1.0), (x: 1.001, y: 0.5)];
        let (l, r) = (mp(left), mp(right));
        let how = Simplify { tolerance: 0.01, y_scale: 1.0, decimals: Some(4) };
        let out = simplify_coverage(&[&l, &r], how);
        let ring = |m: &MultiPolygon<f64>| m.0[0].exterior().0.clone();
        assert!(!ring(&out[0]).contains(&Coord { x: 1.001, y: 0.5 }));
        assert!(!ring(&out[1]).contains(&Coord { x: 1.001, y: 0.5 }));
        assert_eq!(ring(&out[0]).len(), 5);
        assert!(signed_area2(&ring(&out[0])) > 0.0);
    }

    #[test]
    fn t_junctions_and_near_duplicates_are_noded() {
        // The right units meet at (1 + n, 0.5), a rounding error off the
        // left unit's straight border, and the lower right corner repeats the
        // left's corner a rounding error away. After noding the left border
        // carries the same vertex, so all three share it.
        let n = 1e-12;
        let left = mp(polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 1.0)]);
        let lower = mp(polygon![(x: 1.0 + n, y: -n), (x: 2.0, y: 0.0), (x: 2.0, y: 0.5), (x: 1.0 + n, y: 0.5)]);
        let upper = mp(polygon![(x: 1.0 + n, y: 0.5), (x: 2.0, y: 0.5), (x: 2.0, y: 1.0), (x: 1.0, y: 1.0)]);
        let how = Simplify { tolerance: 1e-6, y_scale: 1.0, decimals: None };
        let out = simplify_coverage(&[&left, &lower, &upper], how);
        let ring = |i: usize| out[i].0[0].exterior().0.clone();
        let p = Coord { x: 1.0 + n, y: 0.5 };
        assert!(ring(0).contains(&p), "{:?}", ring(0));
        assert!(ring(1).contains(&Coord { x: 1.0, y: 0.0 }), "snapped onto the first: {:?}", ring(1));
        assert_eq!(ring(0).len(), 6, "{:?}", ring(0));
    }

    #[test]
    fn collapsed_units_are_dropped_and_neighbours_still_meet() {
        // A sliver narrower than the tolerance between two squares vanishes;
        // both squares then use the same straight border.
        let a =
            mp(polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 0.9999, y: 0.5), (x: 1.0, y: 1.0), (x: 0.0, y: 1.0)]);
        let s = mp(polygon![(x: 1.0, y: 0.0), (x: 1.0001, y: 0.5), (x: 1.0, y: 1.0), (x: 0.9999, y: 0.5)]);
        let b =
            mp(polygon![(x: 1.0, y: 0.0), (x: 2.0, y: 0.0), (x: 2.0, y: 1.0), (x: 1.0, y: 1.0), (x: 1.0001, y: 0.5)]);
        let how = Simplify { tolerance: 0.01, y_scale: 1.0, decimals: Some(3) };
        let out = simplify_coverage(&[&a, &s, &b], how);
        assert!(out[1].0.is_empty(), "{:?}", out[1]);
        let ring = |i: usize| out[i].0[0].exterior().0.clone();
        assert_eq!(ring(0).len(), 5, "{:?}", ring(0));
        assert_eq!(ring(2).len(), 5, "{:?}", ring(2));
        assert!(ring(0).contains(&Coord { x: 1.0, y: 0.0 }) && ring(2).contains(&Coord { x: 1.0, y: 1.0 }));
    }

    #[test]
    fn holes_and_islands_share_their_ring() {
        // A unit with a hole exactly filled by another unit: no junctions at
        // all; both must cut the ring at the same vertex and agree.
        let hole = LineString::from(vec![(0.3, 0.3), (0.5, 0.31), (0.7, 0.3), (0.69, 0.7), (0.3, 0.7), (0.3, 0.3)]);
        let outer = LineString::from(vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)]);
        let donut = mp(Polygon::new(outer, vec![hole.clone()]));
        let island = mp(Polygon::new(hole, vec![]));
        let how = Simplify { tolerance: 0.05, y_scale: 1.0, decimals: Some(2) };
        let out = simplify_coverage(&[&donut, &island], how);
        let mut h: Vec<Coord<f64>> = out[0].0[0].interiors()[0].0.clone();
        let mut i: Vec<Coord<f64>> = out[1].0[0].exterior().0.clone();
        assert!(signed_area2(&h) < 0.0 && signed_area2(&i) > 0.0, "hole clockwise, exterior counter-clockwise");
        h.pop();
        i.pop();
        h.reverse();
        let k = i.iter().position(|c| *c == h[0]).unwrap();
        i.rotate_left(k);
        assert_eq!(h, i);
        assert!(!h.contains(&Coord { x: 0.5, y: 0.31 }), "the dent is below tolerance");
    }

    #[test]
    fn finest_layer_fills_in_childless_units() {
        use chrono::NaiveDate;
        use citygrid_domain::Unit;
        let f = |code: &str| {
            let c = UnitCode::parse(code).unwrap();
            TerritoryFeature {
                unit: Unit { synthetic: true, ..Unit::new(c, code, NaiveDate::MIN) },
                geometry: MultiPolygon(vec![]),
            }
        };
        let fs: Vec<TerritoryFeature> =
            ["340200", "340202", "340202001", "340202001001", "340202001001001", "340202001002"]
                .iter()
                .map(|c| f(c))
                .collect();
        let codes = |k: LayerKind| k.select(&fs).iter().map(|f| f.unit.code.to_string()).collect::<Vec<_>>();
        assert_eq!(codes(LayerKind::Level(Level::Grid)), ["340202001001001"]);
        assert_eq!(codes(LayerKind::Finest(Level::Grid)), ["340202001001001", "340202001002"]);
        assert_eq!(codes(LayerKind::Finest(Level::District)), ["340202"]);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// A generated coverage and how to simplify it.
        #[derive(Debug, Clone)]
        struct Case {
            nx: usize,
            ny: usize,
            /// Moves of interior lattice points, used in turn.
            jitter: Vec<(f64, f64)>,
            /// Extra vertices per edge, used in turn: `(t along, offset across)`.
            wiggles: Vec<Vec<(f64, f64)>>,
            /// Islands, used in turn per cell: `None`, or `(x, y, size)` in the cell.
            islands: Vec<Option<(f64, f64, f64)>>,
            tolerance: f64,
            decimals: Option<u32>,
        }

        fn case() -> impl Strategy<Value = Case> {
            (
                (1usize..6, 1usize..6),
                prop::collection::vec((-0.1f64..0.1, -0.1f64..0.1), 1..40),
                prop::collection::vec(prop::collection::vec((0.05f64..0.95, -0.3f64..0.3), 0..7), 1..40),
                prop::collection::vec(prop::option::weighted(0.4, (0.1f64..0.9, 0.1f64..0.9, 0.01f64..0.15)), 1..12),
                prop_oneof![Just(1e-4), 1e-3f64..0.02, 0.02f64..0.2, 0.2f64..2.0],
                prop_oneof![Just(None), (1u32..5).prop_map(Some)],
            )
                .prop_map(|((nx, ny), jitter, wiggles, islands, tolerance, decimals)| Case {
                    nx,
                    ny,
                    jitter,
                    wiggles,
                    islands,
                    tolerance,
                    decimals,
                })
        }

        /// A jittered `nx × ny` lattice of unit cells over `[0, nx] × [0, ny]`
        /// with meandering borders (collinear extra vertices on the outer
        /// square, so it stays a square), and small square islands: units
        /// sitting in a hole of their cell. Each edge is generated once, so
        /// neighbours share vertices exactly, as in a real coverage. The
        /// result may be invalid (a meander crossing its neighbour); callers
        /// check with [`valid`].
        fn coverage(c: &Case) -> Vec<MultiPolygon<f64>> {
            let (nx, ny) = (c.nx, c.ny);
            let pt = |i: usize, j: usize| -> Coord<f64> {
                let inner = i > 0 && i < nx && j > 0 && j < ny;
                let (dx, dy) = if inner { c.jitter[(j * (nx + 1) + i) % c.jitter.len()] } else { (0.0, 0.0) };
                Coord { x: i as f64 + dx, y: j as f64 + dy }
            };
            let mut k = 0;
            let mut edge = |a: (usize, usize), b: (usize, usize)| -> Vec<Coord<f64>> {
                let (p, q) = (pt(a.0, a.1), pt(b.0, b.1));
                let outer = (a.0 == b.0 && (a.0 == 0 || a.0 == nx)) || (a.1 == b.1 && (a.1 == 0 || a.1 == ny));
                let mut ts = c.wiggles[k % c.wiggles.len()].clone();
                k += 1;
                ts.sort_by(|x, y| x.0.total_cmp(&y.0));
                let (dx, dy) = (q.x - p.x, q.y - p.y);
                let mut v = vec![p];
                for (t, off) in ts {
                    let off = if outer { 0.0 } else { off };
                    v.push(Coord { x: p.x + t * dx - off * dy, y: p.y + t * dy + off * dx });
                }
                v
            };
            let mut horizontal: HashMap<(usize, usize), Vec<Coord<f64>>> = HashMap::new();
            let mut vertical: HashMap<(usize, usize), Vec<Coord<f64>>> = HashMap::new();
            for j in 0..=ny {
                for i in 0..nx {
                    horizontal.insert((i, j), edge((i, j), (i + 1, j)));
                }
            }
            for i in 0..=nx {
                for j in 0..ny {
                    vertical.insert((i, j), edge((i, j), (i, j + 1)));
                }
            }
            let backwards = |mut side: Vec<Coord<f64>>, end: Coord<f64>| {
                side.push(end);
                side.reverse();
                side.pop();
                side
            };
            let mut units = Vec::new();
            let mut islands = Vec::new();
            for j in 0..ny {
                for i in 0..nx {
                    // Counter-clockwise: bottom →, right ↑, top ←, left ↓.
                    let mut ring: Vec<Coord<f64>> = horizontal[&(i, j)].clone();
                    ring.extend(vertical[&(i + 1, j)].iter().copied());
                    ring.extend(backwards(horizontal[&(i, j + 1)].clone(), pt(i + 1, j + 1)));
                    ring.extend(backwards(vertical[&(i, j)].clone(), pt(i, j + 1)));
                    ring.push(ring[0]);
                    let mut holes = Vec::new();
                    if let Some((x, y, s)) = c.islands[(j * nx + i) % c.islands.len()] {
                        let (x, y) = (i as f64 + x, j as f64 + y);
                        let sq = LineString::from(vec![(x, y), (x + s, y), (x + s, y + s), (x, y + s), (x, y)]);
                        holes.push(sq.clone());
                        islands.push(MultiPolygon(vec![Polygon::new(sq, vec![])]));
                    }
                    units.push(MultiPolygon(vec![Polygon::new(LineString(ring), holes)]));
                }
            }
            units.extend(islands);
            units
        }

        fn segments(mp: &MultiPolygon<f64>) -> Vec<(Coord<f64>, Coord<f64>)> {
            mp.0.iter()
                .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
                .flat_map(|r| r.0.windows(2).map(|w| (w[0], w[1])).collect::<Vec<_>>())
                .collect()
        }

        /// Whether no two segments of the coverage cross, touch or overlap
        /// except at shared vertices or as the very same shared segment
        /// (brute force over all pairs); the first offending pair if not.
        fn valid(units: &[MultiPolygon<f64>]) -> Result<(), String> {
            let all: Vec<(Coord<f64>, Coord<f64>)> = units.iter().flat_map(segments).collect();
            for (i, &(a, b)) in all.iter().enumerate() {
                for &(c, d) in &all[i + 1..] {
                    let same = (a == c && b == d) || (a == d && b == c);
                    if !same && segments_conflict(a, b, c, d) {
                        return Err(format!("{a:?}-{b:?} vs {c:?}-{d:?}"));
                    }
                }
            }
            Ok(())
        }

        fn key(c: Coord<f64>) -> (u64, u64) {
            ((c.x + 0.0).to_bits(), (c.y + 0.0).to_bits())
        }

        fn run(c: &Case) -> Option<Vec<MultiPolygon<f64>>> {
            let units = coverage(c);
            valid(&units).ok()?;
            let refs: Vec<&MultiPolygon<f64>> = units.iter().collect();
            Some(simplify_coverage(&refs, Simplify { tolerance: c.tolerance, y_scale: 1.0, decimals: c.decimals }))
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, max_global_rejects: 100_000, ..ProptestConfig::default() })]

            /// Every output ring is closed, has at least four positions and
            /// no repeats, encloses area with the RFC 7946 orientation, and no
            /// segment of any output crosses, touches or overlaps another
            /// except at shared vertices or as the very same shared segment.
            #[test]
            fn rings_stay_valid(c in case()) {
                let out = run(&c);
                prop_assume!(out.is_some());
                let out = out.unwrap_or_default();
                for mp in &out {
                    for p in &mp.0 {
                        for (k, r) in std::iter::once(p.exterior()).chain(p.interiors()).enumerate() {
                            let c = &r.0;
                            prop_assert!(c.len() >= 4, "{:?}", c);
                            prop_assert_eq!(c.first(), c.last());
                            prop_assert!(c.windows(2).all(|w| w[0] != w[1]), "repeat in {:?}", c);
                            let a = signed_area2(&c[..c.len() - 1]);
                            prop_assert!(if k == 0 { a > 0.0 } else { a < 0.0 }, "orientation/area {} of {:?}", a, c);
                        }
                    }
                }
                if let Err(e) = valid(&out) {
                    prop_assert!(false, "output conflict: {}", e);
                }
            }

            /// Neighbours use the same simplified border: every directed
            /// segment of an output ring is matched by the reverse segment
            /// of another ring, except on the outer square; and the outputs
            /// still tile the square up to what simplifying its own outline
            /// (and rounding) removes.
            #[test]
            fn shared_borders_match(c in case()) {
                let out = run(&c);
                prop_assume!(out.is_some());
                let out = out.unwrap_or_default();
                let mut directed: HashMap<[(u64, u64); 2], usize> = HashMap::new();
                let mut area = 0.0;
                for mp in &out {
                    for (a, b) in segments(mp) {
                        *directed.entry([key(a), key(b)]).or_default() += 1;
                    }
                    for p in &mp.0 {
                        for r in std::iter::once(p.exterior()).chain(p.interiors()) {
                            area += signed_area2(&r.0[..r.0.len() - 1]) / 2.0;
                        }
                    }
                }
                let (fx, fy) = (c.nx as f64, c.ny as f64);
                let on_square = |p: Coord<f64>| p.x == 0.0 || p.y == 0.0 || p.x == fx || p.y == fy;
                for mp in &out {
                    for (a, b) in segments(mp) {
                        let n = directed.get(&[key(a), key(b)]).copied().unwrap_or(0);
                        let back = directed.get(&[key(b), key(a)]).copied().unwrap_or(0);
                        prop_assert!(n == 1, "segment {:?}-{:?} used {} times in one direction", a, b, n);
                        prop_assert!(back == 1 || (on_square(a) && on_square(b)), "unmatched inner segment {:?}-{:?}", a, b);
                    }
                }
                let quantum = c.decimals.map_or(0.0, |d| 10f64.powi(-(d as i32)));
                let slack = 2.0 * (fx + fy) * (c.tolerance + quantum) + 1e-9;
                prop_assert!((area - fx * fy).abs() <= slack, "area {} of a {}×{} square (slack {})", area, fx, fy, slack);
            }

            /// The box query returns exactly the units whose box meets the
            /// viewport, as a scan over every unit does.
            #[test]
            fn bbox_query_matches_brute_force(
                boxes in prop::collection::vec((0.0f64..1.0, 0.0f64..1.0, 0.001f64..0.2, 0.001f64..0.2), 1..60),
                q in (-0.1f64..1.1, -0.1f64..1.1, 0.0001f64..0.6, 0.0001f64..0.6),
            ) {
                use chrono::NaiveDate;
                use citygrid_domain::Unit;
                let features: Vec<TerritoryFeature> = boxes
                    .iter()
                    .enumerate()
                    .map(|(i, &(x, y, w, h))| {
                        let code = UnitCode::parse(&format!("340202001001{:03}", i + 1)).unwrap();
                        let (x, y) = (118.0 + x, 31.0 + y);
                        TerritoryFeature {
                            unit: Unit { synthetic: true, ..Unit::new(code, format!("网格{i}"), NaiveDate::MIN) },
                            geometry: mp(polygon![(x: x, y: y), (x: x + w, y: y), (x: x + w, y: y + h), (x: x, y: y + h)]),
                        }
                    })
                    .collect();
                let refs: Vec<&TerritoryFeature> = features.iter().collect();
                let layer = TileLayer::build(&refs, 18);
                prop_assert_eq!(layer.len(), features.len());
                let bbox = Bbox::new(118.0 + q.0, 31.0 + q.1, 118.0 + q.0 + q.2, 31.0 + q.1 + q.3).unwrap();
                let got: Vec<&UnitCode> = layer.query(&bbox).iter().map(|f| &f.code).collect();
                let want: Vec<&UnitCode> =
                    layer.features().iter().filter(|f| bbox.intersects(&f.bbox)).map(|f| &f.code).collect();
                prop_assert_eq!(got, want);
                for f in layer.features() {
                    let v: serde_json::Value = serde_json::from_str(&f.json).unwrap();
                    prop_assert_eq!(v["properties"]["code"].as_str(), Some(f.code.as_str()));
                    prop_assert_eq!(v["properties"]["level"].as_str(), Some("grid"));
                    prop_assert_eq!(v["properties"]["parent"].as_str(), Some("340202001001"));
                }
            }
        }

        /// How often the generator makes a valid coverage, and how often
        /// simplifying it needs refinement (so the properties above do
        /// exercise conflict handling).
        #[test]
        fn generator_exercises_refinement() {
            use proptest::strategy::ValueTree;
            use proptest::test_runner::TestRunner;
            let mut runner = TestRunner::deterministic();
            let (mut valid_inputs, mut refined) = (0, 0);
            for _ in 0..300 {
                let c = case().new_tree(&mut runner).unwrap().current();
                let units = coverage(&c);
                if valid(&units).is_err() {
                    continue;
                }
                valid_inputs += 1;
                let refs: Vec<&MultiPolygon<f64>> = units.iter().collect();
                let how = Simplify { tolerance: c.tolerance, y_scale: 1.0, decimals: c.decimals };
                if simplify_counted(&refs, how).1 > 0 {
                    refined += 1;
                }
            }
            assert!(valid_inputs >= 60, "only {valid_inputs} of 300 generated coverages are valid");
            assert!(refined >= 10, "only {refined} of {valid_inputs} need refinement");
        }
    }

    /// Topology statistics and build times on the Wuhu demo:
    /// `cargo test --release -p citygrid-geo --lib tiles::tests::demo_stats -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn demo_stats() {
        let demo = crate::wuhu_demo(0).unwrap();
        for kind in [
            LayerKind::Level(Level::District),
            LayerKind::Level(Level::Township),
            LayerKind::Level(Level::Community),
            LayerKind::Level(Level::Grid),
            LayerKind::Finest(Level::MicroGrid),
        ] {
            let sel = kind.select(&demo);
            let input: usize = sel.iter().map(|f| geo::CoordsIter::coords_count(&f.geometry)).sum();
            for zoom in [8u8, 10, 12, 14, 16, 18] {
                let t = std::time::Instant::now();
                let layer = TileLayer::build(&sel, zoom);
                let ms = t.elapsed().as_secs_f64() * 1e3;
                let verts: usize = layer.features().iter().map(|f| f.vertices).sum();
                let bytes: usize = layer.features().iter().map(|f| f.json.len()).sum();
                println!(
                    "{kind:?} z{zoom}: {} units ({} kept), {input} -> {verts} positions, {:.1} kB, build {ms:.0} ms",
                    sel.len(),
                    layer.len(),
                    bytes as f64 / 1e3
                );
            }
        }
    }
}
