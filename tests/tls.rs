//! TLS end to end: a real server with a certificate made here (rcgen), real HTTPS and
//! WSS clients on loopback, clients that must be refused, and a listener that keeps
//! accepting while other connections misbehave.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use serde_json::json;
use support::{Client, TestServer};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::{Connector, MaybeTlsStream};

/// Well under the server's 10 s handshake timeout: anything slower means the accept
/// loop was held up.
const QUICK: Duration = Duration::from_secs(5);

/// A self-signed certificate for `localhost` and `127.0.0.1`: (cert PEM, key PEM, DER).
fn self_signed() -> (String, String, CertificateDer<'static>) {
    let c =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    (
        c.cert.pem(),
        c.signing_key.serialize_pem(),
        c.cert.der().clone(),
    )
}

struct Tls {
    server: TestServer,
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    _certs: tempfile::TempDir,
}

impl Tls {
    async fn start() -> Tls {
        let certs = tempfile::tempdir().unwrap();
        let (cert_pem, key_pem, cert_der) = self_signed();
        let cert = certs.path().join("cert.pem");
        let key = certs.path().join("key.pem");
        std::fs::write(&cert, &cert_pem).unwrap();
        std::fs::write(&key, &key_pem).unwrap();
        let server = TestServer::start(&[
            ("SERVER__TLS_CERT", path(&cert)),
            ("SERVER__TLS_KEY", path(&key)),
            ("DEV__ANONYMOUS", "true"),
        ])
        .await;
        Tls {
            server,
            cert_pem,
            cert_der,
            _certs: certs,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.server.server.as_ref().unwrap().addr()
    }

    /// An HTTPS client trusting only `cert_pem`, with `localhost` pinned to loopback.
    fn https(&self, cert_pem: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap()])
            .resolve("localhost", self.addr())
            .timeout(QUICK)
            .build()
            .unwrap()
    }

    async fn get_health(&self) -> reqwest::Result<reqwest::StatusCode> {
        let url = format!("https://localhost:{}/health", self.addr().port());
        Ok(self.https(&self.cert_pem).get(url).send().await?.status())
    }

    async fn wss(
        &self,
        root: CertificateDer<'static>,
    ) -> Result<support::Ws, tokio_tungstenite::tungstenite::Error> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(root).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let url = format!("wss://127.0.0.1:{}/ws", self.addr().port());
        let connect = tokio_tungstenite::connect_async_tls_with_config(
            url,
            None,
            false,
            Some(Connector::Rustls(Arc::new(config))),
        );
        let (ws, _) = tokio::time::timeout(QUICK, connect)
            .await
            .expect("WSS connect timed out")?;
        Ok(ws)
    }

    async fn shutdown(mut self) {
        let addr = self.addr();
        self.server.server.take().unwrap().shutdown().await.unwrap();
        // The accept loop ended with the listener: the port no longer accepts.
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test]
async fn https_get_with_a_trusted_certificate() {
    let tls = Tls::start().await;
    assert_eq!(tls.get_health().await.unwrap(), reqwest::StatusCode::OK);
    let resp = tls
        .https(&tls.cert_pem)
        .get(format!("https://localhost:{}/ready", tls.addr().port()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_11);
    // Under TLS, browsers are told to use nothing else.
    let hsts = resp.headers()["strict-transport-security"]
        .to_str()
        .unwrap();
    assert!(hsts.starts_with("max-age=63072000"), "{hsts}");
    tls.shutdown().await;
}

#[tokio::test]
async fn wss_hello_and_a_request() {
    let tls = Tls::start().await;
    let ws = tls.wss(tls.cert_der.clone()).await.unwrap();
    let MaybeTlsStream::Rustls(stream) = ws.get_ref() else {
        panic!("not a TLS stream")
    };
    // Offered h2 and http/1.1; the server only speaks http/1.1 (WebSocket upgrades).
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));

    let mut c = Client::from_ws(ws);
    c.send_json(json!({"type": "hello", "v": 1, "name": "tls-user"}))
        .await;
    let welcome = c.next_frame().await.expect("welcome");
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    assert_eq!(welcome["v"], 1, "{welcome}");
    assert_eq!(welcome["session"].as_str().unwrap().len(), 16, "{welcome}");

    c.send_json(json!({"type": "ping", "id": 1})).await;
    let ok = c.answer(1).await;
    assert_eq!(ok["type"], "ok", "{ok}");
    assert_eq!(ok["id"], 1, "{ok}");

    let room = c.create_room().await;
    let joined = c.join(&room).await;
    assert_eq!(joined["type"], "ok", "{joined}");
    drop(c);
    tls.shutdown().await;
}

#[tokio::test]
async fn clients_that_do_not_trust_the_certificate_are_refused() {
    let tls = Tls::start().await;
    let (other_pem, _, other_der) = self_signed();

    let err = tls
        .https(&other_pem)
        .get(format!("https://localhost:{}/health", tls.addr().port()))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert!(format!("{err:?}").contains("InvalidCertificate"), "{err:?}");

    let err = tls.wss(other_der).await.unwrap_err();
    assert!(format!("{err:?}").contains("InvalidCertificate"), "{err:?}");

    // Refusals do not hurt the server.
    assert_eq!(tls.get_health().await.unwrap(), reqwest::StatusCode::OK);
    tls.shutdown().await;
}

#[tokio::test]
async fn plain_http_gets_no_response_and_tls_goes_on() {
    let tls = Tls::start().await;
    let plain = reqwest::Client::builder().timeout(QUICK).build().unwrap();
    let err = plain
        .get(format!("http://{}/health", tls.addr()))
        .send()
        .await
        .unwrap_err();
    assert!(
        !err.is_timeout(),
        "refused at once, not left hanging: {err:?}"
    );
    assert!(err.status().is_none(), "{err:?}");

    let ws = tokio_tungstenite::connect_async(format!("ws://{}/ws", tls.addr())).await;
    assert!(ws.is_err(), "plain ws:// must fail");

    assert_eq!(tls.get_health().await.unwrap(), reqwest::StatusCode::OK);
    tls.shutdown().await;
}

#[tokio::test]
async fn stalled_handshakes_do_not_block_other_clients() {
    let tls = Tls::start().await;
    // Connections that never send a ClientHello, and one that sends half of one.
    let mut stalled = Vec::new();
    for _ in 0..8 {
        stalled.push(tokio::net::TcpStream::connect(tls.addr()).await.unwrap());
    }
    let mut half = tokio::net::TcpStream::connect(tls.addr()).await.unwrap();
    half.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .await
        .unwrap();
    stalled.push(half);

    let started = tokio::time::Instant::now();
    assert_eq!(tls.get_health().await.unwrap(), reqwest::StatusCode::OK);
    let mut c = Client::from_ws(tls.wss(tls.cert_der.clone()).await.unwrap());
    c.send_json(json!({"type": "hello", "v": 1, "name": "tls-user"}))
        .await;
    assert_eq!(c.next_frame().await.unwrap()["type"], "welcome");
    assert!(started.elapsed() < QUICK, "{:?}", started.elapsed());
    drop(stalled);
    drop(c);
    tls.shutdown().await;
}
