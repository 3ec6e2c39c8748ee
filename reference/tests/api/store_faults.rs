//! The store going away and coming back (issue: session stores): a clear
//! "temporarily unavailable" answer while it is down, never a panic or a
//! bare 500, recovery by itself, and nothing lost across a restart.

use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::Value;

use crate::{
    hostile_idp::{HostileIdp, Script},
    postgres::fresh_database,
    proxy::Proxy,
    rig::{KEYS, Rig, hostile_vars, sign_in, user_status},
    spawn::{TempDatabase, browser, spawn_server},
};

/// Waits until `/auth/user` answers `want` (or 30 s pass).
async fn until(client: &Client, base: &str, want: StatusCode) -> StatusCode {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = user_status(client, base).await;
        if got == want || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_store_outage_is_a_clear_503_and_the_service_recovers_by_itself() {
    let database = fresh_database().await;
    let upstream = database
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    let proxy = Proxy::start(upstream.clone()).await;
    let through_proxy = database.replace(&upstream, &format!("127.0.0.1:{}", proxy.port));
    let idp = HostileIdp::start(Script::default()).await;
    let mut vars = hostile_vars(&idp.issuer);
    vars.push(("DATABASE_URL", &through_proxy));
    let (url, _unused) = spawn_server(&vars).await;
    let rig = Rig {
        url: url.clone(),
        idp,
        database: TempDatabase::new(),
    };
    let client = browser();
    assert_eq!(sign_in(&rig, &client).await, "/");
    assert_eq!(user_status(&client, &url).await, StatusCode::OK);

    proxy.down().await;
    // A session read in the last SESSION_CACHE_SECONDS may still be served
    // from memory; then the outage shows.
    assert_eq!(
        until(&client, &url, StatusCode::SERVICE_UNAVAILABLE).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let answer = client.get(format!("{url}/auth/user")).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"], "PC-SVC-503", "{body}");
    let page = client.get(format!("{url}/profile")).send().await.unwrap();
    assert_ne!(
        page.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "never a bare 500"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("PC-SVC-503"), "{html}");
    let ready = client.get(format!("{url}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let health = client.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK, "alive, just not ready");

    proxy.up();
    assert_eq!(
        until(&client, &url, StatusCode::OK).await,
        StatusCode::OK,
        "recovered, still signed in"
    );
    let ready: Value = client
        .get(format!("{url}/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready", "{ready}");
}

/// Signs in on one server, stops it, starts another on the same store:
/// the browser is still signed in and its tokens still open.
async fn survives_a_restart(database_url: Option<String>) {
    let idp = HostileIdp::start(Script::default()).await;
    let sqlite = TempDatabase::new();
    let database_url = database_url.unwrap_or_else(|| sqlite.url());
    let mut vars = hostile_vars(&idp.issuer);
    vars.extend([
        ("DATABASE_URL", database_url.as_str()),
        ("TOKEN_ENCRYPTION_KEYS", KEYS),
    ]);
    let (first, _unused, server) = crate::spawn::spawn_server_task(&vars).await;
    let rig = Rig {
        url: first.clone(),
        idp: idp.clone(),
        database: TempDatabase::new(),
    };
    let client = browser();
    assert_eq!(sign_in(&rig, &client).await, "/");
    server.abort();
    let _ = server.await;
    assert!(
        browser()
            .get(format!("{first}/healthz"))
            .send()
            .await
            .is_err(),
        "stopped: no new connections"
    );

    let (second, _unused) = spawn_server(&vars).await;
    assert_eq!(
        user_status(&client, &second).await,
        StatusCode::OK,
        "still signed in"
    );
    let (status, _) = crate::rig::live(&client, &second).await;
    assert_eq!(status, StatusCode::OK, "its tokens open after the restart");
}

#[tokio::test]
async fn sessions_and_tokens_survive_a_restart_with_sqlite() {
    survives_a_restart(None).await;
}

#[tokio::test]
async fn sessions_and_tokens_survive_a_restart_with_postgresql() {
    survives_a_restart(Some(fresh_database().await)).await;
}

/// The real server binary, started with `vars` on `port`.
fn start_binary(vars: &[(&str, &str)], port: u16) -> tokio::process::Child {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"));
    command
        .current_dir(&root)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LEPTOS_OUTPUT_NAME", "portcullis")
        .env("LEPTOS_SITE_ROOT", root.join("target/site"))
        .env("LEPTOS_SITE_PKG_DIR", "pkg")
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    for (key, value) in vars {
        command.env(key, value);
    }
    command.spawn().expect("the server binary starts")
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

/// A crash (SIGKILL) in the middle of many sign-ins, then a restart: every
/// browser is either signed in with tokens that open, or simply signed
/// out; nothing half-written shows.
#[tokio::test]
async fn a_crash_in_the_middle_of_writes_loses_or_corrupts_nothing() {
    let idp = HostileIdp::start(Script::default()).await;
    let database = TempDatabase::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let database_url = database.url();
    let mut vars = hostile_vars(&idp.issuer);
    vars.extend([
        ("APP_PUBLIC_URL", base.as_str()),
        ("DATABASE_URL", database_url.as_str()),
        ("TOKEN_ENCRYPTION_KEYS", KEYS),
    ]);
    let mut server = start_binary(&vars, port);
    wait_for_health(&base).await;
    let rig = Rig {
        url: base.clone(),
        idp: idp.clone(),
        database: TempDatabase::new(),
    };

    let browsers: Vec<Client> = (0..24).map(|_| browser()).collect();
    let finished = std::sync::atomic::AtomicUsize::new(0);
    // Every browser signs in again and again, so writes are in flight
    // whenever the crash comes.
    let sign_ins = futures_util::future::join_all(browsers.iter().map(|client| async {
        for _ in 0..10 {
            let walked = tokio::time::timeout(Duration::from_secs(5), async {
                let start = client
                    .get(format!("{}/auth/sign-in/hostile", rig.url))
                    .send()
                    .await
                    .ok()?;
                let to = start
                    .headers()
                    .get(reqwest::header::LOCATION)?
                    .to_str()
                    .ok()?
                    .to_owned();
                let at_idp = client.get(to).send().await.ok()?;
                let back = at_idp
                    .headers()
                    .get(reqwest::header::LOCATION)?
                    .to_str()
                    .ok()?
                    .to_owned();
                client.get(back).send().await.ok()
            })
            .await;
            match walked {
                Ok(Some(_)) => {
                    finished.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                // The server is gone: this browser stops.
                _ => return,
            }
        }
    }));
    let crash = async {
        while finished.load(std::sync::atomic::Ordering::SeqCst) < 30 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server.start_kill().unwrap();
        let _ = server.wait().await;
    };
    tokio::join!(sign_ins, crash);

    let _server = start_binary(&vars, port);
    wait_for_health(&base).await;
    let mut signed_in = 0;
    for client in &browsers {
        match user_status(client, &base).await {
            StatusCode::OK => {
                signed_in += 1;
                let (status, _) = crate::rig::live(client, &base).await;
                assert_eq!(status, StatusCode::OK, "a signed-in browser's tokens open");
            }
            StatusCode::UNAUTHORIZED => {}
            other => panic!("after the crash /auth/user answered {other}"),
        }
    }
    // Those that finished before the crash are still signed in; a fresh
    // sign-in works on the restarted server.
    let late = browser();
    assert_eq!(sign_in(&rig, &late).await, "/");
    assert!(
        signed_in > 0,
        "sign-ins finished before the crash survive it"
    );
}

/// Many first sign-ins at once on SQLite: each creates an account, a
/// session, a login row and sealed tokens; none may fail on a busy
/// database.
#[tokio::test]
async fn many_first_sign_ins_at_once_on_sqlite_all_succeed() {
    let rig = crate::rig::rig(Script {
        claims: |claims, ctx| {
            // A new person per sign-in.
            claims.insert(
                "sub".into(),
                serde_json::json!(format!("person-{}", &ctx.access_token[11..23])),
            );
        },
        userinfo: |claims, ctx| {
            claims.insert(
                "email".into(),
                serde_json::json!(format!("{}@hostile.test", &ctx.access_token[11..23])),
            );
        },
        ..Script::default()
    })
    .await;
    let browsers: Vec<Client> = (0..24).map(|_| browser()).collect();
    let ends =
        futures_util::future::join_all(browsers.iter().map(|client| sign_in(&rig, client))).await;
    for end in ends {
        assert_eq!(end, "/", "every sign-in succeeds");
    }
}

/// Every sign-in starts a new session record and ends on another (the id
/// changes); many at once on SQLite, among the other writes of sign-ins
/// finishing, must all be stored, none answered "unavailable" for a busy
/// database.
#[tokio::test]
async fn many_sign_ins_starting_and_finishing_at_once_on_sqlite_all_succeed() {
    // 64 browsers on one address: the per-client limit is for real clients.
    let rig =
        crate::rig::rig_with(Script::default(), &[("RATE_LIMIT_SIGN_IN_PER_MINUTE", "0")]).await;
    let browsers: Vec<Client> = (0..64).map(|_| browser()).collect();
    for _ in 0..3 {
        let ends = futures_util::future::join_all(browsers.iter().map(|client| async {
            let response = client
                .get(format!("{}/auth/sign-in/hostile", rig.url))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::SEE_OTHER, "started");
            let authorize = crate::login::location(&rig.url, &response);
            let callback = crate::rig::authorize(&rig, client, &authorize).await;
            crate::rig::finish(client, &callback).await
        }))
        .await;
        for end in ends {
            assert_eq!(end, "/", "every sign-in succeeds");
        }
    }
}
