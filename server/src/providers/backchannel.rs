//! Back-channel logout tokens (OIDC Back-Channel Logout 1.0, SECURITY.md
//! C1/C3): a signed JWT the provider posts when a user signs out there.
//! Checked like an ID token (signature with the provider's keys and an
//! asymmetric algorithm, `iss`, `aud`, recent `iat`, `exp`), plus what
//! makes it a logout token: the back-channel logout event, `sub` or `sid`,
//! a `jti`, and no `nonce` (so an ID token is never taken for one).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use openidconnect::{
    JsonWebKey, JwsSigningAlgorithm,
    core::{CoreJsonWebKey, CoreJwsSigningAlgorithm},
};
use serde_json::{Map, Value};

use super::{Discovered, oidc};

/// The event a logout token must carry.
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// A logout token is sent as the user signs out: one issued longer ago than
/// this, or more than the clock skew ahead, is refused.
const MAX_AGE_SECS: i64 = 10 * 60;
const CLOCK_SKEW_SECS: i64 = 2 * 60;

/// Which sessions a valid logout token ends, and its replay key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutClaims {
    pub issuer: String,
    pub subject: Option<String>,
    pub sid: Option<String>,
    pub jti: String,
    /// Until when the `jti` must be remembered.
    pub remember_until: i64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LogoutTokenError {
    #[error("not a compact JWS")]
    Malformed,
    #[error("algorithm {0:?} is not accepted")]
    Algorithm(String),
    #[error("no key of the provider matches")]
    NoKey,
    #[error("the signature does not verify")]
    Signature,
    #[error("claim {0} is missing or invalid")]
    Claim(&'static str),
    #[error("it has a nonce: an ID token, not a logout token")]
    Nonce,
    #[error("it has no back-channel logout event")]
    Event,
}

fn decode(part: &str) -> Result<Map<String, Value>, LogoutTokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| LogoutTokenError::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(LogoutTokenError::Malformed),
    }
}

/// Validates `token` for the client `client_id` of the provider
/// `discovered`, at unix time `now`.
pub fn verify(
    discovered: &Discovered,
    client_id: &str,
    token: &str,
    now: i64,
) -> Result<LogoutClaims, LogoutTokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(LogoutTokenError::Malformed);
    };
    let header = decode(header)?;
    let alg_name = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(LogoutTokenError::Malformed)?;
    // Only the algorithms we accept for ID tokens, and only those the
    // provider announced: never `none`, never HMAC.
    let alg: CoreJwsSigningAlgorithm = serde_json::from_value(Value::from(alg_name))
        .map_err(|_| LogoutTokenError::Algorithm(alg_name.to_owned()))?;
    if !oidc::accepted_algs(&discovered.metadata).contains(&alg) {
        return Err(LogoutTokenError::Algorithm(alg_name.to_owned()));
    }
    // The key comes from the provider's published set only (`jwk`, `jku`
    // and `x5u` headers are ignored).
    let kid = header.get("kid").and_then(Value::as_str);
    let candidates: Vec<&CoreJsonWebKey> = discovered
        .metadata
        .jwks()
        .keys()
        .iter()
        .filter(|key| kid.is_none_or(|kid| key.key_id().is_some_and(|k| k.as_str() == kid)))
        .filter(|key| alg.key_type().as_ref() == Some(key.key_type()))
        .collect();
    let [key] = candidates.as_slice() else {
        return Err(LogoutTokenError::NoKey);
    };
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| LogoutTokenError::Malformed)?;
    let signed = token
        .rfind('.')
        .map(|end| &token[..end])
        .ok_or(LogoutTokenError::Malformed)?;
    key.verify_signature(&alg, signed.as_bytes(), &signature)
        .map_err(|_| LogoutTokenError::Signature)?;

    let claims = decode(payload)?;
    let string = |name: &'static str| match claims.get(name) {
        None => Ok(None),
        Some(Value::String(value)) if !value.is_empty() => Ok(Some(value.clone())),
        Some(_) => Err(LogoutTokenError::Claim(name)),
    };
    // Time claims must be JSON numbers.
    let number = |name: &'static str| match claims.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_i64()
            .map(Some)
            .ok_or(LogoutTokenError::Claim(name)),
    };

    let issuer = string("iss")?.ok_or(LogoutTokenError::Claim("iss"))?;
    if !discovered.is_own_iss(&issuer) {
        return Err(LogoutTokenError::Claim("iss"));
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(auds)) => auds.len() == 1 && auds[0].as_str() == Some(client_id),
        _ => false,
    };
    if !audience_ok {
        return Err(LogoutTokenError::Claim("aud"));
    }
    let issued = number("iat")?.ok_or(LogoutTokenError::Claim("iat"))?;
    if issued > now + CLOCK_SKEW_SECS || issued < now - MAX_AGE_SECS - CLOCK_SKEW_SECS {
        return Err(LogoutTokenError::Claim("iat"));
    }
    let expires = number("exp")?;
    if expires.is_some_and(|exp| exp <= now) {
        return Err(LogoutTokenError::Claim("exp"));
    }
    if claims.contains_key("nonce") {
        return Err(LogoutTokenError::Nonce);
    }
    let has_event = claims
        .get("events")
        .and_then(Value::as_object)
        .and_then(|events| events.get(LOGOUT_EVENT))
        .is_some_and(Value::is_object);
    if !has_event {
        return Err(LogoutTokenError::Event);
    }
    let (subject, sid) = (string("sub")?, string("sid")?);
    if subject.is_none() && sid.is_none() {
        return Err(LogoutTokenError::Claim("sub or sid"));
    }
    let jti = string("jti")?.ok_or(LogoutTokenError::Claim("jti"))?;
    Ok(LogoutClaims {
        issuer,
        subject,
        sid,
        jti,
        remember_until: expires
            .unwrap_or(issued + MAX_AGE_SECS)
            .max(issued + MAX_AGE_SECS + CLOCK_SKEW_SECS),
    })
}
