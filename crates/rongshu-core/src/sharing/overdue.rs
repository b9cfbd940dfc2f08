//! What the platform does about a request left unanswered past its due date:
//! it escalates it to the platform office once, and reminds the provider in
//! the discussion both sides read, at most once a working day (a reminder on
//! a holiday would only wait unread).

use chrono::NaiveDate;

use super::WorkingCalendar;

/// Where an open request stands with its follow-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowUpState {
    /// The last day the provider could answer on.
    pub due: NaiveDate,
    pub escalated: bool,
    /// The day (Chengdu date) of the last reminder, if any.
    pub last_reminded: Option<NaiveDate>,
}

/// What to do today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowUp {
    pub escalate: bool,
    pub remind: bool,
    /// Working days past the due date, for the reminder's words.
    pub working_days_late: u32,
}

/// The follow-up an open request needs on `today`; `None` when it is not
/// overdue or everything due today was done.
pub fn follow_up(
    calendar: &WorkingCalendar,
    state: FollowUpState,
    today: NaiveDate,
) -> Option<FollowUp> {
    if today <= state.due {
        return None;
    }
    let escalate = !state.escalated;
    let remind =
        calendar.is_working_day(today) && state.last_reminded.is_none_or(|last| last < today);
    (escalate || remind).then(|| FollowUp {
        escalate,
        remind,
        working_days_late: calendar.working_days_between(state.due, today),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sharing::{DayKind, HolidayEntry};
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn fresh(due: NaiveDate) -> FollowUpState {
        FollowUpState {
            due,
            escalated: false,
            last_reminded: None,
        }
    }

    #[test]
    fn nothing_until_the_due_date_has_passed() {
        let cal = WorkingCalendar::default();
        assert_eq!(follow_up(&cal, fresh(d(2026, 3, 17)), d(2026, 3, 16)), None);
        assert_eq!(follow_up(&cal, fresh(d(2026, 3, 17)), d(2026, 3, 17)), None);
    }

    #[test]
    fn the_first_late_day_escalates_and_reminds_then_one_reminder_a_working_day() {
        let holiday = HolidayEntry {
            date: d(2026, 3, 19),
            kind: DayKind::Holiday,
            name: "测试假日".into(),
        };
        let cal = WorkingCalendar::new(&[holiday]).unwrap();
        let due = d(2026, 3, 17); // a Tuesday
        let first = follow_up(&cal, fresh(due), d(2026, 3, 18)).unwrap();
        assert_eq!(
            first,
            FollowUp {
                escalate: true,
                remind: true,
                working_days_late: 1
            }
        );
        let done = FollowUpState {
            due,
            escalated: true,
            last_reminded: Some(d(2026, 3, 18)),
        };
        // Not twice the same day.
        assert_eq!(follow_up(&cal, done, d(2026, 3, 18)), None);
        // Not on the holiday (Thursday), nor at the weekend.
        assert_eq!(follow_up(&cal, done, d(2026, 3, 19)), None);
        let friday = follow_up(&cal, done, d(2026, 3, 20)).unwrap();
        assert!(friday.remind && !friday.escalate);
        assert_eq!(friday.working_days_late, 2);
        let after_friday = FollowUpState {
            last_reminded: Some(d(2026, 3, 20)),
            ..done
        };
        assert_eq!(follow_up(&cal, after_friday, d(2026, 3, 21)), None);
        assert_eq!(follow_up(&cal, after_friday, d(2026, 3, 22)), None);
        assert!(follow_up(&cal, after_friday, d(2026, 3, 23)).is_some_and(|f| f.remind));
    }

    #[test]
    fn a_request_falling_due_before_a_weekend_is_escalated_at_once_and_reminded_on_monday() {
        let cal = WorkingCalendar::default();
        let due = d(2026, 3, 13); // a Friday
        let saturday = follow_up(&cal, fresh(due), d(2026, 3, 14)).unwrap();
        assert!(saturday.escalate && !saturday.remind);
        let escalated = FollowUpState {
            escalated: true,
            ..fresh(due)
        };
        assert_eq!(follow_up(&cal, escalated, d(2026, 3, 15)), None);
        let monday = follow_up(&cal, escalated, d(2026, 3, 16)).unwrap();
        assert!(monday.remind && monday.working_days_late == 1);
    }

    proptest! {
        /// Followed day by day from its due date, a request is escalated
        /// exactly once and reminded exactly once on each working day.
        #[test]
        fn day_by_day_one_escalation_and_one_reminder_per_working_day(
            holidays in proptest::collection::btree_set(0u64..60, 0..15),
            sweeps_per_day in 1usize..4,
        ) {
            let start = d(2026, 3, 2);
            let entries: Vec<HolidayEntry> = holidays
                .iter()
                .map(|o| HolidayEntry { date: start + chrono::Days::new(*o), kind: DayKind::Holiday, name: String::new() })
                .collect();
            let cal = WorkingCalendar::new(&entries).unwrap();
            let mut state = fresh(start);
            let mut escalations = 0;
            for offset in 1..60u64 {
                let today = start + chrono::Days::new(offset);
                let mut reminders_today = 0;
                for _ in 0..sweeps_per_day {
                    if let Some(f) = follow_up(&cal, state, today) {
                        if f.escalate {
                            escalations += 1;
                            state.escalated = true;
                        }
                        if f.remind {
                            reminders_today += 1;
                            state.last_reminded = Some(today);
                        }
                    }
                }
                let expected = u32::from(cal.is_working_day(today));
                prop_assert_eq!(reminders_today, expected, "{}", today);
            }
            prop_assert_eq!(escalations, 1);
        }
    }
}
