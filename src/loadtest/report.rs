//! The end of a run: the JSON report, the human summary, and the limits that make
//! the run fail (for CI gates).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::stats::Second;

/// Quantiles of one latency, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Quantiles {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

impl Quantiles {
    pub fn of(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        if h.is_empty() {
            return Quantiles {
                count: 0,
                p50: 0.0,
                p90: 0.0,
                p99: 0.0,
                p999: 0.0,
                max: 0.0,
                mean: 0.0,
            };
        }
        Quantiles {
            count: h.len(),
            p50: ms(h.value_at_quantile(0.5)),
            p90: ms(h.value_at_quantile(0.9)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        }
    }

    fn line(&self) -> String {
        format!(
            "n {} p50 {:.2} p90 {:.2} p99 {:.2} p99.9 {:.2} max {:.2} ms",
            self.count, self.p50, self.p90, self.p99, self.p999, self.max
        )
    }
}

/// One point of a latency distribution: `percentile` (0–100) of samples are at or
/// below `ms`.
#[derive(Debug, Clone, Serialize)]
pub struct Percentile {
    pub percentile: f64,
    pub ms: f64,
}

/// The distribution of `h` at log-spaced percentiles (50, 75, 87.5, … up to the max).
pub fn distribution(h: &Histogram<u64>) -> Vec<Percentile> {
    if h.is_empty() {
        return Vec::new();
    }
    h.iter_quantiles(2)
        .map(|v| Percentile {
            percentile: v.percentile(),
            ms: v.value_iterated_to() as f64 / 1000.0,
        })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub urls: Vec<String>,
    pub rooms: usize,
    pub clients_per_room: usize,
    pub typists_per_room: usize,
    pub rate_per_typist: f64,
    /// The trace replayed in every room, if any.
    pub trace: Option<String>,
    /// Typing time after every client connected.
    pub duration_secs: f64,
    /// From the first connection to the end of typing (ramp-up included).
    pub elapsed_secs: f64,
    pub connections_requested: usize,
    pub connections: u64,
    pub connect_failures: u64,
    /// Connection attempts (first or after a drop) that failed and were retried.
    pub connect_retries: u64,
    pub edits_sent: u64,
    pub edits_acked: u64,
    pub edits_per_sec: f64,
    pub pushes_received: u64,
    /// `cursor` frames sent, and the coalesced `presence` pushes received.
    pub cursors_sent: u64,
    pub presence_received: u64,
    /// Chat messages sent, acknowledged (durable), and received by peers.
    pub chats_sent: u64,
    pub chats_acked: u64,
    pub chats_received: u64,
    pub frames_in: u64,
    pub frames_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub edit_to_peer_ms: Quantiles,
    /// The whole edit-to-peer distribution, for plots.
    pub edit_to_peer_distribution: Vec<Percentile>,
    pub ack_ms: Quantiles,
    pub connect_ms: Quantiles,
    pub errors: BTreeMap<String, u64>,
    pub errors_total: u64,
    pub disconnects: u64,
    /// Why clients ended early, with how many ended so.
    pub disconnect_reasons: BTreeMap<String, u64>,
    pub reconnects: u64,
    pub resyncs: u64,
    /// Clients that stopped reading (not checked for convergence).
    pub slow_readers: usize,
    /// With `--reconnect-storm`: seconds from dropping every socket until all
    /// clients were back and caught up (`null` if some never came back).
    pub reconnect_storm_secs: Option<f64>,
    /// Every client's text equals the server's, for every room.
    pub converged: bool,
    /// Clients whose text differed, or that never reached the final version.
    pub divergent_clients: u64,
    /// Rooms whose final text could not be read from the server.
    pub unchecked_rooms: u64,
    pub timeline: Vec<Second>,
    /// Why the run failed, if it did (convergence, limits).
    pub failures: Vec<String>,
}

impl Report {
    /// Adds the failures for broken limits and divergence.
    pub fn judge(&mut self, max_p99_ms: Option<f64>, max_errors: Option<u64>) {
        if !self.converged {
            self.failures.push(format!(
                "not converged: {} clients differ from the server ({} rooms unchecked)",
                self.divergent_clients, self.unchecked_rooms
            ));
        }
        if let Some(max) = max_p99_ms
            && self.edit_to_peer_ms.p99 > max
        {
            self.failures.push(format!(
                "edit-to-peer p99 {:.2} ms > --max-p99-ms {max}",
                self.edit_to_peer_ms.p99
            ));
        }
        if let Some(max) = max_errors
            && self.errors_total > max
        {
            self.failures
                .push(format!("{} errors > --max-errors {max}", self.errors_total));
        }
    }

    pub fn human(&self) -> String {
        let typing = match &self.trace {
            Some(t) => format!("one replaying {t}"),
            None => format!(
                "{} typing at {}/s",
                self.typists_per_room, self.rate_per_typist
            ),
        };
        let mut s = format!(
            "load test: {} rooms × {} clients ({typing}) for {:.1} s against {}\n",
            self.rooms,
            self.clients_per_room,
            self.duration_secs,
            self.urls.join(", ")
        );
        s += &format!(
            "connections: {} of {} ({} failed, {} retried attempts); connect {}\n",
            self.connections,
            self.connections_requested,
            self.connect_failures,
            self.connect_retries,
            self.connect_ms.line()
        );
        s += &format!(
            "edits: {} sent, {} acked ({:.0}/s); {} pushes received\n",
            self.edits_sent, self.edits_acked, self.edits_per_sec, self.pushes_received
        );
        s += &format!(
            "cursors: {} moves sent, {} presence received; chat: {} sent, {} acked, {} received\n",
            self.cursors_sent,
            self.presence_received,
            self.chats_sent,
            self.chats_acked,
            self.chats_received
        );
        s += &format!("edit-to-peer: {}\n", self.edit_to_peer_ms.line());
        s += &format!("ack:          {}\n", self.ack_ms.line());
        s += &format!(
            "traffic: {} frames / {} bytes in, {} frames / {} bytes out\n",
            self.frames_in, self.bytes_in, self.frames_out, self.bytes_out
        );
        s += &format!(
            "errors: {} {:?}; disconnects {}; reconnects {}; resyncs {}\n",
            self.errors_total, self.errors, self.disconnects, self.reconnects, self.resyncs
        );
        for (why, n) in &self.disconnect_reasons {
            s += &format!("ended early: {n} × {why}\n");
        }
        if let Some(secs) = self.reconnect_storm_secs {
            s += &format!("reconnect storm: every client back and caught up in {secs:.2} s\n");
        }
        s += &format!(
            "converged: {} ({} divergent clients)\n",
            self.converged, self.divergent_clients
        );
        for f in &self.failures {
            s += &format!("FAILED: {f}\n");
        }
        s
    }
}
