//! `citygrid-bench locate`: point location on the Wuhu demo, in one run.
//!
//! - index build time (median of several builds) and memory, for the demo
//!   and for denser territories made from it by cutting every grid into 2 and
//!   4 pieces (exact cuts, so the pieces tile each grid and keep its
//!   real-shaped boundary);
//! - single-thread full-chain locates per second (`locate_chain`, reading
//!   every code of the chain) over random points in the city's bounding box
//!   and over points inside the city, and the same on every core;
//! - a naive reference on a subsample: every unit polygon tested with the
//!   `geo` crate's `Contains`, the chain built from the hits; and a less
//!   naive one, the top-down descent with bounding-box checks; both checked
//!   against the index's answers;
//! - with `--postgis`, the same grid polygons and points loaded into PostGIS
//!   (through `psql`) and a set-based `ST_Contains` join timed against
//!   CityGrid building its index and locating every point;
//! - `citygrid locate` end to end on a file of the same points.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use citygrid_domain::{Level, Point, Unit, UnitCode};
use citygrid_geo::{TerritoryFeature, TerritoryIndex};
use citygrid_server::world::stored_unit;
use citygrid_store::prelude::*;
use citygrid_store_sqlite::{SqliteOptions, SqliteStore};
use geo::{BoundingRect, Contains, Coord, LineString, MultiPolygon, Polygon};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use citygrid::bootstrap::cli_event;

use crate::machine::{machine, median};

/// Options of `citygrid bench locate`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Random points per locate timing (also sent to PostGIS and `citygrid locate`).
    #[arg(long, default_value_t = 1_000_000)]
    pub points: usize,
    /// Points for the naive references (they test many polygons per point).
    #[arg(long, default_value_t = 2_000)]
    pub naive_points: usize,
    /// Index builds per territory; the median is reported.
    #[arg(long, default_value_t = 7)]
    pub builds: usize,
    /// Timed passes over the points; the median is reported.
    #[arg(long, default_value_t = 5)]
    pub passes: usize,
    /// Seed of the random points.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also run the PostGIS comparison (run crates/bench/scripts/postgis_locate.sh, which
    /// installs and enables PostGIS first).
    #[arg(long)]
    pub postgis: bool,
    /// libpq connection string for the PostGIS comparison.
    #[arg(long, default_value = "host=127.0.0.1 port=5432 user=postgres dbname=test")]
    pub pg: String,
    /// The psql binary.
    #[arg(long, default_value = "psql")]
    pub psql: String,
    /// Timed runs of the PostGIS join and of `citygrid locate`; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Skip timing `citygrid locate` end to end.
    #[arg(long)]
    pub no_cli: bool,
    /// The `citygrid` binary timed end to end (default: beside this one).
    #[arg(long, default_value_os_t = crate::machine::citygrid_binary())]
    pub citygrid: PathBuf,
}

/// Runs the benchmark and returns the Markdown report.
pub async fn run(args: Args) -> Result<String, String> {
    let a = args.clone();
    let (mut report, data) = tokio::task::spawn_blocking(move || in_memory(&a)).await.map_err(|e| e.to_string())??;
    if args.postgis {
        let a = args.clone();
        let d = data.clone();
        let section = tokio::task::spawn_blocking(move || postgis(&a, &d)).await.map_err(|e| e.to_string())??;
        report.push_str(&section);
    }
    if !args.no_cli {
        report.push_str(&cli_end_to_end(&args, &data).await?);
    }
    Ok(report)
}

/// What the later sections reuse from the in-memory one.
#[derive(Clone)]
struct Data {
    demo: std::sync::Arc<Vec<TerritoryFeature>>,
    bbox_points: std::sync::Arc<Vec<Point>>,
}

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)))
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Thousands separators, for the report.
fn group(n: f64) -> String {
    let s = format!("{:.0}", n.max(0.0));
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Sums a byte of every code in the chain so that the locate and the read of
/// its codes cannot be optimised away.
#[inline]
fn chain_checksum(index: &TerritoryIndex, p: Point) -> u64 {
    index.locate_chain(p).map_or(0, |c| c.codes().map(|code| u64::from(code.as_str().as_bytes()[0])).sum())
}

/// Seconds for one single-thread pass of full-chain locates.
fn chain_pass(index: &TerritoryIndex, points: &[Point]) -> f64 {
    let t = Instant::now();
    let mut sum = 0u64;
    for &p in points {
        sum = sum.wrapping_add(chain_checksum(index, std::hint::black_box(p)));
    }
    std::hint::black_box(sum);
    t.elapsed().as_secs_f64()
}

/// Seconds for one pass split over `threads` threads.
fn chain_pass_parallel(index: &TerritoryIndex, points: &[Point], threads: usize) -> f64 {
    let t = Instant::now();
    let chunk = points.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = points
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().fold(0u64, |acc, &p| acc.wrapping_add(chain_checksum(index, p)))))
            .collect();
        for h in handles {
            std::hint::black_box(h.join().unwrap_or(0));
        }
    });
    t.elapsed().as_secs_f64()
}

/// Median points per second over `passes` passes.
fn rate(passes: usize, n: usize, mut pass: impl FnMut() -> f64) -> f64 {
    let secs: Vec<f64> = (0..passes.max(1)).map(|_| pass()).collect();
    n as f64 / median(secs).max(1e-12)
}

/// Median build time in seconds, with min and max, and the last index.
fn builds(features: &[TerritoryFeature], n: usize) -> Result<(f64, f64, f64, TerritoryIndex), String> {
    let mut times = Vec::with_capacity(n);
    let mut last = None;
    for _ in 0..n.max(1) {
        let t = Instant::now();
        let idx = TerritoryIndex::build(features).map_err(|e| e.to_string())?;
        times.push(t.elapsed().as_secs_f64());
        last = Some(idx);
    }
    let (lo, hi) = min_max(&times);
    let idx = last.ok_or("no build")?;
    Ok((median(times), lo, hi, idx))
}

fn count_level(features: &[TerritoryFeature], level: Level) -> usize {
    features.iter().filter(|f| f.unit.level == level).count()
}

/// Vertices of all rings of a boundary (closing vertices not counted).
fn vertices(mp: &MultiPolygon<f64>) -> usize {
    mp.0.iter()
        .map(|p| std::iter::once(p.exterior()).chain(p.interiors()).map(|r| r.0.len().saturating_sub(1)).sum::<usize>())
        .sum()
}

fn mean_vertices(features: &[TerritoryFeature], level: Level) -> f64 {
    let (n, v) = features
        .iter()
        .filter(|f| f.unit.level == level)
        .fold((0usize, 0usize), |(n, v), f| (n + 1, v + vertices(&f.geometry)));
    v as f64 / n.max(1) as f64
}

/// Which side of a cut line is kept.
#[derive(Clone, Copy)]
enum Side {
    /// `x ≤ c`.
    West,
    /// `x ≥ c`.
    East,
    /// `y ≤ c`.
    South,
    /// `y ≥ c`.
    North,
}

/// Clips a closed ring to a half-plane (Sutherland–Hodgman). Crossing
/// points are computed from the edge's endpoints in a fixed order, so the
/// two sides of a cut get bit-identical vertices on it and tile the ring
/// exactly; a concave ring may leave zero-width bridges along the cut,
/// which cancel out under the even-odd rule.
fn clip_ring(ring: &LineString<f64>, side: Side, c: f64) -> Vec<Coord<f64>> {
    let on_x = matches!(side, Side::West | Side::East);
    let axis = |p: Coord<f64>| if on_x { p.x } else { p.y };
    let inside = |p: Coord<f64>| match side {
        Side::West | Side::South => axis(p) <= c,
        Side::East | Side::North => axis(p) >= c,
    };
    let cross = |s: Coord<f64>, e: Coord<f64>| {
        let (a, b) = if (s.x, s.y) <= (e.x, e.y) { (s, e) } else { (e, s) };
        let t = (c - axis(a)) / (axis(b) - axis(a));
        if on_x { Coord { x: c, y: a.y + t * (b.y - a.y) } } else { Coord { x: a.x + t * (b.x - a.x), y: c } }
    };
    let mut out: Vec<Coord<f64>> = Vec::with_capacity(ring.0.len() + 4);
    let mut push = |p: Coord<f64>| {
        if out.last() != Some(&p) {
            out.push(p);
        }
    };
    for w in ring.0.windows(2) {
        let (s, e) = (w[0], w[1]);
        match (inside(s), inside(e)) {
            (true, true) => push(e),
            (true, false) => push(cross(s, e)),
            (false, true) => {
                push(cross(s, e));
                push(e);
            }
            (false, false) => {}
        }
    }
    if out.len() >= 3 && out.first() != out.last() {
        let first = out[0];
        out.push(first);
    }
    if out.len() < 4 { Vec::new() } else { out }
}

fn clip(mp: &MultiPolygon<f64>, side: Side, c: f64) -> MultiPolygon<f64> {
    let polygons =
        mp.0.iter()
            .filter_map(|p| {
                let exterior = clip_ring(p.exterior(), side, c);
                if exterior.is_empty() {
                    return None;
                }
                let holes = p
                    .interiors()
                    .iter()
                    .map(|r| clip_ring(r, side, c))
                    .filter(|r| !r.is_empty())
                    .map(LineString::from)
                    .collect();
                Some(Polygon::new(LineString::from(exterior), holes))
            })
            .collect();
    MultiPolygon::new(polygons)
}

/// The demo with every grid cut into `pieces` (2: east and west halves at
/// the middle of its box; 4: quarters), renumbered within each community,
/// micro-grids dropped. Everything above grid level is unchanged.
fn denser(demo: &[TerritoryFeature], pieces: usize) -> Result<Vec<TerritoryFeature>, String> {
    let mut out: Vec<TerritoryFeature> =
        demo.iter().filter(|f| !matches!(f.unit.level, Level::Grid | Level::MicroGrid)).cloned().collect();
    let mut serial: HashMap<UnitCode, u32> = HashMap::new();
    for g in demo.iter().filter(|f| f.unit.level == Level::Grid) {
        let Some(community) = g.unit.parent.clone() else { continue };
        let Some(r) = g.geometry.bounding_rect() else { continue };
        let (cx, cy) = ((r.min().x + r.max().x) / 2.0, (r.min().y + r.max().y) / 2.0);
        let halves = [clip(&g.geometry, Side::West, cx), clip(&g.geometry, Side::East, cx)];
        let parts: Vec<MultiPolygon<f64>> = if pieces >= 4 {
            halves.iter().flat_map(|h| [clip(h, Side::South, cy), clip(h, Side::North, cy)]).collect()
        } else {
            halves.to_vec()
        };
        for geometry in parts.into_iter().filter(|m| !m.0.is_empty()) {
            let k = serial.entry(community.clone()).or_insert(0);
            *k += 1;
            let code = community.child_code(*k).ok_or_else(|| format!("no grid code {k} under {community}"))?;
            out.push(TerritoryFeature {
                unit: Unit {
                    level: Level::Grid,
                    parent: Some(community.clone()),
                    name: format!("{} piece {k}", g.unit.name),
                    code,
                    ..g.unit.clone()
                },
                geometry,
            });
        }
    }
    out.sort_by(|a, b| a.unit.code.cmp(&b.unit.code));
    Ok(out)
}

/// The naive reference: every unit polygon tested with `geo`'s `Contains`,
/// then the chain read off the hits by the index's rule (from the root
/// down, the hit child with the smallest code).
struct Naive<'a> {
    features: &'a [TerritoryFeature],
    /// Parent's position, `None` for roots.
    parent: Vec<Option<usize>>,
    children: Vec<Vec<usize>>,
    roots: Vec<usize>,
    boxes: Vec<[f64; 4]>,
}

impl<'a> Naive<'a> {
    /// `features` sorted by code.
    fn new(features: &'a [TerritoryFeature]) -> Self {
        let position: HashMap<&UnitCode, usize> = features.iter().enumerate().map(|(i, f)| (&f.unit.code, i)).collect();
        let parent: Vec<Option<usize>> =
            features.iter().map(|f| f.unit.parent.as_ref().and_then(|p| position.get(p).copied())).collect();
        let mut children = vec![Vec::new(); features.len()];
        let mut roots = Vec::new();
        for (i, p) in parent.iter().enumerate() {
            match p {
                Some(p) => children[*p].push(i),
                None => roots.push(i),
            }
        }
        let boxes = features
            .iter()
            .map(|f| f.geometry.bounding_rect().map_or([f64::NAN; 4], |r| [r.min().x, r.min().y, r.max().x, r.max().y]))
            .collect();
        Naive { features, parent, children, roots, boxes }
    }

    /// Every polygon tested, no shortcut.
    fn chain_every_polygon(&self, p: Point) -> Vec<usize> {
        let pt = geo::Point::new(p.lon, p.lat);
        let hits: Vec<usize> =
            self.features.iter().enumerate().filter(|(_, f)| f.geometry.contains(&pt)).map(|(i, _)| i).collect();
        let mut chain = Vec::new();
        let mut cur: Option<usize> = None;
        // Hits are in code order, so the first hit under `cur` has the smallest code.
        while let Some(&next) = hits.iter().find(|&&h| self.parent[h] == cur) {
            chain.push(next);
            cur = Some(next);
        }
        chain
    }

    /// The top-down descent, children tested in code order after a box check.
    fn chain_descent(&self, p: Point) -> Vec<usize> {
        let pt = geo::Point::new(p.lon, p.lat);
        let mut chain = Vec::new();
        let mut level = &self.roots;
        while let Some(&next) = level.iter().find(|&&i| {
            let [x0, y0, x1, y1] = self.boxes[i];
            p.lon >= x0 && p.lon <= x1 && p.lat >= y0 && p.lat <= y1 && self.features[i].geometry.contains(&pt)
        }) {
            chain.push(next);
            level = &self.children[next];
        }
        chain
    }

    fn codes(&self, chain: &[usize]) -> Vec<&'a UnitCode> {
        chain.iter().map(|&i| &self.features[i].unit.code).collect()
    }
}

fn index_codes(index: &TerritoryIndex, p: Point) -> Vec<&UnitCode> {
    index.locate_chain(p).map(|c| c.codes().collect()).unwrap_or_default()
}

/// Random points uniformly in a box.
fn random_points(rng: &mut ChaCha8Rng, r: [f64; 4], n: usize) -> Vec<Point> {
    (0..n)
        .map(|_| Point {
            lon: r[0] + (r[2] - r[0]) * rng.random::<f64>(),
            lat: r[1] + (r[3] - r[1]) * rng.random::<f64>(),
        })
        .collect()
}

/// Everything that runs in memory: builds, locate rates, naive references.
fn in_memory(args: &Args) -> Result<(String, Data), String> {
    let mut s = String::new();
    let t = Instant::now();
    let mut demo = citygrid_geo::wuhu_demo(0).map_err(|e| e.to_string())?;
    demo.sort_by(|a, b| a.unit.code.cmp(&b.unit.code));
    let gen_s = t.elapsed().as_secs_f64();
    let city = citygrid_geo::wuhu_city_outline().map_err(|e| e.to_string())?;
    let r = city.bounding_rect().ok_or("the city outline is empty")?;
    let bbox = [r.min().x, r.min().y, r.max().x, r.max().y];

    let _ = writeln!(s, "## citygrid-bench locate\n\n{}, single-threaded unless stated\n", machine());

    // Index build and memory.
    let (demo_med, demo_lo, demo_hi, index) = builds(&demo, args.builds)?;
    let mut sets = vec![("Wuhu demo (seed 0)".to_owned(), demo.clone(), demo_med, demo_lo, demo_hi, index.stats())];
    for pieces in [2, 4] {
        let dense = denser(&demo, pieces)?;
        let (med, lo, hi, idx) = builds(&dense, args.builds)?;
        sets.push((format!("demo, every grid cut in {pieces}"), dense, med, lo, hi, idx.stats()));
    }
    let _ = writeln!(
        s,
        "### Index build (`TerritoryIndex::build`, median of {} builds; generating the demo took {:.0} ms)\n",
        args.builds.max(1),
        gen_s * 1e3
    );
    s.push_str(
        "| territory | units | grids + micro-grids | mean vertices per grid | edges | cells (mixed) | build median (min–max) | memory (`stats().bytes`) |\n|---|---|---|---|---|---|---|---|\n",
    );
    for (name, f, med, lo, hi, st) in &sets {
        let _ = writeln!(
            s,
            "| {name} | {} | {} + {} | {:.1} | {} | {} ({}) | **{:.1} ms** ({:.1}–{:.1}) | **{:.1} MiB** |",
            group(f.len() as f64),
            group(count_level(f, Level::Grid) as f64),
            group(count_level(f, Level::MicroGrid) as f64),
            mean_vertices(f, Level::Grid),
            group(st.edges as f64),
            group((st.resolved_cells + st.mixed_cells) as f64),
            group(st.mixed_cells as f64),
            med * 1e3,
            lo * 1e3,
            hi * 1e3,
            mib(st.bytes),
        );
    }
    s.push_str(
        "\nThe denser territories are the demo with every grid cut exactly at the middle of its bounding box (west/east, \
         then south/north), so the pieces keep the grids' real-shaped outer boundaries and tile them; everything above \
         grid level is the demo's.\n\n",
    );

    // Locate throughput.
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let bbox_points = random_points(&mut rng, bbox, args.points);
    let mut inside = Vec::with_capacity(args.points);
    while inside.len() < args.points {
        let more = random_points(&mut rng, bbox, args.points);
        inside.extend(more.into_iter().filter(|p| index.locate_deepest(*p).is_some()).take(args.points - inside.len()));
    }
    let located = bbox_points.iter().filter(|p| index.locate_deepest(**p).is_some()).count();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let _ = writeln!(
        s,
        "### Full-chain locates (`locate_chain`, every code of the chain read), {} random points, median of {} passes\n",
        group(args.points as f64),
        args.passes.max(1)
    );
    let _ =
        writeln!(s, "| territory | points | mean chain length | 1 thread, locates/s | {cores} threads, locates/s |");
    s.push_str("|---|---|---|---|---|\n");
    let mut single_rates = Vec::new();
    for (name, f, _, _, _, _) in &sets {
        let idx = TerritoryIndex::build(f).map_err(|e| e.to_string())?;
        for (what, pts) in [("uniform in the city's bounding box", &bbox_points), ("inside the city", &inside)] {
            let one = rate(args.passes, pts.len(), || chain_pass(&idx, pts));
            let all = rate(args.passes, pts.len(), || chain_pass_parallel(&idx, pts, cores));
            single_rates.push(one);
            let _ =
                writeln!(s, "| {name} | {what} | {:.2} | **{}** | {} |", depth_of(&idx, pts), group(one), group(all));
        }
    }
    let _ = writeln!(
        s,
        "\n{} of the {} bounding-box points are inside the city. Target ≥ 5,000,000 locates/s per core: {}.\n",
        group(located as f64),
        group(args.points as f64),
        if single_rates.iter().take(2).all(|&r| r >= 5e6) { "met on the demo" } else { "**missed** on the demo" }
    );

    // Naive references.
    let naive = Naive::new(&demo);
    let sample: Vec<Point> = inside.iter().copied().take(args.naive_points).collect();
    let bbox_sample: Vec<Point> = bbox_points.iter().copied().take(args.naive_points).collect();
    let t = Instant::now();
    let naive_chains: Vec<Vec<usize>> = sample.iter().map(|p| naive.chain_every_polygon(*p)).collect();
    let naive_rate = sample.len() as f64 / t.elapsed().as_secs_f64().max(1e-12);
    let t = Instant::now();
    let descent_chains: Vec<Vec<usize>> = sample.iter().map(|p| naive.chain_descent(*p)).collect();
    let descent_rate = sample.len() as f64 / t.elapsed().as_secs_f64().max(1e-12);
    // The index's rate over all the inside points (from the table above), not
    // over the subsample: a few thousand points would all sit in cache.
    let index_rate = single_rates.get(1).copied().unwrap_or(0.0);
    let mismatch = |chains: &[Vec<usize>], pts: &[Point]| {
        chains.iter().zip(pts).filter(|(c, p)| naive.codes(c) != index_codes(&index, **p)).count()
    };
    let naive_bad = mismatch(&naive_chains, &sample);
    let descent_bad = mismatch(&descent_chains, &sample);
    let bbox_bad =
        bbox_sample.iter().filter(|p| naive.codes(&naive.chain_descent(**p)) != index_codes(&index, **p)).count();
    let _ = writeln!(
        s,
        "### Naive references ({} points inside the city, the first of the set above)\n\n\
         | method | locates/s | index is faster by | chains differing from the index |\n|---|---|---|---|\n\
         | every one of the {} unit polygons tested with `geo::Contains`, chain built from the hits | {} | **{:.0}×** | {naive_bad} |\n\
         | top-down descent: children's bounding boxes, then `geo::Contains` | {} | **{:.0}×** | {descent_bad} |\n\
         | `TerritoryIndex::locate_chain` (all {} inside points, as above) | {} | — | — |\n\n\
         The descent also agrees with the index on {} of {} points uniform in the bounding box. Target ≥ 20× over the \
         naive loop: {}. (`geo::Contains` leaves out the boundary while the index includes it; on random points this \
         never matters.)\n",
        group(sample.len() as f64),
        group(demo.len() as f64),
        group(naive_rate),
        index_rate / naive_rate.max(1e-12),
        group(descent_rate),
        index_rate / descent_rate.max(1e-12),
        group(inside.len() as f64),
        group(index_rate),
        group((bbox_sample.len() - bbox_bad) as f64),
        group(bbox_sample.len() as f64),
        if index_rate >= 20.0 * naive_rate { "met" } else { "**missed**" },
    );
    let data = Data { demo: std::sync::Arc::new(demo), bbox_points: std::sync::Arc::new(bbox_points) };
    Ok((s, data))
}

fn depth_of(index: &TerritoryIndex, pts: &[Point]) -> f64 {
    pts.iter().map(|p| index.locate_chain(*p).map_or(0, |c| c.len())).sum::<usize>() as f64 / pts.len().max(1) as f64
}

/// WKT of a boundary with every coordinate written exactly (Rust prints the
/// shortest decimal that reads back to the same double).
fn wkt(mp: &MultiPolygon<f64>) -> String {
    let mut s = String::from("MULTIPOLYGON(");
    for (i, p) in mp.0.iter().enumerate() {
        s.push_str(if i == 0 { "(" } else { ",(" });
        for (j, ring) in std::iter::once(p.exterior()).chain(p.interiors()).enumerate() {
            s.push_str(if j == 0 { "(" } else { ",(" });
            for (k, c) in ring.0.iter().enumerate() {
                if k > 0 {
                    s.push(',');
                }
                let _ = write!(s, "{} {}", c.x, c.y);
            }
            s.push(')');
        }
        s.push(')');
    }
    s.push(')');
    s
}

fn psql(args: &Args, script: &Path) -> Result<(String, f64), String> {
    let t = Instant::now();
    let out = Command::new(&args.psql)
        .args(["-X", "-q", "-A", "-t", "-F", ",", "-v", "ON_ERROR_STOP=1", "-d", &args.pg, "-f"])
        .arg(script)
        .output()
        .map_err(|e| format!("cannot run {} (see bench/postgis_locate.sh): {e}", args.psql))?;
    let secs = t.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "psql failed ({}): {}{}",
            script.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok((String::from_utf8_lossy(&out.stdout).into_owned(), secs))
}

/// The PostGIS comparison: grids and points through COPY, GiST indexes, then
/// the join `ST_Contains(grid, point)` timed in psql (`\timing`).
fn postgis(args: &Args, data: &Data) -> Result<String, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let grids: Vec<TerritoryFeature> = data.demo.iter().filter(|f| f.unit.level == Level::Grid).cloned().collect();
    let points = &data.bbox_points;
    let (grids_csv, points_csv) = (dir.path().join("grids.csv"), dir.path().join("points.csv"));
    let io = |e: std::io::Error| e.to_string();
    {
        let mut w = BufWriter::new(std::fs::File::create(&grids_csv).map_err(io)?);
        for (gid, g) in grids.iter().enumerate() {
            writeln!(w, "{gid},{},\"SRID=4326;{}\"", g.unit.code, wkt(&g.geometry)).map_err(io)?;
        }
        w.flush().map_err(io)?;
        let mut w = BufWriter::new(std::fs::File::create(&points_csv).map_err(io)?);
        for (id, p) in points.iter().enumerate() {
            writeln!(w, "{id},{},{}", p.lon, p.lat).map_err(io)?;
        }
        w.flush().map_err(io)?;
    }
    let quote = |p: &Path| p.display().to_string().replace('\'', "''");
    let load = dir.path().join("load.sql");
    std::fs::write(
        &load,
        format!(
            "SET client_min_messages = warning;\n\
             DROP TABLE IF EXISTS cg_grids, cg_points, cg_points_raw;\n\
             CREATE TABLE cg_grids (gid int PRIMARY KEY, code text NOT NULL, geom geometry(MultiPolygon, 4326) NOT NULL);\n\
             CREATE TABLE cg_points_raw (id int, lon float8, lat float8);\n\
             \\copy cg_grids FROM '{}' WITH (FORMAT csv)\n\
             \\copy cg_points_raw FROM '{}' WITH (FORMAT csv)\n\
             CREATE TABLE cg_points AS SELECT id, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geometry(Point, 4326) AS geom FROM cg_points_raw;\n\
             DROP TABLE cg_points_raw;\n\
             ALTER TABLE cg_points ADD PRIMARY KEY (id);\n\
             CREATE INDEX cg_grids_geom ON cg_grids USING gist (geom);\n\
             CREATE INDEX cg_points_geom ON cg_points USING gist (geom);\n\
             VACUUM ANALYZE cg_grids;\nVACUUM ANALYZE cg_points;\n",
            quote(&grids_csv),
            quote(&points_csv)
        ),
    )
    .map_err(io)?;
    let (_, load_s) = psql(args, &load)?;

    // The join as one would write it, and PostGIS's best formulation found:
    // grids on the outer side (`OFFSET 0` keeps the planner from flattening
    // the subquery), so each grid's polygon is prepared once and probed
    // against the points' index, with JIT off (it only adds compile time).
    let join =
        "SELECT count(*), sum(p.id::bigint * g.gid) FROM cg_points p JOIN cg_grids g ON ST_Contains(g.geom, p.geom)";
    let best = "SELECT count(*), sum(p.id::bigint * g.gid) FROM cg_grids g CROSS JOIN LATERAL \
                (SELECT p.id FROM cg_points p WHERE ST_Contains(g.geom, p.geom) OFFSET 0) p";
    let runs = args.runs.max(1);
    let query = dir.path().join("join.sql");
    std::fs::write(
        &query,
        format!(
            "SELECT extversion FROM pg_extension WHERE extname = 'postgis';\nSHOW max_parallel_workers_per_gather;\n\
             EXPLAIN {join};\n\\timing on\n{}\\timing off\nSET jit = off;\nEXPLAIN {best};\n\\timing on\n{}",
            format!("{join};\n").repeat(runs),
            format!("{best};\n").repeat(runs),
        ),
    )
    .map_err(io)?;
    let (out, _) = psql(args, &query)?;
    let mut lines = out.lines().filter(|l| !l.trim().is_empty());
    let version = lines.next().unwrap_or("?").trim().to_owned();
    let workers = lines.next().unwrap_or("?").trim().to_owned();
    let mut plans: Vec<Vec<String>> = Vec::new();
    let mut times = Vec::new();
    let mut answers = Vec::new();
    for raw in lines {
        let l = raw.trim();
        if let Some(ms) = l.strip_prefix("Time: ").and_then(|t| t.split_whitespace().next()) {
            times.push(ms.parse::<f64>().map_err(|e| format!("psql timing {l}: {e}"))? / 1e3);
        } else if l.starts_with(|c: char| c.is_ascii_digit()) && l.contains(',') && !l.contains(' ') {
            answers.push(l.to_owned());
        } else if !l.starts_with("Timing is") {
            // A plan's top node is the only unindented line besides its JIT summary.
            if !raw.starts_with(' ') && !l.starts_with("JIT:") {
                plans.push(Vec::new());
            }
            if let Some(plan) = plans.last_mut() {
                plan.push(raw.trim_end().to_owned());
            }
        }
    }
    let parallel = |k: usize| plans.get(k).is_some_and(|p| p.iter().any(|l| l.contains("Gather")));
    let went_parallel = match (parallel(0), parallel(1)) {
        (false, false) => "neither plan went parallel",
        (true, false) => "the join as written ran on parallel workers, the best formulation did not",
        (false, true) => "the best formulation ran on parallel workers, the join as written did not",
        (true, true) => "both plans ran on parallel workers",
    };
    if times.len() != 2 * runs || answers.len() != 2 * runs {
        return Err(format!("expected {runs} timings and answers per query from psql, got: {out}"));
    }
    let (plain_times, best_times) = times.split_at(runs);
    let (plain, best_s) = (median(plain_times.to_vec()), median(best_times.to_vec()));
    let ((plain_lo, plain_hi), (best_lo, best_hi)) = (min_max(plain_times), min_max(best_times));
    let pg_join = plain.min(best_s);

    // CityGrid on the same grids and points: build the index + locate all.
    let gid: HashMap<&str, u64> = grids.iter().enumerate().map(|(i, g)| (g.unit.code.as_str(), i as u64)).collect();
    let mut cg = Vec::new();
    let mut index = None;
    for _ in 0..runs {
        let t = Instant::now();
        let idx = TerritoryIndex::build(&grids).map_err(|e| e.to_string())?;
        let mut sum = 0u64;
        for &p in points.iter() {
            sum = sum.wrapping_add(idx.locate_deepest(p).map_or(0, |c| u64::from(c.as_str().as_bytes()[0])));
        }
        std::hint::black_box(sum);
        cg.push(t.elapsed().as_secs_f64());
        index = Some(idx);
    }
    let index = index.ok_or("no index")?;
    let cg_total = median(cg);
    let (mut count, mut checksum) = (0u64, 0u64);
    for (id, p) in points.iter().enumerate() {
        if let Some(g) = index.locate_deepest(*p).and_then(|c| gid.get(c.as_str())) {
            count += 1;
            checksum = checksum.wrapping_add(id as u64 * g);
        }
    }
    let ours = format!("{count},{checksum}");
    let t = Instant::now();
    let full_index = TerritoryIndex::build(&data.demo).map_err(|e| e.to_string())?;
    let mut sum = 0u64;
    for &p in points.iter() {
        sum = sum.wrapping_add(chain_checksum(&full_index, p));
    }
    std::hint::black_box(sum);
    let cg_full = t.elapsed().as_secs_f64();

    let mut s = String::new();
    let _ = writeln!(
        s,
        "### PostGIS {version} peer: {} grid polygons, {} random points in the city's bounding box\n",
        group(grids.len() as f64),
        group(points.len() as f64)
    );
    let answer = answers.first().cloned().unwrap_or_default();
    let agree = answers.iter().all(|a| *a == ours);
    let per_s = |secs: f64| group(points.len() as f64 / secs.max(1e-12));
    let _ = writeln!(
        s,
        "| side | what is timed | seconds | points/s |\n|---|---|---|---|\n\
         | PostGIS, join as written | `{join}` (median of {runs}: {plain_lo:.2}–{plain_hi:.2} s) | {plain:.3} | {} |\n\
         | PostGIS, best formulation | `{best}` with `jit = off` (median of {runs}: {best_lo:.2}–{best_hi:.2} s) | **{best_s:.3}** | {} |\n\
         | PostGIS, loading (not in the above) | psql: `\\copy` both CSV files, make the points, GiST indexes on both tables, VACUUM ANALYZE | {load_s:.2} | — |\n\
         | CityGrid | build the index over the same grids + locate every point (`locate_deepest`), one thread, median of {runs} | **{cg_total:.3}** | {} |\n\
         | CityGrid, whole tree | build the index over all {} units + full chain for every point, one thread | {cg_full:.3} | {} |\n",
        per_s(plain),
        per_s(best_s),
        per_s(cg_total),
        group(data.demo.len() as f64),
        per_s(cg_full),
    );
    let _ = writeln!(
        s,
        "The PostGIS joins run on data already loaded, indexed and analysed (max_parallel_workers_per_gather = {workers}: \
         {went_parallel}); CityGrid's time includes building its index. CityGrid is **{:.1}×** faster than \
         PostGIS's faster join ({:.1}× the join as written); target ≥ 10×: {}. Same answers: {} (points in a grid, \
         Σ id·grid: PostGIS {answer}, CityGrid {ours}).\n",
        pg_join / cg_total.max(1e-12),
        plain / cg_total.max(1e-12),
        if pg_join >= 10.0 * cg_total { "met" } else { "**missed**" },
        if agree { "yes" } else { "**no**" },
    );
    for (name, plan) in ["join as written", "best formulation"].iter().zip(&plans) {
        let _ = writeln!(s, "PostGIS plan, {name}:\n\n```\n{}\n```\n", plan.join("\n"));
    }
    Ok(s)
}

/// Seeds a data directory with the demo territory and times `citygrid
/// locate` on a file of the random points, checking every output line.
async fn cli_end_to_end(args: &Args, data: &Data) -> Result<String, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let data_dir = dir.path().join("data");
    {
        let store = SqliteStore::open_dir(&data_dir, SqliteOptions::default()).map_err(|e| e.to_string())?;
        let units = data.demo.iter().map(stored_unit).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
        store.upsert_units(units, cli_event("territory.import", "bench")).await.map_err(|e| e.to_string())?;
    }
    let d = data.clone();
    let a = args.clone();
    tokio::task::spawn_blocking(move || cli_runs(&a, &d, dir.path(), &data_dir)).await.map_err(|e| e.to_string())?
}

fn cli_runs(args: &Args, data: &Data, dir: &Path, data_dir: &Path) -> Result<String, String> {
    let io = |e: std::io::Error| e.to_string();
    let input = dir.join("points.csv");
    {
        let mut w = BufWriter::new(std::fs::File::create(&input).map_err(io)?);
        w.write_all(b"lon,lat\n").map_err(io)?;
        for p in data.bbox_points.iter() {
            writeln!(w, "{},{}", p.lon, p.lat).map_err(io)?;
        }
        w.flush().map_err(io)?;
    }
    let exe: PathBuf = args.citygrid.clone();
    let output = dir.join("located.csv");
    let run = |threads: usize, stdin: Stdio| -> Result<f64, String> {
        let t = Instant::now();
        let out = Command::new(&exe)
            .args(["locate", "--threads", &threads.to_string(), "--data-dir"])
            .arg(data_dir)
            .env("RUST_LOG", "warn")
            .stdin(stdin)
            .stdout(std::fs::File::create(&output).map_err(io)?)
            .stderr(Stdio::piped())
            .output()
            .map_err(io)?;
        let secs = t.elapsed().as_secs_f64();
        if !out.status.success() {
            return Err(format!("citygrid locate failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(secs)
    };
    let runs = args.runs.max(1);
    let startup = median((0..runs).map(|_| run(1, Stdio::null())).collect::<Result<Vec<_>, _>>()?);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut rows = Vec::new();
    for threads in [1, cores] {
        let times = (0..runs)
            .map(|_| run(threads, Stdio::from(std::fs::File::open(&input).map_err(io)?)))
            .collect::<Result<Vec<_>, _>>()?;
        rows.push((threads, median(times)));
    }

    // Every output line against the index built in memory from the same units.
    let index = TerritoryIndex::build(&data.demo).map_err(|e| e.to_string())?;

    // The same work in process, memory to memory: what parsing, locating and
    // formatting cost without start-up, pipes or files.
    let text = std::fs::read(&input).map_err(io)?;
    let mut sink = Vec::with_capacity(text.len() * 2);
    let mut in_process = Vec::new();
    for threads in [1, cores] {
        let mut times = Vec::new();
        for _ in 0..args.passes.max(1) {
            sink.clear();
            let t = Instant::now();
            citygrid::locate::stream(
                &index,
                text.as_slice(),
                &mut sink,
                citygrid::locate::Options { threads, strict: false },
            )?;
            times.push(t.elapsed().as_secs_f64());
        }
        in_process.push((threads, median(times)));
    }
    let reader = BufReader::new(std::fs::File::open(&output).map_err(io)?);
    let mut lines = reader.lines();
    let header = lines.next().transpose().map_err(io)?.unwrap_or_default();
    let mut checked = 0usize;
    let mut wrong = 0usize;
    for (line, p) in lines.zip(data.bbox_points.iter()) {
        let line = line.map_err(io)?;
        let mut expected = format!("{},{}", p.lon, p.lat);
        let chain = index.locate_chain(*p);
        for level in [Level::District, Level::Township, Level::Community, Level::Grid] {
            expected.push(',');
            if let Some(c) = chain.and_then(|c| c.at(level)) {
                expected.push_str(c.as_str());
            }
        }
        checked += 1;
        wrong += usize::from(line != expected);
    }

    let size = std::fs::metadata(&input).map_err(io)?.len();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "### `citygrid locate` end to end ({} points, {:.1} MB of `lon,lat` lines from a file, output to a file)\n",
        group(data.bbox_points.len() as f64),
        size as f64 / 1e6
    );
    s.push_str(
        "| threads | wall time, median | points/s, all included | points/s after start-up |\n|---|---|---|---|\n",
    );
    for (threads, secs) in &rows {
        let n = data.bbox_points.len() as f64;
        let _ = writeln!(
            s,
            "| {threads} | {secs:.3} s | {} | {} |",
            group(n / secs.max(1e-12)),
            group(n / (secs - startup).max(1e-12))
        );
    }
    for (threads, secs) in &in_process {
        let _ = writeln!(
            s,
            "| {threads}, in process, memory to memory (`locate::stream`, median of {}) | {secs:.3} s | — | {} |",
            args.passes.max(1),
            group(data.bbox_points.len() as f64 / secs.max(1e-12))
        );
    }
    let _ = writeln!(
        s,
        "\nStart-up (open the store, read and parse the {} stored units, build the index; empty input): {startup:.3} s. \
         Output checked line by line against the index: header `{header}`, {} lines, {wrong} different.\n",
        group(data.demo.len() as f64),
        group(checked as f64)
    );
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, polygon};

    #[test]
    fn cuts_tile_the_polygon_exactly() {
        // A concave U shape: a vertical cut through its middle splits the
        // bottom bar and leaves the two arms on either side.
        let u = MultiPolygon::new(vec![polygon![
            (x: 0.0, y: 0.0), (x: 3.0, y: 0.0), (x: 3.0, y: 3.0), (x: 2.0, y: 3.0),
            (x: 2.0, y: 1.0), (x: 1.0, y: 1.0), (x: 1.0, y: 3.0), (x: 0.0, y: 3.0)
        ]]);
        for (a, b) in [(Side::West, Side::East), (Side::South, Side::North)] {
            for c in [0.3, 1.5, 2.0, 2.7] {
                let (l, r) = (clip(&u, a, c), clip(&u, b, c));
                let total = l.unsigned_area() + r.unsigned_area();
                assert!((total - u.unsigned_area()).abs() < 1e-12, "{c}: {total}");
            }
        }
        assert!(clip(&u, Side::West, -1.0).0.is_empty());
        assert!((clip(&u, Side::East, -1.0).unsigned_area() - u.unsigned_area()).abs() < 1e-12);
    }

    #[test]
    fn wkt_round_trips_exactly() {
        let x = 118.123_456_789_012_34_f64;
        let mp = MultiPolygon::new(vec![polygon![(x: x, y: 31.0), (x: 119.0, y: 31.0), (x: 119.0, y: 32.0)]]);
        let text = wkt(&mp);
        assert!(text.starts_with("MULTIPOLYGON(((118.12345678901234 31,"), "{text}");
        assert!(text.ends_with(")))"));
        assert_eq!(group(1234567.0), "1,234,567");
        assert_eq!(group(12.0), "12");
    }
}
