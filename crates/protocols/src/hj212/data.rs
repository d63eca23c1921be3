//! Readings from the data-upload commands.

use chrono::NaiveDateTime;

use super::packet::parse_digits_time;
use super::{Hj212Error, Packet, cn};

/// Which data upload a packet is, by its `CN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataKind {
    /// `CN=2011`, real-time data: values under `-Rtd`.
    Realtime,
    /// `CN=2051`, minute data: `-Avg` (with `-Min`, `-Max`).
    Minute,
    /// `CN=2061`, hourly data: `-Avg` (with `-Min`, `-Max`).
    Hourly,
    /// `CN=2031`, daily data: `-Avg` (with `-Min`, `-Max`).
    Daily,
}

impl DataKind {
    /// The kind of a command code, if it is a data upload.
    pub fn of(cn: &str) -> Option<DataKind> {
        match cn {
            cn::REALTIME => Some(DataKind::Realtime),
            cn::MINUTE => Some(DataKind::Minute),
            cn::HOURLY => Some(DataKind::Hourly),
            cn::DAILY => Some(DataKind::Daily),
            _ => None,
        }
    }

    /// The suffix of the key that carries a factor's value (`Rtd` or `Avg`).
    pub fn value_key(self) -> &'static str {
        match self {
            DataKind::Realtime => "Rtd",
            DataKind::Minute | DataKind::Hourly | DataKind::Daily => "Avg",
        }
    }
}

/// A factor's data flag (`xxxxxx-Flag`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DataFlag {
    /// `N`: normal.
    Normal,
    /// `F`: the analyser is stopped.
    Stopped,
    /// `M`: maintenance.
    Maintenance,
    /// `S`: manually entered.
    Manual,
    /// `D`: analyser fault.
    Fault,
    /// `C`: calibration.
    Calibration,
    /// `T`: over the measuring range.
    OverRange,
    /// `B`: communication error.
    CommError,
    /// Anything else, as sent.
    Other(String),
}

impl DataFlag {
    /// Reads a flag.
    pub fn parse(s: &str) -> DataFlag {
        match s {
            "N" => DataFlag::Normal,
            "F" => DataFlag::Stopped,
            "M" => DataFlag::Maintenance,
            "S" => DataFlag::Manual,
            "D" => DataFlag::Fault,
            "C" => DataFlag::Calibration,
            "T" => DataFlag::OverRange,
            "B" => DataFlag::CommError,
            other => DataFlag::Other(other.to_owned()),
        }
    }

    /// Whether the value was measured normally (`N`).
    pub fn is_normal(&self) -> bool {
        *self == DataFlag::Normal
    }
}

/// One factor's value in a data upload.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// Which upload it came in.
    pub kind: DataKind,
    /// `DataTime`: the moment (real-time) or the start of the period the value covers.
    pub data_time: NaiveDateTime,
    /// The factor code, e.g. `w01018` (COD).
    pub factor: String,
    /// `-Rtd` for real-time data, `-Avg` otherwise.
    pub value: f64,
    /// `-Min`, for period data.
    pub min: Option<f64>,
    /// `-Max`, for period data.
    pub max: Option<f64>,
    /// `-Flag`, if sent.
    pub flag: Option<DataFlag>,
}

#[derive(Default)]
struct Partial {
    value: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
    flag: Option<DataFlag>,
}

/// The readings of a data upload (`CN` 2011, 2051, 2061 or 2031), one per
/// factor that carries its value key, in the order the factors came.
///
/// `DataTime` is required. Keys that are not `factor-Suffix`, and suffixes
/// other than `Rtd`/`Avg`/`Min`/`Max`/`Flag` (`Cou`, `SampleTime`, `EFlag`, …),
/// are ignored; a value that is not a finite number is refused.
pub fn readings(packet: &Packet) -> Result<Vec<Reading>, Hj212Error> {
    let kind = DataKind::of(&packet.cn).ok_or_else(|| Hj212Error::malformed("CN", "not a data upload"))?;
    let data_time = packet.cp.get("DataTime").ok_or(Hj212Error::MissingField("DataTime"))?;
    let data_time =
        parse_digits_time(data_time).ok_or_else(|| Hj212Error::malformed("DataTime", "expected yyyyMMddHHmmss"))?;
    let mut factors: Vec<(&str, Partial)> = Vec::new();
    for (key, value) in packet.cp.pairs() {
        let Some((factor, suffix)) = key.rsplit_once('-') else { continue };
        if factor.is_empty() {
            continue;
        }
        let slot = match factors.iter().position(|(f, _)| *f == factor) {
            Some(i) => i,
            None => {
                factors.push((factor, Partial::default()));
                factors.len() - 1
            }
        };
        let p = &mut factors[slot].1;
        let number = || -> Result<f64, Hj212Error> {
            value
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| Hj212Error::malformed(key, "not a number"))
        };
        match suffix {
            "Flag" => p.flag = Some(DataFlag::parse(value)),
            "Min" if kind != DataKind::Realtime => p.min = Some(number()?),
            "Max" if kind != DataKind::Realtime => p.max = Some(number()?),
            s if s == kind.value_key() => p.value = Some(number()?),
            _ => {}
        }
    }
    Ok(factors
        .into_iter()
        .filter_map(|(factor, p)| {
            Some(Reading {
                kind,
                data_time,
                factor: factor.to_owned(),
                value: p.value?,
                min: p.min,
                max: p.max,
                flag: p.flag,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hj212::{encode, parse};

    fn packet(cn: &str, cp: &str) -> Packet {
        let data = format!("QN=20260101120000123;ST=21;CN={cn};PW=123456;MN=WH0001;Flag=5;CP=&&{cp}&&");
        let p = Packet::parse_data_segment(data.as_bytes()).unwrap();
        // Through a real frame, for good measure.
        parse(&encode(&p)).unwrap()
    }

    #[test]
    fn realtime() {
        let p = packet(
            "2011",
            "DataTime=20260101120000;w01018-Rtd=12.3,w01018-Flag=N;w21003-Rtd=0.52,w21003-Flag=T;w01001-Rtd=7.1",
        );
        let r = readings(&p).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].factor, "w01018");
        assert_eq!(r[0].value, 12.3);
        assert_eq!(r[0].flag, Some(DataFlag::Normal));
        assert_eq!(r[1].flag, Some(DataFlag::OverRange));
        assert_eq!(r[2].flag, None);
        assert_eq!(r[0].data_time.to_string(), "2026-01-01 12:00:00");
        assert_eq!(r[0].kind, DataKind::Realtime);
    }

    #[test]
    fn hourly_uses_avg_min_max() {
        let p = packet(
            "2061",
            "DataTime=20260101110000;w21011-Min=0.05,w21011-Avg=0.08,w21011-Max=0.11,w21011-Flag=N;w21001-Cou=3.2",
        );
        let r = readings(&p).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].value, r[0].min, r[0].max), (0.08, Some(0.05), Some(0.11)));
        // A real-time key in an hourly packet is not the value.
        let p = packet("2061", "DataTime=20260101110000;w21011-Rtd=0.08");
        assert!(readings(&p).unwrap().is_empty());
    }

    #[test]
    fn minute_data() {
        let p = packet("2051", "DataTime=20260101115000;w01009-Avg=6.2,w01009-Flag=N");
        assert_eq!(readings(&p).unwrap()[0].kind, DataKind::Minute);
    }

    #[test]
    fn refusals() {
        assert_eq!(readings(&packet("2011", "w01018-Rtd=1")), Err(Hj212Error::MissingField("DataTime")));
        assert!(matches!(
            readings(&packet("2011", "DataTime=2026010112;w01018-Rtd=1")),
            Err(Hj212Error::Malformed { .. })
        ));
        assert!(matches!(
            readings(&packet("2011", "DataTime=20260101120000;w01018-Rtd=abc")),
            Err(Hj212Error::Malformed { .. })
        ));
        assert!(matches!(
            readings(&packet("2011", "DataTime=20260101120000;w01018-Rtd=NaN")),
            Err(Hj212Error::Malformed { .. })
        ));
        assert!(matches!(readings(&packet("1062", "RtdInterval=30")), Err(Hj212Error::Malformed { .. })));
    }
}
