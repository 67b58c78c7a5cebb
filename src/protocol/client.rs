//! Frames a client sends.

use serde::{Deserialize, Serialize};

use super::{RequestId, Version};

/// A person's role in a room. Ordered by privilege: none < viewer < editor < owner.
/// `none` as a room's `default_role` makes it private (only people granted a role
/// may join); granting `none` takes a role away. (Declared in storage order, which
/// must not change; ordered by [`Role::rank`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Editor,
    Owner,
    None,
}

impl Role {
    fn rank(self) -> u8 {
        match self {
            Role::None => 0,
            Role::Viewer => 1,
            Role::Editor => 2,
            Role::Owner => 3,
        }
    }
    pub fn can_edit(self) -> bool {
        self >= Role::Editor
    }
    pub fn can_join(self) -> bool {
        self >= Role::Viewer
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Owner => "owner",
            Role::None => "none",
        }
    }
}

impl PartialOrd for Role {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Role {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

/// One positional change, in Unicode code points, against the client's view:
/// delete `delete` characters at `pos`, then insert `insert` there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditOp {
    pub pos: usize,
    #[serde(default)]
    pub delete: usize,
    #[serde(default)]
    pub insert: String,
}

/// Every frame a client may send. `id`, where present, is echoed in the answer.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMsg {
    /// First frame on a socket. `token` is an access token; without one the socket
    /// is refused unless the server runs with `dev.anonymous`, where `name` names
    /// the person.
    Hello {
        v: u32,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        token: Option<String>,
    },
    /// A fresh access token for the same person, replacing the socket's current one
    /// before it expires (no reconnect needed).
    Auth {
        id: Option<RequestId>,
        token: String,
    },
    /// Create a room; the creator becomes its owner and joins it.
    CreateRoom {
        id: Option<RequestId>,
        #[serde(default)]
        name: Option<String>,
        /// Role given to people who join without one assigned (default `none`: only
        /// people the owner grants a role may join).
        #[serde(default)]
        default_role: Option<Role>,
    },
    /// Join a room; `role` may ask for less than one's granted role (e.g. `viewer`).
    Join {
        id: Option<RequestId>,
        room: String,
        #[serde(default)]
        role: Option<Role>,
    },
    Leave {
        id: Option<RequestId>,
        room: String,
    },
    /// List the members present in a room.
    Members {
        id: Option<RequestId>,
        room: String,
    },
    /// Owner only: grant `user` a role in the room.
    SetRole {
        id: Option<RequestId>,
        room: String,
        user: String,
        role: Role,
    },
    /// Open a document (created empty if new). With `version`, only what was missed.
    Open {
        id: Option<RequestId>,
        room: String,
        doc: String,
        #[serde(default)]
        version: Option<Version>,
    },
    Close {
        id: Option<RequestId>,
        room: String,
        doc: String,
    },
    /// Apply `ops` in order, each against the text left by the previous one, where the
    /// first applies to version `base` plus this socket's own edits not yet seen back.
    Edit {
        id: Option<RequestId>,
        room: String,
        doc: String,
        base: Version,
        ops: Vec<EditOp>,
    },
    /// Cursor and selection in a document; coalesced, never answered unless refused.
    Cursor {
        id: Option<RequestId>,
        room: String,
        doc: String,
        anchor: usize,
        head: usize,
    },
    Chat {
        id: Option<RequestId>,
        room: String,
        text: String,
    },
    /// A page of chat history, newest first, strictly before `before` (a chat seq).
    ChatHistory {
        id: Option<RequestId>,
        room: String,
        #[serde(default)]
        before: Option<u64>,
        #[serde(default)]
        limit: Option<usize>,
    },
    Ping {
        id: Option<RequestId>,
    },
}

impl ClientMsg {
    /// Every `type` a client may send, as written on the wire.
    pub const TYPES: &'static [&'static str] = &[
        "hello",
        "create_room",
        "join",
        "leave",
        "members",
        "set_role",
        "open",
        "close",
        "edit",
        "cursor",
        "chat",
        "chat_history",
        "ping",
        "auth",
    ];

    /// The request id, if the frame carries one.
    pub fn request_id(&self) -> Option<RequestId> {
        match self {
            ClientMsg::Hello { .. } => None,
            ClientMsg::CreateRoom { id, .. }
            | ClientMsg::Join { id, .. }
            | ClientMsg::Leave { id, .. }
            | ClientMsg::Members { id, .. }
            | ClientMsg::SetRole { id, .. }
            | ClientMsg::Open { id, .. }
            | ClientMsg::Close { id, .. }
            | ClientMsg::Edit { id, .. }
            | ClientMsg::Cursor { id, .. }
            | ClientMsg::Chat { id, .. }
            | ClientMsg::ChatHistory { id, .. }
            | ClientMsg::Ping { id }
            | ClientMsg::Auth { id, .. } => *id,
        }
    }

    /// The wire name of this frame's type, for logs and metrics.
    pub fn type_name(&self) -> &'static str {
        match self {
            ClientMsg::Hello { .. } => "hello",
            ClientMsg::CreateRoom { .. } => "create_room",
            ClientMsg::Join { .. } => "join",
            ClientMsg::Leave { .. } => "leave",
            ClientMsg::Members { .. } => "members",
            ClientMsg::SetRole { .. } => "set_role",
            ClientMsg::Open { .. } => "open",
            ClientMsg::Close { .. } => "close",
            ClientMsg::Edit { .. } => "edit",
            ClientMsg::Cursor { .. } => "cursor",
            ClientMsg::Chat { .. } => "chat",
            ClientMsg::ChatHistory { .. } => "chat_history",
            ClientMsg::Ping { .. } => "ping",
            ClientMsg::Auth { .. } => "auth",
        }
    }
}
