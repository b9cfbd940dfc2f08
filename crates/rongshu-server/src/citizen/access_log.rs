//! A citizen's access log: every audited read that touched the person, as
//! the side table of the audit log links them, told in the citizen's terms:
//! which department, application or person, when, which resource and items,
//! under which grant and purpose, by which way of reading.

use std::collections::HashMap;

use rongshu_core::people::PersonHash;
use rongshu_core::sharing::Purpose;
use rongshu_store::{PersonRead, Resource, StoreError};
use serde::Serialize;
use serde_json::{Value, json};

use crate::access::Reader;
use crate::citizen::sign_in::citizen_event;
use crate::error::ApiError;
use crate::state::AppState;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// How the data was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Records,
    Query,
    Export,
    Changes,
    Verify,
    Webhook,
}

impl Operation {
    /// The key of its words on the pages.
    pub fn label_key(self) -> &'static str {
        match self {
            Operation::Records => "op_records",
            Operation::Query => "op_query",
            Operation::Export => "op_export",
            Operation::Changes => "op_changes",
            Operation::Verify => "op_verify",
            Operation::Webhook => "op_webhook",
        }
    }

    /// From a read event's action and detail; `None` for any other event.
    fn of(action: &str, detail: &Value) -> Option<Self> {
        if action == "data.verify" {
            return Some(Operation::Verify);
        }
        if action != "data.read" {
            return None;
        }
        let said = detail
            .get("operation")
            .or_else(|| detail.get("via"))
            .and_then(Value::as_str)?;
        Some(match said {
            // A read of the data as a past batch left it is a records read.
            "records" | "records.as_of" => Operation::Records,
            "query" => Operation::Query,
            "export" => Operation::Export,
            "changes" => Operation::Changes,
            "webhook" => Operation::Webhook,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Named {
    pub code: String,
    pub name: Option<String>,
}

/// One read of the person's data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessLogEntry {
    /// The audit event's number: pass it as `before` for older entries.
    pub seq: i64,
    pub at: String,
    pub operation: Operation,
    pub department: Option<Named>,
    /// The application whose key made the read.
    pub application: Option<String>,
    /// The department's person who made the read.
    pub user: Option<String>,
    /// The webhook subscription the data was pushed on.
    pub subscription: Option<i64>,
    pub resource: Option<Named>,
    /// The items read (each with its name in the catalog).
    pub items: Vec<Named>,
    /// Of those, the ones the reader saw masked.
    pub masked: Vec<String>,
    pub grant: Option<i64>,
    pub purpose: Option<Purpose>,
    /// Whether the reader was the data's provider or another department.
    pub reader: Option<Reader>,
}

/// Who made a read, from the audit's actor label.
fn who(actor: &str) -> (Option<String>, Option<String>, Option<i64>) {
    if let Some(user) = actor.strip_prefix("user:") {
        (None, Some(user.to_owned()), None)
    } else if let Some(app) = actor.strip_prefix("app:") {
        // `app:<department>/<name>`: the department is said on its own.
        let name = app.split_once('/').map_or(app, |(_, name)| name);
        (Some(name.to_owned()), None, None)
    } else if let Some(id) = actor.strip_prefix("subscription:") {
        (None, None, id.parse().ok())
    } else {
        (None, None, None)
    }
}

fn strings(detail: &Value, key: &str) -> Vec<String> {
    detail
        .get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// An entry from one read event; `None` when the event is not a read.
pub fn entry(read: &PersonRead, resource: Option<&Resource>) -> Option<AccessLogEntry> {
    let e = &read.event;
    let operation = Operation::of(&e.action, &e.detail)?;
    let (application, user, subscription) = who(&e.actor);
    let item_name = |key: &str| {
        resource
            .and_then(|r| r.spec.item(key))
            .map(|i| i.name.clone())
    };
    Some(AccessLogEntry {
        seq: e.seq,
        at: e.at.clone(),
        operation,
        department: e.department.as_ref().map(|code| Named {
            code: code.clone(),
            name: read.department_name.clone(),
        }),
        application,
        user,
        subscription,
        resource: e.resource.as_ref().map(|code| Named {
            code: code.clone(),
            name: resource.map(|r| r.spec.name.clone()),
        }),
        items: strings(&e.detail, "items")
            .into_iter()
            .map(|key| Named {
                name: item_name(&key),
                code: key,
            })
            .collect(),
        // Feeds say `masked` as yes/no and list the items apart.
        masked: match e.detail.get("masked") {
            Some(Value::Array(_)) => strings(&e.detail, "masked"),
            _ => strings(&e.detail, "masked_items"),
        },
        grant: e.detail.get("grant").and_then(Value::as_i64),
        purpose: e
            .detail
            .get("purpose")
            .and_then(Value::as_str)
            .and_then(Purpose::parse),
        reader: match e.detail.get("reader").and_then(Value::as_str) {
            Some("provider") => Some(Reader::Provider),
            Some("consumer") => Some(Reader::Consumer),
            _ => None,
        },
    })
}

/// A page of the log, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct AccessLogPage {
    pub entries: Vec<AccessLogEntry>,
    /// Pass as `before` for the next (older) page; `null` at the end.
    pub next_before: Option<i64>,
}

/// The person's reads before event `before`, newest first, `limit` of them.
/// Looking is itself put on record (under the person's hash).
pub async fn read_own_log(
    state: &AppState,
    person: &PersonHash,
    before: Option<i64>,
    limit: i64,
) -> Result<AccessLogPage, ApiError> {
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be a number from 1 to {MAX_LIMIT}"
        )));
    }
    if before.is_some_and(|b| b < 1) {
        return Err(ApiError::BadRequest("before must be an entry's seq".into()));
    }
    let mut reads = state.store.person_reads(person, before, limit + 1).await?;
    let more = reads.len() as i64 > limit;
    reads.truncate(limit as usize);
    let mut resources: HashMap<String, Option<Resource>> = HashMap::new();
    let mut entries = Vec::with_capacity(reads.len());
    for read in &reads {
        let resource = match &read.event.resource {
            Some(code) => {
                if !resources.contains_key(code) {
                    let found = match state.store.resource(code).await {
                        Ok(r) => Some(r),
                        Err(StoreError::NotFound(_)) => None,
                        Err(e) => return Err(e.into()),
                    };
                    resources.insert(code.clone(), found);
                }
                resources.get(code).and_then(Option::as_ref)
            }
            None => None,
        };
        entries.extend(entry(read, resource));
    }
    let next_before = if more {
        reads.last().map(|r| r.event.seq)
    } else {
        None
    };
    let audit = citizen_event(
        state.clock.now(),
        "citizen.access_log",
        person,
        json!({ "before": before, "entries": entries.len() }),
    );
    state.audit.record(audit).await?;
    Ok(AccessLogPage {
        entries,
        next_before,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rongshu_store::AuditEventRow;

    fn read(actor: &str, action: &str, detail: Value) -> PersonRead {
        PersonRead {
            event: AuditEventRow {
                seq: 9,
                at: "2026-03-02T09:00:00.000000Z".into(),
                actor: actor.into(),
                department: Some("rsj".into()),
                action: action.into(),
                target: None,
                resource: Some("101001-00001".into()),
                rows: Some(1),
                detail,
            },
            department_name: Some("人社局".into()),
        }
    }

    #[test]
    fn an_application_read_under_a_grant_names_both() {
        let r = read(
            "app:rsj/社保核验",
            "data.read",
            json!({"operation": "query", "items": ["id_number", "name"], "masked": ["name"],
                   "grant": 7, "purpose": "data_verification"}),
        );
        let e = entry(&r, None).unwrap();
        assert_eq!(e.operation, Operation::Query);
        assert_eq!(e.application.as_deref(), Some("社保核验"));
        assert_eq!(e.user, None);
        assert_eq!(
            e.department,
            Some(Named {
                code: "rsj".into(),
                name: Some("人社局".into())
            })
        );
        assert_eq!(e.items.len(), 2);
        assert_eq!(e.masked, ["name"]);
        assert_eq!(e.grant, Some(7));
        assert_eq!(e.purpose, Some(Purpose::DataVerification));
        assert_eq!(e.reader, None);
    }

    #[test]
    fn every_way_of_reading_is_named_and_other_events_are_not_reads() {
        let op = |actor: &str, action: &str, detail: Value| {
            entry(&read(actor, action, detail), None).map(|e| (e.operation, e.user, e.subscription))
        };
        assert_eq!(
            op("user:a", "data.read", json!({"operation": "records.as_of"})),
            Some((Operation::Records, Some("a".into()), None))
        );
        assert_eq!(
            op("user:a", "data.read", json!({"via": "changes"})).map(|o| o.0),
            Some(Operation::Changes)
        );
        assert_eq!(
            op("subscription:4", "data.read", json!({"via": "webhook"})),
            Some((Operation::Webhook, None, Some(4)))
        );
        assert_eq!(
            op("user:a", "data.verify", json!({})).map(|o| o.0),
            Some(Operation::Verify)
        );
        assert_eq!(
            op("user:a", "data.read", json!({"operation": "export"})).map(|o| o.0),
            Some(Operation::Export)
        );
        assert_eq!(op("user:a", "auth.login", json!({})), None);
        assert_eq!(
            op("user:a", "data.read", json!({"operation": "other"})),
            None
        );
    }
}
