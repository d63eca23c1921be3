//! MQTT intake: Frigate's `frigate/events` and CityGrid's own detection
//! topic, read from a broker (`--mqtt-url`) with QoS 1.
//!
//! - **Acknowledged only once durable.** The client runs with manual
//!   acknowledgements: a message's `PUBACK` goes out after the intake has
//!   stored what it carried (or refused it for good: a malformed message is
//!   acknowledged and counted, since MQTT 3.1.1 has no way to refuse one).
//!   A message not yet acknowledged when the connection drops is sent again
//!   by the broker (the session is persistent: `clean_session = false` with
//!   a fixed client id), and the intake's idempotency keeps it once.
//! - **Re-subscribed after every reconnect**: subscriptions are renewed at
//!   every `CONNACK`, not only the first.
//! - **Back-pressure.** While the intake answers "overloaded" or "store
//!   away", the batch is retried with a pause and nothing is acknowledged;
//!   the queue between the network task and the intake is bounded, so the
//!   network task stops reading and the broker holds the rest.
//!
//! Topics:
//! - `frigate/events`: Frigate's events, of cameras named in the camera
//!   table ([`MqttIntake::camera`]); each `new` event, and each `update`
//!   with a new payload, is a detection at the camera's registered place.
//!   Events Frigate itself marks as false positives, `end` events and
//!   cameras not in the table are acknowledged and skipped.
//! - `citygrid/detections`: `{"key": "<device API key>", "detections":
//!   [...]}`, the body of `POST /api/v1/detections` plus the key that the
//!   HTTP header would carry, so the broker's access lists are not the only
//!   check on who may report for which device.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use citygrid_domain::eyes::Detection;
use citygrid_protocols::frigate::{self, EventType};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

/// The topic Frigate publishes its events on.
pub const FRIGATE_TOPIC: &str = "frigate/events";
/// CityGrid's own detection topic.
pub const DETECTIONS_TOPIC: &str = "citygrid/detections";
/// The largest message read (a full batch of 1,000 detections fits).
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;
/// Messages taken into one intake call.
const BATCH: usize = 500;
/// Messages queued between the network task and the intake.
const QUEUE: usize = 2048;

/// Who sent a batch of detections.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Sender {
    /// A device (or gateway) authenticated by its API key.
    Key(String),
    /// A camera of the operator's camera table (Frigate).
    Camera(String),
}

/// Why the intake did not take a batch.
#[derive(Debug, thiserror::Error)]
pub enum IntakeRefusal {
    /// Not now (overloaded, store away): try the same batch again later.
    #[error("try again later: {0}")]
    Retry(String),
    /// Never (bad key, invalid batch): acknowledge and drop.
    #[error("refused: {0}")]
    Refused(String),
}

/// Where MQTT detections go: the one intake pipeline.
pub trait MqttIntake: Send + Sync + 'static {
    /// The device a Frigate camera name stands for and its place, if the
    /// camera is in the table.
    fn camera(&self, name: &str) -> impl Future<Output = Option<(String, f64, f64)>> + Send;

    /// Stores `detections` from `sender` durably; `Ok` only once they are.
    /// Per-item refusals (a bad item in a good batch) are the intake's
    /// business and still `Ok`.
    fn submit(
        &self,
        sender: Sender,
        detections: Vec<Detection>,
    ) -> impl Future<Output = Result<(), IntakeRefusal>> + Send;
}

/// How to reach the broker.
#[derive(Debug, Clone)]
pub struct MqttSettings {
    /// `mqtt://host:port`.
    pub url: String,
    /// The client id; fixed, so the broker keeps the session across
    /// restarts and sends again what was not acknowledged.
    pub client_id: String,
    /// Put before both topic names (empty in production; lets tests and
    /// several installations share a broker).
    pub topic_prefix: String,
}

/// A bad `--mqtt-url`.
#[derive(Debug, thiserror::Error)]
#[error("bad MQTT URL {url:?}: {reason}")]
pub struct BadUrl {
    url: String,
    reason: String,
}

/// The client options for `settings`.
pub fn options(settings: &MqttSettings) -> Result<MqttOptions, BadUrl> {
    let bad = |reason: &str| BadUrl { url: settings.url.clone(), reason: reason.to_owned() };
    let rest = settings
        .url
        .strip_prefix("mqtt://")
        .or_else(|| settings.url.strip_prefix("tcp://"))
        .ok_or_else(|| bad("expected mqtt://host[:port] (TLS brokers: put a local bridge in front)"))?;
    let authority = rest.trim_end_matches('/');
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad("the port is not a number 1-65535"))?),
        None => (authority, 1883),
    };
    if host.is_empty() || host.contains(['/', '?', '@']) || port == 0 {
        return Err(bad("expected mqtt://host[:port]"));
    }
    let mut o = MqttOptions::new(settings.client_id.clone(), host, port);
    o.set_manual_acks(true);
    o.set_clean_session(false);
    o.set_keep_alive(Duration::from_secs(30));
    o.set_max_packet_size(MAX_MESSAGE_BYTES, 64 * 1024);
    o.set_inflight(1000);
    Ok(o)
}

/// Reads the broker until `shutdown` resolves, feeding `intake`.
pub async fn serve<I: MqttIntake>(
    settings: MqttSettings,
    intake: Arc<I>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), BadUrl> {
    let (client, mut events) = AsyncClient::new(options(&settings)?, QUEUE);
    let (tx, rx) = mpsc::channel::<Publish>(QUEUE);
    let worker = tokio::spawn(work(client.clone(), rx, intake, settings.topic_prefix.clone()));
    let network = async {
        let mut failures = 0u32;
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    failures = 0;
                    tracing::info!(url = settings.url, "MQTT connected; subscribing");
                    for topic in [FRIGATE_TOPIC, DETECTIONS_TOPIC] {
                        let topic = format!("{}{topic}", settings.topic_prefix);
                        if let Err(e) = client.try_subscribe(&topic, QoS::AtLeastOnce) {
                            tracing::warn!(topic, error = %e, "MQTT subscribe failed");
                        }
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    // A full queue waits here: the network task stops reading.
                    if tx.send(p).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let wait = Duration::from_millis(200 * u64::from(failures.min(25)));
                    tracing::warn!(error = %e, retry_in = ?wait, "MQTT connection lost");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    };
    tokio::select! {
        () = network => {}
        () = shutdown => {}
    }
    worker.abort();
    let _ = client.try_disconnect();
    Ok(())
}

/// Takes queued messages in batches, submits them, acknowledges them.
async fn work<I: MqttIntake>(client: AsyncClient, mut rx: mpsc::Receiver<Publish>, intake: Arc<I>, prefix: String) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let mut groups: HashMap<Sender, Vec<Detection>> = HashMap::new();
        for p in &batch {
            match read(&*intake, p, &prefix).await {
                Ok(Some((sender, ds))) => groups.entry(sender).or_default().extend(ds),
                Ok(None) => {}
                Err(why) => {
                    metrics::counter!(MESSAGES, "outcome" => "refused").increment(1);
                    tracing::debug!(topic = p.topic, %why, "MQTT message refused");
                }
            }
        }
        for (sender, detections) in groups {
            submit(&*intake, sender, detections).await;
        }
        for p in batch.drain(..) {
            if let Err(e) = client.ack(&p).await {
                tracing::warn!(error = %e, "MQTT acknowledgement failed; the broker will send again");
            }
        }
    }
}

/// Submits until the intake takes the batch or refuses it for good.
async fn submit<I: MqttIntake>(intake: &I, sender: Sender, detections: Vec<Detection>) {
    let n = detections.len() as u64;
    let mut pause = Duration::from_millis(50);
    loop {
        match intake.submit(sender.clone(), detections.clone()).await {
            Ok(()) => {
                metrics::counter!(MESSAGES, "outcome" => "stored").increment(n);
                return;
            }
            Err(IntakeRefusal::Refused(why)) => {
                metrics::counter!(MESSAGES, "outcome" => "refused").increment(n);
                tracing::info!(?sender, %why, "MQTT detections refused");
                return;
            }
            Err(IntakeRefusal::Retry(why)) => {
                tracing::debug!(%why, "intake busy; holding MQTT acknowledgements");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Counter of MQTT messages by outcome.
const MESSAGES: &str = "citygrid_mqtt_detections_total";

/// The generic topic's payload.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Keyed {
    key: String,
    detections: Vec<Detection>,
}

/// What a message carries: `None` for messages that carry nothing to
/// store (Frigate `end` events, unknown cameras, Frigate's own false
/// positives).
async fn read<I: MqttIntake>(
    intake: &I,
    p: &Publish,
    prefix: &str,
) -> Result<Option<(Sender, Vec<Detection>)>, String> {
    if p.payload.len() > MAX_MESSAGE_BYTES {
        return Err(format!("message of {} bytes is over {MAX_MESSAGE_BYTES}", p.payload.len()));
    }
    match p.topic.strip_prefix(prefix).unwrap_or("") {
        DETECTIONS_TOPIC => {
            let k: Keyed = serde_json::from_slice(&p.payload).map_err(|e| e.to_string())?;
            Ok(Some((Sender::Key(k.key), k.detections)))
        }
        FRIGATE_TOPIC => {
            let e = frigate::parse_event(&p.payload).map_err(|e| e.to_string())?;
            if e.kind == EventType::End || e.after.false_positive == Some(true) {
                return Ok(None);
            }
            let Some((device, lon, lat)) = intake.camera(&e.after.camera).await else {
                return Ok(None);
            };
            Ok(Some((Sender::Camera(device.clone()), vec![from_frigate(&e, &p.payload, device, lon, lat)])))
        }
        other => Err(format!("not a CityGrid topic: {other}")),
    }
}

/// A Frigate event as a detection at its camera's place. A `new` event's
/// id is the tracked object's; an `update`'s adds a digest of the payload,
/// so the same message sent again is the same detection and each change is
/// a new one.
fn from_frigate(e: &frigate::FrigateEvent, payload: &[u8], device: String, lon: f64, lat: f64) -> Detection {
    let o = &e.after;
    let id = match e.kind {
        EventType::New => o.id.clone(),
        _ => format!("{}~{}", o.id, &hex::encode(Sha256::digest(payload))[..12]),
    };
    let at = match e.kind {
        EventType::New => epoch(o.start_time),
        _ => Utc::now().max(epoch(o.start_time)),
    };
    Detection {
        id,
        device,
        at,
        label: o.sub_label_name().unwrap_or(&o.label).to_owned(),
        score: o.best_score().unwrap_or(0.0),
        lon,
        lat,
        evidence: vec![],
        attributes: Some(serde_json::json!({
            "source": "frigate",
            "camera": o.camera,
            "zones": o.current_zones,
            "stationary": o.stationary,
        })),
    }
}

/// Seconds since the epoch as an instant (out-of-range: the epoch, which
/// the intake's date check then refuses).
fn epoch(secs: f64) -> DateTime<Utc> {
    let ms = (secs * 1000.0).round();
    if ms.is_finite() && ms.abs() < 1.0e15 {
        Utc.timestamp_millis_opt(ms as i64).single().unwrap_or_default()
    } else {
        DateTime::default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn event(kind: &str, fp: bool) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "type": kind,
            "before": null,
            "after": {"id": "1701.5-abc", "camera": "yangtze_3", "label": "boat", "sub_label": null,
                       "top_score": 0.86, "score": 0.8, "start_time": 1_764_650_000.25, "end_time": null,
                       "current_zones": ["ban"], "entered_zones": ["ban"], "has_snapshot": true, "has_clip": false,
                       "stationary": false, "false_positive": fp}
        }))
        .unwrap()
    }

    #[test]
    fn frigate_events_become_detections_with_stable_ids() {
        let new = event("new", false);
        let e = frigate::parse_event(&new).unwrap();
        let d = from_frigate(&e, &new, "cam-3".into(), 118.3, 31.3);
        assert_eq!((d.id.as_str(), d.device.as_str(), d.label.as_str()), ("1701.5-abc", "cam-3", "boat"));
        assert_eq!(d.score, 0.86);
        assert_eq!(d.at.timestamp_millis(), 1_764_650_000_250);
        assert_eq!((d.lon, d.lat), (118.3, 31.3));
        let upd = event("update", false);
        let u = frigate::parse_event(&upd).unwrap();
        let a = from_frigate(&u, &upd, "cam-3".into(), 118.3, 31.3);
        let b = from_frigate(&u, &upd, "cam-3".into(), 118.3, 31.3);
        assert_eq!(a.id, b.id, "the same message again is the same detection");
        assert_ne!(a.id, d.id);
    }

    #[test]
    fn out_of_range_times_do_not_panic() {
        for s in [f64::NAN, f64::INFINITY, -1.0e300, 1.0e300] {
            let _ = epoch(s);
        }
    }

    #[test]
    fn urls_need_a_scheme_and_get_the_client_id() {
        let s = |url: &str| MqttSettings { url: url.into(), client_id: "cg-1".into(), topic_prefix: String::new() };
        let ok = options(&s("mqtt://127.0.0.1:1883")).unwrap();
        assert_eq!(ok.client_id(), "cg-1");
        assert!(!ok.clean_session());
        assert!(options(&s("127.0.0.1")).is_err());
        assert!(options(&s("mqtt://broker:0")).is_err());
        assert!(options(&s("mqtt://user@broker")).is_err());
        assert_eq!(options(&s("tcp://broker")).unwrap().broker_address(), ("broker".to_owned(), 1883));
    }
}
