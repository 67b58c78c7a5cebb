//! The rooms over REST, as the product brief lists them. Every call needs an access
//! token, and the caller's role in the room is checked as on the socket: viewers
//! read, editors edit, owners grant roles; people without a role see nothing.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use ractor::ActorRef;
use serde::Deserialize;
use serde_json::{Value, json};

use super::caller::Authed;
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
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    default_role: Option<Role>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRoom {
    #[serde(default)]
    role: Option<Role>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantRole {
    /// A user id or username.
    user: String,
    role: Role,
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

/// The caller's role in a room (its default role if none was granted); refuses
/// callers who may not see it, with the same answer as a missing room.
fn require_role(info: &RoomInfo, user: &str, at_least: Role) -> Result<Role, ApiError> {
    let role = info
        .roles
        .iter()
        .find(|(u, _)| u == user)
        .map(|(_, r)| *r)
        .unwrap_or(info.default_role);
    if !role.can_join() {
        return Err(ApiError::new(ErrorCode::RoomNotFound, "no such room"));
    }
    if role < at_least {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("needs the {} role", at_least.as_str()),
        ));
    }
    Ok(role)
}

fn check_room(id: &str) -> Result<Arc<str>, ApiError> {
    if valid_room_id(id) {
        Ok(id.into())
    } else {
        Err(ApiError::new(ErrorCode::RoomNotFound, "no such room"))
    }
}

/// The actor of an existing room. A room neither loaded nor stored is not found
/// (without starting an actor for it: ids from the network are not trusted).
pub async fn existing(ctx: &AppContext, room: &Arc<str>) -> Result<ActorRef<RoomMsg>, ApiError> {
    if ctx.rooms.lookup(room).is_none() && ctx.shared.store.room(room.to_string()).await?.is_none()
    {
        return Err(ApiError::new(ErrorCode::RoomNotFound, "no such room"));
    }
    ctx.rooms
        .resolve(room, None)
        .await
        .map_err(|e| ApiError::new(ErrorCode::Unavailable, e))
}

async fn info(ctx: &AppContext, room: &Arc<str>) -> Result<RoomInfo, ApiError> {
    let actor = existing(ctx, room).await?;
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

/// `POST /api/rooms` `{name?, default_role?}` → 201 `{id, name, default_role}`; the
/// caller owns the room.
pub async fn create(
    State(ctx): State<Arc<AppContext>>,
    Authed(caller): Authed,
    req: Result<Json<CreateRoom>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let req = body(req)?;
    let user = caller.user;
    let name = req.name.unwrap_or_else(|| "untitled".into());
    check_name(&name, ctx.shared.settings.limits.max_name_chars)
        .map_err(|e| ApiError::field("name", e))?;
    let default_role = req.default_role.unwrap_or(Role::None);
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

/// `POST /api/rooms/{id}/join` `{role?}` → `{room, role}`; 403 without a role in a
/// private room.
pub async fn join(
    State(ctx): State<Arc<AppContext>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    req: Result<Json<JoinRoom>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let req = body(req)?;
    let user = caller.user;
    let room = check_room(&id)?;
    let actor = existing(&ctx, &room).await?;
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
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let room = check_room(&id)?;
    let info = info(&ctx, &room).await?;
    require_role(&info, &caller.user, Role::Viewer)?;
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
    Authed(caller): Authed,
    Path(id): Path<String>,
    q: Result<Query<ChatQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::new(ErrorCode::BadField, e.body_text()))?;
    let room = check_room(&id)?;
    let info = info(&ctx, &room).await?;
    require_role(&info, &caller.user, Role::Viewer)?;
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

/// `PUT /api/rooms/{id}/roles` `{user (id or username), role}` → 204; owners only.
/// `role: "none"` takes the role away (and removes them from the room).
pub async fn set_role(
    State(ctx): State<Arc<AppContext>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    req: Result<Json<GrantRole>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let req = body(req)?;
    let room = check_room(&id)?;
    let info = info(&ctx, &room).await?;
    require_role(&info, &caller.user, Role::Owner)?;
    let user = ctx
        .accounts
        .resolve_user(&req.user)
        .await
        .map_err(|_| ApiError::field("user", "no such user"))?;
    let actor = existing(&ctx, &room).await?;
    let call = actor
        .call(
            |reply| RoomMsg::SetRole {
                by: caller.user.clone(),
                user,
                role: req.role,
                reply,
            },
            Some(CALL_TIMEOUT),
        )
        .await;
    match call {
        Ok(ractor::rpc::CallResult::Success(Ok(()))) => Ok(StatusCode::NO_CONTENT),
        Ok(ractor::rpc::CallResult::Success(Err(code))) => Err(ApiError::new(code, "refused")),
        _ => Err(ApiError::new(
            ErrorCode::Unavailable,
            "room did not answer; retry",
        )),
    }
}
