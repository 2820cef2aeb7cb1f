//! Typed errors of the HTTP endpoints, rendered as `{"error": code, "message": …}` with a
//! matching status. Internal details are logged, never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// `site` query parameter missing or not a configured site key.
    #[error("unknown site key")]
    UnknownSite,
    /// The page's origin is not in the site's `allowed_origins` (or the console's origin).
    #[error("origin not allowed")]
    OriginNotAllowed,
    #[error("not found")]
    NotFound,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::UnknownSite => (StatusCode::NOT_FOUND, "unknown_site"),
            ApiError::OriginNotAllowed => (StatusCode::FORBIDDEN, "origin_not_allowed"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        (
            status,
            Json(serde_json::json!({ "error": code, "message": self.to_string() })),
        )
            .into_response()
    }
}
