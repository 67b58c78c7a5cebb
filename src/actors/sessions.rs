//! The Sessions supervisor: spawns one Session actor per socket and keeps each one's
//! outbound queue, so shutdown can say goodbye to every socket and a session that
//! fails has its socket closed (a socket's session is not restarted: the client
//! reconnects and catches up by version).

use std::collections::HashMap;
use std::sync::Arc;

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use super::outbound::Outbound;
use super::session::{Session, SessionArgs, SessionMsg};
use crate::metrics::Metrics;
use crate::protocol::{CloseCode, ServerMsg};

pub enum SessionsMsg {
    Spawn {
        args: SessionArgs,
        reply: RpcReplyPort<Result<ActorRef<SessionMsg>, String>>,
    },
    /// Send `bye` and close 1001 on every socket, and refuse new ones.
    GoodbyeAll(RpcReplyPort<usize>),
}

pub struct Sessions;

pub struct SessionsState {
    metrics: Arc<Metrics>,
    live: HashMap<ActorId, Arc<Outbound>>,
    closing: bool,
}

impl Actor for Sessions {
    type Msg = SessionsMsg;
    type State = SessionsState;
    type Arguments = Arc<Metrics>;

    async fn pre_start(
        &self,
        _myself: ActorRef<SessionsMsg>,
        metrics: Arc<Metrics>,
    ) -> Result<SessionsState, ActorProcessingErr> {
        Ok(SessionsState {
            metrics,
            live: HashMap::new(),
            closing: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<SessionsMsg>,
        msg: SessionsMsg,
        state: &mut SessionsState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SessionsMsg::Spawn { args, reply } => {
                if state.closing {
                    let _ = reply.send(Err("server is shutting down".into()));
                    return Ok(());
                }
                let out = args.out.clone();
                let result = Actor::spawn_linked(None, Session, args, myself.get_cell())
                    .await
                    .map(|(actor, _)| {
                        state.live.insert(actor.get_id(), out);
                        actor
                    })
                    .map_err(|e| e.to_string());
                let _ = reply.send(result);
            }
            SessionsMsg::GoodbyeAll(reply) => {
                state.closing = true;
                for out in state.live.values() {
                    out.reply_msg(&ServerMsg::Bye {
                        reason: "shutdown".into(),
                    });
                    out.close(CloseCode::GoingAway.code(), "server shutting down");
                }
                let _ = reply.send(state.live.len());
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<SessionsMsg>,
        evt: SupervisionEvent,
        state: &mut SessionsState,
    ) -> Result<(), ActorProcessingErr> {
        match evt {
            SupervisionEvent::ActorFailed(cell, err) => {
                tracing::error!(error = %err, "session failed; closing its socket");
                state
                    .metrics
                    .actor_restarts
                    .with_label_values(&["session", "failed"])
                    .inc();
                if let Some(out) = state.live.remove(&cell.get_id()) {
                    out.close(CloseCode::InternalError.code(), "session failed");
                }
            }
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                state.live.remove(&cell.get_id());
            }
            _ => {}
        }
        Ok(())
    }
}
