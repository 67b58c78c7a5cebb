//! The caller's login sessions: listing them, logging out, revoking one or all
//! others (durable first, then their sockets close), and keeping each user under
//! the session cap.

use std::net::IpAddr;

use super::AccountsError;
use super::audit::{self, kind};
use super::now_ms;
use super::records::SessionRecord;
use super::service::{Accounts, Caller};
use super::store::Tx;

impl Accounts {
    /// Ends the caller's session.
    pub async fn logout(&self, caller: &Caller, ip: IpAddr) -> Result<(), AccountsError> {
        self.revoke_sessions(
            &caller.user,
            vec![caller.sid.clone()],
            kind::LOGOUT,
            Some(ip),
        )
        .await
        .map(|_| ())
    }

    /// The caller's live sessions.
    pub async fn sessions(&self, caller: &Caller) -> Result<Vec<SessionRecord>, AccountsError> {
        let user = caller.user.clone();
        let now = now_ms();
        let all = self.store.read(move |r| r.sessions_of(&user)).await?;
        Ok(all.into_iter().filter(|s| s.live(now)).collect())
    }

    /// Revokes one of the caller's sessions.
    pub async fn revoke_session(
        &self,
        caller: &Caller,
        sid: &str,
        ip: IpAddr,
    ) -> Result<(), AccountsError> {
        let n = self
            .revoke_sessions(
                &caller.user,
                vec![sid.to_owned()],
                kind::SESSION_REVOKED,
                Some(ip),
            )
            .await?;
        if n == 0 {
            return Err(AccountsError::NotFound);
        }
        Ok(())
    }

    /// Revokes every session of the caller but the current one; returns how many.
    pub async fn revoke_others(&self, caller: &Caller, ip: IpAddr) -> Result<usize, AccountsError> {
        let user = caller.user.clone();
        let ids = self.store.read(move |r| r.sessions_of(&user)).await?;
        let now = now_ms();
        let others: Vec<String> = ids
            .into_iter()
            .filter(|s| s.live(now) && s.id != caller.sid)
            .map(|s| s.id)
            .collect();
        self.revoke_sessions(&caller.user, others, kind::SESSION_REVOKED, Some(ip))
            .await
    }

    /// Marks the given live sessions of `user` revoked (durably, with an audit
    /// event each), then closes their sockets. Returns how many were revoked.
    pub(super) async fn revoke_sessions(
        &self,
        user: &str,
        sids: Vec<String>,
        event: &'static str,
        ip: Option<IpAddr>,
    ) -> Result<usize, AccountsError> {
        let user = user.to_owned();
        let now = now_ms();
        let revoked = self
            .store
            .write(move |tx| {
                let mut done = Vec::new();
                for sid in sids {
                    let Some(mut s) = tx.session(&sid)? else {
                        continue;
                    };
                    if s.user != user || !s.live(now) {
                        continue;
                    }
                    s.revoked = Some(event.to_owned());
                    tx.put_session(&s)?;
                    tx.audit(&audit::event(
                        event,
                        Some(&user),
                        ip,
                        format!("session {sid}"),
                    ))?;
                    done.push(sid);
                }
                Ok(done)
            })
            .await?;
        self.live.revoke(&revoked, event);
        Ok(revoked.len())
    }
}

/// Deletes the user's ended sessions and, while more than `keep` live ones remain,
/// revokes the least recently seen. Returns the ids revoked.
pub(super) fn prune_sessions(
    tx: &mut Tx<'_>,
    user: &str,
    keep: usize,
) -> Result<Vec<String>, AccountsError> {
    let now = now_ms();
    let mut live = Vec::new();
    for sid in tx.session_ids_of(user)? {
        match tx.session(&sid)? {
            Some(s) if s.live(now) => live.push(s),
            _ => tx.delete_session(user, &sid)?,
        }
    }
    live.sort_by_key(|s| s.last_seen_ms);
    let excess = live.len().saturating_sub(keep);
    let mut evicted = Vec::new();
    for mut s in live.into_iter().take(excess) {
        s.revoked = Some("session limit".into());
        tx.put_session(&s)?;
        evicted.push(s.id);
    }
    Ok(evicted)
}
