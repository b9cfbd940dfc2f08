//! Correction tickets: worklists, answers, citizens' disputes; and reading a
//! registry record with its sources and history.

use chrono::{DateTime, Duration, Utc};
use rongshu_core::audit::AuditRecord;
use rongshu_core::registry::{
    Answer, Answerer, Classification, Conflict, ConflictKind, Evidence, Source, SubjectKind,
    TicketState, conflict_key,
};
use serde::Serialize;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::verify::insert_ticket;
use super::{Names, RegistryValue, WitnessValue};
use crate::db::ts;
use crate::{Store, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct Ticket {
    pub id: i64,
    pub subject_kind: String,
    pub subject_key: String,
    pub element: String,
    pub kind: String,
    pub department: String,
    pub state: String,
    pub evidence: Value,
    pub record_value: String,
    pub other_values: String,
    pub due: String,
    pub outcome: Option<String>,
    pub note: Option<String>,
    pub answered_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub department: Option<String>,
    pub state: Option<String>,
    pub element: Option<String>,
    /// Only tickets opened at least this many days before `now`.
    pub older_than_days: Option<i64>,
    pub subject: Option<(String, String)>,
    pub now: Option<DateTime<Utc>>,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TicketList {
    pub items: Vec<Ticket>,
    pub total: i64,
}

/// An answer to a ticket, and who gives it.
#[derive(Debug, Clone)]
pub struct Answering<'a> {
    pub by: Answerer,
    pub answer: Answer,
    /// How the ticket names the one answering.
    pub actor: &'a str,
    pub note: Option<&'a str>,
    /// The answer's audit event, written in the answer's transaction (the
    /// resulting state and any tickets opened are added to its detail).
    pub audit: AuditRecord,
}

/// A citizen's dispute of a value of his or her record.
#[derive(Debug, Clone)]
pub struct NewDispute<'a> {
    pub person: &'a str,
    pub element: &'a str,
    pub claimed: &'a str,
    pub reason: &'a str,
}

const TICKET_COLUMNS: &str = "id, subject_kind, subject_key, element, kind, department, state, evidence, record_value, \
     other_values, due, outcome, note, answered_by, created_at, updated_at, closed_at";

fn ticket_from(row: &AnyRow) -> Result<Ticket, StoreError> {
    let evidence: String = row.try_get("evidence")?;
    Ok(Ticket {
        id: row.try_get("id")?,
        subject_kind: row.try_get("subject_kind")?,
        subject_key: row.try_get("subject_key")?,
        element: row.try_get("element")?,
        kind: row.try_get("kind")?,
        department: row.try_get("department")?,
        state: row.try_get("state")?,
        evidence: serde_json::from_str(&evidence)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        record_value: row.try_get("record_value")?,
        other_values: row.try_get("other_values")?,
        due: row.try_get("due")?,
        outcome: row.try_get("outcome")?,
        note: row.try_get("note")?,
        answered_by: row.try_get("answered_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        closed_at: row.try_get("closed_at")?,
    })
}

impl Store {
    pub async fn tickets(&self, filter: &TicketFilter) -> Result<TicketList, StoreError> {
        let mut clauses = Vec::new();
        let mut binds: Vec<String> = Vec::new();
        let mut add = |clause: &str, value: String| {
            binds.push(value);
            clauses.push(clause.replace('?', &format!("${}", binds.len())));
        };
        if let Some(d) = &filter.department {
            add("department = ?", d.clone());
        }
        if let Some(s) = &filter.state {
            add("state = ?", s.clone());
        }
        if let Some(e) = &filter.element {
            add("element = ?", e.clone());
        }
        if let (Some(days), Some(now)) = (filter.older_than_days, filter.now) {
            add("created_at <= ?", ts(now - Duration::days(days)));
        }
        if let Some((k, key)) = &filter.subject {
            add("subject_kind = ?", k.clone());
            add("subject_key = ?", key.clone());
        }
        let clause = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        let mut count = sqlx::query(AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n FROM correction_tickets{clause}"
        )));
        for b in &binds {
            count = count.bind(b.as_str());
        }
        let total: i64 = count.fetch_one(&self.pool).await?.try_get("n")?;
        let n = binds.len();
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TICKET_COLUMNS} FROM correction_tickets{clause} ORDER BY id LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        )));
        for b in &binds {
            q = q.bind(b.as_str());
        }
        let rows = q
            .bind(filter.limit)
            .bind(filter.offset)
            .fetch_all(&self.pool)
            .await?;
        Ok(TicketList {
            items: rows.iter().map(ticket_from).collect::<Result<_, _>>()?,
            total,
        })
    }

    pub async fn ticket(&self, id: i64) -> Result<Ticket, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TICKET_COLUMNS} FROM correction_tickets WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("ticket {id}")))?;
        ticket_from(&row)
    }

    /// Answer a ticket. Confirming that the record stands sends a ticket to
    /// each department whose value differed, on the same conflict.
    pub async fn answer_ticket(
        &self,
        id: i64,
        answering: Answering<'_>,
        now: DateTime<Utc>,
        due_working_days: u32,
    ) -> Result<(Ticket, Vec<i64>), StoreError> {
        let Answering {
            by,
            answer,
            actor,
            note,
            mut audit,
        } = answering;
        let ticket = self.ticket(id).await?;
        let state = TicketState::parse(&ticket.state)
            .ok_or_else(|| StoreError::Corrupt(format!("ticket state {}", ticket.state)))?;
        let next = rongshu_core::registry::ticket::answer(state, by, answer)
            .map_err(StoreError::Conflict)?;
        let now_s = ts(now);
        let due = self.ticket_due(now, due_working_days).await?;
        let mut tx = self.begin_write().await?;
        let closed =
            matches!(next, TicketState::Confirmed | TicketState::Corrected).then(|| now_s.clone());
        let changed = sqlx::query(
            "UPDATE correction_tickets SET state = $1, outcome = $2, note = $3, answered_by = $4, updated_at = $5, closed_at = $6 \
             WHERE id = $7 AND state = $8",
        )
        .bind(next.as_str())
        .bind(answer.as_str())
        .bind(note)
        .bind(actor)
        .bind(&now_s)
        .bind(closed)
        .bind(id)
        .bind(state.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::Conflict(format!(
                "ticket {id} was answered meanwhile"
            )));
        }
        let mut opened = Vec::new();
        if next == TicketState::Confirmed && ticket.kind != "citizen_dispute" {
            let evidence: Vec<Evidence> =
                serde_json::from_value(ticket.evidence.clone()).unwrap_or_default();
            let mut witnesses: Vec<String> = evidence
                .iter()
                .filter(|e| {
                    matches!(
                        e.classification,
                        Classification::Differs
                            | Classification::WitnessNewer
                            | Classification::WitnessStale
                    )
                })
                .map(|e| e.source.department.clone())
                .filter(|d| !d.is_empty() && *d != ticket.department)
                .collect();
            witnesses.sort();
            witnesses.dedup();
            let key = sqlx::query("SELECT conflict_key FROM correction_tickets WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?
                .try_get::<String, _>("conflict_key")?;
            let kind = SubjectKind::parse(&ticket.subject_kind).unwrap_or(SubjectKind::Person);
            for department in witnesses {
                let conflict = Conflict {
                    subject_kind: kind,
                    subject_key: ticket.subject_key.clone(),
                    element: ticket.element.clone(),
                    kind: ConflictKind::Differs,
                    department,
                    evidence: evidence.clone(),
                    conflict_key: key.clone(),
                };
                opened.push(insert_ticket(&mut tx, &conflict, &due, &now_s).await?);
            }
        }
        if let Some(detail) = audit.detail.as_object_mut() {
            detail.insert("state".into(), next.as_str().into());
            detail.insert("opened".into(), serde_json::json!(opened));
        }
        crate::audit::append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok((self.ticket(id).await?, opened))
    }

    /// A citizen disputes a value of his or her record: a ticket to the
    /// element's authoritative department.
    pub async fn open_dispute(
        &self,
        dispute: NewDispute<'_>,
        mut audit: AuditRecord,
        now: DateTime<Utc>,
        due_working_days: u32,
    ) -> Result<Ticket, StoreError> {
        let authority = self
            .authorities()
            .await?
            .remove(dispute.element)
            .ok_or_else(|| {
                StoreError::Invalid(format!(
                    "element: {} is not a registered data element",
                    dispute.element
                ))
            })?;
        let current = self
            .registry_values(SubjectKind::Person, dispute.person)
            .await?
            .into_iter()
            .find(|v| v.element == dispute.element);
        let mut evidence = Vec::new();
        if let Some(v) = &current {
            evidence.push(Evidence {
                source: Source {
                    department: v.department.clone(),
                    resource: v.resource.clone(),
                    item: v.item.clone().unwrap_or_default(),
                    row_key: v.row_key.clone(),
                    batch: v.batch.clone(),
                    batch_seq: 0,
                    date: v.date.clone(),
                },
                value: v.value.clone(),
                authoritative: true,
                classification: Classification::Record,
                reason: None,
            });
        }
        evidence.push(Evidence {
            source: Source {
                department: String::new(),
                resource: "citizen".into(),
                item: String::new(),
                row_key: String::new(),
                batch: String::new(),
                batch_seq: 0,
                date: ts(now),
            },
            value: dispute.claimed.to_owned(),
            authoritative: false,
            classification: Classification::Differs,
            reason: Some(dispute.reason.to_owned()),
        });
        let conflict = Conflict {
            subject_kind: SubjectKind::Person,
            subject_key: dispute.person.to_owned(),
            element: dispute.element.to_owned(),
            kind: ConflictKind::CitizenDispute,
            department: authority,
            evidence,
            conflict_key: conflict_key(&[
                "person",
                dispute.person,
                dispute.element,
                "citizen",
                dispute.claimed,
                &ts(now),
            ]),
        };
        let due = self.ticket_due(now, due_working_days).await?;
        let mut tx = self.begin_write().await?;
        let id = insert_ticket(&mut tx, &conflict, &due, &ts(now)).await?;
        audit.target = Some(format!("ticket:{id}"));
        crate::audit::append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.ticket(id).await
    }

    /// The golden values of a subject, with provenance.
    pub async fn registry_values(
        &self,
        kind: SubjectKind,
        key: &str,
    ) -> Result<Vec<RegistryValue>, StoreError> {
        let rows = sqlx::query(
            "SELECT v.element, v.value, v.department, r.code AS resource, v.item, v.row_key, b.public_id, \
             COALESCE(b.finished_at, b.started_at) AS at, v.valid_from \
             FROM registry_values v LEFT JOIN resources r ON r.id = v.resource_id LEFT JOIN batches b ON b.id = v.batch_id \
             WHERE v.subject_kind = $1 AND v.subject_key = $2 ORDER BY v.element",
        )
        .bind(kind.as_str())
        .bind(key)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let v = delivered_value(r)?;
                Ok(RegistryValue {
                    element: v.element,
                    value: v.value,
                    department: v.department,
                    resource: v.resource,
                    item: v.item,
                    row_key: v.row_key,
                    batch: v.batch,
                    date: v.date,
                    valid_from: r.try_get("valid_from")?,
                    valid_to: None,
                })
            })
            .collect()
    }

    /// Past versions of a subject's golden values, newest first.
    pub async fn registry_history(
        &self,
        kind: SubjectKind,
        key: &str,
    ) -> Result<Vec<RegistryValue>, StoreError> {
        let names = Names::load(self).await?;
        let rows = sqlx::query(
            "SELECT element, value, resource_id, row_key, batch_id, valid_from, valid_to FROM registry_value_history \
             WHERE subject_kind = $1 AND subject_key = $2 ORDER BY id DESC",
        )
        .bind(kind.as_str())
        .bind(key)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let resource_id: i64 = r.try_get("resource_id")?;
                let (resource, department) = names
                    .resources
                    .get(&resource_id)
                    .cloned()
                    .unwrap_or_default();
                let batch_id: i64 = r.try_get("batch_id")?;
                let (batch, date) = names.batches.get(&batch_id).cloned().unwrap_or_default();
                Ok(RegistryValue {
                    element: r.try_get("element")?,
                    value: r.try_get("value")?,
                    department,
                    resource,
                    item: None,
                    row_key: r.try_get("row_key")?,
                    batch,
                    date,
                    valid_from: r.try_get("valid_from")?,
                    valid_to: r.try_get("valid_to")?,
                })
            })
            .collect()
    }

    /// Every delivered value of a subject (the witnesses and the record's own).
    pub async fn registry_witnesses(
        &self,
        kind: SubjectKind,
        key: &str,
    ) -> Result<Vec<WitnessValue>, StoreError> {
        let rows = sqlx::query(
            "SELECT o.element, o.value, o.department, r.code AS resource, o.item, o.row_key, b.public_id, \
             COALESCE(b.finished_at, b.started_at) AS at FROM registry_observations o \
             LEFT JOIN resources r ON r.id = o.resource_id LEFT JOIN batches b ON b.id = o.batch_id \
             WHERE o.subject_kind = $1 AND o.subject_key = $2 ORDER BY o.element, r.code, o.row_key",
        )
        .bind(kind.as_str())
        .bind(key)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivered_value).collect()
    }

    /// The USCC an organisation code is embedded in, if the registry has one.
    pub async fn entity_by_org_code(&self, org_code: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query("SELECT subject_key FROM registry_subjects WHERE subject_kind = 'entity' AND org_code = $1 ORDER BY subject_key LIMIT 1")
            .bind(org_code)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get("subject_key"))
            .transpose()?)
    }

    /// Per department: tickets by state, how many pending are past due, and
    /// the mean days from opening to closing (figures for the evaluation).
    pub async fn ticket_figures(&self, now: DateTime<Utc>) -> Result<Vec<Value>, StoreError> {
        let rows = sqlx::query(
            "SELECT department, state, COUNT(*) AS n, \
             SUM(CASE WHEN state IN ('open', 'correcting', 'disputed') AND due < $1 THEN 1 ELSE 0 END) AS overdue \
             FROM correction_tickets GROUP BY department, state ORDER BY department, state",
        )
        .bind(ts(now))
        .fetch_all(&self.pool)
        .await?;
        let mut by_dept: std::collections::BTreeMap<String, Value> =
            std::collections::BTreeMap::new();
        for r in &rows {
            let d: String = r.try_get("department")?;
            let state: String = r.try_get("state")?;
            let n: i64 = r.try_get("n")?;
            let overdue: i64 = r.try_get("overdue")?;
            let entry = by_dept.entry(d.clone()).or_insert_with(
                || serde_json::json!({"department": d, "states": {}, "overdue": 0}),
            );
            entry["states"][state] = n.into();
            entry["overdue"] = (entry["overdue"].as_i64().unwrap_or(0) + overdue).into();
        }
        // Turnaround of closed tickets, in days, from the stored times.
        let closed = sqlx::query(
            "SELECT department, created_at, closed_at FROM correction_tickets WHERE closed_at IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut turnaround: std::collections::HashMap<String, (f64, i64)> =
            std::collections::HashMap::new();
        for r in &closed {
            let d: String = r.try_get("department")?;
            let (a, b): (String, String) = (r.try_get("created_at")?, r.try_get("closed_at")?);
            if let (Ok(a), Ok(b)) = (crate::db::parse_ts(&a), crate::db::parse_ts(&b)) {
                let t = turnaround.entry(d).or_default();
                t.0 += (b - a).num_seconds() as f64 / 86_400.0;
                t.1 += 1;
            }
        }
        for (d, (sum, n)) in turnaround {
            if let Some(entry) = by_dept.get_mut(&d) {
                entry["mean_days_to_close"] =
                    serde_json::json!((sum / n as f64 * 10.0).round() / 10.0);
            }
        }
        Ok(by_dept.into_values().collect())
    }

    /// Subjects per registry and tickets per state, for the console.
    pub async fn registry_counts(
        &self,
    ) -> Result<(Vec<(String, i64)>, Vec<(String, i64)>), StoreError> {
        let subjects = sqlx::query("SELECT subject_kind AS k, COUNT(*) AS n FROM registry_subjects GROUP BY subject_kind ORDER BY subject_kind")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("k")?, r.try_get("n")?)))
            .collect::<Result<_, StoreError>>()?;
        let tickets = sqlx::query("SELECT state AS k, COUNT(*) AS n FROM correction_tickets GROUP BY state ORDER BY state")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("k")?, r.try_get("n")?)))
            .collect::<Result<_, StoreError>>()?;
        Ok((subjects, tickets))
    }

    /// Whether the registry has been built (verified once).
    pub async fn registry_built(&self) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("SELECT 1 AS one FROM registry_subjects LIMIT 1")
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    /// A page of golden records in key order, after `after`: each subject's
    /// key and its values of `elements` (in that order; `None` where the
    /// registry holds none). Subjects with none of them are skipped.
    pub async fn registry_rows(
        &self,
        kind: SubjectKind,
        elements: &[String],
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, Vec<Option<String>>)>, StoreError> {
        if elements.is_empty() {
            return Ok(Vec::new());
        }
        // The page is chosen among subjects holding one of the elements, so
        // that every subject of it yields a row and paging by the last key
        // never stops short.
        let n = elements.len();
        let sql = format!(
            "SELECT subject_key, element, value FROM registry_values \
             WHERE subject_kind = {} AND element IN ({}) AND subject_key IN (\
               SELECT DISTINCT subject_key FROM registry_values \
               WHERE subject_kind = {} AND subject_key > {} AND element IN ({}) \
               ORDER BY subject_key LIMIT {}) \
             ORDER BY subject_key",
            super::param(self.backend, 1),
            super::placeholders(self.backend, 2, n),
            super::param(self.backend, n + 2),
            super::param(self.backend, n + 3),
            super::placeholders(self.backend, n + 4, n),
            super::param(self.backend, 2 * n + 4),
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(kind.as_str());
        for e in elements {
            q = q.bind(e.as_str());
        }
        q = q.bind(kind.as_str()).bind(after);
        for e in elements {
            q = q.bind(e.as_str());
        }
        q = q.bind(limit);
        let mut rows: Vec<(String, Vec<Option<String>>)> = Vec::new();
        for row in q.fetch_all(&self.pool).await? {
            let key: String = row.try_get("subject_key")?;
            let element: String = row.try_get("element")?;
            let value: String = row.try_get("value")?;
            if rows.last().is_none_or(|(k, _)| *k != key) {
                rows.push((key, vec![None; elements.len()]));
            }
            if let (Some(i), Some((_, values))) =
                (elements.iter().position(|e| *e == element), rows.last_mut())
                && let Some(slot) = values.get_mut(i)
            {
                *slot = Some(value);
            }
        }
        Ok(rows)
    }

    /// Whether the registry has heard of a subject at all.
    pub async fn registry_knows(&self, kind: SubjectKind, key: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "SELECT 1 AS one FROM registry_subjects WHERE subject_kind = $1 AND subject_key = $2",
        )
        .bind(kind.as_str())
        .bind(key)
        .fetch_optional(&self.pool)
        .await?
        .is_some())
    }
}

/// A delivered value with its provenance, from the columns both the golden
/// values' and the witnesses' reads select (element, value, department,
/// resource, item, row_key, public_id, at).
fn delivered_value(r: &AnyRow) -> Result<WitnessValue, StoreError> {
    Ok(WitnessValue {
        element: r.try_get("element")?,
        value: r.try_get("value")?,
        department: r.try_get("department")?,
        resource: r
            .try_get::<Option<String>, _>("resource")?
            .unwrap_or_default(),
        item: r.try_get("item")?,
        row_key: r.try_get("row_key")?,
        batch: r
            .try_get::<Option<String>, _>("public_id")?
            .unwrap_or_default(),
        date: r.try_get::<Option<String>, _>("at")?.unwrap_or_default(),
    })
}
