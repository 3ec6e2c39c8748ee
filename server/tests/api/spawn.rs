//! A real server on a free port, with the real local identity provider.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::atomic::{AtomicUsize, Ordering},
};

use leptos::config::LeptosOptions;
use server::{config::Settings, startup::Application};
use tokio::net::TcpListener;

use crate::local_idp::{CLIENT_ID, CLIENT_SECRET, LocalIdp};

pub struct TestApp {
    pub url: String,
    pub idp: LocalIdp,
    /// This app's own SQLite file, removed when the test ends.
    pub database: PathBuf,
}

impl TestApp {
    /// A second connection to the app's database, to look at what it stored.
    pub async fn db(&self) -> sqlx::SqlitePool {
        sqlx::SqlitePool::connect(&format!("sqlite://{}", self.database.display()))
            .await
            .unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.database.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A database file no other test uses.
fn fresh_database() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "portcullis-test-{}-{}.db",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ))
}

/// Starts the provider and a Portcullis server configured for it, with a
/// database of its own.
pub async fn spawn_app() -> TestApp {
    spawn_app_with_public_url(None).await
}

/// Like [`spawn_app`], with `APP_PUBLIC_URL` set to `public_url` (e.g. the
/// https address a proxy in front would serve) instead of the socket's.
pub async fn spawn_app_with_public_url(public_url: Option<&str>) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let public_url = public_url.unwrap_or(&url).to_owned();
    let idp = LocalIdp::start(&public_url).await;
    let database = fresh_database();
    let database_url = format!("sqlite://{}", database.display());
    let vars: HashMap<String, String> = [
        ("APP_PUBLIC_URL", public_url.as_str()),
        ("AUTH_PROVIDERS", "local"),
        ("LOCAL_ISSUER", idp.issuer.as_str()),
        ("LOCAL_CLIENT_ID", CLIENT_ID),
        ("LOCAL_CLIENT_SECRET", CLIENT_SECRET),
        ("LOCAL_LABEL", "Local demo provider"),
        ("DATABASE_URL", database_url.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let leptos = LeptosOptions::builder().output_name("portcullis").build();
    let settings = Settings::from_vars(leptos, &vars).unwrap();
    let app = Application::build_on(listener, settings).await.unwrap();
    tokio::spawn(app.run_until_stopped());
    TestApp { url, idp, database }
}

/// A browser-like client: keeps cookies, follows no redirect by itself.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}
