//! Headers on every response, and the CORS allowlist.
//!
//! The server answers JSON and WebSocket only, so the content policy forbids
//! everything (`default-src 'none'`) and framing (`frame-ancestors 'none'`). HSTS is
//! sent only under TLS (over plain HTTP it would be meaningless or harmful). API
//! responses carry tokens and personal data: `Cache-Control: no-store`.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::cors::{AllowOrigin, CorsLayer};

const CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Whether HSTS applies (the server speaks TLS).
#[derive(Clone, Copy)]
pub struct Hsts(pub bool);

pub async fn security_headers(State(hsts): State<Hsts>, req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let fixed = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in fixed {
        h.insert(name, HeaderValue::from_static(value));
    }
    if hsts.0 {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    if api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// CORS for the configured frontends; `None` when there are none (browsers then
/// refuse cross-origin calls, the safe default).
pub fn cors(origins: &[String]) -> Result<Option<CorsLayer>, String> {
    if origins.is_empty() {
        return Ok(None);
    }
    let list = origins
        .iter()
        .map(|o| {
            let o = o.trim_end_matches('/');
            HeaderValue::from_str(o).map_err(|_| format!("server.frontend_url: bad origin {o:?}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(list))
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("x-request-id"),
            ])
            .expose_headers([HeaderName::from_static("x-request-id"), header::RETRY_AFTER])
            .max_age(std::time::Duration::from_secs(600)),
    ))
}
