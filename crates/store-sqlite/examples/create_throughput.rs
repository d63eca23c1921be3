//! How many cases per second the embedded store commits, with no HTTP in the
//! way: `cargo run --release -p citygrid-store-sqlite --example create_throughput`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use citygrid_store::prelude::*;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use citygrid_domain::audit::AuditEvent;
use citygrid_domain::calendar::WorkingCalendar;
use citygrid_domain::case::{DeadlinePolicy, DecideContext, NewCase, Source, report};
use citygrid_domain::{Category, CategoryCode, Point, TimeLimit, TimeLimits, UnitCode};
use citygrid_store::NearbyQuery;
use citygrid_store_sqlite::{SqliteOptions, SqliteStore};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open_dir(dir.path(), SqliteOptions::default()).unwrap());
    let l = TimeLimit { normal_minutes: 60, urgent_minutes: 30 };
    let cats: Vec<Category> = (1..=6)
        .map(|m| Category {
            code: CategoryCode::parse(&format!("E010{m}")).unwrap(),
            major_name: "m".into(),
            name: "n".into(),
            department_type: "urban_management".into(),
            limits: TimeLimits { register: l, dispatch: l, acknowledge: l, handle: l },
            active: true,
        })
        .collect();
    let cal = WorkingCalendar::default();
    let policy = DeadlinePolicy::default();
    let n: usize = std::env::var("N").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let tasks = 64usize;
    let t0 = Instant::now();
    let mut handles = vec![];
    for t in 0..tasks {
        let store = Arc::clone(&store);
        let (cats, cal) = (cats.clone(), cal.clone());
        handles.push(tokio::spawn(async move {
            for i in 0..n / tasks {
                let cat = &cats[(i + t) % cats.len()];
                let ctx = DecideContext {
                    now: Utc::now(),
                    actor: "u",
                    actor_role: "operator",
                    calendar: &cal,
                    category: cat,
                    policy: &policy,
                };
                let new = NewCase {
                    category: cat.code.clone(),
                    urgent: false,
                    source: Source::Hotline,
                    location: Point {
                        lon: 118.34 + ((i * 7919 + t * 104_729) % 8000) as f64 * 1e-5,
                        lat: 31.30 + ((i * 6007 + t * 3001) % 6000) as f64 * 1e-5,
                    },
                    territory: UnitCode::parse("340202001001001").unwrap(),
                    description: "bench".into(),
                    address: None,
                    evidence: vec![],
                };
                let (c, e) = report(0, new, &ctx).unwrap();
                let ev = AuditEvent::ok(Utc::now(), "u", "operator", "case.create", "case/?");
                store.create_case(c, e, None, NearbyQuery { radius_m: 200.0, limit: 5 }, ev).await.unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let secs = t0.elapsed().as_secs_f64();
    println!("{n} cases in {secs:.2}s = {:.0} cases/s (store only, {tasks} concurrent writers)", n as f64 / secs);
}
