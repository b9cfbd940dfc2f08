//! The change log: every row a batch inserts, updates or deletes gets the next
//! sequence number of its resource, with the batch that caused it. A batch is
//! compared with the current rows first (see `stage`), so a row delivered
//! unchanged logs nothing (a full snapshot logs only what differs).

use serde::Serialize;
use sqlx::{AnyConnection, Row};

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
