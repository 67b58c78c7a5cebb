//! What the accounts area keeps in redb: users, login sessions (one refresh-token
//! family each), and audit events. Encoded with postcard like every other record.

use serde::{Deserialize, Serialize};

/// A person's global role. Room and project roles are separate (see `protocol::Role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GlobalRole {
    User,
    Admin,
}

impl GlobalRole {
    pub fn as_str(self) -> &'static str {
        match self {
            GlobalRole::User => "user",
            GlobalRole::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(GlobalRole::User),
            "admin" => Some(GlobalRole::Admin),
            _ => None,
        }
    }
}

/// Two-factor state. The secret is sealed with the data key (never stored in clear).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpRecord {
    pub sealed_secret: Vec<u8>,
    /// False between setup and the confirming code.
    pub confirmed: bool,
    /// Step of the last accepted code: a code is never accepted twice.
    pub last_step: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    /// argon2id PHC string; `None` for accounts that only sign in through a provider.
    pub password_hash: Option<String>,
    pub role: GlobalRole,
    pub disabled: bool,
    pub created_ms: u64,
    pub totp: Option<TotpRecord>,
    /// SHA-256 of each unused recovery code.
    pub recovery_codes: Vec<[u8; 32]>,
    /// (provider, subject) pairs linked to this account.
    pub linked: Vec<(String, String)>,
}

impl UserRecord {
    /// A new account with a fresh id and nothing linked or set up.
    pub fn new(
        username: String,
        email: String,
        password_hash: Option<String>,
        role: GlobalRole,
    ) -> Self {
        UserRecord {
            id: uuid::Uuid::new_v4().simple().to_string(),
            username,
            email,
            email_verified: false,
            password_hash,
            role,
            disabled: false,
            created_ms: super::now_ms(),
            totp: None,
            recovery_codes: Vec::new(),
            linked: Vec::new(),
        }
    }

    pub fn two_factor_on(&self) -> bool {
        self.totp.as_ref().is_some_and(|t| t.confirmed)
    }
}

/// Previous refresh-token hashes kept per session to recognise reuse.
pub const REFRESH_HISTORY: usize = 32;

/// One login: a device's refresh-token family, revoked as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: String,
    pub user: String,
    pub created_ms: u64,
    pub last_seen_ms: u64,
    pub expires_ms: u64,
    pub device: String,
    pub ip: String,
    /// SHA-256 of the current refresh token.
    pub refresh_hash: [u8; 32],
    /// SHA-256 of earlier tokens of this family, newest last (at most
    /// [`REFRESH_HISTORY`]): presenting one of them is reuse.
    pub used_hashes: Vec<[u8; 32]>,
    /// Why the session ended, if it did.
    pub revoked: Option<String>,
}

impl SessionRecord {
    pub fn live(&self, now_ms: u64) -> bool {
        self.revoked.is_none() && now_ms < self.expires_ms
    }
}

/// One security event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub at_ms: u64,
    /// e.g. `login`, `login_failed`, `refresh_reuse`, `role_changed`.
    pub kind: String,
    /// The account the event is about, if known.
    pub user: Option<String>,
    /// Who did it, when not the user themself (an admin).
    pub actor: Option<String>,
    pub ip: Option<String>,
    pub detail: String,
}
