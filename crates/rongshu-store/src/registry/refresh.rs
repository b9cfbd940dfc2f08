//! Keeping the observations in step with the resources: each resource whose
//! items carry a registry key element (`person.citizen_id`, `entity.uscc`) is
//! read in row order, a page at a time, and each page is compared with what
//! was observed of the same rows before; only the differences are written,
//! and the subjects they touch are returned. Rows that left the resource are
//! found by a count and then an anti-join on the database's side, so memory
//! holds one page and never the resource.

use std::collections::{BTreeSet, HashMap};

use rongshu_core::registry::SubjectKind;
use sqlx::{AssertSqlSafe, Row};

use crate::db::quote_ident;
use crate::{Resource, Store, StoreError};

/// Rows read, and compared with their stored observations, per round trip.
const PAGE: i64 = 5_000;
/// Row keys per `IN` lookup of stored observations.
const LOOKUP: usize = 500;
/// Rows per multi-row insert (9 values each, well under SQLite's limit).
const INSERT_ROWS: usize = 400;
/// Bytes a touched subject costs in memory (key, kind, set node), roughly.
const TOUCHED_BYTES: u64 = 128;

/// A resource feeding a registry: which item holds the subject's key and
/// which items carry which elements.
#[derive(Debug, Clone)]
pub(crate) struct Feed {
    pub resource: Resource,
    pub kind: SubjectKind,
    pub key_item: String,
    /// (item, element), the key item included.
    pub items: Vec<(String, String)>,
}

impl Feed {
    /// The feed a resource is, if any: the first item carrying a key element
    /// decides the registry; items of the other registry's elements (a legal
    /// representative's ID in an entity register is the entity's element) are
    /// kept only when they belong to the same registry.
    pub(crate) fn of(resource: &Resource) -> Option<Feed> {
        let mut found: Option<(SubjectKind, String)> = None;
        for item in &resource.spec.items {
            let Some(element) = &item.element else {
                continue;
            };
            for kind in [SubjectKind::Person, SubjectKind::Entity] {
                if element.as_str() == kind.key_element() && found.is_none() {
                    found = Some((kind, item.key.to_string()));
                }
            }
        }
        let (kind, key_item) = found?;
        let items = resource
            .spec
            .items
            .iter()
            .filter_map(|i| {
                let e = i.element.as_ref()?;
                (SubjectKind::of_element(e.as_str()) == Some(kind))
                    .then(|| (i.key.to_string(), e.to_string()))
            })
            .collect();
        Some(Feed {
            resource: resource.clone(),
            kind,
            key_item,
            items,
        })
    }
}

/// The subjects a refresh touched, or, past the budget, everything.
#[derive(Debug)]
pub(crate) enum Touched {
    Subjects(BTreeSet<(SubjectKind, String)>),
    /// More subjects changed than the memory budget keeps: verify them all.
    Everything,
}

/// Collects touched subjects up to a limit, then gives up on the list.
struct TouchedSet {
    subjects: BTreeSet<(SubjectKind, String)>,
    limit: usize,
    overflowed: bool,
}

impl TouchedSet {
    fn new(memory_mib: u64) -> Self {
        // A quarter of the budget; the pages and chunks take far less.
        let limit = (memory_mib.saturating_mul(1 << 20) / 4 / TOUCHED_BYTES).max(1_000);
        TouchedSet {
            subjects: BTreeSet::new(),
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            overflowed: false,
        }
    }

    fn insert(&mut self, kind: SubjectKind, key: &str) {
        if self.overflowed {
            return;
        }
        self.subjects.insert((kind, key.to_owned()));
        if self.subjects.len() > self.limit {
            self.overflowed = true;
            self.subjects = BTreeSet::new();
        }
    }

    fn finish(self) -> Touched {
        if self.overflowed {
            Touched::Everything
        } else {
            Touched::Subjects(self.subjects)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Observed {
    subject: String,
    item: String,
    value: String,
    batch: i64,
}

impl Store {
    /// Every resource that feeds a registry.
    pub(crate) async fn registry_feeds(&self) -> Result<Vec<Feed>, StoreError> {
        Ok(self
            .resources(None)
            .await?
            .iter()
            .filter(|r| !r.table_name.is_empty())
            .filter_map(Feed::of)
            .collect())
    }

    /// Bring a resource's observations up to date; the subjects touched
    /// (all of them, past `memory_mib`'s share for the list).
    pub(crate) async fn refresh_observations(
        &self,
        feed: &Feed,
        memory_mib: u64,
    ) -> Result<Touched, StoreError> {
        let resource = &feed.resource;
        // Nothing to do when no batch has loaded since, and the items still
        // carry the same elements.
        let newest: Option<i64> = sqlx::query(
            "SELECT MAX(id) AS b FROM batches WHERE resource_id = $1 AND state = 'loaded'",
        )
        .bind(resource.id)
        .fetch_one(&self.pool)
        .await?
        .try_get("b")?;
        let items: Vec<String> = feed.items.iter().map(|(i, e)| format!("{i}={e}")).collect();
        let signature = format!(
            "{}|{}|{}|{}|{}",
            newest.unwrap_or(0),
            resource.provider.code,
            feed.kind.as_str(),
            feed.key_item,
            items.join(",")
        );
        let stored: Option<String> =
            sqlx::query("SELECT signature FROM registry_feeds WHERE resource_id = $1")
                .bind(resource.id)
                .fetch_optional(&self.pool)
                .await?
                .map(|r| r.try_get("signature"))
                .transpose()?;
        if stored.as_deref() == Some(signature.as_str()) {
            return Ok(Touched::Subjects(BTreeSet::new()));
        }
        // A resource never observed before (a first build) has nothing to
        // compare a page with: skip the lookups.
        let first_time = sqlx::query(
            "SELECT 1 AS one FROM registry_observations WHERE resource_id = $1 LIMIT 1",
        )
        .bind(resource.id)
        .fetch_optional(&self.pool)
        .await?
        .is_none();
        let mut touched = TouchedSet::new(memory_mib);
        let select = page_select(feed);
        let key_count = resource.spec.key_items.len();
        let key_index = feed.items.iter().position(|(i, _)| *i == feed.key_item);
        // Row keys that carry at least one observation, for the count below.
        let mut observed_rows = 0u64;
        let mut last = 0i64;
        loop {
            let rows = sqlx::query(AssertSqlSafe(select.clone()))
                .bind(last)
                .bind(PAGE)
                .fetch_all(&self.pool)
                .await?;
            let Some(row) = rows.last() else { break };
            last = row.try_get(0)?;
            let mut page_keys: Vec<String> = Vec::with_capacity(rows.len());
            let mut after: HashMap<(String, String), Observed> = HashMap::new();
            for row in &rows {
                let batch: i64 = row.try_get(1)?;
                let row_key = row_key_of(row, key_count)?;
                page_keys.push(row_key.clone());
                let raw_key: Option<String> = match key_index {
                    Some(i) => row.try_get(2 + key_count + i)?,
                    None => None,
                };
                let subject = feed.kind.key_of(raw_key.as_deref().unwrap_or_default());
                // A row without a key is for record linkage, not verification.
                if subject.is_empty() {
                    continue;
                }
                let mut any = false;
                for (i, (item, element)) in feed.items.iter().enumerate() {
                    let v: Option<String> = row.try_get(2 + key_count + i)?;
                    let Some(value) = v.filter(|v| !v.trim().is_empty()) else {
                        continue;
                    };
                    any = true;
                    after.insert(
                        (row_key.clone(), element.clone()),
                        Observed {
                            subject: subject.clone(),
                            item: item.clone(),
                            value,
                            batch,
                        },
                    );
                }
                observed_rows += u64::from(any);
            }
            let before = if first_time {
                HashMap::new()
            } else {
                self.observed_rows(resource.id, &page_keys).await?
            };
            let mut upserts: Vec<(&(String, String), &Observed)> = Vec::new();
            for (k, o) in &after {
                match before.get(k) {
                    Some(old) if old == o => {}
                    Some(old) => {
                        touched.insert(feed.kind, &old.subject);
                        touched.insert(feed.kind, &o.subject);
                        upserts.push((k, o));
                    }
                    None => {
                        touched.insert(feed.kind, &o.subject);
                        upserts.push((k, o));
                    }
                }
            }
            let deletes: Vec<&(String, String)> = before
                .iter()
                .filter(|(k, _)| !after.contains_key(*k))
                .map(|(k, o)| {
                    touched.insert(feed.kind, &o.subject);
                    k
                })
                .collect();
            if !upserts.is_empty() || !deletes.is_empty() {
                self.write_observations(feed, &upserts, &deletes).await?;
            }
        }
        self.drop_vanished_rows(feed, observed_rows, &mut touched)
            .await?;
        sqlx::query(
            "INSERT INTO registry_feeds (resource_id, signature, refreshed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (resource_id) DO UPDATE SET signature = excluded.signature, refreshed_at = excluded.refreshed_at",
        )
        .bind(resource.id)
        .bind(&signature)
        .bind(crate::db::ts(chrono::Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(touched.finish())
    }

    /// The stored observations of some rows of a resource.
    async fn observed_rows(
        &self,
        resource_id: i64,
        row_keys: &[String],
    ) -> Result<HashMap<(String, String), Observed>, StoreError> {
        let mut before = HashMap::new();
        for chunk in row_keys.chunks(LOOKUP) {
            let sql = format!(
                "SELECT row_key, element, subject_key, item, value, batch_id FROM registry_observations \
                 WHERE resource_id = {} AND row_key IN ({})",
                super::param(self.backend, 1),
                super::placeholders(self.backend, 2, chunk.len())
            );
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(resource_id);
            for key in chunk {
                q = q.bind(key.as_str());
            }
            for row in q.fetch_all(&self.pool).await? {
                before.insert(
                    (row.try_get(0)?, row.try_get(1)?),
                    Observed {
                        subject: row.try_get(2)?,
                        item: row.try_get(3)?,
                        value: row.try_get(4)?,
                        batch: row.try_get(5)?,
                    },
                );
            }
        }
        Ok(before)
    }

    /// One page's differences, in one short write transaction.
    async fn write_observations(
        &self,
        feed: &Feed,
        upserts: &[(&(String, String), &Observed)],
        deletes: &[&(String, String)],
    ) -> Result<(), StoreError> {
        let resource = &feed.resource;
        let mut tx = self.begin_write().await?;
        for (row_key, element) in deletes {
            sqlx::query("DELETE FROM registry_observations WHERE resource_id = $1 AND row_key = $2 AND element = $3")
                .bind(resource.id)
                .bind(row_key)
                .bind(element)
                .execute(&mut *tx)
                .await?;
        }
        for chunk in upserts.chunks(INSERT_ROWS) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("({})", super::placeholders(self.backend, i * 9 + 1, 9)))
                .collect();
            let sql = format!(
                "INSERT INTO registry_observations (resource_id, row_key, element, subject_kind, subject_key, department, item, batch_id, value) VALUES {} \
                 ON CONFLICT (resource_id, row_key, element) DO UPDATE SET subject_kind = excluded.subject_kind, \
                 subject_key = excluded.subject_key, department = excluded.department, item = excluded.item, \
                 batch_id = excluded.batch_id, value = excluded.value",
                values.join(", ")
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for ((row_key, element), o) in chunk {
                q = q
                    .bind(resource.id)
                    .bind(row_key.as_str())
                    .bind(element.as_str())
                    .bind(feed.kind.as_str())
                    .bind(o.subject.as_str())
                    .bind(resource.provider.code.as_str())
                    .bind(o.item.as_str())
                    .bind(o.batch)
                    .bind(o.value.as_str());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Observations of rows the resource no longer holds. The pages above
    /// saw every row there is, so more observed row keys than rows seen with
    /// observations means some rows left; only then are the row keys seen
    /// written to a temporary table and the rest found by an anti-join.
    async fn drop_vanished_rows(
        &self,
        feed: &Feed,
        observed_rows: u64,
        touched: &mut TouchedSet,
    ) -> Result<(), StoreError> {
        let resource = &feed.resource;
        let stored: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM (SELECT DISTINCT row_key FROM registry_observations WHERE resource_id = $1) AS k",
        )
        .bind(resource.id)
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        if u64::try_from(stored).unwrap_or(0) <= observed_rows {
            return Ok(());
        }
        // A temporary table lives on one connection: hold it throughout.
        let mut conn = self.pool.acquire().await?;
        sqlx::query("DROP TABLE IF EXISTS registry_rows_seen")
            .execute(&mut *conn)
            .await?;
        sqlx::query("CREATE TEMPORARY TABLE registry_rows_seen (row_key TEXT PRIMARY KEY)")
            .execute(&mut *conn)
            .await?;
        let key_count = resource.spec.key_items.len();
        let select = page_select(feed);
        let mut last = 0i64;
        loop {
            let rows = sqlx::query(AssertSqlSafe(select.clone()))
                .bind(last)
                .bind(PAGE)
                .fetch_all(&mut *conn)
                .await?;
            let Some(row) = rows.last() else { break };
            last = row.try_get(0)?;
            let mut keys = Vec::with_capacity(rows.len());
            for row in &rows {
                keys.push(row_key_of(row, key_count)?);
            }
            for chunk in keys.chunks(LOOKUP) {
                let sql = format!(
                    "INSERT INTO registry_rows_seen (row_key) VALUES {} ON CONFLICT (row_key) DO NOTHING",
                    (0..chunk.len())
                        .map(|i| format!("({})", super::param(self.backend, i + 1)))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for key in chunk {
                    q = q.bind(key.as_str());
                }
                q.execute(&mut *conn).await?;
            }
        }
        // Page through the vanished rows' observations and delete them.
        loop {
            let gone = sqlx::query(
                "SELECT o.row_key, o.element, o.subject_key FROM registry_observations o \
                 WHERE o.resource_id = $1 AND NOT EXISTS (SELECT 1 FROM registry_rows_seen s WHERE s.row_key = o.row_key) \
                 LIMIT $2",
            )
            .bind(resource.id)
            .bind(PAGE)
            .fetch_all(&mut *conn)
            .await?;
            if gone.is_empty() {
                break;
            }
            let mut deletes = Vec::with_capacity(gone.len());
            for row in &gone {
                let subject: String = row.try_get(2)?;
                touched.insert(feed.kind, &subject);
                deletes.push((row.try_get::<String, _>(0)?, row.try_get::<String, _>(1)?));
            }
            let refs: Vec<&(String, String)> = deletes.iter().collect();
            self.write_observations(feed, &[], &refs).await?;
        }
        sqlx::query("DROP TABLE registry_rows_seen")
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

/// A row's key as observations store it: its key items' text joined by `|`
/// (columns 2.. of [`page_select`]).
fn row_key_of(row: &sqlx::any::AnyRow, key_count: usize) -> Result<String, StoreError> {
    let mut parts = Vec::with_capacity(key_count);
    for i in 0..key_count {
        let v: Option<String> = row.try_get(2 + i)?;
        parts.push(v.unwrap_or_default());
    }
    Ok(parts.join("|"))
}

/// The page query over a feed's table: row id, batch, the key items, then
/// the element items, all as text; `$1` the last row id seen, `$2` the page.
fn page_select(feed: &Feed) -> String {
    let mut select = String::from("SELECT _row_id, _batch_id");
    for (i, k) in feed.resource.spec.key_items.iter().enumerate() {
        select.push_str(&format!(
            ", CAST({} AS TEXT) AS k{i}",
            quote_ident(&k.to_string())
        ));
    }
    for (i, (item, _)) in feed.items.iter().enumerate() {
        select.push_str(&format!(", CAST({} AS TEXT) AS e{i}", quote_ident(item)));
    }
    select.push_str(&format!(
        " FROM {} WHERE _row_id > $1 ORDER BY _row_id LIMIT $2",
        quote_ident(&feed.resource.table_name)
    ));
    select
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touched_subjects_are_listed_until_the_budget_then_everything() {
        let mut set = TouchedSet {
            subjects: BTreeSet::new(),
            limit: 2,
            overflowed: false,
        };
        set.insert(SubjectKind::Person, "a");
        set.insert(SubjectKind::Person, "a");
        set.insert(SubjectKind::Entity, "b");
        match set.finish() {
            Touched::Subjects(s) => assert_eq!(s.len(), 2),
            Touched::Everything => panic!("two subjects fit a limit of two"),
        }
        let mut set = TouchedSet {
            subjects: BTreeSet::new(),
            limit: 2,
            overflowed: false,
        };
        for key in ["a", "b", "c", "d"] {
            set.insert(SubjectKind::Person, key);
        }
        assert!(set.subjects.is_empty(), "the list is dropped, not kept");
        assert!(matches!(set.finish(), Touched::Everything));
    }

    #[test]
    fn the_budget_sets_the_list_length() {
        assert_eq!(TouchedSet::new(256).limit, 256 * (1 << 20) / 4 / 128);
        assert_eq!(TouchedSet::new(0).limit, 1_000);
    }
}
