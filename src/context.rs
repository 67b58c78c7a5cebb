//! The context passed down instead of globals: settings, storage, metrics and the
//! handles to the actors every part reaches. Tests run many servers in one process.

use std::sync::Arc;

use ractor::ActorRef;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::actors::rooms::RoomRouter;
use crate::actors::sessions::SessionsMsg;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::storage::{Store, WriterMsg};

/// What every actor below the root needs.
#[derive(Clone)]
pub struct Shared {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub writer: ActorRef<WriterMsg>,
}

/// Everything the HTTP edge needs.
pub struct AppContext {
    pub shared: Shared,
    pub accounts: Arc<crate::accounts::Accounts>,
    /// Sign-in with Google and GitHub.
    pub oauth: crate::auth::oauth::OAuthClient,
    pub rooms: RoomRouter,
    pub sessions: ActorRef<SessionsMsg>,
    /// Cancelled when the server begins to shut down (or must, after a fatal failure).
    pub shutdown: CancellationToken,
    /// Live socket tasks, so shutdown can wait for them to finish.
    pub sockets: TaskTracker,
}
