//! Citizen ID numbers: known vectors and each way a number can be wrong.

use rongshu_core::ident::{CitizenId, CitizenIdError, Outcome, Sex};

use crate::{today, with_id_check};

#[test]
fn standard_example_decodes() {
    let id = CitizenId::parse_on("11010519491231002X", today()).unwrap();
    assert_eq!(id.as_str(), "11010519491231002X");
    assert_eq!(id.division().as_str(), "110105");
    assert_eq!(id.division().division().name(), "朝阳区");
    assert_eq!(id.birth_date().to_string(), "1949-12-31");
    assert_eq!(id.sex(), Sex::Female);
    assert!(!id.converted_from_15());
}

#[test]
fn lower_case_x_is_accepted_and_normalised() {
    let id = CitizenId::parse(" 11010519491231002x ").unwrap();
    assert_eq!(id.as_str(), "11010519491231002X");
}

#[test]
fn fifteen_digit_numbers_are_converted() {
    // 110105 491231 002: the standard example in its 1984 form.
    let id = CitizenId::parse("110105491231002").unwrap();
    assert_eq!(id.as_str(), "11010519491231002X");
    assert!(id.converted_from_15());
    // A male Chengdu number: 510104 800615 123 → 51010419800615123 + check.
    let id = CitizenId::parse("510104800615123").unwrap();
    assert_eq!(id.as_str(), "510104198006151238");
    assert_eq!(id.sex(), Sex::Male);
}

#[test]
fn wrong_check_character_names_the_right_one() {
    let err = CitizenId::parse("110105194912310027").unwrap_err();
    assert_eq!(err.to_string(), "check character should be X, found 7");
    assert_eq!(err.outcome(), Outcome::BadCheckCharacter);
}

#[test]
fn impossible_date_is_named() {
    let n = with_id_check("51010419910230001");
    let err = CitizenId::parse(&n).unwrap_err();
    assert_eq!(err.to_string(), "no such date 19910230");
    assert_eq!(err.outcome(), Outcome::BadDate);
}

#[test]
fn future_birth_date_is_refused_only_when_today_is_given() {
    let n = with_id_check("51010420300101001");
    assert!(CitizenId::parse(&n).is_ok());
    let err = CitizenId::parse_on(&n, today()).unwrap_err();
    assert!(matches!(err, CitizenIdError::FutureDate { .. }));
    assert_eq!(err.outcome(), Outcome::FutureDate);
}

#[test]
fn retired_shuangliu_code_is_valid_for_a_1990_birth() {
    let n = with_id_check("51012219900101123");
    let id = CitizenId::parse_on(&n, today()).unwrap();
    let d = id.division().division();
    assert_eq!(d.name(), "双流县");
    assert_eq!(d.valid_to(), Some(2015));
    assert!(!d.is_current());
    let heir = d.successor().unwrap();
    assert_eq!(heir.as_str(), "510116");
    assert_eq!(heir.division().name(), "双流区");
}

#[test]
fn retired_code_is_refused_for_births_after_it_was_retired() {
    let n = with_id_check("51012220200101123");
    let err = CitizenId::parse(&n).unwrap_err();
    assert_eq!(err.outcome(), Outcome::DivisionRetired);
    assert_eq!(
        err.to_string(),
        "division code 510122 (双流县) was retired in 2015, before the birth year 2020"
    );
}

#[test]
fn division_that_never_existed_is_refused() {
    let n = with_id_check("51999919900101123");
    let err = CitizenId::parse(&n).unwrap_err();
    assert_eq!(err.to_string(), "division code 519999 never existed");
    assert_eq!(err.outcome(), Outcome::UnknownDivision);
}

#[test]
fn length_and_character_errors_say_where() {
    assert_eq!(
        CitizenId::parse("1101051949123100")
            .unwrap_err()
            .to_string(),
        "a citizen ID number has 18 characters (15 in the old form), found 16"
    );
    assert_eq!(
        CitizenId::parse("1101051949123A002X")
            .unwrap_err()
            .to_string(),
        "character 14 must be a digit, found 'A'"
    );
    assert_eq!(
        CitizenId::parse("11010519491231002Y")
            .unwrap_err()
            .to_string(),
        "character 18 must be a digit or X, found 'Y'"
    );
    assert_eq!(CitizenId::parse("  ").unwrap_err(), CitizenIdError::Empty);
}

#[test]
fn debug_output_is_masked() {
    let id = CitizenId::parse("11010519491231002X").unwrap();
    assert_eq!(format!("{id:?}"), "CitizenId(110105********002X)");
}

#[test]
fn serde_round_trip() {
    let id = CitizenId::parse("11010519491231002X").unwrap();
    let json = serde_json::to_string(&id).unwrap();
    assert_eq!(json, "\"11010519491231002X\"");
    let back: CitizenId = serde_json::from_str(&json).unwrap();
    assert_eq!(back, id);
    assert!(serde_json::from_str::<CitizenId>("\"110105194912310027\"").is_err());
}
