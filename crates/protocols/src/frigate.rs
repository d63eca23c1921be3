//! Frigate's `frigate/events` MQTT messages: one per change of a tracked
//! object, `{"type": "new" | "update" | "end", "before": {…}, "after": {…}}`.
//! CityGrid reads `after`, the object as it is now; `before` is kept for
//! callers that want to compare. Unknown fields are ignored, so newer Frigate
//! versions keep working.

use serde::Deserialize;

/// The largest message accepted.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

/// Why a Frigate message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrigateError {
    /// The message is over the size cap.
    #[error("message of {len} bytes is over the maximum of {max}")]
    TooLarge {
        /// The message's size.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// Not JSON of the expected shape.
    #[error("bad event JSON: {0}")]
    Json(String),
    /// Well-formed, but a value is not acceptable.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// What happened to the tracked object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// First seen.
    New,
    /// Changed (score, zones, snapshot, …).
    Update,
    /// No longer tracked.
    End,
}

/// A `frigate/events` message.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FrigateEvent {
    /// `type`.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The object before the change (absent or `null` on some versions for `new`).
    #[serde(default)]
    pub before: Option<TrackedObject>,
    /// The object after the change.
    pub after: TrackedObject,
}

/// A sub-label: a plain name (Frigate ≤ 0.12) or `[name, score]` (0.13+).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum SubLabel {
    /// `"name"`.
    Name(String),
    /// `["name", score]`.
    Scored(String, Option<f64>),
}

impl SubLabel {
    /// The sub-label's name.
    pub fn name(&self) -> &str {
        match self {
            SubLabel::Name(n) | SubLabel::Scored(n, _) => n,
        }
    }
}

/// A tracked object as Frigate reports it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TrackedObject {
    /// Frigate's event id, e.g. `1767268800.123456-abc123` (stable across the
    /// event's messages: CityGrid's idempotency key with the camera).
    pub id: String,
    /// The camera's name in Frigate's configuration.
    pub camera: String,
    /// The object label, e.g. `person`, `boat`.
    pub label: String,
    /// The sub-label, if one was set (face/plate recognition or the API).
    #[serde(default)]
    pub sub_label: Option<SubLabel>,
    /// The best score so far, 0–1.
    #[serde(default)]
    pub top_score: Option<f64>,
    /// The current score, 0–1.
    #[serde(default)]
    pub score: Option<f64>,
    /// When tracking started, Unix seconds.
    pub start_time: f64,
    /// When tracking ended, Unix seconds (`end` messages).
    #[serde(default)]
    pub end_time: Option<f64>,
    /// Zones the object is in now.
    #[serde(default)]
    pub current_zones: Vec<String>,
    /// Zones the object has entered during the event.
    #[serde(default)]
    pub entered_zones: Vec<String>,
    /// Whether a snapshot is available.
    #[serde(default)]
    pub has_snapshot: bool,
    /// Whether a clip is available.
    #[serde(default)]
    pub has_clip: bool,
    /// Whether the object is not moving.
    #[serde(default)]
    pub stationary: Option<bool>,
    /// Whether Frigate still considers it a false positive.
    #[serde(default)]
    pub false_positive: Option<bool>,
    /// Bounding box `[x1, y1, x2, y2]` in pixels.
    #[serde(default, rename = "box")]
    pub bbox: Option<[f64; 4]>,
}

impl TrackedObject {
    fn check(&self) -> Result<(), FrigateError> {
        let invalid = |field, reason| Err(FrigateError::Invalid { field, reason });
        if self.id.is_empty() || self.id.len() > 128 {
            return invalid("id", "must be 1–128 characters");
        }
        if self.camera.is_empty() || self.camera.len() > 128 {
            return invalid("camera", "must be 1–128 characters");
        }
        if self.label.is_empty() || self.label.len() > 128 {
            return invalid("label", "must be 1–128 characters");
        }
        for (field, score) in [("score", self.score), ("top_score", self.top_score)] {
            if score.is_some_and(|s| !(0.0..=1.0).contains(&s)) {
                return invalid(field, "must be within 0–1");
            }
        }
        if !self.start_time.is_finite() || self.start_time < 0.0 {
            return invalid("start_time", "must be a non-negative Unix time");
        }
        if self.end_time.is_some_and(|e| !e.is_finite() || e < 0.0) {
            return invalid("end_time", "must be a non-negative Unix time");
        }
        Ok(())
    }

    /// The sub-label's name, if any.
    pub fn sub_label_name(&self) -> Option<&str> {
        self.sub_label.as_ref().map(SubLabel::name)
    }

    /// The best score known: `top_score`, else `score`.
    pub fn best_score(&self) -> Option<f64> {
        self.top_score.or(self.score)
    }
}

/// Parses a `frigate/events` payload (at most [`MAX_EVENT_BYTES`]).
pub fn parse_event(bytes: &[u8]) -> Result<FrigateEvent, FrigateError> {
    if bytes.len() > MAX_EVENT_BYTES {
        return Err(FrigateError::TooLarge { len: bytes.len(), max: MAX_EVENT_BYTES });
    }
    let event: FrigateEvent = serde_json::from_slice(bytes).map_err(|e| FrigateError::Json(e.to_string()))?;
    event.after.check()?;
    if let Some(before) = &event.before {
        before.check()?;
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: &str = r#"{"type":"new","before":{"id":"1767268800.123456-abc123","camera":"yangtze_km12","frame_time":1767268800.12,"snapshot_time":0,"label":"person","sub_label":null,"top_score":0.0,"false_positive":true,"start_time":1767268800.12,"end_time":null,"score":0.71,"box":[424,500,536,712],"area":23744,"ratio":0.52,"region":[264,450,667,853],"current_zones":[],"entered_zones":[],"thumbnail":null,"has_snapshot":false,"has_clip":false,"stationary":false,"motionless_count":0,"position_changes":0,"attributes":{}},"after":{"id":"1767268800.123456-abc123","camera":"yangtze_km12","frame_time":1767268801.5,"snapshot_time":1767268801.5,"label":"person","sub_label":["fisher",0.82],"top_score":0.84,"false_positive":false,"start_time":1767268800.12,"end_time":null,"score":0.84,"box":[442,506,534,712],"area":18952,"ratio":0.44,"region":[264,450,667,853],"current_zones":["fishing_ban_water"],"entered_zones":["fishing_ban_water"],"thumbnail":null,"has_snapshot":true,"has_clip":true,"stationary":false,"motionless_count":0,"position_changes":2,"attributes":{"face":0.8}}}"#;

    #[test]
    fn a_real_shaped_update() {
        let e = parse_event(NEW.as_bytes()).unwrap();
        assert_eq!(e.kind, EventType::New);
        let a = &e.after;
        assert_eq!(a.id, "1767268800.123456-abc123");
        assert_eq!(a.camera, "yangtze_km12");
        assert_eq!(a.label, "person");
        assert_eq!(a.sub_label_name(), Some("fisher"));
        assert_eq!(a.best_score(), Some(0.84));
        assert_eq!(a.current_zones, ["fishing_ban_water"]);
        assert!(a.has_snapshot);
        assert_eq!(a.stationary, Some(false));
        assert_eq!(a.bbox, Some([442.0, 506.0, 534.0, 712.0]));
        assert_eq!(e.before.as_ref().and_then(|b| b.sub_label.as_ref()), None);
    }

    #[test]
    fn minimal_end_with_plain_sub_label() {
        let e = parse_event(
            br#"{"type":"end","after":{"id":"x","camera":"c","label":"boat","sub_label":"sand_barge","start_time":1,"end_time":2}}"#,
        )
        .unwrap();
        assert_eq!(e.kind, EventType::End);
        assert_eq!(e.after.sub_label_name(), Some("sand_barge"));
        assert_eq!(e.after.end_time, Some(2.0));
        assert!(e.after.current_zones.is_empty());
    }

    #[test]
    fn refusals() {
        let bad = |s: &str| parse_event(s.as_bytes()).unwrap_err();
        assert!(matches!(bad(r#"{"type":"gone","after":{}}"#), FrigateError::Json(_)));
        assert!(matches!(bad(r#"{"type":"new"}"#), FrigateError::Json(_)));
        assert!(matches!(bad("not json"), FrigateError::Json(_)));
        assert_eq!(
            bad(r#"{"type":"new","after":{"id":"","camera":"c","label":"l","start_time":1}}"#),
            FrigateError::Invalid { field: "id", reason: "must be 1–128 characters" }
        );
        assert!(matches!(
            bad(r#"{"type":"new","after":{"id":"i","camera":"c","label":"l","start_time":1,"score":1.5}}"#),
            FrigateError::Invalid { field: "score", .. }
        ));
        let big = format!("\"{}\"", "x".repeat(MAX_EVENT_BYTES));
        assert!(matches!(bad(&big), FrigateError::TooLarge { .. }));
    }
}
