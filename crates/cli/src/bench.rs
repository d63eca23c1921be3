//! `citygrid bench`: the performance numbers in docs/benchmarks.md.
//!
//! - `bench http` starts the real server in-process on a fresh store with the
//!   Wuhu territory, twice — once as a baseline without policy checks or
//!   audit trail, once as shipped — and drives each with `wrk` (a separate
//!   process) using the scripts in `bench/`: case creation (locate, timeline
//!   entry, durable commit) and `GET /api/v1/cases/{id}` latency.
//! - `bench startup` times `citygrid demo` from an empty data directory to a
//!   healthy `/healthz`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use citygrid_domain::access::Role;
use citygrid_domain::case::DeadlinePolicy;
use citygrid_server::auth::password::hash_password;
use citygrid_server::blobs::Blobs;
use citygrid_server::vault::Vault;
use citygrid_server::world::stored_unit;
use citygrid_server::{App, AppParts, ServerConfig};
use citygrid_store::{Store, UserRecord};
use citygrid_store_sqlite::{SqliteOptions, SqliteStore};

use crate::bootstrap::cli_event;
use crate::reference;

const USER: &str = "bench.operator";
const PASSWORD: &str = "Bench-Operator-2026";

/// What one wrk run measured.
#[derive(Debug, Default, Clone)]
pub struct WrkResult {
    /// Requests per second.
    pub rps: f64,
    /// Total requests.
    pub requests: u64,
    /// Responses that were not 2xx/3xx.
    pub errors: u64,
    /// Latency percentiles in ms: 50, 90, 99.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
}

fn ms(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic())?);
    let v: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => v / 1000.0,
        "ms" => v,
        "s" => v * 1000.0,
        "m" => v * 60_000.0,
        _ => return None,
    })
}

/// Parses wrk's `--latency` report.
pub fn parse_wrk(out: &str) -> WrkResult {
    let mut r = WrkResult::default();
    for line in out.lines().map(str::trim) {
        let mut parts = line.split_whitespace();
        match (parts.next(), parts.next()) {
            (Some("Requests/sec:"), Some(v)) => r.rps = v.parse().unwrap_or(0.0),
            (Some("50%"), Some(v)) => r.p50 = ms(v).unwrap_or(0.0),
            (Some("90%"), Some(v)) => r.p90 = ms(v).unwrap_or(0.0),
            (Some("99%"), Some(v)) => r.p99 = ms(v).unwrap_or(0.0),
            (Some("Non-2xx"), _) => r.errors = line.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0),
            (Some(n), Some("requests")) => r.requests = n.parse().unwrap_or(0),
            _ => {}
        }
    }
    r
}

fn run_wrk(
    wrk: &str,
    script: &Path,
    url: &str,
    token: &str,
    secs: u64,
    conns: u32,
    cases: u64,
) -> Result<WrkResult, String> {
    let out = Command::new(wrk)
        .args(["-t1", &format!("-c{conns}"), &format!("-d{secs}s"), "--latency", "-s"])
        .arg(script)
        .args(["-H", &format!("Authorization: Bearer {token}"), url])
        .env("CASES", cases.to_string())
        .output()
        .map_err(|e| format!("cannot run {wrk} (install it: apt-get install wrk): {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        return Err(format!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(parse_wrk(&text))
}

/// One server variant's numbers in one round.
#[derive(Clone)]
pub struct Variant {
    /// Label.
    pub name: &'static str,
    /// Creation run.
    pub create: WrkResult,
    /// Read run.
    pub read: WrkResult,
}

async fn start(
    dir: &Path,
    baseline: bool,
    cached_cases: usize,
) -> Result<(String, tokio::sync::oneshot::Sender<()>, App<SqliteStore>), String> {
    let opts = SqliteOptions { audit_trail: !baseline, cached_cases, ..SqliteOptions::default() };
    let store = SqliteStore::open_dir(dir, opts).map_err(|e| e.to_string())?;
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
    store.create_user(user, cli_event("user.create", "bench")).await.map_err(e)?;
    let config = ServerConfig { nearby_radius_m: 200.0, public_per_minute: 1_000_000, ..ServerConfig::default() };
    let app = App::load(AppParts {
        store,
        calendar: reference::calendar(None)?,
        policy: DeadlinePolicy::default(),
        vault: Vault::ephemeral(),
        blobs: Blobs::new(dir.join("attachments")),
        config,
        metrics_token: None,
        unchecked_baseline: baseline,
    })
    .await?;
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

async fn login(base: &str) -> Result<String, String> {
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
pub async fn http(
    wrk: &str,
    scripts: &Path,
    secs: u64,
    conns: u32,
    rounds: usize,
    cached_cases: usize,
) -> Result<Vec<Variant>, String> {
    let mut out = vec![];
    let order = [(BASELINE, true), (SHIPPED, false)];
    for (name, baseline) in (0..rounds.max(1)).flat_map(|r| if r % 2 == 0 { order } else { [order[1], order[0]] }) {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let (base, stop, app) = start(dir.path(), baseline, cached_cases).await?;
        let token = login(&base).await?;
        let (w, s, b, t) = (wrk.to_owned(), scripts.join("create_case.lua"), base.clone(), token.clone());
        let create = tokio::task::spawn_blocking(move || run_wrk(&w, &s, &b, &t, secs, conns, 0))
            .await
            .map_err(|e| e.to_string())??;
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
        let (w, s, b, t) = (wrk.to_owned(), scripts.join("get_case.lua"), base.clone(), token.clone());
        let read = tokio::task::spawn_blocking(move || run_wrk(&w, &s, &b, &t, secs, conns, stored.max(1)))
            .await
            .map_err(|e| e.to_string())??;
        let _ = stop.send(());
        out.push(Variant { name, create, read });
    }
    Ok(out)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Formats the HTTP results as a Markdown table: every run, then medians.
pub fn http_report(v: &[Variant], secs: u64, conns: u32) -> String {
    let mut s = format!(
        "wrk -t1 -c{conns} -d{secs}s per run (one load thread, so it takes less of the two cores from the server), {}\n\n| server | create cases/s | create p50 / p99 ms | create errors | GET case req/s | GET p50 / p99 ms | GET errors |\n|---|---|---|---|---|---|---|\n",
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
    s
}

/// The machine, for the record.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {cpu}")
}

/// Times `citygrid demo` from an empty data directory to a healthy `/healthz`.
pub fn startup(runs: usize) -> Result<String, String> {
    let exe: PathBuf = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut times = vec![];
    for _ in 0..runs {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let t0 = Instant::now();
        let mut child = Command::new(&exe)
            .args(["demo", "--port", &port.to_string(), "--data-dir"])
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        let healthy = loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok_and(|mut s| {
                use std::io::{Read, Write};
                let _ = s.write_all(b"GET /healthz HTTP/1.0\r\n\r\n");
                let mut buf = [0u8; 16];
                s.read(&mut buf)
                    .is_ok_and(|n| buf[..n].starts_with(b"HTTP/1.0 200") || buf[..n].starts_with(b"HTTP/1.1 200"))
            }) {
                break true;
            }
            if t0.elapsed() > Duration::from_secs(60) {
                break false;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let took = t0.elapsed().as_secs_f64();
        let _ = child.kill();
        let _ = child.wait();
        if !healthy {
            return Err("the demo did not become healthy within 60 s".into());
        }
        times.push(took);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    Ok(format!(
        "citygrid demo, empty data dir → /healthz 200, {runs} runs on {}: min {:.2} s, median {:.2} s, max {:.2} s",
        machine(),
        times[0],
        median,
        times[times.len() - 1]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrk_output() {
        let out = "Running 10s test @ http://127.0.0.1:1\n  2 threads and 50 connections\n  Latency Distribution\n     50%    3.10ms\n     75%    5.00ms\n     90%  812.00us\n     99%    1.20s\n  61234 requests in 10.00s, 9.1MB read\n  Non-2xx or 3xx responses: 12\nRequests/sec:   6123.40\n";
        let r = parse_wrk(out);
        assert_eq!((r.requests, r.errors), (61234, 12));
        assert!((r.rps - 6123.4).abs() < 1e-6);
        assert!((r.p50 - 3.1).abs() < 1e-9 && (r.p90 - 0.812).abs() < 1e-9 && (r.p99 - 1200.0).abs() < 1e-9);
    }
}
