//! Settings from variables, the file and code: what each accepts and
//! every problem it reports.

use super::{provider::parse_issuer, *};
use crate::providers::{self, Protocol};

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
    // What a URL parser reads as the host counts, not what precedes a ':'.
    assert!(parse_issuer("http://localhost:1@evil.example/token").is_err());
    assert!(parse_issuer("http://127.0.0.1@evil.example").is_err());
    assert!(parse_issuer("https://user:pw@accounts.example.com").is_err());
    assert!(parse_issuer("http://127.0.0.2:8080").is_ok());
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
    assert_eq!(settings.sign_in_ttl, Duration::from_secs(600));
    assert_eq!(
        settings.provider_limits.total_timeout,
        Duration::from_secs(15)
    );

    let settings = Settings::from_vars(&vars(&[
        ("LOGIN_TIMEOUT_SECONDS", "60"),
        ("PROVIDER_TIMEOUT_SECONDS", "2"),
    ]))
    .unwrap();
    assert_eq!(settings.sign_in_ttl, Duration::from_secs(60));
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
        ["SESSION_CACHE_SECONDS must be a whole number of seconds from 0 (off) to 60, not \"61\""]
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
    assert_eq!(settings.remote_apis.len(), 1);
}

#[test]
fn every_preset_needs_only_its_client_id_and_secret() {
    for name in providers::preset_names() {
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
    assert_eq!(hub.protocol, providers::github::PRESET.protocol);
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
        problems.0[0].starts_with("A_PRESET: \"myspace\" is not a preset (known: google, github")
    );
    assert!(problems.0[1].starts_with(
        "GOOGLE_API_URL applies to the presets with an API of their own only (GitHub, Discord, Bitbucket, X, Facebook, Twitter)"
    ));
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

#[test]
fn settings_written_in_code_equal_the_same_settings_from_variables() {
    let from_code = Settings::builder()
        .public_url("https://app.example.com")
        .database_url("sqlite::memory:")
        .error_page("/oops")
        .provider(ProviderConfig::new("github").client("gh-id", "gh-secret"))
        .provider(
            ProviderConfig::new("corp")
                .issuer("https://id.corp.example")
                .client("corp-id", "corp-secret")
                .scopes(&["openid", "email"])
                .label("Corp SSO"),
        )
        .session_idle_timeout(Duration::from_secs(1800))
        .session_cache(Duration::ZERO)
        .background_refresh(None)
        .sign_in_rate_limit(10)
        .client_ip_header("X-Forwarded-For")
        .build()
        .unwrap();
    let from_vars = Settings::from_vars(&vars_as_given(&[
        ("APP_PUBLIC_URL", "https://app.example.com"),
        ("DATABASE_URL", "sqlite::memory:"),
        ("APP_ERROR_PAGE", "/oops"),
        ("AUTH_PROVIDERS", "github,corp"),
        ("GITHUB_CLIENT_ID", "gh-id"),
        ("GITHUB_CLIENT_SECRET", "gh-secret"),
        ("CORP_ISSUER", "https://id.corp.example"),
        ("CORP_CLIENT_ID", "corp-id"),
        ("CORP_CLIENT_SECRET", "corp-secret"),
        ("CORP_SCOPES", "openid email"),
        ("CORP_LABEL", "Corp SSO"),
        ("SESSION_IDLE_TIMEOUT_SECONDS", "1800"),
        ("SESSION_CACHE_SECONDS", "0"),
        ("BACKGROUND_REFRESH_SECONDS", "0"),
        ("RATE_LIMIT_SIGN_IN_PER_MINUTE", "10"),
        ("CLIENT_IP_HEADER", "X-Forwarded-For"),
    ]))
    .unwrap();
    assert_eq!(format!("{from_code:?}"), format!("{from_vars:?}"));
    assert_eq!(from_code.error_page.as_deref(), Some("/oops"));
    assert_eq!(from_code.providers[1].label, "Corp SSO");
    assert_eq!(from_code.session_idle, Duration::from_secs(1800));
}

#[test]
fn every_problem_in_settings_written_in_code_is_reported_at_once() {
    let problems = Settings::builder()
        .public_url("ftp://app.example.com")
        .error_page("https://elsewhere.example/error")
        .provider(ProviderConfig::new("corp").client("id", "secret"))
        .provider(ProviderConfig::new("Bad Name"))
        .session_idle_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(
        problems.problems(),
        [
            "APP_PUBLIC_URL must start with http:// or https://",
            "APP_ERROR_PAGE must be a path on this site such as /error, not \
             \"https://elsewhere.example/error\"",
            "CORP_ISSUER is not set (needed for provider \"corp\")",
            "AUTH_PROVIDERS: \"Bad Name\" is not a valid provider name (use lower-case \
             letters, digits and '-', starting with a letter)",
            "TOKEN_ENCRYPTION_KEYS is not set, and sessions are kept in a persistent store: \
             set it to `k1:` followed by 32 random bytes in base64 \
             (`head -c 32 /dev/urandom | base64`), the same on every instance",
            "SESSION_IDLE_TIMEOUT_SECONDS must be a whole number of seconds from 1 to 2592000, \
             not \"0\"",
        ]
    );
}

#[test]
fn code_wins_over_the_environment_and_its_providers_follow_the_listed_ones() {
    let env = vars(&[
        ("APP_PUBLIC_URL", "https://from-env.example"),
        ("DATABASE_URL", "sqlite::memory:"),
        ("AUTH_PROVIDERS", "google"),
        ("GOOGLE_CLIENT_ID", "g-id"),
        ("GOOGLE_CLIENT_SECRET", "g-secret"),
        ("PORTCULLIS_CONFIG", ""),
    ]);
    let settings = SettingsBuilder::from_vars(env)
        .public_url("https://from-code.example")
        .provider(ProviderConfig::new("github").client("gh-id", "gh-secret"))
        .build()
        .unwrap();
    assert_eq!(settings.public_url, "https://from-code.example");
    let ids: Vec<&str> = settings.providers.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["google", "github"]);
}

#[test]
fn the_error_page_is_a_path_on_this_site() {
    for bad in [
        "//evil.example",
        "https://evil.example/error",
        "error",
        "/\\evil",
    ] {
        let problems = Settings::from_vars(&vars(&[
            ("DATABASE_URL", "sqlite::memory:"),
            ("APP_ERROR_PAGE", bad),
        ]))
        .unwrap_err();
        assert!(
            problems.problems()[0].starts_with("APP_ERROR_PAGE must be a path"),
            "{bad}: {problems}"
        );
    }
    let settings = Settings::from_vars(&vars(&[
        ("DATABASE_URL", "sqlite::memory:"),
        ("APP_ERROR_PAGE", "/sign-in/failed"),
    ]))
    .unwrap();
    assert_eq!(settings.error_page.as_deref(), Some("/sign-in/failed"));
}

#[test]
fn settings_written_in_code_print_no_secret() {
    let builder = Settings::builder()
        .token_encryption_keys("k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
        .database_url("postgres://app:hunter2@db/app")
        .provider(ProviderConfig::new("corp").client("corp-id", "corp-secret-value"));
    let printed = format!("{builder:?}");
    for secret in ["MDEyMzQ1", "hunter2", "corp-secret-value"] {
        assert!(!printed.contains(secret), "{printed}");
    }
    assert!(printed.contains("TOKEN_ENCRYPTION_KEYS"), "{printed}");
    let provider = format!(
        "{:?}",
        ProviderConfig::new("corp").client("id", "corp-secret-value")
    );
    assert!(!provider.contains("corp-secret-value"), "{provider}");
}

#[test]
fn the_public_url_is_kept_as_browsers_send_their_origin() {
    for (given, kept) in [
        ("https://App.Example.COM", "https://app.example.com"),
        ("https://app.example.com:443/", "https://app.example.com"),
        ("http://127.0.0.1:80", "http://127.0.0.1"),
        (
            "https://app.example.com:8443",
            "https://app.example.com:8443",
        ),
        ("HTTP://localhost:3000", "http://localhost:3000"),
    ] {
        let settings = Settings::from_vars(&vars(&[
            ("DATABASE_URL", "sqlite::memory:"),
            ("APP_PUBLIC_URL", given),
        ]))
        .unwrap();
        assert_eq!(settings.public_url, kept, "{given}");
    }
}

#[test]
fn durations_in_code_that_are_not_whole_seconds_are_reported_not_rounded() {
    let problems = Settings::builder()
        .database_url("sqlite::memory:")
        .session_idle_timeout(Duration::from_millis(1500))
        .background_refresh(Some(Duration::ZERO))
        .refresh_lock_lease(Duration::from_secs(1))
        .build()
        .unwrap_err();
    assert_eq!(
        problems.problems(),
        [
            "SESSION_IDLE_TIMEOUT_SECONDS must be a whole number of seconds from 1 to 2592000, \
             not \"1.500\"",
            "REFRESH_LOCK_SECONDS must be a whole number of seconds from 2 to 300, not \"1\"",
            "BACKGROUND_REFRESH_SECONDS must be a whole number of seconds from 1 to 3600, \
             not \"0 (use None to turn it off)\"",
        ]
    );
}

#[test]
fn remote_apis_are_read_from_variables_with_their_defaults() {
    let settings = Settings::from_vars(&vars(&[
        ("AUTH_PROVIDERS", "work"),
        ("WORK_ISSUER", "https://id.work.example"),
        ("WORK_CLIENT_ID", "id"),
        ("WORK_CLIENT_SECRET", "secret"),
        ("REMOTE_APIS", "notes, files"),
        ("API_NOTES_URL", "https://notes.internal/v1/"),
        ("API_NOTES_PROVIDER", "work"),
        ("API_FILES_URL", "http://127.0.0.1:9000"),
        ("API_FILES_PREFIX", "/files/"),
        ("API_FILES_TOKEN", "user-if-signed-in"),
        ("API_FILES_PROVIDER", "work"),
        ("API_FILES_MAX_BODY_BYTES", "1048576"),
        ("API_FILES_TIMEOUT_SECONDS", "120"),
        ("API_FILES_RESOURCE", "https://files.work.example/"),
        ("API_FILES_SCOPES", "files:read, files:write"),
    ]))
    .unwrap();
    let [notes, files] = settings.remote_apis.as_slice() else {
        panic!("{:?}", settings.remote_apis);
    };
    assert_eq!(notes.name, "notes");
    assert_eq!(notes.prefix, "/api/remote/notes");
    assert_eq!(notes.upstream.as_str(), "https://notes.internal/v1/");
    assert_eq!(notes.token, TokenPolicy::User);
    assert_eq!(notes.provider.as_deref(), Some("work"));
    assert_eq!(notes.max_body, None);
    assert_eq!(notes.timeout, Duration::from_secs(30));
    assert_eq!(notes.audience, None, "the session's own token");
    assert_eq!(files.prefix, "/files");
    assert_eq!(files.token, TokenPolicy::UserIfSignedIn);
    assert_eq!(files.provider.as_deref(), Some("work"));
    assert_eq!(files.max_body, Some(1_048_576));
    assert_eq!(files.timeout, Duration::from_secs(120));
    let audience = files.audience.as_ref().unwrap();
    assert_eq!(
        audience.resource.as_deref(),
        Some("https://files.work.example/")
    );
    assert_eq!(audience.scopes, ["files:read", "files:write"]);
    // Signing in with the provider grants what its APIs need (RFC 8707
    // §2.1): the resource is named, the scopes asked for.
    let work = &settings.providers[0];
    assert_eq!(work.resources, ["https://files.work.example/"]);
    assert_eq!(
        work.scopes,
        ["openid", "email", "profile", "files:read", "files:write"]
    );
}

#[test]
fn an_apis_resource_and_scopes_are_checked_and_asked_for_once_per_provider() {
    let settings = Settings::from_vars(&vars(&[
        ("AUTH_PROVIDERS", "work"),
        ("WORK_ISSUER", "https://id.work.example"),
        ("WORK_CLIENT_ID", "id"),
        ("WORK_CLIENT_SECRET", "secret"),
        ("REMOTE_APIS", "a,b,c"),
        ("API_A_URL", "https://a.example"),
        ("API_A_PROVIDER", "work"),
        ("API_A_RESOURCE", "urn:work:api"),
        ("API_A_SCOPES", "api:read email"),
        ("API_B_URL", "https://b.example"),
        ("API_B_PROVIDER", "work"),
        ("API_B_RESOURCE", "urn:work:api"),
        ("API_B_SCOPES", "api:read"),
        ("API_C_URL", "https://c.example"),
        ("API_C_PROVIDER", "work"),
        ("API_C_SCOPES", "api:write"),
    ]))
    .unwrap();
    let work = &settings.providers[0];
    assert_eq!(work.resources, ["urn:work:api"]);
    assert_eq!(
        work.scopes,
        ["openid", "email", "profile", "api:read", "api:write"]
    );
    assert_eq!(
        settings.remote_apis[2].audience.as_ref().unwrap().resource,
        None
    );

    let problems = Settings::from_vars(&vars(&[
        ("AUTH_PROVIDERS", "work"),
        ("WORK_ISSUER", "https://id.work.example"),
        ("WORK_CLIENT_ID", "id"),
        ("WORK_CLIENT_SECRET", "secret"),
        ("REMOTE_APIS", "relative,fragment,query,scope,public,space"),
        ("API_SPACE_URL", "https://f.example"),
        ("API_SPACE_PROVIDER", "work"),
        ("API_SPACE_RESOURCE", "urn:a b"),
        ("API_RELATIVE_URL", "https://a.example"),
        ("API_RELATIVE_PROVIDER", "work"),
        ("API_RELATIVE_RESOURCE", "/api"),
        ("API_FRAGMENT_URL", "https://b.example"),
        ("API_FRAGMENT_PROVIDER", "work"),
        ("API_FRAGMENT_RESOURCE", "https://b.example/#top"),
        ("API_QUERY_URL", "https://c.example"),
        ("API_QUERY_PROVIDER", "work"),
        ("API_QUERY_RESOURCE", "https://c.example/?v=1"),
        ("API_SCOPE_URL", "https://d.example"),
        ("API_SCOPE_PROVIDER", "work"),
        ("API_SCOPE_SCOPES", "read \"all\""),
        ("API_PUBLIC_URL", "https://e.example"),
        ("API_PUBLIC_TOKEN", "none"),
        ("API_PUBLIC_SCOPES", "read"),
    ]))
    .unwrap_err();
    let expected = [
        "API_RELATIVE_RESOURCE must be an absolute URI (RFC 8707 §2)",
        "API_FRAGMENT_RESOURCE must not have a fragment (RFC 8707 §2)",
        "API_QUERY_RESOURCE must not have a query (RFC 8707 §2)",
        "API_SPACE_RESOURCE must be an absolute URI without spaces (RFC 8707 §2)",
        "API_SCOPE_SCOPES lists \"\\\"all\\\"\", which is not a scope",
        "API_PUBLIC_RESOURCE or API_PUBLIC_SCOPES is set but API_PUBLIC_TOKEN is none",
    ];
    for want in expected {
        assert!(
            problems.0.iter().any(|p| p.starts_with(want)),
            "missing {want:?} in {problems}"
        );
    }
    assert_eq!(problems.0.len(), expected.len(), "{problems}");
}

#[test]
fn every_problem_in_the_remote_apis_is_reported_at_once() {
    let problems = Settings::from_vars(&vars(&[
        ("REMOTE_APIS", "Notes,plain,auth,a,b,missing,a"),
        ("API_PLAIN_URL", "http://api.example.com"),
        ("API_PLAIN_TOKEN", "none"),
        ("API_AUTH_URL", "https://api.example.com"),
        ("API_AUTH_TOKEN", "none"),
        ("API_AUTH_PREFIX", "/auth/api"),
        ("API_A_URL", "https://a.example"),
        ("API_A_PREFIX", "/api"),
        ("API_A_TOKEN", "always"),
        ("API_A_PROVIDER", "nobody"),
        ("API_B_URL", "https://user:pw@b.example"),
        ("API_MISSING_TOKEN", "none"),
        ("API_B_PREFIX", "/api/b"),
        ("API_B_MAX_BODY_BYTES", "0"),
        ("API_B_TIMEOUT_SECONDS", "0"),
    ]))
    .unwrap_err();
    let expected = [
        "REMOTE_APIS: \"Notes\" is not a valid API name",
        "API_PLAIN_URL must use https://",
        "API_AUTH_PREFIX must be a path such as /api/remote/auth",
        "API_A_TOKEN must be user, user-if-signed-in or none, not \"always\"",
        "API_A_PROVIDER names \"nobody\", which AUTH_PROVIDERS does not list",
        "API_B_URL must not carry credentials",
        "API_B_PROVIDER is not set: name the provider whose tokens API \"b\" takes",
        "API_B_PREFIX \"/api/b\" overlaps API \"a\"'s \"/api\"",
        "API_B_MAX_BODY_BYTES must be a whole number of bytes above 0, not \"0\"",
        "API_B_TIMEOUT_SECONDS must be a whole number of seconds from 1 to 3600, not \"0\"",
        "API_MISSING_URL is not set (needed for API \"missing\")",
        "API_MISSING_PREFIX \"/api/remote/missing\" overlaps API \"a\"'s \"/api\"",
        "REMOTE_APIS lists \"a\" twice",
    ];
    for want in expected {
        assert!(
            problems.0.iter().any(|p| p.starts_with(want)),
            "missing {want:?} in {problems}"
        );
    }
    assert_eq!(problems.0.len(), expected.len(), "{problems}");
}

#[test]
fn remote_apis_written_in_code_equal_the_same_apis_from_variables() {
    let from_code = Settings::builder()
        .database_url("sqlite::memory:")
        .provider(ProviderConfig::new("github").client("gh-id", "gh-secret"))
        .remote_api(RemoteApiConfig::new("notes", "https://notes.internal").provider("github"))
        .remote_api(
            RemoteApiConfig::new("repos", "https://api.github.com")
                .prefix("/api/github")
                .token(TokenPolicy::UserIfSignedIn)
                .provider("github")
                .max_body_bytes(4096)
                .timeout(Duration::from_secs(10))
                .resource("https://api.github.com/")
                .scopes(&["repo", "read:org"]),
        )
        .build()
        .unwrap();
    let from_vars = Settings::from_vars(&vars_as_given(&[
        ("DATABASE_URL", "sqlite::memory:"),
        ("AUTH_PROVIDERS", "github"),
        ("GITHUB_CLIENT_ID", "gh-id"),
        ("GITHUB_CLIENT_SECRET", "gh-secret"),
        ("REMOTE_APIS", "notes,repos"),
        ("API_NOTES_URL", "https://notes.internal"),
        ("API_NOTES_PROVIDER", "github"),
        ("API_REPOS_URL", "https://api.github.com"),
        ("API_REPOS_PREFIX", "/api/github"),
        ("API_REPOS_TOKEN", "user-if-signed-in"),
        ("API_REPOS_PROVIDER", "github"),
        ("API_REPOS_MAX_BODY_BYTES", "4096"),
        ("API_REPOS_TIMEOUT_SECONDS", "10"),
        ("API_REPOS_RESOURCE", "https://api.github.com/"),
        ("API_REPOS_SCOPES", "repo read:org"),
    ]))
    .unwrap();
    assert_eq!(from_code.remote_apis, from_vars.remote_apis);
    assert_eq!(from_code.providers, from_vars.providers);
    assert_eq!(from_code.remote_apis.len(), 2);
    let problems = Settings::builder()
        .database_url("sqlite::memory:")
        .remote_api(
            RemoteApiConfig::new("x", "ftp://x.example").timeout(Duration::from_millis(1500)),
        )
        .build()
        .unwrap_err();
    assert_eq!(problems.0.len(), 3, "{problems}");
}

#[test]
fn the_settings_files_api_tables_are_the_remote_apis_in_file_order() {
    let vars = file::parse(
        r#"
        [apis.zeta]
        url = "https://zeta.internal"
        token = "none"

        [apis.alpha]
        url = "https://alpha.internal"
        prefix = "/alpha"
        max_body_bytes = 2048
        resource = "https://alpha.internal"
        scopes = ["alpha:read", "alpha:write"]
        "#,
    )
    .unwrap();
    assert_eq!(vars["REMOTE_APIS"], "zeta,alpha");
    assert_eq!(vars["API_ZETA_TOKEN"], "none");
    assert_eq!(vars["API_ALPHA_PREFIX"], "/alpha");
    assert_eq!(vars["API_ALPHA_MAX_BODY_BYTES"], "2048");
    assert_eq!(vars["API_ALPHA_RESOURCE"], "https://alpha.internal");
    assert_eq!(vars["API_ALPHA_SCOPES"], "alpha:read alpha:write");
    let problems = file::parse("[apis.alpha]\nurl = \"https://a\"\nheaders = \"x\"\n").unwrap_err();
    assert!(
        problems[0].contains("unknown setting `apis.alpha.headers`"),
        "{problems:?}"
    );
}

/// Bitbucket Cloud written as configuration only (a name that is not its
/// preset's, which needs none of this).
const BITBUCKET: [(&str, &str); 12] = [
    ("AUTH_PROVIDERS", "bitbucket-cloud"),
    ("BITBUCKET_CLOUD_CLIENT_ID", "bb-key"),
    ("BITBUCKET_CLOUD_CLIENT_SECRET", "bb-secret"),
    (
        "BITBUCKET_CLOUD_AUTHORIZE_URL",
        "https://bitbucket.org/site/oauth2/authorize",
    ),
    (
        "BITBUCKET_CLOUD_TOKEN_URL",
        "https://bitbucket.org/site/oauth2/access_token",
    ),
    (
        "BITBUCKET_CLOUD_USERINFO_URL",
        "https://api.bitbucket.org/2.0/user",
    ),
    ("BITBUCKET_CLOUD_SCOPES", "account email"),
    ("BITBUCKET_CLOUD_USER_ID_FIELD", "/account_id"),
    ("BITBUCKET_CLOUD_NAME_FIELD", "/display_name"),
    ("BITBUCKET_CLOUD_AVATAR_FIELD", "/links/avatar/href"),
    (
        "BITBUCKET_CLOUD_EMAILS_URL",
        "https://api.bitbucket.org/2.0/user/emails",
    ),
    ("BITBUCKET_CLOUD_EMAILS_LIST_FIELD", "/values"),
];

#[test]
fn a_plain_oauth2_provider_is_read_from_its_endpoints_alone_with_sensible_defaults() {
    let mut given = BITBUCKET.to_vec();
    given.extend([
        ("BITBUCKET_CLOUD_EMAILS_PRIMARY_FIELD", "/is_primary"),
        ("BITBUCKET_CLOUD_EMAILS_VERIFIED_FIELD", "/is_confirmed"),
        (
            "BITBUCKET_CLOUD_AUTHORIZE_PARAMS",
            "prompt=consent&hint=a%20b",
        ),
        ("BITBUCKET_CLOUD_TOKEN_PARAMS", "audience=api"),
    ]);
    let settings = Settings::from_vars(&vars(&given)).unwrap();
    let bitbucket = &settings.providers[0];
    assert_eq!(
        bitbucket.protocol,
        Protocol::Plain(&providers::configured::CONFIGURED)
    );
    // Accounts are keyed by the authorization endpoint's origin.
    assert_eq!(bitbucket.issuer, "https://bitbucket.org");
    assert_eq!(bitbucket.label, "Bitbucket-cloud");
    assert_eq!(bitbucket.scopes, ["account", "email"]);
    let oauth2 = bitbucket.oauth2.as_deref().unwrap();
    assert_eq!(
        oauth2.token_url,
        "https://bitbucket.org/site/oauth2/access_token"
    );
    assert_eq!(oauth2.client_auth, providers::oauth2::ClientAuth::Basic);
    assert_eq!(
        oauth2.authorize_params,
        [
            ("prompt".to_owned(), "consent".to_owned()),
            ("hint".to_owned(), "a b".to_owned())
        ]
    );
    assert_eq!(
        oauth2.token_params,
        [("audience".to_owned(), "api".to_owned())]
    );
    assert_eq!(oauth2.fields.id, "/account_id");
    assert_eq!(
        oauth2.fields.email.as_deref(),
        Some("/email"),
        "the default"
    );
    assert_eq!(oauth2.fields.email_verified, None);
    let emails = oauth2.emails.as_ref().unwrap();
    assert_eq!(
        (
            emails.list.as_str(),
            emails.address.as_str(),
            emails.primary.as_str()
        ),
        ("/values", "/email", "/is_primary")
    );

    // The issuer, when given, keys the accounts instead; no scope is
    // asked for unless told.
    let mut given = BITBUCKET.to_vec();
    given.retain(|(key, _)| *key != "BITBUCKET_CLOUD_SCOPES");
    given.push(("BITBUCKET_CLOUD_ISSUER", "https://bitbucket.org/"));
    given.push(("BITBUCKET_CLOUD_TOKEN_AUTH_METHOD", "client_secret_post"));
    let settings = Settings::from_vars(&vars(&given)).unwrap();
    let bitbucket = &settings.providers[0];
    assert_eq!(bitbucket.issuer, "https://bitbucket.org/");
    assert!(bitbucket.scopes.is_empty());
    let oauth2 = bitbucket.oauth2.as_deref().unwrap();
    assert_eq!(oauth2.client_auth, providers::oauth2::ClientAuth::Post);
}

#[test]
fn every_problem_of_a_provider_configured_by_its_endpoints_is_reported_at_once() {
    let problems = Settings::from_vars(&vars(&[
        ("FORGE_CLIENT_ID", "id"),
        ("FORGE_CLIENT_SECRET", "secret"),
        ("FORGE_AUTHORIZE_URL", "https://forge.example/authorize"),
        ("FORGE_USERINFO_URL", "http://forge.example/user"),
        ("FORGE_TOKEN_AUTH_METHOD", "private_key_jwt"),
        ("FORGE_AUTHORIZE_PARAMS", "state=fixed&prompt=login"),
        ("FORGE_TOKEN_PARAMS", "code_verifier=x"),
        ("FORGE_USER_ID_FIELD", "id"),
        ("FORGE_EMAILS_ADDRESS_FIELD", "/a~2b"),
        ("FORGE_API_URL", "https://api.forge.example"),
        ("AUTH_PROVIDERS", "forge,work,gitea,twin"),
        ("GITEA_CLIENT_ID", "id"),
        ("GITEA_CLIENT_SECRET", "secret"),
        (
            "GITEA_AUTHORIZE_URL",
            "https://git.example/login/oauth/authorize",
        ),
        (
            "GITEA_TOKEN_URL",
            "https://git.example/login/oauth/access_token",
        ),
        ("GITEA_USERINFO_URL", "https://git.example/api/v1/user"),
        ("GITEA_AUTHORIZE_PARAMS", "response_mode=form_post&=x"),
        ("GITEA_TOKEN_PARAMS", "client_assertion=jwt"),
        ("TWIN_CLIENT_ID", "id"),
        ("TWIN_CLIENT_SECRET", "secret"),
        ("TWIN_AUTHORIZE_URL", "https://git.example/other/authorize"),
        ("TWIN_TOKEN_URL", "https://git.example/other/token"),
        ("TWIN_USERINFO_URL", "https://git.example/other/user"),
        ("WORK_ISSUER", "https://id.work.example"),
        ("WORK_CLIENT_ID", "id"),
        ("WORK_CLIENT_SECRET", "secret"),
        ("WORK_USERINFO_URL", "https://id.work.example/me"),
    ]))
    .unwrap_err();
    let expected = [
        "FORGE_TOKEN_URL is not set (a provider configured by its endpoints needs",
        "FORGE_USERINFO_URL must use https://",
        "FORGE_TOKEN_AUTH_METHOD must be client_secret_basic or client_secret_post, not \"private_key_jwt\"",
        "FORGE_AUTHORIZE_PARAMS sets \"state\", which the protocol sets itself",
        "FORGE_TOKEN_PARAMS sets \"code_verifier\", which the protocol sets itself",
        "FORGE_USER_ID_FIELD must be a JSON pointer (RFC 6901) such as /user/id, not \"id\"",
        "FORGE_EMAILS_ADDRESS_FIELD must be a JSON pointer",
        "FORGE_API_URL applies to the presets with an API of their own only (GitHub, Discord, Bitbucket, X, Facebook, Twitter) (this provider's API is FORGE_USERINFO_URL)",
        "WORK_USERINFO_URL applies only to a provider described by its endpoints",
        "GITEA_AUTHORIZE_PARAMS sets \"response_mode\", which the protocol sets itself",
        "GITEA_AUTHORIZE_PARAMS has a parameter without a name",
        "GITEA_TOKEN_PARAMS sets \"client_assertion\", which the protocol sets itself",
        "providers \"gitea\" and \"twin\" would key their users' accounts by the same issuer \"https://git.example\": give GITEA_ISSUER a value of its own",
    ];
    for want in expected {
        assert!(
            problems.0.iter().any(|p| p.starts_with(want)),
            "missing {want:?} in {problems}"
        );
    }
    assert_eq!(problems.0.len(), expected.len(), "{problems}");
}

#[test]
fn a_provider_described_by_its_endpoints_in_code_or_the_file_equals_the_same_from_variables() {
    let from_code = Settings::builder()
        .database_url("sqlite::memory:")
        .provider(
            ProviderConfig::new("bitbucket-cloud")
                .client("bb-key", "bb-secret")
                .endpoints(
                    "https://bitbucket.org/site/oauth2/authorize",
                    "https://bitbucket.org/site/oauth2/access_token",
                    "https://api.bitbucket.org/2.0/user",
                )
                .scopes(&["account", "email"])
                .field(UserField::Id, "/account_id")
                .field(UserField::Name, "/display_name")
                .field(UserField::Avatar, "/links/avatar/href")
                .emails_url("https://api.bitbucket.org/2.0/user/emails")
                .field(UserField::EmailsList, "/values")
                .token_auth_method(TokenAuthMethod::ClientSecretPost)
                .authorize_param("prompt", "consent")
                .authorize_param("hint", "a&b"),
        )
        .build()
        .unwrap();
    let mut given = BITBUCKET.to_vec();
    given.extend([
        ("DATABASE_URL", "sqlite::memory:"),
        ("BITBUCKET_CLOUD_TOKEN_AUTH_METHOD", "client_secret_post"),
        (
            "BITBUCKET_CLOUD_AUTHORIZE_PARAMS",
            "prompt=consent&hint=a%26b",
        ),
    ]);
    let from_vars = Settings::from_vars(&vars_as_given(&given)).unwrap();
    assert_eq!(from_code.providers, from_vars.providers);

    let from_file = file::parse(
        r#"
        [providers.bitbucket-cloud]
        client_id = "bb-key"
        client_secret = "bb-secret"
        authorize_url = "https://bitbucket.org/site/oauth2/authorize"
        token_url = "https://bitbucket.org/site/oauth2/access_token"
        userinfo_url = "https://api.bitbucket.org/2.0/user"
        scopes = ["account", "email"]
        user_id_field = "/account_id"
        name_field = "/display_name"
        avatar_field = "/links/avatar/href"
        emails_url = "https://api.bitbucket.org/2.0/user/emails"
        emails_list_field = "/values"
        token_auth_method = "client_secret_post"
        authorize_params = { prompt = "consent", hint = "a&b" }
        "#,
    )
    .unwrap();
    let mut file_vars = from_file;
    file_vars.insert("DATABASE_URL".into(), "sqlite::memory:".into());
    let from_file = Settings::from_vars(&file_vars).unwrap();
    assert_eq!(from_file.providers, from_vars.providers);
}

#[test]
fn an_openid_provider_without_discovery_is_read_from_its_endpoints_and_keys() {
    let given = [
        ("AUTH_PROVIDERS", "legacy"),
        ("LEGACY_CLIENT_ID", "id"),
        ("LEGACY_CLIENT_SECRET", "secret"),
        ("LEGACY_ISSUER", "https://sso.legacy.example/realm"),
        (
            "LEGACY_AUTHORIZE_URL",
            "https://sso.legacy.example/oauth/authorize",
        ),
        ("LEGACY_TOKEN_URL", "https://sso.legacy.example/oauth/token"),
        ("LEGACY_JWKS_URI", "https://sso.legacy.example/keys"),
        ("LEGACY_USERINFO_URL", "https://sso.legacy.example/me"),
        (
            "LEGACY_END_SESSION_URL",
            "https://sso.legacy.example/logout",
        ),
        ("LEGACY_ID_TOKEN_SIGNING_ALGS", "RS256 ES256"),
        ("LEGACY_TOKEN_AUTH_METHOD", "client_secret_post"),
    ];
    let settings = Settings::from_vars(&vars(&given)).unwrap();
    let legacy = &settings.providers[0];
    assert_eq!(legacy.protocol, Protocol::Oidc);
    assert_eq!(legacy.issuer, "https://sso.legacy.example/realm");
    assert_eq!(legacy.scopes, ["openid", "email", "profile"]);
    assert!(legacy.oauth2.is_none());
    let metadata = legacy.metadata.as_deref().unwrap();
    assert_eq!(metadata.jwks_uri, "https://sso.legacy.example/keys");
    assert_eq!(metadata.id_token_algs, ["RS256", "ES256"]);
    assert_eq!(metadata.revocation_url, None);
    assert_eq!(metadata.client_auth, providers::oauth2::ClientAuth::Post);

    let from_code = Settings::builder()
        .provider(
            ProviderConfig::new("legacy")
                .client("id", "secret")
                .issuer("https://sso.legacy.example/realm")
                .endpoints(
                    "https://sso.legacy.example/oauth/authorize",
                    "https://sso.legacy.example/oauth/token",
                    "https://sso.legacy.example/me",
                )
                .jwks_uri("https://sso.legacy.example/keys")
                .end_session_url("https://sso.legacy.example/logout")
                .id_token_signing_algs(&["RS256", "ES256"])
                .token_auth_method(TokenAuthMethod::ClientSecretPost),
        )
        .database_url("sqlite::memory:")
        .build()
        .unwrap();
    assert_eq!(from_code.providers, settings.providers);

    let problems = Settings::from_vars(&vars(&[
        ("LEGACY_CLIENT_ID", "id"),
        ("LEGACY_CLIENT_SECRET", "secret"),
        (
            "LEGACY_AUTHORIZE_URL",
            "https://sso.legacy.example/oauth/authorize",
        ),
        ("LEGACY_JWKS_URI", "ftp://sso.legacy.example/keys"),
        ("LEGACY_ID_TOKEN_SIGNING_ALGS", "HS256"),
        ("LEGACY_EMAIL_FIELD", "/mail"),
        ("GOOGLE_CLIENT_ID", "id"),
        ("GOOGLE_CLIENT_SECRET", "secret"),
        (
            "GOOGLE_JWKS_URI",
            "https://www.googleapis.com/oauth2/v3/certs",
        ),
        ("AUTH_PROVIDERS", "legacy,google,fake-google"),
        ("FAKE_GOOGLE_CLIENT_ID", "id"),
        ("FAKE_GOOGLE_CLIENT_SECRET", "secret"),
        ("FAKE_GOOGLE_ISSUER", "https://accounts.google.com"),
        (
            "FAKE_GOOGLE_AUTHORIZE_URL",
            "https://sso.legacy.example/oauth/authorize",
        ),
        (
            "FAKE_GOOGLE_TOKEN_URL",
            "https://sso.legacy.example/oauth/token",
        ),
        ("FAKE_GOOGLE_JWKS_URI", "https://sso.legacy.example/keys"),
        ("FAKE_GOOGLE_AUTHORIZATION_RESPONSE_ISS", "yes"),
    ]))
    .unwrap_err();
    let expected = [
        "LEGACY_ISSUER is not set",
        "LEGACY_TOKEN_URL is not set (an OpenID Connect provider without discovery needs",
        "LEGACY_JWKS_URI must be an https:// URL",
        "LEGACY_ID_TOKEN_SIGNING_ALGS lists \"HS256\", which is not an accepted signature algorithm",
        "LEGACY_EMAIL_FIELD applies only to a plain OAuth 2.0 provider",
        "GOOGLE_JWKS_URI applies only to a provider described by its endpoints",
        "FAKE_GOOGLE_AUTHORIZATION_RESPONSE_ISS must be true or false, not \"yes\"",
        "providers \"google\" and \"fake-google\" would key their users' accounts by the same issuer \"https://accounts.google.com\": give FAKE_GOOGLE_ISSUER a value of its own",
    ];
    for want in expected {
        assert!(
            problems.0.iter().any(|p| p.starts_with(want)),
            "missing {want:?} in {problems}"
        );
    }
    assert_eq!(problems.0.len(), expected.len(), "{problems}");
}

#[test]
fn a_provider_described_by_its_endpoints_alone_reads_the_usual_fields_by_default() {
    let settings = Settings::from_vars(&vars(&[
        ("AUTH_PROVIDERS", "gitea"),
        ("GITEA_CLIENT_ID", "id"),
        ("GITEA_CLIENT_SECRET", "secret"),
        (
            "GITEA_AUTHORIZE_URL",
            "https://git.example/login/oauth/authorize",
        ),
        (
            "GITEA_TOKEN_URL",
            "https://git.example/login/oauth/access_token",
        ),
        ("GITEA_USERINFO_URL", "https://git.example/api/v1/user"),
        ("GITEA_EMAILS_URL", "https://git.example/api/v1/user/emails"),
    ]))
    .unwrap();
    let gitea = &settings.providers[0];
    assert_eq!(gitea.issuer, "https://git.example");
    assert!(gitea.scopes.is_empty(), "no scope unless told");
    let oauth2 = gitea.oauth2.as_deref().unwrap();
    assert_eq!(oauth2.client_auth, providers::oauth2::ClientAuth::Basic);
    let fields = &oauth2.fields;
    assert_eq!(fields.id, "/id");
    assert_eq!(fields.email.as_deref(), Some("/email"));
    assert_eq!(fields.name.as_deref(), Some("/name"));
    assert_eq!(
        (fields.email_verified.as_deref(), fields.avatar.as_deref()),
        (None, None)
    );
    let emails = oauth2.emails.as_ref().unwrap();
    assert_eq!(
        [
            &emails.list,
            &emails.address,
            &emails.primary,
            &emails.verified
        ],
        ["", "/email", "/primary", "/verified"]
    );
    assert!(oauth2.authorize_params.is_empty() && oauth2.token_params.is_empty());
}

#[test]
fn a_providers_response_mode_is_query_by_default_or_form_post() {
    let base = [
        ("AUTH_PROVIDERS", "acme"),
        ("ACME_ISSUER", "https://id.acme.example"),
        ("ACME_CLIENT_ID", "id"),
        ("ACME_CLIENT_SECRET", "secret"),
    ];
    let settings = Settings::from_vars(&vars(&base)).unwrap();
    assert_eq!(
        settings.providers[0].response_mode,
        providers::ResponseMode::Query
    );
    let mut given = base.to_vec();
    given.push(("ACME_RESPONSE_MODE", "form_post"));
    let settings = Settings::from_vars(&vars(&given)).unwrap();
    assert_eq!(
        settings.providers[0].response_mode,
        providers::ResponseMode::FormPost
    );
    let from_code = Settings::builder()
        .database_url("sqlite::memory:")
        .provider(
            ProviderConfig::new("acme")
                .issuer("https://id.acme.example")
                .client("id", "secret")
                .response_mode(crate::ResponseMode::FormPost),
        )
        .build()
        .unwrap();
    assert_eq!(from_code.providers, settings.providers);
    given.pop();
    given.push(("ACME_RESPONSE_MODE", "fragment"));
    let problems = Settings::from_vars(&vars(&given)).unwrap_err();
    assert_eq!(
        problems.0,
        ["ACME_RESPONSE_MODE must be query or form_post, not \"fragment\""]
    );
}

#[test]
fn sign_in_with_apple_makes_its_client_secret_from_its_key_in_a_variable_or_a_file() {
    let pem = providers::fixture("apple/test-key.p8");
    let file = format!(
        "{}/tests/fixtures/apple/test-key.p8",
        env!("CARGO_MANIFEST_DIR")
    );
    // A .env file holds it on one line, with \n written out.
    let one_line = pem.trim().replace('\n', "\\n");
    for key in [
        ("APPLE_PRIVATE_KEY", pem.as_str()),
        ("APPLE_PRIVATE_KEY", one_line.as_str()),
        ("APPLE_PRIVATE_KEY_FILE", file.as_str()),
    ] {
        let settings = Settings::from_vars(&vars(&[
            ("AUTH_PROVIDERS", "apple"),
            ("APPLE_CLIENT_ID", "com.example.web"),
            ("APPLE_TEAM_ID", "A1B2C3D4E5"),
            ("APPLE_KEY_ID", "KEY1234567"),
            key,
        ]))
        .unwrap();
        let apple = &settings.providers[0];
        assert_eq!(apple.issuer, "https://appleid.apple.com");
        assert_eq!(apple.response_mode, providers::ResponseMode::FormPost);
        assert!(apple.client_secret_key.is_some());
        let secret = apple.current_client_secret();
        assert_eq!(secret.expose().split('.').count(), 3, "a JWT");
        assert!(!format!("{settings:?}").contains("PRIVATE KEY"));
    }
    // The same in code, and in the settings file.
    let in_code = Settings::builder()
        .database_url("sqlite::memory:")
        .provider(
            ProviderConfig::new("apple")
                .client_id("com.example.web")
                .signing_key("A1B2C3D4E5", "KEY1234567", &pem),
        )
        .build()
        .unwrap();
    let from_vars = Settings::from_vars(&vars_as_given(&[
        ("DATABASE_URL", "sqlite::memory:"),
        ("AUTH_PROVIDERS", "apple"),
        ("APPLE_CLIENT_ID", "com.example.web"),
        ("APPLE_TEAM_ID", "A1B2C3D4E5"),
        ("APPLE_KEY_ID", "KEY1234567"),
        ("APPLE_PRIVATE_KEY_FILE", file.as_str()),
    ]))
    .unwrap();
    assert_eq!(in_code.providers, from_vars.providers);
    let from_file = file::parse(&format!(
        "[providers.apple]\nclient_id = \"com.example.web\"\nteam_id = \"A1B2C3D4E5\"\n\
         key_id = \"KEY1234567\"\nprivate_key_file = {file:?}\n"
    ))
    .unwrap();
    assert_eq!(from_file["APPLE_PRIVATE_KEY_FILE"], file);
    // Or a client secret made elsewhere (a JWT the app renews itself).
    let made_elsewhere = Settings::from_vars(&vars(&[
        ("AUTH_PROVIDERS", "apple"),
        ("APPLE_CLIENT_ID", "com.example.web"),
        ("APPLE_CLIENT_SECRET", "eyJ.made.elsewhere"),
    ]))
    .unwrap();
    let apple = &made_elsewhere.providers[0];
    assert_eq!(apple.current_client_secret().expose(), "eyJ.made.elsewhere");
}

#[test]
fn every_problem_with_apples_key_is_reported_at_once_without_the_key() {
    let dir = std::env::temp_dir();
    let missing_file = dir.join("portcullis-no-such-key.p8");
    let missing_file = missing_file.to_str().unwrap();
    let problems = Settings::from_vars(&vars(&[
        ("AUTH_PROVIDERS", "apple,second,work"),
        ("APPLE_CLIENT_ID", "com.example.web"),
        ("APPLE_CLIENT_SECRET", "eyJ.made.elsewhere"),
        ("APPLE_TEAM_ID", "A1B2C3D4E5"),
        (
            "APPLE_PRIVATE_KEY",
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----",
        ),
        ("SECOND_PRESET", "apple"),
        ("SECOND_ISSUER", "https://appleid.example"),
        ("SECOND_CLIENT_ID", "com.example.second"),
        ("SECOND_TEAM_ID", "team"),
        ("SECOND_KEY_ID", "KEY1234567"),
        ("SECOND_PRIVATE_KEY", "x"),
        ("SECOND_PRIVATE_KEY_FILE", missing_file),
        ("WORK_ISSUER", "https://id.work.example"),
        ("WORK_CLIENT_ID", "c"),
        ("WORK_CLIENT_SECRET", "s"),
        ("WORK_TEAM_ID", "A1B2C3D4E5"),
    ]))
    .unwrap_err()
    .0;
    let expected = [
        "APPLE_CLIENT_SECRET is made from APPLE_PRIVATE_KEY: leave it unset",
        "APPLE_KEY_ID is not set (needed with APPLE_PRIVATE_KEY to make the client secret)",
        "give SECOND_PRIVATE_KEY or SECOND_PRIVATE_KEY_FILE, not both",
        "WORK_TEAM_ID applies to Sign in with Apple only (the apple preset)",
    ];
    for problem in expected {
        assert!(
            problems.iter().any(|p| p == problem),
            "{problem}: {problems:#?}"
        );
    }
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
    // A key that is not one, and ids that are not Apple's.
    let problems = Settings::from_vars(&vars(&[
        ("AUTH_PROVIDERS", "apple"),
        ("APPLE_CLIENT_ID", "com.example.web"),
        ("APPLE_TEAM_ID", "team"),
        ("APPLE_KEY_ID", "KEY1234567"),
        ("APPLE_PRIVATE_KEY_FILE", missing_file),
    ]))
    .unwrap_err()
    .0;
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].starts_with(&format!(
        "APPLE_PRIVATE_KEY_FILE {missing_file:?} cannot be read"
    )));
    let not_a_key =
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----";
    for (team, key, problem) in [
        (
            "A1B2C3D4E5",
            not_a_key,
            "APPLE_PRIVATE_KEY is not a PKCS#8 PEM P-256 private key (the .p8 file Apple gives)",
        ),
        (
            "team",
            &providers::fixture("apple/test-key.p8"),
            "APPLE_TEAM_ID, APPLE_KEY_ID: the team id and key id must be Apple's ten-character identifiers",
        ),
    ] {
        let problems = Settings::from_vars(&vars(&[
            ("AUTH_PROVIDERS", "apple"),
            ("APPLE_CLIENT_ID", "com.example.web"),
            ("APPLE_TEAM_ID", team),
            ("APPLE_KEY_ID", "KEY1234567"),
            ("APPLE_PRIVATE_KEY", key),
        ]))
        .unwrap_err()
        .0;
        assert_eq!(problems, [problem]);
        assert!(
            !problems[0].contains("c2VjcmV0"),
            "the key is never repeated"
        );
    }
}

#[test]
fn an_oauth_1a_provider_signs_with_hmac_sha1_unless_told_and_its_tokens_go_to_no_api() {
    use crate::providers::oauth1::SignatureMethod;
    let twitter = |more: &[(&str, &str)]| {
        let mut pairs = vec![
            ("AUTH_PROVIDERS", "twitter,google"),
            ("TWITTER_CLIENT_ID", "key"),
            ("TWITTER_CLIENT_SECRET", "secret"),
            ("GOOGLE_CLIENT_ID", "id"),
            ("GOOGLE_CLIENT_SECRET", "secret"),
        ];
        pairs.extend_from_slice(more);
        Settings::from_vars(&vars(&pairs))
    };
    let settings = twitter(&[]).unwrap();
    let provider = &settings.providers[0];
    assert_eq!(provider.signature_method, SignatureMethod::HmacSha1);
    assert_eq!(provider.issuer, "https://x.com");
    assert!(matches!(provider.protocol, Protocol::OAuth1(_)));
    let plaintext = twitter(&[("TWITTER_SIGNATURE_METHOD", "PLAINTEXT")]).unwrap();
    assert_eq!(
        plaintext.providers[0].signature_method,
        SignatureMethod::Plaintext
    );
    let problems = twitter(&[
        ("TWITTER_SIGNATURE_METHOD", "RSA-SHA1"),
        ("GOOGLE_SIGNATURE_METHOD", "HMAC-SHA1"),
        ("REMOTE_APIS", "timeline"),
        ("API_TIMELINE_URL", "https://api.example.com"),
        ("API_TIMELINE_PROVIDER", "twitter"),
    ])
    .unwrap_err()
    .0;
    assert_eq!(
        problems,
        [
            "TWITTER_SIGNATURE_METHOD must be HMAC-SHA1 or PLAINTEXT, not \"RSA-SHA1\"",
            "GOOGLE_SIGNATURE_METHOD applies to OAuth 1.0a providers only (twitter)",
            "API_TIMELINE_PROVIDER names \"twitter\", an OAuth 1.0a provider, whose tokens cannot be sent as a bearer token",
        ]
    );
}
