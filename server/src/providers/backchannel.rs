//! Back-channel logout tokens (OIDC Back-Channel Logout 1.0, SECURITY.md
//! C1/C3): a signed JWT the provider posts when a user signs out there.
//! Checked like an ID token (signature with the provider's keys and an
//! asymmetric algorithm, `iss`, `aud`, recent `iat`, `exp`), plus what
//! makes it a logout token: the back-channel logout event, `sub` or `sid`,
//! a `jti`, and no `nonce` (so an ID token is never taken for one).

use serde_json::Value;

use super::{
    Discovered,
    claims::{CLOCK_SKEW_SECS, MAX_AGE_SECS, Object},
};

/// The event a logout token must carry.
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

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
    #[error("claim {0} is missing or invalid")]
    Claim(&'static str),
    #[error("it has a nonce: an ID token, not a logout token")]
    Nonce,
    #[error("it has no back-channel logout event")]
    Event,
}

/// Checks the claims of a logout token whose signature verified (with
/// [`super::Provider::verify_signed`]) for the client `client_id` of the
/// provider `discovered`, at unix time `now`.
pub fn check(
    discovered: &Discovered,
    client_id: &str,
    claims: &Object,
    now: i64,
) -> Result<LogoutClaims, LogoutTokenError> {
    let string = |name: &'static str| match claims.get(name) {
        None => Ok(None),
        Some(Value::String(value)) if !value.is_empty() => Ok(Some(value.clone())),
        Some(_) => Err(LogoutTokenError::Claim(name)),
    };
    // Time claims must be JSON numbers.
    let number = |name: &'static str| {
        super::claims::numeric_date(claims, name).map_err(|_| LogoutTokenError::Claim(name))
    };

    let issuer = string("iss")?.ok_or(LogoutTokenError::Claim("iss"))?;
    if !discovered.is_own_iss(&issuer) {
        return Err(LogoutTokenError::Claim("iss"));
    }
    if !super::claims::is_only_audience(claims, client_id) {
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
