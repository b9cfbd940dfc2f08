//! `/api/v1/registry` and `/api/v1/tickets`: registry records with their
//! sources, verification on demand, the correction tickets' worklists and
//! answers, and a citizen's own record and disputes.

use std::collections::{BTreeSet, HashMap};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rongshu_core::account::Role;
use rongshu_core::audit::AuditEntry;
use rongshu_core::ident::{CitizenId, OrgCode, Uscc};
use rongshu_core::people::PersonHash;
use rongshu_core::registry::{Answer, Answerer, SubjectKind, entity_facts, person_facts};
use rongshu_store::{Answering, NewDispute, Resource, Ticket, TicketFilter};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::{self, Disclosure};
use crate::auth::Actor;
use crate::auth::citizen::Citizen;
use crate::disclosure::mask_text;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::people::person_key;
use crate::registry::DUE_WORKING_DAYS;
use crate::routes::admin::doer;
use crate::state::AppState;

/// `POST /api/v1/registry/verify`: build both registries and verify everything.
/// Build both registries and verify every witnessed value (platform office).
#[utoipa::path(post, path = "/api/v1/registry/verify", tag = "registry",
    responses((status = 200, description = "`{stats, seconds}`: subjects, changed, golden values written, tickets opened and closed"),
              (status = 403, description = "Not the platform office")))]
pub async fn verify(State(state): State<AppState>, actor: Actor) -> Result<Json<Value>, ApiError> {
    let started = std::time::Instant::now();
    let stats = verify_all(&state, &actor).await?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(Json(json!({ "stats": stats, "seconds": seconds })))
}

/// Verify the whole registry for the platform office, audited.
pub(crate) async fn verify_all(
    state: &AppState,
    actor: &Actor,
) -> Result<rongshu_store::VerifyStats, ApiError> {
    actor.require_any_role(&[Role::PlatformAdmin], "verifying the whole registry")?;
    let now = state.clock.now();
    let stats = state
        .store
        .verify_registry(now, state.store.registry_run(DUE_WORKING_DAYS))
        .await?;
    let record = doer(actor).record(now, "registry.verify", None, json!({ "stats": stats }));
    state.audit.record(record).await?;
    Ok(stats)
}

#[derive(Deserialize, Default)]
pub struct RecordQuery {
    history: Option<bool>,
}

/// How a value from `resource`'s `item` leaves for this caller.
struct Shown {
    cache: HashMap<String, Option<(Resource, access::ReadAccess)>>,
}

impl Shown {
    async fn value(
        &mut self,
        state: &AppState,
        actor: &Actor,
        resource: &str,
        item: Option<&str>,
        element: &str,
        value: &str,
    ) -> Result<Value, ApiError> {
        if !self.cache.contains_key(resource) {
            let decided = match state.store.resource(resource).await {
                Ok(r) => access::decide(state, actor, &r).await.ok().map(|a| (r, a)),
                Err(_) => None,
            };
            self.cache.insert(resource.to_owned(), decided);
        }
        let Some((r, access)) = self.cache.get(resource).and_then(Option::as_ref) else {
            return Ok(json!({ "withheld": "the source resource is not shared with you" }));
        };
        let item = item.map(str::to_owned).or_else(|| {
            r.spec
                .items
                .iter()
                .find(|i| i.element.as_ref().is_some_and(|e| e.as_str() == element))
                .map(|i| i.key.to_string())
        });
        let Some(item) = item.and_then(|k| r.spec.item(&k)) else {
            return Ok(json!({ "withheld": "no item carries this element" }));
        };
        Ok(match access.disclosure(item.key.as_str()) {
            Disclosure::Plain => json!({ "value": value }),
            Disclosure::Masked => json!({ "value": mask_text(item.kind, value), "masked": true }),
            Disclosure::Hidden => json!({ "withheld": "this item is not shared with you" }),
        })
    }
}

async fn record_json(
    state: &AppState,
    actor: &Actor,
    kind: SubjectKind,
    key: &str,
    history: bool,
) -> Result<Value, ApiError> {
    let values = state.store.registry_values(kind, key).await?;
    if values.is_empty() && !state.store.registry_knows(kind, key).await? {
        return Err(ApiError::NotFound(format!(
            "the {} registry has no record of {key}",
            kind.as_str()
        )));
    }
    let mut shown = Shown {
        cache: HashMap::new(),
    };
    let mut out = Vec::new();
    for v in &values {
        let mut entry = shown
            .value(
                state,
                actor,
                &v.resource,
                v.item.as_deref(),
                &v.element,
                &v.value,
            )
            .await?;
        if let Some(obj) = entry.as_object_mut() {
            obj.insert("element".into(), json!(v.element));
            obj.insert(
                "provenance".into(),
                json!({ "department": v.department, "resource": v.resource, "item": v.item,
                        "row": v.row_key, "batch": v.batch, "date": v.date, "valid_from": v.valid_from }),
            );
        }
        out.push(entry);
    }
    let mut body = json!({ "kind": kind.as_str(), "key": key, "values": out });
    if history {
        let mut past = Vec::new();
        for v in state.store.registry_history(kind, key).await? {
            let mut entry = shown
                .value(state, actor, &v.resource, None, &v.element, &v.value)
                .await?;
            if let Some(obj) = entry.as_object_mut() {
                obj.insert("element".into(), json!(v.element));
                obj.insert(
                    "provenance".into(),
                    json!({ "department": v.department, "resource": v.resource, "row": v.row_key,
                            "batch": v.batch, "date": v.date }),
                );
                obj.insert("valid_from".into(), json!(v.valid_from));
                obj.insert("valid_to".into(), json!(v.valid_to));
            }
            past.push(entry);
        }
        body["history"] = Value::Array(past);
    }
    Ok(body)
}

/// `GET /api/v1/registry/persons/{id}`.
#[utoipa::path(get, path = "/api/v1/registry/persons/{id}", tag = "registry",
    params(("id" = String, Path, description = "Citizen ID number"),
           ("history" = Option<bool>, Query, description = "Include past versions with their periods")),
    responses((status = 200, description = "Golden values with provenance, masked per the source resources' sharing rules; derived facts"),
              (status = 400, description = "Not a valid ID number, and why"),
              (status = 404, description = "Not in the registry")))]
pub async fn person(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<RecordQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        read_person(&state, &actor, &id, q.history.unwrap_or(false)).await?,
    ))
}

/// A person's registry record as `actor` may see it, the read audited.
pub(crate) async fn read_person(
    state: &AppState,
    actor: &Actor,
    raw: &str,
    history: bool,
) -> Result<Value, ApiError> {
    let now = state.clock.now();
    let id = CitizenId::parse(raw)
        .map_err(|e| ApiError::BadRequest(format!("not a valid citizen ID number: {e}")))?;
    let mut body = record_json(state, actor, SubjectKind::Person, id.as_str(), history).await?;
    body["derived"] = json!(person_facts(&id, now.date_naive()));
    let people = vec![person_key(state).await?.of(&id)];
    let mut record = doer(actor).record(
        now,
        "registry.read",
        Some(format!("person:{}", people[0].as_str())),
        json!({ "registry": "person", "history": history }),
    );
    record.rows = Some(1);
    state.audit.record(AuditEntry::new(record, people)).await?;
    Ok(body)
}

/// `GET /api/v1/registry/entities/{code}`: a USCC, or during the transition
/// an organisation code, mapped to the USCC that embeds it.
#[utoipa::path(get, path = "/api/v1/registry/entities/{code}", tag = "registry",
    params(("code" = String, Path, description = "USCC, or an organisation code during the transition"),
           ("history" = Option<bool>, Query, description = "Include past versions with their periods")),
    responses((status = 200, description = "Golden values with provenance; entity type and registering authority"),
              (status = 400, description = "Not a valid code, and why"),
              (status = 404, description = "Not in the registry")))]
pub async fn entity(
    State(state): State<AppState>,
    actor: Actor,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<RecordQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        read_entity(&state, &actor, &code, q.history.unwrap_or(false)).await?,
    ))
}

/// An entity's registry record as `actor` may see it, the read audited.
pub(crate) async fn read_entity(
    state: &AppState,
    actor: &Actor,
    code: &str,
    history: bool,
) -> Result<Value, ApiError> {
    let now = state.clock.now();
    let compact: String = code.chars().filter(|c| *c != '-').collect();
    let uscc = if compact.len() == 9 {
        let org = OrgCode::parse(&compact)
            .map_err(|e| ApiError::BadRequest(format!("not a valid organisation code: {e}")))?;
        let found = state
            .store
            .entity_by_org_code(org.compact())
            .await?
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "no registered entity's USCC embeds the organisation code {}",
                    org.compact()
                ))
            })?;
        Uscc::parse_allowing_legacy(&found).map_err(|e| ApiError::internal_msg(e.to_string()))?
    } else {
        Uscc::parse_allowing_legacy(code).map_err(|e| {
            ApiError::BadRequest(format!("not a valid unified social credit code: {e}"))
        })?
    };
    let mut body = record_json(state, actor, SubjectKind::Entity, uscc.as_str(), history).await?;
    body["derived"] = json!(entity_facts(&uscc));
    // The legal representative is a person this read touches.
    let key = person_key(state).await?;
    let people: Vec<PersonHash> = state
        .store
        .registry_values(SubjectKind::Entity, uscc.as_str())
        .await?
        .iter()
        .filter(|v| v.element == "entity.legal_representative_id")
        .filter_map(|v| key.of_stored(&v.value))
        .collect();
    let mut record = doer(actor).record(
        now,
        "registry.read",
        Some(format!("entity:{}", uscc.as_str())),
        json!({ "registry": "entity", "history": history }),
    );
    record.rows = Some(1);
    state.audit.record(AuditEntry::new(record, people)).await?;
    Ok(body)
}

#[derive(Deserialize, Default)]
pub struct TicketQuery {
    pub(crate) department: Option<String>,
    pub(crate) state: Option<String>,
    pub(crate) element: Option<String>,
    /// Opened at least this many days ago.
    pub(crate) age: Option<i64>,
    pub(crate) limit: Option<i64>,
    pub(crate) offset: Option<i64>,
    /// For the export: `csv` (the default) or `xlsx`.
    #[serde(default)]
    pub(crate) format: Option<String>,
}

pub(crate) fn ticket_json(t: &Ticket) -> Value {
    json!({
        "id": t.id,
        "subject": { "kind": t.subject_kind, "key": t.subject_key },
        "element": t.element,
        "kind": t.kind,
        "evidence": t.evidence,
        "department": t.department,
        "state": t.state,
        "due": t.due,
        "outcome": t.outcome,
        "note": t.note,
        "answered_by": t.answered_by,
        "created_at": t.created_at,
        "closed_at": t.closed_at,
    })
}

/// Whether the caller's department is one a ticket concerns: the one it is
/// at, or one whose value is in its evidence.
fn concerns(actor: &Actor, t: &Ticket) -> bool {
    let mine = actor.department().code.as_str();
    t.department == mine
        || t.evidence.as_array().is_some_and(|e| {
            e.iter()
                .any(|x| x.get("department").and_then(Value::as_str) == Some(mine))
        })
}

pub(crate) async fn audit_ticket_read(
    state: &AppState,
    actor: &Actor,
    tickets: &[Ticket],
    what: &str,
) -> Result<(), ApiError> {
    let key = person_key(state).await?;
    let mut people: BTreeSet<PersonHash> = BTreeSet::new();
    for t in tickets {
        if t.subject_kind == "person"
            && let Some(p) = key.of_stored(&t.subject_key)
        {
            people.insert(p);
        }
    }
    let mut record = doer(actor).record(
        state.clock.now(),
        "tickets.read",
        Some(what.to_owned()),
        json!({ "tickets": tickets.iter().map(|t| t.id).collect::<Vec<_>>() }),
    );
    record.rows = Some(tickets.len() as i64);
    state
        .audit
        .record(AuditEntry::new(record, people.into_iter().collect()))
        .await?;
    Ok(())
}

pub(crate) fn filter_of(
    actor: &Actor,
    q: &TicketQuery,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<TicketFilter, ApiError> {
    let mine = actor.department().code.clone();
    let department = match (&q.department, actor.is_platform_admin()) {
        (d, true) => d.clone(),
        (Some(d), false) if *d != mine => {
            return Err(ApiError::Forbidden(format!(
                "a department sees its own worklist; ask for department={mine}"
            )));
        }
        (_, false) => Some(mine),
    };
    if let Some(s) = &q.state
        && rongshu_core::registry::TicketState::parse(s).is_none()
    {
        return Err(ApiError::BadRequest(format!(
            "state: one of open, correcting, disputed, corrected, confirmed, not \"{s}\""
        )));
    }
    Ok(TicketFilter {
        department,
        state: q.state.clone(),
        element: q.element.clone(),
        older_than_days: q.age,
        subject: None,
        now: Some(now),
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
        offset: q.offset.unwrap_or(0).max(0),
    })
}

/// `GET /api/v1/tickets`: the platform office sees all; a department its own worklist.
#[utoipa::path(get, path = "/api/v1/tickets", tag = "registry",
    params(("department" = Option<String>, Query, description = "The office may ask for any; a department sees its own"),
           ("state" = Option<String>, Query, description = "open, correcting, disputed, corrected, confirmed"),
           ("element" = Option<String>, Query, description = "Data element code"),
           ("age" = Option<i64>, Query, description = "Opened at least this many days ago"),
           ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, description = "`{items: [{id, subject: {kind, key}, element, evidence, department, state, due, …}], total}`"),
              (status = 403, description = "Another department's worklist")))]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(q): ApiQuery<TicketQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = filter_of(&actor, &q, state.clock.now())?;
    let list = state.store.tickets(&filter).await?;
    audit_ticket_read(&state, &actor, &list.items, "tickets").await?;
    Ok(Json(json!({
        "items": list.items.iter().map(ticket_json).collect::<Vec<_>>(),
        "total": list.total,
    })))
}

async fn readable_ticket(state: &AppState, actor: &Actor, id: i64) -> Result<Ticket, ApiError> {
    let t = state.store.ticket(id).await?;
    if !actor.is_platform_admin() && !concerns(actor, &t) {
        return Err(ApiError::Forbidden(format!(
            "ticket {id} does not concern {}",
            actor.department().name
        )));
    }
    Ok(t)
}

/// `GET /api/v1/tickets/figures`: per department, tickets by state, overdue
/// and the mean days to close; the office sees every department, a
/// department its own. No subject is shown.
#[utoipa::path(get, path = "/api/v1/tickets/figures", tag = "registry",
    responses((status = 200, description = "Per department: tickets by state, overdue, mean days to close")))]
pub async fn figures(State(state): State<AppState>, actor: Actor) -> Result<Json<Value>, ApiError> {
    let mut all = state.store.ticket_figures(state.clock.now()).await?;
    if !actor.is_platform_admin() {
        let mine = actor.department().code.clone();
        all.retain(|f| f["department"] == mine.as_str());
    }
    Ok(Json(json!({ "departments": all })))
}

/// `GET /api/v1/tickets/{id}`.
#[utoipa::path(get, path = "/api/v1/tickets/{id}", tag = "registry",
    params(("id" = i64, Path)),
    responses((status = 200, description = "The ticket with its subject and evidence in plain (audited)"),
              (status = 403, description = "The ticket does not concern the caller's department")))]
pub async fn show(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let t = readable_ticket(&state, &actor, id).await?;
    audit_ticket_read(
        &state,
        &actor,
        std::slice::from_ref(&t),
        &format!("ticket:{id}"),
    )
    .await?;
    Ok(Json(ticket_json(&t)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    note: Option<String>,
}

/// `POST /api/v1/tickets/{id}/{correct|confirm|dispute}`.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/{action}", tag = "registry",
    params(("id" = i64, Path), ("action" = String, Path, description = "correct, confirm or dispute")),
    responses((status = 200, description = "The ticket after the answer; `opened`: tickets sent to witnesses on confirmation"),
              (status = 403, description = "The ticket is at another department"),
              (status = 409, description = "The ticket's state does not take that answer")))]
pub async fn answer(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, action)): Path<(i64, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: Option<AnswerBody> = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(serde_json::from_slice(&body).map_err(|e| {
            ApiError::BadRequest(format!("send {{\"note\": \"…\"}} or nothing: {e}"))
        })?)
    };
    let answer = match action.as_str() {
        "correct" | "confirm" | "dispute" => Answer::parse(&action),
        _ => None,
    }
    .ok_or_else(|| {
        ApiError::NotFound(format!(
            "no ticket action \"{action}\"; use correct, confirm or dispute"
        ))
    })?;
    let note = body.and_then(|b| b.note);
    let (t, opened) = answer_one(&state, &actor, id, answer, note.as_deref()).await?;
    let mut out = ticket_json(&t);
    out["opened"] = json!(opened);
    Ok(Json(out))
}

pub(crate) async fn answer_one(
    state: &AppState,
    actor: &Actor,
    id: i64,
    answer: Answer,
    note: Option<&str>,
) -> Result<(Ticket, Vec<i64>), ApiError> {
    let t = state.store.ticket(id).await?;
    let by = if t.department == actor.department().code && t.state != "disputed" {
        Answerer::Department
    } else if actor.is_platform_admin() {
        Answerer::Office
    } else if t.department == actor.department().code {
        Answerer::Department
    } else {
        return Err(ApiError::Forbidden(format!(
            "ticket {id} is at {}, not at your department",
            t.department
        )));
    };
    let now = state.clock.now();
    let audit = doer(actor).record(
        now,
        "ticket.answer",
        Some(format!("ticket:{id}")),
        json!({ "answer": answer.as_str(), "note": note }),
    );
    let (t, opened) = state
        .store
        .answer_ticket(
            id,
            Answering {
                by,
                answer,
                actor: &actor.label(),
                note,
                audit,
            },
            now,
            DUE_WORKING_DAYS,
        )
        .await?;
    Ok((t, opened))
}

/// `GET /api/v1/tickets/export`: a department's open tickets as CSV, with
/// empty `answer` and `note` columns to fill in and send back.
#[utoipa::path(get, path = "/api/v1/tickets/export", tag = "registry",
    params(("department" = Option<String>, Query), ("state" = Option<String>, Query), ("element" = Option<String>, Query),
           ("format" = Option<String>, Query, description = "csv (default) or xlsx")),
    responses((status = 200, description = "The open worklist as CSV or XLSX, with empty answer and note columns")))]
pub async fn export(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(q): ApiQuery<TicketQuery>,
) -> Result<Response, ApiError> {
    let mut filter = filter_of(&actor, &q, state.clock.now())?;
    filter.limit = 1_000_000;
    let mut rows = Vec::new();
    for s in ["open", "correcting"] {
        if q.state.as_deref().is_some_and(|w| w != s) {
            continue;
        }
        filter.state = Some(s.into());
        rows.extend(state.store.tickets(&filter).await?.items);
    }
    rows.sort_by_key(|t| t.id);
    audit_ticket_read(&state, &actor, &rows, "tickets:export").await?;
    let cells = |t: &Ticket| {
        [
            t.id.to_string(),
            t.subject_kind.clone(),
            t.subject_key.clone(),
            t.element.clone(),
            t.kind.clone(),
            t.record_value.clone(),
            t.other_values.clone(),
            t.due.clone(),
            String::new(),
            String::new(),
        ]
    };
    let columns = rongshu_core::registry::ticket::SHEET_COLUMNS;
    if q.format.as_deref() == Some("xlsx") {
        let xlsx = |e: rongshu_ingest::table_sheet::TableSheetError| ApiError::internal(e);
        let mut sheet =
            rongshu_ingest::table_sheet::TableSheet::new("tickets", &columns).map_err(xlsx)?;
        for t in &rows {
            let row = cells(t);
            let refs: Vec<&str> = row.iter().map(String::as_str).collect();
            if !sheet.push(&refs).map_err(xlsx)? {
                break;
            }
        }
        let bytes = sheet.finish().map_err(xlsx)?;
        return Ok((
            [
                (
                    header::CONTENT_TYPE,
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                ),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"tickets.xlsx\"",
                ),
            ],
            bytes,
        )
            .into_response());
    }
    if let Some(f) = q.format.as_deref().filter(|f| *f != "csv") {
        return Err(ApiError::BadRequest(format!(
            "format: csv or xlsx, not \"{f}\""
        )));
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let io = |e: csv::Error| ApiError::internal(e);
    w.write_record(columns).map_err(io)?;
    for t in &rows {
        w.write_record(cells(t)).map_err(io)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| ApiError::internal_msg(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"tickets.csv\"",
            ),
        ],
        bytes,
    )
        .into_response())
}

/// `POST /api/v1/tickets/answers`: the exported sheet (CSV, or the XLSX
/// workbook) sent back with `answer` (correct, confirm, dispute; 更正, 确认,
/// 异议) and `note` filled in. Rows with no answer are skipped; each row's
/// result is reported.
#[utoipa::path(post, path = "/api/v1/tickets/answers", tag = "registry",
    request_body(content = String, content_type = "text/csv", description = "The exported sheet with answer and note filled in, as CSV or XLSX"),
    responses((status = 200, description = "`{answered, refused, results: [{line, ticket, state|error}]}`"),
              (status = 400, description = "Not UTF-8 CSV nor an XLSX workbook, or no ticket and answer columns")))]
pub async fn bulk_answer(
    State(state): State<AppState>,
    actor: Actor,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    // A workbook is a zip archive; anything else is taken for CSV.
    let rows = if body.starts_with(b"PK") {
        rongshu_ingest::table_sheet::read_table(&body)
            .map_err(|why| ApiError::BadRequest(format!("the workbook: {why}")))?
    } else {
        let text = std::str::from_utf8(&body).map_err(|_| {
            ApiError::BadRequest("send the sheet as UTF-8 CSV or as the XLSX workbook".into())
        })?;
        csv_rows(text)?
    };
    Ok(Json(answer_rows(&state, &actor, rows).await?))
}

/// Answer the tickets of a filled-in CSV sheet, row by row.
pub(crate) async fn answer_sheet(
    state: &AppState,
    actor: &Actor,
    text: &str,
) -> Result<Value, ApiError> {
    answer_rows(state, actor, csv_rows(text)?).await
}

/// A row's cell, trimmed; empty past the row's end.
fn cell(record: &[String], c: usize) -> &str {
    record.get(c).map_or("", |v| v.trim())
}

/// A CSV sheet's rows as text, the header first.
fn csv_rows(text: &str) -> Result<Vec<Vec<String>>, ApiError> {
    let text = text.trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| ApiError::BadRequest(format!("line {}: {e}", line + 1)))?;
        rows.push(record.iter().map(str::to_owned).collect());
    }
    Ok(rows)
}

/// Answer the tickets of a sheet's rows (the header first), row by row; a
/// row's line is its line in the sheet, the header being line 1.
async fn answer_rows(
    state: &AppState,
    actor: &Actor,
    rows: Vec<Vec<String>>,
) -> Result<Value, ApiError> {
    let mut rows = rows.into_iter();
    let headers = rows
        .next()
        .ok_or_else(|| ApiError::BadRequest("the sheet has no header row".into()))?;
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    let (Some(id_col), Some(answer_col)) = (col("ticket"), col("answer")) else {
        return Err(ApiError::BadRequest(
            "the sheet needs the columns ticket and answer".into(),
        ));
    };
    let note_col = col("note");
    let mut results = Vec::new();
    let (mut answered, mut refused) = (0, 0);
    for (line, record) in rows.enumerate() {
        let raw = cell(&record, answer_col);
        if raw.is_empty() {
            continue;
        }
        let id_text = cell(&record, id_col);
        let outcome = match (id_text.parse::<i64>(), Answer::parse(raw)) {
            (Err(_), _) => Err(format!("ticket \"{id_text}\" is not a ticket number")),
            (_, None) => Err(format!("answer \"{raw}\": use correct, confirm or dispute")),
            (Ok(id), Some(a)) => {
                let note = note_col.map(|c| cell(&record, c)).filter(|n| !n.is_empty());
                answer_one(state, actor, id, a, note)
                    .await
                    .map(|(t, _)| t.state)
                    .map_err(|e| e.to_string())
            }
        };
        match outcome {
            Ok(s) => {
                answered += 1;
                results.push(json!({ "line": line + 2, "ticket": id_text, "state": s }));
            }
            Err(why) => {
                refused += 1;
                results.push(json!({ "line": line + 2, "ticket": id_text, "error": why }));
            }
        }
    }
    Ok(json!({ "answered": answered, "refused": refused, "results": results }))
}

#[derive(Deserialize)]
pub struct OwnQuery {
    id_number: String,
}

/// The citizen's own ID number, proven to be the one the session is for.
async fn own_id(state: &AppState, citizen: &Citizen, raw: &str) -> Result<CitizenId, ApiError> {
    let id = CitizenId::parse(raw).map_err(|e| ApiError::BadRequest(format!("id_number: {e}")))?;
    if person_key(state).await?.of(&id) != citizen.person {
        return Err(ApiError::Forbidden(
            "id_number: that is not the number you signed in with".into(),
        ));
    }
    Ok(id)
}

/// `GET /api/v1/me/registry?id_number=…`: a citizen's own record, every value
/// with its source, plain (it is his or her own), and the disputes opened.
#[utoipa::path(get, path = "/api/v1/me/registry", tag = "citizen",
    params(("id_number" = String, Query, description = "The citizen's own ID number, again")),
    responses((status = 200, description = "The citizen's record, every source, and his or her disputes"),
              (status = 403, description = "Not the number signed in with")))]
pub async fn my_record(
    State(state): State<AppState>,
    citizen: Citizen,
    ApiQuery(q): ApiQuery<OwnQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(own_record(&state, &citizen, &q.id_number).await?))
}

/// A citizen's own record with its sources.
pub(crate) async fn own_record(
    state: &AppState,
    citizen: &Citizen,
    raw: &str,
) -> Result<Value, ApiError> {
    let id = own_id(state, citizen, raw).await?;
    let values = state
        .store
        .registry_values(SubjectKind::Person, id.as_str())
        .await?;
    let witnesses = state
        .store
        .registry_witnesses(SubjectKind::Person, id.as_str())
        .await?;
    let tickets = state
        .store
        .tickets(&TicketFilter {
            subject: Some(("person".into(), id.as_str().to_owned())),
            limit: 100,
            ..TicketFilter::default()
        })
        .await?;
    Ok(json!({
        "key": id.as_str(),
        "values": values,
        "sources": witnesses,
        "derived": person_facts(&id, state.clock.now().date_naive()),
        "tickets": tickets.items.iter().filter(|t| t.kind == "citizen_dispute").map(|t| json!({
            "id": t.id, "element": t.element, "state": t.state, "due": t.due, "department": t.department,
        })).collect::<Vec<_>>(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisputeBody {
    pub(crate) id_number: String,
    pub(crate) element: String,
    pub(crate) value: String,
    #[serde(default)]
    pub(crate) reason: String,
}

/// `POST /api/v1/me/registry/disputes`: the citizen says a value is wrong; a
/// ticket goes to the element's authoritative department.
#[utoipa::path(post, path = "/api/v1/me/registry/disputes", tag = "citizen",
    responses((status = 200, description = "The ticket opened to the authoritative department")))]
pub async fn dispute(
    State(state): State<AppState>,
    citizen: Citizen,
    ApiJson(body): ApiJson<DisputeBody>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(citizen_dispute(&state, &citizen, &body).await?))
}

/// Open a citizen's dispute of a value of his or her own record.
pub(crate) async fn citizen_dispute(
    state: &AppState,
    citizen: &Citizen,
    body: &DisputeBody,
) -> Result<Value, ApiError> {
    let id = own_id(state, citizen, &body.id_number).await?;
    if !body.element.starts_with("person.") || body.element == "person.citizen_id" {
        return Err(ApiError::BadRequest(format!(
            "element: dispute a value of your record (person.name, person.birth_date, …), not \"{}\"",
            body.element
        )));
    }
    let value = body.value.trim();
    if value.is_empty() || value.chars().count() > 200 || body.reason.chars().count() > 2000 {
        return Err(ApiError::BadRequest(
            "value: give the right value (at most 200 characters; reason at most 2000)".into(),
        ));
    }
    let now = state.clock.now();
    let t = state
        .store
        .open_dispute(
            NewDispute {
                person: id.as_str(),
                element: &body.element,
                claimed: value,
                reason: &body.reason,
            },
            dispute_record(now, citizen, &body.element),
            now,
            DUE_WORKING_DAYS,
        )
        .await?;
    Ok(json!({ "id": t.id, "department": t.department, "state": t.state, "due": t.due }))
}

/// The audit event of a citizen's dispute: the person by keyed hash, never
/// the number; the store names the ticket.
fn dispute_record(
    now: chrono::DateTime<chrono::Utc>,
    citizen: &Citizen,
    element: &str,
) -> rongshu_core::audit::AuditRecord {
    crate::service::Doer {
        label: format!("citizen:{}", citizen.person.as_str()),
        department: None,
    }
    .record(
        now,
        "ticket.citizen_dispute",
        None,
        json!({ "element": element }),
    )
}
