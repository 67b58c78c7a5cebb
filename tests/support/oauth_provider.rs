//! An OAuth 2.0 provider inside the test process: a real axum server on 127.0.0.1:0
//! speaking the wire format of Google or of GitHub, so the production client runs
//! unchanged against it. It checks what a real provider checks (client credentials,
//! redirect URI, single-use codes, PKCE S256, bearer tokens, GitHub's User-Agent) and
//! computes the PKCE challenge itself rather than trusting the code under test.
//!
//! Flavours differ where the real ones do: Google answers token errors with HTTP 400
//! and `invalid_grant`; GitHub answers them with HTTP 200 and `bad_verification_code`,
//! and sends a form-encoded token unless asked for JSON.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_lc_rs::digest;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use codeplatform::auth::oauth::{Provider, ProviderSettings, Secret};
use data_encoding::BASE64URL_NOPAD;
use parking_lot::Mutex;
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "test-client-id";
pub const CLIENT_SECRET: &str = "test-client-secret";

/// Who signs in at the provider (the "account" the browser is logged in as).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeUser {
    /// Google's `sub`; GitHub's numeric `id`, so digits only for GitHub.
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    /// GitHub's username.
    pub login: Option<String>,
}

impl FakeUser {
    pub fn new(subject: &str, email: &str) -> Self {
        FakeUser {
            subject: subject.into(),
            email: Some(email.into()),
            email_verified: true,
            name: Some(format!("User {subject}")),
            login: Some(format!("user{subject}")),
        }
    }
}

struct Grant {
    redirect_uri: String,
    challenge: String,
    user: FakeUser,
    used: bool,
}

struct Shared {
    flavour: Provider,
    redirect_uri: String,
    user: Mutex<FakeUser>,
    codes: Mutex<HashMap<String, Grant>>,
    tokens: Mutex<HashMap<String, FakeUser>>,
    last_refusal: Mutex<Option<String>>,
    authorizations: AtomicUsize,
    token_requests: AtomicUsize,
    tokens_issued: AtomicUsize,
    user_requests: AtomicUsize,
}

pub struct FakeProvider {
    pub base_url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeProvider {
    /// Starts a provider of `flavour` that knows one client, [`CLIENT_ID`] with
    /// [`CLIENT_SECRET`], registered with `redirect_uri`.
    pub async fn start(flavour: Provider, redirect_uri: &str, user: FakeUser) -> Self {
        let shared = Arc::new(Shared {
            flavour,
            redirect_uri: redirect_uri.into(),
            user: Mutex::new(user),
            codes: Mutex::default(),
            tokens: Mutex::default(),
            last_refusal: Mutex::default(),
            authorizations: AtomicUsize::new(0),
            token_requests: AtomicUsize::new(0),
            tokens_issued: AtomicUsize::new(0),
            user_requests: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(google_userinfo))
            .route("/user", get(github_user))
            .route("/user/emails", get(github_emails))
            .route("/big", get(big))
            .route("/moved", post(moved).get(moved))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeProvider {
            base_url,
            shared,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Provider settings pointing at this server, with the right credentials.
    pub fn settings(&self) -> ProviderSettings {
        let (userinfo, emails) = match self.shared.flavour {
            Provider::Google => (self.url("/userinfo"), String::new()),
            Provider::GitHub => (self.url("/user"), self.url("/user/emails")),
        };
        ProviderSettings {
            client_id: CLIENT_ID.into(),
            client_secret: Secret::new(CLIENT_SECRET),
            authorize_url: self.url("/authorize"),
            token_url: self.url("/token"),
            userinfo_url: userinfo,
            emails_url: emails,
            scopes: "openid email".into(),
        }
    }

    /// Who signs in from now on.
    pub fn set_user(&self, user: FakeUser) {
        *self.shared.user.lock() = user;
    }

    /// Authorization requests answered with a code.
    pub fn authorizations(&self) -> usize {
        self.shared.authorizations.load(Ordering::SeqCst)
    }

    /// Requests to the token endpoint, accepted or not.
    pub fn token_requests(&self) -> usize {
        self.shared.token_requests.load(Ordering::SeqCst)
    }

    /// Access tokens handed out.
    pub fn tokens_issued(&self) -> usize {
        self.shared.tokens_issued.load(Ordering::SeqCst)
    }

    /// Requests to `/userinfo`, `/user` or `/user/emails` with a valid token.
    pub fn user_requests(&self) -> usize {
        self.shared.user_requests.load(Ordering::SeqCst)
    }

    /// Why the last refused token request was refused, in words.
    pub fn last_refusal(&self) -> Option<String> {
        self.shared.last_refusal.lock().clone()
    }
}

fn random() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).unwrap();
    BASE64URL_NOPAD.encode(&bytes)
}

fn s256(verifier: &str) -> String {
    BASE64URL_NOPAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()).as_ref())
}

/// `GET /authorize`: the browser arrives; the user "consents" at once.
async fn authorize(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let param = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    // Errors about the client or redirect URI must not redirect (RFC 6749 §4.1.2.1).
    let problem = if param("client_id") != CLIENT_ID {
        Some("unknown client_id")
    } else if param("redirect_uri") != s.redirect_uri {
        Some("redirect_uri is not registered")
    } else if param("response_type") != "code" {
        Some("response_type must be code")
    } else if param("code_challenge_method") != "S256" {
        Some("code_challenge_method must be S256")
    } else if param("code_challenge").len() != 43 {
        Some("code_challenge must be 43 characters")
    } else if param("state").is_empty() {
        Some("state is required")
    } else {
        None
    };
    if let Some(problem) = problem {
        return (StatusCode::BAD_REQUEST, problem).into_response();
    }
    let code = random();
    s.codes.lock().insert(
        code.clone(),
        Grant {
            redirect_uri: s.redirect_uri.clone(),
            challenge: param("code_challenge").into(),
            user: s.user.lock().clone(),
            used: false,
        },
    );
    s.authorizations.fetch_add(1, Ordering::SeqCst);
    let mut back = reqwest::Url::parse(&s.redirect_uri).unwrap();
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", param("state"));
    (StatusCode::FOUND, [(header::LOCATION, back.to_string())]).into_response()
}

/// A refused token request, each flavour its way.
fn refuse(s: &Shared, status: StatusCode, error: &str, why: &str) -> Response {
    *s.last_refusal.lock() = Some(why.into());
    let body = Json(json!({"error": error, "error_description": why}));
    match s.flavour {
        Provider::Google => (status, body).into_response(),
        // GitHub: HTTP 200 with the error in the body.
        Provider::GitHub => body.into_response(),
    }
}

/// `POST /token`: the code exchange (RFC 6749 §4.1.3, RFC 7636 §4.6).
async fn token(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    s.token_requests.fetch_add(1, Ordering::SeqCst);
    let param = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    let github = s.flavour == Provider::GitHub;
    let bad_code = if github {
        "bad_verification_code"
    } else {
        "invalid_grant"
    };
    if param("grant_type") != "authorization_code" {
        return refuse(
            &s,
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type",
        );
    }
    if param("client_id") != CLIENT_ID || param("client_secret") != CLIENT_SECRET {
        let error = if github {
            "incorrect_client_credentials"
        } else {
            "invalid_client"
        };
        return refuse(&s, StatusCode::UNAUTHORIZED, error, "client credentials");
    }
    let user = {
        let mut codes = s.codes.lock();
        let Some(grant) = codes.get_mut(param("code")) else {
            return refuse(&s, StatusCode::BAD_REQUEST, bad_code, "unknown code");
        };
        if grant.used {
            return refuse(&s, StatusCode::BAD_REQUEST, bad_code, "code already used");
        }
        // Any presentation by the right client spends the code.
        grant.used = true;
        if param("redirect_uri") != grant.redirect_uri {
            let error = if github {
                "redirect_uri_mismatch"
            } else {
                "invalid_grant"
            };
            return refuse(&s, StatusCode::BAD_REQUEST, error, "redirect_uri mismatch");
        }
        let verifier = param("code_verifier");
        let well_formed = (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"-._~".contains(&c));
        if !well_formed || s256(verifier) != grant.challenge {
            return refuse(
                &s,
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "PKCE verification failed",
            );
        }
        grant.user.clone()
    };
    let access_token = random();
    s.tokens.lock().insert(access_token.clone(), user);
    s.tokens_issued.fetch_add(1, Ordering::SeqCst);
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    match s.flavour {
        Provider::GitHub if !wants_json => (
            [(header::CONTENT_TYPE, "application/x-www-form-urlencoded")],
            format!("access_token={access_token}&scope=read%3Auser&token_type=bearer"),
        )
            .into_response(),
        Provider::GitHub => Json(json!({
            "access_token": access_token, "token_type": "bearer", "scope": "read:user,user:email"
        }))
        .into_response(),
        Provider::Google => Json(json!({
            "access_token": access_token, "token_type": "Bearer", "expires_in": 3599,
            "scope": "openid email profile"
        }))
        .into_response(),
    }
}

/// Why a user-info request is refused.
enum Refusal {
    NoUserAgent,
    BadToken,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::NoUserAgent => {
                (StatusCode::FORBIDDEN, "a User-Agent header is required").into_response()
            }
            Refusal::BadToken => (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
                Json(json!({"message": "Bad credentials"})),
            )
                .into_response(),
        }
    }
}

/// The user behind the request's bearer token.
fn bearer(s: &Shared, headers: &HeaderMap) -> Result<FakeUser, Refusal> {
    if s.flavour == Provider::GitHub && !headers.contains_key(header::USER_AGENT) {
        return Err(Refusal::NoUserAgent);
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let user = token
        .and_then(|t| s.tokens.lock().get(t).cloned())
        .ok_or(Refusal::BadToken)?;
    s.user_requests.fetch_add(1, Ordering::SeqCst);
    Ok(user)
}

async fn google_userinfo(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let u = match bearer(&s, &headers) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let mut v = json!({"sub": u.subject, "picture": "https://example.org/p.png"});
    if let Some(email) = u.email {
        v["email"] = json!(email);
        v["email_verified"] = json!(u.email_verified);
    }
    if let Some(name) = u.name {
        v["name"] = json!(name);
    }
    Json(v).into_response()
}

async fn github_user(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let u = match bearer(&s, &headers) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let id: u64 = u.subject.parse().expect("GitHub subjects are numeric");
    // Like most GitHub users, the address is private: `/user` shows null.
    Json(json!({
        "id": id, "login": u.login, "name": u.name, "email": Value::Null,
        "node_id": "MDQ6VXNlcjE=", "type": "User"
    }))
    .into_response()
}

async fn github_emails(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let u = match bearer(&s, &headers) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    // A verified no-reply address that is not primary must not count as verified.
    let mut list = vec![json!({
        "email": format!("{}+noreply@users.noreply.github.com", u.subject),
        "primary": false, "verified": true, "visibility": Value::Null
    })];
    if let Some(email) = u.email {
        list.push(json!({
            "email": email, "primary": true, "verified": u.email_verified,
            "visibility": "private"
        }));
    }
    Json(Value::Array(list)).into_response()
}

/// A body far over any sane answer (a hostile or broken endpoint).
async fn big() -> Response {
    let filler = "x".repeat(100 * 1024);
    Json(json!({ "sub": "1", "filler": filler })).into_response()
}

/// Redirects to the real token endpoint: a client following it would re-send the form.
async fn moved() -> Response {
    (
        StatusCode::TEMPORARY_REDIRECT,
        [(header::LOCATION, "/token")],
    )
        .into_response()
}
