//! The console's catalog pages: register and edit resources (items in an
//! editable table), their detail with history and lifecycle buttons, the
//! review queue with a side-by-side comparison, and share demands. Every form
//! carries the session's CSRF token; nothing needs JavaScript.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use rongshu_core::catalog::{
    Format, OpenType, ResourceSpec, ShareMode, Status, Transition, diff_specs,
};
use rongshu_store::{Demand, DemandEvent, HistoryEntry, Resource};
use serde_json::{Value, json};

use super::{LangQuery, Texts, choose_lang, render, render_form};
use crate::auth::{Actor, MaybeActor};
use crate::error::ApiError;
use crate::routes::demands::{self, AnswerRequest, NewDemandRequest};
use crate::routes::resources;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/console/resources/new",
            get(new_resource).post(create_resource),
        )
        .route("/console/resources/{code}", get(resource_detail))
        .route(
            "/console/resources/{code}/edit",
            get(edit_resource).post(save_resource),
        )
        .route("/console/resources/{code}/transition", post(transition))
        .route("/console/resources/{code}/review", get(review))
        .route("/console/review", get(review_queue))
        .route("/console/catalog", get(catalog_search))
        .route("/console/demands", get(demand_list).post(demand_create))
        .route("/console/demands/{id}", get(demand_detail))
        .route("/console/demands/{id}/{action}", post(demand_action))
}

pub(super) type Fields = Vec<(String, String)>;

pub(super) fn field<'a>(fields: &'a Fields, name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// A user signed in through the web session, with the session's CSRF token.
/// Anyone else is sent to the sign-in page, so a console handler that takes
/// this cannot run for them.
pub(super) struct ConsoleUser {
    pub(super) actor: Actor,
    pub(super) csrf: String,
}

impl axum::extract::FromRequestParts<AppState> for ConsoleUser {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Response> {
        let MaybeActor(actor) = MaybeActor::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let actor = actor.ok_or_else(to_sign_in)?;
        let csrf = actor.session_csrf.clone().ok_or_else(to_sign_in)?;
        Ok(ConsoleUser { actor, csrf })
    }
}

fn to_sign_in() -> Response {
    Redirect::to("/console").into_response()
}

/// The form's CSRF field must be the session's token.
pub(super) fn csrf_ok(csrf: &str, fields: &Fields) -> bool {
    !csrf.is_empty() && field(fields, "csrf") == csrf
}

pub(super) fn csrf_refused() -> Response {
    (
        StatusCode::FORBIDDEN,
        "the form expired (CSRF token mismatch); reload the page",
    )
        .into_response()
}

pub(super) fn error_page(e: ApiError) -> Response {
    e.into_response()
}

// ---- the resource form ------------------------------------------------------

#[derive(Default, Clone)]
struct FormValues {
    name: String,
    summary: String,
    classification: String,
    format: String,
    share_type: String,
    share_condition: String,
    share_mode: String,
    open_type: String,
    open_condition: String,
    update_cycle: String,
    topics: String,
    keywords: String,
    related: String,
    key_items: String,
}

#[derive(Default, Clone)]
struct ItemRow {
    key: String,
    name: String,
    item_type: String,
    length: String,
    grade: String,
    required: bool,
    kind: String,
    element: String,
}

#[derive(Template)]
#[template(path = "resource_form.html")]
struct ResourceForm<'a> {
    t: &'static Texts,
    code: Option<String>,
    action: String,
    csrf: String,
    error: &'a str,
    form: FormValues,
    rows: Vec<ItemRow>,
    formats: Vec<(&'static str, &'static str)>,
    share_types: Vec<(&'static str, &'static str)>,
    share_modes: Vec<(&'static str, &'static str)>,
    open_types: Vec<(&'static str, &'static str)>,
    cycles: Vec<(&'static str, &'static str)>,
    item_types: Vec<&'static str>,
    grades: Vec<&'static str>,
}

pub(super) fn split_list(s: &str) -> Vec<String> {
    s.split([',', '，', '、', ';', '；'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

fn values_from_spec(spec: &ResourceSpec) -> (FormValues, Vec<ItemRow>) {
    let req = spec.to_request();
    let form = FormValues {
        name: spec.name.clone(),
        summary: spec.summary.clone(),
        classification: req.classification.unwrap_or_default(),
        format: req.format.unwrap_or_default(),
        share_type: spec.share_type.as_str().into(),
        share_condition: spec.share_condition.clone().unwrap_or_default(),
        share_mode: req.share_mode.unwrap_or_default(),
        open_type: req.open_type.unwrap_or_default(),
        open_condition: spec.open_condition.clone().unwrap_or_default(),
        update_cycle: spec.update_cycle.as_str().into(),
        topics: spec.topics.join(", "),
        keywords: spec.keywords.join(", "),
        related: spec.related.join(", "),
        key_items: spec
            .key_items
            .iter()
            .map(|k| k.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    };
    let rows = req
        .items
        .into_iter()
        .map(|i| ItemRow {
            key: i.key.unwrap_or_default(),
            name: i.name.unwrap_or_default(),
            item_type: i.item_type.unwrap_or_default(),
            length: i.length.map(|l| l.to_string()).unwrap_or_default(),
            grade: i.grade.map(|g| g.to_string()).unwrap_or_default(),
            required: i.required,
            kind: i.kind.unwrap_or_default(),
            element: i.element.unwrap_or_default(),
        })
        .collect();
    (form, rows)
}

fn values_from_fields(fields: &Fields) -> (FormValues, Vec<ItemRow>) {
    let f = |n: &str| field(fields, n).to_owned();
    let form = FormValues {
        name: f("name"),
        summary: f("summary"),
        classification: f("classification"),
        format: f("format"),
        share_type: f("share_type"),
        share_condition: f("share_condition"),
        share_mode: f("share_mode"),
        open_type: f("open_type"),
        open_condition: f("open_condition"),
        update_cycle: f("update_cycle"),
        topics: f("topics"),
        keywords: f("keywords"),
        related: f("related"),
        key_items: f("key_items"),
    };
    let count: usize = field(fields, "rows").parse().unwrap_or(0).min(500);
    let rows = (0..count)
        .map(|i| ItemRow {
            key: f(&format!("item_key_{i}")),
            name: f(&format!("item_name_{i}")),
            item_type: f(&format!("item_type_{i}")),
            length: f(&format!("item_length_{i}")),
            grade: f(&format!("item_grade_{i}")),
            required: field(fields, &format!("item_required_{i}")) == "on",
            kind: f(&format!("item_kind_{i}")),
            element: f(&format!("item_element_{i}")),
        })
        .collect();
    (form, rows)
}

/// The JSON declaration the API takes, from the form.
fn declaration(form: &FormValues, rows: &[ItemRow]) -> Result<Value, ApiError> {
    let opt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
    let mut items = Vec::new();
    for (i, r) in rows
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.key.trim().is_empty())
    {
        let length = match opt(&r.length) {
            Some(l) => Some(l.parse::<u32>().map_err(|_| {
                ApiError::Unprocessable(format!("items[{i}].length: \"{l}\" is not a number"))
            })?),
            None => None,
        };
        let grade = match opt(&r.grade) {
            Some(g) => Some(g.parse::<i64>().map_err(|_| {
                ApiError::Unprocessable(format!("items[{i}].grade: \"{g}\" is not a number"))
            })?),
            None => None,
        };
        items.push(json!({
            "key": r.key.trim(), "name": opt(&r.name), "type": opt(&r.item_type), "length": length,
            "grade": grade, "required": r.required, "kind": opt(&r.kind), "element": opt(&r.element),
        }));
    }
    Ok(json!({
        "name": opt(&form.name), "summary": form.summary.trim(), "classification": opt(&form.classification),
        "format": opt(&form.format), "share_type": opt(&form.share_type), "share_condition": opt(&form.share_condition),
        "share_mode": opt(&form.share_mode), "open_type": opt(&form.open_type), "open_condition": opt(&form.open_condition),
        "update_cycle": opt(&form.update_cycle), "topics": split_list(&form.topics), "keywords": split_list(&form.keywords),
        "related": split_list(&form.related), "key_items": split_list(&form.key_items), "items": items,
    }))
}

fn form_page(
    t: &'static Texts,
    code: Option<String>,
    csrf: String,
    error: &str,
    form: FormValues,
    mut rows: Vec<ItemRow>,
    extra_rows: usize,
) -> Response {
    let blank = ItemRow {
        item_type: "string".into(),
        grade: "1".into(),
        ..ItemRow::default()
    };
    rows.extend(std::iter::repeat_n(blank, extra_rows));
    let action = match &code {
        Some(c) => format!("/console/resources/{c}/edit"),
        None => "/console/resources/new".into(),
    };
    let page = ResourceForm {
        t,
        code,
        action,
        csrf,
        error,
        form,
        rows,
        formats: Format::ALL
            .iter()
            .map(|f| (f.as_str(), f.label_zh()))
            .collect(),
        share_types: vec![
            ("unconditional", t.share_unconditional),
            ("conditional", t.share_conditional),
            ("none", t.share_none),
        ],
        share_modes: ShareMode::ALL
            .iter()
            .map(|f| (f.as_str(), f.label_zh()))
            .collect(),
        open_types: OpenType::ALL
            .iter()
            .map(|f| (f.as_str(), f.label_zh()))
            .collect(),
        cycles: [
            ("realtime", "实时"),
            ("daily", "每日"),
            ("weekly", "每周"),
            ("monthly", "每月"),
            ("quarterly", "每季度"),
            ("half_yearly", "每半年"),
            ("yearly", "每年"),
        ]
        .to_vec(),
        item_types: vec![
            "string", "integer", "decimal", "date", "datetime", "boolean",
        ],
        grades: vec!["1", "2", "3", "4"],
    };
    render_form(&page, error)
}

async fn new_resource(
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    ConsoleUser { actor: _, csrf }: ConsoleUser,
) -> Response {
    let t = choose_lang(&q, &headers).0.texts();
    let form = FormValues {
        share_type: "unconditional".into(),
        update_cycle: "monthly".into(),
        ..FormValues::default()
    };
    form_page(t, None, csrf, "", form, Vec::new(), 5)
}

async fn create_resource(
    State(state): State<AppState>,
    headers: HeaderMap,
    ConsoleUser { actor, csrf }: ConsoleUser,
    axum::Form(fields): axum::Form<Fields>,
) -> Response {
    save_form(&state, &headers, ConsoleUser { actor, csrf }, &fields, None).await
}

/// Register (no code) or edit (a code) from the posted form: "add rows"
/// shows the form again with more blank rows; a mistake shows it again with
/// the reason and the values kept; success goes to the resource's page.
async fn save_form(
    state: &AppState,
    headers: &HeaderMap,
    user: ConsoleUser,
    fields: &Fields,
    code: Option<String>,
) -> Response {
    let ConsoleUser { actor, csrf } = user;
    if !csrf_ok(&csrf, fields) {
        return csrf_refused();
    }
    let t = choose_lang(&LangQuery { lang: None }, headers).0.texts();
    let (form, rows) = values_from_fields(fields);
    if !field(fields, "add_rows").is_empty() {
        return form_page(t, code, csrf, "", form, rows, 3);
    }
    let saved = match (declaration(&form, &rows), &code) {
        (Ok(body), None) => resources::create_resource(state, &actor, body).await,
        (Ok(body), Some(c)) => resources::update_resource(state, &actor, c, body).await,
        (Err(e), _) => Err(e),
    };
    match saved {
        Ok(r) => Redirect::to(&format!("/console/resources/{}", r.code)).into_response(),
        Err(e @ (ApiError::Forbidden(_) | ApiError::NotFound(_) | ApiError::Internal(_))) => {
            error_page(e)
        }
        Err(e) => form_page(t, code, csrf, &e.to_string(), form, rows, 0),
    }
}

async fn edit_resource(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    ConsoleUser { actor, csrf }: ConsoleUser,
) -> Response {
    let t = choose_lang(&q, &headers).0.texts();
    let resource = match resources::visible_resource(&state, &actor, &code).await {
        Ok(r) => r,
        Err(e) => return error_page(e),
    };
    // Edit the version under work when there is one.
    let spec = match &resource.working {
        Some(w) => match state.store.resource_version(&code, w.version).await {
            Ok(v) => v.spec,
            Err(e) => return error_page(e.into()),
        },
        None => resource.spec.clone(),
    };
    let (form, rows) = values_from_spec(&spec);
    form_page(t, Some(code), csrf, "", form, rows, 2)
}

async fn save_resource(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
    ConsoleUser { actor, csrf }: ConsoleUser,
    axum::Form(fields): axum::Form<Fields>,
) -> Response {
    save_form(
        &state,
        &headers,
        ConsoleUser { actor, csrf },
        &fields,
        Some(code),
    )
    .await
}

// ---- detail, lifecycle and review -------------------------------------------

#[derive(Template)]
#[template(path = "resource_detail.html")]
struct DetailPage<'a> {
    t: &'static Texts,
    r: Resource,
    csrf: String,
    notice: &'a str,
    can_edit: bool,
    review_link: bool,
    actions: Vec<&'static str>,
    history: Vec<HistoryEntry>,
    /// Keys of the items whose data element names this provider as its authority.
    authoritative: std::collections::HashSet<String>,
    /// The provider and the platform office see the batches and their reports.
    can_see_batches: bool,
}

#[derive(serde::Deserialize)]
pub(super) struct NoticeQuery {
    pub(super) lang: Option<String>,
    pub(super) notice: Option<String>,
}

impl NoticeQuery {
    /// The page's texts in the language asked for (or remembered, or the default).
    pub(super) fn texts(&self, headers: &HeaderMap) -> &'static Texts {
        let asked = LangQuery {
            lang: self.lang.clone(),
        };
        choose_lang(&asked, headers).0.texts()
    }
}

async fn resource_detail(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<NoticeQuery>,
    headers: HeaderMap,
    ConsoleUser { actor, csrf }: ConsoleUser,
) -> Response {
    let t = choose_lang(&LangQuery { lang: q.lang }, &headers).0.texts();
    let r = match resources::visible_resource(&state, &actor, &code).await {
        Ok(r) => r,
        Err(e) => return error_page(e),
    };
    let mut history = match state.store.resource_history(&code).await {
        Ok(h) => h,
        Err(e) => return error_page(e.into()),
    };
    if !resources::sees_unpublished(&actor, &r) {
        history.retain(|h| matches!(h.action.as_str(), "create" | "approve" | "retire"));
    }
    let actions: Vec<&'static str> = [
        Transition::Submit,
        Transition::Approve,
        Transition::Reject,
        Transition::Retire,
    ]
    .into_iter()
    .filter(|tr| resources::may_transition(&actor, &r, *tr))
    .map(Transition::as_str)
    .collect();
    let authoritative = match resources::item_standings(&state, &r.provider.code, &r.spec).await {
        Ok(marks) => marks
            .into_iter()
            .filter(|m| m.authoritative)
            .map(|m| m.item.to_string())
            .collect(),
        Err(e) => return error_page(e),
    };
    let provider = actor.department().code == r.provider.code;
    let under_review = r.status == Status::Submitted
        || r.working
            .as_ref()
            .is_some_and(|w| w.state == Status::Submitted);
    let page = DetailPage {
        t,
        can_see_batches: resources::sees_unpublished(&actor, &r),
        can_edit: provider && r.status != Status::Retired,
        review_link: under_review,
        r: std::sync::Arc::unwrap_or_clone(r),
        csrf,
        notice: q.notice.as_deref().unwrap_or(""),
        actions,
        history,
        authoritative,
    };
    render(&page, &[])
}

async fn transition(
    State(state): State<AppState>,
    Path(code): Path<String>,
    ConsoleUser { actor, csrf }: ConsoleUser,
    axum::Form(fields): axum::Form<Fields>,
) -> Response {
    if !csrf_ok(&csrf, &fields) {
        return csrf_refused();
    }
    let Some(tr) = Transition::parse(field(&fields, "action")) else {
        return error_page(ApiError::BadRequest(
            "action must be submit, approve, reject or retire".into(),
        ));
    };
    let comment = Some(field(&fields, "comment").trim()).filter(|c| !c.is_empty());
    match resources::transition_resource(&state, &actor, &code, tr, comment).await {
        Ok(_) => Redirect::to(&format!("/console/resources/{code}")).into_response(),
        Err(e @ ApiError::Conflict(_)) => {
            let notice: String = form_urlencoded_component(&e.to_string());
            Redirect::to(&format!("/console/resources/{code}?notice={notice}")).into_response()
        }
        Err(e) => error_page(e),
    }
}

pub(super) fn form_urlencoded_component(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

struct ReviewRow {
    field: String,
    before: String,
    after: String,
    changed: bool,
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage {
    t: &'static Texts,
    code: String,
    csrf: String,
    is_admin: bool,
    rows: Vec<ReviewRow>,
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

async fn review(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    ConsoleUser { actor, csrf }: ConsoleUser,
) -> Response {
    let t = choose_lang(&q, &headers).0.texts();
    let r = match resources::visible_resource(&state, &actor, &code).await {
        Ok(r) => r,
        Err(e) => return error_page(e),
    };
    if !resources::sees_unpublished(&actor, &r) {
        return error_page(ApiError::NotFound(format!(
            "resource {code} has nothing under review"
        )));
    }
    // Side by side: the published version (none for a first publication) and the submitted one.
    let (before, after) = match &r.working {
        Some(w) => match state.store.resource_version(&code, w.version).await {
            Ok(v) => (Some(r.spec.clone()), v.spec),
            Err(e) => return error_page(e.into()),
        },
        None => (None, r.spec.clone()),
    };
    let changed: Vec<String> = diff_specs(before.as_ref(), &after)
        .into_iter()
        .map(|c| c.field)
        .collect();
    let as_map = |s: Option<&ResourceSpec>| match s.map(serde_json::to_value) {
        Some(Ok(Value::Object(m))) => m,
        _ => serde_json::Map::new(),
    };
    let (b, a) = (as_map(before.as_ref()), as_map(Some(&after)));
    let mut rows: Vec<ReviewRow> = a
        .iter()
        .filter(|(k, _)| k.as_str() != "items")
        .map(|(k, v)| ReviewRow {
            field: k.clone(),
            before: b.get(k).map(show).unwrap_or_default(),
            after: show(v),
            changed: changed.iter().any(|c| c == k),
        })
        .collect();
    for item in &after.items {
        let key = format!("items.{}", item.key);
        let old = before.as_ref().and_then(|s| s.item(item.key.as_str()));
        let describe = |i: &rongshu_core::catalog::Item| {
            format!(
                "{} · {} · 分级 {}{}",
                i.name,
                i.item_type.as_str(),
                i.grade.value(),
                if i.required { " · 必填" } else { "" }
            )
        };
        rows.push(ReviewRow {
            changed: changed
                .iter()
                .any(|c| c == &key || c.starts_with(&format!("{key}."))),
            field: key,
            before: old.map(describe).unwrap_or_default(),
            after: describe(item),
        });
    }
    let page = ReviewPage {
        t,
        code,
        csrf,
        is_admin: actor.is_platform_admin(),
        rows,
    };
    render(&page, &[])
}

struct QueueRow {
    code: String,
    name: String,
    provider: String,
    version: i64,
}

#[derive(Template)]
#[template(path = "review_queue.html")]
struct QueuePage {
    t: &'static Texts,
    items: Vec<QueueRow>,
}

async fn review_queue(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    ConsoleUser { actor, csrf: _ }: ConsoleUser,
) -> Response {
    if !actor.is_platform_admin() {
        return error_page(ApiError::Forbidden(
            "the review queue is the platform office's".into(),
        ));
    }
    let t = choose_lang(&q, &headers).0.texts();
    let all = match state.store.resources(None).await {
        Ok(v) => v,
        Err(e) => return error_page(e.into()),
    };
    let items = all
        .into_iter()
        .filter_map(|r| {
            let version = match (&r.working, r.status) {
                (Some(w), _) if w.state == Status::Submitted => w.version,
                (None, Status::Submitted) => r.version,
                _ => return None,
            };
            Some(QueueRow {
                code: r.code,
                name: r.spec.name,
                provider: r.provider.name,
                version,
            })
        })
        .collect();
    render(&QueuePage { t, items }, &[])
}

// ---- demands ----------------------------------------------------------------

struct DemandRow {
    id: i64,
    title: String,
    requester: String,
    routed_to: String,
    state: String,
    age_days: i64,
}

#[derive(Template)]
#[template(path = "demands.html")]
struct DemandsPage<'a> {
    t: &'static Texts,
    csrf: String,
    error: &'a str,
    items: Vec<DemandRow>,
}

async fn demands_page(
    state: &AppState,
    actor: &Actor,
    csrf: String,
    t: &'static Texts,
    error: &str,
) -> Response {
    let scope = (!actor.is_platform_admin()).then(|| actor.department().code.clone());
    let list = match state.store.demands(scope.as_deref(), None).await {
        Ok(l) => l,
        Err(e) => return error_page(e.into()),
    };
    let now = state.clock.now();
    let items = list
        .iter()
        .map(|d| DemandRow {
            id: d.id,
            title: d.title.clone(),
            requester: requester_label(t, d),
            routed_to: d
                .routed_to
                .as_ref()
                .map(|r| r.name.clone())
                .unwrap_or_default(),
            state: d.state.clone(),
            age_days: demands::age_days(d, now),
        })
        .collect();
    render_form(
        &DemandsPage {
            t,
            csrf,
            error,
            items,
        },
        error,
    )
}

async fn demand_list(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    ConsoleUser { actor, csrf }: ConsoleUser,
) -> Response {
    let t = choose_lang(&q, &headers).0.texts();
    demands_page(&state, &actor, csrf, t, "").await
}

async fn demand_create(
    State(state): State<AppState>,
    headers: HeaderMap,
    ConsoleUser { actor, csrf }: ConsoleUser,
    axum::Form(fields): axum::Form<Fields>,
) -> Response {
    if !csrf_ok(&csrf, &fields) {
        return csrf_refused();
    }
    let t = choose_lang(&LangQuery { lang: None }, &headers).0.texts();
    let req = NewDemandRequest {
        title: field(&fields, "title").to_owned(),
        description: field(&fields, "description").to_owned(),
        items: split_list(field(&fields, "items")),
        reason: field(&fields, "reason").to_owned(),
    };
    match demands::create_demand(&state, &actor, &req).await {
        Ok(d) => Redirect::to(&format!("/console/demands/{}", d.id)).into_response(),
        Err(e @ ApiError::BadRequest(_)) => {
            demands_page(&state, &actor, csrf, t, &e.to_string()).await
        }
        Err(e) => error_page(e),
    }
}

/// Who asked: the department, or the public (with the organisation they gave).
fn requester_label(t: &Texts, d: &Demand) -> String {
    match (&d.requester, &d.public_requester) {
        (Some(q), _) => q.name.clone(),
        (None, Some(p)) => match &p.organisation {
            Some(org) => format!("{}（{org}）", t.l("the_public")),
            None => t.l("the_public").to_owned(),
        },
        (None, None) => t.l("the_public").to_owned(),
    }
}

#[derive(Template)]
#[template(path = "demand.html")]
struct DemandPage<'a> {
    t: &'static Texts,
    requester: String,
    csrf: String,
    error: &'a str,
    d: Demand,
    age_days: i64,
    events: Vec<DemandEvent>,
    can_route: bool,
    can_answer: bool,
    can_close: bool,
}

async fn demand_detail(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
    headers: HeaderMap,
    ConsoleUser { actor, csrf }: ConsoleUser,
) -> Response {
    let t = choose_lang(&LangQuery { lang: q.lang }, &headers).0.texts();
    let d = match state.store.demand(id).await {
        Ok(d) if demands::may_see(&actor, &d) => d,
        Ok(_) => return error_page(ApiError::NotFound(format!("demand {id} does not exist"))),
        Err(e) => return error_page(e.into()),
    };
    let events = match state.store.demand_events(id).await {
        Ok(e) => e,
        Err(e) => return error_page(e.into()),
    };
    let dept = actor.department().code.clone();
    let page = DemandPage {
        t,
        csrf,
        error: q.notice.as_deref().unwrap_or(""),
        age_days: demands::age_days(&d, state.clock.now()),
        events,
        can_route: actor.is_platform_admin() && matches!(d.state.as_str(), "open" | "routed"),
        can_answer: d.state == "routed" && d.routed_to.as_ref().is_some_and(|r| r.code == dept),
        can_close: d.state != "closed"
            && (d.requester.as_ref().is_some_and(|q| q.code == dept) || actor.is_platform_admin()),
        requester: requester_label(t, &d),
        d,
    };
    render(&page, &[])
}

async fn demand_action(
    State(state): State<AppState>,
    Path((id, action)): Path<(i64, String)>,
    ConsoleUser { actor, csrf }: ConsoleUser,
    axum::Form(fields): axum::Form<Fields>,
) -> Response {
    if !csrf_ok(&csrf, &fields) {
        return csrf_refused();
    }
    let result = match action.as_str() {
        "route" => demands::route_demand(&state, &actor, id, field(&fields, "department")).await,
        "answer" => {
            let by_date = match field(&fields, "by_date") {
                "" => None,
                d => match chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d") {
                    Ok(d) => Some(d),
                    Err(_) => {
                        return error_page(ApiError::BadRequest(format!(
                            "by_date: \"{d}\" is not a date"
                        )));
                    }
                },
            };
            let req = AnswerRequest {
                decision: field(&fields, "decision").to_owned(),
                resource: None,
                by_date,
                reason: field(&fields, "reason").to_owned(),
            };
            demands::answer_demand(&state, &actor, id, &req).await
        }
        "close" => demands::close_demand(&state, &actor, id).await,
        other => return error_page(ApiError::NotFound(format!("no demand action \"{other}\""))),
    };
    match result {
        Ok(_) => Redirect::to(&format!("/console/demands/{id}")).into_response(),
        Err(e @ (ApiError::Conflict(_) | ApiError::BadRequest(_) | ApiError::NotFound(_))) => {
            Redirect::to(&format!(
                "/console/demands/{id}?notice={}",
                form_urlencoded_component(&e.to_string())
            ))
            .into_response()
        }
        Err(e) => error_page(e),
    }
}

// ---- catalog search ---------------------------------------------------------

struct FacetValue {
    label: String,
    count: u64,
    active: bool,
    link: String,
}

struct FacetBlock {
    name: String,
    values: Vec<FacetValue>,
}

struct Hit {
    code: String,
    name: String,
    provider: String,
    status: String,
    summary: String,
}

#[derive(Template)]
#[template(path = "catalog_search.html")]
struct SearchPage {
    t: &'static Texts,
    q: String,
    kept: Vec<(String, String)>,
    error: String,
    total: u64,
    facets: Vec<FacetBlock>,
    items: Vec<Hit>,
    next: Option<String>,
}

fn link_for(params: &[(String, String)]) -> String {
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                form_urlencoded_component(k),
                form_urlencoded_component(v)
            )
        })
        .collect();
    format!("/console/catalog?{}", query.join("&"))
}

/// The console's catalog search: words, facet links that add or remove a
/// filter, and paging; the same rules as `GET /api/v1/resources`.
async fn catalog_search(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    ConsoleUser { actor, csrf: _ }: ConsoleUser,
) -> Response {
    let lang = params
        .iter()
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.clone());
    let t = choose_lang(&LangQuery { lang }, &headers).0.texts();
    let params: Vec<(String, String)> = params
        .into_iter()
        .filter(|(k, v)| k != "lang" && !v.is_empty())
        .collect();
    let q = params
        .iter()
        .find(|(k, _)| k == "q")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let kept: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "q" && k != "offset")
        .cloned()
        .collect();
    let mut page = SearchPage {
        t,
        q,
        kept: kept.clone(),
        error: String::new(),
        total: 0,
        facets: vec![],
        items: vec![],
        next: None,
    };
    let query = match crate::catalog_query::parse(&params, &actor) {
        Ok(q) => q,
        Err(e) => {
            page.error = e.to_string();
            return render(&page, &[]);
        }
    };
    let (offset, limit) = (query.offset, query.limit);
    let answer = match crate::catalog_query::run(&state, query).await {
        Ok(v) => v,
        Err(e) => return error_page(e),
    };
    page.total = answer["total"].as_u64().unwrap_or(0);
    if let Some(items) = answer["items"].as_array() {
        page.items = items
            .iter()
            .map(|r| Hit {
                code: r["code"].as_str().unwrap_or_default().to_owned(),
                name: r["name"].as_str().unwrap_or_default().to_owned(),
                provider: r["provider"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                status: r["status"].as_str().unwrap_or_default().to_owned(),
                summary: r["summary"].as_str().unwrap_or_default().to_owned(),
            })
            .collect();
    }
    if let Some(facets) = answer["facets"].as_object() {
        for (name, values) in facets {
            let values = values
                .as_array()
                .map(|vs| {
                    vs.iter()
                        .map(|v| {
                            let value = v["value"].as_str().unwrap_or_default().to_owned();
                            let active = params.iter().any(|(k, x)| k == name && *x == value);
                            let mut next: Vec<(String, String)> = params
                                .iter()
                                .filter(|(k, _)| k != "offset")
                                .cloned()
                                .collect();
                            if active {
                                next.retain(|(k, x)| !(k == name && *x == value));
                            } else {
                                next.push((name.clone(), value.clone()));
                            }
                            FacetValue {
                                label: v["label"].as_str().unwrap_or_default().to_owned(),
                                count: v["count"].as_u64().unwrap_or(0),
                                active,
                                link: link_for(&next),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            page.facets.push(FacetBlock {
                name: name.clone(),
                values,
            });
        }
    }
    if (offset + limit) < page.total as usize {
        let mut next: Vec<(String, String)> = params
            .iter()
            .filter(|(k, _)| k != "offset")
            .cloned()
            .collect();
        next.push(("offset".into(), (offset + limit).to_string()));
        page.next = Some(link_for(&next));
    }
    render(&page, &[])
}
