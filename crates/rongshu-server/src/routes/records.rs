//! Reading a resource's records through the one data API: filters, field
//! choice, keyset paging, masking by grade, and an audit event committed before
//! the answer leaves.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Map, Value, json};

use crate::auth::Actor;
use crate::disclosure::{Audience, present_record};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::routes::admin::doer;
use crate::state::AppState;
use rongshu_core::catalog::{Grade, ShareType};
use rongshu_core::value::parse_cell;
use rongshu_store::{Filter, RecordQuery, Resource};

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1_000;

/// Who may read: the provider always; any signed-in department when the
/// resource is shared unconditionally; nobody else until the request
/// workflow grants it.
pub(crate) fn audience(actor: &Actor, resource: &Resource) -> Result<Audience, ApiError> {
    department_audience(&actor.department().code, resource)
}

/// [`audience`] for a department acting without a caller at hand (a webhook
/// subscription is delivered by the server on its department's behalf).
pub(crate) fn department_audience(
    department: &str,
    resource: &Resource,
) -> Result<Audience, ApiError> {
    if department == resource.provider.code {
        return Ok(Audience::Provider);
    }
    match resource.spec.share_type {
        ShareType::Unconditional => Ok(Audience::Consumer),
        ShareType::Conditional => Err(ApiError::Forbidden(format!(
            "{} is shared on condition: it is read under an approved share request",
            resource.code
        ))),
        ShareType::None => Err(ApiError::Forbidden(format!(
            "{} is not shared outside {}",
            resource.code, resource.provider.name
        ))),
    }
}

fn encode_cursor(row_id: i64) -> String {
    format!("r{}", hex::encode(row_id.to_be_bytes()))
}

fn decode_cursor(cursor: &str) -> Result<i64, ApiError> {
    let bad = || ApiError::BadRequest("after: not a cursor this API gave out".into());
    let hex_part = cursor.strip_prefix('r').ok_or_else(bad)?;
    let bytes: [u8; 8] = hex::decode(hex_part)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)?;
    Ok(i64::from_be_bytes(bytes))
}

/// Read records. Any query parameter other than `fields`, `limit` and `after`
/// filters on the item of that key (`?name=张三`).
#[utoipa::path(get, path = "/api/v1/resources/{code}/records", tag = "data",
    params(("code" = String, Path, description = "Resource code"),
           ("fields" = Option<String>, Query, description = "Comma-separated item keys to return"),
           ("limit" = Option<i64>, Query, description = "Records per page, 1 to 1000 (default 100)"),
           ("after" = Option<String>, Query, description = "The `next` cursor of the previous page")),
    responses((status = 200, description = "`{\"records\": [...], \"next\": cursor or null, \"elements\": [{item, element, authoritative}], \"authoritative\": [item keys whose values are of record]}`"),
              (status = 400, description = "Unknown item or a value of the wrong type"),
              (status = 401, description = "Not signed in"),
              (status = 403, description = "The resource is not shared with the caller")))]
pub async fn read(
    State(state): State<AppState>,
    actor: Actor,
    Path(code): Path<String>,
    ApiQuery(params): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let resource = crate::routes::resources::visible_resource(&state, &actor, &code).await?;
    let audience = audience(&actor, &resource)?;
    let spec = &resource.spec;
    let mut query = RecordQuery {
        filters: Vec::new(),
        fields: Vec::new(),
        limit: DEFAULT_LIMIT,
        after: None,
    };
    let mut fields_given = false;
    for (name, value) in &params {
        match name.as_str() {
            "fields" => {
                fields_given = true;
                for f in value.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                    if spec.item(f).is_none() {
                        return Err(ApiError::BadRequest(format!(
                            "fields: {code} has no item \"{f}\""
                        )));
                    }
                    query.fields.push(f.to_owned());
                }
            }
            "limit" => {
                query.limit = value
                    .parse::<i64>()
                    .ok()
                    .filter(|l| (1..=MAX_LIMIT).contains(l))
                    .ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "limit must be a number from 1 to {MAX_LIMIT}"
                        ))
                    })?;
            }
            "after" => query.after = Some(decode_cursor(value)?),
            item_key => {
                let item = spec.item(item_key).ok_or_else(|| {
                    ApiError::BadRequest(format!("{code} has no item \"{item_key}\" to filter on"))
                })?;
                if audience == Audience::Consumer && item.grade >= Grade::CORE {
                    return Err(ApiError::Forbidden(format!(
                        "{item_key} is a core item (grade 4): it can only be verified, not searched"
                    )));
                }
                let cell = parse_cell(item.item_type, value)
                    .map_err(|e| ApiError::BadRequest(format!("{item_key}: {e}")))?
                    .ok_or_else(|| {
                        ApiError::BadRequest(format!("{item_key}: give a value to filter on"))
                    })?;
                query.filters.push(Filter {
                    item: item_key.to_owned(),
                    value: cell,
                });
            }
        }
    }
    if !fields_given {
        query.fields = spec.items.iter().map(|i| i.key.to_string()).collect();
    }
    let page = state.store.query_records(&resource, &query).await?;
    let records: Vec<Map<String, Value>> = page
        .records
        .into_iter()
        .map(|r| present_record(spec, r, audience))
        .collect();
    let returned: Vec<&str> = query
        .fields
        .iter()
        .map(String::as_str)
        .filter(|f| records.first().is_none_or(|r| r.contains_key(*f)))
        .collect();
    let filter_items: Vec<&str> = query.filters.iter().map(|f| f.item.as_str()).collect();
    let mut audit = doer(&actor).record(
        state.clock.now(),
        "data.read",
        Some(code.clone()),
        json!({ "items": returned, "filters": filter_items, "masked": audience == Audience::Consumer }),
    );
    audit.resource = Some(code.clone());
    audit.rows = Some(records.len() as i64);
    // Said once for the page, not per row: which returned items carry a data
    // element, and which of them are the element's value of record.
    let elements: Vec<_> =
        crate::routes::resources::item_standings(&state, &resource.provider.code, spec)
            .await?
            .into_iter()
            .filter(|s| returned.contains(&s.item.as_str()))
            .collect();
    let authoritative: Vec<&str> = elements
        .iter()
        .filter(|s| s.authoritative)
        .map(|s| s.item.as_str())
        .collect();
    // The read is on record before anyone sees its answer.
    state.store.append_audit(&audit).await?;
    Ok(Json(json!({
        "records": records,
        "next": page.next_after.map(encode_cursor),
        "elements": elements,
        "authoritative": authoritative,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_junk_is_refused() {
        assert_eq!(decode_cursor(&encode_cursor(12345)).unwrap(), 12345);
        assert!(decode_cursor("12345").is_err());
        assert!(decode_cursor("rzz").is_err());
    }
}
