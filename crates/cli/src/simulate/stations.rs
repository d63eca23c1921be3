//! What simulated water stations send: HJ 212-2017 real-time data packets
//! (CN 2011) for the factors the GB 3838 classes rate, clean water most of
//! the time and a pollution episode on a schedule.

use chrono::{DateTime, Utc};
use citygrid_domain::calendar::cst;
use citygrid_protocols::hj212::{Cp, Flag, Packet, Qn, cn, encode, st};
use rand::Rng;

use super::scene::Placed;

/// A station and its secret.
#[derive(Debug, Clone)]
pub struct Station {
    /// The device.
    pub place: Placed,
    /// Its HJ 212 station code.
    pub mn: String,
    /// Its HJ 212 password.
    pub pw: String,
}

/// How polluted the water is at `at` for a station with episodes every
/// `period_s` seconds lasting `episode_s`: 0 (clean) to 1 (peak).
pub fn pollution(at: DateTime<Utc>, period_s: i64, episode_s: i64) -> f64 {
    if period_s <= 0 || episode_s <= 0 {
        return 0.0;
    }
    let t = at.timestamp().rem_euclid(period_s);
    if t >= episode_s {
        return 0.0;
    }
    // Up, then down: a triangle over the episode.
    let x = t as f64 / episode_s as f64;
    1.0 - (2.0 * x - 1.0).abs()
}

/// One real-time data packet (Flag asks for an answer) at `at`, with
/// `level` of pollution (0 clean … 1 peak, class 劣V).
pub fn packet<R: Rng>(s: &Station, rng: &mut R, at: DateTime<Utc>, level: f64) -> Vec<u8> {
    // Stations stamp data in local time (UTC+8).
    let local = at.with_timezone(&cst());
    let noise = |rng: &mut R, v: f64| v * rng.random_range(0.95..1.05);
    // Clean water is class II; at the peak every factor is worse than V.
    let cod = noise(rng, 12.0 + level * 40.0);
    let nh3 = noise(rng, 0.3 + level * 2.5);
    let tp = noise(rng, 0.05 + level * 0.5);
    let dox = noise(rng, (7.0 - level * 5.5).max(0.5));
    let ph = noise(rng, 7.4);
    let cp = Cp::single([
        ("DataTime".to_owned(), local.format("%Y%m%d%H%M%S").to_string()),
        ("w01018-Rtd".to_owned(), format!("{cod:.2}")),
        ("w01018-Flag".to_owned(), "N".to_owned()),
        ("w21003-Rtd".to_owned(), format!("{nh3:.3}")),
        ("w21003-Flag".to_owned(), "N".to_owned()),
        ("w21011-Rtd".to_owned(), format!("{tp:.3}")),
        ("w21011-Flag".to_owned(), "N".to_owned()),
        ("w01009-Rtd".to_owned(), format!("{dox:.2}")),
        ("w01009-Flag".to_owned(), "N".to_owned()),
        ("w01001-Rtd".to_owned(), format!("{ph:.2}")),
        ("w01001-Flag".to_owned(), "N".to_owned()),
    ]);
    let p = Packet {
        qn: Qn::new(local.naive_local()),
        st: st::SURFACE_WATER.to_owned(),
        cn: cn::REALTIME.to_owned(),
        pw: s.pw.clone(),
        mn: s.mn.clone(),
        flag: Some(Flag { version: Flag::V2017, subpackets: false, answer: true }),
        subpacket: None,
        cp,
    };
    encode(&p)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;
    use citygrid_domain::water::{WaterBody, sample_class};
    use citygrid_protocols::hj212::{parse, readings};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn station() -> Station {
        Station {
            place: Placed {
                id: "sim-ws-1".into(),
                kind: "water_station",
                zone_kind: "water_section".into(),
                zone: "ws".into(),
                lon: 118.36,
                lat: 31.35,
            },
            mn: "34020200000001".into(),
            pw: "123456".into(),
        }
    }

    #[test]
    fn episodes_rise_and_fall_on_schedule() {
        // 1_800_000_000 is a whole hour.
        let t = |s: i64| Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap();
        assert_eq!(pollution(t(0), 3600, 600), 0.0);
        assert!((pollution(t(300), 3600, 600) - 1.0).abs() < 1e-9);
        assert!(pollution(t(150), 3600, 600) > 0.4);
        assert_eq!(pollution(t(900), 3600, 600), 0.0);
        assert_eq!(pollution(t(10), 0, 600), 0.0);
    }

    #[test]
    fn packets_parse_and_the_peak_is_worse_than_class_v() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let at = Utc.with_ymd_and_hms(2026, 12, 2, 6, 0, 0).unwrap();
        let class_at = |level: f64, rng: &mut ChaCha8Rng| {
            let p = parse(&packet(&station(), rng, at, level)).unwrap();
            assert!(p.wants_answer());
            assert_eq!((p.mn.as_str(), p.pw.as_str()), ("34020200000001", "123456"));
            let r = readings(&p).unwrap();
            sample_class(r.iter().map(|x| (x.factor.as_str(), x.value)), WaterBody::River).unwrap()
        };
        let clean = class_at(0.0, &mut rng);
        let peak = class_at(1.0, &mut rng);
        assert!(clean <= citygrid_domain::WaterClass::III, "{clean:?}");
        assert_eq!(peak, citygrid_domain::WaterClass::WorseThanV);
    }
}
