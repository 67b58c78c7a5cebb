//! Frames the server sends.

use serde::Serialize;

use super::{EditOp, ErrorCode, RequestId, Role, Version};

/// The limits a client should respect, sent in `welcome`.
#[derive(Debug, Clone, Serialize)]
pub struct WireLimits {
    pub max_frame_bytes: usize,
    pub max_doc_chars: usize,
    pub max_insert_chars: usize,
    pub max_ops_per_edit: usize,
    pub edits_burst: u32,
    pub edits_per_sec: u32,
    pub chat_per_sec: u32,
    pub chat_burst: u32,
    pub max_chat_chars: usize,
    pub max_rooms: usize,
    pub max_members_per_room: usize,
    pub max_name_chars: usize,
    pub max_path_chars: usize,
    pub max_in_flight: usize,
    /// How far behind (in versions) an edit's `base` or an `open`'s `version` may be.
    pub history_window: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberInfo {
    pub session: String,
    pub user: String,
    pub name: String,
    pub role: Role,
}

#[derive(Debug, Clone, Serialize)]
pub struct CursorInfo {
    pub session: String,
    pub name: String,
    pub doc: String,
    pub anchor: usize,
    pub head: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ChatMessage {
    pub seq: u64,
    pub user: String,
    pub name: String,
    pub text: String,
    /// Milliseconds since the Unix epoch.
    pub ts: u64,
}

/// The payload of an `ok` frame, which depends on the request it answers.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum OkBody {
    /// `hello` is answered by `welcome`; `leave`, `close`, `set_role`, `ping`, `cursor`.
    Empty {},
    /// `create_room`, `join`.
    Room {
        room: String,
        role: Role,
        members: Vec<MemberInfo>,
        /// The documents opened in this room so far (paths).
        docs: Vec<String>,
    },
    /// `members`.
    Members { members: Vec<MemberInfo> },
    /// `open` without a version, or with one too old: the whole text.
    DocText {
        room: String,
        doc: String,
        version: Version,
        text: String,
    },
    /// `open` with a version in the history window: the ops that bring the client's
    /// text from `from` to `version`.
    DocCatchUp {
        room: String,
        doc: String,
        from: Version,
        version: Version,
        ops: Vec<EditOp>,
    },
    /// `edit`: the version the edit became; `ops` only when the edit was concurrent
    /// and so transformed: then they are what the server applied to `version - 1`.
    Edited {
        version: Version,
        #[serde(skip_serializing_if = "Option::is_none")]
        ops: Option<Vec<EditOp>>,
    },
    /// `auth`: the new token's expiry (Unix seconds).
    Authed { token_expires: u64 },
    /// `chat`: the stored message's sequence number.
    Chatted { seq: u64 },
    /// `chat_history`: newest first; `more` when older messages exist.
    ChatPage {
        messages: Vec<ChatMessage>,
        more: bool,
    },
}

/// The `edit` push with borrowed fields: the hot path encodes it once per edit
/// without copying the room, document, ops or author. Same wire form as
/// [`ServerMsg::Edit`].
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename = "edit")]
pub struct EditPush<'a> {
    pub room: &'a str,
    pub doc: &'a str,
    pub version: Version,
    pub ops: &'a [EditOp],
    pub by: &'a str,
}

/// Every frame the server may send.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    Welcome {
        session: String,
        /// The person's user id (`anon:<name>` in anonymous development mode).
        user: String,
        /// Their username (or the anonymous display name).
        name: String,
        /// When the access token expires (Unix seconds); refresh it with `auth` before.
        #[serde(skip_serializing_if = "Option::is_none")]
        token_expires: Option<u64>,
        v: u32,
        heartbeat_secs: u64,
        limits: WireLimits,
    },
    Ok {
        id: Option<RequestId>,
        #[serde(flatten)]
        body: OkBody,
    },
    Error {
        id: Option<RequestId>,
        code: ErrorCode,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    /// Someone joined a room this socket is in.
    Joined {
        room: String,
        member: MemberInfo,
    },
    /// Someone left (or was disconnected from) a room this socket is in.
    Left {
        room: String,
        session: String,
    },
    /// Someone else's edit, transformed to apply to version `version - 1`.
    Edit {
        room: String,
        doc: String,
        version: Version,
        ops: Vec<EditOp>,
        by: String,
    },
    /// Coalesced cursor positions; `gone` lists sessions whose cursors vanished.
    Presence {
        room: String,
        cursors: Vec<CursorInfo>,
        gone: Vec<String>,
    },
    Chat {
        room: String,
        message: ChatMessage,
    },
    /// Pushes were lost (a slow reader, or the room restarted): reopen the room's
    /// documents, with `version` to get only what was missed.
    Resync {
        #[serde(skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        reason: String,
    },
    /// The server is going away; the socket closes with 1001 next.
    Bye {
        reason: String,
    },
}

impl ServerMsg {
    /// Every `type` the server may send, as written on the wire.
    pub const TYPES: &'static [&'static str] = &[
        "welcome", "ok", "error", "joined", "left", "edit", "presence", "chat", "resync", "bye",
    ];

    pub fn error(id: Option<RequestId>, code: ErrorCode, message: impl Into<String>) -> Self {
        ServerMsg::Error {
            id,
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    pub fn ok(id: Option<RequestId>, body: OkBody) -> Self {
        ServerMsg::Ok { id, body }
    }
}
