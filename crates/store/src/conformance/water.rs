//! Conformance checks for water stations and their readings.

use chrono::Duration;
use citygrid_domain::{DeviceKind, Point, ReadingKind, WaterClass};

use super::{audit, device, station_link, t0, trail};
use crate::prelude::*;
use crate::{AuditFilter, ReadingCursor, ReadingQuery, StoreError, WaterReading};

fn station(id: &str, mn: &str) -> crate::DeviceRecord {
    let mut d = device(id, &format!("kh-{id}"));
    d.kind = DeviceKind::WaterStation;
    d.position = Some(Point { lon: 118.05, lat: 31.15 });
    d.zones = vec!["ws-1".into()];
    d.station = Some(station_link(mn));
    d.report_interval_secs = Some(3600);
    d
}

fn reading(station: &str, minutes: i64, kind: ReadingKind, factor: &str, value: f64) -> WaterReading {
    WaterReading {
        station: station.into(),
        data_time: t0() + Duration::minutes(minutes),
        kind,
        factor: factor.into(),
        value,
        flag: Some("N".into()),
        class: Some(WaterClass::III),
        sample_class: Some(WaterClass::IV),
        target: Some(WaterClass::III),
        received_at: t0() + Duration::minutes(minutes) + Duration::milliseconds(1234),
    }
}

pub async fn stations_by_mn_and_last_seen<S: Store>(s: &S) {
    let st = station("ws-a", "MN-0001");
    s.create_device(st.clone(), audit("device.create")).await.unwrap();
    assert_eq!(s.device_by_mn("MN-0001").await.unwrap(), Some(st.clone()));
    assert_eq!(s.device_by_mn("MN-0002").await.unwrap(), None);
    assert_eq!(s.device("ws-a").await.unwrap(), Some(st.clone()));
    // The station code is unique among devices.
    let twin = station("ws-b", "MN-0001");
    assert!(matches!(s.create_device(twin, audit("device.create")).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.devices().await.unwrap().len(), 1);
    s.create_device(station("ws-c", "MN-0003"), audit("device.create")).await.unwrap();

    // last_seen moves forward only, unknown ids are skipped, nothing is audited.
    let before = trail(s).await;
    let later = t0() + Duration::minutes(5);
    s.touch_devices(vec![("ws-a".into(), later), ("ghost".into(), later)]).await.unwrap();
    s.touch_devices(vec![("ws-a".into(), t0())]).await.unwrap();
    let a = s.device("ws-a").await.unwrap().unwrap();
    assert_eq!(a.last_seen, Some(later));
    assert_eq!(a.station, st.station, "touching leaves the rest as it was");
    assert_eq!(s.device_by_mn("MN-0001").await.unwrap().unwrap().last_seen, Some(later));
    assert_eq!(s.device("ws-c").await.unwrap().unwrap().last_seen, None);
    assert_eq!(trail(s).await, before, "liveness is not audited");
    // Revoking keeps last_seen.
    s.revoke_device("ws-a", later, audit("device.revoke")).await.unwrap();
    let a = s.device("ws-a").await.unwrap().unwrap();
    assert_eq!((a.last_seen, a.revoked_at), (Some(later), Some(later)));
}

pub async fn readings_append_idempotently<S: Store>(s: &S) {
    let batch: Vec<WaterReading> = vec![
        reading("ws-a", 0, ReadingKind::Realtime, "w01018", 12.3),
        reading("ws-a", 0, ReadingKind::Realtime, "w21003", 0.52),
        reading("ws-a", 0, ReadingKind::Hourly, "w01018", 11.0),
    ];
    let before = trail(s).await;
    assert_eq!(s.append_readings(batch.clone(), audit("water.readings")).await.unwrap(), 3);
    assert_eq!(trail(s).await, before + 1, "one audit record per batch");
    // The same batch again (a station re-sending): nothing new, nothing replaced.
    let mut again = batch.clone();
    again[0].value = 99.0;
    again.push(reading("ws-a", 1, ReadingKind::Realtime, "w01018", 13.0));
    assert_eq!(s.append_readings(again, audit("water.readings")).await.unwrap(), 1);
    assert_eq!(s.append_readings(batch.clone(), audit("water.readings")).await.unwrap(), 0);
    assert_eq!(trail(s).await, before + 2, "a batch of duplicates changes nothing and audits nothing");
    let recs = s.audit_records(AuditFilter { action: Some("water.readings".into()), ..Default::default() }).await;
    assert_eq!(recs.unwrap().len(), 2);

    let q = ReadingQuery {
        station: "ws-a".into(),
        from: t0(),
        to: t0() + Duration::hours(1),
        kind: None,
        after: None,
        limit: 100,
    };
    let page = s.readings(q).await.unwrap();
    assert_eq!(page.readings.len(), 4);
    assert_eq!(page.next, None);
    // Kept exactly: value, flag, classes, instants; ordered by (time, kind, factor).
    let first = page.readings.iter().find(|r| r.factor == "w01018" && r.kind == ReadingKind::Realtime).unwrap();
    assert_eq!(first, &batch[0]);
    let keys: Vec<ReadingCursor> = page.readings.iter().map(WaterReading::cursor).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    // An empty batch is no write at all.
    assert_eq!(s.append_readings(vec![], audit("water.readings")).await.unwrap(), 0);
    assert_eq!(trail(s).await, before + 2);
    // A value that is not a number is refused, and the whole batch with it.
    let bad = vec![
        reading("ws-a", 30, ReadingKind::Realtime, "w01018", 1.0),
        reading("ws-a", 30, ReadingKind::Realtime, "w21003", f64::NAN),
    ];
    assert!(matches!(s.append_readings(bad, audit("water.readings")).await, Err(StoreError::Invalid(_))));
    let q = ReadingQuery {
        station: "ws-a".into(),
        from: t0() + Duration::minutes(30),
        to: t0() + Duration::minutes(31),
        kind: None,
        after: None,
        limit: 10,
    };
    assert!(s.readings(q).await.unwrap().readings.is_empty());
}

pub async fn readings_page_within_range<S: Store>(s: &S) {
    let kinds = [ReadingKind::Realtime, ReadingKind::Hourly];
    let factors = ["w01001", "w01009", "w01018"];
    let mut all = Vec::new();
    for m in 0..20 {
        for k in kinds {
            for f in factors {
                all.push(reading("ws-a", m, k, f, m as f64));
            }
        }
    }
    all.push(reading("ws-b", 5, ReadingKind::Realtime, "w01018", 7.0));
    for chunk in all.chunks(25) {
        s.append_readings(chunk.to_vec(), audit("water.readings")).await.unwrap();
    }
    // Minutes 5..15 of ws-a: 10 minutes × 2 kinds × 3 factors, in pages of 7.
    let mut q = ReadingQuery {
        station: "ws-a".into(),
        from: t0() + Duration::minutes(5),
        to: t0() + Duration::minutes(15),
        kind: None,
        after: None,
        limit: 7,
    };
    let mut seen = Vec::new();
    loop {
        let page = s.readings(q.clone()).await.unwrap();
        assert!(page.readings.len() <= 7);
        seen.extend(page.readings.iter().map(WaterReading::cursor));
        match page.next {
            Some(next) => q.after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 60, "every reading in range once");
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted, "in order, no repeats");
    assert!(
        seen.iter().all(|c| c.data_time >= t0() + Duration::minutes(5) && c.data_time < t0() + Duration::minutes(15))
    );
    // One series only.
    q.after = None;
    q.limit = 1000;
    q.kind = Some(ReadingKind::Hourly);
    let hourly = s.readings(q.clone()).await.unwrap();
    assert_eq!(hourly.readings.len(), 30);
    assert!(hourly.readings.iter().all(|r| r.kind == ReadingKind::Hourly && r.station == "ws-a"));
    // Another station's readings stay its own.
    q.station = "ws-b".into();
    q.kind = None;
    let b = s.readings(q).await.unwrap();
    assert_eq!(b.readings.len(), 1);
    assert_eq!(b.readings[0].value, 7.0);
}
