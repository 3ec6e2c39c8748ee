//! The identity providers in the settings: `AUTH_PROVIDERS=local,acme`,
//! then for each `<NAME>_CLIENT_ID`, `<NAME>_CLIENT_SECRET`, and
//! `<NAME>_ISSUER` (or `<NAME>_PRESET`, or a preset's own name, or
//! `<NAME>_AUTHORIZE_URL` and the other variables of a plain OAuth 2.0
//! provider configured by its endpoints, `oauth2.rs`), optional
//! `<NAME>_SCOPES`, `<NAME>_LABEL`, `<NAME>_TENANT` and `<NAME>_API_URL`.

use std::sync::Arc;

use url::{Host, Url};

use super::{endpoints, signing_key};
use crate::{
    providers::{
        self, Protocol, ProviderSettings, ResponseMode, configured::CONFIGURED, microsoft,
        oauth1::SignatureMethod,
    },
    secret::Secret,
};

const DEFAULT_SCOPES: &str = "openid email profile";

/// The providers `AUTH_PROVIDERS` lists, in its order, read with `get`;
/// each problem found is pushed to `problems`.
pub fn parse<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
    problems: &mut Vec<String>,
) -> Vec<ProviderSettings> {
    let mut providers: Vec<ProviderSettings> = Vec::new();
    let names = get("AUTH_PROVIDERS").unwrap_or_default();
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if !is_valid_name(name) {
            problems.push(format!(
                "AUTH_PROVIDERS: \"{name}\" is not a valid provider name \
                 (use lower-case letters, digits and '-', starting with a letter)"
            ));
            continue;
        }
        if providers.iter().any(|p| p.id == name) {
            problems.push(format!("AUTH_PROVIDERS lists \"{name}\" twice"));
            continue;
        }
        let prefix = name.to_ascii_uppercase().replace('-', "_");
        let preset = match get(&format!("{prefix}_PRESET")) {
            None => providers::preset(name),
            Some(kind) => {
                let found = providers::preset(kind);
                if found.is_none() {
                    problems.push(format!(
                        "{prefix}_PRESET: \"{kind}\" is not a preset (known: {})",
                        providers::preset_names().collect::<Vec<_>>().join(", ")
                    ));
                }
                found
            }
        };
        let preset_id = preset.and(providers::preset_name(
            get(&format!("{prefix}_PRESET")).unwrap_or(name),
        ));
        // Sign in with Apple makes its client secret from a key, when
        // given one; else it takes one made elsewhere.
        let takes_key = preset_id == Some("apple");
        let key_given = takes_key && signing_key::is_given(get, &prefix);
        let client_secret_key = signing_key::parse(get, &prefix, takes_key, problems);
        let secret_given = get(&format!("{prefix}_CLIENT_SECRET")).is_some();
        if key_given && secret_given {
            problems.push(format!(
                "{prefix}_CLIENT_SECRET is made from {prefix}_PRIVATE_KEY: leave it unset"
            ));
        }
        let mut required = |suffix: &str| {
            let key = format!("{prefix}_{suffix}");
            let value = get(&key).map(str::to_owned);
            if value.is_none() {
                problems.push(format!("{key} is not set (needed for provider \"{name}\")"));
            }
            value
        };
        let client_id = required("CLIENT_ID");
        let client_secret = if key_given {
            // Its problems, if any, are reported already.
            client_secret_key
                .as_ref()
                .filter(|_| !secret_given)
                .map(|_| String::new())
        } else {
            required("CLIENT_SECRET")
        };
        // Described by its endpoints: an OpenID Connect provider without
        // discovery when it names its keys, else plain OAuth 2.0.
        let described = preset.is_none() && get(&format!("{prefix}_AUTHORIZE_URL")).is_some();
        let without_discovery = described && get(&format!("{prefix}_JWKS_URI")).is_some();
        let configured = described && !without_discovery;
        let tenant = get(&format!("{prefix}_TENANT"));
        let issuer =
            match (preset, tenant) {
                (Some(p), Some(tenant)) if p.protocol == Protocol::OidcMultiTenant => {
                    Some(microsoft::issuer_for(tenant))
                }
                (Some(preset), _) => Some(
                    get(&format!("{prefix}_ISSUER"))
                        .unwrap_or(preset.issuer)
                        .to_owned(),
                ),
                (None, _) if configured => get(&format!("{prefix}_ISSUER"))
                    .map(str::to_owned)
                    .or_else(|| {
                        // A bad endpoint is reported as itself, not as the
                        // issuer made from it.
                        let authorize = get(&format!("{prefix}_AUTHORIZE_URL"))?;
                        parse_issuer(authorize).ok()?;
                        endpoints::default_issuer(authorize)
                    }),
                (None, _) => required("ISSUER"),
            };
        let issuer = issuer.and_then(|issuer| match parse_issuer(&issuer) {
            Ok(issuer) => Some(issuer),
            Err(why) => {
                problems.push(format!("{prefix}_ISSUER {why}"));
                None
            }
        });
        let oauth2 = configured
            .then(|| endpoints::parse(get, &prefix, problems).map(Arc::new))
            .flatten();
        let metadata = without_discovery
            .then(|| endpoints::parse_oidc(get, &prefix, problems).map(Arc::new))
            .flatten();
        if !described {
            let why = "a provider described by its endpoints";
            for suffixes in [
                &endpoints::DESCRIBED[..],
                &endpoints::OIDC_ONLY,
                &endpoints::PLAIN_ONLY,
            ] {
                endpoints::misplaced(get, &prefix, suffixes, why, problems);
            }
        }
        let mut protocol = match preset {
            Some(preset) => preset.protocol,
            None if configured => Protocol::Plain(&CONFIGURED),
            None => Protocol::Oidc,
        };
        // A Microsoft app bound to one tenant is plain OpenID Connect.
        if protocol == Protocol::OidcMultiTenant
            && !issuer.as_deref().is_some_and(microsoft::is_multi_tenant)
        {
            protocol = Protocol::Oidc;
        }
        // A provider configured by its endpoints asks for no scope unless
        // told: plain OAuth 2.0 has no standard one.
        let default_scopes = if configured { "" } else { DEFAULT_SCOPES };
        let scopes: Vec<String> = get(&format!("{prefix}_SCOPES"))
            .or(preset.map(|p| p.scopes))
            .unwrap_or(default_scopes)
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if protocol.is_oidc() && !scopes.iter().any(|s| s == "openid") {
            problems.push(format!("{prefix}_SCOPES must include \"openid\""));
        }
        let api_url = get(&format!("{prefix}_API_URL")).and_then(|url| {
            if protocol.is_oidc() {
                problems.push(format!(
                    "{prefix}_API_URL applies to the presets with an API of their own only (GitHub, Discord, Bitbucket, X, Facebook, Twitter) \
                     (OpenID Connect providers are found by discovery)"
                ));
                return None;
            }
            if configured {
                problems.push(format!(
                    "{prefix}_API_URL applies to the presets with an API of their own only (GitHub, Discord, Bitbucket, X, Facebook, Twitter) \
                     (this provider's API is {prefix}_USERINFO_URL)"
                ));
                return None;
            }
            match parse_issuer(url) {
                Ok(url) => Some(url.trim_end_matches('/').to_owned()),
                Err(why) => {
                    problems.push(format!("{prefix}_API_URL {why}"));
                    None
                }
            }
        });
        let signature_method = match get(&format!("{prefix}_SIGNATURE_METHOD")) {
            None => SignatureMethod::default(),
            Some(_) if !matches!(protocol, Protocol::OAuth1(_)) => {
                problems.push(format!(
                    "{prefix}_SIGNATURE_METHOD applies to OAuth 1.0a providers only (twitter)"
                ));
                SignatureMethod::default()
            }
            Some(name) => SignatureMethod::from_name(name).unwrap_or_else(|| {
                problems.push(format!(
                    "{prefix}_SIGNATURE_METHOD must be HMAC-SHA1 or PLAINTEXT, not {name:?}"
                ));
                SignatureMethod::default()
            }),
        };
        let response_mode = match get(&format!("{prefix}_RESPONSE_MODE")) {
            None => preset.map_or(ResponseMode::Query, |p| p.response_mode),
            Some(name) => ResponseMode::from_name(name).unwrap_or_else(|| {
                problems.push(format!(
                    "{prefix}_RESPONSE_MODE must be query or form_post, not {name:?}"
                ));
                ResponseMode::Query
            }),
        };
        let label = get(&format!("{prefix}_LABEL"))
            .or(preset.map(|p| p.label))
            .map(str::to_owned)
            .unwrap_or_else(|| default_label(name));
        if let (Some(client_id), Some(client_secret), Some(issuer)) =
            (client_id, client_secret, issuer)
        {
            providers.push(ProviderSettings {
                id: name.to_owned(),
                label,
                issuer,
                client_id,
                client_secret: Secret::new(client_secret),
                scopes,
                protocol,
                api_url,
                resources: Vec::new(),
                oauth2,
                metadata,
                response_mode,
                authorize_params: preset.map_or(&[], |p| p.authorize_params),
                preset: preset_id,
                client_secret_key,
                signature_method,
            });
        }
    }
    same_issuer(&providers, problems);
    providers
}

/// Two providers one of which is described by its endpoints (its issuer
/// may be a default, or, without discovery, nothing ties it to the keys
/// given) must not key accounts by the same issuer: the same user id at
/// both would be one account.
fn same_issuer(providers: &[ProviderSettings], problems: &mut Vec<String>) {
    let described = |p: &ProviderSettings| p.oauth2.is_some() || p.metadata.is_some();
    for (i, one) in providers.iter().enumerate() {
        for other in &providers[i + 1..] {
            if one.issuer == other.issuer && (described(one) || described(other)) {
                let described = if described(one) { one } else { other };
                problems.push(format!(
                    "providers \"{}\" and \"{}\" would key their users' accounts by the same \
                     issuer {:?}: give {}_ISSUER a value of its own",
                    one.id,
                    other.id,
                    one.issuer,
                    described.id.to_ascii_uppercase().replace('-', "_")
                ));
            }
        }
    }
}

/// An issuer URL: `https://`, or `http://` on loopback for local
/// development. Kept byte-exact (a trailing slash is significant in OIDC).
pub(super) fn parse_issuer(value: &str) -> Result<String, &'static str> {
    let scheme_ok = value.starts_with("https://") || value.starts_with("http://");
    if !scheme_ok {
        return Err("must be an https:// URL");
    }
    if value.contains(['?', '#', ' ']) {
        return Err("must not contain a query or fragment");
    }
    let url = Url::parse(value).map_err(|_| "is not a URL")?;
    // The host as a URL parser reads it: `http://localhost:1@evil.example`
    // is evil.example.
    let loopback = match url.host() {
        Some(Host::Domain(name)) => name == "localhost",
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err("has no host"),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials");
    }
    if url.scheme() == "http" && !loopback {
        return Err("must use https:// (plain http is allowed on loopback only)");
    }
    Ok(value.to_owned())
}

/// A provider's or an API's name: lower-case letters, digits and `-`,
/// starting with a letter, at most 32 characters.
pub(super) fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.len() <= 32
}

fn default_label(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
