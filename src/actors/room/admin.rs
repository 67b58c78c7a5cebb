//! Room administration: roles granted over the socket (`set_role`) and REST (join
//! grants), and the room's description for REST.

use super::{RoomInfo, RoomState};
use crate::actors::ticket::Ticket;
use crate::protocol::{ErrorCode, OkBody, Role};
use crate::storage::{WriteOp, records};

impl RoomState {
    pub(super) fn set_role(&mut self, role: Role, user: String, new: Role, ticket: Ticket) {
        match self.apply_role(role, &user, new) {
            Err((code, message)) => ticket.error(code, message),
            Ok(writes) => self.after_commit(writes, ticket, |t| t.ok(OkBody::Empty {})),
        }
    }

    /// REST: `by` (a user id) sets `user`'s role; only owners may.
    pub(super) fn set_role_by(
        &mut self,
        by: &str,
        user: String,
        new: Role,
        reply: ractor::RpcReplyPort<Result<(), ErrorCode>>,
    ) {
        let role = self
            .meta
            .as_ref()
            .and_then(|m| m.role_of(by))
            .unwrap_or(Role::None);
        match self.apply_role(role, &user, new) {
            Err((code, _)) => {
                let _ = reply.send(Err(code));
            }
            Ok(writes) => self.after_commit_then(writes, move |r| {
                let _ = reply.send(r.map_err(|_| ErrorCode::Internal));
            }),
        }
    }

    /// Checks and applies a role change in memory; the writes that make it durable.
    fn apply_role(
        &mut self,
        role: Role,
        user: &str,
        new: Role,
    ) -> Result<Vec<WriteOp>, (ErrorCode, &'static str)> {
        if role != Role::Owner {
            return Err((ErrorCode::Forbidden, "only an owner can set roles"));
        }
        let Some(meta) = self.meta.as_mut() else {
            return Err((ErrorCode::RoomNotFound, "no such room"));
        };
        let owners = meta.roles.iter().filter(|(_, r)| *r == Role::Owner).count();
        if new != Role::Owner && owners == 1 && meta.role_of(user) == Some(Role::Owner) {
            return Err((ErrorCode::Forbidden, "a room keeps at least one owner"));
        }
        meta.set_role(user, new);
        let bytes = records::encode(meta);
        // Members present as that user take the new role at once; with `none` they
        // are removed from the room (and told so).
        let removed = self.members.with(|m| {
            m.values_mut()
                .filter(|m| &*m.handle.user == user)
                .for_each(|m| m.role = new);
            let gone: Vec<_> = m
                .iter()
                .filter(|(_, m)| m.role == Role::None)
                .map(|(k, _)| k.clone())
                .collect();
            gone.into_iter()
                .filter_map(|k| m.remove(&k))
                .collect::<Vec<_>>()
        });
        for member in removed {
            let session = member.handle.session.clone();
            member
                .handle
                .outbound
                .reply_msg(&crate::protocol::ServerMsg::Left {
                    room: self.id.to_string(),
                    session: session.to_string(),
                });
            let _ = member
                .handle
                .session_ref
                .cast(crate::actors::session::SessionMsg::RoomGone {
                    room: self.id.clone(),
                });
            self.broadcast_left(&session);
            self.presence.forget(&session);
        }
        Ok(vec![WriteOp::PutRoom {
            room: self.id.clone(),
            meta: bytes,
        }])
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
        if !granted.can_join() {
            let _ = reply.send(Err(ErrorCode::Forbidden));
            return;
        }
        let role = requested.map_or(granted, |r| r.min(granted).max(Role::Viewer));
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
