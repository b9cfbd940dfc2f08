//! Registering resources and delivering their batches.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::auth::Actor;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::admin::doer;
use crate::service;
use crate::state::AppState;
use rongshu_core::account::Role;
use rongshu_core::catalog::{
    ElementCode, ItemStanding, NewResourceRequest, ResourceSpec, Status, Transition,
};
use rongshu_ingest::BatchFormat;
use rongshu_store::{BatchMode, Resource};

/// Register a resource. Its provider is the caller's department unless a
/// platform admin names another in `provider`.
#[utoipa::path(post, path = "/api/v1/resources", tag = "catalog",
    request_body(content = serde_json::Value, description = "name, summary, share_type, update_cycle, key_items, items[]"),
    responses((status = 201, description = "Registered; the answer carries the assigned code"),
              (status = 403, description = "Not a data officer of the provider department"),
              (status = 422, description = "The declaration is not valid; `detail` names the field")))]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<(StatusCode, Json<Resource>), ApiError> {
    let resource = create_resource(&state, &actor, body).await?;
    Ok((StatusCode::CREATED, Json(resource)))
}

/// Register a resource from its JSON declaration, for the API and the console.
pub(crate) async fn create_resource(
    state: &AppState,
    actor: &Actor,
    body: serde_json::Value,
) -> Result<Resource, ApiError> {
    let provider = match body.get("provider") {
        None | Some(serde_json::Value::Null) => actor.department().code.clone(),
        Some(serde_json::Value::String(p)) => p.clone(),
        Some(_) => {
            return Err(ApiError::BadRequest(
                "provider must be a department code".into(),
            ));
        }
    };
    let own = provider == actor.department().code;
    let allowed = actor.is_platform_admin() || (own && actor.has_role(Role::DataOfficer));
    if !allowed {
        return Err(ApiError::Forbidden(if own {
            "registering a resource needs the role data_officer".into()
        } else {
            format!(
                "a data officer of {} cannot register resources for {provider}",
                actor.department().code
            )
        }));
    }
    let request: NewResourceRequest = serde_json::from_value(body)
        .map_err(|e| ApiError::BadRequest(format!("the resource declaration is not valid: {e}")))?;
    let spec = ResourceSpec::parse(request)?;
    service::create_resource(
        &state.store,
        state.clock.now(),
        &doer(actor),
        &provider,
        &spec,
    )
    .await
}

/// Search the catalog: Chinese full text in `q`, facet filters (`provider`,
/// `kind`, `topic`, `share_type`, `open_type`, `format`, `update_cycle`,
/// `status`; repeat one to accept several values), `sort`
/// (relevance, name, updated), `offset`, `limit`.
#[utoipa::path(get, path = "/api/v1/resources", tag = "catalog",
    params(("q" = Option<String>, Query, description = "Words to search for, in Chinese or English"),
           ("provider" = Option<String>, Query, description = "Only this department's"),
           ("sort" = Option<String>, Query, description = "relevance, name or updated"),
           ("offset" = Option<usize>, Query, description = "Skip this many"),
           ("limit" = Option<usize>, Query, description = "At most this many (default 20, at most 1000)")),
    responses((status = 200, description = "`{\"items\": [...], \"total\": N, \"facets\": {\"provider\": [{\"value\", \"label\", \"count\"}], …}}`"),
              (status = 400, description = "Unknown parameter or bad value"), (status = 401, description = "Not signed in")))]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(params): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let query = crate::catalog_query::parse(&params, &actor)?;
    let page = crate::catalog_query::run(&state, query).await?;
    Ok(Json(page))
}

/// The provider and the platform office see drafts; everyone else sees what
/// was published (and what was retired after it).
pub(crate) fn sees_unpublished(actor: &Actor, resource: &Resource) -> bool {
    actor.department().code == resource.provider.code || actor.is_platform_admin()
}

/// The resource, or 404 when the caller may not know of it yet.
pub(crate) async fn visible_resource(
    state: &AppState,
    actor: &Actor,
    code: &str,
) -> Result<std::sync::Arc<Resource>, ApiError> {
    // Shared, not copied: a declaration is read on every request and changed
    // only by replacing the cache's entry.
    let resource = match state.read_cache.resource(code) {
        Some(cached) => cached,
        None => {
            let ticket = state.read_cache.ticket();
            let resource = state.store.resource(code).await?;
            state.read_cache.put_resource(ticket, resource)
        }
    };
    let published = matches!(resource.status, Status::Published | Status::Retired);
    if published || sees_unpublished(actor, &resource) {
        Ok(resource)
    } else {
        Err(ApiError::NotFound(format!(
            "resource {code} does not exist"
        )))
    }
}

#[derive(Deserialize)]
pub struct ShowQuery {
    version: Option<i64>,
}

/// One resource's catalog entry; `?version=N` for one version's declaration.
#[utoipa::path(get, path = "/api/v1/resources/{code}", tag = "catalog",
    params(("code" = String, Path, description = "Resource code"),
           ("version" = Option<i64>, Query, description = "A version's declaration instead of the current one")),
    responses((status = 200, description = "The resource; each item carries `authoritative`: true when its data element names this resource's provider as the authoritative source"),
              (status = 404, description = "No such resource or version")))]
pub async fn show(
    State(state): State<AppState>,
    actor: Actor,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<ShowQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let resource = visible_resource(&state, &actor, &code).await?;
    let Some(version) = q.version else {
        let mut body = json!(*resource);
        mark_items(&state, &resource.provider.code, &resource.spec, &mut body).await?;
        return Ok(Json(body));
    };
    let found = state.store.resource_version(&code, version).await?;
    if found.state != Status::Published && !sees_unpublished(&actor, &resource) {
        return Err(ApiError::NotFound(format!(
            "version {version} of {code} does not exist"
        )));
    }
    let mut body = json!(found.spec);
    mark_items(&state, &resource.provider.code, &found.spec, &mut body).await?;
    if let Some(obj) = body.as_object_mut() {
        obj.insert("code".into(), json!(resource.code));
        obj.insert("provider".into(), json!(resource.provider));
        obj.insert("version".into(), json!(found.version));
        obj.insert("status".into(), json!(found.state));
        obj.insert("created_by".into(), json!(found.created_by));
        obj.insert("reviewed_by".into(), json!(found.reviewed_by));
        obj.insert("review_comment".into(), json!(found.review_comment));
    }
    Ok(Json(body))
}

/// The standing of each item of `spec` that carries a data element: of
/// record when `provider` is the element's authoritative department, a
/// witness otherwise.
pub(crate) async fn item_standings(
    state: &AppState,
    provider: &str,
    spec: &ResourceSpec,
) -> Result<Vec<ItemStanding>, ApiError> {
    let elements: Vec<&ElementCode> = spec
        .items
        .iter()
        .filter_map(|i| i.element.as_ref())
        .collect();
    let authorities = state.store.element_authorities(&elements).await?;
    Ok(rongshu_core::catalog::item_standings(spec, provider, |e| {
        authorities.get(e.as_str()).map(String::as_str)
    }))
}

/// [`item_standings`] of a resource, from the read cache when it is fresh:
/// every data read names the standings of the items it returns.
pub(crate) async fn resource_standings(
    state: &AppState,
    resource: &Resource,
) -> Result<std::sync::Arc<Vec<ItemStanding>>, ApiError> {
    if let Some(cached) = state.read_cache.standings(resource.id) {
        return Ok(cached);
    }
    let ticket = state.read_cache.ticket();
    let standings = item_standings(state, &resource.provider.code, &resource.spec).await?;
    Ok(state
        .read_cache
        .put_standings(resource.id, ticket, standings))
}

/// Mark every item of a resource's JSON with `authoritative`: true only for
/// an item whose element names the resource's provider as its authority.
async fn mark_items(
    state: &AppState,
    provider: &str,
    spec: &ResourceSpec,
    body: &mut serde_json::Value,
) -> Result<(), ApiError> {
    let standings = item_standings(state, provider, spec).await?;
    let Some(items) = body.get_mut("items").and_then(|v| v.as_array_mut()) else {
        return Ok(());
    };
    for item in items.iter_mut().filter_map(|i| i.as_object_mut()) {
        let key = item.get("key").and_then(|k| k.as_str()).unwrap_or_default();
        let authoritative = standings
            .iter()
            .any(|s| s.authoritative && s.item.as_str() == key);
        item.insert("authoritative".into(), json!(authoritative));
    }
    Ok(())
}

/// Change a resource's declaration (its provider's data officer). A published
/// resource gets a new version that goes through review again.
#[utoipa::path(put, path = "/api/v1/resources/{code}", tag = "catalog",
    params(("code" = String, Path, description = "Resource code")),
    request_body(content = serde_json::Value, description = "The whole declaration, as for registration"),
    responses((status = 200, description = "The resource, with its working version"),
              (status = 403, description = "Not a data officer of the provider"),
              (status = 409, description = "Retired, or a version is under review"),
              (status = 422, description = "Not valid, or an item's type or the key would change")))]
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Json<Resource>, ApiError> {
    Ok(Json(update_resource(&state, &actor, &code, body).await?))
}

pub(crate) async fn update_resource(
    state: &AppState,
    actor: &Actor,
    code: &str,
    body: serde_json::Value,
) -> Result<Resource, ApiError> {
    let resource = visible_resource(state, actor, code).await?;
    if actor.department().code != resource.provider.code {
        return Err(ApiError::Forbidden(format!(
            "only {} edits {code}",
            resource.provider.name
        )));
    }
    actor.require_any_role(&[Role::DataOfficer], "editing a resource")?;
    let request: NewResourceRequest = serde_json::from_value(body)
        .map_err(|e| ApiError::BadRequest(format!("the resource declaration is not valid: {e}")))?;
    let spec = ResourceSpec::parse(request)?;
    service::update_resource(&state.store, state.clock.now(), &doer(actor), code, &spec).await
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct TransitionRequest {
    comment: Option<String>,
}

/// Move a resource along its lifecycle: `submit` (the provider's data
/// officer), `approve` and `reject` (the platform office), `retire` (the
/// platform office or the provider's department admin).
#[utoipa::path(post, path = "/api/v1/resources/{code}/{transition}", tag = "catalog",
    params(("code" = String, Path, description = "Resource code"),
           ("transition" = String, Path, description = "submit, approve, reject or retire")),
    request_body(content = TransitionRequest, description = "An optional comment"),
    responses((status = 200, description = "The resource after the move"),
              (status = 403, description = "The caller's role may not make this move"),
              (status = 409, description = "The move does not exist from the current state")))]
pub async fn transition(
    State(state): State<AppState>,
    actor: Actor,
    Path((code, transition)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Resource>, ApiError> {
    let body: TransitionRequest = if body.iter().all(u8::is_ascii_whitespace) {
        TransitionRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("the JSON body is not valid: {e}")))?
    };
    let transition = Transition::parse(&transition).ok_or_else(|| {
        ApiError::NotFound(format!(
            "there is nothing at /api/v1/resources/{code}/{transition}"
        ))
    })?;
    let comment = body
        .comment
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    Ok(Json(
        transition_resource(&state, &actor, &code, transition, comment.as_deref()).await?,
    ))
}

/// Who may make which move is decided here, for the API and the console alike.
pub(crate) fn may_transition(actor: &Actor, resource: &Resource, transition: Transition) -> bool {
    let provider = actor.department().code == resource.provider.code;
    match transition {
        Transition::Submit => provider && actor.has_role(Role::DataOfficer),
        Transition::Approve | Transition::Reject => actor.is_platform_admin(),
        Transition::Retire => {
            actor.is_platform_admin() || (provider && actor.has_role(Role::DeptAdmin))
        }
    }
}

pub(crate) async fn transition_resource(
    state: &AppState,
    actor: &Actor,
    code: &str,
    transition: Transition,
    comment: Option<&str>,
) -> Result<Resource, ApiError> {
    let resource = visible_resource(state, actor, code).await?;
    if !may_transition(actor, &resource, transition) {
        let who = match transition {
            Transition::Submit => "a data officer of the provider",
            Transition::Approve | Transition::Reject => "the platform office (platform_admin)",
            Transition::Retire => "the platform office or the provider's department admin",
        };
        return Err(ApiError::Forbidden(format!(
            "only {who} may {} a resource",
            transition.as_str()
        )));
    }
    if comment.is_some_and(|c| c.chars().count() > 2000) {
        return Err(ApiError::BadRequest(
            "a comment may be at most 2000 characters".into(),
        ));
    }
    service::transition_resource(
        &state.store,
        state.clock.now(),
        &doer(actor),
        code,
        transition,
        comment,
    )
    .await
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RulesRequest {
    #[schema(value_type = Vec<Object>)]
    rules: Vec<serde_json::Value>,
}

/// Declare a resource's quality rules (its provider's data officer, or the
/// platform office), replacing the previous ones. Each rule is an object such
/// as `{"rule": "range", "item": "age", "min": 0, "max": 150, "severity": "warn"}`;
/// rules: unique, range, allowed, pattern, length, id_birth_date, id_sex,
/// date_order, reference, row_count_change, freshness, kind.
#[utoipa::path(put, path = "/api/v1/resources/{code}/rules", tag = "data",
    params(("code" = String, Path, description = "Resource code")),
    request_body = RulesRequest,
    responses((status = 200, description = "The resource with its rules"),
              (status = 403, description = "Not the provider's data officer"),
              (status = 422, description = "A rule does not fit the resource; `detail` names the rule and item")))]
pub async fn set_rules(
    State(state): State<AppState>,
    actor: Actor,
    Path(code): Path<String>,
    ApiJson(req): ApiJson<RulesRequest>,
) -> Result<Json<Resource>, ApiError> {
    let resource = visible_resource(&state, &actor, &code).await?;
    let provider = actor.department().code == resource.provider.code;
    if !(actor.is_platform_admin() || (provider && actor.has_role(Role::DataOfficer))) {
        return Err(ApiError::Forbidden(format!(
            "quality rules of {code} are declared by {}'s data officer or the platform office",
            resource.provider.name
        )));
    }
    let mut rules = Vec::with_capacity(req.rules.len());
    for (i, raw) in req.rules.iter().enumerate() {
        let rule: rongshu_core::quality::RuleSpec = serde_json::from_value(raw.clone())
            .map_err(|e| ApiError::Unprocessable(format!("rules[{i}]: {e}")))?;
        rules.push(rule);
    }
    rongshu_core::quality::RuleSet::parse(&resource.spec, rules.clone())
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let value = serde_json::to_value(&rules).map_err(ApiError::internal)?;
    let now = state.clock.now();
    let who = doer(&actor);
    let audit = who.record(now, "resource.rules", None, json!({ "rules": rules.len() }));
    let actor_ref = rongshu_store::CatalogActor {
        label: &who.label,
        now,
    };
    Ok(Json(
        state
            .store
            .set_quality_rules(&code, &value, actor_ref, audit)
            .await?,
    ))
}

/// Every state change and field change of a resource, newest first.
#[utoipa::path(get, path = "/api/v1/resources/{code}/history", tag = "catalog",
    params(("code" = String, Path, description = "Resource code")),
    responses((status = 200, description = "`{\"items\": [...]}`"), (status = 404, description = "No such resource")))]
pub async fn history(
    State(state): State<AppState>,
    actor: Actor,
    Path(code): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let resource = visible_resource(&state, &actor, &code).await?;
    let mut items = state.store.resource_history(&code).await?;
    if !sees_unpublished(&actor, &resource) {
        // Others see the published record: creation, publications, retirement.
        items.retain(|h| matches!(h.action.as_str(), "create" | "approve" | "retire"));
    }
    Ok(Json(json!({ "items": items })))
}

fn require_provider(actor: &Actor, resource: &Resource) -> Result<(), ApiError> {
    if actor.department().code != resource.provider.code {
        return Err(ApiError::Forbidden(format!(
            "only {} ({}) delivers batches for {}",
            resource.provider.name, resource.provider.code, resource.code
        )));
    }
    actor.require_any_role(&[Role::DataOfficer], "delivering a batch")
}

/// Deliver a batch: CSV (UTF-8 or GB18030, any of , ; tab | as delimiter),
/// JSON (an array of objects or one object per line) or XLSX (first sheet),
/// with items named by key or Chinese name.
/// Checked row by row and loaded atomically; the answer is the batch report.
#[utoipa::path(post, path = "/api/v1/resources/{code}/batches", tag = "data",
    params(("code" = String, Path, description = "Resource code")),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, description = "The batch report"),
              (status = 403, description = "Not a data officer of the provider"),
              (status = 413, description = "The file is larger than the upload limit"),
              (status = 415, description = "Not a CSV body"),
              (status = 422, description = "The file cannot be read as a batch (no header, missing required column)")))]
pub async fn upload_batch(
    State(state): State<AppState>,
    actor: Actor,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<BatchQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<service::BatchOutcome>, ApiError> {
    let mode = match q.mode.as_deref() {
        None => BatchMode::Upsert,
        Some(m) => parse_mode(m)?,
    };
    let resource = deliverable_resource(&state, &actor, &code).await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let format = batch_format(content_type)?;
    let upload = spool_upload(&state, body).await?;
    let result = service::ingest_file(
        &state.store,
        state.clock.now(),
        &doer(&actor),
        &resource,
        upload.path(),
        format,
        mode,
    )
    .await;
    drop(upload);
    let outcome = result?;
    // Subscribers of the resource have new changes to receive.
    state.deliveries.notify_one();
    crate::opendata::rescan::after_load(&state, &resource.code).await;
    Ok(Json(outcome))
}

/// A batch mode named in a request.
pub(crate) fn parse_mode(raw: &str) -> Result<BatchMode, ApiError> {
    BatchMode::parse(raw).ok_or_else(|| {
        ApiError::BadRequest(format!("mode: \"{raw}\" is not upsert, replace or delete"))
    })
}

/// The resource a batch is delivered to, once the caller is known to be its
/// provider's data officer and it still takes batches.
pub(crate) async fn deliverable_resource(
    state: &AppState,
    actor: &Actor,
    code: &str,
) -> Result<Resource, ApiError> {
    let resource = visible_resource(state, actor, code).await?;
    require_provider(actor, &resource)?;
    if resource.status == Status::Retired {
        return Err(ApiError::Conflict(format!(
            "{code} is retired: it takes no new batches"
        )));
    }
    Ok(std::sync::Arc::unwrap_or_clone(resource))
}

/// The format a batch file's Content-Type names. CSV when the client does not
/// say; text/plain and octet-stream are how many tools send a CSV file.
pub(crate) fn batch_format(content_type: Option<&str>) -> Result<BatchFormat, ApiError> {
    let essence = content_type.map(|v| {
        v.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    match essence.as_deref() {
        None | Some("text/plain" | "application/octet-stream") => Ok(BatchFormat::Csv),
        Some(other) => BatchFormat::from_content_type(other).ok_or_else(|| {
            ApiError::UnsupportedMediaType(format!(
                "a batch is sent as text/csv, application/json (or application/x-ndjson) or an XLSX workbook, not {other}"
            ))
        }),
    }
}

#[derive(Deserialize)]
pub struct BatchQuery {
    /// upsert (default), replace (a full snapshot) or delete (by key).
    mode: Option<String>,
}

/// A spooled upload, removed from disk when dropped.
struct Spooled(std::path::PathBuf);

impl Spooled {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Write the request body to a file under the data directory, refusing it as
/// soon as it passes the upload limit.
async fn spool_upload(state: &AppState, body: Body) -> Result<Spooled, ApiError> {
    let dir = state.config.data_dir.join("uploads");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(ApiError::internal)?;
    let spooled = Spooled(dir.join(format!("{}.part", crate::auth::token::random_secret())));
    let mut file = tokio::fs::File::create(spooled.path())
        .await
        .map_err(ApiError::internal)?;
    let mut stream = body.into_data_stream();
    let mut size: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("the upload was cut off: {e}")))?;
        size += chunk.len() as u64;
        if size > state.config.upload_limit {
            drain_briefly(&mut stream).await;
            return Err(ApiError::PayloadTooLarge(format!(
                "a batch file may be at most {} bytes",
                state.config.upload_limit
            )));
        }
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    file.flush().await.map_err(ApiError::internal)?;
    Ok(spooled)
}

/// Read and drop a little more of a refused body, so that a client still
/// sending it gets the 413 instead of a reset connection.
pub(crate) async fn drain_briefly(stream: &mut axum::body::BodyDataStream) {
    const DRAIN_LIMIT: usize = 16 * 1024 * 1024;
    let mut drained = 0;
    let deadline = tokio::time::sleep(std::time::Duration::from_secs(5));
    tokio::pin!(deadline);
    while drained < DRAIN_LIMIT {
        tokio::select! {
            chunk = stream.next() => match chunk {
                Some(Ok(c)) => drained += c.len(),
                _ => break,
            },
            () = &mut deadline => break,
        }
    }
}

/// Every failed check of a batch (rejected rows and warnings), as a CSV or a
/// workbook a provider can fix and send back: the full list behind the
/// report's first rows.
#[utoipa::path(get, path = "/api/v1/resources/{code}/batches/{batch}/failures", tag = "data",
    params(("code" = String, Path, description = "Resource code"), ("batch" = String, Path, description = "Batch id"),
           ("format" = Option<String>, Query, description = "csv (default, streamed) or xlsx")),
    responses((status = 200, description = "CSV or XLSX: row, key, item, value, rule, severity, reason"),
              (status = 403, description = "Not the provider")))]
pub async fn batch_failures(
    State(state): State<AppState>,
    actor: Actor,
    Path((code, batch)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<FailuresQuery>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let resource = visible_resource(&state, &actor, &code).await?;
    if !sees_unpublished(&actor, &resource) {
        return Err(ApiError::Forbidden(
            "only the provider sees a batch's failures".into(),
        ));
    }
    // An unknown batch is a 404; a batch of another resource lists nothing.
    state.store.batch_report(&batch).await?;
    let (content_type, body) = match q.format.as_deref() {
        None | Some("csv") => (
            "text/csv; charset=utf-8",
            Body::from_stream(failures_csv(state.clone(), code, batch.clone())),
        ),
        Some("xlsx") => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Body::from(failures_xlsx(&state, &code, &batch).await?),
        ),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "format: \"{other}\" is not csv or xlsx"
            )));
        }
    };
    let extension = if content_type.starts_with("text/csv") {
        "csv"
    } else {
        "xlsx"
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{batch}-failures.{extension}\""),
            ),
        ],
        body,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct FailuresQuery {
    /// csv (default) or xlsx.
    format: Option<String>,
}

const FAILURE_COLUMNS: [&str; 7] = ["row", "key", "item", "value", "rule", "severity", "reason"];
/// Failures read from the database at a time while a list is written.
const FAILURE_PAGE: i64 = 10_000;

fn failure_cells(f: &rongshu_store::FailureRow) -> [String; 7] {
    [
        f.row.to_string(),
        f.key.clone().unwrap_or_default(),
        f.item.clone().unwrap_or_default(),
        f.value.clone().unwrap_or_default(),
        f.rule.clone(),
        f.severity.clone(),
        f.reason.clone(),
    ]
}

/// The failures as CSV (with a BOM, for spreadsheets), a page at a time, so
/// a batch with millions of failed checks streams in constant memory.
fn failures_csv(
    state: AppState,
    code: String,
    batch: String,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, ApiError>> {
    let start = (Some(0_i64), true);
    futures_util::stream::try_unfold(start, move |(after, first)| {
        let (state, code, batch) = (state.clone(), code.clone(), batch.clone());
        async move {
            let Some(after) = after else { return Ok(None) };
            let page = state
                .store
                .batch_failures(&code, &batch, after, FAILURE_PAGE)
                .await?;
            let mut out = csv::Writer::from_writer(Vec::new());
            if first {
                out.write_record(FAILURE_COLUMNS)
                    .map_err(ApiError::internal)?;
            }
            for (_, f) in &page {
                out.write_record(failure_cells(f))
                    .map_err(ApiError::internal)?;
            }
            let mut bytes = out
                .into_inner()
                .map_err(|e| ApiError::internal_msg(e.to_string()))?;
            if first {
                bytes.splice(0..0, b"\xEF\xBB\xBF".iter().copied());
            }
            let next = match page.last() {
                Some((last, _)) if page.len() as i64 == FAILURE_PAGE => Some(*last),
                _ => None,
            };
            Ok(Some((bytes, (next, false))))
        }
    })
}

/// The failures as a workbook a provider can correct and send back. A sheet
/// holds about a million rows; past that the CSV has the rest.
async fn failures_xlsx(state: &AppState, code: &str, batch: &str) -> Result<Vec<u8>, ApiError> {
    use rongshu_ingest::table_sheet::TableSheet;
    let mut sheet = TableSheet::new("失败记录", &FAILURE_COLUMNS).map_err(ApiError::internal)?;
    let mut after = 0;
    'pages: loop {
        let page = state
            .store
            .batch_failures(code, batch, after, FAILURE_PAGE)
            .await?;
        for (_, f) in &page {
            let cells = failure_cells(f);
            let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
            if !sheet.push(&refs).map_err(ApiError::internal)? {
                break 'pages;
            }
        }
        match page.last() {
            Some((last, _)) if page.len() as i64 == FAILURE_PAGE => after = *last,
            _ => break,
        }
    }
    tokio::task::spawn_blocking(move || sheet.finish())
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// The resource's batches, newest first (its provider and the platform office).
#[utoipa::path(get, path = "/api/v1/resources/{code}/batches", tag = "data",
    params(("code" = String, Path, description = "Resource code")),
    responses((status = 200, description = "Batches"), (status = 403, description = "Not the provider")))]
pub async fn list_batches(
    State(state): State<AppState>,
    actor: Actor,
    Path(code): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let resource = visible_resource(&state, &actor, &code).await?;
    if !sees_unpublished(&actor, &resource) {
        return Err(ApiError::Forbidden(
            "only the provider sees a resource's batches".into(),
        ));
    }
    let items = state.store.batches(&code, 100).await?;
    Ok(Json(json!({ "items": items })))
}
