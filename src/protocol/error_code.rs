//! Stable error codes carried by `error` frames, and the WebSocket close codes.

use serde::Serialize;

/// Why a request was refused. The string forms are part of the protocol: never rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not valid JSON, or not a JSON object.
    BadJson,
    /// The frame's `type` is missing or not one the server knows.
    UnknownType,
    /// A field is missing, unknown, or of the wrong type or range.
    BadField,
    /// A binary frame where only text frames are accepted.
    BinaryNotSupported,
    /// A frame other than `hello` before `hello`, or a second `hello`.
    HelloRequired,
    /// `hello` named a protocol version this server does not speak.
    UnsupportedVersion,
    /// The token in `hello` was refused.
    Unauthorized,
    /// No such room.
    RoomNotFound,
    /// The request needs the socket to have joined the room first.
    NotJoined,
    /// The member's role does not allow this (e.g. a viewer editing).
    Forbidden,
    /// The document is not open on this socket.
    DocNotOpen,
    /// `base` or `version` is newer than the server's version of the document.
    BadVersion,
    /// `base` is older than the server keeps history for; reopen the document.
    VersionTooOld,
    /// An edit reaches past the end of the text.
    OutOfRange,
    /// The document, an insert or an edit would exceed its size limit.
    TooLarge,
    /// The room has as many members as allowed.
    RoomFull,
    /// The socket has joined as many rooms as allowed.
    TooManyRooms,
    /// The room has as many open documents as allowed.
    TooManyDocs,
    /// Too many edits or chat messages per second; retry after `retry_after_ms`.
    RateLimited,
    /// A chat message longer than allowed.
    ChatTooLong,
    /// The room is restarting or unavailable; retry shortly.
    Unavailable,
    /// The server is shutting down.
    ShuttingDown,
    /// A bug on the server's side; the request had no effect.
    Internal,
    /// The access token has expired; refresh it (`auth` frame or `/api/auth/refresh`).
    TokenExpired,
    /// The name or email is already taken.
    Conflict,
    /// No such user, session or resource.
    NotFound,
    /// The feature is not configured on this server (e.g. a sign-in provider).
    NotConfigured,
}

impl ErrorCode {
    /// Every code, for documentation checks.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::BadJson,
        ErrorCode::UnknownType,
        ErrorCode::BadField,
        ErrorCode::BinaryNotSupported,
        ErrorCode::HelloRequired,
        ErrorCode::UnsupportedVersion,
        ErrorCode::Unauthorized,
        ErrorCode::RoomNotFound,
        ErrorCode::NotJoined,
        ErrorCode::Forbidden,
        ErrorCode::DocNotOpen,
        ErrorCode::BadVersion,
        ErrorCode::VersionTooOld,
        ErrorCode::OutOfRange,
        ErrorCode::TooLarge,
        ErrorCode::RoomFull,
        ErrorCode::TooManyRooms,
        ErrorCode::TooManyDocs,
        ErrorCode::RateLimited,
        ErrorCode::ChatTooLong,
        ErrorCode::Unavailable,
        ErrorCode::ShuttingDown,
        ErrorCode::Internal,
        ErrorCode::TokenExpired,
        ErrorCode::Conflict,
        ErrorCode::NotFound,
        ErrorCode::NotConfigured,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadJson => "bad_json",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::BadField => "bad_field",
            ErrorCode::BinaryNotSupported => "binary_not_supported",
            ErrorCode::HelloRequired => "hello_required",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::RoomNotFound => "room_not_found",
            ErrorCode::NotJoined => "not_joined",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::DocNotOpen => "doc_not_open",
            ErrorCode::BadVersion => "bad_version",
            ErrorCode::VersionTooOld => "version_too_old",
            ErrorCode::OutOfRange => "out_of_range",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::RoomFull => "room_full",
            ErrorCode::TooManyRooms => "too_many_rooms",
            ErrorCode::TooManyDocs => "too_many_docs",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::ChatTooLong => "chat_too_long",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::Internal => "internal",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::Conflict => "conflict",
            ErrorCode::NotFound => "not_found",
            ErrorCode::NotConfigured => "not_configured",
        }
    }

    /// Whether the error is the client's fault (counts toward the abuse limit).
    pub fn is_client_fault(self) -> bool {
        !matches!(
            self,
            ErrorCode::RateLimited
                | ErrorCode::Unavailable
                | ErrorCode::ShuttingDown
                | ErrorCode::Internal
                | ErrorCode::VersionTooOld
                | ErrorCode::TokenExpired
                | ErrorCode::NotConfigured
        )
    }
}

/// WebSocket close codes the server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseCode {
    /// 1000: normal closure.
    Normal,
    /// 1001: the server is shutting down.
    GoingAway,
    /// 1008: too many errors or other abuse.
    PolicyViolation,
    /// 1009: a frame or message above `socket.max_frame_bytes`.
    TooBig,
    /// 1011: the server failed.
    InternalError,
    /// 4000: no `hello` within `socket.hello_timeout_secs`.
    HelloTimeout,
    /// 4001: `hello` refused (bad version or token).
    HelloRefused,
    /// 4002: no frame or pong within three heartbeat intervals.
    HeartbeatTimeout,
    /// 4003: the access token expired and was not refreshed in place.
    TokenExpired,
    /// 4004: the login session was revoked (logout, revocation, disabled account).
    Revoked,
}

impl CloseCode {
    pub const ALL: &'static [CloseCode] = &[
        CloseCode::Normal,
        CloseCode::GoingAway,
        CloseCode::PolicyViolation,
        CloseCode::TooBig,
        CloseCode::InternalError,
        CloseCode::HelloTimeout,
        CloseCode::HelloRefused,
        CloseCode::HeartbeatTimeout,
        CloseCode::TokenExpired,
        CloseCode::Revoked,
    ];

    pub fn code(self) -> u16 {
        match self {
            CloseCode::Normal => 1000,
            CloseCode::GoingAway => 1001,
            CloseCode::PolicyViolation => 1008,
            CloseCode::TooBig => 1009,
            CloseCode::InternalError => 1011,
            CloseCode::HelloTimeout => 4000,
            CloseCode::HelloRefused => 4001,
            CloseCode::HeartbeatTimeout => 4002,
            CloseCode::TokenExpired => 4003,
            CloseCode::Revoked => 4004,
        }
    }
}
