//! Providers described by their endpoints rather than a preset or
//! discovery: a provider whose name is no preset's and that sets
//! `<NAME>_AUTHORIZE_URL`. With `<NAME>_JWKS_URI` too it is an OpenID
//! Connect provider without discovery ([`parse_oidc`]); otherwise a plain
//! OAuth 2.0 provider ([`parse`]).
//!
//! An OpenID Connect provider without discovery: `<NAME>_ISSUER` (required:
//! the `iss` its ID tokens carry), `<NAME>_AUTHORIZE_URL`,
//! `<NAME>_TOKEN_URL` and `<NAME>_JWKS_URI` (required), and optional
//! `<NAME>_USERINFO_URL`, `<NAME>_END_SESSION_URL`,
//! `<NAME>_REVOCATION_URL`, `<NAME>_ID_TOKEN_SIGNING_ALGS` (default
//! `RS256`), `<NAME>_TOKEN_AUTH_METHOD` and
//! `<NAME>_AUTHORIZATION_RESPONSE_ISS` (`true` when its callbacks carry RFC
//! 9207 `iss`, which is then required).
//!
//! A plain OAuth 2.0 provider's variables:
//!
//! - `<NAME>_AUTHORIZE_URL`, `<NAME>_TOKEN_URL`, `<NAME>_USERINFO_URL`
//!   (required; `https://`, or `http://` on loopback);
//! - `<NAME>_ISSUER`: what keys its users' accounts with their id
//!   (default: the authorization endpoint's origin);
//! - `<NAME>_TOKEN_AUTH_METHOD`: `client_secret_basic` (default) or
//!   `client_secret_post` (RFC 6749 §2.3.1);
//! - `<NAME>_AUTHORIZE_PARAMS`, `<NAME>_TOKEN_PARAMS`: extra parameters,
//!   form-encoded (`audience=api&prompt=consent`), never one the protocol
//!   sets itself;
//! - `<NAME>_USER_ID_FIELD` (default `/id`), `<NAME>_EMAIL_FIELD` (default
//!   `/email`), `<NAME>_EMAIL_VERIFIED_FIELD`, `<NAME>_NAME_FIELD`
//!   (default `/name`), `<NAME>_AVATAR_FIELD`: JSON pointers (RFC 6901)
//!   into the user-info answer;
//! - `<NAME>_EMAILS_URL`, with `<NAME>_EMAILS_LIST_FIELD` (default: the
//!   answer itself), `<NAME>_EMAILS_ADDRESS_FIELD` (`/email`),
//!   `<NAME>_EMAILS_PRIMARY_FIELD` (`/primary`) and
//!   `<NAME>_EMAILS_VERIFIED_FIELD` (`/verified`): an endpoint that lists
//!   the user's e-mails, the primary verified one taken.

use url::Url;

use super::provider::parse_issuer;
use crate::providers::{
    configured::{EmailsApi, OAuth2Settings, UserFields},
    oauth2::ClientAuth,
    oidc::{GivenMetadata, accepted_alg_names},
};

/// Suffixes of the variables that describe a provider by its endpoints,
/// either kind.
pub(super) const DESCRIBED: [&str; 4] = [
    "AUTHORIZE_URL",
    "TOKEN_URL",
    "USERINFO_URL",
    "TOKEN_AUTH_METHOD",
];

/// Suffixes only an OpenID Connect provider without discovery takes.
pub(super) const OIDC_ONLY: [&str; 5] = [
    "JWKS_URI",
    "AUTHORIZATION_RESPONSE_ISS",
    "END_SESSION_URL",
    "REVOCATION_URL",
    "ID_TOKEN_SIGNING_ALGS",
];

/// Suffixes only a plain OAuth 2.0 provider takes.
pub(super) const PLAIN_ONLY: [&str; 12] = [
    "AUTHORIZE_PARAMS",
    "TOKEN_PARAMS",
    "USER_ID_FIELD",
    "EMAIL_FIELD",
    "EMAIL_VERIFIED_FIELD",
    "NAME_FIELD",
    "AVATAR_FIELD",
    "EMAILS_URL",
    "EMAILS_LIST_FIELD",
    "EMAILS_ADDRESS_FIELD",
    "EMAILS_PRIMARY_FIELD",
    "EMAILS_VERIFIED_FIELD",
];

/// Parameters the authorization request sets itself (RFC 6749 §4.1.1,
/// RFC 7636 §4.3, RFC 8707 §2), or that would change where and how the
/// answer comes back (`response_mode`; RFC 9101's request objects).
const AUTHORIZE_OWN: [&str; 11] = [
    "request",
    "request_uri",
    "response_mode",
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "resource",
];

/// Parameters token requests set themselves (RFC 6749 §2.3.1, §4.1.3, §6,
/// RFC 7636 §4.5, RFC 8707 §2), or client authentication (RFC 7521).
const TOKEN_OWN: [&str; 11] = [
    "client_assertion",
    "client_assertion_type",
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "client_id",
    "client_secret",
    "scope",
    "resource",
];

/// The default issuer of such a provider: its authorization endpoint's
/// origin (`https://bitbucket.org`).
pub(super) fn default_issuer(authorize_url: &str) -> Option<String> {
    let url = Url::parse(authorize_url).ok()?;
    Some(url.origin().ascii_serialization()).filter(|origin| origin != "null")
}

/// One endpoint URL, `https://` (or `http://` on loopback); a problem
/// when it is missing and `required`, or not such a URL.
fn endpoint<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
    key: &str,
    required: Option<&str>,
    problems: &mut Vec<String>,
) -> Option<String> {
    match (get(key), required) {
        (None, Some(why)) => {
            problems.push(format!("{key} is not set ({why})"));
            None
        }
        (None, None) => None,
        (Some(url), _) => match parse_issuer(url) {
            Ok(url) => Some(url),
            Err(why) => {
                problems.push(format!("{key} {why}"));
                None
            }
        },
    }
}

/// `<prefix>_TOKEN_AUTH_METHOD` (RFC 6749 §2.3.1), `client_secret_basic`
/// by default.
fn client_auth<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
    prefix: &str,
    problems: &mut Vec<String>,
) -> ClientAuth {
    let key = format!("{prefix}_TOKEN_AUTH_METHOD");
    match get(&key).map(|name| (name, ClientAuth::from_name(name))) {
        None => ClientAuth::Basic,
        Some((_, Some(method))) => method,
        Some((other, None)) => {
            problems.push(format!(
                "{key} must be client_secret_basic or client_secret_post, not {other:?}"
            ));
            ClientAuth::Basic
        }
    }
}

/// An OpenID Connect provider's metadata from its variables under
/// `prefix`, instead of discovery; each problem is pushed to `problems`.
pub(super) fn parse_oidc<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
    prefix: &str,
    problems: &mut Vec<String>,
) -> Option<GivenMetadata> {
    let why = format!(
        "an OpenID Connect provider without discovery needs {prefix}_ISSUER, \
         {prefix}_AUTHORIZE_URL, {prefix}_TOKEN_URL and {prefix}_JWKS_URI"
    );
    let var = |suffix: &str| format!("{prefix}_{suffix}");
    let authorize_url = endpoint(get, &var("AUTHORIZE_URL"), Some(&why), problems);
    let token_url = endpoint(get, &var("TOKEN_URL"), Some(&why), problems);
    let jwks_uri = endpoint(get, &var("JWKS_URI"), Some(&why), problems);
    let userinfo_url = endpoint(get, &var("USERINFO_URL"), None, problems);
    let end_session_url = endpoint(get, &var("END_SESSION_URL"), None, problems);
    let revocation_url = endpoint(get, &var("REVOCATION_URL"), None, problems);
    let accepted = accepted_alg_names();
    let id_token_algs: Vec<String> = get(&var("ID_TOKEN_SIGNING_ALGS"))
        .unwrap_or("RS256")
        .split([' ', ','])
        .filter(|alg| !alg.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(bad) = id_token_algs.iter().find(|alg| !accepted.contains(alg)) {
        problems.push(format!(
            "{} lists {bad:?}, which is not an accepted signature algorithm ({})",
            var("ID_TOKEN_SIGNING_ALGS"),
            accepted.join(", ")
        ));
    }
    if id_token_algs.is_empty() {
        problems.push(format!(
            "{} must name at least one algorithm",
            var("ID_TOKEN_SIGNING_ALGS")
        ));
    }
    misplaced(
        get,
        prefix,
        &PLAIN_ONLY,
        "a plain OAuth 2.0 provider",
        problems,
    );
    let client_auth = client_auth(get, prefix, problems);
    let sends_iss = match get(&var("AUTHORIZATION_RESPONSE_ISS")) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            problems.push(format!(
                "{} must be true or false, not {other:?}",
                var("AUTHORIZATION_RESPONSE_ISS")
            ));
            false
        }
    };
    Some(GivenMetadata {
        authorize_url: authorize_url?,
        token_url: token_url?,
        jwks_uri: jwks_uri?,
        userinfo_url,
        end_session_url,
        revocation_url,
        id_token_algs,
        client_auth,
        sends_iss,
    })
}

/// A plain OAuth 2.0 provider's endpoints and fields, read with `get`
/// under `prefix` (`BITBUCKET`); each problem is pushed to `problems`.
pub(super) fn parse<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
    prefix: &str,
    problems: &mut Vec<String>,
) -> Option<OAuth2Settings> {
    let var = |suffix: &str| format!("{prefix}_{suffix}");
    let why = format!(
        "a provider configured by its endpoints needs {prefix}_AUTHORIZE_URL, \
         {prefix}_TOKEN_URL and {prefix}_USERINFO_URL"
    );
    let authorize_url = endpoint(get, &var("AUTHORIZE_URL"), Some(&why), problems);
    let token_url = endpoint(get, &var("TOKEN_URL"), Some(&why), problems);
    let userinfo_url = endpoint(get, &var("USERINFO_URL"), Some(&why), problems);
    let emails_url = endpoint(get, &var("EMAILS_URL"), None, problems);
    let client_auth = client_auth(get, prefix, problems);
    misplaced(
        get,
        prefix,
        &OIDC_ONLY,
        "an OpenID Connect provider without discovery",
        problems,
    );
    let mut params = |suffix: &str, own: &[&str]| {
        let Some(text) = get(&var(suffix)) else {
            return Vec::new();
        };
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(text.as_bytes())
            .into_owned()
            .collect();
        for (name, _) in &pairs {
            if name.is_empty() {
                problems.push(format!("{} has a parameter without a name", var(suffix)));
            } else if own.contains(&name.as_str()) {
                problems.push(format!(
                    "{} sets {name:?}, which the protocol sets itself",
                    var(suffix)
                ));
            }
        }
        pairs
    };
    let authorize_params = params("AUTHORIZE_PARAMS", &AUTHORIZE_OWN);
    let token_params = params("TOKEN_PARAMS", &TOKEN_OWN);
    let mut pointer = |suffix: &str, default: Option<&str>| {
        let value = get(&var(suffix)).or(default)?;
        if !is_json_pointer(value) {
            problems.push(format!(
                "{} must be a JSON pointer (RFC 6901) such as /user/id, not {value:?}",
                var(suffix)
            ));
        }
        Some(value.to_owned())
    };
    let fields = UserFields {
        id: pointer("USER_ID_FIELD", Some("/id")).unwrap_or_default(),
        email: pointer("EMAIL_FIELD", Some("/email")),
        email_verified: pointer("EMAIL_VERIFIED_FIELD", None),
        name: pointer("NAME_FIELD", Some("/name")),
        avatar: pointer("AVATAR_FIELD", None),
    };
    let list = pointer("EMAILS_LIST_FIELD", Some(""));
    let address = pointer("EMAILS_ADDRESS_FIELD", Some("/email"));
    let primary = pointer("EMAILS_PRIMARY_FIELD", Some("/primary"));
    let verified = pointer("EMAILS_VERIFIED_FIELD", Some("/verified"));
    let emails = emails_url.map(|url| EmailsApi {
        url,
        list: list.unwrap_or_default(),
        address: address.unwrap_or_default(),
        primary: primary.unwrap_or_default(),
        verified: verified.unwrap_or_default(),
    });
    Some(OAuth2Settings {
        authorize_url: authorize_url?,
        token_url: token_url?,
        userinfo_url: userinfo_url?,
        client_auth,
        authorize_params,
        token_params,
        fields,
        emails,
    })
}

/// Each of the variables `suffixes` set for `prefix`'s provider, which
/// they do not apply to (they are for `kind`), is a problem.
pub(super) fn misplaced<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
    prefix: &str,
    suffixes: &[&str],
    kind: &str,
    problems: &mut Vec<String>,
) {
    for suffix in suffixes {
        let key = format!("{prefix}_{suffix}");
        if get(&key).is_some() {
            problems.push(format!(
                "{key} applies only to {kind} ({prefix}_AUTHORIZE_URL, for a name \
                 that is not a preset)"
            ));
        }
    }
}

/// A JSON pointer (RFC 6901 §3): empty, or `/` then reference tokens in
/// which `~` is only ever `~0` or `~1`.
fn is_json_pointer(value: &str) -> bool {
    (value.is_empty() || value.starts_with('/'))
        && value
            .split('~')
            .skip(1)
            .all(|after| after.starts_with(['0', '1']))
}
