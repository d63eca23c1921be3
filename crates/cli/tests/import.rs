//! `citygrid check` and `citygrid import` on territory files: the broken-input
//! fixtures give their expected reports, `--repair` says what it changed, and
//! a failed import (refused, or failing in the store midway) changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

mod common;
use common::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../geo/tests/fixtures/broken")
}

fn fixture(name: &str) -> String {
    fixtures().join(name).to_str().unwrap().to_owned()
}

/// Every unit in the store (code, name, geometry) and the number of audit records.
fn snapshot(data: &Path) -> (Vec<(String, String, String)>, i64) {
    let db = rusqlite::Connection::open(data.join("citygrid.db")).unwrap();
    let mut st = db.prepare("SELECT code, name, geometry FROM units ORDER BY code").unwrap();
    let units = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect();
    let audit = db.query_row("SELECT count(*) FROM audit", [], |r| r.get(0)).unwrap();
    (units, audit)
}

fn codes(units: &[(String, String, String)]) -> Vec<&str> {
    units.iter().map(|u| u.0.as_str()).collect()
}

/// The binary prints exactly what `crates/geo/tests/fixtures.rs` expects, for
/// every fixture, with and without `--repair`, with the exit status shown there.
#[test]
fn check_prints_the_expected_report_for_every_fixture() {
    let mut seen = 0;
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".expected.txt")) else {
            continue;
        };
        let expected = std::fs::read_to_string(&path).unwrap();
        for section in expected.split("$ citygrid ").filter(|s| !s.is_empty()) {
            let mut lines = section.lines();
            let command = lines.next().unwrap();
            let exit: i32 = lines.next().unwrap().strip_prefix("exit ").unwrap().parse().unwrap();
            let body = lines.collect::<Vec<_>>().join("\n");
            let body = body.trim_end();
            let mut args: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
            assert_eq!(args.last().map(String::as_str), Some(name), "{}", path.display());
            *args.last_mut().unwrap() = fixture(name);
            let o = citygrid(&args.iter().map(String::as_str).collect::<Vec<_>>());
            assert_eq!(o.status.code(), Some(exit), "{command}: {}", text(&o));
            let printed = if exit == 0 {
                String::from_utf8(o.stdout.clone()).unwrap()
            } else {
                let err = String::from_utf8(o.stderr.clone()).unwrap();
                err.strip_prefix("error: ").unwrap_or(&err).to_owned()
            };
            assert_eq!(printed.trim_end(), body, "{command}");
            seen += 1;
        }
    }
    assert!(seen >= 28, "only {seen} reports were compared");
}

#[test]
fn a_refused_import_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();

    // Refused before any store exists: no store is created.
    let o = citygrid(&["import", "territory", &fixture("unclosed_ring.geojson"), "--data-dir", d]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("unclosed_ring") && text(&o).contains("nothing was imported"), "{}", text(&o));
    assert!(!data.exists(), "a refused file leaves no store behind");

    let o = citygrid(&["import", "territory", &fixture("clean.geojson"), "--data-dir", d]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("imported 3 territory units"), "{}", text(&o));
    let before = snapshot(&data);
    assert_eq!(codes(&before.0), ["340200", "340202", "340207"]);

    // A file with a new unit, a changed one and one whose problem shows only
    // against the store (its parent is neither in the file nor imported).
    let broken = dir.path().join("broken.geojson");
    std::fs::write(
        &broken,
        r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"code":"340207","name":"鸠江区 renamed"},
           "geometry":{"type":"Polygon","coordinates":[[[118.5,31],[118.75,31],[118.75,32],[118.5,32],[118.5,31]]]}},
          {"type":"Feature","properties":{"code":"340208","name":"new"},
           "geometry":{"type":"Polygon","coordinates":[[[118.75,31],[119,31],[119,32],[118.75,32],[118.75,31]]]}},
          {"type":"Feature","properties":{"code":"340209001","name":"orphan"},
           "geometry":{"type":"Polygon","coordinates":[[[118.75,31],[119,31],[119,31.5],[118.75,31.5],[118.75,31]]]}}]}"#,
    )
    .unwrap();
    let o = citygrid(&["import", "territory", broken.to_str().unwrap(), "--data-dir", d]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("feature #2 (340209001): missing_parent") && t.contains("nothing was imported"), "{t}");
    assert_eq!(snapshot(&data), before, "the first file's units are untouched and no audit record was added");

    // The same with --repair: nothing in it can be repaired, so it is refused the same way.
    let o = citygrid(&["import", "territory", broken.to_str().unwrap(), "--data-dir", d, "--repair"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(snapshot(&data), before);

    // An overlap too large to trim is refused too.
    let o = citygrid(&["import", "territory", &fixture("sibling_overlap.geojson"), "--data-dir", d, "--repair"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("siblings_overlap"), "{}", text(&o));
    assert_eq!(snapshot(&data), before);
}

#[test]
fn an_import_failing_in_the_store_midway_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let o = citygrid(&["import", "territory", &fixture("clean.geojson"), "--data-dir", d]);
    assert!(o.status.success(), "{}", text(&o));
    let before = snapshot(&data);

    // The store fails on the third unit, after the first two were written in the transaction.
    rusqlite::Connection::open(data.join("citygrid.db"))
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER fail_midway BEFORE INSERT ON units WHEN NEW.code = '340209'
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        )
        .unwrap();
    let valid = dir.path().join("valid.geojson");
    std::fs::write(
        &valid,
        r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"code":"340207","name":"鸠江区 (smaller)"},
           "geometry":{"type":"Polygon","coordinates":[[[118.5,31],[118.75,31],[118.75,32],[118.5,32],[118.5,31]]]}},
          {"type":"Feature","properties":{"code":"340208","name":"north-east"},
           "geometry":{"type":"Polygon","coordinates":[[[118.75,31.5],[119,31.5],[119,32],[118.75,32],[118.75,31.5]]]}},
          {"type":"Feature","properties":{"code":"340209","name":"south-east"},
           "geometry":{"type":"Polygon","coordinates":[[[118.75,31],[119,31],[119,31.5],[118.75,31.5],[118.75,31]]]}}]}"#,
    )
    .unwrap();
    let o = citygrid(&["check", "territory", valid.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "alone, the districts miss their city: {}", text(&o));
    let o = citygrid(&["import", "territory", valid.to_str().unwrap(), "--data-dir", d]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("injected failure") && text(&o).contains("nothing was imported"), "{}", text(&o));
    assert_eq!(snapshot(&data), before, "neither the update of 340207 nor 340208 was kept");

    // Without the fault the same file goes in whole.
    rusqlite::Connection::open(data.join("citygrid.db")).unwrap().execute_batch("DROP TRIGGER fail_midway").unwrap();
    let o = citygrid(&["import", "territory", valid.to_str().unwrap(), "--data-dir", d]);
    assert!(o.status.success(), "{}", text(&o));
    let after = snapshot(&data);
    assert_eq!(codes(&after.0), ["340200", "340202", "340207", "340208", "340209"]);
    assert_eq!(after.1, before.1 + 1, "one audit record for the import");
}

#[test]
fn repair_imports_a_repairable_file_and_says_what_it_changed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let o = citygrid(&["import", "territory", &fixture("unclosed_ring.geojson"), "--data-dir", d, "--repair"]);
    assert!(o.status.success(), "{}", text(&o));
    let t = String::from_utf8(o.stdout.clone()).unwrap();
    assert_eq!(
        t.trim_end(),
        "1 repair(s):\n  feature #2 (340207): closed exterior ring of polygon 0 (added 1 position) \
         [at 118.500000, 31.000000]\nimported 3 territory units"
    );
    let (units, _) = snapshot(&data);
    assert_eq!(codes(&units), ["340200", "340202", "340207"]);

    // A bow tie becomes its two triangles; the gap that leaves is a warning, listed.
    let o = citygrid(&["import", "territory", &fixture("self_intersection.geojson"), "--data-dir", d, "--repair"]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("split exterior ring of polygon 0, which crossed itself, into 2 rings"), "{t}");
    assert!(t.contains("1 warning(s):\n  feature #0 (340200): coverage_gap"), "{t}");
    let (units, _) = snapshot(&data);
    let geometry: serde_json::Value = serde_json::from_str(&units[2].2).unwrap();
    assert_eq!(geometry["type"], "MultiPolygon", "{geometry}");
    assert_eq!(geometry["coordinates"].as_array().map(Vec::len), Some(2), "{geometry}");

    // CSV rows are named by row; the broken WKT row stays an error and nothing is written.
    let before = snapshot(&data);
    let o = citygrid(&["import", "territory", &fixture("broken_wkt.csv"), "--data-dir", d, "--repair"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("row 3 (340207): bad_geometry") && t.contains("row 2 (340202): closed exterior ring"), "{t}");
    assert_eq!(snapshot(&data), before);

    // --repair is for territory files only.
    let o = citygrid(&["check", "categories", "--repair", &fixture("clean.geojson")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("territory files only"), "{}", text(&o));
}

#[test]
fn check_repair_writes_the_repaired_file_which_then_checks_clean() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("repaired.geojson");
    let o = citygrid(&[
        "check",
        "territory",
        &fixture("unclosed_ring.geojson"),
        "--repair",
        "--write",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("wrote") && text(&o).contains("repaired.geojson"), "{}", text(&o));
    // As written, without any repair, the result passes.
    let o = citygrid(&["check", "territory", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("OK"), "{}", text(&o));

    // A file repair cannot save writes nothing; --write needs --repair.
    let refused = dir.path().join("refused.geojson");
    let o = citygrid(&[
        "check",
        "territory",
        &fixture("duplicate_code.geojson"),
        "--repair",
        "--write",
        refused.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(!refused.exists());
    let o = citygrid(&["check", "territory", &fixture("clean.geojson"), "--write", refused.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

/// Cities have no parent but are siblings of one another: a second city
/// covering one already imported would take every point in it.
#[test]
fn a_city_overlapping_a_city_already_imported_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let o = citygrid(&["import", "territory", &fixture("clean.geojson"), "--data-dir", d]);
    assert!(o.status.success(), "{}", text(&o));
    let before = snapshot(&data);

    let city = |name: &str, ring: &str| {
        let path = dir.path().join(name);
        std::fs::write(
            &path,
            format!(
                r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"code":"110100","name":"北京市","level":"city"}},
                "geometry":{{"type":"Polygon","coordinates":[{ring}]}}}}]}}"#
            ),
        )
        .unwrap();
        path.to_str().unwrap().to_owned()
    };
    let world = city("world.geojson", "[[-180,-90],[180,-90],[180,90],[-180,90],[-180,-90]]");
    for repair in [false, true] {
        let mut args = vec!["import", "territory", world.as_str(), "--data-dir", d];
        if repair {
            args.push("--repair");
        }
        let o = citygrid(&args);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let t = text(&o);
        assert!(
            t.contains(
                "feature #0 (110100): siblings_overlap: overlaps 340200 (already imported), another unit without a \
                 parent, by 100.0% of the smaller one's area"
            ) && t.contains("nothing was imported"),
            "{t}"
        );
        assert_eq!(snapshot(&data), before);
    }

    let beside = city("beside.geojson", "[[116,39],[117,39],[117,40],[116,40],[116,39]]");
    let o = citygrid(&["import", "territory", &beside, "--data-dir", d]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(codes(&snapshot(&data).0), ["110100", "340200", "340202", "340207"]);
}

/// WKT nested deep enough to exhaust a recursive reader's stack is a
/// problem with its row, not a crash, with and without --repair.
#[test]
fn deeply_nested_wkt_is_a_problem_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deep.csv");
    let deep = "GEOMETRYCOLLECTION(".repeat(5_000);
    std::fs::write(&file, format!("code,name,wkt\n340200,芜湖市,\"{deep}\"\n")).unwrap();
    let f = file.to_str().unwrap();
    let data = dir.path().join("data");
    for args in [
        vec!["check", "territory", f],
        vec!["check", "territory", "--repair", f],
        vec!["import", "territory", f, "--data-dir", data.to_str().unwrap()],
    ] {
        let o = citygrid(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
        let t = text(&o);
        assert!(
            t.contains("row 1 (340200): bad_geometry: WKT type GEOMETRYCOLLECTION is not POLYGON or MULTIPOLYGON"),
            "{args:?}: {t}"
        );
    }
    assert!(!data.exists(), "a refused file leaves no store behind");
}
