//! `citygrid`: serve the platform, run the demo city, import and check
//! reference data, manage administrators, verify the audit trail, move an
//! installation into another store.
//! Benchmarks live apart, in the `citygrid-bench` crate.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use citygrid::database::{OpenOptions, StoreJob, with_store};
use citygrid::settings::{DEFAULT_DATA_DIR, ServeArgs, Settings, StoreArgs};
use citygrid::{admin, bootstrap, demo, import, locate, migrate, reference};
use citygrid_store::Store;

/// mimalloc: the server allocates many small, short-lived buffers per request,
/// which glibc's allocator serves noticeably slower under two busy cores.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// CityGrid: city-level grid governance.
#[derive(Parser)]
#[command(name = "citygrid", version, about)]
struct Cli {
    /// Log format on standard error: `text` for people, `json` for log
    /// shippers (one JSON object per line).
    #[arg(long, global = true, env = "CITYGRID_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// How log events are written.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines, coloured only on a terminal.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API from the embedded store in a data directory, or from
    /// PostgreSQL with `--database postgres://…`.
    Serve(ServeArgs),
    /// Serve the Wuhu demo city, seeding it on first run.
    Demo(ServeArgs),
    /// Drive a running server over its real protocols with simulated
    /// cameras, radars, checkpoints and water stations.
    Simulate(citygrid::simulate::SimulateArgs),
    /// Import reference data into a data directory (all or nothing).
    Import {
        /// What the file holds.
        kind: import::Kind,
        /// The file.
        file: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
        /// Territory only: repair what can be repaired unambiguously, list
        /// every change, and import only if the result is clean.
        #[arg(long)]
        repair: bool,
    },
    /// Validate a data file without importing it.
    Check {
        /// What the file holds.
        kind: import::Kind,
        /// The file.
        file: PathBuf,
        /// Territory only: repair what can be repaired, list every change,
        /// and check the result (nothing is written unless `--write`).
        #[arg(long)]
        repair: bool,
        /// With `--repair`: when the result passes, write it here as a
        /// GeoJSON FeatureCollection, to review or to import as it is.
        #[arg(long, requires = "repair")]
        write: Option<PathBuf>,
    },
    /// Administrator accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The personal-data keyring.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Copy every table of a data directory into another, empty store (a
    /// data directory or a `postgres://` URL), check each table's
    /// rows and checksum on both sides, and verify the copy's audit trail.
    MigrateStore {
        /// The data directory to copy from.
        #[arg(long)]
        from: PathBuf,
        /// The store to copy into, which must be empty: a `postgres://` URL,
        /// or a data directory (created if missing).
        #[arg(long)]
        to: String,
        /// Rows per page (blobs: at most 16 a page).
        #[arg(long, default_value_t = migrate::PAGE)]
        page: usize,
    },
    /// Locate `lon,lat` lines from standard input in the territory, writing
    /// `lon,lat,district,township,community,grid` lines to standard output
    /// in input order (malformed lines: empty fields and a count on stderr).
    Locate {
        /// The store whose territory is used (as `serve` would load it).
        #[command(flatten)]
        store: StoreArgs,
        /// Stop with exit status 1 at the first malformed line instead of
        /// writing empty fields for it.
        #[arg(long)]
        strict: bool,
        /// Threads that parse and locate (default: one per core).
        #[arg(long)]
        threads: Option<usize>,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an administrator; the password is read from standard input.
    Create {
        /// Login name.
        #[arg(long)]
        username: String,
        /// Display name.
        #[arg(long, default_value = "Administrator")]
        display_name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chains; exits non-zero and names the first bad record.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new data key and make it active (old keys stay to decrypt old data).
    Rotate {
        /// Data directory.
        #[arg(long, env = "CITYGRID_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
}

/// Whether text logs get colour: only for a person at a terminal, and never
/// when `NO_COLOR` is set to anything non-empty (https://no-color.org).
fn use_colour(is_terminal: bool, no_color: Option<OsString>) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Sends log events to standard error in `format`, filtered by `RUST_LOG`
/// (default `info`).
fn init_logging(format: LogFormat) {
    let (filter, bad_filter) = match std::env::var("RUST_LOG") {
        Err(_) => (EnvFilter::new("info"), None),
        Ok(spec) => match EnvFilter::try_new(&spec) {
            Ok(f) => (f, None),
            Err(e) => (EnvFilter::new("info"), Some(format!("RUST_LOG={spec:?} is not a valid filter ({e})"))),
        },
    };
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => {
            logs.with_ansi(use_colour(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR"))).init();
        }
        LogFormat::Json => logs.json().flatten_event(true).with_ansi(false).init(),
    }
    if let Some(why) = bad_filter {
        // Said once logging works, so a typo does not silently change what is logged.
        tracing::warn!("{why}; logging at info");
    }
}

/// Reports a failure on standard error: a plain line for people, or an
/// error event when the logs are JSON, so every line stays parseable.
fn report_error(format: LogFormat, message: &str) {
    // A filter that drops errors (`RUST_LOG=off`) must not hide the failure.
    if format == LogFormat::Json && tracing::enabled!(tracing::Level::ERROR) {
        tracing::error!(error = message, "command failed");
    } else {
        eprintln!("error: {message}");
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = cli.log_format;
    init_logging(format);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    // Worker threads for the HTTP server (default: one per core). The store's
    // writer runs on a thread of its own besides these.
    if let Some(n) = std::env::var("CITYGRID_WORKERS").ok().and_then(|v| v.parse::<usize>().ok()).filter(|n| *n > 0) {
        builder.worker_threads(n);
    }
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            report_error(format, &format!("cannot start the runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(msg) => {
            if !msg.is_empty() {
                println!("{msg}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            report_error(format, &e);
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<String, String> {
    let started = Instant::now();
    match command {
        Command::Serve(args) => {
            let s = Settings::resolve(&args)?;
            with_store(&s.database.clone(), s.open_options(), Serve { s, started, demo: false }).await
        }
        Command::Demo(args) => {
            let mut s = Settings::resolve(&args)?;
            s.hj212_port = s.hj212_port.or(Some(citygrid::settings::DEMO_HJ212_PORT));
            s.simulate = !args.no_simulate;
            with_store(&s.database.clone(), s.open_options(), Serve { s, started, demo: true }).await
        }
        Command::Simulate(args) => {
            citygrid::simulate::run(args).await.map_err(|e| e.to_string())?;
            Ok("simulation finished".into())
        }
        Command::Import { kind, file, store, repair } => {
            let db = store.database()?;
            // Read and check the file before any store is opened or created.
            let prepared = import::prepare(kind, &file, repair, db.is_new())?;
            with_store(&db, OpenOptions::default(), Import(prepared)).await
        }
        Command::Check { kind, file, repair, write } => import::check(kind, &file, repair, write.as_deref()),
        Command::Admin { command: AdminCommand::Create { username, display_name, store } } => {
            with_store(&store.database()?, OpenOptions::default(), CreateAdmin { username, display_name }).await
        }
        Command::Audit { command: AuditCommand::Verify { store } } => {
            with_store(&store.database()?, OpenOptions::existing(), VerifyAudit).await
        }
        Command::MigrateStore { from, to, page } => migrate::run(&from, &to, page).await,
        Command::Locate { store, strict, threads } => {
            let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
            locate::run(&store.database()?, locate::Options { threads, strict }).await
        }
        Command::Keys { command: KeysCommand::Rotate { data_dir } } => {
            let s = Settings::for_data_dir(&data_dir);
            let id = citygrid_app::vault::Vault::rotate(&s.key_file).map_err(|e| e.to_string())?;
            Ok(format!("new data key {id} is active; restart the server to use it (old keys still decrypt old data)"))
        }
    }
}

/// `serve` and `demo`: seeds the demo city first when asked and not yet done.
struct Serve {
    s: Settings,
    started: Instant,
    demo: bool,
}

impl StoreJob for Serve {
    type Output = String;
    async fn run<S: Store>(self, store: S) -> Result<String, String> {
        let Serve { s, started, demo } = self;
        if demo && !demo::is_seeded(&store).await? {
            let calendar = reference::calendar(s.calendar_dir.as_deref())?;
            let vault = citygrid_app::vault::Vault::open_or_create(&s.key_file).map_err(|e| e.to_string())?;
            let progress = indicatif::MultiProgress::new();
            let sum = demo::seed(&store, &vault, &calendar, &progress).await?;
            eprintln!(
                "seeded the Wuhu demo in {:.2}s: {} territory units, {} cases; log in as any of {} with password {}",
                sum.seconds,
                sum.units,
                sum.cases,
                demo::DEMO_USERS.iter().map(|u| u.username).collect::<Vec<_>>().join(", "),
                demo::DEMO_PASSWORD
            );
        }
        let app = bootstrap::assemble(&s, store).await?;
        bootstrap::run(&s, app, started).await?;
        Ok(String::new())
    }
}

/// `import`: a prepared file into whichever store.
struct Import(import::Prepared);

impl StoreJob for Import {
    type Output = String;
    async fn run<S: Store>(self, store: S) -> Result<String, String> {
        import::import(&store, self.0).await
    }
}

/// `admin create`.
struct CreateAdmin {
    username: String,
    display_name: String,
}

impl StoreJob for CreateAdmin {
    type Output = String;
    async fn run<S: Store>(self, store: S) -> Result<String, String> {
        admin::create_admin(&store, &self.username, &self.display_name).await
    }
}

/// `audit verify`.
struct VerifyAudit;

impl StoreJob for VerifyAudit {
    type Output = String;
    async fn run<S: Store>(self, store: S) -> Result<String, String> {
        admin::verify_audit(&store).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(use_colour(true, None));
        assert!(use_colour(true, Some(OsString::new())), "an empty NO_COLOR is unset");
        assert!(!use_colour(true, Some("1".into())));
        assert!(!use_colour(false, None));
        assert!(!use_colour(false, Some("1".into())));
    }

    #[test]
    fn log_format_is_a_global_flag_with_an_env_fallback() {
        let cli = Cli::try_parse_from(["citygrid", "keys", "rotate", "--log-format", "json"]).unwrap();
        assert_eq!(cli.log_format, LogFormat::Json);
        let cli = Cli::try_parse_from(["citygrid", "--log-format", "text", "keys", "rotate"]).unwrap();
        assert_eq!(cli.log_format, LogFormat::Text);
        assert!(Cli::try_parse_from(["citygrid", "--log-format", "xml", "keys", "rotate"]).is_err());
    }
}
