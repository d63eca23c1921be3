//! What only the PostgreSQL store has to prove: migrations, connection
//! errors, the change feed between processes, and moving a whole store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use citygrid_domain::access::Role;
use citygrid_domain::audit::{AuditEvent, verify_chain};
use citygrid_domain::{Category, CategoryCode, Department, Level, TimeLimit, TimeLimits, Unit, UnitCode};
use citygrid_store::prelude::*;
use citygrid_store::{AuditFilter, Change, DeviceRecord, NearbyQuery, Row, StoreError, StoredUnit, Table, UserRecord};
use citygrid_store_postgres::{PgOptions, PgStore};
use common::TestDb;
use tokio::sync::broadcast;

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap()
}

fn audit(action: &str, resource: &str) -> AuditEvent {
    AuditEvent::ok(t0(), "u1", "admin", action, resource)
}

fn unit(code: &str, level: Level) -> StoredUnit {
    let c = UnitCode::parse(code).unwrap();
    StoredUnit {
        unit: Unit {
            code: c.clone(),
            name: format!("unit {code}"),
            level,
            parent: c.parent(),
            valid_from: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            valid_to: None,
            synthetic: true,
        },
        geometry: r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}"#.into(),
    }
}

fn category(code: &str) -> Category {
    let l = TimeLimit { normal_minutes: 60, urgent_minutes: 30 };
    Category {
        code: CategoryCode::parse(code).unwrap(),
        major_name: "市容环境".into(),
        name: "暴露垃圾".into(),
        department_type: "urban_management".into(),
        limits: TimeLimits { register: l, dispatch: l, acknowledge: l, handle: l },
        active: true,
    }
}

fn user(id: &str, name: &str) -> UserRecord {
    UserRecord {
        id: id.into(),
        username: name.into(),
        display_name: name.into(),
        role: Role::Operator,
        unit: None,
        department: None,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        active: true,
        failed_logins: 0,
        locked_until: None,
        created_at: t0(),
    }
}

async fn schema_versions(db: &TestDb) -> (i64, i32) {
    let (c, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let r = c.query_one("SELECT COUNT(*), MAX(version) FROM schema_version", &[]).await.unwrap();
    (r.get(0), r.get(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_idempotent_and_a_newer_schema_is_refused() {
    let db = TestDb::new().await;
    // Several processes starting at once: the advisory lock serialises them.
    let (a, b, c) = tokio::join!(
        PgStore::connect(&db.url, PgOptions::default()),
        PgStore::connect(&db.url, PgOptions::default()),
        PgStore::connect(&db.url, PgOptions::default()),
    );
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    drop((a, b, c));
    let again = db.store().await;
    again.set_meta("k", "v", audit("meta.set", "meta/k")).await.unwrap();
    drop(again);
    let shipped = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")).unwrap().count();
    let shipped = i32::try_from(shipped).unwrap();
    assert_eq!(schema_versions(&db).await, (i64::from(shipped), shipped), "each migration recorded once");
    let reopened = db.store().await;
    assert_eq!(reopened.meta("k").await.unwrap().as_deref(), Some("v"), "data survives a restart");
    drop(reopened);

    let (admin, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    admin.execute("INSERT INTO schema_version (version) VALUES (99)", &[]).await.unwrap();
    match PgStore::connect(&db.url, PgOptions::default()).await {
        Err(StoreError::Backend(m)) => {
            let known = format!("schema version 99, newer than this build knows ({shipped}); upgrade CityGrid");
            assert!(m.contains(&known), "{m}")
        }
        other => panic!("a newer schema must be refused, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_registered_before_the_device_extension_read_back_with_defaults() {
    let db = TestDb::new().await;
    let store = db.store().await;
    let (admin, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let body = r#"{"id":"cam-old","name":"旧","kind":"camera","key_hash":"kh","unit":"340202","created_at":"2025-01-01T00:00:00Z","revoked_at":null}"#;
    admin.execute("INSERT INTO devices (id, key_hash, body) VALUES ('cam-old', 'kh', $1)", &[&body]).await.unwrap();
    let d = store.device("cam-old").await.unwrap().unwrap();
    assert_eq!(d.kind, citygrid_domain::DeviceKind::Camera);
    assert_eq!(d.unit.as_ref().map(UnitCode::as_str), Some("340202"));
    assert!(d.position.is_none() && d.zones.is_empty() && d.station.is_none() && d.last_seen.is_none());
    assert_eq!(store.devices().await.unwrap().len(), 1);
    assert_eq!(store.device_by_key_hash("kh").await.unwrap().map(|d| d.id), Some("cam-old".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_url_is_a_clear_error_without_the_password() {
    let secret = "hunter2-Secret";
    let opts = PgOptions { connect_timeout: Duration::from_secs(2), ..PgOptions::default() };
    let unreachable = format!("postgres://postgres:{secret}@127.0.0.1:1/nowhere");
    match PgStore::connect(&unreachable, opts.clone()).await {
        Err(StoreError::Unavailable(m)) => {
            eprintln!("unreachable: {m}");
            assert!(m.contains("127.0.0.1") && m.contains("nowhere"), "names host and database: {m}");
            assert!(!m.contains(secret), "{m}");
        }
        other => panic!("an unreachable server is Unavailable, got {other:?}"),
    }
    let missing = common::url_for(&common::admin_url(), "cg_no_such_database");
    let missing = missing.replacen("://postgres@", &format!("://postgres:{secret}@"), 1);
    let err = PgStore::connect(&missing, opts.clone()).await.unwrap_err().to_string();
    eprintln!("missing database: {err}");
    assert!(err.contains("cg_no_such_database") && !err.contains(secret), "{err}");
    let malformed = format!("postgres://postgres:{secret}@127.0.0.1:notaport/db");
    let err = PgStore::connect(&malformed, opts).await.unwrap_err().to_string();
    eprintln!("malformed: {err}");
    assert!(!err.contains(secret), "{err}");
}

/// The next change on `rx` within a few seconds.
async fn next(rx: &mut broadcast::Receiver<Change>) -> Change {
    tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("a change within seconds").unwrap()
}

async fn terminate(db: &TestDb, which: &str) {
    let c = common::admin().await;
    c.execute(
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() {which}"
        ),
        &[&db.name],
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_reach_other_stores_but_not_their_own_and_survive_reconnects() {
    let db = TestDb::new().await;
    let (a, b) = (db.store().await, db.store().await);
    let (mut from_a, mut at_b) = (a.changes(), b.changes());
    let mut at_a = a.changes();

    a.upsert_units(vec![unit("340200", Level::City)], audit("territory.import", "territory")).await.unwrap();
    assert_eq!(next(&mut at_b).await, Change::Territory);
    a.put_categories(vec![category("E0101")], audit("category.put", "category/E0101")).await.unwrap();
    assert_eq!(next(&mut at_b).await, Change::Catalog);
    a.create_user(user("u-1", "one"), audit("user.create", "user/u-1")).await.unwrap();
    let mut changed = user("u-1", "one");
    changed.active = false;
    a.update_user(changed, audit("user.update", "user/u-1")).await.unwrap();
    assert_eq!(next(&mut at_b).await, Change::Principal("u-1".into()));
    a.delete_zone("nope", audit("zone.delete", "zone/nope")).await.unwrap_err();

    b.put_departments(
        vec![Department {
            code: "D340202-UM".into(),
            name: "城市管理局".into(),
            department_type: "urban_management".into(),
            territory: UnitCode::parse("340202").unwrap(),
        }],
        audit("department.put", "department/D340202-UM"),
    )
    .await
    .unwrap();
    assert_eq!(next(&mut at_a).await, Change::Catalog, "a hears b");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(matches!(at_a.try_recv(), Err(broadcast::error::TryRecvError::Empty)), "a never hears itself");
    assert!(matches!(at_b.try_recv(), Err(broadcast::error::TryRecvError::Empty)), "a failed write sends nothing");
    drop(from_a.try_recv());

    // The listening connections are cut: each store reconnects and asks for a resync.
    terminate(&db, "AND query ILIKE 'LISTEN%'").await;
    assert_eq!(next(&mut at_b).await, Change::Resync);
    assert_eq!(next(&mut from_a).await, Change::Resync);
    a.upsert_units(vec![unit("340202", Level::District)], audit("territory.import", "territory")).await.unwrap();
    assert_eq!(next(&mut at_b).await, Change::Territory, "the feed works again");

    // Every pooled connection is cut: the pool replaces them by itself.
    terminate(&db, "").await;
    assert_eq!(a.territory().await.unwrap().len(), 2);
    assert_eq!(b.user("u-1").await.unwrap().map(|u| u.active), Some(false));
}

/// Every row of every table, read in pages of `page`.
async fn export_all(s: &PgStore, page: usize) -> Vec<Vec<Row>> {
    let mut out = vec![];
    for table in Table::ALL {
        let mut rows: Vec<Row> = vec![];
        loop {
            let after = rows.last().map(Row::key);
            let got = s.export_rows(table, after, page).await.unwrap();
            let n = got.len();
            assert!(got.iter().all(|r| r.table() == table));
            rows.extend(got);
            if n < page {
                break;
            }
        }
        let keys: Vec<String> = rows.iter().map(Row::key).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(keys, sorted, "{table:?} in key order, each once");
        out.push(rows);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_import_copies_every_table_exactly_and_the_trail_goes_on() {
    let (from_db, to_db) = (TestDb::new().await, TestDb::new().await);
    let a = from_db.store().await;
    // Data through the ordinary API: the shared checks leave cases (with a
    // sealed contact and a dispatch), zones, a user with sessions, an
    // attachment and its bytes behind.
    citygrid_store::conformance::audit_chain_verifies_and_filters(&a).await;
    citygrid_store::conformance::zones_replace_and_delete(&a).await;
    citygrid_store::conformance::users_and_sessions(&a).await;
    citygrid_store::conformance::attachments_are_idempotent(&a).await;
    citygrid_store::conformance::blobs_round_trip(&a).await;
    a.set_meta("demo_seeded", "true", audit("meta.set", "meta/demo_seeded")).await.unwrap();
    a.upsert_units(vec![unit("340200", Level::City), unit("340202", Level::District)], audit("territory.import", "t"))
        .await
        .unwrap();
    a.put_categories(vec![category("E0101"), category("E0102")], audit("category.put", "c")).await.unwrap();
    let dept = Department {
        code: "D340202-UM".into(),
        name: "城市管理局".into(),
        department_type: "urban_management".into(),
        territory: UnitCode::parse("340202").unwrap(),
    };
    a.put_departments(vec![dept], audit("department.put", "d")).await.unwrap();
    let dev = DeviceRecord {
        id: "cam-1".into(),
        name: "江边 1".into(),
        kind: citygrid_domain::DeviceKind::Camera,
        key_hash: "kh".into(),
        unit: None,
        created_at: t0(),
        revoked_at: None,
        position: None,
        zones: vec![],
        station: None,
        gateway: None,
        report_interval_secs: None,
        last_seen: None,
    };
    a.create_device(dev, audit("device.create", "device/cam-1")).await.unwrap();
    a.revoke_device("cam-1", t0(), audit("device.revoke", "device/cam-1")).await.unwrap();

    // Smart eyes: an incident and its detections.
    let d = citygrid_store::conformance::sample_detection("cam-1", "e-1", 0);
    let mut inc =
        citygrid_store::conformance::sample_incident(1, citygrid_domain::eyes::AlertType::IllegalFishing, &d, "340202");
    inc.rule = Some("fishing-ban-water".into());
    let linked = citygrid_store::StoredDetection { incident: Some(1), rule: inc.rule.clone(), ..d };
    let loose = citygrid_store::conformance::sample_detection("cam-1", "e-2", 1);
    let batch = citygrid_store::DetectionBatch {
        detections: vec![linked, loose],
        incidents: vec![inc],
        audit: audit("detections.record", "device/cam-1"),
    };
    a.record_detections(batch).await.unwrap();

    let exported = export_all(&a, 2).await;
    let at = |t: Table| Table::ALL.iter().position(|x| *x == t).unwrap();
    let trail: Vec<_> = exported[at(Table::Audit)]
        .iter()
        .map(|r| if let Row::Audit(r) = r { r.clone() } else { unreachable!() })
        .collect();
    let chains: HashSet<u32> = trail.iter().map(|r| r.chain).collect();
    assert!(chains.len() >= 3, "records in several chains: {chains:?}");
    assert_eq!(verify_chain(&trail), Ok(trail.len() as u64));
    for (i, table) in Table::ALL.iter().enumerate() {
        assert!(!exported[i].is_empty(), "{table:?} has rows to copy");
    }

    let b = to_db.store().await;
    for rows in &exported {
        for batch in rows.chunks(3) {
            b.import_rows(batch.to_vec()).await.unwrap();
        }
    }
    assert_eq!(export_all(&b, 5).await, exported, "every table identical");

    // An existing key is a conflict, and the batch leaves nothing behind.
    let err = b
        .import_rows(vec![
            Row::Meta { key: "fresh".into(), value: "x".into() },
            Row::Meta { key: "demo_seeded".into(), value: "again".into() },
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(b.meta("fresh").await.unwrap(), None, "all or nothing");
    assert_eq!(b.audit_records(AuditFilter::default()).await.unwrap(), trail, "imports add no audit record");

    b.finish_import().await.unwrap();
    let max_case =
        exported[at(Table::Cases)].iter().map(|r| if let Row::Case(c) = r { c.case.id } else { 0 }).max().unwrap();
    let Row::Case(rec) = &exported[at(Table::Cases)][0] else { unreachable!() };
    let near = NearbyQuery { radius_m: 200.0, limit: 10 };
    let created =
        b.create_case(rec.case.clone(), rec.timeline[0].clone(), None, near, audit("case.create", "")).await.unwrap();
    assert!(created.case.id > max_case, "new ids continue after the imported ones");
    for i in 0..20 {
        b.append_audit(audit("case.read", &format!("case/{i}"))).await.unwrap();
    }
    let all = b.audit_records(AuditFilter::default()).await.unwrap();
    assert_eq!(all.len(), trail.len() + 21);
    assert!(all[trail.len()].seq > trail.last().unwrap().seq);
    assert_eq!(verify_chain(&all), Ok(all.len() as u64), "new records chain on from the imported heads");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_goes_away_is_unavailable_and_its_return_needs_no_restart() {
    let db = TestDb::new().await;
    let opts = PgOptions {
        connect_timeout: Duration::from_secs(2),
        wait_timeout: Duration::from_secs(2),
        ..PgOptions::default()
    };
    let s = PgStore::connect(&db.url, opts).await.unwrap();
    s.set_meta("k", "v", audit("meta.set", "meta/k")).await.unwrap();
    let admin = common::admin().await;
    admin.batch_execute(&format!("ALTER DATABASE {} ALLOW_CONNECTIONS false", db.name)).await.unwrap();
    terminate(&db, "").await;
    let started = std::time::Instant::now();
    match s.meta("k").await {
        Err(StoreError::Unavailable(m)) => assert!(!m.is_empty()),
        other => panic!("a database that refuses connections is Unavailable, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10), "fails fast: {:?}", started.elapsed());
    let write = s.append_audit(audit("case.read", "case/1")).await;
    assert!(matches!(write, Err(StoreError::Unavailable(_))), "{write:?}");
    admin.batch_execute(&format!("ALTER DATABASE {} ALLOW_CONNECTIONS true", db.name)).await.unwrap();
    assert_eq!(s.meta("k").await.unwrap().as_deref(), Some("v"), "back without a restart");
    s.append_audit(audit("case.read", "case/1")).await.unwrap();
}

/// Creation pipelines its statements and `COMMIT` (see `create.rs`): a write
/// that fails on the server must roll back everything sent with it, and the
/// connection must come back out of the transaction for the next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_creation_whose_write_fails_commits_nothing_and_frees_its_connection() {
    use citygrid_store::conformance::{sample_contact, sample_report};
    let db = TestDb::new().await;
    // One connection, so the next creation runs on the one that failed.
    let s = PgStore::connect(&db.url, PgOptions { pool_size: 1, ..PgOptions::default() }).await.unwrap();
    let (c, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    c.batch_execute(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$;
         CREATE TRIGGER refuse BEFORE INSERT ON case_contacts FOR EACH ROW EXECUTE FUNCTION refuse();",
    )
    .await
    .unwrap();
    let near = NearbyQuery { radius_m: 100.0, limit: 5 };
    let create = |contact| {
        let (case, entry) = sample_report(118.38);
        s.create_case(case, entry, contact, near, audit("case.create", "case/new"))
    };

    let err = create(Some(sample_contact())).await.unwrap_err();
    assert!(matches!(err, StoreError::Backend(ref m) if m.contains("refused")), "{err:?}");
    let count = |sql: &'static str| {
        let c = &c;
        async move { c.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(count("SELECT COUNT(*) FROM cases").await, 0);
    assert_eq!(count("SELECT COUNT(*) FROM timeline").await, 0);
    assert_eq!(count("SELECT COUNT(*) FROM audit").await, 0);
    assert_eq!(count("SELECT COUNT(*) FROM audit_chains WHERE link > 0").await, 0);

    // The same (only) connection is usable and not inside a transaction:
    // this creation commits and is visible to another connection.
    let made = create(None).await.unwrap();
    assert_eq!(count("SELECT COUNT(*) FROM cases").await, 1);
    assert_eq!(count("SELECT COUNT(*) FROM timeline").await, 1);
    let trail = s.audit_records(AuditFilter::default()).await.unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].event.resource, format!("case/{}", made.case.id));
    assert!(verify_chain(&trail).is_ok());
    let again = s.case(made.case.id).await.unwrap().unwrap();
    assert_eq!(again.timeline.len(), 1);
}

/// `(transaction id, case ids)` for every transaction that inserted cases,
/// from the rows' `xmin`: cases created in one batch share it.
async fn case_transactions(c: &tokio_postgres::Client) -> Vec<(String, Vec<i64>)> {
    let rows =
        c.query("SELECT xmin::text, array_agg(id ORDER BY id) FROM cases GROUP BY 1 ORDER BY 2", &[]).await.unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

async fn connect(db: &TestDb) -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    c
}

/// A report far from every other one made with another `i`.
fn far_report(i: usize) -> (citygrid_domain::case::Case, citygrid_domain::case::TimelineEntry) {
    citygrid_store::conformance::sample_report(118.0 + i as f64 * 0.01)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creations_are_batched_with_unique_ids_a_whole_trail_and_an_ordered_feed() {
    use citygrid_store::FeedItem;
    use citygrid_store::conformance::sample_contact;
    let db = TestDb::new().await;
    let s = db.store().await;
    let near = NearbyQuery { radius_m: 100.0, limit: 5 };
    let creations = (0..60).map(|i| {
        let (case, entry) = far_report(i);
        let contact = (i % 2 == 0).then(sample_contact);
        s.create_case(case, entry, contact, near, audit("case.create", "case/new"))
    });
    let created: Vec<_> = futures_util::future::join_all(creations).await.into_iter().map(|r| r.unwrap()).collect();
    let mut ids: Vec<i64> = created.iter().map(|c| c.case.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 60, "every case its own id");
    assert!(created.iter().all(|c| c.nearby.is_empty() && c.entry.seq == 1));

    let c = connect(&db).await;
    let txs = case_transactions(&c).await;
    eprintln!("{} transactions for 60 creations", txs.len());
    assert!(txs.iter().any(|(_, ids)| ids.len() > 1), "some creations shared a transaction: {txs:?}");
    let count = |sql: &'static str| {
        let c = &c;
        async move { c.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(count("SELECT COUNT(*) FROM timeline").await, 60);
    assert_eq!(count("SELECT COUNT(*) FROM case_contacts").await, 30);
    for (i, made) in created.iter().enumerate() {
        let rec = s.case(made.case.id).await.unwrap().unwrap();
        assert_eq!(rec.case, made.case);
        assert_eq!(rec.timeline, vec![made.entry.clone()]);
        assert_eq!(rec.contact, (i % 2 == 0).then(sample_contact), "creation {i}'s contact");
    }

    let trail = s.audit_records(AuditFilter::default()).await.unwrap();
    assert_eq!(trail.len(), 60);
    assert_eq!(verify_chain(&trail), Ok(60), "the batches leave a verifiable trail");
    let named: HashSet<String> = trail.iter().map(|r| r.event.resource.clone()).collect();
    assert_eq!(named, ids.iter().map(|id| format!("case/{id}")).collect(), "each record names its case");

    // One feed event per case; within a transaction, in id order.
    let events = s.feed_after(0, 1000).await.unwrap();
    let case_of = |item: &FeedItem| {
        let FeedItem::Case(change) = item else { panic!("only cases changed: {item:?}") };
        change.id
    };
    let fed: Vec<i64> = events.iter().map(|e| case_of(&e.item)).collect();
    let mut sorted = fed.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ids, "one event per case");
    for (_, batch) in &txs {
        let order: Vec<i64> = fed.iter().copied().filter(|id| batch.contains(id)).collect();
        assert_eq!(&order, batch, "a batch's events in id order");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_creation_in_a_batch_gets_its_error_and_the_others_commit() {
    let db = TestDb::new().await;
    let s = PgStore::connect(&db.url, PgOptions { create_workers: 1, ..PgOptions::default() }).await.unwrap();
    let c = connect(&db).await;
    c.batch_execute(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN IF NEW.body LIKE '%refuse-me%' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$;
         CREATE TRIGGER refuse BEFORE INSERT ON cases FOR EACH ROW EXECUTE FUNCTION refuse();",
    )
    .await
    .unwrap();
    let near = NearbyQuery { radius_m: 100.0, limit: 5 };
    let creations = (0..20).map(|i| {
        let (mut case, entry) = far_report(i);
        if i == 7 {
            case.description = "refuse-me".into();
        }
        s.create_case(case, entry, None, near, audit("case.create", "case/new"))
    });
    let outcomes = futures_util::future::join_all(creations).await;
    for (i, o) in outcomes.iter().enumerate() {
        if i == 7 {
            assert!(matches!(o, Err(StoreError::Backend(m)) if m.contains("refused")), "{o:?}");
        } else {
            assert!(o.is_ok(), "creation {i}: {o:?}");
        }
    }
    let count = |sql: &'static str| {
        let c = &c;
        async move { c.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(count("SELECT COUNT(*) FROM cases").await, 19);
    assert_eq!(count("SELECT COUNT(*) FROM timeline").await, 19);
    assert_eq!(count("SELECT COUNT(*) FROM feed").await, 19);
    let trail = s.audit_records(AuditFilter::default()).await.unwrap();
    assert_eq!(verify_chain(&trail), Ok(19), "nothing of the failed creation in the trail");

    // The worker's connection came back out of the failed transaction.
    let created = futures_util::future::join_all((20..30).map(|i| {
        let (case, entry) = far_report(i);
        s.create_case(case, entry, None, near, audit("case.create", "case/new"))
    }))
    .await;
    assert!(created.iter().all(Result::is_ok), "{created:?}");
    assert_eq!(count("SELECT COUNT(*) FROM cases").await, 29);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_hints_include_earlier_creations_of_the_same_batch() {
    use citygrid_store::conformance::sample_report;
    let db = TestDb::new().await;
    let s = PgStore::connect(&db.url, PgOptions { create_workers: 1, ..PgOptions::default() }).await.unwrap();
    let near = NearbyQuery { radius_m: 200.0, limit: 20 };
    // Ten reports about 9.5 m apart, all within 200 m of each other.
    let creations = (0..10).map(|i| {
        let (case, entry) = sample_report(118.38 + f64::from(i) * 0.0001);
        s.create_case(case, entry, None, near, audit("case.create", "case/new"))
    });
    let created: Vec<_> = futures_util::future::join_all(creations).await.into_iter().map(|r| r.unwrap()).collect();
    let c = connect(&db).await;
    let txs = case_transactions(&c).await;
    assert!(txs.iter().any(|(_, ids)| ids.len() > 1), "some creations shared a transaction: {txs:?}");
    // As if created one after another, in id order: each hint lists every
    // earlier case, nearest first, with the distance the search measures.
    for made in &created {
        let mut expected: Vec<_> = created
            .iter()
            .filter(|o| o.case.id < made.case.id)
            .map(|o| (o.case.id, (made.case.location.distance_m(&o.case.location) * 10.0).round() / 10.0))
            .collect();
        expected.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        let got: Vec<_> = made.nearby.iter().map(|n| (n.id, n.distance_m)).collect();
        assert_eq!(got, expected, "hints of case {}", made.case.id);
    }
}

/// Locks every audit chain head from another connection, so that the
/// creation worker waits (for its preferred head) until `ROLLBACK`.
async fn hold_every_head(db: &TestDb) -> tokio_postgres::Client {
    let c = connect(db).await;
    c.batch_execute("BEGIN; SELECT chain FROM audit_chains FOR UPDATE;").await.unwrap();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_creation_queue_is_overloaded_at_once() {
    use std::sync::Arc;
    let db = TestDb::new().await;
    let opts = PgOptions { create_workers: 1, create_queue: 1, ..PgOptions::default() };
    let s = Arc::new(PgStore::connect(&db.url, opts).await.unwrap());
    let near = NearbyQuery { radius_m: 100.0, limit: 5 };
    let create = |s: Arc<PgStore>, i: usize| async move {
        let (case, entry) = far_report(i);
        s.create_case(case, entry, None, near, audit("case.create", "case/new")).await
    };
    let holder = hold_every_head(&db).await;
    let first = tokio::spawn(create(s.clone(), 0));
    // Until the worker waits for a head with the first creation.
    let watcher = common::admin().await;
    let started = std::time::Instant::now();
    loop {
        let waiting: i64 = watcher
            .query_one(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
                &[&db.name],
            )
            .await
            .unwrap()
            .get(0);
        if waiting > 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the worker never waited for a head");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = tokio::spawn(create(s.clone(), 1));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let third = tokio::time::timeout(Duration::from_secs(2), create(s.clone(), 2)).await;
    assert!(matches!(third, Ok(Err(StoreError::Overloaded))), "{third:?}");
    holder.batch_execute("ROLLBACK").await.unwrap();
    let (first, second) = (first.await.unwrap().unwrap(), second.await.unwrap().unwrap());
    assert!(second.case.id > first.case.id);
    let trail = s.audit_records(AuditFilter::default()).await.unwrap();
    assert_eq!(verify_chain(&trail), Ok(2));
}
