//! The token vault: each grant's tokens sealed (`cipher.rs`) and kept in
//! the session-data store, bound to their grant and provider.

use super::{
    TokenSet, VaultError,
    cipher::{KeyRing, Sealed},
};
use crate::store::{SealedRow, Store, StoreFailure, VaultWrite};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("token store unavailable")]
    Store(#[from] StoreFailure),
    #[error("stored tokens cannot be opened")]
    Vault(#[from] VaultError),
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
        let keep_for = self.keep_for.map(|keep| keep.as_secs());
        self.write(grant_id, provider, tokens, VaultWrite::Upsert { keep_for })
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
        self.write(grant_id, provider, tokens, VaultWrite::ReplaceOnly)
            .await
    }

    async fn write(
        &self,
        grant_id: &str,
        provider: &str,
        tokens: &TokenSet,
        how: VaultWrite,
    ) -> Result<bool, StoreError> {
        let sealed = self
            .keys
            .seal(&tokens.to_plaintext(), &associated_data(grant_id, provider))?;
        let row = SealedRow {
            provider: provider.to_owned(),
            key_id: sealed.key_id,
            nonce: sealed.nonce,
            ciphertext: sealed.ciphertext,
        };
        Ok(self
            .store
            .vault_write(grant_id, &row, tokens.expires_at, how)
            .await?)
    }

    /// Deletes sealed tokens that no signed-in session points to and that
    /// were written before `before` (unix time; a sign-in writes its tokens
    /// just before its session row). The number deleted. Where the store
    /// expires entries by itself (Redis), nothing is swept here
    /// ([`Self::keeping_for`]).
    pub async fn delete_orphans(&self, before: i64) -> Result<u64, StoreError> {
        Ok(self.store.vault_delete_orphans(before).await?)
    }

    /// The tokens of `grant_id`, if any (and if they are `provider`'s).
    pub async fn get(
        &self,
        grant_id: &str,
        provider: &str,
    ) -> Result<Option<TokenSet>, StoreError> {
        let Some(row) = self
            .store
            .vault_get(grant_id)
            .await?
            .filter(|row| row.provider == provider)
        else {
            return Ok(None);
        };
        let sealed = Sealed {
            key_id: row.key_id,
            nonce: row.nonce,
            ciphertext: row.ciphertext,
        };
        let plaintext = self
            .keys
            .open(&sealed, &associated_data(grant_id, provider))?;
        Ok(Some(TokenSet::from_plaintext(&plaintext)?))
    }

    /// Deletes the tokens of `grant_id`. Deleting nothing is not an error.
    pub async fn delete(&self, grant_id: &str) -> Result<(), StoreError> {
        Ok(self.store.vault_delete(grant_id).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        db,
        secret::Secret,
        store::{SqlStore, Store},
    };

    async fn vault() -> (TokenVault, sqlx::SqlitePool) {
        let db = db::memory().await;
        let pool = db.sqlite().clone();
        (
            TokenVault::new(Store::new(SqlStore::new(db)), KeyRing::ephemeral()),
            pool,
        )
    }

    fn tokens(tag: &str) -> TokenSet {
        TokenSet {
            access_token: Secret::new(format!("at-{tag}")),
            refresh_token: Some(Secret::new(format!("rt-{tag}"))),
            id_token: None,
            expires_at: Some(1_900_000_000),
            api_tokens: Default::default(),
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
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
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
