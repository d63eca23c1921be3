//! A detection as it enters the pipeline, and the bounds every source's
//! detections must meet before anything is stored.
//!
//! The wire shape is the HTTP intake's item,
//! `{"id","device","at","label","score","lon","lat","evidence"?,"attributes"?}`;
//! the other sources (MQTT, HJ 212, GB/T 28181) map to the same value.
//! Deserializing only checks types, so one bad item in a batch does not
//! fail the batch: [`Detection::validate`] then gives each item its own
//! reason, naming the field.

use std::io;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::geometry::Point;

/// Longest source id, in characters.
pub const MAX_SOURCE_ID_CHARS: usize = 128;
/// Shortest and longest device id, as the device registry has them.
pub const DEVICE_ID_LEN: (usize, usize) = (3, 64);
/// Longest label, in bytes (labels are ASCII).
pub const MAX_LABEL_LEN: usize = 64;
/// Most evidence attachments one detection may name.
pub const MAX_EVIDENCE: usize = 16;
/// Most keys in a detection's attributes.
pub const MAX_ATTRIBUTE_KEYS: usize = 32;
/// Largest serialized size of a detection's attributes, in bytes.
pub const MAX_ATTRIBUTE_BYTES: usize = 4096;
/// How far ahead of the receiver's clock `at` may be: device clocks drift,
/// but a detection from the future beyond this is a broken clock.
pub const MAX_FUTURE_SECS: i64 = 5 * 60;
/// How old `at` may be: a device that was offline may replay its backlog,
/// but not one older than this, which would reopen long-closed incidents.
pub const MAX_AGE_DAYS: i64 = 30;

/// One detection from one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// The source's own id for the detection; with `device`, the idempotency key.
    pub id: String,
    /// The reporting device's id.
    pub device: String,
    /// When the device saw it.
    pub at: DateTime<Utc>,
    /// What was seen: `fishing`, `vessel`, `dumping`, `person`, `smoke`, …
    pub label: String,
    /// The detector's confidence, 0.0–1.0.
    pub score: f64,
    /// Longitude of what was seen (or of the device), degrees east.
    pub lon: f64,
    /// Latitude of what was seen (or of the device), degrees north.
    pub lat: f64,
    /// SHA-256 digests (hex) of attachments already uploaded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// Free-form source attributes (a JSON object), kept as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Value>,
}

/// The field of a detection a [`DetectionError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// `id`.
    Id,
    /// `device`.
    Device,
    /// `at`.
    At,
    /// `label`.
    Label,
    /// `score`.
    Score,
    /// `lon` and `lat`.
    Position,
    /// `evidence`.
    Evidence,
    /// `attributes`.
    Attributes,
}

impl Field {
    /// The field's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::Device => "device",
            Field::At => "at",
            Field::Label => "label",
            Field::Score => "score",
            Field::Position => "lon/lat",
            Field::Evidence => "evidence",
            Field::Attributes => "attributes",
        }
    }
}

/// Why a detection is refused; the message names the field and the bound.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DetectionError {
    /// The source id is empty, too long or has control characters.
    #[error("id: must be 1–{MAX_SOURCE_ID_CHARS} printable characters")]
    BadId,
    /// The device id is not a registry id.
    #[error("device: must be 3–64 characters of a–z, 0–9, '.', '_' and '-'")]
    BadDevice,
    /// `at` is too far ahead of the receiver's clock.
    #[error("at: more than {MAX_FUTURE_SECS} seconds in the future")]
    InFuture,
    /// `at` is older than the intake accepts.
    #[error("at: older than {MAX_AGE_DAYS} days")]
    TooOld,
    /// The label is not a short snake_case word.
    #[error("label: must be 1–{MAX_LABEL_LEN} characters of a–z, 0–9 and '_', starting with a letter")]
    BadLabel,
    /// The score is not a finite number in 0–1.
    #[error("score: must be a number from 0.0 to 1.0")]
    BadScore,
    /// The position is not on the globe.
    #[error("lon/lat: lon must be within -180..180 and lat within -90..90")]
    BadPosition,
    /// Too many evidence digests.
    #[error("evidence: at most {MAX_EVIDENCE} items")]
    TooMuchEvidence,
    /// An evidence item is not a SHA-256 hex digest.
    #[error("evidence[{0}]: must be a SHA-256 digest, 64 hex digits")]
    BadEvidence(usize),
    /// Attributes that are not a JSON object.
    #[error("attributes: must be a JSON object")]
    AttributesNotObject,
    /// Attributes with too many keys.
    #[error("attributes: at most {MAX_ATTRIBUTE_KEYS} keys")]
    TooManyAttributes,
    /// Attributes too large once serialized.
    #[error("attributes: at most {MAX_ATTRIBUTE_BYTES} bytes as JSON")]
    AttributesTooLarge,
}

impl DetectionError {
    /// The field the error is about.
    pub fn field(&self) -> Field {
        match self {
            DetectionError::BadId => Field::Id,
            DetectionError::BadDevice => Field::Device,
            DetectionError::InFuture | DetectionError::TooOld => Field::At,
            DetectionError::BadLabel => Field::Label,
            DetectionError::BadScore => Field::Score,
            DetectionError::BadPosition => Field::Position,
            DetectionError::TooMuchEvidence | DetectionError::BadEvidence(_) => Field::Evidence,
            DetectionError::AttributesNotObject
            | DetectionError::TooManyAttributes
            | DetectionError::AttributesTooLarge => Field::Attributes,
        }
    }
}

impl Detection {
    /// Checks every bound, `at` against the receiver's clock `now`; the
    /// first failing field (in wire order) is reported.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<(), DetectionError> {
        let id_chars = self.id.chars().count();
        if !(1..=MAX_SOURCE_ID_CHARS).contains(&id_chars) || self.id.chars().any(char::is_control) {
            return Err(DetectionError::BadId);
        }
        if !valid_device_id(&self.device) {
            return Err(DetectionError::BadDevice);
        }
        if self.at > now + Duration::seconds(MAX_FUTURE_SECS) {
            return Err(DetectionError::InFuture);
        }
        if self.at < now - Duration::days(MAX_AGE_DAYS) {
            return Err(DetectionError::TooOld);
        }
        if !valid_label(&self.label) {
            return Err(DetectionError::BadLabel);
        }
        // NaN fails the range check too.
        if !(0.0..=1.0).contains(&self.score) {
            return Err(DetectionError::BadScore);
        }
        if Point::new(self.lon, self.lat).is_none() {
            return Err(DetectionError::BadPosition);
        }
        if self.evidence.len() > MAX_EVIDENCE {
            return Err(DetectionError::TooMuchEvidence);
        }
        if let Some(i) = self.evidence.iter().position(|h| h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit())) {
            return Err(DetectionError::BadEvidence(i));
        }
        if let Some(attributes) = &self.attributes {
            check_attributes(attributes)?;
        }
        Ok(())
    }

    /// Where the detection was made. Only meaningful once validated; an
    /// out-of-range position is passed through as sent.
    pub fn point(&self) -> Point {
        Point { lon: self.lon, lat: self.lat }
    }
}

/// Whether `id` has the device registry's form: [`DEVICE_ID_LEN`]
/// characters of `a–z 0–9 . _ -`.
pub fn valid_device_id(id: &str) -> bool {
    (DEVICE_ID_LEN.0..=DEVICE_ID_LEN.1).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
}

/// Whether `label` is a detection label: 1–[`MAX_LABEL_LEN`] characters of
/// `a–z 0–9 _`, starting with a letter (`fishing`, `bank_crack`).
pub fn valid_label(label: &str) -> bool {
    let mut bytes = label.bytes();
    label.len() <= MAX_LABEL_LEN
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn check_attributes(attributes: &Value) -> Result<(), DetectionError> {
    let Value::Object(map) = attributes else {
        return Err(DetectionError::AttributesNotObject);
    };
    if map.len() > MAX_ATTRIBUTE_KEYS {
        return Err(DetectionError::TooManyAttributes);
    }
    // Count the serialized bytes without building the string; the writer
    // refuses once past the bound, so a huge value costs no more than 4 KiB.
    let mut counter = Counter(0);
    if serde_json::to_writer(&mut counter, attributes).is_err() {
        return Err(DetectionError::AttributesTooLarge);
    }
    Ok(())
}

/// A writer that only counts, and fails past [`MAX_ATTRIBUTE_BYTES`].
struct Counter(usize);

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        if self.0 > MAX_ATTRIBUTE_BYTES {
            return Err(io::Error::other("too large"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HASH: &str = "a3f5c0e1b2d4a3f5c0e1b2d4a3f5c0e1b2d4a3f5c0e1b2d4a3f5c0e1b2d4a3f5";

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-05-01T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn good() -> Detection {
        serde_json::from_value(json!({
            "id": "evt-1", "device": "cam-jinghu-001", "at": "2026-05-01T11:59:00Z",
            "label": "fishing", "score": 0.91, "lon": 118.36, "lat": 31.35,
            "evidence": [HASH], "attributes": {"sub_label": "rod"}
        }))
        .unwrap()
    }

    fn err(f: impl FnOnce(&mut Detection)) -> DetectionError {
        let mut d = good();
        f(&mut d);
        d.validate(now()).unwrap_err()
    }

    #[test]
    fn the_wire_shape_round_trips() {
        let d = good();
        assert_eq!(d.validate(now()), Ok(()));
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["lon"], 118.36);
        assert_eq!(v["device"], "cam-jinghu-001");
        assert_eq!(serde_json::from_value::<Detection>(v).unwrap(), d);
        // The optional fields may be left out, and are then left out again.
        let bare: Detection = serde_json::from_str(
            r#"{"id":"1","device":"cam","at":"2026-05-01T12:00:00+08:00","label":"vessel","score":1,"lon":0,"lat":0}"#,
        )
        .unwrap();
        assert!(bare.evidence.is_empty() && bare.attributes.is_none());
        let v = serde_json::to_value(&bare).unwrap();
        assert!(v.get("evidence").is_none() && v.get("attributes").is_none());
        assert_eq!(bare.point(), Point { lon: 0.0, lat: 0.0 });
    }

    #[test]
    fn each_bound_is_checked_and_named() {
        assert_eq!(err(|d| d.id.clear()), DetectionError::BadId);
        assert_eq!(err(|d| d.id = "x".repeat(129)), DetectionError::BadId);
        assert_eq!(err(|d| d.id = "a\nb".into()), DetectionError::BadId);
        let mut d = good();
        d.id = "事".repeat(128);
        assert_eq!(d.validate(now()), Ok(()), "characters, not bytes");
        assert_eq!(err(|d| d.device = "ab".into()), DetectionError::BadDevice);
        assert_eq!(err(|d| d.device = "Cam-1".into()), DetectionError::BadDevice);
        assert_eq!(err(|d| d.device = "c".repeat(65)), DetectionError::BadDevice);
        assert_eq!(err(|d| d.at = now() + Duration::seconds(301)), DetectionError::InFuture);
        assert_eq!(err(|d| d.at = now() - Duration::days(30) - Duration::seconds(1)), DetectionError::TooOld);
        for bad in ["", "Fishing", "1fish", "fish-ing", "fish ing", &"a".repeat(65)] {
            assert_eq!(err(|d| d.label = bad.into()), DetectionError::BadLabel, "{bad}");
        }
        for bad in [f64::NAN, -0.01, 1.01, f64::INFINITY] {
            assert_eq!(err(|d| d.score = bad), DetectionError::BadScore, "{bad}");
        }
        assert_eq!(err(|d| d.lon = 180.5), DetectionError::BadPosition);
        assert_eq!(err(|d| d.lat = f64::NAN), DetectionError::BadPosition);
        assert_eq!(err(|d| d.evidence = vec![HASH.into(); 17]), DetectionError::TooMuchEvidence);
        assert_eq!(err(|d| d.evidence.push("abc".into())), DetectionError::BadEvidence(1));
        assert_eq!(err(|d| d.attributes = Some(json!([1]))), DetectionError::AttributesNotObject);
        let many: serde_json::Map<String, Value> = (0..33).map(|i| (format!("k{i}"), json!(i))).collect();
        assert_eq!(err(|d| d.attributes = Some(Value::Object(many))), DetectionError::TooManyAttributes);
        assert_eq!(err(|d| d.attributes = Some(json!({"k": "x".repeat(4090)}))), DetectionError::AttributesTooLarge);
    }

    #[test]
    fn the_bounds_themselves_are_accepted() {
        let mut d = good();
        d.at = now() + Duration::seconds(MAX_FUTURE_SECS);
        assert_eq!(d.validate(now()), Ok(()));
        d.at = now() - Duration::days(MAX_AGE_DAYS);
        d.score = 0.0;
        d.label = "a".repeat(64);
        d.id = "x".repeat(128);
        d.lon = -180.0;
        d.lat = 90.0;
        d.evidence = vec![HASH.to_uppercase(); 16];
        let many: serde_json::Map<String, Value> = (0..32).map(|i| (format!("k{i}"), json!(i))).collect();
        d.attributes = Some(Value::Object(many));
        assert_eq!(d.validate(now()), Ok(()));
        // Exactly 4096 bytes: `{"k":"…"}` is 8 bytes around the text.
        d.attributes = Some(json!({"k": "x".repeat(MAX_ATTRIBUTE_BYTES - 8)}));
        assert_eq!(d.validate(now()), Ok(()));
    }

    #[test]
    fn errors_name_their_field() {
        let e = err(|d| d.score = 2.0);
        assert_eq!(e.field(), Field::Score);
        assert!(e.to_string().starts_with("score:"));
        let e = err(|d| d.lat = 91.0);
        assert!(e.to_string().starts_with(e.field().as_str()));
        assert!(err(|d| d.evidence.push("x".into())).to_string().starts_with("evidence[1]"));
    }
}
