//! Driving `wrk` (a separate process, so the load generator's work is not
//! counted as the server's) and reading its `--latency` report.

use std::path::PathBuf;
use std::process::Command;

/// What one wrk run measured.
#[derive(Debug, Default, Clone)]
pub struct WrkResult {
    /// Requests per second.
    pub rps: f64,
    /// Total requests.
    pub requests: u64,
    /// Responses that were not 2xx/3xx.
    pub errors: u64,
    /// Median latency, ms.
    pub p50: f64,
    /// 90th percentile, ms.
    pub p90: f64,
    /// 99th percentile, ms.
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

/// One wrk run: its script, target and load.
#[derive(Debug, Clone)]
pub struct Run {
    /// The wrk binary.
    pub wrk: String,
    /// The Lua script.
    pub script: PathBuf,
    /// Base URL.
    pub url: String,
    /// Bearer token, if the requests need one.
    pub token: Option<String>,
    /// Seconds.
    pub secs: u64,
    /// Connections.
    pub conns: u32,
    /// Environment for the script.
    pub env: Vec<(&'static str, String)>,
}

impl Run {
    /// Runs wrk on a blocking thread and parses its report.
    pub async fn go(self) -> Result<WrkResult, String> {
        tokio::task::spawn_blocking(move || self.go_blocking()).await.map_err(|e| e.to_string())?
    }

    /// Runs wrk to completion and parses its report.
    pub fn go_blocking(&self) -> Result<WrkResult, String> {
        let mut cmd = Command::new(&self.wrk);
        cmd.args(["-t1", &format!("-c{}", self.conns), &format!("-d{}s", self.secs), "--latency", "-s"])
            .arg(&self.script);
        if let Some(t) = &self.token {
            cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
        }
        cmd.arg(&self.url).envs(self.env.iter().map(|(k, v)| (k, v)));
        let out =
            cmd.output().map_err(|e| format!("cannot run {} (install it: apt-get install wrk): {e}", self.wrk))?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if !out.status.success() {
            return Err(format!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(parse_wrk(&text))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
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
