//! `/api/v1/linkage/jobs`: submit a record-linkage job, follow it, page
//! through its pairs by class, and decide the uncertain ones.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rongshu_core::account::Role;
use rongshu_core::audit::AuditEntry;
use rongshu_store::PairClass;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Actor;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::linkage;
use crate::routes::admin::doer;
use crate::state::AppState;

/// Submit a linkage job: `{"left": {"resource", "id"?, "only_missing"?},
/// "right": {"resource", "id"?} or {"registry": "person"|"entity"} (the
/// platform office only), "columns": [{"name", "right_name"?, "kind",
/// "levels"?}], "blocking": [{"columns": [...]}], "thresholds": {"link",
/// "review"}, "em": {"learn", ...}?, "max_block_size"?, "assignment"?,
/// "non_matches_kept"? (default 3: each left record's best non-matches kept
/// with their evidence, the rest only counted)}`. It runs in the background;
/// follow it at `GET /api/v1/linkage/jobs/{id}`.
#[utoipa::path(post, path = "/api/v1/linkage/jobs", tag = "linkage",
    responses((status = 202, description = "The job, queued"),
              (status = 400, description = "The configuration does not parse or does not fit the resources"),
              (status = 403, description = "The caller may not link these resources")))]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let plan = linkage::plan(&state.store, Some(&state), Some(&actor), body).await?;
    let job = linkage::submit(&state, &actor, plan).await?;
    Ok((StatusCode::ACCEPTED, Json(json!(job))))
}

/// The caller's jobs (all of them for the platform office), newest first.
#[utoipa::path(get, path = "/api/v1/linkage/jobs", tag = "linkage",
    responses((status = 200, description = "`{\"items\": [job], \"total\": n}`")))]
pub async fn list(State(state): State<AppState>, actor: Actor) -> Result<Json<Value>, ApiError> {
    let department = (!actor.is_platform_admin()).then(|| actor.department().code.clone());
    let jobs = state.store.linkage_jobs(department.as_deref()).await?;
    Ok(Json(json!({"total": jobs.len(), "items": jobs})))
}

/// A job: its state, configuration, figures and how review stands.
#[utoipa::path(get, path = "/api/v1/linkage/jobs/{id}", tag = "linkage",
    params(("id" = i64, Path, description = "Job id")),
    responses((status = 200, description = "The job with `counts`"), (status = 404, description = "No such job for the caller")))]
pub async fn show(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let job = linkage::visible_job(&state, &actor, id).await?;
    let counts = state.store.linkage_counts(id).await?;
    let mut body = json!(job);
    if let Some(o) = body.as_object_mut() {
        o.insert("counts".into(), json!(counts));
    }
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
pub struct ResultsQuery {
    class: Option<String>,
    after: Option<i64>,
    limit: Option<i64>,
}

/// A page of a job's pairs, best score first: `class=match|review|non_match|link`
/// (`link`: matches and accepted review pairs), `after` the last pair number
/// seen, `limit` 1 to 500 (default 50). Each pair shows its evidence side by
/// side; the read is audited like any read of personal data.
#[utoipa::path(get, path = "/api/v1/linkage/jobs/{id}/results", tag = "linkage",
    params(("id" = i64, Path, description = "Job id"),
           ("class" = Option<String>, Query, description = "match, review, non_match or link"),
           ("after" = Option<i64>, Query, description = "Continue after this pair number"),
           ("limit" = Option<i64>, Query, description = "Pairs per page, 1 to 500")),
    responses((status = 200, description = "`{\"items\": [pair], \"next\": n or null, \"total\": n}`"),
              (status = 400, description = "An unknown class or a bad limit"),
              (status = 409, description = "The job has not finished")))]
pub async fn results(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    ApiQuery(q): ApiQuery<ResultsQuery>,
) -> Result<Json<Value>, ApiError> {
    let class = match q.class.as_deref() {
        None | Some("") => None,
        Some(c) => Some(PairClass::parse(c).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "class must be match, review, non_match or link, not {c}"
            ))
        })?),
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 500".into(),
        ));
    }
    let (items, next, total) = page(&state, &actor, id, class, q.after.unwrap_or(0), limit).await?;
    Ok(Json(json!({"items": items, "next": next, "total": total})))
}

/// A page of pairs, its audit event committed before it is returned.
pub(crate) async fn page(
    state: &AppState,
    actor: &Actor,
    id: i64,
    class: Option<PairClass>,
    after: i64,
    limit: i64,
) -> Result<(Vec<rongshu_store::LinkagePair>, Option<i64>, i64), ApiError> {
    let job = linkage::visible_job(state, actor, id).await?;
    if job.state != "done" {
        return Err(ApiError::Conflict(format!(
            "linkage job {id} is {}: its results come when it is done",
            job.state
        )));
    }
    let mut items = state
        .store
        .linkage_pairs(id, class, after, limit + 1)
        .await?;
    let next = (items.len() as i64 > limit).then(|| {
        items.truncate(limit as usize);
        items.last().map_or(after, |p| p.pair)
    });
    let counts = state.store.linkage_counts(id).await?;
    let total = match class {
        None => counts.matches + counts.review + counts.non_matches,
        Some(PairClass::Match) => counts.matches,
        Some(PairClass::Review) => counts.review,
        Some(PairClass::NonMatch) => counts.non_matches,
        Some(PairClass::Linked) => counts.links,
    };
    let people = linkage::people_of_pairs(state, &job, &items).await?;
    let mut audit = doer(actor).record(
        state.clock.now(),
        "linkage.results.read",
        Some(format!("linkage_job:{id}")),
        json!({
            "job": id,
            "left": job.left_resource,
            "right": job.right_resource,
            "class": class.map(|c| format!("{c:?}")),
            "after": after,
        }),
    );
    audit.resource = Some(job.right_resource.clone());
    audit.rows = Some(items.len() as i64);
    state.audit.record(AuditEntry::new(audit, people)).await?;
    Ok((items, next, total))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// accept | reject
    pub decision: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// A reviewer's decision on a pair in review: `{"decision": "accept"|"reject",
/// "note"?}`. Recorded once, with the reviewer and the time; an accepted pair
/// becomes a link.
#[utoipa::path(post, path = "/api/v1/linkage/jobs/{id}/results/{pair}/decision", tag = "linkage",
    params(("id" = i64, Path, description = "Job id"), ("pair" = i64, Path, description = "Pair number")),
    responses((status = 200, description = "The pair with its decision"),
              (status = 400, description = "The decision is not accept or reject"),
              (status = 404, description = "No such job or pair for the caller"),
              (status = 409, description = "The pair is not in review, or was already decided")))]
pub async fn decide(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, pair)): Path<(i64, i64)>,
    ApiJson(body): ApiJson<DecisionBody>,
) -> Result<Json<Value>, ApiError> {
    let decided = decide_pair(
        &state,
        &actor,
        id,
        pair,
        &body.decision,
        body.note.as_deref(),
    )
    .await?;
    Ok(Json(json!(decided)))
}

pub(crate) async fn decide_pair(
    state: &AppState,
    actor: &Actor,
    id: i64,
    pair: i64,
    decision: &str,
    note: Option<&str>,
) -> Result<rongshu_store::LinkagePair, ApiError> {
    let accepted = match decision {
        "accept" | "accepted" => true,
        "reject" | "rejected" => false,
        other => {
            return Err(ApiError::BadRequest(format!(
                "decision must be accept or reject, not {other}"
            )));
        }
    };
    let job = linkage::visible_job(state, actor, id).await?;
    // A decision links a record to a person: a reviewer's act, as approving
    // a release is, or the platform office's.
    actor.require_any_role(
        &[Role::Reviewer, Role::PlatformAdmin],
        "deciding a pair under clerical review",
    )?;
    let now = state.clock.now();
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    let audit = doer(actor).record(
        now,
        "linkage.review.decide",
        Some(format!("linkage_job:{id}/pair:{pair}")),
        json!({"job": job.id, "pair": pair, "accepted": accepted, "note": note}),
    );
    Ok(state
        .store
        .decide_linkage_pair(
            id,
            pair,
            rongshu_store::LinkageDecision {
                accepted,
                reviewer: &actor.label(),
                note,
            },
            now,
            audit,
        )
        .await?)
}
