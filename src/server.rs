//! Starting and stopping a whole server: storage, the actor tree, the HTTP listener.
//!
//! Shutdown is ordered: stop accepting, say goodbye to every socket (close 1001),
//! let connections drain, flush and stop every room, drain the storage writer, stop
//! the tree. Everything acknowledged was already durable; the flush only makes the
//! next start faster.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::serve::ListenerExt;
use tokio::task::JoinHandle;

use crate::actors::rooms::RoomsMsg;
use crate::actors::root::{self, Tree};
use crate::actors::sessions::SessionsMsg;
use crate::config::Settings;
use crate::context::AppContext;
use crate::metrics::Metrics;
use crate::storage::Store;

pub struct Server {
    addr: SocketAddr,
    tree: Tree,
    http: JoinHandle<std::io::Result<()>>,
}

/// Connections the kernel may hold for us before we accept them. tokio's `bind`
/// asks for 1,024: when thousands of editors reconnect at once (a node restart, a
/// network blip), the overflow is dropped and each of those clients waits a SYN
/// retransmission (1 s, then 3 s, 7 s...). The kernel caps this at
/// `net.core.somaxconn`, so asking for the most means "as many as the host allows".
const LISTEN_BACKLOG: u32 = 65_535;

fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    // As `TcpListener::bind` does: a restarted server can take its port back at once.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

impl Server {
    /// Opens storage, builds the tree and starts listening (`listen` port 0 picks one).
    pub async fn start(settings: Settings) -> anyhow::Result<Server> {
        let settings = Arc::new(settings);
        // Before anything starts: a bad certificate or key fails fast.
        let tls = crate::http::tls::server_config(&settings.server)?;
        let db_path = settings.db_path();
        let store = Store::open(&db_path, settings.storage.cache_mib << 20)
            .with_context(|| format!("opening the database {}", db_path.display()))?;
        let metrics = Arc::new(Metrics::new());
        let tree = root::start(settings.clone(), store, metrics).await?;
        let listener = listen(settings.server.listen)
            .with_context(|| format!("listening on {}", settings.server.listen))?;
        let addr = listener.local_addr()?;
        let app = crate::http::router(tree.ctx.clone(), settings.server.tls())
            .map_err(|e| anyhow::anyhow!(e))?;
        let stop = tree.ctx.shutdown.clone();
        let stopped = async move { stop.cancelled().await };
        let tls_on = tls.is_some();
        let http = if let Some(config) = tls {
            // Sets TCP_NODELAY itself, before each handshake.
            let listener = crate::http::tls::TlsListener::new(listener, config)?;
            let app = app.into_make_service_with_connect_info::<crate::http::caller::PeerAddr>();
            tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(stopped)
                    .await
            })
        } else {
            // Edits are small frames: without TCP_NODELAY, Nagle holds a push to a peer
            // that only reads until its delayed ACK (40 ms on Linux).
            let listener = listener.tap_io(|tcp| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::warn!(error = %e, "setting TCP_NODELAY failed");
                }
            });
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(stopped)
                    .await
            })
        };
        tracing::info!(%addr, tls = tls_on, data = %db_path.display(), "codeplatform listening");
        Ok(Server { addr, tree, http })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn ctx(&self) -> &Arc<AppContext> {
        &self.tree.ctx
    }

    /// Resolves when shutdown has begun (a signal handler or a fatal failure).
    pub async fn stopping(&self) {
        self.tree.ctx.shutdown.cancelled().await
    }

    /// The ordered shutdown; an error if the tree had failed.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let ctx = self.tree.ctx.clone();
        let grace = Duration::from_secs(ctx.shared.settings.server.shutdown_grace_secs);
        ctx.shutdown.cancel();
        let _ = ractor::call!(ctx.sessions, SessionsMsg::GoodbyeAll);
        match tokio::time::timeout(grace, self.http).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "http server ended with an error"),
            Ok(Err(e)) => tracing::warn!(error = %e, "http task failed"),
            Err(_) => tracing::warn!("connections still open after the grace period"),
        }
        ctx.sockets.close();
        if tokio::time::timeout(grace, ctx.sockets.wait())
            .await
            .is_err()
        {
            tracing::warn!("sockets still open after the grace period");
        }
        let sessions = ctx.sessions.get_cell();
        sessions.stop_children_and_wait(None, Some(grace)).await;
        let _ = sessions.stop_and_wait(None, Some(grace)).await;
        let rooms = ctx.rooms.supervisor().clone();
        let _ = ractor::call_t!(rooms, RoomsMsg::StopAll, grace.as_millis() as u64);
        let _ = rooms.stop_and_wait(None, Some(grace)).await;
        // Last: the writer drains everything queued before it stops.
        let _ = ctx
            .shared
            .writer
            .stop_and_wait(Some("shutdown".into()), Some(grace))
            .await;
        let fatal = self.tree.fatal.lock().take();
        self.tree
            .root
            .stop_and_wait(Some("shutdown".into()), Some(grace))
            .await
            .ok();
        match fatal {
            Some(e) => anyhow::bail!("stopped after a fatal failure: {e}"),
            None => Ok(()),
        }
    }
}
