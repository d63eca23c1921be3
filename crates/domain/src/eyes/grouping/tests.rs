//! The grouper by example and by property.

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;

use super::*;
use crate::eyes::Severity;

const BASE: Point = Point { lon: 118.36, lat: 31.35 };

fn t0() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000)
}

/// A point `east` and `north` metres from [`BASE`].
fn at_m(east: f64, north: f64) -> Point {
    let lat = BASE.lat + north / METRES_PER_DEGREE;
    let lon = BASE.lon + east / (METRES_PER_DEGREE * BASE.lat.to_radians().cos());
    Point { lon, lat }
}

fn alert(kind: AlertType, device: &str, east: f64, secs: i64, severity: Severity) -> Alert<'_> {
    Alert { kind, severity, point: at_m(east, 0.0), at: t0() + Duration::seconds(secs), device, evidence: &[] }
}

fn fishing(device: &str, east: f64, secs: i64) -> Alert<'_> {
    alert(AlertType::IllegalFishing, device, east, secs, Severity::Medium)
}

struct Ids(u64);

impl Ids {
    fn next(&mut self) -> impl FnOnce() -> IncidentId + '_ {
        || {
            self.0 += 1;
            self.0
        }
    }
}

fn grouper() -> Grouper {
    Grouper::new(GroupingConfig::default()).unwrap()
}

#[test]
fn alerts_join_across_devices_within_r_and_t() {
    let mut g = grouper();
    let mut ids = Ids(0);
    assert_eq!(g.group(&fishing("cam-1", 0.0, 0), ids.next()), Grouped::Opened { id: 1 });
    assert_eq!(g.group(&fishing("cam-2", 450.0, 60), ids.next()), Grouped::Joined { id: 1 });
    // Within T of the last alert (exactly T), though 31 minutes after the first.
    assert_eq!(g.group(&fishing("cam-3", 100.0, 31 * 60), ids.next()), Grouped::Joined { id: 1 });
    let i = g.get(1).unwrap();
    assert_eq!((i.count, i.devices.len()), (3, 3));
    // Beyond R of the centroid.
    assert_eq!(g.group(&fishing("cam-1", 900.0, 32 * 60), ids.next()), Grouped::Opened { id: 2 });
    // Beyond T: quiet for 30 minutes closes it for joining.
    assert_eq!(g.group(&fishing("cam-1", 0.0, 61 * 60 + 1), ids.next()), Grouped::Opened { id: 3 });
    // Another type never joins.
    let smoke = alert(AlertType::AirPollution, "cam-1", 0.0, 71 * 60, Severity::Low);
    assert_eq!(g.group(&smoke, ids.next()), Grouped::Opened { id: 4 });
}

#[test]
fn the_centroid_stops_an_incident_creeping_along_the_river() {
    let mut g = grouper();
    let mut ids = Ids(0);
    assert!(matches!(g.group(&fishing("cam-1", 0.0, 0), ids.next()), Grouped::Opened { .. }));
    assert!(matches!(g.group(&fishing("cam-2", 400.0, 60), ids.next()), Grouped::Joined { .. }));
    // 400 m from the last member, but 600 m from the centroid.
    assert!(matches!(g.group(&fishing("cam-3", 800.0, 120), ids.next()), Grouped::Opened { .. }));
    let i = g.get(1).unwrap();
    assert!((i.centroid.distance_m(&at_m(200.0, 0.0))) < 1.0);
    assert!(i.bbox.contains(&at_m(400.0, 0.0)) && !i.bbox.contains(&at_m(800.0, 0.0)));
}

#[test]
fn the_nearest_incident_wins() {
    let mut g = grouper();
    let mut ids = Ids(0);
    g.group(&fishing("cam-1", 0.0, 0), ids.next());
    g.group(&fishing("cam-2", 800.0, 0), ids.next());
    assert_eq!(g.group(&fishing("cam-3", 500.0, 10), ids.next()), Grouped::Joined { id: 2 });
    assert_eq!(g.group(&fishing("cam-3", 300.0, 10), ids.next()), Grouped::Joined { id: 1 });
}

#[test]
fn late_alerts_find_their_incident() {
    let mut g = grouper();
    let mut ids = Ids(0);
    g.group(&fishing("cam-1", 0.0, 3600), ids.next());
    // 20 minutes before the first: within T of its span.
    assert_eq!(g.group(&fishing("cam-2", 0.0, 3600 - 20 * 60), ids.next()), Grouped::Joined { id: 1 });
    assert_eq!(g.get(1).unwrap().first_seen, t0() + Duration::seconds(3600 - 20 * 60));
    // A backlog replayed long after: its alerts still group with each other.
    g.group(&fishing("cam-1", 0.0, 5 * 3600), ids.next());
    assert_eq!(g.group(&fishing("cam-9", 3000.0, 60), ids.next()), Grouped::Opened { id: 3 });
    assert_eq!(g.group(&fishing("cam-9", 3000.0, 120), ids.next()), Grouped::Joined { id: 3 });
}

#[test]
fn state_changes_made_elsewhere() {
    let mut g = grouper();
    let mut ids = Ids(0);
    g.group(&fishing("cam-1", 0.0, 0), ids.next());
    assert!(g.set_state(1, IncidentState::Confirmed));
    assert_eq!(g.group(&fishing("cam-1", 0.0, 60), ids.next()), Grouped::Joined { id: 1 }, "confirmed still joins");
    assert!(g.set_state(1, IncidentState::Promoted));
    assert!(g.get(1).is_none());
    assert_eq!(g.group(&fishing("cam-1", 0.0, 120), ids.next()), Grouped::Opened { id: 2 });
    assert!(!g.set_state(99, IncidentState::Dismissed));
}

#[test]
fn loading_after_a_restart() {
    let mut g = grouper();
    let mut ids = Ids(0);
    g.group(&fishing("cam-1", 0.0, 0), ids.next());
    g.group(&fishing("cam-2", 100.0, 60), ids.next());
    let kept: Vec<Incident> = g.incidents().cloned().collect();
    let mut fresh = grouper();
    for i in kept {
        fresh.load(i);
    }
    let mut dismissed = Incident::open(7, &fishing("cam-1", 0.0, 60));
    dismissed.state = IncidentState::Dismissed;
    fresh.load(dismissed);
    assert_eq!(fresh.len(), 1);
    assert_eq!(fresh.group(&fishing("cam-3", 50.0, 120), ids.next()), Grouped::Joined { id: 1 });
    assert_eq!(fresh.get(1).unwrap().count, 3);
}

#[test]
fn quiet_incidents_leave_and_memory_is_bounded() {
    let mut g = grouper();
    let mut ids = Ids(0);
    g.group(&fishing("cam-1", 0.0, 0), ids.next());
    g.group(&fishing("cam-1", 5000.0, 600), ids.next());
    // Quiet time (30 min) plus the late allowance (10 min).
    assert_eq!(g.advance(t0() + Duration::minutes(40)), 0);
    assert_eq!(g.advance(t0() + Duration::minutes(40) + Duration::seconds(1)), 1);
    assert_eq!(g.len(), 1);
    // A newer alert's time moves the clock and evicts by itself.
    g.group(&fishing("cam-1", 20_000.0, 3 * 3600), ids.next());
    assert_eq!(g.len(), 1);

    let config = GroupingConfig { max_open: 10, ..GroupingConfig::default() };
    let mut g = Grouper::new(config).unwrap();
    for k in 0..100 {
        g.group(&fishing("cam-1", f64::from(k) * 2000.0, i64::from(k)), ids.next());
        assert!(g.len() <= 10);
    }
    // The ones closest to leaving left first: the most recent stay.
    assert!(g.incidents().all(|i| i.first_seen >= t0() + Duration::seconds(90)));
}

#[test]
fn configuration_bounds() {
    let mut c = GroupingConfig::default();
    assert_eq!(c.params(AlertType::IllegalFishing), GroupingParams { radius_m: 500.0, quiet_minutes: 30 });
    let bad = GroupingParams { radius_m: 0.5, quiet_minutes: 30 };
    assert_eq!(c.set(AlertType::RiverTraffic, bad), Err(GroupingError::BadParams(AlertType::RiverTraffic)));
    let bad = GroupingParams { radius_m: 100.0, quiet_minutes: 0 };
    assert!(c.set(AlertType::RiverTraffic, bad).is_err());
    let good = GroupingParams { radius_m: 100.0, quiet_minutes: 5 };
    assert_eq!(c.set(AlertType::RiverTraffic, good), Ok(()));
    assert_eq!(c.params(AlertType::RiverTraffic), good);
    assert!(Grouper::new(GroupingConfig { max_open: 0, ..GroupingConfig::default() }).is_err());
    assert!(AlertType::ALL.iter().all(|k| GroupingParams::default_for(*k).is_valid()));
}

#[test]
fn far_north_falls_back_to_a_scan() {
    let mut g = grouper();
    let mut ids = Ids(0);
    let polar = |secs| Alert { point: Point { lon: 10.0, lat: 89.999 }, ..fishing("cam-1", 0.0, secs) };
    g.group(&polar(0), ids.next());
    assert_eq!(g.group(&polar(60), ids.next()), Grouped::Joined { id: 1 });
}

/// One generated alert: type, metres east and north of [`BASE`], seconds
/// after the previous alert, seconds late, severity, device.
type Gen = (usize, f64, f64, i64, i64, usize, usize);

fn stream(max: usize) -> impl Strategy<Value = Vec<Gen>> {
    proptest::collection::vec(
        (
            0usize..2,
            -3000.0f64..3000.0,
            -1500.0f64..1500.0,
            0i64..300,
            prop_oneof![4 => Just(0i64), 1 => 0i64..3000],
            0usize..4,
            0usize..6,
        ),
        1..max,
    )
}

const DEVICES: [&str; 6] = ["cam-0", "cam-1", "cam-2", "cam-3", "cam-4", "cam-5"];
const KINDS: [AlertType; 2] = [AlertType::IllegalFishing, AlertType::RiverTraffic];

fn alerts(spec: &[Gen]) -> Vec<Alert<'static>> {
    let mut clock = 0;
    spec.iter()
        .map(|&(k, east, north, step, late, sev, dev)| {
            clock += step;
            Alert {
                kind: KINDS[k],
                severity: Severity::ALL[sev],
                point: at_m(east, north),
                at: t0() + Duration::seconds(clock - late),
                device: DEVICES[dev],
                evidence: &[],
            }
        })
        .collect()
}

/// Whether `i` could take `a` by the documented rule, and at what distance.
fn eligible(i: &Incident, a: &Alert<'_>, p: GroupingParams) -> Option<f64> {
    let d = i.centroid.distance_m(&a.point);
    let in_time = a.at >= i.first_seen - p.quiet() && a.at <= i.last_seen + p.quiet();
    (i.kind == a.kind && i.is_joinable() && in_time && d <= p.radius_m).then_some(d)
}

struct Run {
    outcomes: Vec<Grouped>,
    /// Every incident's last version, kept or not.
    incidents: BTreeMap<IncidentId, Incident>,
    /// Per incident, the alerts that went into it (by index).
    members: BTreeMap<IncidentId, Vec<usize>>,
}

/// Feeds `alerts`, checking before each that a join obeys R and T and, when
/// `exact`, that the grouper chose exactly what a full scan would.
fn run(alerts: &[Alert<'_>], config: &GroupingConfig, exact: bool) -> Result<Run, TestCaseError> {
    let mut g = Grouper::new(config.clone()).unwrap();
    let mut ids = Ids(100);
    let mut out = Run { outcomes: vec![], incidents: BTreeMap::new(), members: BTreeMap::new() };
    for (n, a) in alerts.iter().enumerate() {
        let p = config.params(a.kind);
        let before: HashMap<IncidentId, Incident> = g.incidents().map(|i| (i.id, i.clone())).collect();
        let r = g.group(a, ids.next());
        match r {
            Grouped::Joined { id } => {
                let i = before.get(&id).ok_or_else(|| TestCaseError::fail("joined an unknown incident"))?;
                let d = i.centroid.distance_m(&a.point);
                prop_assert!(d <= p.radius_m, "joined {} m away", d);
                prop_assert!(a.at <= i.last_seen + p.quiet() && a.at >= i.first_seen - p.quiet(), "joined out of T");
                prop_assert!(i.kind == a.kind && i.is_joinable());
            }
            Grouped::Opened { id } => prop_assert!(!before.contains_key(&id)),
        }
        if exact {
            let best = before
                .values()
                .filter_map(|i| eligible(i, a, p).map(|d| (d, i.id)))
                .min_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
            match (best, r) {
                (None, Grouped::Opened { .. }) => {}
                (Some((_, want)), Grouped::Joined { id }) => prop_assert_eq!(want, id),
                (best, r) => prop_assert!(false, "full scan says {:?}, grouper did {:?}", best, r),
            }
        }
        let i = g.get(r.id()).ok_or_else(|| TestCaseError::fail("result not held"))?;
        out.incidents.insert(i.id, i.clone());
        out.members.entry(i.id).or_default().push(n);
        out.outcomes.push(r);
    }
    Ok(out)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// With nothing evicted, the grid finds exactly what a full scan finds.
    #[test]
    fn the_index_agrees_with_a_full_scan(spec in stream(150)) {
        let config = GroupingConfig { late_secs: 86_400, ..GroupingConfig::default() };
        run(&alerts(&spec), &config, true)?;
    }

    /// Joins obey R and T; counts, severity and times add up; the same
    /// stream groups the same way twice.
    #[test]
    fn grouping_is_sound_and_deterministic(spec in stream(300), small in any::<bool>()) {
        let mut config = GroupingConfig::default();
        if small {
            config.max_open = 5;
            config.late_secs = 0;
        }
        let a = alerts(&spec);
        let first = run(&a, &config, false)?;
        let total: u64 = first.incidents.values().map(|i| i.count).sum();
        prop_assert_eq!(total, a.len() as u64);
        for (id, members) in &first.members {
            let i = &first.incidents[id];
            prop_assert_eq!(i.count, members.len() as u64);
            let max = members.iter().map(|&n| a[n].severity).max();
            prop_assert_eq!(Some(i.severity), max);
            prop_assert_eq!(Some(i.first_seen), members.iter().map(|&n| a[n].at).min());
            prop_assert_eq!(Some(i.last_seen), members.iter().map(|&n| a[n].at).max());
            prop_assert!(members.iter().all(|&n| a[n].kind == i.kind));
        }
        let second = run(&a, &config, false)?;
        prop_assert_eq!(first.outcomes, second.outcomes);
        prop_assert_eq!(first.incidents, second.incidents);
    }
}
