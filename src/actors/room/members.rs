//! The sockets present in a room. Held outside the room actor (by its supervisor) so
//! that a room restarted after a panic still knows whom to tell to resync.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parking_lot::Mutex;
use ractor::ActorRef;

use crate::actors::outbound::{Frame, Outbound, Pushed};
use crate::actors::session::SessionMsg;
use crate::metrics::Metrics;
use crate::protocol::{MemberInfo, Role};

/// Who a socket is, as a room sees it.
#[derive(Clone)]
pub struct MemberHandle {
    pub session: Arc<str>,
    pub user: Arc<str>,
    pub name: Arc<str>,
    pub outbound: Arc<Outbound>,
    pub session_ref: ActorRef<SessionMsg>,
}

pub struct Member {
    pub handle: MemberHandle,
    pub role: Role,
    pub docs: HashSet<Arc<str>>,
}

impl Member {
    pub fn info(&self) -> MemberInfo {
        MemberInfo {
            session: self.handle.session.to_string(),
            user: self.handle.user.to_string(),
            name: self.handle.name.to_string(),
            role: self.role,
        }
    }
}

/// Shared, restart-surviving member table of one room.
#[derive(Clone, Default)]
pub struct Members(Arc<Mutex<HashMap<Arc<str>, Member>>>);

impl Members {
    pub fn with<R>(&self, f: impl FnOnce(&mut HashMap<Arc<str>, Member>) -> R) -> R {
        f(&mut self.0.lock())
    }

    pub fn len(&self) -> usize {
        self.0.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.lock().is_empty()
    }

    /// Outbound queues of members other than `except` that have `doc` open (or every
    /// member, for `None`).
    pub fn audience(&self, doc: Option<&str>, except: Option<&str>) -> Vec<Arc<Outbound>> {
        self.0
            .lock()
            .values()
            .filter(|m| except != Some(&*m.handle.session))
            .filter(|m| doc.is_none_or(|d| m.docs.contains(d)))
            .map(|m| m.handle.outbound.clone())
            .collect()
    }

    /// Drops members whose sockets are gone (a session that died without leaving).
    pub fn prune_closed(&self) -> Vec<Arc<str>> {
        let mut gone = Vec::new();
        self.0.lock().retain(|id, m| {
            let open = !m.handle.outbound.is_closed();
            if !open {
                gone.push(id.clone());
            }
            open
        });
        gone
    }
}

/// Pushes one frame to each outbound; counts fan-out and newly lagging sockets.
pub fn fan_out(targets: &[Arc<Outbound>], frame: &Frame, metrics: &Metrics) {
    for out in targets {
        match out.push(frame.clone()) {
            Pushed::Queued => metrics.broadcast_frames.inc(),
            Pushed::Lagging { newly: true } => metrics.lagging_drops.inc(),
            Pushed::Lagging { newly: false } | Pushed::Closed => {}
        }
    }
}
