//! The shared test suite every backend must pass.
//!
//! Each check is its own async function taking a fresh, empty store, and
//! [`conformance_tests!`](crate::conformance_tests) turns every one of them
//! into a `#[tokio::test]` of the backend's test crate, so one failure never
//! hides the others: enable the `conformance` feature in the backend's
//! dev-dependencies and invoke the macro with a function that opens a fresh
//! store. Test code: a failed check panics with what went wrong.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use citygrid_domain::audit::{AuditEvent, ChainHead, Checkpoint, TrailSummary, verify_chain, verify_trail};
use citygrid_domain::calendar::WorkingCalendar;
use citygrid_domain::case::{
    Action, Case, CaseState, DeadlinePolicy, DecideContext, NewCase, Source, TimelineEntry, decide, report,
};
use citygrid_domain::zone::{ClockTime, HourRange, MonthDay, Schedule, Season};
use citygrid_domain::{
    BBox, Category, CategoryCode, Department, DeviceKind, Level, Point, TimeLimit, TimeLimits, Unit, UnitCode,
    WaterClass, Zone, ZoneKind,
};

use citygrid_domain::access::Role;

mod eyes;
pub use eyes::{
    concurrent_batches_store_each_detection_once, detections_are_recorded_once,
    false_positive_rates_per_device_and_rule, incident_pagination_is_stable, incident_versions_are_optimistic,
    incidents_filter_within_scope,
};
pub use eyes::{detection as sample_detection, incident as sample_incident};
mod transfer;
mod water;
pub use transfer::{export_all, fill, transfer_between, transfer_round_trips};
pub use water::{readings_append_idempotently, readings_page_within_range, stations_by_mn_and_last_seen};

use crate::prelude::*;
use crate::{
    AttachmentMeta, AuditFilter, CaseFilter, CaseRecord, CaseScope, DeviceRecord, LoginOutcome, NearbyQuery,
    SealedContact, SessionRecord, StationLink, StoreError, StoredUnit, StoredZone, UserRecord,
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

/// A new case of category E0101 at `lon` in 镜湖区 and its report entry,
/// for a backend's own tests.
pub fn sample_report(lon: f64) -> (Case, TimelineEntry) {
    Fixture::new().new_case(0, lon, "340202001001001", t0())
}

/// A sealed contact, for a backend's own tests.
pub fn sample_contact() -> SealedContact {
    sealed()
}

fn sealed() -> SealedContact {
    SealedContact { ciphertext: "k1:opaque".into(), phone_index: Some("pidx".into()), id_index: Some("iidx".into()) }
}

const NEAR: NearbyQuery = NearbyQuery { radius_m: 200.0, limit: 10 };

/// Generates one `#[tokio::test]` per conformance check.
///
/// `$fresh` is an async function (no arguments) returning a value that
/// dereferences to a fresh, empty store and cleans it up when dropped.
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:path) => {
        $crate::conformance_tests!(@each $fresh;
            meta_round_trips,
            territory_upserts,
            catalogue_round_trips,
            zones_replace_and_delete,
            zone_writes_are_all_or_nothing,
            creation_assigns_ids_and_finds_nearby,
            appends_are_optimistic,
            merge_into_a_missing_case_is_refused,
            lists_filter_within_scope,
            contacts_are_sealed_and_searchable,
            pagination_visits_every_case_once,
            counts_by_state_within_scope,
            import_keeps_timelines,
            attachments_are_idempotent,
            audit_chain_verifies_and_filters,
            audit_heads_are_each_chains_last_record,
            users_and_sessions,
            devices_register_and_revoke,
            stations_by_mn_and_last_seen,
            readings_append_idempotently,
            readings_page_within_range,
            concurrent_transitions_on_one_case_let_one_win,
            concurrent_creations_get_unique_ids_and_a_whole_trail,
            pagination_is_stable_while_cases_are_added,
            idempotent_writes_under_races,
            blobs_round_trip,
            leases_exclude_other_holders,
            rate_tokens_run_out_and_refill,
            transfer_round_trips,
            feed_numbers_every_case_change,
            detections_are_recorded_once,
            concurrent_batches_store_each_detection_once,
            incident_versions_are_optimistic,
            incidents_filter_within_scope,
            incident_pagination_is_stable,
            false_positive_rates_per_device_and_rule,
        );
    };
    (@each $fresh:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let store = $fresh().await;
                $crate::conformance::$name(&*store).await;
            }
        )*
    };
}

pub async fn meta_round_trips<S: Store>(s: &S) {
    assert_eq!(s.meta("k").await.unwrap(), None);
    s.set_meta("k", "v1", audit("meta.set")).await.unwrap();
    s.set_meta("k", "v2", audit("meta.set")).await.unwrap();
    assert_eq!(s.meta("k").await.unwrap().as_deref(), Some("v2"));
    assert_eq!(trail(s).await, 2, "each setting audited");
}

pub async fn territory_upserts<S: Store>(s: &S) {
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
    again.unit.valid_to = chrono::NaiveDate::from_ymd_opt(2030, 12, 31);
    s.upsert_units(vec![again.clone()], audit("territory.import")).await.unwrap();
    let got = s.territory().await.unwrap();
    assert_eq!(got, vec![units[0].clone(), again]);
    assert_eq!(trail(s).await, 2, "each import audited");
}

pub async fn catalogue_round_trips<S: Store>(s: &S) {
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
    assert_eq!(trail(s).await, 2);
}

fn zone(id: &str, kind: ZoneKind) -> Zone {
    Zone {
        id: id.into(),
        name: format!("zone {id}"),
        kind,
        valid_from: chrono::NaiveDate::from_ymd_opt(2021, 1, 1).unwrap(),
        valid_to: chrono::NaiveDate::from_ymd_opt(2030, 12, 31),
        schedule: None,
        territory: Some(UnitCode::parse("340200").unwrap()),
        target_class: None,
        note: None,
    }
}

const ZONE_GEOMETRY: &str = r#"{"type":"Polygon","coordinates":[[[118,31],[118.1,31],[118.1,31.1],[118,31]]]}"#;

/// A fishing-ban zone and a scheduled water section, stored.
async fn two_zones<S: Store>(s: &S) -> (StoredZone, StoredZone) {
    let ban = StoredZone { zone: zone("yangtze-ban", ZoneKind::FishingBanWater), geometry: ZONE_GEOMETRY.into() };
    let mut section = StoredZone { zone: zone("ws-1", ZoneKind::WaterSection), geometry: ZONE_GEOMETRY.into() };
    section.zone.target_class = Some(WaterClass::II);
    section.zone.note = Some("demo".into());
    section.zone.schedule = Some(Schedule {
        seasons: vec![Season { from: MonthDay::new(3, 1).unwrap(), to: MonthDay::new(6, 30).unwrap() }],
        hours: vec![HourRange { from: ClockTime::new(22, 0).unwrap(), to: ClockTime::new(6, 0).unwrap() }],
    });
    s.put_zones(vec![ban.clone(), section.clone()], audit("zone.put")).await.unwrap();
    (ban, section)
}

pub async fn zones_replace_and_delete<S: Store>(s: &S) {
    assert!(s.zones().await.unwrap().is_empty());
    let (ban, section) = two_zones(s).await;
    assert_eq!(s.zones().await.unwrap(), vec![section.clone(), ban.clone()], "every field back, by id");

    // Replacing one leaves the others.
    let mut renamed = ban.clone();
    renamed.zone.name = "长江禁捕水域".into();
    renamed.geometry = ZONE_GEOMETRY.replace("118.1", "118.2");
    s.put_zones(vec![renamed.clone()], audit("zone.put")).await.unwrap();
    assert_eq!(s.zones().await.unwrap(), vec![section.clone(), renamed.clone()]);

    let before = trail(s).await;
    s.delete_zone("yangtze-ban", audit("zone.delete")).await.unwrap();
    assert_eq!(s.zones().await.unwrap(), vec![section], "only the deleted zone is gone");
    let err = s.delete_zone("yangtze-ban", audit("zone.delete")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert_eq!(trail(s).await, before + 1, "a failed delete audits nothing");
}

pub async fn zone_writes_are_all_or_nothing<S: Store>(s: &S) {
    let (ban, section) = two_zones(s).await;
    let before = trail(s).await;
    let fresh = StoredZone { zone: zone("key-1", ZoneKind::KeyArea), geometry: ZONE_GEOMETRY.into() };
    let mut wrong = StoredZone { zone: zone("key-2", ZoneKind::KeyArea), geometry: ZONE_GEOMETRY.into() };
    wrong.zone.target_class = Some(WaterClass::III);
    let err = s.put_zones(vec![fresh.clone(), wrong], audit("zone.put")).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let err = s.put_zones(vec![fresh.clone(), fresh.clone()], audit("zone.put")).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "an id twice in one write: {err:?}");
    assert_eq!(s.zones().await.unwrap(), vec![section, ban]);
    assert_eq!(trail(s).await, before, "a refused write leaves no audit record");
}

async fn apply<S: Store>(s: &S, f: &Fixture, case: &Case, a: Action, now: DateTime<Utc>) -> Case {
    let e = decide(case, &a, &f.ctx(now, 0)).unwrap();
    let mut c = case.clone();
    c.apply(&e);
    s.append_entry(c.clone(), e, audit("case.act")).await.unwrap();
    c
}

/// Three cases: `first` (E0101, sealed contact, registered and dispatched to
/// D340202-UM assisted by D340202-EE) and `second` (E0101, 48 m east of it)
/// in 镜湖区, `other` (E0102) in another district.
struct Three {
    first: Case,
    second: Case,
    other: Case,
}

async fn three_cases<S: Store>(s: &S, f: &Fixture) -> Three {
    let (c, e) = f.new_case(0, 118.3800, "340202001001001", t0());
    let first = s.create_case(c, e, Some(sealed()), NEAR, audit("case.create")).await.unwrap();
    let (c, e) = f.new_case(0, 118.3805, "340202001001002", t0() + Duration::minutes(1));
    let second = s.create_case(c, e, None, NEAR, audit("case.create")).await.unwrap();
    let (c, e) = f.new_case(1, 118.3801, "340207001001001", t0() + Duration::minutes(2));
    let other = s.create_case(c, e, None, NEAR, audit("case.create")).await.unwrap();
    let now = t0() + Duration::minutes(5);
    let c1 = apply(s, f, &first.case, Action::Register { category: None, urgent: None, note: None }, now).await;
    let dispatch =
        Action::Dispatch { department: Some("D340202-UM".into()), assists: vec!["D340202-EE".into()], note: None };
    let first = apply(s, f, &c1, dispatch, now).await;
    Three { first, second: second.case, other: other.case }
}

fn ids(p: crate::CasePage) -> Vec<i64> {
    p.cases.into_iter().map(|c| c.id).collect()
}

fn all(scope: CaseScope) -> CaseFilter {
    CaseFilter::scoped(scope, 50)
}

pub async fn creation_assigns_ids_and_finds_nearby<S: Store>(s: &S) {
    let f = Fixture::new();
    let (c, e) = f.new_case(0, 118.3800, "340202001001001", t0());
    let first = s.create_case(c, e.clone(), Some(sealed()), NEAR, audit("case.create")).await.unwrap();
    assert!(first.case.id > 0);
    assert!(first.nearby.is_empty());
    assert_eq!(first.entry.seq, 1, "the report is the first entry");
    let (c, e) = f.new_case(0, 118.3805, "340202001001002", t0() + Duration::minutes(1));
    let second = s.create_case(c, e, None, NEAR, audit("case.create")).await.unwrap();
    assert_ne!(second.case.id, first.case.id);
    assert_eq!(second.nearby.iter().map(|n| n.id).collect::<Vec<_>>(), vec![first.case.id]);
    assert!((second.nearby[0].distance_m - 47.6).abs() < 1.0, "{:?}", second.nearby);
    let (c, e) = f.new_case(1, 118.3801, "340207001001001", t0() + Duration::minutes(2));
    let other_cat = s.create_case(c, e, None, NEAR, audit("case.create")).await.unwrap();
    assert!(other_cat.nearby.is_empty(), "a different category is not a duplicate");
    let (c, e) = f.new_case(0, 118.3900, "340202001001001", t0() + Duration::minutes(3));
    let far = s.create_case(c, e, None, NEAR, audit("case.create")).await.unwrap();
    assert!(far.nearby.is_empty(), "1 km away is not near: {:?}", far.nearby);
    let audited = s.audit_records(AuditFilter { action: Some("case.create".into()), ..Default::default() }).await;
    let resources: Vec<String> = audited.unwrap().into_iter().map(|r| r.event.resource).collect();
    assert_eq!(resources.len(), 4);
    assert!(resources.contains(&format!("case/{}", first.case.id)), "the audit names the new id: {resources:?}");
}

pub async fn appends_are_optimistic<S: Store>(s: &S) {
    let f = Fixture::new();
    let (c, e) = f.new_case(0, 118.3800, "340202001001001", t0());
    let first = s.create_case(c, e, None, NEAR, audit("case.create")).await.unwrap();
    let now = t0() + Duration::minutes(5);
    let reg = Action::Register { category: None, urgent: None, note: None };
    let c1 = apply(s, &f, &first.case, reg.clone(), now).await;
    // A second writer that read version 1 loses.
    let stale = decide(&first.case, &reg, &f.ctx(now, 0)).unwrap();
    let mut stale_case = first.case.clone();
    stale_case.apply(&stale);
    let err = s.append_entry(stale_case, stale, audit("case.act")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let dispatch = Action::Dispatch { department: Some("D340202-UM".into()), assists: vec![], note: None };
    let c1 = apply(s, &f, &c1, dispatch, now).await;
    let rec = s.case(c1.id).await.unwrap().unwrap();
    assert_eq!(rec.case, c1);
    assert_eq!(rec.timeline.len(), 3);
    assert_eq!(rec.timeline.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
    let mut replay = first.case.clone();
    rec.timeline.iter().for_each(|e| replay.apply(e));
    assert_eq!(replay, rec.case, "the projection equals the fold of the timeline");
    assert!(s.case(999_999).await.unwrap().is_none());
    // An append to a case that does not exist is not found, not stored.
    let mut ghost = c1.clone();
    ghost.id = 999_999;
    let e = decide(&ghost, &Action::Acknowledge { note: None }, &f.ctx(now, 0)).unwrap();
    let mut g = ghost.clone();
    g.apply(&e);
    assert!(s.append_entry(g, e, audit("case.act")).await.is_err());
    assert!(s.case(999_999).await.unwrap().is_none());
}

pub async fn merge_into_a_missing_case_is_refused<S: Store>(s: &S) {
    let f = Fixture::new();
    let (c, e) = f.new_case(0, 118.3805, "340202001001002", t0());
    let second = s.create_case(c, e, None, NEAR, audit("case.create")).await.unwrap();
    let before = trail(s).await;
    let merge = Action::Merge { into: 999_999, note: None };
    let e = decide(&second.case, &merge, &f.ctx(t0(), 0)).unwrap();
    let mut merged = second.case.clone();
    merged.apply(&e);
    assert!(matches!(s.append_entry(merged, e, audit("case.act")).await, Err(StoreError::Invalid(_))));
    assert_eq!(s.case(second.case.id).await.unwrap().unwrap().case.version, 1, "nothing written");
    assert_eq!(trail(s).await, before, "nothing audited");
}

pub async fn lists_filter_within_scope<S: Store>(s: &S) {
    let f = Fixture::new();
    let t = three_cases(s, &f).await;
    assert_eq!(ids(s.list_cases(all(CaseScope::All)).await.unwrap()), vec![t.other.id, t.second.id, t.first.id]);
    let jinghu = UnitCode::parse("340202").unwrap();
    assert_eq!(ids(s.list_cases(all(CaseScope::Territory(jinghu))).await.unwrap()), vec![t.second.id, t.first.id]);
    let city = UnitCode::parse("340200").unwrap();
    assert_eq!(s.list_cases(all(CaseScope::Territory(city))).await.unwrap().cases.len(), 3);
    let grid = UnitCode::parse("340202001001002").unwrap();
    assert_eq!(ids(s.list_cases(all(CaseScope::Territory(grid))).await.unwrap()), vec![t.second.id]);
    assert_eq!(ids(s.list_cases(all(CaseScope::Department("D340202-EE".into()))).await.unwrap()), vec![t.first.id]);
    assert_eq!(ids(s.list_cases(all(CaseScope::Department("D340202-UM".into()))).await.unwrap()), vec![t.first.id]);
    assert_eq!(s.list_cases(all(CaseScope::Department("D9".into()))).await.unwrap().cases.len(), 0);
    assert_eq!(s.list_cases(all(CaseScope::Reporter("nobody".into()))).await.unwrap().cases.len(), 0);
    assert_eq!(s.list_cases(all(CaseScope::Reporter("u1".into()))).await.unwrap().cases.len(), 3);
    assert_eq!(s.list_cases(all(CaseScope::Nothing)).await.unwrap().cases.len(), 0);
    let mut by_state = all(CaseScope::All);
    by_state.states = vec![CaseState::Dispatched];
    assert_eq!(ids(s.list_cases(by_state.clone()).await.unwrap()), vec![t.first.id]);
    by_state.states = vec![CaseState::Dispatched, CaseState::Reported];
    assert_eq!(s.list_cases(by_state).await.unwrap().cases.len(), 3);
    let mut by_cat = all(CaseScope::All);
    by_cat.category = Some(CategoryCode::parse("E0102").unwrap());
    assert_eq!(ids(s.list_cases(by_cat).await.unwrap()), vec![t.other.id]);
    let mut in_unit = all(CaseScope::All);
    in_unit.territory = Some(UnitCode::parse("340202001001002").unwrap());
    assert_eq!(ids(s.list_cases(in_unit).await.unwrap()), vec![t.second.id]);
    // A filter never widens the scope.
    let mut outside = all(CaseScope::Territory(UnitCode::parse("340207").unwrap()));
    outside.territory = Some(UnitCode::parse("340202").unwrap());
    assert!(s.list_cases(outside).await.unwrap().cases.is_empty());
    let mut boxed = all(CaseScope::All);
    boxed.bbox = Some(BBox { min_lon: 118.3799, min_lat: 31.0, max_lon: 118.38005, max_lat: 32.0 });
    assert_eq!(ids(s.list_cases(boxed).await.unwrap()), vec![t.first.id]);
    let mut overdue = all(CaseScope::All);
    overdue.overdue_at = Some(t0() + Duration::days(30));
    assert_eq!(s.list_cases(overdue.clone()).await.unwrap().cases.len(), 3);
    overdue.overdue_at = Some(t0());
    assert_eq!(s.list_cases(overdue).await.unwrap().cases.len(), 0);
    let mut window = all(CaseScope::All);
    window.reported_from = Some(t0() + Duration::minutes(1));
    window.reported_to = Some(t0() + Duration::minutes(2));
    assert_eq!(ids(s.list_cases(window).await.unwrap()), vec![t.second.id]);
}

pub async fn contacts_are_sealed_and_searchable<S: Store>(s: &S) {
    let f = Fixture::new();
    let t = three_cases(s, &f).await;
    assert_eq!(s.case(t.first.id).await.unwrap().unwrap().contact, Some(sealed()));
    assert_eq!(s.case(t.second.id).await.unwrap().unwrap().contact, None);
    let mut by_index = all(CaseScope::All);
    by_index.contact_index = Some("pidx".into());
    assert_eq!(ids(s.list_cases(by_index.clone()).await.unwrap()), vec![t.first.id]);
    by_index.contact_index = Some("iidx".into());
    assert_eq!(ids(s.list_cases(by_index.clone()).await.unwrap()), vec![t.first.id]);
    by_index.contact_index = Some("nope".into());
    assert!(s.list_cases(by_index.clone()).await.unwrap().cases.is_empty());
    by_index.contact_index = Some("pidx".into());
    by_index.scope = CaseScope::Territory(UnitCode::parse("340207").unwrap());
    assert!(s.list_cases(by_index).await.unwrap().cases.is_empty(), "the index search stays in scope");
}

pub async fn pagination_visits_every_case_once<S: Store>(s: &S) {
    let f = Fixture::new();
    let t = three_cases(s, &f).await;
    let mut seen = vec![];
    let mut page = all(CaseScope::All);
    page.limit = 2;
    loop {
        let p = s.list_cases(page.clone()).await.unwrap();
        assert!(p.cases.len() <= 2);
        seen.extend(p.cases.iter().map(|c| c.id));
        match p.next_after {
            Some(a) => page.after = Some(a),
            None => break,
        }
    }
    assert_eq!(seen, vec![t.other.id, t.second.id, t.first.id]);
}

pub async fn counts_by_state_within_scope<S: Store>(s: &S) {
    let f = Fixture::new();
    three_cases(s, &f).await;
    let counts = s.count_by_state(CaseScope::All).await.unwrap();
    assert_eq!(counts, vec![(CaseState::Dispatched, 1), (CaseState::Reported, 2)]);
    let jinghu = s.count_by_state(CaseScope::Territory(UnitCode::parse("340202").unwrap())).await.unwrap();
    assert_eq!(jinghu, vec![(CaseState::Dispatched, 1), (CaseState::Reported, 1)]);
    assert!(s.count_by_state(CaseScope::Nothing).await.unwrap().is_empty());
}

pub async fn import_keeps_timelines<S: Store>(s: &S) {
    let f = Fixture::new();
    let t = three_cases(s, &f).await;
    let (c, e) = f.new_case(0, 118.5, "340202001001001", t0());
    let before = trail(s).await;
    let ids_in = s
        .import_cases(
            vec![CaseRecord { case: c.clone(), timeline: vec![e.clone()], contact: Some(sealed()) }],
            audit("case.import"),
        )
        .await
        .unwrap();
    assert_eq!(trail(s).await, before + 1, "one audit record for the whole load");
    assert_eq!(ids_in.len(), 1);
    assert!(![t.first.id, t.second.id, t.other.id].contains(&ids_in[0]), "a fresh id");
    let got = s.case(ids_in[0]).await.unwrap().unwrap();
    assert_eq!(got.timeline, vec![e]);
    assert_eq!(got.contact, Some(sealed()));
    assert_eq!(got.case.id, ids_in[0]);
    // A case created after the import gets yet another id.
    let (c, e) = f.new_case(0, 118.6, "340202001001001", t0());
    let after = s.create_case(c, e, None, NEAR, audit("case.create")).await.unwrap();
    assert!(after.case.id > ids_in[0]);
}

pub async fn feed_numbers_every_case_change<S: Store>(s: &S) {
    use crate::FeedItem;
    use citygrid_domain::case::ActionKind;
    assert_eq!(s.feed_bounds().await.unwrap(), None, "an empty store has no feed");
    let f = Fixture::new();
    let t = three_cases(s, &f).await;
    let events = s.feed_after(0, 100).await.unwrap();
    let seen: Vec<_> = events
        .iter()
        .map(|e| match &e.item {
            FeedItem::Case(c) => (c.id, c.action, c.version),
            other => panic!("only cases changed: {other:?}"),
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (t.first.id, ActionKind::Report, 1),
            (t.second.id, ActionKind::Report, 1),
            (t.other.id, ActionKind::Report, 1),
            (t.first.id, ActionKind::Register, 2),
            (t.first.id, ActionKind::Dispatch, 3),
        ],
        "one event per change, in commit order"
    );
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq), "numbers rise");
    let FeedItem::Case(last) = &events[4].item else { panic!("a case change") };
    assert_eq!(last.state, t.first.state);
    assert_eq!(last.department.as_deref(), Some("D340202-UM"));
    assert_eq!(last.assists, vec!["D340202-EE".to_string()]);
    assert_eq!(last.territory, t.first.territory);
    assert_eq!(events[0].at, t0(), "stamped with the change's own time");

    // Resuming and paging.
    assert_eq!(s.feed_after(events[1].seq, 2).await.unwrap(), events[2..4].to_vec());
    assert!(s.feed_after(events[4].seq, 10).await.unwrap().is_empty());
    assert!(s.feed_after(u64::MAX, 10).await.unwrap().is_empty(), "a number past the end is no error");
    assert_eq!(s.feed_bounds().await.unwrap(), Some((events[0].seq, events[4].seq)));

    // A bulk import adds nothing.
    let (c, e) = f.new_case(0, 118.5, "340202001001001", t0());
    s.import_cases(vec![CaseRecord { case: c, timeline: vec![e], contact: None }], audit("case.import")).await.unwrap();
    assert_eq!(s.feed_after(0, 100).await.unwrap().len(), 5, "imports are not live changes");

    // Pruning forgets what happened before the cut, audited, and numbers
    // never come back.
    let before = trail(s).await;
    let pruned = s.prune_feed(t0() + Duration::minutes(2), audit("feed.prune")).await.unwrap();
    assert_eq!(pruned, 2, "the first two reports happened before the cut");
    assert_eq!(trail(s).await, before + 1);
    assert_eq!(s.feed_bounds().await.unwrap(), Some((events[2].seq, events[4].seq)));
    assert_eq!(s.prune_feed(t0() + Duration::days(1), audit("feed.prune")).await.unwrap(), 3);
    assert_eq!(s.feed_bounds().await.unwrap(), None);
    let (c, e) = f.new_case(0, 118.7, "340202001001001", t0());
    s.create_case(c, e, None, NEAR, audit("case.create")).await.unwrap();
    let next = s.feed_after(0, 10).await.unwrap();
    assert_eq!(next.len(), 1);
    assert!(next[0].seq > events[4].seq, "a number is never used twice, even after pruning everything");
}

pub async fn attachments_are_idempotent<S: Store>(s: &S) {
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
    assert_eq!(s.attachment(&other).await.unwrap(), None);
    assert_eq!(s.missing_attachments(vec![sha, other.clone()]).await.unwrap(), vec![other]);
}

pub async fn audit_chain_verifies_and_filters<S: Store>(s: &S) {
    let f = Fixture::new();
    three_cases(s, &f).await;
    let mut denied = audit("case.read");
    denied.actor = "intruder".into();
    denied.outcome = citygrid_domain::audit::Outcome::Denied;
    denied.source_ip = Some("10.0.0.9".into());
    denied.detail = Some("{\"why\":\"scope\"}".into());
    s.append_audit(denied.clone()).await.unwrap();
    let all = s.audit_records(AuditFilter::default()).await.unwrap();
    assert_eq!(all.len(), 6, "3 creations, 2 actions and the denial: {all:?}");
    assert_eq!(verify_chain(&all), Ok(all.len() as u64));
    let mine = s.audit_records(AuditFilter { actor: Some("intruder".into()), ..Default::default() }).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].event, denied, "every field back, the instant exactly");
    // A backend with several chains may leave gaps in `seq`: page by the
    // numbers it gave.
    let n = all.len();
    let tail =
        s.audit_records(AuditFilter { after_seq: Some(all[n - 3].seq), limit: 1, ..Default::default() }).await.unwrap();
    assert_eq!(tail, vec![all[n - 2].clone()]);
    let acts = s.audit_records(AuditFilter { action: Some("case.act".into()), ..Default::default() }).await.unwrap();
    assert_eq!(acts.len(), 2);
}

/// The last record of every chain in `records`, by chain.
fn last_of_each_chain(records: &[citygrid_domain::audit::AuditRecord]) -> Vec<ChainHead> {
    let mut heads = std::collections::BTreeMap::new();
    for r in records {
        heads.insert(r.chain, r.head());
    }
    heads.into_values().collect()
}

/// The heads a store gives, without the empty chains it may list.
async fn written_heads<S: Store>(s: &S) -> Vec<ChainHead> {
    let heads = s.audit_heads().await.unwrap();
    assert!(heads.windows(2).all(|w| w[0].chain < w[1].chain), "one head per chain, by chain: {heads:?}");
    for h in heads.iter().filter(|h| h.link == 0) {
        assert_eq!(h, &ChainHead::genesis(h.chain), "an empty chain's head is the genesis");
    }
    heads.into_iter().filter(|h| h.link > 0).collect()
}

pub async fn audit_heads_are_each_chains_last_record<S: Store>(s: &S) {
    assert_eq!(written_heads(s).await, vec![], "no record, no head beyond genesis");
    for i in 0..24 {
        let mut e = audit("case.read");
        e.resource = format!("case/{}", i % 8);
        s.append_audit(e).await.unwrap();
    }
    let all = s.audit_records(AuditFilter::default()).await.unwrap();
    let heads = written_heads(s).await;
    assert_eq!(heads, last_of_each_chain(&all));
    // A checkpoint of these heads verifies; so does the next record after it.
    s.append_audit(Checkpoint::of(&heads).event(t0())).await.unwrap();
    s.append_audit(audit("case.read")).await.unwrap();
    let all = s.audit_records(AuditFilter::default()).await.unwrap();
    assert_eq!(verify_trail(&all).unwrap(), TrailSummary { records: 26, checkpoints: 1 });
    assert_eq!(written_heads(s).await, last_of_each_chain(&all), "the heads moved on");
}

fn user() -> UserRecord {
    UserRecord {
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
    }
}

pub async fn users_and_sessions<S: Store>(s: &S) {
    let user = user();
    s.create_user(user.clone(), audit("user.create")).await.unwrap();
    let mut twin = user.clone();
    twin.id = "u-other".into();
    assert!(matches!(s.create_user(twin, audit("user.create")).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.user_by_username("op").await.unwrap(), Some(user.clone()));
    assert_eq!(s.user("u-op").await.unwrap(), Some(user.clone()));
    assert_eq!(s.user("nobody").await.unwrap(), None);
    assert_eq!(s.user_by_username("nobody").await.unwrap(), None);

    let session = SessionRecord {
        token_hash: "th1".into(),
        user_id: "u-op".into(),
        created_at: t0(),
        expires_at: t0() + Duration::hours(8),
        revoked_at: None,
    };
    let failed = LoginOutcome { user_id: "u-op".into(), failed_logins: 3, locked_until: Some(t0()), session: None };
    s.record_login(failed, audit("auth.login")).await.unwrap();
    let locked = s.user("u-op").await.unwrap().unwrap();
    assert_eq!((locked.failed_logins, locked.locked_until), (3, Some(t0())));
    let ok =
        LoginOutcome { user_id: "u-op".into(), failed_logins: 0, locked_until: None, session: Some(session.clone()) };
    s.record_login(ok, audit("auth.login")).await.unwrap();
    assert_eq!(s.session("th1").await.unwrap(), Some(session));
    assert_eq!(s.session("th-unknown").await.unwrap(), None);
    assert_eq!(s.revoke_sessions("u-op", Some("th1".into()), t0(), audit("auth.logout")).await.unwrap(), 1);
    assert_eq!(s.session("th1").await.unwrap().unwrap().revoked_at, Some(t0()));
    assert_eq!(s.revoke_sessions("u-op", None, t0(), audit("auth.logout")).await.unwrap(), 0);

    let mut changed = user.clone();
    changed.active = false;
    s.update_user(changed.clone(), audit("user.update")).await.unwrap();
    assert_eq!(s.users().await.unwrap(), vec![changed]);
    let mut ghost = user;
    ghost.id = "u-ghost".into();
    ghost.username = "ghost".into();
    assert!(matches!(s.update_user(ghost, audit("user.update")).await, Err(StoreError::NotFound(_))));
}

/// A camera with no position, registered at [`t0`].
pub(crate) fn device(id: &str, key_hash: &str) -> DeviceRecord {
    DeviceRecord {
        id: id.into(),
        name: "江边 1".into(),
        kind: DeviceKind::Camera,
        key_hash: key_hash.into(),
        unit: None,
        created_at: t0(),
        revoked_at: None,
        position: None,
        zones: vec![],
        station: None,
        gateway: None,
        report_interval_secs: None,
        last_seen: None,
    }
}

/// A water station's link with station code `mn`.
pub(crate) fn station_link(mn: &str) -> StationLink {
    StationLink { mn: mn.into(), pw_sealed: "k1:sealed-pw".into(), water_section: "ws-1".into() }
}

pub async fn devices_register_and_revoke<S: Store>(s: &S) {
    let dev = device("cam-1", "kh");
    s.create_device(dev.clone(), audit("device.create")).await.unwrap();
    assert!(matches!(s.create_device(dev.clone(), audit("device.create")).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.device_by_key_hash("kh").await.unwrap(), Some(dev.clone()));
    assert_eq!(s.device_by_key_hash("other").await.unwrap(), None);
    assert_eq!(s.device("cam-1").await.unwrap(), Some(dev.clone()));
    assert_eq!(s.device("cam-9").await.unwrap(), None);
    s.revoke_device("cam-1", t0(), audit("device.revoke")).await.unwrap();
    assert_eq!(s.devices().await.unwrap()[0].revoked_at, Some(t0()));
    assert!(matches!(s.revoke_device("cam-9", t0(), audit("device.revoke")).await, Err(StoreError::NotFound(_))));
    assert_eq!(trail(s).await, 2, "the failed writes audit nothing");
}

/// How many audit records the store holds.
pub(crate) async fn trail<S: Store>(s: &S) -> usize {
    s.audit_records(AuditFilter::default()).await.unwrap().len()
}

pub async fn concurrent_transitions_on_one_case_let_one_win<S: Store>(s: &S) {
    let f = Fixture::new();
    let (c, e) = f.new_case(0, 118.3800, "340202001001001", t0());
    let first = s.create_case(c, e, None, NEAR, audit("case.create")).await.unwrap();
    let now = t0() + Duration::minutes(5);
    let reg = Action::Register { category: None, urgent: None, note: None };
    let attempts = (0..8).map(|_| {
        let entry = decide(&first.case, &reg, &f.ctx(now, 0)).unwrap();
        let mut next = first.case.clone();
        next.apply(&entry);
        s.append_entry(next, entry, audit("case.act"))
    });
    let results = futures_util::future::join_all(attempts).await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "exactly one writer wins: {results:?}");
    assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|e| matches!(e, StoreError::Conflict(_))));
    let rec = s.case(first.case.id).await.unwrap().unwrap();
    assert_eq!(rec.timeline.len(), 2);
    assert_eq!(rec.case.state, CaseState::Registered);
    assert_eq!(
        s.audit_records(AuditFilter { action: Some("case.act".into()), ..Default::default() }).await.unwrap().len(),
        1
    );
}

pub async fn concurrent_creations_get_unique_ids_and_a_whole_trail<S: Store>(s: &S) {
    let f = Fixture::new();
    let creations = (0..40).map(|i| {
        let (c, e) = f.new_case(i % 2, 118.38 + f64::from(i as u32) * 0.001, "340202001001001", t0());
        let mut ev = audit("case.create");
        ev.resource = format!("new/{i}");
        s.create_case(c, e, None, NEAR, ev)
    });
    let created = futures_util::future::join_all(creations).await;
    let mut ids: Vec<_> = created.into_iter().map(|r| r.unwrap().case.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 40, "every case its own id");
    for id in &ids {
        assert_eq!(s.case(*id).await.unwrap().unwrap().case.id, *id);
    }
    let all = s.audit_records(AuditFilter::default()).await.unwrap();
    assert_eq!(all.len(), 40);
    assert_eq!(verify_chain(&all), Ok(40), "concurrent writers leave a verifiable trail");
}

pub async fn pagination_is_stable_while_cases_are_added<S: Store>(s: &S) {
    let f = Fixture::new();
    let mut before = vec![];
    for i in 0..6 {
        let (c, e) = f.new_case(0, 118.30 + f64::from(i) * 0.01, "340202001001001", t0());
        before.push(s.create_case(c, e, None, NEAR, audit("case.create")).await.unwrap().case.id);
    }
    before.reverse();
    let mut page = all(CaseScope::All);
    page.limit = 2;
    let mut seen = vec![];
    for round in 0..10 {
        let p = s.list_cases(page.clone()).await.unwrap();
        seen.extend(p.cases.iter().map(|c| c.id));
        // Someone reports a new case between every two pages.
        let (c, e) = f.new_case(0, 118.50 + f64::from(round) * 0.01, "340202001001001", t0());
        s.create_case(c, e, None, NEAR, audit("case.create")).await.unwrap();
        match p.next_after {
            Some(a) => page.after = Some(a),
            None => break,
        }
    }
    assert_eq!(seen, before, "every case listed once, in order; newer ones start the next first page");
}

pub async fn idempotent_writes_under_races<S: Store>(s: &S) {
    let sha = "ef".repeat(32);
    let meta = AttachmentMeta {
        sha256: sha.clone(),
        size: 3,
        content_type: "image/png".into(),
        uploaded_by: "u1".into(),
        uploaded_at: t0(),
    };
    let puts = (0..6).map(|_| s.put_attachment(meta.clone(), audit("attachment.upload")));
    assert!(futures_util::future::join_all(puts).await.iter().all(Result::is_ok));
    assert_eq!(s.attachment(&sha).await.unwrap(), Some(meta));
    let blobs = (0..6).map(|_| s.put_blob(&sha, b"abc".to_vec()));
    assert!(futures_util::future::join_all(blobs).await.iter().all(Result::is_ok));
    assert_eq!(s.blob(&sha).await.unwrap().as_deref(), Some(&b"abc"[..]));

    let users = (0..6).map(|i| {
        let mut u = user();
        u.id = format!("u-{i}");
        s.create_user(u, audit("user.create"))
    });
    let results = futures_util::future::join_all(users).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "one account per name: {results:?}");
    assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|e| matches!(e, StoreError::Conflict(_))));
    assert_eq!(s.users().await.unwrap().len(), 1);
    let created = s.audit_records(AuditFilter { action: Some("user.create".into()), ..Default::default() }).await;
    assert_eq!(created.unwrap().len(), 1, "a refused write leaves no audit record");
}

pub async fn blobs_round_trip<S: Store>(s: &S) {
    let sha = "0a".repeat(32);
    assert_eq!(s.blob(&sha).await.unwrap(), None);
    let bytes: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    s.put_blob(&sha, bytes.clone()).await.unwrap();
    assert_eq!(s.blob(&sha).await.unwrap(), Some(bytes));
    assert!(matches!(s.blob("../../etc/passwd").await, Err(StoreError::Invalid(_)) | Ok(None)));
}

pub async fn leases_exclude_other_holders<S: Store>(s: &S) {
    let t = t0();
    let until = t + Duration::seconds(30);
    assert!(s.try_lease("overdue", "a", t, until).await.unwrap());
    assert!(!s.try_lease("overdue", "b", t + Duration::seconds(1), until).await.unwrap());
    assert!(s.try_lease("other-job", "b", t, until).await.unwrap(), "leases are per name");
    assert!(s.try_lease("overdue", "a", t + Duration::seconds(10), t + Duration::seconds(40)).await.unwrap());
    assert!(!s.try_lease("overdue", "b", t + Duration::seconds(35), until).await.unwrap(), "renewed");
    assert!(s.try_lease("overdue", "b", t + Duration::seconds(41), t + Duration::seconds(70)).await.unwrap());
    s.release_lease("overdue", "a").await.unwrap();
    assert!(!s.try_lease("overdue", "a", t + Duration::seconds(42), until).await.unwrap(), "not a's to release");
    s.release_lease("overdue", "b").await.unwrap();
    assert!(s.try_lease("overdue", "a", t + Duration::seconds(43), until).await.unwrap());
    let racers = (0..6).map(|i| s.try_lease("race", ["p", "q", "r", "s", "t", "u"][i], t, until));
    let won = futures_util::future::join_all(racers).await.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(won, 1, "one holder among racers");
}

pub async fn rate_tokens_run_out_and_refill<S: Store>(s: &S) {
    let t = t0();
    for _ in 0..3 {
        assert!(s.take_token("login:10.0.0.1", 3, t).await.unwrap());
    }
    assert!(!s.take_token("login:10.0.0.1", 3, t).await.unwrap());
    assert!(s.take_token("login:10.0.0.2", 3, t).await.unwrap(), "buckets are per key");
    assert!(!s.take_token("login:10.0.0.1", 3, t + Duration::seconds(10)).await.unwrap());
    assert!(s.take_token("login:10.0.0.1", 3, t + Duration::seconds(21)).await.unwrap());
}
