//! Quality rules: parsing declarations against a resource, checking rows, and the
//! report's tally, score and comparison.

use chrono::NaiveDate;
use rongshu_core::catalog::{NewResourceRequest, ResourceSpec};
use rongshu_core::quality::{
    BatchChecks, InMemoryReferences, QualityTally, RowChecker, RowVerdict, RuleError, RuleSet,
    RuleSpec, Severity, Violation,
};
use rongshu_core::value::{CellValue, parse_cell};

use crate::{today, with_id_check};

fn person_spec() -> ResourceSpec {
    let req: NewResourceRequest = serde_json::from_value(serde_json::json!({
        "name": "人口信息",
        "key_items": ["id_number"],
        "items": [
            {"key": "id_number", "name": "公民身份号码", "grade": 3},
            {"key": "name", "name": "姓名", "grade": 2},
            {"key": "sex", "name": "性别代码", "grade": 2, "kind": "text"},
            {"key": "birth_date", "name": "出生日期", "type": "date", "grade": 2},
            {"key": "death_date", "name": "死亡日期", "type": "date", "grade": 2},
            {"key": "age", "name": "年龄", "type": "integer", "grade": 1},
            {"key": "income", "name": "收入", "type": "decimal", "grade": 2},
            {"key": "household_no", "name": "户号", "grade": 2, "kind": "text", "length": 15},
            {"key": "employer_uscc", "name": "工作单位统一社会信用代码", "grade": 1},
            {"key": "updated", "name": "更新日期", "type": "date", "grade": 1},
            {"key": "note", "name": "备注", "grade": 1, "kind": "text"}
        ]
    }))
    .unwrap();
    ResourceSpec::parse(req).unwrap()
}

fn rules(json: serde_json::Value) -> Vec<RuleSpec> {
    serde_json::from_value(json).unwrap()
}

fn set(json: serde_json::Value) -> RuleSet {
    RuleSet::parse(&person_spec(), rules(json)).unwrap()
}

fn parse_err(json: serde_json::Value) -> RuleError {
    RuleSet::parse(&person_spec(), rules(json)).unwrap_err()
}

/// A row from (item, raw text) pairs, typed as the reader would type it.
fn row(cells: &[(&str, &str)]) -> Vec<Option<CellValue>> {
    let spec = person_spec();
    spec.items
        .iter()
        .map(|it| {
            cells
                .iter()
                .find(|(k, _)| *k == it.key.as_str())
                .and_then(|(_, raw)| parse_cell(it.item_type, raw).unwrap())
        })
        .collect()
}

fn male_1980() -> String {
    with_id_check("11010519800101001")
}

fn female_1949() -> String {
    with_id_check("11010519491231002")
}

fn no_refs() -> InMemoryReferences {
    InMemoryReferences::new()
}

/// Check one row on a fresh checker.
fn check_one(rules: &RuleSet, cells: &[(&str, &str)]) -> RowVerdict {
    let refs = no_refs();
    let mut checker = RowChecker::new(rules, today(), &refs);
    checker.check(&row(cells))
}

/// (item, raw text) pairs of one row.
type Cells<'a> = Vec<(&'a str, &'a str)>;

fn rule_ids(v: &RowVerdict) -> Vec<&str> {
    v.violations.iter().map(|x| x.rule.as_str()).collect()
}

#[test]
fn a_clean_row_passes_with_only_built_in_rules() {
    let rules = set(serde_json::json!([]));
    let id = male_1980();
    let v = check_one(&rules, &[("id_number", &id), ("name", "张三")]);
    assert_eq!(v, RowVerdict::default());
    let ids: Vec<&str> = rules.rules().iter().map(|r| r.id.as_str()).collect();
    assert!(ids.contains(&"kind:id_number"), "{ids:?}");
    assert!(ids.contains(&"kind:employer_uscc"), "{ids:?}");
    assert!(ids.contains(&"length:household_no"), "{ids:?}");
    assert!(ids.contains(&"unique_key"), "{ids:?}");
    // A typed date needs no kind check; free text none at all.
    assert!(!ids.contains(&"kind:birth_date"), "{ids:?}");
    assert!(!ids.contains(&"kind:note"), "{ids:?}");
}

#[test]
fn kind_checks_reject_and_normalise() {
    let rules = set(serde_json::json!([]));
    let bad = format!("{}0", &male_1980()[..17]);
    let v = check_one(&rules, &[("id_number", &bad)]);
    assert!(v.reject);
    assert_eq!(rule_ids(&v), ["kind:id_number"]);
    assert_eq!(v.violations[0].severity, Severity::Reject);
    assert_eq!(v.violations[0].value.as_deref(), Some(bad.as_str()));
    assert_eq!(v.key.as_deref(), Some(bad.as_str()));

    // A lower-case x is accepted and normalised for the caller to store.
    let first17 = (0..100)
        .map(|n| format!("110105198001010{n:02}"))
        .find(|f| rongshu_core::ident::citizen_id::check_char(f) == Some('X'))
        .unwrap();
    let lower = format!("{first17}x");
    let v = check_one(&rules, &[("id_number", &lower)]);
    assert!(v.is_clean(), "{v:?}");
    assert_eq!(v.normalized, vec![(0, format!("{first17}X"))]);
}

#[test]
fn a_legacy_uscc_is_a_warning_not_a_rejection() {
    let rules = set(serde_json::json!([]));
    let id = male_1980();
    let v = check_one(
        &rules,
        &[("id_number", &id), ("employer_uscc", "911100006000373417")],
    );
    assert!(!v.reject);
    assert_eq!(rule_ids(&v), ["kind:employer_uscc"]);
    assert_eq!(v.violations[0].severity, Severity::Warn);
    assert!(v.violations[0].reason.contains("legacy_checksum"));

    let v = check_one(
        &rules,
        &[("id_number", &id), ("employer_uscc", "9111000060003734")],
    );
    assert!(v.reject);
}

#[test]
fn built_in_length_comes_from_the_item() {
    let rules = set(serde_json::json!([]));
    let id = male_1980();
    let v = check_one(
        &rules,
        &[("id_number", &id), ("household_no", "1234567890123456")],
    );
    assert!(v.reject);
    assert_eq!(rule_ids(&v), ["length:household_no"]);
    assert!(v.violations[0].reason.contains("at most 15"));
}

#[test]
fn each_declared_rule_can_reject_or_warn() {
    let id = male_1980();
    // (rule without severity, a failing row)
    let cases: Vec<(serde_json::Value, Cells, &str)> = vec![
        (
            serde_json::json!({"rule": "range", "item": "age", "min": 0, "max": 150}),
            vec![("age", "151")],
            "range:age",
        ),
        (
            serde_json::json!({"rule": "range", "item": "income", "min": "0", "max": 99999.5}),
            vec![("income", "99999.51")],
            "range:income",
        ),
        (
            serde_json::json!({"rule": "range", "item": "birth_date", "min": "1900-01-01"}),
            vec![("birth_date", "1899-12-31")],
            "range:birth_date",
        ),
        (
            serde_json::json!({"rule": "allowed", "item": "sex", "values": ["男", "女"]}),
            vec![("sex", "X")],
            "allowed:sex",
        ),
        (
            serde_json::json!({"rule": "pattern", "item": "household_no", "pattern": "^\\d{15}$"}),
            vec![("household_no", "12345abc")],
            "pattern:household_no",
        ),
        (
            serde_json::json!({"rule": "length", "item": "name", "min": 2, "max": 4}),
            vec![("name", "张")],
            "length:name",
        ),
        (
            serde_json::json!({"rule": "date_order", "before": "birth_date", "after": "death_date"}),
            vec![("birth_date", "1980-01-01"), ("death_date", "1979-12-31")],
            "date_order:birth_date,death_date",
        ),
        (
            serde_json::json!({"rule": "id_birth_date", "id_item": "id_number", "birth_item": "birth_date"}),
            vec![("birth_date", "1980-01-02")],
            "id_birth_date:id_number,birth_date",
        ),
        (
            serde_json::json!({"rule": "id_sex", "id_item": "id_number", "sex_item": "sex"}),
            vec![("sex", "女")],
            "id_sex:id_number,sex",
        ),
        (
            serde_json::json!({"rule": "reference", "item": "employer_uscc", "resource": "ENTITY-REG", "target_item": "uscc"}),
            vec![("employer_uscc", "91110000600037341L")],
            "reference:employer_uscc",
        ),
        (
            serde_json::json!({"rule": "freshness", "item": "updated", "max_age_days": 400, "severity": "reject"}),
            vec![("updated", "2025-01-01")],
            "freshness:updated",
        ),
    ];
    for (json, cells, rule_id) in cases {
        let mut cells = cells.clone();
        cells.push(("id_number", &id));
        for severity in [Severity::Reject, Severity::Warn] {
            let mut json = json.clone();
            json["severity"] = serde_json::to_value(severity).unwrap();
            let rules = set(serde_json::json!([json]));
            let v = check_one(&rules, &cells);
            assert_eq!(rule_ids(&v), [rule_id], "{json}");
            assert_eq!(v.violations[0].severity, severity, "{json}");
            assert_eq!(v.reject, severity == Severity::Reject, "{json}");
            assert_eq!(v.key.as_deref(), Some(id.as_str()));
        }
    }
}

#[test]
fn passing_and_empty_values_pass_declared_rules() {
    let rules = set(serde_json::json!([
        {"rule": "range", "item": "age", "min": 0, "max": 150},
        {"rule": "range", "item": "income", "min": "-10.5", "max": "100"},
        {"rule": "allowed", "item": "sex", "values": ["男", "女"]},
        {"rule": "pattern", "item": "household_no", "pattern": "^\\d{15}$"},
        {"rule": "date_order", "before": "birth_date", "after": "death_date"},
        {"rule": "id_birth_date", "id_item": "id_number", "birth_item": "birth_date"},
        {"rule": "id_sex", "id_item": "id_number", "sex_item": "sex"},
        {"rule": "freshness", "item": "updated", "max_age_days": 400}
    ]));
    let id = male_1980();
    let full = [
        ("id_number", id.as_str()),
        ("age", "46"),
        ("income", "-10.50"),
        ("sex", "男"),
        ("household_no", "123456789012345"),
        ("birth_date", "1980-01-01"),
        ("death_date", "1980-01-01"),
        ("updated", "2026-05-01"),
    ];
    let v = check_one(&rules, &full);
    assert!(v.is_clean(), "{v:?}");
    let v = check_one(&rules, &[("id_number", &id)]);
    assert!(v.is_clean(), "{v:?}");
    let v = check_one(&rules, &[("id_number", &id), ("income", "-10.51")]);
    assert_eq!(rule_ids(&v), ["range:income"]);
}

#[test]
fn id_birth_date_and_sex_use_the_number() {
    let rules = set(serde_json::json!([
        {"rule": "id_birth_date", "id_item": "id_number", "birth_item": "birth_date"},
        {"rule": "id_sex", "id_item": "id_number", "sex_item": "sex"}
    ]));
    let f = female_1949();
    for sex in ["女", "2", "F", "f", "female"] {
        let v = check_one(
            &rules,
            &[
                ("id_number", &f),
                ("sex", sex),
                ("birth_date", "1949-12-31"),
            ],
        );
        assert!(v.is_clean(), "{sex}: {v:?}");
    }
    for sex in ["男", "1", "M"] {
        let v = check_one(&rules, &[("id_number", &f), ("sex", sex)]);
        assert_eq!(rule_ids(&v), ["id_sex:id_number,sex"], "{sex}");
        assert!(v.violations[0].reason.contains('女'));
    }
    let v = check_one(&rules, &[("id_number", &f), ("sex", "unknown")]);
    assert!(v.violations[0].reason.contains("not a sex code"));
    let v = check_one(&rules, &[("id_number", &f), ("birth_date", "1949-12-30")]);
    assert_eq!(rule_ids(&v), ["id_birth_date:id_number,birth_date"]);
    assert!(v.violations[0].reason.contains("1949-12-31"));
    // An invalid number is the kind check's business, not reported twice.
    let bad = format!("{}0", &f[..17]);
    let v = check_one(
        &rules,
        &[
            ("id_number", &bad),
            ("birth_date", "2000-01-01"),
            ("sex", "男"),
        ],
    );
    assert_eq!(rule_ids(&v), ["kind:id_number"]);
}

#[test]
fn parse_errors_name_the_rule_index_and_item() {
    let e = parse_err(serde_json::json!([
        {"rule": "allowed", "item": "sex", "values": ["男"]},
        {"rule": "range", "item": "name", "min": 1}
    ]));
    assert!(matches!(e, RuleError::WrongType { .. }), "{e}");
    assert_eq!((e.index(), e.item()), (1, Some("name")));
    assert!(e.to_string().contains("rule 1 (range)"), "{e}");

    let cases = [
        (
            serde_json::json!([{"rule": "unique", "items": ["id_number", "nope"]}]),
            0,
            Some("nope"),
        ),
        (
            serde_json::json!([{"rule": "range", "item": "age"}]),
            0,
            Some("age"),
        ),
        (
            serde_json::json!([{"rule": "range", "item": "age", "max": "many"}]),
            0,
            Some("age"),
        ),
        (
            serde_json::json!([{"rule": "range", "item": "age", "max": 1}, {"rule": "pattern", "item": "name", "pattern": "(["}]),
            1,
            Some("name"),
        ),
        (
            serde_json::json!([{"rule": "allowed", "item": "age", "values": ["x"]}]),
            0,
            Some("age"),
        ),
        (
            serde_json::json!([{"rule": "freshness", "item": "name", "max_age_days": 3}]),
            0,
            Some("name"),
        ),
        (
            serde_json::json!([{"rule": "id_birth_date", "id_item": "id_number", "birth_item": "age"}]),
            0,
            Some("age"),
        ),
        (
            serde_json::json!([{"rule": "reference", "item": "employer_uscc", "resource": "a b", "target_item": "uscc"}]),
            0,
            Some("employer_uscc"),
        ),
        (
            serde_json::json!([{"rule": "row_count_change", "max_ratio": -1.0}]),
            0,
            None,
        ),
    ];
    for (json, index, item) in cases {
        let e = parse_err(json.clone());
        assert_eq!((e.index(), e.item()), (index, item), "{json}: {e}");
    }
    // Unknown rules and fields are refused when the JSON is read.
    assert!(
        serde_json::from_value::<Vec<RuleSpec>>(serde_json::json!([{"rule": "magic"}])).is_err()
    );
    assert!(
        serde_json::from_value::<Vec<RuleSpec>>(
            serde_json::json!([{"rule": "range", "item": "age", "mni": 1}])
        )
        .is_err()
    );
}

#[test]
fn rules_round_trip_as_json() {
    let json = serde_json::json!([
        {"rule": "unique", "items": ["name", "birth_date"], "severity": "warn"},
        {"rule": "range", "item": "age", "min": 0, "max": 150},
        {"rule": "row_count_change", "max_ratio": 0.2}
    ]);
    let specs = rules(json.clone());
    assert_eq!(specs[0].severity(), Severity::Warn);
    assert_eq!(specs[1].severity(), Severity::Reject);
    assert_eq!(specs[2].severity(), Severity::Warn);
    assert_eq!(serde_json::to_value(&specs).unwrap(), json);
    let set = RuleSet::parse(&person_spec(), specs.clone()).unwrap();
    assert_eq!(set.declared(), specs.as_slice());
}

#[test]
fn uniqueness_holds_across_rows() {
    let rules = set(serde_json::json!([
        {"rule": "unique", "items": ["name", "birth_date"], "severity": "warn"}
    ]));
    let refs = no_refs();
    let mut checker = RowChecker::new(&rules, today(), &refs);
    checker.reserve(16);
    let (a, b) = (male_1980(), female_1949());
    let first = checker.check(&row(&[
        ("id_number", &a),
        ("name", "张三"),
        ("birth_date", "1980-01-01"),
    ]));
    assert!(first.is_clean());
    // Same key: rejected by the built-in key uniqueness.
    let dup = checker.check(&row(&[("id_number", &a), ("name", "李四")]));
    assert!(dup.reject);
    assert_eq!(rule_ids(&dup), ["unique_key"]);
    // Same name and birth date, another person: a warning only.
    let twin = checker.check(&row(&[
        ("id_number", &b),
        ("name", "张三"),
        ("birth_date", "1980-01-01"),
    ]));
    assert!(!twin.reject);
    assert_eq!(rule_ids(&twin), ["unique:name,birth_date"]);
    // Missing values are not duplicates of each other.
    let c = with_id_check("11010519900101003");
    let d = with_id_check("11010519900101005");
    assert!(
        checker
            .check(&row(&[("id_number", &c), ("name", "王五")]))
            .is_clean()
    );
    assert!(
        checker
            .check(&row(&[("id_number", &d), ("name", "王五")]))
            .is_clean()
    );
    // a, b, c and d were loaded; the duplicate of a was not.
    assert_eq!(checker.distinct_keys(), 4);
}

#[test]
fn a_rejected_row_does_not_claim_its_key() {
    let rules = set(serde_json::json!([
        {"rule": "range", "item": "age", "max": 150}
    ]));
    let refs = no_refs();
    let mut checker = RowChecker::new(&rules, today(), &refs);
    let a = male_1980();
    assert!(
        checker
            .check(&row(&[("id_number", &a), ("age", "460")]))
            .reject
    );
    // The corrected row later in the batch is not a duplicate.
    assert!(
        checker
            .check(&row(&[("id_number", &a), ("age", "46")]))
            .is_clean()
    );
    assert!(
        checker
            .check(&row(&[("id_number", &a), ("age", "46")]))
            .reject
    );
}

#[test]
fn declaring_key_uniqueness_replaces_the_built_in_rule() {
    let rules = set(serde_json::json!([
        {"rule": "unique", "items": ["id_number"], "severity": "warn"}
    ]));
    assert!(!rules.rules().iter().any(|r| r.id.as_str() == "unique_key"));
    let refs = no_refs();
    let mut checker = RowChecker::new(&rules, today(), &refs);
    let a = male_1980();
    checker.check(&row(&[("id_number", &a)]));
    let v = checker.check(&row(&[("id_number", &a)]));
    assert!(!v.reject);
    assert_eq!(rule_ids(&v), ["unique:id_number"]);
}

#[test]
fn references_are_looked_up_in_the_given_set() {
    let rules = set(serde_json::json!([
        {"rule": "reference", "item": "employer_uscc", "resource": "ENTITY-REG", "target_item": "uscc"}
    ]));
    assert_eq!(rules.references(), [("ENTITY-REG", "uscc")]);
    let mut refs = InMemoryReferences::new();
    refs.extend("ENTITY-REG", "uscc", ["91110000600037341L"]);
    let mut checker = RowChecker::new(&rules, today(), &refs);
    let (a, b) = (male_1980(), female_1949());
    let ok = checker.check(&row(&[
        ("id_number", &a),
        ("employer_uscc", "91110000600037341L"),
    ]));
    assert!(ok.is_clean(), "{ok:?}");
    let other = with_uscc("91350100M000100Y4");
    let missing = checker.check(&row(&[("id_number", &b), ("employer_uscc", &other)]));
    assert!(missing.reject);
    assert_eq!(
        missing.violations[0].reason,
        "not found as uscc in resource ENTITY-REG"
    );
}

fn with_uscc(first17: &str) -> String {
    crate::with_uscc_check(first17)
}

#[test]
fn freshness_uses_the_given_today() {
    let rules = set(serde_json::json!([
        {"rule": "freshness", "item": "updated", "max_age_days": 30}
    ]));
    let refs = no_refs();
    let a = male_1980();
    let cells = row(&[("id_number", &a), ("updated", "2026-05-01")]);
    let on = |d: NaiveDate| RowChecker::new(&rules, d, &refs).check(&cells);
    assert!(on(NaiveDate::from_ymd_opt(2026, 5, 31).unwrap()).is_clean());
    let late = on(NaiveDate::from_ymd_opt(2026, 6, 1).unwrap());
    assert!(!late.reject);
    assert_eq!(late.violations[0].severity, Severity::Warn);
    assert_eq!(late.violations[0].reason, "31 days old, more than 30");
}

#[test]
fn row_count_change_compares_with_the_last_batch() {
    let rules = set(serde_json::json!([{"rule": "row_count_change", "max_ratio": 0.2}]));
    assert!(BatchChecks::row_count_change(&rules, None, 10).is_empty());
    assert!(BatchChecks::row_count_change(&rules, Some(100), 120).is_empty());
    assert!(BatchChecks::row_count_change(&rules, Some(100), 80).is_empty());
    let v = BatchChecks::row_count_change(&rules, Some(100), 121);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].severity, Severity::Warn);
    assert_eq!(v[0].rule.as_str(), "row_count_change");
    assert!(v[0].reason.contains("21.0%"), "{}", v[0].reason);
    let v = BatchChecks::row_count_change(&rules, Some(100), 50);
    assert_eq!(v.len(), 1);
    let strict = set(
        serde_json::json!([{"rule": "row_count_change", "max_ratio": 0.2, "severity": "reject"}]),
    );
    assert_eq!(
        BatchChecks::row_count_change(&strict, Some(100), 0)[0].severity,
        Severity::Reject
    );
}

#[test]
fn the_tally_counts_rules_and_scores_the_batch() {
    let rules = set(serde_json::json!([
        {"rule": "range", "item": "age", "min": 0, "max": 150},
        {"rule": "row_count_change", "max_ratio": 0.2}
    ]));
    let refs = no_refs();
    let mut checker = RowChecker::new(&rules, today(), &refs);
    let mut tally = QualityTally::new(&rules, 2);
    let ids: Vec<String> = (1..=7)
        .map(|n| with_id_check(&format!("1101051980010100{n}")))
        .collect();
    let rows = [
        row(&[("id_number", &ids[0]), ("age", "46")]),
        row(&[("id_number", &ids[1]), ("age", "200")]),
        row(&[
            ("id_number", &ids[2]),
            ("employer_uscc", "911100006000373417"),
        ]),
        row(&[("id_number", &ids[3])]),
        row(&[("id_number", &ids[3])]),
        row(&[("id_number", &ids[4])]),
    ];
    for r in &rows {
        tally.record(&checker.check(r));
    }
    // A row the reader refused for its type counts too.
    tally.record(&RowVerdict::from_violations(
        vec![Violation::type_error(
            "age",
            "abc",
            "\"abc\" is not a whole number",
        )],
        Some(ids[5].clone()),
    ));
    tally.record_batch(BatchChecks::row_count_change(&rules, Some(10), 7));
    let tally = tally.finish();

    assert_eq!(tally.rows, 7);
    assert_eq!(tally.rejected_rows, 3);
    assert_eq!(tally.warned_rows, 1);
    assert_eq!(tally.clean_rows, 3);
    assert_eq!(tally.loaded_rows(), 4);
    // 3 clean of 7 rows.
    assert_eq!(tally.score(), 42.9);
    let get = |id: &str| {
        tally
            .rules
            .iter()
            .find(|(k, _)| k.as_str() == id)
            .map(|(_, c)| c.clone())
            .unwrap()
    };
    assert_eq!(get("range:age").rejected, 1);
    assert_eq!(get("range:age").checked, 7);
    assert_eq!(get("kind:employer_uscc").warned, 1);
    assert_eq!(get("kind:employer_uscc").rejected, 0);
    assert_eq!(get("unique_key").rejected, 1);
    assert_eq!(get("type:age").rejected, 1);
    assert_eq!(get("kind:id_number").failed(), 0);
    assert_eq!(tally.batch.len(), 1);
    // Only the first two failures are kept inline, with row number and key.
    assert_eq!(tally.failures.len(), 2);
    assert_eq!(tally.failures[0].row, 2);
    assert_eq!(tally.failures[0].key.as_deref(), Some(ids[1].as_str()));
    assert_eq!(tally.failures[0].violation.value.as_deref(), Some("200"));
    assert_eq!(tally.failures[1].row, 3);

    let json = serde_json::to_value(&tally).unwrap();
    assert_eq!(json["rules"]["range:age"]["rejected"], 1);
    assert_eq!(json["failures"][0]["rule"], "range:age");
    let back: QualityTally = serde_json::from_value(json).unwrap();
    assert_eq!(back, tally);
}

#[test]
fn an_empty_batch_scores_100() {
    let rules = set(serde_json::json!([]));
    let tally = QualityTally::new(&rules, 10).finish();
    assert_eq!(tally.score(), 100.0);
}

#[test]
fn a_tally_compares_with_the_previous_batch() {
    let rules = set(serde_json::json!([
        {"rule": "range", "item": "age", "min": 0, "max": 150}
    ]));
    let refs = no_refs();
    let batch = |ages: &[&str]| {
        let mut checker = RowChecker::new(&rules, today(), &refs);
        let mut tally = QualityTally::new(&rules, 10);
        for (n, age) in ages.iter().enumerate() {
            let id = with_id_check(&format!("1101051980010100{}", n + 1));
            tally.record(&checker.check(&row(&[("id_number", &id), ("age", age)])));
        }
        tally.finish()
    };
    let previous = batch(&["1", "2", "300", "400"]);
    let current = batch(&["1", "2", "3", "4", "500"]);
    assert_eq!(previous.score(), 50.0);
    assert_eq!(current.score(), 80.0);
    let cmp = current.compare(&previous);
    assert_eq!(cmp.score_change, 30.0);
    assert_eq!((cmp.previous_rows, cmp.current_rows), (4, 5));
    assert_eq!(cmp.rules.len(), 1);
    let d = &cmp.rules[0];
    assert_eq!(d.rule.as_str(), "range:age");
    assert_eq!((d.previous_failed, d.current_failed), (Some(2), Some(1)));
    assert_eq!(d.rate_change, -30.0);
    // A rule new in this batch shows with no previous count.
    let mut previous_without = previous.clone();
    previous_without
        .rules
        .retain(|k, _| k.as_str() != "range:age");
    let cmp = current.compare(&previous_without);
    assert_eq!(cmp.rules[0].previous_failed, None);
}

#[test]
fn a_declared_kind_rule_changes_the_built_in_severity() {
    let rules = set(serde_json::json!([
        {"rule": "kind", "item": "employer_uscc", "severity": "warn"}
    ]));
    let info = rules
        .rules()
        .iter()
        .find(|r| r.id.as_str() == "kind:employer_uscc")
        .unwrap();
    assert_eq!((info.severity, info.declared), (Severity::Warn, true));
    let id = male_1980();
    let v = check_one(
        &rules,
        &[("id_number", &id), ("employer_uscc", "9111000060003734")],
    );
    assert!(!v.reject);
    assert_eq!(v.violations[0].severity, Severity::Warn);
    // Free text has no kind check to change.
    let e = parse_err(serde_json::json!([{"rule": "kind", "item": "note"}]));
    assert_eq!((e.index(), e.item()), (0, Some("note")));
}
