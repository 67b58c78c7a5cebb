//! The sockets each login session has open, so a revocation (logout, "sign out
//! everywhere", a reused refresh token, an admin disabling a user) reaches them at
//! once: each gets `bye` and close 4004.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::actors::outbound::Outbound;
use crate::protocol::{CloseCode, ServerMsg};

/// A socket: its id and its outbound queue.
type Socket = (Arc<str>, Arc<Outbound>);

#[derive(Default)]
pub struct LiveSockets {
    by_session: Mutex<HashMap<Arc<str>, Vec<Socket>>>,
}

impl LiveSockets {
    pub fn attach(&self, sid: Arc<str>, socket: Arc<str>, out: Arc<Outbound>) {
        self.by_session
            .lock()
            .entry(sid)
            .or_default()
            .push((socket, out));
    }

    pub fn detach(&self, sid: &str, socket: &str) {
        let mut map = self.by_session.lock();
        if let Some(list) = map.get_mut(sid) {
            list.retain(|(s, _)| &**s != socket);
            if list.is_empty() {
                map.remove(sid);
            }
        }
    }

    /// Closes every socket of the given sessions; returns how many.
    pub fn revoke(&self, sids: &[String], reason: &str) -> usize {
        let closing: Vec<Arc<Outbound>> = {
            let mut map = self.by_session.lock();
            sids.iter()
                .filter_map(|sid| map.remove(sid.as_str()))
                .flatten()
                .map(|(_, out)| out)
                .collect()
        };
        for out in &closing {
            out.reply_msg(&ServerMsg::Bye {
                reason: reason.into(),
            });
            out.close(CloseCode::Revoked.code(), "session revoked");
        }
        closing.len()
    }

    /// Sockets open, for metrics and tests.
    pub fn len(&self) -> usize {
        self.by_session.lock().values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
