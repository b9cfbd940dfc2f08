//! Correction tickets (比对修正): their states and what each answer does.
//!
//! A ticket is `open` at the department that must act. That department may
//! say it will `correct` the value (the ticket waits for the batch that
//! carries the fix, and closes itself as `corrected` when verification no
//! longer finds the conflict), `confirm` that its value stands (the ticket is
//! closed `confirmed` and the witnesses' departments get tickets instead), or
//! `dispute` it (it goes to the platform office, which confirms or orders the
//! correction).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    Open,
    /// The department will correct it with a later batch.
    Correcting,
    /// With the platform office.
    Disputed,
    Corrected,
    Confirmed,
}

impl TicketState {
    pub const ALL: [TicketState; 5] = [
        TicketState::Open,
        TicketState::Correcting,
        TicketState::Disputed,
        TicketState::Corrected,
        TicketState::Confirmed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::Open => "open",
            TicketState::Correcting => "correcting",
            TicketState::Disputed => "disputed",
            TicketState::Corrected => "corrected",
            TicketState::Confirmed => "confirmed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Still waiting for someone.
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            TicketState::Open | TicketState::Correcting | TicketState::Disputed
        )
    }
}

/// An answer to a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Correct,
    Confirm,
    Dispute,
}

impl Answer {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "correct" | "corrected" | "更正" | "修正" => Some(Answer::Correct),
            "confirm" | "confirmed" | "确认" | "维持" => Some(Answer::Confirm),
            "dispute" | "disputed" | "异议" | "争议" => Some(Answer::Dispute),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Answer::Correct => "correct",
            Answer::Confirm => "confirm",
            Answer::Dispute => "dispute",
        }
    }
}

/// Who answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answerer {
    /// The department the ticket is at.
    Department,
    /// The platform office.
    Office,
}

/// The state an answer moves a ticket to, or why it cannot.
pub fn answer(state: TicketState, by: Answerer, answer: Answer) -> Result<TicketState, String> {
    use TicketState::*;
    match (state, by, answer) {
        (Open | Correcting, Answerer::Department, Answer::Correct) => Ok(Correcting),
        (Open | Correcting, Answerer::Department, Answer::Confirm) => Ok(Confirmed),
        (Open | Correcting, Answerer::Department, Answer::Dispute) => Ok(Disputed),
        (Disputed, Answerer::Office, Answer::Confirm) => Ok(Confirmed),
        (Disputed, Answerer::Office, Answer::Correct) => Ok(Correcting),
        (Disputed, Answerer::Department, _) => {
            Err("the ticket is disputed: the platform office answers it now".into())
        }
        (Open | Correcting, Answerer::Office, _) => Err(
            "the department the ticket is at answers it; the office answers disputed tickets"
                .into(),
        ),
        (_, _, Answer::Dispute) => Err(format!("a {} ticket cannot be disputed", state.as_str())),
        (Corrected | Confirmed, ..) => Err(format!("the ticket is closed ({})", state.as_str())),
    }
}

/// Columns of a department's ticket sheet; the last two are filled in to answer.
pub const SHEET_COLUMNS: [&str; 10] = [
    "ticket",
    "subject_kind",
    "subject",
    "element",
    "kind",
    "record_value",
    "other_values",
    "due",
    "answer",
    "note",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifecycle() {
        use TicketState::*;
        assert_eq!(
            answer(Open, Answerer::Department, Answer::Correct),
            Ok(Correcting)
        );
        assert_eq!(
            answer(Open, Answerer::Department, Answer::Confirm),
            Ok(Confirmed)
        );
        assert_eq!(
            answer(Open, Answerer::Department, Answer::Dispute),
            Ok(Disputed)
        );
        assert_eq!(
            answer(Disputed, Answerer::Office, Answer::Confirm),
            Ok(Confirmed)
        );
        assert!(answer(Disputed, Answerer::Department, Answer::Confirm).is_err());
        assert!(answer(Corrected, Answerer::Department, Answer::Confirm).is_err());
        assert!(answer(Open, Answerer::Office, Answer::Confirm).is_err());
        for s in TicketState::ALL {
            assert_eq!(TicketState::parse(s.as_str()), Some(s));
        }
        assert_eq!(Answer::parse(" 确认 "), Some(Answer::Confirm));
    }
}
