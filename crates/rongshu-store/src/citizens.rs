//! Citizens' sign-in: one-time codes (as salted hashes) and web sessions,
//! both keyed by the person's hash, never by an ID number.

use chrono::{DateTime, Utc};
use rongshu_core::audit::AuditRecord;
use rongshu_core::people::PersonHash;
use sqlx::Row;

use crate::audit::append_in;
use crate::db::{parse_ts, ts};
use crate::{Store, StoreError};

/// A code on record.
#[derive(Debug, Clone)]
pub struct CitizenCode {
    pub id: i64,
    pub salt: String,
    pub code_hash: String,
    pub expires_at: DateTime<Utc>,
    pub attempts: i64,
    pub used: bool,
}

/// A code to put on record.
#[derive(Debug, Clone)]
pub struct NewCitizenCode<'a> {
    pub person: &'a PersonHash,
    pub salt: &'a str,
    pub code_hash: &'a str,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A citizen's signed-in session.
#[derive(Debug, Clone)]
pub struct CitizenSession {
    pub person: PersonHash,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

impl Store {
    /// When the person's codes since `since` were issued, oldest first.
    pub async fn citizen_codes_issued_since(
        &self,
        person: &PersonHash,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, StoreError> {
        let rows = sqlx::query(
            "SELECT created_at FROM citizen_codes
             WHERE person_hash = $1 AND created_at > $2 ORDER BY id",
        )
        .bind(person.as_str())
        .bind(ts(since))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| parse_ts(&r.try_get::<String, _>("created_at")?))
            .collect()
    }

    /// Put a code on record with its audit event, in one transaction.
    pub async fn create_citizen_code(
        &self,
        code: NewCitizenCode<'_>,
        audit: &AuditRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO citizen_codes (person_hash, salt, code_hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(code.person.as_str())
        .bind(code.salt)
        .bind(code.code_hash)
        .bind(ts(code.created_at))
        .bind(ts(code.expires_at))
        .execute(&mut *tx)
        .await?;
        append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The person's newest code: the only one that can be used, so asking
    /// for a new code retires the ones before it.
    pub async fn latest_citizen_code(
        &self,
        person: &PersonHash,
    ) -> Result<Option<CitizenCode>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT id, salt, code_hash, expires_at, attempts, used_at FROM citizen_codes
             WHERE person_hash = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(person.as_str())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let used_at: Option<String> = row.try_get("used_at")?;
        Ok(Some(CitizenCode {
            id: row.try_get("id")?,
            salt: row.try_get("salt")?,
            code_hash: row.try_get("code_hash")?,
            expires_at: parse_ts(&row.try_get::<String, _>("expires_at")?)?,
            attempts: row.try_get("attempts")?,
            used: used_at.is_some(),
        }))
    }

    /// Count one try of a code, unless its `max` tries are spent or it was
    /// used; false then. One statement, so tries made at once cannot all
    /// slip under the limit.
    pub async fn spend_citizen_code_try(&self, id: i64, max: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE citizen_codes SET attempts = attempts + 1
             WHERE id = $1 AND attempts < $2 AND used_at IS NULL",
        )
        .bind(id)
        .bind(max)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Mark a code used and open a session with it, with the sign-in's audit
    /// event, in one transaction; false (and nothing done) when the code was
    /// used meanwhile.
    pub async fn use_citizen_code(
        &self,
        code_id: i64,
        session: &NewCitizenSession<'_>,
        audit: &AuditRecord,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let used =
            sqlx::query("UPDATE citizen_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
                .bind(ts(session.created_at))
                .bind(code_id)
                .execute(&mut *tx)
                .await?;
        if used.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO citizen_sessions (token_hash, person_hash, csrf_token, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(session.token_hash)
        .bind(session.person.as_str())
        .bind(session.csrf_token)
        .bind(ts(session.created_at))
        .bind(ts(session.expires_at))
        .execute(&mut *tx)
        .await?;
        append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The session of a token hash, if it is still open.
    pub async fn citizen_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<CitizenSession>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT person_hash, csrf_token, expires_at FROM citizen_sessions
             WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(ts(now))
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let person: String = row.try_get("person_hash")?;
        Ok(Some(CitizenSession {
            person: PersonHash::parse(&person)
                .ok_or_else(|| StoreError::Corrupt("a citizen session's person".into()))?,
            csrf_token: row.try_get("csrf_token")?,
            expires_at: parse_ts(&row.try_get::<String, _>("expires_at")?)?,
        }))
    }

    /// End a session, with its audit event.
    pub async fn end_citizen_session(
        &self,
        token_hash: &str,
        audit: &AuditRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM citizen_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A session to open.
#[derive(Debug, Clone)]
pub struct NewCitizenSession<'a> {
    pub token_hash: &'a str,
    pub person: &'a PersonHash,
    pub csrf_token: &'a str,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}
