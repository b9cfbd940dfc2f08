//! Browser tests: the portal's main journeys in a real headless Chromium,
//! driven over WebDriver (fantoccini) against the real server on a free
//! port with releases published through the API. They skip without
//! chromium/chromedriver, but fail under `CI=true`. A failed journey leaves a
//! screenshot (its path is printed).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
#[path = "../it/support.rs"]
mod support;

#[allow(dead_code)]
#[path = "../it/portal_fixture.rs"]
mod portal_fixture;

mod harness;
mod journeys;
mod screenshots;
