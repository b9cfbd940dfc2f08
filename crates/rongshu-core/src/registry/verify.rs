//! Multi-source verification (多元校核) of one registry subject: the golden
//! record assembled from the authoritative sources, each witness value
//! classified against it, and the conflicts that become correction tickets,
//! each addressed to the department that must act.
//!
//! Who must act on a difference: the authoritative provider, unless the
//! evidence says the witness is wrong — the record's value is backed by at
//! least one other department (or by a fact derived from the key, such as the
//! birth date in the ID number) and by more of them than the witness's value.
//! A death is never undone: a witness still showing a dead person alive is
//! out of date (the ticket goes to it), a witness reporting a death the
//! record lacks is newer (the ticket goes to the authority).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::normalise::{Normalised, ValueKind, normalise};
use crate::ident::{CitizenId, Uscc};

/// Which registry a subject belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    Person,
    Entity,
}

impl SubjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Person => "person",
            SubjectKind::Entity => "entity",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "person" => Some(SubjectKind::Person),
            "entity" => Some(SubjectKind::Entity),
            _ => None,
        }
    }

    /// The element whose values are this registry's keys.
    pub fn key_element(self) -> &'static str {
        match self {
            SubjectKind::Person => "person.citizen_id",
            SubjectKind::Entity => "entity.uscc",
        }
    }

    /// The registry an element belongs to, by its prefix.
    pub fn of_element(code: &str) -> Option<Self> {
        if code.starts_with("person.") {
            Some(SubjectKind::Person)
        } else if code.starts_with("entity.") {
            Some(SubjectKind::Entity)
        } else {
            None
        }
    }

    /// A delivered key in its registry form: an ID number in its 18-character
    /// form, a code upper-cased; any other text folded, so that an invalid key
    /// is still kept (and reported) as delivered.
    pub fn key_of(self, raw: &str) -> String {
        let folded = super::normalise::fold(raw);
        match self {
            SubjectKind::Person => CitizenId::parse(&folded)
                .map(|id| id.as_str().to_owned())
                .unwrap_or(folded),
            SubjectKind::Entity => folded.to_uppercase(),
        }
    }
}

/// Where a value came from: department, resource, the row's key, the batch
/// that last wrote the row and that batch's date.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Source {
    pub department: String,
    pub resource: String,
    /// The resource item the value was delivered in.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub item: String,
    pub row_key: String,
    /// The batch's public id.
    pub batch: String,
    /// The batch's internal order, newest highest.
    #[serde(skip, default)]
    pub batch_seq: i64,
    /// When the batch was loaded (RFC 3339).
    pub date: String,
}

/// One delivered value of an element for the subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Observation {
    pub element: String,
    pub value: String,
    pub source: Source,
}

/// The value of record of one element, with its provenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GoldenValue {
    pub element: String,
    pub value: String,
    pub source: Source,
}

/// How a witness value stands against the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// The authoritative value itself.
    Record,
    Agrees,
    Differs,
    /// The witness knows something the record does not yet (a death).
    WitnessNewer,
    /// The witness still shows what the record has moved past.
    WitnessStale,
    Invalid,
    /// The record has no value to compare with.
    NoRecord,
}

/// What kind of conflict a ticket is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    Differs,
    WitnessNewer,
    WitnessStale,
    InvalidValue,
    DeceasedLegalRepresentative,
    UnknownEmployer,
    CitizenDispute,
}

impl ConflictKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictKind::Differs => "differs",
            ConflictKind::WitnessNewer => "witness_newer",
            ConflictKind::WitnessStale => "witness_stale",
            ConflictKind::InvalidValue => "invalid_value",
            ConflictKind::DeceasedLegalRepresentative => "deceased_legal_representative",
            ConflictKind::UnknownEmployer => "unknown_employer",
            ConflictKind::CitizenDispute => "citizen_dispute",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            ConflictKind::Differs,
            ConflictKind::WitnessNewer,
            ConflictKind::WitnessStale,
            ConflictKind::InvalidValue,
            ConflictKind::DeceasedLegalRepresentative,
            ConflictKind::UnknownEmployer,
            ConflictKind::CitizenDispute,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One source's value as a ticket shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    #[serde(flatten)]
    pub source: Source,
    pub value: String,
    pub authoritative: bool,
    pub classification: Classification,
    /// Why the value is invalid, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A conflict to be sent to a department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub subject_kind: SubjectKind,
    pub subject_key: String,
    pub element: String,
    pub kind: ConflictKind,
    /// The department that must act.
    pub department: String,
    pub evidence: Vec<Evidence>,
    /// Names the conflict by what is in conflict (values, not batches), so that
    /// verifying again finds the same conflict and a fixed one is missed.
    pub conflict_key: String,
}

/// What the other registry knows about a subject's legal representative.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RepresentativeFacts {
    /// The population registry's name, with its source.
    pub name: Option<(String, Source)>,
    /// Set when the population registry records the person as deceased.
    pub deceased: Option<Source>,
}

/// Facts from the other registry that a subject's checks need.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// For an entity: its legal representative in the population registry.
    pub representative: Option<RepresentativeFacts>,
    /// For a person: which of the employer codes delivered for him or her are
    /// registered entities.
    pub known_entities: HashSet<String>,
    /// The registering authorities (a USCC's first character) whose entities
    /// the entity registry holds: an employer registered elsewhere (a public
    /// institution, a social organisation) cannot be looked up in it.
    pub covered_authorities: HashSet<char>,
}

/// The outcome of verifying one subject.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verified {
    pub golden: Vec<GoldenValue>,
    pub conflicts: Vec<Conflict>,
    /// Per element, how each witness value stood.
    pub tally: BTreeMap<Classification, u64>,
}

impl PartialOrd for Classification {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Classification {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (*self as u8).cmp(&(*other as u8))
    }
}

/// The digest of a conflict's identity.
pub fn conflict_key(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0x1f]);
    }
    hex::encode(&h.finalize()[..16])
}

/// Whether a subject's key is valid: an ID number that passes its checks; a
/// USCC that passes (or that the authority itself registers, as some early
/// pilot codes with a wrong check character are).
fn key_problem(kind: SubjectKind, key: &str, registered: bool) -> Option<String> {
    match kind {
        SubjectKind::Person => CitizenId::parse(key).err().map(|e| e.to_string()),
        SubjectKind::Entity if registered => Uscc::parse_allowing_legacy(key)
            .err()
            .map(|e| e.to_string()),
        SubjectKind::Entity => Uscc::parse(key).err().map(|e| e.to_string()),
    }
}

/// Verify one subject from every value delivered for it. `authorities` maps
/// each element to its authoritative department.
pub fn verify_subject(
    kind: SubjectKind,
    key: &str,
    observations: &[Observation],
    authorities: &HashMap<String, String>,
    context: &Context,
) -> Verified {
    let mut out = Verified::default();
    let authority_of = |element: &str| authorities.get(element).map(String::as_str);
    let key_authority = authority_of(kind.key_element());
    let registered = observations
        .iter()
        .any(|o| Some(o.source.department.as_str()) == key_authority);
    if let Some(reason) = key_problem(kind, key, registered) {
        // No record can be assembled on a bad key: each row that delivered it
        // goes back to its department.
        let mut rows: BTreeMap<(&str, &str), &Observation> = BTreeMap::new();
        for o in observations {
            rows.entry((&o.source.department, &o.source.row_key))
                .or_insert(o);
        }
        for ((department, row_key), o) in rows {
            out.conflicts.push(Conflict {
                subject_kind: kind,
                subject_key: key.to_owned(),
                element: kind.key_element().to_owned(),
                kind: ConflictKind::InvalidValue,
                department: department.to_owned(),
                evidence: vec![Evidence {
                    source: o.source.clone(),
                    value: key.to_owned(),
                    authoritative: Some(department) == key_authority,
                    classification: Classification::Invalid,
                    reason: Some(reason.clone()),
                }],
                conflict_key: conflict_key(&[
                    kind.as_str(),
                    key,
                    "invalid_key",
                    department,
                    row_key,
                ]),
            });
            *out.tally.entry(Classification::Invalid).or_default() += 1;
        }
        return out;
    }

    let mut by_element: BTreeMap<&str, Vec<&Observation>> = BTreeMap::new();
    for o in observations {
        if o.element != kind.key_element() {
            by_element.entry(o.element.as_str()).or_default().push(o);
        }
    }
    let derived = derived_witnesses(kind, key, context);
    // A record that already shows the death needs no ticket for a death date
    // it does not carry itself.
    let deceased_on_record = match (
        by_element.get("person.vital_status"),
        authority_of("person.vital_status"),
    ) {
        (Some(obs), Some(a)) => pick_record(a, obs, ValueKind::VitalStatus).is_some_and(|r| {
            normalise(ValueKind::VitalStatus, &r.value) == Normalised::Value("deceased".into())
        }),
        _ => false,
    };
    for (element, obs) in &by_element {
        if deceased_on_record
            && element.ends_with("death_date")
            && pick_record(authority_of(element).unwrap_or(""), obs, ValueKind::Date).is_none()
        {
            continue;
        }
        let Some(authority) = authority_of(element) else {
            continue;
        };
        verify_element(
            kind,
            key,
            element,
            authority,
            obs,
            derived.get(element).map_or(&[][..], Vec::as_slice),
            context,
            &mut out,
        );
    }
    if kind == SubjectKind::Entity {
        check_representative(key, &by_element, authorities, context, &mut out);
    }
    out
}

/// Values the registry knows for an element without any department having
/// delivered them: the birth date and sex in an ID number, the population
/// registry's name of a legal representative. They support a side of a
/// difference but never get a ticket.
fn derived_witnesses(
    kind: SubjectKind,
    key: &str,
    context: &Context,
) -> HashMap<&'static str, Vec<(String, Source)>> {
    let mut out: HashMap<&'static str, Vec<(String, Source)>> = HashMap::new();
    let derived_source = |what: &str| Source {
        department: String::new(),
        resource: format!("derived:{what}"),
        item: String::new(),
        row_key: key.to_owned(),
        batch: String::new(),
        batch_seq: 0,
        date: String::new(),
    };
    match kind {
        SubjectKind::Person => {
            if let Ok(id) = CitizenId::parse(key) {
                out.entry("person.birth_date").or_default().push((
                    id.birth_date().format("%Y-%m-%d").to_string(),
                    derived_source("citizen_id"),
                ));
                out.entry("person.sex")
                    .or_default()
                    .push((id.sex().as_str().to_owned(), derived_source("citizen_id")));
            }
        }
        SubjectKind::Entity => {
            if let Some((name, source)) =
                context.representative.as_ref().and_then(|r| r.name.clone())
            {
                let mut source = source;
                source.resource = format!("derived:population:{}", source.resource);
                source.department = String::new();
                out.entry("entity.legal_representative_name")
                    .or_default()
                    .push((name, source));
            }
        }
    }
    out
}

fn normalised_value(n: &Normalised) -> Option<&str> {
    match n {
        Normalised::Value(v) => Some(v),
        _ => None,
    }
}

/// The authoritative observation of an element: the authority's newest batch,
/// then the smallest row key (a stable choice when one source holds two rows).
fn pick_record<'a>(
    authority: &str,
    obs: &[&'a Observation],
    kind: ValueKind,
) -> Option<&'a Observation> {
    obs.iter()
        .filter(|o| o.source.department == authority)
        .filter(|o| {
            !matches!(
                normalise(kind, &o.value),
                Normalised::Empty | Normalised::NoClaim
            )
        })
        .min_by(|a, b| {
            b.source
                .batch_seq
                .cmp(&a.source.batch_seq)
                .then_with(|| a.source.row_key.cmp(&b.source.row_key))
        })
        .copied()
}

#[allow(clippy::too_many_arguments)]
fn verify_element(
    kind: SubjectKind,
    key: &str,
    element: &str,
    authority: &str,
    obs: &[&Observation],
    derived: &[(String, Source)],
    context: &Context,
    out: &mut Verified,
) {
    let vk = ValueKind::of_element(element);
    let record = pick_record(authority, obs, vk);
    let record_norm = record.map(|r| normalise(vk, &r.value));
    let record_value = record_norm.as_ref().and_then(normalised_value);
    if let Some(r) = record {
        out.golden.push(GoldenValue {
            element: element.to_owned(),
            value: r.value.clone(),
            source: r.source.clone(),
        });
    }
    let mut evidence = Vec::new();
    // Distinct departments behind each normalised value (the authority apart).
    let mut support: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (value, source) in derived {
        support
            .entry(value.clone())
            .or_default()
            .insert(source.resource.clone());
    }
    let mut classified: Vec<(Classification, &Observation, Option<String>)> = Vec::new();
    for o in obs {
        let is_record = record.is_some_and(|r| std::ptr::eq(*o, r));
        let n = normalise(vk, &o.value);
        let (class, reason) = match (&n, is_record) {
            (Normalised::Empty | Normalised::NoClaim, _) => continue,
            (Normalised::Invalid(why), _) => (Classification::Invalid, Some(why.clone())),
            (Normalised::Value(_), true) => (Classification::Record, None),
            (Normalised::Value(v), false) => {
                if o.source.department != authority {
                    support
                        .entry(v.clone())
                        .or_default()
                        .insert(o.source.department.clone());
                }
                (classify(vk, element, record_value, v), None)
            }
        };
        *out.tally.entry(class).or_default() += 1;
        classified.push((class, o, reason));
    }
    for (class, o, reason) in &classified {
        evidence.push(Evidence {
            source: o.source.clone(),
            value: o.value.clone(),
            authoritative: o.source.department == authority,
            classification: *class,
            reason: reason.clone(),
        });
    }
    for (value, source) in derived {
        evidence.push(Evidence {
            source: source.clone(),
            value: value.clone(),
            authoritative: false,
            classification: match record_value {
                Some(r) if r == value => Classification::Agrees,
                Some(_) => Classification::Differs,
                None => Classification::NoRecord,
            },
            reason: None,
        });
    }
    let record_text = record_value.unwrap_or("");
    let mut push = |kind_: ConflictKind, department: &str, parts: Vec<&str>| {
        let mut all = vec![kind.as_str(), key, element, kind_.as_str(), record_text];
        all.extend(parts);
        out.conflicts.push(Conflict {
            subject_kind: kind,
            subject_key: key.to_owned(),
            element: element.to_owned(),
            kind: kind_,
            department: department.to_owned(),
            evidence: evidence.clone(),
            conflict_key: conflict_key(&all),
        });
    };
    // Invalid values go back to whoever delivered them.
    let mut invalid: BTreeSet<(&str, &str)> = BTreeSet::new();
    for (class, o, _) in &classified {
        if *class == Classification::Invalid {
            invalid.insert((&o.source.department, &o.value));
        }
    }
    for (department, value) in invalid {
        push(
            ConflictKind::InvalidValue,
            department,
            vec![department, value],
        );
    }
    // The employer a person is said to work for must be a registered entity.
    if vk == ValueKind::Uscc && kind == SubjectKind::Person {
        let mut unknown: BTreeSet<(&str, String)> = BTreeSet::new();
        for (class, o, _) in &classified {
            if let (Classification::Invalid, _) = (class, o) {
                continue;
            }
            if let Normalised::Value(v) = normalise(vk, &o.value)
                && !context.known_entities.contains(&v)
                && v.chars()
                    .next()
                    .is_some_and(|c| context.covered_authorities.contains(&c))
            {
                unknown.insert((&o.source.department, v));
            }
        }
        for (department, value) in unknown {
            push(
                ConflictKind::UnknownEmployer,
                department,
                vec![department, &value],
            );
        }
    }
    let Some(record_value) = record_value else {
        // Nothing of record: only a newer fact (a death) is worth a ticket.
        let newer: BTreeSet<&str> = classified
            .iter()
            .filter(|(c, ..)| *c == Classification::WitnessNewer)
            .filter_map(|(_, o, _)| {
                normalised_value(&normalise(vk, &o.value)).map(|_| o.value.as_str())
            })
            .collect();
        if !newer.is_empty() {
            let values: Vec<String> = newer
                .iter()
                .filter_map(|v| normalised_value(&normalise(vk, v)).map(str::to_owned))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            push(
                ConflictKind::WitnessNewer,
                authority,
                values.iter().map(String::as_str).collect(),
            );
        }
        return;
    };
    let record_support = support.get(record_value).map_or(0, BTreeSet::len);
    let mut doubted: BTreeSet<String> = BTreeSet::new();
    let mut stale: BTreeSet<(String, String)> = BTreeSet::new();
    let mut newer: BTreeSet<String> = BTreeSet::new();
    for (class, o, _) in &classified {
        let Some(v) = normalised_value(&normalise(vk, &o.value)).map(str::to_owned) else {
            continue;
        };
        match class {
            Classification::Differs => {
                // An address changes when a person moves, and the household
                // register moves with the person: departments not yet told
                // of a move all hold the same former address, so their
                // agreement is no vote against the register, and a differing
                // address is the witness's to check however many share it.
                // A name or a date is fixed at birth: there independent
                // witnesses outvote the record, and with nobody else on
                // either side the authority is asked first.
                let stale_by_nature = vk == ValueKind::Address;
                // Others behind the witness's value, the witness itself apart.
                let witness_support = support.get(&v).map_or(0, |s| {
                    s.iter().filter(|d| **d != o.source.department).count()
                });
                if stale_by_nature || (record_support >= 1 && record_support > witness_support) {
                    stale.insert((o.source.department.clone(), v));
                } else {
                    doubted.insert(v);
                }
            }
            Classification::WitnessStale => {
                stale.insert((o.source.department.clone(), v));
            }
            Classification::WitnessNewer => {
                newer.insert(v);
            }
            _ => {}
        }
    }
    if !doubted.is_empty() {
        push(
            ConflictKind::Differs,
            authority,
            doubted.iter().map(String::as_str).collect(),
        );
    }
    if !newer.is_empty() {
        push(
            ConflictKind::WitnessNewer,
            authority,
            newer.iter().map(String::as_str).collect(),
        );
    }
    for (department, value) in &stale {
        let kind_ = if vk == ValueKind::VitalStatus {
            ConflictKind::WitnessStale
        } else {
            ConflictKind::Differs
        };
        push(kind_, department, vec![department, value]);
    }
}

/// One witness value against the record's (both normalised).
fn classify(vk: ValueKind, element: &str, record: Option<&str>, witness: &str) -> Classification {
    let death_fact = vk == ValueKind::VitalStatus || element.ends_with("death_date");
    match record {
        Some(r) if r == witness => Classification::Agrees,
        Some(r) if vk == ValueKind::VitalStatus => {
            if r == "alive" && witness == "deceased" {
                Classification::WitnessNewer
            } else {
                Classification::WitnessStale
            }
        }
        Some(_) => Classification::Differs,
        None if death_fact && witness != "alive" => Classification::WitnessNewer,
        None => Classification::NoRecord,
    }
}

/// An active entity must have a living legal representative on the population
/// registry.
fn check_representative(
    key: &str,
    by_element: &BTreeMap<&str, Vec<&Observation>>,
    authorities: &HashMap<String, String>,
    context: &Context,
    out: &mut Verified,
) {
    const REP: &str = "entity.legal_representative_id";
    let Some(authority) = authorities.get(REP) else {
        return;
    };
    let status_authority = authorities.get("entity.status");
    let active = match (by_element.get("entity.status"), status_authority) {
        (Some(obs), Some(a)) => pick_record(a, obs, ValueKind::EntityStatus)
            .map(|r| normalise(ValueKind::EntityStatus, &r.value))
            .is_some_and(|n| n == Normalised::Value("active".into())),
        // No status delivered: an entity on the register is taken as active.
        _ => true,
    };
    let Some(obs) = by_element.get(REP) else {
        return;
    };
    let Some(record) = pick_record(authority, obs, ValueKind::CitizenId) else {
        return;
    };
    let (Some(facts), true) = (&context.representative, active) else {
        return;
    };
    let Some(death) = &facts.deceased else {
        return;
    };
    let rep = SubjectKind::Person.key_of(&record.value);
    out.conflicts.push(Conflict {
        subject_kind: SubjectKind::Entity,
        subject_key: key.to_owned(),
        element: REP.to_owned(),
        kind: ConflictKind::DeceasedLegalRepresentative,
        department: authority.clone(),
        evidence: vec![
            Evidence {
                source: record.source.clone(),
                value: record.value.clone(),
                authoritative: true,
                classification: Classification::Record,
                reason: None,
            },
            Evidence {
                source: death.clone(),
                value: "deceased".into(),
                authoritative: false,
                classification: Classification::WitnessNewer,
                reason: Some(format!("the population registry records {rep} as deceased")),
            },
        ],
        conflict_key: conflict_key(&["entity", key, REP, "deceased_rep", &rep]),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "11010519491231002X";

    fn src(department: &str, batch_seq: i64) -> Source {
        Source {
            department: department.into(),
            resource: format!("{department}-res"),
            item: String::new(),
            row_key: format!("{department}-1"),
            batch: format!("b{batch_seq}"),
            batch_seq,
            date: "2024-06-30T00:00:00Z".into(),
        }
    }

    fn obs(element: &str, value: &str, department: &str) -> Observation {
        Observation {
            element: element.into(),
            value: value.into(),
            source: src(department, 1),
        }
    }

    fn authorities() -> HashMap<String, String> {
        [
            ("person.citizen_id", "gaj"),
            ("person.name", "gaj"),
            ("person.birth_date", "gaj"),
            ("person.sex", "gaj"),
            ("person.household_address", "gaj"),
            ("person.vital_status", "gaj"),
            ("person.death_date", "gaj"),
            ("person.employer_uscc", "rsj"),
            ("entity.uscc", "scjgj"),
            ("entity.status", "scjgj"),
            ("entity.legal_representative_id", "scjgj"),
            ("entity.legal_representative_name", "scjgj"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect()
    }

    fn person(observations: &[Observation]) -> Verified {
        verify_subject(
            SubjectKind::Person,
            ID,
            observations,
            &authorities(),
            &Context::default(),
        )
    }

    #[test]
    fn agreeing_sources_make_a_record_and_no_ticket() {
        let v = person(&[
            obs("person.name", "张伟", "gaj"),
            obs("person.name", "張 偉", "ybj"),
            obs("person.birth_date", "1949-12-31", "gaj"),
            obs("person.birth_date", "1949年12月31日", "mzj"),
        ]);
        assert!(v.conflicts.is_empty(), "{:?}", v.conflicts);
        assert_eq!(v.golden.len(), 2);
        assert!(v.golden.iter().all(|g| g.source.department == "gaj"));
        assert_eq!(v.tally.get(&Classification::Agrees), Some(&2));
    }

    #[test]
    fn a_lone_witness_that_is_outvoted_gets_the_ticket() {
        let v = person(&[
            obs("person.name", "张伟", "gaj"),
            obs("person.name", "张伟", "ybj"),
            obs("person.name", "章伟", "tel"),
        ]);
        assert_eq!(v.conflicts.len(), 1);
        let c = &v.conflicts[0];
        assert_eq!(
            (c.kind, c.department.as_str()),
            (ConflictKind::Differs, "tel")
        );
        assert_eq!(c.evidence.len(), 3);
    }

    #[test]
    fn a_record_the_witnesses_contradict_goes_to_the_authority() {
        let v = person(&[
            obs("person.name", "章伟", "gaj"),
            obs("person.name", "张伟", "ybj"),
            obs("person.name", "张伟", "tel"),
        ]);
        assert_eq!(v.conflicts.len(), 1);
        assert_eq!(v.conflicts[0].department, "gaj");
        // One witness against the record: the authority is asked first.
        let v = person(&[
            obs("person.name", "章伟", "gaj"),
            obs("person.name", "张伟", "ybj"),
        ]);
        assert_eq!(v.conflicts[0].department, "gaj");
    }

    #[test]
    fn witnesses_sharing_a_former_address_do_not_outvote_the_register() {
        let v = person(&[
            obs(
                "person.household_address",
                "成都市武侯区人民南路四段1号",
                "gaj",
            ),
            obs("person.household_address", "成都市青羊区蜀都大道2号", "ybj"),
            obs("person.household_address", "成都市青羊区蜀都大道2号", "tel"),
        ]);
        let mut to: Vec<&str> = v.conflicts.iter().map(|c| c.department.as_str()).collect();
        to.sort_unstable();
        assert_eq!(to, ["tel", "ybj"]);
        assert!(v.conflicts.iter().all(|c| c.kind == ConflictKind::Differs));
    }

    #[test]
    fn the_id_number_backs_the_birth_date_of_record() {
        let v = person(&[
            obs("person.birth_date", "1949-12-31", "gaj"),
            obs("person.birth_date", "1949-12-13", "mzj"),
        ]);
        assert_eq!(v.conflicts.len(), 1);
        assert_eq!(v.conflicts[0].department, "mzj");
        let v = person(&[
            obs("person.birth_date", "1949-12-13", "gaj"),
            obs("person.birth_date", "1949-12-31", "mzj"),
        ]);
        assert_eq!(v.conflicts[0].department, "gaj");
    }

    #[test]
    fn deaths_newer_and_stale() {
        let v = person(&[
            obs("person.vital_status", "正常", "gaj"),
            obs("person.vital_status", "死亡", "wjw"),
        ]);
        assert_eq!(v.conflicts.len(), 1);
        assert_eq!(
            (v.conflicts[0].kind, v.conflicts[0].department.as_str()),
            (ConflictKind::WitnessNewer, "gaj")
        );
        let v = person(&[
            obs("person.vital_status", "死亡注销", "gaj"),
            obs("person.vital_status", "参保缴费", "rsj"),
            obs("person.vital_status", "终止参保", "ybj"),
        ]);
        assert_eq!(v.conflicts.len(), 1);
        assert_eq!(
            (v.conflicts[0].kind, v.conflicts[0].department.as_str()),
            (ConflictKind::WitnessStale, "rsj")
        );
        let v = person(&[
            obs("person.name", "张伟", "gaj"),
            obs("person.death_date", "2024-01-02", "wjw"),
        ]);
        assert_eq!(v.conflicts.len(), 1);
        assert_eq!(v.conflicts[0].kind, ConflictKind::WitnessNewer);
        assert_eq!(v.conflicts[0].department, "gaj");
    }

    #[test]
    fn invalid_values_and_keys_go_back_to_their_sender() {
        let v = person(&[
            obs("person.birth_date", "1949-12-31", "gaj"),
            obs("person.birth_date", "1949-13-31", "ybj"),
        ]);
        assert_eq!(v.conflicts.len(), 1);
        assert_eq!(
            (v.conflicts[0].kind, v.conflicts[0].department.as_str()),
            (ConflictKind::InvalidValue, "ybj")
        );
        let bad = "110105194912310021";
        let v = verify_subject(
            SubjectKind::Person,
            bad,
            &[
                obs("person.citizen_id", bad, "tel"),
                obs("person.name", "张伟", "tel"),
            ],
            &authorities(),
            &Context::default(),
        );
        assert_eq!(v.conflicts.len(), 1);
        assert_eq!(v.conflicts[0].element, "person.citizen_id");
        assert!(v.golden.is_empty());
    }

    #[test]
    fn an_employer_must_be_registered() {
        let uscc = "91510100MA61R5XY2Q";
        let mut ctx = Context {
            covered_authorities: ['9'].into_iter().collect(),
            ..Context::default()
        };
        let run = |ctx: &Context| {
            verify_subject(
                SubjectKind::Person,
                ID,
                &[obs("person.employer_uscc", uscc, "rsj")],
                &authorities(),
                ctx,
            )
        };
        let found = run(&ctx);
        assert!(found.conflicts.iter().any(
            |c| c.kind == ConflictKind::UnknownEmployer || c.kind == ConflictKind::InvalidValue
        ));
        if let Normalised::Value(v) = normalise(ValueKind::Uscc, uscc) {
            ctx.known_entities.insert(v);
            assert!(run(&ctx).conflicts.is_empty());
        }
    }

    #[test]
    fn an_active_entity_with_a_dead_representative() {
        let uscc = "91510100482731331G";
        let o = [
            obs("entity.uscc", uscc, "scjgj"),
            obs("entity.status", "存续", "scjgj"),
            obs("entity.legal_representative_id", ID, "scjgj"),
        ];
        let ctx = Context {
            representative: Some(RepresentativeFacts {
                name: None,
                deceased: Some(src("gaj", 2)),
            }),
            ..Context::default()
        };
        let v = verify_subject(SubjectKind::Entity, uscc, &o, &authorities(), &ctx);
        let kinds: Vec<_> = v.conflicts.iter().map(|c| c.kind).collect();
        assert_eq!(kinds, vec![ConflictKind::DeceasedLegalRepresentative]);
        // A closed entity trades under no one.
        let mut closed = o.clone();
        closed[1] = obs("entity.status", "注销", "scjgj");
        let v = verify_subject(SubjectKind::Entity, uscc, &closed, &authorities(), &ctx);
        assert!(v.conflicts.is_empty());
    }

    #[test]
    fn conflict_keys_ignore_batches() {
        let mut a = vec![
            obs("person.name", "章伟", "gaj"),
            obs("person.name", "张伟", "ybj"),
        ];
        let first = person(&a).conflicts[0].conflict_key.clone();
        a[1].source.batch_seq = 9;
        a[1].source.batch = "b9".into();
        assert_eq!(person(&a).conflicts[0].conflict_key, first);
    }
}
