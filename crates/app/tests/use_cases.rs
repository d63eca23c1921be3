//! The use cases without HTTP: a Core on a fresh SQLite store in a
//! temporary directory, a small fixture city, actors built by hand.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

use chrono::{NaiveDate, Utc};
use citygrid_app::report::ReportCase;
use citygrid_app::territory::ImportTerritory;
use citygrid_app::vault::Vault;
use citygrid_app::world::geometry_to_json;
use citygrid_app::{Actor, AppError, Core, CoreParts};
use citygrid_domain::access::{Principal, Role};
use citygrid_domain::audit::{AuditEvent, Outcome};
use citygrid_domain::calendar::{WorkingCalendar, default_periods};
use citygrid_domain::case::{Action, CaseState, DeadlinePolicy};
use citygrid_domain::personal::Contact;
use citygrid_domain::{Category, CategoryCode, Department, Point, TimeLimit, TimeLimits, Unit, UnitCode, Zone};
use citygrid_geo::repair::Format;
use citygrid_store::prelude::*;
use citygrid_store::{AuditFilter, StoredUnit};
use citygrid_store_sqlite::{SqliteOptions, SqliteStore};
use geo::{MultiPolygon, polygon};
use serde_json::json;

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

/// City 340200 (lon 118.0–118.4, lat 31.0–31.2), districts 340202 (west)
/// and 340207 (east), each down to two grids split north/south.
fn territory() -> Vec<StoredUnit> {
    let mut v = vec![unit("340200", rect(118.0, 31.0, 118.4, 31.2))];
    for (d, x0) in [("340202", 118.0), ("340207", 118.2)] {
        let x1 = x0 + 0.2;
        v.push(unit(d, rect(x0, 31.0, x1, 31.2)));
        v.push(unit(&format!("{d}001"), rect(x0, 31.0, x1, 31.2)));
        v.push(unit(&format!("{d}001001"), rect(x0, 31.0, x1, 31.2)));
        v.push(unit(&format!("{d}001001001"), rect(x0, 31.1, x1, 31.2)));
        v.push(unit(&format!("{d}001001002"), rect(x0, 31.0, x1, 31.1)));
    }
    v
}

fn category(code: &str) -> Category {
    let l = |n, u| TimeLimit { normal_minutes: n, urgent_minutes: u };
    Category {
        code: CategoryCode::parse(code).unwrap(),
        major_name: "市容环境".into(),
        name: "暴露垃圾".into(),
        department_type: "urban_management".into(),
        limits: TimeLimits { register: l(30, 10), dispatch: l(30, 10), acknowledge: l(60, 15), handle: l(450, 240) },
        active: true,
    }
}

fn department(code: &str, territory: &str) -> Department {
    Department {
        code: code.into(),
        name: code.into(),
        department_type: "urban_management".into(),
        territory: UnitCode::parse(territory).unwrap(),
    }
}

/// West district, north grid.
const A1: (f64, f64) = (118.05, 31.15);
/// East district, north grid.
const B1: (f64, f64) = (118.25, 31.15);

struct Fixture {
    core: Core<SqliteStore>,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path(), SqliteOptions::default()).unwrap();
    let ev = || AuditEvent::ok(Utc::now(), "test", "admin", "fixture", "fixture");
    store.upsert_units(territory(), ev()).await.unwrap();
    store.put_categories(vec![category("E0101")], ev()).await.unwrap();
    store
        .put_departments(vec![department("D340202-UM", "340202"), department("D340207-UM", "340207")], ev())
        .await
        .unwrap();
    let core = Core::load(CoreParts {
        store,
        calendar: WorkingCalendar::new(default_periods(), vec![]).unwrap(),
        policy: DeadlinePolicy::default(),
        vault: Vault::ephemeral(),
        nearby_radius_m: 200.0,
    })
    .await
    .unwrap();
    Fixture { core, _dir: dir }
}

fn actor(id: &str, role: Role, unit: Option<&str>, department: Option<&str>) -> Actor {
    Actor::new(
        Principal {
            id: id.into(),
            role,
            unit: unit.map(|u| UnitCode::parse(u).unwrap()),
            department: department.map(str::to_owned),
        },
        None,
    )
}

fn operator(unit: &str) -> Actor {
    actor(&format!("op-{unit}"), Role::Operator, Some(unit), None)
}

fn report_at((lon, lat): (f64, f64)) -> ReportCase {
    ReportCase {
        category: CategoryCode::parse("E0101").unwrap(),
        description: "垃圾堆放".into(),
        lon,
        lat,
        urgent: false,
        source: None,
        address: Some("  ".into()),
        contact: Some(Contact { name: Some("张三".into()), phone: Some("13812345678".into()), id_number: None }),
        evidence: vec![],
    }
}

async fn audited(core: &Core<SqliteStore>, action: &str) -> Vec<citygrid_domain::audit::AuditRecord> {
    let filter = AuditFilter { action: Some(action.into()), ..AuditFilter::default() };
    core.store.audit_records(filter).await.unwrap()
}

#[tokio::test]
async fn report_then_act_through_the_loop() {
    let f = fixture().await;
    let op = operator("340202");
    let reported = f.core.report(&op, report_at(A1)).await.unwrap();
    let case = &reported.created.case;
    assert_eq!(case.state, CaseState::Reported);
    assert_eq!(case.territory.as_str(), "340202001001001");
    assert_eq!(case.address, None, "a blank address counts as none");
    let masked = reported.contact.unwrap();
    assert_ne!(masked.phone.as_deref(), Some("13812345678"), "the contact comes back masked");
    let rec = f.core.store.case(case.id).await.unwrap().unwrap();
    let clear = f.core.open_contact(&rec).unwrap().unwrap();
    assert_eq!(clear.phone.as_deref(), Some("13812345678"), "the stored contact is sealed, not lost");
    assert_eq!(audited(&f.core, "case.create").await.len(), 1);

    // A second report nearby lists the first as a possible duplicate.
    let again = f.core.report(&op, report_at(A1)).await.unwrap();
    assert!(again.created.nearby.iter().any(|n| n.id == case.id), "{:?}", again.created.nearby);

    let id = case.id;
    let reg = f.core.act(&op, id, Action::Register { category: None, urgent: None, note: None }).await.unwrap();
    assert_eq!(reg.case.state, CaseState::Registered);
    // No department named: the category's default for the territory is chosen.
    let dispatch = Action::Dispatch { department: None, assists: vec![], note: None };
    let sent = f.core.act(&op, id, dispatch).await.unwrap();
    assert_eq!(sent.case.department.as_deref(), Some("D340202-UM"));
    assert_eq!(sent.departments_ever, vec!["D340202-UM".to_owned()]);
    assert_eq!(audited(&f.core, "case.dispatch").await.len(), 1);

    let handler = actor("h", Role::DepartmentHandler, None, Some("D340202-UM"));
    let ack = f.core.act(&handler, id, Action::Acknowledge { note: None }).await.unwrap();
    assert_eq!(ack.case.state, CaseState::Handling);
    assert_eq!(ack.case.version, 4);
}

#[tokio::test]
async fn a_report_outside_the_actors_scope_is_refused_and_audited() {
    let f = fixture().await;
    let e = f.core.report(&operator("340202"), report_at(B1)).await.unwrap_err();
    // Reporting at a place outside one's territory is forbidden (the place is no secret).
    assert!(matches!(e, AppError::Forbidden), "{e:?}");
    let denied = audited(&f.core, "denied.create_case").await;
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0].event.outcome, Outcome::Denied);
}

#[tokio::test]
async fn acting_on_a_case_outside_scope_looks_like_not_found() {
    let f = fixture().await;
    let id = f.core.report(&operator("340207"), report_at(B1)).await.unwrap().created.case.id;
    let register = Action::Register { category: None, urgent: None, note: None };
    let e = f.core.act(&operator("340202"), id, register.clone()).await.unwrap_err();
    assert!(matches!(e, AppError::OutOfScope(_)), "{e:?}");
    let e = f.core.act(&operator("340202"), 9999, register).await.unwrap_err();
    assert!(matches!(e, AppError::NotFound(ref r) if r == "case/9999"), "{e:?}");
}

#[tokio::test]
async fn an_unknown_category_an_outside_point_and_a_bad_point_are_refused() {
    let f = fixture().await;
    let op = operator("340200");
    let unknown = ReportCase { category: CategoryCode::parse("E0999").unwrap(), ..report_at(A1) };
    match f.core.report(&op, unknown).await.unwrap_err() {
        AppError::Invalid { code, .. } => assert_eq!(code, "unknown_category"),
        e => panic!("{e:?}"),
    }
    match f.core.report(&op, report_at((119.5, 31.1))).await.unwrap_err() {
        AppError::Invalid { code, .. } => assert_eq!(code, "outside_territory"),
        e => panic!("{e:?}"),
    }
    match f.core.report(&op, report_at((200.0, 31.1))).await.unwrap_err() {
        AppError::Malformed { code, .. } => assert_eq!(code, "invalid_point"),
        e => panic!("{e:?}"),
    }
    // Registering under a category that does not exist.
    let id = f.core.report(&op, report_at(A1)).await.unwrap().created.case.id;
    let register = Action::Register { category: Some(CategoryCode::parse("E0999").unwrap()), urgent: None, note: None };
    match f.core.act(&op, id, register).await.unwrap_err() {
        AppError::Invalid { code, .. } => assert_eq!(code, "unknown_category"),
        e => panic!("{e:?}"),
    }
    assert!(f.core.store.case(id).await.unwrap().unwrap().case.state == CaseState::Reported, "nothing written");
}

#[tokio::test]
async fn a_transition_the_loop_forbids_is_an_invalid_transition() {
    let f = fixture().await;
    let op = operator("340200");
    let id = f.core.report(&op, report_at(A1)).await.unwrap().created.case.id;
    let e = f.core.act(&op, id, Action::Close { note: None }).await.unwrap_err();
    assert!(matches!(e, AppError::InvalidTransition(_)), "{e:?}");
    let e = f.core.act(&op, id, Action::Register { category: None, urgent: None, note: None }).await;
    assert!(e.is_ok());
    // Dispatching to a department that does not exist.
    let dispatch = Action::Dispatch { department: Some("D-NONE".into()), assists: vec![], note: None };
    match f.core.act(&op, id, dispatch).await.unwrap_err() {
        AppError::Invalid { code, message } => assert!(code == "validation_failed" && message.contains("D-NONE")),
        e => panic!("{e:?}"),
    }
}

#[tokio::test]
async fn a_source_fixed_by_role_cannot_be_changed_and_missing_evidence_is_named() {
    let f = fixture().await;
    let worker = actor("gw", Role::GridWorker, Some("340202001001"), None);
    let lie = ReportCase { source: Some(citygrid_domain::case::Source::Hotline), ..report_at(A1) };
    assert!(matches!(
        f.core.report(&worker, lie).await.unwrap_err(),
        AppError::Invalid { code: "validation_failed", .. }
    ));
    let ghost = ReportCase { evidence: vec!["ab".repeat(32)], ..report_at(A1) };
    assert!(matches!(
        f.core.report(&worker, ghost).await.unwrap_err(),
        AppError::Invalid { code: "unknown_attachment", .. }
    ));
}

fn grid(code: &str, x0: f64, y0: f64, x1: f64, y1: f64) -> serde_json::Value {
    json!({"type": "Feature", "properties": {"code": code, "name": code},
           "geometry": {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}})
}

#[tokio::test]
async fn a_territory_import_is_checked_written_and_swapped_in() {
    let f = fixture().await;
    let admin = Actor::system("test");
    // Re-split the west community west/east.
    let file = json!({"type": "FeatureCollection", "features": [
        grid("340202001001001", 118.0, 31.0, 118.1, 31.2),
        grid("340202001001002", 118.1, 31.0, 118.2, 31.2),
    ]})
    .to_string();
    let req = |dry_run| ImportTerritory { text: file.clone(), format: Format::GeoJson, repair: false, dry_run };
    let dry = f.core.import_territory(&admin, req(true)).await.unwrap();
    assert_eq!((dry.units, dry.imported), (2, 0));
    let before = f.core.world().territory.locate(Point::new(118.15, 31.15).unwrap()).unwrap();
    assert_eq!(before.deepest().unwrap().as_str(), "340202001001001");
    let done = f.core.import_territory(&admin, req(false)).await.unwrap();
    assert_eq!(done.imported, 2);
    let after = f.core.world().territory.locate(Point::new(118.15, 31.15).unwrap()).unwrap();
    assert_eq!(after.deepest().unwrap().as_str(), "340202001001002", "the new boundaries are swapped in");
    assert_eq!(audited(&f.core, "territory.import").await.len(), 1, "the dry run wrote nothing");

    // Overlapping siblings: refused with every problem, nothing written.
    let bad = json!({"type": "FeatureCollection", "features": [
        grid("340202001001001", 118.0, 31.0, 118.15, 31.2),
        grid("340202001001002", 118.1, 31.0, 118.2, 31.2),
    ]})
    .to_string();
    let e = f
        .core
        .import_territory(&admin, ImportTerritory { text: bad, format: Format::GeoJson, repair: false, dry_run: false })
        .await
        .unwrap_err();
    assert!(matches!(&e, AppError::InvalidBoundaries(r) if !r.report.problems.is_empty()), "{e:?}");

    // Only administrators.
    let e = f.core.import_territory(&operator("340200"), req(true)).await.unwrap_err();
    assert!(matches!(e, AppError::Forbidden), "{e:?}");
}

#[tokio::test]
async fn zones_and_catalogue_edits_are_checked_stored_and_reloaded() {
    let f = fixture().await;
    let admin = Actor::system("test");
    let zone: Zone = serde_json::from_value(json!({
        "id": "ring-a", "name": "Ring A", "kind": "key_area", "territory": "340202",
        "valid_from": "2024-01-01"
    }))
    .unwrap();
    let area = json!({"type": "Polygon", "coordinates": [[[118.01, 31.01], [118.05, 31.01], [118.05, 31.05], [118.01, 31.05], [118.01, 31.01]]]});
    f.core.put_zone(&admin, zone.clone(), area).await.unwrap();
    assert!(f.core.world().zones.get("ring-a").is_some());
    // Entirely outside its territory (the east district).
    let far = json!({"type": "Polygon", "coordinates": [[[118.3, 31.01], [118.35, 31.01], [118.35, 31.05], [118.3, 31.05], [118.3, 31.01]]]});
    match f.core.put_zone(&admin, zone, far).await.unwrap_err() {
        AppError::Invalid { code, .. } => assert_eq!(code, "invalid_geometry"),
        e => panic!("{e:?}"),
    }
    f.core.delete_zone(&admin, "ring-a").await.unwrap();
    assert!(f.core.world().zones.get("ring-a").is_none());
    assert!(matches!(f.core.delete_zone(&admin, "ring-a").await.unwrap_err(), AppError::NotFound(_)));

    f.core.put_category(&admin, category("E0102")).await.unwrap();
    assert!(f.core.world().catalog.categories.contains_key(&CategoryCode::parse("E0102").unwrap()));
    f.core.put_department(&admin, department("D340200-UM", "340200")).await.unwrap();
    assert!(f.core.world().catalog.departments.contains_key("D340200-UM"));
    let nowhere = department("D-X", "340209");
    assert!(matches!(f.core.put_department(&admin, nowhere).await.unwrap_err(), AppError::Invalid { .. }));
    let long = department(&"D".repeat(65), "340200");
    assert!(matches!(f.core.put_department(&admin, long).await.unwrap_err(), AppError::Invalid { .. }));
    assert_eq!(audited(&f.core, "department.put").await.len(), 1);
    assert!(matches!(
        f.core.put_category(&operator("340200"), category("E0103")).await.unwrap_err(),
        AppError::Forbidden
    ));
}

#[tokio::test]
async fn reload_picks_up_writes_made_elsewhere() {
    let f = fixture().await;
    let ev = AuditEvent::ok(Utc::now(), "other", "admin", "category.put", "category/E0104");
    f.core.store.put_categories(vec![category("E0104")], ev).await.unwrap();
    let code = CategoryCode::parse("E0104").unwrap();
    assert!(!f.core.world().catalog.categories.contains_key(&code));
    f.core.reload_world().await.unwrap();
    assert!(f.core.world().catalog.categories.contains_key(&code));
    assert_eq!(f.core.world().territory.len(), territory().len());
}
