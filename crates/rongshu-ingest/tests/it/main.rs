//! Integration tests for rongshu-ingest, one binary (see STYLE §7).
// Helpers outside `#[test]` functions may panic too: a test that cannot set up should fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod batch_garbage;
mod batch_support;
mod catalog_sheet;
mod catalog_sheet_garbage;
mod csv_batch;
mod json_batch;
mod xlsx_batch;
