//! Record-linkage jobs over two resources, or a resource and a base registry:
//! a configuration checked once (clear 400s for what does not fit the sides,
//! 403s for what the caller may not read), then a background run that reads
//! both sides through the store page by page, puts each read on the audit
//! chain with the people it touched, runs the pure engine off the async
//! threads (the right side streaming through it) and stores the pairs it kept
//! (every link and review pair, each record's best non-matches) with their
//! evidence for clerical review.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rongshu_core::audit::AuditEntry;
use rongshu_core::linkage::{
    Decision, LinkageConfig, LinkageError, LinkageSpec, Linked, Linker, Outcome, Table,
};
use rongshu_core::people::{People, PersonKey, id_items};
use rongshu_core::registry::SubjectKind;
use rongshu_store::{
    Filter, LinkageJob, NewLinkageJob, NewLinkagePair, RecordQuery, Resource, Store,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::access::{self, Disclosure, ReadAccess};
use crate::audit_writer::AuditWriter;
use crate::auth::Actor;
use crate::error::ApiError;
use crate::service::Doer;
use crate::state::AppState;

/// Rows read per page from a resource's table.
const PAGE: i64 = 1_000;

/// One job runs at a time: linkage is CPU-bound and the machine small.
static RUNNING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// One side of a job as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SideRequest {
    /// The resource's code.
    #[serde(default)]
    pub resource: Option<String>,
    /// A base registry instead (`person` or `entity`), on the right only: its
    /// golden values, named by element (`person.name`), each record named by
    /// its key.
    #[serde(default)]
    pub registry: Option<String>,
    /// The item that names a row in the results; the resource's key item when
    /// it has exactly one.
    #[serde(default)]
    pub id: Option<String>,
    /// Only rows where this item is empty (e.g. `id_number` for keyless records).
    #[serde(default)]
    pub only_missing: Option<String>,
}

/// A job as written: the two sides and the engine's configuration (columns
/// with their left and right item names, blocking rules, thresholds, EM,
/// block-size cap, assignment).
#[derive(Debug, Clone, Deserialize)]
pub struct JobRequest {
    pub left: SideRequest,
    pub right: SideRequest,
    #[serde(flatten)]
    pub spec: LinkageSpec,
}

/// What a side reads.
#[derive(Debug, Clone)]
enum Source {
    Resource(Box<Resource>),
    Registry(SubjectKind),
}

impl Source {
    /// How the job names it.
    fn code(&self) -> String {
        match self {
            Source::Resource(r) => r.code.clone(),
            Source::Registry(kind) => format!("{REGISTRY_PREFIX}{}", kind.as_str()),
        }
    }
}

/// A job's side that is a registry is stored as this and the kind.
const REGISTRY_PREFIX: &str = "registry:";

/// A side after checking.
#[derive(Debug, Clone)]
struct Side {
    source: Source,
    id_item: String,
    only_missing: Option<String>,
    /// The compared and blocking items, in the table's column order.
    items: Vec<String>,
    /// How the caller reads it; `None` for the platform office.
    access: Option<ReadAccess>,
}

/// A checked job, ready to run.
pub struct Plan {
    config: LinkageConfig,
    left: Side,
    right: Side,
    request: Value,
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::BadRequest(message.into())
}

/// Parse and check a job's configuration against the two resources, and the
/// caller's right to run it. `actor` is `None` for the platform itself (the
/// demo), which reads as the platform office does.
pub async fn plan(
    store: &Store,
    state: Option<&AppState>,
    actor: Option<&Actor>,
    body: Value,
) -> Result<Plan, ApiError> {
    let request: JobRequest = serde_json::from_value(body.clone())
        .map_err(|e| bad(format!("the linkage configuration is not valid: {e}")))?;
    let config = LinkageConfig::parse(request.spec.clone())
        .map_err(|e| bad(format!("the linkage configuration is not valid: {e}")))?;
    let resource = |code: Option<String>, side: &'static str| async move {
        let code = code.ok_or_else(|| bad(format!("{side}: name a resource")))?;
        let found = match (state, actor) {
            (Some(state), Some(actor)) => {
                crate::routes::resources::visible_resource(state, actor, &code).await
            }
            _ => store
                .resource(&code)
                .await
                .map(std::sync::Arc::new)
                .map_err(ApiError::from),
        };
        found.map_err(|e| match e {
            ApiError::NotFound(_) => bad(format!("{side}.resource: there is no resource {code}")),
            other => other,
        })
    };
    if request.left.registry.is_some() {
        return Err(bad(
            "left.registry: the records to link are on the left; a registry can only be the right side",
        ));
    }
    let left_resource = resource(request.left.resource.clone(), "left").await?;
    let right_source = match (&request.right.registry, &request.right.resource) {
        (Some(_), Some(_)) => {
            return Err(bad("right: name a resource or a registry, not both"));
        }
        (Some(kind), None) => Source::Registry(SubjectKind::parse(kind).ok_or_else(|| {
            bad(format!(
                "right.registry: \"{kind}\" is not a registry (person or entity)"
            ))
        })?),
        (None, code) => Source::Resource(Box::new(std::sync::Arc::unwrap_or_clone(
            resource(code.clone(), "right").await?,
        ))),
    };

    // The items each side needs: compared columns, blocking columns.
    let mut left_items: Vec<String> = Vec::new();
    let mut right_items: Vec<String> = Vec::new();
    let push = |v: &mut Vec<String>, s: &str| {
        if !v.iter().any(|x| x == s) {
            v.push(s.to_owned());
        }
    };
    for c in config.columns() {
        push(&mut left_items, &c.name);
        push(&mut right_items, &c.right_name);
    }
    for rule in config.blocking() {
        for name in &rule.columns {
            if !config.columns().iter().any(|c| &c.name == name) {
                push(&mut left_items, name);
                push(&mut right_items, name);
            }
        }
    }
    let left = side(
        request.left,
        std::sync::Arc::unwrap_or_clone(left_resource),
        left_items,
        "left",
    )?;
    let right = match right_source {
        Source::Resource(r) => side(request.right, *r, right_items, "right")?,
        Source::Registry(kind) => registry_side(request.right, kind, right_items)?,
    };
    let (left, right) = match (state, actor) {
        (Some(state), Some(actor)) => authorise(state, actor, left, right).await?,
        _ => (left, right),
    };
    Ok(Plan {
        config,
        left,
        right,
        request: body,
    })
}

fn side(
    request: SideRequest,
    resource: Resource,
    items: Vec<String>,
    name: &'static str,
) -> Result<Side, ApiError> {
    let spec = &resource.spec;
    let missing: Vec<&str> = items
        .iter()
        .filter(|i| spec.item(i).is_none())
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(bad(format!(
            "{name}: resource {} has no item {}",
            resource.code,
            missing.join(", ")
        )));
    }
    let id_item = match request.id {
        Some(id) => id,
        None => match spec.key_items.as_slice() {
            [one] => one.to_string(),
            _ => {
                return Err(bad(format!(
                    "{name}.id: resource {} has no single key item; say which item names a row",
                    resource.code
                )));
            }
        },
    };
    if spec.item(&id_item).is_none() {
        return Err(bad(format!(
            "{name}.id: resource {} has no item {id_item}",
            resource.code
        )));
    }
    if let Some(m) = &request.only_missing
        && spec.item(m).is_none()
    {
        return Err(bad(format!(
            "{name}.only_missing: resource {} has no item {m}",
            resource.code
        )));
    }
    Ok(Side {
        source: Source::Resource(Box::new(resource)),
        id_item,
        only_missing: request.only_missing,
        items,
        access: None,
    })
}

/// A registry as the right side: its items are elements of that registry,
/// and its records are named by their keys.
fn registry_side(
    request: SideRequest,
    kind: SubjectKind,
    items: Vec<String>,
) -> Result<Side, ApiError> {
    if request.id.is_some() || request.only_missing.is_some() {
        return Err(bad(
            "right: a registry's records are named by their keys; give neither id nor only_missing",
        ));
    }
    let foreign: Vec<&str> = items
        .iter()
        .filter(|i| SubjectKind::of_element(i) != Some(kind))
        .map(String::as_str)
        .collect();
    if !foreign.is_empty() {
        return Err(bad(format!(
            "right: the {} registry holds no element {}",
            kind.as_str(),
            foreign.join(", ")
        )));
    }
    Ok(Side {
        source: Source::Registry(kind),
        id_item: kind.key_element().to_owned(),
        only_missing: None,
        items,
        access: None,
    })
}

/// The platform office links anything. A department links its own resource
/// (left) against one it may read under the sharing rules (right), and only
/// with items it reads plain: values are compared, and the right rows' ids
/// are what a link gives it.
async fn authorise(
    state: &AppState,
    actor: &Actor,
    mut left: Side,
    mut right: Side,
) -> Result<(Side, Side), ApiError> {
    if actor.is_platform_admin() {
        return Ok((left, right));
    }
    let (Source::Resource(left_resource), Source::Resource(right_resource)) =
        (&left.source, &right.source)
    else {
        // Its values come from many resources under their own rules: a
        // department links against a resource it may read instead.
        return Err(ApiError::Forbidden(
            "linking against a registry itself is the platform office's; link against a resource you may read".into(),
        ));
    };
    let dept = &actor.department().code;
    if &left_resource.provider.code != dept {
        return Err(ApiError::Forbidden(format!(
            "a department links its own records: {} belongs to {}; the platform office links any",
            left_resource.code, left_resource.provider.name
        )));
    }
    let left_access = access::decide(state, actor, left_resource).await?;
    let right_access = access::decide(state, actor, right_resource).await?;
    let mut needed: Vec<&str> = right.items.iter().map(String::as_str).collect();
    needed.push(&right.id_item);
    let unreadable: Vec<&str> = needed
        .into_iter()
        .filter(|i| right_access.disclosure(i) != Disclosure::Plain)
        .collect();
    if !unreadable.is_empty() {
        return Err(ApiError::Forbidden(format!(
            "linkage compares values in plain, and {} of {} are not shared plain with {}: ask for a grant with plain values",
            unreadable.join(", "),
            right_resource.code,
            actor.department().name
        )));
    }
    left.access = Some(left_access);
    right.access = Some(right_access);
    Ok((left, right))
}

/// Jobs a stopped server left unfinished are marked failed at start.
pub async fn recover(state: &AppState) {
    match state
        .store
        .fail_interrupted_linkage_jobs(state.clock.now())
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            jobs = n,
            "linkage jobs interrupted by a restart marked failed"
        ),
        Err(e) => tracing::error!(error = %e, "could not check for interrupted linkage jobs"),
    }
}

/// Create the job and run it in the background.
pub async fn submit(state: &AppState, actor: &Actor, plan: Plan) -> Result<LinkageJob, ApiError> {
    let doer = Doer {
        label: actor.label(),
        department: Some(actor.department().code.clone()),
    };
    let job = create(&state.store, &doer, state.clock.now(), &plan).await?;
    let key = crate::people::person_key(state).await?.clone();
    let ctx = Ctx {
        store: state.store.clone(),
        audit: state.audit.clone(),
        clock: state.clock.clone(),
        key,
        doer,
    };
    let id = job.id;
    tokio::spawn(async move {
        let _turn = RUNNING.acquire().await;
        execute(&ctx, id, plan).await;
    });
    Ok(job)
}

/// Create and run a job at once as the platform (the demo, before the server
/// listens); returns the job as it ended.
pub async fn run_as_platform(store: &Store, body: Value) -> Result<LinkageJob, ApiError> {
    let plan = plan(store, None, None, body).await?;
    let doer = Doer::cli();
    let now = Utc::now();
    let job = create(store, &doer, now, &plan).await?;
    let secret = store
        .platform_secret(crate::people::PERSON_KEY_SECRET, now)
        .await?;
    let audit = AuditWriter::start(store.clone(), None);
    let ctx = Ctx {
        store: store.clone(),
        audit,
        clock: std::sync::Arc::new(crate::clock::SystemClock),
        key: PersonKey::new(secret),
        doer,
    };
    execute(&ctx, job.id, plan).await;
    Ok(store.linkage_job(job.id).await?)
}

async fn create(
    store: &Store,
    doer: &Doer,
    now: DateTime<Utc>,
    plan: &Plan,
) -> Result<LinkageJob, ApiError> {
    let department = doer.department.clone().unwrap_or_else(|| "platform".into());
    let audit = doer.record(
        now,
        "linkage.job.create",
        None,
        json!({
            "left": plan.left.source.code(),
            "right": plan.right.source.code(),
        }),
    );
    Ok(store
        .create_linkage_job(
            NewLinkageJob {
                created_by: &doer.label,
                department: &department,
                left_resource: &plan.left.source.code(),
                right_resource: &plan.right.source.code(),
                config: &plan.request,
            },
            now,
            audit,
        )
        .await?)
}

struct Ctx {
    store: Store,
    audit: AuditWriter,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
    key: PersonKey,
    doer: Doer,
}

async fn execute(ctx: &Ctx, id: i64, plan: Plan) {
    if let Err(e) = ctx.store.start_linkage_job(id, ctx.clock.now()).await {
        tracing::error!(job = id, error = %e, "linkage job could not start");
        return;
    }
    let outcome = run(ctx, id, plan).await;
    let now = ctx.clock.now();
    let recorded = match outcome {
        Ok((figures, pairs)) => {
            ctx.store
                .finish_linkage_job(id, now, &figures, &pairs)
                .await
        }
        Err(e) => {
            let message = match &e {
                ApiError::Internal(inner) => {
                    tracing::error!(job = id, error = %inner, "linkage job failed");
                    "internal error".to_owned()
                }
                other => other.to_string(),
            };
            ctx.store.fail_linkage_job(id, now, &message).await
        }
    };
    if let Err(e) = recorded {
        tracing::error!(job = id, error = %e, "linkage job outcome not recorded");
        let _ = ctx
            .store
            .fail_linkage_job(id, now, "the results could not be stored")
            .await;
    }
}

async fn run(ctx: &Ctx, id: i64, plan: Plan) -> Result<(Value, Vec<NewLinkagePair>), ApiError> {
    let started = Instant::now();
    let mut engine = Duration::ZERO;
    let mut left = Table::new(plan.left.items.clone());
    let mut reader = SideReader::start(ctx, id, &plan.left).await?;
    while let Some(page) = reader.next_page().await? {
        for (key, values) in page {
            left.push(key, values)
                .map_err(|e| ApiError::internal_msg(e.to_string()))?;
        }
    }
    let config = plan.config;
    let mut linker = Linker::new(config.clone(), left, plan.right.items.clone())
        .map_err(|e| bad(e.to_string()))?;
    // The right side streams through the linker a page at a time, off the
    // async threads; only the rows that meet a left row stay.
    let mut reader = SideReader::start(ctx, id, &plan.right).await?;
    while let Some(page) = reader.next_page().await? {
        let fed = Instant::now();
        linker = tokio::task::spawn_blocking(move || {
            for (key, values) in &page {
                linker.push_right(key, values)?;
            }
            Ok::<_, LinkageError>(linker)
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::internal_msg(e.to_string()))?;
        engine += fed.elapsed();
    }
    let finishing = Instant::now();
    let linked = tokio::task::spawn_blocking(move || linker.finish())
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| bad(e.to_string()))?;
    engine += finishing.elapsed();
    let seconds = engine.as_secs_f64();
    let read_seconds = started.elapsed().saturating_sub(engine).as_secs_f64();
    let figures = figures(&linked, seconds, read_seconds);
    let pairs = pairs(&config, &linked);
    Ok((figures, pairs))
}

/// A side's rows, a page at a time: `(id, values in the side's item order)`.
/// The read goes on the audit chain before its first row, and each page's
/// people are added to that event as the page is read, so the people of a
/// side of millions are never all held at once.
struct SideReader<'a> {
    ctx: &'a Ctx,
    side: &'a Side,
    event: i64,
    people_items: Vec<String>,
    next: Option<Position>,
}

/// Where the next page starts.
enum Position {
    Records(RecordQuery),
    /// The registry key after which the next page starts.
    Registry(String),
}

impl<'a> SideReader<'a> {
    async fn start(ctx: &'a Ctx, job: i64, side: &'a Side) -> Result<Self, ApiError> {
        let (people_items, position, detail) = match &side.source {
            Source::Resource(resource) => {
                let people_items = id_items(&resource.spec);
                let mut fields: Vec<String> = side.items.clone();
                for extra in std::iter::once(&side.id_item)
                    .chain(side.only_missing.iter())
                    .chain(people_items.iter())
                {
                    if !fields.contains(extra) {
                        fields.push(extra.clone());
                    }
                }
                let filters: Vec<Filter> = side
                    .access
                    .as_ref()
                    .map(|a| a.row_scope.clone())
                    .unwrap_or_default();
                let access = side.access.as_ref();
                let detail = json!({
                    "operation": "linkage",
                    "job": job,
                    "reader": access.map_or(json!("platform"), |a| json!(a.reader)),
                    "items": side.items,
                    "only_missing": side.only_missing,
                    "grant": access.and_then(|a| a.grant.as_ref().map(|g| g.id)),
                    "purpose": access.and_then(|a| a.grant.as_ref().map(|g| g.purpose)),
                });
                let query = RecordQuery::new(filters, fields, PAGE);
                (people_items, Position::Records(query), detail)
            }
            Source::Registry(_) => (
                Vec::new(),
                Position::Registry(String::new()),
                json!({"operation": "linkage", "job": job, "reader": "platform", "items": side.items}),
            ),
        };
        let code = side.source.code();
        let mut audit = ctx
            .doer
            .record(ctx.clock.now(), "data.read", Some(code.clone()), detail);
        audit.resource = Some(code);
        let event = ctx.audit.record(AuditEntry::new(audit, Vec::new())).await?;
        Ok(Self {
            ctx,
            side,
            event,
            people_items,
            next: Some(position),
        })
    }

    /// The next page's rows, `None` after the last.
    async fn next_page(&mut self) -> Result<Option<Vec<(String, Vec<Option<String>>)>>, ApiError> {
        let (ctx, side) = (self.ctx, self.side);
        let mut people = People::new(&ctx.key, &self.people_items);
        let rows = match (self.next.take(), &side.source) {
            (None, _) => return Ok(None),
            (Some(Position::Records(mut query)), Source::Resource(resource)) => {
                let page = ctx.store.query_records(resource, &query).await?;
                let mut rows = Vec::with_capacity(page.records.len());
                for record in &page.records {
                    if let Some(m) = &side.only_missing
                        && cell(record.get(m)).is_some()
                    {
                        continue;
                    }
                    let Some(id) = cell(record.get(&side.id_item)) else {
                        continue;
                    };
                    people.add_record(record);
                    rows.push((id, side.items.iter().map(|i| cell(record.get(i))).collect()));
                }
                if let Some(after) = page.next_after {
                    query.after = Some(after);
                    self.next = Some(Position::Records(query));
                }
                rows
            }
            (Some(Position::Registry(after)), Source::Registry(kind)) => {
                let page = ctx
                    .store
                    .registry_rows(*kind, &side.items, &after, PAGE)
                    .await?;
                let Some((last, _)) = page.last() else {
                    return Ok(None);
                };
                self.next = Some(Position::Registry(last.clone()));
                if *kind == SubjectKind::Person {
                    for (key, _) in &page {
                        people.add_value(key);
                    }
                }
                page
            }
            (Some(_), _) => {
                return Err(ApiError::internal_msg(
                    "a side read past its own kind".into(),
                ));
            }
        };
        ctx.store
            .append_audit_people(self.event, &people.finish())
            .await?;
        Ok(Some(rows))
    }
}

/// A stored value as text: dates and numbers as written, empty as missing.
fn cell(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

pub(crate) fn outcome_name(o: Outcome) -> String {
    match o {
        Outcome::Level(l) => serde_json::to_value(l)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        Outcome::Different => "different".into(),
        Outcome::Missing => "missing".into(),
    }
}

fn class_of(d: Decision) -> &'static str {
    match d {
        Decision::Link => "match",
        Decision::Review => "review",
        Decision::NonMatch => "non_match",
    }
}

fn figures(linked: &Linked, seconds: f64, read_seconds: f64) -> Value {
    let Linked { run, left, .. } = linked;
    let count = |d: Decision| run.pairs.iter().filter(|p| p.decision == d).count();
    let (matches, review, non_matches) = (
        count(Decision::Link),
        count(Decision::Review),
        count(Decision::NonMatch) + run.non_matches_dropped,
    );
    let displaced = run.pairs.iter().filter(|p| p.displaced).count();
    let candidates = run.blocking.candidate_pairs;
    let reviewed_left: BTreeSet<usize> = run
        .pairs
        .iter()
        .filter(|p| p.decision == Decision::Review)
        .map(|p| p.pair.left)
        .collect();
    let columns: Vec<Value> = run
        .em
        .parameters
        .columns
        .iter()
        .map(|c| {
            let levels: Vec<Value> = c
                .outcomes
                .iter()
                .zip(c.m.iter().zip(&c.u))
                .map(|(o, (m, u))| {
                    json!({"level": outcome_name(*o), "m": m, "u": u, "weight": (m / u).log2()})
                })
                .collect();
            json!({"column": c.column, "levels": levels})
        })
        .collect();
    json!({
        "left_rows": left.len(),
        "right_rows": linked.right_rows,
        "right_rows_kept": linked.right.len(),
        "candidate_pairs": candidates,
        "seconds": seconds,
        "read_seconds": read_seconds,
        "pairs_per_second": if seconds > 0.0 { candidates as f64 / seconds } else { 0.0 },
        "matches": matches,
        "review": review,
        "non_matches": non_matches,
        // Each record's best non-matches are kept for the clerk; the rest
        // are only counted.
        "non_matches_kept": count(Decision::NonMatch),
        "displaced": displaced,
        "review_share": if left.is_empty() { 0.0 } else { reviewed_left.len() as f64 / left.len() as f64 },
        "blocking": run.blocking,
        "em": {
            "lambda": run.em.parameters.lambda,
            "iterations": run.em.iterations,
            "converged": run.em.converged,
            "columns": columns,
        },
    })
}

/// Every kept pair best score first, with its evidence: each compared column's
/// left and right value, the level found and its weight.
fn pairs(config: &LinkageConfig, linked: &Linked) -> Vec<NewLinkagePair> {
    let Linked {
        run, left, right, ..
    } = linked;
    let index = |t: &Table, name: &str| t.columns().iter().position(|c| c == name);
    let columns: Vec<(Option<usize>, Option<usize>)> = config
        .columns()
        .iter()
        .map(|c| (index(left, &c.name), index(right, &c.right_name)))
        .collect();
    let value = |t: &Table, row: usize, col: Option<usize>| -> Value {
        col.and_then(|c| {
            t.rows()
                .get(row)
                .and_then(|r| r.values.get(c).cloned().flatten())
        })
        .map_or(Value::Null, Value::String)
    };
    let mut order: Vec<&rongshu_core::linkage::ScoredPair> = run.pairs.iter().collect();
    order.sort_by(|a, b| {
        b.probability
            .total_cmp(&a.probability)
            .then(b.weight.total_cmp(&a.weight))
            .then(a.pair.cmp(&b.pair))
    });
    order
        .into_iter()
        .map(|p| {
            let evidence: Vec<Value> = config
                .columns()
                .iter()
                .zip(&columns)
                .zip(&p.evidence)
                .map(|((c, (l, r)), e)| {
                    let mut m = Map::new();
                    m.insert("column".into(), json!(c.name));
                    m.insert("right_column".into(), json!(c.right_name));
                    m.insert("left".into(), value(left, p.pair.left, *l));
                    m.insert("right".into(), value(right, p.pair.right, *r));
                    m.insert("level".into(), json!(outcome_name(e.outcome)));
                    m.insert("weight".into(), json!(e.weight));
                    Value::Object(m)
                })
                .collect();
            NewLinkagePair {
                left_id: p.left_id.clone(),
                right_id: p.right_id.clone(),
                weight: p.weight,
                probability: p.probability,
                class: class_of(p.decision),
                evidence: Value::Array(evidence),
            }
        })
        .collect()
}

/// Whether the caller sees a job (and its pairs): the platform office, or the
/// department it runs for.
pub fn may_see(actor: &Actor, job: &LinkageJob) -> bool {
    actor.is_platform_admin() || actor.department().code == job.department
}

/// A job the caller may see, else 404.
pub async fn visible_job(state: &AppState, actor: &Actor, id: i64) -> Result<LinkageJob, ApiError> {
    match state.store.linkage_job(id).await {
        Ok(job) if may_see(actor, &job) => Ok(job),
        Ok(_) | Err(rongshu_store::StoreError::NotFound(_)) => Err(ApiError::NotFound(format!(
            "linkage job {id} does not exist"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// The people a page of pairs shows (the right side's ids, when they are ID
/// numbers), for the audit event of reading it.
pub async fn people_of_pairs(
    state: &AppState,
    job: &LinkageJob,
    pairs: &[rongshu_store::LinkagePair],
) -> Result<Vec<rongshu_core::people::PersonHash>, ApiError> {
    let key = crate::people::person_key(state).await?;
    if let Some(kind) = job.right_resource.strip_prefix(REGISTRY_PREFIX) {
        // A person registry's records are named by ID number.
        let mut people = People::new(key, &[]);
        if kind == SubjectKind::Person.as_str() {
            for p in pairs {
                people.add_value(&p.right_id);
            }
        }
        return Ok(people.finish());
    }
    let right = state.store.resource(&job.right_resource).await?;
    let id_item = job.config["right"]["id"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| match right.spec.key_items.as_slice() {
            [one] => Some(one.to_string()),
            _ => None,
        });
    let items = id_items(&right.spec);
    let mut people = People::new(key, &items);
    if let Some(id_item) = id_item.filter(|i| items.contains(i)) {
        for p in pairs {
            let mut record = Map::new();
            record.insert(id_item.clone(), Value::String(p.right_id.clone()));
            people.add_record(&record);
        }
    }
    Ok(people.finish())
}
