//! A real server on a free port, with the real local identity provider.

use std::collections::HashMap;

use leptos::config::LeptosOptions;
use reference::{Application, Config};
use tokio::net::TcpListener;

pub use crate::temp_database::TempDatabase;
use crate::{
    fake_github::FakeGitHub,
    local_idp::{CLIENT_ID as LOCAL_CLIENT_ID, CLIENT_SECRET as LOCAL_CLIENT_SECRET, LocalIdp},
};

/// A fixed vault key, so instances sharing a store (or a restarted one)
/// open each other's tokens.
pub const KEYS: &str = "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

pub struct TestApp {
    pub url: String,
    pub idp: LocalIdp,
    /// The fake GitHub, as the "github" provider, when asked for.
    pub github: Option<FakeGitHub>,
    /// This app's own SQLite file, removed when the test ends.
    pub database: TempDatabase,
}

impl TestApp {
    /// A second connection to the app's database, to look at what it stored.
    pub async fn db(&self) -> sqlx::SqlitePool {
        self.database.connect().await
    }
}

/// Starts the provider and a Portcullis server configured for it, with a
/// database of its own.
pub async fn spawn_app() -> TestApp {
    spawn_app_with_public_url(None).await
}

/// Like [`spawn_app`], with `APP_PUBLIC_URL` set to `public_url` (e.g. the
/// https address a proxy in front would serve) instead of the socket's.
pub async fn spawn_app_with_public_url(public_url: Option<&str>) -> TestApp {
    spawn(public_url, None, &[]).await
}

/// Like [`spawn_app`], with the fake GitHub as a second provider whose
/// "slow" user takes `slow_ms`, and `extra` settings.
pub async fn spawn_app_with_github(slow_ms: u64, extra: &[(&str, &str)]) -> TestApp {
    spawn(None, Some(slow_ms), extra).await
}

async fn spawn(public_url: Option<&str>, github: Option<u64>, extra: &[(&str, &str)]) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let public_url = public_url.unwrap_or(&url).to_owned();
    let idp = LocalIdp::start(&public_url).await;
    let github = match github {
        Some(slow_ms) => Some(FakeGitHub::start(&public_url, slow_ms).await),
        None => None,
    };
    let database = TempDatabase::new();
    let github_vars = github.as_ref().map(FakeGitHub::vars).unwrap_or_default();
    let mut vars: Vec<(&str, &str)> = vec![
        ("APP_PUBLIC_URL", public_url.as_str()),
        (
            "AUTH_PROVIDERS",
            if github.is_some() {
                "local,github"
            } else {
                "local"
            },
        ),
        ("LOCAL_ISSUER", idp.issuer.as_str()),
        ("LOCAL_CLIENT_ID", LOCAL_CLIENT_ID),
        ("LOCAL_CLIENT_SECRET", LOCAL_CLIENT_SECRET),
        ("LOCAL_LABEL", "Local demo provider"),
    ];
    vars.extend(github_vars.iter().map(|(k, v)| (*k, v.as_str())));
    vars.extend_from_slice(extra);
    serve(listener, &database, &vars).await;
    TestApp {
        url,
        idp,
        github,
        database,
    }
}

/// A server with `vars` as its environment, serving `database`.
pub async fn serve(listener: TcpListener, database: &TempDatabase, vars: &[(&str, &str)]) {
    serve_task(listener, database, vars).await;
}

/// Like [`serve`]; the server's task, to stop it.
pub async fn serve_task(
    listener: TcpListener,
    database: &TempDatabase,
    vars: &[(&str, &str)],
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    let mut vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    vars.entry("DATABASE_URL".into())
        .or_insert_with(|| database.url());
    vars.entry("TOKEN_ENCRYPTION_KEYS".into())
        .or_insert_with(|| KEYS.into());
    // Every server's log lines are kept, for the canary hunt.
    crate::log_capture::start();
    let leptos = LeptosOptions::builder().output_name("portcullis").build();
    let config = Config::from_vars(leptos, &vars).unwrap();
    let app = Application::build_on(listener, config).await.unwrap();
    tokio::spawn(app.run_until_stopped())
}

/// A server with `vars` on a free port, and a database of its own; its URL
/// is `APP_PUBLIC_URL`.
pub async fn spawn_server(vars: &[(&str, &str)]) -> (String, TempDatabase) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let database = TempDatabase::new();
    let mut vars = vars.to_vec();
    vars.push(("APP_PUBLIC_URL", &url));
    serve(listener, &database, &vars).await;
    (url, database)
}

/// Like [`spawn_server`], with the server's task, to stop it.
pub async fn spawn_server_task(
    vars: &[(&str, &str)],
) -> (
    String,
    TempDatabase,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let database = TempDatabase::new();
    let mut vars = vars.to_vec();
    vars.push(("APP_PUBLIC_URL", &url));
    let task = serve_task(listener, &database, &vars).await;
    (url, database, task)
}

/// A browser-like client: keeps cookies, follows no redirect by itself.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// An app of the test's own on a free port, with the local identity
/// provider as "local" and a database of its own: `app` gets Portcullis's
/// settings for them and the provider's issuer, and returns the router to
/// serve.
pub async fn spawn_own_app<F, Fut>(app: F) -> TestApp
where
    F: FnOnce(portcullis::Settings, String) -> Fut,
    Fut: Future<Output = axum::Router>,
{
    spawn_own(false, app).await
}

/// Like [`spawn_own_app`], with the fake GitHub as the "github" provider.
pub async fn spawn_own_app_with_github<F, Fut>(app: F) -> TestApp
where
    F: FnOnce(portcullis::Settings, String) -> Fut,
    Fut: Future<Output = axum::Router>,
{
    spawn_own(true, app).await
}

async fn spawn_own<F, Fut>(with_github: bool, app: F) -> TestApp
where
    F: FnOnce(portcullis::Settings, String) -> Fut,
    Fut: Future<Output = axum::Router>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let idp = LocalIdp::start(&url).await;
    let github = match with_github {
        true => Some(FakeGitHub::start(&url, 0).await),
        false => None,
    };
    let database = TempDatabase::new();
    let mut vars: HashMap<String, String> = [
        ("APP_PUBLIC_URL", url.as_str()),
        ("DATABASE_URL", &database.url()),
        ("TOKEN_ENCRYPTION_KEYS", KEYS),
        (
            "AUTH_PROVIDERS",
            if with_github { "local,github" } else { "local" },
        ),
        ("LOCAL_ISSUER", idp.issuer.as_str()),
        ("LOCAL_CLIENT_ID", LOCAL_CLIENT_ID),
        ("LOCAL_CLIENT_SECRET", LOCAL_CLIENT_SECRET),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    vars.extend(
        github
            .iter()
            .flat_map(FakeGitHub::vars)
            .map(|(k, v)| (k.to_owned(), v)),
    );
    let settings = portcullis::Settings::from_vars(&vars).unwrap();
    let router = app(settings, idp.issuer.clone()).await;
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    TestApp {
        url,
        idp,
        github,
        database,
    }
}
