//! Settings: defaults, then the config file, then environment variables,
//! then flags (each overriding the one before). Every option is listed in
//! `docs/configuration.md`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use citygrid_server::ServerConfig;

use crate::database::{Database, OpenOptions};
use clap::Args;
use serde::Deserialize;

/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "citygrid-data";
/// Default port.
pub const DEFAULT_PORT: u16 = 8080;
/// The HJ 212 port `citygrid demo` listens on unless told otherwise.
pub const DEMO_HJ212_PORT: u16 = 9212;

/// Options shared by `serve` and `demo`.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Config file (TOML).
    #[arg(long, env = "CITYGRID_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (database, attachments, keys).
    #[arg(long, env = "CITYGRID_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// A `postgres://` URL to keep the data in PostgreSQL instead of the
    /// embedded store in the data directory (the keyring stays a file).
    #[arg(long, env = "CITYGRID_DATABASE_URL", hide_env_values = true)]
    pub database: Option<String>,
    /// A `postgres://` URL of a streaming replica of `--database`, for lists
    /// and other reads that need not see a write made a moment ago.
    #[arg(long, env = "CITYGRID_DATABASE_REPLICA_URL", hide_env_values = true)]
    pub database_replica: Option<String>,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "CITYGRID_PORT")]
    pub port: Option<u16>,
    /// Address to bind.
    #[arg(long, env = "CITYGRID_BIND")]
    pub bind: Option<IpAddr>,
    /// Port for HJ 212 water-quality stations over TCP (0 picks a free one;
    /// unset: no listener, except `demo`, which listens on 9212).
    #[arg(long, env = "CITYGRID_HJ212_PORT")]
    pub hj212_port: Option<u16>,
    /// An MQTT broker to read detections from (`mqtt://host:port`): Frigate's
    /// `frigate/events` and `citygrid/detections` (see docs/mqtt.md).
    #[arg(long, env = "CITYGRID_MQTT_URL")]
    pub mqtt_url: Option<String>,
    /// This instance's MQTT client id; the broker keeps its session, so give
    /// every instance its own.
    #[arg(long, env = "CITYGRID_MQTT_CLIENT_ID")]
    pub mqtt_client_id: Option<String>,
    /// `demo` only: do not run the built-in simulator (`citygrid simulate`
    /// at a gentle rate) that keeps the demo's devices reporting.
    #[arg(long)]
    pub no_simulate: bool,
}

/// The config file's shape.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    database: Option<String>,
    database_replica: Option<String>,
    port: Option<u16>,
    bind: Option<IpAddr>,
    hj212_port: Option<u16>,
    mqtt_url: Option<String>,
    mqtt_client_id: Option<String>,
    key_file: Option<PathBuf>,
    calendar_dir: Option<PathBuf>,
    metrics_token: Option<String>,
    synchronous_full: Option<bool>,
    #[serde(default)]
    server: Option<ServerConfig>,
}

/// Resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Data directory.
    pub data_dir: PathBuf,
    /// Where the store lives.
    pub database: Database,
    /// Port.
    pub port: u16,
    /// Bind address.
    pub bind: IpAddr,
    /// HJ 212 listener port on the same address, if one is wanted.
    pub hj212_port: Option<u16>,
    /// Whether to drive the served city with the simulator (the demo's default).
    pub simulate: bool,
    /// The MQTT broker to read detections from, if any.
    pub mqtt_url: Option<String>,
    /// The MQTT client id.
    pub mqtt_client_id: String,
    /// Keyring file.
    pub key_file: PathBuf,
    /// Holiday year files to use instead of the built-in ones.
    pub calendar_dir: Option<PathBuf>,
    /// Bearer token for Prometheus scrapers.
    pub metrics_token: Option<String>,
    /// fsync on every commit.
    pub synchronous_full: bool,
    /// HTTP server settings.
    pub server: ServerConfig,
}

impl Settings {
    /// Resolves settings for `args`.
    pub fn resolve(args: &ServeArgs) -> Result<Settings, String> {
        let file = match &args.config {
            Some(p) => read_file(p)?,
            None => FileConfig::default(),
        };
        let data_dir = args.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let key_file = std::env::var_os("CITYGRID_KEY_FILE")
            .map(PathBuf::from)
            .or(file.key_file)
            .unwrap_or_else(|| data_dir.join("keys.json"));
        let database = Database::choose(
            args.database.as_deref().or(file.database.as_deref()),
            args.database_replica.as_deref().or(file.database_replica.as_deref()),
            &data_dir,
        )?;
        Ok(Settings {
            database,
            port: args.port.or(file.port).unwrap_or(DEFAULT_PORT),
            bind: args.bind.or(file.bind).unwrap_or(IpAddr::from([127, 0, 0, 1])),
            hj212_port: args.hj212_port.or(file.hj212_port),
            simulate: false,
            mqtt_url: args.mqtt_url.clone().or(file.mqtt_url),
            mqtt_client_id: args.mqtt_client_id.clone().or(file.mqtt_client_id).unwrap_or_else(|| "citygrid".into()),
            key_file,
            calendar_dir: std::env::var_os("CITYGRID_CALENDAR_DIR").map(PathBuf::from).or(file.calendar_dir),
            metrics_token: std::env::var("CITYGRID_METRICS_TOKEN").ok().or(file.metrics_token),
            synchronous_full: file.synchronous_full.unwrap_or(true),
            server: file.server.unwrap_or_default(),
            data_dir,
        })
    }

    /// Settings for commands that only need a data directory.
    pub fn for_data_dir(data_dir: &Path) -> Settings {
        let args = ServeArgs { data_dir: Some(data_dir.to_owned()), ..ServeArgs::default() };
        // Without a config file or a database URL resolution cannot fail.
        Settings::resolve(&args).unwrap_or_else(|_| Settings {
            data_dir: data_dir.to_owned(),
            database: Database::Embedded(data_dir.to_owned()),
            port: DEFAULT_PORT,
            bind: IpAddr::from([127, 0, 0, 1]),
            hj212_port: None,
            simulate: false,
            mqtt_url: None,
            mqtt_client_id: "citygrid".into(),
            key_file: data_dir.join("keys.json"),
            calendar_dir: None,
            metrics_token: None,
            synchronous_full: true,
            server: ServerConfig::default(),
        })
    }
}

/// Where a command that only reads or writes the store finds it.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Data directory (embedded store, attachments, keys).
    #[arg(long, env = "CITYGRID_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// A `postgres://` URL to use PostgreSQL instead of the embedded store.
    #[arg(long, env = "CITYGRID_DATABASE_URL", hide_env_values = true)]
    pub database: Option<String>,
}

impl StoreArgs {
    /// The store these arguments name.
    pub fn database(&self) -> Result<Database, String> {
        Database::choose(self.database.as_deref(), None, &self.data_dir)
    }
}

impl Settings {
    /// How to open the embedded store.
    pub fn open_options(&self) -> OpenOptions {
        OpenOptions { synchronous_full: self.synchronous_full, must_exist: false }
    }
}

fn read_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("config {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("config {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("c.toml");
        std::fs::write(&cfg, "port = 9000\ndata_dir = \"/tmp/x\"\n[server]\nnearby_radius_m = 50.0\n").unwrap();
        let s = Settings::resolve(&ServeArgs { config: Some(cfg.clone()), port: Some(7000), ..Default::default() })
            .unwrap();
        assert_eq!(s.port, 7000);
        assert_eq!(s.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(s.server.nearby_radius_m, 50.0);
        assert_eq!(s.hj212_port, None);
        std::fs::write(&cfg, "hj212_port = 9300\n").unwrap();
        let s = Settings::resolve(&ServeArgs { config: Some(cfg.clone()), ..Default::default() }).unwrap();
        assert_eq!(s.hj212_port, Some(9300));
        let s = Settings::resolve(&ServeArgs { config: Some(cfg.clone()), hj212_port: Some(0), ..Default::default() })
            .unwrap();
        assert_eq!(s.hj212_port, Some(0));
        std::fs::write(&cfg, "prot = 1\n").unwrap();
        assert!(
            Settings::resolve(&ServeArgs { config: Some(cfg), ..Default::default() }).unwrap_err().contains("prot")
        );
    }
}
