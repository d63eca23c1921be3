//! Zones (专题区域): geofences that are not administrative divisions.
//!
//! A zone has a kind, validity dates and an optional schedule; the geo layer
//! keeps its geometry. Kinds are the three prevention rings (`ring_city`
//! along the city perimeter, `ring_district` along district borders,
//! `key_area` around chosen sites) and the river zones (`fishing_ban_water`,
//! `no_sand_mining`, `shoreline`, `water_section` with a target
//! water-quality class under GB 3838-2002).
//!
//! Time rules, all in China Standard Time (UTC+8):
//! - `valid_from` and `valid_to` are inclusive calendar days.
//! - A schedule's seasons are inclusive month-day ranges; a range whose end
//!   comes before its start wraps the year end (`11-01..02-28`).
//! - A schedule's hours are half-open `[from, to)` ranges of the local day;
//!   one whose end is not after its start wraps midnight (`22:00..06:00`).
//!   The part after midnight belongs to the day the range started on, so
//!   the night of 30 June is in a season ending `06-30`, and the small hours
//!   of 1 March are not in a season starting `03-01`.
//! - Empty season or hour lists mean "all year" and "all day".

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::calendar::cst;
use crate::territory::UnitCode;

/// Longest zone id accepted.
pub const MAX_ID_LEN: usize = 64;

/// What a zone is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ZoneKind {
    /// 环城圈: the band just inside the city perimeter.
    RingCity,
    /// 环区圈: the band on both sides of internal district borders.
    RingDistrict,
    /// 重点区域: around a chosen site (station, bridge, square).
    KeyArea,
    /// 禁捕水域: water where fishing is banned.
    FishingBanWater,
    /// 禁采区: a river reach where sand mining is banned.
    NoSandMining,
    /// 岸线: the shoreline band along a bank.
    Shoreline,
    /// 水功能区/断面: a river section with a target water-quality class.
    WaterSection,
}

impl ZoneKind {
    /// Every kind, rings first.
    pub const ALL: [ZoneKind; 7] = [
        ZoneKind::RingCity,
        ZoneKind::RingDistrict,
        ZoneKind::KeyArea,
        ZoneKind::FishingBanWater,
        ZoneKind::NoSandMining,
        ZoneKind::Shoreline,
        ZoneKind::WaterSection,
    ];

    /// The stable snake_case name used in APIs and files.
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneKind::RingCity => "ring_city",
            ZoneKind::RingDistrict => "ring_district",
            ZoneKind::KeyArea => "key_area",
            ZoneKind::FishingBanWater => "fishing_ban_water",
            ZoneKind::NoSandMining => "no_sand_mining",
            ZoneKind::Shoreline => "shoreline",
            ZoneKind::WaterSection => "water_section",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<ZoneKind> {
        ZoneKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the kind is one of the three prevention rings.
    pub fn is_ring(self) -> bool {
        matches!(self, ZoneKind::RingCity | ZoneKind::RingDistrict | ZoneKind::KeyArea)
    }
}

impl fmt::Display for ZoneKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Surface-water quality class under GB 3838-2002, best (I) to worst
/// (劣V, worse than V); the order is the standard's, so `a > b` means
/// `a` is worse water than `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum WaterClass {
    /// Class I: source water, national nature reserves.
    #[serde(rename = "I")]
    I,
    /// Class II: first-grade drinking-water protection areas, rare fish habitats.
    #[serde(rename = "II")]
    II,
    /// Class III: second-grade drinking-water protection areas, fisheries, swimming.
    #[serde(rename = "III")]
    III,
    /// Class IV: industrial water, recreation without body contact.
    #[serde(rename = "IV")]
    IV,
    /// Class V: agricultural water, landscape.
    #[serde(rename = "V")]
    V,
    /// 劣V: worse than class V.
    #[serde(rename = "worse_than_V", alias = "劣V", alias = "劣Ⅴ")]
    WorseThanV,
}

impl WaterClass {
    /// Every class, best first.
    pub const ALL: [WaterClass; 6] =
        [WaterClass::I, WaterClass::II, WaterClass::III, WaterClass::IV, WaterClass::V, WaterClass::WorseThanV];

    /// Whether water of this class meets a `target` class (is no worse).
    pub fn meets(self, target: WaterClass) -> bool {
        self <= target
    }
}

impl fmt::Display for WaterClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WaterClass::I => "I",
            WaterClass::II => "II",
            WaterClass::III => "III",
            WaterClass::IV => "IV",
            WaterClass::V => "V",
            WaterClass::WorseThanV => "劣V",
        })
    }
}

/// A day of the year without a year, written `MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MonthDay {
    month: u32,
    day: u32,
}

impl MonthDay {
    /// The days of a leap year as `MM-DD` (a leading zero may be left out),
    /// exactly those [`MonthDay::from_str`] reads.
    pub const PATTERN: &str = concat!(
        "^(?:(?:0?[13578]|1[02])-(?:0?[1-9]|[12][0-9]|3[01])",
        "|(?:0?[469]|11)-(?:0?[1-9]|[12][0-9]|30)",
        "|0?2-(?:0?[1-9]|[12][0-9]))$"
    );

    /// A month-day; `02-29` is allowed (it only occurs in leap years).
    pub fn new(month: u32, day: u32) -> Option<MonthDay> {
        // 2024 is a leap year, so every real month-day exists in it.
        NaiveDate::from_ymd_opt(2024, month, day).map(|_| MonthDay { month, day })
    }

    /// The month-day of a date.
    pub fn of(date: NaiveDate) -> MonthDay {
        MonthDay { month: date.month(), day: date.day() }
    }

    /// Month, 1–12.
    pub fn month(self) -> u32 {
        self.month
    }

    /// Day of the month, 1–31.
    pub fn day(self) -> u32 {
        self.day
    }
}

impl fmt::Display for MonthDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}-{:02}", self.month, self.day)
    }
}

impl FromStr for MonthDay {
    type Err = ZoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ZoneError::BadMonthDay(s.to_owned());
        let (m, d) = s.split_once('-').ok_or_else(bad)?;
        let num = |p: &str| if (1..=2).contains(&p.len()) { p.parse::<u32>().ok() } else { None };
        MonthDay::new(num(m).ok_or_else(bad)?, num(d).ok_or_else(bad)?).ok_or_else(bad)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for MonthDay {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::schema::matching(MonthDay::PATTERN, "03-01")
            .description(Some("A day of the year, `MM-DD`; `02-29` counts in leap years only."))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for MonthDay {
    fn name() -> std::borrow::Cow<'static, str> {
        "MonthDay".into()
    }
}

impl Serialize for MonthDay {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MonthDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An inclusive range of days of the year; wraps the year end when `to`
/// comes before `from` (e.g. a winter ban `12-01..02-28`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(example = json!({"from": "03-01", "to": "06-30"})))]
pub struct Season {
    /// First day, `MM-DD`.
    pub from: MonthDay,
    /// Last day (inclusive), `MM-DD`.
    pub to: MonthDay,
}

impl Season {
    /// Whether `date` falls in the season (in any year).
    pub fn contains(&self, date: NaiveDate) -> bool {
        let md = MonthDay::of(date);
        if self.from <= self.to { self.from <= md && md <= self.to } else { md >= self.from || md <= self.to }
    }
}

/// A local clock time written `HH:MM`, minute precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClockTime(u32);

impl ClockTime {
    /// `HH:MM` from 00:00 to 23:59 (a leading zero may be left out),
    /// exactly what [`ClockTime::from_str`] reads.
    pub const PATTERN: &str = "^(?:[01]?[0-9]|2[0-3]):[0-5]?[0-9]$";

    /// `hour:minute`, if it is a time of day.
    pub fn new(hour: u32, minute: u32) -> Option<ClockTime> {
        (hour < 24 && minute < 60).then_some(ClockTime(hour * 60 + minute))
    }

    /// Minutes since midnight.
    pub fn minutes(self) -> u32 {
        self.0
    }

    fn of(t: NaiveTime) -> ClockTime {
        ClockTime(t.hour() * 60 + t.minute())
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl FromStr for ClockTime {
    type Err = ZoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ZoneError::BadClockTime(s.to_owned());
        let (h, m) = s.split_once(':').ok_or_else(bad)?;
        let num = |p: &str| if (1..=2).contains(&p.len()) { p.parse::<u32>().ok() } else { None };
        ClockTime::new(num(h).ok_or_else(bad)?, num(m).ok_or_else(bad)?).ok_or_else(bad)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for ClockTime {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::schema::matching(ClockTime::PATTERN, "22:00")
            .description(Some("A local time of day (China Standard Time), `HH:MM`."))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for ClockTime {
    fn name() -> std::borrow::Cow<'static, str> {
        "ClockTime".into()
    }
}

impl Serialize for ClockTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Half-open local hours `[from, to)`; wraps midnight when `to <= from`
/// (`22:00..06:00` is the night, `18:00..00:00` the evening to midnight).
/// `from == to` is refused: it could mean all day or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(example = json!({"from": "22:00", "to": "06:00"})))]
pub struct HourRange {
    /// Start, included, `HH:MM`.
    pub from: ClockTime,
    /// End, excluded, `HH:MM`; not equal to `from`.
    pub to: ClockTime,
}

impl HourRange {
    /// Whether the range runs past midnight.
    pub fn wraps(&self) -> bool {
        self.to <= self.from
    }

    /// Whether the local time of day `t` (minute precision) lies inside the range.
    pub fn contains(&self, t: NaiveTime) -> bool {
        self.started(ClockTime::of(t)).is_some()
    }

    /// If `t` is inside, how many days back the range started (0 or 1).
    fn started(&self, t: ClockTime) -> Option<i64> {
        if !self.wraps() {
            (self.from <= t && t < self.to).then_some(0)
        } else if t >= self.from {
            Some(0)
        } else if t < self.to {
            Some(1)
        } else {
            None
        }
    }
}

/// When within its validity a zone applies. Both lists empty = always.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Schedule {
    /// Seasons of the year; empty = all year.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seasons: Vec<Season>,
    /// Hours of the day (China Standard Time); empty = all day.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hours: Vec<HourRange>,
}

impl Schedule {
    /// Whether the schedule is on at local time `local` (CST).
    pub fn active_local(&self, local: NaiveDateTime) -> bool {
        self.active_local_on(local, |_| true)
    }

    /// Whether the schedule is on at `local` (CST), counting only days for
    /// which `day_ok` holds. The day is the one an hour range started on,
    /// so the small hours of a night belong to the evening before, for the
    /// seasons and for `day_ok` alike.
    pub fn active_local_on(&self, local: NaiveDateTime, day_ok: impl Fn(NaiveDate) -> bool) -> bool {
        let in_season =
            |day: NaiveDate| day_ok(day) && (self.seasons.is_empty() || self.seasons.iter().any(|s| s.contains(day)));
        if self.hours.is_empty() {
            return in_season(local.date());
        }
        let t = ClockTime::of(local.time());
        self.hours.iter().any(|h| match h.started(t) {
            Some(0) => in_season(local.date()),
            // The small hours of a night range belong to the evening before.
            Some(_) => local.date().pred_opt().is_some_and(in_season),
            None => false,
        })
    }

    /// Checks every range.
    pub fn validate(&self) -> Result<(), ZoneError> {
        match self.hours.iter().find(|h| h.from == h.to) {
            Some(h) => Err(ZoneError::EmptyHours(h.from.to_string())),
            None => Ok(()),
        }
    }
}

/// A geofence: what it is, when it applies, who owns it. The geometry is
/// kept beside it by the geo layer and the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Zone {
    /// Stable id: 1–64 characters of `A–Z a–z 0–9 . _ -`.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::ZoneId))]
    pub id: String,
    /// Human name.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Name))]
    pub name: String,
    /// What it is.
    pub kind: ZoneKind,
    /// First day it applies (CST, inclusive).
    pub valid_from: NaiveDate,
    /// Last day it applies (CST, inclusive), not before `valid_from`; `None` = open-ended.
    #[serde(default)]
    pub valid_to: Option<NaiveDate>,
    /// When within the validity it applies; `None` = always.
    #[serde(default)]
    pub schedule: Option<Schedule>,
    /// The territory unit that owns the zone: a known unit that the area touches.
    #[serde(default)]
    pub territory: Option<UnitCode>,
    /// Target water-quality class; required for `water_section`, refused otherwise.
    #[serde(default)]
    pub target_class: Option<WaterClass>,
    /// Provenance or caveats (e.g. "site position approximate").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Zone {
    /// The characters of an id, whose length is 1 to [`MAX_ID_LEN`]; what
    /// [`Zone::validate`] accepts.
    pub const ID_PATTERN: &str = "^[A-Za-z0-9._-]+$";

    /// Whether `day` (CST) is within the validity dates.
    pub fn valid_on(&self, day: NaiveDate) -> bool {
        self.valid_from <= day && self.valid_to.is_none_or(|end| day <= end)
    }

    /// Whether the zone applies at instant `at`: its validity dates contain
    /// the CST date, and its schedule (if any) is on at the CST time. For
    /// night hours the date is the evening's: a zone valid from 1 March with
    /// hours 22:00–06:00 starts on the night of 1 March, and one valid to
    /// 30 June still applies until 06:00 on 1 July.
    pub fn active_at(&self, at: DateTime<Utc>) -> bool {
        // Not `with_timezone(..).naive_local()`: that panics at the very end of
        // chrono's range; past it, nothing is valid anyway.
        let Some(local) = at.naive_utc().checked_add_signed(Duration::seconds(i64::from(cst().local_minus_utc())))
        else {
            return false;
        };
        match &self.schedule {
            None => self.valid_on(local.date()),
            Some(s) => s.active_local_on(local, |day| self.valid_on(day)),
        }
    }

    /// Checks the zone's own consistency.
    pub fn validate(&self) -> Result<(), ZoneError> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= MAX_ID_LEN
            && self.id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !id_ok {
            return Err(ZoneError::BadId(self.id.clone()));
        }
        if self.name.trim().is_empty() {
            return Err(ZoneError::NoName);
        }
        if let Some(end) = self.valid_to
            && end < self.valid_from
        {
            return Err(ZoneError::EndsBeforeStart { from: self.valid_from, to: end });
        }
        match (self.kind, self.target_class) {
            (ZoneKind::WaterSection, None) => return Err(ZoneError::TargetClassRequired),
            (k, Some(_)) if k != ZoneKind::WaterSection => return Err(ZoneError::TargetClassNotApplicable(k)),
            _ => {}
        }
        self.schedule.as_ref().map_or(Ok(()), Schedule::validate)
    }
}

/// Why a zone definition is unusable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ZoneError {
    /// The id is empty, too long or has characters outside `A–Z a–z 0–9 . _ -`.
    #[error("zone id {0:?} must be 1–64 characters of A–Z, a–z, 0–9, '.', '_' or '-'")]
    BadId(String),
    /// The name is blank.
    #[error("a zone needs a name")]
    NoName,
    /// `valid_to` is before `valid_from`.
    #[error("valid_to {to} is before valid_from {from}")]
    EndsBeforeStart {
        /// First day.
        from: NaiveDate,
        /// Last day.
        to: NaiveDate,
    },
    /// A water section without its target class.
    #[error("a water_section needs a target_class (I, II, III, IV, V or worse_than_V)")]
    TargetClassRequired,
    /// A target class on a zone that is not a water section.
    #[error("target_class applies to water_section zones only, not {0}")]
    TargetClassNotApplicable(ZoneKind),
    /// An hour range that starts where it ends.
    #[error("hour range {0}..{0} is ambiguous (no hours or all day); leave `hours` out for all day")]
    EmptyHours(String),
    /// A month-day that is not `MM-DD` of a real day.
    #[error("{0:?} is not a month-day MM-DD")]
    BadMonthDay(String),
    /// A clock time that is not `HH:MM`.
    #[error("{0:?} is not a time HH:MM")]
    BadClockTime(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// Local (CST) wall-clock time as a UTC instant.
    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_str(&format!("{s} +0800"), "%Y-%m-%d %H:%M %z").unwrap().with_timezone(&Utc)
    }

    fn md(s: &str) -> MonthDay {
        s.parse().unwrap()
    }

    fn hm(s: &str) -> ClockTime {
        s.parse().unwrap()
    }

    fn zone(kind: ZoneKind) -> Zone {
        Zone {
            id: "z1".into(),
            name: "测试区".into(),
            kind,
            valid_from: d("2021-01-01"),
            valid_to: Some(d("2030-12-31")),
            schedule: None,
            territory: None,
            target_class: None,
            note: None,
        }
    }

    fn with(seasons: &[(&str, &str)], hours: &[(&str, &str)]) -> Zone {
        let mut z = zone(ZoneKind::FishingBanWater);
        z.schedule = Some(Schedule {
            seasons: seasons.iter().map(|(a, b)| Season { from: md(a), to: md(b) }).collect(),
            hours: hours.iter().map(|(a, b)| HourRange { from: hm(a), to: hm(b) }).collect(),
        });
        z
    }

    #[test]
    fn validity_dates_are_inclusive_cst_days() {
        let z = zone(ZoneKind::FishingBanWater);
        assert!(!z.active_at(t("2020-12-31 23:59")));
        assert!(z.active_at(t("2021-01-01 00:00")));
        // 2020-12-31 16:00 UTC is already 1 January in Wuhu.
        assert!(z.active_at(Utc.with_ymd_and_hms(2020, 12, 31, 16, 0, 0).unwrap()));
        assert!(z.active_at(t("2030-12-31 23:59")));
        assert!(!z.active_at(t("2031-01-01 00:00")));
        let mut open = z.clone();
        open.valid_to = None;
        assert!(open.active_at(t("2099-06-01 12:00")));
    }

    #[test]
    fn a_season_inside_the_year() {
        // The classic spring ban 03-01..06-30.
        let z = with(&[("03-01", "06-30")], &[]);
        assert!(!z.active_at(t("2026-02-28 23:59")));
        assert!(z.active_at(t("2026-03-01 00:00")));
        assert!(z.active_at(t("2026-06-30 23:59")));
        assert!(!z.active_at(t("2026-07-01 00:00")));
    }

    #[test]
    fn a_season_across_the_year_end() {
        let z = with(&[("12-01", "02-29")], &[]);
        assert!(z.active_at(t("2026-12-01 00:00")));
        assert!(z.active_at(t("2027-01-15 12:00")));
        assert!(z.active_at(t("2028-02-29 12:00")), "leap day");
        assert!(!z.active_at(t("2027-03-01 00:00")));
        assert!(!z.active_at(t("2026-11-30 23:59")));
        // Several seasons: any of them.
        let two = with(&[("01-01", "01-31"), ("07-01", "07-31")], &[]);
        assert!(two.active_at(t("2026-07-15 08:00")));
        assert!(!two.active_at(t("2026-06-15 08:00")));
    }

    #[test]
    fn night_hours_wrap_midnight() {
        let z = with(&[], &[("22:00", "06:00")]);
        assert!(z.active_at(t("2026-05-01 22:00")));
        assert!(z.active_at(t("2026-05-01 23:59")));
        assert!(z.active_at(t("2026-05-02 00:00")));
        assert!(z.active_at(t("2026-05-02 05:59")));
        assert!(!z.active_at(t("2026-05-02 06:00")), "the end is excluded");
        assert!(!z.active_at(t("2026-05-02 12:00")));
        assert!(!z.active_at(t("2026-05-02 21:59")));
        // Evening to midnight.
        let evening = with(&[], &[("18:00", "00:00")]);
        assert!(evening.active_at(t("2026-05-02 23:59")));
        assert!(!evening.active_at(t("2026-05-03 00:00")));
        // Daytime hours in CST, not UTC: 09:00 CST is 01:00 UTC.
        let day = with(&[], &[("08:00", "18:00")]);
        assert!(day.active_at(Utc.with_ymd_and_hms(2026, 5, 2, 1, 0, 0).unwrap()));
        assert!(!day.active_at(Utc.with_ymd_and_hms(2026, 5, 2, 11, 0, 0).unwrap()));
    }

    #[test]
    fn a_night_belongs_to_the_evening_it_starts() {
        let z = with(&[("03-01", "06-30")], &[("22:00", "06:00")]);
        // The night of 30 June runs into 1 July.
        assert!(z.active_at(t("2026-06-30 23:00")));
        assert!(z.active_at(t("2026-07-01 03:00")));
        assert!(!z.active_at(t("2026-07-01 22:00")));
        // The small hours of 1 March belong to the night of 28 February.
        assert!(!z.active_at(t("2026-03-01 03:00")));
        assert!(z.active_at(t("2026-03-01 22:30")));
        assert!(!z.active_at(t("2026-04-10 12:00")), "daytime in season");
    }

    #[test]
    fn validity_dates_follow_the_night_too() {
        let mut z = with(&[], &[("22:00", "06:00")]);
        z.valid_from = d("2026-03-01");
        z.valid_to = Some(d("2026-06-30"));
        // 02:00 on 1 March is the night of 28 February, before the zone is valid.
        assert!(!z.active_at(t("2026-03-01 02:00")));
        assert!(z.active_at(t("2026-03-01 22:00")));
        assert!(z.active_at(t("2026-03-02 02:00")));
        // The last night runs to 06:00 on 1 July; the next does not start.
        assert!(z.active_at(t("2026-07-01 02:00")));
        assert!(!z.active_at(t("2026-07-01 23:00")));
        // Without hours, validity is the calendar day.
        z.schedule = None;
        assert!(z.active_at(t("2026-03-01 02:00")));
        assert!(!z.active_at(t("2026-07-01 02:00")));
    }

    #[test]
    fn validation() {
        assert_eq!(zone(ZoneKind::KeyArea).validate(), Ok(()));
        let mut z = zone(ZoneKind::KeyArea);
        z.id = "bad id".into();
        assert!(matches!(z.validate(), Err(ZoneError::BadId(_))));
        z.id = "x".repeat(65);
        assert!(matches!(z.validate(), Err(ZoneError::BadId(_))));
        let mut z = zone(ZoneKind::KeyArea);
        z.name = " ".into();
        assert_eq!(z.validate(), Err(ZoneError::NoName));
        let mut z = zone(ZoneKind::KeyArea);
        z.valid_to = Some(d("2020-01-01"));
        assert!(matches!(z.validate(), Err(ZoneError::EndsBeforeStart { .. })));
        let mut ws = zone(ZoneKind::WaterSection);
        assert_eq!(ws.validate(), Err(ZoneError::TargetClassRequired));
        ws.target_class = Some(WaterClass::II);
        assert_eq!(ws.validate(), Ok(()));
        let mut k = zone(ZoneKind::KeyArea);
        k.target_class = Some(WaterClass::II);
        assert_eq!(k.validate(), Err(ZoneError::TargetClassNotApplicable(ZoneKind::KeyArea)));
        let empty = with(&[], &[("08:00", "08:00")]);
        assert!(matches!(empty.validate(), Err(ZoneError::EmptyHours(_))));
    }

    #[test]
    fn text_forms() {
        assert_eq!(md("3-1"), MonthDay::new(3, 1).unwrap());
        assert_eq!(md("02-29").to_string(), "02-29");
        for bad in ["02-30", "13-01", "0301", "03-001", "", "aa-bb"] {
            assert!(bad.parse::<MonthDay>().is_err(), "{bad}");
        }
        assert_eq!(hm("22:00").minutes(), 22 * 60);
        for bad in ["24:00", "12:60", "1200", ":"] {
            assert!(bad.parse::<ClockTime>().is_err(), "{bad}");
        }
        let z = with(&[("03-01", "06-30")], &[("22:00", "06:00")]);
        let json = serde_json::to_value(&z).unwrap();
        assert_eq!(json["kind"], "fishing_ban_water");
        assert_eq!(json["schedule"]["seasons"][0]["from"], "03-01");
        assert_eq!(json["schedule"]["hours"][0]["to"], "06:00");
        assert_eq!(serde_json::from_value::<Zone>(json).unwrap(), z);
        for k in ZoneKind::ALL {
            assert_eq!(ZoneKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert!(ZoneKind::RingDistrict.is_ring() && !ZoneKind::Shoreline.is_ring());
    }

    #[test]
    fn water_classes_order_from_best_to_worst() {
        assert!(WaterClass::I < WaterClass::II && WaterClass::V < WaterClass::WorseThanV);
        assert!(WaterClass::II.meets(WaterClass::III));
        assert!(WaterClass::III.meets(WaterClass::III));
        assert!(!WaterClass::IV.meets(WaterClass::III));
        let names: Vec<String> = WaterClass::ALL.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["I", "II", "III", "IV", "V", "劣V"]);
        assert_eq!(serde_json::to_value(WaterClass::WorseThanV).unwrap(), "worse_than_V");
        assert_eq!(serde_json::from_str::<WaterClass>("\"劣V\"").unwrap(), WaterClass::WorseThanV);
        assert_eq!(serde_json::from_str::<WaterClass>("\"III\"").unwrap(), WaterClass::III);
    }

    fn any_md() -> impl Strategy<Value = MonthDay> {
        (1u32..=12, 1u32..=31).prop_filter_map("a real day", |(m, d)| MonthDay::new(m, d))
    }

    fn any_schedule() -> impl Strategy<Value = Option<Schedule>> {
        let season = (any_md(), any_md()).prop_map(|(from, to)| Season { from, to });
        let hours = (0u32..1440, 0u32..1440)
            .prop_filter("non-empty", |(a, b)| a != b)
            .prop_map(|(a, b)| HourRange { from: ClockTime(a), to: ClockTime(b) });
        proptest::option::of(
            (proptest::collection::vec(season, 0..3), proptest::collection::vec(hours, 0..3))
                .prop_map(|(seasons, hours)| Schedule { seasons, hours }),
        )
    }

    fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
        prop_oneof![
            // Around the demo years, minute resolution.
            (0i64..40 * 366 * 24 * 60).prop_map(|m| t("2015-01-01 00:00") + Duration::minutes(m)),
            // Anywhere chrono can represent, including its very ends.
            (DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp())
                .prop_map(|s| DateTime::from_timestamp(s, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)),
            Just(DateTime::<Utc>::MIN_UTC),
            Just(DateTime::<Utc>::MAX_UTC),
        ]
    }

    proptest! {
        /// The documented patterns and the parsers agree.
        #[test]
        fn patterns_accept_exactly_what_parses(md in "[0-9]{1,3}-[0-9]{1,3}", t in "[0-9]{1,3}:[0-9]{1,3}") {
            let re = |p| regex::Regex::new(p).unwrap();
            prop_assert_eq!(re(MonthDay::PATTERN).is_match(&md), md.parse::<MonthDay>().is_ok(), "{}", md);
            prop_assert_eq!(re(ClockTime::PATTERN).is_match(&t), t.parse::<ClockTime>().is_ok(), "{}", t);
        }

        /// The id pattern and length bound agree with validation.
        #[test]
        fn the_id_pattern_matches_validation(id in "[A-Za-z0-9._ /-]{0,70}") {
            let mut z = zone(ZoneKind::KeyArea);
            z.id = id.clone();
            let documented = regex::Regex::new(Zone::ID_PATTERN).unwrap().is_match(&id) && id.len() <= MAX_ID_LEN;
            prop_assert_eq!(documented, z.validate().is_ok(), "{}", id);
        }

        #[test]
        fn active_at_is_total_and_inside_validity(
            at in any_instant(),
            schedule in any_schedule(),
            from_days in 0i64..30 * 366,
            len in proptest::option::of(0i64..20 * 366),
        ) {
            let mut z = zone(ZoneKind::FishingBanWater);
            z.valid_from = d("2010-01-01") + Duration::days(from_days);
            z.valid_to = len.map(|l| z.valid_from + Duration::days(l));
            z.schedule = schedule;
            let active = z.active_at(at);
            if active {
                let local = at.naive_utc().checked_add_signed(Duration::hours(8)).unwrap().date();
                prop_assert!(z.valid_from <= local, "{at} before {}", z.valid_from);
                prop_assert!(z.valid_to.is_none_or(|end| local <= end), "{at} after {:?}", z.valid_to);
            }
            // Without a schedule, activity is exactly validity.
            z.schedule = None;
            if let Some(local) = at.naive_utc().checked_add_signed(Duration::hours(8)) {
                prop_assert_eq!(z.active_at(at), z.valid_on(local.date()));
            }
        }

        #[test]
        fn a_wrapping_range_is_the_complement_of_its_reverse(from in 0u32..1440, to in 0u32..1440, m in 0i64..2 * 1440) {
            prop_assume!(from != to);
            let at = t("2026-05-01 00:00") + Duration::minutes(m);
            let a = with(&[], &[]);
            let mut fwd = a.clone();
            fwd.schedule = Some(Schedule { seasons: vec![], hours: vec![HourRange { from: ClockTime(from), to: ClockTime(to) }] });
            let mut rev = a;
            rev.schedule = Some(Schedule { seasons: vec![], hours: vec![HourRange { from: ClockTime(to), to: ClockTime(from) }] });
            prop_assert_ne!(fwd.active_at(at), rev.active_at(at));
        }
    }
}
