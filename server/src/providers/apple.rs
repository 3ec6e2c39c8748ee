//! Sign in with Apple: OpenID Connect, found by discovery at
//! `https://appleid.apple.com`, with Apple's quirks, all here:
//!
//! - The client secret is not a configured string but a JWT the app signs
//!   with its private key (the `.p8` file from the developer account,
//!   ES256): header `kid` the key id, `iss` the team id, `sub` the client
//!   id (the Services ID), `aud` `https://appleid.apple.com`, `iat`/`exp`.
//!   [`ClientSecretKey`] makes one that lives an hour and makes a new one
//!   ten minutes before it expires; the key and the JWT never reach a log.
//! - It answers with `response_mode=form_post` (required when the name or
//!   e-mail is asked for), so the callback arrives as a cross-site post.
//! - The user's name is never in the ID token, and there is no userinfo
//!   endpoint: it comes once, in the first sign-in's posted `user` field
//!   (`{"name": {"firstName": …, "lastName": …}, "email": …}`), which
//!   [`name_from_user_field`] reads. It is unsigned, so it names only
//!   the account being made; later sign-ins keep the name stored then.
//! - `email_verified` and `is_private_email` come as the strings `"true"`
//!   and `"false"` (read by the usual claim rules); a private-relay
//!   address (`…@privaterelay.appleid.com`) is a verified address like
//!   any other.
//!
//! Configuration: `APPLE_CLIENT_ID` (the Services ID), `APPLE_TEAM_ID`,
//! `APPLE_KEY_ID` and `APPLE_PRIVATE_KEY` (the `.p8` file's PEM text) or
//! `APPLE_PRIVATE_KEY_FILE` (its path). Shapes from Apple's documentation
//! in `tests/fixtures/apple/`.

use std::sync::{Mutex, PoisonError};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use p256::{
    ecdsa::{Signature, SigningKey, signature::Signer},
    pkcs8::DecodePrivateKey,
};
use serde_json::{Value, json};

use super::{Preset, Protocol, ResponseMode};
use crate::secret::Secret;

pub const PRESET: Preset = Preset {
    issuer: "https://appleid.apple.com",
    label: "Apple",
    protocol: Protocol::Oidc,
    scopes: "openid name email",
    response_mode: ResponseMode::FormPost,
    authorize_params: &[],
    icon: include_str!("icons/apple.svg"),
};

/// The audience of the client secret JWT.
const AUDIENCE: &str = "https://appleid.apple.com";
/// How long a client secret lives, seconds (Apple allows six months).
const LIFETIME_SECS: i64 = 3600;
/// A client secret with less than this left is made again, seconds.
const RENEW_BEFORE_SECS: i64 = 600;
/// The longest name taken from the `user` field, in characters.
const MAX_NAME_CHARS: usize = 200;

/// The key that signs Apple client secrets, with the secret last made.
pub struct ClientSecretKey {
    team_id: String,
    key_id: String,
    key: SigningKey,
    /// The last client secret and its `exp` (Unix seconds).
    made: Mutex<Option<(Secret, i64)>>,
}

impl std::fmt::Debug for ClientSecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecretKey")
            .field("team_id", &self.team_id)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl PartialEq for ClientSecretKey {
    fn eq(&self, other: &Self) -> bool {
        self.team_id == other.team_id
            && self.key_id == other.key_id
            && self.key.verifying_key() == other.key.verifying_key()
    }
}

impl Eq for ClientSecretKey {}

/// Why a private key was refused: what to fix, never the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("is not a PKCS#8 PEM P-256 private key (the .p8 file Apple gives)")]
    NotAKey,
    #[error("the team id and key id must be Apple's ten-character identifiers")]
    BadIdentifier,
}

impl ClientSecretKey {
    /// The key in `pem` (a `.p8` file: `-----BEGIN PRIVATE KEY-----`),
    /// signing for team `team_id` as key `key_id`.
    pub fn from_pem(team_id: &str, key_id: &str, pem: &str) -> Result<Self, KeyError> {
        let id_ok = |id: &str| id.len() == 10 && id.bytes().all(|b| b.is_ascii_alphanumeric());
        if !id_ok(team_id) || !id_ok(key_id) {
            return Err(KeyError::BadIdentifier);
        }
        let key = SigningKey::from_pkcs8_pem(pem.trim()).map_err(|_| KeyError::NotAKey)?;
        Ok(Self {
            team_id: team_id.to_owned(),
            key_id: key_id.to_owned(),
            key,
            made: Mutex::new(None),
        })
    }

    /// A client secret for `client_id` valid at `now` (Unix seconds) for
    /// at least ten more minutes: the last one made, or a new one.
    pub fn client_secret(&self, client_id: &str, now: i64) -> Secret {
        let mut made = self.made.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((secret, expires)) = made.as_ref()
            && *expires - now > RENEW_BEFORE_SECS
        {
            return secret.clone();
        }
        let expires = now + LIFETIME_SECS;
        let secret = self.sign(client_id, now, expires);
        *made = Some((secret.clone(), expires));
        secret
    }

    /// A JWT (RFC 7519) signed with ES256 (RFC 7518 §3.4: the signature
    /// is R and S, 32 bytes each).
    fn sign(&self, client_id: &str, now: i64, expires: i64) -> Secret {
        let header = json!({ "alg": "ES256", "kid": self.key_id, "typ": "JWT" });
        let claims = json!({
            "iss": self.team_id,
            "iat": now,
            "exp": expires,
            "aud": AUDIENCE,
            "sub": client_id,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature: Signature = self.key.sign(input.as_bytes());
        Secret::new(format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        ))
    }
}

/// The name in the `user` field Apple posts with a user's first sign-in
/// (`{"name": {"firstName": "…", "lastName": "…"}, …}`): first and last
/// joined, trimmed; `None` when absent, not that shape, or holding control
/// characters.
pub fn name_from_user_field(user: &str) -> Option<String> {
    let user: Value = serde_json::from_str(user).ok()?;
    let name = user.get("name")?;
    let part = |key| {
        name.get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|part| !part.is_empty())
    };
    let full: Vec<&str> = [part("firstName"), part("lastName")]
        .into_iter()
        .flatten()
        .collect();
    let full = full.join(" ");
    let usable = !full.is_empty()
        && full.chars().count() <= MAX_NAME_CHARS
        && !full.chars().any(char::is_control);
    usable.then_some(full)
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::{VerifyingKey, signature::Verifier};

    use super::*;
    use crate::providers::fixture;

    const TEAM: &str = "A1B2C3D4E5";
    const KEY: &str = "KEY1234567";

    fn key() -> ClientSecretKey {
        ClientSecretKey::from_pem(TEAM, KEY, &fixture("apple/test-key.p8")).unwrap()
    }

    fn part(jwt: &str, index: usize) -> Value {
        let part = jwt.split('.').nth(index).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn the_client_secret_is_an_es256_jwt_apple_can_verify_with_the_keys_public_half() {
        let key = key();
        let now = 1_767_000_000;
        let secret = key.client_secret("com.example.web", now);
        let jwt = secret.expose();
        assert_eq!(
            part(jwt, 0),
            json!({ "alg": "ES256", "kid": KEY, "typ": "JWT" })
        );
        assert_eq!(
            part(jwt, 1),
            json!({
                "iss": TEAM,
                "iat": now,
                "exp": now + 3600,
                "aud": "https://appleid.apple.com",
                "sub": "com.example.web",
            })
        );
        let (input, signature) = jwt.rsplit_once('.').unwrap();
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
        let public: VerifyingKey = *key.key.verifying_key();
        public.verify(input.as_bytes(), &signature).unwrap();
        let mut forged = input.to_owned();
        forged.push('x');
        assert!(public.verify(forged.as_bytes(), &signature).is_err());
    }

    #[test]
    fn a_client_secret_is_used_until_ten_minutes_before_it_expires_then_made_again() {
        let key = key();
        let now = 1_767_000_000;
        let first = key.client_secret("com.example.web", now);
        assert_eq!(key.client_secret("com.example.web", now + 2999), first);
        let renewed = key.client_secret("com.example.web", now + 3000);
        assert_ne!(renewed, first);
        assert_eq!(part(renewed.expose(), 1)["exp"], now + 3000 + 3600);
    }

    #[test]
    fn a_key_that_is_not_a_p8_or_ids_not_apples_are_refused_without_printing_the_key() {
        let pem = fixture("apple/test-key.p8");
        assert_eq!(
            ClientSecretKey::from_pem(
                TEAM,
                KEY,
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"
            )
            .unwrap_err(),
            KeyError::NotAKey
        );
        assert_eq!(
            ClientSecretKey::from_pem("team", KEY, &pem).unwrap_err(),
            KeyError::BadIdentifier
        );
        let printed = format!("{:?}", key());
        assert!(
            printed.contains(TEAM) && !printed.contains("PRIVATE"),
            "{printed}"
        );
        let secret = key().client_secret("com.example.web", 1_767_000_000);
        assert!(!format!("{secret:?}").contains("eyJ"));
    }

    #[test]
    fn the_name_is_read_from_the_user_field_apple_posts_once() {
        let user = fixture("apple/user.json");
        assert_eq!(
            name_from_user_field(&user).as_deref(),
            Some("Jane Appleseed")
        );
        for (field, name) in [
            (r#"{"name":{"firstName":" Jane "}}"#, Some("Jane")),
            (r#"{"name":{"lastName":"Appleseed"}}"#, Some("Appleseed")),
            (r#"{"email":"jane@example.com"}"#, None),
            (r#"{"name":{"firstName":""}}"#, None),
            (r#"{"name":"Jane"}"#, None),
            (r#"{"name":{"firstName":"Jane\u0000"}}"#, None),
            ("not json", None),
        ] {
            assert_eq!(name_from_user_field(field).as_deref(), name, "{field}");
        }
        let long = format!(r#"{{"name":{{"firstName":"{}"}}}}"#, "a".repeat(201));
        assert_eq!(name_from_user_field(&long), None);
    }
}
