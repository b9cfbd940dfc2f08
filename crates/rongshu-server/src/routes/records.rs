//! Reading a resource's records through the one data API: filters, field
//! choice, sort, keyset paging, exact totals, disclosure as the access
//! decision says, and an audit event committed before the answer leaves. A
//! query string (`GET records`) and a JSON body (`POST query`) are two
//! spellings of the same read.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Map, Value, json};

use crate::access::{self, Disclosure, ReadAccess};
use crate::auth::Actor;
use crate::data_query::{self, Checked, QueryBody};
use crate::disclosure::present_record;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::page_cursor;
use crate::people::{self, Widened, person_key};
use crate::routes::admin::doer;
use crate::state::AppState;
use rongshu_core::audit::{AuditEntry, AuditRecord};
use rongshu_core::people::PersonHash;
use rongshu_store::{Keyset, RecordPage, Resource};

/// Read records. Any query parameter other than `fields`, `sort`, `limit`,
/// `after`, `total` and `as_of` filters on the item of that key:
/// `?district=武侯区` for equality, `?children.gte=1` (also `.lt`, `.lte`,
/// `.gt`), `?district.in=锦江区,武侯区`. `sort=children,-birth_date` orders
/// by items the caller sees plain (empty values last, then by row); the
/// `next` cursor continues that order and no other. `total=true` adds the
/// exact count of matching rows: without filters (and without a row-limited
/// grant) it is one stored number; an equality or `in` on the key counts
/// from the key's index; other filters count by scanning the table.
/// `as_of=BATCH` reads the data as that batch left it (versioned data, rebuilt
/// from the change log; no filters, no sort, no total).
#[utoipa::path(get, path = "/api/v1/resources/{code}/records", tag = "data",
    params(("code" = String, Path, description = "Resource code"),
           ("fields" = Option<String>, Query, description = "Comma-separated item keys to return"),
           ("sort" = Option<String>, Query, description = "Comma-separated item keys to order by, `-key` for descending (e.g. `district,-birth_date`); empty values last; only items the caller sees plain (not masked)"),
           ("limit" = Option<i64>, Query, description = "Records per page, 1 to 1000 (default 100)"),
           ("after" = Option<String>, Query, description = "The `next` cursor of the previous page, under the same sort"),
           ("total" = Option<bool>, Query, description = "true: add `total`, the exact number of rows matching the filters within the caller's row scope"),
           ("as_of" = Option<String>, Query, description = "A batch id: the data as that batch left it (no item filters, sort or total)")),
    responses((status = 200, description = "`{\"records\": [...], \"next\": cursor or null, \"total\": n (when asked), \"access\": {reader, grant, masked}, \"elements\": [{item, element, authoritative}], \"authoritative\": [item keys whose values are of record]}`"),
              (status = 400, description = "Unknown item, a value of the wrong type, or a cursor of another sort"),
              (status = 401, description = "Not signed in"),
              (status = 403, description = "The resource, or a filtered or sorted item, is not shared with the caller, or is masked and sorted by")))]
pub async fn read(
    State(state): State<AppState>,
    actor: Actor,
    Path(code): Path<String>,
    ApiQuery(params): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let resource = crate::routes::resources::visible_resource(&state, &actor, &code).await?;
    let access = access::decide(&state, &actor, &resource).await?;
    let as_of = params
        .iter()
        .find(|(k, _)| k == "as_of")
        .map(|(_, v)| v.clone());
    let params: Vec<(String, String)> = params.into_iter().filter(|(k, _)| k != "as_of").collect();
    let checked = data_query::from_params(&code, &resource.spec, &access, &params, true)?;
    match as_of {
        None => answer(&state, &actor, &resource, &access, &checked, "records").await,
        Some(batch) => {
            let Checked { query, asked, .. } = &checked;
            if !query.sort.is_empty() || checked.total {
                return Err(ApiError::BadRequest(
                    "as_of: a past batch's data is paged whole in its own order; sort and total apply to the current data only"
                        .into(),
                ));
            }
            if !asked.is_empty() {
                return Err(ApiError::BadRequest(
                    "as_of: a past batch's data is paged whole; filters apply to the current data only"
                        .into(),
                ));
            }
            if !access.row_scope.is_empty() {
                return Err(ApiError::Forbidden(
                    "as_of: a grant limited to some rows reads the current data only".into(),
                ));
            }
            let past = state
                .store
                .records_as_of(
                    &resource,
                    &batch,
                    query.after.as_ref().map_or(0, |k| k.row_id),
                    query.limit,
                )
                .await?;
            let people = people::of_records(person_key(&state).await?, &resource, &past.records);
            let chosen = |mut r: Map<String, Value>| {
                r.retain(|k, _| query.fields.iter().any(|f| f == k));
                r
            };
            let page = RecordPage {
                records: past.records.into_iter().map(chosen).collect(),
                next_after: past.next_after.map(Keyset::row),
            };
            respond(
                &state,
                &actor,
                &resource,
                &access,
                &checked,
                "records.as_of",
                page,
                None,
                people,
            )
            .await
        }
    }
}

/// The same read as `GET records`, with the query in a JSON body:
/// `{"filters": [{"item": "children", "op": "gte", "value": 1}], "fields": [...], "sort": ["district", "-children"], "limit": n, "after": cursor, "total": true}`.
#[utoipa::path(post, path = "/api/v1/resources/{code}/query", tag = "data", request_body = QueryBody,
    params(("code" = String, Path, description = "Resource code")),
    responses((status = 200, description = "As `GET records`"),
              (status = 400, description = "Unknown item, operator, a value of the wrong type, or a cursor of another sort"),
              (status = 401, description = "Not signed in"),
              (status = 403, description = "The resource, or a filtered or sorted item, is not shared with the caller, or is masked and sorted by")))]
pub async fn query(
    State(state): State<AppState>,
    actor: Actor,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<QueryBody>,
) -> Result<Json<Value>, ApiError> {
    let resource = crate::routes::resources::visible_resource(&state, &actor, &code).await?;
    let access = access::decide(&state, &actor, &resource).await?;
    let checked = data_query::from_body(&code, &resource.spec, &access, &body)?;
    answer(&state, &actor, &resource, &access, &checked, "query").await
}

/// The `data.read` audit event: who, which resource and items, under which
/// grant and purpose, which items were masked, how it was asked.
pub(crate) fn read_event(
    state: &AppState,
    actor: &Actor,
    resource: &Resource,
    access: &ReadAccess,
    returned: &[&str],
    asked: &[String],
    operation: &str,
) -> AuditRecord {
    let masked: Vec<&str> = returned
        .iter()
        .copied()
        .filter(|f| access.disclosure(f) == Disclosure::Masked)
        .collect();
    let scope: Vec<&str> = access.row_scope.iter().map(|f| f.item.as_str()).collect();
    let mut audit = doer(actor).record(
        state.clock.now(),
        "data.read",
        Some(resource.code.clone()),
        json!({
            "operation": operation,
            "reader": access.reader,
            "items": returned,
            "masked": masked,
            "filters": asked,
            "row_scope": scope,
            "grant": access.grant.as_ref().map(|g| g.id),
            "purpose": access.grant.as_ref().map(|g| g.purpose),
        }),
    );
    audit.resource = Some(resource.code.clone());
    audit
}

async fn answer(
    state: &AppState,
    actor: &Actor,
    resource: &Resource,
    access: &ReadAccess,
    checked: &Checked,
    operation: &str,
) -> Result<Json<Value>, ApiError> {
    let widened = Widened::new(resource, &checked.query);
    // With its total, the page is read from the same snapshot: a batch
    // committed between the two reads would make them disagree.
    let (mut page, total) = if checked.total {
        let (page, total) = state
            .store
            .query_records_counted(resource, &widened.query)
            .await?;
        (page, Some(total))
    } else {
        (
            state.store.query_records(resource, &widened.query).await?,
            None,
        )
    };
    let people = widened.people(person_key(state).await?, &mut page.records);
    respond(
        state, actor, resource, access, checked, operation, page, total, people,
    )
    .await
}

/// Disclose a page as the access decision says, put the read on record (with
/// the people its rows are about), answer.
#[allow(clippy::too_many_arguments)]
async fn respond(
    state: &AppState,
    actor: &Actor,
    resource: &Resource,
    access: &ReadAccess,
    checked: &Checked,
    operation: &str,
    page: RecordPage,
    total: Option<i64>,
    people: Vec<PersonHash>,
) -> Result<Json<Value>, ApiError> {
    let Checked { query, asked, .. } = checked;
    let spec = &resource.spec;
    let records: Vec<Map<String, Value>> = page
        .records
        .into_iter()
        .map(|r| present_record(spec, r, access))
        .collect();
    let returned: Vec<&str> = query.fields.iter().map(String::as_str).collect();
    let mut audit = read_event(state, actor, resource, access, &returned, asked, operation);
    audit.rows = Some(records.len() as i64);
    if let Some(detail) = audit.detail.as_object_mut()
        && !query.sort.is_empty()
    {
        detail.insert(
            "sort".into(),
            Value::String(page_cursor::sort_text(&query.sort)),
        );
    }
    // Said once for the page, not per row: which returned items carry a data
    // element, and which of them are the element's value of record.
    let elements: Vec<_> = crate::routes::resources::resource_standings(state, resource)
        .await?
        .iter()
        .filter(|s| returned.contains(&s.item.as_str()))
        .cloned()
        .collect();
    let authoritative: Vec<&str> = elements
        .iter()
        .filter(|s| s.authoritative)
        .map(|s| s.item.as_str())
        .collect();
    // The read is on record before anyone sees its answer.
    state.audit.record(AuditEntry::new(audit, people)).await?;
    let masked: Vec<&str> = returned
        .iter()
        .copied()
        .filter(|f| access.disclosure(f) == Disclosure::Masked)
        .collect();
    let next = page
        .next_after
        .as_ref()
        .map(|position| page_cursor::encode(&query.sort, position));
    let mut answer = json!({
        "records": records,
        "next": next,
        "access": {
            "reader": access.reader,
            "grant": access.grant,
            "masked": masked,
        },
        "elements": elements,
        "authoritative": authoritative,
    });
    if let (Some(total), Some(fields)) = (total, answer.as_object_mut()) {
        fields.insert("total".into(), Value::from(total));
    }
    Ok(Json(answer))
}
