//! Settings: read once at start from the environment and `portcullis.toml`
//! (see [`file`]), validated as a whole.
//! Every problem is collected and reported together, naming the variable,
//! so a misconfigured deployment is fixed in one round.
//!
//! Providers are declared the way Authlib users know:
//! `AUTH_PROVIDERS=local,acme`, then `<NAME>_CLIENT_ID`,
//! `<NAME>_CLIENT_SECRET`, `<NAME>_ISSUER`, optional `<NAME>_SCOPES` and
//! `<NAME>_LABEL`.

pub mod file;

use std::{collections::HashMap, fmt, path::PathBuf, time::Duration};

use crate::{
    http_client::Limits,
    providers::{self, Protocol, microsoft},
    secret::Secret,
    vault::KeyRing,
};

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Origin users reach us at (`APP_PUBLIC_URL`), without trailing slash.
    /// Redirect URIs are built from it, never from the Host header.
    pub public_url: String,
    /// The app's page for a failed sign-in (a path such as `/error`), sent
    /// `?code=PC-...&provider=...`; `None` (the default): Portcullis's own
    /// plain page at `/auth/error`.
    pub error_page: Option<String>,
    /// Configured identity providers, in `AUTH_PROVIDERS` order.
    pub providers: Vec<ProviderSettings>,
    /// Where users (and by default everything else) live
    /// (`DATABASE_URL`); a SQLite file by default.
    pub database_url: Secret,
    /// Where sessions, tokens and locks live when not in the database
    /// (`SESSION_STORE_URL`: SQLite, PostgreSQL or Redis).
    pub session_store_url: Option<Secret>,
    /// Prefix of every Redis key (`SESSION_STORE_PREFIX`).
    pub session_store_prefix: String,
    /// Keys sealing the token vault (`TOKEN_ENCRYPTION_KEYS`); `None`
    /// means a random key for this process only.
    pub token_keys: Option<KeyRing>,
    /// How long a started sign-in may take (`LOGIN_TIMEOUT_SECONDS`).
    pub login_ttl: Duration,
    /// Limits of every call to a provider (`PROVIDER_TIMEOUT_SECONDS`).
    pub provider_limits: Limits,
    /// A session unused this long is signed out
    /// (`SESSION_IDLE_TIMEOUT_SECONDS`).
    pub session_idle: Duration,
    /// A session this old is signed out, used or not
    /// (`SESSION_ABSOLUTE_TIMEOUT_SECONDS`).
    pub session_absolute: Duration,
    /// Access tokens expiring within this are refreshed before use
    /// (`TOKEN_REFRESH_SKEW_SECONDS`).
    pub refresh_skew: Duration,
    /// How long an access token is taken to last when the token response
    /// does not say (`expires_in` missing or unreadable) and a refresh
    /// token can renew it (`ACCESS_TOKEN_DEFAULT_LIFETIME_SECONDS`).
    pub access_token_default_lifetime: Duration,
    /// Requests a client may make per minute to start sign-ins and to the
    /// callback (`RATE_LIMIT_SIGN_IN_PER_MINUTE`, 120; 0 = no limit).
    pub sign_in_per_minute: u32,
    /// Logout tokens a client may post per minute
    /// (`RATE_LIMIT_BACKCHANNEL_PER_MINUTE`, 600; 0 = no limit).
    pub backchannel_per_minute: u32,
    /// The header a proxy names the client's address in
    /// (`CLIENT_IP_HEADER`, e.g. `X-Forwarded-For`); none: the peer's.
    pub client_ip_header: Option<http::HeaderName>,
    /// How long a refresh lock is held before its holder renews it; one
    /// that crashed mid-refresh frees it after this
    /// (`REFRESH_LOCK_SECONDS`, 2–300).
    pub refresh_lock_lease: Duration,
    /// How often sessions in use get their tokens refreshed ahead of
    /// expiry; `None` turns that off (`BACKGROUND_REFRESH_SECONDS`, 0).
    pub background_refresh: Option<Duration>,
    /// How long a signed-in session's records are read from memory before
    /// the store is asked again (`SESSION_CACHE_SECONDS`, 0 = never; see
    /// `cache.rs` for what this means across instances).
    pub session_cache: Duration,
}

/// One identity provider as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSettings {
    /// Short name used in URLs and as the variable prefix.
    pub id: String,
    pub label: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub scopes: Vec<String>,
    pub protocol: Protocol,
    /// The profile API of a plain OAuth 2.0 provider, when not the
    /// preset's default (`<NAME>_API_URL`).
    pub api_url: Option<String>,
}

impl ProviderSettings {
    /// The callback address registered at the provider.
    pub fn redirect_uri(&self, public_url: &str) -> String {
        format!("{public_url}/auth/callback/{}", self.id)
    }
}

/// All configuration problems found, one sentence each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblems(pub Vec<String>);

impl fmt::Display for ConfigProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        write!(f, "configuration has {count} {noun}:")?;
        for problem in &self.0 {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigProblems {}

/// Where users reach the app when `APP_PUBLIC_URL` is not set: a local
/// development server.
const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:3000";
const DEFAULT_SCOPES: &str = "openid email profile";
const DEFAULT_DATABASE_URL: &str = "sqlite://portcullis.db";
/// Ten minutes to finish signing in at the provider.
const DEFAULT_LOGIN_TIMEOUT: u64 = 600;
/// Eight hours without a request signs a session out.
const DEFAULT_SESSION_IDLE: u64 = 8 * 3600;
/// A week after signing in, a session must sign in again.
const DEFAULT_SESSION_ABSOLUTE: u64 = 7 * 86_400;
/// A provider that has not answered in 15 s is treated as down.
const DEFAULT_PROVIDER_TIMEOUT: u64 = 15;
/// Whether a store URL keeps nothing past the process (tests, throwaway
/// runs), so a per-process vault key is enough.
fn is_in_memory(url: &str) -> bool {
    url.starts_with("sqlite::memory:") || url.contains("mode=memory")
}

/// Seconds an access token of unstated lifetime is taken to last
/// (`ACCESS_TOKEN_DEFAULT_LIFETIME_SECONDS`).
const DEFAULT_TOKEN_LIFETIME: u64 = 3600;
/// Seconds a session's records are read from memory (`SESSION_CACHE_SECONDS`).
const DEFAULT_SESSION_CACHE: u64 = 2;

impl Settings {
    /// Reads the process environment and the settings file.
    pub fn from_env() -> Result<Self, ConfigProblems> {
        Self::from_file_and_vars(&std::env::vars().collect())
    }

    /// `env` over the settings file: the one `PORTCULLIS_CONFIG` names
    /// (which must exist), else `portcullis.toml` in the working directory
    /// when there is one. A variable set in `env` wins over the file.
    pub fn from_file_and_vars(env: &HashMap<String, String>) -> Result<Self, ConfigProblems> {
        let named = env
            .get("PORTCULLIS_CONFIG")
            .map(|p| p.trim())
            .filter(|p| !p.is_empty());
        let path = match named {
            Some(path) => Some(PathBuf::from(path)),
            None => Some(PathBuf::from(file::DEFAULT_PATH)).filter(|p| p.exists()),
        };
        let (mut vars, mut problems) = match path.as_deref().map(file::read) {
            None => (HashMap::new(), Vec::new()),
            Some(Ok(vars)) => (vars, Vec::new()),
            Some(Err(problems)) => (HashMap::new(), problems),
        };
        if let Some(path) = &path {
            tracing::info!("settings file: {}", path.display());
        }
        vars.extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
        match Self::from_vars(&vars) {
            Ok(settings) if problems.is_empty() => Ok(settings),
            Ok(_) => Err(ConfigProblems(problems)),
            Err(ConfigProblems(more)) => {
                problems.extend(more);
                Err(ConfigProblems(problems))
            }
        }
    }

    /// Builds settings from `vars`, collecting every problem.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigProblems> {
        let mut problems = Vec::new();
        let get = |key: &str| vars.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());

        let public_url = match get("APP_PUBLIC_URL") {
            Some(url) => match parse_public_url(url) {
                Ok(url) => url,
                Err(why) => {
                    problems.push(format!("APP_PUBLIC_URL {why}"));
                    String::new()
                }
            },
            None => DEFAULT_PUBLIC_URL.to_owned(),
        };

        let mut providers: Vec<ProviderSettings> = Vec::new();
        let names = get("AUTH_PROVIDERS").unwrap_or_default();
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if !is_valid_provider_name(name) {
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
                            providers::PRESETS.join(", ")
                        ));
                    }
                    found
                }
            };
            let mut required = |suffix: &str| {
                let key = format!("{prefix}_{suffix}");
                let value = get(&key).map(str::to_owned);
                if value.is_none() {
                    problems.push(format!("{key} is not set (needed for provider \"{name}\")"));
                }
                value
            };
            let client_id = required("CLIENT_ID");
            let client_secret = required("CLIENT_SECRET");
            let tenant = get(&format!("{prefix}_TENANT"));
            let issuer = match (preset, tenant) {
                (Some(p), Some(tenant)) if p.protocol == Protocol::OidcMultiTenant => {
                    Some(microsoft::issuer_for(tenant))
                }
                (Some(preset), _) => Some(
                    get(&format!("{prefix}_ISSUER"))
                        .unwrap_or(preset.issuer)
                        .to_owned(),
                ),
                (None, _) => required("ISSUER"),
            };
            let issuer = issuer.and_then(|issuer| match parse_issuer(&issuer) {
                Ok(issuer) => Some(issuer),
                Err(why) => {
                    problems.push(format!("{prefix}_ISSUER {why}"));
                    None
                }
            });
            let mut protocol = preset.map_or(Protocol::Oidc, |p| p.protocol);
            // A Microsoft app bound to one tenant is plain OpenID Connect.
            if protocol == Protocol::OidcMultiTenant
                && !issuer.as_deref().is_some_and(microsoft::is_multi_tenant)
            {
                protocol = Protocol::Oidc;
            }
            let scopes: Vec<String> = get(&format!("{prefix}_SCOPES"))
                .or(preset.map(|p| p.scopes))
                .unwrap_or(DEFAULT_SCOPES)
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
                        "{prefix}_API_URL applies to GitHub and Discord only \
                         (OpenID Connect providers are found by discovery)"
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
                });
            }
        }

        let database_url = get("DATABASE_URL").unwrap_or(DEFAULT_DATABASE_URL);
        if !crate::db::is_supported_url(database_url) {
            problems.push(
                "DATABASE_URL must be a sqlite: or postgres:// URL \
                 (e.g. sqlite://portcullis.db or postgres://user@host/portcullis)"
                    .to_owned(),
            );
        }

        let session_store_url = get("SESSION_STORE_URL");
        if let Some(url) = session_store_url
            && !crate::store::is_supported_url(url)
        {
            problems.push(
                "SESSION_STORE_URL must be a sqlite:, postgres:// or redis:// URL".to_owned(),
            );
        }
        let session_store_prefix = get("SESSION_STORE_PREFIX").unwrap_or("portcullis");
        if !session_store_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            problems.push(
                "SESSION_STORE_PREFIX may hold letters, digits, '-', '_' and '.' only".to_owned(),
            );
        }

        let token_keys = match get("TOKEN_ENCRYPTION_KEYS").map(KeyRing::parse) {
            None => None,
            Some(Ok(keys)) => Some(keys),
            Some(Err(why)) => {
                problems.push(format!("TOKEN_ENCRYPTION_KEYS: {why}"));
                None
            }
        };
        // Tokens sealed with a key of this process alone cannot be opened
        // after a restart or by another instance, while the sessions that
        // point to them live on in a persistent store.
        let store_url = session_store_url.unwrap_or(database_url);
        if get("TOKEN_ENCRYPTION_KEYS").is_none() && !is_in_memory(store_url) {
            problems.push(
                "TOKEN_ENCRYPTION_KEYS is not set, and sessions are kept in a persistent store: \
                 set it to `k1:` followed by 32 random bytes in base64 \
                 (`head -c 32 /dev/urandom | base64`), the same on every instance"
                    .to_owned(),
            );
        }

        let mut seconds = |key: &str, default: u64, max: u64| match get(key) {
            None => Duration::from_secs(default),
            Some(value) => match value.parse::<u64>() {
                Ok(n) if (1..=max).contains(&n) => Duration::from_secs(n),
                _ => {
                    problems.push(format!(
                        "{key} must be a whole number of seconds from 1 to {max}, not \"{value}\""
                    ));
                    Duration::from_secs(default)
                }
            },
        };
        let login_ttl = seconds("LOGIN_TIMEOUT_SECONDS", DEFAULT_LOGIN_TIMEOUT, 3600);
        let provider_timeout = seconds("PROVIDER_TIMEOUT_SECONDS", DEFAULT_PROVIDER_TIMEOUT, 120);
        let session_idle = seconds(
            "SESSION_IDLE_TIMEOUT_SECONDS",
            DEFAULT_SESSION_IDLE,
            30 * 86_400,
        );
        let session_absolute = seconds(
            "SESSION_ABSOLUTE_TIMEOUT_SECONDS",
            DEFAULT_SESSION_ABSOLUTE,
            365 * 86_400,
        );
        let refresh_skew = seconds("TOKEN_REFRESH_SKEW_SECONDS", 60, 3600);
        let refresh_lock_lease =
            seconds("REFRESH_LOCK_SECONDS", 30, 300).max(Duration::from_secs(2));
        let access_token_default_lifetime = seconds(
            "ACCESS_TOKEN_DEFAULT_LIFETIME_SECONDS",
            DEFAULT_TOKEN_LIFETIME,
            86_400,
        );
        let background_refresh = match get("BACKGROUND_REFRESH_SECONDS") {
            Some("0") => None,
            _ => Some(seconds("BACKGROUND_REFRESH_SECONDS", 30, 3600)),
        };
        let session_cache = match get("SESSION_CACHE_SECONDS") {
            None => Duration::from_secs(DEFAULT_SESSION_CACHE),
            Some(value) => match value.parse::<u64>() {
                Ok(n) if n <= 60 => Duration::from_secs(n),
                _ => {
                    problems.push(format!(
                        "SESSION_CACHE_SECONDS must be a whole number of seconds from 0 (off) \
                         to 60, not \"{value}\""
                    ));
                    Duration::ZERO
                }
            },
        };
        // A default within the skew would refresh such a token on every use.
        if access_token_default_lifetime <= refresh_skew {
            problems.push(format!(
                "ACCESS_TOKEN_DEFAULT_LIFETIME_SECONDS ({}) must be longer than \
                 TOKEN_REFRESH_SKEW_SECONDS ({})",
                access_token_default_lifetime.as_secs(),
                refresh_skew.as_secs()
            ));
        }
        let mut per_minute = |key: &str, default: u32| match get(key) {
            None => default,
            Some(value) => value.parse::<u32>().unwrap_or_else(|_| {
                problems.push(format!(
                    "{key} must be a whole number of requests per minute (0 for no limit), \
                     not \"{value}\""
                ));
                default
            }),
        };
        let sign_in_per_minute = per_minute("RATE_LIMIT_SIGN_IN_PER_MINUTE", 120);
        let backchannel_per_minute = per_minute("RATE_LIMIT_BACKCHANNEL_PER_MINUTE", 600);
        let client_ip_header = match get("CLIENT_IP_HEADER") {
            None => None,
            Some(name) => match http::HeaderName::try_from(name) {
                Ok(header) => Some(header),
                Err(_) => {
                    problems.push(format!("CLIENT_IP_HEADER {name:?} is not a header name"));
                    None
                }
            },
        };
        let provider_limits = Limits {
            connect_timeout: provider_timeout.min(Limits::default().connect_timeout),
            total_timeout: provider_timeout,
            ..Limits::default()
        };

        if problems.is_empty() {
            Ok(Self {
                error_page: None,
                public_url,
                providers,
                database_url: Secret::new(database_url),
                session_store_url: session_store_url.map(Secret::new),
                session_store_prefix: session_store_prefix.to_owned(),
                token_keys,
                login_ttl,
                provider_limits,
                session_idle,
                session_absolute,
                refresh_skew,
                access_token_default_lifetime,
                refresh_lock_lease,
                sign_in_per_minute,
                backchannel_per_minute,
                client_ip_header,
                background_refresh,
                session_cache,
            })
        } else {
            Err(ConfigProblems(problems))
        }
    }
}

/// An origin: scheme `http` or `https`, a host, optional port, no path,
/// query or fragment.
fn parse_public_url(value: &str) -> Result<String, &'static str> {
    let trimmed = value.trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or("must start with http:// or https://")?;
    if rest.is_empty() {
        return Err("has no host");
    }
    if rest.contains(['/', '?', '#', '@', ' ', '\\']) {
        return Err("must be an origin only (scheme, host and port, no path or query)");
    }
    Ok(trimmed.to_owned())
}

/// An issuer URL: `https://`, or `http://` on loopback for local
/// development. Kept byte-exact (a trailing slash is significant in OIDC).
fn parse_issuer(value: &str) -> Result<String, &'static str> {
    let host_part = if let Some(rest) = value.strip_prefix("https://") {
        rest
    } else if let Some(rest) = value.strip_prefix("http://") {
        let host = rest.split(['/', ':']).next().unwrap_or_default();
        let loopback = matches!(host, "127.0.0.1" | "localhost") || rest.starts_with("[::1]");
        if !loopback {
            return Err("must use https:// (plain http is allowed on loopback only)");
        }
        rest
    } else {
        return Err("must be an https:// URL");
    };
    if host_part.is_empty() || host_part.starts_with('/') {
        return Err("has no host");
    }
    if host_part.contains(['?', '#', ' ']) {
        return Err("must not contain a query or fragment");
    }
    Ok(value.to_owned())
}

fn is_valid_provider_name(name: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Variables as given, with a vault key unless they name one.
    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        let mut vars = vars_as_given(pairs);
        vars.entry("TOKEN_ENCRYPTION_KEYS".into())
            .or_insert_with(|| "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into());
        vars
    }

    fn vars_as_given(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_persistent_store_without_a_vault_key_stops_the_start_naming_the_variable() {
        for store in [
            vec![],
            vec![("DATABASE_URL", "postgres://db.internal/portcullis")],
            vec![
                ("DATABASE_URL", "sqlite::memory:"),
                ("SESSION_STORE_URL", "redis://cache.internal"),
            ],
        ] {
            let problems = Settings::from_vars(&vars_as_given(&store)).unwrap_err();
            assert_eq!(problems.0.len(), 1, "{store:?}: {problems}");
            assert!(
                problems.0[0].starts_with("TOKEN_ENCRYPTION_KEYS is not set")
                    && problems.0[0].contains("head -c 32 /dev/urandom | base64"),
                "{problems}"
            );
        }
        // In memory, a key of the process is enough.
        let memory = vars_as_given(&[("DATABASE_URL", "sqlite::memory:")]);
        assert!(Settings::from_vars(&memory).unwrap().token_keys.is_none());
    }

    #[test]
    fn a_provider_is_declared_with_environment_variables_alone() {
        let settings = Settings::from_vars(&vars(&[
            ("AUTH_PROVIDERS", "local"),
            ("LOCAL_CLIENT_ID", "client"),
            ("LOCAL_CLIENT_SECRET", "s3cret"),
            ("LOCAL_ISSUER", "http://127.0.0.1:5556"),
            ("APP_PUBLIC_URL", "http://127.0.0.1:3000/"),
        ]))
        .unwrap();
        let local = &settings.providers[0];
        assert_eq!(local.id, "local");
        assert_eq!(local.label, "Local");
        assert_eq!(local.scopes, ["openid", "email", "profile"]);
        assert_eq!(settings.public_url, "http://127.0.0.1:3000");
        assert_eq!(
            local.redirect_uri(&settings.public_url),
            "http://127.0.0.1:3000/auth/callback/local"
        );
    }

    #[test]
    fn every_problem_is_reported_at_once_naming_the_variable() {
        let err = Settings::from_vars(&vars(&[
            ("AUTH_PROVIDERS", "acme,Bad Name,corp"),
            ("ACME_CLIENT_ID", "id"),
            ("ACME_ISSUER", "http://idp.example.com"),
            ("CORP_CLIENT_ID", "id"),
            ("CORP_CLIENT_SECRET", "x"),
            ("CORP_ISSUER", "https://corp.example.com"),
            ("CORP_SCOPES", "email"),
            ("APP_PUBLIC_URL", "ftp://x"),
            ("DATABASE_URL", "mysql://db"),
            ("TOKEN_ENCRYPTION_KEYS", "k1:c2hvcnQ="),
        ]))
        .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("configuration has 7 problems:"), "{text}");
        assert!(
            text.contains("TOKEN_ENCRYPTION_KEYS: key \"k1\" must be 32 bytes"),
            "{text}"
        );
        assert!(!text.contains("c2hvcnQ"), "the key is never echoed: {text}");
        assert!(
            text.contains("DATABASE_URL must be a sqlite: or postgres:// URL"),
            "{text}"
        );
        assert!(text.contains("ACME_CLIENT_SECRET is not set"), "{text}");
        assert!(text.contains("ACME_ISSUER must use https://"), "{text}");
        assert!(
            text.contains("\"Bad Name\" is not a valid provider name"),
            "{text}"
        );
        assert!(
            text.contains("CORP_SCOPES must include \"openid\""),
            "{text}"
        );
        assert!(
            text.contains("APP_PUBLIC_URL must start with http://"),
            "{text}"
        );
    }

    #[test]
    fn google_needs_only_its_client_id_and_secret() {
        let settings = Settings::from_vars(&vars(&[
            ("AUTH_PROVIDERS", "google"),
            ("GOOGLE_CLIENT_ID", "123.apps.googleusercontent.com"),
            ("GOOGLE_CLIENT_SECRET", "s"),
        ]))
        .unwrap();
        let google = &settings.providers[0];
        assert_eq!(google.issuer, "https://accounts.google.com");
        assert_eq!(google.label, "Google");
        assert_eq!(google.scopes, ["openid", "email", "profile"]);

        let err = Settings::from_vars(&vars(&[("AUTH_PROVIDERS", "google")])).unwrap_err();
        assert_eq!(err.0.len(), 2, "{err}");
        assert!(err.to_string().contains("GOOGLE_CLIENT_ID is not set"));
        assert!(!err.to_string().contains("GOOGLE_ISSUER"));
    }

    #[test]
    fn no_providers_is_a_valid_empty_configuration() {
        let settings = Settings::from_vars(&vars(&[])).unwrap();
        assert!(settings.providers.is_empty());
        assert_eq!(settings.public_url, "http://127.0.0.1:3000");
        assert_eq!(settings.database_url.expose(), "sqlite://portcullis.db");
    }

    #[test]
    fn public_url_must_be_an_origin() {
        assert!(parse_public_url("https://app.example.com/path").is_err());
        assert!(parse_public_url("https://user@app.example.com").is_err());
        assert!(parse_public_url("https://").is_err());
        assert_eq!(
            parse_public_url("https://app.example.com:8443/").unwrap(),
            "https://app.example.com:8443"
        );
    }

    #[test]
    fn plain_http_issuers_are_allowed_on_loopback_only() {
        assert!(parse_issuer("http://127.0.0.1:4000").is_ok());
        assert!(parse_issuer("http://localhost:4000/oidc").is_ok());
        assert!(parse_issuer("http://[::1]:4000").is_ok());
        assert!(parse_issuer("http://127.0.0.1.evil.test").is_err());
        assert!(parse_issuer("http://accounts.example.com").is_err());
        assert!(parse_issuer("https://accounts.example.com/").is_ok());
        assert!(parse_issuer("accounts.example.com").is_err());
    }

    #[test]
    fn the_secret_does_not_appear_in_debug_output() {
        let settings = Settings::from_vars(&vars(&[
            ("AUTH_PROVIDERS", "local"),
            ("LOCAL_CLIENT_ID", "client"),
            ("LOCAL_CLIENT_SECRET", "topsecret-value"),
            ("LOCAL_ISSUER", "http://127.0.0.1:5556"),
        ]))
        .unwrap();
        assert!(!format!("{settings:?}").contains("topsecret-value"));
    }

    #[test]
    fn timeouts_have_defaults_and_bad_values_are_named() {
        let settings = Settings::from_vars(&vars(&[])).unwrap();
        assert_eq!(settings.login_ttl, Duration::from_secs(600));
        assert_eq!(
            settings.provider_limits.total_timeout,
            Duration::from_secs(15)
        );

        let settings = Settings::from_vars(&vars(&[
            ("LOGIN_TIMEOUT_SECONDS", "60"),
            ("PROVIDER_TIMEOUT_SECONDS", "2"),
        ]))
        .unwrap();
        assert_eq!(settings.login_ttl, Duration::from_secs(60));
        assert_eq!(
            settings.provider_limits.total_timeout,
            Duration::from_secs(2)
        );
        assert_eq!(
            settings.provider_limits.connect_timeout,
            Duration::from_secs(2)
        );

        let problems = Settings::from_vars(&vars(&[
            ("LOGIN_TIMEOUT_SECONDS", "ten"),
            ("PROVIDER_TIMEOUT_SECONDS", "0"),
        ]))
        .unwrap_err();
        assert_eq!(
            problems.0,
            [
                "LOGIN_TIMEOUT_SECONDS must be a whole number of seconds from 1 to 3600, not \"ten\"",
                "PROVIDER_TIMEOUT_SECONDS must be a whole number of seconds from 1 to 120, not \"0\"",
            ]
        );
    }

    #[test]
    fn an_unstated_token_lifetime_is_an_hour_unless_set() {
        let settings = Settings::from_vars(&vars(&[])).unwrap();
        assert_eq!(
            settings.access_token_default_lifetime,
            Duration::from_secs(3600)
        );
        let set = vars(&[("ACCESS_TOKEN_DEFAULT_LIFETIME_SECONDS", "300")]);
        let settings = Settings::from_vars(&set).unwrap();
        assert_eq!(
            settings.access_token_default_lifetime,
            Duration::from_secs(300)
        );
        let zero = vars(&[("ACCESS_TOKEN_DEFAULT_LIFETIME_SECONDS", "0")]);
        let problems = Settings::from_vars(&zero).unwrap_err();
        assert_eq!(
            problems.0[0],
            "ACCESS_TOKEN_DEFAULT_LIFETIME_SECONDS must be a whole number of seconds from 1 to 86400, not \"0\""
        );
        let within_skew = vars(&[
            ("ACCESS_TOKEN_DEFAULT_LIFETIME_SECONDS", "60"),
            ("TOKEN_REFRESH_SKEW_SECONDS", "60"),
        ]);
        let problems = Settings::from_vars(&within_skew).unwrap_err();
        assert_eq!(
            problems.0,
            [
                "ACCESS_TOKEN_DEFAULT_LIFETIME_SECONDS (60) must be longer than TOKEN_REFRESH_SKEW_SECONDS (60)"
            ]
        );
    }

    #[test]
    fn the_session_cache_is_two_seconds_unless_set_and_zero_turns_it_off() {
        let settings = Settings::from_vars(&vars(&[])).unwrap();
        assert_eq!(settings.session_cache, Duration::from_secs(2));
        let off = vars(&[("SESSION_CACHE_SECONDS", "0")]);
        let settings = Settings::from_vars(&off).unwrap();
        assert_eq!(settings.session_cache, Duration::ZERO);
        let problems = Settings::from_vars(&vars(&[("SESSION_CACHE_SECONDS", "61")])).unwrap_err();
        assert_eq!(
            problems.0,
            [
                "SESSION_CACHE_SECONDS must be a whole number of seconds from 0 (off) to 60, not \"61\""
            ]
        );
    }

    /// A settings file of its own for one test, removed afterwards.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, text: &str) -> Self {
            let path =
                std::env::temp_dir().join(format!("portcullis-{}-{name}.toml", std::process::id()));
            std::fs::write(&path, text).unwrap();
            Self(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn a_settings_file_declares_providers_and_the_environment_wins() {
        let file = TempFile::new(
            "merge",
            r#"
            public_url = "https://from-file.example"
            [providers.acme]
            issuer = "https://id.acme.example"
            client_id = "acme-client"
            label = "Acme ID"
            [providers.google]
            client_id = "g"
            client_secret = "g-secret"
            "#,
        );
        let path = file.0.display().to_string();
        let settings = Settings::from_file_and_vars(&vars(&[
            ("PORTCULLIS_CONFIG", &path),
            ("ACME_CLIENT_SECRET", "from-env"),
            ("APP_PUBLIC_URL", "https://from-env.example"),
        ]))
        .unwrap();
        assert_eq!(settings.public_url, "https://from-env.example");
        let ids: Vec<&str> = settings.providers.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["acme", "google"], "file order");
        assert_eq!(settings.providers[0].label, "Acme ID");
        assert_eq!(settings.providers[0].client_secret.expose(), "from-env");
        assert_eq!(settings.providers[1].issuer, "https://accounts.google.com");
    }

    #[test]
    fn problems_in_the_file_and_the_environment_are_reported_together() {
        let file = TempFile::new(
            "problems",
            r#"
            [providers.acme]
            issuer = "https://id.acme.example"
            clientid = "typo"
            "#,
        );
        let path = file.0.display().to_string();
        let problems = Settings::from_file_and_vars(&vars(&[
            ("PORTCULLIS_CONFIG", &path),
            ("LOGIN_TIMEOUT_SECONDS", "soon"),
        ]))
        .unwrap_err();
        assert_eq!(problems.0.len(), 2, "{problems}");
        assert!(problems.0[0].starts_with(&format!(
            "{path}: unknown setting `providers.acme.clientid`"
        )));
        assert!(problems.0[1].starts_with("LOGIN_TIMEOUT_SECONDS must be"));
    }

    #[test]
    fn a_named_settings_file_that_is_missing_is_a_problem() {
        let problems = Settings::from_file_and_vars(&vars(&[(
            "PORTCULLIS_CONFIG",
            "/nonexistent/portcullis.toml",
        )]))
        .unwrap_err();
        assert!(
            problems.0[0].starts_with("/nonexistent/portcullis.toml: cannot be read"),
            "{problems}"
        );
    }

    #[test]
    fn the_example_settings_file_is_valid_with_its_secrets_in_the_environment() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../portcullis.example.toml");
        let settings = Settings::from_file_and_vars(&vars(&[
            ("PORTCULLIS_CONFIG", path),
            ("GOOGLE_CLIENT_SECRET", "g"),
            ("ACME_CLIENT_SECRET", "a"),
        ]))
        .unwrap();
        assert_eq!(settings.providers.len(), 2);
    }

    #[test]
    fn every_preset_needs_only_its_client_id_and_secret() {
        for name in providers::PRESETS {
            let prefix = name.to_ascii_uppercase();
            let id_key = format!("{prefix}_CLIENT_ID");
            let secret_key = format!("{prefix}_CLIENT_SECRET");
            let settings = Settings::from_vars(&vars(&[
                ("AUTH_PROVIDERS", name),
                (&id_key, "id"),
                (&secret_key, "secret"),
            ]))
            .unwrap_or_else(|problems| panic!("{name}: {problems}"));
            let preset = providers::preset(name).unwrap();
            let provider = &settings.providers[0];
            assert_eq!(provider.issuer, preset.issuer, "{name}");
            assert_eq!(provider.label, preset.label, "{name}");
            assert_eq!(provider.protocol, preset.protocol, "{name}");
            assert_eq!(provider.scopes.join(" "), preset.scopes, "{name}");
        }
    }

    #[test]
    fn a_preset_can_serve_another_name_and_a_tenant_makes_microsoft_single_tenant() {
        let tenant = "9188040d-6c67-4c5b-b112-36a304b66dad";
        let settings = Settings::from_vars(&vars(&[
            ("AUTH_PROVIDERS", "work,hub"),
            ("WORK_PRESET", "microsoft"),
            ("WORK_TENANT", tenant),
            ("WORK_CLIENT_ID", "id"),
            ("WORK_CLIENT_SECRET", "secret"),
            ("HUB_PRESET", "github"),
            ("HUB_ISSUER", "https://github.example.com"),
            ("HUB_CLIENT_ID", "id"),
            ("HUB_CLIENT_SECRET", "secret"),
        ]))
        .unwrap();
        let work = &settings.providers[0];
        assert_eq!(
            work.issuer,
            format!("https://login.microsoftonline.com/{tenant}/v2.0")
        );
        assert_eq!(work.protocol, Protocol::Oidc);
        assert_eq!(work.label, "Microsoft");
        let hub = &settings.providers[1];
        assert_eq!(hub.protocol, Protocol::GitHub);
        assert_eq!(hub.issuer, "https://github.example.com");
    }

    #[test]
    fn an_unknown_preset_and_an_api_url_for_openid_connect_are_problems() {
        let problems = Settings::from_vars(&vars(&[
            ("AUTH_PROVIDERS", "a,google"),
            ("A_PRESET", "myspace"),
            ("A_CLIENT_ID", "id"),
            ("A_CLIENT_SECRET", "secret"),
            ("A_ISSUER", "https://a.example"),
            ("GOOGLE_CLIENT_ID", "id"),
            ("GOOGLE_CLIENT_SECRET", "secret"),
            ("GOOGLE_API_URL", "https://www.googleapis.com"),
        ]))
        .unwrap_err();
        assert_eq!(problems.0.len(), 2, "{problems}");
        assert!(
            problems.0[0]
                .starts_with("A_PRESET: \"myspace\" is not a preset (known: google, github")
        );
        assert!(problems.0[1].starts_with("GOOGLE_API_URL applies to GitHub and Discord only"));
    }

    #[test]
    fn the_session_store_may_be_redis_and_bad_urls_are_named() {
        let settings =
            Settings::from_vars(&vars(&[("SESSION_STORE_URL", "redis://127.0.0.1:6379")])).unwrap();
        assert_eq!(
            settings.session_store_url.map(|u| u.expose().to_owned()),
            Some("redis://127.0.0.1:6379".to_owned())
        );
        assert_eq!(settings.session_store_prefix, "portcullis");
        let problems = Settings::from_vars(&vars(&[
            ("SESSION_STORE_URL", "memcached://x"),
            ("SESSION_STORE_PREFIX", "a b"),
        ]))
        .unwrap_err();
        assert_eq!(problems.0.len(), 2, "{problems}");
        assert!(problems.0[0].starts_with("SESSION_STORE_URL must be"));
        assert!(problems.0[1].starts_with("SESSION_STORE_PREFIX may hold"));
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            /// Any values at all for the settings give settings or a list
            /// of problems, never a panic.
            #[test]
            fn any_environment_is_judged_without_panic(
                names in "[a-z,-]{0,20}",
                values in proptest::collection::vec(any::<String>(), 8),
            ) {
                let keys = [
                    "APP_PUBLIC_URL", "DATABASE_URL", "TOKEN_ENCRYPTION_KEYS",
                    "LOGIN_TIMEOUT_SECONDS", "SESSION_STORE_URL", "A_ISSUER",
                    "A_CLIENT_ID", "A_SCOPES",
                ];
                let mut env: HashMap<String, String> = keys
                    .iter()
                    .zip(values)
                    .map(|(k, v)| ((*k).to_owned(), v))
                    .collect();
                env.insert("AUTH_PROVIDERS".into(), names);
                let _ = Settings::from_vars(&env);
            }

            #[test]
            fn any_settings_file_is_judged_without_panic(text in any::<String>()) {
                let _ = file::parse(&text);
            }
        }
    }
}
