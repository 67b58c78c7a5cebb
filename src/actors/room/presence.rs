//! Cursor presence, coalesced: moves are kept per socket and sent to the room at most
//! once per `rooms.presence_flush_ms`, so a flood of moves costs one frame per flush.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ractor::ActorRef;

use super::members::{MemberHandle, fan_out};
use super::{RoomMsg, RoomState};
use crate::actors::ticket::Ticket;
use crate::protocol::{CursorInfo, ErrorCode, ServerMsg, encode_server};

#[derive(Default)]
pub(crate) struct Presence {
    pending: HashMap<Arc<str>, CursorInfo>,
    gone: Vec<String>,
    scheduled: bool,
}

impl Presence {
    pub fn forget(&mut self, session: &str) {
        self.pending.remove(session);
        self.gone.push(session.to_owned());
    }
}

impl RoomState {
    pub(super) fn cursor(
        &mut self,
        myself: &ActorRef<RoomMsg>,
        member: &MemberHandle,
        doc: String,
        anchor: usize,
        head: usize,
        ticket: Ticket,
    ) {
        let len = self.docs.get(doc.as_str()).map(|e| e.doc.len_chars());
        let open = self.members.with(|m| {
            m.get(&member.session)
                .is_some_and(|m| m.docs.contains(doc.as_str()))
        });
        // Clamped, not refused: a client a few versions behind may point past the end.
        let (anchor, head) = match len {
            Some(len) if open => (anchor.min(len), head.min(len)),
            _ => return ticket.error(ErrorCode::DocNotOpen, "open the document first"),
        };
        self.presence.pending.insert(
            member.session.clone(),
            CursorInfo {
                session: member.session.to_string(),
                name: member.name.to_string(),
                doc,
                anchor,
                head,
            },
        );
        if ticket.id().is_some() {
            ticket.ok(crate::protocol::OkBody::Empty {});
        } else {
            ticket.silent();
        }
        self.schedule_presence(myself);
    }

    pub(super) fn schedule_presence(&mut self, myself: &ActorRef<RoomMsg>) {
        if !self.presence.scheduled {
            self.presence.scheduled = true;
            let delay = Duration::from_millis(self.shared.settings.rooms.presence_flush_ms);
            myself.send_after(delay, || RoomMsg::FlushPresence);
        }
    }

    pub(super) fn flush_presence(&mut self) {
        self.presence.scheduled = false;
        if self.presence.pending.is_empty() && self.presence.gone.is_empty() {
            return;
        }
        let cursors: Vec<CursorInfo> = self.presence.pending.drain().map(|(_, c)| c).collect();
        let gone = std::mem::take(&mut self.presence.gone);
        let frame = encode_server(&ServerMsg::Presence {
            room: self.id.to_string(),
            cursors,
            gone,
        })
        .into();
        let all = self.members.audience(None, None);
        fan_out(&all, &frame, &self.shared.metrics);
    }
}
