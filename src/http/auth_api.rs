//! `/api/auth/*`: register, login (and its two-factor step), refresh, logout, me,
//! sessions, and two-factor setup. Token responses are never cached.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::caller::{Authed, Client};
use super::error::ApiError;
use super::rooms_api::body;
use crate::accounts::service::UserView;
use crate::accounts::{LoginOutcome, TokenPair, UserRecord};
use crate::context::AppContext;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Register {
    email: String,
    username: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// Username or email.
    login: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwoFactorLogin {
    challenge: String,
    code: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refresh {
    refresh_token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Code {
    code: String,
}

/// The body of every response that hands out tokens.
pub fn tokens(user: &UserRecord, pair: TokenPair) -> Value {
    json!({
        "user": UserView::from(user),
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": pair.token_type,
        "expires_in": pair.expires_in,
        "session_id": pair.session_id,
    })
}

/// Tokens, or the two-factor challenge.
pub fn login_outcome(outcome: LoginOutcome) -> Value {
    match outcome {
        LoginOutcome::Tokens(user, pair) => tokens(&user, pair),
        LoginOutcome::TwoFactor { challenge } => {
            json!({"two_factor_required": true, "challenge": challenge})
        }
    }
}

/// `POST /api/auth/register` `{email, username, password}` → 201 with tokens.
pub async fn register(
    State(ctx): State<Arc<AppContext>>,
    Client(client): Client,
    req: Result<Json<Register>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let r = body(req)?;
    let (user, pair) = ctx
        .accounts
        .register(r.email, r.username, r.password, &client)
        .await?;
    Ok((StatusCode::CREATED, Json(tokens(&user, pair))))
}

/// `POST /api/auth/login` `{login, password}` → tokens, or
/// `{two_factor_required: true, challenge}`.
pub async fn login(
    State(ctx): State<Arc<AppContext>>,
    Client(client): Client,
    req: Result<Json<Login>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let r = body(req)?;
    let outcome = ctx.accounts.login(r.login, r.password, &client).await?;
    Ok(Json(login_outcome(outcome)))
}

/// `POST /api/auth/login/2fa` `{challenge, code}` (TOTP or recovery code) → tokens.
pub async fn login_two_factor(
    State(ctx): State<Arc<AppContext>>,
    Client(client): Client,
    req: Result<Json<TwoFactorLogin>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let r = body(req)?;
    let (user, pair) = ctx
        .accounts
        .login_two_factor(&r.challenge, r.code, &client)
        .await?;
    Ok(Json(tokens(&user, pair)))
}

/// `POST /api/auth/refresh` `{refresh_token}` → a new pair; the old token is spent.
pub async fn refresh(
    State(ctx): State<Arc<AppContext>>,
    Client(client): Client,
    req: Result<Json<Refresh>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let r = body(req)?;
    let (user, pair) = ctx.accounts.refresh(r.refresh_token, &client).await?;
    Ok(Json(tokens(&user, pair)))
}

/// `POST /api/auth/logout` → 204; the session and its sockets end.
pub async fn logout(
    State(ctx): State<Arc<AppContext>>,
    Authed(caller): Authed,
    Client(client): Client,
) -> Result<StatusCode, ApiError> {
    ctx.accounts.logout(&caller, client.ip).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/auth/me`.
pub async fn me(
    State(ctx): State<Arc<AppContext>>,
    Authed(caller): Authed,
) -> Result<Json<Value>, ApiError> {
    let user = ctx.accounts.me(&caller).await?;
    Ok(Json(json!(UserView::from(&user))))
}

/// `GET /api/auth/sessions` → `{sessions: [{id, device, ip, created_ms, last_seen_ms, current}]}`.
pub async fn sessions(
    State(ctx): State<Arc<AppContext>>,
    Authed(caller): Authed,
) -> Result<Json<Value>, ApiError> {
    let list: Vec<Value> = ctx
        .accounts
        .sessions(&caller)
        .await?
        .into_iter()
        .map(|s| {
            json!({
                "id": s.id,
                "device": s.device,
                "ip": s.ip,
                "created_ms": s.created_ms,
                "last_seen_ms": s.last_seen_ms,
                "expires_ms": s.expires_ms,
                "current": s.id == caller.sid,
            })
        })
        .collect();
    Ok(Json(json!({ "sessions": list })))
}

/// `DELETE /api/auth/sessions/{id}` → 204.
pub async fn revoke_session(
    State(ctx): State<Arc<AppContext>>,
    Authed(caller): Authed,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    ctx.accounts.revoke_session(&caller, &id, client.ip).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/auth/sessions/revoke-others` → `{revoked: n}`.
pub async fn revoke_others(
    State(ctx): State<Arc<AppContext>>,
    Authed(caller): Authed,
    Client(client): Client,
) -> Result<Json<Value>, ApiError> {
    let n = ctx.accounts.revoke_others(&caller, client.ip).await?;
    Ok(Json(json!({ "revoked": n })))
}

/// `POST /api/auth/2fa/setup` → `{secret, otpauth_uri}`; off until confirmed.
pub async fn totp_setup(
    State(ctx): State<Arc<AppContext>>,
    Authed(caller): Authed,
) -> Result<Json<Value>, ApiError> {
    let setup = ctx.accounts.totp_setup(&caller).await?;
    Ok(Json(json!(setup)))
}

/// `POST /api/auth/2fa/confirm` `{code}` → `{recovery_codes: [10]}` (shown once).
pub async fn totp_confirm(
    State(ctx): State<Arc<AppContext>>,
    Authed(caller): Authed,
    Client(client): Client,
    req: Result<Json<Code>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let r = body(req)?;
    let codes = ctx
        .accounts
        .totp_confirm(&caller, r.code, client.ip)
        .await?;
    Ok(Json(json!({ "recovery_codes": codes })))
}

/// `POST /api/auth/2fa/disable` `{code}` (TOTP or recovery code) → 204.
pub async fn totp_disable(
    State(ctx): State<Arc<AppContext>>,
    Authed(caller): Authed,
    Client(client): Client,
    req: Result<Json<Code>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let r = body(req)?;
    ctx.accounts
        .totp_disable(&caller, r.code, client.ip)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
