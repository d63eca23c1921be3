//! The shared test suite every backend must pass (enable the `conformance`
//! feature in the backend's dev-dependencies and call [`run_all`] on a fresh
//! store). Test code: a failed check panics with what went wrong.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use citygrid_domain::audit::{AuditEvent, verify_chain};
use citygrid_domain::calendar::WorkingCalendar;
use citygrid_domain::case::{
    Action, Case, CaseState, DeadlinePolicy, DecideContext, NewCase, Source, TimelineEntry, decide, report,
};
use citygrid_domain::zone::{ClockTime, HourRange, MonthDay, Schedule, Season};
use citygrid_domain::{
    BBox, Category, CategoryCode, Department, Level, Point, TimeLimit, TimeLimits, Unit, UnitCode, WaterClass, Zone,
    ZoneKind,
};

use citygrid_domain::access::Role;

use crate::{
    AttachmentMeta, AuditFilter, CaseFilter, CaseRecord, CaseScope, DeviceRecord, LoginOutcome, NearbyQuery,
    SealedContact, SessionRecord, Store, StoreError, StoredUnit, StoredZone, UserRecord,
};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap()
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

struct Fixture {
    cal: WorkingCalendar,
    policy: DeadlinePolicy,
    cats: Vec<Category>,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            cal: WorkingCalendar::default(),
            policy: DeadlinePolicy::default(),
            cats: vec![category("E0101"), category("E0102")],
        }
    }
    fn ctx(&self, now: DateTime<Utc>, cat: usize) -> DecideContext<'_> {
        DecideContext {
            now,
            actor: "u1",
            actor_role: "operator",
            calendar: &self.cal,
            category: &self.cats[cat],
            policy: &self.policy,
        }
    }
    fn new_case(&self, cat: usize, lon: f64, territory: &str, now: DateTime<Utc>) -> (Case, TimelineEntry) {
        let new = NewCase {
            category: self.cats[cat].code.clone(),
            urgent: false,
            source: Source::GridWorker,
            location: Point { lon, lat: 31.33 },
            territory: UnitCode::parse(territory).unwrap(),
            description: format!("case at {lon}"),
            address: None,
            evidence: vec![],
        };
        report(0, new, &self.ctx(now, cat)).unwrap()
    }
}

fn audit(action: &str) -> AuditEvent {
    AuditEvent::ok(t0(), "u1", "operator", action, "test")
}

fn sealed() -> SealedContact {
    SealedContact { ciphertext: "k1:opaque".into(), phone_index: Some("pidx".into()), id_index: Some("iidx".into()) }
}

const NEAR: NearbyQuery = NearbyQuery { radius_m: 200.0, limit: 10 };

/// Runs every check on a fresh, empty store.
pub async fn run_all<S: Store>(s: &S) {
    meta(s).await;
    territory(s).await;
    catalogue(s).await;
    zones(s).await;
    cases(s).await;
    attachments(s).await;
    accounts(s).await;
    audit_chain(s).await;
}

async fn meta<S: Store>(s: &S) {
    assert_eq!(s.meta("k").await.unwrap(), None);
    s.set_meta("k", "v1").await.unwrap();
    s.set_meta("k", "v2").await.unwrap();
    assert_eq!(s.meta("k").await.unwrap().as_deref(), Some("v2"));
}

async fn territory<S: Store>(s: &S) {
    let unit = |code: &str, level| Unit {
        code: UnitCode::parse(code).unwrap(),
        name: code.into(),
        level,
        parent: UnitCode::parse(code).unwrap().parent(),
        valid_from: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        valid_to: None,
        synthetic: true,
    };
    let geom = r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}"#.to_owned();
    let units = vec![
        StoredUnit { unit: unit("340200", Level::City), geometry: geom.clone() },
        StoredUnit { unit: unit("340202", Level::District), geometry: geom.clone() },
    ];
    assert_eq!(s.upsert_units(units.clone(), audit("territory.import")).await.unwrap(), 2);
    let mut again = units[1].clone();
    again.unit.name = "镜湖区".into();
    s.upsert_units(vec![again.clone()], audit("territory.import")).await.unwrap();
    let got = s.territory().await.unwrap();
    assert_eq!(got, vec![units[0].clone(), again]);
}

async fn catalogue<S: Store>(s: &S) {
    let f = Fixture::new();
    s.put_categories(f.cats.clone(), audit("category.put")).await.unwrap();
    assert_eq!(s.categories().await.unwrap(), f.cats);
    let d = Department {
        code: "D340202-UM".into(),
        name: "镜湖区城市管理局".into(),
        department_type: "urban_management".into(),
        territory: UnitCode::parse("340202").unwrap(),
    };
    s.put_departments(vec![d.clone()], audit("department.put")).await.unwrap();
    assert_eq!(s.departments().await.unwrap(), vec![d]);
}

async fn zones<S: Store>(s: &S) {
    assert!(s.zones().await.unwrap().is_empty());
    let zone = |id: &str, kind| Zone {
        id: id.into(),
        name: format!("zone {id}"),
        kind,
        valid_from: chrono::NaiveDate::from_ymd_opt(2021, 1, 1).unwrap(),
        valid_to: chrono::NaiveDate::from_ymd_opt(2030, 12, 31),
        schedule: None,
        territory: Some(UnitCode::parse("340200").unwrap()),
        target_class: None,
        note: None,
    };
    let geom = r#"{"type":"Polygon","coordinates":[[[118,31],[118.1,31],[118.1,31.1],[118,31]]]}"#.to_owned();
    let ban = StoredZone { zone: zone("yangtze-ban", ZoneKind::FishingBanWater), geometry: geom.clone() };
    let mut section = StoredZone { zone: zone("ws-1", ZoneKind::WaterSection), geometry: geom.clone() };
    section.zone.target_class = Some(WaterClass::II);
    section.zone.note = Some("demo".into());
    section.zone.schedule = Some(Schedule {
        seasons: vec![Season { from: MonthDay::new(3, 1).unwrap(), to: MonthDay::new(6, 30).unwrap() }],
        hours: vec![HourRange { from: ClockTime::new(22, 0).unwrap(), to: ClockTime::new(6, 0).unwrap() }],
    });
    s.put_zones(vec![ban.clone(), section.clone()], audit("zone.put")).await.unwrap();
    assert_eq!(s.zones().await.unwrap(), vec![section.clone(), ban.clone()], "every field back, by id");

    // Replacing one leaves the others.
    let mut renamed = ban.clone();
    renamed.zone.name = "长江禁捕水域".into();
    renamed.geometry = geom.replace("118.1", "118.2");
    s.put_zones(vec![renamed.clone()], audit("zone.put")).await.unwrap();
    assert_eq!(s.zones().await.unwrap(), vec![section.clone(), renamed.clone()]);

    // All or nothing, and a refused write leaves no audit record.
    let trail = s.audit_records(AuditFilter::default()).await.unwrap().len();
    let fresh = StoredZone { zone: zone("key-1", ZoneKind::KeyArea), geometry: geom.clone() };
    let mut wrong = StoredZone { zone: zone("key-2", ZoneKind::KeyArea), geometry: geom.clone() };
    wrong.zone.target_class = Some(WaterClass::III);
    let err = s.put_zones(vec![fresh.clone(), wrong], audit("zone.put")).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let err = s.put_zones(vec![fresh.clone(), fresh.clone()], audit("zone.put")).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "an id twice in one write: {err:?}");
    assert_eq!(s.zones().await.unwrap(), vec![section.clone(), renamed]);
    assert_eq!(s.audit_records(AuditFilter::default()).await.unwrap().len(), trail);

    s.delete_zone("yangtze-ban", audit("zone.delete")).await.unwrap();
    assert_eq!(s.zones().await.unwrap(), vec![section], "only the deleted zone is gone");
    let err = s.delete_zone("yangtze-ban", audit("zone.delete")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert_eq!(
        s.audit_records(AuditFilter::default()).await.unwrap().len(),
        trail + 1,
        "a failed delete audits nothing"
    );
}

async fn apply<S: Store>(s: &S, f: &Fixture, case: &Case, a: Action, now: DateTime<Utc>) -> Case {
    let e = decide(case, &a, &f.ctx(now, 0)).unwrap();
    let mut c = case.clone();
    c.apply(&e);
    s.append_entry(c.clone(), e, audit("case.act")).await.unwrap();
    c
}

async fn cases<S: Store>(s: &S) {
    let f = Fixture::new();
    // Creation assigns ids and reports open same-category cases nearby.
    let (c, e) = f.new_case(0, 118.3800, "340202001001001", t0());
    let first = s.create_case(c, e, Some(sealed()), NEAR, audit("case.create")).await.unwrap();
    assert!(first.case.id > 0);
    assert!(first.nearby.is_empty());
    let (c, e) = f.new_case(0, 118.3805, "340202001001002", t0() + Duration::minutes(1));
    let second = s.create_case(c, e, None, NEAR, audit("case.create")).await.unwrap();
    assert_ne!(second.case.id, first.case.id);
    assert_eq!(second.nearby.iter().map(|n| n.id).collect::<Vec<_>>(), vec![first.case.id]);
    assert!((second.nearby[0].distance_m - 47.6).abs() < 1.0, "{:?}", second.nearby);
    let (c, e) = f.new_case(1, 118.3801, "340207001001001", t0() + Duration::minutes(2));
    let other_cat = s.create_case(c, e, None, NEAR, audit("case.create")).await.unwrap();
    assert!(other_cat.nearby.is_empty(), "a different category is not a duplicate");

    // Appending moves the projection; a stale version is a conflict.
    let now = t0() + Duration::minutes(5);
    let reg = Action::Register { category: None, urgent: None, note: None };
    let c1 = apply(s, &f, &first.case, reg.clone(), now).await;
    let stale = decide(&first.case, &reg, &f.ctx(now, 0)).unwrap();
    let mut stale_case = first.case.clone();
    stale_case.apply(&stale);
    let err = s.append_entry(stale_case, stale, audit("case.act")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let dispatch =
        Action::Dispatch { department: Some("D340202-UM".into()), assists: vec!["D340202-EE".into()], note: None };
    let c1 = apply(s, &f, &c1, dispatch, now).await;
    let rec = s.case(c1.id).await.unwrap().unwrap();
    assert_eq!(rec.case, c1);
    assert_eq!(rec.timeline.len(), 3);
    let mut replay = first.case.clone();
    rec.timeline.iter().for_each(|e| replay.apply(e));
    assert_eq!(replay, rec.case, "the projection equals the fold of the timeline");
    assert!(s.case(999_999).await.unwrap().is_none());

    // Merging into a case that is not open is refused, and nothing is written.
    let merge = Action::Merge { into: 999_999, note: None };
    let e = decide(&second.case, &merge, &f.ctx(now, 0)).unwrap();
    let mut merged = second.case.clone();
    merged.apply(&e);
    assert!(matches!(s.append_entry(merged, e, audit("case.act")).await, Err(StoreError::Invalid(_))));
    assert_eq!(s.case(second.case.id).await.unwrap().unwrap().case.version, 1);

    // Filters and scopes.
    let ids = |p: crate::CasePage| p.cases.into_iter().map(|c| c.id).collect::<Vec<_>>();
    let all = |scope| CaseFilter::scoped(scope, 50);
    assert_eq!(
        ids(s.list_cases(all(CaseScope::All)).await.unwrap()),
        vec![other_cat.case.id, second.case.id, first.case.id]
    );
    let jinghu = UnitCode::parse("340202").unwrap();
    assert_eq!(
        ids(s.list_cases(all(CaseScope::Territory(jinghu.clone()))).await.unwrap()),
        vec![second.case.id, first.case.id]
    );
    let city = UnitCode::parse("340200").unwrap();
    assert_eq!(s.list_cases(all(CaseScope::Territory(city))).await.unwrap().cases.len(), 3);
    assert_eq!(ids(s.list_cases(all(CaseScope::Department("D340202-EE".into()))).await.unwrap()), vec![first.case.id]);
    assert_eq!(s.list_cases(all(CaseScope::Reporter("nobody".into()))).await.unwrap().cases.len(), 0);
    assert_eq!(s.list_cases(all(CaseScope::Nothing)).await.unwrap().cases.len(), 0);
    let mut by_state = all(CaseScope::All);
    by_state.states = vec![CaseState::Dispatched];
    assert_eq!(ids(s.list_cases(by_state).await.unwrap()), vec![first.case.id]);
    let mut by_cat = all(CaseScope::All);
    by_cat.category = Some(CategoryCode::parse("E0102").unwrap());
    assert_eq!(ids(s.list_cases(by_cat).await.unwrap()), vec![other_cat.case.id]);
    let mut in_unit = all(CaseScope::All);
    in_unit.territory = Some(UnitCode::parse("340202001001002").unwrap());
    assert_eq!(ids(s.list_cases(in_unit).await.unwrap()), vec![second.case.id]);
    let mut boxed = all(CaseScope::All);
    boxed.bbox = Some(BBox { min_lon: 118.3799, min_lat: 31.0, max_lon: 118.38005, max_lat: 32.0 });
    assert_eq!(ids(s.list_cases(boxed).await.unwrap()), vec![first.case.id]);
    let mut overdue = all(CaseScope::All);
    overdue.overdue_at = Some(t0() + Duration::days(30));
    assert_eq!(s.list_cases(overdue.clone()).await.unwrap().cases.len(), 3);
    overdue.overdue_at = Some(t0());
    assert_eq!(s.list_cases(overdue).await.unwrap().cases.len(), 0);
    let mut window = all(CaseScope::All);
    window.reported_from = Some(t0() + Duration::minutes(1));
    window.reported_to = Some(t0() + Duration::minutes(2));
    assert_eq!(ids(s.list_cases(window).await.unwrap()), vec![second.case.id]);

    // Personal data: sealed contact and blind-index search.
    assert_eq!(s.case(first.case.id).await.unwrap().unwrap().contact, Some(sealed()));
    assert_eq!(s.case(second.case.id).await.unwrap().unwrap().contact, None);
    let mut by_phone = all(CaseScope::All);
    by_phone.contact_index = Some("pidx".into());
    assert_eq!(ids(s.list_cases(by_phone.clone()).await.unwrap()), vec![first.case.id]);
    by_phone.contact_index = Some("iidx".into());
    assert_eq!(ids(s.list_cases(by_phone.clone()).await.unwrap()), vec![first.case.id]);
    by_phone.contact_index = Some("nope".into());
    assert!(s.list_cases(by_phone).await.unwrap().cases.is_empty());

    // Pagination visits every case once, newest first.
    let mut seen = vec![];
    let mut page = all(CaseScope::All);
    page.limit = 2;
    loop {
        let p = s.list_cases(page.clone()).await.unwrap();
        seen.extend(p.cases.iter().map(|c| c.id));
        match p.next_after {
            Some(a) => page.after = Some(a),
            None => break,
        }
    }
    assert_eq!(seen, vec![other_cat.case.id, second.case.id, first.case.id]);

    let counts = s.count_by_state(CaseScope::All).await.unwrap();
    assert_eq!(counts, vec![(CaseState::Dispatched, 1), (CaseState::Reported, 2)]);
    let jinghu_counts = s.count_by_state(CaseScope::Territory(jinghu)).await.unwrap();
    assert_eq!(jinghu_counts.iter().map(|c| c.1).sum::<u64>(), 2);

    // Bulk import keeps timelines intact and assigns fresh ids.
    let (c, e) = f.new_case(0, 118.5, "340202001001001", t0());
    let ids_in = s
        .import_cases(vec![CaseRecord { case: c.clone(), timeline: vec![e.clone()], contact: Some(sealed()) }])
        .await
        .unwrap();
    assert_eq!(ids_in.len(), 1);
    let got = s.case(ids_in[0]).await.unwrap().unwrap();
    assert_eq!(got.timeline, vec![e]);
    assert_eq!(got.contact, Some(sealed()));
    assert_eq!(got.case.id, ids_in[0]);
}

async fn attachments<S: Store>(s: &S) {
    let sha = "ab".repeat(32);
    let meta = AttachmentMeta {
        sha256: sha.clone(),
        size: 10,
        content_type: "image/png".into(),
        uploaded_by: "u1".into(),
        uploaded_at: t0(),
    };
    s.put_attachment(meta.clone(), audit("attachment.upload")).await.unwrap();
    s.put_attachment(meta.clone(), audit("attachment.upload")).await.unwrap();
    assert_eq!(s.attachment(&sha).await.unwrap(), Some(meta));
    let other = "cd".repeat(32);
    assert_eq!(s.missing_attachments(vec![sha, other.clone()]).await.unwrap(), vec![other]);
}

async fn audit_chain<S: Store>(s: &S) {
    let mut denied = audit("case.read");
    denied.actor = "intruder".into();
    denied.outcome = citygrid_domain::audit::Outcome::Denied;
    denied.source_ip = Some("10.0.0.9".into());
    s.append_audit(denied.clone()).await.unwrap();
    let all = s.audit_records(AuditFilter::default()).await.unwrap();
    assert!(all.len() > 10, "every write above was audited: {}", all.len());
    assert_eq!(verify_chain(&all), Ok(all.len() as u64));
    let mine = s.audit_records(AuditFilter { actor: Some("intruder".into()), ..Default::default() }).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].event, denied);
    let tail = s
        .audit_records(AuditFilter { after_seq: Some(all.len() as u64 - 2), limit: 1, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(tail.len(), 1);
    assert_eq!(tail[0].seq, all.len() as u64 - 1);
}

async fn accounts<S: Store>(s: &S) {
    let user = UserRecord {
        id: "u-op".into(),
        username: "op".into(),
        display_name: "Operator".into(),
        role: Role::Operator,
        unit: Some(UnitCode::parse("340202").unwrap()),
        department: None,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        active: true,
        failed_logins: 0,
        locked_until: None,
        created_at: t0(),
    };
    s.create_user(user.clone(), audit("user.create")).await.unwrap();
    let mut twin = user.clone();
    twin.id = "u-other".into();
    assert!(matches!(s.create_user(twin, audit("user.create")).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.user_by_username("op").await.unwrap(), Some(user.clone()));
    assert_eq!(s.user("u-op").await.unwrap(), Some(user.clone()));
    assert_eq!(s.user("nobody").await.unwrap(), None);

    let session = SessionRecord {
        token_hash: "th1".into(),
        user_id: "u-op".into(),
        created_at: t0(),
        expires_at: t0() + Duration::hours(8),
        revoked_at: None,
    };
    let failed = LoginOutcome { user_id: "u-op".into(), failed_logins: 3, locked_until: Some(t0()), session: None };
    s.record_login(failed, audit("auth.login")).await.unwrap();
    assert_eq!(s.user("u-op").await.unwrap().unwrap().failed_logins, 3);
    let ok =
        LoginOutcome { user_id: "u-op".into(), failed_logins: 0, locked_until: None, session: Some(session.clone()) };
    s.record_login(ok, audit("auth.login")).await.unwrap();
    assert_eq!(s.session("th1").await.unwrap(), Some(session));
    assert_eq!(s.revoke_sessions("u-op", Some("th1".into()), t0(), audit("auth.logout")).await.unwrap(), 1);
    assert!(s.session("th1").await.unwrap().unwrap().revoked_at.is_some());
    assert_eq!(s.revoke_sessions("u-op", None, t0(), audit("auth.logout")).await.unwrap(), 0);

    let mut changed = user.clone();
    changed.active = false;
    s.update_user(changed.clone(), audit("user.update")).await.unwrap();
    assert_eq!(s.users().await.unwrap(), vec![changed]);

    let dev = DeviceRecord {
        id: "cam-1".into(),
        name: "江边 1".into(),
        kind: "camera".into(),
        key_hash: "kh".into(),
        unit: None,
        created_at: t0(),
        revoked_at: None,
    };
    s.create_device(dev.clone(), audit("device.create")).await.unwrap();
    assert!(matches!(s.create_device(dev.clone(), audit("device.create")).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.device_by_key_hash("kh").await.unwrap(), Some(dev.clone()));
    s.revoke_device("cam-1", t0(), audit("device.revoke")).await.unwrap();
    assert!(s.devices().await.unwrap()[0].revoked_at.is_some());
    assert!(matches!(s.revoke_device("cam-9", t0(), audit("device.revoke")).await, Err(StoreError::NotFound(_))));
}
