//! Every ID number and USCC of the true city is well formed.

use std::collections::HashSet;

use rongshu_core::division::COUNTY_HISTORY_CSV;
use rongshu_core::ident::{citizen_id, uscc};
use rongshu_synth::FaultRates;

use crate::{Table, city};

fn history_codes() -> HashSet<String> {
    let mut reader = csv::Reader::from_reader(COUNTY_HISTORY_CSV.as_bytes());
    reader
        .records()
        .map(|r| r.expect("row")[0].to_string())
        .collect()
}

#[test]
fn id_numbers_are_valid_and_consistent() {
    let (dir, _) = city(3000, 21, FaultRates::default());
    let people = Table::read(&dir.path().join("people.csv"));
    let codes = history_codes();
    let [id, sex, birth] = ["id_number", "sex", "birth_date"].map(|k| people.col(k));
    let mut seen = HashSet::new();
    let mut retired = 0;
    for row in &people.rows {
        let number = &row[id];
        assert_eq!(number.len(), 18, "{number}");
        assert_eq!(
            citizen_id::check_char(&number[..17]),
            number.chars().nth(17),
            "{number}"
        );
        assert!(
            codes.contains(&number[..6]),
            "{number}: division code not in GB/T 2260"
        );
        let odd = (number.as_bytes()[16] - b'0') % 2 == 1;
        assert_eq!(odd, row[sex] == "男", "{number}");
        assert_eq!(number[6..14], row[birth].replace('-', ""), "{number}");
        assert!(seen.insert(number.clone()), "{number} twice");
        if ["510122", "510124", "510132"].contains(&&number[..6]) {
            retired += 1;
        }
    }
    assert!(retired > 0, "no one carries a retired Chengdu code");
}

#[test]
fn usccs_validate_except_legacy_pilot_codes() {
    let rates = FaultRates {
        legacy_pilot_code: 0.05,
        ..FaultRates::default()
    };
    let (dir, _) = city(6000, 22, rates);
    let entities = Table::read(&dir.path().join("entities.csv"));
    let [code, pilot] = ["uscc", "uscc_legacy_pilot"].map(|k| entities.col(k));
    let mut pilots = 0;
    let mut seen = HashSet::new();
    for row in &entities.rows {
        let c = &row[code];
        assert_eq!(c.chars().count(), 18, "{c}");
        let valid = uscc::check_char(&c[..17]) == c.chars().nth(17);
        assert_eq!(valid, row[pilot] == "false", "{c}");
        pilots += usize::from(!valid);
        assert!(seen.insert(c.clone()), "{c} twice");
    }
    assert!(pilots > 0, "no legacy pilot codes at a 5% rate");
}

#[test]
fn legal_representatives_are_people_of_the_city() {
    let (dir, _) = city(2000, 23, FaultRates::default());
    let people = Table::read(&dir.path().join("people.csv"));
    let by_id = people.by("id_number");
    let entities = Table::read(&dir.path().join("entities.csv"));
    let [rep_id, rep_name] = ["legal_rep_id_number", "legal_rep_name"].map(|k| entities.col(k));
    for row in &entities.rows {
        let person = by_id
            .get(&row[rep_id])
            .expect("representative is a resident");
        assert_eq!(person[people.col("name")], row[rep_name]);
    }
}
