//! The short-lived read cache of signed-in sessions (`server/src/cache.rs`)
//! with two instances on one database: what it may serve stale, for how
//! long, and what it never does.

use std::time::Duration;

use reqwest::{Client, StatusCode, header};

use crate::harness::{Rig, TestApp, browser};
use crate::hostile_idp::Script;
use crate::walk::{authorize, is_signed_in, sign_in, sign_out, start};

/// A second instance on the rig's database, behind the same public URL
/// (as behind a load balancer), with `extra` settings; its own address.
/// Requests to it carry the public host in `X-Forwarded-Host`, as the load
/// balancer would.
async fn second_instance(rig: &Rig, extra: &[(&str, &str)]) -> String {
    rig.another_instance()
        .public_url(&rig.url)
        .var("BACKGROUND_REFRESH_SECONDS", "0")
        .vars(extra)
        .spawn()
        .await
        .url
        .clone()
}

const FORWARDED_HOST: &str = "x-forwarded-host";

/// The host of the rig's public URL, as a load balancer forwards it.
fn public_host(rig: &Rig) -> String {
    rig.url.trim_start_matches("http://").to_owned()
}

/// What `/auth/user` at the second instance answers, reached through the
/// load balancer.
async fn user_status_behind_the_balancer(client: &Client, rig: &Rig, other: &str) -> StatusCode {
    client
        .get(format!("{other}/auth/user"))
        .header(FORWARDED_HOST, public_host(rig))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_session_ended_on_another_instance_stops_there_within_the_cache_time() {
    let cache = [("SESSION_CACHE_SECONDS", "1")];
    let rig = TestApp::hostile(Script::default())
        .vars(&cache)
        .spawn()
        .await;
    let client = browser();
    assert_eq!(sign_in(&rig, &client).await, "/");
    assert!(is_signed_in(&rig, &client).await, "read, and now cached");
    let other = second_instance(&rig, &cache).await;

    let out = client
        .post(format!("{other}/auth/logout"))
        .header(header::ORIGIN, &rig.url)
        .header(FORWARDED_HOST, public_host(&rig))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        user_status_behind_the_balancer(&client, &rig, &other).await,
        StatusCode::UNAUTHORIZED,
        "at once on the instance that signed out"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(
        !is_signed_in(&rig, &client).await,
        "signed out on the other instance once its cache time is up"
    );
}

#[tokio::test]
async fn a_session_ended_here_is_signed_out_at_once_though_it_was_cached() {
    let rig = TestApp::hostile(Script::default())
        .vars(&[("SESSION_CACHE_SECONDS", "60")])
        .spawn()
        .await;
    let client = browser();
    assert_eq!(sign_in(&rig, &client).await, "/");
    assert!(is_signed_in(&rig, &client).await, "read, and now cached");

    let out = sign_out(&client, &rig.url).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(!is_signed_in(&rig, &client).await);
}

#[tokio::test]
async fn a_sign_in_completes_on_an_instance_that_had_the_session_cached() {
    let cache = [("SESSION_CACHE_SECONDS", "60")];
    let rig = TestApp::hostile(Script::default())
        .vars(&cache)
        .spawn()
        .await;
    let client = browser();
    assert_eq!(sign_in(&rig, &client).await, "/");
    let other = second_instance(&rig, &cache).await;
    assert_eq!(
        user_status_behind_the_balancer(&client, &rig, &other).await,
        StatusCode::OK,
        "the other instance read the signed-in session, and cached it"
    );

    // Signing in again from the signed-in session: the login transaction
    // goes into the session record on the first instance...
    let authorize_url = start(&rig, &client).await;
    let callback = authorize(&rig, &client, &authorize_url).await;
    // ...and the provider's answer reaches the other one.
    let callback = callback.replacen(&rig.url, &other, 1);
    let finished = client
        .get(&callback)
        .header(FORWARDED_HOST, public_host(&rig))
        .send()
        .await
        .unwrap();
    assert_eq!(
        finished.headers()[header::LOCATION],
        "/",
        "the callback read the session from the store, not the cache"
    );
    assert_eq!(rig.idp.calls().token, 2);
}

#[tokio::test]
async fn a_session_ended_from_another_device_is_signed_out_at_once_though_it_was_cached() {
    let rig = TestApp::hostile(Script::default())
        .vars(&[("SESSION_CACHE_SECONDS", "60")])
        .spawn()
        .await;
    let laptop = browser();
    assert_eq!(sign_in(&rig, &laptop).await, "/");
    let phone = browser();
    assert_eq!(sign_in(&rig, &phone).await, "/");
    assert!(is_signed_in(&rig, &phone).await, "read, and now cached");
    let (phone_login,): (String,) =
        sqlx::query_as("SELECT id FROM logins ORDER BY created_at DESC, rowid DESC LIMIT 1")
            .fetch_one(&rig.database.connect().await)
            .await
            .unwrap();

    let ended = laptop
        .post(format!("{}/auth/sessions/end", rig.url))
        .header(header::ORIGIN, &rig.url)
        .form(&[("id", phone_login.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert!(!is_signed_in(&rig, &phone).await, "the phone is signed out");
    assert!(is_signed_in(&rig, &laptop).await, "the laptop is not");
}
