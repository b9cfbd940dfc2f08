//! Applications (应用): the systems of a consumer department that read data
//! with keys of their own, each with an optional allow-list of addresses and a
//! rate limit; and those keys, stored as hashes with a short prefix to
//! recognise them by, rotated with a grace period, revoked at once.

use chrono::{DateTime, Utc};
use rongshu_core::account::{DepartmentCode, KeyState};
use rongshu_core::audit::AuditRecord;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::accounts::{DEPARTMENT_COLUMNS, NewToken, department_from, insert_token};
use crate::audit::append_in;
use crate::db::{parse_ts, ts};
use crate::{Department, Store, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct Application {
    pub id: i64,
    pub name: String,
    pub department: Department,
    pub description: String,
    /// Canonical CIDR blocks the application may call from; empty: any address.
    pub allowed_ips: Vec<String>,
    /// Requests a minute; `None` takes the platform's default.
    pub rate_limit_per_minute: Option<i64>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Moves on every change of the allow-list, limit or state, so a server
    /// process can tell its cached copy is stale without asking.
    #[serde(skip)]
    pub policy_version: i64,
}

/// What a department registers.
pub struct NewApplication<'a> {
    pub department: &'a DepartmentCode,
    pub name: &'a str,
    pub description: &'a str,
}

/// A change to an application's settings; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct ApplicationChange {
    pub description: Option<String>,
    /// Canonical blocks (the caller parsed them).
    pub allowed_ips: Option<Vec<String>>,
    /// `Some(None)` returns to the platform's default.
    pub rate_limit_per_minute: Option<Option<i64>>,
}

/// One of an application's keys, as its list shows it: never the key itself.
#[derive(Debug, Clone, Serialize)]
pub struct ApplicationKey {
    pub id: i64,
    pub label: String,
    /// The key's first characters (`rst_1a2b3c4d`); keys issued before
    /// prefixes were kept have none.
    pub prefix: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// For a rotated key, the end of its grace period.
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub rotated_at: Option<DateTime<Utc>>,
    /// The key that replaced this one.
    pub replaced_by: Option<i64>,
}

impl ApplicationKey {
    pub fn state(&self, now: DateTime<Utc>) -> KeyState {
        KeyState::at(
            self.revoked_at.is_some(),
            self.rotated_at.is_some(),
            self.expires_at,
            now,
        )
    }
}

const APPLICATION_SELECT: &str = "SELECT a.id AS a_id, a.name AS a_name, a.description AS a_description, \
     a.allowed_ips AS a_allowed_ips, a.rate_limit AS a_rate_limit, a.disabled_at AS a_disabled_at, \
     a.created_at AS a_created_at, a.policy_version AS a_policy_version";

const KEY_COLUMNS: &str = "id, label, prefix, created_at, last_used_at, expires_at, revoked_at, \
     rotated_at, replaced_by";

fn opt_ts(row: &AnyRow, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.as_deref().map(parse_ts).transpose()
}

fn application_from(row: &AnyRow) -> Result<Application, StoreError> {
    let allowed: String = row.try_get("a_allowed_ips")?;
    Ok(Application {
        id: row.try_get("a_id")?,
        name: row.try_get("a_name")?,
        department: department_from(row)?,
        description: row.try_get("a_description")?,
        allowed_ips: serde_json::from_str(&allowed)
            .map_err(|e| StoreError::Corrupt(format!("an application's allow-list: {e}")))?,
        rate_limit_per_minute: row.try_get("a_rate_limit")?,
        disabled_at: opt_ts(row, "a_disabled_at")?,
        created_at: parse_ts(&row.try_get::<String, _>("a_created_at")?)?,
        policy_version: row.try_get("a_policy_version")?,
    })
}

fn key_from(row: &AnyRow) -> Result<ApplicationKey, StoreError> {
    Ok(ApplicationKey {
        id: row.try_get("id")?,
        label: row.try_get("label")?,
        prefix: row.try_get("prefix")?,
        created_at: parse_ts(&row.try_get::<String, _>("created_at")?)?,
        last_used_at: opt_ts(row, "last_used_at")?,
        expires_at: opt_ts(row, "expires_at")?,
        revoked_at: opt_ts(row, "revoked_at")?,
        rotated_at: opt_ts(row, "rotated_at")?,
        replaced_by: row.try_get("replaced_by")?,
    })
}

fn application_sql(where_clause: &str) -> String {
    format!(
        "{APPLICATION_SELECT}, {DEPARTMENT_COLUMNS} FROM applications a \
         JOIN departments d ON d.id = a.department_id WHERE {where_clause}"
    )
}

impl Store {
    pub async fn create_application(
        &self,
        new: NewApplication<'_>,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<Application, StoreError> {
        let dept = self.department(new.department.as_str()).await?;
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO applications (department_id, name, description, created_at)
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(dept.id)
        .bind(new.name)
        .bind(new.description)
        .bind(ts(now))
        .fetch_one(&mut *tx)
        .await;
        let id: i64 = match inserted {
            Ok(row) => row.try_get("id")?,
            Err(e) if StoreError::is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!(
                    "application {} already exists in {}",
                    new.name, new.department
                )));
            }
            Err(e) => return Err(e.into()),
        };
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.application_by_id(id).await
    }

    /// A department's application by its name.
    pub async fn application(
        &self,
        department: &str,
        name: &str,
    ) -> Result<Application, StoreError> {
        let row = sqlx::query(AssertSqlSafe(application_sql(
            "d.code = $1 AND a.name = $2",
        )))
        .bind(department)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("application {department}/{name}")))?;
        application_from(&row)
    }

    pub async fn application_by_id(&self, id: i64) -> Result<Application, StoreError> {
        let row = sqlx::query(AssertSqlSafe(application_sql("a.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("application {id}")))?;
        application_from(&row)
    }

    /// A department's applications (every department's without one), by
    /// department and name.
    pub async fn applications(
        &self,
        department: Option<&str>,
    ) -> Result<Vec<Application>, StoreError> {
        let sql = format!(
            "{} ORDER BY d.code, a.name",
            application_sql("($1 IS NULL OR d.code = $1)")
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(department)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(application_from)
            .collect()
    }

    /// Change an application's description, allow-list or rate limit.
    pub async fn update_application(
        &self,
        id: i64,
        change: &ApplicationChange,
        audit: AuditRecord,
    ) -> Result<Application, StoreError> {
        let current = self.application_by_id(id).await?;
        let description = change.description.as_ref().unwrap_or(&current.description);
        let allowed = change.allowed_ips.as_ref().unwrap_or(&current.allowed_ips);
        let limit = change
            .rate_limit_per_minute
            .unwrap_or(current.rate_limit_per_minute);
        let allowed_json =
            serde_json::to_string(allowed).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.begin_write().await?;
        // The version is bumped in SQL, so two changes at once both count.
        sqlx::query(
            "UPDATE applications SET description = $1, allowed_ips = $2, rate_limit = $3,
                policy_version = policy_version + 1 WHERE id = $4",
        )
        .bind(description)
        .bind(allowed_json)
        .bind(limit)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.application_by_id(id).await
    }

    /// Disable (`Some(when)`) or enable (`None`) an application: a disabled
    /// one's keys stop working. Asking for the state it is in is a conflict.
    pub async fn set_application_disabled(
        &self,
        id: i64,
        disabled_at: Option<DateTime<Utc>>,
        audit: AuditRecord,
    ) -> Result<Application, StoreError> {
        let mut tx = self.begin_write().await?;
        let condition = if disabled_at.is_some() {
            "disabled_at IS NULL"
        } else {
            "disabled_at IS NOT NULL"
        };
        let sql = format!(
            "UPDATE applications SET disabled_at = $1, policy_version = policy_version + 1 \
             WHERE id = $2 AND {condition}"
        );
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(disabled_at.map(ts))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            let app = self.application_by_id(id).await?;
            return Err(StoreError::Conflict(format!(
                "application {} is {} already",
                app.name,
                if app.disabled_at.is_some() {
                    "disabled"
                } else {
                    "enabled"
                }
            )));
        }
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.application_by_id(id).await
    }

    /// An application's keys, newest first.
    pub async fn application_keys(&self, app_id: i64) -> Result<Vec<ApplicationKey>, StoreError> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_tokens WHERE application_id = $1 ORDER BY id DESC"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(app_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(key_from)
            .collect()
    }

    /// One of an application's keys; another application's is not found.
    pub async fn application_key(
        &self,
        app_id: i64,
        key_id: i64,
    ) -> Result<ApplicationKey, StoreError> {
        let sql =
            format!("SELECT {KEY_COLUMNS} FROM api_tokens WHERE id = $1 AND application_id = $2");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(key_id)
            .bind(app_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("key {key_id} of application {app_id}")))?;
        key_from(&row)
    }

    /// Replace a key: the new one is stored and the old one keeps working
    /// until `grace_until` (or its own earlier expiry), in one transaction.
    /// A key that was revoked, had expired or was rotated already is a
    /// conflict: only a working key is rotated, and once.
    pub async fn rotate_application_key(
        &self,
        key_id: i64,
        new: NewToken<'_>,
        grace_until: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<i64, StoreError> {
        let app_id = match new.owner {
            crate::TokenOwner::Application(a) => a.id,
            crate::TokenOwner::User(_) => {
                return Err(StoreError::Invalid("only application keys rotate".into()));
            }
        };
        let old = self.application_key(app_id, key_id).await?;
        let state = old.state(new.created_at);
        if state != KeyState::Active {
            return Err(StoreError::Conflict(format!(
                "key {key_id} is {}: only an active key is rotated",
                state.as_str()
            )));
        }
        let until = old.expires_at.map_or(grace_until, |e| e.min(grace_until));
        let mut tx = self.begin_write().await?;
        let new_id = insert_token(&mut tx, &new).await?;
        // Conditional, so two rotations at once leave one winner.
        let done = sqlx::query(
            "UPDATE api_tokens SET expires_at = $1, rotated_at = $2, replaced_by = $3
             WHERE id = $4 AND revoked_at IS NULL AND rotated_at IS NULL",
        )
        .bind(ts(until))
        .bind(ts(new.created_at))
        .bind(new_id)
        .bind(key_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(StoreError::Conflict(format!(
                "key {key_id} was rotated or revoked meanwhile; reload"
            )));
        }
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(new_id)
    }

    /// Note that a token was used at `now`. Callers keep this off the hot
    /// path (at most once a minute per key); the condition keeps a late
    /// write from moving the time back.
    pub async fn touch_token(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE api_tokens SET last_used_at = $1
             WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
        )
        .bind(ts(now))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
