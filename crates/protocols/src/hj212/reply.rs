//! The platform's answers to a station.
//!
//! - A data upload whose `Flag` asks for an answer gets a data answer
//!   ([`data_answer`], `CN=9014`) echoing its `QN`.
//! - A packet the platform refuses gets a request answer ([`request_answer`],
//!   `CN=9011`) with a [`QnRtn`] code, when enough of it could be read to
//!   address one (its `MN`; the `QN` is echoed when it was readable).
//!
//! Replies are system packets: `ST=91`, `Flag=4` (HJ 212-2017, no answer
//! wanted), the station's own `PW` and `MN`.

use super::{Cp, Flag, Hj212Error, LooseHeader, Packet, Qn, cn, st};

/// The request answer's code, `QnRtn` (HJ 212-2017, table of request return codes).
///
/// CityGrid answers a bad packet with: [`QnRtn::CrcError`] for a CRC
/// mismatch, [`QnRtn::PwError`] for a wrong password, [`QnRtn::MnError`] for
/// an unknown station, [`QnRtn::QnError`], [`QnRtn::StError`],
/// [`QnRtn::FlagError`] or [`QnRtn::CnError`] when that field is missing or
/// malformed, and [`QnRtn::Rejected`] for anything else (length, framing, CP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QnRtn {
    /// 1: ready to execute the request.
    Ready,
    /// 2: request rejected.
    Rejected,
    /// 3: wrong password (`PW`).
    PwError,
    /// 4: wrong station code (`MN`).
    MnError,
    /// 5: wrong system code (`ST`).
    StError,
    /// 6: wrong `Flag`.
    FlagError,
    /// 7: wrong request code (`QN`).
    QnError,
    /// 8: wrong command code (`CN`).
    CnError,
    /// 9: CRC check failed.
    CrcError,
    /// 100: unknown error.
    Unknown,
}

impl QnRtn {
    /// The number sent on the wire.
    pub fn code(self) -> u16 {
        match self {
            QnRtn::Ready => 1,
            QnRtn::Rejected => 2,
            QnRtn::PwError => 3,
            QnRtn::MnError => 4,
            QnRtn::StError => 5,
            QnRtn::FlagError => 6,
            QnRtn::QnError => 7,
            QnRtn::CnError => 8,
            QnRtn::CrcError => 9,
            QnRtn::Unknown => 100,
        }
    }

    /// The code for a number.
    pub fn from_code(code: u16) -> Option<QnRtn> {
        Some(match code {
            1 => QnRtn::Ready,
            2 => QnRtn::Rejected,
            3 => QnRtn::PwError,
            4 => QnRtn::MnError,
            5 => QnRtn::StError,
            6 => QnRtn::FlagError,
            7 => QnRtn::QnError,
            8 => QnRtn::CnError,
            9 => QnRtn::CrcError,
            100 => QnRtn::Unknown,
            _ => return None,
        })
    }

    /// The code that answers a packet refused for `error`.
    pub fn for_error(error: &Hj212Error) -> QnRtn {
        let field = match error {
            Hj212Error::CrcMismatch { .. } => return QnRtn::CrcError,
            Hj212Error::MissingField(f) => *f,
            Hj212Error::Malformed { field, .. } => field.as_str(),
            _ => return QnRtn::Rejected,
        };
        match field {
            "QN" => QnRtn::QnError,
            "ST" => QnRtn::StError,
            "CN" => QnRtn::CnError,
            "PW" => QnRtn::PwError,
            "MN" => QnRtn::MnError,
            "Flag" => QnRtn::FlagError,
            _ => QnRtn::Rejected,
        }
    }
}

/// The data answer to an upload: `ST=91;CN=9014`, `Flag=4`, echoing the
/// upload's `QN`, `PW` and `MN`, with an empty `CP`.
pub fn data_answer(request: &Packet) -> Packet {
    Packet {
        qn: request.qn,
        st: st::SYSTEM.to_owned(),
        cn: cn::DATA_ANSWER.to_owned(),
        pw: request.pw.clone(),
        mn: request.mn.clone(),
        flag: Some(Flag::v2017()),
        subpacket: None,
        cp: Cp::default(),
    }
}

/// The request answer: `ST=91;CN=9011`, `Flag=4`, echoing `QN` in the header
/// and giving it again with the code in `CP=&&QN=…;QnRtn=…&&`.
pub fn request_answer(qn: Option<Qn>, pw: &str, mn: &str, rtn: QnRtn) -> Packet {
    let mut group = Vec::new();
    if let Some(qn) = qn {
        group.push(("QN".to_owned(), qn.to_string()));
    }
    group.push(("QnRtn".to_owned(), rtn.code().to_string()));
    Packet {
        qn,
        st: st::SYSTEM.to_owned(),
        cn: cn::REQUEST_ANSWER.to_owned(),
        pw: pw.to_owned(),
        mn: mn.to_owned(),
        flag: Some(Flag::v2017()),
        subpacket: None,
        cp: Cp { groups: vec![group] },
    }
}

/// The request answer to a refused packet, addressed from what could be read
/// of it; `None` when not even its `MN` could be read (nobody to answer).
/// A `PW` that could not be read is answered as `PW=-`.
pub fn refusal(header: &LooseHeader, error: &Hj212Error) -> Option<Packet> {
    let mn = header.mn.as_deref().filter(|m| !m.is_empty())?;
    let pw = header.pw.as_deref().filter(|p| !p.is_empty()).unwrap_or("-");
    Some(request_answer(header.qn, pw, mn, QnRtn::for_error(error)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hj212::{encode, parse};

    const EXAMPLE: &[u8] = b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80\r\n";

    #[test]
    fn data_answer_echoes_qn() {
        let req = parse(EXAMPLE).unwrap();
        let ans = encode(&data_answer(&req));
        let text = String::from_utf8(ans.clone()).unwrap();
        assert!(
            text.contains("QN=20160801085857223;ST=91;CN=9014;PW=100000;MN=010000A8900016F000169DC0;Flag=4;CP=&&&&")
        );
        assert!(parse(&ans).is_ok());
    }

    #[test]
    fn request_answer_carries_the_code() {
        let req = parse(EXAMPLE).unwrap();
        let ans = request_answer(req.qn, &req.pw, &req.mn, QnRtn::PwError);
        assert_eq!(ans.cp.get("QnRtn"), Some("3"));
        assert_eq!(ans.cp.get("QN"), Some("20160801085857223"));
        assert_eq!(parse(&encode(&ans)).unwrap(), ans);
    }

    #[test]
    fn codes() {
        for code in 0..=200 {
            if let Some(r) = QnRtn::from_code(code) {
                assert_eq!(r.code(), code);
            }
        }
        assert_eq!(QnRtn::for_error(&Hj212Error::CrcMismatch { declared: 1, computed: 2 }), QnRtn::CrcError);
        assert_eq!(QnRtn::for_error(&Hj212Error::MissingField("MN")), QnRtn::MnError);
        assert_eq!(QnRtn::for_error(&Hj212Error::malformed("QN", "x")), QnRtn::QnError);
        assert_eq!(QnRtn::for_error(&Hj212Error::BadHeader), QnRtn::Rejected);
    }

    #[test]
    fn refusal_needs_an_mn() {
        let h = LooseHeader::scan(b"QN=20160801085857223;ST=32;CN=2011;PW=1;MN=X;CP=&&");
        let e = Hj212Error::CrcMismatch { declared: 0, computed: 1 };
        assert_eq!(refusal(&h, &e).unwrap().cp.get("QnRtn"), Some("9"));
        assert!(refusal(&LooseHeader::default(), &e).is_none());
    }
}
