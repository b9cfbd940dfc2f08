//! Identifier checks over HTTP: the same answer as `rongshu validate`.

use axum::Json;
use axum::extract::{Path, State};
use rongshu_core::ident::validate::{IdentKind, ValidationReport, validate};

use crate::error::ApiError;
use crate::state::AppState;

/// Check a citizen ID, USCC or organisation code and decode it. Open to anyone:
/// the answer comes from the standards' arithmetic and the public division
/// tables, and says nothing about whether such a person or entity exists.
#[utoipa::path(get, path = "/api/v1/validate/{kind}/{value}", tag = "system",
    params(("kind" = String, Path, description = "citizen-id, uscc or org-code"),
           ("value" = String, Path, description = "The value to check")),
    responses((status = 200, description = "`{\"value\", \"kind\", \"valid\", \"outcome\", \"reason\", …decoded fields}`"),
              (status = 404, description = "Unknown kind")))]
pub async fn check(
    State(state): State<AppState>,
    Path((kind, value)): Path<(String, String)>,
) -> Result<Json<ValidationReport>, ApiError> {
    let kind: IdentKind = kind.parse().map_err(|_| {
        ApiError::NotFound(format!(
            "no identifier kind \"{kind}\": use citizen-id, uscc or org-code"
        ))
    })?;
    let today = state.clock.now().date_naive();
    Ok(Json(validate(kind, &value, today)))
}
