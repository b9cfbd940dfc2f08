//! The lifecycle of a resource (备案、运行、更新、注销): draft → submitted →
//! published (a platform admin's review) → new versions → retired.

use serde::{Deserialize, Serialize};

/// Where a resource, or one version of it, stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Draft,
    Submitted,
    Published,
    Retired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Submitted => "submitted",
            Status::Published => "published",
            Status::Retired => "retired",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Status::Draft,
            Status::Submitted,
            Status::Published,
            Status::Retired,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Status::Draft => "草稿",
            Status::Submitted => "待审核",
            Status::Published => "已发布",
            Status::Retired => "已注销",
        }
    }
}

/// What a user asks of a resource's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    Submit,
    Approve,
    Reject,
    Retire,
}

impl Transition {
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "submit" => Transition::Submit,
            "approve" => Transition::Approve,
            "reject" => Transition::Reject,
            "retire" => Transition::Retire,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Submit => "submit",
            Transition::Approve => "approve",
            Transition::Reject => "reject",
            Transition::Retire => "retire",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {transition} a resource whose {subject} is {status}")]
pub struct LifecycleError {
    pub transition: &'static str,
    pub subject: &'static str,
    pub status: &'static str,
}

/// The state of the version under work after a transition. `working` is the
/// state of the newest unpublished version, if there is one; `retired` says
/// whether the resource as a whole was retired.
pub fn next(
    transition: Transition,
    working: Option<Status>,
    has_published: bool,
    retired: bool,
) -> Result<Status, LifecycleError> {
    let refuse = |subject: &'static str, status: &'static str| LifecycleError {
        transition: transition.as_str(),
        subject,
        status,
    };
    if retired {
        return Err(refuse("lifecycle", "retired"));
    }
    match (transition, working) {
        (Transition::Submit, Some(Status::Draft)) => Ok(Status::Submitted),
        (Transition::Approve, Some(Status::Submitted)) => Ok(Status::Published),
        (Transition::Reject, Some(Status::Submitted)) => Ok(Status::Draft),
        (Transition::Retire, _) if has_published => Ok(Status::Retired),
        (Transition::Retire, _) => Err(refuse("lifecycle", "unpublished")),
        (_, Some(s)) => Err(refuse("working version", s.as_str())),
        (_, None) => Err(refuse("working version", "absent (edit it first)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifecycle_moves_only_along_its_edges() {
        use Status::*;
        use Transition::*;
        assert_eq!(next(Submit, Some(Draft), false, false), Ok(Submitted));
        assert_eq!(next(Approve, Some(Submitted), false, false), Ok(Published));
        assert_eq!(next(Reject, Some(Submitted), true, false), Ok(Draft));
        assert_eq!(next(Retire, None, true, false), Ok(Retired));
        assert!(next(Approve, Some(Draft), false, false).is_err());
        assert!(next(Submit, None, true, false).is_err());
        assert!(next(Retire, Some(Draft), false, false).is_err());
        assert!(next(Submit, Some(Draft), true, true).is_err());
    }
}
