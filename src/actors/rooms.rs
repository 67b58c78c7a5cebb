//! The Rooms supervisor and the [`RoomRouter`] through which rooms are reached.
//!
//! The supervisor spawns a Room actor on first use, restarts it when it fails (its
//! members, held here, are told to resync), unloads it when it passivates, and
//! escalates to the root when rooms fail more than `restart_intensity` times within
//! `restart_period_secs` (Erlang's intensity/period). The router is a read-mostly map
//! that sessions consult without a round trip; only a miss asks the supervisor. The
//! cluster layer will later decide here where a room lives.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tokio::time::Instant;

use super::room::members::Members;
use super::room::{Room, RoomArgs, RoomMsg};
use crate::context::Shared;
use crate::storage::RoomMeta;

pub enum RoomsMsg {
    /// A live room actor for `room`, spawning it if needed (with `create` for a new room).
    Resolve {
        room: Arc<str>,
        create: Option<RoomMeta>,
        reply: RpcReplyPort<Result<ActorRef<RoomMsg>, String>>,
    },
    /// A room with no members has been idle long enough (or does not exist).
    Passivate { room: Arc<str>, actor: ActorId },
    /// Snapshot and stop every room (shutdown).
    StopAll(RpcReplyPort<()>),
}

type RouteMap = Arc<RwLock<HashMap<Arc<str>, ActorRef<RoomMsg>>>>;

/// How callers reach rooms.
#[derive(Clone)]
pub struct RoomRouter {
    routes: RouteMap,
    supervisor: ActorRef<RoomsMsg>,
}

impl RoomRouter {
    /// The live actor for `room`, loading it if needed.
    pub async fn resolve(
        &self,
        room: &Arc<str>,
        create: Option<RoomMeta>,
    ) -> Result<ActorRef<RoomMsg>, String> {
        if create.is_none()
            && let Some(r) = self.routes.read().get(room)
        {
            return Ok(r.clone());
        }
        let room = room.clone();
        match self
            .supervisor
            .call(
                |reply| RoomsMsg::Resolve {
                    room,
                    create,
                    reply,
                },
                Some(Duration::from_secs(10)),
            )
            .await
        {
            Ok(ractor::rpc::CallResult::Success(r)) => r,
            Ok(_) => Err("rooms supervisor timed out".into()),
            Err(e) => Err(format!("rooms supervisor unreachable: {e}")),
        }
    }

    /// The live actor for `room` if it is loaded.
    pub fn lookup(&self, room: &str) -> Option<ActorRef<RoomMsg>> {
        self.routes.read().get(room).cloned()
    }

    pub fn loaded(&self) -> usize {
        self.routes.read().len()
    }

    pub fn supervisor(&self) -> &ActorRef<RoomsMsg> {
        &self.supervisor
    }
}

pub struct Rooms;

pub struct RoomsArgs {
    pub shared: Shared,
    pub routes: RouteMap,
}

struct Entry {
    actor: ActorRef<RoomMsg>,
    members: Members,
}

pub struct RoomsState {
    shared: Shared,
    routes: RouteMap,
    rooms: HashMap<Arc<str>, Entry>,
    by_actor: HashMap<ActorId, Arc<str>>,
    restarts: VecDeque<Instant>,
}

impl Rooms {
    /// Spawns the supervisor and returns the router to it.
    pub async fn start(
        shared: Shared,
        parent: ractor::ActorCell,
    ) -> Result<RoomRouter, ractor::SpawnErr> {
        let routes: RouteMap = Default::default();
        let (supervisor, _) = Actor::spawn_linked(
            None,
            Rooms,
            RoomsArgs {
                shared,
                routes: routes.clone(),
            },
            parent,
        )
        .await?;
        Ok(RoomRouter { routes, supervisor })
    }
}

impl RoomsState {
    async fn spawn(
        &mut self,
        myself: &ActorRef<RoomsMsg>,
        room: Arc<str>,
        create: Option<RoomMeta>,
        members: Members,
        restarted: bool,
    ) -> Result<ActorRef<RoomMsg>, String> {
        let args = RoomArgs {
            id: room.clone(),
            shared: self.shared.clone(),
            members: members.clone(),
            supervisor: myself.clone(),
            create,
            restarted,
        };
        let (actor, _) = Actor::spawn_linked(None, Room, args, myself.get_cell())
            .await
            .map_err(|e| format!("spawning room {room}: {e}"))?;
        self.by_actor.insert(actor.get_id(), room.clone());
        self.routes.write().insert(room.clone(), actor.clone());
        self.rooms.insert(
            room,
            Entry {
                actor: actor.clone(),
                members,
            },
        );
        Ok(actor)
    }

    fn forget(&mut self, actor: ActorId) -> Option<(Arc<str>, Entry)> {
        let room = self.by_actor.remove(&actor)?;
        match self.rooms.get(&room) {
            Some(e) if e.actor.get_id() == actor => {
                self.routes.write().remove(&room);
                self.rooms.remove(&room).map(|e| (room, e))
            }
            _ => None,
        }
    }

    /// Records a restart; false when the intensity limit is exceeded.
    fn allow_restart(&mut self) -> bool {
        let rooms = &self.shared.settings.rooms;
        let period = Duration::from_secs(rooms.restart_period_secs);
        let now = Instant::now();
        while self
            .restarts
            .front()
            .is_some_and(|t| now.duration_since(*t) > period)
        {
            self.restarts.pop_front();
        }
        self.restarts.push_back(now);
        self.restarts.len() <= rooms.restart_intensity as usize
    }
}

impl Actor for Rooms {
    type Msg = RoomsMsg;
    type State = RoomsState;
    type Arguments = RoomsArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<RoomsMsg>,
        args: RoomsArgs,
    ) -> Result<RoomsState, ActorProcessingErr> {
        Ok(RoomsState {
            shared: args.shared,
            routes: args.routes,
            rooms: HashMap::new(),
            by_actor: HashMap::new(),
            restarts: VecDeque::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<RoomsMsg>,
        msg: RoomsMsg,
        state: &mut RoomsState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RoomsMsg::Resolve {
                room,
                create,
                reply,
            } => {
                let result = match state.rooms.get(&room) {
                    Some(e) => Ok(e.actor.clone()),
                    None => {
                        state
                            .spawn(&myself, room, create, Members::default(), false)
                            .await
                    }
                };
                let _ = reply.send(result);
            }
            RoomsMsg::Passivate { room, actor } => {
                let idle = state
                    .rooms
                    .get(&room)
                    .is_some_and(|e| e.actor.get_id() == actor && e.members.is_empty());
                if idle && let Some((_, e)) = state.forget(actor) {
                    e.actor.stop(Some("passivated".into()));
                } else if let Some(e) = state.rooms.get(&room) {
                    // Someone joined while it decided to unload: keep it.
                    let _ = e.actor.cast(RoomMsg::Resume);
                }
            }
            RoomsMsg::StopAll(reply) => {
                let entries: Vec<_> = state.rooms.drain().collect();
                state.routes.write().clear();
                state.by_actor.clear();
                for (_, e) in entries {
                    let _ = ractor::call!(e.actor, RoomMsg::Flush);
                    let _ = e
                        .actor
                        .stop_and_wait(Some("shutdown".into()), Some(Duration::from_secs(5)))
                        .await;
                }
                let _ = reply.send(());
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<RoomsMsg>,
        evt: SupervisionEvent,
        state: &mut RoomsState,
    ) -> Result<(), ActorProcessingErr> {
        match evt {
            SupervisionEvent::ActorFailed(cell, err) => {
                let Some((room, entry)) = state.forget(cell.get_id()) else {
                    return Ok(());
                };
                let cause = if err.to_string().contains("panic") {
                    "panic"
                } else {
                    "error"
                };
                state
                    .shared
                    .metrics
                    .actor_restarts
                    .with_label_values(&["room", cause])
                    .inc();
                tracing::error!(%room, error = %err, "room failed; restarting from storage");
                if !state.allow_restart() {
                    return Err(format!(
                        "rooms failed more than {} times in {} s; escalating",
                        state.shared.settings.rooms.restart_intensity,
                        state.shared.settings.rooms.restart_period_secs
                    )
                    .into());
                }
                state
                    .spawn(&myself, room, None, entry.members, true)
                    .await?;
            }
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                state.forget(cell.get_id());
            }
            _ => {}
        }
        Ok(())
    }
}
