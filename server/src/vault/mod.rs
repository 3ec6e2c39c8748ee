//! The token vault: access, refresh and ID tokens live only here, on the
//! server, encrypted at rest. A session refers to its tokens by a random
//! grant id; nothing else ever holds a token.

pub mod cipher;
pub mod store;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::secret::Secret;
pub use cipher::{KeyRing, VaultError};
pub use store::TokenVault;

/// The tokens of one signed-in session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenSet {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub id_token: Option<Secret>,
    /// Unix time the access token expires, when the provider said.
    pub expires_at: Option<i64>,
    /// Access tokens for upstream APIs that name a resource or scopes
    /// (RFC 8707 §2.2), by [`Audience::key`](crate::providers::Audience::key).
    pub api_tokens: BTreeMap<String, ApiToken>,
}

/// An access token for one upstream API's resource and scopes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiToken {
    pub access_token: Secret,
    /// Unix time it expires.
    pub expires_at: Option<i64>,
}

/// The plaintext layout inside the ciphertext.
#[derive(Serialize, Deserialize)]
struct Sealed {
    access_token: String,
    refresh_token: Option<String>,
    id_token: Option<String>,
    expires_at: Option<i64>,
    /// Absent in entries sealed before APIs had tokens of their own.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    api_tokens: BTreeMap<String, SealedApiToken>,
}

#[derive(Serialize, Deserialize)]
struct SealedApiToken {
    access_token: String,
    expires_at: Option<i64>,
}

impl TokenSet {
    /// The expiry time `expires_in` seconds from now, as a token response
    /// gives it.
    pub fn expiry_in(expires_in: Option<u64>) -> Option<i64> {
        // An absurd lifetime is a very long one, not an unknown one.
        let secs = i64::try_from(expires_in?).unwrap_or(i64::MAX);
        Some(
            time::OffsetDateTime::now_utc()
                .unix_timestamp()
                .saturating_add(secs),
        )
    }

    fn to_plaintext(&self) -> Vec<u8> {
        let sealed = Sealed {
            access_token: self.access_token.expose().to_owned(),
            refresh_token: self.refresh_token.as_ref().map(|s| s.expose().to_owned()),
            id_token: self.id_token.as_ref().map(|s| s.expose().to_owned()),
            expires_at: self.expires_at,
            api_tokens: self
                .api_tokens
                .iter()
                .map(|(key, token)| {
                    let sealed = SealedApiToken {
                        access_token: token.access_token.expose().to_owned(),
                        expires_at: token.expires_at,
                    };
                    (key.clone(), sealed)
                })
                .collect(),
        };
        // Serialising plain strings and numbers cannot fail.
        serde_json::to_vec(&sealed).unwrap_or_default()
    }

    fn from_plaintext(bytes: &[u8]) -> Result<Self, VaultError> {
        let sealed: Sealed = serde_json::from_slice(bytes).map_err(|_| VaultError::Corrupt)?;
        Ok(Self {
            access_token: Secret::new(sealed.access_token),
            refresh_token: sealed.refresh_token.map(Secret::new),
            id_token: sealed.id_token.map(Secret::new),
            expires_at: sealed.expires_at,
            api_tokens: sealed
                .api_tokens
                .into_iter()
                .map(|(key, token)| {
                    let token = ApiToken {
                        access_token: Secret::new(token.access_token),
                        expires_at: token.expires_at,
                    };
                    (key, token)
                })
                .collect(),
        })
    }
}

/// A fresh random grant id (256 bits, base64url).
pub fn new_grant_id() -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use chacha20poly1305::aead::{OsRng, rand_core::RngCore};
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_ids_are_long_and_distinct() {
        let a = new_grant_id();
        assert_eq!(a.len(), 43);
        assert_ne!(a, new_grant_id());
    }

    #[test]
    fn tokens_sealed_before_apis_had_their_own_open_and_api_tokens_round_trip() {
        let before =
            br#"{"access_token":"at","refresh_token":"rt","id_token":null,"expires_at":5}"#;
        let old = TokenSet::from_plaintext(before).unwrap();
        assert_eq!(old.access_token.expose(), "at");
        assert!(old.api_tokens.is_empty());
        assert_eq!(old.to_plaintext(), before, "written back the same way");

        let mut tokens = old;
        let api = ApiToken {
            access_token: Secret::new("api-at"),
            expires_at: Some(9),
        };
        tokens.api_tokens.insert("urn:api read".into(), api);
        let reopened = TokenSet::from_plaintext(&tokens.to_plaintext()).unwrap();
        assert_eq!(reopened, tokens);
    }

    #[test]
    fn a_token_set_never_prints_its_tokens() {
        let tokens = TokenSet {
            access_token: Secret::new("at-canary-1"),
            refresh_token: Some(Secret::new("rt-canary-2")),
            id_token: Some(Secret::new("idt-canary-3")),
            expires_at: Some(1),
            api_tokens: BTreeMap::from([(
                "https://api.test notes".to_owned(),
                ApiToken {
                    access_token: Secret::new("api-canary-4"),
                    expires_at: Some(2),
                },
            )]),
        };
        let printed = format!("{tokens:?}");
        assert!(!printed.contains("canary"), "{printed}");
    }
}
