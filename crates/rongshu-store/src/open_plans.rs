//! Annual open-data plans: the entries each department promised, with the
//! day a release of each entry's resource was first published.

use chrono::{DateTime, NaiveDate, Utc};
use rongshu_core::audit::AuditRecord;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::audit::append_in;
use crate::db::{parse_ts, ts};
use crate::{Resource, Store, StoreError};

/// A plan entry with what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct PlanEntry {
    pub id: i64,
    pub department_code: String,
    pub department_name: String,
    pub year: i32,
    pub title: String,
    pub resource: String,
    pub due: NaiveDate,
    /// When a release of the resource was first published, if one was.
    pub first_published: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// An entry to add to the plan of the resource's department.
#[derive(Debug, Clone, Copy)]
pub struct NewPlanEntry<'a> {
    pub resource: &'a Resource,
    pub year: i32,
    pub title: &'a str,
    pub due: NaiveDate,
    pub by: &'a str,
    pub now: DateTime<Utc>,
}

const ENTRY_SELECT: &str = "SELECT e.id, e.year, e.title, e.due, e.created_by, e.created_at, \
     d.code AS d_code, d.name AS d_name, r.code AS resource_code, \
     (SELECT MIN(o.published_at) FROM open_releases o \
      WHERE o.resource_id = e.resource_id AND o.published_at IS NOT NULL) AS first_published \
     FROM open_plan_entries e JOIN departments d ON d.id = e.department_id \
     JOIN resources r ON r.id = e.resource_id";

fn entry_of(row: &AnyRow) -> Result<PlanEntry, StoreError> {
    let due: String = row.try_get("due")?;
    Ok(PlanEntry {
        id: row.try_get("id")?,
        department_code: row.try_get("d_code")?,
        department_name: row.try_get("d_name")?,
        year: i32::try_from(row.try_get::<i64, _>("year")?)
            .map_err(|_| StoreError::Corrupt("plan year".into()))?,
        title: row.try_get("title")?,
        resource: row.try_get("resource_code")?,
        due: NaiveDate::parse_from_str(&due, "%Y-%m-%d")
            .map_err(|_| StoreError::Corrupt(format!("plan due day {due}")))?,
        first_published: row
            .try_get::<Option<String>, _>("first_published")?
            .as_deref()
            .map(parse_ts)
            .transpose()?,
        created_by: row.try_get("created_by")?,
        created_at: parse_ts(&row.try_get::<String, _>("created_at")?)?,
    })
}

impl Store {
    /// Add an entry to the plan of the resource's department, audited.
    pub async fn add_plan_entry(
        &self,
        new: &NewPlanEntry<'_>,
        audit: &AuditRecord,
    ) -> Result<PlanEntry, StoreError> {
        let NewPlanEntry {
            resource,
            year,
            title,
            due,
            by,
            now,
        } = *new;
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO open_plan_entries (department_id, year, title, resource_id, due, created_by, created_at)
             VALUES ((SELECT department_id FROM resources WHERE id = $1), $2, $3, $1, $4, $5, $6)
             RETURNING id",
        )
        .bind(resource.id)
        .bind(i64::from(year))
        .bind(title)
        .bind(due.format("%Y-%m-%d").to_string())
        .bind(by)
        .bind(ts(now))
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        let mut audit = audit.clone();
        audit.target = Some(format!("open_plan:{id}"));
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.plan_entry(id).await
    }

    pub async fn plan_entry(&self, id: i64) -> Result<PlanEntry, StoreError> {
        let sql = format!("{ENTRY_SELECT} WHERE e.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("plan entry {id}")))?;
        entry_of(&row)
    }

    /// A year's entries, of one department or all, by department and due day.
    pub async fn plan_entries(
        &self,
        year: i32,
        department: Option<&str>,
    ) -> Result<Vec<PlanEntry>, StoreError> {
        let sql = format!(
            "{ENTRY_SELECT} WHERE e.year = $1 AND ($2 IS NULL OR d.code = $2)
             ORDER BY d.code, e.due, e.id"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(i64::from(year))
            .bind(department)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(entry_of)
            .collect()
    }

    /// Take an entry out of the plan, audited.
    pub async fn remove_plan_entry(&self, id: i64, audit: &AuditRecord) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM open_plan_entries WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(StoreError::NotFound(format!("plan entry {id}")));
        }
        let mut audit = audit.clone();
        audit.target = Some(format!("open_plan:{id}"));
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }
}
