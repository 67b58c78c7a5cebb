//! Liveness, readiness and metrics endpoints.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use crate::context::AppContext;

/// `GET /health`: always 200 while the process serves; each component's status.
pub async fn health(State(ctx): State<Arc<AppContext>>) -> impl IntoResponse {
    let storage = match ctx.shared.store.check().await {
        Ok(()) => json!({"status": "ok"}),
        Err(e) => json!({"status": "error", "error": e.to_string()}),
    };
    let writer_up = ctx.shared.writer.get_status() == ractor::ActorStatus::Running;
    let rooms_up = ctx.rooms.supervisor().get_status() == ractor::ActorStatus::Running;
    let sessions_up = ctx.sessions.get_status() == ractor::ActorStatus::Running;
    let status = |up: bool| if up { "ok" } else { "down" };
    Json(json!({
        "status": "ok",
        "components": {
            "storage": storage,
            "actors": {
                "status": status(writer_up && rooms_up && sessions_up),
                "storage_writer": status(writer_up),
                "rooms": status(rooms_up),
                "sessions": status(sessions_up),
                "rooms_loaded": ctx.rooms.loaded(),
            },
        },
    }))
}

/// `GET /ready`: 200 when storage answers and the actors run, else 503.
pub async fn ready(State(ctx): State<Arc<AppContext>>) -> impl IntoResponse {
    let storage_ok = ctx.shared.store.check().await.is_ok();
    let actors_ok = ctx.shared.writer.get_status() == ractor::ActorStatus::Running
        && ctx.rooms.supervisor().get_status() == ractor::ActorStatus::Running
        && ctx.sessions.get_status() == ractor::ActorStatus::Running;
    let ready = storage_ok && actors_ok && !ctx.shutdown.is_cancelled();
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(json!({"ready": ready, "storage": storage_ok, "actors": actors_ok})),
    )
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(ctx): State<Arc<AppContext>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        ctx.shared.metrics.render(),
    )
}
