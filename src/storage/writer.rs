//! The group-commit storage writer: the one actor that writes to redb.
//!
//! Rooms cast [`WriterMsg::Write`] with the records to store and a [`Delivery`] to run
//! once they are durable (it pushes acks and broadcasts to sockets). The first write
//! after a commit schedules a `Flush` behind everything already in the mailbox, so a
//! commit folds in every write that arrived while the previous one was syncing: one
//! `Durability::Immediate` transaction, one fsync, many edits. Deliveries run in commit
//! order, so every socket sees frames in the order the rooms produced them.

use std::collections::HashMap;
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::time::Instant;

use super::schema::{CHAT, DOC_EDITS, DOC_SNAPSHOTS, ROOMS};
use super::{StorageError, Store};
use crate::metrics::Metrics;

/// Runs after the writes it came with are committed, or with the error if they failed.
pub type Delivery = Box<dyn FnOnce(Result<(), Arc<StorageError>>) + Send>;

/// One record to write.
#[derive(Debug)]
pub enum WriteOp {
    PutRoom {
        room: Arc<str>,
        meta: Vec<u8>,
    },
    AppendEdit {
        room: Arc<str>,
        doc: Arc<str>,
        version: u64,
        record: Vec<u8>,
    },
    /// Store a snapshot at `version` and drop the edit records it folds in.
    PutSnapshot {
        room: Arc<str>,
        doc: Arc<str>,
        version: u64,
        snapshot: Vec<u8>,
    },
    AppendChat {
        room: Arc<str>,
        seq: u64,
        record: Vec<u8>,
    },
}

pub enum WriterMsg {
    /// Store `ops` (possibly none: then `then` runs after everything queued before it).
    Write {
        ops: Vec<WriteOp>,
        then: Option<Delivery>,
    },
    /// Internal: commit what is pending.
    Flush,
}

impl WriterMsg {
    /// A write whose delivery signals `tx` once everything queued before it is durable.
    pub fn barrier(tx: tokio::sync::oneshot::Sender<Result<(), Arc<StorageError>>>) -> Self {
        WriterMsg::Write {
            ops: Vec::new(),
            then: Some(Box::new(move |r| {
                let _ = tx.send(r);
            })),
        }
    }
}

pub struct StorageWriter;

pub struct WriterArgs {
    pub store: Store,
    pub max_batch: usize,
    pub metrics: Arc<Metrics>,
}

pub struct WriterState {
    store: Store,
    max_batch: usize,
    metrics: Arc<Metrics>,
    pending_ops: Vec<WriteOp>,
    pending_deliveries: Vec<Delivery>,
    flush_scheduled: bool,
}

impl Actor for StorageWriter {
    type Msg = WriterMsg;
    type State = WriterState;
    type Arguments = WriterArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: WriterArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(WriterState {
            store: args.store,
            max_batch: args.max_batch,
            metrics: args.metrics,
            pending_ops: Vec::new(),
            pending_deliveries: Vec::new(),
            flush_scheduled: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: WriterMsg,
        state: &mut WriterState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            WriterMsg::Write { ops, then } => {
                state.pending_ops.extend(ops);
                if let Some(d) = then {
                    state.pending_deliveries.push(d);
                }
                if state.pending_ops.len() >= state.max_batch {
                    flush(state).await;
                } else if !state.flush_scheduled {
                    state.flush_scheduled = true;
                    myself.cast(WriterMsg::Flush)?;
                }
            }
            WriterMsg::Flush => {
                state.flush_scheduled = false;
                flush(state).await;
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut WriterState,
    ) -> Result<(), ActorProcessingErr> {
        // Drain on an orderly stop so nothing queued is lost.
        flush(state).await;
        Ok(())
    }
}

async fn flush(state: &mut WriterState) {
    if state.pending_ops.is_empty() && state.pending_deliveries.is_empty() {
        return;
    }
    let ops = std::mem::take(&mut state.pending_ops);
    let deliveries = std::mem::take(&mut state.pending_deliveries);
    let n = ops.len();
    let started = Instant::now();
    let result = if ops.is_empty() {
        Ok(())
    } else {
        let store = state.store.clone();
        match tokio::task::spawn_blocking(move || commit(&store, ops)).await {
            Ok(r) => r,
            Err(e) => Err(StorageError::Db(format!("commit task: {e}"))),
        }
    };
    if n > 0 {
        state
            .metrics
            .storage_commit_seconds
            .observe(started.elapsed().as_secs_f64());
        state.metrics.storage_commit_batch.observe(n as f64);
    }
    let result = result.map_err(|e| {
        tracing::error!(error = %e, writes = n, "storage commit failed");
        state.metrics.storage_commit_failures.inc();
        Arc::new(e)
    });
    for d in deliveries {
        d(result.clone());
    }
}

/// Edit records of one document gathered in a transaction: its first version and the
/// concatenated encodings.
type Chunks = HashMap<(Arc<str>, Arc<str>), (u64, Vec<u8>)>;

/// Writes one batch in one transaction. A document's edit records in the batch are
/// stored as one value keyed by the first version (a chunk): one B-tree insert per
/// document per commit instead of one per edit. A snapshot of a document makes its
/// chunk so far redundant (every record in it is at or below the snapshot's version),
/// so the chunk is dropped and the stored ones are deleted with it.
///
/// Blocking (it waits for the fsync): the actor runs it on the blocking pool. Public
/// so the storage benchmark measures exactly this commit.
pub fn commit(store: &Store, ops: Vec<WriteOp>) -> Result<(), StorageError> {
    let txn = store.db().begin_write()?;
    {
        let mut rooms = txn.open_table(ROOMS)?;
        let mut edits = txn.open_table(DOC_EDITS)?;
        let mut snaps = txn.open_table(DOC_SNAPSHOTS)?;
        let mut chat = txn.open_table(CHAT)?;
        let mut chunks: Chunks = HashMap::new();
        for op in ops {
            match op {
                WriteOp::PutRoom { room, meta } => {
                    rooms.insert(&*room, meta.as_slice())?;
                }
                WriteOp::AppendEdit {
                    room,
                    doc,
                    version,
                    record,
                } => {
                    let chunk = chunks.entry((room, doc)).or_insert((version, Vec::new()));
                    chunk.1.extend_from_slice(&record);
                }
                WriteOp::PutSnapshot {
                    room,
                    doc,
                    version,
                    snapshot,
                } => {
                    chunks.remove(&(room.clone(), doc.clone()));
                    snaps.insert((&*room, &*doc), snapshot.as_slice())?;
                    edits.retain_in((&*room, &*doc, 0)..=(&*room, &*doc, version), |_, _| false)?;
                }
                WriteOp::AppendChat { room, seq, record } => {
                    chat.insert((&*room, seq), record.as_slice())?;
                }
            }
        }
        for ((room, doc), (first, bytes)) in chunks {
            edits.insert((&*room, &*doc, first), bytes.as_slice())?;
        }
    }
    txn.commit()?;
    Ok(())
}
