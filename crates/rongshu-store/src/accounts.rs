//! Departments, users, API tokens, web sessions and the record of failed
//! sign-ins (applications and their keys are in `applications`). Secrets arrive here already hashed: the store never sees a
//! password or a token in plain.

use chrono::{DateTime, Utc};
use rongshu_core::account::{DepartmentCode, Role, Username};
use rongshu_core::audit::AuditRecord;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::audit::append_in;
use crate::db::{parse_ts, ts};
use crate::{Application, Store, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct Department {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub parent_code: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub department: Department,
    pub roles: Vec<Role>,
}

/// A user as sign-in sees him: with the stored password hash to check against.
#[derive(Debug, Clone)]
pub struct LoginCandidate {
    pub user: User,
    pub password_hash: Option<String>,
    pub disabled: bool,
}

pub struct NewUser<'a> {
    pub username: &'a Username,
    pub department: &'a DepartmentCode,
    pub roles: &'a [Role],
    pub password_hash: Option<&'a str>,
}

/// Whom a token speaks for.
#[derive(Debug, Clone)]
pub enum TokenOwner {
    User(User),
    Application(Application),
}

#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub id: i64,
    pub owner: TokenOwner,
    pub label: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

/// A token to store: its hash, never the token itself.
pub struct NewToken<'a> {
    pub hash: &'a str,
    /// The token's first characters, to recognise it by in a list.
    pub prefix: &'a str,
    pub owner: &'a TokenOwner,
    pub label: &'a str,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub(crate) async fn insert_token(
    conn: &mut sqlx::AnyConnection,
    new: &NewToken<'_>,
) -> Result<i64, StoreError> {
    let (user_id, app_id) = match new.owner {
        TokenOwner::User(u) => (Some(u.id), None),
        TokenOwner::Application(a) => (None, Some(a.id)),
    };
    Ok(sqlx::query(
        "INSERT INTO api_tokens (token_hash, prefix, user_id, application_id, label, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(new.hash)
    .bind(new.prefix)
    .bind(user_id)
    .bind(app_id)
    .bind(new.label)
    .bind(ts(new.created_at))
    .bind(new.expires_at.map(ts))
    .fetch_one(&mut *conn)
    .await?
    .try_get("id")?)
}

#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

pub(crate) const DEPARTMENT_COLUMNS: &str = "d.id AS d_id, d.code AS d_code, d.name AS d_name, \
     (SELECT p.code FROM departments p WHERE p.id = d.parent_id) AS d_parent";

pub(crate) fn department_from(row: &AnyRow) -> Result<Department, StoreError> {
    Ok(Department {
        id: row.try_get("d_id")?,
        code: row.try_get("d_code")?,
        name: row.try_get("d_name")?,
        parent_code: row.try_get("d_parent")?,
    })
}

impl Store {
    pub async fn create_department(
        &self,
        code: &DepartmentCode,
        name: &str,
        parent: Option<&DepartmentCode>,
        audit: AuditRecord,
    ) -> Result<Department, StoreError> {
        let mut tx = self.begin_write().await?;
        let parent_id: Option<i64> = match parent {
            Some(p) => Some(
                sqlx::query("SELECT id FROM departments WHERE code = $1")
                    .bind(p.as_str())
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("parent department {p}")))?
                    .try_get("id")?,
            ),
            None => None,
        };
        let inserted = sqlx::query(
            "INSERT INTO departments (code, name, parent_id, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(code.as_str())
        .bind(name)
        .bind(parent_id)
        .bind(ts(Utc::now()))
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            return Err(if StoreError::is_unique_violation(&e) {
                StoreError::Conflict(format!("department {code} already exists"))
            } else {
                e.into()
            });
        }
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.department(code.as_str()).await
    }

    pub async fn department(&self, code: &str) -> Result<Department, StoreError> {
        let sql = format!("SELECT {DEPARTMENT_COLUMNS} FROM departments d WHERE d.code = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(code)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("department {code}")))?;
        department_from(&row)
    }

    pub async fn departments(&self) -> Result<Vec<Department>, StoreError> {
        let sql = format!("SELECT {DEPARTMENT_COLUMNS} FROM departments d ORDER BY d.code");
        sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(department_from)
            .collect()
    }

    pub async fn create_user(
        &self,
        new: NewUser<'_>,
        audit: AuditRecord,
    ) -> Result<User, StoreError> {
        let department = self.department(new.department.as_str()).await?;
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (username, department_id, password_hash, created_at)
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(new.username.as_str())
        .bind(department.id)
        .bind(new.password_hash)
        .bind(ts(Utc::now()))
        .fetch_one(&mut *tx)
        .await;
        let id: i64 = match inserted {
            Ok(row) => row.try_get("id")?,
            Err(e) if StoreError::is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!(
                    "user {} already exists",
                    new.username
                )));
            }
            Err(e) => return Err(e.into()),
        };
        for role in new.roles {
            sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
                .bind(id)
                .bind(role.as_str())
                .execute(&mut *tx)
                .await?;
        }
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.user_by_id(id).await
    }

    pub async fn set_password_hash(&self, username: &str, hash: &str) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE username = $2")
            .bind(hash)
            .bind(username)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("user {username}")));
        }
        Ok(())
    }

    async fn roles_of(&self, user_id: i64) -> Result<Vec<Role>, StoreError> {
        let rows = sqlx::query("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let raw: String = r.try_get("role")?;
                Role::parse(&raw).map_err(StoreError::Corrupt)
            })
            .collect()
    }

    async fn user_from(&self, row: &AnyRow) -> Result<User, StoreError> {
        let id: i64 = row.try_get("u_id")?;
        Ok(User {
            id,
            username: row.try_get("u_username")?,
            department: department_from(row)?,
            roles: self.roles_of(id).await?,
        })
    }

    fn user_select(where_clause: &str) -> String {
        format!(
            "SELECT u.id AS u_id, u.username AS u_username, u.password_hash AS u_hash, \
             u.disabled AS u_disabled, {DEPARTMENT_COLUMNS} \
             FROM users u JOIN departments d ON d.id = u.department_id WHERE {where_clause}"
        )
    }

    pub async fn user_by_id(&self, id: i64) -> Result<User, StoreError> {
        let row = sqlx::query(AssertSqlSafe(Self::user_select("u.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user #{id}")))?;
        self.user_from(&row).await
    }

    pub async fn user_by_name(&self, username: &str) -> Result<User, StoreError> {
        Ok(self.login_candidate(username).await?.user)
    }

    pub async fn login_candidate(&self, username: &str) -> Result<LoginCandidate, StoreError> {
        let row = sqlx::query(AssertSqlSafe(Self::user_select("u.username = $1")))
            .bind(username)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {username}")))?;
        Ok(LoginCandidate {
            user: self.user_from(&row).await?,
            password_hash: row.try_get("u_hash")?,
            disabled: row.try_get::<i64, _>("u_disabled")? != 0,
        })
    }

    /// Store a new token's hash for a user or an application; returns its id.
    pub async fn create_token(
        &self,
        new: NewToken<'_>,
        audit: AuditRecord,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let id = insert_token(&mut tx, &new).await?;
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The token with this hash, whatever its state; the caller judges expiry
    /// and revocation against its clock.
    pub async fn token_by_hash(&self, token_hash: &str) -> Result<Option<TokenInfo>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT id, user_id, application_id, label, expires_at, revoked_at
             FROM api_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let user_id: Option<i64> = row.try_get("user_id")?;
        let app_id: Option<i64> = row.try_get("application_id")?;
        let owner = match (user_id, app_id) {
            (Some(u), _) => TokenOwner::User(self.user_by_id(u).await?),
            (None, Some(a)) => TokenOwner::Application(self.application_by_id(a).await?),
            (None, None) => return Err(StoreError::Corrupt("token without an owner".into())),
        };
        let expires_at: Option<String> = row.try_get("expires_at")?;
        let revoked_at: Option<String> = row.try_get("revoked_at")?;
        Ok(Some(TokenInfo {
            id: row.try_get("id")?,
            owner,
            label: row.try_get("label")?,
            expires_at: expires_at.as_deref().map(parse_ts).transpose()?,
            revoked: revoked_at.is_some(),
        }))
    }

    /// Revoke a token. Only its owner (user) or an admin of the owning
    /// department may; the caller checks that and passes the token's id.
    pub async fn revoke_token(
        &self,
        id: i64,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(ts(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("active token #{id}")));
        }
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Who owns token `id` (user id or application's department), for the
    /// permission check before revocation.
    pub async fn token_by_id(&self, id: i64) -> Result<TokenInfo, StoreError> {
        let row = sqlx::query("SELECT token_hash FROM api_tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("token #{id}")))?;
        let hash: String = row.try_get("token_hash")?;
        self.token_by_hash(&hash)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("token #{id}")))
    }

    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf_token: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf_token)
        .bind(ts(now))
        .bind(ts(expires_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn session_by_hash(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT user_id, csrf_token, expires_at FROM sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(ts(now))
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let expires_at: String = row.try_get("expires_at")?;
        Ok(Some(Session {
            user: self.user_by_id(row.try_get("user_id")?).await?,
            csrf_token: row.try_get("csrf_token")?,
            expires_at: parse_ts(&expires_at)?,
        }))
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn record_login_failure(
        &self,
        username: &str,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO login_failures (username, at) VALUES ($1, $2)")
            .bind(username)
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn login_failures_since(
        &self,
        username: &str,
        since: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT COUNT(*) AS n FROM login_failures WHERE username = $1 AND at > $2")
                .bind(username)
                .bind(ts(since))
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?,
        )
    }

    pub async fn clear_login_failures(&self, username: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_failures WHERE username = $1")
            .bind(username)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
