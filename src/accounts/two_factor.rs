//! Two-factor sign-in: TOTP (RFC 6238, SHA-1, 6 digits, 30 s, ±1 step) set up with
//! an otpauth:// URI, confirmed with a code, disabled with a code; ten single-use
//! recovery codes stored as SHA-256. Every code check runs inside the transaction
//! that records its use, so one code can never be accepted twice.

use std::net::IpAddr;

use serde::Serialize;

use super::audit::{self, kind};
use super::keys::DataKey;
use super::records::{TotpRecord, UserRecord};
use super::service::{Accounts, Caller, ClientInfo, TokenPair};
use super::store::Tx;
use super::throttle::Action;
use super::{AccountsError, ct_eq, token_hash};
use crate::auth::totp::Totp;

/// Recovery codes handed out when two-factor is switched on.
pub const RECOVERY_CODES: usize = 10;

#[derive(Debug, Serialize)]
pub struct TotpSetup {
    /// Base32, for typing into an authenticator by hand.
    pub secret: String,
    pub otpauth_uri: String,
}

fn unix_now() -> u64 {
    super::now_ms() / 1000
}

/// `xxxxx-xxxxx` from a 50-bit random value, lowercase base32.
fn recovery_code() -> Result<String, AccountsError> {
    let mut bytes = [0u8; 7];
    getrandom::fill(&mut bytes).map_err(|e| AccountsError::Internal(e.to_string()))?;
    let s = data_encoding::BASE32_NOPAD.encode(&bytes).to_lowercase();
    Ok(format!("{}-{}", &s[..5], &s[5..10]))
}

fn normalize_recovery(code: &str) -> String {
    code.trim().to_lowercase().replace(['-', ' '], "")
}

/// What a code turned out to be.
enum Used {
    Totp,
    Recovery,
}

/// Checks `code` against the user's TOTP (recording its step) or recovery codes
/// (removing the one used). Mutates `user`; the caller writes it back.
fn check_code(
    key: &DataKey,
    user: &mut UserRecord,
    code: &str,
    require_confirmed: bool,
) -> Result<Option<Used>, AccountsError> {
    let code = code.trim();
    let Some(totp) = user.totp.as_mut() else {
        return Ok(None);
    };
    if require_confirmed && !totp.confirmed {
        return Ok(None);
    }
    if code.len() == 6 {
        let secret = key.open(&totp.sealed_secret, &user.id)?;
        if let Some(step) = Totp::new(secret).verify(code, unix_now(), totp.last_step) {
            totp.last_step = Some(step);
            return Ok(Some(Used::Totp));
        }
        return Ok(None);
    }
    let h = token_hash(&normalize_recovery(code));
    if let Some(i) = user.recovery_codes.iter().position(|c| ct_eq(c, &h)) {
        user.recovery_codes.remove(i);
        return Ok(Some(Used::Recovery));
    }
    Ok(None)
}

fn load_user(tx: &Tx<'_>, id: &str) -> Result<UserRecord, AccountsError> {
    tx.user(id)?.ok_or(AccountsError::NotFound)
}

impl Accounts {
    /// Starts (or restarts) two-factor setup: a new secret, not active until confirmed.
    pub async fn totp_setup(&self, caller: &Caller) -> Result<TotpSetup, AccountsError> {
        let secret = Totp::generate_secret().map_err(|e| AccountsError::Internal(e.to_string()))?;
        let sealed = self.data_key.seal(&secret, &caller.user)?;
        let user = caller.user.clone();
        let account = self
            .store
            .write(move |tx| {
                let mut u = load_user(tx, &user)?;
                if u.two_factor_on() {
                    return Err(AccountsError::Forbidden(
                        "two-factor is already on; disable it first",
                    ));
                }
                u.totp = Some(TotpRecord {
                    sealed_secret: sealed,
                    confirmed: false,
                    last_step: None,
                });
                tx.put_user(&u)?;
                Ok(u.email)
            })
            .await?;
        let totp = Totp::new(secret.clone());
        Ok(TotpSetup {
            secret: data_encoding::BASE32_NOPAD.encode(&secret),
            otpauth_uri: totp.otpauth_uri(&self.settings.auth.totp_issuer, &account),
        })
    }

    /// Confirms setup with a current code; returns the recovery codes (shown once).
    pub async fn totp_confirm(
        &self,
        caller: &Caller,
        code: String,
        ip: IpAddr,
    ) -> Result<Vec<String>, AccountsError> {
        self.throttle(Action::TwoFactor, ip, Some(&caller.user))?;
        let codes: Vec<String> = (0..RECOVERY_CODES)
            .map(|_| recovery_code())
            .collect::<Result<_, _>>()?;
        let hashes: Vec<[u8; 32]> = codes
            .iter()
            .map(|c| token_hash(&normalize_recovery(c)))
            .collect();
        let user = caller.user.clone();
        let key = self.data_key.clone();
        self.store
            .write(move |tx| {
                let mut u = load_user(tx, &user)?;
                match &u.totp {
                    None => return Err(AccountsError::invalid("code", "start the setup first")),
                    Some(t) if t.confirmed => {
                        return Err(AccountsError::Forbidden("two-factor is already on"));
                    }
                    Some(_) => {}
                }
                if code.trim().len() != 6 {
                    return Err(AccountsError::invalid("code", "a 6-digit code"));
                }
                match check_code(&key, &mut u, &code, false)? {
                    Some(Used::Totp) => {}
                    _ => return Err(AccountsError::invalid("code", "wrong code")),
                }
                if let Some(t) = u.totp.as_mut() {
                    t.confirmed = true;
                }
                u.recovery_codes = hashes;
                tx.put_user(&u)?;
                tx.audit(&audit::event(
                    kind::TWO_FACTOR_ENABLED,
                    Some(&u.id),
                    Some(ip),
                    "",
                ))?;
                Ok(())
            })
            .await?;
        Ok(codes)
    }

    /// Turns two-factor off, given a current code or a recovery code.
    pub async fn totp_disable(
        &self,
        caller: &Caller,
        code: String,
        ip: IpAddr,
    ) -> Result<(), AccountsError> {
        self.throttle(Action::TwoFactor, ip, Some(&caller.user))?;
        let user = caller.user.clone();
        let key = self.data_key.clone();
        let done = self
            .store
            .write(move |tx| {
                let mut u = load_user(tx, &user)?;
                if !u.two_factor_on() {
                    return Err(AccountsError::invalid("code", "two-factor is not on"));
                }
                if check_code(&key, &mut u, &code, true)?.is_none() {
                    tx.audit(&audit::event(
                        kind::TWO_FACTOR_FAILED,
                        Some(&u.id),
                        Some(ip),
                        "disable",
                    ))?;
                    return Ok(false);
                }
                u.totp = None;
                u.recovery_codes.clear();
                tx.put_user(&u)?;
                tx.audit(&audit::event(
                    kind::TWO_FACTOR_DISABLED,
                    Some(&u.id),
                    Some(ip),
                    "",
                ))?;
                Ok(true)
            })
            .await?;
        if done {
            Ok(())
        } else {
            Err(AccountsError::invalid("code", "wrong code"))
        }
    }

    /// Finishes a login that got a challenge, with a TOTP or recovery code.
    pub async fn login_two_factor(
        &self,
        challenge: &str,
        code: String,
        client: &ClientInfo,
    ) -> Result<(UserRecord, TokenPair), AccountsError> {
        let (user_id, via) = self
            .challenge_user(challenge)
            .ok_or(AccountsError::Unauthorized("unknown or expired challenge"))?;
        self.throttle(Action::TwoFactor, client.ip, Some(&user_id))?;
        let key = self.data_key.clone();
        let ip = client.ip;
        let id = user_id.clone();
        let checked = self
            .store
            .write(move |tx| {
                let mut u = load_user(tx, &id)?;
                let used = check_code(&key, &mut u, &code, true)?;
                match used {
                    None => {
                        tx.audit(&audit::event(
                            kind::TWO_FACTOR_FAILED,
                            Some(&u.id),
                            Some(ip),
                            "login",
                        ))?;
                        Ok(None)
                    }
                    Some(used) => {
                        tx.put_user(&u)?;
                        if let Used::Recovery = used {
                            let left = format!("{} left", u.recovery_codes.len());
                            tx.audit(&audit::event(
                                kind::RECOVERY_CODE_USED,
                                Some(&u.id),
                                Some(ip),
                                left,
                            ))?;
                        }
                        Ok(Some(u))
                    }
                }
            })
            .await?;
        let Some(user) = checked else {
            self.challenge_failed(challenge);
            return Err(AccountsError::Unauthorized("wrong code"));
        };
        self.challenge_done(challenge);
        if user.disabled {
            return Err(AccountsError::Forbidden("this account is disabled"));
        }
        let event = if via == "password" {
            kind::LOGIN
        } else {
            kind::OAUTH_LOGIN
        };
        self.open_session(user, client, event, via).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_with_codes(key: &DataKey) -> (UserRecord, Vec<String>, Totp) {
        let secret = Totp::generate_secret().unwrap();
        let codes: Vec<String> = (0..RECOVERY_CODES)
            .map(|_| recovery_code().unwrap())
            .collect();
        let user = UserRecord {
            id: "u1".into(),
            username: "u".into(),
            email: "u@example.test".into(),
            email_verified: false,
            password_hash: None,
            role: crate::accounts::GlobalRole::User,
            disabled: false,
            created_ms: 0,
            totp: Some(TotpRecord {
                sealed_secret: key.seal(&secret, "u1").unwrap(),
                confirmed: true,
                last_step: None,
            }),
            recovery_codes: codes
                .iter()
                .map(|c| token_hash(&normalize_recovery(c)))
                .collect(),
            linked: Vec::new(),
        };
        (user, codes, Totp::new(secret))
    }

    #[test]
    fn codes_are_accepted_once() {
        let key = DataKey::from_bytes(&[3u8; 32]).unwrap();
        let (mut user, codes, totp) = user_with_codes(&key);
        assert!(
            codes[0].len() == 11 && codes[0].as_bytes()[5] == b'-',
            "{}",
            codes[0]
        );
        let messy = format!(" {} ", codes[0].to_uppercase().replace('-', ""));
        assert!(matches!(
            check_code(&key, &mut user, &messy, true),
            Ok(Some(Used::Recovery))
        ));
        assert!(matches!(
            check_code(&key, &mut user, &codes[0], true),
            Ok(None)
        ));
        assert_eq!(user.recovery_codes.len(), RECOVERY_CODES - 1);
        let code = totp.code_at(unix_now());
        assert!(matches!(
            check_code(&key, &mut user, &code, true),
            Ok(Some(Used::Totp))
        ));
        assert!(matches!(check_code(&key, &mut user, &code, true), Ok(None)));
    }
}
