//! Typed errors of the HTTP endpoints, rendered as `{"error": code, "code": code, "message": …}`
//! with a matching status. Internal details are logged, never sent.

use axum::http::{header, StatusCode};
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
    /// Over a rate limit; the value is the wait in milliseconds.
    #[error("too many requests; retry later")]
    RateLimited(u64),
    /// A body announced larger than any endpoint takes.
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    /// The relay keeps its last connections for agents and health checks.
    #[error("the relay is at capacity; retry later")]
    Busy,
    /// No credentials, or ones that are not valid.
    #[error("Authorization: Bearer <token> is missing or not valid")]
    Unauthorized,
    /// A console sign-in with a wrong agent or password (which of the two is not said).
    #[error("the agent or the password is not right")]
    BadLogin,
    /// Valid credentials without the right to do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// A body that is not JSON.
    #[error("the body is not valid JSON: {0}")]
    BadJson(String),
    /// A request that is malformed (a bad id, say).
    #[error("{0}")]
    Invalid(String),
    /// The store did not answer.
    #[error("the store is unavailable; retry later")]
    Unavailable,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::UnknownSite => (StatusCode::NOT_FOUND, "unknown_site"),
            ApiError::OriginNotAllowed => (StatusCode::FORBIDDEN, "origin_not_allowed"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::Unauthorized | ApiError::BadLogin => {
                (StatusCode::UNAUTHORIZED, "unauthorized")
            }
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::BadJson(_) => (StatusCode::BAD_REQUEST, "bad_json"),
            ApiError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid"),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        // `code` as in the bot API's error bodies (the `error` frame), `error` as before.
        let mut body = serde_json::json!({
            "error": code,
            "code": code,
            "message": self.to_string(),
        });
        let mut response = match self {
            ApiError::RateLimited(ms) => {
                body["retry_after_ms"] = ms.into();
                let secs = ms.div_ceil(1000).max(1);
                (
                    status,
                    [(header::RETRY_AFTER, secs.to_string())],
                    Json(body),
                )
                    .into_response()
            }
            _ => (status, Json(body)).into_response(),
        };
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        }
        response
    }
}

/// Refuses a request whose `Content-Length` is over the largest body any endpoint takes,
/// before its body is read, with the typed error.
pub async fn refuse_large_bodies(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let max = switchboard_protocol::limits::MAX_HTTP_BODY_BYTES;
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match announced {
        Some(n) if n > max as u64 => ApiError::TooLarge(max).into_response(),
        _ => next.run(req).await,
    }
}
