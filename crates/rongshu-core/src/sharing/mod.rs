//! Sharing (共享): what a consumer asks a provider for, how the answer moves a
//! request through its states, what an approval grants, and the working-day
//! calendar the 10-day answer rule is counted in, and the follow-up of a
//! request left unanswered past it.

mod calendar;
mod overdue;
mod purpose;
mod request;
mod state;

pub use calendar::{
    CalendarError, DayKind, HolidayEntry, SLA_WORKING_DAYS, WorkingCalendar, end_of_local_day,
    local_date,
};
pub use overdue::{FollowUp, FollowUpState, follow_up};
pub use purpose::Purpose;
pub use request::{
    Approval, GrantTerms, MAX_DURATION_DAYS, RowScope, ScopeTerm, ShareRequestError,
    ShareRequestInput, ShareRequestSpec,
};
pub use state::{RequestAction, RequestState, TransitionError};
