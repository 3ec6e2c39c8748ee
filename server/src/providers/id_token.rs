//! ID token validation (OIDC Core §3.1.3.7, and §12.2 for refresh
//! responses), after its signature verified ([`super::jws`]).
//!
//! Strict on what the sign-in rests on: `iss` exactly the provider's (or,
//! for a multi-tenant issuer, the token's own tenant's), `aud` exactly this
//! client and no other, `azp` only this client, `sub` a non-empty string,
//! `exp`, `iat` and `auth_time` JSON numbers with `exp` in the future and
//! `iat` recent, `nonce` the authorization request's, `at_hash` the access
//! token's; and, when the sign-in asked for them (OIDC Core §3.1.2.1),
//! `auth_time` within `max_age` (or since the sign-in began, for
//! `prompt=login`) and `acr` one of the `acr_values`. Tolerant of everything else: profile claims are read in every
//! unambiguous shape ([`super::claims`]) and claims we do not use
//! (`updated_at`, `locale`, …) are never read at all.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use openidconnect::JsonWebKey;
use serde_json::Value;

use super::{
    Discovered,
    claims::{self, CLOCK_SKEW_SECS, MAX_AGE_SECS, NotANumber, Object},
    jws::{JwsError, Signed},
    microsoft,
};

/// Why an ID token was refused: one variant per failed check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenError {
    #[error("ID token signature refused")]
    Signature(#[from] JwsError),
    #[error("a logout token is not an ID token")]
    LogoutToken,
    #[error("ID token iss is missing or not the provider's issuer")]
    Issuer,
    #[error("ID token's issuer is not the issuer of its tenant (tid)")]
    Tenant,
    #[error("ID token aud is missing or names another client")]
    Audience,
    #[error("ID token azp names another client")]
    AuthorizedParty,
    #[error("ID token sub is missing or not a string")]
    Subject,
    #[error("ID token has no exp")]
    NoExpiry,
    #[error("ID token expired {0}s ago")]
    Expired(i64),
    #[error("ID token has no iat")]
    NoIssueTime,
    #[error("ID token was issued {0}s ago")]
    IssuedLongAgo(i64),
    #[error("ID token was issued {0}s in the future")]
    IssuedInTheFuture(i64),
    #[error("ID token {0}")]
    NotANumber(#[from] NotANumber),
    #[error("ID token nonce is missing or not this sign-in's")]
    Nonce,
    #[error("ID token has no auth_time though the sign-in asked for a max_age")]
    NoAuthTime,
    #[error("ID token says the user authenticated {0}s ago, longer than the max_age asked")]
    AuthenticatedLongAgo(i64),
    #[error("ID token says the user authenticated before a sign-in that asked for prompt=login")]
    AuthenticatedBeforeSignIn,
    #[error("ID token acr {0:?} is none of the acr_values asked for")]
    AuthenticationContext(Option<String>),
    #[error("ID token at_hash does not match the access token")]
    AccessTokenHash,
    #[error("cannot compute the at_hash of the ID token's algorithm: {0}")]
    HashUnavailable(String),
}

impl IdTokenError {
    /// Whether the token is sound but does not show the authentication
    /// the sign-in asked for (`max_age`, `prompt=login`, `acr_values`).
    pub fn is_about_authentication(&self) -> bool {
        matches!(
            self,
            Self::NoAuthTime
                | Self::AuthenticatedLongAgo(_)
                | Self::AuthenticatedBeforeSignIn
                | Self::AuthenticationContext(_)
        )
    }
}

/// Who the ID token says signed in, and what it tells about them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdClaims {
    /// `iss`: the provider's issuer (a multi-tenant one's tenant issuer).
    pub issuer: String,
    /// `sub`: the account at that issuer, stable and never reassigned.
    pub subject: String,
    /// The provider's session id, for back-channel logout.
    pub sid: Option<String>,
    /// `auth_time`: when the user authenticated, Unix seconds.
    pub auth_time: Option<i64>,
    pub profile: Profile,
}

/// Profile claims (OIDC Core §5.1), read from an ID token or userinfo in
/// whatever unambiguous shape they came.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// `name`, else `given_name` and `family_name` joined, else
    /// `preferred_username` (Twitch has only that).
    pub name: Option<String>,
    pub email: Option<String>,
    /// `None` when the provider did not say (or said it unreadably).
    pub email_verified: Option<bool>,
    /// `picture`: a URL.
    pub picture: Option<String>,
}

impl Profile {
    /// Whether a name and an e-mail are known, and whether it is verified.
    pub fn is_complete(&self) -> bool {
        self.name.is_some() && self.email.is_some() && self.email_verified.is_some()
    }

    /// What `more` (userinfo's answer) adds: what is missing here, and
    /// whether the e-mail is verified when both name the same one.
    pub fn complete_with(&mut self, more: Profile) {
        self.name = self.name.take().or(more.name);
        self.picture = self.picture.take().or(more.picture);
        match &self.email {
            None => {
                self.email = more.email;
                self.email_verified = more.email_verified;
            }
            Some(email) if more.email.as_ref() == Some(email) => {
                self.email_verified = self.email_verified.or(more.email_verified);
            }
            Some(_) => {}
        }
    }

    /// The profile claims of an ID token or a userinfo answer.
    pub fn from_claims(claims: &Object) -> Self {
        let name = claims::text(claims, "name").or_else(|| {
            let parts: Vec<String> = ["given_name", "family_name"]
                .iter()
                .filter_map(|part| claims::text(claims, part))
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        });
        let name = name.or_else(|| claims::text(claims, "preferred_username"));
        Self {
            name,
            email: claims::text(claims, "email"),
            email_verified: claims::flag(claims, "email_verified"),
            picture: claims::text(claims, "picture"),
        }
    }
}

/// What the token must answer.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub client_id: &'a str,
    /// The authorization request's nonce; `None` for a refresh response's
    /// ID token, which answers no authorization request.
    pub nonce: Option<&'a str>,
    /// The access token issued with it, for `at_hash`.
    pub access_token: &'a str,
    /// Unix time now.
    pub now: i64,
    /// What the sign-in asked of the authentication; none for a refresh.
    pub authentication: Authentication<'a>,
}

/// What an authentication request asked of the user's authentication
/// (OIDC Core §3.1.2.1), for the ID token that answers it to meet.
#[derive(Debug, Clone, Copy, Default)]
pub struct Authentication<'a> {
    /// `max_age`, seconds: `auth_time` must be present and no older.
    pub max_age: Option<u64>,
    /// `prompt=login` was asked at this Unix time: an `auth_time` must
    /// not be older than it.
    pub login_since: Option<i64>,
    /// `acr_values`: `acr` must be one of them.
    pub acr_values: &'a [String],
}

impl Authentication<'_> {
    /// Checks `claims`' `auth_time` (already read) and `acr` at `now`.
    fn check(&self, claims: &Object, auth_time: Option<i64>, now: i64) -> Result<(), IdTokenError> {
        if let Some(max_age) = self.max_age {
            let auth_time = auth_time.ok_or(IdTokenError::NoAuthTime)?;
            let age = now - auth_time;
            if age > i64::try_from(max_age).unwrap_or(i64::MAX) + CLOCK_SKEW_SECS {
                return Err(IdTokenError::AuthenticatedLongAgo(age));
            }
        }
        if let (Some(since), Some(auth_time)) = (self.login_since, auth_time)
            && auth_time < since - CLOCK_SKEW_SECS
        {
            return Err(IdTokenError::AuthenticatedBeforeSignIn);
        }
        if !self.acr_values.is_empty() {
            let acr = claims::text(claims, "acr");
            if !acr
                .as_ref()
                .is_some_and(|acr| self.acr_values.contains(acr))
            {
                return Err(IdTokenError::AuthenticationContext(acr));
            }
        }
        Ok(())
    }
}

/// Checks the claims of a signature-verified ID token.
pub fn check(
    discovered: &Discovered,
    signed: &Signed,
    expected: Expected<'_>,
) -> Result<IdClaims, IdTokenError> {
    let claims = &signed.claims;
    if signed.typ.as_deref() == Some("logout+jwt") {
        return Err(IdTokenError::LogoutToken);
    }
    let issuer = claims::text(claims, "iss").ok_or(IdTokenError::Issuer)?;
    match &discovered.tenant_template {
        None if issuer != discovered.issuer() => return Err(IdTokenError::Issuer),
        None => {}
        Some(template) => {
            let own = claims::text(claims, "tid")
                .and_then(|tid| microsoft::issuer_of_tenant(template, &tid))
                .ok_or(IdTokenError::Tenant)?;
            if issuer != own {
                return Err(IdTokenError::Tenant);
            }
        }
    }
    if !claims::is_only_audience(claims, expected.client_id) {
        return Err(IdTokenError::Audience);
    }
    if claims
        .get("azp")
        .is_some_and(|azp| azp.as_str() != Some(expected.client_id))
    {
        return Err(IdTokenError::AuthorizedParty);
    }
    let subject = claims::text(claims, "sub").ok_or(IdTokenError::Subject)?;

    let now = expected.now;
    let expires = claims::numeric_date(claims, "exp")?.ok_or(IdTokenError::NoExpiry)?;
    if expires <= now {
        return Err(IdTokenError::Expired(now - expires));
    }
    let issued = claims::numeric_date(claims, "iat")?.ok_or(IdTokenError::NoIssueTime)?;
    if issued > now + CLOCK_SKEW_SECS {
        return Err(IdTokenError::IssuedInTheFuture(issued - now));
    }
    if issued < now - MAX_AGE_SECS - CLOCK_SKEW_SECS {
        return Err(IdTokenError::IssuedLongAgo(now - issued));
    }
    let auth_time = claims::numeric_date(claims, "auth_time")?;
    expected.authentication.check(claims, auth_time, now)?;

    if let Some(nonce) = expected.nonce
        && claims.get("nonce").and_then(Value::as_str) != Some(nonce)
    {
        return Err(IdTokenError::Nonce);
    }
    if let Some(at_hash) = claims.get("at_hash") {
        let actual = access_token_hash(signed, expected.access_token)?;
        if at_hash.as_str() != Some(actual.as_str()) {
            return Err(IdTokenError::AccessTokenHash);
        }
    }
    Ok(IdClaims {
        issuer,
        subject,
        sid: claims::text(claims, "sid"),
        auth_time,
        profile: Profile::from_claims(claims),
    })
}

/// `at_hash` (OIDC Core §3.1.3.6): the left half of the access token's hash
/// under the ID token's algorithm, base64url.
fn access_token_hash(signed: &Signed, access_token: &str) -> Result<String, IdTokenError> {
    let hash = signed
        .key
        .hash_bytes(access_token.as_bytes(), &signed.alg)
        .map_err(IdTokenError::HashUnavailable)?;
    Ok(URL_SAFE_NO_PAD.encode(&hash[..hash.len() / 2]))
}
