//! The WebSocket protocol: wire types, error codes and the codec. No I/O here.
//!
//! JSON text frames, each an object tagged by `type`. Clients send [`ClientMsg`];
//! the server sends [`ServerMsg`]. Every request gets exactly one `ok` or `error`
//! echoing its `id` (null when it had none), except a `cursor` without an id, which
//! is answered only if refused. `docs/protocol.md` is the contract; a test checks that
//! every message type and error code here appears there.

pub mod client;
pub mod codec;
pub mod error_code;
pub mod server;
pub mod validate;

pub use client::{ClientMsg, EditOp, Role};
pub use codec::{DecodeError, decode_client, encode_server};
pub use error_code::{CloseCode, ErrorCode};
pub use server::{ChatMessage, CursorInfo, EditPush, MemberInfo, OkBody, ServerMsg, WireLimits};

/// The protocol version this server speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// A document version: the count of edits the server has sequenced in it.
pub type Version = u64;
/// A client's request id, echoed in the answer.
pub type RequestId = u64;
