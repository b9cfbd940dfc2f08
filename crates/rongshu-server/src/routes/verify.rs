//! Verification without disclosure (核验): "does this ID go with this name?"
//! answered per claimed item with match / mismatch / unknown and nothing else.
//! Any department that may read the resource may verify, grade-4 items
//! included: verifying is the only way those are ever used outside.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::{Path, State};
use rongshu_core::audit::AuditEntry;
use rongshu_core::kind::ItemKind;
use rongshu_core::people::PersonHash;
use rongshu_store::{Filter, FilterOp, RecordQuery, Resource};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::auth::Actor;
use crate::error::ApiError;
use crate::exchange::verify::{Verdict, claim_text, judge, typed};
use crate::exchange::{Reader, reader};
use crate::extract::ApiJson;
use crate::people::{Widened, person_key};
use crate::routes::admin::doer;
use crate::state::AppState;

/// Most verifications in one request.
pub const MAX_REQUESTS: usize = 1_000;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// Every key item of the resource, with its value.
    #[schema(value_type = Object)]
    key: Map<String, Value>,
    /// Items and the values claimed for them.
    #[schema(value_type = Object)]
    claims: Map<String, Value>,
}

/// One verification (`{key, claims}`) or many (`{requests: [...]}`).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    #[schema(value_type = Option<Object>)]
    key: Option<Map<String, Value>>,
    #[schema(value_type = Option<Object>)]
    claims: Option<Map<String, Value>>,
    requests: Option<Vec<VerifyRequest>>,
}

/// Verify claimed values against a record found by its full key. Claims and
/// stored values are compared after normalisation (trimmed, full-width forms
/// made half-width, dates and numbers as their type). `unknown`: no record
/// with that key, or no value for the item. Nothing else of the record is told.
#[utoipa::path(post, path = "/api/v1/verify/{code}", tag = "exchange", request_body = VerifyBody,
    params(("code" = String, Path, description = "Resource code")),
    responses((status = 200, description = "`{\"results\": {item: \"match\"|\"mismatch\"|\"unknown\"}}`, or for `requests` `{\"results\": [{...}, ...]}` in their order"),
              (status = 400, description = "Not the full key, an unknown item, or a value that is not of the item's type"),
              (status = 401, description = "Not signed in"),
              (status = 403, description = "The resource is not shared with the caller")))]
pub async fn verify(
    State(state): State<AppState>,
    actor: Actor,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<VerifyBody>,
) -> Result<Json<Value>, ApiError> {
    let resource = crate::routes::resources::visible_resource(&state, &actor, &code).await?;
    let access = reader(&state, Reader::Caller(&actor), &resource).await?;
    let (requests, batch) = match body {
        VerifyBody {
            key: Some(key),
            claims: Some(claims),
            requests: None,
        } => (vec![VerifyRequest { key, claims }], false),
        VerifyBody {
            key: None,
            claims: None,
            requests: Some(requests),
        } => (requests, true),
        _ => {
            return Err(ApiError::BadRequest(
                "send either {\"key\": …, \"claims\": …} or {\"requests\": [{\"key\": …, \"claims\": …}, …]}".into(),
            ));
        }
    };
    if requests.is_empty() || requests.len() > MAX_REQUESTS {
        return Err(ApiError::BadRequest(format!(
            "requests: send 1 to {MAX_REQUESTS} verifications"
        )));
    }
    // Every request is checked before any record is looked up.
    let mut checked = Vec::with_capacity(requests.len());
    for (i, request) in requests.iter().enumerate() {
        let at = if batch {
            format!("requests[{i}].")
        } else {
            String::new()
        };
        checked.push(check_request(&resource, request, &at)?);
    }
    let key = person_key(&state).await?;
    // Whom the verifications were about: the person a key names, and the
    // person of the record found (when the key is not the ID number).
    let mut people: BTreeSet<PersonHash> = BTreeSet::new();
    let mut results = Vec::with_capacity(checked.len());
    let mut tally: BTreeMap<&'static str, i64> = BTreeMap::new();
    let mut found = 0;
    let mut items: Vec<&str> = Vec::new();
    for request in &checked {
        for filter in &request.key {
            let is_id = resource
                .spec
                .item(&filter.item)
                .is_some_and(|i| i.kind == Some(ItemKind::CitizenId));
            if let (true, FilterOp::Eq(value)) = (is_id, &filter.op)
                && let Some(person) = key.of_stored(&value.canonical_text())
            {
                people.insert(person);
            }
        }
        let query = RecordQuery {
            filters: request.key.clone(),
            fields: request.claims.iter().map(|(k, _)| k.clone()).collect(),
            limit: 1,
            sort: Vec::new(),
            after: None,
        };
        let widened = Widened::new(&resource, &query);
        let mut records = state
            .store
            .query_records(&resource, &widened.query)
            .await?
            .records;
        people.extend(widened.people(key, &mut records));
        let record = records.into_iter().next();
        found += i64::from(record.is_some());
        let mut answer = Map::new();
        for (item_key, claim) in &request.claims {
            let verdict = match (&record, resource.spec.item(item_key)) {
                (Some(r), Some(item)) => judge(item, claim, r.get(item_key)),
                _ => Verdict::Unknown,
            };
            let name = match verdict {
                Verdict::Match => "match",
                Verdict::Mismatch => "mismatch",
                Verdict::Unknown => "unknown",
            };
            *tally.entry(name).or_default() += 1;
            if !items.contains(&item_key.as_str()) {
                items.push(item_key);
            }
            answer.insert(item_key.clone(), Value::String(name.into()));
        }
        results.push(Value::Object(answer));
    }
    let key_items: Vec<&str> = resource.spec.key_items.iter().map(|k| k.as_str()).collect();
    let mut audit = doer(&actor).record(
        state.clock.now(),
        "data.verify",
        Some(resource.code.clone()),
        json!({
            "key": key_items,
            "items": items,
            "requests": checked.len(),
            "results": tally,
            "reader": access.reader,
            "grant": access.grant.as_ref().map(|g| g.id),
            "purpose": access.grant.as_ref().map(|g| g.purpose),
        }),
    );
    audit.resource = Some(resource.code.clone());
    audit.rows = Some(found);
    // On record, with whom it was about, before the answer goes.
    state
        .audit
        .record(AuditEntry::new(audit, people.into_iter().collect()))
        .await?;
    let results = if batch {
        Value::Array(results)
    } else {
        results.into_iter().next().unwrap_or(Value::Null)
    };
    Ok(Json(json!({ "results": results })))
}

struct CheckedRequest {
    key: Vec<Filter>,
    claims: Vec<(String, rongshu_core::value::CellValue)>,
}

fn check_request(
    resource: &Resource,
    request: &VerifyRequest,
    at: &str,
) -> Result<CheckedRequest, ApiError> {
    let spec = &resource.spec;
    let code = &resource.code;
    let key_items: Vec<&str> = spec.key_items.iter().map(|k| k.as_str()).collect();
    for name in request.key.keys() {
        if spec.item(name).is_none() {
            return Err(ApiError::BadRequest(format!(
                "{at}key: {code} has no item \"{name}\""
            )));
        }
        if !key_items.contains(&name.as_str()) {
            return Err(ApiError::BadRequest(format!(
                "{at}key: \"{name}\" is not a key item of {code}; its key is {}",
                key_items.join(", ")
            )));
        }
    }
    let mut key = Vec::with_capacity(key_items.len());
    for name in &key_items {
        let bad = |why: String| ApiError::BadRequest(format!("{at}key.{name}: {why}"));
        let raw = request.key.get(*name).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "{at}key: give the full key of {code} ({}); \"{name}\" is missing",
                key_items.join(", ")
            ))
        })?;
        let item = spec
            .item(name)
            .ok_or_else(|| ApiError::internal_msg(format!("key item {name} is not an item")))?;
        let text = claim_text(raw).map_err(|e| bad(e.to_string()))?;
        let value = typed(item, &text)
            .map_err(|e| bad(e.to_string()))?
            .ok_or_else(|| bad("give a value".into()))?;
        key.push(Filter::eq(*name, value));
    }
    if request.claims.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "{at}claims: claim at least one item's value"
        )));
    }
    let mut claims = Vec::with_capacity(request.claims.len());
    for (name, raw) in &request.claims {
        let bad = |why: String| ApiError::BadRequest(format!("{at}claims.{name}: {why}"));
        let item = spec
            .item(name)
            .ok_or_else(|| bad(format!("{code} has no item \"{name}\"")))?;
        let text = claim_text(raw).map_err(|e| bad(e.to_string()))?;
        let value = typed(item, &text)
            .map_err(|e| bad(e.to_string()))?
            .ok_or_else(|| bad("give a value".into()))?;
        claims.push((name.clone(), value));
    }
    Ok(CheckedRequest { key, claims })
}
