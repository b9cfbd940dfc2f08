//! Webhook subscriptions: a department's data officer or admin asks for a
//! resource's changes to be pushed to a URL, sees the delivery log, rewinds
//! (replay) or cancels. The signing secret is shown once, at creation.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rongshu_core::account::Role;
use rongshu_store::{NewSubscription, Subscription};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Actor;
use crate::error::ApiError;
use crate::exchange::{Reader, reader};
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::admin::doer;
use crate::state::AppState;

const MANAGERS: [Role; 2] = [Role::DataOfficer, Role::DeptAdmin];
const MAX_URL_CHARS: usize = 2_000;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscriptionRequest {
    /// Resource code.
    resource: String,
    /// Where to POST the changes (`http://…`).
    url: String,
    /// Deliver the changes after this sequence number (default 0: all of them).
    after: Option<i64>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// Deliver again from this sequence number on.
    from_seq: i64,
}

#[derive(Deserialize)]
pub struct LogQuery {
    before: Option<i64>,
    limit: Option<i64>,
}

/// The receiver's URL, checked: plain HTTP (TLS ends at the intranet gateway;
/// this build has no TLS client), a host, no credentials (verify the signature
/// instead; a URL is shown in lists).
fn check_url(raw: &str) -> Result<String, ApiError> {
    let raw = raw.trim();
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(ApiError::BadRequest(format!(
            "url: at most {MAX_URL_CHARS} characters"
        )));
    }
    let url = reqwest::Url::parse(raw)
        .map_err(|e| ApiError::BadRequest(format!("url: not a URL ({e})")))?;
    if url.scheme() != "http" {
        return Err(ApiError::BadRequest(
            "url: give an http:// address (deliveries go over the intranet; terminate TLS at its gateway)".into(),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ApiError::BadRequest("url: give a host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ApiError::BadRequest(
            "url: put no credentials in it; check the X-Rongshu-Signature header instead".into(),
        ));
    }
    Ok(url.to_string())
}

/// The subscription, or 404 when it is not the caller's department's (the
/// platform office sees all).
pub(crate) async fn own_subscription(
    state: &AppState,
    actor: &Actor,
    id: i64,
) -> Result<Subscription, ApiError> {
    let sub = state.store.subscription(id).await?;
    if sub.department == actor.department().code || actor.is_platform_admin() {
        Ok(sub)
    } else {
        Err(ApiError::NotFound(format!(
            "subscription {id} does not exist"
        )))
    }
}

/// Subscribe to a resource's changes. The answer carries the signing secret:
/// it is shown this once.
#[utoipa::path(post, path = "/api/v1/subscriptions", tag = "exchange", request_body = NewSubscriptionRequest,
    responses((status = 201, description = "The subscription and its `secret` (shown once)"),
              (status = 400, description = "A bad URL or position"),
              (status = 403, description = "Not a data officer or admin, or the resource is not shared with the department"),
              (status = 404, description = "No such resource")))]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(req): ApiJson<NewSubscriptionRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    actor.require_any_role(&MANAGERS, "subscribing to a resource")?;
    let url = check_url(&req.url)?;
    let resource =
        crate::routes::resources::visible_resource(&state, &actor, &req.resource).await?;
    reader(&state, Reader::Caller(&actor), &resource).await?;
    let after = req.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::BadRequest(
            "after must be 0 or a sequence number".into(),
        ));
    }
    let secret = format!("whsec_{}", hex::encode(rand::random::<[u8; 32]>()));
    let now = state.clock.now();
    let label = actor.label();
    let audit = doer(&actor).record(
        now,
        "subscription.create",
        None,
        json!({ "resource": resource.code, "url": url, "after": after }),
    );
    let sub = state
        .store
        .create_subscription(
            NewSubscription {
                department: &actor.department().code,
                resource_id: resource.id,
                url: &url,
                secret: &secret,
                after,
                created_by: &label,
            },
            now,
            audit,
        )
        .await?;
    state.deliveries.notify_one();
    let mut body = json!(sub);
    body["secret"] = Value::String(secret);
    Ok((StatusCode::CREATED, Json(body)))
}

/// The department's subscriptions (the platform office: all).
#[utoipa::path(get, path = "/api/v1/subscriptions", tag = "exchange",
    responses((status = 200, description = "`{\"items\": [...]}`"), (status = 401, description = "Not signed in")))]
pub async fn list(State(state): State<AppState>, actor: Actor) -> Result<Json<Value>, ApiError> {
    let department = (!actor.is_platform_admin()).then(|| actor.department().code.as_str());
    let items = state.store.subscriptions(department).await?;
    Ok(Json(json!({ "items": items })))
}

/// One subscription with its delivery log, newest attempt first, paged with
/// `before` (the `next_before` of the previous page).
#[utoipa::path(get, path = "/api/v1/subscriptions/{id}", tag = "exchange",
    params(("id" = i64, Path, description = "Subscription id"),
           ("before" = Option<i64>, Query, description = "Attempts before this one"),
           ("limit" = Option<i64>, Query, description = "Attempts per page, 1 to 500 (default 50)")),
    responses((status = 200, description = "`{\"subscription\": {...}, \"deliveries\": [...], \"next_before\": id or null}`"),
              (status = 404, description = "No such subscription of the department")))]
pub async fn show(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be a number from 1 to 500".into(),
        ));
    }
    let sub = own_subscription(&state, &actor, id).await?;
    let deliveries = state.store.deliveries(id, q.before, limit).await?;
    let next_before = (deliveries.len() as i64 == limit)
        .then(|| deliveries.last().map(|d| d.id))
        .flatten();
    Ok(Json(json!({
        "subscription": sub,
        "deliveries": deliveries,
        "next_before": next_before,
    })))
}

/// Cancel: nothing more is delivered.
#[utoipa::path(delete, path = "/api/v1/subscriptions/{id}", tag = "exchange",
    params(("id" = i64, Path, description = "Subscription id")),
    responses((status = 200, description = "The cancelled subscription"),
              (status = 403, description = "Not a data officer or admin"),
              (status = 404, description = "No such subscription of the department"),
              (status = 409, description = "Cancelled already")))]
pub async fn cancel(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(cancel_subscription(&state, &actor, id).await?)))
}

/// Cancel a subscription of the caller's department (API and console).
pub(crate) async fn cancel_subscription(
    state: &AppState,
    actor: &Actor,
    id: i64,
) -> Result<Subscription, ApiError> {
    let sub = own_subscription(state, actor, id).await?;
    if !actor.is_platform_admin() {
        actor.require_any_role(&MANAGERS, "cancelling a subscription")?;
    }
    let now = state.clock.now();
    let audit = doer(actor).record(
        now,
        "subscription.cancel",
        Some(format!("subscription:{id}")),
        json!({ "resource": sub.resource, "delivered_seq": sub.delivered_seq }),
    );
    Ok(state.store.cancel_subscription(id, now, audit).await?)
}

/// Deliver again from `from_seq` on (the receiver gets those changes a second time).
#[utoipa::path(post, path = "/api/v1/subscriptions/{id}/replay", tag = "exchange", request_body = ReplayRequest,
    params(("id" = i64, Path, description = "Subscription id")),
    responses((status = 200, description = "The rewound subscription"),
              (status = 400, description = "from_seq is not 1 or more"),
              (status = 403, description = "Not a data officer or admin"),
              (status = 404, description = "No such subscription of the department"),
              (status = 409, description = "The subscription is cancelled")))]
pub async fn replay(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<ReplayRequest>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(
        replay_subscription(&state, &actor, id, req.from_seq).await?
    )))
}

/// Rewind a subscription of the caller's department (API and console).
pub(crate) async fn replay_subscription(
    state: &AppState,
    actor: &Actor,
    id: i64,
    from_seq: i64,
) -> Result<Subscription, ApiError> {
    let sub = own_subscription(state, actor, id).await?;
    actor.require_any_role(&MANAGERS, "replaying a subscription")?;
    if from_seq < 1 {
        return Err(ApiError::BadRequest(
            "from_seq: sequence numbers start at 1".into(),
        ));
    }
    let now = state.clock.now();
    let audit = doer(actor).record(
        now,
        "subscription.replay",
        Some(format!("subscription:{id}")),
        json!({ "resource": sub.resource, "from_seq": from_seq, "was_delivered_seq": sub.delivered_seq }),
    );
    let sub = state
        .store
        .replay_subscription(id, from_seq, now, audit)
        .await?;
    state.deliveries.notify_one();
    Ok(sub)
}
