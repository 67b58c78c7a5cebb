//! The rooms over REST, as the product brief lists them. Until accounts exist the
//! caller names themself with `user` (as on the socket, a display name).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use crate::actors::room::{RoomInfo, RoomMsg};
use crate::context::AppContext;
use crate::protocol::validate::{check_name, valid_room_id};
use crate::protocol::{ErrorCode, Role};
use crate::storage::RoomMeta;

const CALL_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRoom {
    user: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    default_role: Option<Role>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRoom {
    user: String,
    #[serde(default)]
    role: Option<Role>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatQuery {
    #[serde(default)]
    before: Option<u64>,
    #[serde(default)]
    limit: Option<usize>,
}

/// Maps a JSON body rejection to our error body.
pub fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    match b {
        Ok(Json(v)) => Ok(v),
        Err(JsonRejection::JsonSyntaxError(e)) => {
            Err(ApiError::new(ErrorCode::BadJson, e.body_text()))
        }
        Err(JsonRejection::JsonDataError(e)) => {
            Err(ApiError::new(ErrorCode::BadField, e.body_text()))
        }
        Err(JsonRejection::MissingJsonContentType(e)) => {
            Err(ApiError::new(ErrorCode::BadJson, e.body_text()))
        }
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Err(ApiError::new(ErrorCode::TooLarge, "request body too large"))
        }
        Err(e) => Err(ApiError::new(ErrorCode::BadJson, e.body_text())),
    }
}

fn check_user(ctx: &AppContext, user: &str) -> Result<String, ApiError> {
    check_name(user, ctx.shared.settings.limits.max_name_chars)
        .map_err(|e| ApiError::field("user", e))?;
    Ok(format!("anon:{user}"))
}

fn check_room(id: &str) -> Result<Arc<str>, ApiError> {
    if valid_room_id(id) {
        Ok(id.into())
    } else {
        Err(ApiError::new(ErrorCode::RoomNotFound, "no such room"))
    }
}

async fn info(ctx: &AppContext, room: &Arc<str>) -> Result<RoomInfo, ApiError> {
    let actor = ctx
        .rooms
        .resolve(room, None)
        .await
        .map_err(|e| ApiError::new(ErrorCode::Unavailable, e))?;
    match actor.call(RoomMsg::Info, Some(CALL_TIMEOUT)).await {
        Ok(ractor::rpc::CallResult::Success(Some(info))) => Ok(info),
        Ok(ractor::rpc::CallResult::Success(None)) => {
            Err(ApiError::new(ErrorCode::RoomNotFound, "no such room"))
        }
        _ => Err(ApiError::new(
            ErrorCode::Unavailable,
            "room did not answer; retry",
        )),
    }
}

/// `POST /api/rooms` `{user, name?, default_role?}` → 201 `{id, name, default_role}`.
pub async fn create(
    State(ctx): State<Arc<AppContext>>,
    req: Result<Json<CreateRoom>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let req = body(req)?;
    let user = check_user(&ctx, &req.user)?;
    let name = req.name.unwrap_or_else(|| "untitled".into());
    check_name(&name, ctx.shared.settings.limits.max_name_chars)
        .map_err(|e| ApiError::field("name", e))?;
    let default_role = req.default_role.unwrap_or(Role::Editor);
    if default_role == Role::Owner {
        return Err(ApiError::field("default_role", "cannot be owner"));
    }
    let room: Arc<str> = uuid::Uuid::new_v4().simple().to_string().into();
    let meta = RoomMeta {
        name,
        created_ms: crate::actors::room::now_ms(),
        default_role,
        roles: vec![(user, Role::Owner)],
        docs: Vec::new(),
    };
    ctx.rooms
        .resolve(&room, Some(meta))
        .await
        .map_err(|e| ApiError::new(ErrorCode::Unavailable, e))?;
    let info = info(&ctx, &room).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": info.id, "name": info.name, "default_role": info.default_role})),
    ))
}

/// `POST /api/rooms/{id}/join` `{user, role?}` → `{room, role}`.
pub async fn join(
    State(ctx): State<Arc<AppContext>>,
    Path(id): Path<String>,
    req: Result<Json<JoinRoom>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let req = body(req)?;
    let user = check_user(&ctx, &req.user)?;
    let room = check_room(&id)?;
    let actor = ctx
        .rooms
        .resolve(&room, None)
        .await
        .map_err(|e| ApiError::new(ErrorCode::Unavailable, e))?;
    let call = actor
        .call(
            |reply| RoomMsg::Grant {
                user,
                requested: req.role,
                reply,
            },
            Some(CALL_TIMEOUT),
        )
        .await;
    match call {
        Ok(ractor::rpc::CallResult::Success(Ok(role))) => {
            Ok(Json(json!({"room": id, "role": role})))
        }
        Ok(ractor::rpc::CallResult::Success(Err(code))) => Err(ApiError::new(code, "refused")),
        _ => Err(ApiError::new(
            ErrorCode::Unavailable,
            "room did not answer; retry",
        )),
    }
}

/// `GET /api/rooms/{id}/users` → `{room, members: [...present], roles: [...granted]}`.
pub async fn users(
    State(ctx): State<Arc<AppContext>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let room = check_room(&id)?;
    let info = info(&ctx, &room).await?;
    let roles: Vec<Value> = info
        .roles
        .iter()
        .map(|(user, role)| json!({"user": user, "role": role}))
        .collect();
    Ok(Json(
        json!({"room": id, "members": info.members, "roles": roles}),
    ))
}

/// `GET /api/rooms/{id}/chat?before=&limit=` → `{messages (newest first), more}`.
pub async fn chat(
    State(ctx): State<Arc<AppContext>>,
    Path(id): Path<String>,
    q: Result<Query<ChatQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::new(ErrorCode::BadField, e.body_text()))?;
    let room = check_room(&id)?;
    if ctx.shared.store.room(room.to_string()).await?.is_none() {
        return Err(ApiError::new(ErrorCode::RoomNotFound, "no such room"));
    }
    let max = ctx.shared.settings.rooms.chat_page_max;
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > max {
        return Err(ApiError::field("limit", format!("1 to {max}")));
    }
    let (messages, more) = ctx
        .shared
        .store
        .chat_page(room.to_string(), q.before, limit)
        .await?;
    Ok(Json(json!({"messages": messages, "more": more})))
}
