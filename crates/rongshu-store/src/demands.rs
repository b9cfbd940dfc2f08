//! Share demands (共享需求): a department asks for data no resource offers; the
//! platform office routes the demand to a provider, who answers it. A member
//! of the public asks the same way through the open-data portal (数据需求,
//! the `public` channel): no requesting department, answered in public.

use chrono::{DateTime, Utc};
use rongshu_core::audit::AuditRecord;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::audit::append_in;
use crate::db::ts;
use crate::{Store, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct DepartmentRef {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Demand {
    pub id: i64,
    /// The department that asked; none for a request from the public.
    pub requester: Option<DepartmentRef>,
    /// `share` (a department's share demand) or `public` (through the portal).
    pub channel: String,
    /// Who asked from the public, as far as they said (contact is never shown publicly).
    pub public_requester: Option<PublicRequester>,
    pub created_by: String,
    pub title: String,
    pub description: String,
    pub items: Vec<String>,
    pub reason: String,
    /// open → routed → will_provide | cannot → closed
    pub state: String,
    pub routed_to: Option<DepartmentRef>,
    pub answer: Option<String>,
    pub resource_code: Option<String>,
    pub promised_date: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DemandEvent {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub detail: serde_json::Value,
}

/// A member of the public's own particulars, each optional.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PublicRequester {
    pub name: Option<String>,
    pub contact: Option<String>,
    pub organisation: Option<String>,
}

/// A request from the public through the portal.
pub struct NewPublicDemand<'a> {
    pub requester: &'a PublicRequester,
    pub title: &'a str,
    pub description: &'a str,
    /// The department the requester thinks holds the data: routed there at once.
    pub department: Option<&'a str>,
}

pub struct NewDemand<'a> {
    pub requester: &'a str,
    pub created_by: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub items: &'a [String],
    pub reason: &'a str,
}

/// A provider's answer to a routed demand.
pub enum DemandAnswer<'a> {
    WillProvide {
        resource_code: Option<&'a str>,
        by_date: Option<&'a str>,
        note: &'a str,
    },
    Cannot {
        reason: &'a str,
    },
}

/// A value for one of a state change's extra columns.
enum Bind {
    Text(Option<String>),
    Id(i64),
}

/// A state change: from which states, to which, and which columns it sets
/// (`assignments` names placeholders from `$5` on, matching `values`).
struct Move<'a> {
    from: &'a [&'a str],
    to: &'a str,
    assignments: &'a str,
    values: Vec<Bind>,
    detail: serde_json::Value,
}

const DEMAND_SELECT: &str = "SELECT m.id, m.created_by, m.title, m.description, m.items, m.reason, m.state, \
     m.answer, m.resource_code, m.promised_date, m.created_at, m.updated_at, \
     m.channel, m.public_name, m.public_contact, m.public_organisation, \
     q.code AS q_code, q.name AS q_name, t.code AS t_code, t.name AS t_name \
     FROM demands m LEFT JOIN departments q ON q.id = m.requester_id \
     LEFT JOIN departments t ON t.id = m.routed_to";

fn demand_from(row: &AnyRow) -> Result<Demand, StoreError> {
    let items: String = row.try_get("items")?;
    let t_code: Option<String> = row.try_get("t_code")?;
    let t_name: Option<String> = row.try_get("t_name")?;
    let q_code: Option<String> = row.try_get("q_code")?;
    let q_name: Option<String> = row.try_get("q_name")?;
    let channel: String = row.try_get("channel")?;
    let public_requester = (channel == "public")
        .then(|| {
            Ok::<_, StoreError>(PublicRequester {
                name: row.try_get("public_name")?,
                contact: row.try_get("public_contact")?,
                organisation: row.try_get("public_organisation")?,
            })
        })
        .transpose()?;
    Ok(Demand {
        id: row.try_get("id")?,
        requester: q_code
            .zip(q_name)
            .map(|(code, name)| DepartmentRef { code, name }),
        channel,
        public_requester,
        created_by: row.try_get("created_by")?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        items: serde_json::from_str(&items).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        reason: row.try_get("reason")?,
        state: row.try_get("state")?,
        routed_to: t_code
            .zip(t_name)
            .map(|(code, name)| DepartmentRef { code, name }),
        answer: row.try_get("answer")?,
        resource_code: row.try_get("resource_code")?,
        promised_date: row.try_get("promised_date")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

async fn event(
    conn: &mut AnyConnection,
    id: i64,
    now: DateTime<Utc>,
    actor: &str,
    action: &str,
    detail: serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO demand_events (demand_id, at, actor, action, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(ts(now))
        .bind(actor)
        .bind(action)
        .bind(detail.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl Store {
    pub async fn create_demand(
        &self,
        new: NewDemand<'_>,
        now: DateTime<Utc>,
        mut audit: AuditRecord,
    ) -> Result<Demand, StoreError> {
        let requester = self.department(new.requester).await?;
        let items =
            serde_json::to_string(new.items).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO demands (requester_id, created_by, title, description, items, reason, state, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $7) RETURNING id",
        )
        .bind(requester.id)
        .bind(new.created_by)
        .bind(new.title)
        .bind(new.description)
        .bind(items)
        .bind(new.reason)
        .bind(ts(now))
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        event(
            &mut tx,
            id,
            now,
            new.created_by,
            "create",
            serde_json::json!({ "title": new.title }),
        )
        .await?;
        audit.target = Some(format!("demand:{id}"));
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.demand(id).await
    }

    /// Take in a request from the public; routed at once to the department
    /// the requester named, if any (the platform office may route it on).
    pub async fn create_public_demand(
        &self,
        new: NewPublicDemand<'_>,
        now: DateTime<Utc>,
        mut audit: AuditRecord,
    ) -> Result<Demand, StoreError> {
        let routed = match new.department {
            Some(code) => Some(self.department(code).await?),
            None => None,
        };
        let state = if routed.is_some() { "routed" } else { "open" };
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO demands (requester_id, created_by, title, description, items, reason, state,
                routed_to, created_at, updated_at, channel, public_name, public_contact, public_organisation)
             VALUES (NULL, 'public', $1, $2, '[]', '', $3, $4, $5, $5, 'public', $6, $7, $8) RETURNING id",
        )
        .bind(new.title)
        .bind(new.description)
        .bind(state)
        .bind(routed.as_ref().map(|d| d.id))
        .bind(ts(now))
        .bind(new.requester.name.as_deref())
        .bind(new.requester.contact.as_deref())
        .bind(new.requester.organisation.as_deref())
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        event(
            &mut tx,
            id,
            now,
            "public",
            "create",
            serde_json::json!({ "title": new.title, "channel": "public" }),
        )
        .await?;
        if let Some(dept) = &routed {
            event(
                &mut tx,
                id,
                now,
                "public",
                "routed",
                serde_json::json!({ "to": dept.code }),
            )
            .await?;
        }
        audit.target = Some(format!("demand:{id}"));
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.demand(id).await
    }

    /// Requests from the public, newest first, `limit` after `offset`, and how many there are.
    pub async fn public_demands(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Demand>, i64), StoreError> {
        let sql = format!(
            "{DEMAND_SELECT} WHERE m.channel = 'public' ORDER BY m.id DESC LIMIT $1 OFFSET $2"
        );
        let items = sqlx::query(AssertSqlSafe(sql))
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(demand_from)
            .collect::<Result<Vec<_>, _>>()?;
        let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM demands WHERE channel = 'public'")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        Ok((items, total))
    }

    pub async fn demand(&self, id: i64) -> Result<Demand, StoreError> {
        let sql = format!("{DEMAND_SELECT} WHERE m.id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("demand {id}")))?;
        demand_from(&row)
    }

    /// Demands, newest first: all of them, or those a department asked for or
    /// was routed; optionally in one state.
    pub async fn demands(
        &self,
        department: Option<&str>,
        state: Option<&str>,
    ) -> Result<Vec<Demand>, StoreError> {
        let sql = format!(
            "{DEMAND_SELECT} WHERE ($1 IS NULL OR q.code = $1 OR t.code = $1) AND ($2 IS NULL OR m.state = $2)
             ORDER BY m.id DESC"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(department)
            .bind(state)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(demand_from)
            .collect()
    }

    pub async fn demand_events(&self, id: i64) -> Result<Vec<DemandEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, actor, action, detail FROM demand_events WHERE demand_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let detail: String = r.try_get("detail")?;
                Ok(DemandEvent {
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    detail: serde_json::from_str(&detail)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                })
            })
            .collect()
    }

    /// Change a demand's state if it is in one of `from`; the update and its
    /// event and audit record commit together.
    async fn move_demand(
        &self,
        id: i64,
        change: Move<'_>,
        actor: &str,
        now: DateTime<Utc>,
        mut audit: AuditRecord,
    ) -> Result<Demand, StoreError> {
        let Move {
            from,
            to,
            assignments,
            values,
            detail,
        } = change;
        let current = self.demand(id).await?;
        if !from.contains(&current.state.as_str()) {
            return Err(StoreError::Conflict(format!(
                "demand {id} is {}; this needs it to be {}",
                current.state,
                from.join(" or ")
            )));
        }
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "UPDATE demands SET state = $1, updated_at = $2{assignments} WHERE id = $3 AND state = $4"
        );
        let mut q = sqlx::query(AssertSqlSafe(sql))
            .bind(to)
            .bind(ts(now))
            .bind(id)
            .bind(&current.state);
        for v in values {
            q = match v {
                Bind::Text(t) => q.bind(t),
                Bind::Id(i) => q.bind(i),
            };
        }
        if q.execute(&mut *tx).await?.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "demand {id} changed meanwhile; try again"
            )));
        }
        event(&mut tx, id, now, actor, to, detail).await?;
        audit.target = Some(format!("demand:{id}"));
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.demand(id).await
    }

    pub async fn route_demand(
        &self,
        id: i64,
        provider: &str,
        actor: &str,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<Demand, StoreError> {
        let dept = self.department(provider).await?;
        let change = Move {
            from: &["open", "routed"],
            to: "routed",
            assignments: ", routed_to = $5",
            values: vec![Bind::Id(dept.id)],
            detail: serde_json::json!({ "to": provider }),
        };
        self.move_demand(id, change, actor, now, audit).await
    }

    pub async fn answer_demand(
        &self,
        id: i64,
        answer: DemandAnswer<'_>,
        actor: &str,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<Demand, StoreError> {
        let (state, values, detail) = match answer {
            DemandAnswer::WillProvide {
                resource_code,
                by_date,
                note,
            } => (
                "will_provide",
                vec![
                    Bind::Text(Some(note.to_owned())),
                    Bind::Text(resource_code.map(str::to_owned)),
                    Bind::Text(by_date.map(str::to_owned)),
                ],
                serde_json::json!({ "resource": resource_code, "by": by_date, "note": note }),
            ),
            DemandAnswer::Cannot { reason } => (
                "cannot",
                vec![
                    Bind::Text(Some(reason.to_owned())),
                    Bind::Text(None),
                    Bind::Text(None),
                ],
                serde_json::json!({ "reason": reason }),
            ),
        };
        let change = Move {
            from: &["routed"],
            to: state,
            assignments: ", answer = $5, resource_code = $6, promised_date = $7",
            values,
            detail,
        };
        self.move_demand(id, change, actor, now, audit).await
    }

    pub async fn close_demand(
        &self,
        id: i64,
        actor: &str,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<Demand, StoreError> {
        let change = Move {
            from: &["open", "routed", "will_provide", "cannot"],
            to: "closed",
            assignments: "",
            values: vec![],
            detail: serde_json::json!({}),
        };
        self.move_demand(id, change, actor, now, audit).await
    }
}
