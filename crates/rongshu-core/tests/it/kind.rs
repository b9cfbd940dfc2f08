//! Item kinds: inference from keys and Chinese names, and the arrival check.

use std::borrow::Cow;

use rongshu_core::kind::{ItemKind, KindError, KindWarning};

use crate::today;

#[test]
fn inference_from_keys() {
    let cases = [
        ("id_number", ItemKind::CitizenId),
        ("id_no", ItemKind::CitizenId),
        ("citizen_id", ItemKind::CitizenId),
        ("sfzh", ItemKind::CitizenId),
        ("legal_rep_id_no", ItemKind::CitizenId),
        ("phone", ItemKind::Mobile),
        ("mobile", ItemKind::Mobile),
        ("name", ItemKind::PersonName),
        ("contact_name", ItemKind::PersonName),
        ("uscc", ItemKind::Uscc),
        ("credit_code", ItemKind::Uscc),
        ("org_code", ItemKind::OrgCode),
        ("address", ItemKind::Address),
        ("birth_date", ItemKind::Date),
        ("division_code", ItemKind::DivisionCode),
        ("email_address", ItemKind::Email),
        ("postal_code", ItemKind::PostalCode),
        ("company_name", ItemKind::EntityName),
        ("entity_name", ItemKind::EntityName),
    ];
    for (key, kind) in cases {
        assert_eq!(ItemKind::infer(key, ""), Some(kind), "{key}");
    }
    assert_eq!(ItemKind::infer("file_name", ""), None);
    assert_eq!(ItemKind::infer("amount", ""), None);
}

#[test]
fn inference_from_chinese_names() {
    let cases = [
        ("公民身份号码", ItemKind::CitizenId),
        ("身份证号", ItemKind::CitizenId),
        ("身份证号码", ItemKind::CitizenId),
        ("法定代表人身份证号", ItemKind::CitizenId),
        ("联系电话", ItemKind::Mobile),
        ("手机号码", ItemKind::Mobile),
        ("手机号", ItemKind::Mobile),
        ("办公电话", ItemKind::Phone),
        ("姓名", ItemKind::PersonName),
        ("法定代表人", ItemKind::PersonName),
        ("统一社会信用代码", ItemKind::Uscc),
        ("组织机构代码", ItemKind::OrgCode),
        ("住址", ItemKind::Address),
        ("地址", ItemKind::Address),
        ("户籍地址", ItemKind::Address),
        ("出生日期", ItemKind::Date),
        ("行政区划代码", ItemKind::DivisionCode),
        ("企业名称", ItemKind::EntityName),
        ("邮政编码", ItemKind::PostalCode),
        ("电子邮箱", ItemKind::Email),
    ];
    for (name, kind) in cases {
        assert_eq!(ItemKind::infer("", name), Some(kind), "{name}");
    }
    // The Chinese name wins: a column keyed `name` holding company names is not personal.
    assert_eq!(
        ItemKind::infer("name", "企业名称"),
        Some(ItemKind::EntityName)
    );
    assert_eq!(ItemKind::infer("name", "项目名称"), Some(ItemKind::Text));
    assert_eq!(ItemKind::infer("zjlx", "证件类型"), Some(ItemKind::Text));
    assert_eq!(ItemKind::infer("x1", "备注"), None);
}

#[test]
fn serialised_snake_case() {
    let json = serde_json::to_string(&[
        ItemKind::CitizenId,
        ItemKind::Uscc,
        ItemKind::OrgCode,
        ItemKind::DivisionCode,
        ItemKind::Mobile,
        ItemKind::PersonName,
        ItemKind::Address,
        ItemKind::Date,
    ])
    .unwrap();
    assert_eq!(
        json,
        r#"["citizen_id","uscc","org_code","division_code","mobile","person_name","address","date"]"#
    );
    for kind in ItemKind::ALL {
        assert_eq!(kind.as_str().parse::<ItemKind>(), Ok(kind));
        assert_eq!(
            serde_json::to_string(&kind).unwrap(),
            format!("\"{}\"", kind.as_str())
        );
    }
}

#[test]
fn check_normalises_and_borrows_when_already_normal() {
    let ok = ItemKind::CitizenId.check("11010519491231002X").unwrap();
    assert!(matches!(ok.value, Cow::Borrowed(_)));
    let ok = ItemKind::CitizenId.check("11010519491231002x").unwrap();
    assert_eq!(ok.value, "11010519491231002X");
    assert_eq!(
        ItemKind::CitizenId.check("110105491231002").unwrap().value,
        "11010519491231002X"
    );
    assert_eq!(
        ItemKind::Mobile.check("+86 138-1234-5678").unwrap().value,
        "13812345678"
    );
    assert_eq!(
        ItemKind::Date.check("2024年1月5日").unwrap().value,
        "2024-01-05"
    );
    assert!(matches!(
        ItemKind::Date.check("2024-01-05").unwrap().value,
        Cow::Borrowed(_)
    ));
    assert_eq!(
        ItemKind::OrgCode.check("600037341").unwrap().value,
        "60003734-1"
    );
    assert_eq!(
        ItemKind::Uscc.check("91110000600037341l").unwrap().value,
        "91110000600037341L"
    );
    assert_eq!(
        ItemKind::DivisionCode.check("510122").unwrap().value,
        "510122"
    );
    assert_eq!(
        ItemKind::TownshipCode.check("510104022").unwrap().value,
        "510104022"
    );
    assert_eq!(
        ItemKind::Phone.check("(028)8765-4321").unwrap().value,
        "028-87654321"
    );
    assert_eq!(
        ItemKind::Phone.check("0816-2345678").unwrap().value,
        "0816-2345678"
    );
    assert_eq!(
        ItemKind::Phone.check("13812345678").unwrap().value,
        "13812345678"
    );
    assert_eq!(
        ItemKind::PersonName.check("买买提•艾力").unwrap().value,
        "买买提·艾力"
    );
    assert_eq!(
        ItemKind::Email.check("Zhang@Example.CN").unwrap().value,
        "Zhang@example.cn"
    );
    assert_eq!(ItemKind::Text.check("  ").unwrap().value, "");
}

#[test]
fn legacy_uscc_is_a_warning() {
    let ok = ItemKind::Uscc.check("911100006000373417").unwrap();
    assert_eq!(ok.value, "911100006000373417");
    assert_eq!(
        ok.warning,
        Some(KindWarning::LegacyChecksum {
            expected: 'L',
            found: '7'
        })
    );
    assert_eq!(
        ItemKind::Uscc.check("91110000600037341L").unwrap().warning,
        None
    );
}

#[test]
fn check_errors_say_what_is_wrong() {
    let msg = |k: ItemKind, v: &str| k.check(v).unwrap_err().to_string();
    assert_eq!(
        msg(ItemKind::CitizenId, "110105194912310027"),
        "check character should be X, found 7"
    );
    assert_eq!(msg(ItemKind::Date, "19910230"), "no such date 19910230");
    assert_eq!(
        msg(ItemKind::DivisionCode, "519999"),
        "division code 519999 never existed"
    );
    assert_eq!(
        msg(ItemKind::PersonName, "张3"),
        "a person's name has no digits, found '3'"
    );
    assert_eq!(
        msg(ItemKind::PostalCode, "61000"),
        "a postal code has 6 digits, found '61000'"
    );
    assert!(ItemKind::Email.check("zhang.example.cn").is_err());
    assert!(ItemKind::Phone.check("028-0123456").is_err());
    assert_eq!(ItemKind::Mobile.check(" "), Err(KindError::Empty));
}

#[test]
fn check_on_refuses_future_birth_dates() {
    let n = crate::with_id_check("51010420300101001");
    assert!(ItemKind::CitizenId.check(&n).is_ok());
    assert!(ItemKind::CitizenId.check_on(&n, today()).is_err());
}

#[test]
fn personal_kinds() {
    assert!(ItemKind::CitizenId.is_personal());
    assert!(ItemKind::PersonName.is_personal());
    assert!(!ItemKind::EntityName.is_personal());
    assert!(!ItemKind::Uscc.is_personal());
}
