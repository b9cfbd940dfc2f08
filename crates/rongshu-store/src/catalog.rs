//! Resources in the catalog: their versions and lifecycle, the history of every
//! change, the typed table each one's data lives in, and the change sequence
//! that search indexes follow.

use chrono::{DateTime, Utc};
use rongshu_core::audit::AuditRecord;
use rongshu_core::catalog::{
    FieldChange, ResourceSpec, Status, Transition, diff_specs, next_status,
};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::audit::append_in;
use crate::db::{Backend, parse_ts, quote_ident, ts};
use crate::elements::index_elements;
use crate::{Department, Store, StoreError};

/// A resource as the catalog holds it: `spec` is the version readers see (the
/// published one, or the first draft until something is published).
#[derive(Debug, Clone, Serialize)]
pub struct Resource {
    #[serde(skip)]
    pub id: i64,
    pub code: String,
    pub provider: Department,
    #[serde(flatten)]
    pub spec: ResourceSpec,
    pub status: Status,
    /// The version `spec` is.
    pub version: i64,
    /// A newer version under work, and its state (draft or submitted).
    pub working: Option<WorkingVersion>,
    pub publish_date: Option<String>,
    /// Quality rules the provider declared (JSON array of rule objects).
    pub quality_rules: serde_json::Value,
    pub row_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub table_name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkingVersion {
    pub version: i64,
    pub state: Status,
}

/// One version of a resource's declaration.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceVersion {
    pub version: i64,
    pub state: Status,
    pub spec: ResourceSpec,
    pub created_at: String,
    pub created_by: String,
    pub reviewed_by: Option<String>,
    pub review_comment: Option<String>,
}

/// One entry of a resource's history: who did what, when, and what changed.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub version: i64,
    pub comment: Option<String>,
    pub changes: Vec<serde_json::Value>,
}

/// The figures on the portal's front page.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PortalCounts {
    pub departments: i64,
    pub resources: i64,
    pub rows: i64,
}

/// Who changes the catalog, for its history.
pub struct CatalogActor<'a> {
    pub label: &'a str,
    pub now: DateTime<Utc>,
}

const RESOURCE_SELECT: &str = "SELECT r.id, r.code, r.spec, r.table_name, r.row_count, r.status, r.quality_rules, \
     r.version, r.working_version, r.publish_date, r.created_at, r.updated_at, \
     (SELECT v.state FROM resource_versions v WHERE v.resource_id = r.id AND v.version = r.working_version) AS working_state, \
     d.id AS d_id, d.code AS d_code, d.name AS d_name, \
     (SELECT p.code FROM departments p WHERE p.id = d.parent_id) AS d_parent \
     FROM resources r JOIN departments d ON d.id = r.department_id";

fn parse_spec(text: &str) -> Result<ResourceSpec, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("resource spec: {e}")))
}

fn spec_text(spec: &ResourceSpec) -> Result<String, StoreError> {
    serde_json::to_string(spec).map_err(|e| StoreError::Corrupt(format!("resource spec: {e}")))
}

fn status_of(raw: &str) -> Result<Status, StoreError> {
    Status::parse(raw).ok_or_else(|| StoreError::Corrupt(format!("status \"{raw}\"")))
}

fn resource_from(row: &AnyRow) -> Result<Resource, StoreError> {
    let spec_text: String = row.try_get("spec")?;
    let created: String = row.try_get("created_at")?;
    let updated: String = row.try_get("updated_at")?;
    let status: String = row.try_get("status")?;
    let working_version: Option<i64> = row.try_get("working_version")?;
    let working_state: Option<String> = row.try_get("working_state")?;
    let working = match (working_version, working_state) {
        (Some(version), Some(state)) => Some(WorkingVersion {
            version,
            state: status_of(&state)?,
        }),
        _ => None,
    };
    Ok(Resource {
        id: row.try_get("id")?,
        code: row.try_get("code")?,
        provider: Department {
            id: row.try_get("d_id")?,
            code: row.try_get("d_code")?,
            name: row.try_get("d_name")?,
            parent_code: row.try_get("d_parent")?,
        },
        spec: parse_spec(&spec_text)?,
        status: status_of(&status)?,
        version: row.try_get("version")?,
        working,
        publish_date: row.try_get("publish_date")?,
        quality_rules: {
            let text: String = row.try_get("quality_rules")?;
            serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("quality rules: {e}")))?
        },
        row_count: row.try_get("row_count")?,
        created_at: parse_ts(&created)?,
        updated_at: parse_ts(&updated)?,
        table_name: row.try_get("table_name")?,
    })
}

async fn record_change(
    conn: &mut AnyConnection,
    resource_id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO catalog_changes (resource_id, at) VALUES ($1, $2)")
        .bind(resource_id)
        .bind(ts(now))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn record_history(
    conn: &mut AnyConnection,
    resource_id: i64,
    actor: &CatalogActor<'_>,
    action: &str,
    version: i64,
    comment: Option<&str>,
    changes: &[FieldChange],
) -> Result<(), StoreError> {
    let changes = serde_json::to_string(changes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    sqlx::query(
        "INSERT INTO resource_history (resource_id, at, actor, action, version, comment, changes)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(resource_id)
    .bind(ts(actor.now))
    .bind(actor.label)
    .bind(action)
    .bind(version)
    .bind(comment)
    .bind(changes)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The next sequence number under a code prefix (the classification).
async fn next_sequence(conn: &mut AnyConnection, prefix: &str) -> Result<i64, StoreError> {
    Ok(sqlx::query(
        "INSERT INTO code_sequences (prefix, next_value) VALUES ($1, 1)
         ON CONFLICT (prefix) DO UPDATE SET next_value = code_sequences.next_value + 1
         RETURNING next_value",
    )
    .bind(prefix)
    .fetch_one(&mut *conn)
    .await?
    .try_get("next_value")?)
}

fn column_ddl(backend: Backend, item: &rongshu_core::catalog::Item) -> String {
    format!(
        "{} {}",
        quote_ident(item.key.as_str()),
        backend.column_type(item.item_type)
    )
}

/// Why an edit cannot be applied to a resource whose table already exists.
fn check_compatible(old: &ResourceSpec, new: &ResourceSpec) -> Result<(), StoreError> {
    if old.key_items != new.key_items {
        return Err(StoreError::Invalid(
            "key_items cannot change once a resource is registered; register a new resource instead".into(),
        ));
    }
    for item in &new.items {
        if let Some(prev) = old.item(item.key.as_str())
            && prev.item_type != item.item_type
        {
            return Err(StoreError::Invalid(format!(
                "items.{}: its type cannot change from {} to {}; add a new item instead",
                item.key,
                prev.item_type.as_str(),
                item.item_type.as_str()
            )));
        }
    }
    Ok(())
}

impl Store {
    /// Register a resource for a department: version 1 as a draft, its typed
    /// table, its first history entry and its audit event, in one transaction.
    /// The code is `<classification>-<nnnnnn>`, or the given one on import.
    pub async fn create_resource(
        &self,
        department_code: &str,
        spec: &ResourceSpec,
        wanted_code: Option<&str>,
        actor: CatalogActor<'_>,
        mut audit: AuditRecord,
    ) -> Result<Resource, StoreError> {
        let department = self.department(department_code).await?;
        self.check_elements(spec).await?;
        let mut tx = self.begin_write().await?;
        let code = self
            .insert_resource(&mut tx, &department, spec, wanted_code, &actor)
            .await?;
        audit.target = Some(code.clone());
        audit.resource = Some(code.clone());
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.resource(&code).await
    }

    /// Register many resources at once (a catalog import): all of them, or,
    /// on any failure, none.
    pub async fn import_resources(
        &self,
        entries: &[(String, ResourceSpec, Option<String>)],
        actor: CatalogActor<'_>,
        mut audit: AuditRecord,
    ) -> Result<Vec<String>, StoreError> {
        let mut departments = Vec::new();
        for (dept, spec, _) in entries {
            departments.push(self.department(dept).await?);
            self.check_elements(spec).await.map_err(|e| match e {
                StoreError::Invalid(m) => StoreError::Invalid(format!("{}: {m}", spec.name)),
                other => other,
            })?;
        }
        let mut tx = self.begin_write().await?;
        let mut codes = Vec::with_capacity(entries.len());
        for ((_, spec, code), department) in entries.iter().zip(&departments) {
            codes.push(
                self.insert_resource(&mut tx, department, spec, code.as_deref(), &actor)
                    .await?,
            );
        }
        audit.detail = serde_json::json!({ "resources": codes });
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(codes)
    }

    /// Insert a resource (version 1, draft), its typed table and its first
    /// history entry inside the caller's transaction; returns its code.
    async fn insert_resource(
        &self,
        tx: &mut AnyConnection,
        department: &Department,
        spec: &ResourceSpec,
        wanted_code: Option<&str>,
        actor: &CatalogActor<'_>,
    ) -> Result<String, StoreError> {
        let text = spec_text(spec)?;
        let now = actor.now;
        let prefix = spec.classification.compact();
        let code = match wanted_code {
            Some(c) => c.to_owned(),
            None => format!("{prefix}-{:06}", next_sequence(&mut *tx, &prefix).await?),
        };
        let inserted = sqlx::query(
            "INSERT INTO resources (code, department_id, name, summary, share_type, update_cycle,
                 spec, table_name, status, classification, version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, '', 'draft', $8, 1, $9, $9) RETURNING id",
        )
        .bind(&code)
        .bind(department.id)
        .bind(&spec.name)
        .bind(&spec.summary)
        .bind(spec.share_type.as_str())
        .bind(spec.update_cycle.as_str())
        .bind(&text)
        .bind(spec.classification.to_string())
        .bind(ts(now))
        .fetch_one(&mut *tx)
        .await;
        let id: i64 = match inserted {
            Ok(row) => row.try_get("id")?,
            Err(e) if StoreError::is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!(
                    "resource code {code} is taken"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let table_name = format!("res_{id}");
        sqlx::query("UPDATE resources SET table_name = $1 WHERE id = $2")
            .bind(&table_name)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO resource_versions (resource_id, version, state, spec, created_at, created_by)
             VALUES ($1, 1, 'draft', $2, $3, $4)",
        )
        .bind(id)
        .bind(&text)
        .bind(ts(now))
        .bind(actor.label)
        .execute(&mut *tx)
        .await?;
        for statement in self.resource_table_ddl(&table_name, spec) {
            sqlx::query(AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await?;
        }
        index_elements(&mut *tx, id, spec).await?;
        record_history(
            &mut *tx,
            id,
            actor,
            "create",
            1,
            None,
            &diff_specs(None, spec),
        )
        .await?;
        record_change(&mut *tx, id, now).await?;
        Ok(code)
    }

    /// The table's columns come from checked item keys only.
    fn resource_table_ddl(&self, table: &str, spec: &ResourceSpec) -> Vec<String> {
        let mut columns = vec![
            format!("_row_id {}", self.backend.id_column()),
            "_batch_id BIGINT NOT NULL".to_owned(),
        ];
        columns.extend(spec.items.iter().map(|item| column_ddl(self.backend, item)));
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

    /// Edit a resource's declaration. A draft is edited in place; a published
    /// resource gets a new working version (the published one stays what
    /// readers see until the new one is approved). Items may be added (their
    /// columns are added now, invisible to readers until publication); keys and
    /// item types cannot change.
    pub async fn update_resource(
        &self,
        code: &str,
        spec: &ResourceSpec,
        actor: CatalogActor<'_>,
        mut audit: AuditRecord,
    ) -> Result<Resource, StoreError> {
        let current = self.resource(code).await?;
        if current.status == Status::Retired {
            return Err(StoreError::Conflict(format!(
                "{code} is retired and cannot change"
            )));
        }
        if current
            .working
            .as_ref()
            .is_some_and(|w| w.state == Status::Submitted)
            || current.status == Status::Submitted
        {
            return Err(StoreError::Conflict(format!(
                "{code} has a version under review; wait for the review or ask for it to be rejected"
            )));
        }
        let (base_version, base_spec) = match &current.working {
            Some(w) => (
                w.version,
                self.resource_version(code, w.version).await?.spec,
            ),
            None => (current.version, current.spec.clone()),
        };
        check_compatible(&base_spec, spec)?;
        self.check_elements(spec).await?;
        let changes = diff_specs(Some(&base_spec), spec);
        if changes.is_empty() {
            return Ok(current);
        }
        let text = spec_text(spec)?;
        let now = actor.now;
        let mut tx = self.begin_write().await?;
        // Take the resource's row first: two editors serialise here.
        sqlx::query("UPDATE resources SET updated_at = $1 WHERE id = $2")
            .bind(ts(now))
            .bind(current.id)
            .execute(&mut *tx)
            .await?;
        let version = if current.status == Status::Draft {
            // Never published: the draft itself changes, and readers' view with it.
            sqlx::query(
                "UPDATE resource_versions SET spec = $1 WHERE resource_id = $2 AND version = $3",
            )
            .bind(&text)
            .bind(current.id)
            .bind(current.version)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE resources SET spec = $1, name = $2, summary = $3, share_type = $4,
                     update_cycle = $5, classification = $6 WHERE id = $7",
            )
            .bind(&text)
            .bind(&spec.name)
            .bind(&spec.summary)
            .bind(spec.share_type.as_str())
            .bind(spec.update_cycle.as_str())
            .bind(spec.classification.to_string())
            .bind(current.id)
            .execute(&mut *tx)
            .await?;
            index_elements(&mut tx, current.id, spec).await?;
            current.version
        } else if let Some(w) = &current.working {
            sqlx::query(
                "UPDATE resource_versions SET spec = $1 WHERE resource_id = $2 AND version = $3",
            )
            .bind(&text)
            .bind(current.id)
            .bind(w.version)
            .execute(&mut *tx)
            .await?;
            w.version
        } else {
            let version = base_version + 1;
            sqlx::query(
                "INSERT INTO resource_versions (resource_id, version, state, spec, created_at, created_by)
                 VALUES ($1, $2, 'draft', $3, $4, $5)",
            )
            .bind(current.id)
            .bind(version)
            .bind(&text)
            .bind(ts(now))
            .bind(actor.label)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE resources SET working_version = $1 WHERE id = $2")
                .bind(version)
                .bind(current.id)
                .execute(&mut *tx)
                .await?;
            version
        };
        // New items get their columns now; a column is never dropped, so data
        // delivered under an older version stays readable.
        for item in &spec.items {
            let known = base_spec.item(item.key.as_str()).is_some()
                || current.spec.item(item.key.as_str()).is_some();
            if !known {
                let ddl = format!(
                    "ALTER TABLE {} ADD COLUMN {}",
                    quote_ident(&current.table_name),
                    column_ddl(self.backend, item)
                );
                sqlx::query(AssertSqlSafe(ddl)).execute(&mut *tx).await?;
            }
        }
        record_history(
            &mut tx, current.id, &actor, "update", version, None, &changes,
        )
        .await?;
        record_change(&mut tx, current.id, now).await?;
        audit.target = Some(code.to_owned());
        audit.resource = Some(code.to_owned());
        audit.detail = serde_json::json!({ "version": version, "changed": changes.iter().map(|c| c.field.clone()).collect::<Vec<_>>() });
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.resource(code).await
    }

    /// Move a resource along its lifecycle. Who may is the caller's decision;
    /// whether the move exists is the lifecycle's.
    pub async fn transition_resource(
        &self,
        code: &str,
        transition: Transition,
        comment: Option<&str>,
        actor: CatalogActor<'_>,
        mut audit: AuditRecord,
    ) -> Result<Resource, StoreError> {
        let current = self.resource(code).await?;
        let has_published = current.publish_date.is_some();
        let (working_version, working_state) = match (&current.working, current.status) {
            (Some(w), _) => (Some(w.version), Some(w.state)),
            (None, Status::Draft | Status::Submitted) => {
                (Some(current.version), Some(current.status))
            }
            (None, _) => (None, None),
        };
        let next = next_status(
            transition,
            working_state,
            has_published,
            current.status == Status::Retired,
        )
        .map_err(|e| StoreError::Conflict(e.to_string()))?;
        let now = actor.now;
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE resources SET updated_at = $1 WHERE id = $2")
            .bind(ts(now))
            .bind(current.id)
            .execute(&mut *tx)
            .await?;
        let version = working_version.unwrap_or(current.version);
        let mut changes = vec![FieldChange {
            field: "status".into(),
            before: serde_json::Value::String(
                working_state.unwrap_or(current.status).as_str().into(),
            ),
            after: serde_json::Value::String(next.as_str().into()),
        }];
        match transition {
            Transition::Submit | Transition::Reject => {
                sqlx::query(
                    "UPDATE resource_versions SET state = $1, reviewed_by = $2, review_comment = $3
                     WHERE resource_id = $4 AND version = $5",
                )
                .bind(next.as_str())
                .bind((transition == Transition::Reject).then_some(actor.label))
                .bind(comment)
                .bind(current.id)
                .bind(version)
                .execute(&mut *tx)
                .await?;
                if current.working.is_none() {
                    sqlx::query("UPDATE resources SET status = $1 WHERE id = $2")
                        .bind(next.as_str())
                        .bind(current.id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            Transition::Approve => {
                let published = self.resource_version(code, version).await?.spec;
                changes.extend(
                    diff_specs(Some(&current.spec), &published)
                        .into_iter()
                        .filter(|_| version != current.version),
                );
                sqlx::query(
                    "UPDATE resource_versions SET state = 'superseded' WHERE resource_id = $1 AND state = 'published'",
                )
                .bind(current.id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE resource_versions SET state = 'published', reviewed_by = $1, review_comment = $2
                     WHERE resource_id = $3 AND version = $4",
                )
                .bind(actor.label)
                .bind(comment)
                .bind(current.id)
                .bind(version)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE resources SET status = 'published', spec = $1, version = $2, working_version = NULL,
                         name = $3, summary = $4, share_type = $5, update_cycle = $6, classification = $7,
                         published_version = $2, publish_date = $8 WHERE id = $9",
                )
                .bind(spec_text(&published)?)
                .bind(version)
                .bind(&published.name)
                .bind(&published.summary)
                .bind(published.share_type.as_str())
                .bind(published.update_cycle.as_str())
                .bind(published.classification.to_string())
                .bind(now.date_naive().to_string())
                .bind(current.id)
                .execute(&mut *tx)
                .await?;
                index_elements(&mut tx, current.id, &published).await?;
            }
            Transition::Retire => {
                // A version still under work dies with the resource.
                sqlx::query(
                    "UPDATE resource_versions SET state = 'superseded' WHERE resource_id = $1 AND state IN ('draft', 'submitted')",
                )
                .bind(current.id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE resources SET status = 'retired', working_version = NULL WHERE id = $1",
                )
                .bind(current.id)
                .execute(&mut *tx)
                .await?;
            }
        }
        record_history(
            &mut tx,
            current.id,
            &actor,
            transition.as_str(),
            version,
            comment,
            &changes,
        )
        .await?;
        record_change(&mut tx, current.id, now).await?;
        audit.target = Some(code.to_owned());
        audit.resource = Some(code.to_owned());
        audit.detail =
            serde_json::json!({ "version": version, "to": next.as_str(), "comment": comment });
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.resource(code).await
    }

    /// Replace a resource's declared quality rules (checked by the caller),
    /// with its history entry and audit event.
    pub async fn set_quality_rules(
        &self,
        code: &str,
        rules: &serde_json::Value,
        actor: CatalogActor<'_>,
        mut audit: AuditRecord,
    ) -> Result<Resource, StoreError> {
        let current = self.resource(code).await?;
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE resources SET quality_rules = $1, updated_at = $2 WHERE id = $3")
            .bind(rules.to_string())
            .bind(ts(actor.now))
            .bind(current.id)
            .execute(&mut *tx)
            .await?;
        let change = FieldChange {
            field: "quality_rules".into(),
            before: current.quality_rules.clone(),
            after: rules.clone(),
        };
        record_history(
            &mut tx,
            current.id,
            &actor,
            "rules",
            current.version,
            None,
            &[change],
        )
        .await?;
        audit.target = Some(code.to_owned());
        audit.resource = Some(code.to_owned());
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.resource(code).await
    }

    /// Every distinct non-empty value of one item of a resource, for reference
    /// checks (the caller bounds how large a resource it asks this of).
    pub async fn distinct_values(&self, code: &str, item: &str) -> Result<Vec<String>, StoreError> {
        let resource = self.resource(code).await?;
        let Some(item) = resource.spec.item(item) else {
            return Err(StoreError::NotFound(format!("item {item} of {code}")));
        };
        let col = quote_ident(item.key.as_str());
        let sql = format!(
            "SELECT DISTINCT CAST({col} AS TEXT) AS v FROM {} WHERE {col} IS NOT NULL",
            quote_ident(&resource.table_name)
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>("v")?))
            .collect()
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

    pub async fn resource_version(
        &self,
        code: &str,
        version: i64,
    ) -> Result<ResourceVersion, StoreError> {
        let row = sqlx::query(
            "SELECT v.version, v.state, v.spec, v.created_at, v.created_by, v.reviewed_by, v.review_comment
             FROM resource_versions v JOIN resources r ON r.id = v.resource_id
             WHERE r.code = $1 AND v.version = $2",
        )
        .bind(code)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("version {version} of {code}")))?;
        let state: String = row.try_get("state")?;
        let spec: String = row.try_get("spec")?;
        Ok(ResourceVersion {
            version: row.try_get("version")?,
            // Superseded versions read as published: they were, in their time.
            state: Status::parse(&state).unwrap_or(Status::Published),
            spec: parse_spec(&spec)?,
            created_at: row.try_get("created_at")?,
            created_by: row.try_get("created_by")?,
            reviewed_by: row.try_get("reviewed_by")?,
            review_comment: row.try_get("review_comment")?,
        })
    }

    /// A resource's history, newest first.
    pub async fn resource_history(&self, code: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT h.at, h.actor, h.action, h.version, h.comment, h.changes
             FROM resource_history h JOIN resources r ON r.id = h.resource_id
             WHERE r.code = $1 ORDER BY h.id DESC",
        )
        .bind(code)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let changes: String = row.try_get("changes")?;
                Ok(HistoryEntry {
                    at: row.try_get("at")?,
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    version: row.try_get("version")?,
                    comment: row.try_get("comment")?,
                    changes: serde_json::from_str(&changes)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                })
            })
            .collect()
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

    /// The newest catalog change, and the codes changed after `after` (for
    /// search indexes following the catalog).
    pub async fn catalog_changes_since(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<(i64, Vec<String>), StoreError> {
        let rows = sqlx::query(
            "SELECT c.seq, r.code FROM catalog_changes c JOIN resources r ON r.id = c.resource_id
             WHERE c.seq > $1 ORDER BY c.seq LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut last = after;
        let mut codes = Vec::new();
        for row in &rows {
            last = row.try_get("seq")?;
            let code: String = row.try_get("code")?;
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
        Ok((last, codes))
    }

    pub async fn catalog_head(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT COALESCE(MAX(seq), 0) AS s FROM catalog_changes")
                .fetch_one(&self.pool)
                .await?
                .try_get("s")?,
        )
    }

    pub async fn portal_counts(&self) -> Result<PortalCounts, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM departments) AS departments,
                    (SELECT COUNT(*) FROM resources WHERE status IN ('published', 'retired')) AS resources,
                    (SELECT COALESCE(CAST(SUM(row_count) AS BIGINT), 0) FROM resources
                        WHERE status IN ('published', 'retired')) AS total_rows",
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
