//! The session data in Redis: sessions, the token vault, signed-in
//! sessions' rows, refresh locks and seen logout tokens, for many
//! instances sharing one Redis. Every key starts with a prefix
//! (`SESSION_STORE_PREFIX`), so apps can share a Redis. Multi-key changes
//! run as Lua scripts, which Redis executes atomically.

use std::collections::HashMap;

use async_trait::async_trait;
use redis::{AsyncCommands, Script, aio::ConnectionManager};
use tower_sessions::{
    SessionStore as Store,
    session::{Id, Record},
    session_store,
};

use super::{SealedRow, Selector, SessionData, SessionRow, SessionStore, StoreFailure, VaultWrite};

#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// A vault entry's fields as HMGET returns them.
type SealedFields = (
    Option<String>,
    Option<String>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
);

/// Deletes a signed-in session's row and its index entries; returns its
/// grant.
const END_SESSION_ROW: &str = r"
local key = KEYS[1]
local fields = redis.call('HMGET', key, 'grant_id', 'user_id', 'issuer', 'subject', 'provider_sid')
if not fields[1] then return false end
local p = ARGV[1]
local id = ARGV[2]
redis.call('DEL', key)
redis.call('SREM', p .. 'logins:user:' .. fields[2], id)
redis.call('SREM', p .. 'logins:sub:' .. fields[3] .. '|' .. fields[4], id)
if fields[5] and fields[5] ~= '' then
  redis.call('SREM', p .. 'logins:sid:' .. fields[3] .. '|' .. fields[5], id)
end
redis.call('ZREM', p .. 'logins:seen', id)
redis.call('ZREM', p .. 'logins:created', id)
return fields[1]
";

/// Deletes a lock only if `holder` still holds it.
const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// The vault entry's fields set only if the entry is there.
const VAULT_REPLACE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'provider', ARGV[1], 'key_id', ARGV[2], 'nonce', ARGV[3], 'ciphertext', ARGV[4])
if ARGV[5] == '' then redis.call('ZREM', KEYS[2], ARGV[6]) else redis.call('ZADD', KEYS[2], ARGV[5], ARGV[6]) end
return 1
";

const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 0
";

impl RedisStore {
    pub async fn open(url: &str, prefix: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(std::time::Duration::from_secs(5)))
            .set_response_timeout(Some(std::time::Duration::from_secs(5)))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client, config).await?;
        Ok(Self {
            conn,
            prefix: format!("{prefix}:"),
        })
    }

    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    pub async fn ping(&self) -> redis::RedisResult<()> {
        redis::cmd("PING")
            .query_async::<String>(&mut self.conn())
            .await
            .map(drop)
    }

    // ---- token vault

    /// Stores the entry of `grant`; with `keep_for` (seconds), the entry
    /// expires after that long, so one no session points to does not stay.
    pub async fn vault_put(
        &self,
        grant: &str,
        row: &SealedRow,
        expires_at: Option<i64>,
        keep_for: Option<u64>,
    ) -> redis::RedisResult<()> {
        let key = self.key(&format!("vault:{grant}"));
        let mut pipe = redis::pipe();
        pipe.atomic()
            .del(&key)
            .hset_multiple(
                &key,
                &[
                    ("provider", row.provider.as_bytes()),
                    ("key_id", row.key_id.as_bytes()),
                    ("nonce", row.nonce.as_slice()),
                    ("ciphertext", row.ciphertext.as_slice()),
                ],
            )
            .ignore();
        if let Some(secs) = keep_for {
            pipe.expire(&key, i64::try_from(secs).unwrap_or(i64::MAX))
                .ignore();
        }
        let expiring = self.key("vault:expiring");
        match expires_at {
            Some(at) => pipe.zadd(&expiring, grant, at).ignore(),
            None => pipe.zrem(&expiring, grant).ignore(),
        };
        pipe.query_async::<()>(&mut self.conn()).await
    }

    /// Replaces the entry of `grant` if there is one; whether there was.
    pub async fn vault_replace(
        &self,
        grant: &str,
        row: &SealedRow,
        expires_at: Option<i64>,
    ) -> redis::RedisResult<bool> {
        Script::new(VAULT_REPLACE)
            .key(self.key(&format!("vault:{grant}")))
            .key(self.key("vault:expiring"))
            .arg(row.provider.as_bytes())
            .arg(row.key_id.as_bytes())
            .arg(row.nonce.as_slice())
            .arg(row.ciphertext.as_slice())
            .arg(expires_at.map(|at| at.to_string()).unwrap_or_default())
            .arg(grant)
            .invoke_async::<i64>(&mut self.conn())
            .await
            .map(|replaced| replaced == 1)
    }

    pub async fn vault_get(&self, grant: &str) -> redis::RedisResult<Option<SealedRow>> {
        let key = self.key(&format!("vault:{grant}"));
        let (provider, key_id, nonce, ciphertext): SealedFields = redis::cmd("HMGET")
            .arg(&key)
            .arg(&["provider", "key_id", "nonce", "ciphertext"])
            .query_async(&mut self.conn())
            .await?;
        Ok(match (provider, key_id, nonce, ciphertext) {
            (Some(provider), Some(key_id), Some(nonce), Some(ciphertext)) => Some(SealedRow {
                provider,
                key_id,
                nonce,
                ciphertext,
            }),
            _ => None,
        })
    }

    pub async fn vault_delete(&self, grant: &str) -> redis::RedisResult<()> {
        redis::pipe()
            .atomic()
            .del(self.key(&format!("vault:{grant}")))
            .ignore()
            .zrem(self.key("vault:expiring"), grant)
            .ignore()
            .query_async::<()>(&mut self.conn())
            .await
    }

    // ---- signed-in sessions

    pub async fn session_row_create(&self, row: &SessionRow) -> redis::RedisResult<()> {
        let key = self.key(&format!("login:{}", row.id));
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset_multiple(
                &key,
                &[
                    ("user_id", row.user_id.to_string()),
                    ("provider", row.provider.clone()),
                    ("issuer", row.issuer.clone()),
                    ("subject", row.subject.clone()),
                    ("provider_sid", row.provider_sid.clone().unwrap_or_default()),
                    ("grant_id", row.grant_id.clone()),
                    ("user_agent", row.user_agent.clone()),
                    ("created_at", row.created_at.to_string()),
                    ("last_seen_at", row.last_seen_at.to_string()),
                ],
            )
            .ignore()
            .sadd(self.key(&format!("logins:user:{}", row.user_id)), &row.id)
            .ignore()
            .sadd(
                self.key(&format!("logins:sub:{}|{}", row.issuer, row.subject)),
                &row.id,
            )
            .ignore()
            .zadd(self.key("logins:seen"), &row.id, row.last_seen_at)
            .ignore()
            .zadd(self.key("logins:created"), &row.id, row.created_at)
            .ignore();
        if let Some(sid) = &row.provider_sid {
            pipe.sadd(
                self.key(&format!("logins:sid:{}|{sid}", row.issuer)),
                &row.id,
            )
            .ignore();
        }
        pipe.query_async::<()>(&mut self.conn()).await
    }

    pub async fn session_row_get(&self, id: &str) -> redis::RedisResult<Option<SessionRow>> {
        let fields: HashMap<String, String> = self
            .conn()
            .hgetall(self.key(&format!("login:{id}")))
            .await?;
        Ok(session_row_from(id, &fields))
    }

    pub async fn session_row_touch(&self, id: &str, at: i64) -> redis::RedisResult<()> {
        let key = self.key(&format!("login:{id}"));
        let exists: bool = self.conn().exists(&key).await?;
        if !exists {
            return Ok(());
        }
        redis::pipe()
            .atomic()
            .hset(&key, "last_seen_at", at.to_string())
            .ignore()
            .zadd(self.key("logins:seen"), id, at)
            .ignore()
            .query_async::<()>(&mut self.conn())
            .await
    }

    pub async fn session_rows_of_user(&self, user_id: i64) -> redis::RedisResult<Vec<SessionRow>> {
        let ids: Vec<String> = self
            .conn()
            .smembers(self.key(&format!("logins:user:{user_id}")))
            .await?;
        let mut rows = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(row) = self.session_row_get(&id).await? {
                rows.push(row);
            }
        }
        rows.sort_by(|a, b| b.last_seen_at.cmp(&a.last_seen_at).then(a.id.cmp(&b.id)));
        Ok(rows)
    }

    pub async fn session_row_end(&self, id: &str) -> redis::RedisResult<Option<String>> {
        Script::new(END_SESSION_ROW)
            .key(self.key(&format!("login:{id}")))
            .arg(&self.prefix)
            .arg(id)
            .invoke_async::<Option<String>>(&mut self.conn())
            .await
    }

    async fn end_all(&self, ids: Vec<String>) -> redis::RedisResult<Vec<String>> {
        let mut grants = Vec::new();
        for id in ids {
            if let Some(grant) = self.session_row_end(&id).await? {
                grants.push(grant);
            }
        }
        Ok(grants)
    }

    pub async fn session_rows_end_matching(
        &self,
        selector: &Selector<'_>,
    ) -> redis::RedisResult<Vec<String>> {
        let set = match selector {
            Selector::Sid { issuer, sid } => format!("logins:sid:{issuer}|{sid}"),
            Selector::Subject { issuer, subject } => format!("logins:sub:{issuer}|{subject}"),
        };
        let ids: Vec<String> = self.conn().smembers(self.key(&set)).await?;
        self.end_all(ids).await
    }

    pub async fn session_rows_end_expired(
        &self,
        idle_before: i64,
        created_before: i64,
    ) -> redis::RedisResult<Vec<String>> {
        let mut ids: Vec<String> = self
            .conn()
            .zrangebyscore(self.key("logins:seen"), "-inf", format!("({idle_before}"))
            .await?;
        let old: Vec<String> = self
            .conn()
            .zrangebyscore(
                self.key("logins:created"),
                "-inf",
                format!("({created_before}"),
            )
            .await?;
        ids.extend(old);
        ids.sort();
        ids.dedup();
        self.end_all(ids).await
    }

    pub async fn session_rows_due_for_refresh(
        &self,
        expiring_before: i64,
        seen_after: i64,
    ) -> redis::RedisResult<Vec<SessionRow>> {
        let ids: Vec<String> = self
            .conn()
            .zrangebyscore(self.key("logins:seen"), format!("({seen_after}"), "+inf")
            .await?;
        let mut due = Vec::new();
        for id in ids {
            let Some(row) = self.session_row_get(&id).await? else {
                continue;
            };
            let expires: Option<i64> = self
                .conn()
                .zscore(self.key("vault:expiring"), &row.grant_id)
                .await?;
            if expires.is_some_and(|at| at < expiring_before) {
                due.push(row);
            }
        }
        Ok(due)
    }

    // ---- refresh locks and logout tokens

    pub async fn try_lock(
        &self,
        grant: &str,
        holder: &str,
        lease_secs: u64,
    ) -> redis::RedisResult<bool> {
        let taken: Option<String> = redis::cmd("SET")
            .arg(self.key(&format!("lock:{grant}")))
            .arg(holder)
            .arg("NX")
            .arg("EX")
            .arg(lease_secs)
            .query_async(&mut self.conn())
            .await?;
        Ok(taken.is_some())
    }

    /// Extends the lock of `grant` by `lease_secs` from now if `holder`
    /// still holds it.
    pub async fn renew_lock(
        &self,
        grant: &str,
        holder: &str,
        lease_secs: u64,
    ) -> redis::RedisResult<bool> {
        Script::new(RENEW)
            .key(self.key(&format!("lock:{grant}")))
            .arg(holder)
            .arg(lease_secs)
            .invoke_async::<i64>(&mut self.conn())
            .await
            .map(|renewed| renewed == 1)
    }

    pub async fn unlock(&self, grant: &str, holder: &str) -> redis::RedisResult<()> {
        Script::new(UNLOCK)
            .key(self.key(&format!("lock:{grant}")))
            .arg(holder)
            .invoke_async::<i64>(&mut self.conn())
            .await
            .map(drop)
    }

    pub async fn first_use_of_logout_token(
        &self,
        issuer: &str,
        jti: &str,
        remember_until: i64,
    ) -> redis::RedisResult<bool> {
        let set: Option<String> = redis::cmd("SET")
            .arg(self.key(&format!("jti:{issuer}|{jti}")))
            .arg(1)
            .arg("NX")
            .arg("EXAT")
            .arg(remember_until)
            .query_async(&mut self.conn())
            .await?;
        Ok(set.is_some())
    }

    /// The session store on this Redis.
    pub fn sessions(&self) -> RedisSessions {
        RedisSessions(self.clone())
    }
}

#[async_trait]
impl SessionData for RedisStore {
    fn kind(&self) -> &'static str {
        "Redis"
    }

    async fn ping(&self) -> Result<(), StoreFailure> {
        Ok(RedisStore::ping(self).await?)
    }

    fn session_store(&self) -> SessionStore {
        SessionStore::Redis(self.sessions())
    }

    async fn vault_write(
        &self,
        grant: &str,
        row: &SealedRow,
        expires_at: Option<i64>,
        how: VaultWrite,
    ) -> Result<bool, StoreFailure> {
        Ok(match how {
            VaultWrite::Upsert { keep_for } => {
                self.vault_put(grant, row, expires_at, keep_for).await?;
                true
            }
            VaultWrite::ReplaceOnly => self.vault_replace(grant, row, expires_at).await?,
        })
    }

    async fn vault_get(&self, grant: &str) -> Result<Option<SealedRow>, StoreFailure> {
        Ok(RedisStore::vault_get(self, grant).await?)
    }

    async fn vault_delete(&self, grant: &str) -> Result<(), StoreFailure> {
        Ok(RedisStore::vault_delete(self, grant).await?)
    }

    /// Nothing to sweep: entries expire by themselves
    /// ([`VaultWrite::Upsert`]'s `keep_for`).
    async fn vault_delete_orphans(&self, _before: i64) -> Result<u64, StoreFailure> {
        Ok(0)
    }

    async fn session_row_create(&self, row: &SessionRow) -> Result<(), StoreFailure> {
        Ok(RedisStore::session_row_create(self, row).await?)
    }

    async fn session_row_get(&self, id: &str) -> Result<Option<SessionRow>, StoreFailure> {
        Ok(RedisStore::session_row_get(self, id).await?)
    }

    async fn session_row_touch(&self, id: &str, at: i64) -> Result<(), StoreFailure> {
        Ok(RedisStore::session_row_touch(self, id, at).await?)
    }

    async fn session_rows_of_user(&self, user_id: i64) -> Result<Vec<SessionRow>, StoreFailure> {
        Ok(RedisStore::session_rows_of_user(self, user_id).await?)
    }

    async fn session_row_end(&self, id: &str) -> Result<Option<String>, StoreFailure> {
        Ok(RedisStore::session_row_end(self, id).await?)
    }

    async fn session_rows_end_matching(
        &self,
        selector: &Selector<'_>,
    ) -> Result<Vec<String>, StoreFailure> {
        Ok(RedisStore::session_rows_end_matching(self, selector).await?)
    }

    async fn session_rows_end_expired(
        &self,
        idle_before: i64,
        created_before: i64,
    ) -> Result<Vec<String>, StoreFailure> {
        Ok(RedisStore::session_rows_end_expired(self, idle_before, created_before).await?)
    }

    async fn session_rows_due_for_refresh(
        &self,
        expiring_before: i64,
        seen_after: i64,
    ) -> Result<Vec<SessionRow>, StoreFailure> {
        Ok(RedisStore::session_rows_due_for_refresh(self, expiring_before, seen_after).await?)
    }

    async fn first_use_of_logout_token(
        &self,
        issuer: &str,
        jti: &str,
        remember_until: i64,
    ) -> Result<bool, StoreFailure> {
        Ok(RedisStore::first_use_of_logout_token(self, issuer, jti, remember_until).await?)
    }

    /// Nothing to forget: each key expires by itself.
    async fn forget_old_logout_tokens(&self, _now: i64) -> Result<(), StoreFailure> {
        Ok(())
    }

    async fn try_lock(
        &self,
        grant: &str,
        holder: &str,
        _now: i64,
        lease_secs: i64,
    ) -> Result<bool, StoreFailure> {
        Ok(RedisStore::try_lock(self, grant, holder, lease_secs.unsigned_abs()).await?)
    }

    async fn renew_lock(
        &self,
        grant: &str,
        holder: &str,
        _now: i64,
        lease_secs: i64,
    ) -> Result<bool, StoreFailure> {
        Ok(RedisStore::renew_lock(self, grant, holder, lease_secs.unsigned_abs()).await?)
    }

    async fn unlock(&self, grant: &str, holder: &str) -> Result<(), StoreFailure> {
        Ok(RedisStore::unlock(self, grant, holder).await?)
    }
}

fn session_row_from(id: &str, fields: &HashMap<String, String>) -> Option<SessionRow> {
    let text = |name: &str| fields.get(name).cloned();
    let number = |name: &str| fields.get(name).and_then(|v| v.parse::<i64>().ok());
    Some(SessionRow {
        id: id.to_owned(),
        user_id: number("user_id")?,
        provider: text("provider")?,
        issuer: text("issuer")?,
        subject: text("subject")?,
        provider_sid: text("provider_sid").filter(|sid| !sid.is_empty()),
        grant_id: text("grant_id")?,
        user_agent: text("user_agent").unwrap_or_default(),
        created_at: number("created_at")?,
        last_seen_at: number("last_seen_at")?,
    })
}

/// tower-sessions records in Redis, each expiring with its session.
#[derive(Clone, Debug)]
pub struct RedisSessions(RedisStore);

fn backend(err: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

impl RedisSessions {
    async fn write(&self, record: &Record, only_new: bool) -> session_store::Result<bool> {
        let json = serde_json::to_string(record).map_err(backend)?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.0.key(&format!("session:{}", record.id)))
            .arg(json)
            .arg("EXAT")
            .arg(record.expiry_date.unix_timestamp());
        if only_new {
            cmd.arg("NX");
        }
        let done: Option<String> = cmd.query_async(&mut self.0.conn()).await.map_err(backend)?;
        Ok(done.is_some())
    }
}

#[async_trait]
impl Store for RedisSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        while !self.write(record, true).await? {
            record.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.write(record, false).await.map(drop)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let json: Option<String> = self
            .0
            .conn()
            .get(self.0.key(&format!("session:{id}")))
            .await
            .map_err(backend)?;
        json.map(|json| serde_json::from_str(&json).map_err(backend))
            .transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.0
            .conn()
            .del::<_, ()>(self.0.key(&format!("session:{id}")))
            .await
            .map_err(backend)
    }
}
