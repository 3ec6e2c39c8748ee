//! The upstream APIs the browser reaches through Portcullis:
//! `REMOTE_APIS=notes,files`, then for each `API_<NAME>_URL` (the upstream
//! base, `https://`, or `http://` on loopback) and optional
//! `API_<NAME>_PREFIX` (the local path, default `/api/remote/<name>`),
//! `API_<NAME>_TOKEN` (`user`, `user-if-signed-in` or `none`; default
//! `user`), `API_<NAME>_PROVIDER` (the provider whose tokens the API takes,
//! required unless the policy is `none`: a token is never sent to an API
//! that did not ask for that provider's), `API_<NAME>_RESOURCE` (the
//! resource its tokens are meant for, RFC 8707 §2) and `API_<NAME>_SCOPES`
//! (the scopes they must carry, RFC 6749 §3.3), `API_<NAME>_MAX_BODY_BYTES`
//! (request and answer bodies; no cap by default) and
//! `API_<NAME>_TIMEOUT_SECONDS` (the whole exchange, default 30).
//!
//! An API's resource and scopes are asked for in its provider's
//! authorization request, so the user grants them when signing in.

use std::time::Duration;

use url::Url;

use super::provider::{is_valid_name, parse_issuer};
use crate::providers::{Audience, Protocol, ProviderSettings};

/// Whose access token a proxied request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenPolicy {
    /// The signed-in user's; a request without a signed-in session is
    /// refused with 401 (`user`).
    User,
    /// The signed-in user's if there is one, none otherwise
    /// (`user-if-signed-in`).
    UserIfSignedIn,
    /// None: the upstream is public (`none`).
    None,
}

impl TokenPolicy {
    /// The value of `API_<NAME>_TOKEN`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::UserIfSignedIn => "user-if-signed-in",
            Self::None => "none",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        [Self::User, Self::UserIfSignedIn, Self::None]
            .into_iter()
            .find(|policy| policy.as_str() == value)
    }
}

/// One upstream API, as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RemoteApiSettings {
    pub name: String,
    /// The local path prefix, e.g. `/api/remote/notes`, no trailing slash.
    pub prefix: String,
    /// The upstream base; its path (no trailing slash) is put before the
    /// rest of the request's path.
    pub upstream: Url,
    pub token: TokenPolicy,
    /// The provider whose tokens it takes; `None` only when it takes none.
    pub provider: Option<String>,
    /// What its token is for, when it names a resource or scopes: then it
    /// gets an access token of its own, not the session's.
    pub audience: Option<Audience>,
    /// Largest request or answer body, in bytes.
    pub max_body: Option<u64>,
    /// The whole exchange, connecting through the last byte of the answer.
    pub timeout: Duration,
}

/// The whole exchange with an upstream may take this long by default.
const DEFAULT_TIMEOUT: u64 = 30;

/// The APIs `REMOTE_APIS` lists, in its order, read with `get`; each
/// problem found is pushed to `problems`. `providers` are the configured
/// identity providers an API may name.
pub(super) fn parse<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
    providers: &[ProviderSettings],
    problems: &mut Vec<String>,
) -> Vec<RemoteApiSettings> {
    let mut apis: Vec<RemoteApiSettings> = Vec::new();
    let names = get("REMOTE_APIS").unwrap_or_default();
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if !is_valid_name(name) {
            problems.push(format!(
                "REMOTE_APIS: \"{name}\" is not a valid API name \
                 (use lower-case letters, digits and '-', starting with a letter)"
            ));
            continue;
        }
        if apis.iter().any(|api| api.name == name) {
            problems.push(format!("REMOTE_APIS lists \"{name}\" twice"));
            continue;
        }
        let var = |suffix: &str| {
            format!(
                "API_{}_{suffix}",
                name.to_ascii_uppercase().replace('-', "_")
            )
        };
        let upstream = match get(&var("URL")) {
            None => {
                problems.push(format!(
                    "{} is not set (needed for API \"{name}\")",
                    var("URL")
                ));
                None
            }
            Some(url) => match parse_upstream(url) {
                Ok(url) => Some(url),
                Err(why) => {
                    problems.push(format!("{} {why}", var("URL")));
                    None
                }
            },
        };
        let prefix = match get(&var("PREFIX")) {
            None => format!("/api/remote/{name}"),
            Some(prefix) => {
                let prefix = prefix.trim_end_matches('/');
                if !is_valid_prefix(prefix) {
                    problems.push(format!(
                        "{} must be a path such as /api/remote/{name}: letters, digits, \
                         '-', '_' and '/' only, not under /auth/, not {prefix:?}",
                        var("PREFIX")
                    ));
                }
                prefix.to_owned()
            }
        };
        if let Some(other) = apis.iter().find(|api| overlaps(&api.prefix, &prefix)) {
            problems.push(format!(
                "{} {prefix:?} overlaps API \"{}\"'s {:?}",
                var("PREFIX"),
                other.name,
                other.prefix
            ));
        }
        let token = match get(&var("TOKEN")) {
            None => TokenPolicy::User,
            Some(value) => TokenPolicy::parse(value).unwrap_or_else(|| {
                problems.push(format!(
                    "{} must be user, user-if-signed-in or none, not {value:?}",
                    var("TOKEN")
                ));
                TokenPolicy::User
            }),
        };
        let provider = get(&var("PROVIDER")).map(str::to_owned);
        if provider.is_none() && token != TokenPolicy::None {
            let listed: Vec<&str> = providers.iter().map(|p| p.id.as_str()).collect();
            problems.push(format!(
                "{} is not set: name the provider whose tokens API \"{name}\" takes \
                 (AUTH_PROVIDERS lists: {}), or set {} to none",
                var("PROVIDER"),
                listed.join(", "),
                var("TOKEN")
            ));
        }
        if let Some(id) = &provider {
            match providers.iter().find(|p| &p.id == id) {
                None => problems.push(format!(
                    "{} names \"{id}\", which AUTH_PROVIDERS does not list",
                    var("PROVIDER")
                )),
                // Its token credentials sign requests; they are no bearer token.
                Some(p) if matches!(p.protocol, Protocol::OAuth1(_)) => problems.push(format!(
                    "{} names \"{id}\", an OAuth 1.0a provider, whose tokens cannot be sent as a bearer token",
                    var("PROVIDER")
                )),
                Some(_) => {}
            }
            if token == TokenPolicy::None {
                problems.push(format!(
                    "{} is set but {} is none: no token is sent",
                    var("PROVIDER"),
                    var("TOKEN")
                ));
            }
        }
        let resource = get(&var("RESOURCE")).and_then(|value| match parse_resource(value) {
            Ok(()) => Some(value.to_owned()),
            Err(why) => {
                problems.push(format!("{} {why}", var("RESOURCE")));
                None
            }
        });
        let scopes: Vec<String> = get(&var("SCOPES"))
            .unwrap_or_default()
            .split([' ', ','])
            .filter(|scope| !scope.is_empty())
            .map(str::to_owned)
            .fold(Vec::new(), |mut scopes, scope| {
                if !scopes.contains(&scope) {
                    scopes.push(scope);
                }
                scopes
            });
        if let Some(bad) = scopes.iter().find(|scope| !is_scope_token(scope)) {
            problems.push(format!(
                "{} lists {bad:?}, which is not a scope (RFC 6749 §3.3: printable ASCII \
                 without '\"' or '\\')",
                var("SCOPES")
            ));
        }
        let audience =
            (resource.is_some() || !scopes.is_empty()).then_some(Audience { resource, scopes });
        if audience.is_some() && token == TokenPolicy::None {
            problems.push(format!(
                "{} or {} is set but {} is none: no token is sent",
                var("RESOURCE"),
                var("SCOPES"),
                var("TOKEN")
            ));
        }
        let max_body = get(&var("MAX_BODY_BYTES")).and_then(|value| match value.parse::<u64>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                problems.push(format!(
                    "{} must be a whole number of bytes above 0, not {value:?}",
                    var("MAX_BODY_BYTES")
                ));
                None
            }
        });
        let timeout = match get(&var("TIMEOUT_SECONDS")) {
            None => Duration::from_secs(DEFAULT_TIMEOUT),
            Some(value) => match value.parse::<u64>() {
                Ok(n) if (1..=3600).contains(&n) => Duration::from_secs(n),
                _ => {
                    problems.push(format!(
                        "{} must be a whole number of seconds from 1 to 3600, not {value:?}",
                        var("TIMEOUT_SECONDS")
                    ));
                    Duration::from_secs(DEFAULT_TIMEOUT)
                }
            },
        };
        if let Some(upstream) = upstream {
            apis.push(RemoteApiSettings {
                name: name.to_owned(),
                prefix,
                upstream,
                token,
                provider,
                audience,
                max_body,
                timeout,
            });
        }
    }
    apis
}

/// Each provider's authorization request asks for the resources and the
/// scopes of the APIs that take its tokens (RFC 8707 §2.1), so signing in
/// grants them.
pub(super) fn widen_providers(apis: &[RemoteApiSettings], providers: &mut [ProviderSettings]) {
    for api in apis {
        let (Some(id), Some(audience)) = (&api.provider, &api.audience) else {
            continue;
        };
        let Some(provider) = providers.iter_mut().find(|p| &p.id == id) else {
            continue;
        };
        if let Some(resource) = &audience.resource
            && !provider.resources.contains(resource)
        {
            provider.resources.push(resource.clone());
        }
        let missing: Vec<String> = audience
            .scopes
            .iter()
            .filter(|scope| !provider.scopes.contains(scope))
            .cloned()
            .collect();
        provider.scopes.extend(missing);
    }
}

/// A resource indicator (RFC 8707 §2): an absolute URI without a fragment
/// (or, as the RFC advises, a query), and without whitespace.
fn parse_resource(value: &str) -> Result<(), &'static str> {
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must be an absolute URI without spaces (RFC 8707 §2)");
    }
    let url = Url::parse(value).map_err(|_| "must be an absolute URI (RFC 8707 §2)")?;
    if url.fragment().is_some() || value.contains('#') {
        return Err("must not have a fragment (RFC 8707 §2)");
    }
    if url.query().is_some() {
        return Err("must not have a query (RFC 8707 §2)");
    }
    Ok(())
}

/// A scope token (RFC 6749 §3.3): `%x21 / %x23-5B / %x5D-7E`.
fn is_scope_token(scope: &str) -> bool {
    scope
        .bytes()
        .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// An upstream base: `https://`, or `http://` on loopback; no query or
/// fragment.
fn parse_upstream(value: &str) -> Result<Url, &'static str> {
    parse_issuer(value)?;
    let url = Url::parse(value).map_err(|_| "is not a URL")?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials");
    }
    Ok(url)
}

/// A local path prefix: `/` then segments of letters, digits, `-` and `_`;
/// never Portcullis's own `/auth/`.
fn is_valid_prefix(prefix: &str) -> bool {
    prefix.len() > 1
        && prefix.starts_with('/')
        && prefix[1..].split('/').all(|segment| {
            !segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        })
        && prefix != "/auth"
        && !prefix.starts_with("/auth/")
}

/// Whether one prefix is the other or lies under it.
fn overlaps(a: &str, b: &str) -> bool {
    let under = |inner: &str, outer: &str| {
        inner == outer
            || inner
                .strip_prefix(outer)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    under(a, b) || under(b, a)
}
