//! Operations shared by the HTTP API and the `rongshu` command: each checks its
//! input, does the change with its audit event, and says what happened. Who may
//! call them is decided by the caller (a route's actor check, or the operator
//! at the command line).

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use rongshu_core::account::{DepartmentCode, Role, Username, check_password_strength};
use rongshu_core::audit::AuditRecord;
use rongshu_core::catalog::{
    ElementCode, ElementSpec, NewElementRequest, ResourceSpec, Transition,
};
use rongshu_core::quality::{
    BatchChecks, InMemoryReferences, QualityTally, RowChecker, RowVerdict, RuleSet, RuleSpec,
    Severity, TallyComparison, Violation,
};
use rongshu_ingest::{
    BatchFormat, BatchReport, IngestError, ReadOptions, Reject, RejectList, RepeatedKeys,
    RowOutcome, open_batch,
};
use rongshu_store::{
    Application, Applied, BatchMode, CatalogActor, DataElement, Department, FailureRow,
    NewApplication, NewToken, NewUser, Resource, StagedRow, Store, StreamStatus, TokenOwner, User,
};

use crate::auth::{password, token};
use crate::config::PasswordCost;
use crate::error::ApiError;

/// Who did something, as the audit log names them.
#[derive(Debug, Clone)]
pub struct Doer {
    pub label: String,
    pub department: Option<String>,
}

impl Doer {
    /// The operator at the command line.
    pub fn cli() -> Self {
        Self {
            label: "cli".into(),
            department: None,
        }
    }

    pub fn record(
        &self,
        now: DateTime<Utc>,
        action: &str,
        target: Option<String>,
        detail: serde_json::Value,
    ) -> AuditRecord {
        AuditRecord {
            at: now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            actor: self.label.clone(),
            department: self.department.clone(),
            action: action.into(),
            target,
            resource: None,
            rows: None,
            detail,
        }
    }
}

pub async fn create_department(
    store: &Store,
    now: DateTime<Utc>,
    doer: &Doer,
    code: &str,
    name: &str,
    parent: Option<&str>,
) -> Result<Department, ApiError> {
    let code = DepartmentCode::parse(code).map_err(ApiError::BadRequest)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::BadRequest(
            "a department needs a name of 1 to 100 characters".into(),
        ));
    }
    let parent = parent
        .map(DepartmentCode::parse)
        .transpose()
        .map_err(ApiError::BadRequest)?;
    let audit = doer.record(
        now,
        "department.create",
        Some(code.to_string()),
        serde_json::json!({ "name": name, "parent": parent.as_ref().map(|p| p.as_str()) }),
    );
    Ok(store
        .create_department(&code, name, parent.as_ref(), audit)
        .await?)
}

/// A user account to create, as an operator or an admin describes it.
pub struct NewAccount<'a> {
    pub username: &'a str,
    pub department: &'a str,
    pub roles: &'a [Role],
    /// None makes an account that cannot sign in with a password.
    pub password: Option<&'a str>,
}

pub async fn create_user(
    store: &Store,
    now: DateTime<Utc>,
    doer: &Doer,
    account: NewAccount<'_>,
    cost: PasswordCost,
) -> Result<User, ApiError> {
    let NewAccount {
        username,
        department,
        roles,
        password: password_plain,
    } = account;
    let username = Username::parse(username).map_err(ApiError::BadRequest)?;
    let department = DepartmentCode::parse(department).map_err(ApiError::BadRequest)?;
    let hash = match password_plain {
        Some(p) => {
            check_password_strength(p).map_err(ApiError::BadRequest)?;
            let p = p.to_owned();
            Some(
                tokio::task::spawn_blocking(move || password::hash(&p, cost))
                    .await
                    .map_err(ApiError::internal)?
                    .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?,
            )
        }
        None => None,
    };
    let role_names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    let audit = doer.record(
        now,
        "user.create",
        Some(username.to_string()),
        serde_json::json!({ "department": department.as_str(), "roles": role_names }),
    );
    Ok(store
        .create_user(
            NewUser {
                username: &username,
                department: &department,
                roles,
                password_hash: hash.as_deref(),
            },
            audit,
        )
        .await?)
}

/// A new token for a user or an application: the plain token is returned once
/// and only its hash (and its recognisable prefix) is kept.
pub async fn create_token(
    store: &Store,
    now: DateTime<Utc>,
    doer: &Doer,
    owner: &TokenOwner,
    label: &str,
    expires_days: Option<i64>,
) -> Result<(i64, String, Option<DateTime<Utc>>), ApiError> {
    let issued = issue_token(store, now, doer, owner, label, expires_days).await?;
    Ok((issued.id, issued.token, issued.expires_at))
}

/// A token just made: the only moment its plain text exists.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IssuedToken {
    pub id: i64,
    /// The secret itself, shown once.
    pub token: String,
    pub prefix: String,
    pub label: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Check an expiry in days (1 to 3650) and turn it into a moment.
pub fn expiry(
    now: DateTime<Utc>,
    expires_days: Option<i64>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    match expires_days {
        Some(days) if !(1..=3650).contains(&days) => Err(ApiError::BadRequest(
            "expires_days must be between 1 and 3650".into(),
        )),
        Some(days) => Ok(Some(now + Duration::days(days))),
        None => Ok(None),
    }
}

/// Check a token's label: what its owner calls it, at most 100 characters.
pub fn token_label(label: &str) -> Result<String, ApiError> {
    let label = label.trim();
    if label.chars().count() > 100 {
        return Err(ApiError::BadRequest(
            "a key's label has at most 100 characters".into(),
        ));
    }
    Ok(label.to_owned())
}

pub(crate) fn owner_label(owner: &TokenOwner) -> String {
    match owner {
        TokenOwner::User(u) => format!("user:{}", u.username),
        TokenOwner::Application(a) => format!("app:{}/{}", a.department.code, a.name),
    }
}

pub async fn issue_token(
    store: &Store,
    now: DateTime<Utc>,
    doer: &Doer,
    owner: &TokenOwner,
    label: &str,
    expires_days: Option<i64>,
) -> Result<IssuedToken, ApiError> {
    let expires_at = expiry(now, expires_days)?;
    let label = token_label(label)?;
    let plain = token::generate();
    let prefix = token::prefix(&plain);
    let audit = doer.record(
        now,
        "token.create",
        Some(owner_label(owner)),
        serde_json::json!({ "label": label, "expires_at": expires_at.map(|t| t.to_rfc3339()) }),
    );
    let id = store
        .create_token(
            NewToken {
                hash: &token::hash(&plain),
                prefix: &prefix,
                owner,
                label: &label,
                created_at: now,
                expires_at,
            },
            audit,
        )
        .await?;
    Ok(IssuedToken {
        id,
        token: plain,
        prefix,
        label,
        expires_at,
    })
}

/// Register one of a department's systems as an application.
pub async fn create_application(
    store: &Store,
    now: DateTime<Utc>,
    doer: &Doer,
    department: &str,
    name: &str,
    description: &str,
) -> Result<Application, ApiError> {
    let department = DepartmentCode::parse(department).map_err(ApiError::BadRequest)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::BadRequest(
            "an application needs a name of 1 to 100 characters".into(),
        ));
    }
    let description = application_description(description)?;
    let audit = doer.record(
        now,
        "application.create",
        Some(format!("app:{department}/{name}")),
        serde_json::json!({ "description": description }),
    );
    Ok(store
        .create_application(
            NewApplication {
                department: &department,
                name,
                description: &description,
            },
            now,
            audit,
        )
        .await?)
}

/// What an application is for, in at most 500 characters.
pub fn application_description(text: &str) -> Result<String, ApiError> {
    let text = text.trim();
    if text.chars().count() > 500 {
        return Err(ApiError::BadRequest(
            "an application's description has at most 500 characters".into(),
        ));
    }
    Ok(text.to_owned())
}

pub async fn create_resource(
    store: &Store,
    now: DateTime<Utc>,
    doer: &Doer,
    department: &str,
    spec: &ResourceSpec,
) -> Result<Resource, ApiError> {
    create_resource_with_code(store, now, doer, department, spec, None).await
}

/// Register a resource under a given code (catalog import keeps the codes it
/// was exported with).
pub async fn create_resource_with_code(
    store: &Store,
    now: DateTime<Utc>,
    doer: &Doer,
    department: &str,
    spec: &ResourceSpec,
    code: Option<&str>,
) -> Result<Resource, ApiError> {
    if let Some(c) = code {
        rongshu_core::catalog::ResourceCode::parse(c).map_err(ApiError::BadRequest)?;
    }
    let audit = doer.record(
        now,
        "resource.create",
        None,
        serde_json::json!({ "name": spec.name, "items": spec.items.len() }),
    );
    let actor = CatalogActor {
        label: &doer.label,
        now,
    };
    Ok(store
        .create_resource(department, spec, code, actor, audit)
        .await?)
}

pub async fn update_resource(
    store: &Store,
    now: DateTime<Utc>,
    doer: &Doer,
    code: &str,
    spec: &ResourceSpec,
) -> Result<Resource, ApiError> {
    let audit = doer.record(now, "resource.update", None, serde_json::json!({}));
    let actor = CatalogActor {
        label: &doer.label,
        now,
    };
    Ok(store.update_resource(code, spec, actor, audit).await?)
}

pub async fn transition_resource(
    store: &Store,
    now: DateTime<Utc>,
    doer: &Doer,
    code: &str,
    transition: Transition,
    comment: Option<&str>,
) -> Result<Resource, ApiError> {
    let audit = doer.record(
        now,
        &format!("resource.{}", transition.as_str()),
        None,
        serde_json::json!({}),
    );
    let actor = CatalogActor {
        label: &doer.label,
        now,
    };
    Ok(store
        .transition_resource(code, transition, comment, actor, audit)
        .await?)
}

/// Register a data element with its authoritative department.
pub async fn create_element(
    store: &Store,
    now: DateTime<Utc>,
    doer: &Doer,
    request: NewElementRequest,
) -> Result<DataElement, ApiError> {
    let spec = ElementSpec::parse(request)?;
    let audit = doer.record(
        now,
        "element.create",
        None,
        serde_json::json!({ "name": spec.name, "authority": spec.authority.as_str() }),
    );
    let actor = CatalogActor {
        label: &doer.label,
        now,
    };
    Ok(store.create_element(&spec, actor, audit).await?)
}

/// Change a data element (its code stays): names, description, or which
/// department is its authority.
pub async fn update_element(
    store: &Store,
    now: DateTime<Utc>,
    doer: &Doer,
    code: &str,
    mut request: NewElementRequest,
) -> Result<DataElement, ApiError> {
    // A code that cannot be an element's names none.
    let code = ElementCode::parse(code)
        .map_err(|_| ApiError::NotFound(format!("data element {code} does not exist")))?;
    match request.code.as_deref().map(str::trim) {
        None | Some("") => request.code = Some(code.to_string()),
        Some(given) if given == code.as_str() => {}
        Some(given) => {
            return Err(ApiError::Unprocessable(format!(
                "code: an element's code does not change (\"{given}\" is not {code}); register a new element instead"
            )));
        }
    }
    let spec = ElementSpec::parse(request)?;
    let audit = doer.record(now, "element.update", None, serde_json::json!({}));
    let actor = CatalogActor {
        label: &doer.label,
        now,
    };
    Ok(store.update_element(&spec, actor, audit).await?)
}

/// Rejects listed inline in a report; the count covers all of them.
pub const REPORT_REJECT_CAP: usize = 1_000;
/// Rows handed from the reading thread to the loader at a time.
const CHUNK_ROWS: usize = 2_000;

enum Chunk {
    Rows(Vec<StagedRow>),
    Failures(Vec<FailureRow>),
    Done {
        rows_read: u64,
        rejects: RejectList,
        encoding: &'static str,
        ignored: Vec<String>,
        quality: Box<QualityTally>,
    },
    Fatal(IngestError),
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Reject => "reject",
        Severity::Warn => "warn",
    }
}

/// Failing rows listed inline in a batch's quality report.
pub const QUALITY_INLINE_FAILURES: usize = 100;

/// The resource's declared rules, checked against its current declaration. A
/// rule that no longer fits (an item was removed) is logged and the batch is
/// checked with the built-in rules only, rather than refused.
fn rule_set(resource: &Resource) -> Result<RuleSet, ApiError> {
    let declared: Vec<RuleSpec> =
        serde_json::from_value(resource.quality_rules.clone()).unwrap_or_default();
    match RuleSet::parse(&resource.spec, declared) {
        Ok(r) => Ok(r),
        Err(e) => {
            tracing::warn!(resource = %resource.code, error = %e, "declared quality rules no longer fit; using the built-in rules");
            RuleSet::parse(&resource.spec, Vec::new())
                .map_err(|e| ApiError::internal_msg(e.to_string()))
        }
    }
}

/// The answer to a delivered batch: its report, and what it changed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BatchOutcome {
    #[serde(flatten)]
    pub report: BatchReport,
    pub mode: BatchMode,
    pub changes: Applied,
    /// Counts per rule, the score and the first failing rows.
    pub quality: QualityTally,
    /// How this batch's quality moved since the previous batch, if there was one.
    pub comparison: Option<TallyComparison>,
}

/// Load a delivered CSV file into a resource as one batch.
pub async fn ingest_csv_file(
    store: &Store,
    now: DateTime<Utc>,
    doer: &Doer,
    resource: &Resource,
    path: &Path,
    mode: BatchMode,
) -> Result<BatchOutcome, ApiError> {
    ingest_file(store, now, doer, resource, path, BatchFormat::Csv, mode).await
}

/// Load a delivered file (CSV, JSON or XLSX) into a resource as one batch.
/// The file is parsed and checked on a blocking thread while rows stream to
/// the loader, so memory stays flat whatever the file's size (XLSX: bounded by
/// the sheet); nothing is visible until the end.
pub async fn ingest_file(
    store: &Store,
    now: DateTime<Utc>,
    doer: &Doer,
    resource: &Resource,
    path: &Path,
    format: BatchFormat,
    mode: BatchMode,
) -> Result<BatchOutcome, ApiError> {
    let spec = resource.spec.clone();
    let path_buf = path.to_path_buf();
    let rules = rule_set(resource)?;
    // Reference rules check against values already on the platform.
    let mut references = InMemoryReferences::new();
    for (target, item) in rules.references() {
        let values = store.distinct_values(target, item).await?;
        references.extend(target, item, values);
    }
    let previous = store.batches(&resource.code, 1).await?.into_iter().next();
    let previous_rows = previous.as_ref().map(|b| b.rows_loaded as u64);
    // The previous batch's tally, to compare this one with.
    let previous_quality: Option<QualityTally> = match &previous {
        Some(b) if b.state == "loaded" => store
            .batch_report(&b.batch_id)
            .await?
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|v| serde_json::from_value(v.get("quality")?.clone()).ok()),
        _ => None,
    };
    let today = now.date_naive();
    // Repeated keys and unique values are found in the staged rows once the
    // file is read, not in sets that grow with it.
    let repeat_rules = rules.repeat_rules();
    let batch_rules = rules.clone();
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Chunk>(4);
    let reader = tokio::task::spawn_blocking(move || {
        let send = |c: Chunk| sender.blocking_send(c).is_ok();
        let options = ReadOptions {
            repeated_keys: RepeatedKeys::Pass,
            ..ReadOptions::default()
        };
        let mut batch = match open_batch(format, &path_buf, &spec, &options) {
            Ok(b) => b,
            Err(e) => return send(Chunk::Fatal(e)),
        };
        let mut checker = RowChecker::new(&rules, today, &references).deferring_repeats();
        let mut tally = QualityTally::new(&rules, QUALITY_INLINE_FAILURES);
        let mut rejects = RejectList::new(REPORT_REJECT_CAP);
        let mut chunk = Vec::with_capacity(CHUNK_ROWS);
        let mut failures: Vec<FailureRow> = Vec::new();
        while let Some(outcome) = batch.next_row() {
            if failures.len() >= CHUNK_ROWS && !send(Chunk::Failures(std::mem::take(&mut failures)))
            {
                return false;
            }
            match outcome {
                Ok(RowOutcome::Accepted(mut cells)) => {
                    let verdict = checker.check(&cells);
                    tally.record_at(batch.last_row(), &verdict);
                    for v in &verdict.violations {
                        failures.push(FailureRow {
                            row: batch.last_row(),
                            key: verdict.key.clone(),
                            item: v.item.clone(),
                            value: v.value.clone(),
                            rule: v.rule.to_string(),
                            severity: severity_name(v.severity).into(),
                            reason: v.reason.clone(),
                        });
                    }
                    let status = if verdict.reject {
                        let failed = verdict
                            .violations
                            .iter()
                            .find(|v| v.severity == Severity::Reject);
                        rejects.push(Reject {
                            row: batch.last_row(),
                            key: verdict.key.clone(),
                            item: failed.and_then(|v| v.item.clone()),
                            reason: failed.map_or_else(String::new, |v| v.reason.clone()),
                        });
                        StreamStatus::Rejected
                    } else if verdict.violations.is_empty() {
                        StreamStatus::Clean
                    } else {
                        StreamStatus::Warned
                    };
                    for (i, normal) in verdict.normalized {
                        if let Some(cell) = cells.get_mut(i) {
                            *cell = Some(rongshu_core::value::CellValue::Text(normal));
                        }
                    }
                    // A rejected row is staged too: its key still counts as
                    // seen, so a later row with the same key is a repeat.
                    chunk.push(StagedRow {
                        line: batch.last_row(),
                        status,
                        key: batch.last_key().map(str::to_owned),
                        digests: verdict.digests.unwrap_or_default(),
                        cells,
                    });
                    if chunk.len() == CHUNK_ROWS
                        && !send(Chunk::Rows(std::mem::replace(
                            &mut chunk,
                            Vec::with_capacity(CHUNK_ROWS),
                        )))
                    {
                        return false;
                    }
                }
                Ok(RowOutcome::Rejected(r)) => {
                    let item = r.item.clone().unwrap_or_else(|| "row".into());
                    let violation = Violation::type_error(&item, "", r.reason.clone());
                    failures.push(FailureRow {
                        row: r.row,
                        key: r.key.clone(),
                        item: r.item.clone(),
                        value: None,
                        rule: violation.rule.to_string(),
                        severity: "reject".into(),
                        reason: r.reason.clone(),
                    });
                    tally.record_at(
                        r.row,
                        &RowVerdict::from_violations(vec![violation], r.key.clone()),
                    );
                    rejects.push(r);
                }
                Err(e) => return send(Chunk::Fatal(e)),
            }
        }
        if !chunk.is_empty() && !send(Chunk::Rows(chunk)) {
            return false;
        }
        if !failures.is_empty() && !send(Chunk::Failures(failures)) {
            return false;
        }
        send(Chunk::Done {
            rows_read: batch.rows_read(),
            rejects,
            encoding: batch.encoding(),
            ignored: batch.ignored_columns().to_vec(),
            quality: Box::new(tally),
        })
    });

    let mut writer = store
        .begin_checked_batch(resource, &doer.label, mode, now, repeat_rules.len())
        .await?;
    let outcome = loop {
        match receiver.recv().await {
            Some(Chunk::Failures(failures)) => {
                if let Err(e) = writer.push_failures(&failures).await {
                    break_with_failure(writer, &e.to_string(), now).await;
                    return Err(e.into());
                }
            }
            Some(Chunk::Rows(rows)) => {
                for row in rows {
                    if let Err(e) = writer.push_checked(row).await {
                        break_with_failure(writer, &e.to_string(), now).await;
                        return Err(e.into());
                    }
                }
            }
            Some(Chunk::Done {
                rows_read,
                rejects,
                encoding,
                ignored,
                quality,
            }) => break Ok((rows_read, rejects, encoding, ignored, quality)),
            Some(Chunk::Fatal(e)) => break Err(e),
            None => {
                break Err(IngestError::Io(std::io::Error::other(
                    "the file reader stopped unexpectedly",
                )));
            }
        }
    };
    drop(receiver);
    let _ = reader.await;
    let (rows_read, mut rejects, encoding, ignored, mut quality) = match outcome {
        Ok(v) => v,
        Err(e) => {
            break_with_failure(writer, &e.to_string(), now).await;
            return Err(match e {
                IngestError::Io(io) => ApiError::internal(io),
                other => ApiError::Unprocessable(other.to_string()),
            });
        }
    };
    let found = match writer
        .settle_repeats(&repeat_rules, QUALITY_INLINE_FAILURES, REPORT_REJECT_CAP)
        .await
    {
        Ok(found) => found,
        Err(e) => {
            break_with_failure(writer, &e.to_string(), now).await;
            return Err(e.into());
        }
    };
    crate::repeats::amend_report(&mut quality, &mut rejects, found);
    let loaded = rows_read.saturating_sub(rejects.total());
    quality.record_batch(BatchChecks::row_count_change(
        &batch_rules,
        previous_rows,
        loaded,
    ));
    let quality = Box::new(quality.finish());
    let rows_rejected = rejects.total();
    // A snapshot deletes whatever it does not name, so one that names nothing
    // (an empty or cut-off file, or one whose every row was rejected) would
    // empty the resource: almost always a mistake, never worth the risk.
    if mode == BatchMode::Replace && rows_read == rows_rejected {
        let reason = format!(
            "a full replacement with no loadable rows ({rows_read} read, {rows_rejected} rejected) would delete every row; nothing was changed"
        );
        break_with_failure(writer, &reason, now).await;
        return Err(ApiError::Unprocessable(reason));
    }
    let truncated = rows_rejected as usize > REPORT_REJECT_CAP;
    let mut report = BatchReport {
        batch_id: writer.batch_id().to_owned(),
        resource: resource.code.clone(),
        encoding: encoding.to_owned(),
        rows_read,
        rows_loaded: 0,
        rows_rejected,
        rejects: rejects.into_kept(),
        rejects_truncated: truncated,
        ignored_columns: ignored,
    };
    report.rows_loaded = rows_read - rows_rejected;
    let mut report_json = serde_json::to_value(&report).map_err(ApiError::internal)?;
    let comparison = previous_quality.as_ref().map(|p| quality.compare(p));
    if let Some(obj) = report_json.as_object_mut() {
        obj.insert(
            "quality".into(),
            serde_json::to_value(&*quality).map_err(ApiError::internal)?,
        );
        obj.insert(
            "comparison".into(),
            serde_json::to_value(&comparison).map_err(ApiError::internal)?,
        );
    }
    let mut audit = doer.record(
        now,
        "batch.load",
        Some(report.batch_id.clone()),
        serde_json::json!({ "rows_read": rows_read, "rows_rejected": rows_rejected }),
    );
    audit.resource = Some(resource.code.clone());
    audit.rows = Some(report.rows_loaded as i64);
    let changes = writer
        .finish(
            rows_read as i64,
            rows_rejected as i64,
            &report_json,
            now,
            audit,
        )
        .await?;
    report.rows_loaded = changes.rows as u64;
    crate::registry::after_batch(store, now, resource).await;
    Ok(BatchOutcome {
        report,
        mode,
        changes,
        quality: *quality,
        comparison,
    })
}

async fn break_with_failure(writer: rongshu_store::BatchWriter, reason: &str, now: DateTime<Utc>) {
    if let Err(e) = writer.fail(reason, now).await {
        tracing::error!(error = %e, "could not mark a failed batch");
    }
}
