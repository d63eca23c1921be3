//! The water-station use cases without a network: registering a station,
//! taking in HJ 212 packets through [`StationIntake`], and reading the
//! readings back within scope.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

use chrono::{NaiveDate, Utc};
use citygrid_app::devices::RegisterDevice;
use citygrid_app::vault::Vault;
use citygrid_app::water::{ReadingsRequest, StationIntake, answer_code, refusal};
use citygrid_app::world::geometry_to_json;
use citygrid_app::{Actor, AppError, Core, CoreParts};
use citygrid_domain::access::{Principal, Role};
use citygrid_domain::audit::AuditEvent;
use citygrid_domain::calendar::{WorkingCalendar, default_periods};
use citygrid_domain::case::DeadlinePolicy;
use citygrid_domain::{DeviceKind, ReadingKind, Unit, UnitCode, WaterClass, Zone};
use citygrid_protocols::hj212::{Packet, QnRtn};
use citygrid_store::prelude::*;
use citygrid_store::{AuditFilter, StoredUnit};
use citygrid_store_sqlite::{SqliteOptions, SqliteStore};
use geo::{MultiPolygon, polygon};
use serde_json::json;

const MN: &str = "010000A8900016F000169DC0";
const PW: &str = "100000";

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

struct Fixture {
    core: Core<SqliteStore>,
    _dir: tempfile::TempDir,
}

/// City 340200 with districts 340202 (west) and 340207 (east), a water
/// section of target class II over the west one, and station `ws-1` at
/// (118.05, 31.15) in it.
async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path(), SqliteOptions::default()).unwrap();
    let ev = AuditEvent::ok(Utc::now(), "test", "admin", "fixture", "fixture");
    let units = vec![
        unit("340200", rect(118.0, 31.0, 118.4, 31.2)),
        unit("340202", rect(118.0, 31.0, 118.2, 31.2)),
        unit("340207", rect(118.2, 31.0, 118.4, 31.2)),
    ];
    store.upsert_units(units, ev).await.unwrap();
    let core = Core::load(CoreParts {
        store,
        calendar: WorkingCalendar::new(default_periods(), vec![]).unwrap(),
        policy: DeadlinePolicy::default(),
        vault: Vault::ephemeral(),
        nearby_radius_m: 200.0,
    })
    .await
    .unwrap();
    let admin = Actor::system("test");
    let zone: Zone = serde_json::from_value(json!({
        "id": "ws-a", "name": "长江", "kind": "water_section", "valid_from": "2024-01-01", "target_class": "II"
    }))
    .unwrap();
    let area = json!({"type": "Polygon", "coordinates": [[[118.0, 31.0], [118.2, 31.0], [118.2, 31.2], [118.0, 31.2], [118.0, 31.0]]]});
    core.put_zone(&admin, zone, area).await.unwrap();
    core.register_device(&admin, station("ws-1", MN), "kh-1".into()).await.unwrap();
    Fixture { core, _dir: dir }
}

fn station(id: &str, mn: &str) -> RegisterDevice {
    RegisterDevice {
        id: id.into(),
        name: "水质站".into(),
        kind: DeviceKind::WaterStation,
        lon: Some(118.05),
        lat: Some(31.15),
        unit: None,
        zones: vec![],
        mn: Some(mn.into()),
        pw: Some(PW.into()),
        water_section: Some("ws-a".into()),
        gateway: None,
        report_interval_secs: Some(3600),
    }
}

fn packet(cn: &str, pw: &str, cp: &str) -> Packet {
    let data = format!("QN=20260801085857223;ST=21;CN={cn};PW={pw};MN={MN};Flag=5;CP=&&{cp}&&");
    Packet::parse_data_segment(data.as_bytes()).unwrap()
}

/// COD 17 (class III), NH3-N 0.1 (class I), DO 1.0 flagged as a fault.
const SAMPLE: &str = "DataTime=20260801085800;w01018-Rtd=17,w01018-Flag=N;w21003-Rtd=0.1;w01009-Rtd=1.0,w01009-Flag=D";

async fn stored(f: &Fixture) -> Vec<citygrid_store::WaterReading> {
    let q = citygrid_store::ReadingQuery {
        station: "ws-1".into(),
        from: chrono::DateTime::from_timestamp(0, 0).unwrap(),
        to: Utc::now() + chrono::Duration::days(3650),
        kind: None,
        after: None,
        limit: 1000,
    };
    f.core.store.readings(q).await.unwrap().readings
}

fn who(role: Role, unit: Option<&str>) -> Actor {
    Actor::new(
        Principal { id: format!("{role}-1"), role, unit: unit.map(|u| UnitCode::parse(u).unwrap()), department: None },
        None,
    )
}

#[tokio::test]
async fn a_good_upload_is_classed_stored_once_and_answered() {
    let f = fixture().await;
    let dev = f.core.store.device("ws-1").await.unwrap().unwrap();
    assert_eq!(dev.unit.as_ref().map(UnitCode::as_str), Some("340202"));
    assert_eq!(dev.zones, vec!["ws-a".to_owned()]);

    let p = packet("2011", PW, SAMPLE);
    let done = f.core.ingest(p.clone(), None).await.unwrap();
    assert_eq!((done.station.as_str(), done.stored, done.duplicates), ("ws-1", 3, 0));
    assert_eq!(done.target, Some(WaterClass::II));
    assert_eq!(done.sample_class, Some(WaterClass::III), "the faulty DO value is left out");
    let reply = done.reply.unwrap();
    assert_eq!((reply.cn.as_str(), reply.qn), ("9014", p.qn));

    let rows = stored(&f).await;
    let by = |factor: &str| rows.iter().find(|r| r.factor == factor).unwrap();
    assert_eq!(by("w01018").class, Some(WaterClass::III));
    assert_eq!(by("w21003").class, Some(WaterClass::I));
    assert_eq!(by("w01009").class, None, "flagged D: kept, not classed");
    assert_eq!(by("w01009").flag.as_deref(), Some("D"));
    assert_eq!(by("w01018").kind, ReadingKind::Realtime);
    assert_eq!(by("w01018").data_time.to_rfc3339(), "2026-08-01T00:58:00+00:00");

    // Again: nothing new, still answered; one audit record for the first only.
    let again = f.core.ingest(p, None).await.unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 3));
    assert!(again.reply.is_some());
    let audit = f
        .core
        .store
        .audit_records(AuditFilter { action: Some("water.readings".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!((audit[0].event.actor.as_str(), audit[0].event.role.as_str()), ("ws-1", "device"));
    assert!(f.core.store.device("ws-1").await.unwrap().unwrap().last_seen.is_some());

    // No answer when the Flag asks for none.
    let quiet = Packet::parse_data_segment(
        format!(
            "QN=20260801090000000;ST=21;CN=2061;PW={PW};MN={MN};Flag=4;CP=&&DataTime=20260801080000;w01018-Avg=3&&"
        )
        .as_bytes(),
    )
    .unwrap();
    let done = f.core.ingest(quiet, None).await.unwrap();
    assert_eq!((done.stored, done.reply), (1, None));
}

#[tokio::test]
async fn refused_packets_store_nothing_and_get_the_right_code() {
    let f = fixture().await;
    let cases = [
        (packet("2011", "999999", SAMPLE), QnRtn::PwError),
        (packet("1062", PW, "RtdInterval=30"), QnRtn::CnError),
        (packet("2011", PW, "w01018-Rtd=1"), QnRtn::Rejected),
        (packet("2011", PW, "DataTime=19000101000000;w01018-Rtd=1"), QnRtn::Rejected),
    ];
    for (p, code) in cases {
        let e = f.core.ingest(p.clone(), None).await.unwrap_err();
        assert_eq!(answer_code(&e), Some(code), "{e:?}");
        let answer = refusal(&p, &e).unwrap();
        assert_eq!(answer.cn, "9011");
        assert_eq!(answer.cp.get("QnRtn"), Some(code.code().to_string().as_str()));
    }
    let mut unknown = packet("2011", PW, SAMPLE);
    unknown.mn = "NOBODY".into();
    let e = f.core.ingest(unknown, None).await.unwrap_err();
    assert!(matches!(e, AppError::NotFound(_)), "{e:?}");
    assert_eq!(answer_code(&e), Some(QnRtn::MnError));
    assert!(stored(&f).await.is_empty());
    // Our own trouble is not the station's fault: no answer, it sends again.
    assert_eq!(answer_code(&AppError::Overloaded), None);
    assert_eq!(answer_code(&AppError::Unavailable("db".into())), None);
}

#[tokio::test]
async fn registration_rules() {
    let f = fixture().await;
    let admin = Actor::system("test");
    let e = f.core.register_device(&admin, station("ws-2", MN), "kh-2".into()).await.unwrap_err();
    assert!(matches!(e, AppError::Conflict(_)), "{e:?}");
    let e = f.core.register_device(&who(Role::Operator, Some("340200")), station("ws-3", "MN3"), "kh-3".into()).await;
    assert!(matches!(e, Err(AppError::Forbidden)));
    let mut bad = station("ws-4", "MN4");
    bad.unit = Some(UnitCode::parse("340207").unwrap());
    let e = f.core.register_device(&admin, bad, "kh-4".into()).await.unwrap_err();
    assert!(matches!(e, AppError::Invalid { code: "unit_mismatch", .. }), "{e:?}");
    let mut bad = station("ws-5", "MN;5");
    bad.mn = Some("MN;5".into());
    let e = f.core.register_device(&admin, bad, "kh-5".into()).await.unwrap_err();
    assert!(matches!(e, AppError::Invalid { code: "invalid_mn", .. }), "{e:?}");
    let mut bad = station("ws-6", "MN6");
    bad.lon = None;
    bad.lat = None;
    let e = f.core.register_device(&admin, bad, "kh-6".into()).await.unwrap_err();
    assert!(matches!(e, AppError::Invalid { code: "position_required", .. }), "{e:?}");
}

#[tokio::test]
async fn readings_are_listed_within_scope() {
    let f = fixture().await;
    f.core.ingest(packet("2011", PW, SAMPLE), None).await.unwrap();
    let req = |limit| ReadingsRequest {
        station: "ws-1".into(),
        from: Some("2026-08-01T00:00:00Z".parse().unwrap()),
        to: Some("2026-08-02T00:00:00Z".parse().unwrap()),
        kind: None,
        after: None,
        limit,
    };
    let page = f.core.water_readings(&who(Role::Operator, Some("340202")), req(2)).await.unwrap();
    assert_eq!(page.readings.len(), 2);
    assert!(page.next.is_some());
    let e = f.core.water_readings(&who(Role::Operator, Some("340207")), req(10)).await.unwrap_err();
    assert!(matches!(e, AppError::OutOfScope(_)), "{e:?}");
    for role in [Role::Device, Role::Citizen, Role::Mediator] {
        let e = f.core.water_readings(&who(role, None), req(10)).await.unwrap_err();
        assert!(matches!(e, AppError::Forbidden), "{role}: {e:?}");
    }
    let mut ghost = req(10);
    ghost.station = "ghost".into();
    assert!(matches!(f.core.water_readings(&Actor::system("t"), ghost).await, Err(AppError::NotFound(_))));
    let mut backwards = req(10);
    backwards.from = Some("2026-08-03T00:00:00Z".parse().unwrap());
    let e = f.core.water_readings(&Actor::system("t"), backwards).await.unwrap_err();
    assert!(matches!(e, AppError::Invalid { code: "invalid_range", .. }), "{e:?}");
}
