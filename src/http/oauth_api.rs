//! Sign-in with Google or GitHub: `GET /api/auth/{provider}` sends the browser to
//! the provider (authorization code flow with `state` and PKCE S256);
//! `GET /api/auth/{provider}/callback` exchanges the code, links or creates the
//! account and answers like a password login (tokens, or the two-factor challenge).
//!
//! Besides the server-side single-use state, the state is bound to the browser that
//! started the flow with an HttpOnly cookie, so a callback URL planted in someone
//! else's browser (login CSRF) fails.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;

use super::auth_api::login_outcome;
use super::caller::Client;
use super::error::ApiError;
use crate::accounts::oauth_link::ExternalIdentity;
use crate::accounts::throttle::Action;
use crate::auth::oauth::{OAuthError, Provider};
use crate::context::AppContext;
use crate::protocol::ErrorCode;

const STATE_COOKIE: &str = "cp_oauth_state";

#[derive(Deserialize)]
pub struct Callback {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    /// Set by the provider when the person declined or something failed.
    #[serde(default)]
    error: Option<String>,
}

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        match e {
            OAuthError::NotConfigured(_) => ApiError::new(ErrorCode::NotConfigured, e.to_string()),
            OAuthError::UnknownProvider => ApiError::new(ErrorCode::NotFound, e.to_string()),
            OAuthError::UnknownState | OAuthError::BadCode | OAuthError::Rejected(_) => {
                ApiError::new(ErrorCode::Unauthorized, e.to_string())
            }
            OAuthError::Provider(_) => {
                tracing::warn!(error = %e, "sign-in provider failed");
                ApiError::new(ErrorCode::Unavailable, e.to_string())
            }
            OAuthError::Random => ApiError::new(ErrorCode::Internal, e.to_string()),
        }
    }
}

fn provider(name: &str) -> Result<Provider, ApiError> {
    name.parse::<Provider>().map_err(ApiError::from)
}

/// `GET /api/auth/{provider}` → 302 to the provider; 503 when not configured.
pub async fn start(
    State(ctx): State<Arc<AppContext>>,
    Client(client): Client,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let p = provider(&name)?;
    ctx.accounts.throttle(Action::Login, client.ip, None)?;
    let begin = ctx.oauth.begin(p, Instant::now())?;
    let ttl = ctx.shared.settings.oauth.state_ttl_secs;
    let secure = if ctx.shared.settings.server.tls() {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{STATE_COOKIE}={}; Path=/api/auth/; Max-Age={ttl}; HttpOnly; SameSite=Lax{secure}",
        begin.state
    );
    let location = HeaderValue::from_str(&begin.authorize_url)
        .map_err(|_| ApiError::new(ErrorCode::Internal, "bad authorize URL"))?;
    let cookie = HeaderValue::from_str(&cookie)
        .map_err(|_| ApiError::new(ErrorCode::Internal, "bad cookie"))?;
    let mut resp = StatusCode::FOUND.into_response();
    resp.headers_mut().insert(header::LOCATION, location);
    resp.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(resp)
}

/// The state cookie of the request, if any.
fn state_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == STATE_COOKIE)
        .map(|(_, v)| v)
}

/// `GET /api/auth/{provider}/callback?code=&state=` → tokens or a challenge.
pub async fn callback(
    State(ctx): State<Arc<AppContext>>,
    Client(client): Client,
    Path(name): Path<String>,
    headers: HeaderMap,
    q: Result<Query<Callback>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let p = provider(&name)?;
    ctx.accounts.throttle(Action::Login, client.ip, None)?;
    let Query(q) = q.map_err(|e| ApiError::new(ErrorCode::BadField, e.body_text()))?;
    if let Some(error) = q.error {
        let error: String = error
            .chars()
            .filter(char::is_ascii_graphic)
            .take(64)
            .collect();
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            format!("the provider reported: {error}"),
        ));
    }
    let (Some(code), Some(state)) = (q.code, q.state) else {
        return Err(ApiError::field("code", "code and state are required"));
    };
    // The browser finishing the flow must be the one that started it.
    let bound = state_cookie(&headers)
        .is_some_and(|c| crate::accounts::ct_eq(c.as_bytes(), state.as_bytes()));
    if !bound {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "sign-in state does not match this browser",
        ));
    }
    let id = ctx.oauth.finish(p, &code, &state, Instant::now()).await?;
    let identity = ExternalIdentity {
        provider: p.name().to_owned(),
        subject: id.subject,
        email: id.email,
        email_verified: id.email_verified,
        name: id.name,
        login: id.login,
    };
    let outcome = ctx.accounts.oauth_sign_in(identity, &client).await?;
    Ok(Json(login_outcome(outcome)))
}
