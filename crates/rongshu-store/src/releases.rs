//! Open-data releases: the view a provider proposed, its scan, the treatment
//! of each flagged item, the review, and a change sequence that every
//! process's open-data index follows. Each change is written with its audit
//! event in one transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rongshu_core::audit::AuditRecord;
use rongshu_core::opendata::{ReleaseOpenType, ReleaseState, ReleaseView, ScanReport, Treatment};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::audit::append_in;
use crate::db::{parse_ts, ts};
use crate::{Department, Resource, Store, StoreError};

/// A release as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Release {
    pub id: i64,
    pub name: String,
    pub resource_code: String,
    pub provider: Department,
    pub title: String,
    pub description: String,
    pub open_type: ReleaseOpenType,
    pub open_condition: Option<String>,
    pub license: String,
    pub view: ReleaseView,
    pub scan: ScanReport,
    pub treatments: BTreeMap<String, Treatment>,
    pub state: ReleaseState,
    pub proposed_by: String,
    pub proposed_at: DateTime<Utc>,
    pub reviewed_by: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub withdrawn_by: Option<String>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// A proposal, checked and scanned.
pub struct NewRelease<'a> {
    pub name: &'a str,
    pub resource: &'a Resource,
    pub title: &'a str,
    pub description: &'a str,
    pub open_type: ReleaseOpenType,
    pub open_condition: Option<&'a str>,
    pub license: &'a str,
    pub view: &'a ReleaseView,
    pub scan: &'a ScanReport,
    pub proposed_by: &'a str,
    pub now: DateTime<Utc>,
}

/// A step of a release's review.
pub enum ReleaseChange<'a> {
    /// New treatments (the whole map); only while proposed.
    Treatments(&'a BTreeMap<String, Treatment>),
    /// Approved and published by `reviewer`; only while proposed.
    Publish { reviewer: &'a str },
    /// Taken back by `by`, from any state but withdrawn.
    Withdraw { by: &'a str },
    /// A fresh scan of a published release's data; `suspend` when it found
    /// what the treatments do not cover.
    Rescan { scan: &'a ScanReport, suspend: bool },
}

const RELEASE_SELECT: &str = "SELECT o.id, o.name, o.title, o.description, o.open_type, o.open_condition, \
     o.license, o.view, o.scan, o.treatments, o.state, o.proposed_by, o.proposed_at, o.reviewed_by, \
     o.published_at, o.withdrawn_by, o.withdrawn_at, o.updated_at, r.code AS resource_code, \
     d.id AS d_id, d.code AS d_code, d.name AS d_name, \
     (SELECT p.code FROM departments p WHERE p.id = d.parent_id) AS d_parent \
     FROM open_releases o JOIN resources r ON r.id = o.resource_id \
     JOIN departments d ON d.id = r.department_id";

fn json_of<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("release: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("release {what}: {e}")))
}

fn optional_ts(raw: Option<String>) -> Result<Option<DateTime<Utc>>, StoreError> {
    raw.as_deref().map(parse_ts).transpose()
}

fn release_from(row: &AnyRow) -> Result<Release, StoreError> {
    let open_type: String = row.try_get("open_type")?;
    let state: String = row.try_get("state")?;
    Ok(Release {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        resource_code: row.try_get("resource_code")?,
        provider: Department {
            id: row.try_get("d_id")?,
            code: row.try_get("d_code")?,
            name: row.try_get("d_name")?,
            parent_code: row.try_get("d_parent")?,
        },
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        open_type: from_json(&format!("\"{open_type}\""), "open type")?,
        open_condition: row.try_get("open_condition")?,
        license: row.try_get("license")?,
        view: from_json(&row.try_get::<String, _>("view")?, "view")?,
        scan: from_json(&row.try_get::<String, _>("scan")?, "scan")?,
        treatments: from_json(&row.try_get::<String, _>("treatments")?, "treatments")?,
        state: ReleaseState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("release state \"{state}\"")))?,
        proposed_by: row.try_get("proposed_by")?,
        proposed_at: parse_ts(&row.try_get::<String, _>("proposed_at")?)?,
        reviewed_by: row.try_get("reviewed_by")?,
        published_at: optional_ts(row.try_get("published_at")?)?,
        withdrawn_by: row.try_get("withdrawn_by")?,
        withdrawn_at: optional_ts(row.try_get("withdrawn_at")?)?,
        updated_at: parse_ts(&row.try_get::<String, _>("updated_at")?)?,
    })
}

async fn record_release_change(
    conn: &mut AnyConnection,
    release_id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO open_release_changes (release_id, at) VALUES ($1, $2)")
        .bind(release_id)
        .bind(ts(now))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl Store {
    /// Store a proposal with its audit event. A taken name is a conflict.
    pub async fn create_release(
        &self,
        new: &NewRelease<'_>,
        audit: &AuditRecord,
    ) -> Result<Release, StoreError> {
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO open_releases (name, resource_id, title, description, open_type, open_condition,
                 license, view, scan, treatments, state, proposed_by, proposed_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '{}', 'proposed', $10, $11, $11)
             RETURNING id",
        )
        .bind(new.name)
        .bind(new.resource.id)
        .bind(new.title)
        .bind(new.description)
        .bind(new.open_type.as_str())
        .bind(new.open_condition)
        .bind(new.license)
        .bind(json_of(new.view)?)
        .bind(json_of(new.scan)?)
        .bind(new.proposed_by)
        .bind(ts(new.now))
        .fetch_one(&mut *tx)
        .await;
        let id: i64 = match inserted {
            Ok(row) => row.try_get("id")?,
            Err(e) if StoreError::is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!(
                    "name: a dataset named \"{}\" exists already; give this release another name",
                    new.name
                )));
            }
            Err(e) => return Err(e.into()),
        };
        record_release_change(&mut tx, id, new.now).await?;
        let mut audit = audit.clone();
        audit.target = Some(format!("release:{id}"));
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.release(id).await
    }

    /// Apply one step of the review, if the release is still where the step
    /// starts from (a concurrent step makes this a conflict, not a lost write).
    pub async fn change_release(
        &self,
        id: i64,
        change: ReleaseChange<'_>,
        now: DateTime<Utc>,
        audit: &AuditRecord,
    ) -> Result<Release, StoreError> {
        let mut tx = self.begin_write().await?;
        let at = ts(now);
        let result = match change {
            ReleaseChange::Treatments(treatments) => {
                sqlx::query(
                    "UPDATE open_releases SET treatments = $1, updated_at = $2
                     WHERE id = $3 AND state IN ('proposed', 'suspended')",
                )
                .bind(json_of(treatments)?)
                .bind(&at)
                .bind(id)
                .execute(&mut *tx)
                .await?
            }
            ReleaseChange::Publish { reviewer } => {
                sqlx::query(
                    "UPDATE open_releases SET state = 'published', reviewed_by = $1,
                         published_at = COALESCE(published_at, $2), updated_at = $2
                     WHERE id = $3 AND state IN ('proposed', 'suspended')",
                )
                .bind(reviewer)
                .bind(&at)
                .bind(id)
                .execute(&mut *tx)
                .await?
            }
            ReleaseChange::Rescan { scan, suspend } => {
                let state = if suspend { "suspended" } else { "published" };
                sqlx::query(
                    "UPDATE open_releases SET scan = $1, state = $2, updated_at = $3
                     WHERE id = $4 AND state = 'published'",
                )
                .bind(json_of(scan)?)
                .bind(state)
                .bind(&at)
                .bind(id)
                .execute(&mut *tx)
                .await?
            }
            ReleaseChange::Withdraw { by } => {
                sqlx::query(
                    "UPDATE open_releases SET state = 'withdrawn', withdrawn_by = $1,
                         withdrawn_at = $2, updated_at = $2
                     WHERE id = $3 AND state <> 'withdrawn'",
                )
                .bind(by)
                .bind(&at)
                .bind(id)
                .execute(&mut *tx)
                .await?
            }
        };
        if result.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(StoreError::Conflict(format!(
                "release {id} changed meanwhile; read it again"
            )));
        }
        record_release_change(&mut tx, id, now).await?;
        let mut audit = audit.clone();
        audit.target = Some(format!("release:{id}"));
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.release(id).await
    }

    pub async fn release(&self, id: i64) -> Result<Release, StoreError> {
        let sql = format!("{RELEASE_SELECT} WHERE o.id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("release {id}")))?;
        release_from(&row)
    }

    pub async fn release_by_name(&self, name: &str) -> Result<Release, StoreError> {
        let sql = format!("{RELEASE_SELECT} WHERE o.name = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("dataset {name}")))?;
        release_from(&row)
    }

    /// Releases in `state` (any when `None`), of one department when given,
    /// oldest first.
    pub async fn releases(
        &self,
        state: Option<ReleaseState>,
        department: Option<&str>,
    ) -> Result<Vec<Release>, StoreError> {
        let sql = format!(
            "{RELEASE_SELECT} WHERE ($1 IS NULL OR o.state = $1) AND ($2 IS NULL OR d.code = $2)
             ORDER BY o.id"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(state.map(ReleaseState::as_str))
            .bind(department)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(release_from)
            .collect()
    }

    /// The newest release change: an index built at this number is current.
    pub async fn release_head(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT COALESCE(MAX(seq), 0) AS s FROM open_release_changes")
                .fetch_one(&self.pool)
                .await?
                .try_get("s")?,
        )
    }
}
