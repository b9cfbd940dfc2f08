//! Share requests (共享申请), their discussion, the grants (授权) approvals
//! become, and the office's holiday list the answer deadline is counted in.
//! Each state change commits with its event and its audit record.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rongshu_core::audit::AuditRecord;
use rongshu_core::sharing::{
    DayKind, GrantTerms, HolidayEntry, Purpose, RequestAction, RequestState, ShareRequestSpec,
    WorkingCalendar, local_date,
};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::audit::append_in;
use crate::db::{parse_ts, ts};
use crate::{DepartmentRef, Store, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct ResourceRef {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShareRequest {
    pub id: i64,
    /// The reference number departments quote (申请编号).
    pub public_id: String,
    pub resource: ResourceRef,
    pub provider: DepartmentRef,
    pub consumer: DepartmentRef,
    pub application: String,
    pub items: Vec<String>,
    pub purpose: Purpose,
    pub purpose_text: String,
    pub legal_basis: String,
    /// `item=value` terms.
    pub row_scope: Vec<String>,
    pub duration_days: i64,
    pub plain_wanted: bool,
    pub state: RequestState,
    pub submitted_by: String,
    pub submitted_at: DateTime<Utc>,
    /// The last day the provider may answer on (10 working days).
    pub due_at: NaiveDate,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    /// Why it was rejected or withdrawn, or the approver's comment.
    pub reason: Option<String>,
    /// The grant an approval made.
    pub grant_id: Option<i64>,
    /// When it was escalated to the platform office for being overdue.
    pub escalated_at: Option<DateTime<Utc>>,
    /// The (Chengdu) day of the last overdue reminder.
    pub last_reminded_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShareRequestEvent {
    pub at: DateTime<Utc>,
    pub actor: String,
    /// `submitted`, `comment`, `approved`, `rejected`, `withdrawn`, and the
    /// overdue sweep's `reminder` and `escalated`.
    pub kind: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Grant {
    pub id: i64,
    pub request_id: Option<i64>,
    pub resource: ResourceRef,
    pub provider: DepartmentRef,
    pub consumer: DepartmentRef,
    pub application: String,
    #[serde(skip)]
    pub application_id: i64,
    pub items: Vec<String>,
    pub row_scope: Vec<String>,
    pub purpose: Purpose,
    pub plain_allowed: bool,
    pub starts_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
    pub reason: Option<String>,
}

impl Grant {
    /// In force at `now`: started, not expired, not revoked.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.starts_at <= now && now < self.expires_at
    }
}

pub struct NewShareRequest<'a> {
    pub resource_id: i64,
    pub consumer_id: i64,
    pub application_id: i64,
    pub spec: &'a ShareRequestSpec,
    pub submitted_by: &'a str,
}

/// The provider's or consumer's answer to an open request.
pub enum Decision<'a> {
    Approve {
        terms: &'a GrantTerms,
        comment: &'a str,
    },
    Reject {
        reason: &'a str,
    },
    Withdraw {
        reason: &'a str,
    },
}

/// Which requests to list: a department's (as consumer or provider) or all;
/// optionally one state, only those overdue on a given day, or only those
/// escalated to the office.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShareRequestFilter<'a> {
    pub department: Option<&'a str>,
    pub state: Option<RequestState>,
    pub overdue_on: Option<NaiveDate>,
    pub escalated: bool,
}

/// An open request past its due date, as the overdue sweep sees it.
#[derive(Debug, Clone)]
pub struct OverdueRequest {
    pub id: i64,
    pub public_id: String,
    pub due_at: NaiveDate,
    pub escalated: bool,
    pub last_reminded_on: Option<NaiveDate>,
}

/// What a follow-up did (another process may have done part of it first).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FollowUpDone {
    pub escalated: bool,
    pub reminded: bool,
}

/// What the overdue sweep does to one request, with the words it adds to
/// the discussion.
pub struct FollowUpWrite<'a> {
    pub escalate: Option<&'a str>,
    /// The day of the reminder and its text.
    pub remind: Option<(NaiveDate, &'a str)>,
}

const REQUEST_SELECT: &str = "SELECT s.id, s.public_id, s.items, s.purpose, s.purpose_text, s.legal_basis, \
     s.row_scope, s.duration_days, s.plain_wanted, s.state, s.submitted_by, s.submitted_at, s.due_at, \
     s.decided_at, s.decided_by, s.reason, s.escalated_at, s.last_reminded_on, r.code AS r_code, r.name AS r_name, \
     p.code AS p_code, p.name AS p_name, c.code AS c_code, c.name AS c_name, a.name AS a_name, \
     g.id AS grant_id \
     FROM share_requests s JOIN resources r ON r.id = s.resource_id \
     JOIN departments p ON p.id = r.department_id JOIN departments c ON c.id = s.consumer_id \
     JOIN applications a ON a.id = s.application_id LEFT JOIN grants g ON g.request_id = s.id";

const GRANT_SELECT: &str = "SELECT g.id, g.request_id, g.application_id, g.items, g.row_scope, g.purpose, \
     g.plain_allowed, g.starts_at, g.expires_at, g.revoked_at, g.revoked_by, g.reason, \
     r.code AS r_code, r.name AS r_name, p.code AS p_code, p.name AS p_name, \
     c.code AS c_code, c.name AS c_name, a.name AS a_name \
     FROM grants g JOIN resources r ON r.id = g.resource_id \
     JOIN departments p ON p.id = r.department_id JOIN departments c ON c.id = g.consumer_id \
     JOIN applications a ON a.id = g.application_id";

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn json_list(row: &AnyRow, column: &str) -> Result<Vec<String>, StoreError> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(corrupt)
}

fn opt_ts(row: &AnyRow, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.as_deref().map(parse_ts).transpose()
}

fn purpose_of(row: &AnyRow) -> Result<Purpose, StoreError> {
    let raw: String = row.try_get("purpose")?;
    Purpose::parse(&raw).ok_or_else(|| corrupt(format!("unknown purpose \"{raw}\"")))
}

fn refs(row: &AnyRow) -> Result<(ResourceRef, DepartmentRef, DepartmentRef), StoreError> {
    Ok((
        ResourceRef {
            code: row.try_get("r_code")?,
            name: row.try_get("r_name")?,
        },
        DepartmentRef {
            code: row.try_get("p_code")?,
            name: row.try_get("p_name")?,
        },
        DepartmentRef {
            code: row.try_get("c_code")?,
            name: row.try_get("c_name")?,
        },
    ))
}

fn request_from(row: &AnyRow) -> Result<ShareRequest, StoreError> {
    let (resource, provider, consumer) = refs(row)?;
    let state: String = row.try_get("state")?;
    let due: String = row.try_get("due_at")?;
    Ok(ShareRequest {
        id: row.try_get("id")?,
        public_id: row.try_get("public_id")?,
        resource,
        provider,
        consumer,
        application: row.try_get("a_name")?,
        items: json_list(row, "items")?,
        purpose: purpose_of(row)?,
        purpose_text: row.try_get("purpose_text")?,
        legal_basis: row.try_get("legal_basis")?,
        row_scope: json_list(row, "row_scope")?,
        duration_days: row.try_get("duration_days")?,
        plain_wanted: row.try_get::<i64, _>("plain_wanted")? != 0,
        state: RequestState::parse(&state)
            .ok_or_else(|| corrupt(format!("unknown request state \"{state}\"")))?,
        submitted_by: row.try_get("submitted_by")?,
        submitted_at: parse_ts(&row.try_get::<String, _>("submitted_at")?)?,
        due_at: NaiveDate::parse_from_str(&due, "%Y-%m-%d").map_err(corrupt)?,
        decided_at: opt_ts(row, "decided_at")?,
        decided_by: row.try_get("decided_by")?,
        reason: row.try_get("reason")?,
        grant_id: row.try_get("grant_id")?,
        escalated_at: opt_ts(row, "escalated_at")?,
        last_reminded_on: opt_date(row, "last_reminded_on")?,
    })
}

fn opt_date(row: &AnyRow, column: &str) -> Result<Option<NaiveDate>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| NaiveDate::parse_from_str(&t, "%Y-%m-%d").map_err(corrupt))
        .transpose()
}

fn grant_from(row: &AnyRow) -> Result<Grant, StoreError> {
    let (resource, provider, consumer) = refs(row)?;
    Ok(Grant {
        id: row.try_get("id")?,
        request_id: row.try_get("request_id")?,
        resource,
        provider,
        consumer,
        application: row.try_get("a_name")?,
        application_id: row.try_get("application_id")?,
        items: json_list(row, "items")?,
        row_scope: json_list(row, "row_scope")?,
        purpose: purpose_of(row)?,
        plain_allowed: row.try_get::<i64, _>("plain_allowed")? != 0,
        starts_at: parse_ts(&row.try_get::<String, _>("starts_at")?)?,
        expires_at: parse_ts(&row.try_get::<String, _>("expires_at")?)?,
        revoked_at: opt_ts(row, "revoked_at")?,
        revoked_by: row.try_get("revoked_by")?,
        reason: row.try_get("reason")?,
    })
}

fn to_json<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(corrupt)
}

async fn event(
    conn: &mut AnyConnection,
    request_id: i64,
    now: DateTime<Utc>,
    actor: &str,
    kind: &str,
    text: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO share_request_events (request_id, at, actor, kind, text) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(request_id)
    .bind(ts(now))
    .bind(actor)
    .bind(kind)
    .bind(text)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn date_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

impl Store {
    // ---- the holiday calendar ----------------------------------------------

    pub async fn holidays(&self) -> Result<Vec<HolidayEntry>, StoreError> {
        let rows = sqlx::query("SELECT date, kind, name FROM holidays ORDER BY date")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let date: String = r.try_get("date")?;
                let kind: String = r.try_get("kind")?;
                Ok(HolidayEntry {
                    date: NaiveDate::parse_from_str(&date, "%Y-%m-%d").map_err(corrupt)?,
                    kind: DayKind::parse(&kind)
                        .ok_or_else(|| corrupt(format!("unknown day kind \"{kind}\"")))?,
                    name: r.try_get("name")?,
                })
            })
            .collect()
    }

    pub async fn working_calendar(&self) -> Result<WorkingCalendar, StoreError> {
        WorkingCalendar::new(&self.holidays().await?).map_err(corrupt)
    }

    /// Replace the whole list. Open requests' due dates are counted again in
    /// the same transaction, so a holiday announced late moves them too.
    pub async fn replace_holidays(
        &self,
        entries: &[HolidayEntry],
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        let calendar =
            WorkingCalendar::new(entries).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM holidays")
            .execute(&mut *tx)
            .await?;
        for e in entries {
            sqlx::query("INSERT INTO holidays (date, kind, name) VALUES ($1, $2, $3)")
                .bind(date_text(e.date))
                .bind(e.kind.as_str())
                .bind(&e.name)
                .execute(&mut *tx)
                .await?;
        }
        let open = sqlx::query("SELECT id, submitted_at FROM share_requests WHERE state = $1")
            .bind(RequestState::Submitted.as_str())
            .fetch_all(&mut *tx)
            .await?;
        for row in open {
            let id: i64 = row.try_get("id")?;
            let submitted = parse_ts(&row.try_get::<String, _>("submitted_at")?)?;
            let due = calendar
                .due_date(local_date(submitted))
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            sqlx::query("UPDATE share_requests SET due_at = $1 WHERE id = $2")
                .bind(date_text(due))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- requests ----------------------------------------------------------

    pub async fn create_share_request(
        &self,
        new: NewShareRequest<'_>,
        now: DateTime<Utc>,
        due: NaiveDate,
        mut audit: AuditRecord,
    ) -> Result<ShareRequest, StoreError> {
        let spec = new.spec;
        let items: Vec<&str> = spec.items.iter().map(|i| i.as_str()).collect();
        let mut tx = self.begin_write().await?;
        // The reference number needs the id; a placeholder unique to this
        // transaction holds the column until it is known.
        let placeholder = format!("pending-{}", hex::encode(rand::random::<[u8; 8]>()));
        let id: i64 = sqlx::query(
            "INSERT INTO share_requests (public_id, resource_id, consumer_id, application_id, items, purpose,
                purpose_text, legal_basis, row_scope, duration_days, plain_wanted, state, submitted_by,
                submitted_at, due_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
        )
        .bind(&placeholder)
        .bind(new.resource_id)
        .bind(new.consumer_id)
        .bind(new.application_id)
        .bind(to_json(&items)?)
        .bind(spec.purpose.as_str())
        .bind(&spec.purpose_text)
        .bind(&spec.legal_basis)
        .bind(to_json(&spec.row_scope.to_strings())?)
        .bind(i64::from(spec.duration_days))
        .bind(i64::from(spec.plain_wanted))
        .bind(RequestState::Submitted.as_str())
        .bind(new.submitted_by)
        .bind(ts(now))
        .bind(date_text(due))
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        let public_id = format!("GX{}-{id:05}", local_date(now).format("%Y%m%d"));
        sqlx::query("UPDATE share_requests SET public_id = $1 WHERE id = $2")
            .bind(&public_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        event(
            &mut tx,
            id,
            now,
            new.submitted_by,
            "submitted",
            &spec.purpose_text,
        )
        .await?;
        audit.target = Some(format!("share_request:{public_id}"));
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.share_request(id).await
    }

    pub async fn share_request(&self, id: i64) -> Result<ShareRequest, StoreError> {
        let sql = format!("{REQUEST_SELECT} WHERE s.id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("share request {id}")))?;
        request_from(&row)
    }

    /// Requests, newest first.
    pub async fn share_requests(
        &self,
        filter: ShareRequestFilter<'_>,
    ) -> Result<Vec<ShareRequest>, StoreError> {
        let state = match (filter.overdue_on, filter.state) {
            (Some(_), _) => Some(RequestState::Submitted.as_str()),
            (None, s) => s.map(RequestState::as_str),
        };
        let escalated = if filter.escalated {
            " AND s.escalated_at IS NOT NULL"
        } else {
            ""
        };
        let sql = format!(
            "{REQUEST_SELECT} WHERE ($1 IS NULL OR p.code = $1 OR c.code = $1) \
             AND ($2 IS NULL OR s.state = $2) AND ($3 IS NULL OR s.due_at < $3){escalated} ORDER BY s.id DESC"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(filter.department)
            .bind(state)
            .bind(filter.overdue_on.map(date_text))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(request_from)
            .collect()
    }

    pub async fn share_request_events(
        &self,
        id: i64,
    ) -> Result<Vec<ShareRequestEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, actor, kind, text FROM share_request_events WHERE request_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ShareRequestEvent {
                    at: parse_ts(&r.try_get::<String, _>("at")?)?,
                    actor: r.try_get("actor")?,
                    kind: r.try_get("kind")?,
                    text: r.try_get("text")?,
                })
            })
            .collect()
    }

    /// A remark in the request's discussion, by either side or the office.
    pub async fn comment_share_request(
        &self,
        id: i64,
        actor: &str,
        text: &str,
        now: DateTime<Utc>,
        mut audit: AuditRecord,
    ) -> Result<ShareRequestEvent, StoreError> {
        let request = self.share_request(id).await?;
        let mut tx = self.begin_write().await?;
        event(&mut tx, id, now, actor, "comment", text).await?;
        audit.target = Some(format!("share_request:{}", request.public_id));
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(ShareRequestEvent {
            at: now,
            actor: actor.to_owned(),
            kind: "comment".into(),
            text: text.to_owned(),
        })
    }

    /// Answer an open request. An approval makes its grant in the same
    /// transaction; a request answered meanwhile is a conflict, not a second answer.
    pub async fn decide_share_request(
        &self,
        id: i64,
        decision: Decision<'_>,
        actor: &str,
        now: DateTime<Utc>,
        mut audit: AuditRecord,
    ) -> Result<ShareRequest, StoreError> {
        let current = self.share_request(id).await?;
        let (action, text) = match &decision {
            Decision::Approve { comment, .. } => (RequestAction::Approve, *comment),
            Decision::Reject { reason } => (RequestAction::Reject, *reason),
            Decision::Withdraw { reason } => (RequestAction::Withdraw, *reason),
        };
        let to = current.state.apply(action).map_err(|e| {
            StoreError::Conflict(format!("share request {}: {e}", current.public_id))
        })?;
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE share_requests SET state = $1, decided_at = $2, decided_by = $3, reason = $4
             WHERE id = $5 AND state = $6",
        )
        .bind(to.as_str())
        .bind(ts(now))
        .bind(actor)
        .bind((!text.is_empty()).then_some(text))
        .bind(id)
        .bind(current.state.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::Conflict(format!(
                "share request {} was answered meanwhile; reload it",
                current.public_id
            )));
        }
        if let Decision::Approve { terms, .. } = &decision {
            let ids = sqlx::query(
                "SELECT resource_id, consumer_id, application_id FROM share_requests WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            let items: Vec<&str> = terms.items.iter().map(|i| i.as_str()).collect();
            let grant_id: i64 = sqlx::query(
                "INSERT INTO grants (request_id, resource_id, application_id, consumer_id, items, row_scope,
                    purpose, plain_allowed, starts_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            )
            .bind(id)
            .bind(ids.try_get::<i64, _>("resource_id")?)
            .bind(ids.try_get::<i64, _>("application_id")?)
            .bind(ids.try_get::<i64, _>("consumer_id")?)
            .bind(to_json(&items)?)
            .bind(to_json(&terms.row_scope.to_strings())?)
            .bind(current.purpose.as_str())
            .bind(i64::from(terms.plain_allowed))
            .bind(ts(now))
            .bind(ts(now + Duration::days(i64::from(terms.duration_days))))
            .fetch_one(&mut *tx)
            .await?
            .try_get("id")?;
            if let Some(detail) = audit.detail.as_object_mut() {
                detail.insert("grant".into(), serde_json::json!(grant_id));
            }
        }
        event(&mut tx, id, now, actor, to.as_str(), text).await?;
        audit.target = Some(format!("share_request:{}", current.public_id));
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.share_request(id).await
    }

    // ---- the overdue sweep -------------------------------------------------

    /// Requests still waiting for an answer whose due date is before `today`.
    pub async fn overdue_requests(
        &self,
        today: NaiveDate,
    ) -> Result<Vec<OverdueRequest>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, public_id, due_at, escalated_at, last_reminded_on FROM share_requests
             WHERE state = $1 AND due_at < $2 ORDER BY id",
        )
        .bind(RequestState::Submitted.as_str())
        .bind(date_text(today))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let due: String = r.try_get("due_at")?;
                Ok(OverdueRequest {
                    id: r.try_get("id")?,
                    public_id: r.try_get("public_id")?,
                    due_at: NaiveDate::parse_from_str(&due, "%Y-%m-%d").map_err(corrupt)?,
                    escalated: r.try_get::<Option<String>, _>("escalated_at")?.is_some(),
                    last_reminded_on: opt_date(r, "last_reminded_on")?,
                })
            })
            .collect()
    }

    /// Escalate and/or remind, each only if nobody did it meanwhile (another
    /// server's sweep, or an answer that closed the request): the updates
    /// are conditional, and the discussion gets an entry only for the one
    /// that took. Says what was done; when nothing was, nothing is written.
    pub async fn follow_up_request(
        &self,
        id: i64,
        write: FollowUpWrite<'_>,
        actor: &str,
        now: DateTime<Utc>,
        mut audit: AuditRecord,
    ) -> Result<FollowUpDone, StoreError> {
        let open = RequestState::Submitted.as_str();
        let mut tx = self.begin_write().await?;
        let mut done = Vec::new();
        if let Some(text) = write.escalate {
            let n = sqlx::query(
                "UPDATE share_requests SET escalated_at = $1
                 WHERE id = $2 AND state = $3 AND escalated_at IS NULL",
            )
            .bind(ts(now))
            .bind(id)
            .bind(open)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n > 0 {
                event(&mut tx, id, now, actor, "escalated", text).await?;
                done.push("escalated");
            }
        }
        if let Some((day, text)) = write.remind {
            let n = sqlx::query(
                "UPDATE share_requests SET last_reminded_on = $1
                 WHERE id = $2 AND state = $3 AND (last_reminded_on IS NULL OR last_reminded_on < $1)",
            )
            .bind(date_text(day))
            .bind(id)
            .bind(open)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n > 0 {
                event(&mut tx, id, now, actor, "reminder", text).await?;
                done.push("reminder");
            }
        }
        let outcome = FollowUpDone {
            escalated: done.contains(&"escalated"),
            reminded: done.contains(&"reminder"),
        };
        if done.is_empty() {
            tx.rollback().await?;
            return Ok(outcome);
        }
        let public_id: String = sqlx::query("SELECT public_id FROM share_requests WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("public_id")?;
        audit.target = Some(format!("share_request:{public_id}"));
        if let Some(detail) = audit.detail.as_object_mut() {
            detail.insert("done".into(), serde_json::json!(done));
        }
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    // ---- grants ------------------------------------------------------------

    pub async fn grant(&self, id: i64) -> Result<Grant, StoreError> {
        let sql = format!("{GRANT_SELECT} WHERE g.id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("grant {id}")))?;
        grant_from(&row)
    }

    /// Grants a department holds or gave (all of them without one), newest first.
    pub async fn grants(&self, department: Option<&str>) -> Result<Vec<Grant>, StoreError> {
        let sql = format!(
            "{GRANT_SELECT} WHERE ($1 IS NULL OR p.code = $1 OR c.code = $1) ORDER BY g.id DESC"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(department)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(grant_from)
            .collect()
    }

    /// The grants in force at `now` for a reader of a resource: those of one
    /// application, or (`application_id` None) any of the department's; newest first.
    pub async fn active_grants(
        &self,
        resource_id: i64,
        consumer_id: i64,
        application_id: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Grant>, StoreError> {
        let sql = format!(
            "{GRANT_SELECT} WHERE g.resource_id = $1 AND g.consumer_id = $2 \
             AND ($3 IS NULL OR g.application_id = $3) AND g.revoked_at IS NULL \
             AND g.starts_at <= $4 AND g.expires_at > $4 ORDER BY g.id DESC"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(resource_id)
            .bind(consumer_id)
            .bind(application_id)
            .bind(ts(now))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(grant_from)
            .collect()
    }

    /// Revoke a grant; it stops working for the next read.
    pub async fn revoke_grant(
        &self,
        id: i64,
        by: &str,
        reason: &str,
        now: DateTime<Utc>,
        mut audit: AuditRecord,
    ) -> Result<Grant, StoreError> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE grants SET revoked_at = $1, revoked_by = $2, reason = $3 WHERE id = $4 AND revoked_at IS NULL",
        )
        .bind(ts(now))
        .bind(by)
        .bind(reason)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            // Either there is no such grant or it was revoked already.
            tx.rollback().await?;
            let grant = self.grant(id).await?;
            return Err(StoreError::Conflict(format!(
                "grant {} was revoked already",
                grant.id
            )));
        }
        audit.target = Some(format!("grant:{id}"));
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.grant(id).await
    }
}
