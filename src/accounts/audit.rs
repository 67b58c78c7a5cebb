//! Security events worth keeping: who signed in or failed to, two-factor changes,
//! token reuse, role changes, revocations. Written in the same transaction as the
//! change they describe (so a change is never without its record) and readable by
//! admins through `/api/admin/audit`. Never holds a secret: no password, token or code.

use std::net::IpAddr;

use super::now_ms;
use super::records::AuditRecord;

/// The kinds of event, as stored and shown.
pub mod kind {
    pub const REGISTER: &str = "register";
    pub const LOGIN: &str = "login";
    pub const LOGIN_FAILED: &str = "login_failed";
    pub const TWO_FACTOR_FAILED: &str = "two_factor_failed";
    pub const RECOVERY_CODE_USED: &str = "recovery_code_used";
    pub const REFRESH_REUSE: &str = "refresh_token_reuse";
    pub const LOGOUT: &str = "logout";
    pub const SESSION_REVOKED: &str = "session_revoked";
    pub const TWO_FACTOR_ENABLED: &str = "two_factor_enabled";
    pub const TWO_FACTOR_DISABLED: &str = "two_factor_disabled";
    pub const ROLE_CHANGED: &str = "role_changed";
    pub const USER_DISABLED: &str = "user_disabled";
    pub const USER_ENABLED: &str = "user_enabled";
    pub const OAUTH_LOGIN: &str = "oauth_login";
    pub const OAUTH_LINKED: &str = "oauth_linked";
    pub const USER_CREATED: &str = "user_created";
}

/// An event about `user`, done by themself from `ip`.
pub fn event(
    kind: &str,
    user: Option<&str>,
    ip: Option<IpAddr>,
    detail: impl Into<String>,
) -> AuditRecord {
    AuditRecord {
        at_ms: now_ms(),
        kind: kind.to_owned(),
        user: user.map(str::to_owned),
        actor: None,
        ip: ip.map(|i| i.to_string()),
        detail: detail.into(),
    }
}

/// An event about `user` done by an admin (`actor`).
pub fn by_admin(kind: &str, user: &str, actor: &str, detail: impl Into<String>) -> AuditRecord {
    AuditRecord {
        actor: Some(actor.to_owned()),
        ..event(kind, Some(user), None, detail)
    }
}
