//! Sign-in with Google and GitHub: the OAuth 2.0 authorization-code flow (RFC 6749)
//! with PKCE S256 (RFC 7636), as a library the HTTP layer calls, so the protocol can be
//! read and tested apart from endpoints and accounts. Written by hand rather than
//! with a generic OAuth crate: two providers need a few hundred lines we can audit.
//!
//! [`OAuthClient::begin`] makes a random `state` and PKCE verifier, remembers them
//! (bounded, expiring, single use: see [`pending`]) and returns the provider URL to
//! send the browser to. The provider sends the browser back to
//! `<public_url>/api/auth/<provider>/callback?code=…&state=…`; the HTTP layer passes
//! both to [`OAuthClient::finish`], which checks the state, exchanges the code with
//! the client secret and the verifier, and reads who signed in. Its answer,
//! [`ProviderIdentity`], names the provider's stable subject id and says whether the
//! provider vouches for the email address; linking it to an account is the caller's.

pub mod pending;
pub mod pkce;
pub mod provider;
pub mod settings;
pub mod wire;

use parking_lot::Mutex;
use std::time::Duration;
use tokio::time::Instant;

use pending::PendingMap;
pub use provider::{Provider, ProviderIdentity};
pub use settings::{OAuthSettings, ProviderSettings, Secret};

/// Longest authorization code accepted from a callback (real ones are < 512 bytes).
pub const MAX_CODE_BYTES: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    #[error("sign-in with {0} is not configured")]
    NotConfigured(Provider),
    #[error("unknown sign-in provider")]
    UnknownProvider,
    /// Missing, expired, already used, or started for another provider: one answer,
    /// so a caller learns nothing by probing.
    #[error("sign-in state is unknown, expired or already used")]
    UnknownState,
    #[error("the authorization code is missing or too long")]
    BadCode,
    /// The provider refused the exchange; holds its error code (e.g. `invalid_grant`).
    #[error("the provider refused the sign-in: {0}")]
    Rejected(String),
    /// The provider could not be reached or answered something unusable.
    #[error("the sign-in provider failed: {0}")]
    Provider(String),
    #[error("the system random number generator failed")]
    Random,
}

/// Where to send the browser, and the state it will come back with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Begin {
    pub authorize_url: String,
    pub state: String,
}

pub struct OAuthClient {
    settings: OAuthSettings,
    http: reqwest::Client,
    pending: Mutex<PendingMap>,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("settings", &self.settings)
            .field("pending", &self.pending.lock().len())
            .finish_non_exhaustive()
    }
}

impl OAuthClient {
    /// A client with its own HTTP client from [`wire::http_client`].
    pub fn new(settings: &OAuthSettings) -> Result<Self, OAuthError> {
        Ok(Self::with_http(settings, wire::http_client()?))
    }

    /// A client using `http`, which must not follow redirects (build it with
    /// [`wire::http_client`]). Each request still gets the 10 s deadline.
    pub fn with_http(settings: &OAuthSettings, http: reqwest::Client) -> Self {
        OAuthClient {
            settings: settings.clone(),
            http,
            pending: Mutex::new(PendingMap::new(
                Duration::from_secs(settings.state_ttl_secs),
                settings.max_pending,
            )),
        }
    }

    /// Whether `p` has a client id and secret.
    pub fn configured(&self, p: Provider) -> bool {
        self.settings.provider(p).configured()
    }

    /// The callback URL for `p`, as sent to (and registered with) the provider.
    pub fn redirect_uri(&self, p: Provider) -> String {
        self.settings.redirect_uri(p)
    }

    /// Sign-ins started and not yet finished nor expired (expired ones may linger
    /// until the next `begin` sweeps them).
    pub fn pending(&self) -> usize {
        self.pending.lock().len()
    }

    /// Starts a sign-in with `p` at `now`.
    pub fn begin(&self, p: Provider, now: Instant) -> Result<Begin, OAuthError> {
        let s = self.settings.provider(p);
        if !s.configured() {
            return Err(OAuthError::NotConfigured(p));
        }
        let state = pkce::random_token().map_err(|_| OAuthError::Random)?;
        let verifier = pkce::random_token().map_err(|_| OAuthError::Random)?;
        let mut url = reqwest::Url::parse(&s.authorize_url)
            .map_err(|_| OAuthError::Provider(format!("{p} authorize_url is not a URL")))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &s.client_id)
                .append_pair("redirect_uri", &self.redirect_uri(p));
            if !s.scopes.is_empty() {
                q.append_pair("scope", &s.scopes);
            }
            q.append_pair("state", &state)
                .append_pair("code_challenge", &pkce::challenge(&verifier))
                .append_pair("code_challenge_method", "S256");
            if p == Provider::Google {
                // No refresh token: we only read the identity once.
                q.append_pair("access_type", "online")
                    .append_pair("prompt", "select_account");
            }
        }
        self.pending.lock().insert(state.clone(), p, verifier, now);
        Ok(Begin {
            authorize_url: url.into(),
            state,
        })
    }

    /// Completes a sign-in with `p` from its callback's `code` and `state`. The state
    /// is consumed first, so it is single use whatever happens after.
    pub async fn finish(
        &self,
        p: Provider,
        code: &str,
        state: &str,
        now: Instant,
    ) -> Result<ProviderIdentity, OAuthError> {
        let s = self.settings.provider(p);
        if !s.configured() {
            return Err(OAuthError::NotConfigured(p));
        }
        let started = self
            .pending
            .lock()
            .take(state, p, now)
            .ok_or(OAuthError::UnknownState)?;
        if code.is_empty() || code.len() > MAX_CODE_BYTES {
            return Err(OAuthError::BadCode);
        }
        let token = wire::exchange_code(
            &self.http,
            s,
            &self.redirect_uri(p),
            code,
            &started.verifier,
        )
        .await?;
        match p {
            Provider::Google => {
                let user = wire::get_json(&self.http, &s.userinfo_url, &token, "userinfo").await?;
                provider::google_identity(user)
            }
            Provider::GitHub => {
                let user = wire::get_json(&self.http, &s.userinfo_url, &token, "user").await?;
                let emails = wire::get_json(&self.http, &s.emails_url, &token, "emails").await?;
                Ok(provider::github_identity(user, emails))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn client() -> OAuthClient {
        let mut s = crate::Settings::defaults().oauth;
        s.public_url = "https://code.example/".into();
        s.max_pending = 2;
        for p in Provider::ALL {
            let ps = s.provider_mut(p);
            ps.client_id = format!("{p}-id");
            ps.client_secret = Secret::new("shh");
        }
        OAuthClient::new(&s).unwrap()
    }

    fn query(url: &str) -> HashMap<String, String> {
        reqwest::Url::parse(url)
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn authorize_urls_carry_the_protocol_parameters() {
        let c = client();
        let now = Instant::now();
        let g = c.begin(Provider::Google, now).unwrap();
        assert!(
            g.authorize_url
                .starts_with("https://accounts.google.com/o/oauth2/v2/auth?")
        );
        let q = query(&g.authorize_url);
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "google-id");
        assert_eq!(
            q["redirect_uri"],
            "https://code.example/api/auth/google/callback"
        );
        assert_eq!(q["scope"], "openid email profile");
        assert_eq!(q["state"], g.state);
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["access_type"], "online");
        assert!(!q.contains_key("client_secret"));
        // Encoded, not pasted: the space and the slashes do not appear raw.
        assert!(g.authorize_url.contains("scope=openid+email+profile"));
        assert!(
            g.authorize_url
                .contains("redirect_uri=https%3A%2F%2Fcode.example")
        );
        let verifier = c
            .pending
            .lock()
            .take(&g.state, Provider::Google, now)
            .unwrap()
            .verifier;
        assert_eq!(q["code_challenge"], pkce::challenge(&verifier));

        let h = c.begin(Provider::GitHub, now).unwrap();
        let q = query(&h.authorize_url);
        assert_eq!(q["scope"], "read:user user:email");
        assert!(!q.contains_key("access_type"));
        assert_ne!(h.state, g.state);
        // max_pending = 2: a third sign-in pushes out the first.
        let i = c.begin(Provider::GitHub, now).unwrap();
        c.begin(Provider::GitHub, now).unwrap();
        assert_eq!(c.pending(), 2);
        assert!(
            c.pending
                .lock()
                .take(&h.state, Provider::GitHub, now)
                .is_none()
        );
        assert!(
            c.pending
                .lock()
                .take(&i.state, Provider::GitHub, now)
                .is_some()
        );
    }

    #[tokio::test]
    async fn unconfigured_and_bad_input() {
        let c = OAuthClient::new(&crate::Settings::defaults().oauth).unwrap();
        let now = Instant::now();
        assert!(!c.configured(Provider::Google));
        assert_eq!(
            c.begin(Provider::Google, now),
            Err(OAuthError::NotConfigured(Provider::Google))
        );
        let c = client();
        let b = c.begin(Provider::GitHub, now).unwrap();
        assert_eq!(
            c.finish(Provider::GitHub, "", &b.state, now).await,
            Err(OAuthError::BadCode)
        );
        // The state went with that first use.
        assert_eq!(
            c.finish(Provider::GitHub, "code", &b.state, now).await,
            Err(OAuthError::UnknownState)
        );
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("shh") && shown.contains("<redacted>"),
            "{shown}"
        );
    }
}
