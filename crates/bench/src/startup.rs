//! `citygrid-bench startup`: `citygrid demo` from an empty data directory to
//! a healthy `/healthz`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::machine::{machine, median};

fn healthy(port: u16) -> bool {
    use std::io::{Read, Write};
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok_and(|mut s| {
        let _ = s.write_all(b"GET /healthz HTTP/1.0\r\n\r\n");
        let mut buf = [0u8; 16];
        s.read(&mut buf).is_ok_and(|n| buf[..n].starts_with(b"HTTP/1.0 200") || buf[..n].starts_with(b"HTTP/1.1 200"))
    })
}

/// Times `runs` starts of `citygrid demo` (the binary at `exe`).
pub fn startup(exe: &Path, runs: usize) -> Result<String, String> {
    let mut times = vec![];
    for _ in 0..runs.max(1) {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let t0 = Instant::now();
        let mut child = Command::new(exe)
            .args(["demo", "--no-simulate", "--hj212-port", "0", "--port", &port.to_string(), "--data-dir"])
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        let ok = loop {
            if healthy(port) {
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
        if !ok {
            return Err("the demo did not become healthy within 60 s".into());
        }
        times.push(took);
    }
    let (min, max) = times.iter().fold((f64::MAX, 0.0f64), |(lo, hi), t| (lo.min(*t), hi.max(*t)));
    Ok(format!(
        "citygrid demo, empty data dir → /healthz 200, {} runs on {}: min {min:.2} s, median {:.2} s, max {max:.2} s",
        times.len(),
        machine(),
        median(times.clone()),
    ))
}
