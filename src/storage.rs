//! Durable state in one redb file: the schema, typed records, reads, and the
//! group-commit writer through which every write goes.

pub mod records;
pub mod schema;
pub mod store;
pub mod writer;

pub use records::{ChatRecord, DocSnapshot, EditRecord, RoomMeta};
pub use store::{LoadedDoc, Store};
pub use writer::{Delivery, StorageWriter, WriteOp, WriterMsg};

/// Storage failures. redb's many error types are folded into one with its message.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database: {0}")]
    Db(String),
    #[error("corrupt record in {table}: {message}")]
    Corrupt {
        table: &'static str,
        message: String,
    },
    #[error("database schema version {found} is newer than this binary's {supported}")]
    SchemaTooNew { found: u64, supported: u64 },
    #[error("storage writer is gone")]
    WriterGone,
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StorageError {
            fn from(e: $t) -> Self { StorageError::Db(e.to_string()) }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
