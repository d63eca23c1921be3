//! Cutting a TCP byte stream into HJ 212 frames.

use super::packet::{declared_len, find};
use super::{FRAME_OVERHEAD, Hj212Error, Limits, LooseHeader, Packet, parse_with};

/// A frame the [`Framer`] delimited but refused, or bytes it skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// Why.
    pub error: Hj212Error,
    /// The header fields read loosely from the refused data segment, when a
    /// data segment could be delimited (to address a `CN=9011` reply).
    pub header: Option<LooseHeader>,
}

impl From<Hj212Error> for Rejected {
    fn from(error: Hj212Error) -> Self {
        Rejected { error, header: None }
    }
}

/// Turns bytes as they arrive over TCP into frames.
///
/// Feed it whatever `read` returned; it answers with every frame completed by
/// those bytes, in order, each a parsed [`Packet`] or a [`Rejected`] frame.
/// After garbage, a bad header, a wrong length or a truncated frame it
/// resynchronises at the next `##`, so one bad frame never costs the
/// connection. The buffer never holds more than one maximal frame
/// ([`Limits::frame_cap`] bytes).
#[derive(Debug, Clone)]
pub struct Framer {
    buf: Vec<u8>,
    limits: Limits,
    /// How far the frame at the front of `buf` is known to hold no `\r\n`
    /// and no `##`, so that a frame dribbled in byte by byte is scanned once.
    scanned: usize,
}

impl Default for Framer {
    fn default() -> Self {
        Framer::new(Limits::default())
    }
}

enum Step {
    NeedMore,
    Frame(Result<Packet, Rejected>),
}

impl Framer {
    /// A framer with these limits.
    pub fn new(limits: Limits) -> Framer {
        Framer { buf: Vec::new(), limits, scanned: 0 }
    }

    /// Bytes held waiting for the rest of a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The most bytes the framer ever holds.
    pub fn capacity_bound(&self) -> usize {
        self.limits.frame_cap()
    }

    /// Takes the next bytes of the stream; returns the frames they complete.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Vec<Result<Packet, Rejected>> {
        let mut out = Vec::new();
        let cap = self.capacity_bound();
        loop {
            // Never hold more than `cap`: take only what fits, then drain.
            let take = cap.saturating_sub(self.buf.len()).min(bytes.len());
            self.buf.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            while let Step::Frame(f) = self.step() {
                out.push(f);
            }
            if bytes.is_empty() {
                return out;
            }
        }
    }

    /// Drops `n` bytes from the front.
    fn consume(&mut self, n: usize) {
        self.scanned = 0;
        self.buf.drain(..n.min(self.buf.len()));
    }

    fn step(&mut self) -> Step {
        // Resynchronise on `##`.
        match find(&self.buf, b"##") {
            Some(0) => {}
            Some(at) => {
                self.consume(at);
                return Step::Frame(Err(Hj212Error::Garbage(at).into()));
            }
            None => {
                // Keep a trailing `#`: it may begin the next frame.
                let keep = usize::from(self.buf.last() == Some(&b'#'));
                let skipped = self.buf.len() - keep;
                if skipped == 0 {
                    return Step::NeedMore;
                }
                self.consume(skipped);
                return Step::Frame(Err(Hj212Error::Garbage(skipped).into()));
            }
        }
        let declared = match declared_len(&self.buf) {
            Ok(Some(n)) => n,
            Ok(None) => return Step::NeedMore,
            Err(e) => {
                // Skip one `#` only: `###0101…` still holds a frame.
                self.consume(1);
                return Step::Frame(Err(e.into()));
            }
        };
        let max = self.limits.data_cap();
        if declared > max {
            self.consume(2);
            return Step::Frame(Err(Hj212Error::TooLong { declared, max }.into()));
        }
        let needed = declared + FRAME_OVERHEAD;
        // Whichever comes first before the announced end: a `\r\n` (the frame
        // is shorter than it says) or a `##` (a new frame cut into this one).
        let search_end = self.buf.len().min(needed - 2);
        // Patterns are 2 bytes: resume one byte before where the last scan stopped.
        let (from_crlf, from_next) = (self.scanned.saturating_sub(1).max(6), self.scanned.saturating_sub(1).max(2));
        let crlf = find(self.buf.get(from_crlf..search_end).unwrap_or_default(), b"\r\n").map(|i| i + from_crlf);
        let next = find(self.buf.get(from_next..search_end).unwrap_or_default(), b"##").map(|i| i + from_next);
        if crlf.is_none() && next.is_none() {
            self.scanned = search_end;
        }
        match (crlf, next) {
            (Some(end), n) if n.is_none_or(|n| end < n) => {
                let header = LooseHeader::scan(&self.buf[6..end]);
                self.consume(end + 2);
                let error = Hj212Error::LengthMismatch { declared, actual: (end - 6).saturating_sub(4) };
                return Step::Frame(Err(Rejected { error, header: Some(header) }));
            }
            (_, Some(have)) => {
                self.consume(have);
                return Step::Frame(Err(Hj212Error::Truncated { needed, have }.into()));
            }
            _ => {}
        }
        if self.buf.len() < needed {
            return Step::NeedMore;
        }
        let result = parse_with(&self.buf[..needed], &self.limits).map_err(|error| {
            let header = Some(LooseHeader::scan(&self.buf[6..6 + declared]));
            Rejected { error, header }
        });
        if self.buf[needed - 2..needed] == *b"\r\n" {
            self.consume(needed);
        } else {
            // No `\r\n` where the frame should end: resynchronise after the `##`.
            self.consume(2);
        }
        Step::Frame(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hj212::{encode, parse};

    const EXAMPLE: &[u8] = b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80\r\n";

    fn oks(v: &[Result<Packet, Rejected>]) -> usize {
        v.iter().filter(|r| r.is_ok()).count()
    }

    #[test]
    fn byte_at_a_time() {
        let mut f = Framer::default();
        let mut got = Vec::new();
        for b in EXAMPLE.iter().chain(EXAMPLE) {
            got.extend(f.feed(std::slice::from_ref(b)));
        }
        assert_eq!(got.len(), 2);
        assert_eq!(oks(&got), 2);
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn recovers_after_garbage_and_bad_frames() {
        let mut stream = b"hello\r\n#garbage".to_vec();
        stream.extend_from_slice(EXAMPLE);
        stream.extend_from_slice(&EXAMPLE[..60]); // truncated
        stream.extend_from_slice(EXAMPLE);
        let mut bad_crc = EXAMPLE.to_vec();
        bad_crc[107] = b'2';
        stream.extend_from_slice(&bad_crc);
        let mut short = EXAMPLE.to_vec();
        short[2..6].copy_from_slice(b"0200"); // longer than it is
        stream.extend_from_slice(&short);
        stream.extend_from_slice(EXAMPLE);
        let got = Framer::default().feed(&stream);
        assert_eq!(oks(&got), 3, "{got:#?}");
        let crc = got.iter().find(|r| matches!(r, Err(Rejected { error: Hj212Error::CrcMismatch { .. }, .. })));
        let header = crc.and_then(|r| r.as_ref().err()).and_then(|r| r.header.clone()).unwrap();
        assert_eq!(header.mn.as_deref(), Some("010000A8900016F000169DC0"));
        assert!(got.iter().any(|r| matches!(r, Err(Rejected { error: Hj212Error::Truncated { .. }, .. }))));
        assert!(got.iter().any(|r| matches!(r, Err(Rejected { error: Hj212Error::LengthMismatch { .. }, .. }))));
    }

    #[test]
    fn over_long_is_refused_and_bounded() {
        let mut f = Framer::new(Limits { max_data_len: 200 });
        let mut stream = b"##9000".to_vec();
        stream.extend(std::iter::repeat_n(b'x', 5000));
        stream.extend_from_slice(EXAMPLE);
        let got = f.feed(&stream);
        assert!(matches!(got[0], Err(Rejected { error: Hj212Error::TooLong { declared: 9000, max: 200 }, .. })));
        assert_eq!(oks(&got), 1);
        assert!(f.buffered() <= f.capacity_bound());
    }

    #[test]
    fn a_frame_without_crlf_resyncs() {
        let p = parse(EXAMPLE).unwrap();
        let mut stream = encode(&p);
        let n = stream.len();
        stream[n - 2] = b'X';
        stream.extend_from_slice(EXAMPLE);
        let got = Framer::default().feed(&stream);
        assert_eq!(oks(&got), 1, "{got:#?}");
    }
}
