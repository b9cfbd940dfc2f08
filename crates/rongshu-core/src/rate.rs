//! Rate limits as token buckets: a limit of N requests a minute lets a caller
//! spend up to N at once and then one every 60/N seconds. The arithmetic is
//! in integers (one request costs 60,000 units, and the bucket gains N units
//! a millisecond), so it is exact and a refused caller can be told precisely
//! when to come back.

use chrono::{DateTime, Utc};
use std::fmt;

/// Units one request costs: the milliseconds in a minute, so that a limit of
/// N a minute refills exactly N units a millisecond.
const UNITS_PER_REQUEST: u64 = 60_000;

/// Highest limit an application may be given (about 16,000 a second).
pub const MAX_PER_MINUTE: u32 = 1_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a rate limit is a whole number of requests a minute from 1 to {MAX_PER_MINUTE}")]
pub struct RateLimitError;

/// Requests a minute, at least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit(u32);

impl RateLimit {
    pub fn per_minute(n: i64) -> Result<Self, RateLimitError> {
        u32::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_PER_MINUTE).contains(n))
            .map(Self)
            .ok_or(RateLimitError)
    }

    /// `n` brought into range: for constants, where an error has nowhere to go.
    pub const fn clamped(n: u32) -> Self {
        if n < 1 {
            Self(1)
        } else if n > MAX_PER_MINUTE {
            Self(MAX_PER_MINUTE)
        } else {
            Self(n)
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }

    fn capacity(self) -> u64 {
        u64::from(self.0) * UNITS_PER_REQUEST
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} requests a minute", self.0)
    }
}

/// How long a refused caller must wait before one more request will pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter {
    pub millis: u64,
}

impl RetryAfter {
    /// Whole seconds, rounded up, at least one: what `Retry-After` says.
    pub fn seconds(self) -> u64 {
        self.millis.div_ceil(1000).max(1)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBucket {
    limit: RateLimit,
    /// Units in the bucket, at most the capacity.
    level: u64,
    /// When `level` was last brought up to date (milliseconds since the epoch).
    at_ms: i64,
}

impl TokenBucket {
    /// A full bucket: a caller not seen before may spend the whole minute's worth.
    pub fn full(limit: RateLimit, now: DateTime<Utc>) -> Self {
        Self {
            limit,
            level: limit.capacity(),
            at_ms: now.timestamp_millis(),
        }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    fn refill(&mut self, now_ms: i64) {
        // A clock that stepped back adds nothing and does not move `at_ms`
        // back, so no time is counted twice.
        let elapsed = u64::try_from(now_ms.saturating_sub(self.at_ms)).unwrap_or(0);
        let gained = elapsed.saturating_mul(u64::from(self.limit.0));
        self.level = self.level.saturating_add(gained).min(self.limit.capacity());
        self.at_ms = self.at_ms.max(now_ms);
    }

    /// Take one request's worth, or say how long until there is one.
    pub fn try_take(&mut self, now: DateTime<Utc>) -> Result<(), RetryAfter> {
        self.refill(now.timestamp_millis());
        if self.level >= UNITS_PER_REQUEST {
            self.level -= UNITS_PER_REQUEST;
            Ok(())
        } else {
            let missing = UNITS_PER_REQUEST - self.level;
            Err(RetryAfter {
                millis: missing.div_ceil(u64::from(self.limit.0)),
            })
        }
    }

    /// The same bucket under a new limit: it keeps what it holds (up to the
    /// new capacity), so changing a limit neither grants a fresh burst nor
    /// punishes a caller who had been quiet.
    pub fn with_limit(mut self, limit: RateLimit, now: DateTime<Utc>) -> Self {
        self.refill(now.timestamp_millis());
        self.limit = limit;
        self.level = self.level.min(limit.capacity());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(1_772_409_600_000 + ms)
            .single()
            .unwrap()
    }

    #[test]
    fn a_limit_is_a_burst_then_a_steady_rate() {
        let mut b = TokenBucket::full(RateLimit::per_minute(5).unwrap(), at(0));
        for _ in 0..5 {
            assert_eq!(b.try_take(at(0)), Ok(()));
        }
        // One more comes every 12 seconds.
        let refused = b.try_take(at(0)).unwrap_err();
        assert_eq!(refused, RetryAfter { millis: 12_000 });
        assert_eq!(refused.seconds(), 12);
        assert!(b.try_take(at(11_999)).is_err());
        assert_eq!(b.try_take(at(12_000)), Ok(()));
        // Half-way to the next one, half the wait is left.
        assert_eq!(b.try_take(at(18_000)).unwrap_err().millis, 6_000);
        // A quiet minute fills it again, but never past the limit.
        let mut n = 0;
        while b.try_take(at(600_000)).is_ok() {
            n += 1;
        }
        assert_eq!(n, 5);
    }

    #[test]
    fn retry_after_rounds_up_to_at_least_a_second() {
        assert_eq!(RetryAfter { millis: 1 }.seconds(), 1);
        assert_eq!(RetryAfter { millis: 1000 }.seconds(), 1);
        assert_eq!(RetryAfter { millis: 1001 }.seconds(), 2);
    }

    #[test]
    fn limits_out_of_range_are_refused() {
        for bad in [0, -1, i64::from(MAX_PER_MINUTE) + 1, i64::MAX] {
            assert_eq!(RateLimit::per_minute(bad), Err(RateLimitError), "{bad}");
        }
        assert_eq!(RateLimit::per_minute(60).unwrap().get(), 60);
    }

    #[test]
    fn a_clock_stepping_back_grants_nothing() {
        let mut b = TokenBucket::full(RateLimit::per_minute(1).unwrap(), at(60_000));
        assert!(b.try_take(at(60_000)).is_ok());
        assert!(b.try_take(at(0)).is_err());
        // The minute is counted from the latest time seen, once.
        assert!(b.try_take(at(119_999)).is_err());
        assert!(b.try_take(at(120_000)).is_ok());
    }

    #[test]
    fn a_new_limit_keeps_what_the_bucket_holds() {
        let mut b = TokenBucket::full(RateLimit::per_minute(10).unwrap(), at(0));
        for _ in 0..8 {
            b.try_take(at(0)).unwrap();
        }
        let mut b = b.with_limit(RateLimit::per_minute(100).unwrap(), at(0));
        assert!(b.try_take(at(0)).is_ok() && b.try_take(at(0)).is_ok());
        assert!(b.try_take(at(0)).is_err(), "no fresh burst");
        let mut b = TokenBucket::full(RateLimit::per_minute(100).unwrap(), at(0))
            .with_limit(RateLimit::per_minute(2).unwrap(), at(0));
        assert!(b.try_take(at(0)).is_ok() && b.try_take(at(0)).is_ok());
        assert!(b.try_take(at(0)).is_err(), "clamped to the new capacity");
    }

    proptest! {
        /// Over any run of requests, no more pass than the burst plus what
        /// the elapsed time refills; and a refused caller that waits exactly
        /// as long as it was told gets through, one millisecond less does not.
        #[test]
        fn the_bucket_never_lets_more_through_than_the_limit(
            per_minute in 1u32..2_000,
            steps in proptest::collection::vec(0i64..5_000, 1..300),
        ) {
            let limit = RateLimit::per_minute(i64::from(per_minute)).unwrap();
            let mut bucket = TokenBucket::full(limit, at(0));
            let mut now = 0i64;
            let mut passed: u64 = 0;
            for step in steps {
                now += step;
                match bucket.try_take(at(now)) {
                    Ok(()) => passed += 1,
                    Err(wait) => {
                        prop_assert!(wait.millis >= 1);
                        let wait_ms = i64::try_from(wait.millis).unwrap();
                        if wait_ms > 1 {
                            let mut early = bucket.clone();
                            prop_assert!(early.try_take(at(now + wait_ms - 1)).is_err());
                        }
                        let mut patient = bucket.clone();
                        prop_assert!(patient.try_take(at(now + wait_ms)).is_ok());
                    }
                }
                let allowance = u64::from(per_minute)
                    + u64::try_from(now).unwrap() * u64::from(per_minute) / UNITS_PER_REQUEST;
                prop_assert!(passed <= allowance, "{} passed, {} allowed", passed, allowance);
            }
        }
    }
}
