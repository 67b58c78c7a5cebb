//! A request in flight: where and under which id to answer it, and the socket's
//! in-flight permit. Answering consumes the ticket; a ticket dropped unanswered (its
//! room died, the writer went away) answers `unavailable` itself, so every request
//! with an id gets exactly one `ok` or `error`.

use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;

use super::outbound::Outbound;
use crate::metrics::Metrics;
use crate::protocol::{ErrorCode, OkBody, RequestId, ServerMsg};

pub struct Ticket {
    out: Arc<Outbound>,
    id: Option<RequestId>,
    metrics: Arc<Metrics>,
    _permit: Option<OwnedSemaphorePermit>,
    answered: bool,
}

impl Ticket {
    pub fn new(
        out: Arc<Outbound>,
        id: Option<RequestId>,
        metrics: Arc<Metrics>,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Self {
        Ticket {
            out,
            id,
            metrics,
            _permit: permit,
            answered: false,
        }
    }

    pub fn id(&self) -> Option<RequestId> {
        self.id
    }

    pub fn out(&self) -> &Arc<Outbound> {
        &self.out
    }

    pub fn ok(mut self, body: OkBody) {
        self.answered = true;
        self.out.reply_msg(&ServerMsg::ok(self.id, body));
    }

    /// Closes the request without an answer (for frames sent without an id).
    pub fn silent(mut self) {
        self.answered = true;
    }

    /// Refuses for going too fast; the client may retry after `wait`.
    pub fn rate_limited(mut self, wait: std::time::Duration) {
        self.answered = true;
        self.metrics
            .protocol_errors
            .with_label_values(&[ErrorCode::RateLimited.as_str()])
            .inc();
        self.out.reply_msg(&ServerMsg::Error {
            id: self.id,
            code: ErrorCode::RateLimited,
            message: "slow down".into(),
            retry_after_ms: Some(wait.as_millis().max(1) as u64),
        });
    }

    pub fn error(mut self, code: ErrorCode, message: impl Into<String>) {
        self.answered = true;
        send_error(&self.out, &self.metrics, self.id, code, message.into());
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.answered {
            send_error(
                &self.out,
                &self.metrics,
                self.id,
                ErrorCode::Unavailable,
                "the request was interrupted; retry".into(),
            );
        }
    }
}

/// Sends an error frame and counts it by code.
pub fn send_error(
    out: &Outbound,
    metrics: &Metrics,
    id: Option<RequestId>,
    code: ErrorCode,
    message: String,
) {
    metrics
        .protocol_errors
        .with_label_values(&[code.as_str()])
        .inc();
    if code.is_client_fault() {
        out.note_client_error();
    }
    out.reply_msg(&ServerMsg::error(id, code, message));
}
