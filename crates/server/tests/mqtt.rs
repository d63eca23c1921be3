//! The MQTT listener against the real broker on this machine
//! (Mosquitto, 127.0.0.1:1883): Frigate events and keyed batches reach the
//! intake, and a message is acknowledged only once the intake took it, so
//! the broker sends it again to a restarted listener.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use citygrid_domain::eyes::Detection;
use citygrid_server::listeners::mqtt::{self, IntakeRefusal, MqttIntake, MqttSettings, Sender};
use parking_lot::Mutex;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use serde_json::json;

const BROKER: &str = "mqtt://127.0.0.1:1883";

#[derive(Default)]
struct Recorder {
    got: Mutex<Vec<(Sender, Detection)>>,
    busy: AtomicBool,
}

impl MqttIntake for Recorder {
    async fn camera(&self, name: &str) -> Option<(String, f64, f64)> {
        (name == "yangtze_3").then(|| ("cam-3".to_owned(), 118.3, 31.3))
    }

    async fn submit(&self, sender: Sender, detections: Vec<Detection>) -> Result<(), IntakeRefusal> {
        if self.busy.load(Ordering::SeqCst) {
            return Err(IntakeRefusal::Retry("busy".into()));
        }
        let mut got = self.got.lock();
        for d in detections {
            got.push((sender.clone(), d));
        }
        Ok(())
    }
}

fn broker_up() {
    if std::net::TcpStream::connect("127.0.0.1:1883").is_err() {
        panic!("no MQTT broker at 127.0.0.1:1883: start Mosquitto (.ci/run does); these tests need the real one");
    }
}

async fn publisher(prefix: &str) -> AsyncClient {
    let mut o = MqttOptions::new(format!("{prefix}pub"), "127.0.0.1", 1883);
    o.set_keep_alive(Duration::from_secs(30));
    let (c, mut ev) = AsyncClient::new(o, 64);
    tokio::spawn(async move { while ev.poll().await.is_ok() {} });
    c
}

fn frigate(kind: &str, camera: &str, id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"type": kind, "before": null, "after": {
        "id": id, "camera": camera, "label": "boat", "top_score": 0.9, "score": 0.9,
        "start_time": chrono::Utc::now().timestamp() as f64, "current_zones": [], "entered_zones": [],
        "has_snapshot": false, "has_clip": false, "false_positive": false}}))
    .unwrap()
}

fn keyed(id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"key": "cgk_test", "detections": [{
        "id": id, "device": "cam-9", "at": chrono::Utc::now(), "label": "fishing", "score": 0.8,
        "lon": 118.31, "lat": 31.31}]}))
    .unwrap()
}

async fn until(what: &str, mut ok: impl FnMut() -> bool) {
    for _ in 0..200 {
        if ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

fn start(prefix: &str, intake: Arc<Recorder>) -> tokio::sync::oneshot::Sender<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let settings =
        MqttSettings { url: BROKER.into(), client_id: format!("{prefix}listener"), topic_prefix: prefix.to_owned() };
    tokio::spawn(mqtt::serve(settings, intake, async {
        let _ = stopped.await;
    }));
    stop
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frigate_events_and_keyed_batches_reach_the_intake() {
    broker_up();
    let prefix = format!("cgtest{}/", rand::random::<u32>());
    let intake = Arc::new(Recorder::default());
    let _stop = start(&prefix, Arc::clone(&intake));
    tokio::time::sleep(Duration::from_millis(500)).await; // subscribed
    let p = publisher(&prefix).await;
    let t = |name: &str| format!("{prefix}{name}");
    p.publish(t("frigate/events"), QoS::AtLeastOnce, false, frigate("new", "yangtze_3", "obj-1")).await.unwrap();
    p.publish(t("frigate/events"), QoS::AtLeastOnce, false, frigate("end", "yangtze_3", "obj-1")).await.unwrap();
    p.publish(t("frigate/events"), QoS::AtLeastOnce, false, frigate("new", "unknown_cam", "obj-2")).await.unwrap();
    p.publish(t("citygrid/detections"), QoS::AtLeastOnce, false, b"{not json".to_vec()).await.unwrap();
    p.publish(t("citygrid/detections"), QoS::AtLeastOnce, false, keyed("k-1")).await.unwrap();
    until("two detections", || intake.got.lock().len() == 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = intake.got.lock().clone();
    assert_eq!(got.len(), 2, "end events, unknown cameras and garbage carry nothing: {got:?}");
    let cam = got.iter().find(|(s, _)| *s == Sender::Camera("cam-3".into())).unwrap();
    assert_eq!((cam.1.id.as_str(), cam.1.lon, cam.1.lat), ("obj-1", 118.3, 31.3));
    let key = got.iter().find(|(s, _)| *s == Sender::Key("cgk_test".into())).unwrap();
    assert_eq!(key.1.id, "k-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_intake_did_not_take_comes_again_after_a_restart() {
    broker_up();
    let prefix = format!("cgtest{}/", rand::random::<u32>());
    let busy = Arc::new(Recorder::default());
    busy.busy.store(true, Ordering::SeqCst);
    let stop = start(&prefix, Arc::clone(&busy));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let p = publisher(&prefix).await;
    p.publish(format!("{prefix}citygrid/detections"), QoS::AtLeastOnce, false, keyed("k-again")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(busy.got.lock().is_empty());
    // The listener goes away without having acknowledged it.
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Same client id: the broker kept the session and sends it again.
    let fresh = Arc::new(Recorder::default());
    let _stop = start(&prefix, Arc::clone(&fresh));
    until("the redelivered message", || fresh.got.lock().iter().any(|(_, d)| d.id == "k-again")).await;
}

mod common;

/// Through the real server's intake: a registered camera's Frigate event
/// and a keyed batch are stored once; a wrong key stores nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_detections_go_through_the_servers_intake() {
    broker_up();
    let s = common::start_wuhu().await;
    let admin = s.login("admin").await;
    let (lon, lat) = common::point_in_the_ban(&s);
    let r = s
        .post(
            "/api/v1/devices",
            &admin,
            json!({"id": "cam-river-1", "name": "江面 1", "kind": "camera", "lon": lon, "lat": lat}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let key = r.json::<serde_json::Value>().await.unwrap()["api_key"].as_str().unwrap().to_owned();

    let prefix = format!("cgtest{}/", rand::random::<u32>());
    let settings =
        MqttSettings { url: BROKER.into(), client_id: format!("{prefix}server"), topic_prefix: prefix.clone() };
    tokio::spawn(mqtt::serve(settings, Arc::clone(s.app.core()), std::future::pending()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let p = publisher(&prefix).await;
    let mut event = serde_json::from_slice::<serde_json::Value>(&frigate("new", "cam-river-1", "obj-77")).unwrap();
    event["after"]["label"] = json!("fishing");
    p.publish(format!("{prefix}frigate/events"), QoS::AtLeastOnce, false, serde_json::to_vec(&event).unwrap())
        .await
        .unwrap();
    let batch = json!({"key": key, "detections": [{"id": "k-77", "device": "cam-river-1", "at": chrono::Utc::now(),
        "label": "fishing", "score": 0.9, "lon": lon, "lat": lat}]});
    p.publish(format!("{prefix}citygrid/detections"), QoS::AtLeastOnce, false, serde_json::to_vec(&batch).unwrap())
        .await
        .unwrap();
    let forged = json!({"key": "cgk_forged", "detections": [{"id": "k-78", "device": "cam-river-1",
        "at": chrono::Utc::now(), "label": "fishing", "score": 0.9, "lon": lon, "lat": lat}]});
    p.publish(format!("{prefix}citygrid/detections"), QoS::AtLeastOnce, false, serde_json::to_vec(&forged).unwrap())
        .await
        .unwrap();

    use citygrid_store::prelude::*;
    let keys = |ids: &[&str]| ids.iter().map(|i| ("cam-river-1".to_owned(), (*i).to_owned())).collect::<Vec<_>>();
    for _ in 0..200 {
        if s.app.store.detections_known(keys(&["obj-77", "k-77"])).await.unwrap() == vec![true, true] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(s.app.store.detections_known(keys(&["obj-77", "k-77"])).await.unwrap(), vec![true, true]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        s.app.store.detections_known(keys(&["k-78"])).await.unwrap(),
        vec![false],
        "a forged key stores nothing"
    );
    // Both sightings are fishing in the ban: one incident.
    let op = s.login("city.op").await;
    let incidents: serde_json::Value = s.get("/api/v1/incidents", &op).await.json().await.unwrap();
    let list = incidents["items"].as_array().or_else(|| incidents.as_array()).cloned().unwrap_or_default();
    assert_eq!(list.len(), 1, "{incidents}");
    assert_eq!(list[0]["count"], 2, "{incidents}");
}
