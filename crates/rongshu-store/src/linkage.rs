//! Record-linkage jobs: the configuration a user submitted, the job's state
//! and figures, every scored pair with its evidence, and the clerical
//! reviewers' decisions on the uncertain ones.

use chrono::{DateTime, Utc};
use rongshu_core::audit::AuditRecord;
use serde::Serialize;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::audit::append_in;
use crate::db::ts;
use crate::{Store, StoreError};

/// Pairs written per INSERT statement (8 values each).
const INSERT_CHUNK: usize = 200;

#[derive(Debug, Clone, Serialize)]
pub struct LinkageJob {
    pub id: i64,
    pub created_by: String,
    /// The department the job runs for (the creator's).
    pub department: String,
    pub left_resource: String,
    pub right_resource: String,
    pub config: Value,
    /// queued → running → done | failed
    pub state: String,
    pub error: Option<String>,
    pub figures: Option<Value>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

pub struct NewLinkageJob<'a> {
    pub created_by: &'a str,
    pub department: &'a str,
    pub left_resource: &'a str,
    pub right_resource: &'a str,
    pub config: &'a Value,
}

/// A scored pair as the job stores it.
#[derive(Debug, Clone)]
pub struct NewLinkagePair {
    pub left_id: String,
    pub right_id: String,
    pub weight: f64,
    pub probability: f64,
    /// match | review | non_match
    pub class: &'static str,
    pub evidence: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct LinkagePair {
    pub pair: i64,
    pub left_id: String,
    pub right_id: String,
    pub weight: f64,
    pub probability: f64,
    pub class: String,
    pub evidence: Value,
    /// accepted | rejected, for a reviewed pair.
    pub decision: Option<String>,
    pub reviewer: Option<String>,
    pub decided_at: Option<String>,
    pub note: Option<String>,
    /// A link: scored a match, or accepted in review.
    pub linked: bool,
}

/// A reviewer's decision on one pair.
#[derive(Debug, Clone, Copy)]
pub struct LinkageDecision<'a> {
    pub accepted: bool,
    pub reviewer: &'a str,
    pub note: Option<&'a str>,
}

/// How many pairs of a job are in each class, and how review stands.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct LinkageCounts {
    pub matches: i64,
    pub review: i64,
    pub non_matches: i64,
    pub accepted: i64,
    pub rejected: i64,
    pub pending: i64,
    /// Matches plus accepted review pairs.
    pub links: i64,
}

const JOB_SELECT: &str = "SELECT id, created_by, department, left_resource, right_resource, config, state, \
     error, figures, created_at, started_at, finished_at FROM linkage_jobs";

const PAIR_SELECT: &str = "SELECT p.pair_no, p.left_id, p.right_id, p.weight, p.probability, p.class, p.evidence, \
     d.decision, d.reviewer, d.decided_at, d.note \
     FROM linkage_pairs p LEFT JOIN linkage_decisions d ON d.job_id = p.job_id AND d.pair_no = p.pair_no";

fn json(text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn job_from(row: &AnyRow) -> Result<LinkageJob, StoreError> {
    let config: String = row.try_get("config")?;
    let figures: Option<String> = row.try_get("figures")?;
    Ok(LinkageJob {
        id: row.try_get("id")?,
        created_by: row.try_get("created_by")?,
        department: row.try_get("department")?,
        left_resource: row.try_get("left_resource")?,
        right_resource: row.try_get("right_resource")?,
        config: json(&config)?,
        state: row.try_get("state")?,
        error: row.try_get("error")?,
        figures: figures.as_deref().map(json).transpose()?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

fn pair_from(row: &AnyRow) -> Result<LinkagePair, StoreError> {
    let evidence: String = row.try_get("evidence")?;
    let class: String = row.try_get("class")?;
    let decision: Option<String> = row.try_get("decision")?;
    Ok(LinkagePair {
        pair: row.try_get("pair_no")?,
        left_id: row.try_get("left_id")?,
        right_id: row.try_get("right_id")?,
        weight: row.try_get("weight")?,
        probability: row.try_get("probability")?,
        linked: class == "match" || decision.as_deref() == Some("accepted"),
        class,
        evidence: json(&evidence)?,
        decision,
        reviewer: row.try_get("reviewer")?,
        decided_at: row.try_get("decided_at")?,
        note: row.try_get("note")?,
    })
}

/// Which pairs of a job to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairClass {
    Match,
    Review,
    NonMatch,
    /// Matches and accepted review pairs.
    Linked,
}

impl PairClass {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "match" => Self::Match,
            "review" => Self::Review,
            "non_match" => Self::NonMatch,
            "link" | "linked" => Self::Linked,
            _ => return None,
        })
    }

    fn condition(self) -> &'static str {
        match self {
            Self::Match => "p.class = 'match'",
            Self::Review => "p.class = 'review'",
            Self::NonMatch => "p.class = 'non_match'",
            Self::Linked => "(p.class = 'match' OR d.decision = 'accepted')",
        }
    }
}

impl Store {
    /// A queued job, with its creation on the audit chain.
    pub async fn create_linkage_job(
        &self,
        new: NewLinkageJob<'_>,
        now: DateTime<Utc>,
        mut audit: AuditRecord,
    ) -> Result<LinkageJob, StoreError> {
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO linkage_jobs (created_by, department, left_resource, right_resource, config, state, created_at)
             VALUES ($1, $2, $3, $4, $5, 'queued', $6) RETURNING id",
        )
        .bind(new.created_by)
        .bind(new.department)
        .bind(new.left_resource)
        .bind(new.right_resource)
        .bind(new.config.to_string())
        .bind(ts(now))
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        audit.target = Some(format!("linkage_job:{id}"));
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.linkage_job(id).await
    }

    pub async fn linkage_job(&self, id: i64) -> Result<LinkageJob, StoreError> {
        let sql = format!("{JOB_SELECT} WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("linkage job {id}")))?;
        job_from(&row)
    }

    /// Jobs, newest first: all, or one department's.
    pub async fn linkage_jobs(
        &self,
        department: Option<&str>,
    ) -> Result<Vec<LinkageJob>, StoreError> {
        let rows = match department {
            Some(d) => {
                let sql = format!("{JOB_SELECT} WHERE department = $1 ORDER BY id DESC");
                sqlx::query(AssertSqlSafe(sql))
                    .bind(d)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                let sql = format!("{JOB_SELECT} ORDER BY id DESC");
                sqlx::query(AssertSqlSafe(sql))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(job_from).collect()
    }

    /// queued → running.
    pub async fn start_linkage_job(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE linkage_jobs SET state = 'running', started_at = $2 WHERE id = $1 AND state = 'queued'",
        )
        .bind(id)
        .bind(ts(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// running → failed, with the reason.
    pub async fn fail_linkage_job(
        &self,
        id: i64,
        now: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE linkage_jobs SET state = 'failed', error = $2, finished_at = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(error)
        .bind(ts(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Jobs a stopped server left queued or running can never finish: they fail.
    pub async fn fail_interrupted_linkage_jobs(
        &self,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE linkage_jobs SET state = 'failed', error = 'the server stopped while the job ran; submit it again', finished_at = $1
             WHERE state IN ('queued', 'running')",
        )
        .bind(ts(now))
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// running → done: the pairs (numbered in the order given) and the figures
    /// in one transaction, so a job is never done with half its pairs.
    pub async fn finish_linkage_job(
        &self,
        id: i64,
        now: DateTime<Utc>,
        figures: &Value,
        pairs: &[NewLinkagePair],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let mut pair_no: i64 = 0;
        for chunk in pairs.chunks(INSERT_CHUNK) {
            let mut sql = String::from(
                "INSERT INTO linkage_pairs (job_id, pair_no, left_id, right_id, weight, probability, class, evidence) VALUES ",
            );
            for i in 0..chunk.len() {
                let b = i * 8;
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7,
                    b + 8
                ));
            }
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for p in chunk {
                pair_no += 1;
                q = q
                    .bind(id)
                    .bind(pair_no)
                    .bind(p.left_id.clone())
                    .bind(p.right_id.clone())
                    .bind(p.weight)
                    .bind(p.probability)
                    .bind(p.class)
                    .bind(p.evidence.to_string());
            }
            q.execute(&mut *tx).await?;
        }
        sqlx::query(
            "UPDATE linkage_jobs SET state = 'done', figures = $2, finished_at = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(figures.to_string())
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A page of a job's pairs in pair order (best score first), after `after`.
    pub async fn linkage_pairs(
        &self,
        job: i64,
        class: Option<PairClass>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<LinkagePair>, StoreError> {
        let condition = class.map_or("1 = 1", PairClass::condition);
        let sql = format!(
            "{PAIR_SELECT} WHERE p.job_id = $1 AND p.pair_no > $2 AND {condition} ORDER BY p.pair_no LIMIT $3"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(job)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(pair_from)
            .collect()
    }

    pub async fn linkage_pair(&self, job: i64, pair: i64) -> Result<LinkagePair, StoreError> {
        let sql = format!("{PAIR_SELECT} WHERE p.job_id = $1 AND p.pair_no = $2");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(job)
            .bind(pair)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("pair {pair} of linkage job {job}")))?;
        pair_from(&row)
    }

    pub async fn linkage_counts(&self, job: i64) -> Result<LinkageCounts, StoreError> {
        let rows = sqlx::query(
            "SELECT p.class, d.decision, COUNT(*) AS n FROM linkage_pairs p
             LEFT JOIN linkage_decisions d ON d.job_id = p.job_id AND d.pair_no = p.pair_no
             WHERE p.job_id = $1 GROUP BY p.class, d.decision",
        )
        .bind(job)
        .fetch_all(&self.pool)
        .await?;
        let mut c = LinkageCounts::default();
        for row in &rows {
            let class: String = row.try_get("class")?;
            let decision: Option<String> = row.try_get("decision")?;
            let n: i64 = row.try_get("n")?;
            match class.as_str() {
                "match" => c.matches += n,
                "review" => {
                    c.review += n;
                    match decision.as_deref() {
                        Some("accepted") => c.accepted += n,
                        Some("rejected") => c.rejected += n,
                        _ => c.pending += n,
                    }
                }
                _ => c.non_matches += n,
            }
        }
        c.links = c.matches + c.accepted;
        Ok(c)
    }

    /// A reviewer's decision on a pair in review, once, with its audit event.
    /// Refused (`Conflict`) for a pair not in review or already decided.
    pub async fn decide_linkage_pair(
        &self,
        job: i64,
        pair: i64,
        decision: LinkageDecision<'_>,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<LinkagePair, StoreError> {
        let LinkageDecision {
            accepted,
            reviewer,
            note,
        } = decision;
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "SELECT p.class, d.decision, d.reviewer FROM linkage_pairs p
             LEFT JOIN linkage_decisions d ON d.job_id = p.job_id AND d.pair_no = p.pair_no
             WHERE p.job_id = $1 AND p.pair_no = $2",
        )
        .bind(job)
        .bind(pair)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("pair {pair} of linkage job {job}")))?;
        let class: String = row.try_get("class")?;
        let decided: Option<String> = row.try_get("decision")?;
        if class != "review" {
            return Err(StoreError::Conflict(format!(
                "pair {pair} is a {class}, not in review: only uncertain pairs are decided by a reviewer"
            )));
        }
        if let Some(decision) = decided {
            let by: Option<String> = row.try_get("reviewer")?;
            return Err(StoreError::Conflict(format!(
                "pair {pair} was already {decision} by {}",
                by.unwrap_or_default()
            )));
        }
        sqlx::query(
            "INSERT INTO linkage_decisions (job_id, pair_no, decision, reviewer, decided_at, note)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(job)
        .bind(pair)
        .bind(if accepted { "accepted" } else { "rejected" })
        .bind(reviewer)
        .bind(ts(now))
        .bind(note)
        .execute(&mut *tx)
        .await?;
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        self.linkage_pair(job, pair).await
    }
}
