//! One error type for every handler: the core's [`ErrorBody`] with the HTTP
//! status that fits its kind. Every error body is
//! `{"error": {"kind", "message", "problems"?, "diagnostics"?}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use eligo_core::wire::{ErrorBody, ErrorKind};

/// An error answer with its status.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body.
    pub body: ErrorBody,
    /// Seconds after which a retry may succeed (429/503).
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// An error with an explicit status.
    pub fn new(status: StatusCode, kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody::new(kind, message),
            retry_after: None,
        }
    }

    /// 404 for something that does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, ErrorKind::BadRequest, message)
    }

    /// 400 for a malformed request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, ErrorKind::BadRequest, message)
    }

    /// 503: the server is saturated; try again shortly.
    pub fn saturated() -> Self {
        ApiError {
            retry_after: Some(1),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorKind::HostError,
                "the server is deciding as many requests as it may at once; retry shortly",
            )
        }
    }

    /// 500 for a failure of the server itself (never a client's mistake).
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::HostError,
            message,
        )
    }
}

/// The status for an error the engine answered with.
impl From<ErrorBody> for ApiError {
    fn from(body: ErrorBody) -> Self {
        let status = match body.kind {
            ErrorKind::BadRequest | ErrorKind::BadJson => StatusCode::BAD_REQUEST,
            ErrorKind::InvalidInput | ErrorKind::MissingNeeded => StatusCode::UNPROCESSABLE_ENTITY,
            // A rule that fails on valid input is the policy's fault, and
            // stopping it is the server doing its job: neither is the client's.
            ErrorKind::RuleError | ErrorKind::BundleError | ErrorKind::Stopped => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ErrorKind::NoBundle | ErrorKind::HostError => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError {
            status,
            body,
            retry_after: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            self.body.to_json(),
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
