//! The annual open-data plan (年度开放计划): each department lists what it
//! will open in a year and by when; an entry is kept when a release of its
//! resource is published. Where an entry stands, and a department's progress,
//! follow from the dates alone.

use chrono::NaiveDate;
use serde::Serialize;

/// Where a plan entry stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    /// Published on or before the due day.
    OnTime,
    /// Published, after the due day.
    Late,
    /// Not published yet, and not due yet.
    Pending,
    /// Not published, and the due day has passed.
    Overdue,
}

impl PlanStatus {
    /// The status of an entry due on `due`, whose resource was first
    /// published on `published` (if it was), seen on `today`.
    pub fn of(due: NaiveDate, published: Option<NaiveDate>, today: NaiveDate) -> Self {
        match published {
            Some(day) if day <= due => Self::OnTime,
            Some(_) => Self::Late,
            None if today > due => Self::Overdue,
            None => Self::Pending,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnTime => "on_time",
            Self::Late => "late",
            Self::Pending => "pending",
            Self::Overdue => "overdue",
        }
    }

    pub fn is_done(self) -> bool {
        matches!(self, Self::OnTime | Self::Late)
    }
}

/// A department's progress against its plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PlanProgress {
    pub planned: u32,
    pub done: u32,
    pub on_time: u32,
    pub overdue: u32,
}

impl PlanProgress {
    pub fn of(statuses: impl IntoIterator<Item = PlanStatus>) -> Self {
        let mut p = Self::default();
        for s in statuses {
            p.planned += 1;
            p.done += u32::from(s.is_done());
            p.on_time += u32::from(s == PlanStatus::OnTime);
            p.overdue += u32::from(s == PlanStatus::Overdue);
        }
        p
    }

    /// Done entries as a whole percentage of the planned ones (0 for none).
    pub fn percent_done(&self) -> u32 {
        (self.done * 100).checked_div(self.planned).unwrap_or(0)
    }
}

/// Why a plan entry is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("year: {0} is not a plan year (2000 to 2100)")]
    Year(i32),
    #[error("title: give 2 to 200 characters")]
    Title,
    #[error("due: {due} is not in the plan's year {year}")]
    DueOutsideYear { due: NaiveDate, year: i32 },
}

/// Check an entry's year, title and due day.
pub fn check_entry(year: i32, title: &str, due: NaiveDate) -> Result<String, PlanError> {
    if !(2000..=2100).contains(&year) {
        return Err(PlanError::Year(year));
    }
    let title = title.trim();
    if !(2..=200).contains(&title.chars().count()) {
        return Err(PlanError::Title);
    }
    if chrono::Datelike::year(&due) != year {
        return Err(PlanError::DueOutsideYear { due, year });
    }
    Ok(title.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn status_follows_the_dates() {
        let due = day("2026-06-30");
        assert_eq!(
            PlanStatus::of(due, Some(day("2026-06-30")), day("2026-12-01")),
            PlanStatus::OnTime
        );
        assert_eq!(
            PlanStatus::of(due, Some(day("2026-07-01")), day("2026-07-01")),
            PlanStatus::Late
        );
        assert_eq!(
            PlanStatus::of(due, None, day("2026-06-30")),
            PlanStatus::Pending
        );
        assert_eq!(
            PlanStatus::of(due, None, day("2026-07-01")),
            PlanStatus::Overdue
        );
    }

    #[test]
    fn progress_counts_each_status() {
        use PlanStatus::*;
        let p = PlanProgress::of([OnTime, Late, Pending, Overdue, OnTime]);
        assert_eq!(
            p,
            PlanProgress {
                planned: 5,
                done: 3,
                on_time: 2,
                overdue: 1
            }
        );
        assert_eq!(p.percent_done(), 60);
        assert_eq!(PlanProgress::default().percent_done(), 0);
    }

    #[test]
    fn entries_are_checked() {
        assert_eq!(
            check_entry(2026, " 公交线路 ", day("2026-03-31")).as_deref(),
            Ok("公交线路")
        );
        assert_eq!(
            check_entry(1999, "公交线路", day("1999-03-31")),
            Err(PlanError::Year(1999))
        );
        assert_eq!(
            check_entry(2026, "x", day("2026-03-31")),
            Err(PlanError::Title)
        );
        assert!(matches!(
            check_entry(2026, "公交线路", day("2027-01-01")),
            Err(PlanError::DueOutsideYear { .. })
        ));
    }
}
