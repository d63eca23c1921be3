//! The simulator's side of the public API: log in, register devices, post
//! detection batches. Nothing here reaches past what any client may do.

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use super::scene::Placed;

/// A failed call: what was asked and what came back.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server could not be reached or the answer was unreadable.
    #[error("{0}: {1}")]
    Transport(&'static str, reqwest::Error),
    /// The server said no.
    #[error("{what}: HTTP {status}: {body}")]
    Refused {
        /// The call.
        what: &'static str,
        /// Its status.
        status: StatusCode,
        /// Its body.
        body: String,
    },
}

/// A client of one server.
#[derive(Debug, Clone)]
pub struct Api {
    http: Client,
    base: String,
}

/// What one detection batch came to.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchTally {
    /// Accepted.
    pub accepted: u64,
    /// Already had.
    pub duplicate: u64,
    /// Refused, with a reason.
    pub rejected: u64,
}

async fn answer(what: &'static str, r: Result<reqwest::Response, reqwest::Error>) -> Result<Value, ApiError> {
    let r = r.map_err(|e| ApiError::Transport(what, e))?;
    let status = r.status();
    if !status.is_success() {
        let body = r.text().await.unwrap_or_default();
        return Err(ApiError::Refused { what, status, body });
    }
    r.json().await.map_err(|e| ApiError::Transport(what, e))
}

impl Api {
    /// A client of the server at `base` (`http://127.0.0.1:8080`).
    pub fn new(base: &str) -> Api {
        Api { http: Client::new(), base: base.trim_end_matches('/').to_owned() }
    }

    /// Logs in; returns the bearer token.
    pub async fn login(&self, username: &str, password: &str) -> Result<String, ApiError> {
        let r = self
            .http
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await;
        let v = answer("login", r).await?;
        Ok(v["token"].as_str().unwrap_or_default().to_owned())
    }

    /// The zones as GeoJSON.
    pub async fn zones(&self, token: &str) -> Result<Value, ApiError> {
        let r = self.http.get(format!("{}/api/v1/zones/geojson", self.base)).bearer_auth(token).send().await;
        answer("zones", r).await
    }

    /// Registers a device; returns its API key. Water stations also get
    /// their HJ 212 code, password and section.
    pub async fn register(&self, token: &str, p: &Placed, station: Option<(&str, &str)>) -> Result<String, ApiError> {
        let mut body = json!({
            "id": p.id, "name": format!("模拟 {}", p.id), "kind": p.kind, "lon": p.lon, "lat": p.lat,
            "zones": [p.zone],
        });
        if let Some((mn, pw)) = station {
            body["mn"] = json!(mn);
            body["pw"] = json!(pw);
            body["water_section"] = json!(p.zone);
            body["zones"] = json!([]);
        }
        let r = self.http.post(format!("{}/api/v1/devices", self.base)).bearer_auth(token).json(&body).send().await;
        let v = answer("register device", r).await?;
        Ok(v["api_key"].as_str().unwrap_or_default().to_owned())
    }

    /// Posts one batch with a device key; tallies the per-item answers.
    pub async fn detections(&self, key: &str, batch: Vec<Value>) -> Result<BatchTally, ApiError> {
        let r = self
            .http
            .post(format!("{}/api/v1/detections", self.base))
            .header("x-api-key", key)
            .json(&json!({ "detections": batch }))
            .send()
            .await;
        let v = answer("post detections", r).await?;
        let mut t = BatchTally::default();
        for item in v["items"].as_array().into_iter().flatten() {
            match item["status"].as_str() {
                Some("accepted") => t.accepted += 1,
                Some("duplicate") => t.duplicate += 1,
                _ => t.rejected += 1,
            }
        }
        Ok(t)
    }
}
