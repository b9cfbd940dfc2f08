//! The console's webhook subscriptions: the department's subscriptions with
//! their state, position and last delivery; one subscription's delivery log,
//! with forms to replay from a sequence number or cancel.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use rongshu_store::{Delivery, Subscription};

use super::console::{ConsoleUser, Fields, csrf_ok, csrf_refused, error_page, field};
use super::{LangQuery, Texts, choose_lang, render, render_form};
use crate::error::ApiError;
use crate::routes::subscriptions::{cancel_subscription, own_subscription, replay_subscription};
use crate::state::AppState;

/// Attempts shown on a subscription's page (the API pages through all).
const LOG_ROWS: i64 = 100;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/subscriptions", get(subscription_list))
        .route("/console/subscriptions/{id}", get(subscription_detail))
        .route(
            "/console/subscriptions/{id}/{action}",
            post(subscription_action),
        )
}

#[derive(Template)]
#[template(path = "subscriptions.html")]
struct ListPage {
    t: &'static Texts,
    items: Vec<Subscription>,
}

#[derive(Template)]
#[template(path = "subscription.html")]
struct DetailPage<'a> {
    t: &'static Texts,
    csrf: String,
    error: &'a str,
    s: Subscription,
    deliveries: Vec<Delivery>,
}

async fn subscription_list(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    user: ConsoleUser,
) -> Response {
    let t = choose_lang(&q, &headers).0.texts();
    let department =
        (!user.actor.is_platform_admin()).then(|| user.actor.department().code.as_str());
    match state.store.subscriptions(department).await {
        Ok(items) => render(&ListPage { t, items }, &[]),
        Err(e) => error_page(e.into()),
    }
}

async fn detail_page(
    state: &AppState,
    user: ConsoleUser,
    t: &'static Texts,
    id: i64,
    error: &str,
) -> Response {
    let loaded = async {
        let s = own_subscription(state, &user.actor, id).await?;
        let deliveries = state.store.deliveries(id, None, LOG_ROWS).await?;
        Ok::<_, ApiError>((s, deliveries))
    }
    .await;
    match loaded {
        Ok((s, deliveries)) => {
            let page = DetailPage {
                t,
                csrf: user.csrf,
                error,
                s,
                deliveries,
            };
            render_form(&page, error)
        }
        Err(e) => error_page(e),
    }
}

async fn subscription_detail(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    user: ConsoleUser,
    Path(id): Path<i64>,
) -> Response {
    let t = choose_lang(&q, &headers).0.texts();
    detail_page(&state, user, t, id, "").await
}

/// Replay or cancel from the subscription's page; a refusal shows the page
/// again with the reason.
async fn subscription_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: ConsoleUser,
    Path((id, action)): Path<(i64, String)>,
    axum::Form(fields): axum::Form<Fields>,
) -> Response {
    if !csrf_ok(&user.csrf, &fields) {
        return csrf_refused();
    }
    let t = choose_lang(&LangQuery { lang: None }, &headers).0.texts();
    let result = match action.as_str() {
        "replay" => match field(&fields, "from_seq").trim().parse::<i64>() {
            Ok(from_seq) => replay_subscription(&state, &user.actor, id, from_seq).await,
            Err(_) => Err(ApiError::BadRequest(t.l("from_seq_number").to_owned())),
        },
        "cancel" => cancel_subscription(&state, &user.actor, id).await,
        other => Err(ApiError::NotFound(format!("there is no action {other}"))),
    };
    match result {
        Ok(_) => Redirect::to(&format!("/console/subscriptions/{id}")).into_response(),
        Err(e @ (ApiError::BadRequest(_) | ApiError::Conflict(_) | ApiError::Forbidden(_))) => {
            detail_page(&state, user, t, id, &e.to_string()).await
        }
        Err(e) => error_page(e),
    }
}
