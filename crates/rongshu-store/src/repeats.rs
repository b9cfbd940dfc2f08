//! Repeats within a batch, found in the staged table rather than in memory.
//! Every row whose key could be read is staged with its file line, what the
//! streaming checks made of it and digests of its key and unique values; once
//! the batch is read, the rows whose key (or unique value) occurs at an
//! earlier line are found with SQL, given their failures, and the rejected
//! ones are dropped before the batch is compared with the resource. Memory
//! then stays flat whatever the file's size.
//!
//! The outcome is the one the streaming checks gave when they kept every
//! digest in memory: a key claimed by any row whose cells could be typed
//! repeats it for every later row (which is rejected with that reason alone);
//! a unique value is claimed only by rows that are loaded, so a row rejected
//! for one rule does not make a later row a repeat under another.

use rongshu_core::catalog::ItemType;
use rongshu_core::quality::{RepeatRule, RowDigests, Severity};
use sqlx::{AssertSqlSafe, Row};

use crate::StoreError;
use crate::batches::{BatchWriter, FailureRow, RowCells, halves};
use crate::db::Backend;
use crate::seen_keys::{SeenKeys, Verdict};
use crate::stage::{REPEATS, STAGE_FAILURES, SUSPECTS, StageSql};

/// What the streaming checks made of a staged row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStatus {
    Clean,
    /// Loaded, with at least one warning.
    Warned,
    /// Rejected by a rule: not loaded, but its key counts as seen.
    Rejected,
}

/// `_status` of a staged row. Rows at `KEY_REPEAT` or above are not loaded.
const CLEAN: i64 = 0;
const WARNED: i64 = 1;
const REJECTED: i64 = 2;
pub(crate) const KEY_REPEAT: i64 = 3;
const UNIQUE_REPEAT: i64 = 4;

impl StreamStatus {
    pub(crate) fn code(self) -> i64 {
        match self {
            Self::Clean => CLEAN,
            Self::Warned => WARNED,
            Self::Rejected => REJECTED,
        }
    }
}

/// A checked row with what finding its repeats needs.
#[derive(Debug, Clone)]
pub struct StagedRow {
    /// The file line (the header is line 1).
    pub line: u64,
    pub status: StreamStatus,
    /// The key as the file wrote it, for the repeat's report.
    pub key: Option<String>,
    pub digests: RowDigests,
    pub cells: RowCells,
}

/// The reason a row whose key repeats is rejected with.
pub const KEY_REPEAT_REASON: &str = "the key repeats an earlier row of this batch";
/// The rule a repeated key is counted under (the reader's refusals' rule).
pub const KEY_REPEAT_RULE: &str = "type:row";

/// One rule's failures added (or, negative, taken away) by finding repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleChange {
    pub rule: String,
    pub severity: Severity,
    pub delta: i64,
}

/// How finding repeats changed the batch's outcome.
#[derive(Debug, Clone, Default)]
pub struct Repeats {
    /// Rows the streaming checks passed (clean, warned) that are now rejected.
    pub clean_rejected: u64,
    pub warned_rejected: u64,
    /// Clean rows that now carry a warning.
    pub clean_warned: u64,
    pub rules: Vec<RuleChange>,
    /// When anything changed: the batch's first failures in row order (up
    /// to the inline limit) and, per rejected row, its first rejecting
    /// failure (up to the rejects limit), for the report's lists.
    pub first_failures: Vec<FailureRow>,
    pub first_rejects: Vec<FailureRow>,
}

impl Repeats {
    pub fn changed(&self) -> bool {
        !self.rules.is_empty()
    }

    pub fn newly_rejected(&self) -> u64 {
        self.clean_rejected + self.warned_rejected
    }
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Reject => "reject",
        Severity::Warn => "warn",
    }
}

fn severity_of(name: &str) -> Severity {
    if name == "warn" {
        Severity::Warn
    } else {
        Severity::Reject
    }
}

/// An SQL string literal (the texts quoted here are ours or checked keys).
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

impl StageSql {
    /// An item's value as the report writes it, read from its staged
    /// column: its canonical text, as the row's record would have it (a
    /// first load stages no record, see `table_log`).
    fn record_value(&self, item: &str) -> String {
        let bare = item.trim_matches('"');
        let Some(at) = self.items.iter().position(|i| i.trim_matches('"') == bare) else {
            return "NULL".to_owned();
        };
        let column = &self.items[at];
        match (self.backend, self.item_types.get(at)) {
            // SQLite keeps booleans as 1 and 0.
            (Backend::Sqlite, Some(ItemType::Boolean)) => {
                format!("CASE {column} WHEN 1 THEN 'true' WHEN 0 THEN 'false' END")
            }
            _ => format!("CAST({column} AS TEXT)"),
        }
    }

    /// The key's values joined by `|`, as a failing row's key is reported.
    fn record_key(&self) -> String {
        let parts: Vec<String> = self
            .key_items
            .iter()
            .map(|k| format!("COALESCE({}, '')", self.record_value(k)))
            .collect();
        if parts.is_empty() {
            "''".to_owned()
        } else {
            parts.join(" || '|' || ")
        }
    }

    /// Values of `a`, `b` occurring on more than one row of `rows`, with the
    /// first line among `claims` that holds each.
    fn find_repeated(&self, a: &str, b: &str, rows: &str, claims: &str) -> Vec<String> {
        let stage = &self.stage;
        vec![
            format!("DROP TABLE IF EXISTS {REPEATS}"),
            format!(
                "CREATE TEMP TABLE {REPEATS} AS SELECT {a} AS a, {b} AS b, \
                 MIN(CASE WHEN {claims} THEN _line END) AS first \
                 FROM {stage} WHERE {rows} AND {a} IS NOT NULL GROUP BY {a}, {b} HAVING COUNT(*) > 1"
            ),
            format!("CREATE INDEX {REPEATS}_ab ON {REPEATS} (a, b)"),
        ]
    }

    /// Rows of `rows` whose `a`, `b` was claimed at an earlier line.
    fn is_repeat(&self, a: &str, b: &str) -> String {
        let stage = &self.stage;
        format!(
            "EXISTS (SELECT 1 FROM {REPEATS} AS r WHERE r.a = {stage}.{a} AND r.b = {stage}.{b} \
             AND r.first < {stage}._line)"
        )
    }
}

/// Rows still eligible for the uniqueness rules: loaded by the streaming
/// checks, not key repeats (`UNIQUE_REPEAT` rows are re-examined each round).
const ELIGIBLE: &str = "_status IN (0, 1, 4)";
/// Rows whose values count as seen for the uniqueness rules.
const CLAIMING: &str = "_status IN (0, 1)";

impl BatchWriter {
    /// Find the rows that repeat an earlier key or unique value (`rules`,
    /// as [`rongshu_core::quality::RuleSet::repeat_rules`] gives them, in the
    /// order their digests were staged), record their failures and take the
    /// rejected ones out of what is applied. Returns what the report must
    /// change; `inline` and `rejects` bound its lists.
    pub async fn settle_repeats(
        &mut self,
        rules: &[RepeatRule],
        inline: usize,
        rejects: usize,
    ) -> Result<Repeats, StoreError> {
        let stage = self.sql.stage.clone();
        self.stage_all().await?;
        let mut found = Repeats::default();
        if !self.checks_repeats {
            return Ok(found);
        }
        let began = std::time::Instant::now();
        if let crate::first_load::Stage::Written(written) = &self.first_load {
            // Written as read: repeats were found as the rows went in, and
            // no row that is not loaded was written.
            let inserted = written.moved;
            if self.repeats_kept > 0 {
                self.reject_key_repeats(crate::first_load::DIRECT_REPEATS, &mut found)
                    .await?;
            }
            self.rows_staged = inserted;
            if found.changed() {
                found.first_failures = self.first_failures(inline).await?;
                found.first_rejects = self.first_rejects(rejects).await?;
            }
            self.repeats_took = began.elapsed();
            self.beat().await?;
            return Ok(found);
        }
        self.key_repeats(&mut found).await?;
        if !rules.is_empty() {
            self.unique_repeats(rules, &mut found).await?;
        }
        if found.changed() || self.rejected_staged > 0 {
            // Rejected rows were staged only to claim their keys.
            self.execute(format!("DELETE FROM {stage} WHERE _status >= {REJECTED}"))
                .await?;
            self.staged_span = crate::batches::StagedSpan::Unknown;
            self.rows_staged = self
                .count(&format!("SELECT COUNT(*) AS n FROM {stage}"))
                .await?
                + self.claims_held_aside();
        }
        if found.changed() {
            found.first_failures = self.first_failures(inline).await?;
            found.first_rejects = self.first_rejects(rejects).await?;
        }
        self.execute(format!("DROP TABLE IF EXISTS {REPEATS}"))
            .await?;
        self.repeats_took = began.elapsed();
        self.beat().await?;
        Ok(found)
    }

    async fn execute(&mut self, statement: String) -> Result<u64, StoreError> {
        Ok(sqlx::query(AssertSqlSafe(statement))
            .execute(&mut *self.conn)
            .await?
            .rows_affected())
    }

    async fn count(&mut self, statement: &str) -> Result<i64, StoreError> {
        let row = sqlx::query(AssertSqlSafe(statement.to_owned()))
            .fetch_one(&mut *self.conn)
            .await?;
        Ok(row.try_get::<Option<i64>, _>("n")?.unwrap_or(0))
    }

    /// Later rows with a key already seen: rejected for that alone, their
    /// other failures taken back.
    async fn key_repeats(&mut self, found: &mut Repeats) -> Result<(), StoreError> {
        let stage = self.sql.stage.clone();
        // Every staged row claims its key, rejected by a rule or not. Of a
        // key staged twice the second row is a suspect, so only suspects'
        // keys can repeat. Most suspects are the filter's mistakes; the
        // digests noted say which keys really came twice.
        if let Some(seen) = self.seen_keys.as_mut() {
            seen.confirm();
        }
        let suspects: Option<Vec<u128>> = match self.seen_keys.as_ref().map(SeenKeys::verdict) {
            Some(Verdict::NoRepeats) => return Ok(()),
            Some(Verdict::Suspects(list)) => Some(list.to_vec()),
            Some(Verdict::Unknown) | None => None,
        };
        // A key may repeat: every row must claim its key in the table.
        self.stage_claims_held_aside().await?;
        let rows = match suspects {
            Some(list) => {
                self.stage_suspects(&list).await?;
                format!("(_k1, _k2) IN (SELECT a, b FROM {SUSPECTS})")
            }
            None => "1 = 1".to_owned(),
        };
        for statement in self.sql.find_repeated("_k1", "_k2", &rows, "1 = 1") {
            self.execute(statement).await?;
        }
        if self
            .count(&format!("SELECT COUNT(*) AS n FROM {REPEATS}"))
            .await?
            == 0
        {
            return Ok(());
        }
        let repeat = self.sql.is_repeat("_k1", "_k2");
        let marked = self
            .execute(format!(
                "UPDATE {stage} SET _prior = _status, _status = {KEY_REPEAT} WHERE {repeat}"
            ))
            .await?;
        if marked == 0 {
            return Ok(());
        }
        self.reject_key_repeats(&stage, found).await
    }

    /// The rows of `stage` marked as key repeats: rejected for that alone,
    /// their other failures taken back.
    async fn reject_key_repeats(
        &mut self,
        stage: &str,
        found: &mut Repeats,
    ) -> Result<(), StoreError> {
        let shifted = sqlx::query(AssertSqlSafe(format!(
            "SELECT _prior, COUNT(*) AS n FROM {stage} WHERE _status = {KEY_REPEAT} GROUP BY _prior"
        )))
        .fetch_all(&mut *self.conn)
        .await?;
        for row in &shifted {
            let prior: Option<i64> = row.try_get("_prior")?;
            let n: i64 = row.try_get("n")?;
            match prior {
                Some(CLEAN) => found.clean_rejected += n as u64,
                Some(WARNED) => found.warned_rejected += n as u64,
                _ => {}
            }
        }
        // The failures the streaming checks found on these rows are taken
        // back: a repeated key is the one reason such a row is given.
        let lines = format!("SELECT _line FROM {stage} WHERE _status = {KEY_REPEAT}");
        let taken = sqlx::query(AssertSqlSafe(format!(
            "SELECT rule, severity, COUNT(*) AS n FROM {STAGE_FAILURES} \
             WHERE row_number IN ({lines}) GROUP BY rule, severity"
        )))
        .fetch_all(&mut *self.conn)
        .await?;
        for row in &taken {
            let rule: String = row.try_get("rule")?;
            let severity: String = row.try_get("severity")?;
            let n: i64 = row.try_get("n")?;
            found.rules.push(RuleChange {
                rule,
                severity: severity_of(&severity),
                delta: -n,
            });
        }
        self.execute(format!(
            "DELETE FROM {STAGE_FAILURES} WHERE row_number IN ({lines})"
        ))
        .await?;
        let n = self.failure_number(0);
        let added = self
            .execute(format!(
                "INSERT INTO {STAGE_FAILURES} (n, row_number, row_key, item, value, rule, severity, reason) \
                 SELECT {n}, _line, _key, NULL, NULL, {}, 'reject', {} FROM {stage} WHERE _status = {KEY_REPEAT}",
                literal(KEY_REPEAT_RULE),
                literal(KEY_REPEAT_REASON)
            ))
            .await?;
        found.rules.push(RuleChange {
            rule: KEY_REPEAT_RULE.to_owned(),
            severity: Severity::Reject,
            delta: added as i64,
        });
        Ok(())
    }

    /// The suspected keys' digests, as the staged rows hold them, in a
    /// temporary table of their own.
    async fn stage_suspects(&mut self, digests: &[u128]) -> Result<(), StoreError> {
        let integer = self.sql.integer();
        self.execute(format!("DROP TABLE IF EXISTS {SUSPECTS}"))
            .await?;
        self.execute(format!(
            "CREATE TEMP TABLE {SUSPECTS} (a {integer} NOT NULL, b {integer} NOT NULL)"
        ))
        .await?;
        // Two numbers each, well under both databases' limit on parameters;
        // anonymous on SQLite, as `StageSql::insert_rows` says why.
        for run in digests.chunks(5_000) {
            let marks: Vec<String> = (0..run.len())
                .map(|i| match self.sql.backend {
                    Backend::Sqlite => "(?, ?)".to_owned(),
                    Backend::Postgres => format!("(${}, ${})", 2 * i + 1, 2 * i + 2),
                })
                .collect();
            let statement = format!("INSERT INTO {SUSPECTS} (a, b) VALUES {}", marks.join(", "));
            let mut insert = sqlx::query(AssertSqlSafe(statement));
            for &digest in run {
                let (a, b) = halves(digest);
                insert = insert.bind(a).bind(b);
            }
            insert.execute(&mut *self.conn).await?;
        }
        Ok(())
    }

    /// Numbers for failures found here: after every streamed one, in the
    /// order of their rows and, within a row, of the rules (`slot` 0 is the
    /// key, rule `u` is `u + 1`).
    fn failure_number(&self, slot: usize) -> String {
        let per_row = self.sql.unique_rules + 1;
        format!("{} + _line * {per_row} + {slot}", self.failures_written + 1)
    }

    /// Rows whose unique values were claimed by an earlier loaded row.
    async fn unique_repeats(
        &mut self,
        rules: &[RepeatRule],
        found: &mut Repeats,
    ) -> Result<(), StoreError> {
        let stage = self.sql.stage.clone();
        let rejecting: Vec<usize> = (0..rules.len())
            .filter(|&u| rules[u].severity == Severity::Reject)
            .collect();
        let warning: Vec<usize> = (0..rules.len())
            .filter(|&u| rules[u].severity == Severity::Warn)
            .collect();
        // A row rejected under one rule claims no value under another, which
        // can free a later row; rounds repeat until nothing moves. One
        // rejecting rule settles in one round (the first row holding a value
        // always claims it).
        loop {
            for &u in &rejecting {
                self.mark_rule(u).await?;
            }
            let any: Vec<String> = rejecting.iter().map(|u| format!("_d{u} = 1")).collect();
            let any = if any.is_empty() {
                "1 = 0".to_owned()
            } else {
                any.join(" OR ")
            };
            let rejected = self
                .execute(format!(
                    "UPDATE {stage} SET _prior = _status, _status = {UNIQUE_REPEAT} \
                     WHERE {CLAIMING} AND ({any})"
                ))
                .await?;
            let freed = self
                .execute(format!(
                    "UPDATE {stage} SET _status = _prior WHERE _status = {UNIQUE_REPEAT} AND NOT ({any})"
                ))
                .await?;
            if rejecting.len() <= 1 || rejected + freed == 0 {
                break;
            }
        }
        for &u in &warning {
            self.mark_rule(u).await?;
        }
        let warned: Vec<String> = warning.iter().map(|u| format!("_d{u} = 1")).collect();
        if !warned.is_empty() {
            found.clean_warned += self
                .count(&format!(
                    "SELECT COUNT(*) AS n FROM {stage} WHERE _status = {CLEAN} AND ({})",
                    warned.join(" OR ")
                ))
                .await? as u64;
        }
        let shifted = sqlx::query(AssertSqlSafe(format!(
            "SELECT _prior, COUNT(*) AS n FROM {stage} WHERE _status = {UNIQUE_REPEAT} GROUP BY _prior"
        )))
        .fetch_all(&mut *self.conn)
        .await?;
        for row in &shifted {
            let prior: Option<i64> = row.try_get("_prior")?;
            let n: i64 = row.try_get("n")?;
            match prior {
                Some(CLEAN) => found.clean_rejected += n as u64,
                Some(WARNED) => found.warned_rejected += n as u64,
                _ => {}
            }
        }
        let key = self.sql.record_key();
        for (u, rule) in rules.iter().enumerate() {
            let n = self.failure_number(u + 1);
            let value = self.sql.record_value(&rule.item);
            let added = self
                .execute(format!(
                    "INSERT INTO {STAGE_FAILURES} (n, row_number, row_key, item, value, rule, severity, reason) \
                     SELECT {n}, _line, {key}, {}, {value}, {}, {}, {} FROM {stage} \
                     WHERE {ELIGIBLE} AND _d{u} = 1",
                    literal(&rule.item),
                    literal(rule.id.as_str()),
                    literal(severity_name(rule.severity)),
                    literal(&rule.reason)
                ))
                .await?;
            if added > 0 {
                found.rules.push(RuleChange {
                    rule: rule.id.as_str().to_owned(),
                    severity: rule.severity,
                    delta: added as i64,
                });
            }
        }
        Ok(())
    }

    /// Set `_d{u}` on the eligible rows whose value of rule `u` a claiming
    /// row holds at an earlier line.
    async fn mark_rule(&mut self, u: usize) -> Result<(), StoreError> {
        let stage = self.sql.stage.clone();
        let (a, b) = (format!("_u{u}a"), format!("_u{u}b"));
        self.execute(format!("UPDATE {stage} SET _d{u} = 0 WHERE _d{u} = 1"))
            .await?;
        for statement in self.sql.find_repeated(&a, &b, ELIGIBLE, CLAIMING) {
            self.execute(statement).await?;
        }
        if self
            .count(&format!("SELECT COUNT(*) AS n FROM {REPEATS}"))
            .await?
            == 0
        {
            return Ok(());
        }
        let repeat = self.sql.is_repeat(&a, &b);
        self.execute(format!(
            "UPDATE {stage} SET _d{u} = 1 WHERE {ELIGIBLE} AND {repeat}"
        ))
        .await?;
        Ok(())
    }

    async fn first_failures(&mut self, limit: usize) -> Result<Vec<FailureRow>, StoreError> {
        self.failures_where(&format!(
            "SELECT row_number, row_key, item, value, rule, severity, reason FROM {STAGE_FAILURES} \
                 ORDER BY row_number, n LIMIT {limit}"
        ))
        .await
    }

    async fn first_rejects(&mut self, limit: usize) -> Result<Vec<FailureRow>, StoreError> {
        self.failures_where(&format!(
            "SELECT row_number, row_key, item, value, rule, severity, reason FROM \
             (SELECT f.*, ROW_NUMBER() OVER (PARTITION BY row_number ORDER BY n) AS k \
              FROM {STAGE_FAILURES} AS f WHERE severity = 'reject') AS firsts \
             WHERE k = 1 ORDER BY row_number LIMIT {limit}"
        ))
        .await
    }

    async fn failures_where(&mut self, statement: &str) -> Result<Vec<FailureRow>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(statement.to_owned()))
            .fetch_all(&mut *self.conn)
            .await?;
        rows.iter()
            .map(|r| {
                let row: i64 = r.try_get("row_number")?;
                Ok(FailureRow {
                    row: row as u64,
                    key: r.try_get("row_key")?,
                    item: r.try_get("item")?,
                    value: r.try_get("value")?,
                    rule: r.try_get("rule")?,
                    severity: r.try_get("severity")?,
                    reason: r.try_get("reason")?,
                })
            })
            .collect()
    }
}
