//! Buffers in metres around longitude/latitude geometry.
//!
//! Degrees are not metres, and a degree of longitude at Wuhu (31.3° N) is
//! only 0.85 of a degree of latitude, so buffering in degrees would make
//! ovals. Every function here projects its input to a local planar frame
//! (equirectangular about the geometry's middle latitude, in metres on the
//! same sphere as haversine distance), buffers there with `geo`'s `Buffer`
//! (i_overlay underneath), and projects the result back.
//!
//! Accuracy: the frame's east–west scale is exact at its middle latitude and
//! off by `tan(lat)·Δlat` elsewhere — 0.1 % for the 55 km Yangtze reach
//! (±0.13° of latitude), 0.4 % at the far ends of the whole city (±0.4°),
//! i.e. about 12 m on a 3 km band. Arcs are polygons whose vertices lie on
//! the true circle; chords cut inside it by at most [`ARC_TOLERANCE_M`]. A
//! buffer is therefore never larger than the exact one.

use geo::algorithm::buffer::{Buffer, BufferStyle, LineCap, LineJoin};
use geo::{BooleanOps, BoundingRect, Coord, LineString, MapCoords, MultiLineString, MultiPolygon, Point};

/// Mean Earth radius in metres: the sphere `geo`'s haversine uses, so that
/// buffer widths agree with haversine distances.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Largest gap, in metres, between a true arc and the chord approximating it.
pub const ARC_TOLERANCE_M: f64 = 0.5;

/// A local planar frame: metres east and north of an origin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalFrame {
    lon0: f64,
    lat0: f64,
    /// Metres per degree of longitude at `lat0`.
    mx: f64,
    /// Metres per degree of latitude.
    my: f64,
}

impl LocalFrame {
    /// A frame with its origin (and true scale) at `lon0, lat0`.
    pub fn new(lon0: f64, lat0: f64) -> LocalFrame {
        let my = EARTH_RADIUS_M.to_radians().abs();
        LocalFrame { lon0, lat0, mx: my * lat0.to_radians().cos(), my }
    }

    /// A frame centred on a geometry's bounding box, so the scale error is
    /// smallest where the geometry is; `None` for an empty geometry.
    pub fn around<G: BoundingRect<f64, Output = Option<geo::Rect<f64>>>>(g: &G) -> Option<LocalFrame> {
        let c = g.bounding_rect()?.center();
        (c.x.is_finite() && c.y.is_finite()).then(|| LocalFrame::new(c.x, c.y))
    }

    /// Degrees to local metres.
    pub fn to_local(&self, c: Coord<f64>) -> Coord<f64> {
        Coord { x: (c.x - self.lon0) * self.mx, y: (c.y - self.lat0) * self.my }
    }

    /// Local metres to degrees.
    pub fn to_lonlat(&self, c: Coord<f64>) -> Coord<f64> {
        Coord { x: self.lon0 + c.x / self.mx, y: self.lat0 + c.y / self.my }
    }

    /// A whole geometry to local metres.
    pub fn project<G: MapCoords<f64, f64, Output = G>>(&self, g: &G) -> G {
        g.map_coords(|c| self.to_local(c))
    }

    /// A whole geometry back to degrees.
    pub fn unproject<G: MapCoords<f64, f64, Output = G>>(&self, g: &G) -> G {
        g.map_coords(|c| self.to_lonlat(c))
    }
}

/// How a line buffer ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ends {
    /// Half-disks: every point within the distance of the line.
    Round,
    /// Cut square at the end points: consecutive pieces of one line buffered
    /// this way tile the line's buffer without overlapping.
    Flat,
}

/// The round-join step for radius `r`: the largest angle whose chord stays
/// within [`ARC_TOLERANCE_M`] of the arc (i_overlay clamps it to ≥ 0.01π).
fn arc_step(r: f64) -> f64 {
    let ratio = (1.0 - ARC_TOLERANCE_M / r).clamp(-1.0, 1.0);
    (2.0 * ratio.acos()).clamp(0.01 * std::f64::consts::PI, 0.25 * std::f64::consts::PI)
}

fn style(metres: f64, ends: Ends) -> BufferStyle<f64> {
    let step = arc_step(metres);
    let cap = match ends {
        Ends::Round => LineCap::Round(step),
        Ends::Flat => LineCap::Butt,
    };
    BufferStyle::new(metres).line_join(LineJoin::Round(step)).line_cap(cap)
}

fn usable(metres: f64) -> bool {
    metres.is_finite() && metres > 0.0
}

/// Every point within `metres` of a line (a river course, a border).
pub fn buffer_line(line: &LineString<f64>, metres: f64) -> MultiPolygon<f64> {
    buffer_lines_with(&MultiLineString::new(vec![line.clone()]), metres, Ends::Round)
}

/// Every point within `metres` of any of the lines.
pub fn buffer_lines(lines: &MultiLineString<f64>, metres: f64) -> MultiPolygon<f64> {
    buffer_lines_with(lines, metres, Ends::Round)
}

/// A buffer of `metres` around lines with the given ends.
pub fn buffer_lines_with(lines: &MultiLineString<f64>, metres: f64, ends: Ends) -> MultiPolygon<f64> {
    let Some(frame) = LocalFrame::around(lines) else { return MultiPolygon::new(vec![]) };
    if !usable(metres) {
        return MultiPolygon::new(vec![]);
    }
    let local = frame.project(lines);
    frame.unproject(&local.buffer_with_style(style(metres, ends)))
}

/// A disk of `metres` around a point.
pub fn buffer_point(p: Point<f64>, metres: f64) -> MultiPolygon<f64> {
    if !usable(metres) || !p.x().is_finite() || !p.y().is_finite() {
        return MultiPolygon::new(vec![]);
    }
    let frame = LocalFrame::new(p.x(), p.y());
    let local = Point::new(0.0, 0.0).buffer_with_style(style(metres, Ends::Round));
    frame.unproject(&local)
}

/// The band of an area within `metres` of its boundary, inside it: the area
/// minus the area shrunk by `metres` (e.g. the strip along a city perimeter).
pub fn inner_band(area: &MultiPolygon<f64>, metres: f64) -> MultiPolygon<f64> {
    let Some(frame) = LocalFrame::around(area) else { return MultiPolygon::new(vec![]) };
    if !usable(metres) {
        return MultiPolygon::new(vec![]);
    }
    let local = frame.project(area);
    let core = local.buffer_with_style(style(-metres, Ends::Round));
    frame.unproject(&local.difference(&core))
}

/// The points between `inner` and `outer` metres of a line, on both sides
/// (e.g. a shoreline band beyond the water's buffer).
pub fn band_along(line: &LineString<f64>, inner: f64, outer: f64) -> MultiPolygon<f64> {
    let lines = MultiLineString::new(vec![line.clone()]);
    let Some(frame) = LocalFrame::around(&lines) else { return MultiPolygon::new(vec![]) };
    if !usable(outer) || inner.is_nan() || inner >= outer {
        return MultiPolygon::new(vec![]);
    }
    let local = frame.project(&lines);
    let far = local.buffer_with_style(style(outer, Ends::Round));
    if !usable(inner) {
        return frame.unproject(&far);
    }
    let near = local.buffer_with_style(style(inner, Ends::Round));
    frame.unproject(&far.difference(&near))
}

/// Area in square metres (in a local frame about the geometry).
pub fn area_m2(mp: &MultiPolygon<f64>) -> f64 {
    use geo::Area;
    LocalFrame::around(mp).map_or(0.0, |f| f.project(mp).unsigned_area())
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Centroid, Contains, Distance, Haversine, Intersects, Line};

    /// A 1 km north–south segment in Wuhu (31.30°N → 31.30899°N).
    fn segment() -> LineString<f64> {
        let dlat = (1000.0 / EARTH_RADIUS_M).to_degrees();
        LineString::from(vec![(118.38, 31.30), (118.38, 31.30 + dlat)])
    }

    /// The point `d` metres east of `p` (along the parallel).
    fn east_of(p: Point<f64>, d: f64) -> Point<f64> {
        use geo::Destination;
        Haversine.destination(p, 90.0, d)
    }

    #[test]
    fn a_1km_segment_buffered_by_100m() {
        let line = segment();
        let b = buffer_line(&line, 100.0);
        let want = 2.0 * 100.0 * 1000.0 + std::f64::consts::PI * 100.0 * 100.0;
        let got = area_m2(&b);
        assert!((got - want).abs() / want < 0.01, "area {got:.0} m² vs {want:.0} m²");
        // 99 m / 101 m from the middle, east and west, by haversine distance.
        let mid = Point::new(118.38, 31.30 + (500.0 / EARTH_RADIUS_M).to_degrees());
        for (d, inside) in [(99.0f64, true), (101.0, false), (-99.0, true), (-101.0, false)] {
            let p = {
                use geo::Destination;
                Haversine.destination(mid, if d > 0.0 { 90.0 } else { 270.0 }, d.abs())
            };
            let dist = Haversine.distance(p, mid);
            assert!((dist - d.abs()).abs() < 0.01, "{dist}");
            assert_eq!(b.contains(&p), inside, "{d} m from the line");
        }
        // Beyond the ends too: the caps are round.
        let top = Point::from(line.0[1]);
        let north = |d: f64| Point::new(top.x(), top.y() + (d / EARTH_RADIUS_M).to_degrees());
        assert!(b.contains(&north(99.0)));
        assert!(!b.contains(&north(101.0)));
        let diag = |d: f64| {
            use geo::Destination;
            Haversine.destination(top, 45.0, d)
        };
        assert!(b.contains(&diag(99.0)));
        assert!(!b.contains(&diag(101.0)));
    }

    #[test]
    fn circles_are_round_in_metres() {
        use geo::Destination;
        let c = Point::new(118.3717, 31.3361);
        let disk = buffer_point(c, 1000.0);
        let want = std::f64::consts::PI * 1e6;
        assert!((area_m2(&disk) - want).abs() / want < 0.005, "{}", area_m2(&disk));
        for bearing in [0.0, 30.0, 90.0, 135.0, 200.0, 270.0, 333.0] {
            assert!(disk.contains(&Haversine.destination(c, bearing, 998.0)), "{bearing}");
            assert!(!disk.contains(&Haversine.destination(c, bearing, 1002.0)), "{bearing}");
        }
        assert!(buffer_point(c, 0.0).0.is_empty());
        assert!(buffer_point(c, f64::NAN).0.is_empty());
    }

    #[test]
    fn an_inner_band_is_the_strip_inside_the_boundary() {
        // A 10 km × 10 km square; the 1 km band is 100 − 64 = 36 km².
        let (w, h) = (
            (10_000.0 / (EARTH_RADIUS_M * 31.3f64.to_radians().cos())).to_degrees(),
            (10_000.0 / EARTH_RADIUS_M).to_degrees(),
        );
        let sq = MultiPolygon::new(vec![
            geo::Rect::new(Coord { x: 118.3, y: 31.25 }, Coord { x: 118.3 + w, y: 31.25 + h }).to_polygon(),
        ]);
        let band = inner_band(&sq, 1000.0);
        assert!((area_m2(&band) - 36e6).abs() / 36e6 < 0.01, "{}", area_m2(&band));
        let centre = Point::new(118.3 + w / 2.0, 31.25 + h / 2.0);
        assert!(!band.intersects(&centre));
        let west_edge = Point::new(118.3, 31.25 + h / 2.0);
        assert!(band.contains(&east_of(west_edge, 990.0)));
        assert!(!band.contains(&east_of(west_edge, 1010.0)));
        let outside = {
            use geo::Destination;
            Haversine.destination(west_edge, 270.0, 10.0)
        };
        assert!(!band.intersects(&outside), "nothing outside the area");
    }

    #[test]
    fn a_band_along_a_line_excludes_the_inner_buffer() {
        let line = segment();
        let band = band_along(&line, 100.0, 150.0);
        let mid = Point::new(118.38, 31.30 + (500.0 / EARTH_RADIUS_M).to_degrees());
        assert!(!band.contains(&east_of(mid, 50.0)));
        assert!(band.contains(&east_of(mid, 120.0)));
        assert!(!band.contains(&east_of(mid, 160.0)));
        assert!(band_along(&line, 150.0, 100.0).0.is_empty());
    }

    #[test]
    fn flat_ends_tile_a_line() {
        let line = segment();
        let (a, b) = (line.0[0], line.0[1]);
        let m = Line::new(a, b).centroid().0;
        let first = buffer_lines_with(&MultiLineString::new(vec![LineString::new(vec![a, m])]), 100.0, Ends::Flat);
        let second = buffer_lines_with(&MultiLineString::new(vec![LineString::new(vec![m, b])]), 100.0, Ends::Flat);
        let overlap = area_m2(&first.intersection(&second));
        assert!(overlap < 1.0, "{overlap}");
        let both = area_m2(&first.union(&second));
        assert!((both - 200_000.0).abs() / 200_000.0 < 0.005, "{both}");
    }
}
