//! The Session actor: one per socket. It knows who is on the socket, which rooms it
//! joined and its rate limits; it turns decoded frames into room requests, each with
//! a [`Ticket`] that guarantees one answer. It never waits on a socket; it waits on
//! the rooms supervisor only to load a room that is not in memory.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::OwnedSemaphorePermit;

use super::outbound::Outbound;
use super::rate_limit::TokenBucket;
use super::room::members::MemberHandle;
use super::room::{RoomMsg, RoomRequest};
use super::ticket::Ticket;
use crate::context::AppContext;
use crate::protocol::validate::{check_name, valid_room_id};
use crate::protocol::{
    ClientMsg, CloseCode, ErrorCode, OkBody, PROTOCOL_VERSION, Role, ServerMsg, WireLimits,
};
use crate::storage::RoomMeta;

pub enum SessionMsg {
    /// A decoded client frame with the socket's in-flight permit for it.
    Frame {
        msg: ClientMsg,
        permit: Option<OwnedSemaphorePermit>,
    },
    /// A room refused or dropped this session.
    RoomGone { room: Arc<str> },
    /// Internal: close the socket if `hello` has not arrived.
    HelloDeadline,
    /// Internal: the access token may have expired (Unix seconds it was due).
    TokenDeadline(u64),
}

pub struct Session;

pub struct SessionArgs {
    pub ctx: Arc<AppContext>,
    pub id: Arc<str>,
    pub out: Arc<Outbound>,
}

struct Identity {
    user: Arc<str>,
    name: Arc<str>,
    /// The login session, for accounts (none in anonymous development mode).
    sid: Option<Arc<str>>,
    /// Expiry of the current access token, Unix seconds.
    token_expires: Option<u64>,
}

pub struct SessionState {
    ctx: Arc<AppContext>,
    id: Arc<str>,
    out: Arc<Outbound>,
    who: Option<Identity>,
    rooms: HashSet<Arc<str>>,
    edits: TokenBucket,
    chats: TokenBucket,
}

impl Actor for Session {
    type Msg = SessionMsg;
    type State = SessionState;
    type Arguments = SessionArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<SessionMsg>,
        args: SessionArgs,
    ) -> Result<SessionState, ActorProcessingErr> {
        let settings = &args.ctx.shared.settings;
        let limits = &settings.limits;
        myself.send_after(
            Duration::from_secs(settings.socket.hello_timeout_secs),
            || SessionMsg::HelloDeadline,
        );
        Ok(SessionState {
            edits: TokenBucket::new(limits.edits_per_sec, limits.edits_burst),
            chats: TokenBucket::new(limits.chat_per_sec, limits.chat_burst),
            ctx: args.ctx,
            id: args.id,
            out: args.out,
            who: None,
            rooms: HashSet::new(),
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<SessionMsg>,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(sid) = state.who.as_ref().and_then(|w| w.sid.as_ref()) {
            state.ctx.accounts.live.detach(sid, &state.id);
        }
        for room in state.rooms.drain() {
            if let Some(r) = state.ctx.rooms.lookup(&room) {
                let _ = r.cast(RoomMsg::Leave {
                    session: state.id.clone(),
                });
            }
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<SessionMsg>,
        msg: SessionMsg,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SessionMsg::Frame { msg, permit } => {
                let ticket = Ticket::new(
                    state.out.clone(),
                    msg.request_id(),
                    state.ctx.shared.metrics.clone(),
                    permit,
                );
                state.frame(&myself, msg, ticket).await;
            }
            SessionMsg::RoomGone { room } => {
                state.rooms.remove(&room);
            }
            SessionMsg::HelloDeadline => {
                if state.who.is_none() {
                    state
                        .out
                        .close(CloseCode::HelloTimeout.code(), "no hello in time");
                }
            }
            SessionMsg::TokenDeadline(due) => {
                let current = state.who.as_ref().and_then(|w| w.token_expires);
                // A refreshed token moved the expiry on; only the current one counts.
                if current == Some(due) && unix_now() >= due {
                    state.out.close(
                        CloseCode::TokenExpired.code(),
                        "access token expired; send auth before it does",
                    );
                }
            }
        }
        Ok(())
    }
}

fn unix_now() -> u64 {
    crate::accounts::now_ms() / 1000
}

/// Wakes the session when the token of expiry `due` (Unix seconds) runs out.
fn schedule_token_deadline(myself: &ActorRef<SessionMsg>, due: u64) {
    let wait = due.saturating_sub(unix_now());
    myself.send_after(Duration::from_secs(wait), move || {
        SessionMsg::TokenDeadline(due)
    });
}

impl SessionState {
    async fn frame(&mut self, myself: &ActorRef<SessionMsg>, msg: ClientMsg, ticket: Ticket) {
        if self.ctx.shutdown.is_cancelled() {
            return ticket.error(ErrorCode::ShuttingDown, "the server is shutting down");
        }
        let limits = &self.ctx.shared.settings.limits;
        if let ClientMsg::Hello { v, name, token } = msg {
            return match self.who {
                None => self.hello(myself, v, name, token, ticket).await,
                Some(_) => ticket.error(ErrorCode::HelloRequired, "hello was already received"),
            };
        }
        let Some(who) = &self.who else {
            return ticket.error(ErrorCode::HelloRequired, "send hello first");
        };
        let user = who.user.clone();
        match msg {
            ClientMsg::Ping { .. } => ticket.ok(OkBody::Empty {}),
            ClientMsg::Auth { token, .. } => self.reauth(myself, token, ticket).await,
            ClientMsg::CreateRoom {
                name: room_name,
                default_role,
                ..
            } => {
                let room_name = room_name.unwrap_or_else(|| "untitled".into());
                if let Err(e) = check_name(&room_name, limits.max_name_chars) {
                    return ticket.error(ErrorCode::BadField, e);
                }
                let default_role = default_role.unwrap_or(Role::None);
                if default_role == Role::Owner {
                    return ticket.error(ErrorCode::BadField, "default_role cannot be owner");
                }
                let meta = RoomMeta {
                    name: room_name,
                    created_ms: crate::actors::room::now_ms(),
                    default_role,
                    roles: vec![(user.to_string(), Role::Owner)],
                    docs: Vec::new(),
                };
                let room: Arc<str> = uuid::Uuid::new_v4().simple().to_string().into();
                self.join(myself, room, Some(meta), None, ticket).await;
            }
            ClientMsg::Join { room, role, .. } => {
                if !valid_room_id(&room) {
                    return ticket.error(ErrorCode::BadField, "room ids are 1-64 of [A-Za-z0-9_-]");
                }
                self.join(myself, room.into(), None, role, ticket).await;
            }
            ClientMsg::Leave { room, .. } => {
                if !self.rooms.remove(room.as_str()) {
                    return ticket.error(ErrorCode::NotJoined, "not in that room");
                }
                if let Some(r) = self.ctx.rooms.lookup(&room) {
                    let _ = r.cast(RoomMsg::Leave {
                        session: self.id.clone(),
                    });
                }
                ticket.ok(OkBody::Empty {});
            }
            ClientMsg::ChatHistory {
                room,
                before,
                limit,
                ..
            } => {
                if !self.rooms.contains(room.as_str()) {
                    return ticket.error(ErrorCode::NotJoined, "join the room first");
                }
                let max = self.ctx.shared.settings.rooms.chat_page_max;
                let limit = limit.unwrap_or(50).clamp(1, max);
                let store = self.ctx.shared.store.clone();
                // Reads go to a blocking thread; the session goes on meanwhile.
                tokio::spawn(async move {
                    match store.chat_page(room, before, limit).await {
                        Ok((messages, more)) => ticket.ok(OkBody::ChatPage { messages, more }),
                        Err(e) => ticket.error(ErrorCode::Internal, e.to_string()),
                    }
                });
            }
            other => self.forward_to_room(other, ticket).await,
        }
    }

    async fn hello(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        v: u32,
        name: Option<String>,
        token: Option<String>,
        ticket: Ticket,
    ) {
        let settings = self.ctx.shared.settings.clone();
        if v != PROTOCOL_VERSION {
            ticket.error(
                ErrorCode::UnsupportedVersion,
                format!("this server speaks protocol version {PROTOCOL_VERSION}"),
            );
            return self.out.close(
                CloseCode::HelloRefused.code(),
                "unsupported protocol version",
            );
        }
        let who = match token {
            Some(token) => match self.ctx.accounts.authenticate(&token).await {
                Ok(caller) => Identity {
                    user: caller.user.into(),
                    name: caller.username.into(),
                    sid: Some(caller.sid.into()),
                    token_expires: Some(caller.exp),
                },
                Err(e) => {
                    ticket.error(e.code(), e.to_string());
                    return self
                        .out
                        .close(CloseCode::HelloRefused.code(), "unauthorized");
                }
            },
            None if settings.dev.anonymous => {
                let name = name.unwrap_or_default();
                if let Err(e) = check_name(&name, settings.limits.max_name_chars) {
                    return ticket.error(ErrorCode::BadField, e);
                }
                Identity {
                    user: format!("anon:{name}").into(),
                    name: name.into(),
                    sid: None,
                    token_expires: None,
                }
            }
            None => {
                ticket.error(ErrorCode::Unauthorized, "an access token is required");
                return self
                    .out
                    .close(CloseCode::HelloRefused.code(), "unauthorized");
            }
        };
        if let Some(sid) = &who.sid {
            let accounts = &self.ctx.accounts;
            accounts
                .live
                .attach(sid.clone(), self.id.clone(), self.out.clone());
            // A revocation between the check above and the attach would have missed
            // this socket: look again now that revocations reach it.
            if !accounts.session_live(sid).await {
                accounts.live.detach(sid, &self.id);
                ticket.error(ErrorCode::Unauthorized, "the session has ended");
                return self
                    .out
                    .close(CloseCode::HelloRefused.code(), "unauthorized");
            }
        }
        if let Some(due) = who.token_expires {
            schedule_token_deadline(myself, due);
        }
        let welcome_user = who.user.to_string();
        let welcome_name = who.name.to_string();
        let token_expires = who.token_expires;
        self.who = Some(who);
        let (s, l) = (&settings.socket, &settings.limits);
        ticket.silent();
        self.out.reply_msg(&ServerMsg::Welcome {
            session: self.id.to_string(),
            user: welcome_user,
            name: welcome_name,
            token_expires,
            v: PROTOCOL_VERSION,
            heartbeat_secs: s.heartbeat_secs,
            limits: WireLimits {
                max_frame_bytes: s.max_frame_bytes,
                max_doc_chars: l.max_doc_chars,
                max_insert_chars: l.max_insert_chars,
                max_ops_per_edit: l.max_ops_per_edit,
                edits_per_sec: l.edits_per_sec,
                edits_burst: l.edits_burst,
                chat_per_sec: l.chat_per_sec,
                chat_burst: l.chat_burst,
                max_chat_chars: l.max_chat_chars,
                max_rooms: l.max_rooms_per_session,
                max_members_per_room: l.max_members_per_room,
                max_name_chars: l.max_name_chars,
                max_path_chars: l.max_path_chars,
                max_in_flight: s.max_in_flight,
                history_window: settings.rooms.history_window,
            },
        });
    }

    /// `auth`: a fresh access token for the same person.
    async fn reauth(&mut self, myself: &ActorRef<SessionMsg>, token: String, ticket: Ticket) {
        let caller = match self.ctx.accounts.authenticate(&token).await {
            Ok(c) => c,
            Err(e) => return ticket.error(e.code(), e.to_string()),
        };
        let Some(who) = self.who.as_mut() else {
            return ticket.error(ErrorCode::HelloRequired, "send hello first");
        };
        if who.sid.is_none() || *who.user != *caller.user {
            return ticket.error(ErrorCode::Forbidden, "the token is for someone else");
        }
        let sid: Arc<str> = caller.sid.into();
        if who.sid.as_deref() != Some(&*sid) {
            let live = &self.ctx.accounts.live;
            if let Some(old) = who.sid.take() {
                live.detach(&old, &self.id);
            }
            live.attach(sid.clone(), self.id.clone(), self.out.clone());
            who.sid = Some(sid);
        }
        who.token_expires = Some(caller.exp);
        schedule_token_deadline(myself, caller.exp);
        ticket.ok(OkBody::Authed {
            token_expires: caller.exp,
        });
    }

    async fn join(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        room: Arc<str>,
        create: Option<RoomMeta>,
        requested: Option<Role>,
        ticket: Ticket,
    ) {
        let max = self.ctx.shared.settings.limits.max_rooms_per_session;
        if !self.rooms.contains(&room) && self.rooms.len() >= max {
            return ticket.error(
                ErrorCode::TooManyRooms,
                format!("at most {max} rooms per socket"),
            );
        }
        let who = self.who.as_ref().expect("joined after hello");
        let member = MemberHandle {
            session: self.id.clone(),
            user: who.user.clone(),
            name: who.name.clone(),
            outbound: self.out.clone(),
            session_ref: myself.clone(),
        };
        let actor = match self.ctx.rooms.resolve(&room, create).await {
            Ok(a) => a,
            Err(e) => return ticket.error(ErrorCode::Unavailable, e),
        };
        // Counted as joined now; a refusal comes back as RoomGone.
        self.rooms.insert(room);
        let _ = actor.cast(RoomMsg::Join {
            member,
            requested,
            ticket,
        });
    }

    /// Forwards a request for a joined room, applying rate limits first.
    async fn forward_to_room(&mut self, msg: ClientMsg, ticket: Ticket) {
        let (room, req) = match msg {
            ClientMsg::Members { room, .. } => (room, RoomRequest::Members),
            ClientMsg::SetRole {
                room, user, role, ..
            } => {
                // Accounts are named by id or username; anonymous people by `anon:name`.
                let user = if user.starts_with("anon:") {
                    user
                } else {
                    match self.ctx.accounts.resolve_user(&user).await {
                        Ok(id) => id,
                        Err(_) => return ticket.error(ErrorCode::NotFound, "no such user"),
                    }
                };
                (room, RoomRequest::SetRole { user, role })
            }
            ClientMsg::Open {
                room, doc, version, ..
            } => (room, RoomRequest::Open { doc, version }),
            ClientMsg::Close { room, doc, .. } => (room, RoomRequest::Close { doc }),
            ClientMsg::Edit {
                room,
                doc,
                base,
                ops,
                ..
            } => {
                if let Err(wait) = self.edits.take() {
                    return ticket.rate_limited(wait);
                }
                (room, RoomRequest::Edit { doc, base, ops })
            }
            ClientMsg::Cursor {
                room,
                doc,
                anchor,
                head,
                ..
            } => (room, RoomRequest::Cursor { doc, anchor, head }),
            ClientMsg::Chat { room, text, .. } => {
                if let Err(wait) = self.chats.take() {
                    return ticket.rate_limited(wait);
                }
                (room, RoomRequest::Chat { text })
            }
            _ => return ticket.error(ErrorCode::Internal, "unrouted frame"),
        };
        let Some(room) = self.rooms.get(room.as_str()).cloned() else {
            return ticket.error(ErrorCode::NotJoined, "join the room first");
        };
        let actor = match self.ctx.rooms.resolve(&room, None).await {
            Ok(a) => a,
            Err(e) => return ticket.error(ErrorCode::Unavailable, e),
        };
        let msg = RoomMsg::Request {
            session: self.id.clone(),
            req,
            ticket,
        };
        // A failed cast drops the message, and with it the ticket answers `unavailable`.
        let _ = actor.cast(msg);
    }
}
