//! The loop's rules, by example and by property.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;

use super::*;
use crate::calendar::{WorkingCalendar, YearCalendar, default_periods, horizon};
use crate::category::{Category, CategoryCode, TimeLimit, TimeLimits};
use crate::geometry::Point;
use crate::territory::UnitCode;

const HASH: &str = "a3f5c0e1b2d4a3f5c0e1b2d4a3f5c0e1b2d4a3f5c0e1b2d4a3f5c0e1b2d4a3f5";

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_str(&format!("{s} +0800"), "%Y-%m-%d %H:%M %z").unwrap().with_timezone(&Utc)
}

fn category() -> Category {
    let l = |n, u| TimeLimit { normal_minutes: n, urgent_minutes: u };
    Category {
        code: CategoryCode::parse("E0101").unwrap(),
        major_name: "市容环境".into(),
        name: "暴露垃圾".into(),
        department_type: "urban_management".into(),
        limits: TimeLimits { register: l(30, 10), dispatch: l(30, 10), acknowledge: l(60, 15), handle: l(450, 240) },
        active: true,
    }
}

fn calendar() -> WorkingCalendar {
    let d = |s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let y = YearCalendar {
        year: 2026,
        holidays: vec![d("2026-04-04"), d("2026-04-05"), d("2026-04-06")],
        workdays: vec![],
    };
    WorkingCalendar::new(default_periods(), vec![y]).unwrap()
}

struct World {
    cal: WorkingCalendar,
    cat: Category,
    policy: DeadlinePolicy,
}

impl World {
    fn new() -> Self {
        Self { cal: calendar(), cat: category(), policy: DeadlinePolicy::default() }
    }
    fn ctx(&self, now: DateTime<Utc>) -> DecideContext<'_> {
        DecideContext {
            now,
            actor: "u1",
            actor_role: "operator",
            calendar: &self.cal,
            category: &self.cat,
            policy: &self.policy,
        }
    }
    fn open(&self, now: DateTime<Utc>, urgent: bool) -> (Case, Vec<TimelineEntry>) {
        let new = NewCase {
            category: self.cat.code.clone(),
            urgent,
            source: Source::GridWorker,
            location: Point { lon: 118.38, lat: 31.33 },
            territory: UnitCode::parse("340202001001001").unwrap(),
            description: "垃圾堆放".into(),
            address: None,
            evidence: vec![],
        };
        let (c, e) = report(7, new, &self.ctx(now)).unwrap();
        (c, vec![e])
    }
    fn act(
        &self,
        case: &mut Case,
        log: &mut Vec<TimelineEntry>,
        now: DateTime<Utc>,
        a: Action,
    ) -> Result<(), CaseError> {
        let e = decide(case, &a, &self.ctx(now))?;
        case.apply(&e);
        log.push(e);
        Ok(())
    }
}

fn replay(first: &Case, log: &[TimelineEntry]) -> Case {
    // Start from the report's facts and fold every entry again.
    let mut c = first.clone();
    c.version = 0;
    for e in log {
        c.apply(e);
    }
    c
}

fn handle() -> Action {
    Action::Handle { note: "cleared".into(), evidence: vec![HASH.into()] }
}

#[test]
fn the_full_loop_with_return_rework_extension_and_suspension() {
    let w = World::new();
    let mut now = t("2026-04-03 17:00");
    let (mut c, mut log) = w.open(now, false);
    let first = c.clone();
    // Registration deadline: 30 working minutes → 17:30 the same Friday.
    assert_eq!(c.deadline, Some(t("2026-04-03 17:30")));
    now += Duration::minutes(10);
    w.act(&mut c, &mut log, now, Action::Register { category: None, urgent: None, note: None }).unwrap();
    // Dispatch deadline: 20 minutes left on Friday, 10 after the Qingming holiday.
    assert_eq!(c.deadline, Some(t("2026-04-07 08:40")));
    now = t("2026-04-07 08:35");
    let dispatch = Action::Dispatch { department: Some("D1".into()), assists: vec!["D2".into()], note: None };
    w.act(&mut c, &mut log, now, dispatch.clone()).unwrap();
    assert_eq!(c.state, CaseState::Dispatched);
    assert_eq!(c.handle_deadline, Some(t("2026-04-08 08:35")));
    w.act(&mut c, &mut log, now, Action::Return { reason: "not ours".into() }).unwrap();
    assert_eq!((c.state, c.returns, c.department.as_deref()), (CaseState::Returned, 1, None));
    w.act(&mut c, &mut log, now, dispatch).unwrap();
    w.act(&mut c, &mut log, now, Action::Acknowledge { note: None }).unwrap();
    assert_eq!(c.deadline, c.handle_deadline);
    // Suspend at 09:35 with 450 − 60 = 390 working minutes left; resume next day 08:30.
    now = t("2026-04-07 09:35");
    w.act(&mut c, &mut log, now, Action::Suspend { reason: "awaiting permit".into() }).unwrap();
    assert_eq!(c.paused_minutes, Some(390));
    assert!(!c.is_overdue(t("2026-05-01 09:00")), "a suspended clock never runs out");
    now = t("2026-04-08 08:30");
    w.act(&mut c, &mut log, now, Action::Resume { note: None }).unwrap();
    assert_eq!(c.state, CaseState::Handling);
    assert_eq!(c.deadline, Some(t("2026-04-08 16:30")));
    let until = t("2026-04-10 17:30");
    w.act(&mut c, &mut log, now, Action::Extend { until, reason: "heavy machinery".into() }).unwrap();
    assert_eq!((c.deadline, c.extensions), (Some(until), 1));
    w.act(&mut c, &mut log, now, handle()).unwrap();
    let fail = Action::Verify { passed: false, note: Some("still there".into()), evidence: vec![] };
    w.act(&mut c, &mut log, now, fail).unwrap();
    assert_eq!((c.state, c.reworks), (CaseState::Rework, 1));
    w.act(&mut c, &mut log, now, handle()).unwrap();
    w.act(&mut c, &mut log, now, Action::Verify { passed: true, note: None, evidence: vec![] }).unwrap();
    w.act(&mut c, &mut log, now, Action::Close { note: None }).unwrap();
    assert_eq!((c.state, c.closed_at, c.deadline), (CaseState::Closed, Some(now), None));
    w.act(&mut c, &mut log, now, Action::Evaluate { rating: 5, comment: None }).unwrap();
    assert_eq!((c.state, c.rating), (CaseState::Evaluated, Some(5)));
    assert_eq!(replay(&first, &log), c);
    assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=log.len() as u32).collect::<Vec<_>>());
}

#[test]
fn forbidden_transition_names_state_and_allowed_actions() {
    let w = World::new();
    let (c, _) = w.open(t("2026-11-23 10:00"), false);
    let err = decide(&c, &Action::Close { note: None }, &w.ctx(t("2026-11-23 10:05"))).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("'reported'") && msg.contains("'close'") && msg.contains("register"), "{msg}");
    assert!(matches!(err, CaseError::Forbidden { state: CaseState::Reported, .. }));
}

#[test]
fn self_handled_goes_straight_to_closing() {
    let w = World::new();
    let now = t("2026-11-23 10:00");
    let (mut c, mut log) = w.open(now, false);
    w.act(&mut c, &mut log, now, Action::SelfHandle { note: "moved it".into(), evidence: vec![HASH.into()] }).unwrap();
    assert_eq!((c.state, c.self_handled), (CaseState::Verified, true));
    w.act(&mut c, &mut log, now, Action::Close { note: None }).unwrap();
    assert_eq!(c.state, CaseState::Closed);
}

#[test]
fn urgent_cases_run_on_natural_time() {
    let w = World::new();
    let (c, _) = w.open(t("2026-04-03 23:00"), true);
    assert_eq!(c.deadline, Some(t("2026-04-03 23:10")));
}

#[test]
fn arguments_are_checked() {
    let w = World::new();
    let now = t("2026-11-23 10:00");
    let (mut c, mut log) = w.open(now, false);
    let ctx = w.ctx(now);
    assert!(matches!(decide(&c, &Action::Reject { reason: " ".into() }, &ctx), Err(CaseError::Invalid { .. })));
    assert!(decide(&c, &Action::Merge { into: 7, note: None }, &ctx).is_err());
    let bad_ev = Action::SelfHandle { note: "x".into(), evidence: vec!["nothex".into()] };
    assert!(decide(&c, &bad_ev, &ctx).is_err());
    let no_ev = Action::SelfHandle { note: "x".into(), evidence: vec![] };
    assert!(decide(&c, &no_ev, &ctx).is_err());
    w.act(&mut c, &mut log, now, Action::Register { category: None, urgent: None, note: None }).unwrap();
    assert!(decide(&c, &Action::Dispatch { department: None, assists: vec![], note: None }, &ctx).is_err());
    let same = Action::Dispatch { department: Some("D1".into()), assists: vec!["D1".into()], note: None };
    assert!(decide(&c, &same, &ctx).is_err());
    w.act(&mut c, &mut log, now, Action::Dispatch { department: Some("D1".into()), assists: vec![], note: None })
        .unwrap();
    let earlier = Action::Extend { until: now, reason: "x".into() };
    assert!(decide(&c, &earlier, &ctx).is_err());
}

/// A case in handling, acknowledged at `now`.
fn handling(w: &World, now: DateTime<Utc>) -> Case {
    let (mut c, mut log) = w.open(now, false);
    w.act(&mut c, &mut log, now, Action::Register { category: None, urgent: None, note: None }).unwrap();
    w.act(&mut c, &mut log, now, Action::Dispatch { department: Some("D1".into()), assists: vec![], note: None })
        .unwrap();
    w.act(&mut c, &mut log, now, Action::Acknowledge { note: None }).unwrap();
    c
}

#[test]
fn extending_past_the_horizon_is_refused_and_suspending_stays_clean() {
    // Issue 15: extending to a far-future date and then suspending panicked
    // in chrono near the end of its range, and walked every day before it.
    let w = World::new();
    let now = t("2026-11-23 10:00");
    let suspend = Action::Suspend { reason: "awaiting permit".into() };
    for far in ["\"+262000-01-01T00:00:00Z\"", "\"+262142-12-31T23:00:00Z\"", "\"2036-11-23T02:00:01Z\""] {
        let until: DateTime<Utc> = serde_json::from_str(far).unwrap();
        let c = handling(&w, now);
        let err = decide(&c, &Action::Extend { until, reason: "r".into() }, &w.ctx(now)).unwrap_err();
        let CaseError::DateOutOfRange { action, at, latest, .. } = &err else { panic!("{err:?}") };
        assert_eq!((*action, *at, *latest), (ActionKind::Extend, until, t("2036-11-23 10:00")));
        assert!(err.to_string().starts_with("extend: "), "{err}");
        let e = decide(&c, &suspend, &w.ctx(now)).unwrap();
        assert_eq!(e.data.paused_handle_minutes, Some(450));
    }
    // Exactly at the horizon is accepted, and suspending measures ten years of working time.
    let mut c = handling(&w, now);
    let mut log = vec![];
    let until = horizon(now);
    w.act(&mut c, &mut log, now, Action::Extend { until, reason: "r".into() }).unwrap();
    w.act(&mut c, &mut log, now, suspend.clone()).unwrap();
    let paused = c.paused_minutes.unwrap();
    assert_eq!(Some(paused), Some(w.cal.working_minutes_between(now, until)));
    assert!((10 * 240 * 450..10 * 262 * 450).contains(&paused), "{paused}");
    w.act(&mut c, &mut log, now, Action::Resume { note: None }).unwrap();
    assert!(c.deadline.unwrap() <= until);
    // Dates before the platform's time are refused the same way.
    let c = handling(&w, now);
    let old = Action::Extend { until: t("1999-12-31 23:59"), reason: "r".into() };
    assert!(matches!(decide(&c, &old, &w.ctx(now)), Err(CaseError::DateOutOfRange { .. })));
}

#[test]
fn a_case_stored_with_a_far_deadline_still_suspends_and_resumes() {
    // A deadline written before extensions were bounded must not crash the
    // worker that suspends the case: the calendar is total.
    let w = World::new();
    let now = t("2026-11-23 10:00");
    for far in [
        DateTime::<Utc>::MAX_UTC,
        "+262142-12-31T23:00:00Z".parse().unwrap(),
        "+262000-01-01T00:00:00Z".parse().unwrap(),
    ] {
        let mut c = handling(&w, now);
        c.deadline = Some(far);
        c.handle_deadline = Some(far);
        let e = decide(&c, &Action::Suspend { reason: "r".into() }, &w.ctx(now)).unwrap();
        assert!(e.data.paused_minutes.is_some_and(|m| m > 1_000_000_000), "{e:?}");
        c.apply(&e);
        let e = decide(&c, &Action::Resume { note: None }, &w.ctx(now)).unwrap();
        assert!(e.deadline.is_some_and(|d| d > now && d <= far), "{e:?}");
    }
}

#[test]
fn overdue_is_the_running_node_past_its_deadline() {
    let w = World::new();
    let (c, _) = w.open(t("2026-11-23 10:00"), false);
    assert!(!c.is_overdue(t("2026-11-23 10:30")));
    assert!(c.is_overdue(t("2026-11-23 10:31")));
}

/// The edges of the loop as the product brief draws them. Any transition
/// outside this list is a bug, whatever sequence produced it.
fn edge_allowed(from: CaseState, action: ActionKind, to: CaseState, suspended_from: Option<CaseState>) -> bool {
    use ActionKind as A;
    use CaseState as S;
    match (from, action, to) {
        (_, A::Suspend, S::Suspended) => from.is_open() && from != S::Suspended && from != S::Verified,
        (S::Suspended, A::Resume, to) => Some(to) == suspended_from,
        (f, A::Void, S::Voided) => f.is_open(),
        (f, A::Extend, t) => f == t && matches!(f, S::Dispatched | S::Handling | S::Rework),
        _ => matches!(
            (from, action, to),
            (S::Reported, A::Register, S::Registered)
                | (S::Reported, A::Reject, S::Rejected)
                | (S::Reported | S::Registered, A::Merge, S::Merged)
                | (S::Reported, A::SelfHandle, S::Verified)
                | (S::Registered | S::Returned, A::Dispatch, S::Dispatched)
                | (S::Dispatched, A::Acknowledge, S::Handling)
                | (S::Dispatched | S::Handling, A::Return, S::Returned)
                | (S::Handling | S::Rework, A::Handle, S::Handled)
                | (S::Handled, A::Verify, S::Verified | S::Rework)
                | (S::Verified, A::Close, S::Closed)
                | (S::Closed, A::Evaluate, S::Evaluated)
        ),
    }
}

fn any_action() -> impl Strategy<Value = Action> {
    let text = prop_oneof![Just(String::new()), Just("note".to_owned())];
    let ev = prop_oneof![Just(vec![]), Just(vec![HASH.to_owned()])];
    prop_oneof![
        any::<Option<bool>>().prop_map(|u| Action::Register { category: None, urgent: u, note: None }),
        text.clone().prop_map(|reason| Action::Reject { reason }),
        prop_oneof![Just(7i64), Just(8i64)].prop_map(|into| Action::Merge { into, note: None }),
        prop_oneof![Just(None), Just(Some("D1".to_owned()))]
            .prop_map(|department| { Action::Dispatch { department, assists: vec![], note: None } }),
        Just(Action::Acknowledge { note: None }),
        text.clone().prop_map(|reason| Action::Return { reason }),
        (text.clone(), ev.clone()).prop_map(|(note, evidence)| Action::Handle { note, evidence }),
        (text.clone(), ev.clone()).prop_map(|(note, evidence)| Action::SelfHandle { note, evidence }),
        (any::<bool>(), prop_oneof![Just(None), Just(Some("why".to_owned()))])
            .prop_map(|(passed, note)| Action::Verify { passed, note, evidence: vec![] }),
        Just(Action::Close { note: None }),
        (1i64..20_000)
            .prop_map(|m| Action::Extend { until: t("2026-11-23 10:00") + Duration::minutes(m), reason: "r".into() }),
        // Anywhere chrono can represent: far outside the horizon, and its very ends.
        prop_oneof![
            (DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp())
                .prop_map(|s| DateTime::from_timestamp(s, 0).unwrap()),
            Just(DateTime::<Utc>::MIN_UTC),
            Just(DateTime::<Utc>::MAX_UTC),
        ]
        .prop_map(|until| Action::Extend { until, reason: "r".into() }),
        text.clone().prop_map(|reason| Action::Suspend { reason }),
        Just(Action::Resume { note: None }),
        text.clone().prop_map(|reason| Action::Void { reason }),
        (0u8..7).prop_map(|rating| Action::Evaluate { rating, comment: None }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// No sequence of actions leaves the loop: every accepted action follows
    /// an edge of the loop, a refused one changes nothing, ended cases accept
    /// nothing, a deadline runs exactly while the case is open and not
    /// suspended, and replaying
    /// the timeline rebuilds the same case.
    #[test]
    fn no_sequence_of_actions_leaves_the_loop(
        steps in proptest::collection::vec((any_action(), 0i64..3_000), 1..40),
        urgent in any::<bool>(),
    ) {
        let w = World::new();
        let mut now = t("2026-11-23 10:00");
        let (mut c, mut log) = w.open(now, urgent);
        let first = c.clone();
        for (a, dt) in steps {
            now += Duration::minutes(dt);
            let before = c.clone();
            match decide(&c, &a, &w.ctx(now)) {
                Ok(e) => {
                    prop_assert!(edge_allowed(before.state, a.kind(), e.to, before.suspended_from),
                        "{} --{}--> {}", before.state, a.kind(), e.to);
                    prop_assert_eq!(e.seq, before.version + 1);
                    c.apply(&e);
                    log.push(e);
                    // A clock runs exactly while the case is open and not paused.
                    let running = c.state.is_open() && c.state != CaseState::Suspended;
                    prop_assert_eq!(c.deadline.is_some(), running, "{:?}", c.state);
                    if c.state == CaseState::Suspended {
                        prop_assert!(c.suspended_from.is_some());
                    }
                }
                Err(err) => {
                    prop_assert_eq!(&c, &before);
                    if before.state.is_terminal() {
                        let is_forbidden = matches!(err, CaseError::Forbidden { .. });
                        prop_assert!(is_forbidden);
                    }
                }
            }
        }
        prop_assert_eq!(replay(&first, &log), c);
    }
}
