//! The validation report as the CLI and HTTP endpoint will print it.

use rongshu_core::ident::{IdentKind, validate};
use serde_json::{Value, json};

use crate::{today, with_id_check};

fn report(kind: IdentKind, value: &str) -> Value {
    serde_json::to_value(validate(kind, value, today())).unwrap()
}

#[test]
fn kinds_parse_from_both_spellings() {
    assert_eq!("citizen-id".parse::<IdentKind>(), Ok(IdentKind::CitizenId));
    assert_eq!("citizen_id".parse::<IdentKind>(), Ok(IdentKind::CitizenId));
    assert_eq!("uscc".parse::<IdentKind>(), Ok(IdentKind::Uscc));
    assert_eq!("org-code".parse::<IdentKind>(), Ok(IdentKind::OrgCode));
    assert_eq!("org_code".parse::<IdentKind>(), Ok(IdentKind::OrgCode));
    assert!("passport".parse::<IdentKind>().is_err());
}

#[test]
fn valid_citizen_id_report() {
    assert_eq!(
        report(IdentKind::CitizenId, "11010519491231002x"),
        json!({
            "value": "11010519491231002x",
            "kind": "citizen_id",
            "valid": true,
            "outcome": "valid",
            "reason": null,
            "normalized": "11010519491231002X",
            "division_code": "110105",
            "division_name": "朝阳区",
            "province": "北京市",
            "division_valid_from": null,
            "division_valid_to": null,
            "birth_date": "1949-12-31",
            "sex": "female",
            "converted_from_15": false
        })
    );
}

#[test]
fn retired_division_report_names_the_successor() {
    let r = report(IdentKind::CitizenId, &with_id_check("51012219900101123"));
    assert_eq!(r["valid"], true);
    assert_eq!(r["division_name"], "双流县");
    assert_eq!(r["division_valid_to"], 2015);
    assert_eq!(r["current_division_code"], "510116");
    assert_eq!(r["current_division_name"], "双流区");
    assert_eq!(r["sex"], "male");
}

#[test]
fn invalid_citizen_id_reports() {
    let r = report(IdentKind::CitizenId, "110105194912310027");
    assert_eq!(r["valid"], false);
    assert_eq!(r["outcome"], "bad_check_character");
    assert_eq!(r["reason"], "check character should be X, found 7");
    let r = report(IdentKind::CitizenId, &with_id_check("51010419910230001"));
    assert_eq!(r["outcome"], "bad_date");
    assert_eq!(r["reason"], "no such date 19910230");
    let r = report(IdentKind::CitizenId, &with_id_check("51999919900101123"));
    assert_eq!(r["outcome"], "unknown_division");
    assert_eq!(r["reason"], "division code 519999 never existed");
    let r = report(IdentKind::CitizenId, &with_id_check("51010420300101001"));
    assert_eq!(r["outcome"], "future_date");
    let r = report(IdentKind::CitizenId, "123");
    assert_eq!(r["outcome"], "bad_length");
    let r = report(IdentKind::CitizenId, "110105491231002");
    assert_eq!(r["converted_from_15"], true);
    assert_eq!(r["normalized"], "11010519491231002X");
}

#[test]
fn uscc_reports() {
    assert_eq!(
        report(IdentKind::Uscc, "91110000600037341L"),
        json!({
            "value": "91110000600037341L",
            "kind": "uscc",
            "valid": true,
            "outcome": "valid",
            "reason": null,
            "normalized": "91110000600037341L",
            "authority_code": "9",
            "authority_name": "工商",
            "entity_type_code": "1",
            "entity_type_name": "企业",
            "division_code": "110000",
            "division_name": "北京市",
            "province": "北京市",
            "org_code": "60003734-1",
            "org_code_valid": true
        })
    );
    let r = report(IdentKind::Uscc, "911100006000373417");
    assert_eq!(r["valid"], false);
    assert_eq!(r["outcome"], "legacy_checksum");
    assert_eq!(r["expected_check_character"], "L");
    assert_eq!(r["entity_type_name"], "企业");
    let r = report(IdentKind::Uscc, "B1110000600037341L");
    assert_eq!(r["outcome"], "unknown_authority");
    assert!(r.get("authority_name").is_none());
}

#[test]
fn org_code_reports() {
    let r = report(IdentKind::OrgCode, "600037341");
    assert_eq!(
        r,
        json!({
            "value": "600037341",
            "kind": "org_code",
            "valid": true,
            "outcome": "valid",
            "reason": null,
            "normalized": "60003734-1",
            "uscc_embeddable": true
        })
    );
    let r = report(IdentKind::OrgCode, "60003734-2");
    assert_eq!(r["outcome"], "bad_check_character");
    assert_eq!(r["reason"], "check character should be 1, found 2");
}
