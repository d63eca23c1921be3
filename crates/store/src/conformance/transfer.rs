//! Checks of [`TransferStore`]: a filled store exports every table whole and
//! in key order, refuses its own rows back all or nothing, and copies into
//! another (possibly different) backend exactly.

use chrono::Duration;
use citygrid_domain::audit::{Outcome, verify_chain};
use citygrid_domain::{Department, DeviceKind, Level, Unit, UnitCode};

use super::{Fixture, NEAR, audit, t0, three_cases, two_zones, user};
use crate::prelude::*;
use crate::{
    AttachmentMeta, AuditFilter, CaseFilter, CaseRecord, CaseScope, LoginOutcome, Row, SessionRecord, StoreError,
    StoredUnit, Table, UserRecord,
};

/// The rows' page size in these checks: small, so that `after` is used.
const PAGE: usize = 3;

/// Blob hashes spread over several fan-out directories, and their bytes.
fn blobs() -> Vec<(String, Vec<u8>)> {
    ["1a", "1b", "c3", "f0", "0e"]
        .iter()
        .enumerate()
        .map(|(i, p)| (p.repeat(32), (0..=255u8).cycle().skip(i).take(1000 + 700 * i).collect()))
        .collect()
}

/// Fills a store with some of everything, through the ordinary operations:
/// settings, territory, zones, catalogue, users with sessions, a device,
/// attachments and their bytes, cases with timelines and a sealed contact,
/// and the audit trail all of it leaves.
pub async fn fill<S: Store>(s: &S) {
    let f = Fixture::new();
    s.set_meta("installation", "wuhu", audit("meta.set")).await.unwrap();
    s.set_meta("demo.seeded", "2026-11-23", audit("meta.set")).await.unwrap();

    let unit = |code: &str, level| Unit {
        code: UnitCode::parse(code).unwrap(),
        name: format!("unit {code}"),
        level,
        parent: UnitCode::parse(code).unwrap().parent(),
        valid_from: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        valid_to: None,
        synthetic: true,
    };
    let geom = r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}"#.to_owned();
    let units = [("340200", Level::City), ("340202", Level::District), ("340207", Level::District)]
        .into_iter()
        .map(|(c, l)| StoredUnit { unit: unit(c, l), geometry: geom.clone() })
        .collect();
    s.upsert_units(units, audit("territory.import")).await.unwrap();
    two_zones(s).await;

    s.put_categories(f.cats.clone(), audit("category.put")).await.unwrap();
    let dept = |code: &str, t: &str| Department {
        code: code.into(),
        name: format!("department {code}"),
        department_type: t.into(),
        territory: UnitCode::parse("340202").unwrap(),
    };
    let depts = vec![dept("D340202-UM", "urban_management"), dept("D340202-EE", "ecology_environment")];
    s.put_departments(depts, audit("department.put")).await.unwrap();

    let mut users = vec![user()];
    for (i, name) in ["alice", "bob", "carol"].into_iter().enumerate() {
        users.push(UserRecord {
            id: format!("u-{name}"),
            username: name.into(),
            display_name: name.to_uppercase(),
            locked_until: (i == 1).then(|| t0() + Duration::minutes(15)),
            failed_logins: i as u32,
            ..user()
        });
    }
    for u in &users {
        s.create_user(u.clone(), audit("user.create")).await.unwrap();
    }
    for (i, u) in users.iter().enumerate() {
        let session = SessionRecord {
            token_hash: format!("{:02x}", 255 - i).repeat(32),
            user_id: u.id.clone(),
            created_at: t0() + Duration::minutes(i as i64),
            expires_at: t0() + Duration::hours(8),
            revoked_at: None,
        };
        let ok = LoginOutcome { user_id: u.id.clone(), failed_logins: 0, locked_until: None, session: Some(session) };
        s.record_login(ok, audit("auth.login")).await.unwrap();
    }
    s.revoke_sessions("u-bob", None, t0() + Duration::hours(1), audit("auth.logout")).await.unwrap();

    for (i, kind) in ["camera", "station"].into_iter().enumerate() {
        let mut dev = super::device(&format!("{kind}-{i}"), &format!("kh-{i}"));
        dev.kind = if kind == "camera" { DeviceKind::Camera } else { DeviceKind::WaterStation };
        dev.unit = Some(UnitCode::parse("340202").unwrap());
        if dev.kind == DeviceKind::WaterStation {
            dev.station = Some(super::station_link("MN-TRANSFER"));
            dev.position = Some(citygrid_domain::Point { lon: 118.05, lat: 31.15 });
            dev.zones = vec!["ws-1".into()];
        }
        s.create_device(dev, audit("device.create")).await.unwrap();
    }
    s.revoke_device("station-1", t0() + Duration::hours(2), audit("device.revoke")).await.unwrap();

    for (sha, bytes) in blobs() {
        s.put_blob(&sha, bytes.clone()).await.unwrap();
        let meta = AttachmentMeta {
            sha256: sha,
            size: bytes.len() as u64,
            content_type: "image/png".into(),
            uploaded_by: "u-op".into(),
            uploaded_at: t0() + Duration::seconds(bytes.len() as i64),
        };
        s.put_attachment(meta, audit("attachment.upload")).await.unwrap();
    }

    three_cases(s, &f).await;
    for i in 0..4 {
        let (c, e) = f.new_case(i % 2, 118.40 + f64::from(i as u32) * 0.01, "340202001001001", t0());
        let contact = (i == 2).then(super::sealed);
        s.create_case(c, e, contact, NEAR, audit("case.create")).await.unwrap();
    }
    let (c, e) = f.new_case(1, 118.5, "340207001001001", t0());
    let loaded = CaseRecord { case: c, timeline: vec![e], contact: Some(super::sealed()) };
    s.import_cases(vec![loaded], audit("case.import")).await.unwrap();

    let (detections, incidents) = eyes_rows();
    let batch = crate::DetectionBatch { detections, incidents, audit: audit("detections.record") };
    s.record_detections(batch).await.unwrap();
    let mut confirmed = eyes_rows().1[1].clone();
    confirmed.incident.apply(citygrid_domain::eyes::Transition::Confirm).unwrap();
    confirmed.version = 2;
    s.update_incident(confirmed, audit("incident.confirm")).await.unwrap();

    let mut denied = audit("case.read");
    denied.actor = "intruder".into();
    denied.outcome = Outcome::Denied;
    denied.source_ip = Some("10.0.0.9".into());
    denied.detail = Some("{\"why\":\"scope\"}".into());
    s.append_audit(denied).await.unwrap();
}

/// The detections and incidents [`fill`] records: two incidents, three
/// detections (one of no incident) from two devices whose ids order
/// differently as text and as pairs (`cam` < `cam-1`).
fn eyes_rows() -> (Vec<crate::StoredDetection>, Vec<crate::IncidentRecord>) {
    use citygrid_domain::eyes::AlertType;
    let mut a = super::eyes::detection("cam", "z-9", 0);
    let b = super::eyes::detection("cam-1", "a-1", 1);
    let c = super::eyes::detection("cam", "a-2", 2);
    let one = super::eyes::incident(1, AlertType::IllegalFishing, &a, "340202001001001");
    let two = super::eyes::incident(2, AlertType::IllegalDumping, &c, "340207001001001");
    a.incident = Some(1);
    a.rule = one.rule.clone();
    (vec![a, b, c], vec![one, two])
}

/// Every row of `table`, read `page` rows at a time; checks each page's
/// size and table on the way.
pub async fn export_all<S: Store>(s: &S, table: Table, page: usize) -> Vec<Row> {
    let mut rows: Vec<Row> = vec![];
    loop {
        let after = rows.last().map(Row::key);
        let got = s.export_rows(table, after.clone(), page).await.unwrap();
        assert!(got.len() <= page, "{table:?}: a page of {page} held {}", got.len());
        assert!(got.iter().all(|r| r.table() == table), "{table:?}: a row of another table");
        if got.is_empty() {
            return rows;
        }
        rows.extend(got);
    }
}

/// Every table, whole.
async fn export_everything<S: Store>(s: &S) -> Vec<(Table, Vec<Row>)> {
    let mut out = vec![];
    for t in Table::ALL {
        out.push((t, export_all(s, t, 1000).await));
    }
    out
}

fn keys(rows: &[Row]) -> Vec<String> {
    rows.iter().map(Row::key).collect()
}

/// What the ordinary operations show of the filled store, per table, as
/// rows in key order: what an export must hold.
async fn expected<S: Store>(s: &S, table: Table) -> Vec<Row> {
    let mut rows: Vec<Row> = match table {
        Table::Meta => {
            let mut rows = vec![];
            for key in ["demo.seeded", "installation"] {
                let value = s.meta(key).await.unwrap().unwrap();
                rows.push(Row::Meta { key: key.into(), value });
            }
            rows
        }
        Table::Units => s.territory().await.unwrap().into_iter().map(Row::Unit).collect(),
        Table::Zones => s.zones().await.unwrap().into_iter().map(Row::Zone).collect(),
        Table::Categories => s.categories().await.unwrap().into_iter().map(Row::Category).collect(),
        Table::Departments => s.departments().await.unwrap().into_iter().map(Row::Department).collect(),
        Table::Users => s.users().await.unwrap().into_iter().map(Row::User).collect(),
        Table::Sessions => {
            let mut rows = vec![];
            for i in 0..4usize {
                let h = format!("{:02x}", 255 - i).repeat(32);
                rows.push(Row::Session(s.session(&h).await.unwrap().unwrap()));
            }
            rows
        }
        Table::Devices => s.devices().await.unwrap().into_iter().map(Row::Device).collect(),
        Table::Attachments => {
            let mut rows = vec![];
            for (sha, _) in blobs() {
                rows.push(Row::Attachment(s.attachment(&sha).await.unwrap().unwrap()));
            }
            rows
        }
        Table::Blobs => blobs().into_iter().map(|(sha256, bytes)| Row::Blob { sha256, bytes }).collect(),
        Table::Cases => {
            let page = s.list_cases(CaseFilter::scoped(CaseScope::All, 1000)).await.unwrap();
            let mut rows = vec![];
            for c in page.cases {
                rows.push(Row::Case(Box::new((*s.case(c.id).await.unwrap().unwrap()).clone())));
            }
            rows
        }
        Table::Audit => s.audit_records(AuditFilter::default()).await.unwrap().into_iter().map(Row::Audit).collect(),
        Table::Incidents => {
            let page = s.list_incidents(crate::IncidentFilter::scoped(CaseScope::All, 100)).await.unwrap();
            page.incidents.into_iter().map(|r| Row::Incident(Box::new(r))).collect()
        }
        Table::Detections => eyes_rows().0.into_iter().map(|d| Row::Detection(Box::new(d))).collect(),
    };
    rows.sort_by_key(Row::key);
    rows
}

pub async fn transfer_round_trips<S: Store>(s: &S) {
    fill(s).await;
    let mut before = vec![];
    for t in Table::ALL {
        let rows = export_all(s, t, PAGE).await;
        let k = keys(&rows);
        assert!(k.windows(2).all(|w| w[0] < w[1]), "{t:?}: keys ascend without repeats: {k:?}");
        assert_eq!(rows, expected(s, t).await, "{t:?}: the export holds every row, exactly");
        assert_eq!(rows, export_all(s, t, 1000).await, "{t:?}: the page size changes nothing");
        if let Some(last) = k.last() {
            assert!(
                s.export_rows(t, Some(last.clone()), PAGE).await.unwrap().is_empty(),
                "{t:?}: nothing after the last"
            );
        }
        before.push((t, rows));
    }
    let cases = &before.iter().find(|(t, _)| *t == Table::Cases).unwrap().1;
    assert_eq!(cases.len(), 8);
    assert!(cases.iter().any(|r| matches!(r, Row::Case(c) if c.contact.is_some() && c.timeline.len() == 3)));

    // Every table's rows back into the same store: each is taken.
    for (t, rows) in &before {
        let err = s.import_rows(rows.clone()).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{t:?}: {err:?}");
    }
    let everything: Vec<Row> = before.iter().flat_map(|(_, rows)| rows.clone()).collect();
    let err = s.import_rows(everything).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    // A batch with new rows and one taken key writes none of them.
    let fresh_sha = "9d".repeat(32);
    let mut mixed = vec![
        Row::Meta { key: "fresh".into(), value: "v".into() },
        Row::Blob { sha256: fresh_sha.clone(), bytes: b"new".to_vec() },
    ];
    mixed.push(before.iter().find(|(t, _)| *t == Table::Cases).unwrap().1[0].clone());
    let err = s.import_rows(mixed).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(s.meta("fresh").await.unwrap(), None, "all or nothing");
    assert_eq!(s.blob(&fresh_sha).await.unwrap(), None, "all or nothing, bytes too");
    assert_eq!(export_everything(s).await, before, "refused imports change nothing and audit nothing");
}

/// Fills `from`, copies every table into the empty `to` with
/// export / import / finish, and checks the copy: every table's export the
/// same on both sides, the audit trail verifying on `to`, and `to` going on
/// from where `from` stopped (new case ids above the imported ones, new audit
/// records chaining on, imported open cases found as duplicates).
pub async fn transfer_between<A: Store, B: Store>(from: &A, to: &B) {
    fill(from).await;
    for t in Table::ALL {
        assert!(to.export_rows(t, None, PAGE).await.unwrap().is_empty(), "{t:?}: the target starts empty");
    }
    for t in Table::ALL {
        let mut after = None;
        loop {
            let rows = from.export_rows(t, after.clone(), PAGE).await.unwrap();
            let Some(last) = rows.last() else { break };
            after = Some(last.key());
            to.import_rows(rows).await.unwrap();
        }
    }
    to.finish_import().await.unwrap();
    let copied = export_everything(to).await;
    assert_eq!(copied, export_everything(from).await, "every table copied exactly");
    for (t, rows) in &copied {
        assert!(!rows.is_empty(), "{t:?}: something was copied");
    }

    let trail = to.audit_records(AuditFilter::default()).await.unwrap();
    let n = trail.len() as u64;
    assert_eq!(verify_chain(&trail), Ok(n), "the copied trail verifies");
    assert_eq!(to.audit_records(AuditFilter::default()).await.unwrap().len(), trail.len(), "import audits nothing");

    // Reads through the ordinary operations see the copy.
    let imported: Vec<CaseRecord> = copied
        .iter()
        .find(|(t, _)| *t == Table::Cases)
        .map(|(_, rows)| rows.iter().filter_map(|r| if let Row::Case(c) = r { Some((**c).clone()) } else { None }))
        .unwrap()
        .collect();
    for rec in &imported {
        assert_eq!(*to.case(rec.case.id).await.unwrap().unwrap(), *rec);
    }
    for (sha, bytes) in blobs() {
        assert_eq!(to.blob(&sha).await.unwrap(), Some(bytes));
    }
    assert_eq!(to.user_by_username("op").await.unwrap(), from.user_by_username("op").await.unwrap());

    // The copy goes on where the original stopped.
    let f = Fixture::new();
    let max_id = imported.iter().map(|r| r.case.id).max().unwrap();
    let first = imported.iter().find(|r| r.contact.is_some() && r.timeline.len() == 3).unwrap();
    let (c, e) = f.new_case(0, first.case.location.lon + 0.0002, "340202001001001", t0() + Duration::hours(3));
    let created = to.create_case(c, e, None, NEAR, audit("case.create")).await.unwrap();
    assert!(created.case.id > max_id, "new id {} after the imported {max_id}", created.case.id);
    assert!(
        created.nearby.iter().any(|near| near.id == first.case.id),
        "imported open cases count as nearby: {:?}",
        created.nearby
    );
    to.append_audit(audit("store.check")).await.unwrap();
    let trail = to.audit_records(AuditFilter::default()).await.unwrap();
    assert_eq!(trail.len() as u64, n + 2);
    assert_eq!(verify_chain(&trail), Ok(n + 2), "new records chain on from the imported head");
    assert_eq!(trail[trail.len() - 1].event.action, "store.check");
}
