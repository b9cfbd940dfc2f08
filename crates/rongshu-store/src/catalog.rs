//! Resources in the catalog, and the typed table each one's data lives in.

use chrono::{DateTime, Utc};
use rongshu_core::audit::AuditRecord;
use rongshu_core::catalog::ResourceSpec;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::audit::append_in;
use crate::db::{parse_ts, quote_ident, ts};
use crate::{Department, Store, StoreError};

/// A resource as the catalog holds it.
#[derive(Debug, Clone, Serialize)]
pub struct Resource {
    #[serde(skip)]
    pub id: i64,
    pub code: String,
    pub provider: Department,
    #[serde(flatten)]
    pub spec: ResourceSpec,
    pub row_count: i64,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub table_name: String,
}

/// The figures on the portal's front page.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PortalCounts {
    pub departments: i64,
    pub resources: i64,
    pub rows: i64,
}

const RESOURCE_SELECT: &str = "SELECT r.id, r.code, r.spec, r.table_name, r.row_count, r.status, \
     r.created_at, r.updated_at, d.id AS d_id, d.code AS d_code, d.name AS d_name, \
     (SELECT p.code FROM departments p WHERE p.id = d.parent_id) AS d_parent \
     FROM resources r JOIN departments d ON d.id = r.department_id";

fn resource_from(row: &AnyRow) -> Result<Resource, StoreError> {
    let spec_text: String = row.try_get("spec")?;
    let spec: ResourceSpec = serde_json::from_str(&spec_text)
        .map_err(|e| StoreError::Corrupt(format!("resource spec: {e}")))?;
    let created: String = row.try_get("created_at")?;
    let updated: String = row.try_get("updated_at")?;
    Ok(Resource {
        id: row.try_get("id")?,
        code: row.try_get("code")?,
        provider: Department {
            id: row.try_get("d_id")?,
            code: row.try_get("d_code")?,
            name: row.try_get("d_name")?,
            parent_code: row.try_get("d_parent")?,
        },
        spec,
        row_count: row.try_get("row_count")?,
        status: row.try_get("status")?,
        created_at: parse_ts(&created)?,
        updated_at: parse_ts(&updated)?,
        table_name: row.try_get("table_name")?,
    })
}

impl Store {
    /// Register a resource for a department and create its typed table, in one
    /// transaction with its audit event. The code is `<department>-<nnnnn>`.
    pub async fn create_resource(
        &self,
        department_code: &str,
        spec: &ResourceSpec,
        now: DateTime<Utc>,
        mut audit: AuditRecord,
    ) -> Result<Resource, StoreError> {
        let department = self.department(department_code).await?;
        let spec_text = serde_json::to_string(spec)
            .map_err(|e| StoreError::Corrupt(format!("resource spec: {e}")))?;
        let mut tx = self.pool.begin().await?;
        // A placeholder code first: the real one is derived from the row id.
        let placeholder = format!("pending-{}", hex::encode(rand::random::<[u8; 8]>()));
        let id: i64 = sqlx::query(
            "INSERT INTO resources (code, department_id, name, summary, share_type, update_cycle,
                 spec, table_name, status, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, '', 'published', $8, $8) RETURNING id",
        )
        .bind(&placeholder)
        .bind(department.id)
        .bind(&spec.name)
        .bind(&spec.summary)
        .bind(spec.share_type.as_str())
        .bind(spec.update_cycle.as_str())
        .bind(&spec_text)
        .bind(ts(now))
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        let code = format!("{}-{id:05}", department.code);
        let table_name = format!("res_{id}");
        sqlx::query("UPDATE resources SET code = $1, table_name = $2 WHERE id = $3")
            .bind(&code)
            .bind(&table_name)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for statement in self.resource_table_ddl(&table_name, spec) {
            sqlx::query(AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await?;
        }
        audit.target = Some(code.clone());
        audit.resource = Some(code.clone());
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.resource(&code).await
    }

    /// The table's columns come from checked item keys only.
    fn resource_table_ddl(&self, table: &str, spec: &ResourceSpec) -> Vec<String> {
        let mut columns = vec![
            format!("_row_id {}", self.backend.id_column()),
            "_batch_id BIGINT NOT NULL".to_owned(),
        ];
        for item in &spec.items {
            columns.push(format!(
                "{} {}",
                quote_ident(item.key.as_str()),
                self.backend.column_type(item.item_type)
            ));
        }
        let key_columns: Vec<String> = spec
            .key_items
            .iter()
            .map(|k| quote_ident(k.as_str()))
            .collect();
        vec![
            format!(
                "CREATE TABLE {} ({})",
                quote_ident(table),
                columns.join(", ")
            ),
            format!(
                "CREATE UNIQUE INDEX {} ON {} ({})",
                quote_ident(&format!("{table}_key")),
                quote_ident(table),
                key_columns.join(", ")
            ),
        ]
    }

    pub async fn resource(&self, code: &str) -> Result<Resource, StoreError> {
        let sql = format!("{RESOURCE_SELECT} WHERE r.code = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(code)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("resource {code}")))?;
        resource_from(&row)
    }

    /// Resources, newest first; only one department's when `department` is given.
    pub async fn resources(&self, department: Option<&str>) -> Result<Vec<Resource>, StoreError> {
        let sql = format!("{RESOURCE_SELECT} WHERE ($1 IS NULL OR d.code = $1) ORDER BY r.id DESC");
        sqlx::query(AssertSqlSafe(sql))
            .bind(department)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(resource_from)
            .collect()
    }

    pub async fn portal_counts(&self) -> Result<PortalCounts, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM departments) AS departments,
                    (SELECT COUNT(*) FROM resources) AS resources,
                    (SELECT COALESCE(CAST(SUM(row_count) AS BIGINT), 0) FROM resources) AS total_rows",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(PortalCounts {
            departments: row.try_get("departments")?,
            resources: row.try_get("resources")?,
            rows: row.try_get("total_rows")?,
        })
    }
}
