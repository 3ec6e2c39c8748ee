//! `portcullis.toml`: the same settings as the environment variables, in a
//! file. Each key maps to one variable (`public_url` → `APP_PUBLIC_URL`,
//! `[providers.acme] client_id` → `ACME_CLIENT_ID`, the `[providers.*]`
//! tables in file order → `AUTH_PROVIDERS`, `[apis.notes] url` →
//! `API_NOTES_URL` and the `[apis.*]` tables → `REMOTE_APIS`); a variable
//! that is set in the environment wins over the file.
//!
//! ```toml
//! public_url = "https://app.example.com"
//!
//! [providers.google]
//! client_id = "1234.apps.googleusercontent.com"
//! # client_secret from GOOGLE_CLIENT_SECRET in the environment
//!
//! [providers.acme]
//! label = "Acme ID"
//! issuer = "https://id.acme.example"
//! client_id = "portcullis"
//! scopes = ["openid", "email"]
//! ```

use std::{collections::HashMap, path::Path};

use toml::{Table, Value};

/// Where the file is looked for when `PORTCULLIS_CONFIG` is not set.
pub const DEFAULT_PATH: &str = "portcullis.toml";

/// Top-level keys and the variables they stand for.
const TOP_LEVEL: [(&str, &str); 19] = [
    ("public_url", "APP_PUBLIC_URL"),
    ("error_page", "APP_ERROR_PAGE"),
    ("sign_in_page", "APP_SIGN_IN_PAGE"),
    ("database_url", "DATABASE_URL"),
    ("token_encryption_keys", "TOKEN_ENCRYPTION_KEYS"),
    ("login_timeout_seconds", "LOGIN_TIMEOUT_SECONDS"),
    ("provider_timeout_seconds", "PROVIDER_TIMEOUT_SECONDS"),
    (
        "session_idle_timeout_seconds",
        "SESSION_IDLE_TIMEOUT_SECONDS",
    ),
    (
        "session_absolute_timeout_seconds",
        "SESSION_ABSOLUTE_TIMEOUT_SECONDS",
    ),
    ("token_refresh_skew_seconds", "TOKEN_REFRESH_SKEW_SECONDS"),
    (
        "access_token_default_lifetime_seconds",
        "ACCESS_TOKEN_DEFAULT_LIFETIME_SECONDS",
    ),
    ("refresh_lock_seconds", "REFRESH_LOCK_SECONDS"),
    (
        "rate_limit_sign_in_per_minute",
        "RATE_LIMIT_SIGN_IN_PER_MINUTE",
    ),
    (
        "rate_limit_backchannel_per_minute",
        "RATE_LIMIT_BACKCHANNEL_PER_MINUTE",
    ),
    ("client_ip_header", "CLIENT_IP_HEADER"),
    ("background_refresh_seconds", "BACKGROUND_REFRESH_SECONDS"),
    ("session_store_url", "SESSION_STORE_URL"),
    ("session_store_prefix", "SESSION_STORE_PREFIX"),
    ("session_cache_seconds", "SESSION_CACHE_SECONDS"),
];

/// Keys of a `[providers.<name>]` table.
const PROVIDER_KEYS: [&str; 35] = [
    "preset",
    "response_mode",
    "issuer",
    "tenant",
    "api_url",
    "client_id",
    "client_secret",
    "scopes",
    "label",
    // A plain OAuth 2.0 provider configured by its endpoints.
    "authorize_url",
    "token_url",
    "userinfo_url",
    "token_auth_method",
    "authorize_params",
    "token_params",
    "user_id_field",
    "email_field",
    "email_verified_field",
    "name_field",
    "avatar_field",
    "emails_url",
    "emails_list_field",
    "emails_address_field",
    "emails_primary_field",
    "emails_verified_field",
    // An OpenID Connect provider without discovery.
    "jwks_uri",
    "end_session_url",
    "revocation_url",
    "id_token_signing_algs",
    "authorization_response_iss",
    // Sign in with Apple's key, which makes its client secret.
    "team_id",
    "key_id",
    "private_key",
    "private_key_file",
    // OAuth 1.0a.
    "signature_method",
];

/// Reads the file at `path` into variables; every problem is named with
/// the file and key.
pub fn read(path: &Path) -> Result<HashMap<String, String>, Vec<String>> {
    let name = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|err| vec![format!("{name}: cannot be read: {err}")])?;
    parse(&text).map_err(|problems| {
        problems
            .into_iter()
            .map(|problem| format!("{name}: {problem}"))
            .collect()
    })
}

/// The variables a file's text stands for.
pub fn parse(text: &str) -> Result<HashMap<String, String>, Vec<String>> {
    let table: Table = text
        .parse()
        .map_err(|err: toml::de::Error| vec![one_line(&err.to_string())])?;
    let mut vars = HashMap::new();
    let mut problems = Vec::new();
    for (key, value) in &table {
        if key == "providers" {
            match value {
                Value::Table(providers) => read_providers(providers, &mut vars, &mut problems),
                _ => problems.push("`providers` must be a table of [providers.<name>]".into()),
            }
            continue;
        }
        if key == "apis" {
            match value {
                Value::Table(apis) => read_apis(apis, &mut vars, &mut problems),
                _ => problems.push("`apis` must be a table of [apis.<name>]".into()),
            }
            continue;
        }
        match TOP_LEVEL.iter().find(|(k, _)| k == key) {
            Some((_, var)) => match scalar(value) {
                Some(text) => {
                    vars.insert((*var).to_owned(), text);
                }
                None => problems.push(format!("`{key}` must be a string or a number")),
            },
            None => problems.push(format!(
                "unknown setting `{key}` (known: {}, providers, apis)",
                TOP_LEVEL.map(|(k, _)| k).join(", ")
            )),
        }
    }
    if problems.is_empty() {
        Ok(vars)
    } else {
        Err(problems)
    }
}

fn read_providers(
    providers: &Table,
    vars: &mut HashMap<String, String>,
    problems: &mut Vec<String>,
) {
    let mut names = Vec::new();
    for (name, settings) in providers {
        let Value::Table(settings) = settings else {
            problems.push(format!("`providers.{name}` must be a table"));
            continue;
        };
        names.push(name.as_str());
        let prefix = name.to_ascii_uppercase().replace('-', "_");
        for (key, value) in settings {
            if !PROVIDER_KEYS.contains(&key.as_str()) {
                problems.push(format!(
                    "unknown setting `providers.{name}.{key}` (known: {})",
                    PROVIDER_KEYS.join(", ")
                ));
                continue;
            }
            let text = match (key.as_str(), value) {
                ("scopes" | "id_token_signing_algs", Value::Array(items)) => listed(items),
                ("authorize_params" | "token_params", Value::Table(params)) => form(params),
                (_, Value::String(text)) => Some(text.clone()),
                _ => None,
            };
            match text {
                Some(text) => {
                    vars.insert(format!("{prefix}_{}", key.to_ascii_uppercase()), text);
                }
                None if key == "scopes" => problems.push(format!(
                    "`providers.{name}.scopes` must be a list of strings or one string"
                )),
                None if key.ends_with("_params") => problems.push(format!(
                    "`providers.{name}.{key}` must be a table of strings or one form-encoded string"
                )),
                None => problems.push(format!("`providers.{name}.{key}` must be a string")),
            }
        }
    }
    vars.insert("AUTH_PROVIDERS".into(), names.join(","));
}

/// Keys of an `[apis.<name>]` table.
const API_KEYS: [&str; 8] = [
    "url",
    "prefix",
    "token",
    "provider",
    "resource",
    "scopes",
    "max_body_bytes",
    "timeout_seconds",
];

/// `[apis.<name>]` tables, in file order, as `REMOTE_APIS` and
/// `API_<NAME>_*`.
fn read_apis(apis: &Table, vars: &mut HashMap<String, String>, problems: &mut Vec<String>) {
    let mut names = Vec::new();
    for (name, settings) in apis {
        let Value::Table(settings) = settings else {
            problems.push(format!("`apis.{name}` must be a table"));
            continue;
        };
        names.push(name.as_str());
        let prefix = format!("API_{}", name.to_ascii_uppercase().replace('-', "_"));
        for (key, value) in settings {
            if !API_KEYS.contains(&key.as_str()) {
                problems.push(format!(
                    "unknown setting `apis.{name}.{key}` (known: {})",
                    API_KEYS.join(", ")
                ));
                continue;
            }
            let text = match (key.as_str(), value) {
                ("scopes", Value::Array(scopes)) => listed(scopes),
                (_, value) => scalar(value),
            };
            match text {
                Some(text) => {
                    vars.insert(format!("{prefix}_{}", key.to_ascii_uppercase()), text);
                }
                None if key == "scopes" => problems.push(format!(
                    "`apis.{name}.scopes` must be a list of strings or one string"
                )),
                None => problems.push(format!("`apis.{name}.{key}` must be a string or a number")),
            }
        }
    }
    vars.insert("REMOTE_APIS".into(), names.join(","));
}

/// A table of strings as one form-encoded string (`a=1&b=2`).
fn form(params: &Table) -> Option<String> {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        form.append_pair(name, value.as_str()?);
    }
    Some(form.finish())
}

/// A list of strings as one space-separated string.
fn listed(items: &[Value]) -> Option<String> {
    let items: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
    items.map(|items| items.join(" "))
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Integer(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The parser's message with its source excerpt folded onto one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.chars().all(|c| "|^ ".contains(c)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variable_of_a_provider_described_by_its_endpoints_has_its_file_key() {
        use super::super::{
            endpoints::{DESCRIBED, OIDC_ONLY, PLAIN_ONLY},
            signing_key,
        };
        let suffixes = DESCRIBED.iter().chain(&OIDC_ONLY).chain(&PLAIN_ONLY);
        for suffix in suffixes.chain(&signing_key::SUFFIXES) {
            let key = suffix.to_ascii_lowercase();
            assert!(PROVIDER_KEYS.contains(&key.as_str()), "{key}");
        }
    }

    #[test]
    fn keys_map_to_the_variables_and_providers_keep_file_order() {
        let vars = parse(
            r#"
            public_url = "https://app.example.com"
            login_timeout_seconds = 300

            [providers.zeta]
            issuer = "https://zeta.example"
            client_id = "z"
            scopes = ["openid", "email"]

            [providers.acme-id]
            issuer = "https://id.acme.example"
            client_id = "a"
            client_secret = "s"
            label = "Acme ID"
            "#,
        )
        .unwrap();
        let get = |k: &str| vars.get(k).map(String::as_str);
        assert_eq!(get("APP_PUBLIC_URL"), Some("https://app.example.com"));
        assert_eq!(get("LOGIN_TIMEOUT_SECONDS"), Some("300"));
        assert_eq!(get("AUTH_PROVIDERS"), Some("zeta,acme-id"));
        assert_eq!(get("ZETA_SCOPES"), Some("openid email"));
        assert_eq!(get("ACME_ID_LABEL"), Some("Acme ID"));
        assert_eq!(get("ACME_ID_CLIENT_SECRET"), Some("s"));
        assert_eq!(get("ZETA_CLIENT_SECRET"), None);
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_all_reported() {
        let problems = parse(
            r#"
            public_uri = "https://typo.example"
            database_url = ["no"]

            [providers.acme]
            clientid = "a"
            scopes = ["openid", 7]
            label = 7
            "#,
        )
        .unwrap_err();
        assert_eq!(
            problems,
            [
                "unknown setting `public_uri` (known: public_url, error_page, sign_in_page, \
                 database_url, token_encryption_keys, login_timeout_seconds, provider_timeout_seconds, \
                 session_idle_timeout_seconds, session_absolute_timeout_seconds, \
                 token_refresh_skew_seconds, access_token_default_lifetime_seconds, \
                 refresh_lock_seconds, rate_limit_sign_in_per_minute, \
                 rate_limit_backchannel_per_minute, client_ip_header, background_refresh_seconds, \
                 session_store_url, session_store_prefix, session_cache_seconds, providers, apis)",
                "`database_url` must be a string or a number",
                "unknown setting `providers.acme.clientid` (known: preset, response_mode, issuer, tenant, \
                 api_url, client_id, client_secret, scopes, label, authorize_url, token_url, \
                 userinfo_url, token_auth_method, authorize_params, token_params, \
                 user_id_field, email_field, email_verified_field, name_field, avatar_field, \
                 emails_url, emails_list_field, emails_address_field, emails_primary_field, \
                 emails_verified_field, jwks_uri, end_session_url, revocation_url, \
                 id_token_signing_algs, authorization_response_iss, team_id, key_id, \
                 private_key, private_key_file, signature_method)",
                "`providers.acme.scopes` must be a list of strings or one string",
                "`providers.acme.label` must be a string",
            ]
        );
    }

    #[test]
    fn a_syntax_error_names_the_line() {
        let problems = parse("public_url = \"https://a.example\"\n[providers.acme\n").unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("line 2"), "{problems:?}");
    }

    #[test]
    fn a_missing_file_is_reported_with_its_name() {
        let problems = read(Path::new("/nonexistent/portcullis.toml")).unwrap_err();
        assert!(
            problems[0].starts_with("/nonexistent/portcullis.toml: cannot be read"),
            "{problems:?}"
        );
    }
}
