//! PostgreSQL by URL: sessions, the token vault and users live in a real
//! PostgreSQL server when `DATABASE_URL` names one.

use reqwest::{StatusCode, header};
use serde_json::Value;
use sqlx::{Connection, PgConnection};

use crate::harness::{KEYS, Rig, Store, TestApp, browser};
use crate::walk::{is_signed_in, sign_in, sign_out};
use crate::{
    hostile_idp::{SUBJECT, Script},
    postgres::fresh_database,
};

async fn count(pg: &mut PgConnection, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(pg).await.unwrap();
    n
}

#[tokio::test]
async fn sign_in_and_out_keep_users_sessions_and_sealed_tokens_in_postgresql() {
    let url = fresh_database().await;
    let rig = TestApp::hostile(Script::default())
        .store(Store::Postgres(url.clone()))
        .spawn()
        .await;
    let client = browser();
    assert_eq!(sign_in(&rig, &client).await, "/");
    assert!(is_signed_in(&rig, &client).await);

    let mut pg = PgConnection::connect(&url).await.unwrap();
    let identities: Vec<(String, String)> =
        sqlx::query_as("SELECT subject, provider FROM identities")
            .fetch_all(&mut pg)
            .await
            .unwrap();
    assert_eq!(identities, [(SUBJECT.to_owned(), "hostile".to_owned())]);
    assert_eq!(count(&mut pg, "SELECT count(*) FROM users").await, 1);
    assert!(count(&mut pg, "SELECT count(*) FROM tower_sessions.session").await >= 1);
    let sealed: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT ciphertext FROM token_vault")
        .fetch_all(&mut pg)
        .await
        .unwrap();
    assert_eq!(sealed.len(), 1);
    let access_token = rig.idp.calls().issued_access_tokens[0].clone();
    assert!(
        !sealed[0]
            .0
            .windows(access_token.len())
            .any(|w| w == access_token.as_bytes()),
        "tokens are sealed at rest"
    );

    let out = sign_out(&client, &rig.url).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(!is_signed_in(&rig, &client).await);
    assert_eq!(count(&mut pg, "SELECT count(*) FROM token_vault").await, 0);
}

#[tokio::test]
async fn a_second_instance_on_the_same_postgresql_serves_the_signed_in_session() {
    let url = fresh_database().await;
    let rig = TestApp::hostile(Script::default())
        .store(Store::Postgres(url))
        .spawn()
        .await;
    let client = browser();
    assert_eq!(sign_in(&rig, &client).await, "/");

    let other = rig.another_instance().spawn().await.url.clone();
    assert_ne!(other, rig.url);
    // Cookies are per host, not per port: the browser sends the same
    // session cookie to the second instance.
    let user: Value = client
        .get(format!("{other}/auth/user"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user["name"], "Harriet Hostile", "{user}");
}

#[tokio::test]
async fn an_unreachable_postgresql_stops_the_start_with_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://nobody@127.0.0.1:{port}/portcullis");
    let leptos = leptos::config::LeptosOptions::builder()
        .output_name("portcullis")
        .build();
    let vars = [
        ("DATABASE_URL".to_owned(), url),
        ("TOKEN_ENCRYPTION_KEYS".to_owned(), KEYS.to_owned()),
    ]
    .into_iter()
    .collect();
    let config = reference::Config::from_vars(leptos, &vars).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = reference::Application::build_on(listener, config)
        .await
        .unwrap_err();
    let chain = portcullis::telemetry::cause_chain(&err);
    assert!(chain.starts_with("cannot open the database"), "{chain}");
}

/// Two instances on one PostgreSQL database, the browser signed in on the
/// first; the second's URL.
async fn second_instance(rig: &Rig, extra: &[(&str, &str)]) -> String {
    rig.another_instance().vars(extra).spawn().await.url.clone()
}

#[tokio::test]
async fn a_logout_on_one_instance_ends_the_session_on_the_other() {
    let url = fresh_database().await;
    let rig = TestApp::hostile(Script::default())
        .store(Store::Postgres(url))
        .spawn()
        .await;
    let client = browser();
    assert_eq!(sign_in(&rig, &client).await, "/");
    let other = second_instance(&rig, &[]).await;
    let out = client
        .post(format!("{other}/auth/logout"))
        .header(header::ORIGIN, &other)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(
        !is_signed_in(&rig, &client).await,
        "signed out on the first too"
    );
}

#[tokio::test]
async fn refresh_is_single_flight_across_two_instances_on_postgresql() {
    let url = fresh_database().await;
    let quiet = [("BACKGROUND_REFRESH_SECONDS", "0")];
    let rig = TestApp::hostile(Script {
        access_token_ttl: 1,
        refresh_delay: std::time::Duration::from_millis(300),
        ..Script::default()
    })
    .store(Store::Postgres(url))
    .vars(&quiet)
    .spawn()
    .await;
    let client = browser();
    assert_eq!(sign_in(&rig, &client).await, "/");
    let other = second_instance(&rig, &quiet).await;
    crate::walk::live_everywhere(&client, &[rig.url.clone(), other], 40).await;
    assert_eq!(
        rig.idp.calls().refreshes,
        1,
        "one refresh across both instances"
    );
}
