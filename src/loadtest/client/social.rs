//! What a simulated editor does besides typing: moving its cursor (coalesced by the
//! server into `presence` for the room) and chatting now and then, each on its own
//! ticker so that thousands of clients do not act in step.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use super::{Client, DOC};
use crate::loadtest::text::Typist;

impl Client {
    /// Moves the cursor: a typist's caret is where it last typed; a reader's lands
    /// anywhere in the text.
    pub(super) async fn move_cursor(&mut self, typist: &mut Typist) -> Result<(), String> {
        let len = self.doc.len();
        let at = if self.plan.rate.is_some() {
            typist.cursor().min(len)
        } else {
            typist.rng().below(len as u64 + 1) as usize
        };
        let frame = json!({"type": "cursor", "room": self.plan.room, "doc": DOC,
            "anchor": at, "head": at});
        self.stats
            .counters
            .cursors_sent
            .fetch_add(1, Ordering::Relaxed);
        self.send(frame).await
    }

    pub(super) async fn chat(&mut self, typist: &mut Typist) -> Result<(), String> {
        let id = self.take_id();
        let n = typist.rng().below(1000);
        let frame = json!({"type": "chat", "id": id, "room": self.plan.room,
            "text": format!("load test message {n}: does this look right?")});
        self.chats_in_flight.push_back(id);
        self.stats
            .counters
            .chats_sent
            .fetch_add(1, Ordering::Relaxed);
        self.send(frame).await
    }
}

/// A ticker with `period` (or one that never fires in practice, for `None`) whose
/// first tick falls at a random point of the period, so that clients do not act in
/// step; ticks missed while the client was busy are not made up in a burst.
pub(super) fn every(period: Option<Duration>, typist: &mut Typist) -> tokio::time::Interval {
    let offset = period.map_or(Duration::ZERO, |p| p.mul_f64(typist.rng().unit()));
    let mut tick = tokio::time::interval_at(
        Instant::now() + offset,
        period.unwrap_or(Duration::from_secs(3600)),
    );
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}
