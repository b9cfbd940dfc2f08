//! Verifying subjects chunk by chunk: read what is needed for a chunk, let
//! the pure verifier decide, write only what changed.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use rongshu_core::registry::{
    Classification, Conflict, Context, Normalised, Observation, RepresentativeFacts, SubjectKind,
    ValueKind, normalise, verify_subject,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Row};

use super::refresh::{Feed, Touched};
use super::{CHUNK, Names, param, placeholders};
use crate::db::ts;
use crate::{Store, StoreError};

/// What a verification run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyStats {
    pub resources: usize,
    pub subjects: u64,
    /// Subjects whose inputs changed since they were last verified.
    pub changed: u64,
    pub golden_written: u64,
    pub tickets_opened: u64,
    pub tickets_closed: u64,
    /// Witness values by how they stood against the record.
    pub classified: BTreeMap<String, u64>,
}

/// How a verification run works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryRun {
    /// Tickets it opens are due this many working days on.
    pub due_working_days: u32,
    /// Roughly how much memory it may hold, in MiB: it reads pages and
    /// chunks of fixed size, and keeps a list of the subjects a batch
    /// touched only while the list fits in a quarter of this.
    pub memory_mib: u64,
}

impl RegistryRun {
    pub const DEFAULT_MEMORY_MIB: u64 = 256;

    pub fn new(due_working_days: u32) -> Self {
        RegistryRun {
            due_working_days,
            memory_mib: Self::DEFAULT_MEMORY_MIB,
        }
    }
}

/// Rows per multi-row statement (10 values each).
const WRITE_ROWS: usize = 300;

/// A golden value as stored before this run.
struct Old {
    value: String,
    resource_id: i64,
    row_key: String,
    batch_id: i64,
    valid_from: String,
}

/// A golden value to write.
struct NewGolden<'a> {
    key: &'a String,
    golden: &'a rongshu_core::registry::GoldenValue,
    resource_id: i64,
    item: Option<String>,
    valid_from: String,
}

/// A ticket already there for a subject, as verification needs it.
struct Existing {
    id: i64,
    conflict_key: String,
    state: String,
    kind: String,
}

impl Store {
    /// The authoritative department of every element.
    pub(crate) async fn authorities(&self) -> Result<HashMap<String, String>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.code, d.code AS d_code FROM data_elements e JOIN departments d ON d.id = e.authority_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("code")?, r.try_get("d_code")?)))
            .collect()
    }

    /// Verify the whole registry: every feeding resource's observations
    /// brought up to date, then every person, then every entity (whose checks
    /// read the population registry). Idempotent: a second run finds every
    /// subject's digest unchanged and writes nothing.
    pub async fn verify_registry(
        &self,
        now: DateTime<Utc>,
        run: RegistryRun,
    ) -> Result<VerifyStats, StoreError> {
        let feeds = self.registry_feeds().await?;
        let mut stats = VerifyStats {
            resources: feeds.len(),
            ..VerifyStats::default()
        };
        for feed in &feeds {
            self.refresh_observations(feed, run.memory_mib).await?;
        }
        self.verify_every_subject(now, run, &mut stats).await?;
        Ok(stats)
    }

    /// Every person, then every entity, in key order a chunk at a time.
    async fn verify_every_subject(
        &self,
        now: DateTime<Utc>,
        run: RegistryRun,
        stats: &mut VerifyStats,
    ) -> Result<(), StoreError> {
        let names = Names::load(self).await?;
        let authorities = self.authorities().await?;
        let due = self.ticket_due(now, run.due_working_days).await?;
        for kind in [SubjectKind::Person, SubjectKind::Entity] {
            let mut last = String::new();
            loop {
                let rows = sqlx::query(
                    "SELECT DISTINCT subject_key FROM registry_observations WHERE subject_kind = $1 AND subject_key > $2 \
                     ORDER BY subject_key LIMIT $3",
                )
                .bind(kind.as_str())
                .bind(&last)
                .bind(CHUNK as i64)
                .fetch_all(&self.pool)
                .await?;
                let keys: Vec<String> = rows
                    .iter()
                    .map(|r| r.try_get("subject_key"))
                    .collect::<Result<_, _>>()?;
                let Some(end) = keys.last() else { break };
                last = end.clone();
                self.verify_chunk(kind, &keys, &authorities, &names, now, &due, stats)
                    .await?;
            }
        }
        Ok(())
    }

    /// Verify after a batch of one resource: its observations are brought up
    /// to date and only the subjects they touch are verified again (with the
    /// entities whose legal representative is among them). `None` when the
    /// resource feeds no registry.
    pub async fn verify_after_batch(
        &self,
        resource_code: &str,
        now: DateTime<Utc>,
        run: RegistryRun,
    ) -> Result<Option<VerifyStats>, StoreError> {
        let resource = self.resource(resource_code).await?;
        let Some(feed) = Feed::of(&resource) else {
            return Ok(None);
        };
        let mut stats = VerifyStats {
            resources: 1,
            ..VerifyStats::default()
        };
        let touched = match self.refresh_observations(&feed, run.memory_mib).await? {
            Touched::Subjects(touched) => touched,
            // A batch that changed more subjects than the budget lists (a
            // first load, a full snapshot): walk them all, as a full run does.
            Touched::Everything => {
                self.verify_every_subject(now, run, &mut stats).await?;
                return Ok(Some(stats));
            }
        };
        let names = Names::load(self).await?;
        let authorities = self.authorities().await?;
        let due = self.ticket_due(now, run.due_working_days).await?;
        let persons: Vec<String> = touched
            .iter()
            .filter(|(k, _)| *k == SubjectKind::Person)
            .map(|(_, key)| key.clone())
            .collect();
        let mut entities: BTreeSet<String> = touched
            .iter()
            .filter(|(k, _)| *k == SubjectKind::Entity)
            .map(|(_, key)| key.clone())
            .collect();
        for chunk in persons.chunks(CHUNK) {
            self.verify_chunk(
                SubjectKind::Person,
                chunk,
                &authorities,
                &names,
                now,
                &due,
                &mut stats,
            )
            .await?;
            let sql = format!(
                "SELECT DISTINCT subject_key FROM registry_observations WHERE element = 'entity.legal_representative_id' AND value IN ({})",
                placeholders(self.backend, 1, chunk.len())
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for key in chunk {
                q = q.bind(key.as_str());
            }
            for row in q.fetch_all(&self.pool).await? {
                entities.insert(row.try_get("subject_key")?);
            }
        }
        // A new or changed entity settles its employees' employer check.
        let touched_entities: Vec<String> = entities.iter().cloned().collect();
        let mut employees: BTreeSet<String> = BTreeSet::new();
        for chunk in touched_entities.chunks(CHUNK) {
            let sql = format!(
                "SELECT DISTINCT subject_key FROM registry_observations WHERE element = 'person.employer_uscc' AND value IN ({})",
                placeholders(self.backend, 1, chunk.len())
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for key in chunk {
                q = q.bind(key.as_str());
            }
            for row in q.fetch_all(&self.pool).await? {
                employees.insert(row.try_get("subject_key")?);
            }
        }
        let verified: HashSet<&String> = persons.iter().collect();
        let employees: Vec<String> = employees
            .into_iter()
            .filter(|k| !verified.contains(k))
            .collect();
        for chunk in employees.chunks(CHUNK) {
            self.verify_chunk(
                SubjectKind::Person,
                chunk,
                &authorities,
                &names,
                now,
                &due,
                &mut stats,
            )
            .await?;
        }
        let entities: Vec<String> = entities.into_iter().collect();
        for chunk in entities.chunks(CHUNK) {
            self.verify_chunk(
                SubjectKind::Entity,
                chunk,
                &authorities,
                &names,
                now,
                &due,
                &mut stats,
            )
            .await?;
        }
        Ok(Some(stats))
    }

    #[allow(clippy::too_many_arguments)]
    async fn verify_chunk(
        &self,
        kind: SubjectKind,
        keys: &[String],
        authorities: &HashMap<String, String>,
        names: &Names,
        now: DateTime<Utc>,
        due: &str,
        stats: &mut VerifyStats,
    ) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let kind_s = kind.as_str();
        let in_keys = placeholders(self.backend, 2, keys.len());
        let p1 = param(self.backend, 1);
        let bind_keys = |sql: String| {
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(kind_s);
            for k in keys {
                q = q.bind(k.as_str());
            }
            q
        };
        let mut observations: BTreeMap<String, Vec<Observation>> =
            keys.iter().map(|k| (k.clone(), Vec::new())).collect();
        let rows = bind_keys(format!(
            "SELECT resource_id, row_key, element, subject_key, department, item, batch_id, value FROM registry_observations \
             WHERE subject_kind = {p1} AND subject_key IN ({in_keys}) ORDER BY subject_key, element, resource_id, row_key"
        ))
        .fetch_all(&self.pool)
        .await?;
        // Columns by position: the hot loop of a run.
        for row in &rows {
            let key: String = row.try_get(3)?;
            let department: String = row.try_get(4)?;
            let row_key: String = row.try_get(1)?;
            let source = names.source_of_item(
                row.try_get(0)?,
                &department,
                row.try_get(5)?,
                &row_key,
                row.try_get(6)?,
            );
            observations.entry(key).or_default().push(Observation {
                element: row.try_get(2)?,
                value: row.try_get(7)?,
                source,
            });
        }
        let contexts = self
            .contexts(kind, &observations, authorities, names)
            .await?;
        let mut digests: HashMap<String, String> = HashMap::new();
        for row in bind_keys(format!(
            "SELECT subject_key, digest FROM registry_subjects WHERE subject_kind = {p1} AND subject_key IN ({in_keys})"
        ))
        .fetch_all(&self.pool)
        .await?
        {
            digests.insert(row.try_get("subject_key")?, row.try_get("digest")?);
        }
        // A change of authority changes every record that element is in.
        let mut pairs: Vec<(&String, &String)> = authorities.iter().collect();
        pairs.sort();
        let authority_digest = format!("{pairs:?}");
        let empty = Context::default();
        let mut changed = Vec::new();
        for (key, obs) in &observations {
            stats.subjects += 1;
            let context = contexts.get(key).unwrap_or(&empty);
            let digest = digest_of(obs, context, &authority_digest);
            if digests.get(key) == Some(&digest) {
                continue;
            }
            let verified = verify_subject(kind, key, obs, authorities, context);
            for (class, n) in &verified.tally {
                *stats
                    .classified
                    .entry(class_name(*class).to_owned())
                    .or_default() += n;
            }
            changed.push((key.clone(), digest, verified));
        }
        if changed.is_empty() {
            return Ok(());
        }
        stats.changed += changed.len() as u64;
        let changed_keys: Vec<&str> = changed.iter().map(|(k, ..)| k.as_str()).collect();
        let in_changed = placeholders(self.backend, 2, changed_keys.len());
        let bind_changed = |sql: String| {
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(kind_s);
            for k in &changed_keys {
                q = q.bind(*k);
            }
            q
        };
        let mut golden: HashMap<String, HashMap<String, Old>> = HashMap::new();
        for row in bind_changed(format!(
            "SELECT subject_key, element, value, resource_id, row_key, batch_id, valid_from FROM registry_values \
             WHERE subject_kind = {p1} AND subject_key IN ({in_changed})"
        ))
        .fetch_all(&self.pool)
        .await?
        {
            golden.entry(row.try_get("subject_key")?).or_default().insert(
                row.try_get("element")?,
                Old {
                    value: row.try_get("value")?,
                    resource_id: row.try_get("resource_id")?,
                    row_key: row.try_get("row_key")?,
                    batch_id: row.try_get("batch_id")?,
                    valid_from: row.try_get("valid_from")?,
                },
            );
        }
        let mut tickets: HashMap<String, Vec<Existing>> = HashMap::new();
        for row in bind_changed(format!(
            "SELECT id, subject_key, conflict_key, state, kind FROM correction_tickets \
             WHERE subject_kind = {p1} AND subject_key IN ({in_changed}) AND state IN ('open', 'correcting', 'disputed', 'confirmed')"
        ))
        .fetch_all(&self.pool)
        .await?
        {
            tickets.entry(row.try_get("subject_key")?).or_default().push(Existing {
                id: row.try_get("id")?,
                conflict_key: row.try_get("conflict_key")?,
                state: row.try_get("state")?,
                kind: row.try_get("kind")?,
            });
        }
        let resource_ids: HashMap<&str, i64> = names
            .resources
            .iter()
            .map(|(id, (code, _))| (code.as_str(), *id))
            .collect();
        let now_s = ts(now);
        // Decide every write first, then send them in multi-row statements.
        let mut upserts: Vec<NewGolden<'_>> = Vec::new();
        let mut histories: Vec<(&str, String, &Old)> = Vec::new();
        let mut removals: Vec<(&str, String)> = Vec::new();
        let mut closes: Vec<i64> = Vec::new();
        let mut opens: Vec<&Conflict> = Vec::new();
        let empty_old = HashMap::new();
        for (key, _, verified) in &changed {
            let olds = golden.get(key).unwrap_or(&empty_old);
            let mut seen = HashSet::new();
            for g in &verified.golden {
                seen.insert(g.element.as_str());
                let resource_id = resource_ids
                    .get(g.source.resource.as_str())
                    .copied()
                    .unwrap_or(0);
                let old = olds.get(&g.element);
                let same = old.is_some_and(|o| {
                    o.value == g.value
                        && o.resource_id == resource_id
                        && o.row_key == g.source.row_key
                        && o.batch_id == g.source.batch_seq
                });
                if same {
                    continue;
                }
                if let Some(old) = old.filter(|o| o.value != g.value) {
                    histories.push((key.as_str(), g.element.clone(), old));
                }
                let valid_from = match old {
                    Some(o) if o.value == g.value => o.valid_from.clone(),
                    _ => now_s.clone(),
                };
                let item = Some(g.source.item.clone()).filter(|i| !i.is_empty());
                upserts.push(NewGolden {
                    key,
                    golden: g,
                    resource_id,
                    item,
                    valid_from,
                });
            }
            for (element, old) in olds.iter().filter(|(e, _)| !seen.contains(e.as_str())) {
                histories.push((key.as_str(), element.clone(), old));
                removals.push((key.as_str(), element.clone()));
            }
            // Tickets: a conflict no longer found is corrected; a new one opened.
            let current: HashSet<&str> = verified
                .conflicts
                .iter()
                .map(|c| c.conflict_key.as_str())
                .collect();
            let existing = tickets.get(key).map_or(&[][..], Vec::as_slice);
            for t in existing {
                let pending = matches!(t.state.as_str(), "open" | "correcting" | "disputed");
                if pending
                    && t.kind != "citizen_dispute"
                    && !current.contains(t.conflict_key.as_str())
                {
                    closes.push(t.id);
                }
            }
            for c in &verified.conflicts {
                if !existing.iter().any(|t| t.conflict_key == c.conflict_key) {
                    opens.push(c);
                }
            }
        }
        let mut tx = self.begin_write().await?;
        for (key, element, old) in &histories {
            history(&mut tx, kind_s, key, element, old, &now_s).await?;
        }
        for (key, element) in &removals {
            sqlx::query("DELETE FROM registry_values WHERE subject_kind = $1 AND subject_key = $2 AND element = $3")
                .bind(kind_s)
                .bind(*key)
                .bind(element.as_str())
                .execute(&mut *tx)
                .await?;
        }
        for chunk in upserts.chunks(WRITE_ROWS) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| format!("({})", placeholders(self.backend, i * 10 + 1, 10)))
                .collect();
            let sql = format!(
                "INSERT INTO registry_values (subject_kind, subject_key, element, value, department, resource_id, item, row_key, batch_id, valid_from) \
                 VALUES {} ON CONFLICT (subject_kind, subject_key, element) DO UPDATE SET value = excluded.value, \
                 department = excluded.department, resource_id = excluded.resource_id, item = excluded.item, \
                 row_key = excluded.row_key, batch_id = excluded.batch_id, valid_from = excluded.valid_from",
                rows.join(", ")
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for u in chunk {
                q = q
                    .bind(kind_s)
                    .bind(u.key.as_str())
                    .bind(u.golden.element.as_str())
                    .bind(u.golden.value.as_str())
                    .bind(u.golden.source.department.as_str())
                    .bind(u.resource_id)
                    .bind(u.item.clone())
                    .bind(u.golden.source.row_key.as_str())
                    .bind(u.golden.source.batch_seq)
                    .bind(u.valid_from.as_str());
            }
            q.execute(&mut *tx).await?;
        }
        stats.golden_written += upserts.len() as u64;
        for id in &closes {
            sqlx::query(
                "UPDATE correction_tickets SET state = 'corrected', outcome = $1, updated_at = $2, closed_at = $2 \
                 WHERE id = $3 AND state IN ('open', 'correcting', 'disputed')",
            )
            .bind("verification no longer finds the conflict: a later batch carries the fix")
            .bind(&now_s)
            .bind(*id)
            .execute(&mut *tx)
            .await?;
        }
        stats.tickets_closed += closes.len() as u64;
        for c in &opens {
            insert_ticket(&mut tx, c, due, &now_s).await?;
        }
        stats.tickets_opened += opens.len() as u64;
        for chunk in changed.chunks(WRITE_ROWS) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| format!("({})", placeholders(self.backend, i * 5 + 1, 5)))
                .collect();
            let sql = format!(
                "INSERT INTO registry_subjects (subject_kind, subject_key, digest, org_code, verified_at) VALUES {} \
                 ON CONFLICT (subject_kind, subject_key) DO UPDATE SET digest = excluded.digest, \
                 org_code = excluded.org_code, verified_at = excluded.verified_at",
                rows.join(", ")
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (key, digest, _) in chunk {
                let org_code = match kind {
                    SubjectKind::Entity => key.get(8..17).map(str::to_owned),
                    SubjectKind::Person => None,
                };
                q = q
                    .bind(kind_s)
                    .bind(key.as_str())
                    .bind(digest.as_str())
                    .bind(org_code)
                    .bind(now_s.as_str());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// What the other registry says that a chunk's checks need.
    async fn contexts(
        &self,
        kind: SubjectKind,
        observations: &BTreeMap<String, Vec<Observation>>,
        authorities: &HashMap<String, String>,
        names: &Names,
    ) -> Result<HashMap<String, Context>, StoreError> {
        let mut out: HashMap<String, Context> = HashMap::new();
        match kind {
            SubjectKind::Person => {
                let mut wanted: BTreeSet<String> = BTreeSet::new();
                for obs in observations.values() {
                    for o in obs
                        .iter()
                        .filter(|o| ValueKind::of_element(&o.element) == ValueKind::Uscc)
                    {
                        if let Normalised::Value(v) = normalise(ValueKind::Uscc, &o.value) {
                            wanted.insert(v);
                        }
                    }
                }
                if wanted.is_empty() {
                    return Ok(out);
                }
                let authority = authorities.get("entity.uscc").cloned().unwrap_or_default();
                let covered = names.covered_authorities.clone();
                let wanted: Vec<String> = wanted.into_iter().collect();
                let mut known = HashSet::new();
                for chunk in wanted.chunks(CHUNK) {
                    let sql = format!(
                        "SELECT DISTINCT subject_key FROM registry_observations WHERE subject_kind = 'entity' \
                         AND element = 'entity.uscc' AND department = {} AND subject_key IN ({})",
                        param(self.backend, 1),
                        placeholders(self.backend, 2, chunk.len())
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql)).bind(authority.as_str());
                    for k in chunk {
                        q = q.bind(k.as_str());
                    }
                    for row in q.fetch_all(&self.pool).await? {
                        known.insert(row.try_get::<String, _>("subject_key")?);
                    }
                }
                for (key, obs) in observations {
                    let mine: HashSet<String> = obs
                        .iter()
                        .filter(|o| ValueKind::of_element(&o.element) == ValueKind::Uscc)
                        .filter_map(|o| match normalise(ValueKind::Uscc, &o.value) {
                            Normalised::Value(v) if known.contains(&v) => Some(v),
                            _ => None,
                        })
                        .collect();
                    out.insert(
                        key.clone(),
                        Context {
                            known_entities: mine,
                            covered_authorities: covered.clone(),
                            ..Context::default()
                        },
                    );
                }
            }
            SubjectKind::Entity => {
                let mut rep_of: HashMap<String, String> = HashMap::new();
                for (key, obs) in observations {
                    let authority = authorities.get("entity.legal_representative_id");
                    if let Some(o) = obs.iter().find(|o| {
                        o.element == "entity.legal_representative_id"
                            && Some(&o.source.department) == authority
                    }) {
                        rep_of.insert(key.clone(), SubjectKind::Person.key_of(&o.value));
                    }
                }
                let reps: Vec<String> = rep_of
                    .values()
                    .cloned()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let mut facts: HashMap<String, RepresentativeFacts> = HashMap::new();
                for chunk in reps.chunks(CHUNK) {
                    let sql = format!(
                        "SELECT subject_key, element, value, department, resource_id, row_key, batch_id FROM registry_values \
                         WHERE subject_kind = 'person' AND element IN ('person.name', 'person.vital_status', 'person.death_date') \
                         AND subject_key IN ({})",
                        placeholders(self.backend, 1, chunk.len())
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql));
                    for k in chunk {
                        q = q.bind(k.as_str());
                    }
                    for row in q.fetch_all(&self.pool).await? {
                        let key: String = row.try_get("subject_key")?;
                        let element: String = row.try_get("element")?;
                        let value: String = row.try_get("value")?;
                        let department: String = row.try_get("department")?;
                        let row_key: String = row.try_get("row_key")?;
                        let source = names.source(
                            row.try_get("resource_id")?,
                            &department,
                            &row_key,
                            row.try_get("batch_id")?,
                        );
                        let f = facts.entry(key).or_default();
                        match element.as_str() {
                            "person.name" => f.name = Some((value, source)),
                            "person.death_date" => f.deceased = Some(source),
                            _ => {
                                if normalise(ValueKind::VitalStatus, &value)
                                    == Normalised::Value("deceased".into())
                                {
                                    f.deceased = Some(source);
                                }
                            }
                        }
                    }
                }
                for (key, rep) in rep_of {
                    if let Some(f) = facts.get(&rep) {
                        out.insert(
                            key,
                            Context {
                                representative: Some(f.clone()),
                                ..Context::default()
                            },
                        );
                    }
                }
            }
        }
        Ok(out)
    }
}

fn class_name(c: Classification) -> &'static str {
    match c {
        Classification::Record => "record",
        Classification::Agrees => "agrees",
        Classification::Differs => "differs",
        Classification::WitnessNewer => "witness_newer",
        Classification::WitnessStale => "witness_stale",
        Classification::Invalid => "invalid",
        Classification::NoRecord => "no_record",
    }
}

/// What a subject's verification depends on, as one digest.
fn digest_of(obs: &[Observation], context: &Context, authorities: &str) -> String {
    let mut h = Sha256::new();
    h.update(authorities.as_bytes());
    for o in obs {
        for part in [
            o.element.as_str(),
            o.value.as_str(),
            o.source.department.as_str(),
            o.source.resource.as_str(),
            o.source.row_key.as_str(),
        ] {
            h.update(part.as_bytes());
            h.update([0x1f]);
        }
        h.update(o.source.batch_seq.to_le_bytes());
    }
    if let Some(rep) = &context.representative {
        h.update(b"rep");
        if let Some((name, s)) = &rep.name {
            h.update(name.as_bytes());
            h.update(s.batch.as_bytes());
        }
        if let Some(s) = &rep.deceased {
            h.update(b"deceased");
            h.update(s.batch.as_bytes());
        }
    }
    let mut covered: Vec<char> = context.covered_authorities.iter().copied().collect();
    covered.sort_unstable();
    h.update(covered.iter().collect::<String>().as_bytes());
    let mut known: Vec<&String> = context.known_entities.iter().collect();
    known.sort();
    for k in known {
        h.update(k.as_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

async fn history(
    tx: &mut sqlx::AnyConnection,
    kind: &str,
    key: &str,
    element: &str,
    old: &Old,
    now: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO registry_value_history (subject_kind, subject_key, element, value, resource_id, row_key, batch_id, valid_from, valid_to) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(kind)
    .bind(key)
    .bind(element)
    .bind(old.value.as_str())
    .bind(old.resource_id)
    .bind(old.row_key.as_str())
    .bind(old.batch_id)
    .bind(old.valid_from.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub(crate) async fn insert_ticket(
    tx: &mut sqlx::AnyConnection,
    c: &Conflict,
    due: &str,
    now: &str,
) -> Result<i64, StoreError> {
    let record_value = c
        .evidence
        .iter()
        .find(|e| e.classification == Classification::Record)
        .map(|e| e.value.clone())
        .unwrap_or_default();
    let others: BTreeSet<String> = c
        .evidence
        .iter()
        .filter(|e| {
            e.classification != Classification::Record && e.classification != Classification::Agrees
        })
        .map(|e| {
            let who = if e.source.department.is_empty() {
                e.source.resource.as_str()
            } else {
                e.source.department.as_str()
            };
            format!("{who}: {}", e.value)
        })
        .collect();
    let evidence =
        serde_json::to_string(&c.evidence).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let row = sqlx::query(
        "INSERT INTO correction_tickets (subject_kind, subject_key, element, kind, department, state, evidence, conflict_key, \
         record_value, other_values, due, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8, $9, $10, $11, $11) RETURNING id",
    )
    .bind(c.subject_kind.as_str())
    .bind(c.subject_key.as_str())
    .bind(c.element.as_str())
    .bind(c.kind.as_str())
    .bind(c.department.as_str())
    .bind(evidence)
    .bind(c.conflict_key.as_str())
    .bind(record_value)
    .bind(others.into_iter().collect::<Vec<_>>().join("; "))
    .bind(due)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    Ok(row.try_get("id")?)
}
