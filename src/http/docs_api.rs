//! Documents over REST, with the room's roles: `GET /api/rooms/{id}/docs/{*path}`
//! reads (viewers and up), `POST` the same path with `{base, ops}` edits (editors and
//! owners), answered once the edit is durable, exactly like a socket `edit`.
//!
//! The room answers on a one-frame outbound queue, so REST and the socket share one
//! code path (checks, transform, durability, pushes to the document's readers).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::Value;

use super::caller::Authed;
use super::error::ApiError;
use super::rooms_api::body;
use crate::actors::outbound::{Next, Outbound};
use crate::actors::room::{RestRequest, RoomMsg};
use crate::actors::ticket::Ticket;
use crate::context::AppContext;
use crate::protocol::validate::{check_path, valid_room_id};
use crate::protocol::{EditOp, ErrorCode, Version};

const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    base: Version,
    ops: Vec<EditOp>,
}

/// Sends `req` to the room and turns its answer frame into a response.
async fn ask(
    ctx: &AppContext,
    room: &str,
    user: String,
    req: RestRequest,
) -> Result<Json<Value>, ApiError> {
    if !valid_room_id(room) {
        return Err(ApiError::new(ErrorCode::RoomNotFound, "no such room"));
    }
    let doc = match &req {
        RestRequest::Read { doc } | RestRequest::Edit { doc, .. } => doc,
    };
    check_path(doc, ctx.shared.settings.limits.max_path_chars)
        .map_err(|e| ApiError::field("path", e))?;
    let actor = super::rooms_api::existing(ctx, &Arc::from(room)).await?;
    let out = Arc::new(Outbound::new(4, u32::MAX));
    let ticket = Ticket::new(out.clone(), Some(1), ctx.shared.metrics.clone(), None);
    let _ = actor.cast(RoomMsg::Rest { user, req, ticket });
    let frame = match tokio::time::timeout(ANSWER_TIMEOUT, out.next()).await {
        Ok(Some(Next::Send(frame))) => frame,
        _ => {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                "room did not answer; retry",
            ));
        }
    };
    let mut v: Value = serde_json::from_str(frame.as_str())
        .map_err(|_| ApiError::new(ErrorCode::Internal, "bad answer"))?;
    if v["type"] == "error" {
        let code = v["code"].as_str().unwrap_or("internal");
        let code = ErrorCode::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == code)
            .unwrap_or(ErrorCode::Internal);
        let message = v["message"].as_str().unwrap_or("refused").to_owned();
        return Err(ApiError::new(code, message));
    }
    if let Some(o) = v.as_object_mut() {
        o.remove("type");
        o.remove("id");
    }
    Ok(Json(v))
}

/// `GET /api/rooms/{id}/docs/{*path}` → `{room, doc, version, text}`.
pub async fn read(
    State(ctx): State<Arc<AppContext>>,
    Authed(caller): Authed,
    Path((id, path)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    ask(&ctx, &id, caller.user, RestRequest::Read { doc: path }).await
}

/// `POST /api/rooms/{id}/docs/{*path}` `{base, ops}` → `{version, ops?}` once durable.
pub async fn edit(
    State(ctx): State<Arc<AppContext>>,
    Authed(caller): Authed,
    Path((id, path)): Path<(String, String)>,
    req: Result<Json<Edit>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let e = body(req)?;
    let max = ctx.shared.settings.limits.max_ops_per_edit;
    if e.ops.len() > max {
        return Err(ApiError::field(
            "ops",
            format!("at most {max} ops per edit"),
        ));
    }
    let req = RestRequest::Edit {
        doc: path,
        base: e.base,
        ops: e.ops,
    };
    ask(&ctx, &id, caller.user, req).await
}
