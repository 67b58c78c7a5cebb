//! Hooks compiled only with the `test-hooks` feature (never in release builds), so
//! integration tests can make a room fail on purpose.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;

use crate::actors::room::RoomMsg;
use crate::context::AppContext;

pub fn routes(router: Router<Arc<AppContext>>) -> Router<Arc<AppContext>> {
    router.route("/debug/rooms/{id}/panic", post(panic_room))
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
