//! Property tests: generated valid identifiers validate, every single-character change
//! and adjacent transposition is caught, parsers round-trip, and nothing panics.

use chrono::{Datelike, NaiveDate};
use proptest::prelude::*;
use proptest::sample::select;
use rongshu_core::catalog::ElementCode;
use rongshu_core::division::{self, DivisionCode, DivisionLevel, TownshipCode};
use rongshu_core::ident::{
    self, CitizenId, IdentKind, Mobile, OrgCode, Uscc, UsccError, parse_date, validate,
};
use rongshu_core::kind::ItemKind;
use rongshu_core::mask::{MaskRule, mask};

use crate::today;

const USCC_ALPHABET: &[u8] = ident::uscc::ALPHABET.as_bytes();
const ID_CHARS: &[u8] = b"0123456789X";

/// Current county-level codes: any birth date fits them.
fn current_counties() -> Vec<&'static str> {
    division::all()
        .filter(|d| d.is_current() && d.level() == DivisionLevel::County)
        .map(|d| d.code_str())
        .collect()
}

/// Every code in the tables (for USCCs, which check only that the code existed).
fn any_division() -> Vec<&'static str> {
    division::all().map(|d| d.code_str()).collect()
}

prop_compose! {
    fn birth_date()(days in 0i64..(125 * 365)) -> NaiveDate {
        NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + chrono::Duration::days(days)
    }
}

prop_compose! {
    /// A valid 18-character ID number with its parts.
    fn valid_id()(
        division in select(current_counties()),
        born in birth_date(),
        seq in 0u32..1000,
    ) -> (String, &'static str, NaiveDate, u32) {
        let first17 = format!("{division}{}{seq:03}", born.format("%Y%m%d"));
        (crate::with_id_check(&first17), division, born, seq)
    }
}

/// Authority and entity type pairs of GB 32100.
const TYPES: &[&str] = &[
    "11", "12", "13", "19", "21", "29", "31", "32", "33", "34", "35", "39", "41", "49", "51", "52",
    "53", "59", "61", "62", "69", "71", "72", "79", "81", "89", "91", "92", "93", "A1", "A9", "N1",
    "N2", "N3", "N9", "Y1",
];

prop_compose! {
    fn valid_uscc()(
        kind in select(TYPES),
        division in select(any_division()),
        body in proptest::collection::vec(select(USCC_ALPHABET), 9),
    ) -> String {
        let body: String = body.into_iter().map(char::from).collect();
        crate::with_uscc_check(&format!("{kind}{division}{body}"))
    }
}

prop_compose! {
    fn valid_org_code()(body in "[0-9A-Z]{8}") -> String {
        let check = ident::org_code::check_char(&body).unwrap();
        format!("{body}{check}")
    }
}

fn with_byte(s: &str, i: usize, b: u8) -> String {
    let mut bytes = s.as_bytes().to_vec();
    bytes[i] = b;
    String::from_utf8(bytes).unwrap()
}

fn swapped(s: &str, i: usize) -> String {
    let mut bytes = s.as_bytes().to_vec();
    bytes.swap(i, i + 1);
    String::from_utf8(bytes).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn generated_ids_validate((number, division, born, seq) in valid_id()) {
        let id = CitizenId::parse_on(&number, today().max(born)).unwrap();
        prop_assert_eq!(id.as_str(), number.as_str());
        prop_assert_eq!(id.division().as_str(), division);
        prop_assert_eq!(id.birth_date(), born);
        prop_assert_eq!(id.sex() == ident::Sex::Male, seq % 2 == 1);
        let lower = number.to_ascii_lowercase();
        let from_lower = CitizenId::parse(&lower).unwrap();
        prop_assert_eq!(from_lower.as_str(), number.as_str());
    }

    #[test]
    fn fifteen_digit_numbers_convert((number, ..) in valid_id()) {
        prop_assume!((1900..2000).contains(&number[6..10].parse::<i32>().unwrap()));
        let old = format!("{}{}", &number[..6], &number[8..17]);
        let id = CitizenId::parse(&old).unwrap();
        prop_assert_eq!(id.as_str(), number.as_str());
        prop_assert!(id.converted_from_15());
    }

    /// ISO 7064 MOD 11-2: every weight is non-zero mod 11 and digits differ by less
    /// than 11, so no single substitution keeps the sum.
    #[test]
    fn every_single_change_to_an_id_is_caught((number, ..) in valid_id()) {
        for i in 0..18 {
            for &b in ID_CHARS {
                if b == number.as_bytes()[i] {
                    continue;
                }
                let changed = with_byte(&number, i, b);
                prop_assert!(CitizenId::parse(&changed).is_err(), "{} → {}", number, changed);
            }
        }
    }

    /// Adjacent weights differ mod 11 (and the last weight, 2, differs from the check
    /// character's, 1), so every transposition of two different characters is caught.
    /// Swapping two equal characters changes nothing and is skipped.
    #[test]
    fn every_adjacent_transposition_in_an_id_is_caught((number, ..) in valid_id()) {
        let bytes = number.as_bytes();
        for i in 0..17 {
            if bytes[i] == bytes[i + 1] {
                continue;
            }
            let changed = swapped(&number, i);
            prop_assert!(CitizenId::parse(&changed).is_err(), "{} → {}", number, changed);
        }
    }

    #[test]
    fn generated_usccs_validate(code in valid_uscc()) {
        let parsed = Uscc::parse(&code).unwrap();
        prop_assert_eq!(parsed.as_str(), code.as_str());
        let report = validate(IdentKind::Uscc, &code, today());
        prop_assert!(report.valid);
    }

    /// MOD 31 with weights 3^(i-1): 31 is prime and no weight is 0 mod 31, so every
    /// single substitution is caught — as a malformed code or, when the change keeps
    /// it well formed, as a legacy checksum (never as a valid code).
    #[test]
    fn every_single_change_to_a_uscc_is_caught(code in valid_uscc()) {
        for i in 0..18 {
            for &b in USCC_ALPHABET {
                if b == code.as_bytes()[i] {
                    continue;
                }
                let changed = with_byte(&code, i, b);
                prop_assert!(Uscc::parse(&changed).is_err(), "{} → {}", code, changed);
                prop_assert!(!validate(IdentKind::Uscc, &changed, today()).valid);
            }
        }
    }

    /// 3^(i-1) and 3^i never agree mod 31, nor do the last weight (28) and the check
    /// character's (1), so every transposition of two different characters is caught.
    #[test]
    fn every_adjacent_transposition_in_a_uscc_is_caught(code in valid_uscc()) {
        let bytes = code.as_bytes();
        for i in 0..17 {
            if bytes[i] == bytes[i + 1] {
                continue;
            }
            let changed = swapped(&code, i);
            prop_assert!(Uscc::parse(&changed).is_err(), "{} → {}", code, changed);
        }
    }

    /// A legacy checksum is exactly "well formed, check character wrong".
    #[test]
    fn wrong_check_character_on_a_valid_uscc_is_legacy(code in valid_uscc(), b in select(USCC_ALPHABET)) {
        prop_assume!(b != code.as_bytes()[17]);
        let changed = with_byte(&code, 17, b);
        let is_legacy = matches!(Uscc::parse(&changed), Err(UsccError::LegacyChecksum { .. }));
        prop_assert!(is_legacy);
        prop_assert_eq!(
            validate(IdentKind::Uscc, &changed, today()).outcome.as_str(),
            "legacy_checksum"
        );
        let warned = ItemKind::Uscc.check(&changed).unwrap().warning.is_some();
        prop_assert!(warned);
    }

    #[test]
    fn generated_org_codes_validate(code in valid_org_code()) {
        let parsed = OrgCode::parse(&code).unwrap();
        prop_assert_eq!(parsed.compact(), code.as_str());
        let hyphenated = format!("{}-{}", &code[..8], &code[8..]);
        prop_assert_eq!(parsed.to_string(), hyphenated.clone());
        prop_assert_eq!(OrgCode::parse(&hyphenated).unwrap(), parsed);
    }

    /// GB 11714 is MOD 11 over values up to 35, so two letters 11 apart (A and L) can
    /// swap unseen; among digits every single substitution is caught.
    #[test]
    fn single_digit_changes_to_an_org_code_are_caught(body in "[0-9]{8}", i in 0usize..9, d in 0u8..10) {
        let code = format!("{body}{}", ident::org_code::check_char(&body).unwrap());
        let b = b'0' + d;
        prop_assume!(code.as_bytes()[i] != b);
        prop_assert!(OrgCode::parse(&with_byte(&code, i, b)).is_err());
    }

    #[test]
    fn org_codes_round_trip_through_uscc(code in valid_org_code(), kind in select(TYPES)) {
        let org = OrgCode::parse(&code).unwrap();
        let mut chars = kind.chars();
        let (a, t) = (chars.next().unwrap(), chars.next().unwrap());
        match org.to_uscc(a, t, "510104") {
            Ok(uscc) => {
                prop_assert!(org.is_uscc_embeddable());
                prop_assert_eq!(uscc.org_code(), Some(org));
            }
            Err(_) => prop_assert!(!org.is_uscc_embeddable()),
        }
    }

    #[test]
    fn dates_round_trip(days in 0i64..(8000 * 365)) {
        let date = NaiveDate::from_ymd_opt(1000, 1, 1).unwrap() + chrono::Duration::days(days);
        prop_assume!(date.year() <= 9999);
        let (y, m, d) = (date.year(), date.month(), date.day());
        for s in [
            format!("{y:04}-{m:02}-{d:02}"),
            format!("{y:04}{m:02}{d:02}"),
            format!("{y}/{m}/{d}"),
            format!("{y}年{m}月{d}日"),
            format!("{y}.{m}.{d}"),
        ] {
            prop_assert_eq!(parse_date(&s), Ok(date), "{}", s);
        }
    }

    #[test]
    fn mobiles_round_trip(
        prefix in select(vec!["13", "145", "15", "162", "17", "18", "19"]),
        rest in "[0-9]{9}",
        country in select(vec!["", "+86", "+86 ", "0086", "0086-"]),
        sep in select(vec!["", " ", "-"]),
    ) {
        let digits = format!("{prefix}{rest}");
        let digits = &digits[..11];
        prop_assume!(!["154", "179", "194"].contains(&&digits[..3]));
        let written = format!("{country}{}{sep}{}{sep}{}", &digits[..3], &digits[3..7], &digits[7..]);
        let parsed = Mobile::parse(&written).unwrap();
        prop_assert_eq!(parsed.as_str(), digits);
    }

    /// Whatever `check` returns is already normal: checking it again gives it back.
    #[test]
    fn check_is_idempotent(s in "\\PC{0,24}|[0-9Xx +-]{6,22}|[0-9A-Za-z-]{8,19}") {
        for kind in ItemKind::ALL {
            if let Ok(first) = kind.check(&s) {
                let again = kind.check(&first.value).unwrap();
                prop_assert_eq!(&again.value, &first.value, "{}", kind);
            }
        }
    }

    #[test]
    fn nothing_panics_on_arbitrary_input(s in "\\PC*|.*|[0-9Xx]{14,19}|[0-9A-Z]{16,19}|[0-9]{4}[-/.年][0-9]{1,3}[-/.月][0-9]{1,3}日?") {
        let _ = CitizenId::parse(&s);
        let _ = CitizenId::parse_on(&s, today());
        let _ = Uscc::parse(&s);
        let _ = Uscc::parse_allowing_legacy(&s);
        let _ = OrgCode::parse(&s);
        let _ = Mobile::parse(&s);
        let _ = parse_date(&s);
        let _ = DivisionCode::parse(&s);
        let _ = TownshipCode::parse(&s);
        for kind in [IdentKind::CitizenId, IdentKind::Uscc, IdentKind::OrgCode] {
            let _ = serde_json::to_string(&validate(kind, &s, today())).unwrap();
        }
        for kind in ItemKind::ALL {
            let _ = kind.check(&s);
            let masked = mask(kind, &s);
            let _ = MaskRule::Keep { first: 3, last: 4 }.apply(kind, &s);
            // Masking never lengthens a value's personal part.
            if kind.is_personal() {
                prop_assert!(masked.chars().count() <= s.chars().count().max(1));
            }
        }
    }

    #[test]
    fn element_codes_in_the_subject_name_form_parse_and_round_trip(
        code in "[a-z][a-z0-9_]{0,20}(\\.[a-z][a-z0-9_]{0,20}){1,3}"
    ) {
        let parsed = ElementCode::parse(&code).unwrap();
        prop_assert_eq!(parsed.as_str(), code.as_str());
        let json = serde_json::to_string(&parsed).unwrap();
        let back: ElementCode = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, parsed);
    }

    #[test]
    fn element_codes_accept_exactly_the_subject_name_form(s in "\\PC{0,30}|[a-zA-Z0-9_.]{0,30}") {
        let shape = regex::Regex::new(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$").unwrap();
        prop_assert_eq!(ElementCode::parse(&s).is_ok(), shape.is_match(&s), "{}", s);
    }
}
