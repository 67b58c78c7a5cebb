//! Prometheus metrics, one registry per server (no process-global registry, so tests
//! can run many servers in one process).

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub connections: IntGauge,
    pub connections_total: IntCounter,
    pub rooms_loaded: IntGauge,
    pub edits_applied: IntCounter,
    pub broadcast_frames: IntCounter,
    pub lagging_drops: IntCounter,
    pub ack_latency_seconds: Histogram,
    pub storage_commit_seconds: Histogram,
    pub storage_commit_batch: Histogram,
    pub storage_commit_failures: IntCounter,
    pub actor_restarts: IntCounterVec,
    pub protocol_errors: IntCounterVec,
    pub frames_in: IntCounterVec,
    pub http_requests: IntCounterVec,
}

fn exp_buckets(start: f64, factor: f64, n: usize) -> Vec<f64> {
    prometheus::exponential_buckets(start, factor, n).expect("valid buckets")
}

impl Metrics {
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("codeplatform".into()), None).expect("valid registry prefix");
        let m = Metrics {
            connections: IntGauge::new("ws_connections", "Open WebSocket connections").unwrap(),
            connections_total: IntCounter::new(
                "ws_connections_total",
                "WebSocket connections accepted",
            )
            .unwrap(),
            rooms_loaded: IntGauge::new("rooms_loaded", "Room actors in memory").unwrap(),
            edits_applied: IntCounter::new("edits_applied_total", "Edits sequenced by rooms")
                .unwrap(),
            broadcast_frames: IntCounter::new(
                "broadcast_frames_total",
                "Frames pushed to peers by rooms (fan-out)",
            )
            .unwrap(),
            lagging_drops: IntCounter::new(
                "lagging_sockets_total",
                "Times a socket's outbound queue overflowed and it was sent a resync",
            )
            .unwrap(),
            ack_latency_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "edit_ack_seconds",
                    "From an edit reaching its room to its ack being queued (durable)",
                )
                .buckets(exp_buckets(0.000_05, 2.0, 18)),
            )
            .unwrap(),
            storage_commit_seconds: Histogram::with_opts(
                HistogramOpts::new("storage_commit_seconds", "Group commit duration")
                    .buckets(exp_buckets(0.000_05, 2.0, 18)),
            )
            .unwrap(),
            storage_commit_batch: Histogram::with_opts(
                HistogramOpts::new("storage_commit_batch_size", "Writes per group commit")
                    .buckets(exp_buckets(1.0, 2.0, 14)),
            )
            .unwrap(),
            storage_commit_failures: IntCounter::new(
                "storage_commit_failures_total",
                "Failed group commits",
            )
            .unwrap(),
            actor_restarts: IntCounterVec::new(
                Opts::new(
                    "actor_restarts_total",
                    "Actor restarts by actor kind and cause",
                ),
                &["actor", "cause"],
            )
            .unwrap(),
            protocol_errors: IntCounterVec::new(
                Opts::new("protocol_errors_total", "Error frames sent, by code"),
                &["code"],
            )
            .unwrap(),
            frames_in: IntCounterVec::new(
                Opts::new("ws_frames_in_total", "Client frames received, by type"),
                &["type"],
            )
            .unwrap(),
            http_requests: IntCounterVec::new(
                Opts::new("http_requests_total", "HTTP requests by method and status"),
                &["method", "status"],
            )
            .unwrap(),
            registry,
        };
        let r = &m.registry;
        r.register(Box::new(m.connections.clone())).unwrap();
        r.register(Box::new(m.connections_total.clone())).unwrap();
        r.register(Box::new(m.rooms_loaded.clone())).unwrap();
        r.register(Box::new(m.edits_applied.clone())).unwrap();
        r.register(Box::new(m.broadcast_frames.clone())).unwrap();
        r.register(Box::new(m.lagging_drops.clone())).unwrap();
        r.register(Box::new(m.ack_latency_seconds.clone())).unwrap();
        r.register(Box::new(m.storage_commit_seconds.clone()))
            .unwrap();
        r.register(Box::new(m.storage_commit_batch.clone()))
            .unwrap();
        r.register(Box::new(m.storage_commit_failures.clone()))
            .unwrap();
        r.register(Box::new(m.actor_restarts.clone())).unwrap();
        r.register(Box::new(m.protocol_errors.clone())).unwrap();
        r.register(Box::new(m.frames_in.clone())).unwrap();
        r.register(Box::new(m.http_requests.clone())).unwrap();
        m
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
