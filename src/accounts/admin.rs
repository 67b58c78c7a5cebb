//! What admins do: list users, disable and re-enable them (a disabled user's
//! sessions end at once), change global roles, read the audit log; and creating a
//! user from the command line (the first admin).

use serde::Serialize;

use super::audit::{self, kind};
use super::records::{AuditRecord, GlobalRole, UserRecord};
use super::service::{Accounts, Caller, UserView};
use super::store::AccountStore;
use super::{AccountsError, now_ms, validate};
use crate::auth::password;

/// Most users or audit events in one page.
pub const MAX_PAGE: usize = 500;

#[derive(Debug, Serialize)]
pub struct AuditEntry {
    pub seq: u64,
    #[serde(flatten)]
    pub record: AuditRecord,
}

fn require_admin(caller: &Caller) -> Result<(), AccountsError> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(AccountsError::Forbidden("admins only"))
    }
}

impl Accounts {
    pub async fn list_users(
        &self,
        caller: &Caller,
        after: String,
        limit: usize,
    ) -> Result<Vec<UserView>, AccountsError> {
        require_admin(caller)?;
        let limit = limit.clamp(1, MAX_PAGE);
        let users = self.store.read(move |r| r.users(&after, limit)).await?;
        Ok(users.iter().map(UserView::from).collect())
    }

    /// Disables or re-enables a user; disabling revokes every session of theirs.
    pub async fn set_disabled(
        &self,
        caller: &Caller,
        user: &str,
        disabled: bool,
    ) -> Result<UserView, AccountsError> {
        require_admin(caller)?;
        if user == caller.user && disabled {
            return Err(AccountsError::Forbidden("admins cannot disable themselves"));
        }
        let (id, actor) = (user.to_owned(), caller.user.clone());
        let now = now_ms();
        let (u, revoked) = self
            .store
            .write(move |tx| {
                let mut u = tx.user(&id)?.ok_or(AccountsError::NotFound)?;
                u.disabled = disabled;
                tx.put_user(&u)?;
                let event = if disabled {
                    kind::USER_DISABLED
                } else {
                    kind::USER_ENABLED
                };
                tx.audit(&audit::by_admin(event, &id, &actor, ""))?;
                let mut revoked = Vec::new();
                if disabled {
                    for sid in tx.session_ids_of(&id)? {
                        if let Some(mut s) = tx.session(&sid)?
                            && s.live(now)
                        {
                            s.revoked = Some("account disabled".into());
                            tx.put_session(&s)?;
                            revoked.push(sid);
                        }
                    }
                }
                Ok((u, revoked))
            })
            .await?;
        self.live.revoke(&revoked, "account disabled");
        Ok(UserView::from(&u))
    }

    pub async fn set_global_role(
        &self,
        caller: &Caller,
        user: &str,
        role: GlobalRole,
    ) -> Result<UserView, AccountsError> {
        require_admin(caller)?;
        if user == caller.user && role != GlobalRole::Admin {
            return Err(AccountsError::Forbidden("admins cannot demote themselves"));
        }
        let (id, actor) = (user.to_owned(), caller.user.clone());
        let u = self
            .store
            .write(move |tx| {
                let mut u = tx.user(&id)?.ok_or(AccountsError::NotFound)?;
                let detail = format!("{} -> {}", u.role.as_str(), role.as_str());
                u.role = role;
                tx.put_user(&u)?;
                tx.audit(&audit::by_admin(kind::ROLE_CHANGED, &id, &actor, detail))?;
                Ok(u)
            })
            .await?;
        Ok(UserView::from(&u))
    }

    /// Audit events before `before` (or the newest), newest first, and whether more exist.
    pub async fn audit_page(
        &self,
        caller: &Caller,
        before: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<AuditEntry>, bool), AccountsError> {
        require_admin(caller)?;
        let limit = limit.clamp(1, MAX_PAGE);
        let before = before.unwrap_or(u64::MAX);
        let (page, more) = self
            .store
            .read(move |r| r.audit_page(before, limit))
            .await?;
        let entries = page
            .into_iter()
            .map(|(seq, record)| AuditEntry { seq, record })
            .collect();
        Ok((entries, more))
    }
}

/// Creates a user directly in the database (the server must not be running: redb
/// holds the file exclusively). For the first admin: `codeplatform user create --admin`.
pub fn create_user_offline(
    store: &AccountStore,
    email: &str,
    username: &str,
    pass: &str,
    admin: bool,
    min_password_chars: usize,
) -> Result<UserRecord, AccountsError> {
    validate::email(email)?;
    validate::username(username)?;
    password::check_policy(pass, min_password_chars, &[email, username])
        .map_err(|e| AccountsError::invalid("password", e.to_string()))?;
    let hash = password::hash(pass).map_err(|e| AccountsError::Internal(e.to_string()))?;
    let role = if admin {
        GlobalRole::Admin
    } else {
        GlobalRole::User
    };
    let user = UserRecord::new(username.to_owned(), email.to_owned(), Some(hash), role);
    store.write_now(|tx| {
        tx.create_user(&user)?;
        let detail = format!("command line, role {}", user.role.as_str());
        tx.audit(&audit::event(
            kind::USER_CREATED,
            Some(&user.id),
            None,
            detail,
        ))?;
        Ok(())
    })?;
    Ok(user)
}
