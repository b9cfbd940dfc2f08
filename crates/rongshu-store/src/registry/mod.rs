//! The base registries' storage: every value departments delivered for a
//! registry element (observations, kept in step with each resource's table),
//! the golden values of record with their provenance and history, each
//! subject's digest (so that verifying again skips what did not change), and
//! the correction tickets.
//!
//! Verification works in chunks of subjects in key order: observations,
//! stored digests, golden values and tickets are read for a chunk with range
//! or `IN` queries, the pure `rongshu_core::registry::verify_subject` decides,
//! and one write transaction per chunk applies the differences. Memory is
//! bounded by the chunk, not by the registry.

mod refresh;
mod tickets;
mod verify;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rongshu_core::registry::Source;
use rongshu_core::sharing::{end_of_local_day, local_date};
use serde::Serialize;
use sqlx::Row;

use crate::{Backend, Store, StoreError};

pub use tickets::{Answering, NewDispute, Ticket, TicketFilter, TicketList};
pub use verify::{RegistryRun, VerifyStats};

/// How many subjects one verification chunk holds.
const CHUNK: usize = 500;

/// A golden value as read back, with its provenance.
#[derive(Debug, Clone, Serialize)]
pub struct RegistryValue {
    pub element: String,
    pub value: String,
    pub department: String,
    pub resource: String,
    /// The resource item the value came from.
    pub item: Option<String>,
    pub row_key: String,
    pub batch: String,
    pub date: String,
    pub valid_from: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<String>,
}

/// A delivered value of a registry element, as read back.
#[derive(Debug, Clone, Serialize)]
pub struct WitnessValue {
    pub element: String,
    pub value: String,
    pub department: String,
    pub resource: String,
    pub item: Option<String>,
    pub row_key: String,
    pub batch: String,
    pub date: String,
}

/// Resource and batch names for provenance, loaded once per run.
#[derive(Debug, Default)]
pub(crate) struct Names {
    resources: HashMap<i64, (String, String)>,
    batches: HashMap<i64, (String, String)>,
    /// The registering authorities (first character of a USCC) of the
    /// entities the entity registry's authority delivers.
    pub(crate) covered_authorities: std::collections::HashSet<char>,
}

impl Names {
    pub(crate) async fn load(store: &Store) -> Result<Self, StoreError> {
        let mut names = Names::default();
        for row in sqlx::query(
            "SELECT r.id, r.code, d.code AS dept FROM resources r JOIN departments d ON d.id = r.department_id",
        )
        .fetch_all(&store.pool)
        .await?
        {
            names
                .resources
                .insert(row.try_get("id")?, (row.try_get("code")?, row.try_get("dept")?));
        }
        for row in sqlx::query(
            "SELECT id, public_id, COALESCE(finished_at, started_at) AS at FROM batches",
        )
        .fetch_all(&store.pool)
        .await?
        {
            names.batches.insert(
                row.try_get("id")?,
                (row.try_get("public_id")?, row.try_get("at")?),
            );
        }
        for row in sqlx::query(
            "SELECT DISTINCT SUBSTR(o.subject_key, 1, 1) AS a FROM registry_observations o \
             JOIN data_elements e ON e.code = 'entity.uscc' JOIN departments d ON d.id = e.authority_id \
             WHERE o.subject_kind = 'entity' AND o.element = 'entity.uscc' AND o.department = d.code",
        )
        .fetch_all(&store.pool)
        .await?
        {
            let a: String = row.try_get("a")?;
            names.covered_authorities.extend(a.chars().next());
        }
        Ok(names)
    }

    pub(crate) fn source(
        &self,
        resource_id: i64,
        department: &str,
        row_key: &str,
        batch_id: i64,
    ) -> Source {
        self.source_of_item(resource_id, department, String::new(), row_key, batch_id)
    }

    pub(crate) fn source_of_item(
        &self,
        resource_id: i64,
        department: &str,
        item: String,
        row_key: &str,
        batch_id: i64,
    ) -> Source {
        let (batch, date) = self.batches.get(&batch_id).cloned().unwrap_or_default();
        Source {
            department: department.to_owned(),
            resource: self
                .resources
                .get(&resource_id)
                .map(|r| r.0.clone())
                .unwrap_or_default(),
            item,
            row_key: row_key.to_owned(),
            batch,
            batch_seq: batch_id,
            date,
        }
    }
}

impl Store {
    /// When a ticket opened at `now` is due: the end, in Chengdu, of the
    /// `working_days`th working day after, by the office's holiday calendar.
    pub(crate) async fn ticket_due(
        &self,
        now: DateTime<Utc>,
        working_days: u32,
    ) -> Result<String, StoreError> {
        let calendar = self.working_calendar().await?;
        let day = calendar
            .add_working_days(local_date(now), working_days)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        Ok(crate::db::ts(end_of_local_day(day)))
    }
}

/// `$from, $from+1, …` for `n` values on PostgreSQL; anonymous `?` on SQLite,
/// whose driver looks numbered ones up by name, linearly, which makes a
/// statement of hundreds of parameters quadratic. A statement that uses these
/// must write its other parameters with [`param`], in binding order.
pub(crate) fn placeholders(backend: Backend, from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| param(backend, i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parameter `n`, numbered or anonymous as [`placeholders`] writes them.
pub(crate) fn param(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => "?".to_owned(),
        Backend::Postgres => format!("${n}"),
    }
}
