//! The accounts service: registration, password login (with the two-factor
//! challenge), refresh-token rotation with reuse detection, logout, the caller's
//! sessions, and checking access tokens on every request and socket.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::audit::{self, kind};
use super::keys::{DataKey, jwt_keys};
use super::live::LiveSockets;
use super::records::{GlobalRole, REFRESH_HISTORY, SessionRecord, UserRecord};
use super::store::AccountStore;
use super::throttle::{Action, Throttle};
use super::{AccountsError, ct_eq, now_ms, random_token, token_hash, validate};
use crate::auth::jwt::{JwtError, JwtKeys};
use crate::auth::password;
use crate::config::Settings;
use crate::storage::Store;

/// Password hashes computed at once at most: each takes 19 MiB and a core for tens
/// of milliseconds, so a burst of logins queues instead of exhausting memory.
const MAX_CONCURRENT_HASHES: usize = 4;

/// Two-factor challenges pending at most (oldest dropped beyond it).
const MAX_CHALLENGES: usize = 10_000;

/// Wrong codes one challenge tolerates before it is void.
const CHALLENGE_ATTEMPTS: u32 = 5;

/// Who made a request, as proven by a valid access token of a live session.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: String,
    pub username: String,
    pub sid: String,
    pub role: GlobalRole,
    /// Expiry of the token, Unix seconds.
    pub exp: u64,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.role == GlobalRole::Admin
    }
}

/// Where a request came from.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: IpAddr,
    pub device: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub session_id: String,
}

/// The account as its owner (or an admin) sees it.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    pub role: GlobalRole,
    pub disabled: bool,
    pub two_factor: bool,
    pub has_password: bool,
    pub created_ms: u64,
    pub linked: Vec<String>,
}

impl From<&UserRecord> for UserView {
    fn from(u: &UserRecord) -> Self {
        UserView {
            id: u.id.clone(),
            username: u.username.clone(),
            email: u.email.clone(),
            email_verified: u.email_verified,
            role: u.role,
            disabled: u.disabled,
            two_factor: u.two_factor_on(),
            has_password: u.password_hash.is_some(),
            created_ms: u.created_ms,
            linked: u.linked.iter().map(|(p, _)| p.clone()).collect(),
        }
    }
}

pub enum LoginOutcome {
    Tokens(Box<UserRecord>, TokenPair),
    /// The password was right; a second call with a code and this challenge finishes.
    TwoFactor {
        challenge: String,
    },
}

struct Challenge {
    user: String,
    expires: Instant,
    attempts: u32,
    via: &'static str,
}

pub struct Accounts {
    pub(super) store: AccountStore,
    jwt: JwtKeys,
    pub(super) data_key: DataKey,
    pub(super) settings: Arc<Settings>,
    pub throttle: Throttle,
    pub live: LiveSockets,
    challenges: Mutex<HashMap<String, Challenge>>,
    hashing: Semaphore,
    /// A hash of no one's password, verified against when the login is unknown so
    /// that timing does not tell which logins exist.
    decoy_hash: String,
}

impl Accounts {
    pub fn new(settings: Arc<Settings>, store: &Store) -> Result<Self, AccountsError> {
        let auth = &settings.auth;
        let data_dir = &settings.server.data_dir;
        let keys = jwt_keys(&auth.jwt_keys, data_dir)?;
        let jwt = JwtKeys::new(&keys, &auth.issuer)
            .map_err(|e| AccountsError::Internal(format!("auth.jwt_keys: {e}")))?;
        let data_key = DataKey::load(&auth.data_key, data_dir)?;
        let decoy_hash = password::hash(&random_token(16)?)
            .map_err(|e| AccountsError::Internal(e.to_string()))?;
        Ok(Accounts {
            store: AccountStore::new(store),
            jwt,
            data_key,
            throttle: Throttle::new(auth.attempts_per_min_ip, auth.attempts_per_min_account),
            live: LiveSockets::default(),
            challenges: Mutex::new(HashMap::new()),
            hashing: Semaphore::new(MAX_CONCURRENT_HASHES),
            decoy_hash,
            settings,
        })
    }

    pub fn throttle(
        &self,
        action: Action,
        ip: IpAddr,
        account: Option<&str>,
    ) -> Result<(), AccountsError> {
        self.throttle
            .check(action, ip, account)
            .map_err(AccountsError::RateLimited)
    }

    /// Runs argon2 on a blocking thread, a few at a time.
    pub(super) async fn hashing<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AccountsError> {
        let _permit = self
            .hashing
            .acquire()
            .await
            .map_err(|_| AccountsError::Internal("hashing closed".into()))?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| AccountsError::Internal(e.to_string()))
    }

    pub async fn register(
        &self,
        email: String,
        username: String,
        pass: String,
        client: &ClientInfo,
    ) -> Result<(UserRecord, TokenPair), AccountsError> {
        self.throttle(Action::Register, client.ip, Some(&email))?;
        validate::email(&email)?;
        validate::username(&username)?;
        let min = self.settings.auth.min_password_chars;
        password::check_policy(&pass, min, &[&email, &username])
            .map_err(|e| AccountsError::invalid("password", e.to_string()))?;
        let hash = self
            .hashing(move || password::hash(&pass))
            .await?
            .map_err(|e| AccountsError::Internal(e.to_string()))?;
        let user = UserRecord::new(username, email, Some(hash), GlobalRole::User);
        let session = self.new_session(&user.id, client)?;
        let ip = client.ip;
        let (user, pair) = self
            .store
            .write(move |tx| {
                tx.create_user(&user)?;
                tx.audit(&audit::event(
                    kind::REGISTER,
                    Some(&user.id),
                    Some(ip),
                    &user.username,
                ))?;
                tx.put_session(&session.0)?;
                Ok((user, session.1))
            })
            .await?;
        let pair = self.finish_pair(&user, pair);
        Ok((user, pair))
    }

    /// Password login. An account with two-factor on gets a challenge instead.
    pub async fn login(
        &self,
        login: String,
        pass: String,
        client: &ClientInfo,
    ) -> Result<LoginOutcome, AccountsError> {
        self.throttle(Action::Login, client.ip, Some(&login))?;
        if pass.len() > password::MAX_PASSWORD_BYTES {
            return Err(AccountsError::BadCredentials);
        }
        let key = login.clone();
        let found = self.store.read(move |r| r.user_by_login(&key)).await?;
        let stored = found
            .as_ref()
            .and_then(|u| u.password_hash.clone())
            .unwrap_or_else(|| self.decoy_hash.clone());
        let ok = self
            .hashing(move || password::verify(&pass, &stored))
            .await?;
        let user = match found {
            Some(u) if ok && u.password_hash.is_some() => u,
            found => {
                let id = found.map(|u| u.id);
                let rec = audit::event(kind::LOGIN_FAILED, id.as_deref(), Some(client.ip), login);
                self.store.write(move |tx| tx.audit(&rec)).await?;
                return Err(AccountsError::BadCredentials);
            }
        };
        if user.disabled {
            return Err(AccountsError::Forbidden("this account is disabled"));
        }
        self.complete_login(user, client, kind::LOGIN, "password")
            .await
    }

    /// After the first factor: a challenge for two-factor accounts, else a session.
    pub(super) async fn complete_login(
        &self,
        user: UserRecord,
        client: &ClientInfo,
        event: &'static str,
        via: &'static str,
    ) -> Result<LoginOutcome, AccountsError> {
        if user.two_factor_on() {
            let challenge = self.new_challenge(&user.id, via)?;
            return Ok(LoginOutcome::TwoFactor { challenge });
        }
        let (user, pair) = self.open_session(user, client, event, via).await?;
        Ok(LoginOutcome::Tokens(Box::new(user), pair))
    }

    fn new_challenge(&self, user: &str, via: &'static str) -> Result<String, AccountsError> {
        let token = random_token(32)?;
        let ttl = Duration::from_secs(self.settings.auth.challenge_ttl_secs);
        let now = Instant::now();
        let mut map = self.challenges.lock();
        map.retain(|_, c| c.expires > now);
        if map.len() >= MAX_CHALLENGES
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, c)| c.expires)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(
            token.clone(),
            Challenge {
                user: user.to_owned(),
                expires: now + ttl,
                attempts: 0,
                via,
            },
        );
        Ok(token)
    }

    /// The user a live challenge belongs to (and how they started signing in).
    pub(super) fn challenge_user(&self, challenge: &str) -> Option<(String, &'static str)> {
        let map = self.challenges.lock();
        let c = map.get(challenge)?;
        (c.expires > Instant::now()).then(|| (c.user.clone(), c.via))
    }

    /// Counts a wrong code; the challenge dies after too many.
    pub(super) fn challenge_failed(&self, challenge: &str) {
        let mut map = self.challenges.lock();
        if let Some(c) = map.get_mut(challenge) {
            c.attempts += 1;
            if c.attempts >= CHALLENGE_ATTEMPTS {
                map.remove(challenge);
            }
        }
    }

    pub(super) fn challenge_done(&self, challenge: &str) {
        self.challenges.lock().remove(challenge);
    }

    /// A new session record and its first refresh token (not yet stored).
    fn new_session(
        &self,
        user: &str,
        client: &ClientInfo,
    ) -> Result<(SessionRecord, TokenPair), AccountsError> {
        let sid = uuid::Uuid::new_v4().simple().to_string();
        let refresh = format!("{sid}.{}", random_token(32)?);
        let now = now_ms();
        let days = self.settings.auth.refresh_ttl_days;
        let rec = SessionRecord {
            id: sid.clone(),
            user: user.to_owned(),
            created_ms: now,
            last_seen_ms: now,
            expires_ms: now + days * 86_400_000,
            device: client.device.chars().take(200).collect(),
            ip: client.ip.to_string(),
            refresh_hash: token_hash(&refresh),
            used_hashes: Vec::new(),
            revoked: None,
        };
        let pair = TokenPair {
            access_token: String::new(),
            refresh_token: refresh,
            token_type: "Bearer",
            expires_in: self.settings.auth.access_ttl_secs,
            session_id: sid,
        };
        Ok((rec, pair))
    }

    /// Signs the access token of a pair.
    fn finish_pair(&self, user: &UserRecord, mut pair: TokenPair) -> TokenPair {
        let ttl = self.settings.auth.access_ttl_secs;
        let now = now_ms() / 1000;
        pair.access_token =
            self.jwt
                .issue(&user.id, &pair.session_id, user.role.as_str(), now, ttl);
        pair.expires_in = ttl;
        pair
    }

    /// Stores a new session for `user` (revoking the least recently used beyond the
    /// per-user cap), audits the login, and returns the tokens.
    pub(super) async fn open_session(
        &self,
        user: UserRecord,
        client: &ClientInfo,
        event: &'static str,
        detail: &'static str,
    ) -> Result<(UserRecord, TokenPair), AccountsError> {
        let (rec, pair) = self.new_session(&user.id, client)?;
        let cap = self.settings.auth.max_sessions_per_user;
        let ip = client.ip;
        let user_id = user.id.clone();
        let evicted = self
            .store
            .write(move |tx| {
                let evicted = super::sessions::prune_sessions(tx, &user_id, cap.saturating_sub(1))?;
                tx.put_session(&rec)?;
                tx.audit(&audit::event(event, Some(&user_id), Some(ip), detail))?;
                Ok(evicted)
            })
            .await?;
        self.live.revoke(&evicted, "session limit");
        let pair = self.finish_pair(&user, pair);
        Ok((user, pair))
    }

    /// Rotates a refresh token. Presenting one already used revokes its whole
    /// session (someone else has a copy) and is audited.
    pub async fn refresh(
        &self,
        token: String,
        client: &ClientInfo,
    ) -> Result<(UserRecord, TokenPair), AccountsError> {
        let sid = token
            .split_once('.')
            .map(|(sid, _)| sid.to_owned())
            .ok_or(AccountsError::Unauthorized("invalid refresh token"))?;
        self.throttle(Action::Refresh, client.ip, Some(&sid))?;
        let presented = token_hash(&token);
        let next = format!("{sid}.{}", random_token(32)?);
        let next_hash = token_hash(&next);
        let ip = client.ip;
        let now = now_ms();
        enum Outcome {
            Rotated(Box<UserRecord>),
            Reused,
        }
        let sid2 = sid.clone();
        let outcome = self
            .store
            .write(move |tx| {
                let invalid = AccountsError::Unauthorized("invalid refresh token");
                let mut s = tx.session(&sid2)?.ok_or(invalid)?;
                if s.revoked.is_some() || now >= s.expires_ms {
                    return Err(AccountsError::Unauthorized("the session has ended"));
                }
                if s.used_hashes.iter().any(|h| ct_eq(h, &presented)) {
                    s.revoked = Some("refresh token reuse".into());
                    tx.put_session(&s)?;
                    let detail = format!("session {sid2} revoked");
                    tx.audit(&audit::event(
                        kind::REFRESH_REUSE,
                        Some(&s.user),
                        Some(ip),
                        detail,
                    ))?;
                    return Ok(Outcome::Reused);
                }
                if !ct_eq(&s.refresh_hash, &presented) {
                    return Err(AccountsError::Unauthorized("invalid refresh token"));
                }
                let user = tx
                    .user(&s.user)?
                    .ok_or(AccountsError::Unauthorized("no such user"))?;
                if user.disabled {
                    return Err(AccountsError::Forbidden("this account is disabled"));
                }
                s.used_hashes.push(s.refresh_hash);
                if s.used_hashes.len() > REFRESH_HISTORY {
                    s.used_hashes.remove(0);
                }
                s.refresh_hash = next_hash;
                s.last_seen_ms = now;
                s.ip = ip.to_string();
                tx.put_session(&s)?;
                Ok(Outcome::Rotated(Box::new(user)))
            })
            .await?;
        match outcome {
            Outcome::Reused => {
                self.live
                    .revoke(std::slice::from_ref(&sid), "session revoked");
                Err(AccountsError::Unauthorized(
                    "refresh token already used: the session is revoked",
                ))
            }
            Outcome::Rotated(user) => {
                let pair = TokenPair {
                    access_token: String::new(),
                    refresh_token: next,
                    token_type: "Bearer",
                    expires_in: 0,
                    session_id: sid,
                };
                let pair = self.finish_pair(&user, pair);
                Ok((*user, pair))
            }
        }
    }

    /// Checks an access token: signature, key, expiry, a live session, an enabled
    /// user. The role comes from the stored user, so a demotion applies at once.
    pub async fn authenticate(&self, token: &str) -> Result<Caller, AccountsError> {
        let claims = self.jwt.verify(token).map_err(|e| match e {
            JwtError::Expired => AccountsError::TokenExpired,
            _ => AccountsError::Unauthorized("invalid access token"),
        })?;
        let sid = claims.sid.clone();
        let (session, user) = self
            .store
            .read(move |r| Ok((r.session(&sid)?, r.user(&claims.sub)?)))
            .await?;
        let (Some(session), Some(user)) = (session, user) else {
            return Err(AccountsError::Unauthorized("the session has ended"));
        };
        if !session.live(now_ms()) || session.user != user.id {
            return Err(AccountsError::Unauthorized("the session has ended"));
        }
        if user.disabled {
            return Err(AccountsError::Unauthorized("this account is disabled"));
        }
        Ok(Caller {
            user: user.id,
            username: user.username,
            sid: session.id,
            role: user.role,
            exp: claims.exp,
        })
    }

    /// Whether a login session is still live (not revoked, not expired).
    pub async fn session_live(&self, sid: &str) -> bool {
        let sid = sid.to_owned();
        let now = now_ms();
        matches!(
            self.store.read(move |r| r.session(&sid)).await,
            Ok(Some(s)) if s.live(now)
        )
    }

    /// A user id from an id or a username.
    pub async fn resolve_user(&self, who: &str) -> Result<String, AccountsError> {
        let who = who.to_owned();
        self.store
            .read(move |r| {
                if let Some(u) = r.user(&who)? {
                    return Ok(u.id);
                }
                match r.user_by_login(&who)? {
                    Some(u) => Ok(u.id),
                    None => Err(AccountsError::NotFound),
                }
            })
            .await
    }

    pub async fn me(&self, caller: &Caller) -> Result<UserRecord, AccountsError> {
        let id = caller.user.clone();
        self.store
            .read(move |r| r.user(&id))
            .await?
            .ok_or(AccountsError::NotFound)
    }
}
