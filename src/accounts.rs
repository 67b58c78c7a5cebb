//! Accounts: users, login sessions with rotating refresh tokens, two-factor, roles,
//! OAuth sign-in, the audit log, and the throttles in front of them. The HTTP layer
//! and the socket call [`Accounts`]; nothing here knows about axum.

pub mod admin;
pub mod audit;
pub mod keys;
pub mod live;
pub mod oauth_link;
pub mod records;
pub mod service;
pub mod sessions;
pub mod store;
pub mod throttle;
pub mod two_factor;
pub mod validate;

use std::time::Duration;

pub use records::{AuditRecord, GlobalRole, SessionRecord, UserRecord};
pub use service::{Accounts, Caller, ClientInfo, LoginOutcome, TokenPair};

use crate::protocol::ErrorCode;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("that {0} is already taken")]
    Taken(&'static str),
    #[error("wrong login or password")]
    BadCredentials,
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("the access token has expired")]
    TokenExpired,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    #[error("too many attempts; retry later")]
    RateLimited(Duration),
    #[error("{0} is not configured on this server")]
    NotConfigured(String),
    #[error("sign-in failed: {0}")]
    SignIn(String),
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("internal: {0}")]
    Internal(String),
}

impl AccountsError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        AccountsError::Invalid {
            field,
            message: message.into(),
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            AccountsError::Invalid { .. } => ErrorCode::BadField,
            AccountsError::Taken(_) => ErrorCode::Conflict,
            AccountsError::BadCredentials | AccountsError::Unauthorized(_) => {
                ErrorCode::Unauthorized
            }
            AccountsError::SignIn(_) => ErrorCode::Unauthorized,
            AccountsError::TokenExpired => ErrorCode::TokenExpired,
            AccountsError::Forbidden(_) => ErrorCode::Forbidden,
            AccountsError::NotFound => ErrorCode::NotFound,
            AccountsError::RateLimited(_) => ErrorCode::RateLimited,
            AccountsError::NotConfigured(_) => ErrorCode::NotConfigured,
            AccountsError::Storage(_) | AccountsError::Internal(_) => ErrorCode::Internal,
        }
    }
}

/// Milliseconds since the Unix epoch (wall clock: stored and shown to people).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// SHA-256 of a token or code: they are random and long, so a fast hash suffices.
pub fn token_hash(token: &str) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// `n` random bytes, base64url without padding.
pub fn random_token(n: usize) -> Result<String, AccountsError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| AccountsError::Internal(e.to_string()))?;
    Ok(data_encoding::BASE64URL_NOPAD.encode(&bytes))
}

/// Constant-time equality of two byte strings of equal length.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
