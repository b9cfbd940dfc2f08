//! Departments, users and roles: who someone is on the platform.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A role a user holds in his or her department. Roles only add abilities; a
/// user with none can sign in and read what any department may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    PlatformAdmin,
    DeptAdmin,
    DataOfficer,
    Reviewer,
    Analyst,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::PlatformAdmin,
        Role::DeptAdmin,
        Role::DataOfficer,
        Role::Reviewer,
        Role::Analyst,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "platform_admin",
            Role::DeptAdmin => "dept_admin",
            Role::DataOfficer => "data_officer",
            Role::Reviewer => "reviewer",
            Role::Analyst => "analyst",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == raw)
            .ok_or_else(|| {
                format!(
                    "\"{raw}\" is not a role: use platform_admin, dept_admin, data_officer, reviewer or analyst"
                )
            })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A department's code: short, URL-safe, stable (it appears in resource codes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct DepartmentCode(String);

impl DepartmentCode {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = !raw.is_empty()
            && raw.len() <= 32
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!(
                "\"{raw}\" is not a department code: use 1-32 characters a-z, 0-9 and _"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DepartmentCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user name: what a person types at sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = (2..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'@'));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!(
                "\"{raw}\" is not a user name: use 2-64 characters a-z, A-Z, 0-9 and _ . - @"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Shortest password the platform accepts.
pub const MIN_PASSWORD_CHARS: usize = 10;

pub fn check_password_strength(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "a password needs at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    Ok(())
}

/// Where an API key or token stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    Active,
    /// Replaced by a newer key and still working until its grace period ends.
    Rotating,
    Expired,
    Revoked,
}

impl KeyState {
    /// Revocation wins over everything; a rotated key is `Rotating` until the
    /// end of its grace period (its expiry), then `Expired`.
    pub fn at(
        revoked: bool,
        rotated: bool,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        if revoked {
            KeyState::Revoked
        } else if expires_at.is_some_and(|t| t <= now) {
            KeyState::Expired
        } else if rotated {
            KeyState::Rotating
        } else {
            KeyState::Active
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Rotating => "rotating",
            KeyState::Expired => "expired",
            KeyState::Revoked => "revoked",
        }
    }

    /// Whether a request made with the key is accepted.
    pub fn works(self) -> bool {
        matches!(self, KeyState::Active | KeyState::Rotating)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    #[test]
    fn a_key_state_follows_revocation_expiry_and_rotation() {
        let now = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let later = Some(now + Duration::hours(1));
        assert_eq!(KeyState::at(false, false, None, now), KeyState::Active);
        assert_eq!(KeyState::at(false, true, later, now), KeyState::Rotating);
        assert_eq!(KeyState::at(false, true, Some(now), now), KeyState::Expired);
        assert_eq!(KeyState::at(true, true, later, now), KeyState::Revoked);
        assert!(KeyState::Rotating.works() && !KeyState::Expired.works());
    }
}
