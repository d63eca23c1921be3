//! GB/T 28181 alarm notifications: the `Notify` message with
//! `CmdType=Alarm` a camera or video platform sends when an alarm fires, as
//! the body of a SIP `MESSAGE` (`Application/MANSCDP+xml`) or of an HTTP POST.
//!
//! ```xml
//! <?xml version="1.0" encoding="GB2312"?>
//! <Notify>
//!   <CmdType>Alarm</CmdType><SN>17430</SN><DeviceID>34020000001340000001</DeviceID>
//!   <AlarmPriority>1</AlarmPriority><AlarmMethod>5</AlarmMethod>
//!   <AlarmTime>2026-01-01T12:00:00</AlarmTime><AlarmDescription>区域入侵</AlarmDescription>
//!   <Longitude>118.37</Longitude><Latitude>31.33</Latitude>
//!   <Info><AlarmType>6</AlarmType></Info>
//! </Notify>
//! ```
//!
//! The body is decoded as its XML declaration says (UTF-8, or GB2312/GBK/GB18030
//! through `encoding_rs`; GB2312 is read as its superset GBK). Without a
//! declaration, or when a body declared UTF-8 is not valid UTF-8, it is read
//! as GB18030, since that is what such devices send. Bodies over
//! [`MAX_ALARM_BYTES`] and any DTD (`<!DOCTYPE`, `<!ENTITY`) are refused, so
//! neither external entities nor entity expansion can happen.
//!
//! [`sip`] has the little SIP an alarm receiver needs.

pub mod sip;

use std::fmt::Write as _;

use chrono::NaiveDateTime;
use encoding_rs::{Encoding, GB18030, GBK, UTF_8};

/// The largest alarm body accepted.
pub const MAX_ALARM_BYTES: usize = 64 * 1024;

/// Why an alarm body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlarmError {
    /// The body is over the size cap.
    #[error("alarm body of {len} bytes is over the maximum of {max}")]
    TooLarge {
        /// The body's size.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// The XML declaration names an encoding other than UTF-8 or the GB family.
    #[error("unsupported encoding `{0}`")]
    UnsupportedEncoding(String),
    /// The bytes are not valid in the encoding they were read in.
    #[error("the body is not valid {0}")]
    BadEncoding(&'static str),
    /// The body has a document type declaration or entity declarations.
    #[error("DTDs and entity declarations are not accepted")]
    Dtd,
    /// The body is not well-formed XML.
    #[error("bad XML: {0}")]
    Xml(String),
    /// The root element is not `Notify` or `CmdType` is not `Alarm`.
    #[error("not an alarm notification: {0}")]
    NotAlarm(String),
    /// A required element is absent or empty.
    #[error("missing {0}")]
    Missing(&'static str),
    /// An element's content is malformed.
    #[error("malformed {field}: {reason}")]
    Malformed {
        /// The element.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// How the alarm was raised (`AlarmMethod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlarmMethod {
    /// 1: telephone alarm.
    Phone,
    /// 2: device alarm (an alarm input).
    Device,
    /// 3: SMS alarm.
    Sms,
    /// 4: GPS alarm.
    Gps,
    /// 5: video alarm (analytics; see [`VideoAlarmType`]).
    Video,
    /// 6: device fault.
    DeviceFault,
    /// 7: other.
    Other,
}

impl AlarmMethod {
    /// The method for its number.
    pub fn from_code(code: u8) -> Option<AlarmMethod> {
        Some(match code {
            1 => AlarmMethod::Phone,
            2 => AlarmMethod::Device,
            3 => AlarmMethod::Sms,
            4 => AlarmMethod::Gps,
            5 => AlarmMethod::Video,
            6 => AlarmMethod::DeviceFault,
            7 => AlarmMethod::Other,
            _ => return None,
        })
    }

    /// The method's number.
    pub fn code(self) -> u8 {
        self as u8 + 1
    }
}

/// The video-analytics alarm types (`Info/AlarmType` when the method is video).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoAlarmType {
    /// 1: manual video alarm.
    Manual,
    /// 2: motion detection.
    Motion,
    /// 3: left object.
    LeftObject,
    /// 4: removed object.
    RemovedObject,
    /// 5: tripwire.
    Tripwire,
    /// 6: intrusion.
    Intrusion,
    /// 7: wrong-way movement.
    WrongWay,
    /// 8: loitering.
    Loitering,
    /// 9: flow count.
    FlowCount,
    /// 10: density.
    Density,
    /// 11: video anomaly.
    VideoAnomaly,
    /// 12: fast movement.
    FastMovement,
}

impl VideoAlarmType {
    /// The type for its number.
    pub fn from_code(code: u32) -> Option<VideoAlarmType> {
        use VideoAlarmType::*;
        const ALL: [VideoAlarmType; 12] = [
            Manual,
            Motion,
            LeftObject,
            RemovedObject,
            Tripwire,
            Intrusion,
            WrongWay,
            Loitering,
            FlowCount,
            Density,
            VideoAnomaly,
            FastMovement,
        ];
        let i = usize::try_from(code).ok()?.checked_sub(1)?;
        ALL.get(i).copied()
    }
}

/// An alarm notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    /// `SN`, the sender's sequence number (echoed in the response).
    pub sn: u32,
    /// `DeviceID`, the 20-digit code of the device that raised the alarm.
    pub device_id: String,
    /// `AlarmPriority`: 1 (first level, most urgent) to 4.
    pub priority: u8,
    /// `AlarmMethod`.
    pub method: AlarmMethod,
    /// `AlarmTime`, local time as sent.
    pub time: NaiveDateTime,
    /// `AlarmDescription`.
    pub description: Option<String>,
    /// `Longitude`, degrees.
    pub longitude: Option<f64>,
    /// `Latitude`, degrees.
    pub latitude: Option<f64>,
    /// `Info/AlarmType`; its meaning depends on the method (see [`VideoAlarmType`]).
    pub alarm_type: Option<u32>,
}

impl Alarm {
    /// The video-analytics type, for a video alarm.
    pub fn video_type(&self) -> Option<VideoAlarmType> {
        if self.method != AlarmMethod::Video {
            return None;
        }
        self.alarm_type.and_then(VideoAlarmType::from_code)
    }
}

/// The encoding named by an XML declaration at the start of `bytes`.
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(256)];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = String::from_utf8_lossy(&head[..end]);
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..].trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let rest = &rest[1..];
    rest.find(quote).map(|e| rest[..e].trim().to_owned())
}

/// Decodes an XML body as [`gb28181`](self) describes.
pub fn decode_xml(bytes: &[u8]) -> Result<String, AlarmError> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return std::str::from_utf8(rest).map(str::to_owned).map_err(|_| AlarmError::BadEncoding("UTF-8"));
    }
    let encoding: &'static Encoding = match declared_encoding(bytes) {
        None => UTF_8,
        Some(label) => match Encoding::for_label(label.as_bytes()) {
            Some(e) if e == UTF_8 || e == GBK || e == GB18030 => e,
            _ => return Err(AlarmError::UnsupportedEncoding(label.chars().take(40).collect())),
        },
    };
    let decode = |e: &'static Encoding| e.decode_without_bom_handling_and_without_replacement(bytes);
    let text = match decode(encoding) {
        Some(text) => text,
        None if encoding == UTF_8 => decode(GB18030).ok_or(AlarmError::BadEncoding("UTF-8 or GB18030"))?,
        None => return Err(AlarmError::BadEncoding(encoding.name())),
    };
    Ok(text.into_owned())
}

/// Parses an XML document with the guards every GB/T 28181 body gets: size
/// cap, no DTD, a node limit.
fn with_document<T>(
    bytes: &[u8],
    max: usize,
    f: impl FnOnce(roxmltree::Node<'_, '_>) -> Result<T, AlarmError>,
) -> Result<T, AlarmError> {
    if bytes.len() > max {
        return Err(AlarmError::TooLarge { len: bytes.len(), max });
    }
    let text = decode_xml(bytes)?;
    let upper = text.to_ascii_uppercase();
    if upper.contains("<!DOCTYPE") || upper.contains("<!ENTITY") {
        return Err(AlarmError::Dtd);
    }
    // The declaration was honoured already; the parser sees a plain document.
    let body = match text.trim_start_matches('\u{FEFF}').strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map(|(_, b)| b).unwrap_or(rest),
        None => text.as_str(),
    };
    let options = roxmltree::ParsingOptions { allow_dtd: false, nodes_limit: 4096, ..Default::default() };
    let doc = roxmltree::Document::parse_with_options(body, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => AlarmError::Dtd,
        e => AlarmError::Xml(e.to_string()),
    })?;
    f(doc.root_element())
}

/// The trimmed text of the first child element named `name`; `None` if absent or empty.
fn child_text(node: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    let child = node.children().find(|n| n.is_element() && n.tag_name().name() == name)?;
    let text: String = child.descendants().filter(|n| n.is_text()).filter_map(|n| n.text()).collect();
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn parse_time(s: &str) -> Option<NaiveDateTime> {
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"].iter().find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
}

/// Parses an alarm notification body (at most [`MAX_ALARM_BYTES`]).
///
/// Required: root `Notify`, `CmdType` = `Alarm`, `SN`, `DeviceID`,
/// `AlarmPriority` (1–4), `AlarmMethod` (1–7) and `AlarmTime`; the
/// description, coordinates and `Info/AlarmType` are optional. Unknown
/// elements are ignored.
pub fn parse_alarm(bytes: &[u8]) -> Result<Alarm, AlarmError> {
    with_document(bytes, MAX_ALARM_BYTES, |root| {
        if root.tag_name().name() != "Notify" {
            return Err(AlarmError::NotAlarm(format!("root element is `{}`", clip(root.tag_name().name()))));
        }
        let cmd = child_text(root, "CmdType").ok_or(AlarmError::Missing("CmdType"))?;
        if cmd != "Alarm" {
            return Err(AlarmError::NotAlarm(format!("CmdType is `{}`", clip(&cmd))));
        }
        let malformed = |field: &'static str, reason: &str| AlarmError::Malformed { field, reason: reason.to_owned() };
        let required = |name: &'static str| child_text(root, name).ok_or(AlarmError::Missing(name));
        let sn = required("SN")?.parse::<u32>().map_err(|_| malformed("SN", "not a number"))?;
        let device_id = required("DeviceID")?;
        if device_id.len() > 64 || !device_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(malformed("DeviceID", "expected up to 64 letters and digits"));
        }
        let priority = required("AlarmPriority")?
            .parse::<u8>()
            .ok()
            .filter(|p| (1..=4).contains(p))
            .ok_or_else(|| malformed("AlarmPriority", "expected 1–4"))?;
        let method = required("AlarmMethod")?
            .parse::<u8>()
            .ok()
            .and_then(AlarmMethod::from_code)
            .ok_or_else(|| malformed("AlarmMethod", "expected 1–7"))?;
        let time = parse_time(&required("AlarmTime")?)
            .ok_or_else(|| malformed("AlarmTime", "expected yyyy-MM-ddTHH:mm:ss"))?;
        let description = child_text(root, "AlarmDescription").map(|d| d.chars().take(1024).collect());
        let coordinate = |field: &'static str, bound: f64| -> Result<Option<f64>, AlarmError> {
            child_text(root, field)
                .map(|t| {
                    t.parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite() && v.abs() <= bound)
                        .ok_or_else(|| malformed(field, "not a coordinate"))
                })
                .transpose()
        };
        let longitude = coordinate("Longitude", 180.0)?;
        let latitude = coordinate("Latitude", 90.0)?;
        let alarm_type = root
            .children()
            .find(|n| n.is_element() && n.tag_name().name() == "Info")
            .and_then(|info| child_text(info, "AlarmType"))
            .map(|t| t.parse::<u32>().map_err(|_| malformed("AlarmType", "not a number")))
            .transpose()?;
        Ok(Alarm { sn, device_id, priority, method, time, description, longitude, latitude, alarm_type })
    })
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Escapes text for XML content.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The platform's answer to an alarm notification (UTF-8):
/// `<Response><CmdType>Alarm</CmdType><SN/><DeviceID/><Result>OK</Result></Response>`.
pub fn alarm_response(alarm: &Alarm) -> String {
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<Response>\r\n");
    let _ = write!(
        s,
        "<CmdType>Alarm</CmdType>\r\n<SN>{}</SN>\r\n<DeviceID>{}</DeviceID>\r\n<Result>OK</Result>\r\n</Response>\r\n",
        alarm.sn,
        escape(&alarm.device_id)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const UTF8: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Notify>
<CmdType>Alarm</CmdType>
<SN>17430</SN>
<DeviceID>34020000001340000001</DeviceID>
<AlarmPriority>1</AlarmPriority>
<AlarmMethod>5</AlarmMethod>
<AlarmTime>2026-01-01T12:00:00</AlarmTime>
<AlarmDescription>区域入侵：禁渔区有人垂钓</AlarmDescription>
<Longitude>118.3712</Longitude>
<Latitude>31.3341</Latitude>
<Info>
<AlarmType>6</AlarmType>
</Info>
</Notify>
"#;

    #[test]
    fn utf8_alarm() {
        let a = parse_alarm(UTF8.as_bytes()).unwrap();
        assert_eq!(a.sn, 17430);
        assert_eq!(a.device_id, "34020000001340000001");
        assert_eq!(a.priority, 1);
        assert_eq!(a.method, AlarmMethod::Video);
        assert_eq!(a.time.to_string(), "2026-01-01 12:00:00");
        assert_eq!(a.description.as_deref(), Some("区域入侵：禁渔区有人垂钓"));
        assert_eq!(a.longitude, Some(118.3712));
        assert_eq!(a.latitude, Some(31.3341));
        assert_eq!(a.alarm_type, Some(6));
        assert_eq!(a.video_type(), Some(VideoAlarmType::Intrusion));
        let r = alarm_response(&a);
        assert!(r.contains("<SN>17430</SN>") && r.contains("<Result>OK</Result>"));
    }

    #[test]
    fn gb2312_alarm() {
        let text = UTF8.replace("UTF-8", "GB2312");
        let (bytes, _, bad) = GBK.encode(&text);
        assert!(!bad);
        assert!(std::str::from_utf8(&bytes).is_err(), "really GBK bytes");
        let a = parse_alarm(&bytes).unwrap();
        assert_eq!(a.description.as_deref(), Some("区域入侵：禁渔区有人垂钓"));
        // Undeclared GBK is read as GB18030 too.
        let text = UTF8.replace(r#"<?xml version="1.0" encoding="UTF-8"?>"#, "");
        let (bytes, _, _) = GBK.encode(&text);
        assert_eq!(parse_alarm(&bytes).unwrap().description, a.description);
    }

    #[test]
    fn optional_elements() {
        let body = "<Notify><CmdType>Alarm</CmdType><SN>1</SN><DeviceID>34020000001340000001</DeviceID>\
            <AlarmPriority>4</AlarmPriority><AlarmMethod>2</AlarmMethod><AlarmTime>2026-01-01 08:00:00.5</AlarmTime>\
            <Longitude></Longitude></Notify>";
        let a = parse_alarm(body.as_bytes()).unwrap();
        assert_eq!((a.longitude, a.alarm_type, a.video_type()), (None, None, None));
        assert_eq!(a.method, AlarmMethod::Device);
    }

    #[test]
    fn refusals() {
        let swap = |from: &str, to: &str| parse_alarm(UTF8.replace(from, to).as_bytes());
        assert_eq!(
            swap("<CmdType>Alarm", "<CmdType>Keepalive"),
            Err(AlarmError::NotAlarm("CmdType is `Keepalive`".into()))
        );
        assert!(matches!(swap("Notify>", "Query>"), Err(AlarmError::NotAlarm(_))));
        assert_eq!(swap("<SN>17430</SN>", ""), Err(AlarmError::Missing("SN")));
        assert!(matches!(swap("<SN>17430", "<SN>x"), Err(AlarmError::Malformed { field: "SN", .. })));
        assert!(matches!(swap("<AlarmPriority>1", "<AlarmPriority>5"), Err(AlarmError::Malformed { .. })));
        assert!(matches!(swap("<AlarmMethod>5", "<AlarmMethod>0"), Err(AlarmError::Malformed { .. })));
        assert!(matches!(swap("2026-01-01T12:00:00", "yesterday"), Err(AlarmError::Malformed { .. })));
        assert!(matches!(swap("118.3712", "218"), Err(AlarmError::Malformed { field: "Longitude", .. })));
        assert!(matches!(swap("</Notify>", ""), Err(AlarmError::Xml(_))));
        assert_eq!(swap("UTF-8", "ISO-8859-1"), Err(AlarmError::UnsupportedEncoding("ISO-8859-1".into())));
        assert!(matches!(parse_alarm(b"\xEF\xBB\xBF<Notify>\xFF</Notify>"), Err(AlarmError::BadEncoding(_))));
        let big = vec![b' '; MAX_ALARM_BYTES + 1];
        assert!(matches!(parse_alarm(&big), Err(AlarmError::TooLarge { .. })));
    }

    #[test]
    fn no_dtd_no_entities() {
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE Notify [<!ENTITY x SYSTEM "file:///etc/passwd">]><Notify><CmdType>&x;</CmdType></Notify>"#;
        assert_eq!(parse_alarm(xxe.as_bytes()), Err(AlarmError::Dtd));
        let laughs = r#"<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><Notify>&lol2;</Notify>"#;
        assert_eq!(parse_alarm(laughs.as_bytes()), Err(AlarmError::Dtd));
        // An undeclared entity is plain bad XML.
        assert!(matches!(parse_alarm(b"<Notify>&lol;</Notify>"), Err(AlarmError::Xml(_))));
    }

    #[test]
    fn declaration_reading() {
        assert_eq!(declared_encoding(br#"<?xml version="1.0" encoding='gbk' ?><a/>"#).as_deref(), Some("gbk"));
        assert_eq!(declared_encoding(br#"<?xml version="1.0"?><a/>"#), None);
        assert_eq!(declared_encoding(b"<a/>"), None);
    }
}
