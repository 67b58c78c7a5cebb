//! Hooks compiled only with the `test-hooks` feature (never in release builds), so
//! integration tests can make a room fail, or the server lie, on purpose.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;

use crate::actors::room::RoomMsg;
use crate::context::AppContext;

pub fn routes(router: Router<Arc<AppContext>>) -> Router<Arc<AppContext>> {
    router
        .route("/debug/rooms/{id}/panic", post(panic_room))
        .route("/debug/drop-edits/{every}", post(drop_edits))
}

/// From now on, acknowledge every `every`-th edit without applying it (0: stop).
async fn drop_edits(State(ctx): State<Arc<AppContext>>, Path(every): Path<u64>) -> StatusCode {
    let hooks = &ctx.shared.hooks;
    hooks
        .drop_edits_every
        .store(every, std::sync::atomic::Ordering::Relaxed);
    StatusCode::NO_CONTENT
}

/// Makes the room's actor panic inside its message handler.
async fn panic_room(State(ctx): State<Arc<AppContext>>, Path(id): Path<String>) -> StatusCode {
    match ctx.rooms.lookup(&id) {
        Some(room) => match room.cast(RoomMsg::Panic) {
            Ok(()) => StatusCode::ACCEPTED,
            Err(_) => StatusCode::GONE,
        },
        None => StatusCode::NOT_FOUND,
    }
}
