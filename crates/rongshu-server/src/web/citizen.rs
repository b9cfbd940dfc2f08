//! The citizen's pages: sign in with an ID number and a code sent to the
//! registered phone (in the demo the code is shown on the page), then the
//! table of every read of one's data. Plain forms, no JavaScript; the forms
//! before sign-in carry a double-submit CSRF token, the sign-out form the
//! session's.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::{DateTime, FixedOffset};
use serde::Deserialize;

use super::console::{Fields, csrf_refused, field};
use super::{LangQuery, Texts, choose_lang, cookie, render};
use crate::access::Reader;
use crate::auth::citizen::MaybeCitizen;
use crate::auth::token;
use crate::citizen::access_log::{AccessLogEntry, DEFAULT_LIMIT, read_own_log};
use crate::citizen::sign_in::{CLEAR_COOKIE, SignInError, ask_for_code, sign_in, sign_out};
use crate::state::AppState;

/// The double-submit cookie of the forms shown before sign-in.
const FORM_COOKIE: &str = "rongshu_citizen_form";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/citizen", get(sign_in_page))
        // A language switch on a form's answer is a GET of its address.
        .route("/citizen/otp", get(back_to_sign_in).post(ask))
        .route("/citizen/login", get(back_to_sign_in).post(log_in))
        .route("/citizen/access-log", get(log_page))
        .route("/citizen/logout", get(back_to_sign_in).post(log_out))
}

#[derive(Template)]
#[template(path = "citizen_sign_in.html")]
struct SignInPage<'a> {
    t: &'static Texts,
    csrf: String,
    error: &'a str,
    /// Set once a code was asked for: the second step.
    pending_id: Option<String>,
    demo_code: Option<String>,
}

/// One read, in the page's words.
struct LogRow {
    at: String,
    department: String,
    who: String,
    resource: String,
    items: String,
    grant: String,
    operation: &'static str,
}

#[derive(Template)]
#[template(path = "citizen_access_log.html")]
struct LogPage {
    t: &'static Texts,
    csrf: String,
    rows: Vec<LogRow>,
    next_before: Option<i64>,
}

fn sign_in_response(
    t: &'static Texts,
    status: StatusCode,
    error: &str,
    pending_id: Option<String>,
    demo_code: Option<String>,
    mut cookies: Vec<String>,
) -> Response {
    let csrf = token::random_secret();
    cookies.push(format!(
        "{FORM_COOKIE}={csrf}; Path=/citizen; HttpOnly; SameSite=Strict; Max-Age=3600"
    ));
    let page = SignInPage {
        t,
        csrf,
        error,
        pending_id,
        demo_code,
    };
    let mut response = render(&page, &cookies);
    *response.status_mut() = status;
    response
}

async fn sign_in_page(
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    MaybeCitizen(citizen): MaybeCitizen,
) -> Response {
    let (lang, set_lang) = choose_lang(&q, &headers);
    if citizen.is_some() {
        return Redirect::to("/citizen/access-log").into_response();
    }
    sign_in_response(
        lang.texts(),
        StatusCode::OK,
        "",
        None,
        None,
        set_lang.into_iter().collect(),
    )
}

async fn back_to_sign_in(Query(q): Query<LangQuery>, headers: HeaderMap) -> Response {
    let (_, set_lang) = choose_lang(&q, &headers);
    let mut response = Redirect::to("/citizen").into_response();
    if let Some(c) = set_lang.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().append(SET_COOKIE, c);
    }
    response
}

/// The form's token must be the one its cookie carries.
fn form_ok(headers: &HeaderMap, fields: &Fields) -> bool {
    let sent = field(fields, "csrf");
    !sent.is_empty() && cookie(headers, FORM_COOKIE) == Some(sent)
}

/// A refusal in the page's words, and its status.
fn refusal(t: &'static Texts, e: &SignInError) -> (StatusCode, &'static str) {
    match e {
        SignInError::BadId(_) => (StatusCode::BAD_REQUEST, t.l("bad_id")),
        SignInError::BadCode => (StatusCode::BAD_REQUEST, t.l("bad_code")),
        SignInError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, t.l("citizen_unavailable")),
        SignInError::Throttled(_) => (StatusCode::TOO_MANY_REQUESTS, t.l("code_throttled")),
        SignInError::WrongCode => (StatusCode::UNAUTHORIZED, t.l("wrong_code")),
        SignInError::CodeSpent => (StatusCode::TOO_MANY_REQUESTS, t.l("code_spent")),
        SignInError::Api(_) => (StatusCode::INTERNAL_SERVER_ERROR, ""),
    }
}

async fn ask(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(fields): axum::Form<Fields>,
) -> Response {
    let t = choose_lang(&LangQuery { lang: None }, &headers).0.texts();
    if !form_ok(&headers, &fields) {
        return csrf_refused();
    }
    let id = field(&fields, "id_number").trim().to_owned();
    match ask_for_code(&state, &id).await {
        Ok(asked) => sign_in_response(
            t,
            StatusCode::OK,
            "",
            Some(id),
            asked.shown.map(|c| c.as_str().to_owned()),
            Vec::new(),
        ),
        Err(SignInError::Api(e)) => e.into_response(),
        // Asked too often: the code sent before may still be good.
        Err(e @ SignInError::Throttled(_)) => {
            let (status, message) = refusal(t, &e);
            sign_in_response(t, status, message, Some(id), None, Vec::new())
        }
        Err(e) => {
            let (status, message) = refusal(t, &e);
            sign_in_response(t, status, message, None, None, Vec::new())
        }
    }
}

async fn log_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(fields): axum::Form<Fields>,
) -> Response {
    let t = choose_lang(&LangQuery { lang: None }, &headers).0.texts();
    if !form_ok(&headers, &fields) {
        return csrf_refused();
    }
    let id = field(&fields, "id_number").trim().to_owned();
    match sign_in(&state, &id, field(&fields, "code")).await {
        Ok(signed_in) => {
            let mut response = Redirect::to("/citizen/access-log").into_response();
            if let Ok(v) = HeaderValue::from_str(&signed_in.cookie(&state)) {
                response.headers_mut().append(SET_COOKIE, v);
            }
            response
        }
        Err(SignInError::Api(e)) => e.into_response(),
        Err(e @ SignInError::BadId(_)) => {
            let (status, message) = refusal(t, &e);
            sign_in_response(t, status, message, None, None, Vec::new())
        }
        Err(e) => {
            let (status, message) = refusal(t, &e);
            sign_in_response(t, status, message, Some(id), None, Vec::new())
        }
    }
}

#[derive(Deserialize)]
struct LogQuery {
    lang: Option<String>,
    before: Option<i64>,
}

/// Beijing time, as the page says.
fn local_time(at: &str) -> String {
    let beijing = FixedOffset::east_opt(8 * 3600);
    match (DateTime::parse_from_rfc3339(at), beijing) {
        (Ok(t), Some(zone)) => t
            .with_timezone(&zone)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        _ => at.to_owned(),
    }
}

fn row(t: &'static Texts, e: AccessLogEntry) -> LogRow {
    let en = t.code == "en";
    let named = |n: Option<crate::citizen::access_log::Named>| match n {
        Some(n) => match n.name {
            Some(name) if en => format!("{name} ({})", n.code),
            Some(name) => format!("{name}（{}）", n.code),
            None => n.code,
        },
        None => "—".to_owned(),
    };
    let who = match (&e.application, &e.user, e.subscription) {
        (Some(app), _, _) => format!("{}{app}", t.l("via_application")),
        (None, Some(user), _) => format!("{}{user}", t.l("via_user")),
        (None, None, Some(id)) => format!("{}{id}", t.l("via_subscription")),
        _ => "—".to_owned(),
    };
    let separator = if en { ", " } else { "、" };
    let items: Vec<String> = e
        .items
        .iter()
        .map(|i| {
            let name = i.name.clone().unwrap_or_else(|| i.code.clone());
            if e.masked.contains(&i.code) {
                format!("{name}{}", t.l("masked_mark"))
            } else {
                name
            }
        })
        .collect();
    let grant = match (e.grant, e.purpose) {
        (Some(id), Some(p)) => format!("{}{id} · {}", t.l("grant_no"), t.l(p.as_str())),
        (Some(id), None) => format!("{}{id}", t.l("grant_no")),
        (None, Some(p)) => t.l(p.as_str()).to_owned(),
        (None, None) => match e.reader {
            Some(Reader::Provider) => t.l("own_data").to_owned(),
            Some(Reader::Consumer) => t.l("no_grant_needed").to_owned(),
            Some(Reader::Public) | None => "—".to_owned(),
        },
    };
    LogRow {
        at: local_time(&e.at),
        department: named(e.department),
        who,
        resource: named(e.resource),
        items: if items.is_empty() {
            "—".to_owned()
        } else {
            items.join(separator)
        },
        grant,
        operation: t.l(e.operation.label_key()),
    }
}

async fn log_page(
    State(state): State<AppState>,
    Query(q): Query<LogQuery>,
    headers: HeaderMap,
    MaybeCitizen(citizen): MaybeCitizen,
) -> Response {
    let (lang, set_lang) = choose_lang(&LangQuery { lang: q.lang }, &headers);
    let Some(citizen) = citizen else {
        return Redirect::to("/citizen").into_response();
    };
    let t = lang.texts();
    match read_own_log(&state, &citizen.person, q.before, DEFAULT_LIMIT).await {
        Ok(page) => render(
            &LogPage {
                t,
                csrf: citizen.csrf,
                rows: page.entries.into_iter().map(|e| row(t, e)).collect(),
                next_before: page.next_before,
            },
            set_lang.as_slice(),
        ),
        Err(e) => e.into_response(),
    }
}

async fn log_out(
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
    if let Err(e) = sign_out(&state, &citizen.session_id, &citizen.person).await {
        return e.into_response();
    }
    let mut response = Redirect::to("/citizen").into_response();
    response
        .headers_mut()
        .append(SET_COOKIE, HeaderValue::from_static(CLEAR_COOKIE));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::citizen::access_log::{Named, Operation};
    use crate::web::Lang;
    use rongshu_core::sharing::Purpose;

    fn entry() -> AccessLogEntry {
        AccessLogEntry {
            seq: 3,
            at: "2026-03-02T09:00:00.000000Z".into(),
            operation: Operation::Query,
            department: Some(Named {
                code: "rsj".into(),
                name: Some("人社局".into()),
            }),
            application: Some("社保核验".into()),
            user: None,
            subscription: None,
            resource: Some(Named {
                code: "101001-00001".into(),
                name: Some("人口基础信息".into()),
            }),
            items: vec![
                Named {
                    code: "id_number".into(),
                    name: Some("公民身份号码".into()),
                },
                Named {
                    code: "district".into(),
                    name: Some("区县".into()),
                },
            ],
            masked: vec!["id_number".into()],
            grant: Some(7),
            purpose: Some(Purpose::DataVerification),
            reader: Some(Reader::Consumer),
        }
    }

    #[test]
    fn a_read_is_told_in_the_readers_language_and_beijing_time() {
        let zh = row(Lang::Zh.texts(), entry());
        assert_eq!(zh.at, "2026-03-02 17:00:00");
        assert_eq!(zh.department, "人社局（rsj）");
        assert_eq!(zh.who, "应用：社保核验");
        assert_eq!(zh.items, "公民身份号码（脱敏）、区县");
        assert_eq!(zh.grant, "授权 #7 · 数据校核");
        assert_eq!(zh.operation, "组合查询");
        let en = row(Lang::En.texts(), entry());
        assert_eq!(en.items, "公民身份号码 (masked), 区县");
        assert_eq!(en.grant, "Grant #7 · data verification");
        assert_eq!(en.operation, "query");
        let unconditional = AccessLogEntry {
            grant: None,
            purpose: None,
            ..entry()
        };
        assert_eq!(
            row(Lang::Zh.texts(), unconditional).grant,
            "无条件共享，无需授权"
        );
        let own = AccessLogEntry {
            grant: None,
            purpose: None,
            reader: Some(Reader::Provider),
            ..entry()
        };
        assert_eq!(row(Lang::En.texts(), own).grant, "the provider's own data");
    }
}
