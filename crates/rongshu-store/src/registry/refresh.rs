//! Keeping the observations in step with the resources: each resource whose
//! items carry a registry key element (`person.citizen_id`, `entity.uscc`) is
//! read in row order and compared with what was observed of it before; only
//! the differences are written, and the subjects they touch are returned.

use std::collections::{BTreeSet, HashMap};

use rongshu_core::registry::SubjectKind;
use sqlx::{AssertSqlSafe, Row};

use crate::db::quote_ident;
use crate::{Resource, Store, StoreError};

/// Rows read per round trip.
const PAGE: i64 = 20_000;
/// Rows per multi-row insert (9 values each, well under SQLite's limit).
const INSERT_ROWS: usize = 400;

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

    /// Bring a resource's observations up to date; the subjects touched.
    pub(crate) async fn refresh_observations(
        &self,
        feed: &Feed,
    ) -> Result<BTreeSet<(SubjectKind, String)>, StoreError> {
        let resource = &feed.resource;
        let kind = feed.kind.as_str();
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
            kind,
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
            return Ok(BTreeSet::new());
        }
        let mut before: HashMap<(String, String), Observed> = HashMap::new();
        for row in sqlx::query(
            "SELECT row_key, element, subject_key, item, value, batch_id FROM registry_observations WHERE resource_id = $1",
        )
        .bind(resource.id)
        .fetch_all(&self.pool)
        .await?
        {
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
        let key_items: Vec<String> = resource
            .spec
            .key_items
            .iter()
            .map(|k| k.to_string())
            .collect();
        let mut select = String::from("SELECT _row_id, _batch_id");
        for (i, k) in key_items.iter().enumerate() {
            select.push_str(&format!(", CAST({} AS TEXT) AS k{i}", quote_ident(k)));
        }
        for (i, (item, _)) in feed.items.iter().enumerate() {
            select.push_str(&format!(", CAST({} AS TEXT) AS e{i}", quote_ident(item)));
        }
        select.push_str(&format!(
            " FROM {} WHERE _row_id > $1 ORDER BY _row_id LIMIT $2",
            quote_ident(&resource.table_name)
        ));
        let key_index = feed.items.iter().position(|(i, _)| *i == feed.key_item);
        let mut after: HashMap<(String, String), Observed> = HashMap::with_capacity(before.len());
        let mut last = 0i64;
        loop {
            let rows = sqlx::query(AssertSqlSafe(select.clone()))
                .bind(last)
                .bind(PAGE)
                .fetch_all(&self.pool)
                .await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                last = row.try_get(0)?;
                let batch: i64 = row.try_get(1)?;
                let mut parts = Vec::with_capacity(key_items.len());
                for i in 0..key_items.len() {
                    let v: Option<String> = row.try_get(2 + i)?;
                    parts.push(v.unwrap_or_default());
                }
                let row_key = parts.join("|");
                let raw_key: Option<String> = match key_index {
                    Some(i) => row.try_get(2 + key_items.len() + i)?,
                    None => None,
                };
                let subject = feed.kind.key_of(raw_key.as_deref().unwrap_or_default());
                // A row without a key is for record linkage, not verification.
                if subject.is_empty() {
                    continue;
                }
                for (i, (item, element)) in feed.items.iter().enumerate() {
                    let v: Option<String> = row.try_get(2 + key_items.len() + i)?;
                    let Some(value) = v.filter(|v| !v.trim().is_empty()) else {
                        continue;
                    };
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
            }
        }
        let mut touched = BTreeSet::new();
        let mut upserts: Vec<(&(String, String), &Observed)> = Vec::new();
        for (k, o) in &after {
            match before.get(k) {
                Some(old) if old == o => {}
                Some(old) => {
                    touched.insert((feed.kind, old.subject.clone()));
                    touched.insert((feed.kind, o.subject.clone()));
                    upserts.push((k, o));
                }
                None => {
                    touched.insert((feed.kind, o.subject.clone()));
                    upserts.push((k, o));
                }
            }
        }
        let deletes: Vec<(&(String, String), &Observed)> = before
            .iter()
            .filter(|(k, _)| !after.contains_key(*k))
            .collect();
        for (_, o) in &deletes {
            touched.insert((feed.kind, o.subject.clone()));
        }
        let mut tx = self.begin_write().await?;
        for ((row_key, element), _) in &deletes {
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
                    .bind(kind)
                    .bind(o.subject.as_str())
                    .bind(resource.provider.code.as_str())
                    .bind(o.item.as_str())
                    .bind(o.batch)
                    .bind(o.value.as_str());
            }
            q.execute(&mut *tx).await?;
        }
        sqlx::query(
            "INSERT INTO registry_feeds (resource_id, signature, refreshed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (resource_id) DO UPDATE SET signature = excluded.signature, refreshed_at = excluded.refreshed_at",
        )
        .bind(resource.id)
        .bind(&signature)
        .bind(crate::db::ts(chrono::Utc::now()))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(touched)
    }
}
