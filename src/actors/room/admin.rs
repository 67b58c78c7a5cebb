//! Room administration: roles granted over the socket (`set_role`) and REST (join
//! grants), and the room's description for REST.

use super::{RoomInfo, RoomState};
use crate::actors::ticket::Ticket;
use crate::protocol::{ErrorCode, OkBody, Role};
use crate::storage::{WriteOp, records};

impl RoomState {
    pub(super) fn set_role(&mut self, role: Role, user: String, new: Role, ticket: Ticket) {
        if role != Role::Owner {
            return ticket.error(ErrorCode::Forbidden, "only an owner can set roles");
        }
        let Some(meta) = self.meta.as_mut() else {
            return ticket.error(ErrorCode::RoomNotFound, "no such room");
        };
        let owners = meta.roles.iter().filter(|(_, r)| *r == Role::Owner).count();
        if new != Role::Owner && owners == 1 && meta.role_of(&user) == Some(Role::Owner) {
            return ticket.error(ErrorCode::Forbidden, "a room keeps at least one owner");
        }
        meta.set_role(&user, new);
        let bytes = records::encode(meta);
        // Members present as that user take the new role at once.
        self.members.with(|m| {
            m.values_mut()
                .filter(|m| &*m.handle.user == user.as_str())
                .for_each(|m| m.role = new);
        });
        let write = WriteOp::PutRoom {
            room: self.id.clone(),
            meta: bytes,
        };
        self.after_commit(vec![write], ticket, |ticket| ticket.ok(OkBody::Empty {}));
    }

    /// REST join: the role `user` holds (granting the default role on first join).
    pub(super) fn grant(
        &mut self,
        user: String,
        requested: Option<Role>,
        reply: ractor::RpcReplyPort<Result<Role, ErrorCode>>,
    ) {
        let Some(meta) = self.meta.as_mut() else {
            let _ = reply.send(Err(ErrorCode::RoomNotFound));
            return;
        };
        let (granted, writes) = match meta.role_of(&user) {
            Some(r) => (r, Vec::new()),
            None => {
                let r = meta.default_role;
                meta.set_role(&user, r);
                let write = WriteOp::PutRoom {
                    room: self.id.clone(),
                    meta: records::encode(meta),
                };
                (r, vec![write])
            }
        };
        let role = requested.map_or(granted, |r| r.min(granted));
        self.after_commit_then(writes, move |r| {
            let _ = reply.send(r.map(|()| role).map_err(|_| ErrorCode::Internal));
        });
    }

    pub(super) fn info(&self, reply: ractor::RpcReplyPort<Option<RoomInfo>>) {
        let info = self.meta.as_ref().map(|meta| RoomInfo {
            id: self.id.to_string(),
            name: meta.name.clone(),
            default_role: meta.default_role,
            members: self.member_list(),
            roles: meta.roles.clone(),
            docs: meta.docs.clone(),
        });
        // Answered once the room's record is durable (it may have just been created).
        self.after_commit_then(Vec::new(), move |_| {
            let _ = reply.send(info);
        });
    }
}
