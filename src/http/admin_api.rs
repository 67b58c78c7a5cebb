//! `/api/admin/*`: users (list, disable, enable, global role) and the audit log.
//! Every handler requires an admin; the accounts service checks it.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::caller::Authed;
use super::error::ApiError;
use super::rooms_api::body;
use crate::accounts::GlobalRole;
use crate::context::AppContext;
use crate::protocol::ErrorCode;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsersQuery {
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    #[serde(default)]
    before: Option<u64>,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetRole {
    role: String,
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::new(ErrorCode::BadField, e.body_text()))
}

/// `GET /api/admin/users?after=&limit=` → `{users}` ordered by id.
pub async fn users(
    State(ctx): State<Arc<AppContext>>,
    Authed(caller): Authed,
    q: Result<Query<UsersQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = query(q)?;
    let users = ctx
        .accounts
        .list_users(&caller, q.after.unwrap_or_default(), q.limit.unwrap_or(100))
        .await?;
    Ok(Json(json!({ "users": users })))
}

/// `POST /api/admin/users/{id}/disable`: the user's sessions end at once.
pub async fn disable(
    State(ctx): State<Arc<AppContext>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let user = ctx.accounts.set_disabled(&caller, &id, true).await?;
    Ok(Json(json!(user)))
}

/// `POST /api/admin/users/{id}/enable`.
pub async fn enable(
    State(ctx): State<Arc<AppContext>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let user = ctx.accounts.set_disabled(&caller, &id, false).await?;
    Ok(Json(json!(user)))
}

/// `PUT /api/admin/users/{id}/role` `{role: "admin" | "user"}`.
pub async fn set_role(
    State(ctx): State<Arc<AppContext>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    req: Result<Json<SetRole>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let r = body(req)?;
    let role = GlobalRole::parse(&r.role)
        .ok_or_else(|| ApiError::field("role", "\"admin\" or \"user\""))?;
    let user = ctx.accounts.set_global_role(&caller, &id, role).await?;
    Ok(Json(json!(user)))
}

/// `GET /api/admin/audit?before=&limit=` → `{events (newest first), more}`.
pub async fn audit(
    State(ctx): State<Arc<AppContext>>,
    Authed(caller): Authed,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = query(q)?;
    let (events, more) = ctx
        .accounts
        .audit_page(&caller, q.before, q.limit.unwrap_or(100))
        .await?;
    Ok(Json(json!({ "events": events, "more": more })))
}
