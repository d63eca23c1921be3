//! Settings: defaults, then the config file, then environment variables,
//! then flags (each overriding the one before). Every option is listed in
//! `docs/configuration.md`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use citygrid_server::ServerConfig;
use clap::Args;
use serde::Deserialize;

/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "citygrid-data";
/// Default port.
pub const DEFAULT_PORT: u16 = 8080;

/// Options shared by `serve` and `demo`.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Config file (TOML).
    #[arg(long, env = "CITYGRID_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (database, attachments, keys).
    #[arg(long, env = "CITYGRID_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "CITYGRID_PORT")]
    pub port: Option<u16>,
    /// Address to bind.
    #[arg(long, env = "CITYGRID_BIND")]
    pub bind: Option<IpAddr>,
}

/// The config file's shape.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    port: Option<u16>,
    bind: Option<IpAddr>,
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
    /// Port.
    pub port: u16,
    /// Bind address.
    pub bind: IpAddr,
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
        Ok(Settings {
            port: args.port.or(file.port).unwrap_or(DEFAULT_PORT),
            bind: args.bind.or(file.bind).unwrap_or(IpAddr::from([127, 0, 0, 1])),
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
        // Without a config file resolution cannot fail.
        Settings::resolve(&args).unwrap_or_else(|_| Settings {
            data_dir: data_dir.to_owned(),
            port: DEFAULT_PORT,
            bind: IpAddr::from([127, 0, 0, 1]),
            key_file: data_dir.join("keys.json"),
            calendar_dir: None,
            metrics_token: None,
            synchronous_full: true,
            server: ServerConfig::default(),
        })
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
        std::fs::write(&cfg, "prot = 1\n").unwrap();
        assert!(
            Settings::resolve(&ServeArgs { config: Some(cfg), ..Default::default() }).unwrap_err().contains("prot")
        );
    }
}
