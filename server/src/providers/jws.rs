//! Compact JWS (RFC 7515 §7.1) signed by a provider: ID tokens, logout
//! tokens and signed userinfo answers all pass through [`verify`] before
//! any of their claims is read. The key comes only from the provider's
//! published set (`jwk`, `jku`, `x5u` and `x5c` headers are ignored), and
//! the algorithm must be an asymmetric one the provider announced, so
//! `none` and HMAC keyed with a public key never pass.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use openidconnect::{
    JsonWebKey, JsonWebKeyAlgorithm, JsonWebKeySet, JsonWebKeyUse, JwsSigningAlgorithm,
    core::{CoreJsonWebKey, CoreJwsSigningAlgorithm},
};
use serde_json::Value;

use super::claims::Object;

/// Signature algorithms accepted on anything a provider signs: asymmetric
/// ones only. A provider's announced list is narrowed to these.
pub const ACCEPTED_ALGS: [CoreJwsSigningAlgorithm; 10] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EcdsaP521Sha512,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// Why a signed token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("not a compact JWS")]
    Malformed,
    #[error("algorithm {0:?} is not accepted")]
    Algorithm(String),
    #[error("it names a critical header extension we do not understand")]
    Critical,
    /// No published key fits the token's `kid` (or, without a `kid`, none
    /// of the fitting keys verifies it): the provider may have rotated its
    /// keys since we fetched them.
    #[error("no published key of the provider verifies it (kid {kid:?})")]
    UnknownKey { kid: Option<String> },
    #[error("the signature does not verify")]
    Signature,
}

impl JwsError {
    /// Whether fetching the provider's keys again might make it verify.
    pub fn is_unknown_key(&self) -> bool {
        matches!(self, Self::UnknownKey { .. })
    }

    /// The `kid` a key lookup should be made for.
    pub fn kid(&self) -> Option<&str> {
        match self {
            Self::UnknownKey { kid } => kid.as_deref(),
            _ => None,
        }
    }
}

/// A token whose signature verified, with what the checks of its kind need.
#[derive(Debug, Clone)]
pub struct Signed {
    pub alg: CoreJwsSigningAlgorithm,
    /// The published key that verified it (for `at_hash`).
    pub key: CoreJsonWebKey,
    pub claims: Object,
}

fn decode(part: &str) -> Result<Object, JwsError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwsError::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(JwsError::Malformed),
    }
}

/// Whether `key` may verify a signature made with `alg` (RFC 7517 §4.2,
/// §4.4): a signing key (or one without `use`), of the algorithm's key
/// type, and of that very algorithm if the key names one.
fn fits(key: &CoreJsonWebKey, alg: &CoreJwsSigningAlgorithm) -> bool {
    let signing = key.key_use().is_none_or(|usage| usage.allows_signature());
    let same_type = alg.key_type().as_ref() == Some(key.key_type());
    let same_alg = match key.signing_alg() {
        JsonWebKeyAlgorithm::Algorithm(named) => named == alg,
        JsonWebKeyAlgorithm::Unspecified => true,
        JsonWebKeyAlgorithm::Unsupported => false,
    };
    signing && same_type && same_alg
}

/// Verifies the compact JWS `token` with one of `keys`, by an algorithm in
/// `allowed` (already narrowed to [`ACCEPTED_ALGS`]). With a `kid`, only
/// the key of that id is tried; without one, every fitting key is (a
/// provider with one key often omits it).
pub fn verify(
    keys: &JsonWebKeySet<CoreJsonWebKey>,
    allowed: &[CoreJwsSigningAlgorithm],
    token: &str,
) -> Result<Signed, JwsError> {
    let mut parts = token.trim().split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed);
    };
    let header = decode(header)?;
    let alg_name = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(JwsError::Malformed)?;
    let alg: CoreJwsSigningAlgorithm = serde_json::from_value(Value::from(alg_name))
        .map_err(|_| JwsError::Algorithm(alg_name.to_owned()))?;
    if !allowed.contains(&alg) || !ACCEPTED_ALGS.contains(&alg) {
        return Err(JwsError::Algorithm(alg_name.to_owned()));
    }
    // RFC 7515 §4.1.11: we understand no extension, so none may be critical.
    if header.contains_key("crit") {
        return Err(JwsError::Critical);
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.as_str()),
        Some(_) => return Err(JwsError::Malformed),
    };
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| JwsError::Malformed)?;
    let signed_part = &token.trim()[..header_and_payload_len(token.trim())];
    let unknown = || JwsError::UnknownKey {
        kid: kid.map(str::to_owned),
    };
    let candidates: Vec<&CoreJsonWebKey> = keys
        .keys()
        .iter()
        .filter(|key| kid.is_none_or(|kid| key.key_id().is_some_and(|id| id.as_str() == kid)))
        .filter(|key| fits(key, &alg))
        .collect();
    if candidates.is_empty() {
        return Err(unknown());
    }
    let key = candidates
        .into_iter()
        .find(|key| {
            key.verify_signature(&alg, signed_part.as_bytes(), &signature)
                .is_ok()
        })
        .ok_or_else(|| {
            if kid.is_some() {
                JwsError::Signature
            } else {
                unknown()
            }
        })?;
    Ok(Signed {
        alg,
        key: key.clone(),
        claims: decode(payload)?,
    })
}

/// Length of `header.payload` in a compact JWS with three parts.
fn header_and_payload_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(0)
}
