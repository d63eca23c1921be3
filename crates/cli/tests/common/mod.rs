//! Running the `citygrid` binary from the CLI's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)] // each test file uses part of it

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// The binary, quiet, with no data directory from the environment.
fn command(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_citygrid"));
    c.args(args).env("RUST_LOG", "warn").env_remove("CITYGRID_DATA_DIR");
    c
}

/// Runs `citygrid ARGS` with nothing on standard input.
pub fn citygrid(args: &[&str]) -> Output {
    command(args).stdin(Stdio::null()).output().unwrap()
}

/// Runs `citygrid ARGS` with `stdin` on standard input.
pub fn citygrid_with_input(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = command(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let bytes = stdin.to_vec();
    // Written from a thread: the child's output fills its pipe while we write.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&bytes);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// Standard output and standard error, as text.
pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}
