//! What a load test measures, shared by every simulated client: HDR histograms of
//! edit-to-peer, ack and connect latency (microseconds), counters, errors by code,
//! and per-second figures for the timeline.
//!
//! Edit-to-peer latency pairs a typist's send time with each peer's receipt of the
//! push carrying the same version. The typist learns the version from its ack, which
//! may arrive after a peer's push, so receipts that come first wait in the room's
//! table until the send time is known.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use tokio::time::Instant;

/// Versions whose receipts are still being matched, per room, at most; older ones
/// are dropped (a peer that never got the push was disconnected or lagging).
const MAX_PENDING_VERSIONS: usize = 50_000;

fn histogram() -> Histogram<u64> {
    // 1 µs to 1 hour, 3 significant digits.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")
}

#[derive(Default)]
struct Entry {
    sent: Option<Instant>,
    early: Vec<Instant>,
}

/// Per-room matching of sends to receipts.
#[derive(Default)]
pub struct RoomLatency {
    pending: Mutex<HashMap<u64, Entry>>,
}

impl RoomLatency {
    /// The typist's ack: `version` was sent at `sent`.
    pub fn sent(&self, version: u64, sent: Instant, stats: &Stats) {
        let early = {
            let mut p = self.pending.lock();
            let e = p.entry(version).or_default();
            e.sent = Some(sent);
            std::mem::take(&mut e.early)
        };
        for at in early {
            stats.record_peer(at.saturating_duration_since(sent));
        }
        self.trim();
    }

    /// A peer received the push of `version` at `at`.
    pub fn received(&self, version: u64, at: Instant, stats: &Stats) {
        let sent = {
            let mut p = self.pending.lock();
            let e = p.entry(version).or_default();
            match e.sent {
                Some(s) => Some(s),
                None => {
                    e.early.push(at);
                    None
                }
            }
        };
        if let Some(s) = sent {
            stats.record_peer(at.saturating_duration_since(s));
        }
    }

    fn trim(&self) {
        let mut p = self.pending.lock();
        if p.len() > MAX_PENDING_VERSIONS {
            let mut versions: Vec<u64> = p.keys().copied().collect();
            versions.sort_unstable();
            for v in &versions[..versions.len() / 2] {
                p.remove(v);
            }
        }
    }
}

#[derive(Default)]
pub struct Counters {
    pub connections: AtomicU64,
    /// Clients that could not connect within their retry budget.
    pub connect_failures: AtomicU64,
    /// Connection attempts that failed and were tried again.
    pub connect_retries: AtomicU64,
    pub edits_sent: AtomicU64,
    pub edits_acked: AtomicU64,
    pub pushes: AtomicU64,
    pub frames_in: AtomicU64,
    pub frames_out: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub disconnects: AtomicU64,
    pub reconnects: AtomicU64,
    pub resyncs: AtomicU64,
    pub in_flight: AtomicU64,
    /// Rooms whose trace replay has finished.
    pub traces_done: AtomicU64,
    pub cursors_sent: AtomicU64,
    pub presence_received: AtomicU64,
    pub chats_sent: AtomicU64,
    pub chats_acked: AtomicU64,
    pub chats_received: AtomicU64,
}

/// One second of the run, for the timeline.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Second {
    pub t: u64,
    pub edits_acked: u64,
    pub edit_to_peer_p99_ms: f64,
}

pub struct Stats {
    pub started: Instant,
    pub counters: Counters,
    edit_to_peer: Mutex<Histogram<u64>>,
    ack: Mutex<Histogram<u64>>,
    connect: Mutex<Histogram<u64>>,
    errors: Mutex<BTreeMap<String, u64>>,
    /// Per-second edit-to-peer histogram and acked edits, indexed by second.
    seconds: Mutex<Vec<(Histogram<u64>, u64)>>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            started: Instant::now(),
            counters: Counters::default(),
            edit_to_peer: Mutex::new(histogram()),
            ack: Mutex::new(histogram()),
            connect: Mutex::new(histogram()),
            errors: Mutex::new(BTreeMap::new()),
            seconds: Mutex::new(Vec::new()),
        }
    }
}

fn micros(d: std::time::Duration) -> u64 {
    (d.as_micros() as u64).clamp(1, 3_600_000_000)
}

impl Stats {
    fn second(&self) -> usize {
        self.started.elapsed().as_secs() as usize
    }

    fn with_second(&self, f: impl FnOnce(&mut (Histogram<u64>, u64))) {
        let s = self.second();
        let mut secs = self.seconds.lock();
        while secs.len() <= s {
            secs.push((histogram(), 0));
        }
        f(&mut secs[s]);
    }

    pub fn record_peer(&self, d: std::time::Duration) {
        let us = micros(d);
        let _ = self.edit_to_peer.lock().record(us);
        self.with_second(|(h, _)| {
            let _ = h.record(us);
        });
    }

    pub fn record_ack(&self, d: std::time::Duration) {
        let _ = self.ack.lock().record(micros(d));
        self.counters.edits_acked.fetch_add(1, Ordering::Relaxed);
        self.with_second(|(_, n)| *n += 1);
    }

    pub fn record_connect(&self, d: std::time::Duration) {
        let _ = self.connect.lock().record(micros(d));
    }

    pub fn error(&self, code: &str) {
        *self.errors.lock().entry(code.to_owned()).or_default() += 1;
    }

    pub fn errors(&self) -> BTreeMap<String, u64> {
        self.errors.lock().clone()
    }

    pub fn edit_to_peer(&self) -> Histogram<u64> {
        self.edit_to_peer.lock().clone()
    }

    pub fn ack(&self) -> Histogram<u64> {
        self.ack.lock().clone()
    }

    pub fn connect(&self) -> Histogram<u64> {
        self.connect.lock().clone()
    }

    pub fn timeline(&self) -> Vec<Second> {
        self.seconds
            .lock()
            .iter()
            .enumerate()
            .map(|(t, (h, n))| Second {
                t: t as u64,
                edits_acked: *n,
                edit_to_peer_p99_ms: if h.is_empty() {
                    0.0
                } else {
                    h.value_at_quantile(0.99) as f64 / 1000.0
                },
            })
            .collect()
    }
}
