//! The smart-eyes use cases without HTTP: the intake pipeline and incident
//! review on a Core over a fresh SQLite store, with rules of the test's own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

use chrono::{Duration, NaiveDate, Utc};
use citygrid_app::eyes::{Intake, IntakeSource, ItemOutcome, ItemStatus, Review};
use citygrid_app::vault::Vault;
use citygrid_app::world::geometry_to_json;
use citygrid_app::{Actor, AppError, Core, CoreParts};
use citygrid_domain::access::{Principal, Role};
use citygrid_domain::audit::AuditEvent;
use citygrid_domain::calendar::{WorkingCalendar, default_periods};
use citygrid_domain::case::{DeadlinePolicy, Source};
use citygrid_domain::eyes::{AlertType, Detection, IncidentState, RuleSet};
use citygrid_domain::{Category, CategoryCode, TimeLimit, TimeLimits, Unit, UnitCode, Zone};
use citygrid_store::prelude::*;
use citygrid_store::{AuditFilter, IncidentFilter, StoredUnit, StoredZone};
use citygrid_store_sqlite::{SqliteOptions, SqliteStore};
use geo::{MultiPolygon, polygon};
use serde_json::json;

const RULES: &str = r#"
[promote]
illegal_fishing = "E0701"

[[rule]]
id = "electro"
labels = ["electrofishing"]
zone_kind = "fishing_ban_water"
alert = "illegal_fishing"
severity = "critical"
auto_promote = true

[[rule]]
id = "fish"
labels = ["fishing"]
zone_kind = "fishing_ban_water"
min_score = 0.5
alert = "illegal_fishing"
severity = "medium"

[[rule]]
id = "smoke"
labels = ["smoke"]
alert = "air_pollution"
severity = "low"
"#;

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
    MultiPolygon(vec![polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1), (x: x0, y: y0)]])
}

fn unit(code: &str, geom: MultiPolygon<f64>) -> StoredUnit {
    let c = UnitCode::parse(code).unwrap();
    StoredUnit {
        unit: Unit { synthetic: true, ..Unit::new(c, code, NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()) },
        geometry: geometry_to_json(&geom).unwrap(),
    }
}

fn category(code: &str) -> Category {
    let l = |n, u| TimeLimit { normal_minutes: n, urgent_minutes: u };
    Category {
        code: CategoryCode::parse(code).unwrap(),
        major_name: "河湖生态".into(),
        name: "非法捕捞".into(),
        department_type: "agriculture_fisheries".into(),
        limits: TimeLimits { register: l(30, 10), dispatch: l(30, 10), acknowledge: l(60, 15), handle: l(450, 240) },
        active: true,
    }
}

/// In district A (340202), inside the fishing ban (lon 118.04–118.10).
const BAN: (f64, f64) = (118.05, 31.15);
/// In district B (340207), no zone.
const B1: (f64, f64) = (118.25, 31.15);

async fn store(dir: &std::path::Path) -> SqliteStore {
    SqliteStore::open_dir(dir, SqliteOptions::default()).unwrap()
}

async fn seed(store: &SqliteStore) {
    let ev = || AuditEvent::ok(Utc::now(), "test", "admin", "fixture", "fixture");
    let mut units = vec![unit("340200", rect(118.0, 31.0, 118.4, 31.2))];
    units.push(unit("340202", rect(118.0, 31.0, 118.2, 31.2)));
    units.push(unit("340207", rect(118.2, 31.0, 118.4, 31.2)));
    store.upsert_units(units, ev()).await.unwrap();
    store.put_categories(vec![category("E0701")], ev()).await.unwrap();
    let zone: Zone = serde_json::from_value(json!({
        "id": "ban-a", "name": "禁捕水域", "kind": "fishing_ban_water", "valid_from": "2021-01-01",
    }))
    .unwrap();
    let geometry = geometry_to_json(&rect(118.04, 31.10, 118.10, 31.19)).unwrap();
    store.put_zones(vec![StoredZone { zone, geometry }], ev()).await.unwrap();
}

async fn core(store: SqliteStore) -> Core<SqliteStore> {
    let parts = CoreParts {
        store,
        calendar: WorkingCalendar::new(default_periods(), vec![]).unwrap(),
        policy: DeadlinePolicy::default(),
        vault: Vault::ephemeral(),
        nearby_radius_m: 0.0,
    };
    Core::load_with_rules(parts, RuleSet::from_toml(RULES).unwrap()).await.unwrap()
}

fn actor(id: &str, role: Role, unit: Option<&str>) -> Actor {
    Actor::new(
        Principal { id: id.into(), role, unit: unit.map(|u| UnitCode::parse(u).unwrap()), department: None },
        None,
    )
}

fn device(id: &str) -> Actor {
    actor(id, Role::Device, None)
}

fn det(device: &str, id: &str, label: &str, (lon, lat): (f64, f64)) -> Detection {
    Detection {
        id: id.into(),
        device: device.into(),
        at: Utc::now() - Duration::seconds(30),
        label: label.into(),
        score: 0.9,
        lon,
        lat,
        evidence: vec![],
        attributes: Some(json!({"track": id})),
    }
}

fn statuses(out: &[ItemOutcome]) -> Vec<ItemStatus> {
    out.iter().map(|o| o.status).collect()
}

#[tokio::test]
async fn a_batch_is_checked_grouped_and_stored_durably() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    seed(&s).await;
    let core = core(s).await;
    let near = (BAN.0 + 0.001, BAN.1 + 0.001);
    let mut bad_score = det("cam-1", "bad", "fishing", BAN);
    bad_score.score = 1.5;
    let batch = vec![
        det("cam-1", "e1", "fishing", BAN),
        det("cam-1", "e2", "fishing", near),
        bad_score,
        det("cam-2", "theirs", "fishing", BAN),
        det("cam-1", "far", "fishing", (119.5, 31.1)),
        det("cam-1", "e1", "fishing", BAN),
        det("cam-1", "boat", "vessel", BAN),
        det("cam-1", "outside-ban", "fishing", B1),
    ];
    let out = core.submit(&device("cam-1"), IntakeSource::Http, batch).await.unwrap();
    use ItemStatus::{Accepted as A, Duplicate as D, Rejected as R};
    assert_eq!(statuses(&out), [A, A, R, R, R, D, A, A]);
    assert!(out[2].reason.as_deref().unwrap().starts_with("score:"), "{:?}", out[2]);
    assert!(out[3].reason.as_deref().unwrap().contains("may not submit for device cam-2"));
    assert!(out[4].reason.as_deref().unwrap().contains("outside the city"));
    let incident = out[0].incident.expect("fishing in the ban raises an incident");
    assert_eq!(out[1].incident, Some(incident), "100 m apart: one incident");
    assert_eq!(out[6].incident, None, "no rule for a vessel here");
    assert_eq!(out[7].incident, None, "fishing outside the ban is no alert");

    let rec = core.store.incident(incident).await.unwrap().unwrap();
    assert_eq!((rec.incident.count, rec.version), (2, 1), "written once for the whole batch");
    assert_eq!(rec.territory.as_str(), "340202");
    assert_eq!(rec.rule.as_deref(), Some("fish"));
    let stored = core.store.incident_detections(incident, 10).await.unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].detection.attributes, Some(json!({"track": "e1"})));
    let known = core
        .store
        .detections_known(vec![("cam-1".into(), "boat".into()), ("cam-1".into(), "bad".into())])
        .await
        .unwrap();
    assert_eq!(known, [true, false], "unmatched detections are stored; rejected ones are not");
    let f = AuditFilter { action: Some("detections.record".into()), ..AuditFilter::default() };
    let audit = core.store.audit_records(f).await.unwrap();
    assert_eq!(audit.len(), 1, "one audit record per batch");
    let detail: serde_json::Value = serde_json::from_str(audit[0].event.detail.as_deref().unwrap()).unwrap();
    assert_eq!(detail["accepted"], 4);
    assert_eq!(detail["rejected"], 3);

    // Users, even operators, do not submit detections.
    let op = actor("op", Role::Operator, Some("340202"));
    let refused = core.submit(&op, IntakeSource::Http, vec![det("op", "x", "fishing", BAN)]).await;
    assert!(matches!(refused, Err(AppError::Forbidden)), "{refused:?}");
}

#[tokio::test]
async fn resending_is_idempotent_and_grouping_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    seed(&s).await;
    let first = {
        let core = core(s).await;
        let batch = vec![det("cam-1", "e1", "fishing", BAN), det("cam-1", "e2", "fishing", BAN)];
        let out = core.submit(&device("cam-1"), IntakeSource::Http, batch.clone()).await.unwrap();
        let again = core.submit(&device("cam-1"), IntakeSource::Mqtt, batch).await.unwrap();
        assert_eq!(statuses(&again), [ItemStatus::Duplicate, ItemStatus::Duplicate]);
        let id = out[0].incident.unwrap();
        assert_eq!(core.store.incident(id).await.unwrap().unwrap().incident.count, 2, "duplicates count once");
        // Another device nearby joins the same incident.
        let cam2 = device("cam-2");
        let other = core.submit(&cam2, IntakeSource::Http, vec![det("cam-2", "e1", "fishing", BAN)]).await;
        assert_eq!(other.unwrap()[0].incident, Some(id));
        id
    };
    // A new process on the same data: the open incident is reloaded and joined.
    let core = core(store(dir.path()).await).await;
    let out = core.submit(&device("cam-3"), IntakeSource::Http, vec![det("cam-3", "z", "fishing", BAN)]).await;
    assert_eq!(out.unwrap()[0].incident, Some(first));
    let rec = core.store.incident(first).await.unwrap().unwrap();
    assert_eq!(rec.incident.count, 4);
    assert_eq!(rec.incident.devices, ["cam-1", "cam-2", "cam-3"]);
    assert_eq!(rec.version, 3);
}

#[tokio::test]
async fn review_decisions_and_false_positive_rates() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    seed(&s).await;
    let core = core(s).await;
    let op = actor("op-a", Role::Operator, Some("340202"));
    let op_b = actor("op-b", Role::Operator, Some("340207"));
    let far = (BAN.0 + 0.03, BAN.1 + 0.03); // over 500 m away, still in the ban
    let out = core
        .submit(
            &device("cam-1"),
            IntakeSource::Http,
            vec![det("cam-1", "a", "fishing", BAN), det("cam-1", "b", "fishing", far), det("cam-1", "s", "smoke", B1)],
        )
        .await
        .unwrap();
    let (one, two, smoke) = (out[0].incident.unwrap(), out[1].incident.unwrap(), out[2].incident.unwrap());
    assert!(one != two && two != smoke);

    // Out of scope looks like missing.
    assert!(matches!(core.review_incident(&op_b, one, Review::Confirm).await, Err(AppError::OutOfScope(_))));
    let confirmed = core.review_incident(&op, one, Review::Confirm).await.unwrap();
    assert_eq!((confirmed.incident.state, confirmed.version), (IncidentState::Confirmed, 2));
    // A confirmed incident still takes alerts.
    let more = core.submit(&device("cam-2"), IntakeSource::Http, vec![det("cam-2", "c", "fishing", BAN)]).await;
    assert_eq!(more.unwrap()[0].incident, Some(one));
    assert_eq!(core.store.incident(one).await.unwrap().unwrap().version, 3);

    let mismatch = core.review_incident(&op, two, Review::Merge { into: smoke }).await;
    assert!(matches!(mismatch, Err(AppError::OutOfScope(_))), "the target is in district B: {mismatch:?}");
    let merged = core.review_incident(&op, two, Review::Merge { into: one }).await.unwrap();
    assert_eq!((merged.incident.state, merged.incident.merged_into), (IncidentState::Merged, Some(one)));
    let again = core.review_incident(&op, two, Review::Dismiss).await;
    assert!(matches!(again, Err(AppError::InvalidTransition(_))), "{again:?}");
    let into_self = core.review_incident(&op, one, Review::Merge { into: one }).await;
    assert!(matches!(into_self, Err(AppError::InvalidTransition(_))));

    // Dismissed: the rates count it, and a new alert there opens a new incident.
    core.review_incident(&op_b, smoke, Review::Dismiss).await.unwrap();
    let later = core.submit(&device("cam-1"), IntakeSource::Http, vec![det("cam-1", "s2", "smoke", B1)]).await;
    let fresh = later.unwrap()[0].incident.unwrap();
    assert!(fresh != smoke);
    let no_category = core.promote_incident(&op_b, fresh).await;
    assert!(matches!(no_category, Err(AppError::Invalid { code: "no_promote_category", .. })), "{no_category:?}");

    let admin = actor("admin", Role::Admin, None);
    let rates = core.false_positive_rates(&admin).await.unwrap();
    let cam1 = rates.devices.iter().find(|d| d.key == "cam-1").unwrap();
    assert_eq!((cam1.total, cam1.dismissed), (4, 1));
    let smoke_rule = rates.rules.iter().find(|r| r.key == "smoke").unwrap();
    assert_eq!((smoke_rule.total, smoke_rule.dismissed), (2, 1));
    let a_only = core.false_positive_rates(&op).await.unwrap();
    assert!(a_only.rules.iter().all(|r| r.key != "smoke"), "district B's incidents are not op-a's");
    assert!(matches!(core.false_positive_rates(&device("cam-1")).await, Err(AppError::Forbidden)));

    let page = core.list_incidents(&op, IncidentFilter::scoped(citygrid_store::CaseScope::All, 50)).await.unwrap();
    let ids: Vec<u64> = page.incidents.iter().map(|r| r.incident.id).collect();
    assert_eq!(ids, [two, one], "the caller's scope replaces the one asked for");
}

#[tokio::test]
async fn promotion_opens_a_case_by_hand_or_by_rule() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    seed(&s).await;
    let core = core(s).await;
    let op = actor("op-a", Role::Operator, Some("340202"));
    let out = core.submit(&device("cam-1"), IntakeSource::Http, vec![det("cam-1", "a", "fishing", BAN)]).await;
    let id = out.unwrap()[0].incident.unwrap();
    let promoted = core.promote_incident(&op, id).await.unwrap();
    assert_eq!(promoted.incident.incident.state, IncidentState::Promoted);
    assert_eq!(promoted.incident.incident.case_id, Some(promoted.case.id));
    assert_eq!(promoted.case.category.as_str(), "E0701");
    assert_eq!(promoted.case.source, Source::Alert);
    assert_eq!(promoted.case.territory.as_str(), "340202");
    assert!(promoted.case.description.contains(&format!("Incident #{id}")), "{}", promoted.case.description);
    assert!(matches!(core.promote_incident(&op, id).await, Err(AppError::InvalidTransition(_))));
    // A promoted incident takes no more alerts.
    let next = core.submit(&device("cam-1"), IntakeSource::Http, vec![det("cam-1", "b", "fishing", BAN)]).await;
    assert_ne!(next.unwrap()[0].incident, Some(id));

    // A rule marked auto_promote promotes at once, as the platform.
    let far = (BAN.0 + 0.04, BAN.1 - 0.04);
    let out = core.submit(&device("cam-1"), IntakeSource::Http, vec![det("cam-1", "z", "electrofishing", far)]).await;
    let auto = out.unwrap()[0].incident.unwrap();
    let rec = core.store.incident(auto).await.unwrap().unwrap();
    assert_eq!(rec.incident.kind, AlertType::IllegalFishing);
    assert_eq!(rec.incident.state, IncidentState::Promoted);
    let case = core.store.case(rec.incident.case_id.unwrap()).await.unwrap().unwrap();
    assert_eq!(case.case.reporter, "eyes-auto-promote");
    assert!(case.case.urgent, "critical severity reports an urgent case");
}

#[tokio::test(flavor = "current_thread")]
async fn a_full_intake_queue_is_refused_at_once_and_drops_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    seed(&s).await;
    let core = std::sync::Arc::new(core(s).await);
    let n = citygrid_app::eyes::INTAKE_QUEUE + 40;
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let core = std::sync::Arc::clone(&core);
            tokio::spawn(async move {
                let d = det("cam-1", &format!("q{i}"), "smoke", B1);
                core.submit(&device("cam-1"), IntakeSource::Http, vec![d]).await
            })
        })
        .collect();
    let mut stored = vec![];
    let mut refused = vec![];
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(out) => {
                assert_eq!(out[0].status, ItemStatus::Accepted);
                stored.push(("cam-1".to_owned(), format!("q{i}")));
            }
            Err(AppError::Overloaded) => refused.push(("cam-1".to_owned(), format!("q{i}"))),
            Err(e) => panic!("{e}"),
        }
    }
    assert!(!refused.is_empty(), "more batches than the queue holds: some are refused");
    assert!(stored.len() >= citygrid_app::eyes::INTAKE_QUEUE, "the queue is used whole");
    assert!(core.store.detections_known(stored).await.unwrap().iter().all(|k| *k), "accepted means stored");
    assert!(core.store.detections_known(refused).await.unwrap().iter().all(|k| !*k), "refused means not stored");
}
