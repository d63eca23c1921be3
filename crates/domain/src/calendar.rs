//! The working calendar (工作日历) that normal deadlines run on.
//!
//! A working day is a weekday that is not an official holiday, or a weekend
//! day the State Council has declared an adjusted working day (调休上班).
//! Working time is the day's working periods (by default 08:30–12:00 and
//! 13:30–17:30, China Standard Time). Urgent cases run on natural time.
//! Each year's holidays come from a year file the operator can replace; a
//! year without a file falls back to plain weekends, and
//! [`WorkingCalendar::covers`] tells the caller so it can warn.
//!
//! The arithmetic is total and its cost does not grow with the distance
//! between dates: an instant's working time since a fixed origin is whole
//! weeks of weekdays, corrected by the (few) holidays and adjusted working
//! days before it, plus the part of its own day. Results past the end of
//! chrono's range saturate at [`DateTime::<Utc>::MAX_UTC`].
//!
//! Dates a client sends are bounded separately: no earlier than
//! [`earliest`], no later than [`horizon`] of the decision time.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, FixedOffset, Months, NaiveDate, NaiveTime, TimeDelta, Timelike, Utc, Weekday};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// China Standard Time, UTC+8, which has no daylight saving.
pub const CST_OFFSET_SECS: i32 = 8 * 3600;

/// How many years past the decision time a client may place a date (an
/// extended deadline): far beyond any real extension, small enough that
/// every deadline stays an ordinary date.
pub const HORIZON_YEARS: u32 = 10;

/// The earliest year a client-supplied date may fall in; the platform
/// handles nothing older.
pub const EARLIEST_YEAR: i32 = 2000;

/// The earliest instant a client may send: 1 January [`EARLIEST_YEAR`], 00:00 CST.
pub fn earliest() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(EARLIEST_YEAR, 1, 1)
        .and_then(|d| d.and_time(NaiveTime::MIN).and_local_timezone(cst()).single())
        .map_or(DateTime::<Utc>::MIN_UTC, |t| t.with_timezone(&Utc))
}

/// The latest instant a client may send at `now`: [`HORIZON_YEARS`] calendar
/// years later, or the end of chrono's range if that comes first.
pub fn horizon(now: DateTime<Utc>) -> DateTime<Utc> {
    now.checked_add_months(Months::new(12 * HORIZON_YEARS)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Whether a client-supplied instant lies in [`earliest`]`..=`[`horizon`]`(now)`.
pub fn within_bounds(now: DateTime<Utc>, at: DateTime<Utc>) -> bool {
    earliest() <= at && at <= horizon(now)
}

const NANOS_PER_SEC: i64 = 1_000_000_000;
const NANOS_PER_MINUTE: i128 = 60 * NANOS_PER_SEC as i128;
const SECS_PER_DAY: i64 = 86_400;
/// `num_days_from_ce` of 1970-01-01: calendar days are counted from the Unix epoch.
const EPOCH_DAYS_FROM_CE: i64 = 719_163;

/// One year's official holidays and adjusted working days, as in a year file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearCalendar {
    /// The year the lists belong to.
    pub year: i32,
    /// Days off by official holiday (放假), weekdays or not.
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
    /// Weekend days that are worked (调休上班).
    #[serde(default)]
    pub workdays: Vec<NaiveDate>,
}

/// A half-open working period within a day, `[start, end)` in local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkPeriod {
    /// Start of the period.
    pub start: NaiveTime,
    /// End of the period.
    pub end: NaiveTime,
}

/// Why a calendar definition is unusable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CalendarError {
    /// No working periods, or periods that are empty, unordered or overlapping.
    #[error("working periods must be non-empty, each start before its end, in order and not overlapping")]
    BadPeriods,
    /// A date in a year file that belongs to another year.
    #[error("year file {year}: date {date} is not in that year")]
    WrongYear {
        /// The file's year.
        year: i32,
        /// The stray date.
        date: NaiveDate,
    },
    /// A date listed both as holiday and as working day.
    #[error("year file {year}: {date} is listed both as holiday and as working day")]
    Both {
        /// The file's year.
        year: i32,
        /// The contradictory date.
        date: NaiveDate,
    },
    /// The same year given twice.
    #[error("year {0} is defined twice")]
    DuplicateYear(i32),
}

/// Working days and hours, and deadline arithmetic on them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingCalendar {
    periods: Vec<WorkPeriod>,
    holidays: BTreeSet<NaiveDate>,
    workdays: BTreeSet<NaiveDate>,
    years: BTreeSet<i32>,
    offset: FixedOffset,
    /// Weekdays that are not worked, as sorted epoch days (derived).
    off_days: Vec<i64>,
    /// Weekend days that are worked, as sorted epoch days (derived).
    on_days: Vec<i64>,
}

impl Default for WorkingCalendar {
    fn default() -> Self {
        Self {
            periods: default_periods(),
            holidays: BTreeSet::new(),
            workdays: BTreeSet::new(),
            years: BTreeSet::new(),
            offset: cst(),
            off_days: Vec::new(),
            on_days: Vec::new(),
        }
    }
}

/// China Standard Time as a chrono offset.
pub fn cst() -> FixedOffset {
    // Proven invariant: eight hours is well inside chrono's ±24 h range.
    #[allow(clippy::expect_used)]
    FixedOffset::east_opt(CST_OFFSET_SECS).expect("UTC+8 is a valid offset")
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
}

/// 08:30–12:00 and 13:30–17:30 (7.5 h): the usual office hours of government bodies.
pub fn default_periods() -> Vec<WorkPeriod> {
    vec![WorkPeriod { start: hm(8, 30), end: hm(12, 0) }, WorkPeriod { start: hm(13, 30), end: hm(17, 30) }]
}

/// Days since 1970-01-01 (negative before).
fn epoch_day(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce()) - EPOCH_DAYS_FROM_CE
}

/// Whether an epoch day falls Monday–Friday; 1970-01-01 was a Thursday.
fn is_weekday(day: i64) -> bool {
    (day + 3).rem_euclid(7) < 5
}

/// Weekdays among the epoch days from Monday 1969-12-29 up to (excluding)
/// `day`, negative for days before it: whole weeks count five each.
fn weekdays_before(day: i64) -> i64 {
    let from_monday = day + 3;
    5 * from_monday.div_euclid(7) + from_monday.rem_euclid(7).min(5)
}

/// Nanoseconds since midnight.
fn nanos_of_day(t: NaiveTime) -> i64 {
    i64::from(t.num_seconds_from_midnight()) * NANOS_PER_SEC + i64::from(t.nanosecond())
}

/// The first and last epoch days the search for a working day considers:
/// chrono's dates, with a day's margin for the offset.
fn day_range() -> (i64, i64) {
    (epoch_day(NaiveDate::MIN) - 1, epoch_day(NaiveDate::MAX) + 1)
}

fn count_before(days: &[i64], day: i64) -> i64 {
    // At most a few thousand entries, so the cast is exact.
    days.partition_point(|&d| d < day) as i64
}

impl WorkingCalendar {
    /// A calendar from working periods and year files.
    pub fn new(periods: Vec<WorkPeriod>, years: Vec<YearCalendar>) -> Result<Self, CalendarError> {
        let ordered = !periods.is_empty()
            && periods.iter().all(|p| p.start < p.end)
            && periods.windows(2).all(|w| w[0].end <= w[1].start);
        if !ordered {
            return Err(CalendarError::BadPeriods);
        }
        let mut cal = WorkingCalendar { periods, ..WorkingCalendar::default() };
        for y in years {
            if !cal.years.insert(y.year) {
                return Err(CalendarError::DuplicateYear(y.year));
            }
            for &date in y.holidays.iter().chain(&y.workdays) {
                if date.year() != y.year {
                    return Err(CalendarError::WrongYear { year: y.year, date });
                }
            }
            for &date in &y.holidays {
                if y.workdays.contains(&date) {
                    return Err(CalendarError::Both { year: y.year, date });
                }
                cal.holidays.insert(date);
            }
            cal.workdays.extend(y.workdays.iter().copied());
        }
        // Only the days that differ from the plain weekday rule matter to the
        // counting; BTreeSet order keeps both lists sorted.
        let listed: BTreeSet<NaiveDate> = cal.holidays.union(&cal.workdays).copied().collect();
        for date in listed {
            let (day, worked) = (epoch_day(date), cal.is_working_day(date));
            if is_weekday(day) && !worked {
                cal.off_days.push(day);
            } else if !is_weekday(day) && worked {
                cal.on_days.push(day);
            }
        }
        Ok(cal)
    }

    /// Whether a year file was loaded for `year`.
    pub fn covers(&self, year: i32) -> bool {
        self.years.contains(&year)
    }

    /// The years loaded from files.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.iter().copied()
    }

    /// Working minutes in a full working day.
    pub fn minutes_per_day(&self) -> i64 {
        self.periods.iter().map(|p| (p.end - p.start).num_minutes()).sum()
    }

    /// Whether `day` is a working day.
    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        if self.workdays.contains(&day) {
            return true;
        }
        if self.holidays.contains(&day) {
            return false;
        }
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
    }

    /// [`Self::is_working_day`] by epoch day, for days chrono cannot name too.
    fn works_on(&self, day: i64) -> bool {
        if is_weekday(day) {
            self.off_days.binary_search(&day).is_err()
        } else {
            self.on_days.binary_search(&day).is_ok()
        }
    }

    /// Working days among the epoch days before `day`, counted from the
    /// same origin as [`weekdays_before`]: O(log holidays).
    fn working_days_before(&self, day: i64) -> i64 {
        weekdays_before(day) - count_before(&self.off_days, day) + count_before(&self.on_days, day)
    }

    /// Working nanoseconds in a full working day; positive for any calendar
    /// [`Self::new`] accepts.
    fn day_nanos(&self) -> i64 {
        self.periods.iter().map(|p| nanos_of_day(p.end) - nanos_of_day(p.start)).sum()
    }

    /// The local epoch day of `at` and the nanoseconds into it. Integer
    /// arithmetic only: chrono's own local conversion panics near its range's end.
    fn local(&self, at: DateTime<Utc>) -> (i64, i64) {
        let secs = at.timestamp() + i64::from(self.offset.local_minus_utc());
        let into = secs.rem_euclid(SECS_PER_DAY) * NANOS_PER_SEC + i64::from(at.timestamp_subsec_nanos());
        (secs.div_euclid(SECS_PER_DAY), into)
    }

    /// Working nanoseconds from the origin to `at` (negative before it);
    /// non-decreasing in `at`, so differences measure working time.
    fn position(&self, at: DateTime<Utc>) -> i128 {
        let (day, into) = self.local(at);
        let mut pos = i128::from(self.working_days_before(day)) * i128::from(self.day_nanos());
        if self.works_on(day) {
            let worked: i64 = self
                .periods
                .iter()
                .map(|p| {
                    let (s, e) = (nanos_of_day(p.start), nanos_of_day(p.end));
                    into.clamp(s, e) - s
                })
                .sum();
            pos += i128::from(worked);
        }
        pos
    }

    /// The working day whose working time follows exactly `n` working days
    /// after the origin: a binary search over chrono's days, so about 28
    /// steps whatever the distance. `None` past the end of the range.
    fn nth_working_day(&self, n: i64) -> Option<i64> {
        let (mut lo, mut hi) = day_range();
        if self.working_days_before(hi + 1) <= n {
            return None;
        }
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.working_days_before(mid + 1) > n {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Some(lo)
    }

    /// The local time of day by which a working day has accumulated `worked`
    /// nanoseconds (`0 < worked <= day_nanos`); a period used up exactly ends it.
    fn time_after(&self, mut worked: i64) -> i64 {
        for p in &self.periods {
            let (s, e) = (nanos_of_day(p.start), nanos_of_day(p.end));
            if worked <= e - s {
                return s + worked;
            }
            worked -= e - s;
        }
        // Unreachable for `worked <= day_nanos`; the day's last end is the honest answer.
        self.periods.last().map_or(0, |p| nanos_of_day(p.end))
    }

    /// The instant at local epoch day `day`, `into` nanoseconds after midnight.
    fn instant(&self, day: i64, into: i64) -> Option<DateTime<Utc>> {
        let secs = day
            .checked_mul(SECS_PER_DAY)?
            .checked_add(into.div_euclid(NANOS_PER_SEC))?
            .checked_sub(i64::from(self.offset.local_minus_utc()))?;
        DateTime::from_timestamp(secs, u32::try_from(into.rem_euclid(NANOS_PER_SEC)).ok()?)
    }

    /// The instant `minutes` of working time after `start`.
    ///
    /// Time outside working periods does not count; a deadline that uses up a
    /// period exactly falls on that period's end. Total for any inputs: a
    /// non-positive count gives `start`, and a deadline past the end of
    /// chrono's range saturates at [`DateTime::<Utc>::MAX_UTC`]. The cost does
    /// not depend on `minutes`.
    pub fn add_working(&self, start: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
        let day_nanos = i128::from(self.day_nanos());
        if minutes <= 0 {
            return start;
        }
        if day_nanos <= 0 {
            // No working time at all: the deadline never comes.
            return DateTime::<Utc>::MAX_UTC;
        }
        // i128 holds any i64 count of minutes in nanoseconds, so no clamping is needed.
        let target = self.position(start) + i128::from(minutes) * NANOS_PER_MINUTE;
        // The target lies in the `n`-th working day after the origin,
        // `worked` into it, with 0 < worked <= day_nanos.
        let n = (target - 1).div_euclid(day_nanos);
        let worked = target - n * day_nanos;
        let (Ok(n), Ok(worked)) = (i64::try_from(n), i64::try_from(worked)) else {
            return DateTime::<Utc>::MAX_UTC;
        };
        // The result is after `start`, so only the range's end can be missed.
        self.nth_working_day(n)
            .and_then(|day| self.instant(day, self.time_after(worked)))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Working minutes in `[a, b)`, rounded down; zero when `b <= a`. Total
    /// for any inputs, and its cost does not depend on the distance.
    pub fn working_minutes_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
        if b <= a {
            return 0;
        }
        let minutes = (self.position(b) - self.position(a)) / NANOS_PER_MINUTE;
        // Chrono's whole range holds far fewer than i64::MAX minutes.
        i64::try_from(minutes).unwrap_or(i64::MAX)
    }

    /// The deadline `minutes` after `start`: natural time if `urgent`,
    /// working time otherwise. Saturates at [`DateTime::<Utc>::MAX_UTC`].
    pub fn deadline(&self, start: DateTime<Utc>, minutes: i64, urgent: bool) -> DateTime<Utc> {
        if urgent {
            TimeDelta::try_minutes(minutes.max(0))
                .and_then(|d| start.checked_add_signed(d))
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        } else {
            self.add_working(start, minutes)
        }
    }

    /// Time left before `deadline` on the same clock [`Self::deadline`] uses.
    pub fn remaining(&self, now: DateTime<Utc>, deadline: DateTime<Utc>, urgent: bool) -> i64 {
        if urgent {
            deadline.signed_duration_since(now).num_minutes().max(0)
        } else {
            self.working_minutes_between(now, deadline)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// Local (CST) wall-clock time as a UTC instant.
    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_str(&format!("{s} +0800"), "%Y-%m-%d %H:%M %z").unwrap().with_timezone(&Utc)
    }

    /// 2026's official holidays around Qingming (清明) and Labour Day, as a
    /// year file would give them.
    fn cal_2026() -> WorkingCalendar {
        let y = YearCalendar {
            year: 2026,
            holidays: ["2026-04-04", "2026-04-05", "2026-04-06", "2026-05-01", "2026-05-04", "2026-05-05"]
                .map(d)
                .to_vec(),
            workdays: vec![d("2026-05-09")],
        };
        WorkingCalendar::new(default_periods(), vec![y]).unwrap()
    }

    #[test]
    fn friday_17_00_before_qingming() {
        // Reported Friday 3 April 17:00; 30 working minutes remain that day,
        // Saturday–Monday are the Qingming holiday; the other 210 of a
        // 240-minute limit use up Tuesday's 08:30–12:00 exactly.
        let cal = cal_2026();
        assert_eq!(cal.add_working(t("2026-04-03 17:00"), 240), t("2026-04-07 12:00"));
        // One more minute runs into the afternoon period.
        assert_eq!(cal.add_working(t("2026-04-03 17:00"), 241), t("2026-04-07 13:31"));
        // A full working day (450 min) ends Tuesday 17:00.
        assert_eq!(cal.add_working(t("2026-04-03 17:00"), 450), t("2026-04-07 17:00"));
        // Without the holiday file, Monday would have been a working day.
        let plain = WorkingCalendar::default();
        assert_eq!(plain.add_working(t("2026-04-03 17:00"), 240), t("2026-04-06 12:00"));
    }

    #[test]
    fn adjusted_working_saturday_counts() {
        let cal = cal_2026();
        // Friday 8 May 17:00 + 60: 30 on Friday, 30 on the adjusted Saturday.
        assert_eq!(cal.add_working(t("2026-05-08 17:00"), 60), t("2026-05-09 09:00"));
        assert!(cal.is_working_day(d("2026-05-09")));
        assert!(!cal.is_working_day(d("2026-05-01")));
        assert!(!cal.is_working_day(d("2026-05-10")));
    }

    #[test]
    fn outside_hours_starts_at_next_period() {
        let cal = WorkingCalendar::default();
        assert_eq!(cal.add_working(t("2026-11-23 07:00"), 30), t("2026-11-23 09:00"));
        assert_eq!(cal.add_working(t("2026-11-23 12:15"), 30), t("2026-11-23 14:00"));
        assert_eq!(cal.add_working(t("2026-11-23 11:45"), 30), t("2026-11-23 13:45"));
        // A deadline that uses up the morning falls at noon, not at 13:30.
        assert_eq!(cal.add_working(t("2026-11-23 09:00"), 180), t("2026-11-23 12:00"));
        // Saturday night → Monday.
        assert_eq!(cal.add_working(t("2026-11-28 22:00"), 60), t("2026-11-30 09:30"));
        // Three full working days from a Thursday morning end on Monday evening.
        assert_eq!(cal.add_working(t("2026-11-26 08:30"), 3 * 450), t("2026-11-30 17:30"));
    }

    #[test]
    fn urgent_runs_on_natural_time() {
        let cal = cal_2026();
        assert_eq!(cal.deadline(t("2026-04-03 17:00"), 240, true), t("2026-04-03 21:00"));
        assert_eq!(cal.remaining(t("2026-04-03 18:00"), t("2026-04-03 21:00"), true), 180);
    }

    #[test]
    fn minutes_between_skips_nights_and_holidays() {
        let cal = cal_2026();
        assert_eq!(cal.working_minutes_between(t("2026-04-03 17:00"), t("2026-04-07 12:00")), 240);
        assert_eq!(cal.working_minutes_between(t("2026-04-07 12:00"), t("2026-04-03 17:00")), 0);
        assert_eq!(cal.minutes_per_day(), 450);
    }

    #[test]
    fn bad_definitions_are_refused() {
        assert_eq!(WorkingCalendar::new(vec![], vec![]), Err(CalendarError::BadPeriods));
        let overlapping =
            vec![WorkPeriod { start: hm(9, 0), end: hm(13, 0) }, WorkPeriod { start: hm(12, 0), end: hm(17, 0) }];
        assert_eq!(WorkingCalendar::new(overlapping, vec![]), Err(CalendarError::BadPeriods));
        let stray = YearCalendar { year: 2026, holidays: vec![d("2025-10-01")], workdays: vec![] };
        assert!(matches!(WorkingCalendar::new(default_periods(), vec![stray]), Err(CalendarError::WrongYear { .. })));
        let both = YearCalendar { year: 2026, holidays: vec![d("2026-10-01")], workdays: vec![d("2026-10-01")] };
        assert!(matches!(WorkingCalendar::new(default_periods(), vec![both]), Err(CalendarError::Both { .. })));
    }

    /// 2025 and 2026 with their Spring Festival, Qingming and Labour Day
    /// holidays and adjusted working weekends, as the year files give them.
    fn cal_two_years() -> WorkingCalendar {
        let y2025 = YearCalendar {
            year: 2025,
            holidays: [
                "2025-01-01",
                "2025-01-28",
                "2025-01-29",
                "2025-01-30",
                "2025-01-31",
                "2025-02-01",
                "2025-02-02",
                "2025-02-03",
                "2025-02-04",
                "2025-04-04",
                "2025-04-05",
                "2025-04-06",
                "2025-05-01",
                "2025-05-02",
                "2025-05-03",
                "2025-05-04",
                "2025-05-05",
            ]
            .map(d)
            .to_vec(),
            workdays: ["2025-01-26", "2025-02-08", "2025-04-27"].map(d).to_vec(),
        };
        let y2026 = YearCalendar {
            year: 2026,
            holidays: ["2026-01-01", "2026-01-02", "2026-01-03", "2026-04-04", "2026-04-05", "2026-04-06"]
                .map(d)
                .to_vec(),
            workdays: ["2026-01-04", "2026-05-09"].map(d).to_vec(),
        };
        WorkingCalendar::new(default_periods(), vec![y2025, y2026]).unwrap()
    }

    /// The old day-by-day measurement, kept as the reference the closed form must match.
    fn reference_minutes(cal: &WorkingCalendar, a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
        if b <= a {
            return 0;
        }
        let (la, lb) = (a.with_timezone(&cst()), b.with_timezone(&cst()));
        let (mut day, last) = (la.date_naive(), lb.date_naive());
        let mut total = Duration::zero();
        while day <= last {
            if cal.is_working_day(day) {
                for p in &cal.periods {
                    let s = if day == la.date_naive() { p.start.max(la.time()) } else { p.start };
                    let e = if day == last { p.end.min(lb.time()) } else { p.end };
                    if s < e {
                        total += e - s;
                    }
                }
            }
            day = day.succ_opt().unwrap();
        }
        total.num_minutes()
    }

    /// The old day-by-day addition, the reference for [`WorkingCalendar::add_working`].
    fn reference_add(cal: &WorkingCalendar, start: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
        if minutes <= 0 {
            return start;
        }
        let mut remaining = Duration::minutes(minutes);
        let local = start.with_timezone(&cst());
        let (mut day, mut from) = (local.date_naive(), local.time());
        loop {
            if cal.is_working_day(day) {
                for p in &cal.periods {
                    if from >= p.end {
                        continue;
                    }
                    let s = from.max(p.start);
                    if remaining <= p.end - s {
                        let at = day.and_time(s).and_local_timezone(cst()).unwrap().with_timezone(&Utc);
                        return at + remaining;
                    }
                    remaining -= p.end - s;
                }
            }
            day = day.succ_opt().unwrap();
            from = NaiveTime::MIN;
        }
    }

    /// Any instant chrono can represent, with nanoseconds, and its two ends.
    fn anywhen() -> impl Strategy<Value = DateTime<Utc>> {
        let (lo, hi) = (DateTime::<Utc>::MIN_UTC.timestamp(), DateTime::<Utc>::MAX_UTC.timestamp());
        prop_oneof![
            (lo..=hi, 0u32..1_000_000_000)
                .prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap_or(DateTime::<Utc>::MAX_UTC)),
            // The last and first days, where the local date leaves chrono's range.
            (0i64..2 * 86_400).prop_map(move |s| DateTime::from_timestamp(hi - s, 0).unwrap()),
            (0i64..2 * 86_400).prop_map(move |s| DateTime::from_timestamp(lo + s, 0).unwrap()),
            Just(DateTime::<Utc>::MIN_UTC),
            Just(DateTime::<Utc>::MAX_UTC),
        ]
    }

    /// Any count of minutes, the extremes included.
    fn any_minutes() -> impl Strategy<Value = i64> {
        prop_oneof![any::<i64>(), 0i64..10_000_000, Just(i64::MAX), Just(i64::MIN)]
    }

    /// Instants in 2024–2027 at second resolution (not only whole minutes).
    fn any_second() -> impl Strategy<Value = DateTime<Utc>> {
        (0i64..4 * 366 * 86_400).prop_map(|s| t("2024-06-01 00:00") + Duration::seconds(s))
    }

    #[test]
    fn the_ends_of_chronos_range_do_not_panic() {
        let cal = cal_2026();
        let (min, max) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
        assert_eq!(cal.working_minutes_between(max, min), 0);
        assert!(cal.working_minutes_between(min, max) > 0);
        assert_eq!(cal.add_working(max, 1), max);
        assert_eq!(cal.add_working(min, i64::MAX), max);
        assert_eq!(cal.deadline(max, 60, true), max);
        assert_eq!(cal.deadline(min, i64::MAX, true), max);
        assert!(cal.remaining(min, max, true) > 0);
        assert_eq!(horizon(max), max);
        // The deadline the issue used: near the end of the range, in CST already the next day.
        let far: DateTime<Utc> = "+262142-12-31T23:00:00Z".parse().unwrap();
        assert!(cal.remaining(t("2026-11-23 10:00"), far, false) > 0);
    }

    #[test]
    fn whole_weeks_count_in_one_step() {
        // Ten million weeks, far more than a day-by-day loop could walk
        // in a test: Monday to Monday is five working days a week.
        let plain = WorkingCalendar::default();
        let monday = t("2026-11-23 00:00");
        let weeks = 10_000_000;
        let later = monday + Duration::weeks(weeks);
        assert_eq!(plain.working_minutes_between(monday, later), weeks * 5 * 450);
        assert_eq!(
            plain.add_working(monday, weeks * 5 * 450),
            later - Duration::days(3) + Duration::minutes(17 * 60 + 30)
        );
        // Holidays are exceptions counted once, wherever the span ends.
        let cal = cal_2026();
        let year = cal.working_minutes_between(t("2026-01-01 00:00"), t("2027-01-01 00:00"));
        // 261 weekdays, four of them holidays, plus the adjusted Saturday 9 May.
        assert_eq!(year, (261 - 4 + 1) * 450);
        assert_eq!(
            cal.working_minutes_between(t("2026-01-01 00:00"), later) - year,
            plain.working_minutes_between(t("2027-01-01 00:00"), later)
        );
    }

    #[test]
    fn the_horizon_is_ten_calendar_years() {
        let now = t("2026-11-23 10:00");
        assert_eq!(horizon(now), t("2036-11-23 10:00"));
        assert!(within_bounds(now, horizon(now)));
        assert!(!within_bounds(now, horizon(now) + Duration::seconds(1)));
        assert_eq!(earliest(), t("2000-01-01 00:00"));
        assert!(!within_bounds(now, earliest() - Duration::seconds(1)));
    }

    fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
        // 2025-01-01 .. 2027-12-31 at minute resolution.
        (0i64..3 * 366 * 24 * 60).prop_map(|m| t("2025-01-01 00:00") + Duration::minutes(m))
    }

    proptest! {
        #[test]
        fn adding_then_measuring_gives_back_the_minutes(start in any_instant(), m in 0i64..20_000) {
            let cal = cal_2026();
            let end = cal.add_working(start, m);
            prop_assert!(end >= start);
            prop_assert_eq!(cal.working_minutes_between(start, end), m);
        }

        #[test]
        fn adding_is_associative(start in any_instant(), a in 0i64..5_000, b in 0i64..5_000) {
            let cal = cal_2026();
            prop_assert_eq!(cal.add_working(cal.add_working(start, a), b), cal.add_working(start, a + b));
        }

        #[test]
        fn deadlines_fall_inside_working_time(start in any_instant(), m in 1i64..20_000) {
            let cal = cal_2026();
            let end = cal.add_working(start, m).with_timezone(&cst());
            prop_assert!(cal.is_working_day(end.date_naive()));
            let inside = default_periods().iter().any(|p| p.start < end.time() && end.time() <= p.end);
            prop_assert!(inside, "{end}");
        }

        #[test]
        fn more_minutes_never_end_earlier(start in any_instant(), a in 0i64..5_000, b in 0i64..5_000) {
            let cal = cal_2026();
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assert!(cal.add_working(start, lo) <= cal.add_working(start, hi));
        }
        #[test]
        fn calendar_arithmetic_is_total(a in anywhen(), b in anywhen(), m in any_minutes(), urgent in any::<bool>()) {
            for cal in [cal_2026(), WorkingCalendar::default()] {
                let between = cal.working_minutes_between(a, b);
                prop_assert!(between >= 0);
                let end = cal.add_working(a, m);
                prop_assert!(end >= a);
                if m > 0 && end < DateTime::<Utc>::MAX_UTC {
                    prop_assert_eq!(cal.working_minutes_between(a, end), m);
                }
                prop_assert!(cal.deadline(a, m, urgent) >= a);
                prop_assert!(cal.remaining(a, b, urgent) >= 0);
                prop_assert!(horizon(a) >= a);
                let _ = within_bounds(a, b);
            }
        }

        #[test]
        fn measuring_matches_the_day_by_day_reference(a in any_second(), span in 0i64..120 * 86_400) {
            let cal = cal_two_years();
            let b = a + Duration::seconds(span);
            prop_assert_eq!(cal.working_minutes_between(a, b), reference_minutes(&cal, a, b));
            prop_assert_eq!(cal.working_minutes_between(b, a), 0);
        }

        #[test]
        fn adding_matches_the_day_by_day_reference(start in any_second(), m in 0i64..60_000) {
            let cal = cal_two_years();
            prop_assert_eq!(cal.add_working(start, m), reference_add(&cal, start, m));
        }

        #[test]
        fn measuring_is_additive(a in any_instant(), x in 0i64..200_000, y in 0i64..200_000) {
            // Whole minutes: rounding each part down could otherwise lose a minute.
            let cal = cal_two_years();
            let b = a + Duration::minutes(x);
            let c = b + Duration::minutes(y);
            prop_assert_eq!(
                cal.working_minutes_between(a, c),
                cal.working_minutes_between(a, b) + cal.working_minutes_between(b, c)
            );
        }

        #[test]
        fn adding_and_measuring_agree_up_to_the_horizon(start in any_second(), m in 0i64..2_000_000) {
            // Ten years hold about 1.2 million working minutes.
            let cal = cal_two_years();
            let end = cal.add_working(start, m);
            prop_assert_eq!(cal.working_minutes_between(start, end), m);
            // And the end is the first instant with that much working time behind it.
            if m > 0 {
                prop_assert_eq!(cal.working_minutes_between(start, end - Duration::nanoseconds(1)), m - 1);
            }
        }

        #[test]
        fn adding_what_was_measured_never_overshoots(a in any_second(), span in 0i64..400 * 86_400) {
            let cal = cal_two_years();
            let b = a + Duration::seconds(span);
            prop_assert!(cal.add_working(a, cal.working_minutes_between(a, b)) <= b);
        }

        #[test]
        fn epoch_days_keep_the_weekday(days in -100_000_000i64..100_000_000) {
            let date = NaiveDate::from_num_days_from_ce_opt(i32::try_from(days + EPOCH_DAYS_FROM_CE).unwrap());
            prop_assume!(date.is_some());
            let date = date.unwrap();
            prop_assert_eq!(epoch_day(date), days);
            prop_assert_eq!(is_weekday(days), !matches!(date.weekday(), Weekday::Sat | Weekday::Sun));
            prop_assert_eq!(weekdays_before(days + 1) - weekdays_before(days), i64::from(is_weekday(days)));
        }
    }
}
