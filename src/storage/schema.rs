//! Table definitions and the schema version with forward migrations.
//!
//! Tuple keys sort element by element, so a room's documents, a document's edit
//! records and a room's chat each form one contiguous, ordered range.

use redb::{Database, ReadableDatabase, TableDefinition};

use super::StorageError;

/// Schema version written by this binary.
pub const SCHEMA_VERSION: u64 = 1;

pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// room id -> [`super::RoomMeta`]
pub const ROOMS: TableDefinition<&str, &[u8]> = TableDefinition::new("rooms");
/// (room, doc) -> [`super::DocSnapshot`]
pub const DOC_SNAPSHOTS: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("doc_snapshots");
/// (room, doc, first version) -> the [`super::EditRecord`]s one commit appended after
/// the snapshot, concatenated.
pub const DOC_EDITS: TableDefinition<(&str, &str, u64), &[u8]> = TableDefinition::new("doc_edits");
/// (room, seq) -> [`super::ChatRecord`]
pub const CHAT: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("chat");

/// Creates missing tables and runs forward migrations; refuses a newer schema.
pub fn migrate(db: &Database) -> Result<(), StorageError> {
    let found = {
        let read = db.begin_read()?;
        match read.open_table(META) {
            Ok(t) => t.get("schema_version")?.map(|v| v.value()),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(e.into()),
        }
    };
    if let Some(found) = found {
        if found > SCHEMA_VERSION {
            return Err(StorageError::SchemaTooNew {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found == SCHEMA_VERSION {
            return Ok(());
        }
    }
    // Version 0 (a new file) to 1: create every table. Later versions add steps here.
    let write = db.begin_write()?;
    {
        write.open_table(ROOMS)?;
        write.open_table(DOC_SNAPSHOTS)?;
        write.open_table(DOC_EDITS)?;
        write.open_table(CHAT)?;
        let mut meta = write.open_table(META)?;
        meta.insert("schema_version", SCHEMA_VERSION)?;
    }
    write.commit()?;
    Ok(())
}
