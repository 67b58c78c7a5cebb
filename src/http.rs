//! The HTTP edge (axum): routes, the access log with request ids, body limits, and
//! optional TLS termination ([`tls`]).

pub mod error;
pub mod health;
pub mod rooms_api;
#[cfg(feature = "test-hooks")]
pub mod test_hooks;
pub mod tls;
pub mod ws;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tokio::time::Instant;

use crate::context::AppContext;

/// Largest accepted REST body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn router(ctx: Arc<AppContext>) -> Router {
    let router = Router::new()
        .route("/ws", get(ws::upgrade))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(health::metrics))
        .route("/api/rooms", post(rooms_api::create))
        .route("/api/rooms/{id}/join", post(rooms_api::join))
        .route("/api/rooms/{id}/users", get(rooms_api::users))
        .route("/api/rooms/{id}/chat", get(rooms_api::chat));
    #[cfg(feature = "test-hooks")]
    let router = test_hooks::routes(router);
    router
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(ctx.clone(), access_log))
        .with_state(ctx)
}

/// One log line per request, with its request id (the client's `x-request-id` if it
/// sent a sane one, else a fresh one), echoed in the response.
async fn access_log(State(ctx): State<Arc<AppContext>>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        req.headers_mut().insert("x-request-id", v);
    }
    let mut resp = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    let status = resp.status().as_u16();
    ctx.shared
        .metrics
        .http_requests
        .with_label_values(&[method.as_str(), &status.to_string()])
        .inc();
    tracing::info!(
        target: "access",
        kind = "http",
        method = %method,
        path = %path,
        status,
        latency_us = started.elapsed().as_micros() as u64,
        request_id = %request_id,
        "request"
    );
    resp
}
