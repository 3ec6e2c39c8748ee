//! The vault's table: one sealed token set per grant.

use time::OffsetDateTime;

use super::{
    TokenSet, VaultError,
    cipher::{KeyRing, Sealed},
};
use crate::{db::with_pool, redis_store::SealedRow, store::Store};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("token store unavailable")]
    Database(#[from] sqlx::Error),
    #[error("token store unavailable")]
    Redis(#[from] redis::RedisError),
    #[error("stored tokens cannot be opened")]
    Vault(#[from] VaultError),
}

/// How [`TokenVault::write`] treats an existing row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Write {
    Upsert,
    ReplaceOnly,
}

#[derive(Clone, Debug)]
pub struct TokenVault {
    store: Store,
    keys: KeyRing,
    /// How long an entry may outlive its writing, where the store can
    /// expire entries (Redis): the longest a session may live.
    keep_for: Option<std::time::Duration>,
}

/// Binds a ciphertext to its row.
fn associated_data(grant_id: &str, provider: &str) -> Vec<u8> {
    format!("{grant_id}|{provider}").into_bytes()
}

impl TokenVault {
    pub fn new(store: Store, keys: KeyRing) -> Self {
        Self {
            store,
            keys,
            keep_for: None,
        }
    }

    /// The same vault, its entries expiring `keep_for` after they were
    /// last written where the store can do that (Redis; the SQL stores
    /// sweep with [`Self::delete_orphans`] instead). A session never lives
    /// longer than its absolute timeout, so that is what to give.
    pub fn keeping_for(self, keep_for: std::time::Duration) -> Self {
        Self {
            keep_for: Some(keep_for),
            ..self
        }
    }

    /// The vault in `store`, sealed with the configured keys, or with a
    /// random key for this process when none are configured (said in the
    /// log: such tokens do not survive a restart).
    pub fn with_configured_keys(store: Store, keys: Option<KeyRing>) -> Self {
        let keys = keys.unwrap_or_else(|| {
            tracing::warn!(
                "TOKEN_ENCRYPTION_KEYS is not set: tokens are sealed with a random key and \
                 will not survive a restart"
            );
            KeyRing::ephemeral()
        });
        Self::new(store, keys)
    }

    /// Stores (or replaces, atomically) the tokens of `grant_id`.
    pub async fn put(
        &self,
        grant_id: &str,
        provider: &str,
        tokens: &TokenSet,
    ) -> Result<(), StoreError> {
        self.write(grant_id, provider, tokens, Write::Upsert)
            .await?;
        Ok(())
    }

    /// Replaces the tokens of `grant_id` only if it still has some (its
    /// session was not ended meanwhile); whether it did.
    pub async fn replace(
        &self,
        grant_id: &str,
        provider: &str,
        tokens: &TokenSet,
    ) -> Result<bool, StoreError> {
        self.write(grant_id, provider, tokens, Write::ReplaceOnly)
            .await
    }

    async fn write(
        &self,
        grant_id: &str,
        provider: &str,
        tokens: &TokenSet,
        how: Write,
    ) -> Result<bool, StoreError> {
        let sealed = self
            .keys
            .seal(&tokens.to_plaintext(), &associated_data(grant_id, provider))?;
        let db = match &self.store {
            Store::Sql(db) => db,
            Store::Redis(redis) => {
                let row = SealedRow {
                    provider: provider.to_owned(),
                    key_id: sealed.key_id,
                    nonce: sealed.nonce,
                    ciphertext: sealed.ciphertext,
                };
                return Ok(match how {
                    Write::Upsert => {
                        let keep_for = self.keep_for.map(|keep| keep.as_secs());
                        redis
                            .vault_put(grant_id, &row, tokens.expires_at, keep_for)
                            .await?;
                        true
                    }
                    Write::ReplaceOnly => {
                        redis
                            .vault_replace(grant_id, &row, tokens.expires_at)
                            .await?
                    }
                });
            }
        };
        let updated_at = OffsetDateTime::now_utc().unix_timestamp();
        let sql = match how {
            Write::Upsert => {
                "INSERT INTO token_vault
                     (grant_id, provider, key_id, nonce, ciphertext, updated_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (grant_id) DO UPDATE SET provider = $2, key_id = $3, nonce = $4,
                     ciphertext = $5, updated_at = $6, expires_at = $7"
            }
            Write::ReplaceOnly => {
                "UPDATE token_vault SET provider = $2, key_id = $3, nonce = $4,
                     ciphertext = $5, updated_at = $6, expires_at = $7
                 WHERE grant_id = $1"
            }
        };
        let written = with_pool!(db, |pool| {
            sqlx::query(sql)
                .bind(grant_id)
                .bind(provider)
                .bind(&sealed.key_id)
                .bind(&sealed.nonce)
                .bind(&sealed.ciphertext)
                .bind(updated_at)
                .bind(tokens.expires_at)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(written == 1)
    }

    /// Deletes sealed tokens that no signed-in session points to and that
    /// were written before `before` (unix time; a sign-in writes its tokens
    /// just before its session row). The number deleted. In Redis nothing is
    /// swept here: entries expire by themselves ([`Self::keeping_for`]).
    pub async fn delete_orphans(&self, before: i64) -> Result<u64, StoreError> {
        let Store::Sql(db) = &self.store else {
            return Ok(0);
        };
        Ok(with_pool!(db, |pool| {
            sqlx::query(
                "DELETE FROM token_vault WHERE updated_at < $1
                 AND grant_id NOT IN (SELECT grant_id FROM logins)",
            )
            .bind(before)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?)
    }

    /// The tokens of `grant_id`, if any.
    pub async fn get(
        &self,
        grant_id: &str,
        provider: &str,
    ) -> Result<Option<TokenSet>, StoreError> {
        let row: Option<(String, Vec<u8>, Vec<u8>)> = match &self.store {
            Store::Redis(redis) => redis
                .vault_get(grant_id)
                .await?
                .filter(|row| row.provider == provider)
                .map(|row| (row.key_id, row.nonce, row.ciphertext)),
            Store::Sql(db) => with_pool!(db, |pool| {
                sqlx::query_as(
                    "SELECT key_id, nonce, ciphertext FROM token_vault
                     WHERE grant_id = $1 AND provider = $2",
                )
                .bind(grant_id)
                .bind(provider)
                .fetch_optional(pool)
                .await
            })?,
        };
        let Some((key_id, nonce, ciphertext)) = row else {
            return Ok(None);
        };
        let sealed = Sealed {
            key_id,
            nonce,
            ciphertext,
        };
        let plaintext = self
            .keys
            .open(&sealed, &associated_data(grant_id, provider))?;
        Ok(Some(TokenSet::from_plaintext(&plaintext)?))
    }

    /// Deletes the tokens of `grant_id`. Deleting nothing is not an error.
    pub async fn delete(&self, grant_id: &str) -> Result<(), StoreError> {
        let db = match &self.store {
            Store::Sql(db) => db,
            Store::Redis(redis) => return Ok(redis.vault_delete(grant_id).await?),
        };
        with_pool!(db, |pool| {
            sqlx::query("DELETE FROM token_vault WHERE grant_id = $1")
                .bind(grant_id)
                .execute(pool)
                .await
                .map(drop)
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{db, secret::Secret, store::Store};

    async fn vault() -> (TokenVault, sqlx::SqlitePool) {
        let db = db::memory().await;
        let pool = db.sqlite().clone();
        (TokenVault::new(Store::Sql(db), KeyRing::ephemeral()), pool)
    }

    fn tokens(tag: &str) -> TokenSet {
        TokenSet {
            access_token: Secret::new(format!("at-{tag}")),
            refresh_token: Some(Secret::new(format!("rt-{tag}"))),
            id_token: None,
            expires_at: Some(1_900_000_000),
        }
    }

    #[tokio::test]
    async fn tokens_round_trip_and_rest_encrypted() {
        let (vault, pool) = vault().await;
        vault.put("g1", "local", &tokens("canary")).await.unwrap();
        assert_eq!(
            vault.get("g1", "local").await.unwrap(),
            Some(tokens("canary"))
        );

        let (key_id, raw): (String, Vec<u8>) =
            sqlx::query_as("SELECT key_id, ciphertext FROM token_vault WHERE grant_id = 'g1'")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(key_id, "ephemeral");
        assert!(
            !raw.windows(6).any(|w| w == b"canary"),
            "no plaintext at rest"
        );
    }

    #[tokio::test]
    async fn put_replaces_and_delete_removes() {
        let (vault, _) = vault().await;
        vault.put("g1", "local", &tokens("one")).await.unwrap();
        vault.put("g1", "local", &tokens("two")).await.unwrap();
        vault.put("g2", "local", &tokens("other")).await.unwrap();
        assert_eq!(vault.get("g1", "local").await.unwrap(), Some(tokens("two")));
        vault.delete("g1").await.unwrap();
        assert_eq!(vault.get("g1", "local").await.unwrap(), None);
        assert_eq!(
            vault.get("g2", "local").await.unwrap(),
            Some(tokens("other"))
        );
        assert_eq!(
            vault.get("g2", "acme").await.unwrap(),
            None,
            "bound to its provider"
        );
    }

    #[tokio::test]
    async fn tokens_no_session_points_to_are_swept_once_old_enough() {
        let (vault, pool) = vault().await;
        sqlx::query(
            "INSERT INTO users (id, name, created_at, last_login_at) VALUES (1, 'Dana', 0, 0)",
        )
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO logins (id, user_id, provider, issuer, subject, grant_id, user_agent,
                 created_at, last_seen_at)
             VALUES ('l1', 1, 'local', 'https://idp.test', 'dana', 'kept', '', 0, 0)",
        )
        .execute(&pool)
        .await
        .unwrap();
        for grant in ["kept", "orphan"] {
            vault.put(grant, "local", &tokens(grant)).await.unwrap();
        }
        let now = OffsetDateTime::now_utc().unix_timestamp();
        assert_eq!(vault.delete_orphans(now - 600).await.unwrap(), 0, "too new");
        assert_eq!(vault.delete_orphans(now + 1).await.unwrap(), 1);
        assert_eq!(vault.get("orphan", "local").await.unwrap(), None);
        assert_eq!(
            vault.get("kept", "local").await.unwrap(),
            Some(tokens("kept"))
        );
    }

    #[tokio::test]
    async fn a_row_copied_onto_another_grant_does_not_open() {
        let (vault, pool) = vault().await;
        vault
            .put("victim", "local", &tokens("victim"))
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO token_vault SELECT 'attacker', provider, key_id, nonce, ciphertext, updated_at, expires_at
             FROM token_vault WHERE grant_id = 'victim'",
        )
        .execute(&pool)
        .await
        .unwrap();
        assert!(matches!(
            vault.get("attacker", "local").await,
            Err(StoreError::Vault(VaultError::Corrupt))
        ));
    }
}
