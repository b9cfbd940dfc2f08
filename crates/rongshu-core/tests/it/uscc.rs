//! Unified social credit codes: known vectors, decoding and the legacy outcome.

use rongshu_core::ident::{OrgCode, Outcome, Uscc, UsccError};

use crate::with_uscc_check;

#[test]
fn standard_example_decodes() {
    let code = Uscc::parse("91110000600037341L").unwrap();
    assert_eq!(code.authority().code, '9');
    assert_eq!(code.authority().name, "工商");
    assert_eq!(code.entity_type().name, "企业");
    assert_eq!(code.division_str(), "110000");
    assert_eq!(code.division().unwrap().division().name(), "北京市");
    assert_eq!(code.org_code_str(), "600037341");
    assert_eq!(code.org_code().unwrap().to_string(), "60003734-1");
    assert!(!code.has_legacy_checksum());
}

#[test]
fn lower_case_is_normalised() {
    assert_eq!(
        Uscc::parse("91110000600037341l").unwrap().as_str(),
        "91110000600037341L"
    );
}

#[test]
fn wrong_check_character_on_a_well_formed_code_is_legacy() {
    // The standard example with only its check character changed.
    let err = Uscc::parse("911100006000373417").unwrap_err();
    assert_eq!(
        err,
        UsccError::LegacyChecksum {
            expected: 'L',
            found: '7'
        }
    );
    assert_eq!(err.outcome(), Outcome::LegacyChecksum);
    let code = Uscc::parse_allowing_legacy("911100006000373417").unwrap();
    assert!(code.has_legacy_checksum());
    assert_eq!(code.expected_check_char(), Some('L'));
    assert_eq!(code.entity_type().name, "企业");
}

#[test]
fn malformed_codes_are_not_legacy() {
    assert_eq!(
        Uscc::parse("B1110000600037341L").unwrap_err().outcome(),
        Outcome::UnknownAuthority
    );
    assert_eq!(
        Uscc::parse("94110000600037341L").unwrap_err().to_string(),
        "'4' is not an entity type of authority 9 (工商)"
    );
    assert_eq!(
        Uscc::parse("91519999600037341L").unwrap_err().to_string(),
        "division code 519999 never existed"
    );
    assert_eq!(
        Uscc::parse("9111000060003734IL").unwrap_err().to_string(),
        "character 17 must be a digit or one of ABCDEFGHJKLMNPQRTUWXY, found 'I'"
    );
    assert_eq!(
        Uscc::parse("91110000600037341").unwrap_err().outcome(),
        Outcome::BadLength
    );
}

#[test]
fn national_registrations_have_no_division() {
    let code = Uscc::parse(&with_uscc_check("11100000000013127")).unwrap();
    assert_eq!(code.authority().name, "机构编制");
    assert_eq!(code.entity_type().name, "机关");
    assert!(code.division().is_none());
}

#[test]
fn every_authority_and_type_in_the_standard_decodes() {
    let pairs = [
        ("11", "机关"),
        ("13", "群团组织"),
        ("21", "外国常驻新闻机构"),
        ("35", "仲裁委员会"),
        ("41", "外国在华文化中心"),
        ("53", "基金会"),
        ("62", "港澳台地区旅游部门常驻内地代表机构"),
        ("72", "宗教院校"),
        ("81", "基层工会"),
        ("93", "农民专业合作社"),
        ("A1", "军队事业单位"),
        ("N3", "乡镇级集体经济组织"),
        ("Y1", "其他"),
    ];
    for (prefix, name) in pairs {
        let code = Uscc::parse(&with_uscc_check(&format!("{prefix}510104600037341"))).unwrap();
        assert_eq!(code.entity_type().name, name, "{prefix}");
    }
    assert!(Uscc::parse(&with_uscc_check("94510104600037341")).is_err());
    assert!(Uscc::parse(&with_uscc_check("Y2510104600037341")).is_err());
}

#[test]
fn org_code_maps_to_and_from_uscc() {
    let org = OrgCode::parse("60003734-1").unwrap();
    let code = org.to_uscc('9', '1', "110000").unwrap();
    assert_eq!(code.as_str(), "91110000600037341L");
    assert_eq!(OrgCode::from_uscc(&code), Some(org));
}

#[test]
fn individual_business_codes_embed_no_org_code() {
    let code = Uscc::parse(&with_uscc_check("92510104MA6CXXXX1")).unwrap();
    assert!(code.is_individual_business());
    assert_eq!(code.org_code(), None);
}
