//! Opening the database and typed reads. Reads run on a blocking thread; callers that
//! must see every write queued before them pass through the writer's barrier first.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase};

use super::StorageError;
use super::records::{ChatRecord, DocSnapshot, EditRecord, RoomMeta, decode, decode_prefix};
use super::schema::{self, CHAT, DOC_EDITS, DOC_SNAPSHOTS, ROOMS};

/// A document as stored: its latest snapshot, if any, and the edits after it.
#[derive(Debug, Default)]
pub struct LoadedDoc {
    pub snapshot: Option<DocSnapshot>,
    pub edits: Vec<EditRecord>,
}

/// The database handle shared by readers and the writer.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
}

impl Store {
    /// Opens (or creates) the database file, creating its folder, and migrates it.
    pub fn open(path: &Path, cache_bytes: usize) -> Result<Self, StorageError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let db = Database::builder()
            .set_cache_size(cache_bytes)
            .create(path)?;
        schema::migrate(&db)?;
        Ok(Store { db: Arc::new(db) })
    }

    pub fn db(&self) -> &Arc<Database> {
        &self.db
    }

    /// Runs a read on the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, StorageError> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| StorageError::Db(format!("read task: {e}")))?
    }

    /// Whether a read transaction can be opened (readiness probe).
    pub async fn check(&self) -> Result<(), StorageError> {
        self.read(|db| {
            let r = db.begin_read()?;
            r.open_table(schema::META)?;
            Ok(())
        })
        .await
    }

    pub async fn room(&self, room: String) -> Result<Option<RoomMeta>, StorageError> {
        self.read(move |db| {
            let r = db.begin_read()?;
            let t = r.open_table(ROOMS)?;
            match t.get(room.as_str())? {
                Some(v) => Ok(Some(decode("rooms", v.value())?)),
                None => Ok(None),
            }
        })
        .await
    }

    pub async fn doc(&self, room: String, doc: String) -> Result<LoadedDoc, StorageError> {
        self.read(move |db| {
            let r = db.begin_read()?;
            let snaps = r.open_table(DOC_SNAPSHOTS)?;
            let snapshot: Option<DocSnapshot> = match snaps.get((room.as_str(), doc.as_str()))? {
                Some(v) => Some(decode("doc_snapshots", v.value())?),
                None => None,
            };
            let after = snapshot.as_ref().map_or(0, |s| s.version);
            let edits_t = r.open_table(DOC_EDITS)?;
            let mut edits = Vec::new();
            let (room, doc) = (room.as_str(), doc.as_str());
            // Each value is a chunk: the records one commit appended, concatenated.
            for entry in edits_t.range((room, doc, 0)..=(room, doc, u64::MAX))? {
                let (_, v) = entry?;
                let mut bytes = v.value();
                while !bytes.is_empty() {
                    let (rec, rest) = decode_prefix::<EditRecord>("doc_edits", bytes)?;
                    if rec.version > after {
                        edits.push(rec);
                    }
                    bytes = rest;
                }
            }
            Ok(LoadedDoc { snapshot, edits })
        })
        .await
    }

    /// The highest chat sequence number stored for `room`, 0 when none.
    pub async fn last_chat_seq(&self, room: String) -> Result<u64, StorageError> {
        self.read(move |db| {
            let r = db.begin_read()?;
            let t = r.open_table(CHAT)?;
            let last = t
                .range((room.as_str(), 0)..=(room.as_str(), u64::MAX))?
                .next_back();
            match last {
                Some(entry) => Ok(entry?.0.value().1),
                None => Ok(0),
            }
        })
        .await
    }

    /// Up to `limit` chat messages with seq < `before` (or the newest), newest first;
    /// the flag says whether older ones exist.
    pub async fn chat_page(
        &self,
        room: String,
        before: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<ChatRecord>, bool), StorageError> {
        self.read(move |db| {
            let r = db.begin_read()?;
            let t = r.open_table(CHAT)?;
            let end = before.unwrap_or(u64::MAX);
            let mut out = Vec::with_capacity(limit.min(256));
            let mut more = false;
            for entry in t.range((room.as_str(), 0)..(room.as_str(), end))?.rev() {
                let (_, v) = entry?;
                if out.len() == limit {
                    more = true;
                    break;
                }
                out.push(decode::<ChatRecord>("chat", v.value())?);
            }
            Ok((out, more))
        })
        .await
    }
}
