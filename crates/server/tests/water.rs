//! Water stations end to end: a real server on port 0 with the HJ 212
//! listener on port 0, a station registered over HTTP, the standard's
//! packets sent over a real TCP connection, and the readings read back
//! over HTTP with their GB 3838 classes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

mod common;

use std::sync::Arc;
use std::time::Duration;

use citygrid_protocols::hj212::{Packet, encode, parse};
use citygrid_server::listeners::hj212::{self, Hj212Options};
use citygrid_store::ReadingQuery;
use citygrid_store::prelude::*;
use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The standard's own example packet (HJ 212-2017, section 6.6).
const EXAMPLE: &[u8] = b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80\r\n";
const MN: &str = "010000A8900016F000169DC0";
const PW: &str = "100000";

struct Rig {
    s: TestServer,
    hj212: std::net::SocketAddr,
    admin: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn rig_with(options: Hj212Options) -> Rig {
    let s = start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hj212 = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(hj212::serve(listener, Arc::clone(s.app.core()), options, async {
        let _ = rx.await;
    }));
    let admin = s.login("admin").await;
    // A water section (target class III) over district A's first grid.
    let ring = json!([[[118.0, 31.1], [118.2, 31.1], [118.2, 31.2], [118.0, 31.2], [118.0, 31.1]]]);
    let r = s
        .req(Method::PUT, "/api/v1/zones/ws-yangtze-a", &admin)
        .json(&json!({
            "zone": {"id": "ws-yangtze-a", "name": "长江芜湖段", "kind": "water_section", "valid_from": "2024-01-01",
                     "target_class": "III"},
            "geometry": {"type": "Polygon", "coordinates": ring},
        }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    Rig { s, hj212, admin, _stop: tx }
}

async fn rig() -> Rig {
    rig_with(Hj212Options { idle: Duration::from_secs(30), ..Hj212Options::default() }).await
}

impl Rig {
    async fn register_station(&self, id: &str, mn: &str, pw: &str, at: (f64, f64)) -> Value {
        let body = json!({"id": id, "name": "芜湖长江水质站", "kind": "water_station", "lon": at.0, "lat": at.1,
                          "mn": mn, "pw": pw, "water_section": "ws-yangtze-a", "report_interval_secs": 3600});
        let r = self.s.post("/api/v1/devices", &self.admin, body).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    async fn stored(&self, station: &str) -> usize {
        let q = ReadingQuery {
            station: station.into(),
            from: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            to: chrono::Utc::now() + chrono::Duration::days(3650),
            kind: None,
            after: None,
            limit: 10_000,
        };
        self.s.app.store.readings(q).await.unwrap().readings.len()
    }
}

/// A real-time upload from the example's station, with COD 25 (class IV),
/// ammonia 0.4 (class II) and pH 7.2 (class I), asking for an answer.
fn upload(qn: &str, pw: &str, data_time: &str) -> Packet {
    let cp = format!("DataTime={data_time};w01018-Rtd=25.0,w01018-Flag=N;w21003-Rtd=0.4,w21003-Flag=N;w01001-Rtd=7.2");
    let p = Packet::parse_data_segment(format!("QN={qn};ST=21;CN=2011;PW={pw};MN={MN};Flag=5;CP=&&{cp}&&").as_bytes())
        .unwrap();
    assert!(p.wants_answer());
    p
}

/// Reads one answer frame (up to `\r\n`) within two seconds.
async fn answer(conn: &mut TcpStream) -> Packet {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    tokio::time::timeout(Duration::from_secs(2), async {
        while !got.ends_with(b"\r\n") {
            conn.read_exact(&mut byte).await.unwrap();
            got.push(byte[0]);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no answer; read so far: {}", String::from_utf8_lossy(&got)));
    parse(&got).unwrap_or_else(|e| panic!("answer does not parse ({e}): {}", String::from_utf8_lossy(&got)))
}

/// Asserts nothing arrives for a short while.
async fn silence(conn: &mut TcpStream) {
    let mut buf = [0u8; 64];
    match tokio::time::timeout(Duration::from_millis(300), conn.read(&mut buf)).await {
        Err(_) => {}
        Ok(r) => panic!("expected no answer, got {r:?}: {}", String::from_utf8_lossy(&buf)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stations_send_readings_over_hj212_and_they_are_read_back_with_their_class() {
    let rig = rig().await;
    let created = rig.register_station("ws-wuhu-01", MN, PW, A1).await;
    let device = &created["device"];
    assert_eq!(device["kind"], "water_station");
    assert_eq!(device["unit"], "340202001001001", "located into the territory");
    assert_eq!(device["mn"], MN);
    assert_eq!(device["zones"], json!(["ws-yangtze-a"]));
    assert!(device.get("pw").is_none() && !created.to_string().contains(PW), "the password is never shown");
    let listed = rig.s.get("/api/v1/devices", &rig.admin).await.text().await.unwrap();
    assert!(listed.contains(MN) && !listed.contains("\"pw") && !listed.contains("key_hash"), "{listed}");
    let raw = rig.s.app.store.device("ws-wuhu-01").await.unwrap().unwrap();
    assert!(!raw.station.unwrap().pw_sealed.contains(PW), "stored sealed");

    let mut conn = TcpStream::connect(rig.hj212).await.unwrap();

    // A good upload asking for an answer: a 9014 echoing QN, after the readings are durable.
    let good = upload("20260801085857223", PW, "20260801085800");
    conn.write_all(&encode(&good)).await.unwrap();
    let a = answer(&mut conn).await;
    assert_eq!((a.cn.as_str(), a.st.as_str()), ("9014", "91"));
    assert_eq!(a.qn, good.qn);
    assert_eq!(a.mn, MN);
    assert_eq!(rig.stored("ws-wuhu-01").await, 3, "durable before the answer");

    // The standard's own example: a command, not a data upload → 9011 with QnRtn=8, nothing stored.
    conn.write_all(EXAMPLE).await.unwrap();
    let a = answer(&mut conn).await;
    assert_eq!(a.cn, "9011");
    assert_eq!(a.cp.get("QnRtn"), Some("8"));
    assert_eq!(a.cp.get("QN"), Some("20160801085857223"));

    // CRC broken: 9011 with QnRtn=9, connection kept.
    let mut bad_crc = encode(&upload("20260801090000001", PW, "20260801090000"));
    let n = bad_crc.len();
    bad_crc[n - 3] = if bad_crc[n - 3] == b'0' { b'1' } else { b'0' };
    conn.write_all(&bad_crc).await.unwrap();
    let a = answer(&mut conn).await;
    assert_eq!((a.cn.as_str(), a.cp.get("QnRtn")), ("9011", Some("9")));

    // Wrong length: the header says more than the frame holds → refused (QnRtn=2).
    let mut wrong_len = encode(&upload("20260801090100001", PW, "20260801090100"));
    wrong_len[2..6].copy_from_slice(b"0999");
    conn.write_all(&wrong_len).await.unwrap();
    let a = answer(&mut conn).await;
    assert_eq!((a.cn.as_str(), a.cp.get("QnRtn")), ("9011", Some("2")));

    // Truncated: cut short by the next frame's start → skipped without an answer.
    let cut = encode(&upload("20260801090200001", PW, "20260801090200"));
    conn.write_all(&cut[..60]).await.unwrap();
    // Over-long: a declared length over the limit → refused without an answer (no MN readable).
    let mut over = b"##9999".to_vec();
    over.extend(std::iter::repeat_n(b'x', 200));
    over.extend_from_slice(b"\r\n");
    conn.write_all(&over).await.unwrap();
    silence(&mut conn).await;

    // Wrong PW: 9011 with QnRtn=3, nothing stored.
    conn.write_all(&encode(&upload("20260801090300001", "999999", "20260801090300"))).await.unwrap();
    let a = answer(&mut conn).await;
    assert_eq!((a.cn.as_str(), a.cp.get("QnRtn")), ("9011", Some("3")));
    assert_eq!(rig.stored("ws-wuhu-01").await, 3, "nothing stored from refused packets");

    // The connection is still usable: a second good upload.
    let second = upload("20260801100000001", PW, "20260801100000");
    conn.write_all(&encode(&second)).await.unwrap();
    let a = answer(&mut conn).await;
    assert_eq!((a.cn.as_str(), a.qn), ("9014", second.qn));
    assert_eq!(rig.stored("ws-wuhu-01").await, 6);
    // Sent again (no answer received, say): idempotent.
    conn.write_all(&encode(&second)).await.unwrap();
    assert_eq!(answer(&mut conn).await.cn, "9014");
    assert_eq!(rig.stored("ws-wuhu-01").await, 6);

    // Read back over HTTP with their class.
    let path = "/api/v1/water/readings?station=ws-wuhu-01&from=2026-08-01T00:00:00Z&to=2026-08-02T00:00:00Z";
    let r = rig.s.get(path, &rig.admin).await;
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    let readings = page["readings"].as_array().unwrap();
    assert_eq!(readings.len(), 6);
    let cod = readings.iter().find(|r| r["factor"] == "w01018").unwrap();
    assert_eq!(cod["data_time"], "2026-08-01T00:58:00Z", "Beijing time 08:58 is 00:58 UTC");
    assert_eq!(cod["kind"], "realtime");
    assert_eq!(cod["value"], 25.0);
    assert_eq!(cod["class"], "IV");
    assert_eq!(cod["target"], "III");
    assert_eq!(cod["exceeds_target"], true);
    assert_eq!(cod["sample_class"], "IV");
    let nh3 = readings.iter().find(|r| r["factor"] == "w21003").unwrap();
    assert_eq!((nh3["class"].as_str(), nh3["exceeds_target"].as_bool()), (Some("II"), Some(false)));
    let ph = readings.iter().find(|r| r["factor"] == "w01001").unwrap();
    assert_eq!(ph["class"], "I", "pH 7.2 is inside 6–9");
    // Paged.
    let r = rig.s.get(&format!("{path}&limit=4"), &rig.admin).await;
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["readings"].as_array().unwrap().len(), 4);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest: Value = rig.s.get(&format!("{path}&limit=4&cursor={cursor}"), &rig.admin).await.json().await.unwrap();
    assert_eq!(rest["readings"].as_array().unwrap().len(), 2);
    assert_eq!(rest["next_cursor"], Value::Null);

    // One audit record per stored packet, by the station.
    let audit: Value = rig.s.get("/api/v1/audit?action=water.readings", &rig.admin).await.json().await.unwrap();
    let text = audit.to_string();
    assert_eq!(text.matches("water.readings").count(), 2, "{text}");
    // Last seen was recorded (throttled, once).
    let dev = rig.s.app.store.device("ws-wuhu-01").await.unwrap().unwrap();
    assert!(dev.last_seen.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_stations_and_bad_registrations_are_refused() {
    let rig = rig().await;
    let mut conn = TcpStream::connect(rig.hj212).await.unwrap();
    // No station with this MN yet: 9011 QnRtn=4.
    conn.write_all(&encode(&upload("20260801085857223", PW, "20260801085800"))).await.unwrap();
    let a = answer(&mut conn).await;
    assert_eq!((a.cn.as_str(), a.cp.get("QnRtn")), ("9011", Some("4")));

    rig.register_station("ws-wuhu-01", MN, PW, A1).await;
    // The MN is unique among devices.
    let body = json!({"id": "ws-twin", "name": "twin", "kind": "water_station", "lon": A2.0, "lat": A2.1,
                      "mn": MN, "pw": PW, "water_section": "ws-yangtze-a"});
    assert_error(rig.s.post("/api/v1/devices", &rig.admin, body).await, 409, "conflict").await;
    // A station needs its section, which must be a water_section zone that exists.
    let body =
        json!({"id": "ws-x", "name": "x", "kind": "water_station", "lon": A1.0, "lat": A1.1, "mn": "WH-2", "pw": PW});
    assert_error(rig.s.post("/api/v1/devices", &rig.admin, body).await, 422, "station_fields_required").await;
    let body = json!({"id": "ws-x", "name": "x", "kind": "water_station", "lon": A1.0, "lat": A1.1, "mn": "WH-2",
                      "pw": PW, "water_section": "nowhere"});
    assert_error(rig.s.post("/api/v1/devices", &rig.admin, body).await, 422, "unknown_zone").await;
    // Outside the city.
    let body = json!({"id": "cam-x", "name": "x", "kind": "camera", "lon": OUTSIDE.0, "lat": OUTSIDE.1});
    assert_error(rig.s.post("/api/v1/devices", &rig.admin, body).await, 422, "outside_territory").await;
    // Half a position, and an unknown kind.
    let body = json!({"id": "cam-x", "name": "x", "kind": "camera", "lon": A1.0});
    assert_error(rig.s.post("/api/v1/devices", &rig.admin, body).await, 400, "invalid_point").await;
    let body = json!({"id": "cam-x", "name": "x", "kind": "drone"});
    assert_error(rig.s.post("/api/v1/devices", &rig.admin, body).await, 422, "invalid_body").await;
    // Station fields on a camera.
    let body = json!({"id": "cam-x", "name": "x", "kind": "camera", "mn": "X1"});
    assert_error(rig.s.post("/api/v1/devices", &rig.admin, body).await, 422, "not_a_water_station").await;
    // Watched zones must exist; a gateway must be a gateway.
    let body = json!({"id": "cam-x", "name": "x", "kind": "camera", "zones": ["nowhere"]});
    assert_error(rig.s.post("/api/v1/devices", &rig.admin, body).await, 422, "unknown_zone").await;
    let body = json!({"id": "cam-x", "name": "x", "kind": "camera", "gateway": "ws-wuhu-01"});
    assert_error(rig.s.post("/api/v1/devices", &rig.admin, body).await, 422, "invalid_gateway").await;
    let gw = json!({"id": "gw-1", "name": "gateway", "kind": "gateway", "lon": A1.0, "lat": A1.1});
    assert_eq!(rig.s.post("/api/v1/devices", &rig.admin, gw).await.status(), 201);
    let body = json!({"id": "cam-x", "name": "x", "kind": "camera", "gateway": "gw-1", "zones": ["ws-yangtze-a"]});
    let r = rig.s.post("/api/v1/devices", &rig.admin, body).await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["device"]["gateway"].as_str(), v["device"]["zones"][0].as_str()),
        (Some("gw-1"), Some("ws-yangtze-a"))
    );

    // A revoked station's packets are refused (QnRtn=3) and nothing is stored.
    let r = rig.s.req(Method::DELETE, "/api/v1/devices/ws-wuhu-01", &rig.admin).send().await.unwrap();
    assert_eq!(r.status(), 204);
    conn.write_all(&encode(&upload("20260801085857224", PW, "20260801085800"))).await.unwrap();
    let a = answer(&mut conn).await;
    assert_eq!((a.cn.as_str(), a.cp.get("QnRtn")), ("9011", Some("3")));
    assert_eq!(rig.stored("ws-wuhu-01").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readings_are_read_only_within_scope_with_checked_parameters() {
    let rig = rig().await;
    let created = rig.register_station("ws-wuhu-01", MN, PW, A1).await;
    let device_key = created["api_key"].as_str().unwrap().to_owned();
    let path = "/api/v1/water/readings?station=ws-wuhu-01";
    for (user, status) in [
        ("admin", 200),
        ("auditor", 200),
        ("city.op", 200),
        ("district.op", 200),
        ("grid.worker", 200),
        ("district.op.b", 404),
        ("dept.a", 403),
        ("citizen", 403),
        ("mediator", 403),
    ] {
        let tok = rig.s.login(user).await;
        let r = rig.s.get(path, &tok).await;
        assert_eq!(r.status().as_u16(), status, "{user}: {}", r.text().await.unwrap());
    }
    // A device key, even the station's own, cannot read readings.
    let r = rig.s.http.get(format!("{}{path}", rig.s.base)).header("x-api-key", &device_key).send().await.unwrap();
    assert_error(r, 403, "forbidden").await;
    // An unknown station, and a camera, are not found.
    assert_error(rig.s.get("/api/v1/water/readings?station=ghost", &rig.admin).await, 404, "not_found").await;
    // Bad parameters: machine-readable codes.
    let bad = [
        ("/api/v1/water/readings", 400, "invalid_query"),
        ("/api/v1/water/readings?station=ws-wuhu-01&from=yesterday", 400, "invalid_query"),
        ("/api/v1/water/readings?station=ws-wuhu-01&limit=0", 400, "invalid_limit"),
        ("/api/v1/water/readings?station=ws-wuhu-01&limit=100000", 400, "invalid_limit"),
        ("/api/v1/water/readings?station=ws-wuhu-01&cursor=zzz", 400, "invalid_cursor"),
        ("/api/v1/water/readings?station=ws-wuhu-01&kind=weekly", 400, "invalid_query"),
        (
            "/api/v1/water/readings?station=ws-wuhu-01&from=2026-08-02T00:00:00Z&to=2026-08-01T00:00:00Z",
            422,
            "invalid_range",
        ),
        (
            "/api/v1/water/readings?station=ws-wuhu-01&from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            422,
            "range_too_long",
        ),
        (
            "/api/v1/water/readings?station=ws-wuhu-01&from=1900-01-01T00:00:00Z&to=1900-01-02T00:00:00Z",
            422,
            "date_out_of_range",
        ),
    ];
    for (p, status, code) in bad {
        assert_error(rig.s.get(p, &rig.admin).await, status, code).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_bounded_and_idle_ones_closed() {
    let rig =
        rig_with(Hj212Options { max_connections: 1, idle: Duration::from_millis(400), ..Default::default() }).await;
    rig.register_station("ws-wuhu-01", MN, PW, A1).await;
    let mut first = TcpStream::connect(rig.hj212).await.unwrap();
    first.write_all(&encode(&upload("20260801085857223", PW, "20260801085800"))).await.unwrap();
    assert_eq!(answer(&mut first).await.cn, "9014");
    // A second connection over the bound is closed at once.
    let mut second = TcpStream::connect(rig.hj212).await.unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(2), second.read(&mut buf)).await.unwrap().unwrap_or(0);
    assert_eq!(n, 0, "closed");
    // The first one, left idle, is closed after the idle time; then a new one is admitted.
    let n = tokio::time::timeout(Duration::from_secs(3), first.read(&mut buf)).await.unwrap().unwrap_or(0);
    assert_eq!(n, 0, "idle connection closed");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut third = TcpStream::connect(rig.hj212).await.unwrap();
    third.write_all(&encode(&upload("20260801090000001", PW, "20260801090000"))).await.unwrap();
    assert_eq!(answer(&mut third).await.cn, "9014");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_never_kills_the_listener() {
    let rig = rig().await;
    rig.register_station("ws-wuhu-01", MN, PW, A1).await;
    let mut conn = TcpStream::connect(rig.hj212).await.unwrap();
    let mut noise: Vec<u8> = (0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    noise.extend_from_slice(b"##00");
    noise.extend_from_slice(b"##abcd\r\n");
    noise.extend_from_slice(&[0xff, 0xfe, b'#', b'#', b'0', b'0', b'1', b'0', b';', b'=', b'&', b'\r', b'\n']);
    conn.write_all(&noise).await.unwrap();
    conn.write_all(&encode(&upload("20260801085857223", PW, "20260801085800"))).await.unwrap();
    // Whatever was answered to the noise, the good packet's 9014 arrives.
    let mut found = false;
    for _ in 0..20 {
        let a = answer(&mut conn).await;
        if a.cn == "9014" {
            found = true;
            break;
        }
    }
    assert!(found);
    assert_eq!(rig.stored("ws-wuhu-01").await, 3);
}
