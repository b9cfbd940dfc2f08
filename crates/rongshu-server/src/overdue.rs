//! The overdue sweep: now and then, every share request still unanswered past
//! its due date is escalated to the platform office (once) and the provider
//! reminded in the request's discussion (at most once a working day), so both
//! sides and the office see the same record. Dates are Chengdu's, from the
//! injectable clock; the conditional updates in the store keep several server
//! processes from doing the same follow-up twice.

use chrono::{DateTime, Utc};
use rongshu_core::sharing::{FollowUpState, follow_up, local_date};
use rongshu_store::{FollowUpWrite, Store, StoreError};
use serde_json::json;

use crate::service::Doer;
use crate::state::AppState;

/// How the sweep is named in the discussion and the audit log.
pub const SWEEP_ACTOR: &str = "system:overdue";

const ESCALATION_TEXT: &str = "逾期未答复，已提请平台办督办。";

fn reminder_text(due: chrono::NaiveDate, working_days_late: u32) -> String {
    format!(
        "催办提醒：本申请已超过答复期限（{due}）{working_days_late} 个工作日，请提供方尽快答复。"
    )
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub escalated: usize,
    pub reminded: usize,
}

/// Start the sweep on the current runtime (the first one runs at once).
pub(crate) fn start(state: AppState) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(state.config.overdue_sweep_every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match sweep(&state.store, state.clock.now()).await {
                Ok(r) if r.escalated + r.reminded > 0 => {
                    tracing::info!(
                        escalated = r.escalated,
                        reminded = r.reminded,
                        "followed up overdue share requests"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not follow up overdue share requests"),
            }
        }
    });
}

/// Follow up every overdue request once, as of `now`.
pub async fn sweep(store: &Store, now: DateTime<Utc>) -> Result<SweepReport, StoreError> {
    let today = local_date(now);
    let overdue = store.overdue_requests(today).await?;
    if overdue.is_empty() {
        return Ok(SweepReport::default());
    }
    let calendar = store.working_calendar().await?;
    let doer = Doer {
        label: SWEEP_ACTOR.into(),
        department: None,
    };
    let mut report = SweepReport::default();
    for r in overdue {
        let state = FollowUpState {
            due: r.due_at,
            escalated: r.escalated,
            last_reminded: r.last_reminded_on,
        };
        let Some(step) = follow_up(&calendar, state, today) else {
            continue;
        };
        let reminder = reminder_text(r.due_at, step.working_days_late);
        let write = FollowUpWrite {
            escalate: step.escalate.then_some(ESCALATION_TEXT),
            remind: step.remind.then_some((today, reminder.as_str())),
        };
        let audit = doer.record(
            now,
            "share_request.follow_up",
            None,
            json!({ "due_at": r.due_at, "working_days_late": step.working_days_late }),
        );
        let done = store
            .follow_up_request(r.id, write, SWEEP_ACTOR, now, audit)
            .await?;
        report.escalated += usize::from(done.escalated);
        report.reminded += usize::from(done.reminded);
    }
    Ok(report)
}
