//! The records stored as table values, encoded with postcard.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::StorageError;
use crate::protocol::{EditOp, Role};

/// A room's settings and the roles granted in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomMeta {
    pub name: String,
    pub created_ms: u64,
    pub default_role: Role,
    /// user id -> role, for everyone granted one.
    pub roles: Vec<(String, Role)>,
    /// Paths of the documents created in the room.
    pub docs: Vec<String>,
}

impl RoomMeta {
    pub fn role_of(&self, user: &str) -> Option<Role> {
        self.roles.iter().find(|(u, _)| u == user).map(|(_, r)| *r)
    }

    /// Grants `role` (`none` removes the entry).
    pub fn set_role(&mut self, user: &str, role: Role) {
        if role == Role::None {
            self.roles.retain(|(u, _)| u != user);
            return;
        }
        match self.roles.iter_mut().find(|(u, _)| u == user) {
            Some(entry) => entry.1 = role,
            None => self.roles.push((user.to_owned(), role)),
        }
    }
}

/// One sequenced edit, enough to replay it deterministically into the op log:
/// the agent, the exact parents it was merged at, and the ops as the client sent them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditRecord {
    pub version: u64,
    pub agent: String,
    pub parents: Vec<usize>,
    pub ops: Vec<EditOp>,
}

/// A compacted document: the diamond-types encoding of the whole op log at `version`,
/// plus the version window so clients can still catch up across the snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocSnapshot {
    pub version: u64,
    pub window_first: u64,
    /// Frontier and text length after each version from `window_first` to `version`.
    pub window: Vec<(Vec<usize>, u64)>,
    pub oplog: Vec<u8>,
}

pub type ChatRecord = crate::protocol::ChatMessage;

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // postcard serializes these plain structs infallibly into a Vec.
    postcard::to_allocvec(value).expect("postcard encoding of a plain record")
}

/// Decodes one record from the front of `bytes`, returning it and the rest.
pub fn decode_prefix<'a, T: DeserializeOwned>(
    table: &'static str,
    bytes: &'a [u8],
) -> Result<(T, &'a [u8]), StorageError> {
    postcard::take_from_bytes(bytes).map_err(|e| StorageError::Corrupt {
        table,
        message: e.to_string(),
    })
}

pub fn decode<T: DeserializeOwned>(table: &'static str, bytes: &[u8]) -> Result<T, StorageError> {
    postcard::from_bytes(bytes).map_err(|e| StorageError::Corrupt {
        table,
        message: e.to_string(),
    })
}
