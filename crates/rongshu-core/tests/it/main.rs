//! Integration tests of rongshu-core's identifiers, divisions, kinds and masking, in
//! one binary (every extra test binary costs link time).

// Helpers and generators outside #[test] functions may panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod citizen_id;
mod date;
mod division;
mod kind;
mod linkage;
mod mask;
mod mobile;
mod org_code;
mod props;
mod quality;
mod registry;
mod uscc;
mod validate;

use chrono::NaiveDate;

/// A fixed "today" so tests do not depend on the clock.
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()
}

/// Append the GB 11643 check character to 17 digits.
pub fn with_id_check(first17: &str) -> String {
    let c = rongshu_core::ident::citizen_id::check_char(first17).unwrap();
    format!("{first17}{c}")
}

/// Append the GB 32100 check character to 17 characters.
pub fn with_uscc_check(first17: &str) -> String {
    let c = rongshu_core::ident::uscc::check_char(first17).unwrap();
    format!("{first17}{c}")
}
