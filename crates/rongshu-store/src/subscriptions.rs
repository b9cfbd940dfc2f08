//! Webhook subscriptions: a consumer department asks for a resource's change log
//! to be pushed to a URL. The store keeps each subscription's position in the
//! log (the last sequence number its receiver acknowledged), a lease so that
//! one server process at a time delivers it, and the log of every attempt.

use chrono::{DateTime, Utc};
use rongshu_core::audit::AuditRecord;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::audit::append_in;
use crate::db::ts;
use crate::{Store, StoreError};

/// A subscription as its owners see it; the signing secret is never part of it.
#[derive(Debug, Clone, Serialize)]
pub struct Subscription {
    pub id: i64,
    pub department: String,
    pub resource: String,
    pub url: String,
    /// `active` or `cancelled`.
    pub state: String,
    /// The last sequence number the receiver acknowledged; delivery goes on after it.
    pub delivered_seq: i64,
    /// Failed attempts in a row since the last success.
    pub failures: i64,
    pub next_attempt_at: Option<String>,
    pub last_attempt_at: Option<String>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub last_success_at: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

/// One attempt to deliver a run of changes.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: i64,
    pub at: String,
    pub from_seq: i64,
    pub to_seq: i64,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<i64>,
    /// Why the attempt failed, when it did.
    pub error: Option<String>,
    pub duration_ms: i64,
    pub ok: bool,
}

pub struct NewSubscription<'a> {
    pub department: &'a str,
    pub resource_id: i64,
    pub url: &'a str,
    pub secret: &'a str,
    /// Deliver the changes after this sequence number.
    pub after: i64,
    pub created_by: &'a str,
}

/// A subscription this process holds the lease on, with what it needs to
/// deliver: the secret to sign with, and the tokens that make its finish
/// count only if nobody took over or rewound it meanwhile.
#[derive(Debug, Clone)]
pub struct ClaimedSubscription {
    pub subscription: Subscription,
    pub secret: String,
    lock_token: String,
    epoch: i64,
}

/// How an attempt ended, as the worker reports it.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub at: DateTime<Utc>,
    pub from_seq: i64,
    pub to_seq: i64,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
    /// `None` on success (the position moves to `to_seq`); otherwise when to try again.
    pub retry_at: Option<DateTime<Utc>>,
}

const SUBSCRIPTION_SELECT: &str = "SELECT s.id, d.code AS dept_code, r.code AS resource_code, s.url, \
     s.state, s.delivered_seq, s.failures, s.next_attempt_at, s.last_attempt_at, s.last_status, \
     s.last_error, s.last_success_at, s.created_by, s.created_at, s.updated_at, s.secret, \
     s.lock_token, s.epoch \
     FROM subscriptions s JOIN departments d ON d.id = s.department_id \
     JOIN resources r ON r.id = s.resource_id";

fn subscription_from(row: &AnyRow) -> Result<Subscription, StoreError> {
    Ok(Subscription {
        id: row.try_get("id")?,
        department: row.try_get("dept_code")?,
        resource: row.try_get("resource_code")?,
        url: row.try_get("url")?,
        state: row.try_get("state")?,
        delivered_seq: row.try_get("delivered_seq")?,
        failures: row.try_get("failures")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_attempt_at: row.try_get("last_attempt_at")?,
        last_status: row.try_get("last_status")?,
        last_error: row.try_get("last_error")?,
        last_success_at: row.try_get("last_success_at")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn random_hex() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

impl Store {
    /// Record a new subscription with its audit event, in one transaction.
    pub async fn create_subscription(
        &self,
        new: NewSubscription<'_>,
        now: DateTime<Utc>,
        mut audit: AuditRecord,
    ) -> Result<Subscription, StoreError> {
        let department = self.department(new.department).await?;
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO subscriptions (department_id, resource_id, url, secret, state, delivered_seq,
                created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, 'active', $5, $6, $7, $7) RETURNING id",
        )
        .bind(department.id)
        .bind(new.resource_id)
        .bind(new.url)
        .bind(new.secret)
        .bind(new.after)
        .bind(new.created_by)
        .bind(ts(now))
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        audit.target = Some(format!("subscription:{id}"));
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.subscription(id).await
    }

    pub async fn subscription(&self, id: i64) -> Result<Subscription, StoreError> {
        let sql = format!("{SUBSCRIPTION_SELECT} WHERE s.id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("subscription {id}")))?;
        subscription_from(&row)
    }

    /// Subscriptions, newest first: all, or one department's.
    pub async fn subscriptions(
        &self,
        department: Option<&str>,
    ) -> Result<Vec<Subscription>, StoreError> {
        let sql =
            format!("{SUBSCRIPTION_SELECT} WHERE ($1 IS NULL OR d.code = $1) ORDER BY s.id DESC");
        sqlx::query(AssertSqlSafe(sql))
            .bind(department)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(subscription_from)
            .collect()
    }

    /// Stop delivering. A delivery in flight finishes, but moves nothing.
    pub async fn cancel_subscription(
        &self,
        id: i64,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<Subscription, StoreError> {
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query(
            "UPDATE subscriptions SET state = 'cancelled', next_attempt_at = NULL, updated_at = $2
             WHERE id = $1 AND state = 'active'",
        )
        .bind(id)
        .bind(ts(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            tx.rollback().await?;
            // Either it does not exist (NotFound) or it was cancelled already.
            let existing = self.subscription(id).await?;
            return Err(StoreError::Conflict(format!(
                "subscription {id} is {} already",
                existing.state
            )));
        }
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.subscription(id).await
    }

    /// Deliver again from `from_seq`: the position becomes `from_seq - 1`, any
    /// back-off is forgotten, and a delivery in flight cannot undo the rewind.
    pub async fn replay_subscription(
        &self,
        id: i64,
        from_seq: i64,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<Subscription, StoreError> {
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query(
            "UPDATE subscriptions SET delivered_seq = $2, epoch = epoch + 1, failures = 0,
                next_attempt_at = NULL, updated_at = $3
             WHERE id = $1 AND state = 'active'",
        )
        .bind(id)
        .bind(from_seq - 1)
        .bind(ts(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            tx.rollback().await?;
            let existing = self.subscription(id).await?;
            return Err(StoreError::Conflict(format!(
                "subscription {id} is {}: only an active one can be replayed",
                existing.state
            )));
        }
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.subscription(id).await
    }

    /// One subscription's attempts, newest first, `limit` at a time before
    /// attempt `before` (the id of the last one of the previous page).
    pub async fn deliveries(
        &self,
        id: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, from_seq, to_seq, status, error, duration_ms, ok
             FROM subscription_deliveries
             WHERE subscription_id = $1 AND ($2 IS NULL OR id < $2)
             ORDER BY id DESC LIMIT $3",
        )
        .bind(id)
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Delivery {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    from_seq: r.try_get("from_seq")?,
                    to_seq: r.try_get("to_seq")?,
                    status: r.try_get("status")?,
                    error: r.try_get("error")?,
                    duration_ms: r.try_get("duration_ms")?,
                    ok: r.try_get::<i64, _>("ok")? != 0,
                })
            })
            .collect()
    }

    /// Take the lease on one active subscription that has changes to deliver
    /// and is due, if any. The lease is claimed with a conditional UPDATE, so
    /// of several processes asking at once exactly one gets it; it lapses at
    /// `lease_until` if its holder dies.
    pub async fn claim_due_subscription(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<ClaimedSubscription>, StoreError> {
        let now_text = ts(now);
        let candidates: Vec<i64> = sqlx::query(
            "SELECT s.id FROM subscriptions s JOIN resources r ON r.id = s.resource_id
             WHERE s.state = 'active' AND r.change_seq > s.delivered_seq
               AND (s.next_attempt_at IS NULL OR s.next_attempt_at <= $1)
               AND (s.locked_until IS NULL OR s.locked_until <= $1)
             ORDER BY s.next_attempt_at, s.id LIMIT 16",
        )
        .bind(&now_text)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;
        for id in candidates {
            let token = random_hex();
            let claimed = sqlx::query(
                "UPDATE subscriptions SET locked_until = $2, lock_token = $3
                 WHERE id = $1 AND state = 'active'
                   AND (locked_until IS NULL OR locked_until <= $4)",
            )
            .bind(id)
            .bind(ts(lease_until))
            .bind(&token)
            .bind(&now_text)
            .execute(&self.pool)
            .await?
            .rows_affected();
            if claimed == 1 {
                let sql = format!("{SUBSCRIPTION_SELECT} WHERE s.id = $1");
                let row = sqlx::query(AssertSqlSafe(sql))
                    .bind(id)
                    .fetch_one(&self.pool)
                    .await?;
                return Ok(Some(ClaimedSubscription {
                    subscription: subscription_from(&row)?,
                    secret: row.try_get("secret")?,
                    lock_token: token,
                    epoch: row.try_get("epoch")?,
                }));
            }
        }
        Ok(None)
    }

    /// Log an attempt and release the lease, in one transaction. On success the
    /// position moves to `to_seq`, unless the subscription was rewound since it
    /// was claimed. Returns false when the lease had been lost (nothing moved;
    /// the attempt is logged all the same).
    pub async fn finish_delivery(
        &self,
        claimed: &ClaimedSubscription,
        outcome: &AttemptOutcome,
    ) -> Result<bool, StoreError> {
        let id = claimed.subscription.id;
        let ok = outcome.retry_at.is_none();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO subscription_deliveries
                (subscription_id, at, from_seq, to_seq, status, error, duration_ms, ok)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(ts(outcome.at))
        .bind(outcome.from_seq)
        .bind(outcome.to_seq)
        .bind(outcome.status)
        .bind(outcome.error.as_deref())
        .bind(outcome.duration_ms)
        .bind(i64::from(ok))
        .execute(&mut *tx)
        .await?;
        let at = ts(outcome.at);
        let updated = if ok {
            sqlx::query(
                "UPDATE subscriptions SET
                    delivered_seq = CASE WHEN epoch = $3 THEN $4 ELSE delivered_seq END,
                    failures = 0, next_attempt_at = NULL, locked_until = NULL, lock_token = NULL,
                    last_attempt_at = $5, last_status = $6, last_error = NULL, last_success_at = $5
                 WHERE id = $1 AND lock_token = $2",
            )
            .bind(id)
            .bind(&claimed.lock_token)
            .bind(claimed.epoch)
            .bind(outcome.to_seq)
            .bind(&at)
            .bind(outcome.status)
            .execute(&mut *tx)
            .await?
        } else {
            let retry_at = outcome.retry_at.map(ts);
            sqlx::query(
                "UPDATE subscriptions SET
                    failures = CASE WHEN epoch = $3 THEN failures + 1 ELSE failures END,
                    next_attempt_at = CASE WHEN epoch = $3 THEN $4 ELSE next_attempt_at END,
                    locked_until = NULL, lock_token = NULL,
                    last_attempt_at = $5, last_status = $6, last_error = $7
                 WHERE id = $1 AND lock_token = $2",
            )
            .bind(id)
            .bind(&claimed.lock_token)
            .bind(claimed.epoch)
            .bind(retry_at)
            .bind(&at)
            .bind(outcome.status)
            .bind(outcome.error.as_deref())
            .execute(&mut *tx)
            .await?
        }
        .rows_affected();
        tx.commit().await?;
        Ok(updated == 1)
    }

    /// Give the lease back without an attempt (there was nothing to send).
    pub async fn release_subscription(
        &self,
        claimed: &ClaimedSubscription,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE subscriptions SET locked_until = NULL, lock_token = NULL
             WHERE id = $1 AND lock_token = $2",
        )
        .bind(claimed.subscription.id)
        .bind(&claimed.lock_token)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A random key the platform keeps for itself under `name`, made on first
    /// use; every process gets the same one.
    pub async fn platform_secret(
        &self,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, StoreError> {
        let read = || async {
            let value: Option<String> =
                sqlx::query("SELECT value FROM platform_secrets WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|r| r.try_get("value"))
                    .transpose()?;
            Ok::<_, StoreError>(value)
        };
        if read().await?.is_none() {
            // Two processes may race to make it; the first one's key stays.
            sqlx::query(
                "INSERT INTO platform_secrets (name, value, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(random_hex())
            .bind(ts(now))
            .execute(&self.pool)
            .await?;
        }
        let value = read()
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("platform secret {name} vanished")))?;
        hex::decode(&value).map_err(|e| StoreError::Corrupt(format!("platform secret {name}: {e}")))
    }
}
