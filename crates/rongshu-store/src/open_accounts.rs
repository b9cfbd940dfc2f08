//! The portal's registered users: their open API keys (hashes only), their
//! requests to use conditional releases with the provider's decision, and the
//! count of open API calls per release and day.

use chrono::{DateTime, NaiveDate, Utc};
use rongshu_core::audit::AuditRecord;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::audit::append_in;
use crate::db::{parse_ts, ts};
use crate::{Store, StoreError};

/// A registered portal user.
#[derive(Debug, Clone, Serialize)]
pub struct OpenUser {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub organisation: String,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

/// A user with the hash to check a password against.
#[derive(Debug, Clone)]
pub struct OpenLogin {
    pub user: OpenUser,
    pub password_hash: String,
}

/// A key as lists show it: never the secret, only its first characters.
#[derive(Debug, Clone, Serialize)]
pub struct OpenKey {
    pub id: i64,
    pub user_id: i64,
    pub prefix: String,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
}

/// What a presented key stands for, when it is valid.
#[derive(Debug, Clone)]
pub struct OpenCaller {
    pub key_id: i64,
    pub user: OpenUser,
}

/// A new portal user and the first key.
pub struct NewOpenUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub organisation: &'a str,
    pub password_hash: &'a str,
    pub key_hash: &'a str,
    pub key_prefix: &'a str,
    pub now: DateTime<Utc>,
}

/// Where a request to use a conditional release stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessRequestState {
    Pending,
    Approved,
    Rejected,
}

impl AccessRequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }

    fn parse(raw: &str) -> Result<Self, StoreError> {
        match raw {
            "pending" => Ok(Self::Pending),
            "approved" => Ok(Self::Approved),
            "rejected" => Ok(Self::Rejected),
            other => Err(StoreError::Corrupt(format!("access request state {other}"))),
        }
    }
}

/// A registered user's request to use a conditional release.
#[derive(Debug, Clone, Serialize)]
pub struct AccessRequest {
    pub id: i64,
    pub release_id: i64,
    pub release_name: String,
    pub user: OpenUser,
    pub purpose: String,
    pub terms_accepted_at: DateTime<Utc>,
    pub state: AccessRequestState,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

const USER_COLUMNS: &str = "u.id AS u_id, u.email, u.name AS u_name, u.organisation, \
     u.created_at AS u_created_at, u.disabled_at";

fn user_of(row: &AnyRow) -> Result<OpenUser, StoreError> {
    Ok(OpenUser {
        id: row.try_get("u_id")?,
        email: row.try_get("email")?,
        name: row.try_get("u_name")?,
        organisation: row.try_get("organisation")?,
        created_at: parse_ts(&row.try_get::<String, _>("u_created_at")?)?,
        disabled_at: opt_ts(row, "disabled_at")?,
    })
}

fn opt_ts(row: &AnyRow, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    row.try_get::<Option<String>, _>(column)?
        .as_deref()
        .map(parse_ts)
        .transpose()
}

fn key_of(row: &AnyRow) -> Result<OpenKey, StoreError> {
    Ok(OpenKey {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        prefix: row.try_get("prefix")?,
        label: row.try_get("label")?,
        created_at: parse_ts(&row.try_get::<String, _>("created_at")?)?,
        revoked_at: opt_ts(row, "revoked_at")?,
        revoked_by: row.try_get("revoked_by")?,
    })
}

const REQUEST_SELECT: &str = "SELECT a.id, a.release_id, o.name AS release_name, a.purpose, \
     a.terms_accepted_at, a.state, a.decided_by, a.decided_at, a.reason, a.created_at, \
     u.id AS u_id, u.email, u.name AS u_name, u.organisation, u.created_at AS u_created_at, \
     u.disabled_at \
     FROM open_access_requests a JOIN open_users u ON u.id = a.user_id \
     JOIN open_releases o ON o.id = a.release_id";

fn request_of(row: &AnyRow) -> Result<AccessRequest, StoreError> {
    Ok(AccessRequest {
        id: row.try_get("id")?,
        release_id: row.try_get("release_id")?,
        release_name: row.try_get("release_name")?,
        user: user_of(row)?,
        purpose: row.try_get("purpose")?,
        terms_accepted_at: parse_ts(&row.try_get::<String, _>("terms_accepted_at")?)?,
        state: AccessRequestState::parse(&row.try_get::<String, _>("state")?)?,
        decided_by: row.try_get("decided_by")?,
        decided_at: opt_ts(row, "decided_at")?,
        reason: row.try_get("reason")?,
        created_at: parse_ts(&row.try_get::<String, _>("created_at")?)?,
    })
}

impl Store {
    /// Register a portal user with a first key, audited. A taken e-mail is a
    /// conflict.
    pub async fn create_open_user(
        &self,
        new: &NewOpenUser<'_>,
        audit: &AuditRecord,
    ) -> Result<(OpenUser, OpenKey), StoreError> {
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO open_users (email, name, organisation, password_hash, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(new.email)
        .bind(new.name)
        .bind(new.organisation)
        .bind(new.password_hash)
        .bind(ts(new.now))
        .fetch_one(&mut *tx)
        .await;
        let user_id: i64 = match inserted {
            Ok(row) => row.try_get("id")?,
            Err(e) if StoreError::is_unique_violation(&e) => {
                return Err(StoreError::Conflict(
                    "email: this address is registered already; ask for a new key with its password instead"
                        .into(),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let key_id = insert_key(
            &mut tx,
            user_id,
            new.key_hash,
            new.key_prefix,
            "注册时创建",
            new.now,
        )
        .await?;
        let mut audit = audit.clone();
        audit.target = Some(format!("open_user:{user_id}"));
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok((self.open_user(user_id).await?, self.open_key(key_id).await?))
    }

    pub async fn open_user(&self, id: i64) -> Result<OpenUser, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM open_users u WHERE u.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("open user {id}")))?;
        user_of(&row)
    }

    /// A user by (lower-cased) e-mail, with the password hash, for signing in.
    pub async fn open_login(&self, email: &str) -> Result<Option<OpenLogin>, StoreError> {
        let sql =
            format!("SELECT {USER_COLUMNS}, u.password_hash FROM open_users u WHERE u.email = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(OpenLogin {
                user: user_of(&row)?,
                password_hash: row.try_get("password_hash")?,
            })
        })
        .transpose()
    }

    /// Every registered user, newest first.
    pub async fn open_users(&self) -> Result<Vec<OpenUser>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM open_users u ORDER BY u.id DESC");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(user_of)
            .collect()
    }

    /// One more key for a user, audited.
    pub async fn create_open_key(
        &self,
        user_id: i64,
        key_hash: &str,
        key_prefix: &str,
        label: &str,
        now: DateTime<Utc>,
        audit: &AuditRecord,
    ) -> Result<OpenKey, StoreError> {
        let mut tx = self.begin_write().await?;
        let key_id = insert_key(&mut tx, user_id, key_hash, key_prefix, label, now).await?;
        let mut audit = audit.clone();
        audit.target = Some(format!("open_key:{key_id}"));
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.open_key(key_id).await
    }

    pub async fn open_key(&self, id: i64) -> Result<OpenKey, StoreError> {
        let row = sqlx::query(
            "SELECT id, user_id, prefix, label, created_at, revoked_at, revoked_by
             FROM open_keys WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("open key {id}")))?;
        key_of(&row)
    }

    /// Every user's keys, by user then key: one query for the office's list.
    pub async fn all_open_keys(&self) -> Result<Vec<OpenKey>, StoreError> {
        sqlx::query(
            "SELECT id, user_id, prefix, label, created_at, revoked_at, revoked_by
             FROM open_keys ORDER BY user_id, id",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(key_of)
        .collect()
    }

    pub async fn open_keys(&self, user_id: i64) -> Result<Vec<OpenKey>, StoreError> {
        sqlx::query(
            "SELECT id, user_id, prefix, label, created_at, revoked_at, revoked_by
             FROM open_keys WHERE user_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(key_of)
        .collect()
    }

    /// The caller a key hash stands for: a key not revoked, of a user not
    /// disabled. Anything else is `None`, told apart by nobody.
    pub async fn open_caller(&self, key_hash: &str) -> Result<Option<OpenCaller>, StoreError> {
        let sql = format!(
            "SELECT k.id AS key_id, {USER_COLUMNS} FROM open_keys k
             JOIN open_users u ON u.id = k.user_id
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND u.disabled_at IS NULL"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(OpenCaller {
                key_id: row.try_get("key_id")?,
                user: user_of(&row)?,
            })
        })
        .transpose()
    }

    /// Revoke a key (once; revoking a revoked key is a conflict), audited.
    pub async fn revoke_open_key(
        &self,
        key_id: i64,
        by: &str,
        now: DateTime<Utc>,
        audit: &AuditRecord,
    ) -> Result<OpenKey, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE open_keys SET revoked_at = $1, revoked_by = $2
             WHERE id = $3 AND revoked_at IS NULL",
        )
        .bind(ts(now))
        .bind(by)
        .bind(key_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            // Either there is no such key or it is revoked already.
            self.open_key(key_id).await?;
            return Err(StoreError::Conflict(format!(
                "key {key_id} is revoked already"
            )));
        }
        let mut audit = audit.clone();
        audit.target = Some(format!("open_key:{key_id}"));
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.open_key(key_id).await
    }

    /// Ask to use a conditional release; asking again after a rejection
    /// starts over, asking while pending or approved is a conflict.
    pub async fn request_open_access(
        &self,
        release_id: i64,
        user_id: i64,
        purpose: &str,
        now: DateTime<Utc>,
        audit: &AuditRecord,
    ) -> Result<AccessRequest, StoreError> {
        let mut tx = self.begin_write().await?;
        let existing = sqlx::query(
            "SELECT id, state FROM open_access_requests WHERE release_id = $1 AND user_id = $2",
        )
        .bind(release_id)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let at = ts(now);
        let id: i64 = match existing {
            Some(row) => {
                let id: i64 = row.try_get("id")?;
                let state = AccessRequestState::parse(&row.try_get::<String, _>("state")?)?;
                if state != AccessRequestState::Rejected {
                    tx.rollback().await?;
                    return Err(StoreError::Conflict(format!(
                        "request {id} for this dataset is {} already",
                        state.as_str()
                    )));
                }
                sqlx::query(
                    "UPDATE open_access_requests SET purpose = $1, terms_accepted_at = $2,
                         state = 'pending', decided_by = NULL, decided_at = NULL, reason = NULL,
                         created_at = $2
                     WHERE id = $3",
                )
                .bind(purpose)
                .bind(&at)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                id
            }
            None => sqlx::query(
                "INSERT INTO open_access_requests
                     (release_id, user_id, purpose, terms_accepted_at, state, created_at)
                 VALUES ($1, $2, $3, $4, 'pending', $4) RETURNING id",
            )
            .bind(release_id)
            .bind(user_id)
            .bind(purpose)
            .bind(&at)
            .fetch_one(&mut *tx)
            .await?
            .try_get("id")?,
        };
        let mut audit = audit.clone();
        audit.target = Some(format!("open_access_request:{id}"));
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.open_access_request(id).await
    }

    pub async fn open_access_request(&self, id: i64) -> Result<AccessRequest, StoreError> {
        let sql = format!("{REQUEST_SELECT} WHERE a.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("access request {id}")))?;
        request_of(&row)
    }

    /// A release's requests, oldest first.
    pub async fn open_access_requests(
        &self,
        release_id: i64,
    ) -> Result<Vec<AccessRequest>, StoreError> {
        let sql = format!("{REQUEST_SELECT} WHERE a.release_id = $1 ORDER BY a.id");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(release_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(request_of)
            .collect()
    }

    /// A user's request for a release, if any.
    pub async fn open_access_of(
        &self,
        release_id: i64,
        user_id: i64,
    ) -> Result<Option<AccessRequest>, StoreError> {
        let sql = format!("{REQUEST_SELECT} WHERE a.release_id = $1 AND a.user_id = $2");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(release_id)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(request_of)
            .transpose()
    }

    /// Approve or reject a pending request, audited; a decided one is a
    /// conflict (a second reviewer does not overrule the first silently).
    pub async fn decide_open_access(
        &self,
        id: i64,
        approve: bool,
        by: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
        audit: &AuditRecord,
    ) -> Result<AccessRequest, StoreError> {
        let mut tx = self.begin_write().await?;
        let state = if approve {
            AccessRequestState::Approved
        } else {
            AccessRequestState::Rejected
        };
        let done = sqlx::query(
            "UPDATE open_access_requests SET state = $1, decided_by = $2, decided_at = $3, reason = $4
             WHERE id = $5 AND state = 'pending'",
        )
        .bind(state.as_str())
        .bind(by)
        .bind(ts(now))
        .bind(reason)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            let found = self.open_access_request(id).await?;
            return Err(StoreError::Conflict(format!(
                "request {id} is {} already",
                found.state.as_str()
            )));
        }
        let mut audit = audit.clone();
        audit.target = Some(format!("open_access_request:{id}"));
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.open_access_request(id).await
    }

    /// Count one open API call of `release_id` on `day`.
    pub async fn count_api_call(&self, release_id: i64, day: NaiveDate) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO open_api_calls (release_id, day, count) VALUES ($1, $2, 1)
             ON CONFLICT (release_id, day) DO UPDATE SET count = open_api_calls.count + 1",
        )
        .bind(release_id)
        .bind(day.format("%Y-%m-%d").to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Open API calls of a release, all days together.
    pub async fn api_call_count(&self, release_id: i64) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) AS n FROM open_api_calls WHERE release_id = $1",
        )
        .bind(release_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }
}

async fn insert_key(
    conn: &mut sqlx::AnyConnection,
    user_id: i64,
    key_hash: &str,
    key_prefix: &str,
    label: &str,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    Ok(sqlx::query(
        "INSERT INTO open_keys (user_id, key_hash, prefix, label, created_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(user_id)
    .bind(key_hash)
    .bind(key_prefix)
    .bind(label)
    .bind(ts(now))
    .fetch_one(&mut *conn)
    .await?
    .try_get("id")?)
}
