//! Dates as departments write them.

use chrono::NaiveDate;
use rongshu_core::ident::{DateError, parse_date};

#[test]
fn all_forms() {
    let d = NaiveDate::from_ymd_opt(2024, 1, 5).unwrap();
    for s in [
        "2024-01-05",
        "2024-1-5",
        "20240105",
        "2024/1/5",
        "2024/01/05",
        "2024年1月5日",
        "2024年01月05日",
        "2024.1.5",
        " 2024.01.05 ",
    ] {
        assert_eq!(parse_date(s), Ok(d), "{s}");
    }
}

#[test]
fn errors_say_what_is_wrong() {
    assert_eq!(
        parse_date("19910230").unwrap_err().to_string(),
        "no such date 19910230"
    );
    assert_eq!(
        parse_date("1991-2-30").unwrap_err().to_string(),
        "no such date 19910230"
    );
    assert_eq!(
        parse_date("2023年2月29日").unwrap_err().to_string(),
        "no such date 20230229"
    );
    assert_eq!(
        parse_date("2024-13-01").unwrap_err().to_string(),
        "no such date 20241301"
    );
    assert!(matches!(
        parse_date("2024-01/05"),
        Err(DateError::UnknownForm(_))
    ));
    assert!(matches!(
        parse_date("24-1-5"),
        Err(DateError::UnknownForm(_))
    ));
    assert!(matches!(
        parse_date("2024-001-5"),
        Err(DateError::UnknownForm(_))
    ));
    assert!(matches!(
        parse_date("2024年1月5"),
        Err(DateError::UnknownForm(_))
    ));
    assert_eq!(parse_date(""), Err(DateError::Empty));
}
