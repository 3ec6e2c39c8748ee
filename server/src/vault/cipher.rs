//! Sealing and opening with XChaCha20-Poly1305 (random 192-bit nonces are
//! safe for this AEAD). Keys come from configuration as
//! `TOKEN_ENCRYPTION_KEYS=<id>:<base64 32 bytes>[,<id>:<key>…]`: the first
//! seals, all of them open, so a key can be rotated in without losing the
//! tokens sealed under the old one.

use std::{collections::HashMap, fmt};

use base64::{Engine, engine::general_purpose::STANDARD};
use chacha20poly1305::{
    Key, XChaCha20Poly1305, XNonce,
    aead::{Aead, AeadCore, KeyInit, OsRng, Payload},
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error("sealed with key id {0:?}, which is not configured")]
    UnknownKey(String),
    #[error("ciphertext failed authentication (tampered, moved, or wrong key)")]
    Corrupt,
}

/// What a sealed value is stored as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// The configured keys; the first one seals.
#[derive(Clone)]
pub struct KeyRing {
    current: String,
    keys: HashMap<String, XChaCha20Poly1305>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<_> = self.keys.keys().collect();
        ids.sort();
        f.debug_struct("KeyRing")
            .field("current", &self.current)
            .field("key_ids", &ids)
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// Parses `id:base64key[,id:base64key…]`. Errors name the problem, never
    /// the key.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut current = None;
        let mut keys = HashMap::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, encoded) = entry
                .split_once(':')
                .ok_or("each key must be written as <id>:<base64 key>")?;
            let id = id.trim();
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err("key ids may use letters, digits, '-' and '_' only".into());
            }
            let bytes = STANDARD
                .decode(encoded.trim())
                .map_err(|_| format!("key {id:?} is not valid base64"))?;
            if bytes.len() != 32 {
                return Err(format!(
                    "key {id:?} must be 32 bytes (it is {})",
                    bytes.len()
                ));
            }
            if keys
                .insert(
                    id.to_owned(),
                    XChaCha20Poly1305::new(Key::from_slice(&bytes)),
                )
                .is_some()
            {
                return Err(format!("key id {id:?} appears twice"));
            }
            current.get_or_insert_with(|| id.to_owned());
        }
        let current = current.ok_or("no key given")?;
        Ok(Self { current, keys })
    }

    /// A random key for this process only: tokens sealed with it do not
    /// survive a restart.
    pub fn ephemeral() -> Self {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        let mut keys = HashMap::new();
        keys.insert("ephemeral".to_owned(), XChaCha20Poly1305::new(&key));
        Self {
            current: "ephemeral".into(),
            keys,
        }
    }

    /// Encrypts `plaintext`, binding it to `aad` (the row it belongs to).
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Sealed, VaultError> {
        let cipher = self
            .keys
            .get(&self.current)
            .ok_or_else(|| VaultError::UnknownKey(self.current.clone()))?;
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| VaultError::Corrupt)?;
        Ok(Sealed {
            key_id: self.current.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    /// Decrypts with whichever configured key sealed it.
    pub fn open(&self, sealed: &Sealed, aad: &[u8]) -> Result<Vec<u8>, VaultError> {
        let cipher = self
            .keys
            .get(&sealed.key_id)
            .ok_or_else(|| VaultError::UnknownKey(sealed.key_id.clone()))?;
        if sealed.nonce.len() != 24 {
            return Err(VaultError::Corrupt);
        }
        cipher
            .decrypt(
                XNonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad,
                },
            )
            .map_err(|_| VaultError::Corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "k2:HxwdHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";

    #[test]
    fn sealed_tokens_open_again_and_do_not_show_the_plaintext() {
        let ring = KeyRing::parse(K1).unwrap();
        let sealed = ring.seal(b"access-token-canary", b"grant-1|local").unwrap();
        assert_eq!(sealed.key_id, "k1");
        assert!(!sealed.ciphertext.windows(6).any(|w| w == b"canary"));
        assert_eq!(
            ring.open(&sealed, b"grant-1|local").unwrap(),
            b"access-token-canary"
        );
    }

    #[test]
    fn a_ciphertext_moved_to_another_row_or_tampered_with_is_refused() {
        let ring = KeyRing::parse(K1).unwrap();
        let sealed = ring.seal(b"secret", b"grant-1|local").unwrap();
        assert_eq!(
            ring.open(&sealed, b"grant-2|local"),
            Err(VaultError::Corrupt)
        );
        let mut flipped = sealed.clone();
        flipped.ciphertext[0] ^= 1;
        assert_eq!(
            ring.open(&flipped, b"grant-1|local"),
            Err(VaultError::Corrupt)
        );
    }

    #[test]
    fn after_rotation_old_tokens_still_open_and_new_ones_use_the_new_key() {
        let old = KeyRing::parse(K1).unwrap();
        let sealed_before = old.seal(b"before", b"row").unwrap();
        let rotated = KeyRing::parse(&format!("{K2},{K1}")).unwrap();
        assert_eq!(rotated.open(&sealed_before, b"row").unwrap(), b"before");
        assert_eq!(rotated.seal(b"after", b"row").unwrap().key_id, "k2");
        let retired = KeyRing::parse(K2).unwrap();
        assert_eq!(
            retired.open(&sealed_before, b"row"),
            Err(VaultError::UnknownKey("k1".into()))
        );
    }

    #[test]
    fn bad_key_specs_are_explained_without_echoing_the_key() {
        for (spec, expect) in [
            ("", "no key given"),
            ("k1", "<id>:<base64 key>"),
            ("k1:not base64!", "not valid base64"),
            ("k1:AAEC", "must be 32 bytes"),
            ("bad id:AAEC", "letters, digits"),
        ] {
            let err = KeyRing::parse(spec).unwrap_err();
            assert!(err.contains(expect), "{spec:?}: {err}");
        }
        assert!(
            KeyRing::parse(&format!("{K1},{K1}"))
                .unwrap_err()
                .contains("twice")
        );
        let printed = format!("{:?}", KeyRing::parse(K1).unwrap());
        assert!(!printed.contains("AAEC"), "{printed}");
    }
}
