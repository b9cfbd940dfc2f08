//! One-time sign-in codes for citizens: six digits sent to the registered
//! phone, kept only as a salted hash, good for a few minutes and a few tries,
//! and issued no faster than a phone should receive them.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

/// Digits in a code.
pub const CODE_DIGITS: usize = 6;
const CODE_SPACE: u64 = 1_000_000;

/// A code as issued or as typed back. Its `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeCode(String);

impl fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeCode(******)")
    }
}

/// Why typed text is not a code at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the code has {CODE_DIGITS} digits")]
pub struct NotACode;

impl OneTimeCode {
    /// A code from a random number (the caller's randomness: a parameter, so
    /// tests can fix it). Reduced from 64 bits, the bias is below 10⁻¹³.
    pub fn from_random(n: u64) -> Self {
        Self(format!("{:06}", n % CODE_SPACE))
    }

    /// A code as a person types it: spaces and full-width digits allowed.
    pub fn parse(raw: &str) -> Result<Self, NotACode> {
        let digits: String = raw
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| match c {
                '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
                _ => c,
            })
            .collect();
        if digits.len() == CODE_DIGITS && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(digits))
        } else {
            Err(NotACode)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What is stored instead of the code: SHA-256 over a per-code salt and
    /// the code, hex.
    pub fn hash(&self, salt: &str) -> String {
        let mut h = Sha256::new();
        h.update(salt.as_bytes());
        h.update(b":");
        h.update(self.0.as_bytes());
        hex::encode(h.finalize())
    }

    /// Whether this is the code whose hash was stored, compared in constant time.
    pub fn matches(&self, salt: &str, stored_hash: &str) -> bool {
        let ours = self.hash(salt);
        ours.len() == stored_hash.len()
            && ours
                .bytes()
                .zip(stored_hash.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

/// How codes are issued and accepted.
#[derive(Debug, Clone, Copy)]
pub struct CodePolicy {
    /// A code is good for this long.
    pub ttl: Duration,
    /// Wrong tries before a code is spent.
    pub max_attempts: i64,
    /// The least time between two codes for one person.
    pub resend_after: Duration,
    /// Codes for one person in any hour at most.
    pub per_hour: usize,
}

impl Default for CodePolicy {
    fn default() -> Self {
        Self {
            ttl: Duration::minutes(5),
            max_attempts: 5,
            resend_after: Duration::seconds(60),
            per_hour: 5,
        }
    }
}

/// Why no code is issued now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IssueRefused {
    #[error("a code was sent moments ago; wait {seconds} seconds before asking for another")]
    TooSoon { seconds: i64 },
    #[error("too many codes were asked for in the last hour; try again later")]
    TooMany,
}

/// A code on record, as far as the rules care.
#[derive(Debug, Clone, Copy)]
pub struct IssuedCode {
    pub expires_at: DateTime<Utc>,
    pub attempts: i64,
    pub used: bool,
}

/// Why a code is not accepted, whatever was typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRefused {
    /// No code was issued, it expired or was used: ask for a new one.
    Stale,
    /// Its tries are spent.
    Exhausted,
}

impl CodePolicy {
    /// Whether a new code may be issued at `now`, given when the person's
    /// codes of the last hour were issued.
    pub fn may_issue(
        &self,
        now: DateTime<Utc>,
        issued: &[DateTime<Utc>],
    ) -> Result<(), IssueRefused> {
        let hour_ago = now - Duration::hours(1);
        let recent: Vec<&DateTime<Utc>> = issued.iter().filter(|t| **t > hour_ago).collect();
        if let Some(last) = recent.iter().max() {
            let wait = **last + self.resend_after - now;
            if wait > Duration::zero() {
                return Err(IssueRefused::TooSoon {
                    // Round up: "wait 0 seconds" would be a lie.
                    seconds: (wait.num_milliseconds() + 999) / 1000,
                });
            }
        }
        if recent.len() >= self.per_hour {
            return Err(IssueRefused::TooMany);
        }
        Ok(())
    }

    /// Whether the latest code may be tried at `now` (before its try is counted).
    pub fn may_try(
        &self,
        now: DateTime<Utc>,
        code: Option<&IssuedCode>,
    ) -> Result<(), CodeRefused> {
        match code {
            None => Err(CodeRefused::Stale),
            Some(c) if c.used || c.expires_at <= now => Err(CodeRefused::Stale),
            Some(c) if c.attempts >= self.max_attempts => Err(CodeRefused::Exhausted),
            Some(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: i64, second: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).single().unwrap()
            + Duration::minutes(minute)
            + Duration::seconds(second)
    }

    #[test]
    fn codes_have_six_digits_and_are_typed_loosely() {
        assert_eq!(OneTimeCode::from_random(42).as_str(), "000042");
        assert_eq!(OneTimeCode::from_random(u64::MAX).as_str().len(), 6);
        assert_eq!(OneTimeCode::parse(" 123 456 ").unwrap().as_str(), "123456");
        assert_eq!(
            OneTimeCode::parse("１２３４５６").unwrap().as_str(),
            "123456"
        );
        assert!(OneTimeCode::parse("12345").is_err());
        assert!(OneTimeCode::parse("12345a").is_err());
        assert!(OneTimeCode::parse("1234567").is_err());
        assert_eq!(
            format!("{:?}", OneTimeCode::from_random(1)),
            "OneTimeCode(******)"
        );
    }

    #[test]
    fn only_the_issued_code_matches_its_hash() {
        let code = OneTimeCode::from_random(123_456);
        let stored = code.hash("salt");
        assert!(!stored.contains("123456"));
        assert!(code.matches("salt", &stored));
        assert!(!code.matches("other salt", &stored));
        assert!(!OneTimeCode::from_random(123_457).matches("salt", &stored));
        assert!(!code.matches("salt", "short"));
    }

    #[test]
    fn codes_are_issued_no_faster_than_the_policy_allows() {
        let p = CodePolicy::default();
        assert_eq!(p.may_issue(at(0, 0), &[]), Ok(()));
        assert_eq!(
            p.may_issue(at(0, 30), &[at(0, 0)]),
            Err(IssueRefused::TooSoon { seconds: 30 })
        );
        assert_eq!(p.may_issue(at(1, 0), &[at(0, 0)]), Ok(()));
        let five: Vec<_> = (0..5).map(|m| at(m * 2, 0)).collect();
        assert_eq!(p.may_issue(at(20, 0), &five), Err(IssueRefused::TooMany));
        // An hour after the first, one more may go.
        assert_eq!(p.may_issue(at(60, 1), &five), Ok(()));
    }

    #[test]
    fn a_code_is_tried_only_while_fresh_unused_and_not_spent() {
        let p = CodePolicy::default();
        let fresh = IssuedCode {
            expires_at: at(5, 0),
            attempts: 0,
            used: false,
        };
        assert_eq!(p.may_try(at(4, 59), Some(&fresh)), Ok(()));
        assert_eq!(p.may_try(at(5, 0), Some(&fresh)), Err(CodeRefused::Stale));
        assert_eq!(p.may_try(at(0, 0), None), Err(CodeRefused::Stale));
        let used = IssuedCode {
            used: true,
            ..fresh
        };
        assert_eq!(p.may_try(at(1, 0), Some(&used)), Err(CodeRefused::Stale));
        let spent = IssuedCode {
            attempts: 5,
            ..fresh
        };
        assert_eq!(
            p.may_try(at(1, 0), Some(&spent)),
            Err(CodeRefused::Exhausted)
        );
    }
}
