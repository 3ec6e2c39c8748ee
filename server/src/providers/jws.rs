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
    /// Not three base64url parts, or a header or payload that is not a JSON
    /// object.
    #[error("not a compact JWS")]
    Malformed,
    /// `alg` is not one the provider announced, or not an asymmetric one.
    #[error("algorithm {0:?} is not accepted")]
    Algorithm(String),
    /// A `crit` header (RFC 7515 §4.1.11), or a `cty` (a nested token),
    /// neither of which we understand.
    #[error("it needs a header extension we do not understand")]
    Unsupported,
    /// A `typ` that says it is some other kind of token (an access token,
    /// say; RFC 8725 §3.11).
    #[error("typ {0:?} is not a JWT's")]
    Type(String),
    /// No published key fits the token's `kid` (or, without a `kid`, none
    /// of the fitting keys verifies it): the provider may have rotated its
    /// keys since we fetched them.
    #[error("no published key of the provider verifies it (kid {:?})", kid.as_deref().map(shown))]
    UnknownKey { kid: Option<String> },
    /// The key named verifies no such signature.
    #[error("the signature does not verify")]
    Signature,
}

impl JwsError {
    /// Whether fetching the provider's keys again might make it verify.
    pub fn is_unknown_key(&self) -> bool {
        matches!(self, Self::UnknownKey { .. })
    }

    /// Whether it names, by `kid`, a key the provider has not published:
    /// not one whose signature failed every published key.
    pub fn names_an_unpublished_key(&self) -> bool {
        matches!(self, Self::UnknownKey { kid: Some(_) })
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
    /// The algorithm it was signed with.
    pub alg: CoreJwsSigningAlgorithm,
    /// The published key that verified it (for `at_hash`).
    pub key: CoreJsonWebKey,
    /// `typ`, lower-cased without `application/`: `jwt`, `logout+jwt`, or
    /// `None` when absent.
    pub typ: Option<String>,
    /// The payload's claims, not yet checked.
    pub claims: Object,
}

/// `typ` values (RFC 7515 §4.1.9) of the tokens providers sign for us.
const TYPES: [&str; 2] = ["jwt", "logout+jwt"];
/// The longest token read, in bytes: ID tokens with many group claims
/// reach a few kilobytes; anything far longer is refused unread.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;
/// The longest `kid` looked up: real ones are short, and each one looked
/// up is remembered for a while (`keys.rs`).
const MAX_KID_LEN: usize = 256;

/// At most 64 characters of a value the token's sender chose, for error
/// messages and the log.
fn shown(value: &str) -> String {
    value.chars().take(64).collect()
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

/// Verifies the compact JWS `token` (RFC 7515 §5.2) with one of `keys`, by
/// an algorithm in `allowed` (narrowed here to [`ACCEPTED_ALGS`]). With a
/// `kid`, only the key of that id is tried; without one, every fitting key
/// is (a provider with one key often omits it). The claims are returned
/// unchecked: each kind of token checks its own.
pub fn verify(
    keys: &JsonWebKeySet<CoreJsonWebKey>,
    allowed: &[CoreJwsSigningAlgorithm],
    token: &str,
) -> Result<Signed, JwsError> {
    let token = token.trim();
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwsError::Malformed);
    }
    let (signed_part, signature) = token.rsplit_once('.').ok_or(JwsError::Malformed)?;
    let (header, payload) = signed_part.split_once('.').ok_or(JwsError::Malformed)?;
    if payload.contains('.') {
        return Err(JwsError::Malformed);
    }
    let header = decode(header)?;
    let alg_name = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(JwsError::Malformed)?;
    let alg: CoreJwsSigningAlgorithm = serde_json::from_value(Value::from(alg_name))
        .map_err(|_| JwsError::Algorithm(shown(alg_name)))?;
    if !allowed.contains(&alg) || !ACCEPTED_ALGS.contains(&alg) {
        return Err(JwsError::Algorithm(shown(alg_name)));
    }
    if header.contains_key("crit") || header.contains_key("cty") {
        return Err(JwsError::Unsupported);
    }
    let typ = match header.get("typ") {
        None => None,
        Some(Value::String(typ)) => {
            let lower = typ.to_ascii_lowercase();
            let short = lower.strip_prefix("application/").unwrap_or(&lower);
            if !TYPES.contains(&short) {
                return Err(JwsError::Type(shown(typ)));
            }
            Some(short.to_owned())
        }
        Some(_) => return Err(JwsError::Malformed),
    };
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) if kid.len() <= MAX_KID_LEN => Some(kid.as_str()),
        Some(_) => return Err(JwsError::Malformed),
    };
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| JwsError::Malformed)?;
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
        typ,
        claims: decode(payload)?,
    })
}

/// The claims of a compact JWS whose signature could not be checked, for
/// comparing who it names with what is known already; never for deciding
/// that it may be trusted.
pub fn unverified_claims(token: &str) -> Option<Object> {
    decode(token.trim().split('.').nth(1)?).ok()
}
