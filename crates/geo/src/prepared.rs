//! Exact point-in-polygon tests.
//!
//! - [`PreparedPolygon`]: a whole multipolygon, its edges bucketed into
//!   horizontal strips so a test only looks at the few edges whose y-range can
//!   contain the point (real district outlines have 1,000–2,000 vertices).
//!   Used to build the cell index, as its fallback, and by the synthetic
//!   partition.
//! - [`cell_contains`]: the test the cell index runs at query time, against
//!   only the edges that touch one cell, counted from a reference point of
//!   that cell whose containment is known.
//!
//! Both count the boundary as inside and decide every sign with an exact
//! orientation predicate, so they agree with each other and with `geo`'s
//! `Intersects` on every input, including points exactly on edges and
//! vertices.

use geo::algorithm::kernels::{Kernel, Orientation, RobustKernel};
use geo::{Coord, MultiPolygon};

/// Upper bound on strips per polygon, to cap memory for huge rings.
const MAX_STRIPS: usize = 1024;
/// Edges per strip we aim for; small enough that a strip scan is a handful of edges.
const EDGES_PER_STRIP: usize = 4;
/// Most strips an edge is copied into on average; fewer strips are used
/// rather than exceed it.
const MAX_COPIES_PER_EDGE: usize = 8;

/// A multipolygon's edges bucketed by y, for even-odd point-in-polygon tests
/// that count the boundary as inside.
#[derive(Debug, Clone)]
pub(crate) struct PreparedPolygon {
    min_x: f64,
    min_y: f64,
    max_x: f64,
    max_y: f64,
    /// Strips per degree of latitude.
    inv_h: f64,
    /// `starts[s]..starts[s + 1]` indexes `edges` for strip `s`.
    starts: Vec<u32>,
    /// `[x1, y1, x2, y2]`, duplicated into every strip the edge spans.
    edges: Vec<[f64; 4]>,
}

impl PreparedPolygon {
    /// Prepares `mp`. Returns `None` when it has no edge or a non-finite coordinate.
    pub(crate) fn new(mp: &MultiPolygon<f64>) -> Option<Self> {
        Self::from_edges(&edges_of(mp))
    }

    /// Prepares a polygon given as its edges (see [`edges_of`]).
    pub(crate) fn from_edges(raw: &[[f64; 4]]) -> Option<Self> {
        if raw.is_empty() || raw.iter().flatten().any(|v| !v.is_finite()) {
            return None;
        }
        let (mut min_x, mut min_y, mut max_x, mut max_y) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for e in raw {
            min_x = min_x.min(e[0]).min(e[2]);
            max_x = max_x.max(e[0]).max(e[2]);
            min_y = min_y.min(e[1]).min(e[3]);
            max_y = max_y.max(e[1]).max(e[3]);
        }
        let height = max_y - min_y;
        let strips_for = |n: usize| if height > 0.0 { n as f64 / height } else { 0.0 };
        let span = |inv_h: f64, n: usize, e: &[f64; 4]| {
            let strip_of = |y: f64| -> usize { (((y - min_y) * inv_h) as usize).min(n - 1) };
            (strip_of(e[1].min(e[3])), strip_of(e[1].max(e[3])))
        };
        // An edge is copied into every strip it spans, so tall edges (a comb
        // of vertical teeth) could multiply memory by the strip count: halve
        // the strips until the copies stay within a small multiple of the edges.
        let mut n_strips = (raw.len() / EDGES_PER_STRIP).clamp(1, MAX_STRIPS);
        while n_strips > 1 {
            let inv_h = strips_for(n_strips);
            let copies: usize = raw.iter().map(|e| span(inv_h, n_strips, e)).map(|(a, b)| b - a + 1).sum();
            if copies <= raw.len().saturating_mul(MAX_COPIES_PER_EDGE) {
                break;
            }
            n_strips /= 2;
        }
        let inv_h = strips_for(n_strips);
        let strip_of = |y: f64| -> usize { (((y - min_y) * inv_h) as usize).min(n_strips - 1) };
        // Counting sort into strips keeps each strip's edges contiguous.
        let mut counts = vec![0u32; n_strips + 1];
        for e in raw {
            let (a, b) = (strip_of(e[1].min(e[3])), strip_of(e[1].max(e[3])));
            for c in &mut counts[a..=b] {
                *c += 1;
            }
        }
        let mut starts = vec![0u32; n_strips + 1];
        for s in 0..n_strips {
            starts[s + 1] = starts[s] + counts[s];
        }
        let mut fill: Vec<u32> = starts[..n_strips].to_vec();
        let mut edges = vec![[0.0; 4]; starts[n_strips] as usize];
        for e in raw {
            let (a, b) = (strip_of(e[1].min(e[3])), strip_of(e[1].max(e[3])));
            for f in &mut fill[a..=b] {
                edges[*f as usize] = *e;
                *f += 1;
            }
        }
        Some(Self { min_x, min_y, max_x, max_y, inv_h, starts, edges })
    }

    /// `[min_x, min_y, max_x, max_y]`.
    pub(crate) fn bbox(&self) -> [f64; 4] {
        [self.min_x, self.min_y, self.max_x, self.max_y]
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.starts.capacity() * std::mem::size_of::<u32>() + self.edges.capacity() * std::mem::size_of::<[f64; 4]>()
    }

    /// Whether the point lies inside or exactly on the boundary (even-odd rule
    /// over all rings, so holes and multiple parts work).
    #[inline]
    pub(crate) fn contains(&self, x: f64, y: f64) -> bool {
        // Written as negations so NaN falls out as "not contained".
        if !(x >= self.min_x && x <= self.max_x && y >= self.min_y && y <= self.max_y) {
            return false;
        }
        let n_strips = self.starts.len() - 1;
        let s = (((y - self.min_y) * self.inv_h) as usize).min(n_strips - 1);
        let (lo, hi) = (self.starts[s] as usize, self.starts[s + 1] as usize);
        let mut inside = false;
        for &[x1, y1, x2, y2] in &self.edges[lo..hi] {
            let (ylo, yhi) = if y1 <= y2 { (y1, y2) } else { (y2, y1) };
            if y < ylo || y > yhi {
                continue;
            }
            // Orientation of (edge start, edge end, point): its exact sign
            // decides both "on the edge" and which side of it the point is.
            let cross = orient(x1, y1, x2, y2, x, y);
            if cross == 0.0 && x >= x1.min(x2) && x <= x1.max(x2) {
                return true;
            }
            // Half-open rule (an edge counts if it spans y in [low, high)) so a
            // ray through a vertex is counted once.
            if y1 <= y && y < y2 {
                if cross > 0.0 {
                    inside = !inside;
                }
            } else if y2 <= y && y < y1 && cross < 0.0 {
                inside = !inside;
            }
        }
        inside
    }
}

/// Shewchuk's first-stage error bound for the orientation determinant.
const ORIENT_ERRBOUND: f64 = (3.0 + 16.0 * f64::EPSILON) * f64::EPSILON / 2.0;

/// Sign of the orientation of `(x, y)` relative to the edge (positive: left).
/// The plain determinant is used when its sign is certain; otherwise the
/// exact predicate decides, so boundary membership is exact and agrees with
/// geo's own `Intersects`.
#[inline]
pub(crate) fn orient(x1: f64, y1: f64, x2: f64, y2: f64, x: f64, y: f64) -> f64 {
    let left = (x2 - x1) * (y - y1);
    let right = (y2 - y1) * (x - x1);
    let det = left - right;
    let bound = ORIENT_ERRBOUND * (left.abs() + right.abs());
    if det > bound || -det > bound {
        return det;
    }
    match RobustKernel::orient2d(Coord { x: x1, y: y1 }, Coord { x: x2, y: y2 }, Coord { x, y }) {
        Orientation::CounterClockwise => 1.0,
        Orientation::Clockwise => -1.0,
        Orientation::Collinear => 0.0,
    }
}

/// Every edge of every ring of `mp` as `[x1, y1, x2, y2]`, zero-length edges
/// dropped and open rings closed.
pub(crate) fn edges_of(mp: &MultiPolygon<f64>) -> Vec<[f64; 4]> {
    let mut raw: Vec<[f64; 4]> = Vec::new();
    for poly in &mp.0 {
        for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
            push_ring_edges(&ring.0, &mut raw);
        }
    }
    raw
}

/// Whether `(x, y)` is inside or on the boundary of a polygon, knowing only
/// the polygon's edges that touch a convex cell holding both `(x, y)` and a
/// reference point `(rx, ry)` of known containment `r_inside`.
///
/// The segment from the reference point to the query stays in the cell, so
/// only those edges can cross it: containment flips once per crossing. Every
/// edge must come with the reference point strictly on its left
/// (`orient(edge, r) > 0`), which also guarantees the reference point is not
/// on the boundary. A vertex lying exactly on the segment's line counts as
/// being on its right (as if the segment were shifted by an infinitesimal to
/// the left), so a segment through a vertex is counted once, or twice when it
/// only touches — the same half-open trick as in ray casting. A query point
/// on an edge is inside.
#[inline]
pub(crate) fn cell_contains(
    edges: impl Iterator<Item = [f64; 4]>,
    r_inside: bool,
    rx: f64,
    ry: f64,
    x: f64,
    y: f64,
) -> bool {
    let mut inside = r_inside;
    for [x1, y1, x2, y2] in edges {
        let o = orient(x1, y1, x2, y2, x, y);
        if o > 0.0 {
            // Same side of the edge's line as the reference point: no crossing.
            continue;
        }
        if o == 0.0 {
            // On the edge's line: on the boundary if within the edge; beyond
            // it, the line meets the segment only at the query point, which
            // is then not on this edge, so there is no crossing either.
            if x >= x1.min(x2) && x <= x1.max(x2) && y >= y1.min(y2) && y <= y1.max(y2) {
                return true;
            }
            continue;
        }
        // The edge's line separates the reference point from the query; the
        // edge crosses the segment iff its ends lie on opposite sides of the
        // segment's line.
        let a = orient(rx, ry, x, y, x1, y1) > 0.0;
        let b = orient(rx, ry, x, y, x2, y2) > 0.0;
        if a != b {
            inside = !inside;
        }
    }
    inside
}

fn push_ring_edges(coords: &[Coord<f64>], out: &mut Vec<[f64; 4]>) {
    if coords.len() < 2 {
        return;
    }
    for w in coords.windows(2) {
        if w[0] != w[1] {
            out.push([w[0].x, w[0].y, w[1].x, w[1].y]);
        }
    }
    // Close the ring implicitly if the input left it open.
    if let (Some(first), Some(last)) = (coords.first(), coords.last())
        && first != last
    {
        out.push([last.x, last.y, first.x, first.y]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Contains, Point, polygon};

    #[test]
    fn tall_edges_do_not_multiply_memory() {
        // A comb of 20,000 full-height teeth: with 1,024 strips every edge
        // would be copied into every strip (~650 MB); the strips shrink instead.
        let teeth = 10_000;
        let mut ring = Vec::with_capacity(2 * teeth + 2);
        for k in 0..teeth {
            let x = k as f64;
            ring.push((x, 0.0));
            ring.push((x, 100.0));
            ring.push((x + 0.5, 100.0));
            ring.push((x + 0.5, 0.0));
        }
        ring.push((teeth as f64, -1.0));
        ring.push((0.0, -1.0));
        let poly = geo::Polygon::new(geo::LineString::from(ring), vec![]);
        let mp = MultiPolygon::new(vec![poly.clone()]);
        let prep = PreparedPolygon::new(&mp).unwrap();
        let edges = edges_of(&mp).len();
        assert!(prep.edges.len() <= edges * MAX_COPIES_PER_EDGE, "{} copies of {edges} edges", prep.edges.len());
        for (x, y) in [(0.25, 50.0), (0.75, 50.0), (9_999.25, 99.0), (5.0, -0.5), (5.0, 100.5)] {
            assert_eq!(prep.contains(x, y), poly.contains(&Point::new(x, y)), "{x} {y}");
        }
    }

    #[test]
    fn square_with_hole() {
        let p = polygon!(
            exterior: [(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0)],
            interiors: [[(x: 4.0, y: 4.0), (x: 6.0, y: 4.0), (x: 6.0, y: 6.0), (x: 4.0, y: 6.0)]],
        );
        let prep = PreparedPolygon::new(&MultiPolygon::new(vec![p.clone()])).unwrap();
        assert!(prep.contains(1.0, 1.0));
        assert!(!prep.contains(5.0, 5.0));
        assert!(!prep.contains(11.0, 5.0));
        // Boundary counts as inside, including hole edges and vertices.
        assert!(prep.contains(0.0, 5.0));
        assert!(prep.contains(10.0, 10.0));
        assert!(prep.contains(4.0, 5.0));
        assert!(prep.contains(5.0, 0.0));
        assert!(!prep.contains(f64::NAN, 1.0));
        for i in 0..=100 {
            for j in 0..=100 {
                let (x, y) = (i as f64 * 0.1 + 0.05, j as f64 * 0.1 + 0.03);
                assert_eq!(prep.contains(x, y), p.contains(&Point::new(x, y)), "{x} {y}");
            }
        }
    }

    /// `cell_contains` with every edge of the polygon (the "cell" is the
    /// whole plane) against `contains`, with reference and query points on a
    /// lattice, so segments from the reference point run exactly through
    /// vertices and along edges.
    #[test]
    fn crossing_count_from_a_reference_point_is_exact() {
        let shapes = [
            MultiPolygon::new(vec![polygon!(
                exterior: [(x: 0.0, y: 0.0), (x: 4.0, y: 0.0), (x: 4.0, y: 4.0), (x: 0.0, y: 4.0)],
                interiors: [[(x: 1.0, y: 1.0), (x: 2.0, y: 1.0), (x: 2.0, y: 2.0), (x: 1.0, y: 2.0)]],
            )]),
            // A zigzag with collinear runs, spikes and a vertex touching a
            // second part.
            MultiPolygon::new(vec![
                polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 1.0), (x: 2.0, y: 0.0), (x: 3.0, y: 1.0), (x: 4.0, y: 0.0),
                    (x: 4.0, y: 2.0), (x: 3.0, y: 2.0), (x: 2.0, y: 2.0), (x: 2.0, y: 3.0), (x: 1.0, y: 2.0), (x: 0.0, y: 2.0)],
                polygon![(x: 2.0, y: 3.0), (x: 3.0, y: 4.0), (x: 1.0, y: 4.0)],
            ]),
        ];
        for mp in &shapes {
            let prep = PreparedPolygon::new(mp).unwrap();
            let edges = edges_of(mp);
            let mut references = 0;
            for i in -2..=18 {
                for j in -2..=18 {
                    let (rx, ry) = (i as f64 * 0.25, j as f64 * 0.25);
                    if edges.iter().any(|e| orient(e[0], e[1], e[2], e[3], rx, ry) == 0.0) {
                        continue;
                    }
                    references += 1;
                    let oriented: Vec<[f64; 4]> = edges
                        .iter()
                        .map(|&[a, b, c, d]| if orient(a, b, c, d, rx, ry) > 0.0 { [a, b, c, d] } else { [c, d, a, b] })
                        .collect();
                    let r_inside = prep.contains(rx, ry);
                    for qi in -4..=36 {
                        for qj in -4..=36 {
                            let (x, y) = (qi as f64 * 0.125, qj as f64 * 0.125);
                            let got = cell_contains(oriented.iter().copied(), r_inside, rx, ry, x, y);
                            assert_eq!(got, prep.contains(x, y), "r = ({rx}, {ry}), q = ({x}, {y})");
                        }
                    }
                }
            }
            assert!(references > 100, "{references}");
        }
    }
}
