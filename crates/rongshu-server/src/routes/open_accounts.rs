//! `/api/open/v1`: the public's side of the open API. People sign up with an
//! e-mail and a password and get a key (shown once); they ask for more keys
//! with the password, list and revoke their keys with a key, and ask to use
//! a conditional dataset by accepting its terms and stating a purpose.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::Duration;
use rongshu_core::account::check_password_strength;
use rongshu_core::opendata::ReleaseOpenType;
use rongshu_store::{AccessRequest, NewOpenUser, OpenKey, OpenUser, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{password, token};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::opendata::{open_keys, package};
use crate::service::Doer;
use crate::state::AppState;

/// Longest name, organisation or purpose kept.
const MAX_TEXT_CHARS: usize = 200;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUpBody {
    pub email: String,
    pub name: String,
    #[serde(default)]
    pub organisation: String,
    pub password: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyBody {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub label: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessRequestBody {
    pub purpose: String,
    /// Must be true: the dataset's terms (its open condition) are accepted.
    pub accept_terms: bool,
}

/// An e-mail address as kept: trimmed, lower-cased, one `@` with text on
/// both sides and a dot in the domain. Nothing is sent to it.
pub fn checked_email(raw: &str) -> Result<String, String> {
    let email = raw.trim().to_lowercase();
    let ok = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if ok {
        Ok(email)
    } else {
        Err(format!(
            "email: \"{}\" is not an e-mail address",
            raw.trim()
        ))
    }
}

fn checked_text(field: &str, raw: &str, required: bool) -> Result<String, String> {
    let text = raw.trim();
    if required && text.is_empty() {
        return Err(format!("{field}: required"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(format!("{field}: at most {MAX_TEXT_CHARS} characters"));
    }
    Ok(text.to_owned())
}

/// The audit actor of a portal user: the number, not the address.
fn open_doer(user_id: Option<i64>) -> Doer {
    Doer {
        label: user_id.map_or_else(|| "anonymous".to_owned(), |id| format!("open_user:{id}")),
        department: None,
    }
}

pub fn user_view(u: &OpenUser) -> Value {
    json!({
        "id": u.id,
        "email": u.email,
        "name": u.name,
        "organisation": u.organisation,
        "created_at": u.created_at,
    })
}

pub fn key_view(k: &OpenKey) -> Value {
    json!({
        "id": k.id,
        "prefix": k.prefix,
        "label": k.label,
        "created_at": k.created_at,
        "revoked_at": k.revoked_at,
        "revoked_by": k.revoked_by,
    })
}

pub fn request_view(r: &AccessRequest) -> Value {
    json!({
        "id": r.id,
        "dataset": r.release_name,
        "user": {"id": r.user.id, "name": r.user.name, "organisation": r.user.organisation, "email": r.user.email},
        "purpose": r.purpose,
        "terms_accepted_at": r.terms_accepted_at,
        "state": r.state,
        "decided_by": r.decided_by,
        "decided_at": r.decided_at,
        "reason": r.reason,
        "created_at": r.created_at,
    })
}

/// What signing up made: the user and the first key's secret.
pub struct SignedUp {
    pub user: OpenUser,
    pub key: OpenKey,
    pub secret: String,
}

/// Check and register a portal user with a first key; shared by the API and
/// the portal's form.
pub async fn sign_up(state: &AppState, body: &SignUpBody) -> Result<SignedUp, ApiError> {
    let email = checked_email(&body.email).map_err(ApiError::BadRequest)?;
    let name = checked_text("name", &body.name, true).map_err(ApiError::BadRequest)?;
    let organisation =
        checked_text("organisation", &body.organisation, false).map_err(ApiError::BadRequest)?;
    check_password_strength(&body.password)
        .map_err(|e| ApiError::BadRequest(format!("password: {e}")))?;
    let plain = body.password.clone();
    let cost = state.config.password_cost;
    let password_hash = tokio::task::spawn_blocking(move || password::hash(&plain, cost))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
    let secret = open_keys::generate();
    let now = state.clock.now();
    let audit = open_doer(None).record(now, "open.sign_up", None, json!({}));
    let (user, key) = state
        .store
        .create_open_user(
            &NewOpenUser {
                email: &email,
                name: &name,
                organisation: &organisation,
                password_hash: &password_hash,
                key_hash: &token::hash(&secret),
                key_prefix: &token::prefix(&secret),
                now,
            },
            &audit,
        )
        .await?;
    Ok(SignedUp { user, key, secret })
}

fn created_key(user: &OpenUser, key: &OpenKey, secret: &str, state: &AppState) -> Value {
    json!({
        "user": user_view(user),
        "key": secret,
        "key_info": key_view(key),
        "rate_limit_per_minute": state.open_limits.limit().get(),
        "note": "the key is shown this once; send it in X-API-Key",
    })
}

/// Sign up for the open API.
#[utoipa::path(post, path = "/api/open/v1/signup", tag = "open data", request_body = SignUpBody,
    responses((status = 201, description = "`{\"user\", \"key\": \"rok_…\" (shown once), \"key_info\", \"rate_limit_per_minute\"}`"),
              (status = 400, description = "A bad e-mail, an empty name, a short password"),
              (status = 409, description = "The e-mail is registered already")))]
pub async fn signup(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SignUpBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let made = sign_up(&state, &body).await?;
    Ok((
        StatusCode::CREATED,
        Json(created_key(&made.user, &made.key, &made.secret, &state)),
    ))
}

/// Another key, with the e-mail and password; failed tries are throttled
/// like staff sign-ins.
#[utoipa::path(post, path = "/api/open/v1/keys", tag = "open data", request_body = NewKeyBody,
    responses((status = 201, description = "As sign-up: the new key, shown once"),
              (status = 401, description = "Wrong e-mail or password"),
              (status = 429, description = "Too many failed tries for this e-mail")))]
pub async fn new_key(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewKeyBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let email = body.email.trim().to_lowercase();
    let label = checked_text("label", &body.label, false).map_err(ApiError::BadRequest)?;
    let now = state.clock.now();
    // The staff sign-in throttle, under a name no staff user can have.
    let throttle_name = format!("open:{email}");
    let window = state.config.login_window_minutes;
    let failures = state
        .store
        .login_failures_since(&throttle_name, now - Duration::minutes(window))
        .await?;
    if failures >= state.config.login_max_failures {
        return Err(ApiError::TooManyRequests(format!(
            "too many failed tries for this e-mail; try again in {window} minutes"
        )));
    }
    let login = state.store.open_login(&email).await?;
    let stored = login
        .as_ref()
        .map_or_else(|| state.decoy_hash.clone(), |l| l.password_hash.clone());
    let presented = body.password.clone();
    let matches = tokio::task::spawn_blocking(move || password::verify(&presented, &stored))
        .await
        .map_err(ApiError::internal)?;
    let user = match login {
        Some(l) if matches && l.user.disabled_at.is_none() => l.user,
        _ => {
            let audit = open_doer(None).record(now, "open.key_refused", None, json!({}));
            state
                .store
                .record_login_failure(&throttle_name, now, audit)
                .await?;
            return Err(ApiError::Unauthorized(
                "the e-mail or the password is wrong".into(),
            ));
        }
    };
    state.store.clear_login_failures(&throttle_name).await?;
    let secret = open_keys::generate();
    let label = if label.is_empty() {
        "API".to_owned()
    } else {
        label
    };
    let audit = open_doer(Some(user.id)).record(now, "open.key_create", None, json!({}));
    let key = state
        .store
        .create_open_key(
            user.id,
            &token::hash(&secret),
            &token::prefix(&secret),
            &label,
            now,
            &audit,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(created_key(&user, &key, &secret, &state)),
    ))
}

/// The caller's account and keys (never their secrets).
#[utoipa::path(get, path = "/api/open/v1/keys", tag = "open data",
    params(("X-API-Key" = String, Header, description = "One of the user's keys")),
    responses((status = 200, description = "`{\"user\", \"keys\": [...], \"rate_limit_per_minute\"}`"),
              (status = 401, description = "No key, or a revoked one")))]
pub async fn my_keys(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let caller = open_keys::caller(&state, &headers).await?;
    let keys: Vec<Value> = state
        .store
        .open_keys(caller.user.id)
        .await?
        .iter()
        .map(key_view)
        .collect();
    Ok(Json(json!({
        "user": user_view(&caller.user),
        "keys": keys,
        "rate_limit_per_minute": state.open_limits.limit().get(),
    })))
}

/// Revoke one of the caller's keys (the one presented included); it stops
/// working at once.
#[utoipa::path(post, path = "/api/open/v1/keys/{id}/revoke", tag = "open data",
    params(("id" = i64, Path, description = "Key id"),
           ("X-API-Key" = String, Header, description = "One of the same user's keys")),
    responses((status = 200, description = "The key, revoked"),
              (status = 401, description = "No key, or a revoked one"),
              (status = 404, description = "Not a key of the caller's"),
              (status = 409, description = "Revoked already")))]
pub async fn revoke_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let caller = open_keys::caller(&state, &headers).await?;
    let not_found = || ApiError::NotFound(format!("key {id} is not one of yours"));
    let key = match state.store.open_key(id).await {
        Ok(k) if k.user_id == caller.user.id => k,
        Ok(_) | Err(StoreError::NotFound(_)) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    let now = state.clock.now();
    let by = format!("open_user:{}", caller.user.id);
    let audit = open_doer(Some(caller.user.id)).record(now, "open.key_revoke", None, json!({}));
    let key = state
        .store
        .revoke_open_key(key.id, &by, now, &audit)
        .await?;
    Ok(Json(key_view(&key)))
}

/// Ask to use a conditional dataset: accept its terms, state a purpose; its
/// provider approves or rejects.
#[utoipa::path(post, path = "/api/open/v1/datasets/{name}/access-requests", tag = "open data",
    request_body = AccessRequestBody,
    params(("name" = String, Path, description = "Dataset name"),
           ("X-API-Key" = String, Header, description = "The user's key")),
    responses((status = 201, description = "The request, pending"),
              (status = 400, description = "Terms not accepted, or no purpose"),
              (status = 401, description = "No key, or a revoked one"),
              (status = 404, description = "No such published dataset"),
              (status = 409, description = "Open without conditions, or a request pending or approved already")))]
pub async fn request_access(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<AccessRequestBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let caller = open_keys::caller(&state, &headers).await?;
    let dataset = package::published_dataset(&state, &name).await?;
    if dataset.release.open_type == ReleaseOpenType::Open {
        return Err(ApiError::Conflict(format!(
            "\"{name}\" is open to anyone: no request is needed"
        )));
    }
    if !body.accept_terms {
        return Err(ApiError::BadRequest(format!(
            "accept_terms: the terms of \"{name}\" ({}) must be accepted",
            dataset.release.open_condition.as_deref().unwrap_or("")
        )));
    }
    let purpose = checked_text("purpose", &body.purpose, true).map_err(ApiError::BadRequest)?;
    let now = state.clock.now();
    let audit = open_doer(Some(caller.user.id)).record(
        now,
        "open.access_request",
        None,
        json!({"dataset": name}),
    );
    let request = state
        .store
        .request_open_access(dataset.release.id, caller.user.id, &purpose, now, &audit)
        .await?;
    Ok((StatusCode::CREATED, Json(request_view(&request))))
}

/// The caller's request for a dataset, if any.
#[utoipa::path(get, path = "/api/open/v1/datasets/{name}/access-requests/mine", tag = "open data",
    params(("name" = String, Path, description = "Dataset name"),
           ("X-API-Key" = String, Header, description = "The user's key")),
    responses((status = 200, description = "The request and its state"),
              (status = 401, description = "No key, or a revoked one"),
              (status = 404, description = "No such dataset, or no request for it")))]
pub async fn my_request(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let caller = open_keys::caller(&state, &headers).await?;
    let dataset = package::published_dataset(&state, &name).await?;
    let request = state
        .store
        .open_access_of(dataset.release.id, caller.user.id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("you have not asked to use \"{name}\"")))?;
    Ok(Json(request_view(&request)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn addresses_are_kept_lower_cased_and_checked() {
        assert_eq!(
            checked_email("  Li.Ming@Example.CN ").as_deref(),
            Ok("li.ming@example.cn")
        );
        for bad in [
            "",
            "no-at",
            "@example.cn",
            "a@b",
            "a@.cn",
            "a@cn.",
            "a b@c.cn",
            "a@b@c.cn",
        ] {
            assert!(checked_email(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn any_input_is_an_answer_not_a_panic(raw in "\\PC{0,300}") {
            let _ = checked_email(&raw);
            let _ = checked_text("name", &raw, true);
        }
    }
}
