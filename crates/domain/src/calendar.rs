//! The working calendar (工作日历) that normal deadlines run on.
//!
//! A working day is a weekday that is not an official holiday, or a weekend
//! day the State Council has declared an adjusted working day (调休上班).
//! Working time is the day's working periods (by default 08:30–12:00 and
//! 13:30–17:30, China Standard Time). Urgent cases run on natural time.
//! Each year's holidays come from a year file the operator can replace; a
//! year without a file falls back to plain weekends, and
//! [`WorkingCalendar::covers`] tells the caller so it can warn.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// China Standard Time, UTC+8, which has no daylight saving.
pub const CST_OFFSET_SECS: i32 = 8 * 3600;

/// How far ahead the calendar searches for working time before giving up;
/// a proven bound, since any calendar with periods has a working day a week.
const MAX_DAYS_AHEAD: i64 = 400 * 366;

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
}

impl Default for WorkingCalendar {
    fn default() -> Self {
        Self {
            periods: default_periods(),
            holidays: BTreeSet::new(),
            workdays: BTreeSet::new(),
            years: BTreeSet::new(),
            offset: cst(),
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

    fn at(&self, day: NaiveDate, t: NaiveTime) -> DateTime<Utc> {
        let local = day.and_time(t);
        match self.offset.from_local_datetime(&local) {
            chrono::LocalResult::Single(dt) => dt.with_timezone(&Utc),
            // A fixed offset is never ambiguous; keep a total function anyway.
            _ => Utc.from_utc_datetime(&local),
        }
    }

    /// The instant `minutes` of working time after `start`.
    ///
    /// Time outside working periods does not count; a deadline that uses up a
    /// period exactly falls on that period's end.
    pub fn add_working(&self, start: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
        if minutes <= 0 {
            return start;
        }
        let mut remaining = Duration::minutes(minutes);
        let local = start.with_timezone(&self.offset);
        let mut day = local.date_naive();
        let mut from = local.time();
        for _ in 0..MAX_DAYS_AHEAD {
            if self.is_working_day(day) {
                for p in &self.periods {
                    if from >= p.end {
                        continue;
                    }
                    let s = from.max(p.start);
                    let avail = p.end - s;
                    if remaining <= avail {
                        return self.at(day, s) + remaining;
                    }
                    remaining -= avail;
                }
            }
            day = match day.succ_opt() {
                Some(d) => d,
                None => break,
            };
            from = NaiveTime::MIN;
        }
        // Unreachable with valid periods; the far future is the honest answer.
        DateTime::<Utc>::MAX_UTC
    }

    /// Working minutes in `[a, b)`; zero when `b <= a`.
    pub fn working_minutes_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
        if b <= a {
            return 0;
        }
        let (la, lb) = (a.with_timezone(&self.offset), b.with_timezone(&self.offset));
        let (mut day, last) = (la.date_naive(), lb.date_naive());
        let mut total = Duration::zero();
        while day <= last {
            if self.is_working_day(day) {
                for p in &self.periods {
                    let s = if day == la.date_naive() { p.start.max(la.time()) } else { p.start };
                    let e = if day == last { p.end.min(lb.time()) } else { p.end };
                    if s < e {
                        total += e - s;
                    }
                }
            }
            day = match day.succ_opt() {
                Some(d) => d,
                None => break,
            };
        }
        total.num_minutes()
    }

    /// The deadline `minutes` after `start`: natural time if `urgent`,
    /// working time otherwise.
    pub fn deadline(&self, start: DateTime<Utc>, minutes: i64, urgent: bool) -> DateTime<Utc> {
        if urgent { start + Duration::minutes(minutes.max(0)) } else { self.add_working(start, minutes) }
    }

    /// Time left before `deadline` on the same clock [`Self::deadline`] uses.
    pub fn remaining(&self, now: DateTime<Utc>, deadline: DateTime<Utc>, urgent: bool) -> i64 {
        if urgent { (deadline - now).num_minutes().max(0) } else { self.working_minutes_between(now, deadline) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
    }
}
