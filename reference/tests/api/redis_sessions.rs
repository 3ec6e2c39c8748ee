//! Redis as the session store (`SESSION_STORE_URL=redis://…`): sessions,
//! sealed tokens and locks live there, shared by every instance; users
//! stay in the SQL database.

use std::time::Duration;

use redis::AsyncCommands;
use reqwest::{StatusCode, header};

use crate::harness::{Rig, Store, TestApp, browser};
use crate::walk::{is_signed_in, sign_in, sign_out};
use crate::{
    hostile_idp::Script,
    proxy::Proxy,
    redis::{OwnRedis, fresh_redis},
};

async fn redis_keys(url: &str, prefix: &str) -> Vec<String> {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    conn.keys(format!("{prefix}:*")).await.unwrap()
}

#[tokio::test]
async fn sessions_and_sealed_tokens_live_in_redis_and_go_at_logout() {
    let (url, prefix) = fresh_redis().await;
    let rig = TestApp::hostile(Script::default())
        .store(Store::Redis {
            url: url.clone(),
            prefix: prefix.clone(),
        })
        .spawn()
        .await;
    let client = browser();
    assert_eq!(sign_in(&rig, &client).await, "/");
    assert!(is_signed_in(&rig, &client).await);
    let keys = redis_keys(&url, &prefix).await;
    assert!(
        keys.iter()
            .any(|k| k.starts_with(&format!("{prefix}:session:"))),
        "{keys:?}"
    );
    let vault_key = keys
        .iter()
        .find(|k| k.starts_with(&format!("{prefix}:vault:")) && !k.ends_with(":expiring"))
        .cloned()
        .expect("a vault entry");
    let client_redis = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client_redis
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let sealed: Vec<u8> = conn.hget(&vault_key, "ciphertext").await.unwrap();
    let access = rig.idp.calls().issued_access_tokens[0].clone();
    assert!(
        !sealed.windows(access.len()).any(|w| w == access.as_bytes()),
        "sealed at rest"
    );
    assert_eq!(rig.database.count("token_vault").await, 0, "not in SQL");
    assert_eq!(rig.database.count("users").await, 1, "users stay in SQL");
    // Sealed tokens expire by themselves a day after the longest a session
    // may live (seven days), so none that no session points to stays.
    let ttl: i64 = redis::cmd("TTL")
        .arg(&vault_key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        (7 * 86_400..=8 * 86_400).contains(&ttl),
        "the vault entry expires: {ttl}"
    );

    sign_out(&client, &rig.url).await;
    assert!(!is_signed_in(&rig, &client).await);
    let exists: bool = conn.exists(&vault_key).await.unwrap();
    assert!(!exists, "its tokens are gone");
}

#[tokio::test]
async fn two_instances_sharing_redis_share_sign_in_sign_out_and_one_refresh() {
    let (url, prefix) = fresh_redis().await;
    let rig = TestApp::hostile(Script {
        access_token_ttl: 1,
        refresh_delay: Duration::from_millis(300),
        ..Script::default()
    })
    .store(Store::Redis {
        url: url.clone(),
        prefix: prefix.clone(),
    })
    .var("BACKGROUND_REFRESH_SECONDS", "0")
    .spawn()
    .await;
    let client = browser();
    assert_eq!(sign_in(&rig, &client).await, "/");
    // A second instance sharing the first one's Redis and SQL database.
    let other = rig.another_instance().spawn().await.url.clone();
    let on_other = client
        .get(format!("{other}/auth/user"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(
        on_other,
        StatusCode::OK,
        "signed in on the second instance too"
    );

    crate::walk::live_everywhere(&client, &[rig.url.clone(), other.clone()], 40).await;
    assert_eq!(
        rig.idp.calls().refreshes,
        1,
        "one refresh across both instances"
    );

    client
        .post(format!("{other}/auth/logout"))
        .header(header::ORIGIN, &other)
        .send()
        .await
        .unwrap();
    assert!(
        !is_signed_in(&rig, &client).await,
        "signed out on the first too"
    );
}

#[tokio::test]
async fn sessions_survive_restarting_portcullis_and_redis_with_persistence() {
    let dir = tempdir();
    let redis = OwnRedis::start(&dir);
    let mut rig = TestApp::hostile(Script::default())
        .var("SESSION_STORE_URL", &redis.url)
        .spawn()
        .await;
    let client = browser();
    assert_eq!(sign_in(&rig, &client).await, "/");
    rig.stop().await;
    // Give the append-only file its once-a-second write, then stop Redis.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    redis.stop();

    let redis = OwnRedis::start(&dir);
    let second = rig
        .another_instance()
        .var("SESSION_STORE_URL", &redis.url)
        .spawn()
        .await;
    let status = client
        .get(format!("{}/auth/user", second.url))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(
        status,
        StatusCode::OK,
        "still signed in after both restarted"
    );
    redis.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_redis_outage_is_a_clear_503_readiness_says_so_and_the_service_recovers_by_itself() {
    let (url, prefix) = fresh_redis().await;
    let upstream = url.trim_start_matches("redis://").to_owned();
    let proxy = Proxy::start(upstream).await;
    let through_proxy = format!("redis://127.0.0.1:{}", proxy.port);
    let rig = TestApp::hostile(Script::default())
        .store(Store::Redis {
            url: through_proxy,
            prefix,
        })
        .spawn()
        .await;
    let client = browser();
    assert_eq!(sign_in(&rig, &client).await, "/");

    proxy.down().await;
    let answer = client
        .get(format!("{}/auth/user", rig.url))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Readiness checks the session store in use, not only the users' one.
    let ready = client
        .get(format!("{}/readyz", rig.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["sessions"], "unavailable", "{ready}");
    assert_eq!(ready["users"], "ok", "{ready}");
    let page = client
        .get(format!("{}/profile", rig.url))
        .send()
        .await
        .unwrap();
    assert_ne!(page.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(page.text().await.unwrap().contains("PC-SVC-503"));

    proxy.up();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !is_signed_in_or_down(&rig, &client).await && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        is_signed_in(&rig, &client).await,
        "recovered, still signed in"
    );
}

async fn is_signed_in_or_down(rig: &Rig, client: &reqwest::Client) -> bool {
    client
        .get(format!("{}/auth/user", rig.url))
        .send()
        .await
        .is_ok_and(|r| r.status() == StatusCode::OK)
}

fn tempdir() -> String {
    let dir = std::env::temp_dir().join(format!(
        "portcullis-redis-keep-{}-{}",
        std::process::id(),
        openidconnect::CsrfToken::new_random().secret()
    ));
    dir.display().to_string()
}
