//! Table definitions and the schema version with forward migrations.
//!
//! Tuple keys sort element by element, so a room's documents, a document's edit
//! records and a room's chat each form one contiguous, ordered range.

use redb::{Database, ReadableDatabase, TableDefinition};

use super::StorageError;

/// Schema version written by this binary.
pub const SCHEMA_VERSION: u64 = 2;

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

/// user id -> [`crate::accounts::UserRecord`]
pub const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
/// lowercased username -> user id
pub const USER_NAMES: TableDefinition<&str, &str> = TableDefinition::new("user_names");
/// lowercased email -> user id
pub const USER_EMAILS: TableDefinition<&str, &str> = TableDefinition::new("user_emails");
/// (provider, subject) -> user id
pub const USER_LINKS: TableDefinition<(&str, &str), &str> = TableDefinition::new("user_links");
/// session id -> [`crate::accounts::SessionRecord`]
pub const LOGIN_SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("login_sessions");
/// (user id, session id) -> created ms: a user's sessions as one range.
pub const USER_SESSIONS: TableDefinition<(&str, &str), u64> = TableDefinition::new("user_sessions");
/// sequence -> [`crate::accounts::AuditRecord`]
pub const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");

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
    // Version 0 (a new file) to 1 created the room tables; 1 to 2 adds accounts.
    // Opening a table creates it if missing, so one step serves both.
    let write = db.begin_write()?;
    {
        write.open_table(ROOMS)?;
        write.open_table(DOC_SNAPSHOTS)?;
        write.open_table(DOC_EDITS)?;
        write.open_table(CHAT)?;
        write.open_table(USERS)?;
        write.open_table(USER_NAMES)?;
        write.open_table(USER_EMAILS)?;
        write.open_table(USER_LINKS)?;
        write.open_table(LOGIN_SESSIONS)?;
        write.open_table(USER_SESSIONS)?;
        write.open_table(AUDIT)?;
        let mut meta = write.open_table(META)?;
        meta.insert("schema_version", SCHEMA_VERSION)?;
    }
    write.commit()?;
    Ok(())
}
