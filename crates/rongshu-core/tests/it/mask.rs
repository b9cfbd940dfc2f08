//! Masking by kind and by configured rule.

use rongshu_core::kind::ItemKind;
use rongshu_core::mask::{MaskRule, keep, mask};

use crate::with_uscc_check;

#[test]
fn citizen_id_keeps_six_and_four() {
    assert_eq!(
        mask(ItemKind::CitizenId, "510104199001010019"),
        "510104********0019"
    );
}

#[test]
fn mobile_keeps_three_and_four() {
    assert_eq!(mask(ItemKind::Mobile, "13812345678"), "138****5678");
    assert_eq!(mask(ItemKind::Mobile, "+86 138 1234 5678"), "138****5678");
}

#[test]
fn names_keep_the_surname() {
    assert_eq!(mask(ItemKind::PersonName, "张三"), "张*");
    assert_eq!(mask(ItemKind::PersonName, "张三丰"), "张**");
    assert_eq!(mask(ItemKind::PersonName, "欧阳娜娜"), "欧阳**");
    assert_eq!(mask(ItemKind::PersonName, "欧阳修"), "欧阳*");
    assert_eq!(mask(ItemKind::PersonName, "诸葛亮"), "诸葛*");
    assert_eq!(mask(ItemKind::PersonName, "司马相如"), "司马**");
    // A two-character name that happens to be a compound surname keeps one character.
    assert_eq!(mask(ItemKind::PersonName, "欧阳"), "欧*");
    assert_eq!(mask(ItemKind::PersonName, "张"), "*");
}

#[test]
fn addresses_keep_down_to_the_county() {
    assert_eq!(
        mask(ItemKind::Address, "四川省成都市武侯区人民南路四段1号"),
        "四川省成都市武侯区********"
    );
    assert_eq!(
        mask(ItemKind::Address, "成都市双流区东升街道"),
        "成都市双流区****"
    );
    assert_eq!(
        mask(ItemKind::Address, "北京市朝阳区建国路88号"),
        "北京市朝阳区******"
    );
    assert_eq!(
        mask(ItemKind::Address, "四川省成都市简阳市河东新区1号"),
        "四川省成都市简阳市******"
    );
    // An unknown county name still ends at 区/县/市 right after the city.
    assert_eq!(
        mask(ItemKind::Address, "成都市天府新区华阳街道1号"),
        "成都市天府新区******"
    );
    // A housing estate (小区) is not a district.
    assert_eq!(
        mask(ItemKind::Address, "成都市人民南路某小区3栋"),
        "成都市*********"
    );
}

#[test]
fn individual_business_uscc_is_masked_in_the_middle() {
    let code = with_uscc_check("92510104MA6CXXXX1");
    let masked = mask(ItemKind::Uscc, &code);
    assert_eq!(&masked[..8], "92510104");
    assert_eq!(&masked[8..16], "********");
    assert_eq!(&masked[16..], &code[16..]);
    // An enterprise's code is public.
    assert_eq!(
        mask(ItemKind::Uscc, "91110000600037341L"),
        "91110000600037341L"
    );
}

#[test]
fn fallback_keeps_first_and_last() {
    assert_eq!(mask(ItemKind::Text, "保密内容"), "保**容");
    assert_eq!(mask(ItemKind::CitizenId, "12345"), "1***5");
    assert_eq!(mask(ItemKind::Mobile, "abc"), "a*c");
    assert_eq!(keep("ab", 1, 1), "a*");
    assert_eq!(keep("", 1, 1), "");
    assert_eq!(
        mask(ItemKind::Email, "zhangsan@example.cn"),
        "z*******@example.cn"
    );
    assert_eq!(mask(ItemKind::Phone, "028-87654321"), "028-****4321");
}

#[test]
fn rules_apply_and_serialise() {
    assert_eq!(
        MaskRule::ByKind.apply(ItemKind::Mobile, "13812345678"),
        "138****5678"
    );
    assert_eq!(
        MaskRule::Keep { first: 2, last: 2 }.apply(ItemKind::Text, "abcdef"),
        "ab**ef"
    );
    assert_eq!(MaskRule::Full.apply(ItemKind::Text, "张三"), "**");
    assert_eq!(MaskRule::None.apply(ItemKind::PersonName, "张三"), "张三");
    let json = serde_json::to_string(&MaskRule::Keep { first: 3, last: 4 }).unwrap();
    assert_eq!(json, r#"{"rule":"keep","first":3,"last":4}"#);
    for rule in [
        MaskRule::ByKind,
        MaskRule::Keep { first: 1, last: 0 },
        MaskRule::Full,
        MaskRule::None,
    ] {
        let back: MaskRule = serde_json::from_str(&serde_json::to_string(&rule).unwrap()).unwrap();
        assert_eq!(back, rule);
    }
    assert_eq!(
        serde_json::to_string(&MaskRule::ByKind).unwrap(),
        r#"{"rule":"by_kind"}"#
    );
}
