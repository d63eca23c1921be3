//! The little SIP (RFC 3261) a GB/T 28181 alarm receiver needs: read a
//! request such as `MESSAGE sip:…@… SIP/2.0` with its headers and body, and
//! answer it `200 OK`. Not a SIP stack: no dialogs, no transactions, no
//! authentication.

/// The largest SIP message accepted (a UDP datagram is smaller still).
pub const MAX_SIP_BYTES: usize = 64 * 1024;

/// The most headers a request may have.
pub const MAX_HEADERS: usize = 100;

/// Why a SIP message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SipError {
    /// The message is over the size cap.
    #[error("SIP message of {len} bytes is over the maximum of {max}")]
    TooLarge {
        /// The message's size.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// No blank line ends the headers.
    #[error("the headers do not end")]
    UnterminatedHeaders,
    /// The first line is not `METHOD uri SIP/2.0`.
    #[error("bad request line")]
    BadRequestLine,
    /// A header line is not `Name: value`, or the headers are not ASCII/UTF-8.
    #[error("bad header line")]
    BadHeader,
    /// Too many headers.
    #[error("more than {MAX_HEADERS} headers")]
    TooManyHeaders,
    /// `Content-Length` is not a number.
    #[error("bad Content-Length")]
    BadContentLength,
    /// The body is shorter than `Content-Length`.
    #[error("body of {have} bytes, Content-Length says {declared}")]
    Truncated {
        /// `Content-Length`.
        declared: usize,
        /// Bytes present.
        have: usize,
    },
    /// A header the response must echo is absent.
    #[error("missing {0} header")]
    Missing(&'static str),
}

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipRequest {
    /// The method, e.g. `MESSAGE`.
    pub method: String,
    /// The Request-URI.
    pub uri: String,
    /// The headers in order, compact names expanded (`v` → `Via`, `i` → `Call-ID`, …).
    pub headers: Vec<(String, String)>,
    /// The body (`Content-Length` bytes when that header is present).
    pub body: Vec<u8>,
}

impl SipRequest {
    /// The first header of this name (case-insensitive, compact forms too).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers_named(name).next()
    }

    /// Every header of this name, in order.
    pub fn headers_named<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> {
        let name = expand(name).to_ascii_lowercase();
        self.headers.iter().filter(move |(n, _)| n.to_ascii_lowercase() == name).map(|(_, v)| v.as_str())
    }
}

/// The full name of a compact header name.
fn expand(name: &str) -> &str {
    match name {
        "v" | "V" => "Via",
        "f" | "F" => "From",
        "t" | "T" => "To",
        "i" | "I" => "Call-ID",
        "l" | "L" => "Content-Length",
        "c" | "C" => "Content-Type",
        "m" | "M" => "Contact",
        "e" | "E" => "Content-Encoding",
        "k" | "K" => "Supported",
        "s" | "S" => "Subject",
        other => other,
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

/// Parses a SIP request (lines may end in `\r\n` or, leniently, `\n`).
pub fn parse_request(bytes: &[u8]) -> Result<SipRequest, SipError> {
    if bytes.len() > MAX_SIP_BYTES {
        return Err(SipError::TooLarge { len: bytes.len(), max: MAX_SIP_BYTES });
    }
    let (head_end, body_start) = match bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (i, i + 4),
        None => {
            let i = bytes.windows(2).position(|w| w == b"\n\n").ok_or(SipError::UnterminatedHeaders)?;
            (i, i + 2)
        }
    };
    let head = std::str::from_utf8(&bytes[..head_end]).map_err(|_| SipError::BadHeader)?;
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().ok_or(SipError::BadRequestLine)?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(uri), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SipError::BadRequestLine);
    };
    if !is_token(method) || uri.is_empty() || !version.eq_ignore_ascii_case("SIP/2.0") {
        return Err(SipError::BadRequestLine);
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            // A folded continuation of the previous header.
            let (_, value) = headers.last_mut().ok_or(SipError::BadHeader)?;
            value.push(' ');
            value.push_str(line.trim());
            continue;
        }
        let (name, value) = line.split_once(':').ok_or(SipError::BadHeader)?;
        let name = name.trim_end();
        if !is_token(name) {
            return Err(SipError::BadHeader);
        }
        if headers.len() == MAX_HEADERS {
            return Err(SipError::TooManyHeaders);
        }
        headers.push((expand(name).to_owned(), value.trim().to_owned()));
    }
    let rest = &bytes[body_start..];
    let mut request = SipRequest { method: method.to_owned(), uri: uri.to_owned(), headers, body: Vec::new() };
    let body = match request.header("Content-Length") {
        None => rest,
        Some(v) => {
            let declared: usize = v.parse().map_err(|_| SipError::BadContentLength)?;
            // Bytes past Content-Length in a datagram are dropped (RFC 3261 §18.3).
            rest.get(..declared).ok_or(SipError::Truncated { declared, have: rest.len() })?
        }
    };
    request.body = body.to_vec();
    Ok(request)
}

/// The `200 OK` answer to a request: its `Via`s, `From`, `To` (with
/// `;tag=to_tag` added when given and the `To` has no tag yet), `Call-ID`
/// and `CSeq`, and no body.
pub fn ok_response(request: &SipRequest, to_tag: Option<&str>) -> Result<Vec<u8>, SipError> {
    let vias: Vec<&str> = request.headers_named("Via").collect();
    if vias.is_empty() {
        return Err(SipError::Missing("Via"));
    }
    let need = |name: &'static str| request.header(name).ok_or(SipError::Missing(name));
    let (from, to, call_id, cseq) = (need("From")?, need("To")?, need("Call-ID")?, need("CSeq")?);
    let mut out = String::from("SIP/2.0 200 OK\r\n");
    for via in vias {
        out.push_str(&format!("Via: {via}\r\n"));
    }
    out.push_str(&format!("From: {from}\r\n"));
    match to_tag {
        Some(tag) if !to.to_ascii_lowercase().contains(";tag=") => out.push_str(&format!("To: {to};tag={tag}\r\n")),
        _ => out.push_str(&format!("To: {to}\r\n")),
    }
    out.push_str(&format!("Call-ID: {call_id}\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n"));
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gb28181::parse_alarm;

    fn message(body: &str) -> Vec<u8> {
        format!(
            "MESSAGE sip:34020000002000000001@3402000000 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK1\r\n\
             Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK2\r\n\
             From: <sip:34020000001340000001@3402000000>;tag=a1\r\n\
             To: <sip:34020000002000000001@3402000000>\r\n\
             Call-ID: 42@192.168.1.64\r\n\
             CSeq: 20 MESSAGE\r\n\
             Content-Type: Application/MANSCDP+xml\r\n\
             Max-Forwards: 70\r\n\
             l: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    const BODY: &str = "<?xml version=\"1.0\"?><Notify><CmdType>Alarm</CmdType><SN>3</SN><DeviceID>34020000001340000001</DeviceID><AlarmPriority>2</AlarmPriority><AlarmMethod>5</AlarmMethod><AlarmTime>2026-01-01T12:00:00</AlarmTime><Info><AlarmType>5</AlarmType></Info></Notify>";

    #[test]
    fn message_with_alarm() {
        let req = parse_request(&message(BODY)).unwrap();
        assert_eq!(req.method, "MESSAGE");
        assert_eq!(req.uri, "sip:34020000002000000001@3402000000");
        assert_eq!(req.header("content-length"), Some(BODY.len().to_string().as_str()));
        assert_eq!(req.header("i"), Some("42@192.168.1.64"));
        assert_eq!(parse_alarm(&req.body).unwrap().sn, 3);
        let ok = String::from_utf8(ok_response(&req, Some("cg1")).unwrap()).unwrap();
        assert!(ok.starts_with("SIP/2.0 200 OK\r\n"));
        assert!(ok.contains("Via: SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP 10.0.0.1"));
        assert!(ok.contains("To: <sip:34020000002000000001@3402000000>;tag=cg1\r\n"));
        assert!(ok.contains("From: <sip:34020000001340000001@3402000000>;tag=a1\r\n"));
        assert!(ok.contains("Call-ID: 42@192.168.1.64\r\nCSeq: 20 MESSAGE\r\nContent-Length: 0\r\n\r\n"));
    }

    #[test]
    fn body_bounded_by_content_length() {
        let mut m = message(BODY);
        m.extend_from_slice(b"\0\0padding");
        assert_eq!(parse_request(&m).unwrap().body, BODY.as_bytes());
        let m = message(BODY);
        assert!(matches!(parse_request(&m[..m.len() - 5]), Err(SipError::Truncated { .. })));
    }

    #[test]
    fn refusals() {
        assert_eq!(parse_request(b"SIP/2.0 200 OK\r\n\r\n"), Err(SipError::BadRequestLine));
        assert_eq!(parse_request(b"MESSAGE sip:a SIP/2.0\r\nVia x\r\n\r\n"), Err(SipError::BadHeader));
        assert_eq!(parse_request(b"MESSAGE sip:a SIP/2.0\r\nVia: x\r\n"), Err(SipError::UnterminatedHeaders));
        assert_eq!(
            parse_request(b"MESSAGE sip:a SIP/2.0\r\nContent-Length: x\r\n\r\n"),
            Err(SipError::BadContentLength)
        );
        let req = parse_request(b"MESSAGE sip:a SIP/2.0\r\nVia: x\r\n\r\n").unwrap();
        assert_eq!(ok_response(&req, None), Err(SipError::Missing("From")));
    }

    #[test]
    fn folded_headers_and_bare_newlines() {
        let req = parse_request(b"MESSAGE sip:a SIP/2.0\nSubject: one\n two\n\nbody").unwrap();
        assert_eq!(req.header("Subject"), Some("one two"));
        assert_eq!(req.body, b"body");
    }
}
