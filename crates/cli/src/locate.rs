//! `citygrid locate`: point location in bulk, from standard input to
//! standard output.
//!
//! # Format
//!
//! Input: one point a line, `lon,lat` (decimal degrees, longitude first).
//! The first line may be the header `lon,lat` (any case). A UTF-8 byte-order
//! mark, CRLF line ends, spaces or tabs around a field, and a last line
//! without a line end are accepted.
//!
//! Output: one line per input line, in input order, always `\n`-terminated:
//! `lon,lat,district,township,community,grid`. `lon` and `lat` are the input
//! fields byte for byte (minus surrounding spaces), never reformatted; the
//! four codes are the units of those levels in the point's chain (see
//! [`TerritoryIndex`](citygrid_geo::TerritoryIndex)), empty where the chain
//! has none: all four empty outside the territory, `grid` empty in a part of
//! a community without grids. Micro-grids and the city are not written. A
//! header on the input gives a header on the output.
//!
//! # Malformed lines
//!
//! A line that is not exactly two fields that parse as finite numbers with
//! `-180 ≤ lon ≤ 180` and `-90 ≤ lat ≤ 90` (a blank line, a third column, a
//! quoted field, swapped coordinates such as `31.3,118.4`, …) is malformed.
//! By default it is written as six empty fields (`,,,,,`), so output line N
//! still answers input line N and the row is told apart from a point outside
//! the territory (which keeps its coordinates); the count and the first bad
//! line's number and text go to standard error, and the exit status is 0.
//! With `--strict` the output stops before the first malformed line and the
//! exit status is 1, naming the line.
//!
//! # Speed
//!
//! Input is read in large blocks; each block is cut at line ends into one
//! piece per thread, the pieces are parsed and located in parallel (scoped
//! threads sharing the immutable index) into per-thread output buffers that
//! are reused from block to block, and the buffers are written in order. No
//! allocation happens per line.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use citygrid_app::world::Territory;
use citygrid_domain::{Level, Point};
use citygrid_geo::TerritoryIndex;
use citygrid_store::prelude::*;

use crate::database::{Database, OpenOptions, StoreJob, with_store};

/// Bytes of input read per thread per block: large enough that starting the
/// block's threads and the ordered write cost little against the work.
const BLOCK_BYTES_PER_THREAD: usize = 1 << 20;
/// Longest line read before the input is refused: a `lon,lat` line is a few
/// dozen bytes, so a line this long means the input is something else.
const MAX_LINE_BYTES: usize = 64 << 20;
/// Bytes per piece of a block. Threads take pieces one at a time, so a
/// thread the OS sets aside for a while (two cores shared with other work)
/// holds up one small piece, not half the block.
const PIECE_BYTES: usize = 64 << 10;
/// The header of the output.
const OUTPUT_HEADER: &[u8] = b"lon,lat,district,township,community,grid\n";
/// Characters of a malformed line quoted in messages.
const EXCERPT_CHARS: usize = 60;

/// How to run.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Worker threads (at least one).
    pub threads: usize,
    /// Stop at the first malformed line with an error.
    pub strict: bool,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Data lines read (the header not counted).
    pub lines: u64,
    /// Points inside the territory.
    pub located: u64,
    /// Well-formed points outside the territory.
    pub outside: u64,
    /// Malformed lines.
    pub malformed: u64,
    /// The first malformed line: its number (1-based, counting the header)
    /// and its text, shortened.
    pub first_malformed: Option<(u64, String)>,
    /// Whether the input had a header.
    pub header: bool,
    /// Whether the reader of the output went away (a closed pipe) before
    /// everything was written.
    pub closed: bool,
}

/// Loads the territory the server would serve from `data_dir` and locates
/// standard input to standard output. A summary goes to standard error; the
/// returned message is empty so nothing else reaches standard output.
pub async fn run(db: &Database, options: Options) -> Result<String, String> {
    let started = Instant::now();
    let units = with_store(db, OpenOptions::existing(), ReadTerritory).await?;
    if units.is_empty() {
        return Err(format!("the {db} has no territory units: import one with `citygrid import territory FILE`"));
    }
    let summary = tokio::task::spawn_blocking(move || -> Result<(Summary, usize, f64), String> {
        // The server's own loader, so the answers are the server's.
        let territory = Territory::from_stored(units).map_err(|e| format!("cannot build the territory index: {e}"))?;
        let ready = started.elapsed().as_secs_f64();
        let summary = stream(territory.index(), io::stdin().lock(), io::stdout().lock(), options)?;
        Ok((summary, territory.len(), ready))
    })
    .await
    .map_err(|e| e.to_string())?;
    let (s, units, ready) = summary?;
    let mut msg = format!(
        "citygrid locate: {} point(s) in {:.2} s ({units} territory units loaded in {ready:.2} s): {} located, {} outside the territory, {} malformed",
        s.lines,
        started.elapsed().as_secs_f64(),
        s.located,
        s.outside,
        s.malformed,
    );
    if let Some((line, text)) = &s.first_malformed {
        msg.push_str(&format!(
            " (written as empty fields; first at line {line}: `{text}`; --strict makes this an error)"
        ));
    }
    if s.closed {
        msg.push_str("; output closed early");
    }
    eprintln!("{msg}");
    Ok(String::new())
}

/// What one piece of a block gave.
#[derive(Debug, Default, Clone, Copy)]
struct PieceResult {
    lines: u64,
    located: u64,
    outside: u64,
    malformed: u64,
    /// First malformed line: index in the piece, its byte range in the
    /// piece, and the length of the output written before it.
    first_bad: Option<(u64, usize, usize, usize)>,
}

/// How one line came out.
enum Outcome {
    Located,
    Outside,
    Malformed,
}

/// Locates every line of `input` and writes the answers to `output` (see
/// the module docs for the format). Fails on a read or write error other
/// than a closed output, and with `strict` on the first malformed line.
pub fn stream(
    index: &TerritoryIndex,
    mut input: impl Read,
    mut output: impl Write,
    options: Options,
) -> Result<Summary, String> {
    let threads = options.threads.max(1);
    let mut buf = vec![0u8; BLOCK_BYTES_PER_THREAD * threads];
    let mut slots: Vec<Mutex<Slot>> = Vec::new();
    let mut filled = 0;
    let mut eof = false;
    let mut first_block = true;
    let mut summary = Summary::default();
    // Lines consumed before the current block (header included).
    let mut line_base: u64 = 0;
    let write = |out: &mut dyn Write, bytes: &[u8], summary: &mut Summary| -> Result<bool, String> {
        match out.write_all(bytes) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                summary.closed = true;
                Ok(false)
            }
            Err(e) => Err(format!("cannot write the output: {e}")),
        }
    };
    loop {
        while filled < buf.len() && !eof {
            match input.read(&mut buf[filled..]) {
                Ok(0) => eof = true,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("cannot read the input: {e}")),
            }
        }
        // The block ends after the last complete line; at the end of the
        // input a last line without a line end counts too.
        let end = if eof {
            filled
        } else {
            match buf[..filled].iter().rposition(|&b| b == b'\n') {
                Some(i) => i + 1,
                None if buf.len() >= MAX_LINE_BYTES => {
                    return Err(format!(
                        "line {} is longer than {} MiB with no line end; this is not a file of `lon,lat` lines",
                        line_base + summary.lines + 1,
                        MAX_LINE_BYTES >> 20
                    ));
                }
                None => {
                    // One line longer than the buffer: make room and read on.
                    buf.resize(buf.len() * 2, 0);
                    continue;
                }
            }
        };
        let mut start = 0;
        if first_block {
            first_block = false;
            if buf[..end].starts_with(b"\xEF\xBB\xBF") {
                start = 3;
            }
            let line_end = buf[start..end].iter().position(|&b| b == b'\n').map_or(end, |i| start + i + 1);
            if is_header(&buf[start..line_end]) {
                summary.header = true;
                line_base = 1;
                start = line_end;
                if !write(&mut output, OUTPUT_HEADER, &mut summary)? {
                    return Ok(summary);
                }
            }
        }
        let block = &buf[start..end];
        if !block.is_empty() {
            let pieces = split(block, if threads == 1 { 1 } else { block.len().div_ceil(PIECE_BYTES) });
            if slots.len() < pieces.len() {
                slots.resize_with(pieces.len(), Mutex::default);
            }
            process_pieces(index, &pieces, &slots, threads);
            for (k, slot) in slots[..pieces.len()].iter_mut().enumerate() {
                let slot = slot.get_mut().unwrap_or_else(PoisonError::into_inner);
                let (out, r) = (&slot.out, slot.result);
                if let Some((idx, from, to, written)) = r.first_bad {
                    let number = line_base + idx + 1;
                    if options.strict {
                        if !write(&mut output, &out[..written], &mut summary)? {
                            return Ok(summary);
                        }
                        let _ = output.flush();
                        return Err(format!(
                            "line {number} is not a `lon,lat` pair: `{}` (--strict)",
                            excerpt(&pieces[k][from..to])
                        ));
                    }
                    if summary.first_malformed.is_none() {
                        summary.first_malformed = Some((number, excerpt(&pieces[k][from..to])));
                    }
                }
                summary.lines += r.lines;
                summary.located += r.located;
                summary.outside += r.outside;
                summary.malformed += r.malformed;
                line_base += r.lines;
                if !write(&mut output, out, &mut summary)? {
                    return Ok(summary);
                }
            }
        }
        if eof {
            break;
        }
        buf.copy_within(end..filled, 0);
        filled -= end;
    }
    match output.flush() {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => summary.closed = true,
        Err(e) => return Err(format!("cannot write the output: {e}")),
    }
    Ok(summary)
}

/// A piece's output buffer (reused from block to block) and counts.
#[derive(Default)]
struct Slot {
    out: Vec<u8>,
    result: PieceResult,
}

/// Runs the pieces on this thread and `threads - 1` scoped ones, each
/// thread taking the next piece not yet taken, into the piece's slot.
fn process_pieces(index: &TerritoryIndex, pieces: &[&[u8]], slots: &[Mutex<Slot>], threads: usize) {
    let next = AtomicUsize::new(0);
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let (Some(piece), Some(slot)) = (pieces.get(i), slots.get(i)) else { break };
            // Each slot is locked by the one thread that took its index.
            let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
            let Slot { out, result } = &mut *slot;
            *result = process(index, piece, out);
        }
    };
    let helpers = threads.min(pieces.len()).saturating_sub(1);
    if helpers == 0 {
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 0..helpers {
                s.spawn(work);
            }
            work();
        });
    }
}

/// Cuts `block` (whole lines) into at most `n` pieces of similar size at
/// line ends.
fn split(block: &[u8], n: usize) -> Vec<&[u8]> {
    let mut pieces = Vec::with_capacity(n);
    let mut from = 0;
    for k in 1..n {
        let target = (block.len() * k / n).max(from);
        let Some(cut) = block[target..].iter().position(|&b| b == b'\n').map(|i| target + i + 1) else {
            break;
        };
        if cut >= block.len() {
            break;
        }
        pieces.push(&block[from..cut]);
        from = cut;
    }
    pieces.push(&block[from..]);
    pieces
}

/// Locates every line of a piece into `out` (cleared first).
fn process(index: &TerritoryIndex, piece: &[u8], out: &mut Vec<u8>) -> PieceResult {
    out.clear();
    let mut r = PieceResult::default();
    // A piece ends with a line end except at the end of the input.
    let body = piece.strip_suffix(b"\n").unwrap_or(piece);
    let mut at = 0;
    for line in body.split(|&b| b == b'\n') {
        let written = out.len();
        match locate_line(index, line, out) {
            Outcome::Located => r.located += 1,
            Outcome::Outside => r.outside += 1,
            Outcome::Malformed => {
                if r.first_bad.is_none() {
                    r.first_bad = Some((r.lines, at, at + line.len(), written));
                }
                r.malformed += 1;
            }
        }
        r.lines += 1;
        at += line.len() + 1;
    }
    r
}

/// One line: appends its output line to `out`.
#[inline]
fn locate_line(index: &TerritoryIndex, line: &[u8], out: &mut Vec<u8>) -> Outcome {
    let Some((lon_text, lon, lat_text, lat)) = parse_line(line) else {
        out.extend_from_slice(b",,,,,\n");
        return Outcome::Malformed;
    };
    out.extend_from_slice(lon_text);
    out.push(b',');
    out.extend_from_slice(lat_text);
    let Some(chain) = index.locate_chain(Point { lon, lat }) else {
        out.extend_from_slice(b",,,,\n");
        return Outcome::Outside;
    };
    let mut columns: [&[u8]; 4] = [b""; 4];
    for code in chain.codes() {
        let column = match code.level() {
            Level::District => 0,
            Level::Township => 1,
            Level::Community => 2,
            Level::Grid => 3,
            Level::City | Level::MicroGrid => continue,
        };
        columns[column] = code.as_str().as_bytes();
    }
    for c in columns {
        out.push(b',');
        out.extend_from_slice(c);
    }
    out.push(b'\n');
    Outcome::Located
}

/// `lon,lat` → the two fields as written (trimmed) and their values, or
/// `None` if the line is malformed.
#[inline]
fn parse_line(line: &[u8]) -> Option<(&[u8], f64, &[u8], f64)> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let comma = line.iter().position(|&b| b == b',')?;
    let (a, b) = (trim(&line[..comma]), trim(&line[comma + 1..]));
    if b.contains(&b',') {
        return None;
    }
    let lon = number(a)?;
    let lat = number(b)?;
    ((-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat)).then_some((a, lon, b, lat))
}

/// A finite decimal number. Rust's float parser is exact (correctly
/// rounded), so the point located is the one the text denotes.
#[inline]
fn number(field: &[u8]) -> Option<f64> {
    let v: f64 = std::str::from_utf8(field).ok()?.parse().ok()?;
    v.is_finite().then_some(v)
}

fn trim(field: &[u8]) -> &[u8] {
    let is_space = |b: &u8| *b == b' ' || *b == b'\t';
    let start = field.iter().position(|b| !is_space(b)).unwrap_or(field.len());
    let end = field.iter().rposition(|b| !is_space(b)).map_or(start, |i| i + 1);
    &field[start..end]
}

/// Whether a first line is the `lon,lat` header.
fn is_header(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut fields = line.split(|&b| b == b',').map(trim);
    matches!(
        (fields.next(), fields.next(), fields.next()),
        (Some(a), Some(b), None) if a.eq_ignore_ascii_case(b"lon") && b.eq_ignore_ascii_case(b"lat")
    )
}

fn excerpt(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = String::from_utf8_lossy(line);
    let mut short: String = text.chars().take(EXCERPT_CHARS).collect();
    if text.chars().count() > EXCERPT_CHARS {
        short.push('…');
    }
    short
}

/// Reads the territory units, whichever backend holds them.
struct ReadTerritory;

impl StoreJob for ReadTerritory {
    type Output = Vec<citygrid_store::StoredUnit>;
    async fn run<S: Store>(self, store: S) -> Result<Self::Output, String> {
        store.territory().await.map_err(|e| format!("cannot read the territory: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use citygrid_domain::{Unit, UnitCode};
    use citygrid_geo::TerritoryFeature;
    use geo::{MultiPolygon, polygon};

    fn feature(code: &str, x0: f64, y0: f64, x1: f64, y1: f64) -> TerritoryFeature {
        let code = UnitCode::parse(code).unwrap();
        TerritoryFeature {
            unit: Unit { synthetic: true, ..Unit::new(code, "t", citygrid_geo::DEFAULT_VALID_FROM) },
            geometry: MultiPolygon::new(vec![polygon![
                (x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1)
            ]]),
        }
    }

    fn index() -> TerritoryIndex {
        TerritoryIndex::build(&[
            feature("340200", 0.0, 0.0, 4.0, 2.0),
            feature("340202", 0.0, 0.0, 2.0, 2.0),
            feature("340202001", 0.0, 0.0, 2.0, 2.0),
            feature("340202001001", 0.0, 0.0, 1.0, 2.0),
            feature("340202001001001", 0.0, 0.0, 1.0, 1.0),
            feature("340202001001001001", 0.0, 0.0, 0.5, 0.5),
        ])
        .unwrap()
    }

    fn run(input: &[u8], threads: usize, strict: bool) -> (Result<Summary, String>, String) {
        let mut out = Vec::new();
        let r = stream(&index(), input, &mut out, Options { threads, strict });
        (r, String::from_utf8(out).unwrap())
    }

    #[test]
    fn formats_every_kind_of_line() {
        let input =
            b"\xEF\xBB\xBFLon , Lat\r\n0.25,0.25\r\n 0.5 ,\t1.5\n3,1\n5.0,1\nabc,1\n\n1,2,3\n1.0e0,1\n200,1\n0.25,0.25";
        let (r, out) = run(input, 1, false);
        let s = r.unwrap();
        let expected = "lon,lat,district,township,community,grid\n\
            0.25,0.25,340202,340202001,340202001001,340202001001001\n\
            0.5,1.5,340202,340202001,340202001001,\n\
            3,1,,,,\n\
            5.0,1,,,,\n\
            ,,,,,\n,,,,,\n,,,,,\n\
            1.0e0,1,340202,340202001,340202001001,340202001001001\n\
            ,,,,,\n\
            0.25,0.25,340202,340202001,340202001001,340202001001001\n";
        assert_eq!(out, expected);
        assert!(s.header);
        // 3,1 is in the city but in no district: located, with empty codes.
        assert_eq!((s.lines, s.located, s.outside, s.malformed), (10, 5, 1, 4));
        assert_eq!(s.first_malformed, Some((6, "abc,1".to_owned())));
    }

    #[test]
    fn strict_stops_before_the_first_bad_line() {
        let (r, out) = run(b"0.25,0.25\n31.3,118.4\n0.25,0.25\n", 1, true);
        assert!(r.unwrap_err().contains("line 2"));
        assert_eq!(out, "0.25,0.25,340202,340202001,340202001001,340202001001001\n");
        let (r, _) = run(b"0.25,0.25\n", 1, true);
        assert_eq!(r.unwrap().malformed, 0);
    }

    #[test]
    fn threads_keep_the_order_across_blocks() {
        // More than one block, and pieces large enough to go parallel.
        let mut input = String::from("lon,lat\n");
        let mut expected = String::from("lon,lat,district,township,community,grid\n");
        for i in 0..300_000u32 {
            let x = f64::from(i % 4000) / 1000.0 + 0.0001;
            let line = format!("{x},0.75");
            input.push_str(&line);
            input.push('\n');
            let codes = if x <= 1.0 {
                "340202,340202001,340202001001,340202001001001"
            } else if x <= 2.0 {
                "340202,340202001,,"
            } else {
                ",,,"
            };
            expected.push_str(&format!("{line},{codes}\n"));
        }
        assert!(input.len() > 2 * BLOCK_BYTES_PER_THREAD);
        for threads in [1, 2, 3] {
            let (r, out) = run(input.as_bytes(), threads, false);
            let s = r.unwrap();
            assert_eq!(s.lines, 300_000);
            assert!(out == expected, "threads = {threads}");
        }
    }

    #[test]
    fn empty_input_and_lines_longer_than_the_buffer() {
        let (r, out) = run(b"", 2, false);
        assert_eq!((r.unwrap().lines, out.as_str()), (0, ""));
        let long = format!("0.25,{}0.25\n0.25,0.25\n", " ".repeat(3 * BLOCK_BYTES_PER_THREAD));
        let (r, out) = run(long.as_bytes(), 1, false);
        assert_eq!(r.unwrap().located, 2);
        assert_eq!(out.lines().count(), 2);
    }

    #[test]
    fn splits_at_line_ends() {
        let block = b"a\nbb\nccc\ndddd\n";
        for n in 1..6 {
            let pieces = split(block, n);
            assert!(pieces.len() <= n);
            assert_eq!(pieces.concat(), block);
            assert!(pieces.iter().all(|p| p.ends_with(b"\n") && !p.is_empty()));
        }
    }

    #[test]
    fn an_endless_line_is_refused_not_buffered() {
        let input = vec![b'1'; MAX_LINE_BYTES + 10];
        let (r, out) = run(&input, 1, false);
        assert!(r.unwrap_err().contains("line 1 is longer than"));
        assert_eq!(out, "");
    }

    proptest::proptest! {
        /// Whatever the bytes, no panic, and one output line per input line
        /// (after an optional header), so line N still answers line N.
        #[test]
        fn any_input_keeps_one_line_per_line(input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400), threads in 1usize..4) {
            let (r, out) = run(&input, threads, false);
            let s = r.unwrap();
            let data_lines = out.lines().count() as u64 - u64::from(s.header);
            proptest::prop_assert_eq!(data_lines, s.lines);
            proptest::prop_assert_eq!(s.lines, s.located + s.outside + s.malformed);
            proptest::prop_assert!(out.lines().all(|l| l.split(',').count() == 6), "{out}");
        }

        /// Well-formed points are echoed as written and answered as the index does.
        #[test]
        fn points_are_echoed_and_located(points in proptest::collection::vec((-1.0f64..5.0, -1.0f64..3.0), 1..50)) {
            let input: String = points.iter().map(|(x, y)| format!("{x},{y}\n")).collect();
            let (r, out) = run(input.as_bytes(), 2, true);
            proptest::prop_assert_eq!(r.unwrap().malformed, 0);
            let idx = index();
            for ((x, y), line) in points.iter().zip(out.lines()) {
                let chain = idx.locate(citygrid_domain::Point { lon: *x, lat: *y });
                let code = |level| chain.as_ref().and_then(|c| c.at(level)).map_or(String::new(), |c| c.to_string());
                use citygrid_domain::Level::*;
                let want = format!("{x},{y},{},{},{},{}", code(District), code(Township), code(Community), code(Grid));
                proptest::prop_assert_eq!(line, want.as_str());
            }
        }
    }
}
