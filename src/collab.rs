//! Collaborative documents: the CRDT core, free of actors and sockets.

pub mod document;
pub mod version_window;

pub use document::{Applied, DocError, Document, EditLimits};
