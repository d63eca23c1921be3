//! Property tests: encode → parse round trips for arbitrary valid packets,
//! no parser panics on arbitrary bytes, and the HJ 212 framer finds every
//! good frame however the stream is cut and whatever garbage precedes it,
//! without its buffer ever outgrowing its bound.

use chrono::NaiveDate;
use citygrid_protocols::hj212::{self, Cp, Flag, Framer, Limits, Packet, Qn};
use citygrid_protocols::{frigate, fuzzing, gb28181};
use proptest::prelude::*;

fn qn() -> impl Strategy<Value = Qn> {
    (2000i32..2100, 1u32..=12, 1u32..=28, 0u32..24, 0u32..60, 0u32..60, 0u32..1000)
        .prop_filter_map("a valid moment", |(y, mo, d, h, mi, s, ms)| {
            Qn::new(NaiveDate::from_ymd_opt(y, mo, d)?.and_hms_milli_opt(h, mi, s, ms)?)
        })
}

fn cp() -> impl Strategy<Value = Cp> {
    let pair = ("[A-Za-z0-9][A-Za-z0-9-]{0,11}", "[A-Za-z0-9.+-]{0,12}");
    prop::collection::vec(prop::collection::vec(pair, 1..4), 0..5).prop_map(|groups| Cp { groups })
}

prop_compose! {
    fn packet()(
        qn in prop::option::of(qn()),
        st in "[0-9]{2}",
        cn in "[0-9]{4}",
        pw in "[0-9A-Za-z]{1,9}",
        mn in "[0-9A-Za-z]{1,24}",
        flag in prop::option::of(any::<u8>()),
        sub in (1u32..100).prop_flat_map(|n| (Just(n), 1..=n)),
        with_sub in any::<bool>(),
        cp in cp(),
    ) -> Packet {
        let flag = flag.map(Flag::from_bits);
        let needs_sub = flag.is_some_and(|f| f.subpackets);
        Packet { qn, st, cn, pw, mn, flag, subpacket: (needs_sub || with_sub).then_some(sub), cp }
    }
}

proptest! {
    #[test]
    fn hj212_round_trip(p in packet()) {
        let frame = hj212::encode(&p);
        prop_assert_eq!(hj212::parse(&frame), Ok(p.clone()));
        // And through the framer, in two pieces.
        let cut = frame.len() / 2;
        let mut f = Framer::default();
        let mut got = f.feed(&frame[..cut]);
        got.extend(f.feed(&frame[cut..]));
        prop_assert_eq!(got, vec![Ok(p)]);
    }

    #[test]
    fn hj212_flipped_byte_is_refused_or_same(p in packet(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut frame = hj212::encode(&p);
        let i = at.index(frame.len());
        frame[i] ^= 1 << bit;
        // A single flipped bit is caught (by the header, length, CRC or trailer
        // checks) unless it only changes the case of a CRC hex digit.
        match hj212::parse(&frame) {
            Err(_) => {}
            Ok(same) => {
                prop_assert_eq!(same, p);
                prop_assert!(i + 6 >= frame.len() && bit == 5, "flipped bit {} of byte {}", bit, i);
            }
        }
    }

    #[test]
    fn framer_recovers_after_garbage(garbage in prop::collection::vec(any::<u8>(), 0..400), p in packet(), chunk in 1usize..64) {
        let good = hj212::encode(&p);
        let mut stream = garbage.clone();
        stream.extend_from_slice(&good);
        let mut f = Framer::new(Limits { max_data_len: 1024 });
        let mut got = Vec::new();
        for piece in stream.chunks(chunk) {
            got.extend(f.feed(piece));
            prop_assert!(f.buffered() <= f.capacity_bound());
        }
        prop_assert_eq!(got.last(), Some(&Ok(p)));
        prop_assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn framer_stays_bounded(bytes in prop::collection::vec(prop_oneof![Just(b'#'), Just(b'9'), Just(b'\r'), Just(b'\n'), any::<u8>()], 0..4000)) {
        let mut f = Framer::new(Limits { max_data_len: 64 });
        for piece in bytes.chunks(37) {
            let _ = f.feed(piece);
            prop_assert!(f.buffered() <= f.capacity_bound());
        }
    }

    #[test]
    fn no_parser_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        fuzzing::hj212(&bytes);
        fuzzing::gb28181(&bytes);
        fuzzing::frigate(&bytes);
    }

    #[test]
    fn hj212_like_bytes_never_panic(body in "[A-Za-z0-9=;,&#.\\-]{0,200}") {
        let mut frame = format!("##{:04}{body}", body.len()).into_bytes();
        frame.extend(format!("{:04X}\r\n", hj212::crc16(body.as_bytes())).bytes());
        fuzzing::hj212(&frame);
    }

    #[test]
    fn xml_like_bytes_never_panic(body in "(<[A-Za-z!?/]{0,12}>|[A-Za-z0-9 .:-]{0,8}|&[a-z#0-9]{0,5};){0,40}") {
        let _ = gb28181::parse_alarm(body.as_bytes());
        let notify = format!("<Notify><CmdType>Alarm</CmdType>{body}</Notify>");
        let _ = gb28181::parse_alarm(notify.as_bytes());
    }

    #[test]
    fn json_like_bytes_never_panic(body in "[{}\\[\\]\":,a-z0-9.\\- ]{0,200}") {
        let _ = frigate::parse_event(body.as_bytes());
    }
}
