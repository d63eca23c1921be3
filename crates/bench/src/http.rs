//! `citygrid-bench http`: the HTTP numbers in docs/benchmarks.md.
//!
//! The real server runs in-process on a fresh store with the Wuhu territory,
//! twice per round — once as a baseline without policy checks or audit trail
//! (possible only in this crate's build, through the `unchecked-baseline`
//! and `unaudited-baseline` features), once as shipped — and `wrk` (a
//! separate process) drives it with the scripts in `scripts/`:
//!
//! - case creation (locate, timeline entry, audit, durable group commit);
//! - `GET /api/v1/cases/{id}` on the cases just created (warm: they are in
//!   the store's case cache);
//! - the same GETs while a burst of logins (Argon2id) runs beside them, to
//!   show that password hashing stays off the request workers;
//! - the same GETs after the store is reopened with the case cache off
//!   (cold: every read goes to SQLite).

use citygrid_store::prelude::*;
use std::path::Path;
use std::process::Command;

use chrono::Utc;
use citygrid::bootstrap::cli_event;
use citygrid::reference;
use citygrid_domain::access::Role;
use citygrid_domain::case::DeadlinePolicy;
use citygrid_server::auth::password::hash_password;
use citygrid_server::vault::Vault;
use citygrid_server::world::stored_unit;
use citygrid_server::{App, AppParts, ServerConfig};
use citygrid_store::{Store, UserRecord};
use citygrid_store_sqlite::{SqliteOptions, SqliteStore};

use crate::machine::{machine, median};
use crate::wrk::{Run, WrkResult};

pub(crate) const USER: &str = "bench.operator";
pub(crate) const PASSWORD: &str = "Bench-Operator-2026";

/// What to run.
pub struct Options<'a> {
    /// The wrk binary.
    pub wrk: &'a str,
    /// Directory with the Lua scripts.
    pub scripts: &'a Path,
    /// Seconds per wrk run.
    pub secs: u64,
    /// Connections of the measured load.
    pub conns: u32,
    /// Connections of the login burst.
    pub login_conns: u32,
    /// Rounds of (baseline, shipped).
    pub rounds: usize,
    /// Cases the store keeps in memory (warm runs).
    pub cached_cases: usize,
}

/// One server variant's numbers in one round.
#[derive(Clone)]
pub struct Variant {
    /// Label.
    pub name: &'static str,
    /// Creation run.
    pub create: WrkResult,
    /// Reads of cached cases.
    pub read: WrkResult,
    /// Reads of cached cases during a login burst, and the burst itself.
    pub during_logins: Option<(WrkResult, WrkResult)>,
    /// Reads with the case cache off, after reopening the store.
    pub cold: Option<WrkResult>,
}

/// The embedded store in `dir`, as `serve` opens it (or, for the baseline,
/// without the audit trail).
pub(crate) fn open_sqlite(dir: &Path, baseline: bool, cached_cases: usize) -> Result<SqliteStore, String> {
    let opts = SqliteOptions { audit_trail: !baseline, cached_cases, ..SqliteOptions::default() };
    SqliteStore::open_dir(dir, opts).map_err(|e| e.to_string())
}

/// A server on `store`, on a free port of 127.0.0.1; `seed` loads the
/// territory, catalogue and user first. Returns its base URL, the sender
/// that stops it and the app (whose store the caller may inspect).
pub(crate) async fn start<S: Store>(
    store: S,
    baseline: bool,
    seed: bool,
) -> Result<(String, tokio::sync::oneshot::Sender<()>, App<S>), String> {
    if seed {
        seed_store(&store).await?;
    }
    let config = ServerConfig {
        nearby_radius_m: 200.0,
        public_per_minute: 1_000_000,
        login_per_minute: 1_000_000,
        ..ServerConfig::default()
    };
    let parts = AppParts {
        store,
        calendar: reference::calendar(None)?,
        policy: DeadlinePolicy::default(),
        vault: Vault::ephemeral(),
        config,
        metrics_token: None,
    };
    let app = if baseline { App::load_unchecked(parts).await? } else { App::load(parts).await? };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let base = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let served = app.clone();
    tokio::spawn(async move {
        let _ = citygrid_server::serve(listener, served, async {
            let _ = rx.await;
        })
        .await;
    });
    Ok((base, tx, app))
}

async fn seed_store<S: Store>(store: &S) -> Result<(), String> {
    let territory = tokio::task::spawn_blocking(|| citygrid_geo::wuhu_demo(0))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let units = territory.iter().map(stored_unit).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
    let e = |x: citygrid_store::StoreError| x.to_string();
    store.upsert_units(units, cli_event("territory.import", "bench")).await.map_err(e)?;
    store
        .put_categories(reference::parse_categories(reference::CATEGORIES_CSV)?, cli_event("x", "bench"))
        .await
        .map_err(e)?;
    store
        .put_departments(reference::parse_departments(reference::DEPARTMENTS_CSV)?, cli_event("x", "bench"))
        .await
        .map_err(e)?;
    let user = UserRecord {
        id: USER.into(),
        username: USER.into(),
        display_name: USER.into(),
        role: Role::Operator,
        unit: citygrid_domain::UnitCode::parse("340200").ok(),
        department: None,
        password_hash: hash_password(PASSWORD)?,
        active: true,
        failed_logins: 0,
        locked_until: None,
        created_at: Utc::now(),
    };
    store.create_user(user, cli_event("user.create", "bench")).await.map_err(e)
}

pub(crate) async fn login(base: &str) -> Result<String, String> {
    let body = serde_json::json!({"username": USER, "password": PASSWORD}).to_string();
    let out = tokio::task::spawn_blocking({
        let url = format!("{base}/api/v1/auth/login");
        move || {
            Command::new("curl")
                .args(["-s", "-XPOST", &url, "-H", "content-type: application/json", "-d", &body])
                .output()
        }
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("curl: {e}"))?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    v["token"].as_str().map(str::to_owned).ok_or_else(|| format!("login failed: {v}"))
}

const BASELINE: &str = "baseline (no policy checks, no audit trail)";
const SHIPPED: &str = "as shipped (policy + audit)";

/// Runs the HTTP benchmark: baseline and shipped servers alternating for
/// `rounds` rounds, each on a fresh store, so drift in the machine's speed
/// hits both alike.
pub async fn http(o: &Options<'_>) -> Result<Vec<Variant>, String> {
    let mut out = vec![];
    let order = [(BASELINE, true), (SHIPPED, false)];
    for (name, baseline) in (0..o.rounds.max(1)).flat_map(|r| if r % 2 == 0 { order } else { [order[1], order[0]] }) {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let (base, stop, app) = start(open_sqlite(dir.path(), baseline, o.cached_cases)?, baseline, true).await?;
        let token = login(&base).await?;
        let run = |script: &str, base: &str, token: Option<&str>, conns: u32| Run {
            wrk: o.wrk.to_owned(),
            script: o.scripts.join(script),
            url: base.to_owned(),
            token: token.map(str::to_owned),
            secs: o.secs,
            conns,
            env: vec![],
        };
        let create = run("create_case.lua", &base, Some(&token), o.conns).go().await?;
        let stored: u64 = app
            .store
            .count_by_state(citygrid_store::CaseScope::All)
            .await
            .map_err(|e| e.to_string())?
            .iter()
            .map(|c| c.1)
            .sum();
        if stored < create.requests.saturating_sub(create.errors) {
            return Err(format!(
                "acknowledged {} creations but the store holds {stored}",
                create.requests - create.errors
            ));
        }
        let reads = |base: &str| Run {
            env: vec![("CASES", stored.max(1).to_string())],
            ..run("get_case.lua", base, Some(&token), o.conns)
        };
        let read = reads(&base).go().await?;
        let (mut during_logins, mut cold) = (None, None);
        if !baseline {
            let logins = Run {
                env: vec![("USER_NAME", USER.to_owned()), ("PASSWORD", PASSWORD.to_owned())],
                ..run("login.lua", &base, None, o.login_conns)
            };
            let burst = tokio::spawn(logins.go());
            let during = reads(&base).go().await?;
            let burst = burst.await.map_err(|e| e.to_string())??;
            during_logins = Some((during, burst));
        }
        let _ = stop.send(());
        drop(app);
        if !baseline {
            // The same store reopened with the case cache off: every read from SQLite.
            let (base, stop, _app) = start(open_sqlite(dir.path(), false, 0)?, false, false).await?;
            cold = Some(reads(&base).go().await?);
            let _ = stop.send(());
        }
        out.push(Variant { name, create, read, during_logins, cold });
    }
    Ok(out)
}

/// Formats the HTTP results as a Markdown table: every run, then medians.
pub fn http_report(v: &[Variant], o: &Options<'_>) -> String {
    let (secs, conns, login_conns) = (o.secs, o.conns, o.login_conns);
    let mut s = format!(
        "wrk -t1 -c{conns} -d{secs}s per run (logins: a second wrk, -c{login_conns}) (one load thread, so it takes less of the two cores from the server), {}\n\n| server | create cases/s | create p50 / p99 ms | create errors | GET case req/s | GET p50 / p99 ms | GET errors |\n|---|---|---|---|---|---|---|\n",
        machine()
    );
    let row = |s: &mut String, name: &str, c: &WrkResult, r: &WrkResult| {
        s.push_str(&format!(
            "| {} | {:.0} | {:.2} / {:.2} | {} | {:.0} | {:.2} / {:.2} | {} |\n",
            name, c.rps, c.p50, c.p99, c.errors, r.rps, r.p50, r.p99, r.errors
        ));
    };
    for x in v {
        row(&mut s, x.name, &x.create, &x.read);
    }
    let med = |name: &str| {
        let runs: Vec<&Variant> = v.iter().filter(|x| x.name == name).collect();
        let m = |f: &dyn Fn(&Variant) -> f64| median(runs.iter().map(|x| f(x)).collect());
        let c = WrkResult {
            rps: m(&|x| x.create.rps),
            p50: m(&|x| x.create.p50),
            p99: m(&|x| x.create.p99),
            errors: runs.iter().map(|x| x.create.errors).sum(),
            ..WrkResult::default()
        };
        let r = WrkResult {
            rps: m(&|x| x.read.rps),
            p50: m(&|x| x.read.p50),
            p99: m(&|x| x.read.p99),
            errors: runs.iter().map(|x| x.read.errors).sum(),
            ..WrkResult::default()
        };
        (c, r)
    };
    let (bc, br) = med(BASELINE);
    let (sc, sr) = med(SHIPPED);
    row(&mut s, &format!("**median** {BASELINE}"), &bc, &br);
    row(&mut s, &format!("**median** {SHIPPED}"), &sc, &sr);
    s.push_str(&format!(
        "\nPolicy checks + audit trail cost {:.1}% of median creation throughput.\n",
        (1.0 - sc.rps / bc.rps.max(1.0)) * 100.0
    ));
    s.push_str(&reads_report(v));
    s
}

/// `GET /api/v1/cases/{id}` as shipped: warm, during a login burst, cold.
fn reads_report(v: &[Variant]) -> String {
    let shipped: Vec<&Variant> = v.iter().filter(|x| x.name == SHIPPED).collect();
    let mut s = String::from(
        "\nGET /api/v1/cases/{id} as shipped, per round (p50 / p99 ms, req/s):\n\n| round | warm (cached cases) | during a login burst | logins/s in the burst | cold (cache off, store reopened) |\n|---|---|---|---|---|\n",
    );
    let cell = |r: &WrkResult| format!("{:.2} / {:.2} ms, {:.0}/s{}", r.p50, r.p99, r.rps, errors(r));
    for (i, x) in shipped.iter().enumerate() {
        let (during, burst) = x.during_logins.as_ref().map_or(("–".into(), "–".into()), |(d, b)| {
            (cell(d), format!("{:.0} (p50 {:.0} ms){}", b.rps, b.p50, errors(b)))
        });
        let cold = x.cold.as_ref().map_or("–".into(), cell);
        s.push_str(&format!("| {} | {} | {during} | {burst} | {cold} |\n", i + 1, cell(&x.read)));
    }
    let m = |f: &dyn Fn(&Variant) -> Option<f64>| median(shipped.iter().filter_map(|x| f(x)).collect());
    s.push_str(&format!(
        "| **median** | {:.2} / {:.2} ms, {:.0}/s | {:.2} / {:.2} ms, {:.0}/s | {:.0} | {:.2} / {:.2} ms, {:.0}/s |\n",
        m(&|x| Some(x.read.p50)),
        m(&|x| Some(x.read.p99)),
        m(&|x| Some(x.read.rps)),
        m(&|x| x.during_logins.as_ref().map(|d| d.0.p50)),
        m(&|x| x.during_logins.as_ref().map(|d| d.0.p99)),
        m(&|x| x.during_logins.as_ref().map(|d| d.0.rps)),
        m(&|x| x.during_logins.as_ref().map(|d| d.1.rps)),
        m(&|x| x.cold.as_ref().map(|c| c.p50)),
        m(&|x| x.cold.as_ref().map(|c| c.p99)),
        m(&|x| x.cold.as_ref().map(|c| c.rps)),
    ));
    s
}

fn errors(r: &WrkResult) -> String {
    if r.errors == 0 { String::new() } else { format!(", {} errors", r.errors) }
}
