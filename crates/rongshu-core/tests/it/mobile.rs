//! Mobile numbers: prefixes and spellings.

use rongshu_core::ident::{Mobile, MobileError};

#[test]
fn spellings_normalise_to_eleven_digits() {
    for s in [
        "13812345678",
        " 138 1234 5678 ",
        "138-1234-5678",
        "+8613812345678",
        "+86 138 1234 5678",
        "0086-138-1234-5678",
    ] {
        assert_eq!(Mobile::parse(s).unwrap().as_str(), "13812345678", "{s}");
    }
}

#[test]
fn prefixes() {
    let ok = [
        "130", "139", "145", "149", "150", "153", "155", "159", "162", "165", "166", "167", "170",
        "178", "180", "189", "190", "193", "195", "199",
    ];
    let bad = [
        "120", "144", "154", "160", "161", "163", "164", "168", "169", "179", "194", "110",
    ];
    for p in ok {
        assert!(Mobile::parse(&format!("{p}12345678")).is_ok(), "{p}");
    }
    for p in bad {
        assert_eq!(
            Mobile::parse(&format!("{p}12345678")),
            Err(MobileError::BadPrefix(p.to_string())),
            "{p}"
        );
    }
}

#[test]
fn errors() {
    assert_eq!(Mobile::parse("1381234567"), Err(MobileError::BadLength(10)));
    assert_eq!(
        Mobile::parse("138 1234 567a"),
        Err(MobileError::BadCharacter('a'))
    );
    assert_eq!(Mobile::parse(" - "), Err(MobileError::Empty));
    assert_eq!(
        Mobile::parse("1381234567").unwrap_err().to_string(),
        "a mobile number has 11 digits, found 10"
    );
}
