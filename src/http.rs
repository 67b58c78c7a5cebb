//! The HTTP edge (axum): routes, the access log with request ids, body limits, and
//! optional TLS termination ([`tls`]).

pub mod admin_api;
pub mod auth_api;
pub mod caller;
pub mod docs_api;
pub mod error;
pub mod health;
pub mod oauth_api;
pub mod rooms_api;
pub mod security_headers;
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
use axum::routing::{delete, get, post, put};
use tokio::time::Instant;

use crate::context::AppContext;

/// Largest accepted REST body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The whole router. `tls` turns on HSTS. Fails on a bad CORS origin in settings.
pub fn router(ctx: Arc<AppContext>, tls: bool) -> Result<Router, String> {
    let router = Router::new()
        .route("/ws", get(ws::upgrade))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(health::metrics))
        .route("/api/rooms", post(rooms_api::create))
        .route("/api/rooms/{id}/join", post(rooms_api::join))
        .route("/api/rooms/{id}/users", get(rooms_api::users))
        .route("/api/rooms/{id}/chat", get(rooms_api::chat))
        .route("/api/rooms/{id}/roles", put(rooms_api::set_role))
        .route(
            "/api/rooms/{id}/docs/{*path}",
            get(docs_api::read).post(docs_api::edit),
        )
        .route("/api/auth/register", post(auth_api::register))
        .route("/api/auth/login", post(auth_api::login))
        .route("/api/auth/login/2fa", post(auth_api::login_two_factor))
        .route("/api/auth/refresh", post(auth_api::refresh))
        .route("/api/auth/logout", post(auth_api::logout))
        .route("/api/auth/me", get(auth_api::me))
        .route("/api/auth/sessions", get(auth_api::sessions))
        .route("/api/auth/sessions/{id}", delete(auth_api::revoke_session))
        .route(
            "/api/auth/sessions/revoke-others",
            post(auth_api::revoke_others),
        )
        .route("/api/auth/2fa/setup", post(auth_api::totp_setup))
        .route("/api/auth/2fa/confirm", post(auth_api::totp_confirm))
        .route("/api/auth/2fa/disable", post(auth_api::totp_disable))
        .route("/api/auth/{provider}", get(oauth_api::start))
        .route("/api/auth/{provider}/callback", get(oauth_api::callback))
        .route("/api/admin/users", get(admin_api::users))
        .route("/api/admin/users/{id}/disable", post(admin_api::disable))
        .route("/api/admin/users/{id}/enable", post(admin_api::enable))
        .route("/api/admin/users/{id}/role", put(admin_api::set_role))
        .route("/api/admin/audit", get(admin_api::audit));
    #[cfg(feature = "test-hooks")]
    let router = test_hooks::routes(router);
    let cors = security_headers::cors(&ctx.shared.settings.server.frontend_url)?;
    let router =
        router
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(middleware::from_fn_with_state(
                security_headers::Hsts(tls),
                security_headers::security_headers,
            ));
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    Ok(router
        .layer(middleware::from_fn_with_state(ctx.clone(), access_log))
        .with_state(ctx))
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
