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
    /// Faults tests can switch on (never compiled into release builds).
    #[cfg(feature = "test-hooks")]
    pub hooks: Arc<TestHooks>,
}

/// Faults for tests: a server that misbehaves on purpose, to prove the checks that
/// should notice do notice.
#[cfg(feature = "test-hooks")]
#[derive(Default)]
pub struct TestHooks {
    /// Acknowledge every n-th edit without applying it (0: off).
    pub drop_edits_every: std::sync::atomic::AtomicU64,
    edits_seen: std::sync::atomic::AtomicU64,
}

#[cfg(feature = "test-hooks")]
impl TestHooks {
    /// Whether the edit now being handled is to be dropped.
    pub fn drop_this_edit(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let every = self.drop_edits_every.load(Relaxed);
        every > 0 && self.edits_seen.fetch_add(1, Relaxed) % every == every - 1
    }
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
