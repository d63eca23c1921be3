//! Seeded Voronoi partition of a polygon, used to generate synthetic
//! boundaries below district level.
//!
//! Seeds are placed by Lloyd's algorithm on a cloud of random points inside
//! the parent (k-means on samples): cheap, and it keeps seeds inside concave
//! parents where a centroid of a clipped cell might fall outside. Each cell is
//! the seed's convex Voronoi cell (half-plane clipping, O(n²) per parent, with
//! n at most a few dozen) intersected with the parent. The convex cells tile
//! the plane, so the clipped cells partition the parent up to floating-point
//! noise.
//!
//! Work happens in a locally isotropic frame (longitude scaled by cos φ) so
//! cells are round on the ground, not stretched east–west.

use geo::{Area, BooleanOps, BoundingRect, Centroid, Coord, LineString, MultiPolygon, Polygon};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::GeoError;
use crate::prepared::PreparedPolygon;

/// Sample points per seed for the k-means relaxation.
const SAMPLES_PER_SEED: usize = 24;
/// Lloyd rounds; more gives rounder cells but costs O(samples × seeds) each.
const LLOYD_ROUNDS: usize = 3;
/// Host remnants smaller than this share of the host, cut off by a carved
/// piece, are given to the piece.
const CRUMB_SHARE: f64 = 0.05;
/// Neighbours tried, nearest seed first, when re-homing a detached piece.
const ABSORB_CANDIDATES: usize = 64;
/// Pieces of a cell smaller than this share of its largest piece are handed
/// to a neighbour (see [`absorb_detached`]).
const DETACHED_SHARE: f64 = 0.25;

/// Splits `parent` into `n` cells, returned in serial order: north→south
/// rows, west→east within a row.
pub(crate) fn partition(
    code: &str,
    parent: &MultiPolygon<f64>,
    n: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<MultiPolygon<f64>>, GeoError> {
    let err = |message: String| GeoError::Partition { code: code.to_owned(), message };
    if n == 0 {
        return Err(err("asked for zero cells".into()));
    }
    if n == 1 {
        return Ok(vec![parent.clone()]);
    }
    let prepared = PreparedPolygon::new(parent).ok_or_else(|| err("empty or non-finite geometry".into()))?;
    let [min_x, min_y, max_x, max_y] = prepared.bbox();
    let frame = Frame::new((min_y + max_y) / 2.0);

    let samples = sample_inside(&prepared, n * SAMPLES_PER_SEED, rng)
        .ok_or_else(|| err(format!("could not place {n} seeds inside it")))?;
    let samples: Vec<[f64; 2]> = samples.into_iter().map(|p| frame.fwd(p)).collect();
    let seeds = relax(&samples, n, &prepared, &frame);

    // Cells are cut from exactly the parent's box (clamped back into it after
    // the frame round trip), so every overlay below sees the same bounding
    // box. i_overlay snaps to a grid derived from that box, so neighbours'
    // shared edges snap identically and the cells meet without slivers.
    let (lo, hi) = (frame.fwd([min_x, min_y]), frame.fwd([max_x, max_y]));
    let frame_rect = [lo[0], lo[1], hi[0], hi[1]];

    let mut cells: Vec<MultiPolygon<f64>> = Vec::with_capacity(n);
    for i in 0..n {
        let ring = voronoi_cell(i, &seeds, frame_rect);
        let coords: Vec<Coord<f64>> = ring
            .iter()
            .map(|p| {
                let [x, y] = frame.back(*p);
                Coord { x: x.clamp(min_x, max_x), y: y.clamp(min_y, max_y) }
            })
            .collect();
        let cell = Polygon::new(LineString::new(coords), vec![]);
        cells.push(parent.intersection(&cell));
    }
    absorb_detached(&mut cells, &seeds, &frame);
    if let Some(i) = cells.iter().position(|c| c.0.is_empty()) {
        return Err(err(format!("cell {i} came out empty")));
    }
    let order = row_order(&cells, n, [lo, hi], &frame);
    Ok(order.into_iter().map(|i| std::mem::replace(&mut cells[i], MultiPolygon::new(vec![]))).collect())
}

/// Carves a contiguous piece of about `share` of `host`'s area around
/// `anchor`: the largest part of `host` ∩ disc, with the disc's radius found
/// by bisection. Returns `(piece, host minus piece)`; crumbs of the host that
/// the piece cuts off join the piece.
pub(crate) fn carve(
    code: &str,
    host: &MultiPolygon<f64>,
    anchor: [f64; 2],
    share: f64,
) -> Result<(MultiPolygon<f64>, MultiPolygon<f64>), GeoError> {
    let err = |message: String| GeoError::Partition { code: code.to_owned(), message };
    let rect = host.bounding_rect().ok_or_else(|| err("host has no geometry".into()))?;
    let frame = Frame::new(anchor[1]);
    let target = host.unsigned_area() * share;
    let a = frame.fwd(anchor);
    let piece_for = |r: f64| -> MultiPolygon<f64> {
        const SIDES: usize = 96;
        let ring: Vec<Coord<f64>> = (0..SIDES)
            .map(|k| {
                let t = k as f64 / SIDES as f64 * std::f64::consts::TAU;
                let [x, y] = frame.back([a[0] + r * t.cos(), a[1] + r * t.sin()]);
                Coord { x, y }
            })
            .collect();
        let disc = Polygon::new(LineString::new(ring), vec![]);
        largest_part(host.intersection(&disc))
    };
    let (mut lo, mut hi) = (0.0, (rect.width() + rect.height()) * 2.0);
    for _ in 0..40 {
        let mid = (lo + hi) / 2.0;
        if piece_for(mid).unsigned_area() < target {
            lo = mid;
        } else {
            hi = mid;
        }
        if (hi - lo) < 1e-6 {
            break;
        }
    }
    let piece = piece_for(hi);
    if piece.0.is_empty() {
        return Err(err(format!("anchor {anchor:?} is not inside the host")));
    }
    let mut piece = piece;
    let mut rest_parts: Vec<(f64, Polygon<f64>)> =
        host.difference(&piece).0.into_iter().map(|p| (p.unsigned_area(), p)).collect();
    rest_parts.sort_by(|a, b| b.0.total_cmp(&a.0));
    let rest_area: f64 = rest_parts.iter().map(|p| p.0).sum();
    // Crumbs of the host cut off by the piece go to the piece, so the host
    // is not left with stray fragments; bigger remainders stay with the host.
    let mut rest = Vec::new();
    for (k, (area, part)) in rest_parts.into_iter().enumerate() {
        if k > 0 && area < rest_area * CRUMB_SHARE {
            let merged = piece.union(&part);
            if merged.0.len() <= piece.0.len() {
                piece = merged;
                continue;
            }
        }
        rest.push(part);
    }
    Ok((piece, MultiPolygon::new(rest)))
}

fn largest_part(mp: MultiPolygon<f64>) -> MultiPolygon<f64> {
    let best = mp.0.into_iter().map(|p| (p.unsigned_area(), p)).max_by(|a, b| a.0.total_cmp(&b.0));
    MultiPolygon::new(best.map(|(_, p)| vec![p]).unwrap_or_default())
}

/// A locally isotropic frame: x scaled by cos φ so distances are about right
/// on the ground.
struct Frame {
    kx: f64,
}

impl Frame {
    fn new(lat: f64) -> Self {
        Self { kx: lat.to_radians().cos().max(1e-6) }
    }
    fn fwd(&self, [x, y]: [f64; 2]) -> [f64; 2] {
        [x * self.kx, y]
    }
    fn back(&self, [x, y]: [f64; 2]) -> [f64; 2] {
        [x / self.kx, y]
    }
}

/// `count` uniform random points inside `prepared` (rejection sampling from its box).
fn sample_inside(prepared: &PreparedPolygon, count: usize, rng: &mut ChaCha8Rng) -> Option<Vec<[f64; 2]>> {
    let [min_x, min_y, max_x, max_y] = prepared.bbox();
    let mut out = Vec::with_capacity(count);
    let max_tries = count.saturating_mul(1000);
    let mut tries = 0usize;
    while out.len() < count {
        tries += 1;
        if tries > max_tries {
            return None;
        }
        let x = min_x + (max_x - min_x) * rng.random::<f64>();
        let y = min_y + (max_y - min_y) * rng.random::<f64>();
        if prepared.contains(x, y) {
            out.push([x, y]);
        }
    }
    Some(out)
}

fn dist2(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}

/// Lloyd's algorithm on the sample cloud; seeds stay on distinct points
/// inside the parent.
fn relax(samples: &[[f64; 2]], n: usize, prepared: &PreparedPolygon, frame: &Frame) -> Vec<[f64; 2]> {
    let mut seeds: Vec<[f64; 2]> = samples[..n].to_vec();
    let mut owner = vec![0usize; samples.len()];
    for _ in 0..LLOYD_ROUNDS {
        for (k, s) in samples.iter().enumerate() {
            owner[k] = nearest(&seeds, *s);
        }
        let mut sum = vec![[0.0f64; 3]; n];
        for (k, s) in samples.iter().enumerate() {
            let acc = &mut sum[owner[k]];
            acc[0] += s[0];
            acc[1] += s[1];
            acc[2] += 1.0;
        }
        for (i, acc) in sum.iter().enumerate() {
            if acc[2] == 0.0 {
                continue;
            }
            let mean = [acc[0] / acc[2], acc[1] / acc[2]];
            let [x, y] = frame.back(mean);
            seeds[i] = if prepared.contains(x, y) {
                mean
            } else {
                // A concave parent can put the mean outside: use the closest own sample.
                samples
                    .iter()
                    .zip(&owner)
                    .filter(|(_, o)| **o == i)
                    .map(|(s, _)| *s)
                    .min_by(|a, b| dist2(*a, mean).total_cmp(&dist2(*b, mean)))
                    .unwrap_or(seeds[i])
            };
        }
    }
    // Coincident seeds would make a degenerate bisector; move duplicates to unused samples.
    let mut spare = samples.iter().skip(n);
    for i in 1..n {
        while seeds[..i].iter().any(|s| dist2(*s, seeds[i]) < 1e-20) {
            match spare.next() {
                Some(s) => seeds[i] = *s,
                None => break,
            }
        }
    }
    seeds
}

fn nearest(seeds: &[[f64; 2]], p: [f64; 2]) -> usize {
    let mut best = (f64::MAX, 0);
    for (i, s) in seeds.iter().enumerate() {
        let d = dist2(*s, p);
        if d < best.0 {
            best = (d, i);
        }
    }
    best.1
}

/// The convex Voronoi cell of `seeds[i]` within `rect`, as an open ring.
fn voronoi_cell(i: usize, seeds: &[[f64; 2]], rect: [f64; 4]) -> Vec<[f64; 2]> {
    let si = seeds[i];
    let mut poly = vec![[rect[0], rect[1]], [rect[2], rect[1]], [rect[2], rect[3]], [rect[0], rect[3]]];
    let mut others: Vec<(f64, usize)> =
        (0..seeds.len()).filter(|&j| j != i).map(|j| (dist2(si, seeds[j]), j)).collect();
    others.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut reach2 = poly.iter().map(|v| dist2(si, *v)).fold(0.0, f64::max);
    for (d2, j) in others {
        // A bisector farther than the cell's farthest vertex cannot cut it.
        if d2 / 4.0 > reach2 {
            break;
        }
        let sj = seeds[j];
        let d = [sj[0] - si[0], sj[1] - si[1]];
        let m = [(si[0] + sj[0]) / 2.0, (si[1] + sj[1]) / 2.0];
        poly = clip_half_plane(&poly, d, m);
        reach2 = poly.iter().map(|v| dist2(si, *v)).fold(0.0, f64::max);
    }
    poly
}

/// Keeps the part of convex `poly` where `(p - m) · d <= 0` (Sutherland–Hodgman).
fn clip_half_plane(poly: &[[f64; 2]], d: [f64; 2], m: [f64; 2]) -> Vec<[f64; 2]> {
    let side = |p: [f64; 2]| (p[0] - m[0]) * d[0] + (p[1] - m[1]) * d[1];
    let mut out = Vec::with_capacity(poly.len() + 1);
    for k in 0..poly.len() {
        let a = poly[k];
        let b = poly[(k + 1) % poly.len()];
        let (sa, sb) = (side(a), side(b));
        if sa <= 0.0 {
            out.push(a);
        }
        if (sa < 0.0 && sb > 0.0) || (sa > 0.0 && sb < 0.0) {
            let t = sa / (sa - sb);
            out.push([a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]);
        }
    }
    out
}

/// A concave parent can leave a cell in several pieces. A small piece away
/// from the cell's main body is moved to the cell whose seed is the next
/// nearest (its Voronoi neighbour across that piece), so cells stay mostly
/// contiguous; the partition stays complete because the piece only changes owner.
fn absorb_detached(cells: &mut [MultiPolygon<f64>], seeds: &[[f64; 2]], frame: &Frame) {
    let n = cells.len();
    for i in 0..n {
        if cells[i].0.len() < 2 {
            continue;
        }
        let mut parts: Vec<(f64, Polygon<f64>)> =
            std::mem::take(&mut cells[i].0).into_iter().map(|p| (p.unsigned_area(), p)).collect();
        parts.sort_by(|a, b| b.0.total_cmp(&a.0));
        let main_area = parts[0].0;
        let mut keep = Vec::new();
        for (k, (area, part)) in parts.into_iter().enumerate() {
            if k == 0 || area > main_area * DETACHED_SHARE {
                keep.push(part);
                continue;
            }
            let Some(c) = part.centroid() else {
                keep.push(part);
                continue;
            };
            let p = frame.fwd([c.x(), c.y()]);
            let mut near: Vec<usize> = (0..n).filter(|&j| j != i).collect();
            near.sort_by(|&a, &b| dist2(seeds[a], p).total_cmp(&dist2(seeds[b], p)).then(a.cmp(&b)));
            let piece_box = part.bounding_rect();
            let mut homed = false;
            for &j in near.iter().take(ABSORB_CANDIDATES) {
                let touches_box = match (piece_box, cells[j].bounding_rect()) {
                    (Some(a), Some(b)) => {
                        a.min().x <= b.max().x
                            && b.min().x <= a.max().x
                            && a.min().y <= b.max().y
                            && b.min().y <= a.max().y
                    }
                    _ => false,
                };
                if !touches_box {
                    continue;
                }
                let merged = cells[j].union(&part);
                // Only accept when the piece actually joins the neighbour.
                if merged.0.len() <= cells[j].0.len() {
                    cells[j] = merged;
                    homed = true;
                    break;
                }
            }
            if !homed {
                keep.push(part);
            }
        }
        cells[i] = MultiPolygon::new(keep);
    }
}

/// Serial order: rows of about square cells from north to south, west to east in a row.
fn row_order(cells: &[MultiPolygon<f64>], n: usize, [lo, hi]: [[f64; 2]; 2], frame: &Frame) -> Vec<usize> {
    let (w, h) = ((hi[0] - lo[0]).max(1e-12), (hi[1] - lo[1]).max(1e-12));
    let rows = ((n as f64 * h / w).sqrt().round() as usize).max(1);
    let band_h = h / rows as f64;
    let mut keyed: Vec<(usize, f64, usize)> = cells
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let p = c.centroid().map(|p| frame.fwd([p.x(), p.y()])).unwrap_or(lo);
            let band = (((hi[1] - p[1]) / band_h).floor().max(0.0) as usize).min(rows - 1);
            (band, p[0], i)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
    keyed.into_iter().map(|k| k.2).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;
    use rand::SeedableRng;

    #[test]
    fn partition_of_a_square_covers_it() {
        let sq = MultiPolygon::new(vec![polygon![
            (x: 118.0, y: 31.0), (x: 118.1, y: 31.0), (x: 118.1, y: 31.1), (x: 118.0, y: 31.1)
        ]]);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let cells = partition("t", &sq, 7, &mut rng).unwrap();
        assert_eq!(cells.len(), 7);
        let total: f64 = cells.iter().map(|c| c.unsigned_area()).sum();
        assert!((total - sq.unsigned_area()).abs() < 1e-9 * sq.unsigned_area().max(1.0));
        // Pairwise overlaps are noise only.
        for i in 0..7 {
            for j in i + 1..7 {
                assert!(cells[i].intersection(&cells[j]).unsigned_area() < 1e-12);
            }
        }
    }

    #[test]
    fn carve_takes_the_requested_share() {
        let sq = MultiPolygon::new(vec![polygon![
            (x: 118.0, y: 31.0), (x: 118.2, y: 31.0), (x: 118.2, y: 31.2), (x: 118.0, y: 31.2)
        ]]);
        let (piece, rest) = carve("t", &sq, [118.05, 31.05], 0.3).unwrap();
        let share = piece.unsigned_area() / sq.unsigned_area();
        assert!((share - 0.3).abs() < 0.01, "{share}");
        assert!((piece.unsigned_area() + rest.unsigned_area() - sq.unsigned_area()).abs() < 1e-9);
    }
}
