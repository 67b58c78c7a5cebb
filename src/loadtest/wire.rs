//! The load tester's side of the wire: connecting with `hello`, request/answer
//! calls for the set-up steps, and the typed view of the frames a simulated editor
//! reacts to while it runs (parsed without building a JSON tree per frame).

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::text::Rng;
use crate::actors::rate_limit::TokenBucket;
use crate::protocol::EditOp;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How long a client waits for any single answer before giving up on it.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest wait between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3);

/// Jittered exponential backoff between connection attempts, within a budget: what
/// an editor does after losing its connection, so that a crowd of clients that
/// failed together does not retry in step.
pub struct Backoff {
    next: Duration,
    deadline: Instant,
    rng: Rng,
}

impl Backoff {
    pub fn new(budget: Duration, seed: u64) -> Self {
        Backoff {
            next: Duration::from_millis(100),
            deadline: Instant::now() + budget,
            rng: Rng::new(seed ^ 0x9e37_79b9_7f4a_7c15),
        }
    }

    /// Sleeps before the next attempt; false (at once) when the budget is spent.
    pub async fn wait(&mut self) -> bool {
        let now = Instant::now();
        if now >= self.deadline {
            return false;
        }
        // Between half and all of the current step ("equal jitter").
        let wait = self
            .next
            .mul_f64(0.5 + 0.5 * self.rng.unit())
            .min(self.deadline - now);
        self.next = (self.next * 2).min(MAX_BACKOFF);
        tokio::time::sleep(wait).await;
        true
    }
}

/// Socket buffers for thousands of clients in one process. tungstenite zero-fills
/// its whole read chunk before every read (128 KiB by default): at 100,000 frames/s
/// that memset was 30% of the load tester's CPU. Larger frames still assemble
/// across reads.
fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
}

/// The frame types a running client reacts to; the rest are only counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Ok,
    Error,
    Edit,
    Presence,
    Chat,
    Resync,
    Bye,
    #[serde(other)]
    Other,
}

/// The fields of a server frame that a running client reads; others are skipped.
#[derive(Debug, Deserialize)]
pub struct Incoming {
    #[serde(rename = "type")]
    pub kind: Kind,
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub version: Option<u64>,
    #[serde(default)]
    pub doc: Option<String>,
    #[serde(default)]
    pub ops: Option<Vec<EditOp>>,
    #[serde(default)]
    pub code: Option<String>,
}

impl Incoming {
    pub fn parse(text: &str) -> Result<Incoming, String> {
        serde_json::from_str(text).map_err(|e| format!("bad frame from the server: {e}"))
    }

    /// A frame already parsed as JSON (kept while waiting for an answer).
    pub fn from_value(v: Value) -> Result<Incoming, String> {
        serde_json::from_value(v).map_err(|e| format!("bad frame from the server: {e}"))
    }
}

/// Connects and says hello; the socket and the connect time.
pub async fn connect(url: &str, hello: &Value) -> Result<(Ws, Duration), String> {
    connect_paced(url, hello)
        .await
        .map(|(ws, took, _)| (ws, took))
}

/// Like [`connect`], also returning a token bucket with the edit rate and burst the
/// server announced in `welcome`, so a client never sends faster than allowed.
pub async fn connect_paced(
    url: &str,
    hello: &Value,
) -> Result<(Ws, Duration, TokenBucket), String> {
    let t = Instant::now();
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(url, Some(socket_config()), true)
            .await
            .map_err(|e| format!("connect: {e}"))?;
    ws.send(Message::text(hello.to_string()))
        .await
        .map_err(|e| format!("hello: {e}"))?;
    match next_json(&mut ws).await {
        Some(w) if w["type"] == "welcome" => {
            let limit = |k: &str| {
                w["limits"][k]
                    .as_u64()
                    .unwrap_or(u32::MAX as u64)
                    .min(u32::MAX as u64) as u32
            };
            let bucket = TokenBucket::new(limit("edits_per_sec"), limit("edits_burst"));
            Ok((ws, t.elapsed(), bucket))
        }
        Some(other) => Err(format!("hello refused: {other}")),
        None => Err("closed before welcome".into()),
    }
}

/// The next JSON text frame; `None` when the socket ends.
pub async fn next_json(ws: &mut Ws) -> Option<Value> {
    loop {
        match tokio::time::timeout(ANSWER_TIMEOUT, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return serde_json::from_str(&t).ok(),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

/// Sends a request and waits for its answer, keeping pushes that arrive meanwhile.
pub async fn call(
    ws: &mut Ws,
    mut v: Value,
    id: u64,
    kept: &mut VecDeque<Value>,
) -> Result<Value, String> {
    v["id"] = json!(id);
    ws.send(Message::text(v.to_string()))
        .await
        .map_err(|e| e.to_string())?;
    loop {
        let r = next_json(ws).await.ok_or("socket closed")?;
        if r["id"] == json!(id) {
            return if r["type"] == "ok" {
                Ok(r)
            } else {
                Err(r["code"].as_str().unwrap_or("error").to_owned())
            };
        }
        kept.push_back(r);
    }
}
