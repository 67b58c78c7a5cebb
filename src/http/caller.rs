//! Who is calling: the `Authorization: Bearer` access token checked against a live
//! session ([`Authed`]), and where the request came from ([`Client`]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use super::error::ApiError;
use crate::accounts::{Caller, ClientInfo};
use crate::context::AppContext;
use crate::protocol::ErrorCode;

/// The peer address of a TLS connection (axum provides `SocketAddr` for plain TCP
/// only).
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub SocketAddr);

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, super::tls::TlsListener>>
    for PeerAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, super::tls::TlsListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

/// A request with a valid access token.
pub struct Authed(pub Caller);

/// The peer address and user agent of a request.
pub struct Client(pub ClientInfo);

/// The bearer token of a request, if any.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(axum::http::header::AUTHORIZATION)?;
    let value = value.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequestParts<Arc<AppContext>> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &Arc<AppContext>,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "an access token is required"))?;
        Ok(Authed(ctx.accounts.authenticate(token).await?))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .or_else(|| {
                parts
                    .extensions
                    .get::<ConnectInfo<PeerAddr>>()
                    .map(|c| c.0.0.ip())
            })
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let device = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(200)
            .collect();
        Ok(Client(ClientInfo { ip, device }))
    }
}
