//! codeplatform: the backend of a cloud code editor, one actor-system server.
//!
//! Map of the crate:
//! - [`config`]: typed settings (embedded defaults, file, `CODEPLATFORM_*` env).
//! - [`protocol`]: the WebSocket wire types, error codes and codec; no I/O.
//! - [`collab`]: the collaborative document core (diamond-types), no actors.
//! - [`storage`]: redb schema, records, reads and the group-commit writer.
//! - [`actors`]: the supervision tree: root, rooms, room, sessions, session.
//! - [`accounts`]: users, sessions, refresh rotation, two-factor, roles, audit log.
//! - [`auth`]: passwords (argon2id), TOTP, access tokens (JWT with key rotation),
//!   OAuth sign-in with Google and GitHub (authorization code + PKCE).
//! - [`http`]: the axum edge: `/ws`, REST, health, metrics, access log.
//! - [`loadtest`]: `codeplatform loadtest`, simulated editors over real sockets.
//! - [`server`]: start and ordered shutdown of a whole server.
//! - [`metrics`], [`context`]: per-server metrics and the context passed down.

pub mod accounts;
pub mod actors;
pub mod auth;
pub mod collab;
pub mod config;
pub mod context;
pub mod http;
pub mod loadtest;
pub mod metrics;
pub mod protocol;
pub mod server;
pub mod storage;

pub use config::Settings;
pub use server::Server;
