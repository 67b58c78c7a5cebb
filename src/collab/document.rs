//! One collaborative text document: a diamond-types op log and its merged text.
//!
//! Clients are thin: they send positional edits against the last version they saw
//! (plus their own edits sent since). The document merges each edit at exactly that
//! causal point, so concurrent edits interleave by the CRDT's rules, and returns the
//! edit transformed to apply to the previous version: what every peer applies, in
//! version order. Edits from a caught-up client (the usual case) take a fast path that
//! neither checks out old states nor transforms anything. Knows nothing of sockets.

use std::collections::HashMap;

use diamond_types::AgentId;
use diamond_types::list::encoding::ENCODE_FULL;
use diamond_types::list::operation::OpKind;
use diamond_types::list::{Branch, OpLog};

use super::version_window::{Frontier, VersionWindow};
use crate::protocol::EditOp;
use crate::storage::{DocSnapshot, EditRecord, LoadedDoc};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocError {
    #[error("version {base} is newer than the document's {current}")]
    BadVersion { base: u64, current: u64 },
    #[error("version {base} is older than the history kept (from {first}); reopen the document")]
    VersionTooOld { base: u64, first: u64 },
    #[error("op {index} reaches past the end of the text ({len} characters)")]
    OutOfRange { index: usize, len: usize },
    #[error("{0}")]
    TooLarge(String),
    #[error("the edit changes nothing")]
    NoEffect,
    #[error("stored document is inconsistent: {0}")]
    Corrupt(String),
}

/// Size limits applied to each edit.
#[derive(Debug, Clone, Copy)]
pub struct EditLimits {
    pub max_doc_chars: usize,
    pub max_insert_chars: usize,
}

/// The outcome of an accepted edit.
#[derive(Debug)]
pub struct Applied {
    pub version: u64,
    /// The edit as it applies to version `version - 1`.
    pub ops: Vec<EditOp>,
    /// What to store so the edit replays identically.
    pub record: EditRecord,
}

pub struct Document {
    oplog: OpLog,
    branch: Branch,
    window: VersionWindow,
    agents: HashMap<String, AgentId>,
    /// Each agent's latest edit. An edit sent before its author saw its previous one
    /// acknowledged builds on that previous one too.
    /// Not persisted: agents are sockets, and a reloaded document has no live sockets
    /// with edits in flight (a room restarted under live sockets closes their
    /// documents, so their next edits follow a fresh `open`).
    last_own: HashMap<AgentId, OwnEdit>,
}

/// An agent's latest edit: its version, its last op-log time, and (when applied live)
/// the view it was made in.
#[derive(Debug, Clone, Copy)]
struct OwnEdit {
    version: u64,
    lv: usize,
    view: Option<OwnView>,
}

/// The `base` an edit was made against and the length of its author's text after it.
#[derive(Debug, Clone, Copy)]
struct OwnView {
    base: u64,
    len_after: usize,
}

impl Document {
    pub fn new(history_window: usize) -> Self {
        Document {
            oplog: OpLog::new(),
            branch: Branch::new(),
            window: VersionWindow::new(history_window),
            agents: HashMap::new(),
            last_own: HashMap::new(),
        }
    }

    /// Rebuilds a document from its snapshot and the edits stored after it.
    pub fn load(stored: LoadedDoc, history_window: usize) -> Result<Self, DocError> {
        let mut doc = match stored.snapshot {
            None => Document::new(history_window),
            Some(snap) => {
                let oplog = OpLog::load_from(&snap.oplog)
                    .map_err(|e| DocError::Corrupt(format!("snapshot: {e:?}")))?;
                let window =
                    VersionWindow::from_parts(snap.window_first, snap.window, history_window)
                        .ok_or_else(|| DocError::Corrupt("empty version window".into()))?;
                let tip = window.get(snap.version).map(|p| p.frontier.as_slice());
                if window.latest() != snap.version || tip != Some(oplog.local_version_ref()) {
                    return Err(DocError::Corrupt("snapshot window does not match".into()));
                }
                let branch = oplog.checkout_tip();
                Document {
                    oplog,
                    branch,
                    window,
                    agents: HashMap::new(),
                    last_own: HashMap::new(),
                }
            }
        };
        for rec in &stored.edits {
            if rec.version != doc.version() + 1 {
                return Err(DocError::Corrupt(format!(
                    "edit {} follows version {}",
                    rec.version,
                    doc.version()
                )));
            }
            doc.replay(rec)?;
        }
        Ok(doc)
    }

    pub fn version(&self) -> u64 {
        self.window.latest()
    }

    pub fn len_chars(&self) -> usize {
        self.branch.len()
    }

    pub fn text(&self) -> String {
        self.branch.content().to_string()
    }

    fn agent(&mut self, name: &str) -> AgentId {
        if let Some(id) = self.agents.get(name) {
            return *id;
        }
        let id = self.oplog.get_or_create_agent_id(name);
        self.agents.insert(name.to_owned(), id);
        id
    }

    /// Validates and merges an edit by `agent` made against version `base`.
    pub fn apply(
        &mut self,
        agent: &str,
        base: u64,
        ops: &[EditOp],
        limits: EditLimits,
    ) -> Result<Applied, DocError> {
        let current = self.version();
        if base > current {
            return Err(DocError::BadVersion { base, current });
        }
        let at_base = self.window.get(base).ok_or(DocError::VersionTooOld {
            base,
            first: self.window.first(),
        })?;
        let (base_frontier, base_len) = (at_base.frontier.clone(), at_base.len);
        let agent_id = self.agent(agent);
        // The author's view: version `base`, plus its own edits the server sequenced
        // after `base` (sent before it saw them acknowledged).
        let (parents, known_len) = match self.last_own.get(&agent_id) {
            Some(own) if own.version > base => {
                let parents = self.oplog.version_union(&base_frontier, &[own.lv]);
                // Seen nothing new since that edit: its view is that edit's view.
                let len = own.view.filter(|v| v.base == base).map(|v| v.len_after);
                (Frontier::from_slice(&parents), len)
            }
            _ => (base_frontier, Some(base_len)),
        };
        let linear = parents.as_slice() == self.branch.local_version_ref();
        let view_len = match known_len {
            _ if linear => self.branch.len(),
            Some(len) => len,
            // Pipelined edits after newer remote ones: rebuild that view (O(document);
            // rare: the author must have sent before an ack while seeing others' edits).
            None => self.oplog.checkout(&parents).len(),
        };
        // Tests check the tracked length against the rebuilt view.
        debug_assert!(linear || view_len == self.oplog.checkout(&parents).len());
        let len_after = validate(ops, view_len, self.branch.len(), limits)?;
        let record = EditRecord {
            version: current + 1,
            agent: agent.to_owned(),
            parents: parents.to_vec(),
            ops: ops.to_vec(),
        };
        let ops = self.integrate(agent_id, &parents, ops, linear);
        if let Some(own) = self.last_own.get_mut(&agent_id) {
            own.view = Some(OwnView { base, len_after });
        }
        Ok(Applied {
            version: current + 1,
            ops,
            record,
        })
    }

    /// Replays a stored edit exactly as it was first merged.
    fn replay(&mut self, rec: &EditRecord) -> Result<(), DocError> {
        let agent_id = self.agent(&rec.agent);
        let linear = rec.parents.as_slice() == self.branch.local_version_ref();
        if linear {
            let limits = EditLimits {
                max_doc_chars: usize::MAX,
                max_insert_chars: usize::MAX,
            };
            validate(&rec.ops, self.branch.len(), self.branch.len(), limits)
                .map_err(|e| DocError::Corrupt(format!("edit {}: {e}", rec.version)))?;
        } else if rec.parents.iter().any(|&p| p >= self.oplog.len()) {
            return Err(DocError::Corrupt(format!(
                "edit {} has parents from the future",
                rec.version
            )));
        }
        self.integrate(agent_id, &rec.parents, &rec.ops, linear);
        Ok(())
    }

    fn integrate(
        &mut self,
        agent: AgentId,
        parents: &[usize],
        ops: &[EditOp],
        linear: bool,
    ) -> Vec<EditOp> {
        let xf = if linear {
            // Parents are the current text: apply straight to the branch, no transform.
            let mut last = None;
            for op in ops {
                if op.delete > 0 {
                    last = Some(self.branch.delete_without_content(
                        &mut self.oplog,
                        agent,
                        op.pos..op.pos + op.delete,
                    ));
                }
                if !op.insert.is_empty() {
                    last = Some(
                        self.branch
                            .insert(&mut self.oplog, agent, op.pos, &op.insert),
                    );
                }
            }
            if let Some(lv) = last {
                self.remember_own(agent, lv);
            }
            ops.iter()
                .filter(|op| op.delete > 0 || !op.insert.is_empty())
                .cloned()
                .collect()
        } else {
            let before = self.branch.local_version();
            let mut at = Frontier::from_slice(parents);
            for op in ops {
                if op.delete > 0 {
                    let lv = self
                        .oplog
                        .add_delete_at(agent, &at, op.pos..op.pos + op.delete);
                    at = Frontier::from_slice(&[lv]);
                }
                if !op.insert.is_empty() {
                    let lv = self.oplog.add_insert_at(agent, &at, op.pos, &op.insert);
                    at = Frontier::from_slice(&[lv]);
                }
            }
            if let Some(&lv) = at.first() {
                self.remember_own(agent, lv);
            }
            let xf = xf_ops(&self.oplog, &before, self.oplog.local_version_ref());
            let tip = self.oplog.local_version();
            self.branch.merge(&self.oplog, &tip);
            xf
        };
        let frontier = Frontier::from_slice(self.oplog.local_version_ref());
        self.window.push(frontier, self.branch.len());
        xf
    }

    fn remember_own(&mut self, agent: AgentId, lv: usize) {
        let own = OwnEdit {
            version: self.version() + 1,
            lv,
            view: None,
        };
        self.last_own.insert(agent, own);
    }

    /// The ops that bring text at `from` to the current version, if `from` is still in
    /// the history window.
    pub fn catch_up(&self, from: u64) -> Option<Vec<EditOp>> {
        let frontier = &self.window.get(from)?.frontier;
        if from == self.version() {
            return Some(Vec::new());
        }
        let ops = xf_ops(&self.oplog, frontier, self.oplog.local_version_ref());
        Some(ops)
    }

    /// The whole document as a snapshot at the current version; forgets agents' last
    /// edits that fell out of the history window.
    pub fn snapshot(&mut self) -> DocSnapshot {
        let first = self.window.first();
        self.last_own.retain(|_, own| own.version >= first);
        let (window_first, window) = self.window.to_parts();
        DocSnapshot {
            version: self.version(),
            window_first,
            window,
            oplog: self.oplog.encode(ENCODE_FULL),
        }
    }
}

/// The transformed ops that take the text at `from` to the text at `to`.
fn xf_ops(oplog: &OpLog, from: &[usize], to: &[usize]) -> Vec<EditOp> {
    oplog
        .iter_xf_operations_from(from, to)
        .filter_map(|(_, op)| op)
        .map(|op| {
            let pos = op.loc.span.start;
            match op.kind {
                OpKind::Del => EditOp {
                    pos,
                    delete: op.loc.span.end - op.loc.span.start,
                    insert: String::new(),
                },
                OpKind::Ins => {
                    let content = op.content.as_deref().unwrap_or_default();
                    // Reversed runs (typing backwards) are stored in typing order.
                    let insert = if op.loc.fwd {
                        content.to_owned()
                    } else {
                        content.chars().rev().collect()
                    };
                    EditOp {
                        pos,
                        delete: 0,
                        insert,
                    }
                }
            }
        })
        .collect()
}

/// Checks every op against the text its author saw before anything is applied, so an
/// edit is accepted or refused as a whole.
fn validate(
    ops: &[EditOp],
    view_len: usize,
    doc_len: usize,
    limits: EditLimits,
) -> Result<usize, DocError> {
    let mut len = view_len;
    let mut inserted = 0usize;
    let mut deleted = 0usize;
    let mut effective = false;
    for (index, op) in ops.iter().enumerate() {
        if op.pos > len || op.delete > len - op.pos {
            return Err(DocError::OutOfRange { index, len });
        }
        let ins = op.insert.chars().count();
        if ins > limits.max_insert_chars {
            return Err(DocError::TooLarge(format!(
                "op {index} inserts {ins} characters; at most {} per edit",
                limits.max_insert_chars
            )));
        }
        inserted = inserted.saturating_add(ins);
        deleted = deleted.saturating_add(op.delete);
        effective |= ins > 0 || op.delete > 0;
        len = len - op.delete + ins;
    }
    if !effective {
        return Err(DocError::NoEffect);
    }
    if inserted > limits.max_insert_chars {
        return Err(DocError::TooLarge(format!(
            "the edit inserts {inserted} characters; at most {} per edit",
            limits.max_insert_chars
        )));
    }
    // Deletes count against the current text too (a replace near the limit is fine);
    // a delete that a concurrent edit already made can overshoot by one edit at most.
    if doc_len.saturating_add(inserted).saturating_sub(deleted) > limits.max_doc_chars {
        return Err(DocError::TooLarge(format!(
            "the document would exceed {} characters",
            limits.max_doc_chars
        )));
    }
    Ok(len)
}

#[cfg(test)]
mod tests;
