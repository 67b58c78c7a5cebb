//! The root of the supervision tree, built by [`start`]:
//!
//! ```text
//! Root
//! ├── StorageWriter          group commit to redb
//! ├── Rooms (supervisor)     spawns Room actors on first use, restarts on failure
//! │   └── Room{id}           documents, presence, chat, members; passivates when idle
//! └── Sessions (supervisor)
//!     └── Session{conn}      one per socket: identity, joined rooms, rate limits
//! ```
//!
//! A child of the root failing means a supervisor gave up (rooms beyond their restart
//! intensity) or the writer died: the root records why and cancels the server's
//! shutdown token, so the process exits non-zero and its own supervisor (systemd,
//! Kubernetes) restarts it; storage holds everything acknowledged.

use std::sync::Arc;

use parking_lot::Mutex;
use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio_util::sync::CancellationToken;

use super::rooms::Rooms;
use super::sessions::Sessions;
use crate::config::Settings;
use crate::context::{AppContext, Shared};
use crate::metrics::Metrics;
use crate::storage::writer::WriterArgs;
use crate::storage::{StorageWriter, Store};

pub struct Root;

pub struct RootState {
    shutdown: CancellationToken,
    fatal: Arc<Mutex<Option<String>>>,
    metrics: Arc<Metrics>,
}

pub struct RootArgs {
    pub shutdown: CancellationToken,
    pub fatal: Arc<Mutex<Option<String>>>,
    pub metrics: Arc<Metrics>,
}

impl Actor for Root {
    type Msg = ();
    type State = RootState;
    type Arguments = RootArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<()>,
        args: RootArgs,
    ) -> Result<RootState, ActorProcessingErr> {
        Ok(RootState {
            shutdown: args.shutdown,
            fatal: args.fatal,
            metrics: args.metrics,
        })
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<()>,
        evt: SupervisionEvent,
        state: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(cell, err) = evt {
            tracing::error!(actor = ?cell.get_id(), error = %err, "a top-level actor failed; shutting down");
            state
                .metrics
                .actor_restarts
                .with_label_values(&["supervisor", "escalated"])
                .inc();
            state.fatal.lock().get_or_insert(err.to_string());
            state.shutdown.cancel();
        }
        Ok(())
    }
}

/// The running tree.
pub struct Tree {
    pub ctx: Arc<AppContext>,
    pub root: ActorRef<()>,
    /// Why the tree failed, if it did.
    pub fatal: Arc<Mutex<Option<String>>>,
}

/// Builds the supervision tree over an open store.
pub async fn start(
    settings: Arc<Settings>,
    store: Store,
    metrics: Arc<Metrics>,
) -> anyhow::Result<Tree> {
    let shutdown = CancellationToken::new();
    let fatal = Arc::new(Mutex::new(None));
    let (root, _) = Actor::spawn(
        None,
        Root,
        RootArgs {
            shutdown: shutdown.clone(),
            fatal: fatal.clone(),
            metrics: metrics.clone(),
        },
    )
    .await?;
    let (writer, _) = Actor::spawn_linked(
        None,
        StorageWriter,
        WriterArgs {
            store: store.clone(),
            max_batch: settings.storage.commit_max_batch,
            metrics: metrics.clone(),
        },
        root.get_cell(),
    )
    .await?;
    let accounts = Arc::new(crate::accounts::Accounts::new(settings.clone(), &store)?);
    spawn_throttle_sweep(accounts.clone(), shutdown.clone());
    let oauth = crate::auth::oauth::OAuthClient::new(&settings.oauth)?;
    let shared = Shared {
        settings,
        store,
        metrics: metrics.clone(),
        writer,
        #[cfg(feature = "test-hooks")]
        hooks: Default::default(),
    };
    let rooms = Rooms::start(shared.clone(), root.get_cell()).await?;
    let (sessions, _) = Actor::spawn_linked(None, Sessions, metrics, root.get_cell()).await?;
    Ok(Tree {
        ctx: Arc::new(AppContext {
            shared,
            accounts,
            oauth,
            rooms,
            sessions,
            shutdown,
            sockets: tokio_util::task::TaskTracker::new(),
        }),
        root,
        fatal,
    })
}

/// Forgets idle rate-limit keys every minute until shutdown.
fn spawn_throttle_sweep(accounts: Arc<crate::accounts::Accounts>, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = every.tick() => accounts.throttle.sweep(),
                _ = stop.cancelled() => break,
            }
        }
    });
}
