//! The `citygrid` binary end to end: audit verification, data checks, the demo.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

mod common;
use common::*;

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path).display().to_string()
}

#[test]
fn audit_verify_passes_clean_and_pinpoints_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let o = citygrid(&["import", "categories", &repo("data/categories.csv"), "--data-dir", d]);
    assert!(o.status.success(), "{}", text(&o));
    let o = citygrid_with_input(
        &["admin", "create", "--username", "alice", "--data-dir", d],
        "Alice-Admin-2026\n".as_bytes(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = citygrid_with_input(&["admin", "create", "--username", "bob", "--data-dir", d], "weak\n".as_bytes());
    assert!(!o.status.success(), "a weak password is refused");

    let o = citygrid(&["audit", "verify", "--data-dir", d]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("intact: 3 records"), "{}", text(&o));

    let db = dir.path().join("citygrid.db");
    let edit = |sql: &str| rusqlite::Connection::open(&db).unwrap().execute_batch(sql).unwrap();

    // Someone edits who did something.
    edit("UPDATE audit SET actor = 'mallory' WHERE seq = 2");
    let o = citygrid(&["audit", "verify", "--data-dir", d]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("BROKEN at audit record 2") && t.contains("altered"), "{t}");

    // Someone puts it back but deletes the record instead.
    edit("UPDATE audit SET actor = 'cli' WHERE seq = 2");
    assert!(citygrid(&["audit", "verify", "--data-dir", d]).status.success());
    edit("DELETE FROM audit WHERE seq = 2");
    let t = text(&citygrid(&["audit", "verify", "--data-dir", d]));
    assert!(t.contains("audit record 3") && t.contains("removed or reordered"), "{t}");

    let o = citygrid(&["audit", "verify", "--data-dir", dir.path().join("nope").to_str().unwrap()]);
    assert!(!o.status.success() && text(&o).contains("no CityGrid store"));
}

#[test]
fn check_reports_every_problem_in_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = r#"{"type":"FeatureCollection","features":[
      {"type":"Feature","properties":{"code":"340200","name":"芜湖市"},
       "geometry":{"type":"Polygon","coordinates":[[[118,31],[119,31],[119,32],[118,32],[118,31]]]}}]}"#;
    let bad = r#"{"type":"FeatureCollection","features":[
      {"type":"Feature","properties":{"code":"34x200","name":"bad code"},
       "geometry":{"type":"Polygon","coordinates":[[[118,31],[119,31],[119,32],[118,32],[118,31]]]}},
      {"type":"Feature","properties":{"code":"340202","name":"open ring"},
       "geometry":{"type":"Polygon","coordinates":[[[118,31],[119,31],[119,32],[118,32]]]}}]}"#;
    let (g, b) = (dir.path().join("good.geojson"), dir.path().join("bad.geojson"));
    std::fs::write(&g, good).unwrap();
    std::fs::write(&b, bad).unwrap();
    let o = citygrid(&["check", "territory", g.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let o = citygrid(&["check", "territory", b.to_str().unwrap()]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("34x200") && t.contains("340202"), "both features are reported: {t}");
    for (kind, file) in [
        ("categories", "data/categories.csv"),
        ("departments", "data/departments.csv"),
        ("calendar", "data/calendar/2026.toml"),
    ] {
        let o = citygrid(&["check", kind, &repo(file)]);
        assert!(o.status.success(), "{kind}: {}", text(&o));
    }
}

#[test]
fn demo_serves_the_wuhu_city_and_reuses_its_data() {
    let dir = tempfile::tempdir().unwrap();
    for run in 0..2 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_citygrid"))
            .args(["demo", "--port", "0", "--hj212-port", "0", "--data-dir", dir.path().to_str().unwrap()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        // Kept open while the server runs: it goes on printing.
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut line).unwrap();
        let addr = line.split("http://").nth(1).and_then(|r| r.split_whitespace().next()).unwrap().to_owned();
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.write_all(b"GET /healthz HTTP/1.0\r\n\r\n").unwrap();
        let mut body = String::new();
        s.read_to_string(&mut body).unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert!(body.starts_with("HTTP/1.0 200") || body.starts_with("HTTP/1.1 200"), "run {run}: {body}");
        assert!(body.contains("\"territory_units\":8349"), "run {run}: {body}");
    }
}

/// Serves an empty data directory (which warns: no administrator, no
/// territory) with `--log-format format`, stops it once it is listening and
/// returns what it logged to standard error, a pipe.
fn serve_logs(format: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_citygrid"))
        .args(["serve", "--port", "0", "--log-format", format, "--data-dir", dir.path().to_str().unwrap()])
        .env("RUST_LOG", "warn")
        // Without NO_COLOR, so only the pipe decides that there is no colour.
        .env_remove("NO_COLOR")
        .env_remove("CITYGRID_LOG_FORMAT")
        .env_remove("CITYGRID_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.contains("CityGrid serving"), "{line}");
    // The warnings are written before the "serving" line, so they are all in the pipe.
    let mut logs = String::new();
    child.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
    logs
}

#[test]
fn piped_logs_carry_no_colour_codes_and_json_logs_parse() {
    let text = serve_logs("text");
    assert!(text.contains("no territory loaded"), "{text}");
    assert!(!text.contains("\x1b["), "colour codes in piped logs: {text:?}");

    let json = serve_logs("json");
    assert!(!json.contains("\x1b["), "colour codes in JSON logs: {json:?}");
    let events: Vec<serde_json::Value> = json
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l:?}")))
        .collect();
    let warning = events
        .iter()
        .find(|e| e["message"].as_str().is_some_and(|m| m.contains("no territory loaded")))
        .unwrap_or_else(|| panic!("no territory warning among {events:?}"));
    assert_eq!(warning["level"], "WARN", "{warning}");
    assert!(warning["timestamp"].is_string(), "{warning}");
}

#[test]
fn territory_csv_checks_and_imports_idempotently() {
    let dir = tempfile::tempdir().unwrap();
    // The city and two districts tiling it, WKT in longitude/latitude order.
    let good = "code,name,level,parent,wkt\n\
        340200,芜湖市,city,,\"POLYGON((118 31, 119 31, 119 32, 118 32, 118 31))\"\n\
        340202,镜湖区,district,340200,\"POLYGON((118 31, 118.5 31, 118.5 32, 118 32, 118 31))\"\n\
        340207,鸠江区,district,340200,\"MULTIPOLYGON(((118.5 31, 119 31, 119 32, 118.5 32, 118.5 31)))\"\n";
    // Rows 1 and 4 are fine; every other row has something wrong.
    let bad = "code,name,level,parent,wkt\n\
        340200,芜湖市,city,,\"POLYGON((118 31, 119 31, 119 32, 118 32, 118 31))\"\n\
        34x202,bad code,,,\"POLYGON((118 31, 118.5 31, 118.5 32, 118 32, 118 31))\"\n\
        340207,open ring,,,\"POLYGON((118.5 31, 119 31, 119 32, 118.5 32))\"\n\
        340208,fine,,,\"POLYGON((118.5 31, 119 31, 119 32, 118.5 32, 118.5 31))\"\n\
        340209,wrong level,township,,\"POLYGON((118.5 31, 119 31, 119 32, 118.5 32, 118.5 31))\"\n\
        340209,twice,,,\"POLYGON((118.5 31, 119 31, 119 32, 118.5 32, 118.5 31))\"\n";
    let (g, b) = (dir.path().join("good.csv"), dir.path().join("bad.csv"));
    std::fs::write(&g, good).unwrap();
    std::fs::write(&b, bad).unwrap();

    let o = citygrid(&["check", "territory", g.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("3 units, 0 warning(s)"), "{}", text(&o));

    let o = citygrid(&["check", "territory", b.to_str().unwrap()]);
    assert!(!o.status.success());
    let t = text(&o);
    for row in ["row 2 (34x202): malformed_code", "row 3 (340207): unclosed_ring", "row 5 (340209): level_mismatch"] {
        assert!(t.contains(row), "{row} is reported: {t}");
    }
    assert!(t.contains("row 6 (340209): duplicate_code"), "{t}");
    assert!(!t.contains("row 1 ") && !t.contains("row 4 "), "good rows are not reported: {t}");

    // Import twice into the same store: the second run changes nothing and succeeds.
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    for run in 0..2 {
        let o = citygrid(&["import", "territory", g.to_str().unwrap(), "--data-dir", d]);
        assert!(o.status.success(), "run {run}: {}", text(&o));
        assert!(text(&o).contains("imported 3 territory units"), "run {run}: {}", text(&o));
    }
    // A broken file is refused whole.
    let o = citygrid(&["import", "territory", b.to_str().unwrap(), "--data-dir", d]);
    assert!(!o.status.success() && text(&o).contains("row 2 (34x202)"), "{}", text(&o));

    // Anything but .geojson, .json or .csv is refused up front, naming the accepted ones.
    let odd = dir.path().join("city.txt");
    std::fs::write(&odd, good).unwrap();
    let elsewhere = dir.path().join("untouched");
    let o = citygrid(&["import", "territory", odd.to_str().unwrap(), "--data-dir", elsewhere.to_str().unwrap()]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains(".geojson") && t.contains(".json") && t.contains(".csv"), "{t}");
    assert!(!elsewhere.exists(), "no store is created for a file that cannot be read");
    let o = citygrid(&["check", "territory", odd.to_str().unwrap()]);
    assert!(!o.status.success() && text(&o).contains(".csv"), "{}", text(&o));
}
