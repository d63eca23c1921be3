//! Throwaway PostgreSQL clusters that a test owns outright.
//!
//! # Why this exists
//!
//! Most PostgreSQL tests can share the machine's server on port 5432. Two
//! kinds cannot:
//!
//! * tests that **stop and restart the server under load** (what do clients
//!   see while it is down, do committed writes survive a fast shutdown?) — doing
//!   that to the shared server would break every other test running at the same
//!   time;
//! * tests that need a **primary with a streaming hot-standby replica** (reads
//!   routed to the replica, replication lag, read-only errors).
//!
//! This crate gives each such test its own cluster: `initdb` into a fresh
//! temporary directory, a free TCP port on `127.0.0.1`, trust authentication,
//! settings suited to replication (`wal_level=replica`, `max_wal_senders=5`,
//! `hot_standby=on`) and durability (`fsync=on`, `synchronous_commit=on`), and
//! a database `citygrid`. [`Cluster::start_replica`] takes a `pg_basebackup`
//! of a running cluster and starts it as a streaming hot standby.
//!
//! `initdb` and `CREATE DATABASE` cost seconds, so they run once per test
//! process, into a stopped template cluster; every primary starts from a
//! private copy of it (`cp -a`) in its own directory, on its own port.
//!
//! It is synchronous and uses only `std` and `tempfile`; SQL goes through the
//! `psql` binary, so tests stay free to pick whatever client they exercise.
//!
//! # Cleanup
//!
//! Dropping a [`Cluster`] (including during a panic's unwinding) stops the
//! server in immediate mode and deletes its directory. In case the test
//! process dies without unwinding (`SIGKILL`, `abort`, Ctrl-C, a cluster kept in
//! a `static`), every cluster also has a small watchdog shell process that
//! notices within a second that the test process is gone and then stops the
//! server and removes the directory.
//!
//! # Requirements
//!
//! The PostgreSQL server binaries (Debian package `postgresql`): the newest
//! `/usr/lib/postgresql/<version>/bin` is used, or the directory named by
//! `CITYGRID_TESTPG_BIN`. PostgreSQL refuses to run as root, so when the tests
//! run as root the server-side programs run as the OS user `postgres` (via
//! `runuser`) and the cluster lives under `/tmp`. `CITYGRID_TESTPG_TRACE=1`
//! prints every command this crate runs, with its duration, to stderr.
//!
//! ```no_run
//! # fn main() -> Result<(), String> {
//! let primary = citygrid_testpg::Cluster::start_primary()?;
//! primary.psql("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")?;
//! let replica = primary.start_replica()?;
//! replica.wait_caught_up(&primary)?;
//! assert_eq!(replica.psql("SELECT x FROM t")?, "1");
//! # Ok(())
//! # }
//! ```

mod database;

pub use database::{TestDatabase, shared_url, with_database};

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The initialised, stopped cluster that new primaries are copies of.
static TEMPLATE: OnceLock<Result<Cluster, String>> = OnceLock::new();

/// Name of the database every cluster is given.
pub const DATABASE: &str = "citygrid";

/// How long `pg_ctl` may take to start or stop a server.
const PG_CTL_TIMEOUT_SECS: &str = "30";

/// How long [`Cluster::wait_caught_up`] waits for the replica.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(30);

/// Attempts at starting a new cluster when its port was taken meanwhile.
const PORT_ATTEMPTS: usize = 5;

/// Lines of the server log quoted in error messages.
const LOG_TAIL_LINES: usize = 30;

/// File (in the data directory) holding the settings this crate manages.
const CONF_FILE: &str = "citygrid-testpg.conf";

/// Longest path a Unix-domain socket may have (`sun_path` less the NUL).
const MAX_SOCKET_PATH: usize = 107;

/// What a cluster is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A read-write server made by `initdb`.
    Primary,
    /// A streaming hot standby made by `pg_basebackup` from another cluster.
    Replica,
}

/// OS account the server programs run as when the tests run as root.
#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: u32,
    gid: u32,
}

/// A PostgreSQL cluster in its own temporary directory, on its own port.
///
/// Dropping it stops the server (immediate mode) and removes the directory.
#[derive(Debug)]
pub struct Cluster {
    role: Role,
    port: u16,
    bin: PathBuf,
    run_as: Option<RunAs>,
    data: PathBuf,
    log: PathBuf,
    watchdog: Option<Child>,
    // Last field: dropped (directory removed) after `Drop::drop` has stopped the server.
    dir: TempDir,
}

impl Cluster {
    /// Creates, configures and starts a new primary with a database
    /// [`DATABASE`].
    ///
    /// # Errors
    ///
    /// A description of what failed — a missing binary, `initdb`, a server that
    /// would not start (with the tail of its log), `CREATE DATABASE`.
    pub fn start_primary() -> Result<Self, String> {
        let template = TEMPLATE
            .get_or_init(Self::make_template)
            .as_ref()
            .map_err(|e| format!("preparing the template cluster: {e}"))?;
        let mut cluster = Self::create(Role::Primary)?;
        check(
            "copying the template cluster",
            client_cmd(Path::new("cp")).arg("-a").arg(&template.data).arg(&cluster.data),
        )?;
        cluster.start_first_time()?;
        Ok(cluster)
    }

    /// `initdb`, configuration and `CREATE DATABASE`, done once per process:
    /// a stopped cluster that [`start_primary`](Self::start_primary) copies.
    /// It lives in a `static`, so its watchdog removes it after the process exits.
    fn make_template() -> Result<Self, String> {
        let mut cluster = Self::create(Role::Primary)?;
        check(
            "initdb",
            cluster.server_cmd("initdb").arg("-D").arg(&cluster.data).args([
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ]),
        )?;
        fs::write(
            cluster.data.join("pg_hba.conf"),
            "# Written by citygrid-testpg: trust, local socket and 127.0.0.1 only.\n\
             local all all trust\n\
             host all all 127.0.0.1/32 trust\n\
             local replication all trust\n\
             host replication all 127.0.0.1/32 trust\n",
        )
        .map_err(|e| format!("writing pg_hba.conf: {e}"))?;
        let conf = cluster.data.join("postgresql.conf");
        let mut main = fs::read_to_string(&conf).map_err(|e| format!("reading {}: {e}", conf.display()))?;
        main.push_str(&format!("\n# Settings managed by citygrid-testpg.\ninclude '{CONF_FILE}'\n"));
        fs::write(&conf, main).map_err(|e| format!("writing {}: {e}", conf.display()))?;
        cluster.start_first_time()?;
        cluster.psql_in("postgres", &format!("CREATE DATABASE {DATABASE}"))?;
        cluster.pg_ctl_stop("fast").map_err(|e| format!("{e}\n--- server log (tail) ---\n{}", cluster.log_tail()))?;
        Ok(cluster)
    }

    /// Takes a base backup of this (running) cluster and starts it as a
    /// streaming hot standby on its own port.
    ///
    /// # Errors
    ///
    /// A description of what failed — this cluster not running,
    /// `pg_basebackup`, a standby that would not start (with its log's tail).
    pub fn start_replica(&self) -> Result<Self, String> {
        if !self.is_running() {
            return Err(format!("cannot take a base backup: the cluster on port {} is not running", self.port));
        }
        let mut replica = Self::create(Role::Replica)?;
        check(
            "pg_basebackup",
            replica
                .server_cmd("pg_basebackup")
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-D"])
                .arg(&replica.data)
                .args(["-R", "-X", "stream", "--checkpoint=fast", "--no-sync"]),
        )?;
        if !replica.data.join("standby.signal").exists() {
            return Err("pg_basebackup -R wrote no standby.signal".to_string());
        }
        replica.start_first_time()?;
        Ok(replica)
    }

    /// `postgres://postgres@127.0.0.1:PORT/citygrid`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{DATABASE}", self.port)
    }

    /// The TCP port on `127.0.0.1`; it stays the same across
    /// [`stop`](Self::stop) and [`start`](Self::start).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether this is a primary or a replica.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The server's log file (it accumulates across restarts).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last lines of the server log, for failure messages.
    pub fn log_tail(&self) -> String {
        tail(&self.log, LOG_TAIL_LINES)
    }

    /// Whether the server is running (`pg_ctl status`).
    pub fn is_running(&self) -> bool {
        self.server_cmd("pg_ctl")
            .arg("status")
            .arg("-D")
            .arg(&self.data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Stops the server with a fast shutdown (`pg_ctl -m fast -w stop`):
    /// sessions are disconnected, open transactions roll back, committed ones
    /// are on disk.
    ///
    /// # Errors
    ///
    /// The server is not running, or `pg_ctl` failed (with the log's tail).
    pub fn stop(&self) -> Result<(), String> {
        if !self.is_running() {
            return Err(format!("cannot stop the cluster on port {}: it is not running", self.port));
        }
        self.pg_ctl_stop("fast").map_err(|e| format!("{e}\n--- server log (tail) ---\n{}", self.log_tail()))
    }

    /// Starts the server again, same data directory and port, and waits until
    /// it accepts connections (a replica resumes streaming).
    ///
    /// # Errors
    ///
    /// The server is already running, or it would not start (for instance
    /// because another process took the port meanwhile) — with the log's tail.
    pub fn start(&self) -> Result<(), String> {
        if self.is_running() {
            return Err(format!("cannot start the cluster on port {}: it is already running", self.port));
        }
        self.pg_ctl_start().map_err(|e| format!("{e}\n--- server log (tail) ---\n{}", self.log_tail()))
    }

    /// Runs SQL in database [`DATABASE`] with
    /// `psql -X -At -v ON_ERROR_STOP=1` and returns its output without the
    /// final newline: one line per row, columns separated by `|`.
    ///
    /// # Errors
    ///
    /// `psql` could not run or exited non-zero; the message includes its
    /// stderr (for instance `ERROR:  cannot execute INSERT in a read-only
    /// transaction`).
    pub fn psql(&self, sql: &str) -> Result<String, String> {
        self.psql_in(DATABASE, sql)
    }

    /// Waits until this replica has replayed everything the primary had
    /// written when the call began: `pg_last_wal_replay_lsn()` here ≥
    /// `pg_current_wal_lsn()` there. Gives up after 30 seconds.
    ///
    /// # Errors
    ///
    /// This is not a replica, a query failed, or the replica did not catch up
    /// in time (with both positions and the replica's log tail).
    pub fn wait_caught_up(&self, primary: &Cluster) -> Result<(), String> {
        if self.role != Role::Replica {
            return Err(format!("wait_caught_up: the cluster on port {} is not a replica", self.port));
        }
        let target_text = primary.psql_in("postgres", "SELECT pg_current_wal_lsn()")?;
        let target = parse_lsn(&target_text)?;
        let deadline = Instant::now() + CATCH_UP_TIMEOUT;
        let mut replayed_text = String::new();
        loop {
            // Connection errors while the standby is still coming up count as "not yet".
            if let Ok(text) = self.psql_in("postgres", "SELECT pg_last_wal_replay_lsn()") {
                if let Ok(replayed) = parse_lsn(&text)
                    && replayed >= target
                {
                    return Ok(());
                }
                replayed_text = text;
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "replica on port {} did not catch up within {CATCH_UP_TIMEOUT:?}: replayed {replayed_text:?}, \
                     primary was at {target_text}\n--- replica log (tail) ---\n{}",
                    self.port,
                    self.log_tail()
                ));
            }
            thread::sleep(Duration::from_millis(25));
        }
    }

    // ---- internals ----

    /// A new, empty cluster directory (owned by `postgres` when we are root),
    /// already guarded by `Drop` and the watchdog.
    fn create(role: Role) -> Result<Self, String> {
        let bin = bin_dir()?;
        let run_as = run_as()?;
        let base = match run_as {
            // The server user must be able to traverse every parent.
            Some(_) => PathBuf::from("/tmp"),
            None => std::env::temp_dir(),
        };
        if run_as.is_some() {
            check_traversable(&base)?;
        }
        let dir = tempfile::Builder::new()
            .prefix("citygrid-testpg-")
            .tempdir_in(&base)
            .map_err(|e| format!("creating a temporary directory in {}: {e}", base.display()))?;
        if let Some(owner) = run_as {
            std::os::unix::fs::chown(dir.path(), Some(owner.uid), Some(owner.gid))
                .map_err(|e| format!("chown {} to postgres: {e}", dir.path().display()))?;
        }
        let mut cluster = Cluster {
            role,
            port: 0,
            bin,
            run_as,
            data: dir.path().join("data"),
            log: dir.path().join("server.log"),
            watchdog: None,
            dir,
        };
        cluster.watchdog = Some(cluster.spawn_watchdog()?);
        Ok(cluster)
    }

    /// Picks a free port, writes the managed settings and starts; retries with
    /// another port if someone else bound ours in between.
    fn start_first_time(&mut self) -> Result<(), String> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.port = free_port()?;
            self.write_conf()?;
            match self.pg_ctl_start() {
                Ok(()) => return Ok(()),
                Err(e) => {
                    let log = self.log_tail();
                    let port_taken = log.contains("Address already in use") || log.contains("could not bind");
                    if !port_taken || attempt >= PORT_ATTEMPTS {
                        return Err(format!("{e}\n--- server log (tail) ---\n{log}"));
                    }
                }
            }
        }
    }

    /// (Re)writes `citygrid-testpg.conf`, included from `postgresql.conf`
    /// (a replica gets the primary's copy from the base backup, then its own).
    fn write_conf(&self) -> Result<(), String> {
        let dir = self.dir.path().display().to_string();
        // The socket is a convenience; if the path would be too long, TCP alone will do.
        let socket_dir = if dir.len() + "/.s.PGSQL.65535".len() <= MAX_SOCKET_PATH { dir } else { String::new() };
        let conf = format!(
            "# Written by citygrid-testpg; rewritten on every new port.\n\
             listen_addresses = '127.0.0.1'\n\
             port = {port}\n\
             unix_socket_directories = '{socket_dir}'\n\
             wal_level = replica\n\
             max_wal_senders = 5\n\
             wal_keep_size = '128MB'\n\
             synchronous_commit = on\n\
             fsync = on\n\
             shared_buffers = '16MB'\n\
             hot_standby = on\n\
             logging_collector = off\n\
             log_min_messages = warning\n",
            port = self.port
        );
        let path = self.data.join(CONF_FILE);
        fs::write(&path, conf).map_err(|e| format!("writing {}: {e}", path.display()))?;
        if let Some(owner) = self.run_as {
            std::os::unix::fs::chown(&path, Some(owner.uid), Some(owner.gid))
                .map_err(|e| format!("chown {}: {e}", path.display()))?;
        }
        Ok(())
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        check(
            &format!("pg_ctl start (port {})", self.port),
            self.server_cmd("pg_ctl").arg("-D").arg(&self.data).arg("-l").arg(&self.log).args([
                "-w",
                "-t",
                PG_CTL_TIMEOUT_SECS,
                "start",
            ]),
        )
        .map(drop)
    }

    fn pg_ctl_stop(&self, mode: &str) -> Result<(), String> {
        check(
            &format!("pg_ctl -m {mode} stop (port {})", self.port),
            self.server_cmd("pg_ctl").arg("-D").arg(&self.data).args([
                "-m",
                mode,
                "-w",
                "-t",
                PG_CTL_TIMEOUT_SECS,
                "stop",
            ]),
        )
        .map(drop)
    }

    fn psql_in(&self, database: &str, sql: &str) -> Result<String, String> {
        let stdout = check(
            &format!("psql on port {}: {sql}", self.port),
            client_cmd(&self.bin.join("psql"))
                .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres"])
                .args(["-p", &self.port.to_string(), "-d", database, "-c", sql]),
        )?;
        Ok(stdout.strip_suffix('\n').unwrap_or(&stdout).to_string())
    }

    /// A server-side program (`initdb`, `pg_ctl`, …), run as `postgres` when we are root.
    fn server_cmd(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut cmd = match self.run_as {
            Some(_) => {
                let mut c = client_cmd(Path::new("runuser"));
                c.args(["-u", "postgres", "--"]).arg(path);
                c
            }
            None => client_cmd(&path),
        };
        // Our working directory may be unreadable for `postgres`.
        cmd.current_dir(self.dir.path());
        cmd
    }

    /// A shell process that outlives nothing: once the test process is gone
    /// (however it died), it stops the server and removes the directory.
    fn spawn_watchdog(&self) -> Result<Child, String> {
        const SCRIPT: &str = r#"
trap '' INT TERM HUP
owner=$1; data=$2; dir=$3; shift 3
# Gone, or a zombie nobody has reaped yet.
alive() { kill -0 "$1" 2>/dev/null && ! grep -q ') Z ' "/proc/$1/stat" 2>/dev/null; }
while alive "$owner"; do sleep 1; done
if [ -f "$data/postmaster.pid" ]; then "$@" -D "$data" -m immediate -w -t 30 stop >/dev/null 2>&1; fi
rm -rf -- "$dir"
"#;
        let mut cmd = client_cmd(Path::new("/bin/sh"));
        cmd.arg("-c")
            .arg(SCRIPT)
            .arg("citygrid-testpg-watchdog")
            .arg(std::process::id().to_string())
            .arg(&self.data)
            .arg(self.dir.path());
        if self.run_as.is_some() {
            cmd.args(["runuser", "-u", "postgres", "--"]);
        }
        cmd.arg(self.bin.join("pg_ctl"))
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawning the cleanup watchdog (/bin/sh): {e}"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.data.join("postmaster.pid").exists() {
            let stopped = self.pg_ctl_stop("immediate").is_ok();
            if !stopped {
                // Last resort: the postmaster's PID is the first line of postmaster.pid.
                let pid = fs::read_to_string(self.data.join("postmaster.pid"))
                    .ok()
                    .and_then(|s| s.lines().next().map(|l| l.trim().to_string()))
                    .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
                if let Some(pid) = pid {
                    let _ =
                        Command::new("kill").args(["-KILL", &pid]).stdout(Stdio::null()).stderr(Stdio::null()).status();
                }
            }
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        // `self.dir` is removed when the field drops.
    }
}

/// A command with no inherited `PG*` variables (they would redirect
/// connections, data directories, …) and C-locale messages, so log matching works.
fn client_cmd(program: &Path) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(key);
        }
    }
    cmd.env("LC_ALL", "C").stdin(Stdio::null());
    cmd
}

/// Stdout of a finished command, or an error with its status and output.
/// With `CITYGRID_TESTPG_TRACE` set, each command and its duration go to stderr.
fn check(what: &str, cmd: &mut Command) -> Result<String, String> {
    let started = Instant::now();
    let out = cmd.output();
    if std::env::var_os("CITYGRID_TESTPG_TRACE").is_some() {
        eprintln!("citygrid-testpg: {:>8.3?}  {what}", started.elapsed());
    }
    let out = out.map_err(|e| format!("{what}: could not run: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut message = format!("{what}: {}", out.status);
    for stream in [stderr.trim_end(), stdout.trim_end()] {
        if !stream.is_empty() {
            message.push('\n');
            message.push_str(stream);
        }
    }
    Err(message)
}

/// The directory with `initdb`, `pg_ctl`, …: `$CITYGRID_TESTPG_BIN`, else the
/// newest `/usr/lib/postgresql/<version>/bin` (Debian's layout).
fn bin_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("CITYGRID_TESTPG_BIN") {
        let dir = PathBuf::from(dir);
        return if dir.join("initdb").is_file() {
            Ok(dir)
        } else {
            Err(format!("CITYGRID_TESTPG_BIN={} has no initdb", dir.display()))
        };
    }
    let root = Path::new("/usr/lib/postgresql");
    let newest = fs::read_dir(root)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version);
    newest.map(|(_, bin)| bin).ok_or_else(|| {
        format!(
            "no PostgreSQL server binaries: expected {}/<version>/bin/initdb (Debian: apt-get install postgresql) \
             or CITYGRID_TESTPG_BIN",
            root.display()
        )
    })
}

/// `Some(postgres)` when we run as root, `None` otherwise.
fn run_as() -> Result<Option<RunAs>, String> {
    let uid = match fs::metadata("/proc/self") {
        Ok(meta) => meta.uid(),
        Err(_) => id(&["-u"])?,
    };
    if uid != 0 {
        return Ok(None);
    }
    let need = |e: String| format!("running as root needs an OS user `postgres` to run the server as: {e}");
    Ok(Some(RunAs { uid: id(&["-u", "postgres"]).map_err(need)?, gid: id(&["-g", "postgres"]).map_err(need)? }))
}

fn id(args: &[&str]) -> Result<u32, String> {
    let out = check(&format!("id {}", args.join(" ")), Command::new("id").args(args))?;
    out.trim().parse().map_err(|e| format!("id {}: {e}: {out:?}", args.join(" ")))
}

/// Errors unless every directory from `/` down to `dir` is searchable by others.
fn check_traversable(dir: &Path) -> Result<(), String> {
    for ancestor in dir.ancestors() {
        let meta = fs::metadata(ancestor).map_err(|e| format!("{}: {e}", ancestor.display()))?;
        if meta.mode() & 0o001 == 0 {
            return Err(format!(
                "{} is not searchable by other users, so `postgres` cannot reach a cluster under {}",
                ancestor.display(),
                dir.display()
            ));
        }
    }
    Ok(())
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("finding a free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| format!("finding a free port: {e}"))
}

/// `X/Y` (two hex halves) as one number.
fn parse_lsn(text: &str) -> Result<u64, String> {
    let bad = || format!("not an LSN: {text:?}");
    let (hi, lo) = text.trim().split_once('/').ok_or_else(bad)?;
    let hi = u64::from_str_radix(hi, 16).map_err(|_| bad())?;
    let lo = u64::from_str_radix(lo, 16).map_err(|_| bad())?;
    if hi > u64::from(u32::MAX) || lo > u64::from(u32::MAX) {
        return Err(bad());
    }
    Ok(hi << 32 | lo)
}

/// The last `lines` lines of a file (reads at most its last 64 KiB).
fn tail(path: &Path, lines: usize) -> String {
    let read = || -> std::io::Result<String> {
        let mut file = fs::File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(no server log at {}: {e})", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_lsn;

    #[test]
    fn lsns_compare_as_numbers() {
        assert_eq!(parse_lsn("0/0"), Ok(0));
        assert_eq!(parse_lsn("1/0").map(|n| n > 0xFFFF_FFFF), Ok(true));
        assert!(parse_lsn("0/3000148") > parse_lsn("0/300014"));
        assert!(parse_lsn("").is_err());
        assert!(parse_lsn("12").is_err());
    }
}
