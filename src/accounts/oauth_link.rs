//! Signing in with a provider (Google, GitHub): find the account linked to the
//! provider's subject; else link the account with the same email, but only when the
//! provider says the email is verified (else anyone could claim an address); else
//! create an account. Two-factor accounts still get their challenge.

use super::AccountsError;
use super::audit::{self, kind};
use super::records::{GlobalRole, UserRecord};
use super::service::{Accounts, ClientInfo, LoginOutcome};

/// Who the provider says the person is.
#[derive(Debug, Clone)]
pub struct ExternalIdentity {
    pub provider: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub login: Option<String>,
}

/// A free username derived from the provider's login, name or email.
fn username_base(id: &ExternalIdentity) -> String {
    let raw = id
        .login
        .clone()
        .or_else(|| {
            id.email
                .as_ref()
                .and_then(|e| e.split('@').next().map(str::to_owned))
        })
        .or_else(|| id.name.clone())
        .unwrap_or_else(|| "user".into());
    let mut s: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        .take(24)
        .collect();
    while s.starts_with(['_', '.', '-']) {
        s.remove(0);
    }
    if s.len() < 3 {
        s = format!("user{s}");
    }
    s
}

impl Accounts {
    pub async fn oauth_sign_in(
        &self,
        id: ExternalIdentity,
        client: &ClientInfo,
    ) -> Result<LoginOutcome, AccountsError> {
        let ip = client.ip;
        let user =
            self.store
                .write(move |tx| {
                    if let Some(uid) = tx.user_id_by_link(&id.provider, &id.subject)? {
                        return tx.user(&uid)?.ok_or(AccountsError::NotFound);
                    }
                    let email = id.email.clone().filter(|_| id.email_verified).ok_or(
                        AccountsError::SignIn("the provider did not give a verified email".into()),
                    )?;
                    let link = (id.provider.clone(), id.subject.clone());
                    if let Some(uid) = tx.user_id_by_email(&email)? {
                        let mut u = tx.user(&uid)?.ok_or(AccountsError::NotFound)?;
                        u.linked.push(link);
                        u.email_verified = true;
                        tx.link(&id.provider, &id.subject, &u.id)?;
                        tx.put_user(&u)?;
                        tx.audit(&audit::event(
                            kind::OAUTH_LINKED,
                            Some(&u.id),
                            Some(ip),
                            &id.provider,
                        ))?;
                        return Ok(u);
                    }
                    let base = username_base(&id);
                    let mut username = base.clone();
                    let mut n = 1;
                    while tx.user_id_by_name(&username)?.is_some() {
                        n += 1;
                        username = format!("{base}{n}");
                    }
                    let mut u = UserRecord::new(username, email, None, GlobalRole::User);
                    u.email_verified = true;
                    u.linked.push(link);
                    tx.create_user(&u)?;
                    tx.audit(&audit::event(
                        kind::REGISTER,
                        Some(&u.id),
                        Some(ip),
                        &id.provider,
                    ))?;
                    Ok(u)
                })
                .await?;
        if user.disabled {
            return Err(AccountsError::Forbidden("this account is disabled"));
        }
        self.complete_login(user, client, kind::OAUTH_LOGIN, "oauth")
            .await
    }
}
