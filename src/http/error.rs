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
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden | ErrorCode::NotJoined => StatusCode::FORBIDDEN,
        ErrorCode::RoomNotFound | ErrorCode::DocNotOpen => StatusCode::NOT_FOUND,
        ErrorCode::VersionTooOld => StatusCode::GONE,
        ErrorCode::TooLarge | ErrorCode::ChatTooLong => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::RoomFull | ErrorCode::TooManyRooms | ErrorCode::TooManyDocs => {
            StatusCode::CONFLICT
        }
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Unavailable | ErrorCode::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A REST error.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<&'static str>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn field(field: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code: ErrorCode::BadField,
            message: message.into(),
            field: Some(field),
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
        (status_of(self.code), Json(body)).into_response()
    }
}

impl From<crate::storage::StorageError> for ApiError {
    fn from(e: crate::storage::StorageError) -> Self {
        tracing::error!(error = %e, "storage error in a request");
        ApiError::new(ErrorCode::Internal, "storage error")
    }
}
