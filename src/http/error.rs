//! The one place that maps errors to HTTP statuses. Socket errors carry the same
//! [`ErrorCode`]s; REST bodies are `{"error": {"code", "message", "field"}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::protocol::ErrorCode;

/// The HTTP status for a protocol error code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::BadJson
        | ErrorCode::UnknownType
        | ErrorCode::BadField
        | ErrorCode::BinaryNotSupported
        | ErrorCode::HelloRequired
        | ErrorCode::UnsupportedVersion
        | ErrorCode::OutOfRange
        | ErrorCode::BadVersion => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthorized | ErrorCode::TokenExpired => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden | ErrorCode::NotJoined => StatusCode::FORBIDDEN,
        ErrorCode::RoomNotFound | ErrorCode::DocNotOpen | ErrorCode::NotFound => {
            StatusCode::NOT_FOUND
        }
        ErrorCode::VersionTooOld => StatusCode::GONE,
        ErrorCode::TooLarge | ErrorCode::ChatTooLong => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::RoomFull
        | ErrorCode::TooManyRooms
        | ErrorCode::TooManyDocs
        | ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Unavailable | ErrorCode::ShuttingDown | ErrorCode::NotConfigured => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A REST error.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<&'static str>,
    /// For 429: how long to wait, sent as `Retry-After` (whole seconds, rounded up).
    pub retry_after: Option<std::time::Duration>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    pub fn rate_limited(wait: std::time::Duration) -> Self {
        ApiError {
            retry_after: Some(wait),
            ..ApiError::new(ErrorCode::RateLimited, "too many requests; slow down")
        }
    }

    pub fn field(field: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code: ErrorCode::BadField,
            message: message.into(),
            field: Some(field),
            retry_after: None,
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: ErrorCode,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                field: self.field,
            },
        };
        let mut resp = (status_of(self.code), Json(body)).into_response();
        if let Some(wait) = self.retry_after {
            let secs = wait.as_millis().div_ceil(1000).max(1) as u64;
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        if self.code == ErrorCode::Unauthorized || self.code == ErrorCode::TokenExpired {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}

impl From<crate::storage::StorageError> for ApiError {
    fn from(e: crate::storage::StorageError) -> Self {
        tracing::error!(error = %e, "storage error in a request");
        ApiError::new(ErrorCode::Internal, "storage error")
    }
}

impl From<crate::accounts::AccountsError> for ApiError {
    fn from(e: crate::accounts::AccountsError) -> Self {
        use crate::accounts::AccountsError as E;
        match e {
            E::Invalid { field, message } => ApiError::field(field, message),
            E::Taken(field) => ApiError {
                field: Some(field),
                ..ApiError::new(
                    ErrorCode::Conflict,
                    format!("that {field} is already taken"),
                )
            },
            E::RateLimited(wait) => ApiError::rate_limited(wait),
            E::Storage(_) | E::Internal(_) => {
                tracing::error!(error = %e, "accounts error in a request");
                ApiError::new(ErrorCode::Internal, "internal error")
            }
            other => ApiError::new(other.code(), other.to_string()),
        }
    }
}
