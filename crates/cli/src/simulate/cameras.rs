//! What simulated cameras, radars and checkpoints report: real events seen
//! by several devices at once, repeats of what was already sent, and false
//! positives, as detections in the wire shape of `POST /api/v1/detections`.

use chrono::{DateTime, Utc};
use rand::Rng;
use rand::seq::IndexedRandom;
use serde_json::{Value, json};

use super::scene::Placed;

/// How a simulated device's reports are mixed.
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    /// Share of detections that are sent again with the same id.
    pub repeat: f64,
    /// Share of detections that are false positives (low score, wrong label).
    pub false_positive: f64,
}

impl Default for Mix {
    fn default() -> Self {
        Mix { repeat: 0.05, false_positive: 0.2 }
    }
}

/// The label a device of a zone kind sees when something real happens.
fn real_label(zone_kind: &str, at: DateTime<Utc>) -> &'static str {
    match zone_kind {
        "fishing_ban_water" => "fishing",
        "no_sand_mining" => "vessel",
        "shoreline" => "dumping",
        "ring_city" | "ring_district" | "key_area" if at.timestamp() % 2 == 0 => "vehicle",
        "ring_city" | "ring_district" | "key_area" => "person",
        _ => "vessel",
    }
}

/// Labels a false positive may carry.
const NOISE: &[&str] = &["bird", "person", "boat_wake", "fishing", "dumping"];

/// One generator per device: numbers its detections and remembers the last
/// few to repeat them.
#[derive(Debug)]
pub struct Camera {
    /// The device.
    pub place: Placed,
    next: u64,
    sent: Vec<Value>,
}

impl Camera {
    /// A generator for `place`.
    pub fn new(place: Placed) -> Camera {
        Camera { place, next: 0, sent: vec![] }
    }

    /// `n` detections at `at`. A real event (`event` true) is reported near
    /// `event_at` (the same spot other devices see); otherwise the device
    /// reports noise around itself.
    pub fn detections<R: Rng>(
        &mut self,
        rng: &mut R,
        n: usize,
        at: DateTime<Utc>,
        event: Option<(f64, f64)>,
        mix: Mix,
    ) -> Vec<Value> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            if !self.sent.is_empty()
                && rng.random_bool(mix.repeat)
                && let Some(again) = self.sent.choose(rng)
            {
                out.push(again.clone());
                continue;
            }
            self.next += 1;
            let id = format!("{}-{}", self.place.id, self.next);
            let jitter = |rng: &mut R| rng.random_range(-0.0004..0.0004);
            let (label, score, (lon, lat)) = match event {
                Some(spot) if !rng.random_bool(mix.false_positive) => {
                    (real_label(&self.place.zone_kind, at), rng.random_range(0.72..0.97), spot)
                }
                _ => (
                    NOISE.choose(rng).copied().unwrap_or("bird"),
                    rng.random_range(0.2..0.55),
                    (self.place.lon, self.place.lat),
                ),
            };
            let d = json!({
                "id": id,
                "device": self.place.id,
                "at": at,
                "label": label,
                "score": (score * 1000.0_f64).round() / 1000.0,
                "lon": lon + jitter(rng),
                "lat": lat + jitter(rng),
                "attributes": {"simulated": true},
            });
            if self.sent.len() >= 64 {
                self.sent.remove(0);
            }
            self.sent.push(d.clone());
            out.push(d);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn cam() -> Camera {
        Camera::new(Placed {
            id: "sim-cam-1".into(),
            kind: "camera",
            zone_kind: "fishing_ban_water".into(),
            zone: "z".into(),
            lon: 118.36,
            lat: 31.35,
        })
    }

    #[test]
    fn events_are_mostly_real_labels_at_the_spot_and_repeats_keep_their_id() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut c = cam();
        let at = Utc.with_ymd_and_hms(2026, 12, 2, 14, 0, 0).unwrap();
        let mix = Mix { repeat: 0.3, false_positive: 0.1 };
        let all = c.detections(&mut rng, 400, at, Some((118.37, 31.36)), mix);
        let real = all.iter().filter(|d| d["label"] == "fishing" && d["score"].as_f64().unwrap() > 0.7).count();
        assert!(real > 200, "{real}");
        for d in all.iter().filter(|d| d["score"].as_f64().unwrap() > 0.7) {
            assert!((d["lon"].as_f64().unwrap() - 118.37).abs() < 0.001);
        }
        let ids: std::collections::HashSet<_> = all.iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect();
        assert!(ids.len() < all.len(), "some were repeated");
        assert!(ids.len() > all.len() / 2);
    }

    #[test]
    fn without_an_event_only_noise_is_reported() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut c = cam();
        let at = Utc.with_ymd_and_hms(2026, 12, 2, 14, 0, 0).unwrap();
        let all = c.detections(&mut rng, 100, at, None, Mix::default());
        assert!(all.iter().all(|d| d["score"].as_f64().unwrap() < 0.6));
    }
}
