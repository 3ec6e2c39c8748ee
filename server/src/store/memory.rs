//! Session data in this process's memory (`SESSION_STORE_URL=memory:`):
//! for tests and throwaway runs, gone when the process ends and not shared
//! with other instances. Each method holds one lock for its whole step,
//! so every step is atomic, as in the other backends.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
};

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{SealedRow, Selector, SessionData, SessionRow, SessionStore, StoreFailure, VaultWrite};

#[derive(Debug, Default)]
struct Data {
    /// Grant → sealed tokens, their access token's expiry, when written.
    vault: HashMap<String, (SealedRow, Option<i64>, i64)>,
    /// Row id → signed-in session.
    rows: HashMap<String, SessionRow>,
    /// (issuer, jti) → remembered until.
    logout_tokens: HashMap<(String, String), i64>,
    /// Grant → (holder, lease ends).
    locks: HashMap<String, (String, i64)>,
}

/// Session data in memory; a cheap handle (clones share the data).
#[derive(Clone, Debug, Default)]
pub(crate) struct MemoryStore {
    data: Arc<Mutex<Data>>,
    records: tower_sessions::MemoryStore,
}

impl MemoryStore {
    fn data(&self) -> MutexGuard<'_, Data> {
        // A panic while holding the lock leaves no half-done step behind:
        // each step changes the maps last.
        self.data
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Ends the sessions `ids` names; their grants.
fn end(data: &mut Data, ids: Vec<String>) -> Vec<String> {
    ids.into_iter()
        .filter_map(|id| data.rows.remove(&id))
        .map(|row| row.grant_id)
        .collect()
}

#[async_trait]
impl SessionData for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn ping(&self) -> Result<(), StoreFailure> {
        Ok(())
    }

    fn session_store(&self) -> SessionStore {
        SessionStore::Memory(self.records.clone())
    }

    async fn vault_write(
        &self,
        grant: &str,
        row: &SealedRow,
        expires_at: Option<i64>,
        how: VaultWrite,
    ) -> Result<bool, StoreFailure> {
        let mut data = self.data();
        if how == VaultWrite::ReplaceOnly && !data.vault.contains_key(grant) {
            return Ok(false);
        }
        data.vault
            .insert(grant.to_owned(), (row.clone(), expires_at, now()));
        Ok(true)
    }

    async fn vault_get(&self, grant: &str) -> Result<Option<SealedRow>, StoreFailure> {
        Ok(self.data().vault.get(grant).map(|(row, ..)| row.clone()))
    }

    async fn vault_delete(&self, grant: &str) -> Result<(), StoreFailure> {
        self.data().vault.remove(grant);
        Ok(())
    }

    async fn vault_delete_orphans(&self, before: i64) -> Result<u64, StoreFailure> {
        let mut data = self.data();
        let Data { vault, rows, .. } = &mut *data;
        let size = vault.len();
        vault.retain(|grant, (_, _, written)| {
            *written >= before || rows.values().any(|row| &row.grant_id == grant)
        });
        Ok(u64::try_from(size - vault.len()).unwrap_or(u64::MAX))
    }

    async fn session_row_create(&self, row: &SessionRow) -> Result<(), StoreFailure> {
        self.data().rows.insert(row.id.clone(), row.clone());
        Ok(())
    }

    async fn session_row_get(&self, id: &str) -> Result<Option<SessionRow>, StoreFailure> {
        Ok(self.data().rows.get(id).cloned())
    }

    async fn session_row_touch(&self, id: &str, at: i64) -> Result<(), StoreFailure> {
        if let Some(row) = self.data().rows.get_mut(id) {
            row.last_seen_at = at;
        }
        Ok(())
    }

    async fn session_rows_of_user(&self, user_id: i64) -> Result<Vec<SessionRow>, StoreFailure> {
        let mut rows: Vec<SessionRow> = self
            .data()
            .rows
            .values()
            .filter(|row| row.user_id == user_id)
            .cloned()
            .collect();
        rows.sort_by(|a, b| b.last_seen_at.cmp(&a.last_seen_at).then(a.id.cmp(&b.id)));
        Ok(rows)
    }

    async fn session_row_end(&self, id: &str) -> Result<Option<String>, StoreFailure> {
        Ok(self.data().rows.remove(id).map(|row| row.grant_id))
    }

    async fn session_rows_end_matching(
        &self,
        selector: &Selector<'_>,
    ) -> Result<Vec<String>, StoreFailure> {
        let mut data = self.data();
        let ids = data
            .rows
            .values()
            .filter(|row| match selector {
                Selector::Sid { issuer, sid } => {
                    row.issuer == *issuer && row.provider_sid.as_deref() == Some(*sid)
                }
                Selector::Subject { issuer, subject } => {
                    row.issuer == *issuer && row.subject == *subject
                }
            })
            .map(|row| row.id.clone())
            .collect();
        Ok(end(&mut data, ids))
    }

    async fn session_rows_end_expired(
        &self,
        idle_before: i64,
        created_before: i64,
    ) -> Result<Vec<String>, StoreFailure> {
        let mut data = self.data();
        let ids = data
            .rows
            .values()
            .filter(|row| row.last_seen_at < idle_before || row.created_at < created_before)
            .map(|row| row.id.clone())
            .collect();
        Ok(end(&mut data, ids))
    }

    async fn session_rows_due_for_refresh(
        &self,
        expiring_before: i64,
        seen_after: i64,
    ) -> Result<Vec<SessionRow>, StoreFailure> {
        let data = self.data();
        Ok(data
            .rows
            .values()
            .filter(|row| row.last_seen_at > seen_after)
            .filter(|row| {
                data.vault
                    .get(&row.grant_id)
                    .and_then(|(_, expires_at, _)| *expires_at)
                    .is_some_and(|at| at < expiring_before)
            })
            .cloned()
            .collect())
    }

    async fn first_use_of_logout_token(
        &self,
        issuer: &str,
        jti: &str,
        remember_until: i64,
    ) -> Result<bool, StoreFailure> {
        let key = (issuer.to_owned(), jti.to_owned());
        let mut data = self.data();
        if data.logout_tokens.contains_key(&key) {
            return Ok(false);
        }
        data.logout_tokens.insert(key, remember_until);
        Ok(true)
    }

    async fn forget_old_logout_tokens(&self, now: i64) -> Result<(), StoreFailure> {
        self.data()
            .logout_tokens
            .retain(|_, remember_until| *remember_until >= now);
        Ok(())
    }

    async fn try_lock(
        &self,
        grant: &str,
        holder: &str,
        now: i64,
        lease_secs: i64,
    ) -> Result<bool, StoreFailure> {
        let mut data = self.data();
        if data
            .locks
            .get(grant)
            .is_some_and(|(_, until)| *until >= now)
        {
            return Ok(false);
        }
        data.locks
            .insert(grant.to_owned(), (holder.to_owned(), now + lease_secs));
        Ok(true)
    }

    async fn renew_lock(
        &self,
        grant: &str,
        holder: &str,
        now: i64,
        lease_secs: i64,
    ) -> Result<bool, StoreFailure> {
        match self.data().locks.get_mut(grant) {
            Some((held_by, until)) if held_by == holder => {
                *until = now + lease_secs;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn unlock(&self, grant: &str, holder: &str) -> Result<(), StoreFailure> {
        let mut data = self.data();
        if data
            .locks
            .get(grant)
            .is_some_and(|(held_by, _)| held_by == holder)
        {
            data.locks.remove(grant);
        }
        Ok(())
    }
}
