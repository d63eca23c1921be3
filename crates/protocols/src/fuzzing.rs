//! The checks the fuzz targets in `fuzz/` run on every input, kept here so
//! that `cargo test` runs the same checks over the seed corpus
//! (`tests/corpus.rs`). Each function feeds arbitrary bytes to every parser
//! of one format and asserts the invariants that must hold for any input;
//! an assertion failure (or any panic) is a bug.

use crate::{frigate, gb28181, hj212};

/// HJ 212: [`hj212::parse`], the data-segment parser, the [`hj212::Framer`]
/// (whole and byte by byte, bounded), readings and replies; a packet that
/// parses re-encodes to a frame that parses to the same packet.
pub fn hj212(data: &[u8]) {
    if let Ok(packet) = hj212::parse(data) {
        let again = hj212::parse(&hj212::encode(&packet));
        assert_eq!(again.as_ref(), Ok(&packet), "encode → parse must give the packet back");
        let _ = hj212::readings(&packet);
        let answer = hj212::encode(&hj212::reply::data_answer(&packet));
        assert!(hj212::parse(&answer).is_ok(), "a data answer must parse");
    }
    if let Ok(packet) = hj212::Packet::parse_data_segment(data) {
        let _ = hj212::readings(&packet);
    }
    let _ = hj212::LooseHeader::scan(data);

    let limits = hj212::Limits { max_data_len: 256 };
    let mut whole = hj212::Framer::new(limits);
    let a = whole.feed(data);
    assert!(whole.buffered() <= whole.capacity_bound());
    let mut bytewise = hj212::Framer::new(limits);
    let mut b = Vec::new();
    for byte in data {
        b.extend(bytewise.feed(std::slice::from_ref(byte)));
        assert!(bytewise.buffered() <= bytewise.capacity_bound());
    }
    let oks = |v: &[Result<hj212::Packet, hj212::Rejected>]| -> Vec<hj212::Packet> {
        v.iter().filter_map(|r| r.as_ref().ok().cloned()).collect()
    };
    assert_eq!(oks(&a), oks(&b), "the frames found must not depend on how the bytes arrive");
    for rejected in a.iter().filter_map(|r| r.as_ref().err()) {
        if let Some(header) = &rejected.header {
            let _ = hj212::reply::refusal(header, &rejected.error);
        }
    }
}

/// GB/T 28181: the alarm parser on the bytes, and the SIP parser with its
/// `200 OK` and the alarm in its body.
pub fn gb28181(data: &[u8]) {
    if let Ok(alarm) = gb28181::parse_alarm(data) {
        assert!((1..=4).contains(&alarm.priority));
        let response = gb28181::alarm_response(&alarm);
        assert!(response.contains("<Result>OK</Result>"));
    }
    if let Ok(request) = gb28181::sip::parse_request(data) {
        assert!(request.body.len() <= data.len());
        let _ = gb28181::sip::ok_response(&request, Some("t"));
        let _ = gb28181::parse_alarm(&request.body);
    }
}

/// Frigate: the event parser.
pub fn frigate(data: &[u8]) {
    if let Ok(event) = frigate::parse_event(data) {
        assert!(!event.after.id.is_empty());
        let _ = event.after.best_score();
    }
}
