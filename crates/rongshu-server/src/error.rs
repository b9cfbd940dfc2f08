//! `ApiError`: every failure a handler can return, mapped once to an HTTP status
//! and an RFC 9457 `application/problem+json` body. Internal details are logged
//! with the request, never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rongshu_store::StoreError;
use serde::Serialize;

use crate::uploads::{UploadError, UploadState};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("sign in first: send a session cookie or an Authorization: Bearer token")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    TooManyRequests(String),
    /// An application key used from an address outside its allow-list.
    #[error("{0}")]
    AddressNotAllowed(String),
    /// An application over its rate limit: `Retry-After` says when to come back.
    #[error("{detail}")]
    RateLimited {
        detail: String,
        retry_after_secs: u64,
    },
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
}

impl ApiError {
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(e.into())
    }

    pub fn internal_msg(message: String) -> Self {
        ApiError::Internal(anyhow::anyhow!(message))
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            ApiError::Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authentication required",
            ),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Not allowed"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::MethodNotAllowed(_) => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            ApiError::PayloadTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Request body too large",
            ),
            ApiError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            ApiError::Unprocessable(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "unprocessable",
                "The content cannot be processed",
            ),
            ApiError::TooManyRequests(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-requests",
                "Too many requests",
            ),
            ApiError::AddressNotAllowed(_) => (
                StatusCode::FORBIDDEN,
                "address-not-allowed",
                "Address not allowed",
            ),
            ApiError::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Rate limit exceeded",
            ),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.parts().0
    }
}

/// Build a problem response; also used for errors raised outside handlers
/// (unknown routes, body limits).
pub fn problem_response(status: StatusCode, slug: &str, title: &str, detail: String) -> Response {
    let body = Problem {
        kind: format!("/problems/{slug}"),
        title,
        status: status.as_u16(),
        detail,
    };
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug, title) = self.parts();
        let detail = match &self {
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                "something went wrong on the server; the error was logged".to_owned()
            }
            ApiError::Unauthorized(detail) if !detail.is_empty() => detail.clone(),
            other => other.to_string(),
        };
        let mut response = problem_response(status, slug, title, detail);
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ApiError::RateLimited {
            retry_after_secs, ..
        } = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::NotFound(format!("{what} does not exist")),
            StoreError::Conflict(msg) => ApiError::Conflict(msg),
            StoreError::Invalid(msg) => ApiError::Unprocessable(msg),
            other => ApiError::internal(other),
        }
    }
}

impl From<rongshu_core::catalog::CatalogError> for ApiError {
    fn from(e: rongshu_core::catalog::CatalogError) -> Self {
        ApiError::Unprocessable(e.to_string())
    }
}

impl From<rongshu_core::catalog::ElementError> for ApiError {
    fn from(e: rongshu_core::catalog::ElementError) -> Self {
        ApiError::Unprocessable(e.to_string())
    }
}

impl From<UploadError> for ApiError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::NotFound(_) => ApiError::NotFound(e.to_string()),
            UploadError::NotOpen {
                id,
                state: UploadState::Committed,
                batch_id,
            } => ApiError::Conflict(format!(
                "upload {id} was committed as batch {}: it takes no more chunks and loads only once",
                batch_id.unwrap_or_default()
            )),
            UploadError::NotOpen { .. }
            | UploadError::Busy(_)
            | UploadError::OffsetMismatch { .. } => ApiError::Conflict(e.to_string()),
            UploadError::TooLarge { .. } => ApiError::PayloadTooLarge(e.to_string()),
            UploadError::TotalConflict { .. }
            | UploadError::PastTheEnd { .. }
            | UploadError::BodyTooLong { .. }
            | UploadError::BodyTooShort { .. }
            | UploadError::CutOff { .. } => ApiError::BadRequest(e.to_string()),
            UploadError::SizeMismatch { .. } | UploadError::ChecksumMismatch { .. } => {
                ApiError::Unprocessable(e.to_string())
            }
            UploadError::Corrupt { .. } | UploadError::Io(_) => ApiError::internal(e),
        }
    }
}
