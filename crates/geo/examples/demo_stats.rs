//! Generates the Wuhu demo, builds the index and prints counts and timings.
//! Run with `cargo run --release -p citygrid-geo --example demo_stats`.

use std::time::Instant;

use citygrid_domain::{Level, Point};
use citygrid_geo::{TerritoryIndex, wuhu_city_outline, wuhu_demo};
use geo::{Area, BoundingRect};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let t = Instant::now();
    let demo = wuhu_demo(0)?;
    let gen_ms = t.elapsed().as_secs_f64() * 1e3;
    for level in Level::ALL {
        let n = demo.iter().filter(|f| f.unit.level == level).count();
        let multi = demo.iter().filter(|f| f.unit.level == level && f.geometry.0.len() > 1).count();
        println!("{level:>10}: {n:>6} ({multi} multi-part)");
    }
    println!("generation: {gen_ms:.1} ms");

    let t = Instant::now();
    let idx = TerritoryIndex::build(&demo)?;
    println!("index build: {:.1} ms ({} units)", t.elapsed().as_secs_f64() * 1e3, idx.len());

    let city = wuhu_city_outline()?;
    let r = city.bounding_rect().ok_or("empty city")?;
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let points: Vec<Point> = (0..1_000_000)
        .map(|_| Point { lon: r.min().x + r.width() * next(), lat: r.min().y + r.height() * next() })
        .collect();
    let t = Instant::now();
    let mut found = 0usize;
    let mut depth = 0usize;
    for p in &points {
        if let Some(loc) = idx.locate(*p) {
            found += 1;
            depth += loc.chain.len();
        }
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "locate: {:.0}/s over {} points in the city bbox ({found} inside, mean depth {:.2})",
        points.len() as f64 / s,
        points.len(),
        depth as f64 / found.max(1) as f64
    );
    let inside: Vec<Point> = points.iter().copied().filter(|p| idx.locate_deepest(*p).is_some()).collect();
    let t = Instant::now();
    let mut depth = 0usize;
    for p in &inside {
        depth += idx.locate(*p).map_or(0, |l| l.chain.len());
    }
    let s = t.elapsed().as_secs_f64();
    println!("locate, points inside the city only: {:.0}/s ({depth})", inside.len() as f64 / s);
    let t = Instant::now();
    let deepest = inside.iter().filter(|p| idx.locate_deepest(**p).is_some()).count();
    let s = t.elapsed().as_secs_f64();
    println!("locate_deepest, points inside the city only: {:.0}/s ({deepest})", inside.len() as f64 / s);
    let t = Instant::now();
    let mut n = 0usize;
    for p in &points {
        n += usize::from(idx.locate_deepest(*p).is_some());
    }
    let s = t.elapsed().as_secs_f64();
    println!("locate_deepest: {:.0}/s ({n})", points.len() as f64 / s);
    let t = Instant::now();
    let problems = citygrid_geo::validate(&demo);
    println!("validate: {:.1} ms, {} problems", t.elapsed().as_secs_f64() * 1e3, problems.len());
    let km2 = |l: Level| {
        let v: Vec<f64> = demo
            .iter()
            .filter(|f| f.unit.level == l)
            .map(|f| f.geometry.unsigned_area() * 111.32 * 111.32 * 0.857)
            .collect();
        let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
        let max = v.iter().cloned().fold(0.0, f64::max);
        (mean, max)
    };
    for l in [Level::Township, Level::Community, Level::Grid, Level::MicroGrid] {
        let (mean, max) = km2(l);
        println!("{l:>10} area km²: mean {mean:.2}, max {max:.2}");
    }
    Ok(())
}
