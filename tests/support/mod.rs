//! Test support: a real server on 127.0.0.1:0 with a temporary data dir, and a real
//! WebSocket client that speaks the protocol like a thin editor would.

#![allow(dead_code)]

pub mod accounts;
pub mod oauth_provider;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use codeplatform::{Server, Settings};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Settings for a test server: loopback, port 0, the given data dir, and overrides
/// given as `CODEPLATFORM_*`-style pairs.
pub fn settings(data_dir: &std::path::Path, overrides: &[(&str, &str)]) -> Settings {
    let mut env: Vec<(String, String)> = vec![
        // The protocol and collaboration tests use the anonymous development mode;
        // the accounts tests (TestServer::start_accounts) turn it off.
        ("CODEPLATFORM_DEV__ANONYMOUS".into(), "true".into()),
        ("CODEPLATFORM_SERVER__LISTEN".into(), "127.0.0.1:0".into()),
        (
            "CODEPLATFORM_SERVER__DATA_DIR".into(),
            data_dir.display().to_string(),
        ),
    ];
    env.extend(
        overrides
            .iter()
            .map(|(k, v)| (format!("CODEPLATFORM_{k}"), v.to_string())),
    );
    Settings::load(None, env).expect("test settings")
}

pub struct TestServer {
    pub server: Option<Server>,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start(overrides: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(settings(dir.path(), overrides))
            .await
            .unwrap();
        TestServer {
            server: Some(server),
            dir,
        }
    }

    /// A server as deployed: tokens required (anonymous mode off).
    pub async fn start_accounts(overrides: &[(&str, &str)]) -> Self {
        let mut all = vec![("DEV__ANONYMOUS", "false")];
        all.extend_from_slice(overrides);
        Self::start(&all).await
    }

    /// Stops the server (its data dir stays), e.g. to run the command line on it.
    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await.unwrap();
        }
    }

    /// Starts another server on the same data dir after this one stopped.
    pub async fn restart(&mut self, overrides: &[(&str, &str)]) {
        if let Some(s) = self.server.take() {
            s.shutdown().await.unwrap();
        }
        let server = Server::start(settings(self.dir.path(), overrides))
            .await
            .unwrap();
        self.server = Some(server);
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.server.as_ref().unwrap().addr())
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{}", self.server.as_ref().unwrap().addr(), path)
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        let resp = reqwest::get(self.http_url("/metrics")).await.unwrap();
        resp.text().await.unwrap()
    }

    /// GETs `path` and parses the JSON body.
    pub async fn get_json(&self, path: &str) -> Value {
        let resp = reqwest::get(self.http_url(path)).await.unwrap();
        resp.json().await.unwrap()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    pub async fn client(&self, name: &str) -> Client {
        Client::connect(&self.ws_url(), name).await
    }
}

/// How long a test waits for any single expected frame.
pub const WAIT: Duration = Duration::from_secs(20);

/// A protocol client. Frames that are not the answer being waited for are kept in
/// `pushes`, in order.
pub struct Client {
    pub ws: Ws,
    pub session: String,
    next_id: u64,
    pub pushes: VecDeque<Value>,
    pub closed: Option<(u16, String)>,
}

impl Client {
    pub async fn connect_raw(url: &str) -> Ws {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connect");
        ws
    }

    /// A client on a socket that has not said hello.
    pub fn from_ws(ws: Ws) -> Client {
        Client {
            ws,
            session: String::new(),
            next_id: 100,
            pushes: VecDeque::new(),
            closed: None,
        }
    }

    pub async fn connect(url: &str, name: &str) -> Client {
        Self::connect_hello(url, json!({"type": "hello", "v": 1, "name": name})).await
    }

    /// A client that says hello with an access token.
    pub async fn connect_token(url: &str, token: &str) -> Client {
        Self::connect_hello(url, json!({"type": "hello", "v": 1, "token": token})).await
    }

    async fn connect_hello(url: &str, hello: Value) -> Client {
        let mut ws = Self::connect_raw(url).await;
        ws.send(Message::text(hello.to_string())).await.unwrap();
        let mut c = Client {
            ws,
            session: String::new(),
            next_id: 1,
            pushes: VecDeque::new(),
            closed: None,
        };
        let welcome = c.next_frame().await.expect("welcome");
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        c.session = welcome["session"].as_str().unwrap().to_owned();
        c
    }

    /// The next text frame from the socket (None when closed), answering nothing.
    pub async fn next_frame(&mut self) -> Option<Value> {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("timed out waiting for a frame");
            match msg {
                Some(Ok(Message::Text(t))) => {
                    return Some(serde_json::from_str(&t).expect("server sent JSON"));
                }
                Some(Ok(Message::Close(frame))) => {
                    self.closed = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                    return None;
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// The next push: a buffered one, or the next frame.
    pub async fn next_push(&mut self) -> Value {
        if let Some(v) = self.pushes.pop_front() {
            return v;
        }
        self.next_frame().await.expect("socket closed")
    }

    /// Waits for a push of `kind` (discarding others).
    pub async fn expect_push(&mut self, kind: &str) -> Value {
        loop {
            let v = self.next_push().await;
            if v["type"] == kind {
                return v;
            }
        }
    }

    pub fn take_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub async fn send_json(&mut self, v: Value) {
        self.ws.send(Message::text(v.to_string())).await.unwrap();
    }

    /// Sends a request (its `id` filled in) and waits for its answer.
    pub async fn request(&mut self, mut v: Value) -> Value {
        let id = self.take_id();
        v["id"] = json!(id);
        self.send_json(v).await;
        self.answer(id).await
    }

    /// Waits for the `ok`/`error` bearing `id`, buffering everything else.
    pub async fn answer(&mut self, id: u64) -> Value {
        loop {
            let v = self
                .next_frame()
                .await
                .expect("socket closed before the answer");
            if (v["type"] == "ok" || v["type"] == "error") && v["id"] == json!(id) {
                return v;
            }
            self.pushes.push_back(v);
        }
    }

    /// Like [`Self::answer`], but `None` if the socket closes first.
    pub async fn try_answer(&mut self, id: u64) -> Option<Value> {
        loop {
            let v = self.next_frame().await?;
            if (v["type"] == "ok" || v["type"] == "error") && v["id"] == json!(id) {
                return Some(v);
            }
            self.pushes.push_back(v);
        }
    }

    pub async fn ok(&mut self, v: Value) -> Value {
        let r = self.request(v.clone()).await;
        assert_eq!(r["type"], "ok", "request {v} answered {r}");
        r
    }

    pub async fn create_room(&mut self) -> String {
        let r = self
            .ok(json!({"type": "create_room", "name": "test", "default_role": "editor"}))
            .await;
        r["room"].as_str().unwrap().to_owned()
    }

    pub async fn join(&mut self, room: &str) -> Value {
        self.ok(json!({"type": "join", "room": room})).await
    }

    /// Opens a document; returns (text, version).
    pub async fn open(&mut self, room: &str, doc: &str) -> (String, u64) {
        let r = self
            .ok(json!({"type": "open", "room": room, "doc": doc}))
            .await;
        (
            r["text"].as_str().unwrap().to_owned(),
            r["version"].as_u64().unwrap(),
        )
    }
}

/// A document as a thin client keeps it: the server's text at `version`, built only
/// from what the server sent (acks and other people's edits, applied in order).
#[derive(Debug, Clone, Default)]
pub struct Mirror {
    pub text: Vec<char>,
    pub version: u64,
}

impl Mirror {
    pub fn new(text: &str, version: u64) -> Self {
        Mirror {
            text: text.chars().collect(),
            version,
        }
    }

    pub fn apply_ops(&mut self, ops: &Value) {
        for op in ops.as_array().expect("ops array") {
            let pos = op["pos"].as_u64().unwrap() as usize;
            let del = op.get("delete").and_then(Value::as_u64).unwrap_or(0) as usize;
            let ins = op.get("insert").and_then(Value::as_str).unwrap_or("");
            assert!(
                pos + del <= self.text.len(),
                "op {op} past end {}",
                self.text.len()
            );
            self.text.splice(pos..pos + del, ins.chars());
        }
    }

    /// Applies a sequenced change (a push or an ack) that must be the next version.
    pub fn apply(&mut self, version: u64, ops: &Value) {
        assert_eq!(
            version,
            self.version + 1,
            "versions arrive in order, gap-free"
        );
        self.apply_ops(ops);
        self.version = version;
    }

    pub fn string(&self) -> String {
        self.text.iter().collect()
    }
}

/// Follows a document's pushes until `m` reaches `target`, handling `resync` as a
/// client should: reopen with the version it has and apply what it missed.
pub async fn follow(c: &mut Client, room: &str, doc: &str, m: &mut Mirror, target: u64) -> u32 {
    let mut resyncs = 0;
    while m.version < target {
        let v = c.next_push().await;
        match v["type"].as_str().unwrap() {
            "edit" if v["doc"] == doc => {
                let version = v["version"].as_u64().unwrap();
                if version > m.version {
                    m.apply(version, &v["ops"]);
                }
            }
            "resync" => {
                resyncs += 1;
                let r = c
                    .ok(json!({"type": "open", "room": room, "doc": doc, "version": m.version}))
                    .await;
                let version = r["version"].as_u64().unwrap();
                match r.get("ops") {
                    Some(ops) => m.apply_ops(ops),
                    None => m.text = r["text"].as_str().unwrap().chars().collect(),
                }
                m.version = version;
                // Pushes buffered before the answer are older than it; skip them.
            }
            _ => {}
        }
    }
    resyncs
}

/// A small deterministic PRNG: the load tester's.
#[allow(unused_imports)]
pub use codeplatform::loadtest::text::Rng;

/// One patch of a trace: (position, characters deleted, text inserted).
pub type Patch = (usize, usize, String);

/// Loads an editing trace: (transactions, endContent).
pub fn load_trace(name: &str) -> (Vec<Vec<Patch>>, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/bench-data/editing-traces")
        .join(name);
    let file = std::fs::File::open(&path)
        .unwrap_or_else(|e| panic!("trace {} missing: {e}", path.display()));
    let v: Value = serde_json::from_reader(flate2::read::GzDecoder::new(file)).unwrap();
    let txns = v["txns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            t["patches"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p[0].as_u64().unwrap() as usize,
                        p[1].as_u64().unwrap() as usize,
                        p[2].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .collect();
    (txns, v["endContent"].as_str().unwrap().to_owned())
}

/// Reads a Prometheus counter or gauge value from `/metrics` text.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}
