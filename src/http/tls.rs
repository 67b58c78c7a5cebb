//! TLS termination with rustls: HTTPS and WSS on the server's one port when
//! `server.tls_cert` and `server.tls_key` are set.
//!
//! [`server_config`] loads the PEM files into a rustls [`ServerConfig`] (aws-lc-rs,
//! ALPN `http/1.1` only, since WebSocket upgrades need HTTP/1.1). [`TlsListener`] is
//! an [`axum::serve::Listener`] whose accept loop never handshakes inline: each
//! handshake is its own task, with a timeout and a bound on how many run at once, so
//! a slow or silent client cannot hold up the others.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::config::ServerSettings;

/// A client that has not finished its handshake after this long is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress (or finished, waiting to be served) at once; beyond it the
/// accept loop waits, and new connections queue in the kernel's backlog.
pub const MAX_PENDING_HANDSHAKES: usize = 1024;
/// Finished handshakes queued for the server's accept call.
const READY_QUEUE: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(
        "server.tls_cert and server.tls_key must both be set (PEM file paths) or both be empty"
    )]
    Incomplete,
    #[error("reading TLS file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("TLS file {path}: bad PEM: {message}")]
    Pem { path: PathBuf, message: String },
    #[error("TLS certificate file {path}: no certificate (expected a PEM CERTIFICATE block)")]
    NoCertificate { path: PathBuf },
    #[error("TLS key file {path}: no private key (expected a PEM PRIVATE KEY block)")]
    NoKey { path: PathBuf },
    #[error("TLS key file {key} does not match the certificate in {cert}")]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    #[error("TLS certificate {cert} with key {key}: {source}")]
    Rustls {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
}

/// The rustls configuration for `server`, or `None` when TLS is not configured.
pub fn server_config(server: &ServerSettings) -> Result<Option<Arc<ServerConfig>>, TlsError> {
    let cert = server.tls_cert.as_path();
    let key = server.tls_key.as_path();
    match (cert.as_os_str().is_empty(), key.as_os_str().is_empty()) {
        (true, true) => Ok(None),
        (false, false) => load(cert, key).map(Some),
        _ => Err(TlsError::Incomplete),
    }
}

/// Loads a PEM certificate chain and its private key into a [`ServerConfig`].
pub fn load(cert_path: &Path, key_path: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = load_certs(cert_path)?;
    let key = load_key(key_path)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|source| TlsError::Rustls {
            cert: cert_path.to_owned(),
            key: key_path.to_owned(),
            source,
        })?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|source| match source {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                TlsError::KeyMismatch {
                    cert: cert_path.to_owned(),
                    key: key_path.to_owned(),
                }
            }
            source => TlsError::Rustls {
                cert: cert_path.to_owned(),
                key: key_path.to_owned(),
                source,
            },
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoKey {
            path: path.to_owned(),
        },
        // The message of a PEM error names a marker or a line, never key bytes.
        e => TlsError::Pem {
            path: path.to_owned(),
            message: e.to_string(),
        },
    })
}

/// A TCP listener that hands out TLS streams whose handshake has completed.
///
/// Dropping it (axum does when graceful shutdown begins) stops the accept loop and
/// every handshake still in progress, and closes the listening socket.
pub struct TlsListener {
    local_addr: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    accept_loop: JoinHandle<()>,
}

impl TlsListener {
    pub fn new(listener: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(READY_QUEUE);
        let accept_loop = tokio::spawn(accept_loop(listener, TlsAcceptor::from(config), tx));
        Ok(TlsListener {
            local_addr,
            ready,
            accept_loop,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            None => {
                // Only if the accept loop died (it runs until this listener drops).
                tracing::error!("TLS accept loop ended; accepting no more connections");
                std::future::pending().await
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

/// Accepts TCP connections and starts a handshake task for each, while fewer than
/// [`MAX_PENDING_HANDSHAKES`] are pending. Ends when the receiving side is gone; the
/// handshake tasks live in a `JoinSet`, so they end with it.
async fn accept_loop(
    mut listener: TcpListener,
    acceptor: TlsAcceptor,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let permits = Arc::new(Semaphore::new(MAX_PENDING_HANDSHAKES));
    let mut handshakes = JoinSet::new();
    loop {
        let next = async {
            let permit = permits.clone().acquire_owned().await;
            // axum's accept for `TcpListener` logs and retries accept errors.
            let (tcp, addr) = axum::serve::Listener::accept(&mut listener).await;
            (permit, tcp, addr)
        };
        let (permit, tcp, addr) = tokio::select! {
            _ = tx.closed() => break,
            next = next => next,
        };
        let Ok(permit) = permit else { break };
        while handshakes.try_join_next().is_some() {}
        // Edits are small frames: without TCP_NODELAY, Nagle holds a push to a peer
        // that only reads until its delayed ACK (40 ms on Linux).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "setting TCP_NODELAY failed");
        }
        let acceptor = acceptor.clone();
        let tx = tx.clone();
        handshakes.spawn(async move {
            // Held until the stream is handed over, so waiting streams count too.
            let _permit = permit;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => {
                    let _ = tx.send((tls, addr)).await;
                }
                Ok(Err(e)) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigError, Settings};

    fn settings(cert: &str, key: &str) -> Result<Settings, ConfigError> {
        Settings::load(
            None,
            [
                ("CODEPLATFORM_SERVER__TLS_CERT".into(), cert.into()),
                ("CODEPLATFORM_SERVER__TLS_KEY".into(), key.into()),
            ],
        )
    }

    /// A self-signed certificate and its key, as PEM.
    fn self_signed() -> (String, String) {
        let c = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        (c.cert.pem(), c.signing_key.serialize_pem())
    }

    #[test]
    fn only_one_of_cert_and_key_is_a_config_error() {
        for (cert, key, set, unset) in [
            ("/x/cert.pem", "", "server.tls_cert", "server.tls_key"),
            ("", "/x/key.pem", "server.tls_key", "server.tls_cert"),
        ] {
            let err = settings(cert, key).unwrap_err();
            assert!(matches!(err, ConfigError::Invalid(_)), "{err}");
            let msg = err.to_string();
            assert!(
                msg.contains(&format!("{set} is set but {unset} is empty")),
                "{msg}"
            );
        }
        // Settings built by hand skip validation; loading still refuses them.
        let mut server = Settings::defaults().server;
        server.tls_cert = "/x/cert.pem".into();
        assert!(matches!(server_config(&server), Err(TlsError::Incomplete)));
    }

    #[test]
    fn neither_set_means_plain() {
        let s = settings("", "").unwrap();
        assert!(!s.server.tls());
        assert!(server_config(&s.server).unwrap().is_none());
    }

    #[test]
    fn missing_file_names_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let (cert_pem, _) = self_signed();
        let cert = dir.path().join("cert.pem");
        std::fs::write(&cert, cert_pem).unwrap();
        let key = dir.path().join("missing-key.pem");
        let s = settings(cert.to_str().unwrap(), key.to_str().unwrap()).unwrap();
        assert!(s.server.tls());
        let err = server_config(&s.server).unwrap_err();
        assert!(matches!(err, TlsError::Read { .. }), "{err}");
        assert!(err.to_string().contains("missing-key.pem"), "{err}");

        let missing = dir.path().join("missing-cert.pem");
        let err = load(&missing, &cert).unwrap_err();
        assert!(err.to_string().contains("missing-cert.pem"), "{err}");
    }

    #[test]
    fn no_certificate_no_key_and_mismatch_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (cert_pem, key_pem) = self_signed();
        let (_, other_key_pem) = self_signed();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        let other_key = dir.path().join("other-key.pem");
        std::fs::write(&cert, &cert_pem).unwrap();
        std::fs::write(&key, &key_pem).unwrap();
        std::fs::write(&other_key, &other_key_pem).unwrap();

        let config = load(&cert, &key).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);

        let err = load(&key, &key).unwrap_err();
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");
        assert!(err.to_string().contains("key.pem"), "{err}");

        let err = load(&cert, &cert).unwrap_err();
        assert!(matches!(err, TlsError::NoKey { .. }), "{err}");
        assert!(err.to_string().contains("cert.pem"), "{err}");

        let err = load(&cert, &other_key).unwrap_err();
        assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("other-key.pem") && msg.contains("cert.pem"),
            "{msg}"
        );
        // The error never carries key material.
        assert!(!msg.contains("PRIVATE KEY"), "{msg}");
    }
}
