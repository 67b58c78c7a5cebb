//! One simulated editor: connects, says hello, joins its room, opens the document,
//! then types (if it is a typist) and reads pushes until told to stop, keeping its
//! copy of the document by the thin-client rules. At the end it follows the
//! document to the server's final version and hands back its text for the
//! convergence check.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::stats::{RoomLatency, Stats};
use super::text::{Applied, Confirmed, Typist, ops_of};
use super::trace::Trace;
use crate::actors::rate_limit::TokenBucket;
use crate::protocol::EditOp;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The document every simulated room edits.
pub const DOC: &str = "main.txt";

/// Documents are kept below this many characters (typists delete beyond it).
const MAX_DOC_CHARS: usize = 20_000;

/// Edits a trace replay keeps in flight.
const TRACE_WINDOW: usize = 64;

/// How long a client waits for any single answer before giving up on it.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// What the controller tells a client, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    Run,
    /// Stop typing; keep reading.
    StopTyping,
    /// Follow the document to this version, then report the text.
    Converge(u64),
}

pub struct Plan {
    pub url: String,
    /// The `hello` frame (with a token, or a name in anonymous mode).
    pub hello: Value,
    pub room: String,
    pub latency: Arc<RoomLatency>,
    /// Edits per second, for typists.
    pub rate: Option<f64>,
    /// Replay this trace as fast as acks come, instead of typing at `rate`.
    pub trace: Option<Arc<Trace>>,
    /// A slow reader: opens the document, then never reads again.
    pub slow: bool,
    pub seed: u64,
    /// Each change asks every client to drop its socket and reconnect at once.
    pub storm: watch::Receiver<u64>,
    /// Told each time this client is back after a storm.
    pub back: tokio::sync::mpsc::UnboundedSender<Instant>,
}

/// What a client reports at the end.
#[derive(Debug)]
pub struct Outcome {
    /// The copy's text and version once it reached the target, if it did.
    pub text: Option<(String, u64)>,
    pub failure: Option<String>,
    /// A slow reader: not expected to have kept up, so not checked.
    pub unchecked: bool,
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
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
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

struct Client {
    ws: Ws,
    plan: Plan,
    stats: Arc<Stats>,
    doc: Confirmed,
    next_id: u64,
    /// Edits awaiting their acks, oldest first: request id, send time, ops. Typists
    /// keep one in flight; a trace replay pipelines up to [`TRACE_WINDOW`] (exact,
    /// since no one else edits its room).
    in_flight: VecDeque<(u64, Instant, Vec<EditOp>)>,
    /// Frames held back while a resynchronisation is outstanding.
    held: VecDeque<Value>,
    /// The next trace edit to send.
    trace_at: usize,
    /// The server's edit rate limit, kept on our side.
    pace: TokenBucket,
    /// When the rate limit allows the next edit, if it is holding one back.
    paced_until: Option<Instant>,
}

impl Client {
    async fn send(&mut self, v: Value) -> Result<(), String> {
        let text = v.to_string();
        let c = &self.stats.counters;
        c.frames_out.fetch_add(1, Ordering::Relaxed);
        c.bytes_out.fetch_add(text.len() as u64, Ordering::Relaxed);
        self.ws
            .send(Message::text(text))
            .await
            .map_err(|e| format!("send: {e}"))
    }

    fn take_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// `open` with our version: catch up on what the copy missed.
    async fn resync(&mut self) -> Result<(), String> {
        self.stats.counters.resyncs.fetch_add(1, Ordering::Relaxed);
        self.catch_up().await
    }

    async fn catch_up(&mut self) -> Result<(), String> {
        let id = self.take_id();
        let req = json!({"type": "open", "room": self.plan.room, "doc": DOC, "version": self.doc.version});
        let mut kept = std::mem::take(&mut self.held);
        let r = call(&mut self.ws, req, id, &mut kept).await?;
        self.held = kept;
        let version = r["version"].as_u64().ok_or("bad open answer")?;
        match r.get("ops").and_then(ops_of) {
            Some(ops) => {
                if !self.doc.apply_ops(&ops) {
                    return Err("catch-up ops past the end".into());
                }
            }
            None => self.doc = Confirmed::new(r["text"].as_str().unwrap_or(""), version),
        }
        self.doc.version = version;
        Ok(())
    }

    /// Drops the socket (as a network failure would), reconnects, rejoins and
    /// catches up from the copy's version.
    async fn reconnect(&mut self) -> Result<(), String> {
        let _ = self.ws.close(None).await;
        // The edits in flight may or may not have been applied: the catch-up says.
        while self.finish_in_flight(None).is_some() {}
        self.held.clear();
        let (ws, took, pace) = connect_paced(&self.plan.url, &self.plan.hello).await?;
        self.ws = ws;
        self.pace = pace;
        self.stats.record_connect(took);
        self.stats
            .counters
            .reconnects
            .fetch_add(1, Ordering::Relaxed);
        let id = self.take_id();
        let mut kept = VecDeque::new();
        let join = json!({"type": "join", "room": self.plan.room});
        call(&mut self.ws, join, id, &mut kept).await?;
        self.held = kept;
        self.catch_up().await?;
        let _ = self.plan.back.send(Instant::now());
        Ok(())
    }

    /// Sends the next edit unless the rate limit says to wait; whether it sent.
    async fn type_one(&mut self, typist: &mut Typist) -> Result<bool, String> {
        if let Err(wait) = self.pace.take() {
            self.paced_until = Some(Instant::now() + wait);
            return Ok(false);
        }
        self.paced_until = None;
        let ops = match &self.plan.trace {
            Some(trace) => match trace.edits.get(self.trace_at) {
                Some(ops) => {
                    self.trace_at += 1;
                    ops.clone()
                }
                None => return Ok(false),
            },
            None => vec![typist.next_edit(&self.doc.text, MAX_DOC_CHARS)],
        };
        let id = self.take_id();
        let frame = json!({"type": "edit", "id": id, "room": self.plan.room, "doc": DOC,
            "base": self.doc.version, "ops": ops});
        self.in_flight.push_back((id, Instant::now(), ops));
        self.stats
            .counters
            .edits_sent
            .fetch_add(1, Ordering::Relaxed);
        self.stats
            .counters
            .in_flight
            .fetch_add(1, Ordering::Relaxed);
        self.send(frame).await.map(|()| true)
    }

    /// Takes the edit in flight with request id `id` (any, for `None`).
    fn finish_in_flight(&mut self, id: Option<&Value>) -> Option<(u64, Instant, Vec<EditOp>)> {
        let at = match id {
            Some(id) => self.in_flight.iter().position(|f| *id == json!(f.0))?,
            None => 0,
        };
        let f = self.in_flight.remove(at);
        if f.is_some() {
            self.stats
                .counters
                .in_flight
                .fetch_sub(1, Ordering::Relaxed);
        }
        f
    }

    /// Handles one frame from the server.
    async fn handle(&mut self, v: Value) -> Result<(), String> {
        let now = Instant::now();
        let mine = self.in_flight.iter().any(|f| v["id"] == json!(f.0));
        match v["type"].as_str().unwrap_or("") {
            "ok" if mine => {
                let (_, sent, ops) = self.finish_in_flight(Some(&v["id"])).expect("in flight");
                self.stats.record_ack(now.saturating_duration_since(sent));
                if let Some(trace) = &self.plan.trace
                    && self.trace_at == trace.edits.len()
                    && self.in_flight.is_empty()
                {
                    self.stats
                        .counters
                        .traces_done
                        .fetch_add(1, Ordering::Relaxed);
                }
                let version = v["version"].as_u64().ok_or("ack without version")?;
                let ops = v.get("ops").and_then(ops_of).unwrap_or(ops);
                self.plan.latency.sent(version, sent, &self.stats);
                if self.doc.apply(version, &ops) == Applied::Gap {
                    self.resync().await?;
                }
            }
            "error" if mine => {
                self.finish_in_flight(Some(&v["id"]));
                self.stats.error(v["code"].as_str().unwrap_or("unknown"));
                // The edit did not happen; our copy is still the server's at `version`.
            }
            "error" => self.stats.error(v["code"].as_str().unwrap_or("unknown")),
            "edit" if v["doc"] == DOC => {
                self.stats.counters.pushes.fetch_add(1, Ordering::Relaxed);
                let version = v["version"].as_u64().ok_or("push without version")?;
                let ops = ops_of(&v["ops"]).ok_or("push without ops")?;
                self.plan.latency.received(version, now, &self.stats);
                if self.doc.apply(version, &ops) == Applied::Gap {
                    self.resync().await?;
                }
            }
            "resync" => self.resync().await?,
            "bye" => return Err("server said bye".into()),
            _ => {}
        }
        Ok(())
    }

    /// Reads and types until the phase says converge; then follows to the target.
    async fn run(&mut self, mut phase: watch::Receiver<Phase>) -> Result<(String, u64), String> {
        let mut typist = Typist::new(self.plan.seed);
        let period = self
            .plan
            .rate
            .map(|r| Duration::from_secs_f64(1.0 / r.max(0.001)));
        // Typists start at a random point of their period, so rooms do not type in step.
        let offset = period.map_or(Duration::ZERO, |p| p.mul_f64(typist.rng().unit()));
        let mut tick = tokio::time::interval_at(
            Instant::now() + offset,
            period.unwrap_or(Duration::from_secs(3600)),
        );
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut storm = self.plan.storm.clone();
        loop {
            while let Some(v) = self.held.pop_front() {
                self.handle(v).await?;
            }
            // A trace is replayed as fast as acks come back.
            let running = *phase.borrow() == Phase::Run;
            if self.plan.trace.is_some() && running {
                while self.in_flight.len() < TRACE_WINDOW && self.type_one(&mut typist).await? {}
            }
            let current = phase.borrow().clone();
            if let Phase::Converge(target) = current
                && self.in_flight.is_empty()
                && self.doc.version >= target
            {
                return Ok((self.doc.string(), self.doc.version));
            }
            tokio::select! {
                frame = self.ws.next() => {
                    let text = match frame {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Close(f))) => {
                            return Err(format!("closed by the server: {f:?}"));
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => return Err(format!("socket error: {e}")),
                        None => return Err("socket ended".into()),
                    };
                    let c = &self.stats.counters;
                    c.frames_in.fetch_add(1, Ordering::Relaxed);
                    c.bytes_in.fetch_add(text.len() as u64, Ordering::Relaxed);
                    let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
                    self.handle(v).await?;
                }
                _ = tick.tick(), if period.is_some() && self.plan.trace.is_none() => {
                    // One edit in flight: a tick while one is pending is skipped.
                    if *phase.borrow() == Phase::Run && self.in_flight.is_empty() {
                        self.type_one(&mut typist).await?;
                    }
                }
                _ = tokio::time::sleep_until(self.paced_until.unwrap_or_else(Instant::now)),
                    if self.paced_until.is_some() && self.plan.trace.is_some() => {
                    self.paced_until = None;
                }
                changed = phase.changed() => {
                    if changed.is_err() {
                        return Err("controller gone".into());
                    }
                }
                changed = storm.changed() => {
                    if changed.is_ok() {
                        self.reconnect().await?;
                    }
                }
            }
        }
    }
}

/// Runs one client to the end. `ready` is told once the document is open.
pub async fn run(
    plan: Plan,
    stats: Arc<Stats>,
    phase: watch::Receiver<Phase>,
    ready: tokio::sync::mpsc::Sender<Result<(), String>>,
) -> Outcome {
    let fail = |e: String| Outcome {
        text: None,
        failure: Some(e),
        unchecked: false,
    };
    let (mut ws, took, pace) = match connect_paced(&plan.url, &plan.hello).await {
        Ok(c) => c,
        Err(e) => {
            stats
                .counters
                .connect_failures
                .fetch_add(1, Ordering::Relaxed);
            let _ = ready.send(Err(e.clone())).await;
            return fail(e);
        }
    };
    stats.record_connect(took);
    stats.counters.connections.fetch_add(1, Ordering::Relaxed);
    let mut held = VecDeque::new();
    let opened = async {
        call(
            &mut ws,
            json!({"type": "join", "room": plan.room}),
            1,
            &mut held,
        )
        .await?;
        call(
            &mut ws,
            json!({"type": "open", "room": plan.room, "doc": DOC}),
            2,
            &mut held,
        )
        .await
    }
    .await;
    let opened = match opened {
        Ok(o) => o,
        Err(e) => {
            stats.error(&e);
            let _ = ready.send(Err(e.clone())).await;
            return fail(e);
        }
    };
    let _ = ready.send(Ok(())).await;
    if plan.slow {
        // Never read again: the server must cope (drop our pushes, then resync us)
        // without slowing anyone else. Hold the socket until the run converges.
        let mut phase = phase;
        while !matches!(*phase.borrow(), Phase::Converge(_)) {
            if phase.changed().await.is_err() {
                break;
            }
        }
        drop(ws);
        return Outcome {
            text: None,
            failure: None,
            unchecked: true,
        };
    }
    let doc = Confirmed::new(
        opened["text"].as_str().unwrap_or(""),
        opened["version"].as_u64().unwrap_or(0),
    );
    let mut client = Client {
        ws,
        plan,
        stats: stats.clone(),
        doc,
        next_id: 10,
        in_flight: VecDeque::new(),
        held,
        trace_at: 0,
        pace,
        paced_until: None,
    };
    let result = client.run(phase).await;
    while client.finish_in_flight(None).is_some() {}
    let _ = client.ws.close(None).await;
    match result {
        Ok(t) => Outcome {
            text: Some(t),
            failure: None,
            unchecked: false,
        },
        Err(e) => {
            stats.counters.disconnects.fetch_add(1, Ordering::Relaxed);
            fail(e)
        }
    }
}
