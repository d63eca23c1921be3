//! Server settings. Every option is documented in `docs/configuration.md`;
//! the CLI fills this from the config file, environment and flags.

use serde::{Deserialize, Serialize};

/// How the HTTP server behaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Largest JSON request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest attachment, in bytes.
    pub max_attachment_bytes: usize,
    /// Largest boundary file `POST /api/v1/territory/import` accepts, in bytes.
    pub max_import_bytes: usize,
    /// Largest detection batch `POST /api/v1/detections` accepts, in bytes
    /// (1,000 items with attributes and evidence fit in the default).
    pub max_intake_bytes: usize,
    /// Radius for the duplicate hint on new reports, in metres (0 = off).
    pub nearby_radius_m: f64,
    /// How long a login session lasts, in minutes.
    pub session_minutes: i64,
    /// Logins allowed per client address per minute.
    pub login_per_minute: u32,
    /// Requests allowed per client address per minute on unauthenticated endpoints.
    pub public_per_minute: u32,
    /// Failed logins before the account is locked for a while.
    pub lockout_after: u32,
    /// Mark cookies `Secure` (set when served over HTTPS).
    pub secure_cookies: bool,
    /// Origins allowed by CORS; empty (the default) allows none.
    pub cors_origins: Vec<String>,
    /// Largest page a list endpoint returns.
    pub max_page: usize,
    /// Seconds between audit checkpoints (0 = none), once the background
    /// jobs are started (`App::start_jobs`).
    pub audit_checkpoint_secs: u64,
    /// Most HJ 212 station connections open at once (when the listener runs).
    pub hj212_max_connections: usize,
    /// Seconds an HJ 212 connection may stay silent before it is closed.
    pub hj212_idle_secs: u64,
}

impl ServerConfig {
    /// The HJ 212 listener's options from these settings.
    pub fn hj212_options(&self) -> crate::listeners::hj212::Hj212Options {
        crate::listeners::hj212::Hj212Options {
            max_connections: self.hj212_max_connections.max(1),
            idle: std::time::Duration::from_secs(self.hj212_idle_secs.max(1)),
            ..Default::default()
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            max_attachment_bytes: 10 * 1024 * 1024,
            max_import_bytes: 64 * 1024 * 1024,
            max_intake_bytes: 8 * 1024 * 1024,
            nearby_radius_m: 200.0,
            session_minutes: 8 * 60,
            login_per_minute: 20,
            public_per_minute: 600,
            lockout_after: 5,
            secure_cookies: false,
            cors_origins: vec![],
            max_page: 500,
            audit_checkpoint_secs: 300,
            hj212_max_connections: 4096,
            hj212_idle_secs: 300,
        }
    }
}
