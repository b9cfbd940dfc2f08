//! What an application key must pass before its request runs: the caller's
//! address against the application's allow-list, and the application's rate
//! limit. Both are decided in memory, on the data API's hot path. The policy
//! arrives with the key's own row (no extra query); its parsed form and a
//! token bucket are kept per application and rebuilt when the row's
//! `policy_version` has moved, so a change made by any server process takes
//! effect on that application's next request, and this process also drops
//! its copy at once when it makes the change. Buckets are per process: with
//! several servers behind a balancer each enforces the limit on its share.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use rongshu_core::net::AllowList;
use rongshu_core::rate::{RateLimit, TokenBucket};
use rongshu_store::Application;

use crate::error::ApiError;

struct Guard {
    version: i64,
    /// `None` when the stored list could not be read: refuse, do not guess.
    allow: Option<AllowList>,
    bucket: TokenBucket,
}

pub struct AppGuards {
    default_limit: RateLimit,
    guards: Mutex<HashMap<i64, Guard>>,
}

/// The limit an application is held to: its own, or the platform's default.
pub fn effective_limit(app: &Application, default_limit: RateLimit) -> RateLimit {
    app.rate_limit_per_minute
        .and_then(|n| RateLimit::per_minute(n).ok())
        .unwrap_or(default_limit)
}

impl AppGuards {
    pub fn new(default_limit: RateLimit) -> Self {
        Self {
            default_limit,
            guards: Mutex::new(HashMap::new()),
        }
    }

    pub fn default_limit(&self) -> RateLimit {
        self.default_limit
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<i64, Guard>> {
        // A panic while holding the lock leaves plain data behind; keep going.
        self.guards.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Let a request of `app` from `ip` through, or say why not.
    pub fn admit(
        &self,
        app: &Application,
        ip: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let limit = effective_limit(app, self.default_limit);
        let mut guards = self.lock();
        let guard = guards
            .entry(app.id)
            .or_insert_with(|| build(app, limit, None, now));
        if guard.version != app.policy_version || guard.bucket.limit() != limit {
            let bucket = guard.bucket.clone();
            *guard = build(app, limit, Some(bucket), now);
        }
        let who = format!("application {}/{}", app.department.code, app.name);
        let Some(allow) = &guard.allow else {
            return Err(ApiError::AddressNotAllowed(format!(
                "the allow-list of {who} cannot be read; its department admin should save it again"
            )));
        };
        if !allow.permits(ip) {
            let from = ip.map_or_else(|| "an unknown address".to_owned(), |a| a.to_string());
            return Err(ApiError::AddressNotAllowed(format!(
                "{who} may only call from the addresses on its allow-list, and {from} is not on it"
            )));
        }
        guard
            .bucket
            .try_take(now)
            .map_err(|wait| ApiError::RateLimited {
                detail: format!(
                    "{who} is limited to {limit}; try again in {} s",
                    wait.seconds()
                ),
                retry_after_secs: wait.seconds(),
            })
    }

    /// Drop what is kept for an application (its settings just changed here).
    /// Its bucket goes too: a changed limit starts from a full bucket.
    pub fn forget(&self, app_id: i64) {
        self.lock().remove(&app_id);
    }
}

/// The guard for the application's current policy; an existing bucket is
/// kept (under the new limit), so saving a setting does not reset the count.
fn build(
    app: &Application,
    limit: RateLimit,
    bucket: Option<TokenBucket>,
    now: DateTime<Utc>,
) -> Guard {
    let allow = match AllowList::parse(&app.allowed_ips) {
        Ok(a) => Some(a),
        Err(e) => {
            tracing::error!(application = app.id, error = %e, "a stored allow-list does not parse");
            None
        }
    };
    Guard {
        version: app.policy_version,
        allow,
        bucket: match bucket {
            Some(b) => b.with_limit(limit, now),
            None => TokenBucket::full(limit, now),
        },
    }
}
