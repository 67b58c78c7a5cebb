//! Room chat: messages are stored, then broadcast to every member.

use super::RoomState;
use super::members::{MemberHandle, fan_out};
use crate::actors::ticket::Ticket;
use crate::protocol::{ChatMessage, ErrorCode, OkBody, ServerMsg, encode_server};
use crate::storage::{WriteOp, records};

/// Milliseconds since the Unix epoch (a timestamp shown to people, so wall time).
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl RoomState {
    pub(super) fn chat(&mut self, member: &MemberHandle, text: String, ticket: Ticket) {
        let max = self.shared.settings.limits.max_chat_chars;
        let len = text.chars().count();
        if len > max {
            let msg = format!("chat messages hold at most {max} characters");
            return ticket.error(ErrorCode::ChatTooLong, msg);
        }
        if text.trim().is_empty() {
            return ticket.error(ErrorCode::BadField, "chat text is empty");
        }
        let seq = self.next_chat_seq;
        self.next_chat_seq += 1;
        let message = ChatMessage {
            seq,
            user: member.user.to_string(),
            name: member.name.to_string(),
            text,
            ts: now_ms(),
        };
        let record = records::encode(&message);
        let frame = encode_server(&ServerMsg::Chat {
            room: self.id.to_string(),
            message,
        })
        .into();
        let others = self.members.audience(None, Some(&member.session));
        let metrics = self.shared.metrics.clone();
        let write = WriteOp::AppendChat {
            room: self.id.clone(),
            seq,
            record,
        };
        self.after_commit(vec![write], ticket, move |ticket| {
            ticket.ok(OkBody::Chatted { seq });
            fan_out(&others, &frame, &metrics);
        });
    }
}
