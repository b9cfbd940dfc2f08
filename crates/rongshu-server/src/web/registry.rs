//! Console pages of the base registries: a record looked up by ID number,
//! USCC or organisation code (shown as the sharing rules let the reader see
//! it, with each value's source), the registries' figures and, for the
//! platform office, verification on demand; the correction ticket worklist
//! with filters, answers, the sheet to download and the filled-in sheet to
//! send back; and a citizen's own record with a dispute form.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use rongshu_core::registry::Answer;
use serde_json::Value;

use super::console::{ConsoleUser, Fields, csrf_ok, csrf_refused, error_page, field};
use super::{LangQuery, Texts, choose_lang, render};
use crate::auth::citizen::MaybeCitizen;
use crate::routes::registry::{
    DisputeBody, TicketQuery, answer_one, answer_sheet, audit_ticket_read, citizen_dispute,
    filter_of, own_record, read_entity, read_person, verify_all,
};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/registry", get(registry_page))
        .route("/console/registry/verify", post(verify_now))
        .route("/console/tickets", get(tickets_page))
        .route("/console/tickets/answers", post(sheet_answers))
        .route("/console/tickets/{id}/{action}", post(answer_ticket))
        .route("/citizen/registry", get(citizen_page))
        .route("/citizen/registry/disputes", post(citizen_dispute_form))
}

/// This module's labels: key, Chinese, English.
static LABELS: &[(&str, &str, &str)] = &[
    ("registry", "基础库", "Base registries"),
    (
        "registry_intro",
        "人口库以公民身份号码为键，法人库以统一社会信用代码为键（过渡期可用组织机构代码查询）。每个值取自该数据元的权威来源，并注明来源部门、资源、批次和日期；能否看到原值按所依据资源的共享规则。",
        "The population registry is keyed by citizen ID number, the entity registry by USCC (an organisation code is accepted during the transition). Each value comes from its element's authoritative source, named with department, resource, batch and date; whether you see it plain follows the sharing rules of that resource.",
    ),
    ("lookup", "查询", "Look up"),
    (
        "lookup_key",
        "公民身份号码 / 统一社会信用代码 / 组织机构代码",
        "Citizen ID / USCC / organisation code",
    ),
    ("with_history", "含历史版本", "with past versions"),
    ("subjects", "主体数", "Subjects"),
    ("person", "人口", "Persons"),
    ("entity", "法人", "Entities"),
    ("tickets", "纠错工单", "Correction tickets"),
    ("verify_now", "全库比对校核", "Verify the whole registry"),
    ("verified", "已完成比对校核", "Verified"),
    ("element", "数据元", "Element"),
    ("value", "值", "Value"),
    ("source", "来源", "Source"),
    ("batch", "批次", "Batch"),
    ("date", "日期", "Date"),
    ("valid", "有效期", "Valid"),
    ("derived", "由编码推导", "Derived from the key"),
    ("history", "历史版本", "Past versions"),
    ("masked", "脱敏", "masked"),
    ("withheld", "未共享", "not shared"),
    ("worklist", "工单清单", "Worklist"),
    ("department", "部门", "Department"),
    ("state", "状态", "State"),
    ("age", "已开单天数≥", "Open at least (days)"),
    ("filter", "筛选", "Filter"),
    ("subject", "对象", "Subject"),
    ("kind", "问题", "Conflict"),
    ("record_value", "权威值", "Value of record"),
    ("other_values", "其他来源", "Other sources"),
    ("due", "期限", "Due"),
    ("actions", "处理", "Answer"),
    ("correct", "将更正", "Will correct"),
    ("confirm", "确认无误", "Confirm"),
    ("dispute", "有异议", "Dispute"),
    (
        "export_sheet",
        "下载待办工单表（CSV）",
        "Download the open tickets (CSV)",
    ),
    (
        "answer_sheet",
        "批量答复：在下载的表中填写 answer（correct/confirm/dispute 或 更正/确认/异议）和 note 列，粘贴到此处提交",
        "Answer in bulk: fill in the answer (correct/confirm/dispute) and note columns of the downloaded sheet and paste it here",
    ),
    ("send", "提交", "Send"),
    ("answered", "已答复", "Answered"),
    ("refused", "未受理", "Refused"),
    ("no_tickets", "没有符合条件的工单。", "No tickets match."),
    ("my_registry", "我的人口库记录", "My registry record"),
    (
        "my_registry_intro",
        "您的每一项登记信息及其来源部门。认为有误的，可提出异议，由权威来源部门核实更正。请再次输入您的公民身份号码以查看。",
        "Each value of your record and the department it comes from. If one is wrong, dispute it and the authoritative department will check it. Enter your citizen ID number again to see it.",
    ),
    (
        "all_sources",
        "各部门报送的值",
        "What each department delivered",
    ),
    ("dispute_value", "提出异议", "Dispute a value"),
    ("right_value", "正确的值", "The right value"),
    ("reason", "理由", "Reason"),
    ("disputes", "我的异议", "My disputes"),
    ("dispute_sent", "异议已提交，工单号", "Dispute sent, ticket"),
    ("show", "查看", "Show"),
];

/// Looks a label up in this module's table, then in the console's.
pub struct Labels {
    t: &'static Texts,
}

impl Labels {
    pub fn l<'a>(&self, key: &'a str) -> &'a str {
        match LABELS.iter().find(|(k, _, _)| *k == key) {
            Some((_, zh, en)) => {
                if self.t.code == "en" {
                    en
                } else {
                    zh
                }
            }
            None => self.t.l(key),
        }
    }
}

fn get_param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.trim().is_empty())
}

fn texts(params: &[(String, String)], headers: &HeaderMap) -> (&'static Texts, Option<String>) {
    let (lang, set) = choose_lang(
        &LangQuery {
            lang: get_param(params, "lang").map(str::to_owned),
        },
        headers,
    );
    (lang.texts(), set)
}

struct ValueRow {
    element: String,
    value: String,
    note: String,
    source: String,
    batch: String,
    date: String,
    valid: String,
}

fn value_rows(x: &Labels, values: Option<&Value>) -> Vec<ValueRow> {
    values
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .map(|v| {
                    let s = |k: &str| {
                        v.get(k)
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned()
                    };
                    let p = |k: &str| {
                        v["provenance"]
                            .get(k)
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned()
                    };
                    let note = if v.get("withheld").is_some() {
                        x.l("withheld").to_owned()
                    } else if v.get("masked").is_some() {
                        x.l("masked").to_owned()
                    } else {
                        String::new()
                    };
                    let valid_to = s("valid_to");
                    ValueRow {
                        element: s("element"),
                        value: s("value"),
                        note,
                        source: format!("{} · {} · {}", p("department"), p("resource"), p("row")),
                        batch: p("batch"),
                        date: p("date").chars().take(10).collect(),
                        valid: if valid_to.is_empty() {
                            format!("{} –", p("valid_from").chars().take(10).collect::<String>())
                        } else {
                            format!(
                                "{} – {}",
                                s("valid_from").chars().take(10).collect::<String>(),
                                valid_to.chars().take(10).collect::<String>()
                            )
                        },
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Template)]
#[template(path = "registry.html")]
struct RegistryPage {
    t: &'static Texts,
    x: Labels,
    csrf: String,
    is_admin: bool,
    message: String,
    error: String,
    key: String,
    history: bool,
    subjects: Vec<(String, i64)>,
    tickets: Vec<(String, i64)>,
    values: Vec<ValueRow>,
    past: Vec<ValueRow>,
    derived: Vec<(String, String)>,
}

async fn registry_page(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    user: ConsoleUser,
) -> Response {
    let (t, set) = texts(&params, &headers);
    let x = Labels { t };
    let (subjects, tickets) = match state.store.registry_counts().await {
        Ok(c) => c,
        Err(e) => return error_page(e.into()),
    };
    let key = get_param(&params, "q")
        .unwrap_or_default()
        .trim()
        .to_owned();
    let history = get_param(&params, "history").is_some();
    let (mut values, mut past, mut derived, mut error) =
        (Vec::new(), Vec::new(), Vec::new(), String::new());
    if !key.is_empty() {
        let person_like =
            key.len() == 18 && key.chars().take(17).all(|c| c.is_ascii_digit()) || key.len() == 15;
        let read = if person_like {
            read_person(&state, &user.actor, &key, history).await
        } else {
            read_entity(&state, &user.actor, &key, history).await
        };
        match read {
            Ok(body) => {
                values = value_rows(&x, body.get("values"));
                past = value_rows(&x, body.get("history"));
                if let Some(obj) = body["derived"].as_object() {
                    derived = obj
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                            )
                        })
                        .collect();
                }
            }
            Err(e) => error = e.to_string(),
        }
    }
    let message = get_param(&params, "verified")
        .map(|m| format!("{}：{m}", x.l("verified")))
        .unwrap_or_default();
    render(
        &RegistryPage {
            t,
            x,
            csrf: user.csrf,
            is_admin: user.actor.is_platform_admin(),
            message,
            error,
            key,
            history,
            subjects,
            tickets,
            values,
            past,
            derived,
        },
        set.as_slice(),
    )
}

async fn verify_now(
    State(state): State<AppState>,
    user: ConsoleUser,
    axum::Form(fields): axum::Form<Fields>,
) -> Response {
    if !csrf_ok(&user.csrf, &fields) {
        return csrf_refused();
    }
    match verify_all(&state, &user.actor).await {
        Ok(stats) => {
            let summary = format!(
                "{} subjects, {} changed, {} tickets opened, {} closed",
                stats.subjects, stats.changed, stats.tickets_opened, stats.tickets_closed
            );
            Redirect::to(&format!(
                "/console/registry?verified={}",
                urlencode(&summary)
            ))
            .into_response()
        }
        Err(e) => error_page(e),
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

struct TicketRow {
    id: i64,
    subject: String,
    element: String,
    kind: String,
    record_value: String,
    other_values: String,
    department: String,
    state: String,
    due: String,
    pending: bool,
}

#[derive(Template)]
#[template(path = "tickets.html")]
struct TicketsPage {
    t: &'static Texts,
    x: Labels,
    csrf: String,
    is_admin: bool,
    department: String,
    state: String,
    element: String,
    age: String,
    export: String,
    message: String,
    error: String,
    total: i64,
    rows: Vec<TicketRow>,
}

async fn tickets_page(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    user: ConsoleUser,
) -> Response {
    let (t, set) = texts(&params, &headers);
    let x = Labels { t };
    let q = TicketQuery {
        department: get_param(&params, "department").map(str::to_owned),
        state: get_param(&params, "state").map(str::to_owned),
        element: get_param(&params, "element").map(str::to_owned),
        age: get_param(&params, "age").and_then(|a| a.parse().ok()),
        limit: Some(200),
        offset: get_param(&params, "offset").and_then(|a| a.parse().ok()),
        format: None,
    };
    let filter = match filter_of(&user.actor, &q, state.clock.now()) {
        Ok(f) => f,
        Err(e) => return error_page(e),
    };
    let list = match state.store.tickets(&filter).await {
        Ok(l) => l,
        Err(e) => return error_page(e.into()),
    };
    if let Err(e) = audit_ticket_read(&state, &user.actor, &list.items, "console:tickets").await {
        return error_page(e);
    }
    let rows = list
        .items
        .iter()
        .map(|t| TicketRow {
            id: t.id,
            subject: format!("{}:{}", t.subject_kind, t.subject_key),
            element: t.element.clone(),
            kind: t.kind.clone(),
            record_value: t.record_value.clone(),
            other_values: t.other_values.clone(),
            department: t.department.clone(),
            state: t.state.clone(),
            due: t.due.chars().take(10).collect(),
            pending: matches!(t.state.as_str(), "open" | "correcting" | "disputed"),
        })
        .collect();
    let department = filter.department.clone().unwrap_or_default();
    let export = if department.is_empty() {
        "/api/v1/tickets/export".to_owned()
    } else {
        format!(
            "/api/v1/tickets/export?department={}",
            urlencode(&department)
        )
    };
    let message = match (
        get_param(&params, "answered"),
        get_param(&params, "refused"),
    ) {
        (Some(a), r) => format!(
            "{} {a} · {} {}",
            x.l("answered"),
            x.l("refused"),
            r.unwrap_or("0")
        ),
        _ => String::new(),
    };
    render(
        &TicketsPage {
            t,
            x,
            csrf: user.csrf,
            is_admin: user.actor.is_platform_admin(),
            department,
            state: q.state.unwrap_or_default(),
            element: q.element.unwrap_or_default(),
            age: q.age.map(|a| a.to_string()).unwrap_or_default(),
            export,
            message,
            error: get_param(&params, "error").unwrap_or_default().to_owned(),
            total: list.total,
            rows,
        },
        set.as_slice(),
    )
}

async fn answer_ticket(
    State(state): State<AppState>,
    Path((id, action)): Path<(i64, String)>,
    user: ConsoleUser,
    axum::Form(fields): axum::Form<Fields>,
) -> Response {
    if !csrf_ok(&user.csrf, &fields) {
        return csrf_refused();
    }
    let Some(answer) = Answer::parse(&action) else {
        return error_page(crate::error::ApiError::NotFound(format!(
            "no ticket action \"{action}\""
        )));
    };
    let note = Some(field(&fields, "note")).filter(|n| !n.trim().is_empty());
    match answer_one(&state, &user.actor, id, answer, note).await {
        Ok(_) => Redirect::to("/console/tickets").into_response(),
        Err(e) => Redirect::to(&format!(
            "/console/tickets?error={}",
            urlencode(&e.to_string())
        ))
        .into_response(),
    }
}

async fn sheet_answers(
    State(state): State<AppState>,
    user: ConsoleUser,
    axum::Form(fields): axum::Form<Fields>,
) -> Response {
    if !csrf_ok(&user.csrf, &fields) {
        return csrf_refused();
    }
    match answer_sheet(&state, &user.actor, field(&fields, "sheet")).await {
        Ok(v) => Redirect::to(&format!(
            "/console/tickets?answered={}&refused={}",
            v["answered"], v["refused"]
        ))
        .into_response(),
        Err(e) => Redirect::to(&format!(
            "/console/tickets?error={}",
            urlencode(&e.to_string())
        ))
        .into_response(),
    }
}

struct SourceRow {
    element: String,
    value: String,
    department: String,
    resource: String,
    batch: String,
    date: String,
}

#[derive(Template)]
#[template(path = "citizen_registry.html")]
struct CitizenPage {
    t: &'static Texts,
    x: Labels,
    csrf: String,
    id_number: String,
    error: String,
    message: String,
    values: Vec<SourceRow>,
    sources: Vec<SourceRow>,
    disputes: Vec<(i64, String, String, String)>,
}

fn source_rows(v: Option<&Value>) -> Vec<SourceRow> {
    v.and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .map(|v| {
                    let s = |k: &str| {
                        v.get(k)
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned()
                    };
                    SourceRow {
                        element: s("element"),
                        value: s("value"),
                        department: s("department"),
                        resource: s("resource"),
                        batch: s("batch"),
                        date: s("date").chars().take(10).collect(),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn citizen_page(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    MaybeCitizen(citizen): MaybeCitizen,
) -> Response {
    let Some(citizen) = citizen else {
        return Redirect::to("/citizen").into_response();
    };
    let (t, set) = texts(&params, &headers);
    let x = Labels { t };
    let id_number = get_param(&params, "id_number")
        .unwrap_or_default()
        .trim()
        .to_owned();
    let (mut values, mut sources, mut disputes, mut error) =
        (Vec::new(), Vec::new(), Vec::new(), String::new());
    if !id_number.is_empty() {
        match own_record(&state, &citizen, &id_number).await {
            Ok(body) => {
                values = source_rows(body.get("values"));
                sources = source_rows(body.get("sources"));
                disputes = body["tickets"]
                    .as_array()
                    .map(|ts| {
                        ts.iter()
                            .map(|t| {
                                let s = |k: &str| {
                                    t.get(k)
                                        .and_then(Value::as_str)
                                        .unwrap_or_default()
                                        .to_owned()
                                };
                                (
                                    t["id"].as_i64().unwrap_or_default(),
                                    s("element"),
                                    s("state"),
                                    s("due").chars().take(10).collect(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
            }
            Err(e) => error = e.to_string(),
        }
    }
    let message = get_param(&params, "ticket")
        .map(|id| format!("{} #{id}", x.l("dispute_sent")))
        .unwrap_or_default();
    render(
        &CitizenPage {
            t,
            x,
            csrf: citizen.csrf,
            id_number,
            error,
            message,
            values,
            sources,
            disputes,
        },
        set.as_slice(),
    )
}

async fn citizen_dispute_form(
    State(state): State<AppState>,
    MaybeCitizen(citizen): MaybeCitizen,
    axum::Form(fields): axum::Form<Fields>,
) -> Response {
    let Some(citizen) = citizen else {
        return Redirect::to("/citizen").into_response();
    };
    if field(&fields, "csrf") != citizen.csrf {
        return csrf_refused();
    }
    let body = DisputeBody {
        id_number: field(&fields, "id_number").to_owned(),
        element: field(&fields, "element").to_owned(),
        value: field(&fields, "value").to_owned(),
        reason: field(&fields, "reason").to_owned(),
    };
    let id = urlencode(&body.id_number);
    match citizen_dispute(&state, &citizen, &body).await {
        Ok(v) => Redirect::to(&format!(
            "/citizen/registry?id_number={id}&ticket={}",
            v["id"]
        ))
        .into_response(),
        Err(e) => e.into_response(),
    }
}
