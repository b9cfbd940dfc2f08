//! A share request's lifecycle: submitted, then approved or rejected by the
//! provider, or withdrawn by the consumer. Every end state is final.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Submitted,
    Approved,
    Rejected,
    Withdrawn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestAction {
    Approve,
    Reject,
    Withdraw,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the request is {from} and can no longer be {}", action_past(*.action))]
pub struct TransitionError {
    pub from: RequestState,
    pub action: RequestAction,
}

fn action_past(action: RequestAction) -> &'static str {
    match action {
        RequestAction::Approve => "approved",
        RequestAction::Reject => "rejected",
        RequestAction::Withdraw => "withdrawn",
    }
}

impl RequestState {
    pub const ALL: [RequestState; 4] = [
        RequestState::Submitted,
        RequestState::Approved,
        RequestState::Rejected,
        RequestState::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Submitted => "submitted",
            RequestState::Approved => "approved",
            RequestState::Rejected => "rejected",
            RequestState::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        RequestState::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Still waiting for the provider's answer (the only state the SLA counts).
    pub fn is_open(self) -> bool {
        self == RequestState::Submitted
    }

    /// The state an action leads to, or why it cannot be taken.
    pub fn apply(self, action: RequestAction) -> Result<RequestState, TransitionError> {
        match (self, action) {
            (RequestState::Submitted, RequestAction::Approve) => Ok(RequestState::Approved),
            (RequestState::Submitted, RequestAction::Reject) => Ok(RequestState::Rejected),
            (RequestState::Submitted, RequestAction::Withdraw) => Ok(RequestState::Withdrawn),
            (from, action) => Err(TransitionError { from, action }),
        }
    }
}

impl fmt::Display for RequestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_submitted_request_moves_and_end_states_are_final() {
        let s = RequestState::Submitted;
        assert_eq!(s.apply(RequestAction::Approve), Ok(RequestState::Approved));
        assert_eq!(s.apply(RequestAction::Reject), Ok(RequestState::Rejected));
        assert_eq!(
            s.apply(RequestAction::Withdraw),
            Ok(RequestState::Withdrawn)
        );
        for end in [
            RequestState::Approved,
            RequestState::Rejected,
            RequestState::Withdrawn,
        ] {
            for a in [
                RequestAction::Approve,
                RequestAction::Reject,
                RequestAction::Withdraw,
            ] {
                let err = end.apply(a).unwrap_err();
                assert_eq!(err.from, end);
            }
            assert!(!end.is_open());
            assert_eq!(RequestState::parse(end.as_str()), Some(end));
        }
        let msg = RequestState::Rejected
            .apply(RequestAction::Approve)
            .unwrap_err()
            .to_string();
        assert_eq!(msg, "the request is rejected and can no longer be approved");
    }
}
