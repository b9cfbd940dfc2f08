//! The open API: `GET /api/open/v1/datasets/{name}/records` gives a
//! published release's rows with the data API's filters, field choice, sort,
//! keyset paging and exact totals, to registered users' keys. What a caller
//! can reach is the release and nothing more: its items (masked ones masked),
//! its rows (the view's filters added to the caller's). A conditional release
//! needs the provider's approval of the caller's request first. Each call is
//! counted for the dataset's usage figures.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use rongshu_core::opendata::ReleaseOpenType;
use rongshu_store::{AccessRequestState, OpenCaller};
use serde_json::{Value, json};

use crate::access::{Disclosure, ReadAccess};
use crate::data_query;
use crate::disclosure::present_record;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::opendata::gate::view_filters;
use crate::opendata::open_keys;
use crate::opendata::package::{self, Dataset};
use crate::page_cursor;
use crate::state::AppState;

/// Parameters that shape the page rather than filter rows.
const PAGING: &[&str] = &["fields", "sort", "limit", "after", "total"];

/// Whether the caller may read the dataset's rows: always for an open one;
/// for a conditional one, once the provider approved the caller's request.
pub async fn may_use(
    state: &AppState,
    dataset: &Dataset,
    caller: &OpenCaller,
) -> Result<(), ApiError> {
    if dataset.release.open_type == ReleaseOpenType::Open {
        return Ok(());
    }
    let request = state
        .store
        .open_access_of(dataset.release.id, caller.user.id)
        .await?;
    let name = dataset.name();
    match request.map(|r| r.state) {
        Some(AccessRequestState::Approved) => Ok(()),
        Some(AccessRequestState::Pending) => Err(ApiError::Forbidden(format!(
            "\"{name}\" is open on conditions and your request is waiting for the provider's decision"
        ))),
        Some(AccessRequestState::Rejected) => Err(ApiError::Forbidden(format!(
            "\"{name}\" is open on conditions and the provider rejected your request; you may ask again with another purpose"
        ))),
        None => Err(ApiError::Forbidden(format!(
            "\"{name}\" is open on conditions ({}): accept its terms and state your purpose with POST /api/open/v1/datasets/{name}/access-requests",
            dataset.release.open_condition.as_deref().unwrap_or("")
        ))),
    }
}

/// How the public reads a dataset: its released items, within its view.
pub fn public_access(dataset: &Dataset) -> Result<ReadAccess, ApiError> {
    let view = view_filters(&dataset.resource.spec, &dataset.release.view)?;
    Ok(ReadAccess::public(
        dataset
            .items
            .iter()
            .map(|(item, masked)| (item.key.to_string(), *masked)),
        view,
    ))
}

/// Read a dataset's rows. Any query parameter other than `fields`, `sort`,
/// `limit`, `after` and `total` filters on the item of that key, as in the
/// data API (`?district=武侯区`, `?gdp.gte=100`, `?district.in=锦江区,武侯区`).
#[utoipa::path(get, path = "/api/open/v1/datasets/{name}/records", tag = "open data",
    params(("name" = String, Path, description = "Dataset name"),
           ("X-API-Key" = String, Header, description = "An open API key (`rok_…`), from signing up on the portal"),
           ("fields" = Option<String>, Query, description = "Comma-separated item keys"),
           ("sort" = Option<String>, Query, description = "Item keys, `-key` descending; not masked items"),
           ("limit" = Option<i64>, Query, description = "Rows per page, 1 to 1000 (default 100)"),
           ("after" = Option<String>, Query, description = "The `next` cursor of the previous page"),
           ("total" = Option<bool>, Query, description = "true: add the exact number of matching rows")),
    responses((status = 200, description = "`{\"dataset\": name, \"records\": [...], \"next\": cursor or null, \"total\": n (when asked), \"masked\": [items]}`"),
              (status = 400, description = "Unknown item, a value of the wrong type, a bad cursor"),
              (status = 401, description = "No key, or a revoked or unknown one"),
              (status = 403, description = "A conditional dataset without an approved request, or a filter on a masked item"),
              (status = 404, description = "No such published dataset"),
              (status = 429, description = "The key's rate limit; see Retry-After")))]
pub async fn records(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let caller = open_keys::caller(&state, &headers).await?;
    let dataset = package::published_dataset(&state, &name).await?;
    may_use(&state, &dataset, &caller).await?;
    let access = public_access(&dataset)?;
    // A masked value stays unknown: unlike a department with a grant, the
    // public may not even confirm a guess by matching it exactly.
    for (key, _) in params.iter().filter(|(k, _)| !PAGING.contains(&k.as_str())) {
        let item = key.split_once('.').map_or(key.as_str(), |(item, _)| item);
        if access.disclosure(item) == Disclosure::Masked {
            return Err(ApiError::Forbidden(format!(
                "{item} is masked in this dataset: rows cannot be chosen by it"
            )));
        }
    }
    let spec = &dataset.resource.spec;
    let checked = data_query::from_params(dataset.name(), spec, &access, &params, true)?;
    // With its total, the page is read from the same snapshot.
    let (page, total) = if checked.total {
        let (page, total) = state
            .store
            .query_records_counted(&dataset.resource, &checked.query)
            .await?;
        (page, Some(total))
    } else {
        let page = state
            .store
            .query_records(&dataset.resource, &checked.query)
            .await?;
        (page, None)
    };
    state
        .store
        .count_api_call(dataset.release.id, state.clock.now().date_naive())
        .await?;
    let records: Vec<_> = page
        .records
        .into_iter()
        .map(|r| present_record(spec, r, &access))
        .collect();
    let masked: Vec<&str> = checked
        .query
        .fields
        .iter()
        .map(String::as_str)
        .filter(|f| access.disclosure(f) == Disclosure::Masked)
        .collect();
    let next = page
        .next_after
        .as_ref()
        .map(|position| page_cursor::encode(&checked.query.sort, position));
    let mut answer = json!({
        "dataset": dataset.name(),
        "records": records,
        "next": next,
        "masked": masked,
    });
    if let (Some(total), Some(map)) = (total, answer.as_object_mut()) {
        map.insert("total".into(), json!(total));
    }
    Ok(Json(answer))
}
