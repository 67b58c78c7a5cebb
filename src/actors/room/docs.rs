//! A room's documents: opening (loading or creating), editing, and compaction.

use std::sync::Arc;

use ractor::ActorProcessingErr;
use tokio::time::Instant;

use super::members::{MemberHandle, fan_out};
use super::{DocEntry, RestRequest, RoomState};
use crate::actors::outbound::Frame;
use crate::actors::ticket::Ticket;
use crate::collab::{DocError, Document, EditLimits};
use crate::protocol::validate::check_path;
use crate::protocol::{EditOp, EditPush, ErrorCode, OkBody, Role, Version};
use crate::storage::{WriteOp, WriterMsg, records};

impl From<&DocError> for ErrorCode {
    fn from(e: &DocError) -> Self {
        match e {
            DocError::BadVersion { .. } => ErrorCode::BadVersion,
            DocError::VersionTooOld { .. } => ErrorCode::VersionTooOld,
            DocError::OutOfRange { .. } => ErrorCode::OutOfRange,
            DocError::TooLarge(_) => ErrorCode::TooLarge,
            DocError::NoEffect => ErrorCode::BadField,
            DocError::Corrupt(_) => ErrorCode::Internal,
        }
    }
}

impl RoomState {
    pub(super) async fn open(
        &mut self,
        member: &MemberHandle,
        role: Role,
        doc: String,
        version: Option<Version>,
        ticket: Ticket,
    ) -> Result<(), ActorProcessingErr> {
        if let Err(e) = check_path(&doc, self.shared.settings.limits.max_path_chars) {
            ticket.error(ErrorCode::BadField, e);
            return Ok(());
        }
        let mut writes = Vec::new();
        let key = match self.docs.get_key_value(doc.as_str()) {
            Some((k, _)) => k.clone(),
            None => match self.load_or_create(&doc, role, &mut writes).await {
                Ok(k) => k,
                Err((code, msg)) => {
                    ticket.error(code, msg);
                    return Ok(());
                }
            },
        };
        let entry = &self.docs[&key];
        let current = entry.doc.version();
        let body = match version {
            Some(v) if v > current => {
                let msg = format!("version {v} is newer than the document's {current}");
                ticket.error(ErrorCode::BadVersion, msg);
                return Ok(());
            }
            Some(from) => match entry.doc.catch_up(from) {
                Some(ops) => OkBody::DocCatchUp {
                    room: self.id.to_string(),
                    doc: doc.clone(),
                    from,
                    version: current,
                    ops,
                },
                None => self.doc_text(&key),
            },
            None => self.doc_text(&key),
        };
        self.members.with(|m| {
            if let Some(m) = m.get_mut(&member.session) {
                m.docs.insert(key.clone());
            }
        });
        // After commit: the text may include edits whose commit is still in flight.
        self.after_commit(writes, ticket, move |ticket| ticket.ok(body));
        Ok(())
    }

    fn doc_text(&self, key: &Arc<str>) -> OkBody {
        let entry = &self.docs[key];
        OkBody::DocText {
            room: self.id.to_string(),
            doc: key.to_string(),
            version: entry.doc.version(),
            text: entry.doc.text(),
        }
    }

    async fn load_or_create(
        &mut self,
        doc: &str,
        role: Role,
        writes: &mut Vec<WriteOp>,
    ) -> Result<Arc<str>, (ErrorCode, String)> {
        let settings = &self.shared.settings;
        let window = settings.rooms.history_window;
        let Some(meta) = self.meta.as_mut() else {
            return Err((ErrorCode::RoomNotFound, "no such room".into()));
        };
        let document = if meta.docs.iter().any(|d| d == doc) {
            let stored = self
                .shared
                .store
                .doc(self.id.to_string(), doc.to_owned())
                .await
                .map_err(|e| (ErrorCode::Internal, format!("loading the document: {e}")))?;
            Document::load(stored, window).map_err(|e| {
                tracing::error!(room = %self.id, doc, error = %e, "document failed to load");
                (
                    ErrorCode::Internal,
                    "the document could not be loaded".to_string(),
                )
            })?
        } else {
            if !role.can_edit() {
                return Err((
                    ErrorCode::Forbidden,
                    "a viewer cannot create documents".into(),
                ));
            }
            if meta.docs.len() >= settings.limits.max_docs_per_room {
                return Err((
                    ErrorCode::TooManyDocs,
                    format!(
                        "a room holds at most {} documents",
                        settings.limits.max_docs_per_room
                    ),
                ));
            }
            meta.docs.push(doc.to_owned());
            writes.push(WriteOp::PutRoom {
                room: self.id.clone(),
                meta: records::encode(meta),
            });
            Document::new(window)
        };
        let key: Arc<str> = Arc::from(doc);
        self.docs.insert(
            key.clone(),
            DocEntry {
                doc: document,
                tail: 0,
            },
        );
        Ok(key)
    }

    /// A socket member's edit of a document it has open.
    pub(super) fn edit(
        &mut self,
        member: &MemberHandle,
        doc: &str,
        base: Version,
        ops: &[EditOp],
        ticket: Ticket,
    ) {
        let is_open = self
            .members
            .with(|m| m.get(&member.session).is_some_and(|m| m.docs.contains(doc)));
        if !is_open {
            return ticket.error(ErrorCode::DocNotOpen, "open the document first");
        }
        self.apply_edit(&member.session, doc, base, ops, ticket);
    }

    /// Applies an edit by `author` (a socket session, or a REST caller's agent),
    /// acknowledges it once durable and pushes it to the document's other readers.
    pub(super) fn apply_edit(
        &mut self,
        author: &Arc<str>,
        doc: &str,
        base: Version,
        ops: &[EditOp],
        ticket: Ticket,
    ) {
        let received = Instant::now();
        #[cfg(feature = "test-hooks")]
        if self.shared.hooks.drop_this_edit() {
            // A lying server: the ack claims a version the edit never became.
            let version = self.docs.get(doc).map_or(0, |e| e.doc.version()) + 1;
            return ticket.ok(OkBody::Edited { version, ops: None });
        }
        let limits = &self.shared.settings.limits;
        if ops.len() > limits.max_ops_per_edit {
            let msg = format!("at most {} ops per edit", limits.max_ops_per_edit);
            return ticket.error(ErrorCode::TooLarge, msg);
        }
        let edit_limits = EditLimits {
            max_doc_chars: limits.max_doc_chars,
            max_insert_chars: limits.max_insert_chars,
        };
        let snapshot_every = self.shared.settings.rooms.snapshot_every;
        let key = match self.docs.get_key_value(doc) {
            Some((key, _)) => key.clone(),
            None => return ticket.error(ErrorCode::DocNotOpen, "open the document first"),
        };
        let entry = self.docs.get_mut(&key).expect("key just found");
        let applied = match entry.doc.apply(author, base, ops, edit_limits) {
            Ok(a) => a,
            Err(e) => return ticket.error(ErrorCode::from(&e), e.to_string()),
        };
        self.shared.metrics.edits_applied.inc();
        entry.tail += 1;
        let version = applied.version;
        let mut writes = vec![WriteOp::AppendEdit {
            room: self.id.clone(),
            doc: key.clone(),
            version,
            record: records::encode(&applied.record),
        }];
        // Compact when the tail reaches a quarter of the history, so the cost of
        // snapshots stays proportional to the edits (amortised O(1) per edit).
        if entry.tail >= snapshot_every.max((version / 4) as usize) {
            writes.push(WriteOp::PutSnapshot {
                room: self.id.clone(),
                doc: key.clone(),
                version,
                snapshot: records::encode(&entry.doc.snapshot()),
            });
            entry.tail = 0;
        }
        let sent = ops
            .iter()
            .filter(|op| op.delete > 0 || !op.insert.is_empty());
        let transformed = !applied.ops.iter().eq(sent);
        let push = EditPush {
            room: &self.id,
            doc: &key,
            version,
            ops: &applied.ops,
            by: author,
        };
        let broadcast: Frame = serde_json::to_string(&push)
            .expect("an edit push always serializes")
            .into();
        let ack = OkBody::Edited {
            version,
            ops: transformed.then_some(applied.ops),
        };
        let peers = self.members.audience(Some(doc), Some(author));
        let metrics = self.shared.metrics.clone();
        self.after_commit(writes, ticket, move |ticket| {
            ticket.ok(ack);
            fan_out(&peers, &broadcast, &metrics);
            metrics
                .ack_latency_seconds
                .observe(received.elapsed().as_secs_f64());
        });
    }

    /// REST: read or edit a document as `user`, with the role the room gives them.
    pub(super) async fn rest(&mut self, user: &str, req: RestRequest, ticket: Ticket) {
        let Some(meta) = &self.meta else {
            return ticket.error(ErrorCode::RoomNotFound, "no such room");
        };
        let role = meta.role_of(user).unwrap_or(meta.default_role);
        if !role.can_join() {
            return ticket.error(ErrorCode::RoomNotFound, "no such room");
        }
        let doc = match &req {
            RestRequest::Read { doc } | RestRequest::Edit { doc, .. } => doc.clone(),
        };
        if matches!(req, RestRequest::Edit { .. }) && !role.can_edit() {
            let msg = format!("a {} cannot edit", role.as_str());
            return ticket.error(ErrorCode::Forbidden, msg);
        }
        if !self.docs.contains_key(doc.as_str()) {
            if !meta.docs.contains(&doc) {
                return ticket.error(ErrorCode::NotFound, "no such document");
            }
            let mut writes = Vec::new();
            if let Err((code, msg)) = self.load_or_create(&doc, role, &mut writes).await {
                return ticket.error(code, msg);
            }
        }
        match req {
            RestRequest::Read { .. } => {
                let key = self
                    .docs
                    .get_key_value(doc.as_str())
                    .map(|(k, _)| k.clone());
                let body = self.doc_text(&key.expect("just loaded"));
                self.after_commit(Vec::new(), ticket, move |t| t.ok(body));
            }
            RestRequest::Edit { base, ops, .. } => {
                // Each REST edit is its own author: it has no pipelined history.
                let author: Arc<str> = format!("rest:{}", uuid::Uuid::new_v4().simple()).into();
                self.apply_edit(&author, &doc, base, &ops, ticket);
            }
        }
    }

    /// Snapshots every document with edits since its last snapshot.
    pub(crate) fn snapshot_dirty(&mut self) {
        let mut writes = Vec::new();
        for (key, entry) in self.docs.iter_mut().filter(|(_, e)| e.tail > 0) {
            writes.push(WriteOp::PutSnapshot {
                room: self.id.clone(),
                doc: key.clone(),
                version: entry.doc.version(),
                snapshot: records::encode(&entry.doc.snapshot()),
            });
            entry.tail = 0;
        }
        if !writes.is_empty() {
            let _ = self.shared.writer.cast(WriterMsg::Write {
                ops: writes,
                then: None,
            });
        }
    }
}
