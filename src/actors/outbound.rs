//! A socket's bounded outbound queue.
//!
//! Rooms and the storage writer push frames here without ever waiting; the socket's
//! writer task drains it. Answers to the socket's own requests (`reply`) are always
//! queued: their number is bounded by the socket's in-flight limit. Pushes (other
//! people's edits, presence, chat) are bounded by `cap`: when a slow reader lets them
//! pile up past it, every queued push is dropped, the socket is marked lagging and
//! further pushes are refused until it has drained its queue; then it receives one
//! `resync` and catches up by version. Memory stays bounded and nothing is lost
//! silently.

use std::collections::VecDeque;

use axum::extract::ws::Utf8Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::protocol::{ServerMsg, encode_server};

/// One encoded text frame; clones share the bytes.
pub type Frame = Utf8Bytes;

/// What the socket writer should do next.
#[derive(Debug)]
pub enum Next {
    Send(Frame),
    Close(u16, String),
}

#[derive(Debug)]
enum Item {
    Push(Frame),
    Reply(Frame),
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Item>,
    pushes: usize,
    lagging: bool,
    close: Option<(u16, String)>,
    closed: bool,
    errors_window_start: Option<tokio::time::Instant>,
    errors_in_window: u32,
}

#[derive(Debug)]
pub struct Outbound {
    state: Mutex<State>,
    notify: Notify,
    cap: usize,
    max_errors_per_minute: u32,
}

/// Outcome of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// Refused: the socket is lagging (and was just marked so, if `newly`).
    Lagging {
        newly: bool,
    },
    /// The socket is gone.
    Closed,
}

impl Outbound {
    pub fn new(cap: usize, max_errors_per_minute: u32) -> Self {
        Outbound {
            state: Mutex::new(State::default()),
            notify: Notify::new(),
            cap,
            max_errors_per_minute,
        }
    }

    /// Counts an error that was the client's fault; past the per-minute budget the
    /// socket is closed with 1008 after the error frames already queued.
    pub fn note_client_error(&self) {
        let now = tokio::time::Instant::now();
        let mut s = self.state.lock();
        let fresh = s
            .errors_window_start
            .is_none_or(|t| now.duration_since(t) >= std::time::Duration::from_secs(60));
        if fresh {
            s.errors_window_start = Some(now);
            s.errors_in_window = 0;
        }
        s.errors_in_window += 1;
        if s.errors_in_window > self.max_errors_per_minute && s.close.is_none() {
            s.close = Some((
                crate::protocol::CloseCode::PolicyViolation.code(),
                "too many errors".into(),
            ));
            drop(s);
            self.notify.notify_one();
        }
    }

    /// Queues a push (something the socket did not ask for).
    pub fn push(&self, frame: Frame) -> Pushed {
        let mut s = self.state.lock();
        if s.closed {
            return Pushed::Closed;
        }
        if s.lagging {
            return Pushed::Lagging { newly: false };
        }
        if s.pushes >= self.cap {
            s.queue.retain(|i| matches!(i, Item::Reply(_)));
            s.pushes = 0;
            s.lagging = true;
            drop(s);
            self.notify.notify_one();
            return Pushed::Lagging { newly: true };
        }
        s.queue.push_back(Item::Push(frame));
        s.pushes += 1;
        drop(s);
        self.notify.notify_one();
        Pushed::Queued
    }

    /// Queues an answer to one of the socket's own requests.
    pub fn reply(&self, frame: Frame) {
        let mut s = self.state.lock();
        if s.closed {
            return;
        }
        s.queue.push_back(Item::Reply(frame));
        drop(s);
        self.notify.notify_one();
    }

    /// Encodes and queues an answer.
    pub fn reply_msg(&self, msg: &ServerMsg) {
        self.reply(Frame::from(encode_server(msg)));
    }

    /// Asks the writer to send a close frame after what is queued, then stop.
    pub fn close(&self, code: u16, reason: impl Into<String>) {
        let mut s = self.state.lock();
        if s.close.is_none() {
            s.close = Some((code, reason.into()));
        }
        drop(s);
        self.notify.notify_one();
    }

    /// Marks the socket gone: later pushes and replies are discarded.
    pub fn mark_closed(&self) {
        let mut s = self.state.lock();
        s.closed = true;
        s.queue.clear();
        s.pushes = 0;
        drop(s);
        self.notify.notify_one();
    }

    /// Whether a close has been requested (or the socket is gone).
    pub fn is_closing(&self) -> bool {
        let s = self.state.lock();
        s.closed || s.close.is_some()
    }

    pub fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    /// Frames currently queued (for tests and metrics).
    pub fn queued(&self) -> usize {
        self.state.lock().queue.len()
    }

    /// The next queued frame, without waiting (lets the writer batch its syscalls).
    pub fn try_next(&self) -> Option<Frame> {
        let mut s = self.state.lock();
        if s.closed {
            return None;
        }
        match s.queue.pop_front()? {
            Item::Push(f) => {
                s.pushes -= 1;
                Some(f)
            }
            Item::Reply(f) => Some(f),
        }
    }

    /// Waits for the next frame to write, or the close to send.
    pub async fn next(&self) -> Option<Next> {
        loop {
            {
                let mut s = self.state.lock();
                if s.closed {
                    return None;
                }
                if let Some(item) = s.queue.pop_front() {
                    return Some(Next::Send(match item {
                        Item::Push(f) => {
                            s.pushes -= 1;
                            f
                        }
                        Item::Reply(f) => f,
                    }));
                }
                if s.lagging {
                    s.lagging = false;
                    return Some(Next::Send(Frame::from(encode_server(&ServerMsg::Resync {
                        room: None,
                        reason: "lagging".into(),
                    }))));
                }
                if let Some((code, reason)) = s.close.take() {
                    s.closed = true;
                    return Some(Next::Close(code, reason));
                }
            }
            self.notify.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn overflow_drops_pushes_keeps_replies_then_resyncs() {
        let out = Outbound::new(2, 100);
        assert_eq!(out.push("a".into()), Pushed::Queued);
        out.reply("r1".into());
        assert_eq!(out.push("b".into()), Pushed::Queued);
        assert_eq!(out.push("c".into()), Pushed::Lagging { newly: true });
        assert_eq!(out.push("d".into()), Pushed::Lagging { newly: false });
        out.reply("r2".into());
        let mut got = Vec::new();
        while out.queued() > 0 {
            match out.next().await.unwrap() {
                Next::Send(f) => got.push(f.to_string()),
                Next::Close(..) => unreachable!(),
            }
        }
        assert_eq!(got, vec!["r1", "r2"]);
        match out.next().await.unwrap() {
            Next::Send(f) => assert!(f.contains("resync")),
            Next::Close(..) => panic!("expected resync"),
        }
        assert_eq!(out.push("e".into()), Pushed::Queued);
    }
}
