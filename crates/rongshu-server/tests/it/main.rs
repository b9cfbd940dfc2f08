//! End-to-end tests: the real server on a free port, spoken to over HTTP, on
//! SQLite and (when `RONGSHU_TEST_DATABASE_URL` is set) on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod applications;
mod audit;
mod auth;
mod basics;
mod catalog;
mod citizen;
mod direct_reads;
mod downloads;
mod elements;
mod exchange;
mod ground_truth;
mod large_batches;
mod linkage;
mod open_api;
mod opendata;
mod overdue;
mod portal;
mod portal_fixture;
mod records;
mod registry;
mod repeats;
mod search;
mod sharing;
mod sort_and_totals;
mod uploads;
mod web;
