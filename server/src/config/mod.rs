//! Settings: read once at start from the environment and `portcullis.toml`
//! (see [`file`]), validated as a whole.
//! Every problem is collected and reported together, naming the variable,
//! so a misconfigured deployment is fixed in one round.
//!
//! Providers are declared the way Authlib users know:
//! `AUTH_PROVIDERS=local,acme`, then `<NAME>_CLIENT_ID`,
//! `<NAME>_CLIENT_SECRET`, `<NAME>_ISSUER`, optional `<NAME>_SCOPES` and
//! `<NAME>_LABEL`.

mod builder;
mod endpoints;
pub mod file;
mod provider;
mod remote_api;
mod signing_key;

pub use builder::{ProviderConfig, RemoteApiConfig, SettingsBuilder, TokenAuthMethod, UserField};
pub(crate) use remote_api::RemoteApiSettings;
pub use remote_api::TokenPolicy;

use std::{collections::HashMap, fmt, path::PathBuf, time::Duration};

use crate::{http_client::Limits, providers::ProviderSettings, secret::Secret, vault::KeyRing};

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Origin users reach us at (`APP_PUBLIC_URL`), without trailing slash.
    /// Redirect URIs are built from it, never from the Host header.
    pub(crate) public_url: String,
    /// The app's page for a failed sign-in (a path such as `/error`), sent
    /// `?code=PC-...&provider=...`; `None` (the default): Portcullis's own
    /// plain page at `/auth/error`.
    pub(crate) error_page: Option<String>,
    /// Where a page navigation that needs a signed-in user is sent, with
    /// `?return_to=` (`APP_SIGN_IN_PAGE`; default Portcullis's own
    /// `/auth/sign-in`); `None` (`off`): it is told 401 like an API call.
    pub(crate) sign_in_page: Option<String>,
    /// Configured identity providers, in `AUTH_PROVIDERS` order.
    pub(crate) providers: Vec<ProviderSettings>,
    /// Where users (and by default everything else) live
    /// (`DATABASE_URL`); a SQLite file by default.
    pub(crate) database_url: Secret,
    /// Where sessions, tokens and locks live when not in the database
    /// (`SESSION_STORE_URL`: SQLite, PostgreSQL or Redis).
    pub(crate) session_store_url: Option<Secret>,
    /// Prefix of every Redis key (`SESSION_STORE_PREFIX`).
    pub(crate) session_store_prefix: String,
    /// Keys sealing the token vault (`TOKEN_ENCRYPTION_KEYS`); `None`
    /// means a random key for this process only.
    pub(crate) token_keys: Option<KeyRing>,
    /// How long a started sign-in may take (`LOGIN_TIMEOUT_SECONDS`).
    pub(crate) sign_in_ttl: Duration,
    /// Limits of every call to a provider (`PROVIDER_TIMEOUT_SECONDS`).
    pub(crate) provider_limits: Limits,
    /// A session unused this long is signed out
    /// (`SESSION_IDLE_TIMEOUT_SECONDS`).
    pub(crate) session_idle: Duration,
    /// A session this old is signed out, used or not
    /// (`SESSION_ABSOLUTE_TIMEOUT_SECONDS`).
    pub(crate) session_absolute: Duration,
    /// Access tokens expiring within this are refreshed before use
    /// (`TOKEN_REFRESH_SKEW_SECONDS`).
    pub(crate) refresh_skew: Duration,
    /// How long an access token is taken to last when the token response
    /// does not say (`expires_in` missing or unreadable) and a refresh
    /// token can renew it (`ACCESS_TOKEN_DEFAULT_LIFETIME_SECONDS`).
    pub(crate) access_token_default_lifetime: Duration,
    /// Requests a client may make per minute to start sign-ins and to the
    /// callback (`RATE_LIMIT_SIGN_IN_PER_MINUTE`, 120; 0 = no limit).
    pub(crate) sign_in_per_minute: u32,
    /// Logout tokens a client may post per minute
    /// (`RATE_LIMIT_BACKCHANNEL_PER_MINUTE`, 600; 0 = no limit).
    pub(crate) backchannel_per_minute: u32,
    /// The header a proxy names the client's address in
    /// (`CLIENT_IP_HEADER`, e.g. `X-Forwarded-For`); none: the peer's.
    pub(crate) client_ip_header: Option<http::HeaderName>,
    /// How long a refresh lock is held before its holder renews it; one
    /// that crashed mid-refresh frees it after this
    /// (`REFRESH_LOCK_SECONDS`, 2–300).
    pub(crate) refresh_lock_lease: Duration,
    /// How often sessions in use get their tokens refreshed ahead of
    /// expiry, every 30 s by default; `None` turns that off
    /// (`BACKGROUND_REFRESH_SECONDS`, `0` for off).
    pub(crate) background_refresh: Option<Duration>,
    /// How long a signed-in session's records are read from memory before
    /// the store is asked again (`SESSION_CACHE_SECONDS`, 0 = never; see
    /// `cache.rs` for what this means across instances).
    pub(crate) session_cache: Duration,
    /// The upstream APIs the browser reaches through Portcullis
    /// (`REMOTE_APIS`), in order.
    pub(crate) remote_apis: Vec<RemoteApiSettings>,
}

/// All configuration problems found, one sentence each naming the
/// variable (or settings-file key) it is about. `Display` lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblems(pub(crate) Vec<String>);

impl ConfigProblems {
    /// Problems found by the app in its own settings, to report with
    /// Portcullis's in the same list.
    pub fn new(problems: impl IntoIterator<Item = String>) -> Self {
        Self(problems.into_iter().collect())
    }

    /// Each problem, one sentence.
    pub fn problems(&self) -> &[String] {
        &self.0
    }
}

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

/// Portcullis's own sign-in page (`pages.rs`), where a page navigation
/// that needs a signed-in user goes unless `APP_SIGN_IN_PAGE` says
/// otherwise.
pub(crate) const DEFAULT_SIGN_IN_PAGE: &str = "/auth/sign-in";

/// Where users reach the app when `APP_PUBLIC_URL` is not set: a local
/// development server.
const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:3000";
const DEFAULT_DATABASE_URL: &str = "sqlite://portcullis.db";
/// Ten minutes to finish signing in at the provider.
const DEFAULT_SIGN_IN_TIMEOUT: u64 = 600;
/// Eight hours without a request signs a session out.
const DEFAULT_SESSION_IDLE: u64 = 8 * 3600;
/// A week after signing in, a session must sign in again.
const DEFAULT_SESSION_ABSOLUTE: u64 = 7 * 86_400;
/// A provider that has not answered in 15 s is treated as down.
const DEFAULT_PROVIDER_TIMEOUT: u64 = 15;
/// Whether a store URL keeps nothing past the process (tests, throwaway
/// runs), so a per-process vault key is enough.
fn is_in_memory(url: &str) -> bool {
    url.starts_with("sqlite::memory:") || url.contains("mode=memory") || url == "memory:"
}

/// Seconds an access token of unstated lifetime is taken to last
/// (`ACCESS_TOKEN_DEFAULT_LIFETIME_SECONDS`).
const DEFAULT_TOKEN_LIFETIME: u64 = 3600;
/// Seconds a session's records are read from memory (`SESSION_CACHE_SECONDS`).
const DEFAULT_SESSION_CACHE: u64 = 2;

impl Settings {
    /// Reads the process environment and the settings file.
    pub fn from_env() -> Result<Self, ConfigProblems> {
        Self::from_file_and_vars(&env_vars().collect())
    }

    /// `env` over the settings file: the one `PORTCULLIS_CONFIG` names
    /// (which must exist), else `portcullis.toml` in the working directory
    /// when there is one. A variable set in `env` wins over the file.
    pub fn from_file_and_vars(env: &HashMap<String, String>) -> Result<Self, ConfigProblems> {
        let (vars, problems) = Self::file_under(env);
        Self::after(problems, Self::from_vars(&vars))
    }

    /// `result`, failing with the `earlier` problems first.
    fn after(
        mut earlier: Vec<String>,
        result: Result<Self, ConfigProblems>,
    ) -> Result<Self, ConfigProblems> {
        match result {
            Ok(settings) if earlier.is_empty() => Ok(settings),
            Ok(_) => Err(ConfigProblems(earlier)),
            Err(ConfigProblems(more)) => {
                earlier.extend(more);
                Err(ConfigProblems(earlier))
            }
        }
    }

    /// The settings file's variables with `env` over them, and the file's
    /// problems.
    fn file_under(env: &HashMap<String, String>) -> (HashMap<String, String>, Vec<String>) {
        let named = env
            .get("PORTCULLIS_CONFIG")
            .map(|p| p.trim())
            .filter(|p| !p.is_empty());
        let path = match named {
            Some(path) => Some(PathBuf::from(path)),
            None => Some(PathBuf::from(file::DEFAULT_PATH)).filter(|p| p.exists()),
        };
        let (mut vars, problems) = match path.as_deref().map(file::read) {
            None => (HashMap::new(), Vec::new()),
            Some(Ok(vars)) => (vars, Vec::new()),
            Some(Err(problems)) => (HashMap::new(), problems),
        };
        if let Some(path) = &path {
            tracing::info!("settings file: {}", path.display());
        }
        vars.extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
        (vars, problems)
    }

    /// Builds settings from `vars`, collecting every problem.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigProblems> {
        let mut read = Reader {
            vars,
            problems: Vec::new(),
        };
        let public_url = read.public_url();
        let error_page = read.site_path("APP_ERROR_PAGE", "/error");
        let sign_in_page = match read.get("APP_SIGN_IN_PAGE") {
            None => Some(DEFAULT_SIGN_IN_PAGE.to_owned()),
            Some("off") => None,
            Some(_) => read.site_path("APP_SIGN_IN_PAGE", "/login, or off"),
        };
        let mut providers = provider::parse(&|key| lookup(vars, key), &mut read.problems);
        let remote_apis =
            remote_api::parse(&|key| lookup(vars, key), &providers, &mut read.problems);
        remote_api::widen_providers(&remote_apis, &mut providers);
        let (database_url, session_store_url, session_store_prefix) = read.stores();
        let token_keys = read.token_keys(session_store_url.unwrap_or(database_url));

        let sign_in_ttl = read.seconds("LOGIN_TIMEOUT_SECONDS", DEFAULT_SIGN_IN_TIMEOUT, 3600);
        let provider_timeout =
            read.seconds("PROVIDER_TIMEOUT_SECONDS", DEFAULT_PROVIDER_TIMEOUT, 120);
        let session_idle = read.seconds(
            "SESSION_IDLE_TIMEOUT_SECONDS",
            DEFAULT_SESSION_IDLE,
            30 * 86_400,
        );
        let session_absolute = read.seconds(
            "SESSION_ABSOLUTE_TIMEOUT_SECONDS",
            DEFAULT_SESSION_ABSOLUTE,
            365 * 86_400,
        );
        let refresh_skew = read.seconds("TOKEN_REFRESH_SKEW_SECONDS", 60, 3600);
        let refresh_lock_lease = read.seconds_between("REFRESH_LOCK_SECONDS", 30, 2, 300);
        let access_token_default_lifetime = read.seconds(
            "ACCESS_TOKEN_DEFAULT_LIFETIME_SECONDS",
            DEFAULT_TOKEN_LIFETIME,
            86_400,
        );
        let background_refresh = match read.get("BACKGROUND_REFRESH_SECONDS") {
            Some("0") => None,
            _ => Some(read.seconds("BACKGROUND_REFRESH_SECONDS", 30, 3600)),
        };
        let session_cache = read.session_cache();
        // A default within the skew would refresh such a token on every use.
        if access_token_default_lifetime <= refresh_skew {
            read.problems.push(format!(
                "ACCESS_TOKEN_DEFAULT_LIFETIME_SECONDS ({}) must be longer than \
                 TOKEN_REFRESH_SKEW_SECONDS ({})",
                access_token_default_lifetime.as_secs(),
                refresh_skew.as_secs()
            ));
        }
        let sign_in_per_minute = read.per_minute("RATE_LIMIT_SIGN_IN_PER_MINUTE", 120);
        let backchannel_per_minute = read.per_minute("RATE_LIMIT_BACKCHANNEL_PER_MINUTE", 600);
        let client_ip_header = read.header_name("CLIENT_IP_HEADER");
        let provider_limits = Limits {
            connect_timeout: provider_timeout.min(Limits::default().connect_timeout),
            total_timeout: provider_timeout,
            ..Limits::default()
        };

        let problems = read.problems;
        if problems.is_empty() {
            Ok(Self {
                error_page,
                sign_in_page,
                public_url,
                providers,
                database_url: Secret::new(database_url),
                session_store_url: session_store_url.map(Secret::new),
                session_store_prefix: session_store_prefix.to_owned(),
                token_keys,
                sign_in_ttl,
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
                remote_apis,
            })
        } else {
            Err(ConfigProblems(problems))
        }
    }
}

/// The process environment; a variable whose name or value is not UTF-8
/// is none of ours and is skipped.
pub(crate) fn env_vars() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
}

/// `vars[key]`, trimmed; an empty value counts as unset.
fn lookup<'a>(vars: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    vars.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// The variables being read, and every problem found in them so far.
struct Reader<'a> {
    vars: &'a HashMap<String, String>,
    problems: Vec<String>,
}

impl<'a> Reader<'a> {
    fn get(&self, key: &str) -> Option<&'a str> {
        lookup(self.vars, key)
    }

    /// `APP_PUBLIC_URL`, an origin; the local development one if unset.
    fn public_url(&mut self) -> String {
        match self.get("APP_PUBLIC_URL") {
            None => DEFAULT_PUBLIC_URL.to_owned(),
            Some(url) => parse_public_url(url).unwrap_or_else(|why| {
                self.problems.push(format!("APP_PUBLIC_URL {why}"));
                String::new()
            }),
        }
    }

    /// `key`, a path on this site (`example` shows one), if set.
    fn site_path(&mut self, key: &str, example: &str) -> Option<String> {
        let path = self.get(key)?;
        let valid = crate::flow::return_to::validate(path);
        if valid.is_none() {
            self.problems.push(format!(
                "{key} must be a path on this site such as {example}, not {path:?}"
            ));
        }
        valid.map(str::to_owned)
    }

    /// `DATABASE_URL` (default SQLite file), `SESSION_STORE_URL` and
    /// `SESSION_STORE_PREFIX`.
    fn stores(&mut self) -> (&'a str, Option<&'a str>, &'a str) {
        let database_url = self.get("DATABASE_URL").unwrap_or(DEFAULT_DATABASE_URL);
        if !crate::db::is_supported_url(database_url) {
            self.problems.push(
                "DATABASE_URL must be a sqlite: or postgres:// URL \
                 (e.g. sqlite://portcullis.db or postgres://user@host/portcullis)"
                    .to_owned(),
            );
        }
        let session_store_url = self.get("SESSION_STORE_URL");
        if session_store_url.is_some_and(|url| !crate::store::is_supported_url(url)) {
            self.problems.push(
                "SESSION_STORE_URL must be a sqlite:, postgres:// or redis:// URL, or memory: \
                 (this process only, for tests)"
                    .to_owned(),
            );
        }
        let prefix = self.get("SESSION_STORE_PREFIX").unwrap_or("portcullis");
        if !prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            self.problems.push(
                "SESSION_STORE_PREFIX may hold letters, digits, '-', '_' and '.' only".to_owned(),
            );
        }
        (database_url, session_store_url, prefix)
    }

    /// `TOKEN_ENCRYPTION_KEYS`, required when the session data at
    /// `store_url` outlives the process.
    fn token_keys(&mut self, store_url: &str) -> Option<KeyRing> {
        let Some(keys) = self.get("TOKEN_ENCRYPTION_KEYS") else {
            // Tokens sealed with a key of this process alone cannot be
            // opened after a restart or by another instance, while the
            // sessions that point to them live on in a persistent store.
            if !is_in_memory(store_url) {
                self.problems.push(
                    "TOKEN_ENCRYPTION_KEYS is not set, and sessions are kept in a persistent \
                     store: set it to `k1:` followed by 32 random bytes in base64 \
                     (`head -c 32 /dev/urandom | base64`), the same on every instance"
                        .to_owned(),
                );
            }
            return None;
        };
        KeyRing::parse(keys)
            .map_err(|why| self.problems.push(format!("TOKEN_ENCRYPTION_KEYS: {why}")))
            .ok()
    }

    /// `key`, whole seconds from 1 to `max`; `default` if unset.
    fn seconds(&mut self, key: &str, default: u64, max: u64) -> Duration {
        self.seconds_between(key, default, 1, max)
    }

    /// `key`, whole seconds from `min` to `max`; `default` if unset.
    fn seconds_between(&mut self, key: &str, default: u64, min: u64, max: u64) -> Duration {
        let Some(value) = self.get(key) else {
            return Duration::from_secs(default);
        };
        match value.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Duration::from_secs(n),
            _ => {
                self.problems.push(format!(
                    "{key} must be a whole number of seconds from {min} to {max}, not \"{value}\""
                ));
                Duration::from_secs(default)
            }
        }
    }

    /// `SESSION_CACHE_SECONDS`, 0 (off) to 60.
    fn session_cache(&mut self) -> Duration {
        let Some(value) = self.get("SESSION_CACHE_SECONDS") else {
            return Duration::from_secs(DEFAULT_SESSION_CACHE);
        };
        match value.parse::<u64>() {
            Ok(n) if n <= 60 => Duration::from_secs(n),
            _ => {
                self.problems.push(format!(
                    "SESSION_CACHE_SECONDS must be a whole number of seconds from 0 (off) \
                     to 60, not \"{value}\""
                ));
                Duration::ZERO
            }
        }
    }

    /// `key`, requests per minute (0: no limit); `default` if unset.
    fn per_minute(&mut self, key: &str, default: u32) -> u32 {
        let Some(value) = self.get(key) else {
            return default;
        };
        value.parse::<u32>().unwrap_or_else(|_| {
            self.problems.push(format!(
                "{key} must be a whole number of requests per minute (0 for no limit), \
                 not \"{value}\""
            ));
            default
        })
    }

    /// `key`, an HTTP header name, if set.
    fn header_name(&mut self, key: &str) -> Option<http::HeaderName> {
        let name = self.get(key)?;
        http::HeaderName::try_from(name)
            .map_err(|_| {
                self.problems
                    .push(format!("{key} {name:?} is not a header name"))
            })
            .ok()
    }
}

/// An origin: scheme `http` or `https`, a host, optional port, no path,
/// query or fragment.
/// Kept as browsers send it in `Origin` (RFC 6454 §6.1): scheme and host in
/// lower case, no default port, so it can be compared byte for byte.
fn parse_public_url(value: &str) -> Result<String, &'static str> {
    let trimmed = value.trim_end_matches('/');
    let lower = trimmed.to_ascii_lowercase();
    let (scheme, default_port) = if lower.starts_with("https://") {
        ("https://", ":443")
    } else if lower.starts_with("http://") {
        ("http://", ":80")
    } else {
        return Err("must start with http:// or https://");
    };
    let rest = &lower[scheme.len()..];
    if rest.is_empty() {
        return Err("has no host");
    }
    if rest.contains(['/', '?', '#', '@', ' ', '\\']) {
        return Err("must be an origin only (scheme, host and port, no path or query)");
    }
    let host = rest.strip_suffix(default_port).unwrap_or(rest);
    Ok(format!("{scheme}{host}"))
}

#[cfg(test)]
mod tests;
