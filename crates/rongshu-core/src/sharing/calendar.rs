//! The working-day calendar (工作日历): weekends are off, except the make-up
//! working days (调休) the State Council announces; public holidays are off even
//! on a weekday. The platform office keeps the list; this is only the arithmetic.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A provider answers a share request within this many working days.
pub const SLA_WORKING_DAYS: u32 = 10;

/// Longest stretch `add_working_days` walks: a calendar whose every day is
/// off (a broken list) must not loop forever.
const MAX_DAYS_WALKED: u32 = 366 * 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// 法定节假日: off, even on a weekday.
    Holiday,
    /// 调休上班: a weekend day worked in exchange for a holiday.
    Workday,
}

impl DayKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DayKind::Holiday => "holiday",
            DayKind::Workday => "workday",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "holiday" => Some(DayKind::Holiday),
            "workday" => Some(DayKind::Workday),
            _ => None,
        }
    }
}

/// One day of the office's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolidayEntry {
    pub date: NaiveDate,
    pub kind: DayKind,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("{date} is listed twice")]
    Duplicate { date: NaiveDate },
    #[error("{date}: a holiday name has at most 50 characters")]
    NameTooLong { date: NaiveDate },
    #[error("the calendar has no working day within {0} days: check the holiday list")]
    NoWorkingDay(u32),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkingCalendar {
    exceptions: BTreeMap<NaiveDate, DayKind>,
}

impl WorkingCalendar {
    /// The calendar of a list; a date listed twice is refused rather than
    /// letting the later entry silently win.
    pub fn new(entries: &[HolidayEntry]) -> Result<Self, CalendarError> {
        let mut exceptions = BTreeMap::new();
        for e in entries {
            if e.name.chars().count() > 50 {
                return Err(CalendarError::NameTooLong { date: e.date });
            }
            if exceptions.insert(e.date, e.kind).is_some() {
                return Err(CalendarError::Duplicate { date: e.date });
            }
        }
        Ok(Self { exceptions })
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        match self.exceptions.get(&date) {
            Some(DayKind::Workday) => true,
            Some(DayKind::Holiday) => false,
            None => !matches!(date.weekday(), Weekday::Sat | Weekday::Sun),
        }
    }

    /// The `n`th working day after `date` (`date` itself is not counted; with
    /// `n = 0` the answer is `date`).
    pub fn add_working_days(&self, date: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        let mut day = date;
        let mut left = n;
        let mut walked = 0;
        while left > 0 {
            day = day.succ_opt().ok_or(CalendarError::NoWorkingDay(walked))?;
            walked += 1;
            if walked > MAX_DAYS_WALKED.saturating_add(n) {
                return Err(CalendarError::NoWorkingDay(walked));
            }
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        Ok(day)
    }

    /// Working days in `(from, to]`: how many `add_working_days` steps lead
    /// from `from` to `to`; zero when `to` is not after `from`.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        let mut count = 0;
        let mut day = from;
        while day < to {
            let Some(next) = day.succ_opt() else { break };
            day = next;
            if self.is_working_day(day) {
                count += 1;
            }
        }
        count
    }

    /// When a request submitted on `submitted` must be answered by.
    pub fn due_date(&self, submitted: NaiveDate) -> Result<NaiveDate, CalendarError> {
        self.add_working_days(submitted, SLA_WORKING_DAYS)
    }

    /// An open request is overdue once its due date has passed unanswered.
    pub fn is_overdue(&self, submitted: NaiveDate, today: NaiveDate) -> bool {
        self.due_date(submitted).is_ok_and(|due| today > due)
    }
}

/// The date in Chengdu (UTC+8, no daylight saving) of an instant: working
/// days are the city's, not UTC's.
pub fn local_date(at: DateTime<Utc>) -> NaiveDate {
    const CHINA_STANDARD_TIME_SECS: i32 = 8 * 3600;
    match FixedOffset::east_opt(CHINA_STANDARD_TIME_SECS) {
        Some(offset) => at.with_timezone(&offset).date_naive(),
        None => at.date_naive(),
    }
}

/// The last second of a date in Chengdu, as an instant: a deadline "by" a
/// day holds until that day's end there.
pub fn end_of_local_day(date: NaiveDate) -> DateTime<Utc> {
    const CHINA_STANDARD_TIME_SECS: i64 = 8 * 3600;
    let local_end = date.and_time(chrono::NaiveTime::MIN) + chrono::Duration::seconds(86_399);
    (local_end - chrono::Duration::seconds(CHINA_STANDARD_TIME_SECS)).and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_local_day_ends_at_midnight_in_chengdu() {
        let end = end_of_local_day(d(2025, 10, 9));
        assert_eq!(end.to_rfc3339(), "2025-10-09T15:59:59+00:00");
        assert_eq!(local_date(end), d(2025, 10, 9));
        assert_eq!(
            local_date(end + chrono::Duration::seconds(1)),
            d(2025, 10, 10)
        );
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// The 2025 National Day week: Oct 1-8 off, Sep 28 (Sun) and Oct 11 (Sat) worked.
    fn national_day_2025() -> WorkingCalendar {
        let mut entries: Vec<HolidayEntry> = (1..=8)
            .map(|day| HolidayEntry {
                date: d(2025, 10, day),
                kind: DayKind::Holiday,
                name: "国庆节、中秋节".into(),
            })
            .collect();
        for date in [d(2025, 9, 28), d(2025, 10, 11)] {
            entries.push(HolidayEntry {
                date,
                kind: DayKind::Workday,
                name: "调休上班".into(),
            });
        }
        WorkingCalendar::new(&entries).unwrap()
    }

    #[test]
    fn weekends_are_off_and_a_plain_fortnight_is_ten_days() {
        let cal = WorkingCalendar::default();
        // Monday 2026-03-02 + 10 working days = Monday 2026-03-16.
        assert_eq!(cal.due_date(d(2026, 3, 2)).unwrap(), d(2026, 3, 16));
        // From a Saturday the count starts on Monday.
        assert_eq!(
            cal.add_working_days(d(2026, 3, 7), 1).unwrap(),
            d(2026, 3, 9)
        );
        assert_eq!(
            cal.add_working_days(d(2026, 3, 7), 0).unwrap(),
            d(2026, 3, 7)
        );
        assert_eq!(cal.working_days_between(d(2026, 3, 2), d(2026, 3, 16)), 10);
        assert_eq!(cal.working_days_between(d(2026, 3, 16), d(2026, 3, 2)), 0);
    }

    #[test]
    fn holidays_are_skipped_and_make_up_days_are_worked() {
        let cal = national_day_2025();
        assert!(cal.is_working_day(d(2025, 9, 28))); // a Sunday, worked
        assert!(!cal.is_working_day(d(2025, 10, 1))); // a Wednesday, off
        assert!(cal.is_working_day(d(2025, 10, 11))); // a Saturday, worked
        // Submitted Friday 26 Sep: Sun 28, Mon 29, Tue 30, then Oct 9, 10, 11,
        // 13, 14, 15, 16 → due Thursday 16 October.
        assert_eq!(cal.due_date(d(2025, 9, 26)).unwrap(), d(2025, 10, 16));
        assert!(!cal.is_overdue(d(2025, 9, 26), d(2025, 10, 16)));
        assert!(cal.is_overdue(d(2025, 9, 26), d(2025, 10, 17)));
    }

    #[test]
    fn a_date_listed_twice_is_refused() {
        let e = HolidayEntry {
            date: d(2026, 1, 1),
            kind: DayKind::Holiday,
            name: "元旦".into(),
        };
        assert_eq!(
            WorkingCalendar::new(&[e.clone(), e]),
            Err(CalendarError::Duplicate {
                date: d(2026, 1, 1)
            })
        );
    }

    #[test]
    fn a_calendar_with_no_working_day_fails_instead_of_looping() {
        let entries: Vec<HolidayEntry> = (0..(MAX_DAYS_WALKED + 400))
            .map(|i| HolidayEntry {
                date: d(2026, 1, 1) + chrono::Days::new(u64::from(i)),
                kind: DayKind::Holiday,
                name: String::new(),
            })
            .collect();
        let cal = WorkingCalendar::new(&entries).unwrap();
        assert!(cal.add_working_days(d(2025, 12, 31), 1).is_err());
    }

    #[test]
    fn local_dates_are_chengdu_dates() {
        let late_utc = DateTime::parse_from_rfc3339("2026-03-01T17:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(local_date(late_utc), d(2026, 3, 2));
    }

    fn calendar_strategy() -> impl Strategy<Value = WorkingCalendar> {
        proptest::collection::btree_map(0u64..400, any::<bool>(), 0..60).prop_map(|days| {
            let entries: Vec<HolidayEntry> = days
                .into_iter()
                .map(|(offset, holiday)| HolidayEntry {
                    date: d(2026, 1, 1) + chrono::Days::new(offset),
                    kind: if holiday {
                        DayKind::Holiday
                    } else {
                        DayKind::Workday
                    },
                    name: String::new(),
                })
                .collect();
            WorkingCalendar::new(&entries).unwrap()
        })
    }

    proptest! {
        #[test]
        fn adding_then_counting_gives_back_n(
            cal in calendar_strategy(),
            start in 0u64..400,
            n in 0u32..40,
        ) {
            let from = d(2025, 12, 1) + chrono::Days::new(start);
            let to = cal.add_working_days(from, n).unwrap();
            prop_assert_eq!(cal.working_days_between(from, to), n);
            if n > 0 {
                // The answer is itself a working day, and the day before it
                // is one working day short.
                prop_assert!(cal.is_working_day(to));
                let before = to.pred_opt().unwrap();
                prop_assert_eq!(cal.working_days_between(from, before), n - 1);
            }
            // More days never lead to an earlier date.
            let further = cal.add_working_days(from, n + 1).unwrap();
            prop_assert!(further > to);
        }
    }
}
