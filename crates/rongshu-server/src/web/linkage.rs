//! The console's record linkage: the jobs with their figures, and the clerical
//! review queue where each uncertain pair is shown with its evidence side by
//! side (each compared column's two values, the level found, its weight) and
//! accepted or rejected with a plain form.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use rongshu_core::account::Role;
use rongshu_store::{LinkageCounts, LinkageJob, PairClass};
use serde::Deserialize;
use serde_json::Value;

use super::console::{ConsoleUser, Fields, csrf_ok, csrf_refused, error_page, field};
use super::{LangQuery, Texts, choose_lang, render};
use crate::error::ApiError;
use crate::linkage::visible_job;
use crate::routes::linkage::{decide_pair, page};
use crate::state::AppState;

/// Pairs per review page.
const REVIEW_PAGE: i64 = 20;

/// The linkage pages' labels: key, Chinese, English (see `Texts::l`).
pub(super) static LABELS: &[(&str, &str, &str)] = &[
    ("linkage", "记录链接", "Record linkage"),
    (
        "linkage_intro",
        "无身份号码的记录按姓名、出生日期、地址等比对到人口库；高分自动链接，不确定的进入人工复核。",
        "Records without an ID number are matched to the population by name, birth date, address and more; high scores are linked, uncertain pairs wait for clerical review.",
    ),
    ("no_linkage_jobs", "暂无链接任务。", "No linkage jobs yet."),
    ("job", "任务", "Job"),
    ("left_side", "待链接记录", "Records linked"),
    ("right_side", "链接目标", "Linked to"),
    ("job_state", "状态", "State"),
    ("queued", "排队中", "queued"),
    ("running", "运行中", "running"),
    ("done", "已完成", "done"),
    ("created", "创建", "Created"),
    ("left_rows", "待链接记录数", "Records to link"),
    ("right_rows", "目标记录数", "Target records"),
    ("candidate_pairs", "候选对数", "Candidate pairs"),
    ("pairs_per_second", "每秒候选对", "Pairs per second"),
    ("matches", "自动链接", "Matches"),
    ("review_pairs", "待复核", "In review"),
    ("non_matches", "非匹配", "Non-matches"),
    ("review_share", "复核比例", "Review share"),
    ("accepted", "已确认", "Accepted"),
    ("rejected", "已否决", "Rejected"),
    ("pending", "未处理", "Pending"),
    ("links", "链接总数", "Links"),
    ("clerical_review", "人工复核", "Clerical review"),
    (
        "no_review_pairs",
        "没有待复核的记录对。",
        "No pairs wait for review.",
    ),
    (
        "learned_parameters",
        "EM 估计的参数",
        "Parameters learned by EM",
    ),
    ("column", "比对项", "Column"),
    ("level", "比对级别", "Level"),
    ("weight", "权重", "Weight"),
    ("prior", "先验匹配概率", "Prior match probability"),
    ("iterations", "迭代次数", "Iterations"),
    ("blocking_rules", "分块规则", "Blocking rules"),
    ("blocks", "块数", "Blocks"),
    ("skipped_blocks", "跳过的过大块", "Oversized blocks skipped"),
    ("left_value", "待链接记录的值", "Record's value"),
    ("right_value", "目标记录的值", "Target's value"),
    ("probability", "匹配概率", "Match probability"),
    ("total_weight", "总权重", "Total weight"),
    ("accept", "确认为同一人", "Accept: same person"),
    ("reject", "否决", "Reject"),
    ("decided_by", "复核人", "Decided by"),
    ("next_page", "下一页", "Next page"),
    ("exact", "完全一致", "exact"),
    ("same_pinyin", "同音", "same pinyin"),
    ("same_characters", "字同序异", "same characters"),
    ("one_char_off", "差一字", "one character off"),
    ("surname_only", "仅姓相同", "surname only"),
    ("month_day_swapped", "月日颠倒", "month and day swapped"),
    ("one_digit_off", "差一位数字", "one digit off"),
    ("last_eight_digits", "后八位相同", "last eight digits"),
    ("contains", "包含", "contains"),
    ("bigram_overlap", "大部分相同", "mostly the same"),
    ("different", "不同", "different"),
    ("missing", "缺失", "missing"),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/linkage", get(jobs))
        .route("/console/linkage/{id}", get(job))
        .route("/console/linkage/{id}/review", get(review))
        .route("/console/linkage/{id}/review/{pair}/{action}", post(decide))
}

struct JobRow {
    id: i64,
    left: String,
    right: String,
    state: String,
    created_by: String,
    created_at: String,
    matches: String,
    review: String,
}

fn figure(figures: &Option<Value>, key: &str) -> String {
    figures.as_ref().and_then(|f| f.get(key)).map_or_else(
        || "—".to_owned(),
        |v| match v.as_f64() {
            Some(x) if v.is_f64() => format!("{x:.1}"),
            _ => v.to_string(),
        },
    )
}

#[derive(Template)]
#[template(path = "linkage_jobs.html")]
struct JobsPage {
    t: &'static Texts,
    jobs: Vec<JobRow>,
}

async fn jobs(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    user: ConsoleUser,
) -> Response {
    let t = choose_lang(&q, &headers).0.texts();
    let department =
        (!user.actor.is_platform_admin()).then(|| user.actor.department().code.clone());
    match state.store.linkage_jobs(department.as_deref()).await {
        Ok(list) => {
            let jobs = list
                .into_iter()
                .map(|j| JobRow {
                    matches: figure(&j.figures, "matches"),
                    review: figure(&j.figures, "review"),
                    id: j.id,
                    left: j.left_resource,
                    right: j.right_resource,
                    state: j.state,
                    created_by: j.created_by,
                    created_at: j.created_at,
                })
                .collect();
            render(&JobsPage { t, jobs }, &[])
        }
        Err(e) => error_page(e.into()),
    }
}

struct LevelRow {
    column: String,
    level: String,
    m: String,
    u: String,
    weight: String,
}

struct RuleRow {
    columns: String,
    blocks: String,
    pairs: String,
    skipped: String,
}

#[derive(Template)]
#[template(path = "linkage_job.html")]
struct JobPage {
    t: &'static Texts,
    job: LinkageJob,
    counts: LinkageCounts,
    figures: Vec<(&'static str, String)>,
    levels: Vec<LevelRow>,
    rules: Vec<RuleRow>,
    prior: String,
    iterations: String,
}

async fn job(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    user: ConsoleUser,
    Path(id): Path<i64>,
) -> Response {
    let t = choose_lang(&q, &headers).0.texts();
    let loaded = async {
        let job = visible_job(&state, &user.actor, id).await?;
        let counts = state.store.linkage_counts(id).await?;
        Ok::<_, ApiError>((job, counts))
    }
    .await;
    let (job, counts) = match loaded {
        Ok(x) => x,
        Err(e) => return error_page(e),
    };
    let f = &job.figures;
    let share = f
        .as_ref()
        .and_then(|f| f["review_share"].as_f64())
        .map_or_else(|| "—".to_owned(), |x| format!("{:.2}%", x * 100.0));
    let figures = vec![
        ("left_rows", figure(f, "left_rows")),
        ("right_rows", figure(f, "right_rows")),
        ("candidate_pairs", figure(f, "candidate_pairs")),
        ("pairs_per_second", figure(f, "pairs_per_second")),
        ("review_share", share),
    ];
    let empty = Value::Null;
    let em = f.as_ref().map_or(&empty, |f| &f["em"]);
    let levels = em["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| {
            let column = c["column"].as_str().unwrap_or_default().to_owned();
            c["levels"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |l| LevelRow {
                    column: column.clone(),
                    level: l["level"].as_str().unwrap_or_default().to_owned(),
                    m: format!("{:.4}", l["m"].as_f64().unwrap_or_default()),
                    u: format!("{:.6}", l["u"].as_f64().unwrap_or_default()),
                    weight: format!("{:+.2}", l["weight"].as_f64().unwrap_or_default()),
                })
        })
        .collect();
    let blocking = f.as_ref().map_or(&empty, |f| &f["blocking"]);
    let rules = blocking["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| RuleRow {
            columns: r["columns"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" + "),
            blocks: r["blocks"].to_string(),
            pairs: r["pairs"].to_string(),
            skipped: r["skipped_blocks"].to_string(),
        })
        .collect();
    let page = JobPage {
        t,
        prior: em["lambda"]
            .as_f64()
            .map_or_else(|| "—".to_owned(), |x| format!("{x:.3e}")),
        iterations: em["iterations"].to_string(),
        job,
        counts,
        figures,
        levels,
        rules,
    };
    render(&page, &[])
}

struct EvidenceRow {
    column: String,
    left: String,
    right: String,
    level: String,
    weight: String,
    agrees: bool,
}

struct ReviewPair {
    pair: i64,
    left_id: String,
    right_id: String,
    probability: String,
    weight: String,
    evidence: Vec<EvidenceRow>,
    decision: Option<String>,
    reviewer: String,
}

#[derive(Template)]
#[template(path = "linkage_review.html")]
struct ReviewPage {
    t: &'static Texts,
    csrf: String,
    job: LinkageJob,
    counts: LinkageCounts,
    pairs: Vec<ReviewPair>,
    next: Option<i64>,
    /// Whether the viewer may decide (a reviewer or the office); others see
    /// the queue without the buttons.
    may_decide: bool,
}

#[derive(Deserialize)]
struct ReviewQuery {
    lang: Option<String>,
    after: Option<i64>,
}

async fn review(
    State(state): State<AppState>,
    Query(q): Query<ReviewQuery>,
    headers: HeaderMap,
    user: ConsoleUser,
    Path(id): Path<i64>,
) -> Response {
    let t = choose_lang(&LangQuery { lang: q.lang }, &headers).0.texts();
    let loaded = async {
        let job = visible_job(&state, &user.actor, id).await?;
        let (pairs, next, _) = page(
            &state,
            &user.actor,
            id,
            Some(PairClass::Review),
            q.after.unwrap_or(0),
            REVIEW_PAGE,
        )
        .await?;
        let counts = state.store.linkage_counts(id).await?;
        Ok::<_, ApiError>((job, pairs, next, counts))
    }
    .await;
    let (job, pairs, next, counts) = match loaded {
        Ok(x) => x,
        Err(e) => return error_page(e),
    };
    let text = |v: &Value| v.as_str().map_or_else(|| "—".to_owned(), str::to_owned);
    let pairs = pairs
        .into_iter()
        .map(|p| ReviewPair {
            evidence: p
                .evidence
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| {
                    let w = e["weight"].as_f64().unwrap_or_default();
                    EvidenceRow {
                        column: text(&e["column"]),
                        left: text(&e["left"]),
                        right: text(&e["right"]),
                        level: text(&e["level"]),
                        weight: format!("{w:+.2}"),
                        agrees: w > 0.0,
                    }
                })
                .collect(),
            pair: p.pair,
            left_id: p.left_id,
            right_id: p.right_id,
            probability: format!("{:.3}", p.probability),
            weight: format!("{:+.2}", p.weight),
            decision: p.decision,
            reviewer: p.reviewer.unwrap_or_default(),
        })
        .collect();
    render(
        &ReviewPage {
            t,
            csrf: user.csrf,
            job,
            counts,
            pairs,
            next,
            may_decide: user.actor.has_role(Role::Reviewer) || user.actor.is_platform_admin(),
        },
        &[],
    )
}

async fn decide(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((id, pair, action)): Path<(i64, i64, String)>,
    axum::Form(fields): axum::Form<Fields>,
) -> Response {
    if !csrf_ok(&user.csrf, &fields) {
        return csrf_refused();
    }
    let note = field(&fields, "note");
    let note = (!note.trim().is_empty()).then_some(note);
    match decide_pair(&state, &user.actor, id, pair, &action, note).await {
        Ok(_) => Redirect::to(&format!("/console/linkage/{id}/review")).into_response(),
        Err(e) => error_page(e),
    }
}
