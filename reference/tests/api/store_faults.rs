//! The store going away and coming back (issue: session stores): a clear
//! "temporarily unavailable" answer while it is down, never a panic or a
//! bare 500, recovery by itself, and nothing lost across a restart.

use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::Value;

use crate::harness::{Store, TestApp, browser};
use crate::walk::{sign_in, user_status};
use crate::{hostile_idp::Script, postgres::fresh_database, proxy::Proxy};

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
    let rig = TestApp::hostile(Script::default())
        .store(Store::Postgres(through_proxy))
        .spawn()
        .await;
    let url = rig.url.clone();
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
    let builder = TestApp::hostile(Script::default());
    let mut rig = match database_url {
        Some(url) => builder.store(Store::Postgres(url)),
        None => builder,
    }
    .spawn()
    .await;
    let first = rig.url.clone();
    let client = browser();
    assert_eq!(sign_in(&rig, &client).await, "/");
    rig.stop().await;
    assert!(
        browser()
            .get(format!("{first}/healthz"))
            .send()
            .await
            .is_err(),
        "stopped: no new connections"
    );

    let second = rig.another_instance().spawn().await.url.clone();
    assert_eq!(
        user_status(&client, &second).await,
        StatusCode::OK,
        "still signed in"
    );
    let (status, _) = crate::walk::live(&client, &second).await;
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

/// A crash (SIGKILL) in the middle of many sign-ins, then a restart: every
/// browser is either signed in with tokens that open, or simply signed
/// out; nothing half-written shows.
#[tokio::test]
async fn a_crash_in_the_middle_of_writes_loses_or_corrupts_nothing() {
    let mut rig = TestApp::hostile(Script::default()).spawn_binary().await;
    let base = rig.url.clone();
    let port = reqwest::Url::parse(&base).unwrap().port().unwrap();

    let browsers: Vec<Client> = (0..24).map(|_| browser()).collect();
    let finished = std::sync::atomic::AtomicUsize::new(0);
    // Every browser signs in again and again, so writes are in flight
    // whenever the crash comes.
    let sign_ins = futures_util::future::join_all(browsers.iter().map(|client| async {
        for _ in 0..10 {
            let walked = tokio::time::timeout(Duration::from_secs(5), async {
                let start = client
                    .get(format!("{base}/auth/sign-in/hostile"))
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
        rig.stop().await;
    };
    tokio::join!(sign_ins, crash);

    let _restarted = rig.another_instance().port(port).spawn_binary().await;
    let mut signed_in = 0;
    for client in &browsers {
        match user_status(client, &base).await {
            StatusCode::OK => {
                signed_in += 1;
                let (status, _) = crate::walk::live(client, &base).await;
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
    let rig = TestApp::hostile(Script {
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
    .spawn()
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
    let rig = TestApp::hostile(Script::default())
        .vars(&[("RATE_LIMIT_SIGN_IN_PER_MINUTE", "0")])
        .spawn()
        .await;
    let browsers: Vec<Client> = (0..64).map(|_| browser()).collect();
    for _ in 0..3 {
        let ends = futures_util::future::join_all(browsers.iter().map(|client| async {
            let response = client
                .get(format!("{}/auth/sign-in/hostile", rig.url))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::SEE_OTHER, "started");
            let authorize = crate::walk::location(&rig.url, &response);
            let callback = crate::walk::authorize(&rig, client, &authorize).await;
            crate::walk::finish(client, &callback).await
        }))
        .await;
        for end in ends {
            assert_eq!(end, "/", "every sign-in succeeds");
        }
    }
}
