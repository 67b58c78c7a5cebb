//! The Room actor: one per active room. It owns the room's documents, presence and
//! chat sequence, sequences every edit, hands durable work to the storage writer with
//! the frames to deliver once it is committed, and never waits on a socket.
//!
//! It loads lazily (`post_start`, behind a writer barrier so it sees every write a
//! previous incarnation queued), passivates when idle, and when restarted after a
//! panic tells its members to resync: everything acknowledged is in storage.

mod admin;
mod chat;
mod docs;
pub mod members;
mod presence;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::time::Instant;

pub(crate) use self::chat::now_ms;
use self::members::{MemberHandle, Members};
use crate::actors::rooms::RoomsMsg;
use crate::actors::session::SessionMsg;
use crate::actors::ticket::Ticket;
use crate::collab::Document;
use crate::context::Shared;
use crate::protocol::{EditOp, ErrorCode, OkBody, Role, ServerMsg, Version};
use crate::storage::{RoomMeta, WriteOp, WriterMsg, records};

pub enum RoomMsg {
    Join {
        member: MemberHandle,
        requested: Option<Role>,
        ticket: Ticket,
    },
    Leave {
        session: Arc<str>,
    },
    Request {
        session: Arc<str>,
        req: RoomRequest,
        ticket: Ticket,
    },
    /// Internal: send coalesced cursor moves.
    FlushPresence,
    /// Internal: passivation check.
    Tick,
    /// From the supervisor: a passivation was called off (a member arrived).
    Resume,
    /// Internal: a commit of this room's writes failed; restart from storage.
    StorageFailed(String),
    /// Snapshot what changed since the last snapshot, then answer (shutdown, tests).
    Flush(ractor::RpcReplyPort<()>),
    /// REST join: grant `user` the default role if they hold none; answer their role.
    Grant {
        user: String,
        requested: Option<Role>,
        reply: ractor::RpcReplyPort<Result<Role, ErrorCode>>,
    },
    /// REST: `by` (a user id) sets `user`'s role in the room.
    SetRole {
        by: String,
        user: String,
        role: Role,
        reply: ractor::RpcReplyPort<Result<(), ErrorCode>>,
    },
    /// REST access to a document by `user` (a user id), answered on the ticket.
    Rest {
        user: String,
        req: RestRequest,
        ticket: Ticket,
    },
    /// The room's settings, roles and present members; `None` if it does not exist.
    Info(ractor::RpcReplyPort<Option<RoomInfo>>),
    /// Test hook: panic inside the handler.
    #[cfg(feature = "test-hooks")]
    Panic,
}

/// What REST may do with a document.
pub enum RestRequest {
    Read {
        doc: String,
    },
    Edit {
        doc: String,
        base: Version,
        ops: Vec<EditOp>,
    },
}

pub enum RoomRequest {
    Open {
        doc: String,
        version: Option<Version>,
    },
    Close {
        doc: String,
    },
    Edit {
        doc: String,
        base: Version,
        ops: Vec<EditOp>,
    },
    Cursor {
        doc: String,
        anchor: usize,
        head: usize,
    },
    Chat {
        text: String,
    },
    Members,
    SetRole {
        user: String,
        role: Role,
    },
}

pub struct Room;

/// What REST callers see of a room.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RoomInfo {
    pub id: String,
    pub name: String,
    pub default_role: Role,
    pub members: Vec<crate::protocol::MemberInfo>,
    pub roles: Vec<(String, Role)>,
    pub docs: Vec<String>,
}

pub struct RoomArgs {
    pub id: Arc<str>,
    pub shared: Shared,
    pub members: Members,
    pub supervisor: ActorRef<RoomsMsg>,
    /// Settings for a room being created; `None` loads an existing one.
    pub create: Option<RoomMeta>,
    pub restarted: bool,
}

/// A loaded document and how many edits were appended since its snapshot.
pub(crate) struct DocEntry {
    pub doc: Document,
    pub tail: usize,
}

pub struct RoomState {
    pub(crate) id: Arc<str>,
    pub(crate) shared: Shared,
    pub(crate) members: Members,
    supervisor: ActorRef<RoomsMsg>,
    myself: ActorRef<RoomMsg>,
    /// `None` until loaded, and when the room does not exist.
    pub(crate) meta: Option<RoomMeta>,
    pub(crate) docs: HashMap<Arc<str>, DocEntry>,
    pub(crate) presence: presence::Presence,
    pub(crate) next_chat_seq: u64,
    last_active: Instant,
    passivating: bool,
    create: Option<RoomMeta>,
    restarted: bool,
}

impl Actor for Room {
    type Msg = RoomMsg;
    type State = RoomState;
    type Arguments = RoomArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<RoomMsg>,
        args: RoomArgs,
    ) -> Result<RoomState, ActorProcessingErr> {
        args.shared.metrics.rooms_loaded.inc();
        Ok(RoomState {
            id: args.id,
            shared: args.shared,
            members: args.members,
            supervisor: args.supervisor,
            myself,
            meta: None,
            docs: HashMap::new(),
            presence: presence::Presence::default(),
            next_chat_seq: 1,
            last_active: Instant::now(),
            passivating: false,
            create: args.create,
            restarted: args.restarted,
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<RoomMsg>,
        state: &mut RoomState,
    ) -> Result<(), ActorProcessingErr> {
        // Every write a previous incarnation of this room queued is committed first.
        let (tx, rx) = tokio::sync::oneshot::channel();
        state.shared.writer.cast(WriterMsg::barrier(tx))?;
        rx.await??;
        let store = &state.shared.store;
        state.meta = store.room(state.id.to_string()).await?;
        if state.meta.is_none()
            && let Some(meta) = state.create.take()
        {
            state.shared.writer.cast(WriterMsg::Write {
                ops: vec![WriteOp::PutRoom {
                    room: state.id.clone(),
                    meta: records::encode(&meta),
                }],
                then: None,
            })?;
            state.meta = Some(meta);
        }
        if state.meta.is_none() {
            // No such room: answer pending joins with room_not_found, then unload.
            state.passivating = true;
            state.supervisor.cast(RoomsMsg::Passivate {
                room: state.id.clone(),
                actor: myself.get_id(),
            })?;
            return Ok(());
        }
        state.next_chat_seq = store.last_chat_seq(state.id.to_string()).await? + 1;
        if state.restarted {
            for out in state.members.audience(None, None) {
                out.reply_msg(&ServerMsg::Resync {
                    room: Some(state.id.to_string()),
                    reason: "room_restarted".into(),
                });
            }
            state
                .members
                .with(|m| m.values_mut().for_each(|m| m.docs.clear()));
        }
        let tick =
            Duration::from_secs((state.shared.settings.rooms.idle_passivate_secs / 4).max(1));
        myself.send_interval(tick, || RoomMsg::Tick);
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<RoomMsg>,
        state: &mut RoomState,
    ) -> Result<(), ActorProcessingErr> {
        state.shared.metrics.rooms_loaded.dec();
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<RoomMsg>,
        msg: RoomMsg,
        state: &mut RoomState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RoomMsg::Join {
                member,
                requested,
                ticket,
            } => {
                state.last_active = Instant::now();
                state.join(member, requested, ticket);
            }
            RoomMsg::Leave { session } => state.leave(&myself, &session),
            RoomMsg::Request {
                session,
                req,
                ticket,
            } => {
                state.last_active = Instant::now();
                let member = state
                    .members
                    .with(|m| m.get(&session).map(|m| (m.handle.clone(), m.role)));
                match member {
                    Some((member, role)) => {
                        state.request(&myself, member, role, req, ticket).await?
                    }
                    None => ticket.error(ErrorCode::NotJoined, "join the room first"),
                }
            }
            RoomMsg::FlushPresence => state.flush_presence(),
            RoomMsg::Tick => state.tick(&myself),
            RoomMsg::Resume => state.passivating = state.meta.is_none(),
            RoomMsg::StorageFailed(e) => {
                return Err(format!("storage commit failed: {e}").into());
            }
            RoomMsg::Flush(reply) => {
                state.snapshot_dirty();
                state.after_commit_then(Vec::new(), move |_| {
                    let _ = reply.send(());
                });
            }
            RoomMsg::Grant {
                user,
                requested,
                reply,
            } => state.grant(user, requested, reply),
            RoomMsg::SetRole {
                by,
                user,
                role,
                reply,
            } => state.set_role_by(&by, user, role, reply),
            RoomMsg::Rest { user, req, ticket } => {
                state.last_active = Instant::now();
                state.rest(&user, req, ticket).await
            }
            RoomMsg::Info(reply) => state.info(reply),
            #[cfg(feature = "test-hooks")]
            RoomMsg::Panic => panic!("test hook: room {} told to panic", state.id),
        }
        Ok(())
    }
}

impl RoomState {
    fn join(&mut self, member: MemberHandle, requested: Option<Role>, ticket: Ticket) {
        let refuse_join = |s: &Self, ticket: Ticket, code: ErrorCode, msg: &str| {
            ticket.error(code, msg);
            let _ = member
                .session_ref
                .cast(SessionMsg::RoomGone { room: s.id.clone() });
        };
        let Some(meta) = &self.meta else {
            return refuse_join(self, ticket, ErrorCode::RoomNotFound, "no such room");
        };
        if self.passivating {
            return refuse_join(
                self,
                ticket,
                ErrorCode::Unavailable,
                "room is unloading; retry",
            );
        }
        let granted = meta.role_of(&member.user).unwrap_or(meta.default_role);
        if !granted.can_join() {
            return refuse_join(
                self,
                ticket,
                ErrorCode::Forbidden,
                "you have no role in this room; ask its owner",
            );
        }
        let role = requested.map_or(granted, |r| r.min(granted).max(Role::Viewer));
        let limits = &self.shared.settings.limits;
        let full = self
            .members
            .with(|m| !m.contains_key(&member.session) && m.len() >= limits.max_members_per_room);
        if full {
            return refuse_join(self, ticket, ErrorCode::RoomFull, "room is full");
        }
        let info = self.members.with(|m| {
            let entry = m
                .entry(member.session.clone())
                .or_insert_with(|| members::Member {
                    handle: member.clone(),
                    role,
                    docs: Default::default(),
                });
            entry.role = role;
            entry.info()
        });
        let joined = crate::protocol::encode_server(&ServerMsg::Joined {
            room: self.id.to_string(),
            member: info,
        });
        let others = self.members.audience(None, Some(&member.session));
        members::fan_out(&others, &joined.into(), &self.shared.metrics);
        let body = OkBody::Room {
            room: self.id.to_string(),
            role,
            members: self.member_list(),
            docs: meta.docs.clone(),
        };
        // After the room record (if just created) is durable.
        self.after_commit(Vec::new(), ticket, move |ticket| ticket.ok(body));
    }

    fn leave(&mut self, myself: &ActorRef<RoomMsg>, session: &str) {
        let removed = self.members.with(|m| m.remove(session));
        if removed.is_some() {
            self.broadcast_left(session);
            self.presence.forget(session);
            self.schedule_presence(myself);
        }
    }

    pub(crate) fn broadcast_left(&self, session: &str) {
        let frame = crate::protocol::encode_server(&ServerMsg::Left {
            room: self.id.to_string(),
            session: session.to_string(),
        });
        let all = self.members.audience(None, None);
        members::fan_out(&all, &frame.into(), &self.shared.metrics);
    }

    pub(crate) fn member_list(&self) -> Vec<crate::protocol::MemberInfo> {
        self.members
            .with(|m| m.values().map(|m| m.info()).collect())
    }

    async fn request(
        &mut self,
        myself: &ActorRef<RoomMsg>,
        member: MemberHandle,
        role: Role,
        req: RoomRequest,
        ticket: Ticket,
    ) -> Result<(), ActorProcessingErr> {
        let session = member.session.clone();
        match req {
            RoomRequest::Open { doc, version } => {
                self.open(&member, role, doc, version, ticket).await?
            }
            RoomRequest::Close { doc } => {
                self.members.with(|m| {
                    if let Some(m) = m.get_mut(&session) {
                        m.docs.remove(doc.as_str());
                    }
                });
                ticket.ok(OkBody::Empty {});
            }
            RoomRequest::Edit { doc, base, ops } => {
                if role.can_edit() {
                    self.edit(&member, &doc, base, &ops, ticket);
                } else {
                    ticket.error(
                        ErrorCode::Forbidden,
                        format!("a {} cannot edit", role.as_str()),
                    );
                }
            }
            RoomRequest::Cursor { doc, anchor, head } => {
                self.cursor(myself, &member, doc, anchor, head, ticket)
            }
            RoomRequest::Chat { text } => self.chat(&member, text, ticket),
            RoomRequest::Members => ticket.ok(OkBody::Members {
                members: self.member_list(),
            }),
            RoomRequest::SetRole { user, role: new } => self.set_role(role, user, new, ticket),
        }
        Ok(())
    }

    /// Queues `ops` with the writer; once they (and everything queued before them)
    /// are durable, `then` answers the ticket. If the commit fails the ticket gets an
    /// `internal` error and the room restarts from storage.
    pub(crate) fn after_commit(
        &self,
        ops: Vec<WriteOp>,
        ticket: Ticket,
        then: impl FnOnce(Ticket) + Send + 'static,
    ) {
        self.after_commit_then(ops, move |r| match r {
            Ok(()) => then(ticket),
            Err(_) => ticket.error(ErrorCode::Internal, "storage failed"),
        });
    }

    /// Like [`Self::after_commit`], for callers without a ticket.
    pub(crate) fn after_commit_then(
        &self,
        ops: Vec<WriteOp>,
        then: impl FnOnce(Result<(), String>) + Send + 'static,
    ) {
        let room = self.myself.clone();
        let delivery: crate::storage::Delivery = Box::new(move |r| {
            if let Err(e) = &r {
                let _ = room.cast(RoomMsg::StorageFailed(e.to_string()));
            }
            then(r.map_err(|e| e.to_string()))
        });
        // If the writer is gone (the server is stopping) the delivery is dropped with
        // the message, and any ticket inside answers `unavailable` as it drops.
        let _ = self.shared.writer.cast(WriterMsg::Write {
            ops,
            then: Some(delivery),
        });
    }

    fn tick(&mut self, myself: &ActorRef<RoomMsg>) {
        for gone in self.members.prune_closed() {
            self.broadcast_left(&gone);
            self.presence.forget(&gone);
        }
        let idle = Duration::from_secs(self.shared.settings.rooms.idle_passivate_secs);
        if self.members.is_empty() && self.last_active.elapsed() >= idle && !self.passivating {
            self.passivating = true;
            self.snapshot_dirty();
            let _ = self.supervisor.cast(RoomsMsg::Passivate {
                room: self.id.clone(),
                actor: myself.get_id(),
            });
        }
    }
}
