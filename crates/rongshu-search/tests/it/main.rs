//! Integration tests of the catalog search, one binary.

// A failing test should stop at once with the value that broke it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod catalog;
mod index;
mod queries;
