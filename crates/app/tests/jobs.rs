//! The job runner (one holder at a time across runners sharing a store,
//! takeover once the holder stops) and the audit checkpoint job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use citygrid_app::jobs::checkpoint::AuditCheckpoint;
use citygrid_app::jobs::{Job, JobOutcome, JobRunner};
use citygrid_app::vault::Vault;
use citygrid_app::{AppResult, Core, CoreParts};
use citygrid_domain::audit::{AuditEvent, CHECKPOINT_ACTION, Checkpoint, TrailSummary, verify_trail};
use citygrid_domain::calendar::{WorkingCalendar, default_periods};
use citygrid_domain::case::DeadlinePolicy;
use citygrid_store::AuditFilter;
use citygrid_store::prelude::*;
use citygrid_store_sqlite::{SqliteOptions, SqliteStore};
use parking_lot::Mutex;

async fn core() -> (Arc<Core<SqliteStore>>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path(), SqliteOptions::default()).unwrap();
    let core = Core::load(CoreParts {
        store,
        calendar: WorkingCalendar::new(default_periods(), vec![]).unwrap(),
        policy: DeadlinePolicy::default(),
        vault: Vault::ephemeral(),
        nearby_radius_m: 200.0,
    })
    .await
    .unwrap();
    (Arc::new(core), dir)
}

/// Records which runner ran it when, and how many runs overlapped.
struct Counted {
    runner: &'static str,
    runs: Arc<Mutex<Vec<(&'static str, Instant)>>>,
    running: Arc<AtomicUsize>,
    overlaps: Arc<AtomicUsize>,
}

impl Job for Counted {
    fn name(&self) -> &str {
        "counted"
    }

    fn interval(&self) -> Duration {
        Duration::from_millis(200)
    }

    async fn run<S: Store>(&self, _core: &Core<S>) -> AppResult<JobOutcome> {
        if self.running.fetch_add(1, Ordering::SeqCst) > 0 {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        self.runs.lock().push((self.runner, Instant::now()));
        tokio::time::sleep(Duration::from_millis(30)).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        Ok(JobOutcome::Done("counted".into()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_in_one_runner_at_a_time_and_moves_when_it_stops() {
    let (core, _dir) = core().await;
    let runs = Arc::new(Mutex::new(vec![]));
    let (running, overlaps) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let job = |runner| Counted {
        runner,
        runs: Arc::clone(&runs),
        running: Arc::clone(&running),
        overlaps: Arc::clone(&overlaps),
    };
    let mut a = JobRunner::with_holder(&core, "holder-a");
    a.spawn(job("a"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut b = JobRunner::with_holder(&core, "holder-b");
    b.spawn(job("b"));
    tokio::time::sleep(Duration::from_millis(2000)).await;

    let first: Vec<_> = runs.lock().clone();
    assert!((6..=12).contains(&first.len()), "about one run per 200 ms tick over 2 s: {}", first.len());
    assert!(first.iter().all(|(r, _)| *r == "a"), "only the first holder ran it: {first:?}");

    // The holder stops; its lease (300 ms) runs out and b takes over.
    let stopped = Instant::now();
    drop(a);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(b);
    let all: Vec<_> = runs.lock().clone();
    let after: Vec<_> = all.iter().filter(|(_, at)| *at > stopped).collect();
    assert!(after.iter().all(|(r, _)| *r == "b"), "only the other holder after the stop: {after:?}");
    let took_over = after.first().map(|(_, at)| at.duration_since(stopped)).unwrap();
    assert!(took_over <= Duration::from_millis(800), "taken over once the lease expired: {took_over:?}");
    assert!(after.len() >= 4, "and kept running: {}", after.len());
    assert_eq!(overlaps.load(Ordering::SeqCst), 0, "never two runs at once");
}

#[tokio::test]
async fn a_runner_stops_with_its_core() {
    let (core, _dir) = core().await;
    let runs = Arc::new(Mutex::new(vec![]));
    let mut runner = JobRunner::new(&core);
    assert!(!runner.holder().is_empty());
    runner.spawn(Counted {
        runner: "only",
        runs: Arc::clone(&runs),
        running: Arc::new(AtomicUsize::new(0)),
        overlaps: Arc::new(AtomicUsize::new(0)),
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(core);
    let n = runs.lock().len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(runs.lock().len(), n, "no run once the core is gone");
}

fn event(resource: &str) -> AuditEvent {
    AuditEvent::ok(Utc::now(), "u1", "operator", "case.read", resource)
}

#[tokio::test]
async fn the_checkpoint_job_writes_checkpoints_that_verification_uses() {
    let (core, _dir) = core().await;
    let job = AuditCheckpoint::every(Duration::from_secs(300));
    assert!(matches!(job.run(&core).await.unwrap(), JobOutcome::Idle(_)), "an empty trail needs none");

    for i in 0..3 {
        core.store.append_audit(event(&format!("case/{i}"))).await.unwrap();
    }
    let heads = core.store.audit_heads().await.unwrap();
    assert!(matches!(job.run(&core).await.unwrap(), JobOutcome::Done(_)));
    let trail = core.store.audit_records(AuditFilter::default()).await.unwrap();
    let cp = trail.last().unwrap();
    assert_eq!(
        (cp.event.action.as_str(), cp.event.actor.as_str(), cp.event.role.as_str(), cp.event.resource.as_str()),
        (CHECKPOINT_ACTION, "system", "system", "audit")
    );
    assert_eq!(Checkpoint::parse(cp.event.detail.as_deref().unwrap()).unwrap(), Checkpoint::of(&heads));
    assert_eq!(verify_trail(&trail), Ok(TrailSummary { records: 4, checkpoints: 1 }));

    assert!(matches!(job.run(&core).await.unwrap(), JobOutcome::Idle(_)), "nothing changed since");
    let fresh = AuditCheckpoint::every(Duration::from_secs(300));
    assert!(matches!(fresh.run(&core).await.unwrap(), JobOutcome::Idle(_)), "another process sees it too");

    core.store.append_audit(event("case/9")).await.unwrap();
    assert!(matches!(job.run(&core).await.unwrap(), JobOutcome::Done(_)), "a new record, a new checkpoint");
    assert!(matches!(fresh.run(&core).await.unwrap(), JobOutcome::Idle(_)));
    let trail = core.store.audit_records(AuditFilter::default()).await.unwrap();
    assert_eq!(verify_trail(&trail), Ok(TrailSummary { records: 6, checkpoints: 2 }));
}

#[tokio::test]
async fn the_checkpoint_job_runs_under_the_runner() {
    let (core, _dir) = core().await;
    core.store.append_audit(event("case/1")).await.unwrap();
    let mut runner = JobRunner::new(&core);
    runner.spawn(AuditCheckpoint::every(Duration::from_millis(100)));
    tokio::time::sleep(Duration::from_millis(450)).await;
    drop(runner);
    let checkpoints = core
        .store
        .audit_records(AuditFilter { action: Some(CHECKPOINT_ACTION.into()), ..AuditFilter::default() })
        .await
        .unwrap();
    assert_eq!(checkpoints.len(), 1, "one checkpoint, then nothing changed");
}
