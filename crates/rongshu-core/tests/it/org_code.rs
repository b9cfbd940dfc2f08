//! Organisation codes: the standard example and its spellings.

use rongshu_core::ident::{OrgCode, OrgCodeError, Outcome};

#[test]
fn standard_example_with_and_without_hyphen() {
    for s in ["60003734-1", "600037341", " 60003734-1 "] {
        let code = OrgCode::parse(s).unwrap();
        assert_eq!(code.to_string(), "60003734-1");
        assert_eq!(code.compact(), "600037341");
        assert!(code.is_uscc_embeddable());
    }
}

#[test]
fn check_character_x_and_zero() {
    // Bodies whose sums leave remainders 1 (→ X) and 0 (→ 0).
    let x = (0..100_000_000u32)
        .step_by(7919)
        .map(|n| format!("{n:08}"))
        .find(|b| rongshu_core::ident::org_code::check_char(b) == Some('X'))
        .unwrap();
    assert!(OrgCode::parse(&format!("{x}-X")).is_ok());
    assert!(OrgCode::parse(&format!("{x}-x")).is_ok());
}

#[test]
fn errors_say_what_is_wrong() {
    assert_eq!(
        OrgCode::parse("60003734-2").unwrap_err().to_string(),
        "check character should be 1, found 2"
    );
    assert_eq!(
        OrgCode::parse("6000373-41").unwrap_err().outcome(),
        Outcome::BadCharacter
    );
    assert_eq!(
        OrgCode::parse("6000373").unwrap_err(),
        OrgCodeError::BadLength { found: 7 }
    );
    assert_eq!(
        OrgCode::parse("6000373*1").unwrap_err().to_string(),
        "character 8 must be a digit or a capital letter, found '*'"
    );
}

#[test]
fn letters_outside_the_uscc_alphabet_cannot_be_embedded() {
    let body = "ABCDEFGI";
    let check = rongshu_core::ident::org_code::check_char(body).unwrap();
    let code = OrgCode::parse(&format!("{body}-{check}")).unwrap();
    assert!(!code.is_uscc_embeddable());
    assert!(code.to_uscc('9', '1', "510104").is_err());
}
