//! Property tests of the registries' pure domain: normalisation never panics
//! and is stable, a date reads the same in every written form, verification
//! is independent of the order observations arrive in, and a record every
//! witness agrees with raises no ticket.

use std::collections::HashMap;

use chrono::NaiveDate;
use proptest::prelude::*;
use rongshu_core::registry::{
    Context, Normalised, Observation, Source, SubjectKind, ValueKind, normalise, verify_subject,
};

const KINDS: [ValueKind; 10] = [
    ValueKind::CitizenId,
    ValueKind::Uscc,
    ValueKind::Name,
    ValueKind::Date,
    ValueKind::Address,
    ValueKind::Sex,
    ValueKind::Phone,
    ValueKind::VitalStatus,
    ValueKind::EntityStatus,
    ValueKind::Text,
];

fn authorities() -> HashMap<String, String> {
    [
        ("person.citizen_id", "gaj"),
        ("person.name", "gaj"),
        ("person.birth_date", "gaj"),
        ("person.household_address", "gaj"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect()
}

fn observation(element: &str, value: &str, department: &str, n: i64) -> Observation {
    Observation {
        element: element.into(),
        value: value.into(),
        source: Source {
            department: department.into(),
            resource: format!("{department}-r"),
            item: String::new(),
            row_key: format!("{department}-{n}"),
            batch: format!("b{n}"),
            batch_seq: n,
            date: "2024-06-30T00:00:00Z".into(),
        },
    }
}

const ID: &str = "11010519491231002X";

proptest! {
    #[test]
    fn normalising_never_panics_and_is_stable(raw in "\\PC{0,40}", k in 0usize..KINDS.len()) {
        let kind = KINDS[k];
        if let Normalised::Value(v) = normalise(kind, &raw) {
            // What normalisation gives is its own normal form (statuses map to words of their own).
            if !matches!(kind, ValueKind::VitalStatus | ValueKind::EntityStatus | ValueKind::Sex) {
                prop_assert_eq!(normalise(kind, &v), Normalised::Value(v.clone()));
            }
        }
    }

    #[test]
    fn a_date_reads_the_same_in_every_form(days in 0i64..60_000) {
        let d = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + chrono::Duration::days(days);
        let iso = d.format("%Y-%m-%d").to_string();
        for form in [d.format("%Y年%-m月%-d日").to_string(), d.format("%Y%m%d").to_string(), d.format("%Y/%-m/%-d").to_string()] {
            prop_assert_eq!(normalise(ValueKind::Date, &form), Normalised::Value(iso.clone()));
        }
    }

    #[test]
    fn verification_does_not_depend_on_the_order_of_sources(
        names in proptest::collection::vec(prop::sample::select(vec!["张伟", "章伟", "張偉", ""]), 1..6),
        rotate in 0usize..6,
    ) {
        let mut obs: Vec<Observation> = names
            .iter()
            .enumerate()
            .map(|(i, n)| observation("person.name", n, ["gaj", "ybj", "tel", "rsj", "cl", "jyj"][i], i as i64))
            .collect();
        let first = verify_subject(SubjectKind::Person, ID, &obs, &authorities(), &Context::default());
        let len = obs.len();
        obs.rotate_left(rotate % len);
        let again = verify_subject(SubjectKind::Person, ID, &obs, &authorities(), &Context::default());
        let keys = |v: &rongshu_core::registry::Verified| {
            let mut k: Vec<(String, String)> = v.conflicts.iter().map(|c| (c.conflict_key.clone(), c.department.clone())).collect();
            k.sort();
            k
        };
        prop_assert_eq!(keys(&first), keys(&again));
        prop_assert_eq!(first.golden, again.golden);
    }

    #[test]
    fn agreement_raises_no_ticket(n in 1usize..6, spaced in any::<bool>()) {
        let name = if spaced { "張 偉" } else { "张伟" };
        let mut obs = vec![observation("person.name", "张伟", "gaj", 0)];
        for i in 0..n {
            obs.push(observation("person.name", name, ["ybj", "tel", "rsj", "cl", "jyj"][i % 5], i as i64 + 1));
        }
        let v = verify_subject(SubjectKind::Person, ID, &obs, &authorities(), &Context::default());
        prop_assert!(v.conflicts.is_empty());
        prop_assert_eq!(v.golden.len(), 1);
    }
}
