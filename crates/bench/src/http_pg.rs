//! `citygrid-bench http-postgres`: case creation over HTTP on PostgreSQL
//! against the embedded store, in one run (issue 9; docs/benchmarks.md).
//!
//! Every round runs three setups, in an order that rotates from round to
//! round so drift in the machine's speed hits them alike:
//!
//! - the shipped server on the embedded store (a fresh data directory), as
//!   `citygrid-bench http` runs it;
//! - the shipped server on PostgreSQL: a fresh database on `--database-server`,
//!   created for the run and dropped after it;
//! - two shipped servers (two `App`s, each with its own `PgStore` and pool,
//!   each on its own port) on one fresh database, driven at the same time by
//!   two wrk processes with half the connections each.
//!
//! All are seeded as `http` seeds (Wuhu territory, catalogue, the bench user)
//! and driven with `scripts/create_case.lua`. Commits must be durable: the
//! benchmark refuses to run unless `SHOW synchronous_commit` is `on` (and
//! `fsync` too) on the fresh database.

use std::path::Path;

use citygrid_server::App;
use citygrid_store::{CaseScope, Store};
use citygrid_store_postgres::{PgOptions, PgStore};
use tokio::sync::oneshot;
use tokio_postgres::NoTls;

use crate::http::{login, open_sqlite, start};
use crate::machine::{machine, median};
use crate::wrk::{Run, WrkResult};

/// What to run.
pub struct Options<'a> {
    /// The wrk binary.
    pub wrk: &'a str,
    /// Directory with the Lua scripts.
    pub scripts: &'a Path,
    /// Seconds per wrk run.
    pub secs: u64,
    /// Connections of the load (split in two for two instances).
    pub conns: u32,
    /// Rounds of the three setups.
    pub rounds: usize,
    /// Cases the embedded store keeps in memory.
    pub cached_cases: usize,
    /// A database on the PostgreSQL server, to create and drop the
    /// benchmark's own databases from.
    pub server: &'a str,
    /// Pooled connections per `PgStore`.
    pub pool_size: usize,
    /// Workers batching case creations per `PgStore`.
    pub create_workers: usize,
}

/// The three setups of a round.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Setup {
    /// The shipped server on the embedded store.
    Embedded,
    /// One shipped server on PostgreSQL.
    PgOne,
    /// Two shipped servers on one PostgreSQL database.
    PgTwo,
}

impl Setup {
    const ALL: [Setup; 3] = [Setup::Embedded, Setup::PgOne, Setup::PgTwo];

    fn label(self) -> &'static str {
        match self {
            Setup::Embedded => "embedded store (SQLite), one instance",
            Setup::PgOne => "PostgreSQL, one instance",
            Setup::PgTwo => "PostgreSQL, two instances, combined",
        }
    }
}

/// One setup's numbers in one round.
#[derive(Clone, Debug)]
pub struct Measured {
    /// Which setup.
    pub setup: Setup,
    /// Round (from 1).
    pub round: usize,
    /// One wrk result per instance.
    pub each: Vec<WrkResult>,
}

impl Measured {
    /// All instances together: requests/s and requests summed, latency the
    /// worst instance's (percentiles of separate runs do not add up).
    fn combined(&self) -> WrkResult {
        WrkResult {
            rps: self.each.iter().map(|r| r.rps).sum(),
            requests: self.each.iter().map(|r| r.requests).sum(),
            errors: self.each.iter().map(|r| r.errors).sum(),
            p50: self.each.iter().map(|r| r.p50).fold(0.0, f64::max),
            p90: self.each.iter().map(|r| r.p90).fold(0.0, f64::max),
            p99: self.each.iter().map(|r| r.p99).fold(0.0, f64::max),
        }
    }
}

/// The PostgreSQL server's settings that matter here, as it reported them.
#[derive(Clone, Debug, Default)]
pub struct PgSettings {
    /// `SHOW server_version`.
    pub version: String,
    /// `SHOW synchronous_commit`.
    pub synchronous_commit: String,
    /// `SHOW fsync`.
    pub fsync: String,
    /// `SHOW wal_sync_method`.
    pub wal_sync_method: String,
}

/// Everything the run measured.
pub struct Outcome {
    /// Every setup of every round, in the order run.
    pub runs: Vec<Measured>,
    /// The server's settings (checked on every fresh database).
    pub settings: PgSettings,
}

/// A database of its own on the server, dropped by [`BenchDatabase::drop`].
struct BenchDatabase {
    server: String,
    name: String,
    url: String,
}

impl BenchDatabase {
    async fn create(server: &str) -> Result<BenchDatabase, String> {
        let name = format!("cg_bench_{:016x}", rand::random::<u64>());
        admin(server, &format!("CREATE DATABASE {name}")).await.map_err(|e| {
            format!("cannot create a database on the PostgreSQL server {}: {e}", citygrid::database::redact(server))
        })?;
        let url = citygrid_testpg::with_database(server, &name);
        Ok(BenchDatabase { server: server.to_owned(), name, url })
    }

    async fn drop(self) -> Result<(), String> {
        admin(&self.server, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
            .await
            .map_err(|e| format!("cannot drop the benchmark's database {}: {e}", self.name))
    }
}

/// Runs `sql` on its own connection to `url`.
async fn admin(url: &str, sql: &str) -> Result<(), String> {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.map_err(|e| e.to_string())?;
    let task = tokio::spawn(conn);
    let r = client.batch_execute(sql).await.map_err(|e| e.to_string());
    drop(client);
    let _ = task.await;
    r
}

/// The settings on a connection to `url`, as the store's connections get them.
async fn settings(url: &str) -> Result<PgSettings, String> {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.map_err(|e| e.to_string())?;
    let task = tokio::spawn(conn);
    let mut v = vec![];
    for name in ["server_version", "synchronous_commit", "fsync", "wal_sync_method"] {
        let row = client.query_one(&format!("SHOW {name}"), &[]).await.map_err(|e| e.to_string())?;
        v.push(row.get::<_, String>(0));
    }
    drop(client);
    let _ = task.await;
    let mut v = v.into_iter();
    let mut next = || v.next().unwrap_or_default();
    Ok(PgSettings { version: next(), synchronous_commit: next(), fsync: next(), wal_sync_method: next() })
}

/// Runs the benchmark.
pub async fn run(o: &Options<'_>) -> Result<Outcome, String> {
    let mut runs = vec![];
    let mut seen: Option<PgSettings> = None;
    for round in 0..o.rounds.max(1) {
        for i in 0..Setup::ALL.len() {
            let setup = Setup::ALL[(i + round) % Setup::ALL.len()];
            let each = match setup {
                Setup::Embedded => {
                    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
                    let store = open_sqlite(dir.path(), false, o.cached_cases)?;
                    let (base, stop, app) = start(store, false, true).await?;
                    let r = drive(o, vec![(base, stop, app)]).await;
                    r?
                }
                Setup::PgOne | Setup::PgTwo => {
                    let db = BenchDatabase::create(o.server).await?;
                    let r = on_postgres(o, &db.url, if setup == Setup::PgOne { 1 } else { 2 }).await;
                    let dropped = db.drop().await;
                    let (each, s) = r?;
                    dropped?;
                    seen = Some(s);
                    each
                }
            };
            eprintln!(
                "round {} {}: {:.0} cases/s",
                round + 1,
                setup.label(),
                each.iter().map(|r: &WrkResult| r.rps).sum::<f64>()
            );
            runs.push(Measured { setup, round: round + 1, each });
        }
    }
    Ok(Outcome { runs, settings: seen.unwrap_or_default() })
}

/// `instances` servers, each with its own store and pool, on the database at `url`.
async fn on_postgres(o: &Options<'_>, url: &str, instances: usize) -> Result<(Vec<WrkResult>, PgSettings), String> {
    let s = settings(url).await?;
    if s.synchronous_commit != "on" || s.fsync != "on" {
        return Err(format!(
            "the benchmark measures durable commits, but the server has synchronous_commit = {} and fsync = {}",
            s.synchronous_commit, s.fsync
        ));
    }
    let mut servers = vec![];
    for i in 0..instances {
        let opts = PgOptions { pool_size: o.pool_size, create_workers: o.create_workers, ..PgOptions::default() };
        let store = PgStore::connect(url, opts).await.map_err(|e| format!("cannot open the PostgreSQL store: {e}"))?;
        // The first instance seeds the database; the others find it seeded.
        servers.push(start(store, false, i == 0).await?);
    }
    Ok((drive(o, servers).await?, s))
}

/// Logs in on every server, runs one wrk per server at the same time (the
/// connections split between them), checks the store holds every
/// acknowledged case, and stops the servers.
async fn drive<S: Store>(
    o: &Options<'_>,
    servers: Vec<(String, oneshot::Sender<()>, App<S>)>,
) -> Result<Vec<WrkResult>, String> {
    let n = u32::try_from(servers.len()).unwrap_or(1).max(1);
    let mut runs = vec![];
    for (i, (base, _, _)) in servers.iter().enumerate() {
        let token = login(base).await?;
        let conns = o.conns / n + u32::from((i as u32) < o.conns % n);
        runs.push(Run {
            wrk: o.wrk.to_owned(),
            script: o.scripts.join("create_case.lua"),
            url: base.clone(),
            token: Some(token),
            secs: o.secs,
            conns: conns.max(1),
            env: vec![],
        });
    }
    let tasks: Vec<_> = runs.into_iter().map(|r| tokio::spawn(r.go())).collect();
    let mut each = vec![];
    for t in tasks {
        each.push(t.await.map_err(|e| e.to_string())??);
    }
    let acknowledged: u64 = each.iter().map(|r| r.requests.saturating_sub(r.errors)).sum();
    if let Some((_, _, app)) = servers.first() {
        let stored: u64 =
            app.store.count_by_state(CaseScope::All).await.map_err(|e| e.to_string())?.iter().map(|c| c.1).sum();
        if stored < acknowledged {
            return Err(format!("acknowledged {acknowledged} creations but the store holds {stored}"));
        }
    }
    for (_, stop, app) in servers {
        let _ = stop.send(());
        drop(app);
    }
    Ok(each)
}

/// The report: settings, every run, medians, ratios.
pub fn report(out: &Outcome, o: &Options<'_>) -> String {
    let s = &out.settings;
    let mut r = format!(
        "wrk -t1 -c{c} -d{secs}s --latency -s create_case.lua per run (two instances: two wrk at the same time, -c{h} \
         each), {rounds} rounds, setups in rotating order, {machine}\nPostgreSQL {v}: synchronous_commit = {sc}, \
         fsync = {fs}, wal_sync_method = {ws}; {pool} pooled connections and {workers} creation batch workers per instance; a fresh database per run\n\n\
         | round | setup | create cases/s | p50 / p99 ms | errors |\n|---|---|---|---|---|\n",
        c = o.conns,
        secs = o.secs,
        h = o.conns / 2,
        rounds = o.rounds.max(1),
        machine = machine(),
        v = s.version,
        sc = s.synchronous_commit,
        fs = s.fsync,
        ws = s.wal_sync_method,
        pool = o.pool_size,
        workers = o.create_workers,
    );
    let row = |r: &mut String, round: &str, name: &str, w: &WrkResult| {
        r.push_str(&format!("| {round} | {name} | {:.0} | {:.2} / {:.2} | {} |\n", w.rps, w.p50, w.p99, w.errors));
    };
    for m in &out.runs {
        let round = m.round.to_string();
        row(&mut r, &round, m.setup.label(), &m.combined());
        if m.each.len() > 1 {
            for (i, w) in m.each.iter().enumerate() {
                row(&mut r, &round, &format!("… instance {}", i + 1), w);
            }
        }
    }
    let med = |runs: Vec<WrkResult>| WrkResult {
        rps: median(runs.iter().map(|w| w.rps).collect()),
        p50: median(runs.iter().map(|w| w.p50).collect()),
        p99: median(runs.iter().map(|w| w.p99).collect()),
        errors: runs.iter().map(|w| w.errors).sum(),
        ..WrkResult::default()
    };
    let of = |setup: Setup| out.runs.iter().filter(move |m| m.setup == setup);
    let embedded = med(of(Setup::Embedded).map(Measured::combined).collect());
    let one = med(of(Setup::PgOne).map(Measured::combined).collect());
    let two = med(of(Setup::PgTwo).map(Measured::combined).collect());
    r.push_str(
        "\nMedians over the rounds (two instances combined: requests/s summed, latency the worse instance's):\n\n\
         | setup | create cases/s | p50 / p99 ms | errors | vs embedded |\n|---|---|---|---|---|\n",
    );
    let mrow = |r: &mut String, name: &str, w: &WrkResult| {
        r.push_str(&format!(
            "| {name} | {:.0} | {:.2} / {:.2} | {} | {:.2} |\n",
            w.rps,
            w.p50,
            w.p99,
            w.errors,
            w.rps / embedded.rps.max(1.0)
        ));
    };
    mrow(&mut r, Setup::Embedded.label(), &embedded);
    mrow(&mut r, Setup::PgOne.label(), &one);
    mrow(&mut r, Setup::PgTwo.label(), &two);
    for i in 0..2 {
        let w = med(of(Setup::PgTwo).filter_map(|m| m.each.get(i).cloned()).collect());
        mrow(&mut r, &format!("… instance {} of two", i + 1), &w);
    }
    let slower = embedded.rps / one.rps.max(1.0);
    r.push_str(&format!(
        "\nPostgreSQL / embedded: {:.2} (one instance; the embedded store is {slower:.2}× faster), {:.2} (two \
         instances combined); two instances / one: {:.2}. Target (within 2× of embedded, one instance): {}.\n",
        one.rps / embedded.rps.max(1.0),
        two.rps / embedded.rps.max(1.0),
        two.rps / one.rps.max(1.0),
        if slower <= 2.0 { "met" } else { "not met" },
    ));
    r
}
