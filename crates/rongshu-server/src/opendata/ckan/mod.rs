//! CKAN's Action API (`/api/3/action/{name}`, `/api/action/{name}`), so that
//! CKAN clients, harvesters and dashboards work against Rongshu unchanged.
//! Parameters come as a query string or a JSON body (ckanapi POSTs JSON);
//! answers are CKAN's envelope, errors CKAN's `__type`s with its statuses.
//! Only published releases are reachable from here.

mod catalog;
mod datastore;
mod params;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::opendata::base_url;
use crate::state::AppState;

pub use params::Params;

/// A failed action, as CKAN names it.
#[derive(Debug)]
pub enum CkanError {
    NotFound(String),
    Validation(String),
    Authorization(String),
    BadRequest(String),
    Internal(ApiError),
}

impl CkanError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            CkanError::NotFound(_) => (StatusCode::NOT_FOUND, "Not Found Error"),
            CkanError::Validation(_) => (StatusCode::CONFLICT, "Validation Error"),
            CkanError::Authorization(_) => (StatusCode::FORBIDDEN, "Authorization Error"),
            CkanError::BadRequest(_) => (StatusCode::BAD_REQUEST, "Bad Request"),
            CkanError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        }
    }
}

impl From<ApiError> for CkanError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::NotFound(m) => CkanError::NotFound(m),
            ApiError::Forbidden(m) | ApiError::Unauthorized(m) => CkanError::Authorization(m),
            ApiError::BadRequest(m) | ApiError::Unprocessable(m) | ApiError::Conflict(m) => {
                CkanError::Validation(m)
            }
            other => CkanError::Internal(other),
        }
    }
}

impl From<rongshu_store::StoreError> for CkanError {
    fn from(e: rongshu_store::StoreError) -> Self {
        CkanError::from(ApiError::from(e))
    }
}

pub type CkanResult = Result<Value, CkanError>;

/// What an action needs besides its parameters.
pub struct Call<'a> {
    pub state: &'a AppState,
    pub base: String,
    pub params: Params,
}

fn help(base: &str, action: &str) -> String {
    format!("{base}/api/3/action/help_show?name={action}")
}

/// Every action, by name.
async fn dispatch(name: &str, call: &Call<'_>) -> CkanResult {
    match name {
        "site_read" => Ok(json!(true)),
        "status_show" => Ok(catalog::status_show(call)),
        "package_list" => catalog::package_list(call).await,
        "package_search" => catalog::package_search(call).await,
        "package_show" => catalog::package_show(call).await,
        "organization_list" => catalog::organization_list(call).await,
        "organization_show" => catalog::organization_show(call).await,
        "group_list" => catalog::group_list(call).await,
        "tag_list" => catalog::tag_list(call).await,
        "resource_show" => catalog::resource_show(call).await,
        "datastore_search" => datastore::datastore_search(call).await,
        other => Err(CkanError::BadRequest(format!(
            "Bad request - Action name not known: {other}"
        ))),
    }
}

/// A published dataset's first `limit` rows exactly as `datastore_search`
/// gives them (the view's rows, dropped items absent, masked items masked):
/// the portal's preview and chart read through here, not beside it.
/// `Ok(None)`: the dataset is open on conditions, so its rows are not public.
pub async fn released_rows(
    state: &AppState,
    base: &str,
    dataset: &crate::opendata::package::Dataset,
    limit: i64,
) -> Result<Option<Value>, ApiError> {
    let query = format!("resource_id={}&limit={limit}", dataset.resource_id());
    let params = Params::from_request(Some(&query), b"")
        .map_err(|e| ApiError::internal_msg(format!("{e:?}")))?;
    let call = Call {
        state,
        base: base.to_owned(),
        params,
    };
    match datastore::datastore_search(&call).await {
        Ok(result) => Ok(Some(result)),
        Err(CkanError::Authorization(_)) => Ok(None),
        Err(CkanError::NotFound(m)) => Err(ApiError::NotFound(m)),
        Err(CkanError::Internal(e)) => Err(e),
        Err(other) => Err(ApiError::internal_msg(format!("{other:?}"))),
    }
}

/// `GET` or `POST /api/3/action/{name}`.
pub async fn action(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let base = base_url(&state, &headers);
    let outcome = match Params::from_request(query.as_deref(), &body) {
        Ok(params) => {
            let call = Call {
                state: &state,
                base: base.clone(),
                params,
            };
            dispatch(&name, &call).await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(result) => (
            StatusCode::OK,
            axum::Json(json!({"help": help(&base, &name), "success": true, "result": result})),
        )
            .into_response(),
        Err(e) => {
            let (status, kind) = e.parts();
            let message = match e {
                CkanError::Internal(inner) => {
                    tracing::error!(error = ?inner, action = %name, "CKAN action failed");
                    "something went wrong on the server; the error was logged".to_owned()
                }
                CkanError::NotFound(m)
                | CkanError::Validation(m)
                | CkanError::Authorization(m)
                | CkanError::BadRequest(m) => m,
            };
            (
                status,
                axum::Json(json!({
                    "help": help(&base, &name),
                    "success": false,
                    "error": {"__type": kind, "message": message},
                })),
            )
                .into_response()
        }
    }
}
