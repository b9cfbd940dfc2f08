//! Health, metrics and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa::OpenApi;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Rongshu API", description = "蓉数 — the city's data resource platform."),
    paths(
        healthz,
        ping,
        super::auth::login_handler,
        super::auth::logout,
        super::auth::me,
        super::auth::create_own_token,
        super::auth::revoke_token,
        super::admin::list_departments,
        super::admin::create_department,
        super::admin::create_user,
        super::applications::list,
        super::applications::create,
        super::applications::show,
        super::applications::update,
        super::applications::disable,
        super::applications::enable,
        super::applications::keys::list,
        super::applications::keys::create,
        super::applications::keys::rotate,
        super::applications::keys::revoke,
        super::applications::keys::create_by_name,
        super::resources::list,
        super::resources::create,
        super::resources::show,
        super::resources::update,
        super::resources::transition,
        super::resources::history,
        super::resources::set_rules,
        super::resources::upload_batch,
        super::resources::list_batches,
        super::resources::batch_failures,
        super::uploads::open,
        super::uploads::show,
        super::uploads::put_chunk,
        super::uploads::commit,
        super::uploads::abandon,
        super::records::read,
        super::records::query,
        super::registry::verify,
        super::registry::person,
        super::registry::entity,
        super::registry::list,
        super::registry::figures,
        super::registry::show,
        super::registry::answer,
        super::registry::export,
        super::registry::bulk_answer,
        super::registry::my_record,
        super::registry::dispute,
        super::export::export,
        super::share_requests::create,
        super::share_requests::list,
        super::share_requests::show,
        super::share_requests::comment,
        super::share_requests::approve,
        super::share_requests::reject,
        super::share_requests::withdraw,
        super::grants::list,
        super::grants::revoke,
        super::holidays::list,
        super::holidays::replace,
        super::elements::list,
        super::elements::create,
        super::elements::show,
        super::elements::update,
        super::audit::events,
        super::timeliness::list,
        super::catalog_io::export,
        super::catalog_io::import,
        super::demands::create,
        super::demands::list,
        super::demands::show,
        super::demands::route,
        super::demands::answer,
        super::demands::close,
        super::releases::propose,
        super::releases::list,
        super::releases::show,
        super::releases::treat,
        super::releases::approve,
        super::releases::withdraw,
        super::releases::datapackage_json,
        super::downloads::download,
        super::downloads::list_versions,
        super::open_accounts::signup,
        super::open_accounts::new_key,
        super::open_accounts::my_keys,
        super::open_accounts::revoke_key,
        super::open_accounts::request_access,
        super::open_accounts::my_request,
        crate::opendata::open_api::records,
        super::open_access::list,
        super::open_access::approve,
        super::open_access::reject,
        super::open_access::users,
        super::open_plans::list,
        super::open_plans::add,
        super::open_plans::remove,
        super::open_access::revoke_key,
        super::validate::check,
        super::changes::feed,
        super::verify::verify,
        super::subscriptions::create,
        super::subscriptions::list,
        super::subscriptions::show,
        super::subscriptions::cancel,
        super::subscriptions::replay,
        super::citizen::request_code,
        super::citizen::login,
        super::citizen::logout,
        super::citizen::access_log,
        super::linkage::create,
        super::linkage::list,
        super::linkage::show,
        super::linkage::results,
        super::linkage::decide,
    ),
    tags(
        (name = "system", description = "Health and metadata"),
        (name = "auth", description = "Sign-in, sessions and tokens"),
        (name = "admin", description = "Departments, users, and applications (应用) with their keys, allow-lists and rate limits"),
        (name = "catalog", description = "Resources (政务信息资源)"),
        (name = "data", description = "Batches and records"),
        (name = "elements", description = "Data elements (数据元) and their authoritative sources (一数一源)"),
        (name = "audit", description = "The audit log"),
        (name = "sharing", description = "Share requests (共享申请), grants (授权) and the working-day calendar"),
        (name = "exchange", description = "Change feeds, webhook subscriptions and verification without disclosure (共享交换, 核验)"),
        (name = "citizen", description = "A citizen's sign-in and the log of every read of his or her data"),
        (name = "linkage", description = "Record-linkage jobs (记录链接) and the clerical review of uncertain pairs"),
    )
)]
pub struct ApiDoc;

/// Liveness that includes the database: 200 only when a query round-trips.
/// A fixed answer that touches nothing: the baseline the data API's load
/// figures are measured against.
#[utoipa::path(get, path = "/api/v1/ping", tag = "system",
    responses((status = 200, description = "`{\"pong\": true}`")))]
pub async fn ping() -> impl IntoResponse {
    Json(serde_json::json!({ "pong": true }))
}

#[utoipa::path(get, path = "/healthz", tag = "system",
    responses((status = 200, description = "The server and its database answer"),
              (status = 503, description = "The database does not answer")))]
pub async fn healthz(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    state
        .store
        .ping()
        .await
        .map_err(|e| ApiError::Unavailable(format!("the database does not answer: {e}")))?;
    Ok(Json(serde_json::json!({ "status": "ok" })))
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(state.store.pool_stats()),
    )
}

pub async fn openapi() -> impl IntoResponse {
    Json(ApiDoc::openapi())
}
