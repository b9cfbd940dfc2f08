//! The open-data face of the platform: releases with their personal-data
//! gate, the CKAN-compatible Action API, the DCAT catalog and Frictionless
//! data packages. Only published releases are ever exposed, with their
//! dropped items left out and their masked items masked.

pub mod ckan;
pub mod datapackage;
pub mod dcat;
pub mod download;
pub mod gate;
pub mod index;
pub mod open_api;
pub mod open_keys;
pub mod package;
pub mod releases;
pub mod rescan;
pub mod versions;

use axum::http::HeaderMap;

use crate::state::AppState;

/// The absolute base of links in open-data answers (DCAT IRIs, CKAN resource
/// URLs), from the Host the client used: harvesters follow them as given.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| state.config.listen.to_string());
    let scheme = if state.config.secure_cookies {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}
