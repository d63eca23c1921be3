//! One HJ 212 frame ⇄ a typed [`Packet`].

use std::fmt;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

use super::{FRAME_OVERHEAD, Hj212Error, Limits, crc16};

/// The request code `QN`: the moment a request was made, to the millisecond
/// (`yyyyMMddHHmmssSSS`), which identifies one command exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Qn(NaiveDateTime);

impl Qn {
    /// A QN for a moment; sub-millisecond precision is dropped. `None` for
    /// years outside 0–9999, which the 17-digit form cannot write.
    pub fn new(at: NaiveDateTime) -> Option<Qn> {
        if !(0..=9999).contains(&at.year()) {
            return None;
        }
        let millis = at.nanosecond() / 1_000_000 % 1000;
        at.with_nanosecond(millis * 1_000_000).map(Qn)
    }

    /// The moment the QN names.
    pub fn at(self) -> NaiveDateTime {
        self.0
    }

    /// Reads the 17-digit form.
    pub fn parse(s: &str) -> Result<Qn, Hj212Error> {
        let bad = |reason: &str| Hj212Error::malformed("QN", reason);
        if s.len() != 17 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("expected 17 digits yyyyMMddHHmmssSSS"));
        }
        let at = parse_digits_time(&s[..14]).ok_or_else(|| bad("not a valid date and time"))?;
        let millis: u32 = s[14..].parse().map_err(|_| bad("bad milliseconds"))?;
        at.with_nanosecond(millis * 1_000_000).map(Qn).ok_or_else(|| bad("bad milliseconds"))
    }
}

impl fmt::Display for Qn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:03}", format_digits_time(self.0), self.0.nanosecond() / 1_000_000 % 1000)
    }
}

/// Reads `yyyyMMddHHmmss` (exactly 14 ASCII digits).
pub(crate) fn parse_digits_time(s: &str) -> Option<NaiveDateTime> {
    if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r).and_then(|p| p.parse::<u32>().ok());
    let year = i32::try_from(n(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, n(4..6)?, n(6..8)?)?.and_hms_opt(n(8..10)?, n(10..12)?, n(12..14)?)
}

/// Writes `yyyyMMddHHmmss`.
pub(crate) fn format_digits_time(at: NaiveDateTime) -> String {
    format!("{:04}{:02}{:02}{:02}{:02}{:02}", at.year(), at.month(), at.day(), at.hour(), at.minute(), at.second())
}

/// The `Flag` field: bits `V5 V4 V3 V2 V1 V0 D A`.
///
/// - `A` (value 1): the sender wants an answer.
/// - `D` (value 2): the packet is one of several sub-packets (`PNUM`/`PNO` given).
/// - `V5…V0`: the protocol version; HJ 212-2017 is version 1 (so `Flag=4`
///   is a 2017 packet asking nothing, `Flag=5` one asking for an answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flag {
    /// Protocol version, 0–63 (HJ 212-2017 is 1; older devices send 0).
    pub version: u8,
    /// `D`: the packet has sub-packets.
    pub subpackets: bool,
    /// `A`: an answer is wanted.
    pub answer: bool,
}

impl Flag {
    /// The version number of HJ 212-2017.
    pub const V2017: u8 = 1;

    /// The flag of a 2017 packet that asks for nothing (`Flag=4`).
    pub const fn v2017() -> Flag {
        Flag { version: Flag::V2017, subpackets: false, answer: false }
    }

    /// Reads the flag byte.
    pub const fn from_bits(bits: u8) -> Flag {
        Flag { version: bits >> 2, subpackets: bits & 2 != 0, answer: bits & 1 != 0 }
    }

    /// The flag byte (a version over 63 is cut to its 6 low bits).
    pub const fn bits(self) -> u8 {
        ((self.version & 0x3F) << 2) | ((self.subpackets as u8) << 1) | (self.answer as u8)
    }
}

/// The command parameters, `CP=&&…&&`: `;`-separated groups of `,`-separated
/// `Key=Value` pairs, in the order they came, e.g.
/// `DataTime=20260101120000;w01018-Rtd=12.3,w01018-Flag=N`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cp {
    /// The groups; empty groups are not kept.
    pub groups: Vec<Vec<(String, String)>>,
}

impl Cp {
    /// The value of the first pair named `key`, in any group.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Every pair, group after group.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.groups.iter().flatten().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// A CP of one group.
    pub fn single<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Cp {
        let group: Vec<(String, String)> = pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        Cp { groups: if group.is_empty() { Vec::new() } else { vec![group] } }
    }

    fn parse(content: &str) -> Result<Cp, Hj212Error> {
        let mut groups = Vec::new();
        for group in content.split(';') {
            let mut pairs = Vec::new();
            for pair in group.split(',') {
                if pair.is_empty() {
                    continue;
                }
                let (k, v) = pair
                    .split_once('=')
                    .ok_or_else(|| Hj212Error::malformed("CP", format!("`{}` is not Key=Value", clip(pair))))?;
                if k.is_empty() {
                    return Err(Hj212Error::malformed("CP", "empty key"));
                }
                pairs.push((k.to_owned(), v.to_owned()));
            }
            if !pairs.is_empty() {
                groups.push(pairs);
            }
        }
        Ok(Cp { groups })
    }

    fn write(&self, out: &mut String) {
        for (i, group) in self.groups.iter().enumerate() {
            if i > 0 {
                out.push(';');
            }
            for (j, (k, v)) in group.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                out.push_str(k);
                out.push('=');
                out.push_str(v);
            }
        }
    }
}

/// An HJ 212 packet: the fields of its data segment.
///
/// `ST`, `CN`, `PW`, `MN` and `CP` are required; `QN` and `Flag` are optional
/// because devices built to HJ/T 212-2005 leave them out of data uploads.
/// `PNUM`/`PNO` are required when the flag's `D` bit is set.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// `QN`, the request code.
    pub qn: Option<Qn>,
    /// `ST`, the system code (see [`super::st`]).
    pub st: String,
    /// `CN`, the command code (see [`super::cn`]).
    pub cn: String,
    /// `PW`, the station's access password.
    pub pw: String,
    /// `MN`, the station's unique code.
    pub mn: String,
    /// `Flag`.
    pub flag: Option<Flag>,
    /// `PNUM`, the number of sub-packets, and `PNO`, this one's number (1-based).
    pub subpacket: Option<(u32, u32)>,
    /// `CP`, the command parameters.
    pub cp: Cp,
}

impl Packet {
    /// Whether the sender asked for an answer (`Flag` bit `A`).
    pub fn wants_answer(&self) -> bool {
        self.flag.is_some_and(|f| f.answer)
    }

    /// The data segment, as [`encode`] frames it.
    pub fn data_segment(&self) -> String {
        let mut s = String::with_capacity(128);
        if let Some(qn) = self.qn {
            s.push_str(&format!("QN={qn};"));
        }
        s.push_str(&format!("ST={};CN={};PW={};MN={};", self.st, self.cn, self.pw, self.mn));
        if let Some(flag) = self.flag {
            s.push_str(&format!("Flag={};", flag.bits()));
        }
        if let Some((pnum, pno)) = self.subpacket {
            s.push_str(&format!("PNUM={pnum};PNO={pno};"));
        }
        s.push_str("CP=&&");
        self.cp.write(&mut s);
        s.push_str("&&");
        s
    }

    /// Reads a data segment (the part between the length and the CRC).
    pub fn parse_data_segment(data: &[u8]) -> Result<Packet, Hj212Error> {
        let data = std::str::from_utf8(data).map_err(|_| Hj212Error::malformed("data segment", "not ASCII/UTF-8"))?;
        let cp_at = data.find("CP=&&").ok_or(Hj212Error::MissingField("CP"))?;
        let head = &data[..cp_at];
        if !head.is_empty() && !head.ends_with(';') {
            return Err(Hj212Error::malformed("data segment", "CP must follow a `;`"));
        }
        let content = data
            .get(cp_at + 5..)
            .and_then(|rest| rest.strip_suffix("&&"))
            .ok_or_else(|| Hj212Error::malformed("CP", "must end with `&&`"))?;
        if content.contains("&&") {
            return Err(Hj212Error::malformed("CP", "`&&` inside the parameters"));
        }
        let cp = Cp::parse(content)?;

        let mut fields: [Option<&str>; 8] = [None; 8];
        const NAMES: [&str; 8] = ["QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO"];
        for part in head.split(';').filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| Hj212Error::malformed("data segment", format!("`{}` is not Key=Value", clip(part))))?;
            let i = NAMES
                .iter()
                .position(|n| *n == k)
                .ok_or_else(|| Hj212Error::malformed("data segment", format!("unknown field `{}`", clip(k))))?;
            if fields[i].replace(v).is_some() {
                return Err(Hj212Error::malformed(NAMES[i], "given twice"));
            }
        }
        let [qn, st, cn, pw, mn, flag, pnum, pno] = fields;
        let text = |name: &'static str, v: Option<&str>| -> Result<String, Hj212Error> {
            let v = v.ok_or(Hj212Error::MissingField(name))?;
            if v.is_empty() || v.len() > 64 || !v.bytes().all(|b| b.is_ascii_graphic() && !b"&,;=".contains(&b)) {
                return Err(Hj212Error::malformed(name, "expected 1–64 printable ASCII characters"));
            }
            Ok(v.to_owned())
        };
        let number = |name: &'static str, v: &str| -> Result<u32, Hj212Error> {
            if v.is_empty() || v.len() > 9 || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Hj212Error::malformed(name, "expected a decimal number"));
            }
            v.parse().map_err(|_| Hj212Error::malformed(name, "expected a decimal number"))
        };
        let flag = match flag {
            None => None,
            Some(v) => {
                let n = number("Flag", v)?;
                Some(Flag::from_bits(u8::try_from(n).map_err(|_| Hj212Error::malformed("Flag", "over 255"))?))
            }
        };
        let subpacket = match (pnum, pno) {
            (None, None) => None,
            (Some(pnum), Some(pno)) => {
                let (pnum, pno) = (number("PNUM", pnum)?, number("PNO", pno)?);
                if pno == 0 || pno > pnum {
                    return Err(Hj212Error::malformed("PNO", "must be 1..=PNUM"));
                }
                Some((pnum, pno))
            }
            (None, Some(_)) => return Err(Hj212Error::MissingField("PNUM")),
            (Some(_), None) => return Err(Hj212Error::MissingField("PNO")),
        };
        if flag.is_some_and(|f| f.subpackets) && subpacket.is_none() {
            return Err(Hj212Error::MissingField("PNUM"));
        }
        Ok(Packet {
            qn: qn.map(Qn::parse).transpose()?,
            st: text("ST", st)?,
            cn: text("CN", cn)?,
            pw: text("PW", pw)?,
            mn: text("MN", mn)?,
            flag,
            subpacket,
            cp,
        })
    }
}

/// The first characters of an untrusted string, for error messages.
fn clip(s: &str) -> &str {
    match s.char_indices().nth(32) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Frames a packet: `##`, length, data segment, CRC, `\r\n`.
///
/// The caller keeps the fields valid (no `;`, `,`, `=`, `&&` inside them) and
/// the data segment within [`super::MAX_DATA_LEN`] bytes; [`parse`] reads back
/// every packet that satisfies this.
pub fn encode(packet: &Packet) -> Vec<u8> {
    let data = packet.data_segment();
    let mut out = Vec::with_capacity(data.len() + FRAME_OVERHEAD);
    out.extend_from_slice(format!("##{:04}", data.len()).as_bytes());
    out.extend_from_slice(data.as_bytes());
    out.extend_from_slice(format!("{:04X}\r\n", crc16(data.as_bytes())).as_bytes());
    out
}

/// Parses exactly one frame with the default [`Limits`] (data segment up to 9999 bytes).
pub fn parse(frame: &[u8]) -> Result<Packet, Hj212Error> {
    parse_with(frame, &Limits::default())
}

/// Parses exactly one frame: header, length, CRC, then the data segment.
pub fn parse_with(frame: &[u8], limits: &Limits) -> Result<Packet, Hj212Error> {
    let declared = declared_len(frame)?;
    let Some(declared) = declared else {
        return Err(Hj212Error::Truncated { needed: 6, have: frame.len() });
    };
    if declared > limits.data_cap() {
        return Err(Hj212Error::TooLong { declared, max: limits.data_cap() });
    }
    let needed = declared + FRAME_OVERHEAD;
    if frame.len() != needed || !frame.ends_with(b"\r\n") {
        // Where does the frame end? At its first `\r\n` after the header.
        return Err(match find(&frame[6..], b"\r\n") {
            Some(end) if end >= 4 && end - 4 != declared => Hj212Error::LengthMismatch { declared, actual: end - 4 },
            Some(end) if end >= 4 => {
                Hj212Error::LengthMismatch { declared, actual: frame.len().saturating_sub(FRAME_OVERHEAD) }
            }
            Some(_) => Hj212Error::BadTrailer,
            None if frame.len() < needed => Hj212Error::Truncated { needed, have: frame.len() },
            None if frame.len() == needed => Hj212Error::BadTrailer,
            None => Hj212Error::LengthMismatch { declared, actual: frame.len().saturating_sub(FRAME_OVERHEAD) },
        });
    }
    let data = &frame[6..6 + declared];
    let declared_crc = parse_hex4(&frame[6 + declared..needed - 2]).ok_or(Hj212Error::BadTrailer)?;
    let computed = crc16(data);
    if declared_crc != computed {
        return Err(Hj212Error::CrcMismatch { declared: declared_crc, computed });
    }
    Packet::parse_data_segment(data)
}

/// The declared data length, `None` while fewer than 6 bytes are there (and
/// those agree with a header so far).
pub(crate) fn declared_len(buf: &[u8]) -> Result<Option<usize>, Hj212Error> {
    let head = &buf[..buf.len().min(6)];
    let ok = head.iter().enumerate().all(|(i, &b)| if i < 2 { b == b'#' } else { b.is_ascii_digit() });
    if !ok {
        return Err(Hj212Error::BadHeader);
    }
    if head.len() < 6 {
        return Ok(None);
    }
    Ok(Some(head[2..6].iter().fold(0usize, |n, &d| n * 10 + usize::from(d - b'0'))))
}

fn parse_hex4(s: &[u8]) -> Option<u16> {
    if s.len() != 4 || !s.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u16::from_str_radix(std::str::from_utf8(s).ok()?, 16).ok()
}

/// Position of `needle` in `hay`.
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The header fields of a data segment read without checking anything, to
/// answer a packet that was refused (a `CN=9011` reply needs its QN, PW and MN).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LooseHeader {
    /// `QN`, if it was there and valid.
    pub qn: Option<Qn>,
    /// `ST` as sent.
    pub st: Option<String>,
    /// `CN` as sent.
    pub cn: Option<String>,
    /// `PW` as sent.
    pub pw: Option<String>,
    /// `MN` as sent.
    pub mn: Option<String>,
    /// `Flag`, if it was there and valid.
    pub flag: Option<Flag>,
}

impl LooseHeader {
    /// Scans the part of a data segment before `CP=`.
    pub fn scan(data: &[u8]) -> LooseHeader {
        let text = String::from_utf8_lossy(data);
        let head = text.split("CP=").next().unwrap_or_default();
        let mut h = LooseHeader::default();
        for part in head.split(';') {
            let Some((k, v)) = part.split_once('=') else { continue };
            let v = clip(v);
            match k {
                "QN" => h.qn = Qn::parse(v).ok(),
                "ST" => h.st = Some(v.to_owned()),
                "CN" => h.cn = Some(v.to_owned()),
                "PW" => h.pw = Some(v.to_owned()),
                "MN" => h.mn = Some(v.to_owned()),
                "Flag" => h.flag = v.parse::<u8>().ok().map(Flag::from_bits),
                _ => {}
            }
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &[u8] = b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80\r\n";

    #[test]
    fn the_standards_example_parses_and_its_crc_verifies() {
        let p = parse(EXAMPLE).unwrap();
        assert_eq!(p.qn.unwrap().to_string(), "20160801085857223");
        assert_eq!(p.st, "32");
        assert_eq!(p.cn, "1062");
        assert_eq!(p.pw, "100000");
        assert_eq!(p.mn, "010000A8900016F000169DC0");
        assert_eq!(p.flag, Some(Flag { version: 1, subpackets: false, answer: true }));
        assert!(p.wants_answer());
        assert_eq!(p.cp.get("RtdInterval"), Some("30"));
        assert_eq!(crc16(&EXAMPLE[6..107]), 0x1C80);
        // And it is written back byte for byte.
        assert_eq!(encode(&p), EXAMPLE);
    }

    #[test]
    fn lower_case_crc_is_accepted() {
        let mut f = EXAMPLE.to_vec();
        f[107..111].copy_from_slice(b"1c80");
        assert!(parse(&f).is_ok());
    }

    #[test]
    fn crc_broken() {
        let mut f = EXAMPLE.to_vec();
        f[107..111].copy_from_slice(b"1C81");
        assert_eq!(parse(&f), Err(Hj212Error::CrcMismatch { declared: 0x1C81, computed: 0x1C80 }));
        let mut f = EXAMPLE.to_vec();
        f[40] = b'9'; // a changed byte in the data segment
        assert!(matches!(parse(&f), Err(Hj212Error::CrcMismatch { .. })));
    }

    #[test]
    fn truncated() {
        assert_eq!(parse(&EXAMPLE[..50]), Err(Hj212Error::Truncated { needed: 113, have: 50 }));
        assert_eq!(parse(b"##01"), Err(Hj212Error::Truncated { needed: 6, have: 4 }));
        assert_eq!(parse(b""), Err(Hj212Error::Truncated { needed: 6, have: 0 }));
    }

    #[test]
    fn wrong_length() {
        let mut f = EXAMPLE.to_vec();
        f[2..6].copy_from_slice(b"0100");
        assert_eq!(parse(&f), Err(Hj212Error::LengthMismatch { declared: 100, actual: 101 }));
        f[2..6].copy_from_slice(b"0102");
        assert_eq!(parse(&f), Err(Hj212Error::LengthMismatch { declared: 102, actual: 101 }));
    }

    #[test]
    fn over_long() {
        let limits = Limits { max_data_len: 100 };
        assert_eq!(parse_with(EXAMPLE, &limits), Err(Hj212Error::TooLong { declared: 101, max: 100 }));
        let mut big = b"##9999".to_vec();
        big.extend(std::iter::repeat_n(b'x', 9999 + 6));
        assert!(parse_with(&big, &limits).is_err());
    }

    #[test]
    fn bad_header() {
        assert_eq!(parse(b"#0101QN=1"), Err(Hj212Error::BadHeader));
        assert_eq!(parse(b"##01a1QN=1"), Err(Hj212Error::BadHeader));
        assert_eq!(parse(b"hello"), Err(Hj212Error::BadHeader));
    }

    #[test]
    fn bad_trailer() {
        let mut f = EXAMPLE.to_vec();
        f[107..111].copy_from_slice(b"1G80");
        assert_eq!(parse(&f), Err(Hj212Error::BadTrailer));
    }

    fn framed(data: &str) -> Vec<u8> {
        let mut f = format!("##{:04}{data}", data.len()).into_bytes();
        f.extend(format!("{:04X}\r\n", crc16(data.as_bytes())).bytes());
        f
    }

    #[test]
    fn missing_and_malformed_fields() {
        let cases: &[(&str, Hj212Error)] = &[
            ("QN=20160801085857223;ST=32;CN=2011;PW=1;Flag=5;CP=&&&&", Hj212Error::MissingField("MN")),
            ("ST=32;CN=2011;PW=1;MN=2;Flag=5", Hj212Error::MissingField("CP")),
            ("QN=2016080108585722;ST=32;CN=2011;PW=1;MN=2;CP=&&&&", Hj212Error::malformed("QN", "")),
            ("QN=20161301085857223;ST=32;CN=2011;PW=1;MN=2;CP=&&&&", Hj212Error::malformed("QN", "")),
            ("ST=32;CN=2011;PW=1;MN=2;Flag=256;CP=&&&&", Hj212Error::malformed("Flag", "")),
            ("ST=32;CN=2011;PW=1;MN=2;Flag=x;CP=&&&&", Hj212Error::malformed("Flag", "")),
            ("ST=32;CN=2011;PW=1;MN=2;Flag=6;CP=&&&&", Hj212Error::MissingField("PNUM")),
            ("ST=32;CN=2011;PW=1;MN=2;Flag=6;PNUM=2;PNO=3;CP=&&&&", Hj212Error::malformed("PNO", "")),
            ("ST=32;ST=32;CN=2011;PW=1;MN=2;CP=&&&&", Hj212Error::malformed("ST", "")),
            ("ST=32;CN=2011;PW=1;MN=2;XX=1;CP=&&&&", Hj212Error::malformed("data segment", "")),
            ("ST=32;CN=2011;PW=;MN=2;CP=&&&&", Hj212Error::malformed("PW", "")),
            ("ST=32;CN=2011;PW=1;MN=2;CP=&&a=1;b&&", Hj212Error::malformed("CP", "")),
            ("ST=32;CN=2011;PW=1;MN=2;CP=&&a=1", Hj212Error::malformed("CP", "")),
            ("ST=32;CN=2011;PW=1;MN=2CP=&&&&", Hj212Error::malformed("data segment", "")),
        ];
        for (data, want) in cases {
            let got = parse(&framed(data)).unwrap_err();
            let same = match (&got, want) {
                (Hj212Error::Malformed { field: a, .. }, Hj212Error::Malformed { field: b, .. }) => a == b,
                (a, b) => a == b,
            };
            assert!(same, "{data}: got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn old_style_packet_without_qn_and_flag() {
        let data = "ST=32;CN=2011;PW=123456;MN=0873HHMZWSLH02;CP=&&DataTime=20160103133030;060-Rtd=3.0943,060-Flag=N;011-Rtd=18.0412,011-Flag=N&&";
        let p = parse(&framed(data)).unwrap();
        assert_eq!(p.qn, None);
        assert_eq!(p.flag, None);
        assert_eq!(p.cp.groups.len(), 3);
        assert_eq!(p.cp.get("011-Rtd"), Some("18.0412"));
        assert_eq!(p.data_segment(), data);
    }

    #[test]
    fn subpackets_and_trailing_separators() {
        let data =
            "QN=20260101120000001;ST=21;CN=2061;PW=123456;MN=A1;Flag=7;PNUM=3;PNO=2;CP=&&DataTime=20260101110000;&&";
        let p = parse(&framed(data)).unwrap();
        assert_eq!(p.subpacket, Some((3, 2)));
        assert_eq!(p.flag, Some(Flag { version: 1, subpackets: true, answer: true }));
        assert_eq!(p.cp.groups.len(), 1);
    }

    #[test]
    fn flag_bits_round_trip() {
        for bits in 0..=255u8 {
            assert_eq!(Flag::from_bits(bits).bits(), bits);
        }
        assert_eq!(Flag::v2017().bits(), 4);
    }

    #[test]
    fn loose_header_reads_a_broken_packet() {
        let h = LooseHeader::scan(b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=ABC;Flag=5;CP=&&x");
        assert_eq!(h.qn.map(|q| q.to_string()).as_deref(), Some("20160801085857223"));
        assert_eq!(h.mn.as_deref(), Some("ABC"));
        assert_eq!(h.flag.map(Flag::bits), Some(5));
    }
}
