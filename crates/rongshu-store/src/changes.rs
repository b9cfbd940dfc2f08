//! The change log: every row a batch inserts, updates or deletes gets the next
//! sequence number of its resource, with the batch that caused it. A batch is
//! compared with the current rows first, so a row delivered unchanged logs
//! nothing (a full snapshot logs only what differs).

use std::collections::HashMap;

use rongshu_core::catalog::{ItemType, ResourceSpec};
use serde::Serialize;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::db::{Backend, quote_ident};
use crate::{Resource, Store, StoreError};

/// How a batch treats the rows already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchMode {
    /// Insert new keys, update changed rows, leave the rest (the default).
    Upsert,
    /// The batch is the whole resource: rows it does not name are deleted.
    Replace,
    /// Delete the rows whose keys the batch names.
    Delete,
}

impl BatchMode {
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "upsert" => BatchMode::Upsert,
            "replace" => BatchMode::Replace,
            "delete" => BatchMode::Delete,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BatchMode::Upsert => "upsert",
            BatchMode::Replace => "replace",
            BatchMode::Delete => "delete",
        }
    }
}

/// One logged change, as feeds and tests read it.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub seq: i64,
    pub op: String,
    pub key: serde_json::Value,
    pub record: Option<serde_json::Value>,
    pub batch_id: String,
}

/// A row's values as the text both backends read back, for comparing.
pub(crate) type RowTexts = Vec<Option<String>>;

/// Read-back text in one form whatever the backend (SQLite keeps booleans as 0/1).
pub(crate) fn normalise(item_type: ItemType, text: Option<String>) -> Option<String> {
    match (item_type, text.as_deref()) {
        (ItemType::Boolean, Some("1" | "t")) => Some("true".into()),
        (ItemType::Boolean, Some("0" | "f")) => Some("false".into()),
        _ => text,
    }
}

/// Join key values into one map key.
pub(crate) fn key_of(spec: &ResourceSpec, texts: &[Option<String>]) -> String {
    let mut key = String::new();
    for k in &spec.key_items {
        if let Some(i) = spec.items.iter().position(|it| &it.key == k) {
            key.push_str(texts.get(i).and_then(|t| t.as_deref()).unwrap_or(""));
        }
        key.push('\u{1f}');
    }
    key
}

/// The current rows whose keys appear in `keys_json` (a JSON array of objects
/// carrying the key items), by key.
pub(crate) async fn current_rows(
    conn: &mut AnyConnection,
    backend: Backend,
    resource: &Resource,
    keys_json: &str,
) -> Result<HashMap<String, RowTexts>, StoreError> {
    let spec = &resource.spec;
    let table = quote_ident(&resource.table_name);
    let columns: Vec<String> = spec
        .items
        .iter()
        .map(|i| {
            let c = quote_ident(i.key.as_str());
            format!("CAST(t.{c} AS TEXT) AS {c}")
        })
        .collect();
    let (source, join): (String, Vec<String>) = match backend {
        Backend::Sqlite => (
            "json_each($1) AS j".into(),
            spec.key_items
                .iter()
                .map(|k| {
                    format!(
                        "t.{} = json_extract(j.value, '$.{}')",
                        quote_ident(k.as_str()),
                        k.as_str()
                    )
                })
                .collect(),
        ),
        Backend::Postgres => (
            format!("json_populate_recordset(NULL::{table}, CAST($1 AS json)) AS j"),
            spec.key_items
                .iter()
                .map(|k| format!("t.{c} = j.{c}", c = quote_ident(k.as_str())))
                .collect(),
        ),
    };
    let sql = format!(
        "SELECT {} FROM {source} JOIN {table} AS t ON {}",
        columns.join(", "),
        join.join(" AND ")
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(keys_json)
        .fetch_all(&mut *conn)
        .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in &rows {
        let mut texts = Vec::with_capacity(spec.items.len());
        for item in &spec.items {
            let t: Option<String> = row.try_get(item.key.as_str())?;
            texts.push(normalise(item.item_type, t));
        }
        out.insert(key_of(spec, &texts), texts);
    }
    Ok(out)
}

/// Take `count` sequence numbers for a resource; returns the first.
pub(crate) async fn reserve(
    conn: &mut AnyConnection,
    resource_id: i64,
    count: i64,
) -> Result<i64, StoreError> {
    let last: i64 = sqlx::query(
        "UPDATE resources SET change_seq = change_seq + $1 WHERE id = $2 RETURNING change_seq",
    )
    .bind(count)
    .bind(resource_id)
    .fetch_one(&mut *conn)
    .await?
    .try_get("change_seq")?;
    Ok(last - count + 1)
}

/// Append log entries: (op, key JSON, record JSON or null) from `first` on.
pub(crate) async fn append(
    conn: &mut AnyConnection,
    backend: Backend,
    resource_id: i64,
    batch_row_id: i64,
    first: i64,
    entries: &[(&'static str, String, Option<String>)],
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let rows: Vec<serde_json::Value> = entries
        .iter()
        .enumerate()
        .map(|(i, (op, key, record))| {
            serde_json::json!({ "seq": first + i as i64, "op": op, "row_key": key, "record": record })
        })
        .collect();
    let json = serde_json::Value::Array(rows).to_string();
    let sql = match backend {
        Backend::Sqlite => {
            "INSERT INTO change_log (resource_id, seq, batch_id, op, row_key, record)
             SELECT $2, json_extract(value, '$.seq'), $3, json_extract(value, '$.op'),
                    json_extract(value, '$.row_key'), json_extract(value, '$.record')
             FROM json_each($1)"
        }
        Backend::Postgres => {
            "INSERT INTO change_log (resource_id, seq, batch_id, op, row_key, record)
             SELECT $2, e.seq, $3, e.op, e.row_key, e.record
             FROM json_to_recordset(CAST($1 AS json)) AS e(seq BIGINT, op TEXT, row_key TEXT, record TEXT)"
        }
    };
    sqlx::query(sql)
        .bind(json)
        .bind(resource_id)
        .bind(batch_row_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl Store {
    /// The change log of a resource after `after`, oldest first.
    pub async fn changes(
        &self,
        resource: &Resource,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Change>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.seq, c.op, c.row_key, c.record, b.public_id FROM change_log c
             JOIN batches b ON b.id = c.batch_id
             WHERE c.resource_id = $1 AND c.seq > $2 ORDER BY c.seq LIMIT $3",
        )
        .bind(resource.id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let key: String = r.try_get("row_key")?;
                let record: Option<String> = r.try_get("record")?;
                let parse = |t: &str| {
                    serde_json::from_str(t).map_err(|e| StoreError::Corrupt(e.to_string()))
                };
                Ok(Change {
                    seq: r.try_get("seq")?,
                    op: r.try_get("op")?,
                    key: parse(&key)?,
                    record: record.as_deref().map(parse).transpose()?,
                    batch_id: r.try_get("public_id")?,
                })
            })
            .collect()
    }
}
