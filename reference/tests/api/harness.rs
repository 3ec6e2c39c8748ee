//! The one way the tests make an app: [`TestApp`]'s builder chooses the
//! identity provider (the real local one, the scripted hostile one, one
//! that cannot be reached, or none), adds the fake GitHub, picks the store
//! (SQLite by default, PostgreSQL, Redis, in memory) and extra settings,
//! and serves the result: the reference app on a socket
//! ([`TestAppBuilder::spawn`]), the real server binary
//! ([`TestAppBuilder::spawn_binary`]), the test's own app
//! ([`TestAppBuilder::own_app`]), or a router without a socket
//! ([`TestAppBuilder::router`]). More instances on the same stores come
//! from [`TestApp::another_instance`].

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::Router;
use leptos::config::LeptosOptions;
use reference::{Application, Config};
use reqwest::StatusCode;
use tokio::{net::TcpListener, process::Child, task::JoinHandle};

pub use crate::temp_database::TempDatabase;
use crate::{
    fake_github::FakeGitHub,
    hostile_idp::{self, HostileIdp, Script},
    local_idp::{self, LocalIdp},
};

/// A fixed vault key, so instances sharing a store (or a restarted one)
/// open each other's tokens.
pub const KEYS: &str = "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// An app under test with the scripted hostile provider.
pub type Rig = TestApp<HostileIdp>;

/// Where the sessions and users are kept.
#[derive(Clone, Debug, Default)]
pub enum Store {
    /// A SQLite file of the app's own, removed when the test ends (in
    /// memory for a router without a socket).
    #[default]
    Sqlite,
    /// The users' database and the sessions in PostgreSQL at this URL.
    Postgres(String),
    /// Sessions in Redis at this URL under this key prefix; users in the
    /// app's own SQLite file.
    Redis { url: String, prefix: String },
    /// Sessions in the library's in-memory store.
    Memory,
}

/// A provider the builder starts for the app.
pub trait IdpSpec {
    type Idp: TestIdp;
    /// Starts it, with the app's public URL for its callbacks; it and its
    /// settings, `AUTH_PROVIDERS` included.
    async fn start(self, public_url: &str) -> (Self::Idp, Vec<(String, String)>);
}

/// A provider the app under test uses.
pub trait TestIdp {
    /// Checks made when the test ends well.
    fn after_test(&self) {}
}

/// The real local identity provider as "local", with more of its own
/// settings (`IDP_*`).
#[derive(Default)]
pub struct Local(Vec<(&'static str, String)>);

/// The scripted hostile provider as "hostile", following the script.
impl IdpSpec for Script {
    type Idp = HostileIdp;
    async fn start(self, public_url: &str) -> (HostileIdp, Vec<(String, String)>) {
        IdpSpec::start(HostileIdp::start(self).await, public_url).await
    }
}

/// A scripted provider the test started itself (e.g. to name its issuer
/// in the settings), as "hostile".
impl IdpSpec for HostileIdp {
    type Idp = HostileIdp;
    async fn start(self, _public_url: &str) -> (HostileIdp, Vec<(String, String)>) {
        let vars = owned(&[
            ("AUTH_PROVIDERS", "hostile"),
            ("HOSTILE_ISSUER", &self.issuer),
            ("HOSTILE_CLIENT_ID", hostile_idp::CLIENT_ID),
            ("HOSTILE_CLIENT_SECRET", hostile_idp::CLIENT_SECRET),
        ]);
        (self, vars)
    }
}

impl IdpSpec for Local {
    type Idp = LocalIdp;
    async fn start(self, public_url: &str) -> (LocalIdp, Vec<(String, String)>) {
        let idp = LocalIdp::start(public_url, &self.0).await;
        let vars = owned(&[
            ("AUTH_PROVIDERS", "local"),
            ("LOCAL_ISSUER", &idp.issuer),
            ("LOCAL_CLIENT_ID", local_idp::CLIENT_ID),
            ("LOCAL_CLIENT_SECRET", local_idp::CLIENT_SECRET),
            ("LOCAL_LABEL", "Local demo provider"),
        ]);
        (idp, vars)
    }
}

/// Provider settings given as they are: one that cannot be reached, the
/// test's own, none at all, or another instance's.
pub struct Given(Vec<(String, String)>);

impl IdpSpec for Given {
    type Idp = ();
    async fn start(self, _public_url: &str) -> ((), Vec<(String, String)>) {
        ((), self.0)
    }
}

impl TestIdp for LocalIdp {}
impl TestIdp for () {}

/// Canary hunt, after every test with the hostile provider: none of the
/// access or refresh tokens it issued reached the browser through the
/// walk's helpers, and none of its tokens is in any log line of the
/// process.
impl TestIdp for HostileIdp {
    fn after_test(&self) {
        let issued = self.calls().issued_tokens;
        let seen = SEEN.lock().unwrap().clone();
        let log = crate::log_capture::text();
        for token in &issued {
            if token.starts_with("hostile-") {
                assert!(
                    !seen.contains(token.as_str()),
                    "a token reached the browser: {token}"
                );
            }
            assert!(
                !log.contains(token.as_str()),
                "a token is in the log: {token}"
            );
        }
    }
}

/// Everything the walk's helpers received from any server in this process
/// (locations, bodies), for the canary hunt.
static SEEN: Mutex<String> = Mutex::new(String::new());

/// Records what a browser received.
pub fn saw(text: &str) {
    SEEN.lock().unwrap().push_str(text);
}

fn owned(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    vars.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A started provider and the settings for it.
struct Prepared<I> {
    idp: I,
    github: Option<FakeGitHub>,
    database: Arc<TempDatabase>,
    /// Everything the app runs with.
    vars: HashMap<String, String>,
    /// The providers' settings, and the test's own.
    providers: Vec<(String, String)>,
    own: Vec<(String, String)>,
    store: Store,
}

/// How the app is served, to stop it.
enum Server {
    Task(JoinHandle<std::io::Result<()>>),
    Process(Child),
    Stopped,
}

pub struct TestApp<I: TestIdp = LocalIdp> {
    /// Where the app listens.
    pub url: String,
    pub idp: I,
    /// The fake GitHub, as the "github" provider, when asked for.
    pub github: Option<FakeGitHub>,
    /// The app's own SQLite file (shared with its other instances),
    /// removed when the last of them ends.
    pub database: Arc<TempDatabase>,
    /// Its providers' settings, the test's own, and its store, for
    /// another instance.
    providers: Vec<(String, String)>,
    own: Vec<(String, String)>,
    store: Store,
    server: Server,
}

impl<I: TestIdp> Drop for TestApp<I> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.idp.after_test();
        }
    }
}

impl<I: TestIdp> TestApp<I> {
    /// A second connection to the app's database, to look at what it stored.
    pub async fn db(&self) -> sqlx::SqlitePool {
        self.database.connect().await
    }

    /// The server's process id, when it runs in a process of its own
    /// ([`TestAppBuilder::spawn_binary`]).
    pub fn pid(&self) -> Option<u32> {
        match &self.server {
            Server::Process(child) => child.id(),
            Server::Task(_) | Server::Stopped => None,
        }
    }

    /// Stops serving: the task ends, or the process is killed (SIGKILL).
    pub async fn stop(&mut self) {
        match std::mem::replace(&mut self.server, Server::Stopped) {
            Server::Task(task) => {
                task.abort();
                let _ = task.await;
            }
            Server::Process(mut child) => {
                child.start_kill().unwrap();
                let _ = child.wait().await;
            }
            Server::Stopped => {}
        }
    }

    /// Another instance with this one's providers, settings and stores
    /// (its SQLite file too; an in-memory store is each instance's own), at
    /// its own address and, unless told otherwise, its own public URL. The
    /// local provider and the fake GitHub know only the first public URL's
    /// callback: to sign in there, give it that one.
    pub fn another_instance(&self) -> TestAppBuilder<Given> {
        TestAppBuilder {
            store: self.store.clone(),
            database: Some(self.database.clone()),
            vars: self.own.clone(),
            ..TestAppBuilder::new(Given(self.providers.clone()))
        }
    }
}

impl TestApp {
    /// With the real local identity provider as "local".
    pub fn local() -> TestAppBuilder<Local> {
        TestAppBuilder::new(Local::default())
    }

    /// With the scripted hostile provider as "hostile", following `script`.
    pub fn hostile(script: Script) -> TestAppBuilder<Script> {
        TestAppBuilder::new(script)
    }

    /// With a scripted provider the test started itself, as "hostile".
    pub fn with_hostile(idp: HostileIdp) -> TestAppBuilder<HostileIdp> {
        TestAppBuilder::new(idp)
    }

    /// With one provider, "local", whose issuer cannot be reached.
    pub fn unreachable() -> TestAppBuilder<Given> {
        TestAppBuilder::new(Given(owned(&[
            ("AUTH_PROVIDERS", "local"),
            ("LOCAL_CLIENT_ID", "client"),
            ("LOCAL_CLIENT_SECRET", "secret-never-shown"),
            ("LOCAL_ISSUER", "http://127.0.0.1:1"),
            ("LOCAL_LABEL", "Local Test IdP"),
        ])))
    }

    /// With the providers the test names in its own settings, if any.
    pub fn without_provider() -> TestAppBuilder<Given> {
        TestAppBuilder::new(Given(Vec::new()))
    }
}

pub struct TestAppBuilder<S> {
    idp: S,
    github: Option<u64>,
    public_url: Option<String>,
    /// The port the binary listens on (a free one if `None`).
    port: Option<u16>,
    store: Store,
    /// Another instance's database, shared.
    database: Option<Arc<TempDatabase>>,
    /// The site the reference app serves its bundle from.
    site_root: Option<String>,
    vars: Vec<(String, String)>,
}

impl<S: IdpSpec> TestAppBuilder<S> {
    fn new(idp: S) -> Self {
        Self {
            idp,
            github: None,
            public_url: None,
            port: None,
            store: Store::default(),
            database: None,
            site_root: None,
            vars: Vec::new(),
        }
    }

    /// Adds the fake GitHub as the "github" provider; its "slow" user
    /// takes `slow_ms`.
    pub fn github(mut self, slow_ms: u64) -> Self {
        self.github = Some(slow_ms);
        self
    }

    /// `APP_PUBLIC_URL` (e.g. the https address a proxy in front would
    /// serve) instead of the socket's.
    pub fn public_url(mut self, url: &str) -> Self {
        self.public_url = Some(url.to_owned());
        self
    }

    /// The port [`spawn_binary`](Self::spawn_binary) listens on, e.g. a
    /// crashed instance's, to restart it where browsers know it.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// The directory the reference app serves `pkg/` from.
    pub fn site_root(mut self, dir: &str) -> Self {
        self.site_root = Some(dir.to_owned());
        self
    }

    pub fn store(mut self, store: Store) -> Self {
        self.store = store;
        self
    }

    /// One more setting; it wins over the builder's own.
    pub fn var(mut self, key: &str, value: &str) -> Self {
        self.vars.push((key.to_owned(), value.to_owned()));
        self
    }

    /// More settings; they win over the builder's own.
    pub fn vars(mut self, vars: &[(&str, &str)]) -> Self {
        self.vars.extend(owned(vars));
        self
    }

    /// Settings a helper gives, which those the test set win over.
    pub fn default_vars(mut self, vars: &[(&str, &str)]) -> Self {
        self.vars.splice(0..0, owned(vars));
        self
    }

    /// Starts the providers and puts the settings together: the public
    /// URL, the fixed vault key and the store first, then the providers'
    /// (for another instance, all the first one's), then the test's own.
    async fn prepare(self, public_url: &str, in_memory: bool) -> Prepared<S::Idp> {
        let database = self
            .database
            .unwrap_or_else(|| Arc::new(TempDatabase::new()));
        let own_sqlite = if in_memory {
            "sqlite::memory:".to_owned()
        } else {
            database.url()
        };
        let mut vars = HashMap::from([
            ("APP_PUBLIC_URL".to_owned(), public_url.to_owned()),
            ("TOKEN_ENCRYPTION_KEYS".to_owned(), KEYS.to_owned()),
            ("DATABASE_URL".to_owned(), own_sqlite),
        ]);
        match &self.store {
            Store::Sqlite => {}
            Store::Postgres(url) => {
                vars.insert("DATABASE_URL".into(), url.clone());
            }
            Store::Redis { url, prefix } => {
                vars.insert("SESSION_STORE_URL".into(), url.clone());
                vars.insert("SESSION_STORE_PREFIX".into(), prefix.clone());
            }
            Store::Memory => {
                vars.insert("SESSION_STORE_URL".into(), "memory:".into());
            }
        }
        let (idp, mut providers) = self.idp.start(public_url).await;
        let github = match self.github {
            Some(slow_ms) => Some(FakeGitHub::start(public_url, slow_ms).await),
            None => None,
        };
        if let Some(github) = &github {
            let listed = providers
                .iter_mut()
                .find(|(key, _)| key == "AUTH_PROVIDERS");
            match listed {
                Some((_, list)) => {
                    assert!(!list.contains("github"), "the fake GitHub is there already");
                    list.push_str(",github");
                }
                None => providers.push(("AUTH_PROVIDERS".into(), "github".into())),
            }
            providers.extend(github.vars().into_iter().map(|(k, v)| (k.to_owned(), v)));
        }
        vars.extend(providers.iter().cloned());
        vars.extend(self.vars.iter().cloned());
        Prepared {
            idp,
            github,
            database,
            vars,
            providers,
            own: self.vars,
            store: self.store,
        }
    }

    /// A free port on loopback, its URL, and the public URL the app
    /// answers at (the same, unless told otherwise).
    async fn listen(&self) -> (TcpListener, String, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let public_url = self.public_url.clone().unwrap_or_else(|| url.clone());
        (listener, url, public_url)
    }

    /// The reference app, in this process, on a free port.
    pub async fn spawn(self) -> TestApp<S::Idp> {
        let (listener, url, public_url) = self.listen().await;
        let self_site_root = self.site_root.clone();
        let prepared = self.prepare(&public_url, false).await;
        // Every server's log lines are kept, for the canary hunt.
        crate::log_capture::start();
        let leptos = leptos_options(self_site_root);
        let config = Config::from_vars(leptos, &prepared.vars).unwrap();
        let app = Application::build_on(listener, config).await.unwrap();
        prepared.serving(url, Server::Task(tokio::spawn(app.run_until_stopped())))
    }

    /// The real server binary, in a process of its own on a free port (or
    /// the one set with [`port`](Self::port)), once it answers `/healthz`.
    pub async fn spawn_binary(self) -> TestApp<S::Idp> {
        let port = self.port.unwrap_or_else(|| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        });
        let url = format!("http://127.0.0.1:{port}");
        let public_url = self.public_url.clone().unwrap_or_else(|| url.clone());
        let prepared = self.prepare(&public_url, false).await;
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .current_dir(&root)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LEPTOS_OUTPUT_NAME", "portcullis")
            .env("LEPTOS_SITE_ROOT", root.join("target/site"))
            .env("LEPTOS_SITE_PKG_DIR", "pkg")
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "error")
            .envs(&prepared.vars)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the server binary starts");
        wait_for_health(&url).await;
        prepared.serving(url, Server::Process(child))
    }

    /// The reference app's router, without a socket, with an in-memory
    /// SQLite unless another store is chosen, and the reference app's own
    /// defaults for the public URL (`http://127.0.0.1:3000`) and the vault
    /// key (none: a fresh one) unless the test sets them.
    pub async fn router(self) -> Router {
        let public_url = self.public_url.clone();
        let sets_keys = self.vars.iter().any(|(k, _)| k == "TOKEN_ENCRYPTION_KEYS");
        let leptos = leptos_options(self.site_root.clone());
        let default_url = "http://127.0.0.1:3000";
        let mut vars = self
            .prepare(public_url.as_deref().unwrap_or(default_url), true)
            .await
            .vars;
        if public_url.is_none() {
            vars.remove("APP_PUBLIC_URL");
        }
        if !sets_keys {
            vars.remove("TOKEN_ENCRYPTION_KEYS");
        }
        let config = Config::from_vars(leptos, &vars).expect("valid test settings");
        reference::router(config).await.unwrap()
    }
}

impl TestAppBuilder<Local> {
    /// The local provider's access tokens last `seconds`
    /// (`IDP_ACCESS_TOKEN_TTL`).
    pub fn access_token_ttl(mut self, seconds: u64) -> Self {
        self.idp
            .0
            .push(("IDP_ACCESS_TOKEN_TTL", seconds.to_string()));
        self
    }

    /// An app of the test's own on a free port: `app` gets Portcullis's
    /// settings and the local provider's issuer, and returns the router to
    /// serve.
    pub async fn own_app<F, Fut>(self, app: F) -> TestApp
    where
        F: FnOnce(portcullis::Settings, String) -> Fut,
        Fut: Future<Output = Router>,
    {
        let (listener, url, public_url) = self.listen().await;
        let prepared = self.prepare(&public_url, false).await;
        let settings = portcullis::Settings::from_vars(&prepared.vars).unwrap();
        let router = app(settings, prepared.idp.issuer.clone()).await;
        let served = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let task = tokio::spawn(async move { axum::serve(listener, served).await });
        prepared.serving(url, Server::Task(task))
    }
}

impl<I: TestIdp> Prepared<I> {
    /// The app these settings are served as, at `url`.
    fn serving(self, url: String, server: Server) -> TestApp<I> {
        TestApp {
            url,
            idp: self.idp,
            github: self.github,
            database: self.database,
            providers: self.providers,
            own: self.own,
            store: self.store,
            server,
        }
    }
}

fn leptos_options(site_root: Option<String>) -> LeptosOptions {
    let options = LeptosOptions::builder().output_name("portcullis");
    match site_root {
        Some(dir) => options.site_root(dir).build(),
        None => options.build(),
    }
}

async fn wait_for_health(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(answer) = browser().get(format!("{base}/healthz")).send().await
            && answer.status() == StatusCode::OK
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not come up at {base}");
}

/// A browser-like client: keeps cookies, follows no redirect by itself.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}
