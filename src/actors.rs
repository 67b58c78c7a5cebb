//! The supervision tree and every actor in it. [`root`] documents the tree.

pub mod outbound;
pub mod rate_limit;
pub mod room;
pub mod rooms;
pub mod root;
pub mod session;
pub mod sessions;
pub mod ticket;
