//! Detections and incidents ([`crate::EyesStore`]).

use chrono::{DateTime, Duration};
use citygrid_domain::access::CaseScope;
use citygrid_domain::eyes::{Alert, AlertType, Detection, Incident, IncidentState, Severity, Transition};
use citygrid_domain::{BBox, Point, UnitCode};
use serde_json::json;

use super::{audit, t0, trail};
use crate::prelude::*;
use crate::{
    AuditFilter, DetectionBatch, FalsePositives, IncidentFilter, IncidentRecord, Recorded, StoreError, StoredDetection,
};

const HASH: &str = "a3f5c0e1b2d4a3f5c0e1b2d4a3f5c0e1b2d4a3f5c0e1b2d4a3f5c0e1b2d4a3f5";

fn at(minutes: i64) -> DateTime<chrono::Utc> {
    // Microseconds survive every backend; nanoseconds would not.
    t0() + Duration::minutes(minutes) + Duration::microseconds(123_456)
}

/// A detection from `device` with source id `id`, `minutes` after t0, in
/// grid 340202001001001 unless `territory` says otherwise.
pub fn detection(device: &str, id: &str, minutes: i64) -> StoredDetection {
    StoredDetection {
        detection: Detection {
            id: id.into(),
            device: device.into(),
            at: at(minutes),
            label: "fishing".into(),
            score: 0.875,
            lon: 118.36,
            lat: 31.35,
            evidence: if minutes % 2 == 0 { vec![HASH.into()] } else { vec![] },
            attributes: (minutes % 3 == 0).then(|| json!({"sub_label": "rod", "n": minutes})),
        },
        received_at: at(minutes + 1),
        territory: UnitCode::parse("340202001001001").unwrap(),
        rule: None,
        incident: None,
    }
}

/// Incident `id` of `kind` opened by `d` (version 1), in `territory`.
pub fn incident(id: u64, kind: AlertType, d: &StoredDetection, territory: &str) -> IncidentRecord {
    let x = &d.detection;
    let alert = Alert {
        kind,
        severity: Severity::Medium,
        point: Point { lon: x.lon, lat: x.lat },
        at: x.at,
        device: &x.device,
        evidence: &x.evidence,
    };
    IncidentRecord {
        incident: Incident::open(id, &alert),
        version: 1,
        territory: UnitCode::parse(territory).unwrap(),
        rule: Some("fishing-ban-water".into()),
        updated_at: d.received_at,
    }
}

fn batch(detections: Vec<StoredDetection>, incidents: Vec<IncidentRecord>) -> DetectionBatch {
    DetectionBatch { detections, incidents, audit: audit("detections.record") }
}

/// `d` as the detection that opened `inc`.
fn tag(mut d: StoredDetection, inc: &IncidentRecord) -> StoredDetection {
    d.incident = Some(inc.incident.id);
    d.rule = inc.rule.clone();
    d
}

/// `d` joining `inc`, which absorbs it (the caller bumps the version).
fn joined(d: StoredDetection, inc: &mut IncidentRecord) -> StoredDetection {
    let x = &d.detection;
    let alert = Alert {
        kind: inc.incident.kind,
        severity: Severity::High,
        point: Point { lon: x.lon, lat: x.lat },
        at: x.at,
        device: &x.device,
        evidence: &x.evidence,
    };
    inc.incident.absorb(&alert);
    tag(d, inc)
}

async fn batches_audited<S: Store>(s: &S) -> usize {
    let f = AuditFilter { action: Some("detections.record".into()), ..AuditFilter::default() };
    s.audit_records(f).await.unwrap().len()
}

pub async fn detections_are_recorded_once<S: Store>(s: &S) {
    let first = detection("cam-1", "e1", 0);
    let mut inc = incident(1, AlertType::IllegalFishing, &first, "340202001001001");
    let first = tag(first, &inc);
    let second = joined(detection("cam-2", "e1", 2), &mut inc);
    let loose = detection("cam-1", "e2", 3);
    let dup_in_batch = detection("cam-1", "e1", 9);
    let got = s
        .record_detections(batch(vec![first.clone(), second.clone(), loose.clone(), dup_in_batch], vec![inc.clone()]))
        .await
        .unwrap();
    use Recorded::{Duplicate as D, Inserted as I};
    assert_eq!(got, [I, I, I, D], "the same key later in the batch is a duplicate");
    assert_eq!(batches_audited(s).await, 1, "one audit record per batch, not per detection");
    assert_eq!(trail(s).await, 1);
    // The incident it opened is on the live feed, once, as written.
    let feed = s.feed_after(0, 10).await.unwrap();
    assert_eq!(feed.len(), 1, "{feed:?}");
    assert_eq!(feed[0].item, crate::FeedItem::Incident(crate::IncidentChange::of(&inc)));

    // The same keys again, and a new one: only the new one is stored.
    let again = vec![detection("cam-1", "e1", 5), detection("cam-2", "e1", 5), detection("cam-3", "e1", 4)];
    assert_eq!(s.record_detections(batch(again, vec![])).await.unwrap(), [D, D, I]);
    assert_eq!(batches_audited(s).await, 2);
    let known = s
        .detections_known(vec![
            ("cam-1".into(), "e1".into()),
            ("cam-1".into(), "e9".into()),
            ("cam-3".into(), "e1".into()),
        ])
        .await
        .unwrap();
    assert_eq!(known, [true, false, true]);

    // What was stored first stands, every field as sent.
    let stored = s.incident_detections(1, 10).await.unwrap();
    assert_eq!(stored, vec![first.clone(), second.clone()], "earliest first, the duplicates changed nothing");
    assert_eq!(s.incident_detections(1, 1).await.unwrap(), vec![first]);
    assert!(s.incident_detections(99, 10).await.unwrap().is_empty());
    let got = s.incident(1).await.unwrap().unwrap();
    assert_eq!(got, inc);
    assert_eq!(got.incident.count, 2);
    assert_eq!(got.incident.devices, ["cam-1", "cam-2"]);
    assert_eq!(s.incident(2).await.unwrap(), None);
    assert_eq!(s.max_incident_id().await.unwrap(), 1);

    // An empty batch is fine; an oversized one is refused whole.
    assert!(s.record_detections(batch(vec![], vec![])).await.unwrap().is_empty());
    let huge: Vec<StoredDetection> = (0..=1000).map(|i| detection("cam-9", &format!("h{i}"), 0)).collect();
    assert!(matches!(s.record_detections(batch(huge, vec![])).await, Err(StoreError::Invalid(_))));
    assert_eq!(s.detections_known(vec![("cam-9".into(), "h0".into())]).await.unwrap(), [false]);
}

pub async fn concurrent_batches_store_each_detection_once<S: Store>(s: &S) {
    let keys: Vec<String> = (0..50).map(|i| format!("k{i}")).collect();
    let batches = (0..6).map(|b| {
        // Every batch holds every key, in a different order.
        let mut ds: Vec<StoredDetection> = keys.iter().map(|k| detection("cam-1", k, b)).collect();
        ds.rotate_left(b as usize * 7);
        s.record_detections(batch(ds, vec![]))
    });
    let results = futures_util::future::join_all(batches).await;
    let inserted: usize =
        results.iter().map(|r| r.as_ref().unwrap().iter().filter(|x| **x == Recorded::Inserted).count()).sum();
    assert_eq!(inserted, keys.len(), "each key inserted by exactly one batch");
    let all = s.detections_known(keys.iter().map(|k| ("cam-1".to_owned(), k.clone())).collect()).await.unwrap();
    assert!(all.iter().all(|k| *k));
    assert_eq!(batches_audited(s).await, 6);
}

pub async fn incident_versions_are_optimistic<S: Store>(s: &S) {
    let d = detection("cam-1", "a", 0);
    let inc = incident(7, AlertType::IllegalFishing, &d, "340202001001001");
    let d = tag(d, &inc);
    s.record_detections(batch(vec![d], vec![inc.clone()])).await.unwrap();

    // Opening an id that exists: a conflict, and the batch's detections are not stored.
    let other = detection("cam-1", "b", 1);
    let err = s.record_detections(batch(vec![other.clone()], vec![inc.clone()])).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(s.detections_known(vec![("cam-1".into(), "b".into())]).await.unwrap(), [false], "all or nothing");
    assert_eq!(batches_audited(s).await, 1, "a refused batch leaves no audit record");

    // The next version joins; the same version again is stale.
    let mut v2 = inc.clone();
    let other = joined(other, &mut v2);
    v2.version = 2;
    s.record_detections(batch(vec![other], vec![v2.clone()])).await.unwrap();
    let stale = batch(vec![detection("cam-1", "c", 2)], vec![v2.clone()]);
    assert!(matches!(s.record_detections(stale).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.incident(7).await.unwrap().unwrap(), v2);

    // A review decision: version 3 once; a second writer of version 3 loses.
    let mut confirmed = v2.clone();
    confirmed.incident.apply(Transition::Confirm).unwrap();
    confirmed.version = 3;
    s.update_incident(confirmed.clone(), audit("incident.confirm")).await.unwrap();
    let mut dismissed = v2.clone();
    dismissed.incident.apply(Transition::Dismiss).unwrap();
    dismissed.version = 3;
    let err = s.update_incident(dismissed, audit("incident.dismiss")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(s.incident(7).await.unwrap().unwrap(), confirmed);
    let mut ghost = confirmed.clone();
    ghost.incident.id = 8;
    ghost.version = 2;
    assert!(matches!(s.update_incident(ghost, audit("incident.confirm")).await, Err(StoreError::NotFound(_))));
    let f = AuditFilter { action: Some("incident.dismiss".into()), ..AuditFilter::default() };
    assert!(s.audit_records(f).await.unwrap().is_empty(), "a lost race leaves no audit record");
}

/// Incidents 1..=6: kinds, states, places and times to filter on.
async fn six_incidents<S: Store>(s: &S) -> Vec<IncidentRecord> {
    let spec: [(AlertType, &str, f64, i64); 6] = [
        (AlertType::IllegalFishing, "340202001001001", 118.30, 0),
        (AlertType::IllegalFishing, "340202001001002", 118.31, 60),
        (AlertType::IllegalDumping, "340202002001001", 118.32, 120),
        (AlertType::IllegalFishing, "340207001001001", 118.50, 180),
        (AlertType::AirPollution, "340207001001001", 118.51, 240),
        (AlertType::IllegalFishing, "340202001001001", 118.33, 300),
    ];
    let mut out = vec![];
    for (i, (kind, territory, lon, minutes)) in spec.into_iter().enumerate() {
        let mut d = detection("cam-1", &format!("s{i}"), minutes);
        d.detection.lon = lon;
        d.territory = UnitCode::parse(territory).unwrap();
        let inc = incident(i as u64 + 1, kind, &d, territory);
        let d = tag(d, &inc);
        s.record_detections(batch(vec![d], vec![inc.clone()])).await.unwrap();
        out.push(inc);
    }
    let mut dismissed = out[1].clone();
    dismissed.incident.apply(Transition::Dismiss).unwrap();
    dismissed.version = 2;
    s.update_incident(dismissed.clone(), audit("incident.dismiss")).await.unwrap();
    out[1] = dismissed;
    out
}

fn ids(page: &[IncidentRecord]) -> Vec<u64> {
    page.iter().map(|r| r.incident.id).collect()
}

pub async fn incidents_filter_within_scope<S: Store>(s: &S) {
    let all = six_incidents(s).await;
    let list = |f: IncidentFilter| async move { ids(&s.list_incidents(f).await.unwrap().incidents) };
    let scoped = |scope| IncidentFilter::scoped(scope, 100);
    let unit = |c: &str| UnitCode::parse(c).unwrap();

    let page = s.list_incidents(scoped(CaseScope::All)).await.unwrap();
    assert_eq!(ids(&page.incidents), [6, 5, 4, 3, 2, 1], "newest first");
    assert_eq!(page.incidents[4], all[1], "stored as written");
    assert_eq!(page.next_after, None);
    assert_eq!(list(scoped(CaseScope::Territory(unit("340202")))).await, [6, 3, 2, 1]);
    assert_eq!(list(scoped(CaseScope::Territory(unit("340202001")))).await, [6, 2, 1]);
    assert_eq!(list(scoped(CaseScope::Territory(unit("340202001001001")))).await, [6, 1]);
    assert_eq!(list(scoped(CaseScope::Nothing)).await, Vec::<u64>::new());
    assert_eq!(list(scoped(CaseScope::Reporter("x".into()))).await, Vec::<u64>::new());

    let mut f = scoped(CaseScope::All);
    f.kinds = vec![AlertType::IllegalFishing];
    assert_eq!(list(f.clone()).await, [6, 4, 2, 1]);
    f.states = vec![IncidentState::Open];
    assert_eq!(list(f.clone()).await, [6, 4, 1]);
    f.kinds.push(AlertType::AirPollution);
    assert_eq!(list(f.clone()).await, [6, 5, 4, 1]);

    let mut f = scoped(CaseScope::All);
    f.bbox = Some(BBox { min_lon: 118.305, min_lat: 31.0, max_lon: 118.5, max_lat: 31.5 });
    assert_eq!(list(f).await, [6, 4, 3, 2]);
    let mut f = scoped(CaseScope::All);
    f.from = Some(at(60));
    f.to = Some(at(240));
    assert_eq!(list(f).await, [4, 3, 2], "last seen at or after from, first seen before to");
    let mut f = scoped(CaseScope::Territory(unit("340207")));
    f.kinds = vec![AlertType::IllegalDumping];
    assert_eq!(list(f).await, Vec::<u64>::new(), "scope and filters combine");

    let open = s.open_incidents(at(0)).await.unwrap();
    assert_eq!(ids(&open), [1, 3, 4, 5, 6], "open and confirmed ones, not the dismissed");
    assert_eq!(ids(&s.open_incidents(at(200)).await.unwrap()), [5, 6]);
    assert_eq!(s.max_incident_id().await.unwrap(), 6);
}

pub async fn incident_pagination_is_stable<S: Store>(s: &S) {
    six_incidents(s).await;
    let mut f = IncidentFilter::scoped(CaseScope::All, 4);
    let first = s.list_incidents(f.clone()).await.unwrap();
    assert_eq!(ids(&first.incidents), [6, 5, 4, 3]);
    assert_eq!(first.next_after, Some(3));
    // New incidents arrive between pages: they are newer, so later pages are unchanged.
    let d = detection("cam-2", "late", 400);
    let inc = incident(7, AlertType::IllegalFishing, &d, "340202001001001");
    let d = tag(d, &inc);
    s.record_detections(batch(vec![d], vec![inc])).await.unwrap();
    f.after = first.next_after;
    let second = s.list_incidents(f.clone()).await.unwrap();
    assert_eq!(ids(&second.incidents), [2, 1]);
    assert_eq!(second.next_after, None);
    f.limit = 2;
    f.after = None;
    let mut seen = vec![];
    loop {
        let page = s.list_incidents(f.clone()).await.unwrap();
        assert!(page.incidents.len() <= 2);
        seen.extend(ids(&page.incidents));
        match page.next_after {
            Some(a) => f.after = Some(a),
            None => break,
        }
    }
    assert_eq!(seen, [7, 6, 5, 4, 3, 2, 1], "each once");
    f.limit = 10_000;
    f.after = None;
    assert_eq!(s.list_incidents(f).await.unwrap().incidents.len(), 7, "the page bound is clamped, not an error");
}

pub async fn false_positive_rates_per_device_and_rule<S: Store>(s: &S) {
    // Incident 1 (rule r-a): cam-1 twice, cam-2 once. Incident 2 (rule r-b): cam-2 once, later dismissed.
    let d = detection("cam-1", "x1", 0);
    let mut one = incident(1, AlertType::IllegalFishing, &d, "340202001001001");
    one.rule = Some("r-a".into());
    let ds = vec![
        tag(d, &one),
        joined(detection("cam-1", "x2", 1), &mut one),
        joined(detection("cam-2", "x3", 2), &mut one),
    ];
    s.record_detections(batch(ds, vec![one])).await.unwrap();
    let mut d = detection("cam-2", "y1", 3);
    d.territory = UnitCode::parse("340207001001001").unwrap();
    let mut two = incident(2, AlertType::IllegalDumping, &d, "340207001001001");
    two.rule = Some("r-b".into());
    let d = tag(d, &two);
    // A detection no rule matched counts nowhere.
    s.record_detections(batch(vec![d, detection("cam-3", "z", 4)], vec![two.clone()])).await.unwrap();
    let mut dismissed = two.clone();
    dismissed.incident.apply(Transition::Dismiss).unwrap();
    dismissed.version = 2;
    s.update_incident(dismissed, audit("incident.dismiss")).await.unwrap();

    let fp = |key: &str, total, dismissed| FalsePositives { key: key.into(), total, dismissed };
    let all = s.false_positives(CaseScope::All).await.unwrap();
    assert_eq!(all.devices, [fp("cam-1", 2, 0), fp("cam-2", 2, 1)]);
    assert_eq!(all.rules, [fp("r-a", 3, 0), fp("r-b", 1, 1)]);
    let a = s.false_positives(CaseScope::Territory(UnitCode::parse("340202").unwrap())).await.unwrap();
    assert_eq!(a.devices, [fp("cam-1", 2, 0), fp("cam-2", 1, 0)]);
    assert_eq!(a.rules, [fp("r-a", 3, 0)]);
    assert_eq!(s.false_positives(CaseScope::Nothing).await.unwrap(), Default::default());
}
