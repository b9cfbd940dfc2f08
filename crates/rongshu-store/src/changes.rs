//! The change log: every row a batch inserts, updates or deletes gets the next
//! sequence number of its resource, with the batch that caused it. A batch is
//! compared with the current rows first (see `stage`), so a row delivered
//! unchanged logs nothing (a full snapshot logs only what differs).

use serde::Serialize;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::stage::StageSql;
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
    /// For a deletion, the row as last logged before it: whose row it was
    /// when its key does not say (the audit names the people a feed touched).
    #[serde(skip)]
    pub deleted: Option<serde_json::Value>,
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

/// Remove the log entries beyond a resource's published sequence, before a
/// batch applied in place logs its changes there. Only a large batch that
/// stopped half way leaves such entries (see `beside`); they are discarded
/// once it is marked failed, but that runs after the mark, and a process
/// may stop in between, so the next batch may come first. One batch of a
/// resource loads at a time, so whatever lies there is a dead batch's;
/// normally nothing does, and this is one probe of the log's key.
pub(crate) async fn clear_unpublished(
    conn: &mut AnyConnection,
    resource_id: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM change_log WHERE resource_id = $1
           AND seq > (SELECT change_seq FROM resources WHERE id = $1)",
    )
    .bind(resource_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Store {
    /// The change log of a resource after `after`, oldest first. Only what
    /// a finished batch published: a large batch logs its changes before its
    /// final step makes them the resource's (see `beside`).
    pub async fn changes(
        &self,
        resource: &Resource,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Change>, StoreError> {
        // One read: a batch that writes an entry out of its row and then
        // changes the row must not fall between the log's read and the rows'.
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT c.seq, c.op, c.row_key, c.record, b.public_id,
                    CASE WHEN c.op = 'delete' THEN
                        (SELECT p.record FROM change_log p
                         WHERE p.resource_id = c.resource_id AND p.row_key = c.row_key
                           AND p.seq < c.seq AND p.record IS NOT NULL
                         ORDER BY p.seq DESC LIMIT 1)
                    END AS deleted
             FROM change_log c
             JOIN batches b ON b.id = c.batch_id
             WHERE c.resource_id = $1 AND c.seq > $2
               AND c.seq <= (SELECT change_seq FROM resources WHERE id = $1)
             ORDER BY c.seq LIMIT $3",
        )
        .bind(resource.id)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut changes = rows
            .iter()
            .map(|r| {
                let key: String = r.try_get("row_key")?;
                let record: Option<String> = r.try_get("record")?;
                let deleted: Option<String> = r.try_get("deleted")?;
                Ok(Change {
                    seq: r.try_get("seq")?,
                    op: r.try_get("op")?,
                    key: parse_logged(&key)?,
                    record: record.as_deref().map(parse_logged).transpose()?,
                    batch_id: r.try_get("public_id")?,
                    deleted: deleted.as_deref().map(parse_logged).transpose()?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let published = published_seq(&mut tx, resource.id).await?;
        for entry in self
            .entries_in_table(&mut tx, resource, after, published, limit)
            .await?
        {
            changes.push(Change {
                seq: entry.seq,
                op: "insert".to_owned(),
                key: parse_logged(&entry.row_key)?,
                record: Some(parse_logged(&entry.record)?),
                batch_id: entry.batch_id,
                deleted: None,
            });
        }
        tx.commit().await?;
        changes.sort_by_key(|c| c.seq);
        changes.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(changes)
    }

    /// The entries still read from the rows of batches logged by them (see
    /// `table_log`), with sequence numbers from `after` (exclusive) to
    /// `upto` (inclusive), oldest first: at most `limit` of each batch,
    /// for the caller to merge with the log's own and cut.
    async fn entries_in_table(
        &self,
        conn: &mut AnyConnection,
        resource: &Resource,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<TableEntry>, StoreError> {
        if upto <= after || limit <= 0 {
            return Ok(Vec::new());
        }
        let batches = sqlx::query(
            "SELECT id, public_id FROM batches
             WHERE resource_id = $1 AND logged_in_table = 1 AND state = 'loaded'
               AND last_seq > $2 AND first_seq <= $3
             ORDER BY first_seq",
        )
        .bind(resource.id)
        .bind(after)
        .bind(upto)
        .fetch_all(&mut *conn)
        .await?;
        if batches.is_empty() {
            return Ok(Vec::new());
        }
        let sql = StageSql::new(self.backend, resource, BatchMode::Upsert, 0, 0).entries_in_table();
        let mut entries = Vec::new();
        for batch in &batches {
            let (id, public_id): (i64, String) =
                (batch.try_get("id")?, batch.try_get("public_id")?);
            let rows = sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(after)
                .bind(upto)
                .bind(id)
                .bind(resource.id)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?;
            for row in &rows {
                entries.push(TableEntry {
                    seq: row.try_get("seq")?,
                    row_key: row.try_get("row_key")?,
                    record: row.try_get("record")?,
                    batch_id: public_id.clone(),
                });
            }
        }
        Ok(entries)
    }
}

/// An insert read from the row it inserted (see `table_log`).
struct TableEntry {
    seq: i64,
    row_key: String,
    record: String,
    batch_id: String,
}

/// The resource's published sequence number: its last finished batch's last.
async fn published_seq(conn: &mut AnyConnection, resource_id: i64) -> Result<i64, StoreError> {
    Ok(
        sqlx::query("SELECT change_seq FROM resources WHERE id = $1")
            .bind(resource_id)
            .fetch_one(&mut *conn)
            .await?
            .try_get("change_seq")?,
    )
}

fn parse_logged(text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A page of a resource's rows as they stood after a past batch.
#[derive(Debug, Clone)]
pub struct AsOfPage {
    /// Each row as that batch left it, every item present (null when empty).
    pub records: Vec<serde_json::Map<String, serde_json::Value>>,
    /// The change-log position to continue after, when there is more.
    pub next_after: Option<i64>,
}

impl Store {
    /// The rows of a resource as they stood when batch `batch` had been
    /// applied, rebuilt from the change log: for each key, its last change up
    /// to that batch, unless that change deleted it. Paged in change-log order
    /// (`after` is the position of the last row of the previous page).
    pub async fn records_as_of(
        &self,
        resource: &Resource,
        batch: &str,
        after: i64,
        limit: i64,
    ) -> Result<AsOfPage, StoreError> {
        let found =
            sqlx::query("SELECT id, state FROM batches WHERE public_id = $1 AND resource_id = $2")
                .bind(batch)
                .bind(resource.id)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| {
                    StoreError::NotFound(format!("batch {batch} of {}", resource.code))
                })?;
        let state: String = found.try_get("state")?;
        if state != "loaded" {
            return Err(StoreError::Invalid(format!(
                "batch {batch} was not loaded ({state}): there is no data as of it"
            )));
        }
        let batch_id: i64 = found.try_get("id")?;
        // One read, as for `changes`.
        let mut tx = self.pool.begin().await?;
        // Batches of one resource load one at a time, so everything logged by
        // this batch or an earlier one is what readers saw after it. A batch
        // whose inserts are read from its rows logged none in the log.
        let upto: Option<i64> = sqlx::query(
            "SELECT MAX(upto) AS upto FROM (
                 SELECT MAX(seq) AS upto FROM change_log WHERE resource_id = $1 AND batch_id <= $2
                   AND seq <= (SELECT change_seq FROM resources WHERE id = $1)
                 UNION ALL
                 SELECT MAX(last_seq) AS upto FROM batches WHERE resource_id = $1 AND id <= $2
                   AND logged_in_table = 1 AND state = 'loaded') AS known",
        )
        .bind(resource.id)
        .bind(batch_id)
        .fetch_one(&mut *tx)
        .await?
        .try_get("upto")?;
        let Some(upto) = upto else {
            return Ok(AsOfPage {
                records: Vec::new(),
                next_after: None,
            });
        };
        let rows = sqlx::query(
            "SELECT c.seq, c.record FROM change_log c
             WHERE c.resource_id = $1 AND c.seq <= $2 AND c.seq > $3 AND c.op <> 'delete'
               AND NOT EXISTS (SELECT 1 FROM change_log n
                               WHERE n.resource_id = c.resource_id AND n.row_key = c.row_key
                                 AND n.seq > c.seq AND n.seq <= $2)
             ORDER BY c.seq LIMIT $4",
        )
        .bind(resource.id)
        .bind(upto)
        .bind(after)
        .bind(limit + 1)
        .fetch_all(&mut *tx)
        .await?;
        let mut found: Vec<(i64, Option<String>)> = rows
            .iter()
            .map(|row| Ok((row.try_get("seq")?, row.try_get("record")?)))
            .collect::<Result<_, StoreError>>()?;
        // A row still read from its table has not changed since its batch,
        // so no later change replaced it.
        for entry in self
            .entries_in_table(&mut tx, resource, after, upto, limit + 1)
            .await?
        {
            found.push((entry.seq, Some(entry.record)));
        }
        tx.commit().await?;
        found.sort_by_key(|(seq, _)| *seq);
        let more = found.len() as i64 > limit;
        let mut records = Vec::with_capacity(found.len());
        let mut last = None;
        for (seq, text) in found.iter().take(limit.max(0) as usize) {
            let mut logged: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(text.as_deref().unwrap_or("{}"))
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            // Logged records leave out empty items; a page lists every item.
            let mut record = serde_json::Map::with_capacity(resource.spec.items.len());
            for item in &resource.spec.items {
                let key = item.key.as_str();
                record.insert(
                    key.to_owned(),
                    logged.remove(key).unwrap_or(serde_json::Value::Null),
                );
            }
            records.push(record);
            last = Some(*seq);
        }
        Ok(AsOfPage {
            records,
            next_after: if more { last } else { None },
        })
    }
}
