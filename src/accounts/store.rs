//! Account records in redb. Every change runs in one write transaction on a blocking
//! thread (read-modify-write is atomic: two refreshes of one token cannot both win),
//! committed with redb's immediate durability before anyone is answered.

use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, WriteTransaction};

use super::AccountsError;
use super::records::{AuditRecord, SessionRecord, UserRecord};
use crate::storage::records::{decode, encode};
use crate::storage::schema::{
    AUDIT, LOGIN_SESSIONS, USER_EMAILS, USER_LINKS, USER_NAMES, USER_SESSIONS, USERS,
};
use crate::storage::{StorageError, Store};

fn db_err(e: impl std::fmt::Display) -> AccountsError {
    AccountsError::Storage(StorageError::Db(e.to_string()))
}

#[derive(Clone)]
pub struct AccountStore {
    db: Arc<Database>,
}

/// A write transaction with typed account operations.
pub struct Tx<'a>(&'a WriteTransaction);

impl AccountStore {
    pub fn new(store: &Store) -> Self {
        AccountStore {
            db: store.db().clone(),
        }
    }

    /// Runs `f` in one write transaction, committed only if it returns `Ok`.
    pub async fn write<T, F>(&self, f: F) -> Result<T, AccountsError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, AccountsError> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_write().map_err(db_err)?;
            let out = f(&mut Tx(&txn));
            match out {
                Ok(v) => {
                    txn.commit().map_err(db_err)?;
                    Ok(v)
                }
                Err(e) => {
                    let _ = txn.abort();
                    Err(e)
                }
            }
        })
        .await
        .map_err(|e| AccountsError::Internal(format!("write task: {e}")))?
    }

    /// Runs `f` with the database on a blocking thread, for reads.
    pub async fn read<T, F>(&self, f: F) -> Result<T, AccountsError>
    where
        T: Send + 'static,
        F: FnOnce(&Reader) -> Result<T, AccountsError> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_read().map_err(db_err)?;
            f(&Reader(txn))
        })
        .await
        .map_err(|e| AccountsError::Internal(format!("read task: {e}")))?
    }

    /// The synchronous form of [`Self::write`], for the command line.
    pub fn write_now<T>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, AccountsError>,
    ) -> Result<T, AccountsError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let v = f(&mut Tx(&txn))?;
        txn.commit().map_err(db_err)?;
        Ok(v)
    }
}

/// A read transaction with typed account lookups.
pub struct Reader(redb::ReadTransaction);

fn get_rec<T: serde::de::DeserializeOwned>(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
    table: &'static str,
    key: &str,
) -> Result<Option<T>, AccountsError> {
    match t.get(key).map_err(db_err)? {
        Some(v) => Ok(Some(decode(table, v.value())?)),
        None => Ok(None),
    }
}

fn get_id(
    t: &impl ReadableTable<&'static str, &'static str>,
    key: &str,
) -> Result<Option<String>, AccountsError> {
    Ok(t.get(key).map_err(db_err)?.map(|v| v.value().to_owned()))
}

/// The ids in a user's range of the (user, session) index.
fn session_ids(
    idx: &impl ReadableTable<(&'static str, &'static str), u64>,
    user: &str,
) -> Result<Vec<String>, AccountsError> {
    let mut out = Vec::new();
    for entry in idx.range((user, "")..).map_err(db_err)? {
        let (k, _) = entry.map_err(db_err)?;
        let (u, sid) = k.value();
        if u != user {
            break;
        }
        out.push(sid.to_owned());
    }
    Ok(out)
}

impl Reader {
    pub fn user(&self, id: &str) -> Result<Option<UserRecord>, AccountsError> {
        let t = self.0.open_table(USERS).map_err(db_err)?;
        get_rec(&t, "users", id)
    }

    /// A user by username or email (case-insensitive).
    pub fn user_by_login(&self, login: &str) -> Result<Option<UserRecord>, AccountsError> {
        let key = login.to_lowercase();
        let table = if key.contains('@') {
            USER_EMAILS
        } else {
            USER_NAMES
        };
        let t = self.0.open_table(table).map_err(db_err)?;
        match get_id(&t, &key)? {
            Some(id) => self.user(&id),
            None => Ok(None),
        }
    }

    pub fn session(&self, sid: &str) -> Result<Option<SessionRecord>, AccountsError> {
        let t = self.0.open_table(LOGIN_SESSIONS).map_err(db_err)?;
        get_rec(&t, "login_sessions", sid)
    }

    /// A user's sessions, oldest first.
    pub fn sessions_of(&self, user: &str) -> Result<Vec<SessionRecord>, AccountsError> {
        let idx = self.0.open_table(USER_SESSIONS).map_err(db_err)?;
        let t = self.0.open_table(LOGIN_SESSIONS).map_err(db_err)?;
        let mut out = Vec::new();
        for sid in session_ids(&idx, user)? {
            if let Some(s) = get_rec(&t, "login_sessions", &sid)? {
                out.push(s);
            }
        }
        out.sort_by_key(|s: &SessionRecord| s.created_ms);
        Ok(out)
    }

    /// Users ordered by id, after `after`, at most `limit`.
    pub fn users(&self, after: &str, limit: usize) -> Result<Vec<UserRecord>, AccountsError> {
        let t = self.0.open_table(USERS).map_err(db_err)?;
        let mut out = Vec::new();
        for entry in t.range(after..).map_err(db_err)? {
            let (k, v) = entry.map_err(db_err)?;
            if k.value() == after {
                continue;
            }
            out.push(decode("users", v.value())?);
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }

    /// Audit events with sequence < `before`, newest first; and whether more exist.
    pub fn audit_page(
        &self,
        before: u64,
        limit: usize,
    ) -> Result<(Vec<(u64, AuditRecord)>, bool), AccountsError> {
        let t = self.0.open_table(AUDIT).map_err(db_err)?;
        let mut out = Vec::new();
        for entry in t.range(..before).map_err(db_err)?.rev() {
            let (k, v) = entry.map_err(db_err)?;
            if out.len() == limit {
                return Ok((out, true));
            }
            out.push((k.value(), decode("audit", v.value())?));
        }
        Ok((out, false))
    }
}

impl Tx<'_> {
    pub fn user(&self, id: &str) -> Result<Option<UserRecord>, AccountsError> {
        let t = self.0.open_table(USERS).map_err(db_err)?;
        get_rec(&t, "users", id)
    }

    pub fn user_id_by_name(&self, username: &str) -> Result<Option<String>, AccountsError> {
        let t = self.0.open_table(USER_NAMES).map_err(db_err)?;
        get_id(&t, &username.to_lowercase())
    }

    pub fn user_id_by_email(&self, email: &str) -> Result<Option<String>, AccountsError> {
        let t = self.0.open_table(USER_EMAILS).map_err(db_err)?;
        get_id(&t, &email.to_lowercase())
    }

    pub fn user_id_by_link(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<String>, AccountsError> {
        let t = self.0.open_table(USER_LINKS).map_err(db_err)?;
        let id = t.get((provider, subject)).map_err(db_err)?;
        Ok(id.map(|v| v.value().to_owned()))
    }

    /// Inserts a new user, refusing a taken username or email.
    pub fn create_user(&mut self, user: &UserRecord) -> Result<(), AccountsError> {
        if self.user_id_by_name(&user.username)?.is_some() {
            return Err(AccountsError::Taken("username"));
        }
        if self.user_id_by_email(&user.email)?.is_some() {
            return Err(AccountsError::Taken("email"));
        }
        let mut names = self.0.open_table(USER_NAMES).map_err(db_err)?;
        names
            .insert(user.username.to_lowercase().as_str(), user.id.as_str())
            .map_err(db_err)?;
        let mut emails = self.0.open_table(USER_EMAILS).map_err(db_err)?;
        emails
            .insert(user.email.to_lowercase().as_str(), user.id.as_str())
            .map_err(db_err)?;
        drop((names, emails));
        for (p, s) in &user.linked {
            self.link(p, s, &user.id)?;
        }
        self.put_user(user)
    }

    /// Writes a user record (its username and email never change).
    pub fn put_user(&mut self, user: &UserRecord) -> Result<(), AccountsError> {
        let mut t = self.0.open_table(USERS).map_err(db_err)?;
        t.insert(user.id.as_str(), encode(user).as_slice())
            .map_err(db_err)?;
        Ok(())
    }

    pub fn link(&mut self, provider: &str, subject: &str, user: &str) -> Result<(), AccountsError> {
        let mut t = self.0.open_table(USER_LINKS).map_err(db_err)?;
        t.insert((provider, subject), user).map_err(db_err)?;
        Ok(())
    }

    pub fn session(&self, sid: &str) -> Result<Option<SessionRecord>, AccountsError> {
        let t = self.0.open_table(LOGIN_SESSIONS).map_err(db_err)?;
        get_rec(&t, "login_sessions", sid)
    }

    pub fn put_session(&mut self, s: &SessionRecord) -> Result<(), AccountsError> {
        let mut t = self.0.open_table(LOGIN_SESSIONS).map_err(db_err)?;
        t.insert(s.id.as_str(), encode(s).as_slice())
            .map_err(db_err)?;
        let mut idx = self.0.open_table(USER_SESSIONS).map_err(db_err)?;
        idx.insert((s.user.as_str(), s.id.as_str()), s.created_ms)
            .map_err(db_err)?;
        Ok(())
    }

    /// Session ids of a user.
    pub fn session_ids_of(&self, user: &str) -> Result<Vec<String>, AccountsError> {
        let idx = self.0.open_table(USER_SESSIONS).map_err(db_err)?;
        session_ids(&idx, user)
    }

    /// Removes a session record and its index entry.
    pub fn delete_session(&mut self, user: &str, sid: &str) -> Result<(), AccountsError> {
        let mut t = self.0.open_table(LOGIN_SESSIONS).map_err(db_err)?;
        t.remove(sid).map_err(db_err)?;
        let mut idx = self.0.open_table(USER_SESSIONS).map_err(db_err)?;
        idx.remove((user, sid)).map_err(db_err)?;
        Ok(())
    }

    /// Appends an audit event in the same transaction as the change it describes.
    pub fn audit(&mut self, rec: &AuditRecord) -> Result<(), AccountsError> {
        let mut t = self.0.open_table(AUDIT).map_err(db_err)?;
        let next = match t.last().map_err(db_err)? {
            Some((k, _)) => k.value() + 1,
            None => 1,
        };
        t.insert(next, encode(rec).as_slice()).map_err(db_err)?;
        Ok(())
    }
}
