//! One simulated editor: connects, says hello, joins its room, opens the document,
//! then types (if it is a typist) and reads pushes until told to stop, keeping its
//! copy of the document by the thin-client rules. At the end it follows the
//! document to the server's final version and hands back its text for the
//! convergence check. Along the way it moves its cursor and chats now and then, as
//! people in a shared editor do.

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
use super::wire::{Backoff, Incoming, Kind, Ws, call, connect_paced};
use crate::actors::rate_limit::TokenBucket;
use crate::protocol::EditOp;

mod social;

use social::every;

/// The document every simulated room edits.
pub const DOC: &str = "main.txt";

/// Documents are kept below this many characters (typists delete beyond it).
const MAX_DOC_CHARS: usize = 20_000;

/// How long a client keeps trying to (re)connect before it gives up.
const CONNECT_BUDGET: Duration = Duration::from_secs(90);

/// Edits a trace replay keeps in flight.
const TRACE_WINDOW: usize = 64;

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
    /// How often the cursor moves (sent as `cursor`, unanswered), if at all.
    pub cursor_every: Option<Duration>,
    /// How often a chat message is sent, if at all.
    pub chat_every: Option<Duration>,
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
    /// Request ids of chat messages awaiting their acks.
    chats_in_flight: VecDeque<u64>,
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

    /// Drops the socket, then reconnects, rejoins and catches up from the copy's
    /// version, retrying with backoff as an editor would.
    async fn reconnect(&mut self) -> Result<(), String> {
        let _ = self.ws.close(None).await;
        // The edits in flight may or may not have been applied: the catch-up says.
        while self.finish_in_flight(None).is_some() {}
        // Chat acks still due went with the old socket (the messages may or may not
        // have been stored); stop waiting for them.
        self.chats_in_flight.clear();
        self.held.clear();
        let mut backoff = Backoff::new(CONNECT_BUDGET, self.plan.seed.wrapping_add(self.next_id));
        loop {
            match self.rejoin().await {
                Ok(()) => break,
                Err(e) => {
                    if !backoff.wait().await {
                        return Err(format!("reconnecting: {e}"));
                    }
                    let c = &self.stats.counters;
                    c.connect_retries.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.stats
            .counters
            .reconnects
            .fetch_add(1, Ordering::Relaxed);
        let _ = self.plan.back.send(Instant::now());
        Ok(())
    }

    /// One attempt at coming back: a new socket, `join`, then the catch-up.
    async fn rejoin(&mut self) -> Result<(), String> {
        self.held.clear();
        let (ws, took, pace) = connect_paced(&self.plan.url, &self.plan.hello).await?;
        self.ws = ws;
        self.pace = pace;
        self.stats.record_connect(took);
        let id = self.take_id();
        let mut kept = VecDeque::new();
        let join = json!({"type": "join", "room": self.plan.room});
        call(&mut self.ws, join, id, &mut kept).await?;
        self.held = kept;
        self.catch_up().await
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
            None => vec![typist.next_edit(self.doc.len(), MAX_DOC_CHARS)],
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
    fn finish_in_flight(&mut self, id: Option<u64>) -> Option<(u64, Instant, Vec<EditOp>)> {
        let at = match id {
            Some(id) => self.in_flight.iter().position(|f| f.0 == id)?,
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
    async fn handle(&mut self, v: Incoming) -> Result<(), String> {
        let now = Instant::now();
        let mine =
            v.id.is_some_and(|id| self.in_flight.iter().any(|f| f.0 == id));
        let chat = v.id.is_some_and(|id| self.chats_in_flight.contains(&id));
        if chat {
            self.chats_in_flight.retain(|c| Some(*c) != v.id);
        }
        match v.kind {
            Kind::Ok if mine => {
                let (_, sent, ops) = self.finish_in_flight(v.id).expect("in flight");
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
                let version = v.version.ok_or("ack without version")?;
                let ops = v.ops.unwrap_or(ops);
                self.plan.latency.sent(version, sent, &self.stats);
                if self.doc.apply(version, &ops) == Applied::Gap {
                    self.resync().await?;
                }
            }
            Kind::Ok if chat => {
                self.stats
                    .counters
                    .chats_acked
                    .fetch_add(1, Ordering::Relaxed);
            }
            Kind::Error => {
                if mine {
                    // The edit did not happen; our copy is still the server's at `version`.
                    self.finish_in_flight(v.id);
                }
                self.stats.error(v.code.as_deref().unwrap_or("unknown"));
            }
            Kind::Edit if v.doc.as_deref() == Some(DOC) => {
                self.stats.counters.pushes.fetch_add(1, Ordering::Relaxed);
                let version = v.version.ok_or("push without version")?;
                let ops = v.ops.ok_or("push without ops")?;
                self.plan.latency.received(version, now, &self.stats);
                if self.doc.apply(version, &ops) == Applied::Gap {
                    self.resync().await?;
                }
            }
            Kind::Presence => {
                let c = &self.stats.counters;
                c.presence_received.fetch_add(1, Ordering::Relaxed);
            }
            Kind::Chat => {
                let c = &self.stats.counters;
                c.chats_received.fetch_add(1, Ordering::Relaxed);
            }
            Kind::Resync => self.resync().await?,
            Kind::Bye => return Err("server said bye".into()),
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
        let mut tick = every(period, &mut typist);
        let mut cursor_tick = every(self.plan.cursor_every, &mut typist);
        let mut chat_tick = every(self.plan.chat_every, &mut typist);
        let mut storm = self.plan.storm.clone();
        loop {
            while let Some(v) = self.held.pop_front() {
                self.handle(Incoming::from_value(v)?).await?;
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
                    self.handle(Incoming::parse(&text)?).await?;
                }
                _ = tick.tick(), if period.is_some() && self.plan.trace.is_none() => {
                    // One edit in flight: a tick while one is pending is skipped.
                    if *phase.borrow() == Phase::Run && self.in_flight.is_empty() {
                        self.type_one(&mut typist).await?;
                    }
                }
                _ = cursor_tick.tick(), if self.plan.cursor_every.is_some() => {
                    if *phase.borrow() == Phase::Run {
                        self.move_cursor(&mut typist).await?;
                    }
                }
                _ = chat_tick.tick(), if self.plan.chat_every.is_some() => {
                    if *phase.borrow() == Phase::Run {
                        self.chat(&mut typist).await?;
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
    let mut backoff = Backoff::new(CONNECT_BUDGET, plan.seed);
    let (mut ws, took, pace) = loop {
        match connect_paced(&plan.url, &plan.hello).await {
            Ok(c) => break c,
            Err(e) => {
                let c = &stats.counters;
                if !backoff.wait().await {
                    c.connect_failures.fetch_add(1, Ordering::Relaxed);
                    let _ = ready.send(Err(e.clone())).await;
                    return fail(e);
                }
                c.connect_retries.fetch_add(1, Ordering::Relaxed);
            }
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
        chats_in_flight: VecDeque::new(),
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
