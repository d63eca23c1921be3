//! Reads from a streaming replica: lists go to it once it has replayed this
//! store's writes, a client never misses its own write, the store falls
//! back to the primary while the replica is away, and a replica URL that is
//! not a standby is refused. Each test owns a primary and a replica from
//! `citygrid-testpg`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use citygrid_domain::audit::AuditEvent;
use citygrid_domain::calendar::WorkingCalendar;
use citygrid_domain::case::{CaseId, DeadlinePolicy, DecideContext, NewCase, Source, report};
use citygrid_domain::{Category, CategoryCode, Point, TimeLimit, TimeLimits, UnitCode};
use citygrid_store::prelude::*;
use citygrid_store::{CaseFilter, CaseScope, NearbyQuery, StoreError};
use citygrid_store_postgres::{PgOptions, PgStore};
use citygrid_testpg::Cluster;
use tokio::task::block_in_place;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap()
}

fn category() -> Category {
    let l = TimeLimit { normal_minutes: 60, urgent_minutes: 30 };
    Category {
        code: CategoryCode::parse("E0101").unwrap(),
        major_name: "市容环境".into(),
        name: "暴露垃圾".into(),
        department_type: "urban_management".into(),
        limits: TimeLimits { register: l, dispatch: l, acknowledge: l, handle: l },
        active: true,
    }
}

/// Reports a new case through `store`; returns its id.
async fn create(store: &PgStore, n: u32) -> CaseId {
    let (cal, policy, cat) = (WorkingCalendar::default(), DeadlinePolicy::default(), category());
    let ctx = DecideContext {
        now: t0(),
        actor: "u1",
        actor_role: "operator",
        calendar: &cal,
        category: &cat,
        policy: &policy,
    };
    let new = NewCase {
        category: cat.code.clone(),
        urgent: false,
        source: Source::GridWorker,
        // Far apart, so duplicate hints stay out of it.
        location: Point { lon: 100.0 + f64::from(n) * 0.01, lat: 31.33 },
        territory: UnitCode::parse("320505").unwrap(),
        description: format!("case {n}"),
        address: None,
        evidence: vec![],
    };
    let (case, entry) = report(0, new, &ctx).unwrap();
    let audit = AuditEvent::ok(t0(), "u1", "operator", "case.create", "case");
    let near = NearbyQuery { radius_m: 0.0, limit: 0 };
    store.create_case(case, entry, None, near, audit).await.unwrap().case.id
}

/// The ids on the first page of all cases (newest first).
async fn listed(store: &PgStore) -> HashSet<CaseId> {
    let page = store.list_cases(CaseFilter::scoped(CaseScope::All, 1000)).await.unwrap();
    page.cases.iter().map(|c| c.id).collect()
}

/// How many cases `count_by_state` sees.
async fn counted(store: &PgStore) -> u64 {
    store.count_by_state(CaseScope::All).await.unwrap().iter().map(|(_, n)| n).sum()
}

/// A primary and its streaming replica.
fn clusters() -> (Cluster, Cluster) {
    block_in_place(|| {
        let primary = Cluster::start_primary().unwrap();
        let replica = primary.start_replica().unwrap();
        (primary, replica)
    })
}

/// A store on `primary` reading from `replica`.
async fn routed(primary: &Cluster, replica: &Cluster) -> PgStore {
    let options = PgOptions { replica_url: Some(replica.url()), ..PgOptions::default() };
    PgStore::connect(&primary.url(), options).await.unwrap()
}

fn caught_up(primary: &Cluster, replica: &Cluster) {
    block_in_place(|| replica.wait_caught_up(primary)).unwrap();
}

/// Pauses WAL replay on the replica and waits until it has stopped (a
/// request takes effect before the next record, so WAL is written on the
/// primary until it does).
fn pause_replay(primary: &Cluster, replica: &Cluster) {
    block_in_place(|| {
        replica.psql("SELECT pg_wal_replay_pause()").unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if replica.psql("SELECT pg_get_wal_replay_pause_state()").unwrap() == "paused" {
                return;
            }
            assert!(Instant::now() < deadline, "replay did not pause");
            primary.psql("SELECT pg_current_xact_id()").unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
    });
}

fn resume_replay(replica: &Cluster) {
    block_in_place(|| replica.psql("SELECT pg_wal_replay_resume()")).unwrap();
}

/// Whether the replica itself has case `id` (straight from psql).
fn replica_has(replica: &Cluster, id: CaseId) -> bool {
    block_in_place(|| replica.psql(&format!("SELECT count(*) FROM cases WHERE id = {id}"))).unwrap() == "1"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_come_from_the_replica_once_it_has_caught_up_and_from_the_primary_while_behind() {
    let started = Instant::now();
    let (primary, replica) = clusters();
    let store = routed(&primary, &replica).await;
    // Another process on the primary only: its writes do not move this
    // store's high-water mark.
    let other = PgStore::connect(&primary.url(), PgOptions::default()).await.unwrap();

    let a = create(&store, 1).await;
    assert!(listed(&store).await.contains(&a), "own write listed");
    caught_up(&primary, &replica);

    // The replica stops replaying; another process writes.
    pause_replay(&primary, &replica);
    let x = create(&other, 2).await;
    assert!(!replica_has(&replica, x), "the paused replica does not have the other process's case");
    let seen = listed(&store).await;
    assert!(seen.contains(&a), "{seen:?}");
    assert!(!seen.contains(&x), "the list came from the (paused) replica: it lacks {x}, which the primary has");
    assert!(store.case(x).await.unwrap().is_some(), "case(id) reads the primary");

    // This store writes: the replica is now behind its high-water mark, so
    // the list comes from the primary and has both.
    let b = create(&store, 3).await;
    assert!(!replica_has(&replica, b));
    let seen = listed(&store).await;
    assert!(seen.contains(&b) && seen.contains(&x), "served by the primary: {seen:?}");
    assert_eq!(counted(&store).await, 3);

    // Replay resumes and catches up: the replica serves lists again.
    resume_replay(&replica);
    caught_up(&primary, &replica);
    pause_replay(&primary, &replica);
    let y = create(&other, 4).await;
    let seen = listed(&store).await;
    assert!(seen.contains(&b) && seen.contains(&x), "{seen:?}");
    assert!(!seen.contains(&y), "back on the replica, which lacks {y}");
    resume_replay(&replica);
    eprintln!("routing test took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_never_misses_its_own_write() {
    let started = Instant::now();
    let (primary, replica) = clusters();
    let store = routed(&primary, &replica).await;
    caught_up(&primary, &replica);
    let setup = started.elapsed();
    let mut own = HashSet::new();
    for i in 0..200u32 {
        let id = create(&store, i).await;
        own.insert(id);
        let seen = listed(&store).await;
        assert!(seen.contains(&id), "iteration {i}: case {id} missing from the list just after it was created");
        assert_eq!(seen.len(), own.len(), "iteration {i}: every case so far is listed");
        assert_eq!(counted(&store).await, u64::from(i) + 1, "iteration {i}: count_by_state");
        assert!(store.case(id).await.unwrap().is_some(), "iteration {i}: case({id})");
    }
    eprintln!("setup {setup:?}, 200 iterations {:?}", started.elapsed() - setup);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_fall_back_to_the_primary_while_the_replica_is_down_and_return_to_it() {
    let started = Instant::now();
    let (primary, replica) = clusters();
    let store = routed(&primary, &replica).await;
    let other = PgStore::connect(&primary.url(), PgOptions::default()).await.unwrap();
    let mut own = HashSet::new();
    own.insert(create(&store, 0).await);
    caught_up(&primary, &replica);
    assert_eq!(listed(&store).await, own);

    block_in_place(|| replica.stop()).unwrap();
    for i in 1..=20u32 {
        let id = create(&store, i).await;
        own.insert(id);
        let t = Instant::now();
        assert_eq!(listed(&store).await, own, "read {i} with the replica down");
        assert_eq!(counted(&store).await, u64::from(i) + 1);
        assert!(t.elapsed() < Duration::from_secs(2), "a read waited {:?} for the replica", t.elapsed());
        // Also reads made without a write of this store just before.
        assert!(store.categories().await.unwrap().is_empty());
        assert_eq!(store.audit_records(Default::default()).await.unwrap().len(), own.len());
    }

    // A store can start while the replica is away; it reads from the primary.
    let late = routed(&primary, &replica).await;
    assert_eq!(listed(&late).await, own);

    block_in_place(|| replica.start()).unwrap();
    caught_up(&primary, &replica);
    pause_replay(&primary, &replica);
    let y = create(&other, 99).await;
    // Within a few refreshes the stores notice the replica and read from it,
    // which lacks `y`.
    for s in [&store, &late] {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let seen = listed(s).await;
            assert!(own.is_subset(&seen), "never fewer than acknowledged");
            if !seen.contains(&y) {
                break;
            }
            assert!(Instant::now() < deadline, "reads did not go back to the replica");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    resume_replay(&replica);
    eprintln!("fallback test took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_url_that_is_not_a_standby_is_refused() {
    // The shared server is a primary: as a "replica" it must be refused.
    let db = common::TestDb::new().await;
    let options = PgOptions { replica_url: Some(db.url.clone()), ..PgOptions::default() };
    match PgStore::connect(&db.url, options).await {
        Err(StoreError::Invalid(m)) => {
            eprintln!("{m}");
            assert!(m.contains("not a hot standby") && m.contains("pg_is_in_recovery"), "{m}");
            assert!(m.contains("replica_url"), "says which setting is wrong: {m}");
        }
        other => panic!("a primary as replica_url must be refused, got {other:?}"),
    }
}
