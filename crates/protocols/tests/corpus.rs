//! Runs every file of the fuzz seed corpus (`fuzz/corpus/<target>/`) through
//! its fuzz target's checks, so the corpus is exercised by `cargo test`, and
//! checks what the file names promise: `ok_*` parses, `bad_*` is refused,
//! `sip_ok_*`/`sip_bad_*` likewise as SIP carrying an alarm, `stream_*` holds
//! at least one good frame among garbage.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

use std::fs;
use std::path::PathBuf;

use citygrid_protocols::{frigate, fuzzing, gb28181, hj212};

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target);
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            (path.file_name().unwrap().to_string_lossy().into_owned(), fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    assert!(files.len() >= 5, "a handful of seeds for {target}");
    files
}

fn expect<T, E: std::fmt::Debug>(name: &str, result: Result<T, E>) {
    if name.starts_with("ok_") || name.starts_with("sip_ok_") {
        assert!(result.is_ok(), "{name}: {:?}", result.err());
    } else if name.starts_with("bad_") || name.starts_with("sip_bad_") {
        assert!(result.is_err(), "{name} should be refused");
    }
}

#[test]
fn hj212_corpus() {
    for (name, bytes) in corpus("hj212") {
        fuzzing::hj212(&bytes);
        if name.starts_with("stream_") {
            let frames = hj212::Framer::default().feed(&bytes);
            assert!(frames.iter().any(Result::is_ok), "{name}: {frames:?}");
        } else {
            expect(&name, hj212::parse(&bytes));
        }
    }
}

#[test]
fn gb28181_corpus() {
    for (name, bytes) in corpus("gb28181") {
        fuzzing::gb28181(&bytes);
        if name.starts_with("sip_") {
            let alarm = gb28181::sip::parse_request(&bytes).map_err(|e| e.to_string()).and_then(|r| {
                gb28181::sip::ok_response(&r, None).map_err(|e| e.to_string())?;
                gb28181::parse_alarm(&r.body).map_err(|e| e.to_string())
            });
            expect(&name, alarm);
        } else {
            expect(&name, gb28181::parse_alarm(&bytes));
        }
    }
}

#[test]
fn frigate_corpus() {
    for (name, bytes) in corpus("frigate") {
        fuzzing::frigate(&bytes);
        expect(&name, frigate::parse_event(&bytes));
    }
}
