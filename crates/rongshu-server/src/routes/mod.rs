//! The HTTP surface: `/api/v1`, health and metrics, and the web pages.

mod admin;
pub(crate) mod applications;
mod audit;
mod auth;
mod catalog_io;
mod changes;
mod citizen;
pub(crate) mod demands;
mod downloads;
pub(crate) mod elements;
mod export;
pub(crate) mod grants;
mod holidays;
pub(crate) mod linkage;
mod open_access;
pub(crate) mod open_accounts;
pub(crate) mod open_plans;
pub(crate) mod records;
pub(crate) mod registry;
mod releases;
pub(crate) mod resources;
pub(crate) mod share_requests;
pub(crate) mod subscriptions;
mod system;
mod timeliness;
mod uploads;
mod validate;
mod verify;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};

use crate::state::AppState;

pub use auth::login;
pub use system::ApiDoc;

pub fn api_routes(state: &AppState) -> Router<AppState> {
    let json_limit = DefaultBodyLimit::max(state.config.json_body_limit);
    Router::new()
        .route("/healthz", get(system::healthz))
        .route("/api/v1/ping", get(system::ping))
        .route("/metrics", get(system::metrics))
        .route("/api/v1/openapi.json", get(system::openapi))
        .route("/api/v1/auth/login", post(auth::login_handler))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/me", get(auth::me))
        .route("/api/v1/citizen/otp", post(citizen::request_code))
        .route("/api/v1/citizen/login", post(citizen::login))
        .route("/api/v1/citizen/logout", post(citizen::logout))
        .route("/api/v1/me/access-log", get(citizen::access_log))
        .route("/api/v1/me/registry", get(registry::my_record))
        .route("/api/v1/me/registry/disputes", post(registry::dispute))
        .route("/api/v1/registry/verify", post(registry::verify))
        .route("/api/v1/registry/persons/{id}", get(registry::person))
        .route("/api/v1/registry/entities/{code}", get(registry::entity))
        .route("/api/v1/tickets", get(registry::list))
        .route("/api/v1/tickets/export", get(registry::export))
        .route("/api/v1/tickets/figures", get(registry::figures))
        .route("/api/v1/tickets/answers", post(registry::bulk_answer))
        .route("/api/v1/tickets/{id}", get(registry::show))
        .route("/api/v1/tickets/{id}/{action}", post(registry::answer))
        .route("/api/v1/tokens", post(auth::create_own_token))
        .route("/api/v1/tokens/{id}", delete(auth::revoke_token))
        .route(
            "/api/v1/departments",
            get(admin::list_departments).post(admin::create_department),
        )
        .route("/api/v1/users", post(admin::create_user))
        .route(
            "/api/v1/applications",
            get(applications::list).post(applications::create),
        )
        .route(
            "/api/v1/applications/{app}",
            get(applications::show).patch(applications::update),
        )
        .route(
            "/api/v1/applications/{app}/disable",
            post(applications::disable),
        )
        .route(
            "/api/v1/applications/{app}/enable",
            post(applications::enable),
        )
        .route(
            "/api/v1/applications/{app}/keys",
            get(applications::keys::list).post(applications::keys::create),
        )
        .route(
            "/api/v1/applications/{app}/keys/{key}/rotate",
            post(applications::keys::rotate),
        )
        .route(
            "/api/v1/applications/{app}/keys/{key}/revoke",
            post(applications::keys::revoke),
        )
        // The older, name-addressed form (`{app}` is a name here).
        .route(
            "/api/v1/applications/{app}/tokens",
            post(applications::keys::create_by_name),
        )
        .route(
            "/api/v1/resources",
            get(resources::list).post(resources::create),
        )
        .route(
            "/api/v1/resources/{code}",
            get(resources::show).put(resources::update),
        )
        .route("/api/v1/resources/{code}/history", get(resources::history))
        .route(
            "/api/v1/resources/{code}/rules",
            axum::routing::put(resources::set_rules),
        )
        .route(
            "/api/v1/resources/{code}/{transition}",
            post(resources::transition),
        )
        .route("/api/v1/resources/{code}/records", get(records::read))
        .route("/api/v1/resources/{code}/query", post(records::query))
        .route("/api/v1/resources/{code}/export", get(export::export))
        .route(
            "/api/v1/share-requests",
            get(share_requests::list).post(share_requests::create),
        )
        .route("/api/v1/share-requests/{id}", get(share_requests::show))
        .route(
            "/api/v1/share-requests/{id}/comments",
            post(share_requests::comment),
        )
        .route(
            "/api/v1/share-requests/{id}/approve",
            post(share_requests::approve),
        )
        .route(
            "/api/v1/share-requests/{id}/reject",
            post(share_requests::reject),
        )
        .route(
            "/api/v1/share-requests/{id}/withdraw",
            post(share_requests::withdraw),
        )
        .route("/api/v1/grants", get(grants::list))
        .route("/api/v1/grants/{id}/revoke", post(grants::revoke))
        .route(
            "/api/v1/holidays",
            get(holidays::list).put(holidays::replace),
        )
        .route("/api/v1/resources/{code}/changes", get(changes::feed))
        .route("/api/v1/verify/{code}", post(verify::verify))
        .route(
            "/api/v1/subscriptions",
            get(subscriptions::list).post(subscriptions::create),
        )
        .route(
            "/api/v1/subscriptions/{id}",
            get(subscriptions::show).delete(subscriptions::cancel),
        )
        .route(
            "/api/v1/subscriptions/{id}/replay",
            post(subscriptions::replay),
        )
        .route(
            "/api/v1/elements",
            get(elements::list).post(elements::create),
        )
        .route(
            "/api/v1/elements/{code}",
            get(elements::show).put(elements::update),
        )
        .route("/api/v1/resources/{code}/uploads", post(uploads::open))
        .route(
            "/api/v1/resources/{code}/uploads/{id}/commit",
            post(uploads::commit),
        )
        .route("/api/v1/audit/events", get(audit::events))
        .route("/api/v1/timeliness", get(timeliness::list))
        .route(
            "/api/v1/linkage/jobs",
            get(linkage::list).post(linkage::create),
        )
        .route("/api/v1/linkage/jobs/{id}", get(linkage::show))
        .route("/api/v1/linkage/jobs/{id}/results", get(linkage::results))
        .route(
            "/api/v1/linkage/jobs/{id}/results/{pair}/decision",
            post(linkage::decide),
        )
        .route("/api/v1/catalog/export", get(catalog_io::export))
        .route("/api/v1/demands", get(demands::list).post(demands::create))
        .route("/api/v1/demands/{id}", get(demands::show))
        .route("/api/v1/demands/{id}/route", post(demands::route))
        .route("/api/v1/demands/{id}/answer", post(demands::answer))
        .route("/api/v1/demands/{id}/close", post(demands::close))
        .route("/api/v1/validate/{kind}/{value}", get(validate::check))
        .route(
            "/api/v1/releases",
            get(releases::list).post(releases::propose),
        )
        .route("/api/v1/releases/{id}", get(releases::show))
        .route("/api/v1/releases/{id}/treatments", post(releases::treat))
        .route("/api/v1/releases/{id}/approve", post(releases::approve))
        .route("/api/v1/releases/{id}/withdraw", post(releases::withdraw))
        .route("/api/v1/releases/{id}/download", get(downloads::download))
        .route(
            "/api/v1/releases/{id}/versions",
            get(downloads::list_versions),
        )
        .route(
            "/api/v1/releases/{id}/access-requests",
            get(open_access::list),
        )
        .route(
            "/api/v1/releases/{id}/access-requests/{request}/approve",
            post(open_access::approve),
        )
        .route(
            "/api/v1/releases/{id}/access-requests/{request}/reject",
            post(open_access::reject),
        )
        .route(
            "/api/v1/open-plans",
            get(open_plans::list).post(open_plans::add),
        )
        .route("/api/v1/open-plans/{id}", delete(open_plans::remove))
        .route("/api/v1/open-users", get(open_access::users))
        .route(
            "/api/v1/open-keys/{id}/revoke",
            post(open_access::revoke_key),
        )
        .route("/api/open/v1/signup", post(open_accounts::signup))
        .route(
            "/api/open/v1/keys",
            get(open_accounts::my_keys).post(open_accounts::new_key),
        )
        .route(
            "/api/open/v1/keys/{id}/revoke",
            post(open_accounts::revoke_key),
        )
        .route(
            "/api/open/v1/datasets/{name}/records",
            get(crate::opendata::open_api::records),
        )
        .route(
            "/api/open/v1/datasets/{name}/access-requests",
            post(open_accounts::request_access),
        )
        .route(
            "/api/open/v1/datasets/{name}/access-requests/mine",
            get(open_accounts::my_request),
        )
        .route(
            "/api/v1/releases/{id}/datapackage.json",
            get(releases::datapackage_json),
        )
        .route(
            "/api/3/action/{action}",
            get(crate::opendata::ckan::action).post(crate::opendata::ckan::action),
        )
        .route(
            "/api/action/{action}",
            get(crate::opendata::ckan::action).post(crate::opendata::ckan::action),
        )
        .route(
            "/catalog.jsonld",
            get(crate::opendata::dcat::catalog_jsonld),
        )
        .route("/catalog.ttl", get(crate::opendata::dcat::catalog_ttl))
        .layer(json_limit)
        .route(
            "/api/v1/catalog/import",
            post(catalog_io::import).layer(DefaultBodyLimit::max(catalog_io::IMPORT_LIMIT)),
        )
        .route(
            "/api/v1/resources/{code}/batches/{batch}/failures",
            get(resources::batch_failures),
        )
        // Batches stream to disk under their own, larger limit.
        .route(
            "/api/v1/resources/{code}/batches",
            post(resources::upload_batch)
                .get(resources::list_batches)
                .layer(DefaultBodyLimit::disable()),
        )
        // Chunks stream to disk too, under the same upload limit.
        .route(
            "/api/v1/resources/{code}/uploads/{id}",
            get(uploads::show)
                .put(uploads::put_chunk)
                .delete(uploads::abandon)
                .layer(DefaultBodyLimit::disable()),
        )
}
