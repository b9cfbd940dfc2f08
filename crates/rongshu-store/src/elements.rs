//! The data element registry (一数一源): each element with its one
//! authoritative department, the history of changes to it (an authority
//! changing hands above all), and the resource items that carry it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rongshu_core::audit::AuditRecord;
use rongshu_core::catalog::{ElementCode, ElementSpec, ResourceSpec, Status};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::audit::append_in;
use crate::db::{parse_ts, ts};
use crate::{CatalogActor, Department, DepartmentRef, Store, StoreError};

/// A registered data element.
#[derive(Debug, Clone, Serialize)]
pub struct DataElement {
    #[serde(skip)]
    pub id: i64,
    pub code: ElementCode,
    pub name: String,
    pub name_en: Option<String>,
    pub description: String,
    /// The department whose values are of record.
    pub authority: Department,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One resource item that carries an element.
#[derive(Debug, Clone, Serialize)]
pub struct ElementSource {
    pub resource: String,
    pub resource_name: String,
    pub status: Status,
    pub department: DepartmentRef,
    pub item: String,
    /// True when the resource's department is the element's authority.
    pub authoritative: bool,
}

/// How many published resources carry an element, split by standing.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct SourceCounts {
    pub authoritative: i64,
    pub witnesses: i64,
}

/// One entry of an element's history.
#[derive(Debug, Clone, Serialize)]
pub struct ElementHistoryEntry {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub changes: Value,
}

const ELEMENT_SELECT: &str = "SELECT e.id, e.code, e.name, e.name_en, e.description, e.created_at, e.updated_at, \
     d.id AS d_id, d.code AS d_code, d.name AS d_name, \
     (SELECT p.code FROM departments p WHERE p.id = d.parent_id) AS d_parent \
     FROM data_elements e JOIN departments d ON d.id = e.authority_id";

fn element_from(row: &AnyRow) -> Result<DataElement, StoreError> {
    let code: String = row.try_get("code")?;
    let created: String = row.try_get("created_at")?;
    let updated: String = row.try_get("updated_at")?;
    Ok(DataElement {
        id: row.try_get("id")?,
        code: ElementCode::parse(&code)
            .map_err(|e| StoreError::Corrupt(format!("element code: {e}")))?,
        name: row.try_get("name")?,
        name_en: row.try_get("name_en")?,
        description: row.try_get("description")?,
        authority: Department {
            id: row.try_get("d_id")?,
            code: row.try_get("d_code")?,
            name: row.try_get("d_name")?,
            parent_code: row.try_get("d_parent")?,
        },
        created_at: parse_ts(&created)?,
        updated_at: parse_ts(&updated)?,
    })
}

async fn record_history(
    conn: &mut AnyConnection,
    element_id: i64,
    actor: &CatalogActor<'_>,
    action: &str,
    changes: &Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO data_element_history (element_id, at, actor, action, changes)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(element_id)
    .bind(ts(actor.now))
    .bind(actor.label)
    .bind(action)
    .bind(changes.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Make the item → element index say what `spec` (the resource's current
/// declaration) says.
pub(crate) async fn index_elements(
    conn: &mut AnyConnection,
    resource_id: i64,
    spec: &ResourceSpec,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM resource_item_elements WHERE resource_id = $1")
        .bind(resource_id)
        .execute(&mut *conn)
        .await?;
    for item in &spec.items {
        if let Some(element) = &item.element {
            sqlx::query(
                "INSERT INTO resource_item_elements (resource_id, item_key, element_code)
                 VALUES ($1, $2, $3)",
            )
            .bind(resource_id)
            .bind(item.key.as_str())
            .bind(element.as_str())
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

fn field_change(field: &str, before: Value, after: Value) -> Option<Value> {
    (before != after).then(|| json!({ "field": field, "before": before, "after": after }))
}

impl Store {
    /// Refuse a declaration whose items name an element that is not
    /// registered: an item pointing nowhere could never be told authoritative
    /// or witness. Checked before a write begins; elements are never removed,
    /// so the answer still holds when the write commits.
    pub(crate) async fn check_elements(&self, spec: &ResourceSpec) -> Result<(), StoreError> {
        for (i, item) in spec.items.iter().enumerate() {
            let Some(element) = &item.element else {
                continue;
            };
            let known = sqlx::query("SELECT id FROM data_elements WHERE code = $1")
                .bind(element.as_str())
                .fetch_optional(&self.pool)
                .await?
                .is_some();
            if !known {
                return Err(StoreError::Invalid(format!(
                    "items[{i}].element: \"{element}\" is not a registered data element; \
                     use one from the data element registry or ask the platform office to register it"
                )));
            }
        }
        Ok(())
    }

    /// The authority's department id, or why the declaration cannot stand.
    /// Looked up before a write begins (departments are never removed).
    async fn authority_id(&self, spec: &ElementSpec) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT id FROM departments WHERE code = $1")
            .bind(spec.authority.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| {
                StoreError::Invalid(format!(
                    "authority: department {} does not exist",
                    spec.authority
                ))
            })?;
        Ok(row.try_get("id")?)
    }

    /// Register an element, with its first history entry and its audit event.
    pub async fn create_element(
        &self,
        spec: &ElementSpec,
        actor: CatalogActor<'_>,
        mut audit: AuditRecord,
    ) -> Result<DataElement, StoreError> {
        let authority = self.authority_id(spec).await?;
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO data_elements (code, name, name_en, description, authority_id, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(spec.code.as_str())
        .bind(&spec.name)
        .bind(spec.name_en.as_deref())
        .bind(&spec.description)
        .bind(authority)
        .bind(ts(actor.now))
        .fetch_one(&mut *tx)
        .await;
        let id: i64 = match inserted {
            Ok(row) => row.try_get("id")?,
            Err(e) if StoreError::is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!(
                    "data element {} is already registered",
                    spec.code
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let changes = serde_json::to_value(spec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        record_history(&mut tx, id, &actor, "create", &changes).await?;
        audit.target = Some(spec.code.to_string());
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.element(spec.code.as_str()).await
    }

    /// Change an element's names, description or authority. A change of
    /// authority is kept in the element's history and named in the audit
    /// event; nothing changes when nothing differs.
    pub async fn update_element(
        &self,
        spec: &ElementSpec,
        actor: CatalogActor<'_>,
        mut audit: AuditRecord,
    ) -> Result<DataElement, StoreError> {
        let current = self.element(spec.code.as_str()).await?;
        let changes: Vec<Value> = [
            field_change("name", json!(current.name), json!(spec.name)),
            field_change("name_en", json!(current.name_en), json!(spec.name_en)),
            field_change(
                "description",
                json!(current.description),
                json!(spec.description),
            ),
            field_change(
                "authority",
                json!(current.authority.code),
                json!(spec.authority.as_str()),
            ),
        ]
        .into_iter()
        .flatten()
        .collect();
        if changes.is_empty() {
            return Ok(current);
        }
        let authority = self.authority_id(spec).await?;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE data_elements SET name = $1, name_en = $2, description = $3, authority_id = $4,
                 updated_at = $5 WHERE id = $6",
        )
        .bind(&spec.name)
        .bind(spec.name_en.as_deref())
        .bind(&spec.description)
        .bind(authority)
        .bind(ts(actor.now))
        .bind(current.id)
        .execute(&mut *tx)
        .await?;
        let changes = Value::Array(changes);
        record_history(&mut tx, current.id, &actor, "update", &changes).await?;
        audit.target = Some(spec.code.to_string());
        audit.detail = json!({ "changes": changes });
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.element(spec.code.as_str()).await
    }

    pub async fn element(&self, code: &str) -> Result<DataElement, StoreError> {
        let sql = format!("{ELEMENT_SELECT} WHERE e.code = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(code)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("data element {code}")))?;
        element_from(&row)
    }

    /// Every registered element, by code.
    pub async fn elements(&self) -> Result<Vec<DataElement>, StoreError> {
        let sql = format!("{ELEMENT_SELECT} ORDER BY e.code");
        sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(element_from)
            .collect()
    }

    /// Every resource item that carries the element, in any state (the
    /// caller decides who may see which), by resource code.
    pub async fn element_sources(&self, code: &str) -> Result<Vec<ElementSource>, StoreError> {
        let element = self.element(code).await?;
        let rows = sqlx::query(
            "SELECT r.code, r.name, r.status, i.item_key, d.id AS d_id, d.code AS d_code, d.name AS d_name
             FROM resource_item_elements i
             JOIN resources r ON r.id = i.resource_id
             JOIN departments d ON d.id = r.department_id
             WHERE i.element_code = $1
             ORDER BY r.code, i.item_key",
        )
        .bind(code)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let status: String = row.try_get("status")?;
                let department_id: i64 = row.try_get("d_id")?;
                Ok(ElementSource {
                    resource: row.try_get("code")?,
                    resource_name: row.try_get("name")?,
                    status: Status::parse(&status)
                        .ok_or_else(|| StoreError::Corrupt(format!("status \"{status}\"")))?,
                    department: DepartmentRef {
                        code: row.try_get("d_code")?,
                        name: row.try_get("d_name")?,
                    },
                    item: row.try_get("item_key")?,
                    authoritative: department_id == element.authority.id,
                })
            })
            .collect()
    }

    /// For each element, how many items of published (or retired) resources
    /// carry it, the authority's and the witnesses'.
    pub async fn element_source_counts(&self) -> Result<HashMap<String, SourceCounts>, StoreError> {
        let rows = sqlx::query(
            "SELECT i.element_code,
                    SUM(CASE WHEN r.department_id = e.authority_id THEN 1 ELSE 0 END) AS authoritative,
                    COUNT(*) AS total
             FROM resource_item_elements i
             JOIN resources r ON r.id = i.resource_id
             JOIN data_elements e ON e.code = i.element_code
             WHERE r.status IN ('published', 'retired')
             GROUP BY i.element_code",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = HashMap::with_capacity(rows.len());
        for row in &rows {
            let authoritative: i64 = row.try_get("authoritative")?;
            let total: i64 = row.try_get("total")?;
            out.insert(
                row.try_get("element_code")?,
                SourceCounts {
                    authoritative,
                    witnesses: total - authoritative,
                },
            );
        }
        Ok(out)
    }

    /// The authoritative department's code of each of `codes` that is
    /// registered (for marking a resource's items).
    pub async fn element_authorities(
        &self,
        codes: &[&ElementCode],
    ) -> Result<HashMap<String, String>, StoreError> {
        if codes.is_empty() {
            return Ok(HashMap::new());
        }
        // Placeholders are numbered, never filled with input.
        let placeholders: Vec<String> = (1..=codes.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT e.code, d.code AS d_code FROM data_elements e
             JOIN departments d ON d.id = e.authority_id WHERE e.code IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for code in codes {
            query = query.bind(code.as_str());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| Ok((row.try_get("code")?, row.try_get("d_code")?)))
            .collect()
    }

    /// An element's history, newest first.
    pub async fn element_history(
        &self,
        code: &str,
    ) -> Result<Vec<ElementHistoryEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT h.at, h.actor, h.action, h.changes
             FROM data_element_history h JOIN data_elements e ON e.id = h.element_id
             WHERE e.code = $1 ORDER BY h.id DESC",
        )
        .bind(code)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let changes: String = row.try_get("changes")?;
                Ok(ElementHistoryEntry {
                    at: row.try_get("at")?,
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    changes: serde_json::from_str(&changes)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                })
            })
            .collect()
    }
}
