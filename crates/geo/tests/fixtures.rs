//! Broken-input fixtures with their expected reports.
//!
//! Every `.geojson` and `.csv` file under `tests/fixtures/broken/` is checked
//! as `citygrid check territory FILE` and `citygrid check territory --repair
//! FILE` check it (no store, so nothing is known beyond the file), and the
//! two reports must equal `FILE.expected.txt` next to it, byte for byte.
//! The `citygrid` crate's tests run the binary on the same files and compare
//! its output with the same expected files.
//!
//! After a deliberate change to the checks, the repairs or their wording,
//! rewrite the expected files and review the diff:
//!
//! ```sh
//! CITYGRID_BLESS=1 cargo test -p citygrid-geo --test fixtures
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use citygrid_geo::repair::{Format, check_territory, render_check};
use citygrid_geo::{KnownUnits, ProblemKind};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/broken")
}

fn fixtures() -> Vec<(PathBuf, Format)> {
    let mut out: Vec<(PathBuf, Format)> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| match p.extension().and_then(|e| e.to_str()) {
            Some("geojson") => Some((p, Format::GeoJson)),
            Some("csv") => Some((p, Format::Csv)),
            _ => None,
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The report for one fixture: for each of `check` and `check --repair`,
/// the command, its exit status and what it prints.
fn report(path: &Path, format: Format) -> String {
    let name = path.file_name().unwrap().to_str().unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    let mut s = String::new();
    for (flag, repair) in [("", false), (" --repair", true)] {
        let result = check_territory(&text, format, &KnownUnits::default(), repair);
        if let Err(refused) = &result {
            for p in &refused.report.problems {
                // Every problem is located, unless the geometry could not be read at all.
                let unreadable = p.kind == ProblemKind::BadGeometry || p.kind == ProblemKind::Document;
                assert!(p.location.is_some() || unreadable, "{name}: {p} has no location");
                assert!(p.code.is_some() || p.kind == ProblemKind::Document, "{name}: {p} names no code");
            }
        }
        writeln!(s, "$ citygrid check territory{flag} {name}").unwrap();
        writeln!(s, "exit {}", if result.is_ok() { 0 } else { 1 }).unwrap();
        writeln!(s, "{}", render_check(&result, format)).unwrap();
        if !repair {
            s.push('\n');
        }
    }
    s
}

#[test]
fn every_fixture_gives_its_expected_report() {
    let bless = std::env::var_os("CITYGRID_BLESS").is_some_and(|v| v == "1");
    let all = fixtures();
    assert!(all.len() >= 14, "fixtures are missing: {all:?}");
    let mut failed = Vec::new();
    for (path, format) in all {
        let got = report(&path, format);
        let expected_path =
            path.with_file_name(format!("{}.expected.txt", path.file_name().unwrap().to_str().unwrap()));
        if bless {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if got != expected {
            failed.push(format!("{}:\n--- expected\n{expected}--- got\n{got}", path.display()));
        }
    }
    assert!(failed.is_empty(), "reports differ (CITYGRID_BLESS=1 rewrites them):\n{}", failed.join("\n"));
}

#[test]
fn the_clean_fixture_is_clean_and_every_other_one_is_not() {
    for (path, format) in fixtures() {
        let text = std::fs::read_to_string(&path).unwrap();
        let result = check_territory(&text, format, &KnownUnits::default(), false);
        let clean = matches!(&result, Ok(c) if c.warnings.is_empty());
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(clean, name == "clean.geojson", "{name}: {}", render_check(&result, format));
    }
}
