//! The embedding example (`server/examples/embed.rs`): a plain Axum app
//! with Portcullis mounted through its public API, signed in through the
//! real local identity provider. And the README's "Add Portcullis to your
//! app" block is that very file.

use std::path::PathBuf;

use axum::{Json, Router, routing::get};
use http::{StatusCode, header};
use portcullis::{AccessToken, Portcullis};
use serde_json::Value;

use crate::harness::{TestApp, browser};
use crate::login::complete_at_provider;
use crate::walk::location;

#[allow(dead_code, clippy::print_stdout)]
#[path = "../../../server/examples/embed.rs"]
mod example;

/// The example app, plus one route of the test's own that calls the
/// provider's userinfo endpoint with the [`AccessToken`] extractor's token.
async fn start() -> TestApp {
    TestApp::local()
        .own_app(|settings, issuer| async move {
            let portcullis = Portcullis::start(settings).await.unwrap();
            let userinfo = discovered_userinfo(&issuer).await;
            let own = Router::new().route(
                "/test/userinfo",
                get(move |token: AccessToken| async move {
                    let answer = reqwest::Client::new()
                        .get(&userinfo)
                        .header(header::AUTHORIZATION, token.bearer().unwrap())
                        .send()
                        .await
                        .unwrap();
                    Json(answer.json::<Value>().await.unwrap())
                }),
            );
            example::app(&portcullis).merge(own.layer(portcullis.layer()))
        })
        .await
}

async fn discovered_userinfo(issuer: &str) -> String {
    let discovery = crate::local_idp::discovery(issuer).await;
    discovery["userinfo_endpoint"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_embedding_example_signs_a_user_in_and_serves_its_pages_api_and_provider_data() {
    let app = start().await;
    let client = browser();
    let get = |path: &str| client.get(format!("{}{path}", app.url));

    // Anonymous: the public page, a 401 for the API, the sign-in page for
    // a page navigation.
    let home = get("/").send().await.unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    assert!(home.text().await.unwrap().contains("/auth/sign-in"));
    let me = get("/api/me").send().await.unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    let body: Value = me.json().await.unwrap();
    assert_eq!(body["error"], "PC-AUTH-401", "{body}");
    let account = get("/account")
        .header("sec-fetch-mode", "navigate")
        .send()
        .await
        .unwrap();
    assert_eq!(account.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        account.headers()[header::LOCATION],
        "/auth/sign-in?return_to=%2Faccount"
    );
    let page = get("/auth/sign-in?return_to=%2Faccount")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = "/auth/sign-in/local?return_to=%2Faccount";
    assert!(page.contains(start), "{page}");

    // Signing in through the real provider comes back to the page asked for.
    let started = get(start).send().await.unwrap();
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let callback = complete_at_provider(&client, &app, location(&app.url, &started), "alice").await;
    let back = client.get(&callback).send().await.unwrap();
    assert_eq!(back.headers()[header::LOCATION], "/account");

    let account = get("/account").send().await.unwrap();
    assert_eq!(account.status(), StatusCode::OK);
    assert!(
        account
            .text()
            .await
            .unwrap()
            .contains("Signed in with local")
    );
    let me: Value = get("/api/me").send().await.unwrap().json().await.unwrap();
    assert_eq!(me["provider"], "local", "{me}");
    let subject = me["subject"].as_str().unwrap().to_owned();
    assert!(!subject.is_empty(), "{me}");
    assert_eq!(me["issuer"], app.idp.issuer.as_str(), "{me}");

    // The provider's API, called server-side with the session's token.
    let profile = get("/api/profile").send().await.unwrap();
    assert_eq!(profile.status(), StatusCode::OK);
    let profile: Value = profile.json().await.unwrap();
    assert!(
        profile["source"].as_str().unwrap().starts_with("userinfo"),
        "{profile}"
    );
    assert!(
        profile["entries"].to_string().contains(&subject),
        "{profile}"
    );
    let userinfo: Value = get("/test/userinfo")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        userinfo["sub"], subject,
        "the AccessToken extractor's token is one the provider honours: {userinfo}"
    );
}

#[tokio::test]
async fn a_failed_sign_in_in_the_embedding_example_lands_on_portcullis_own_error_page() {
    let app = start().await;
    let client = browser();
    let callback = client
        .get(format!(
            "{}/auth/callback/local?code=x&state=forged",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(callback.status(), StatusCode::SEE_OTHER);
    let to = location(&app.url, &callback);
    assert!(
        to.ends_with("/auth/error?code=PC-AUTH-002&provider=local"),
        "{to}"
    );
    let page = client.get(&to).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("PC-AUTH-002") && html.contains("Try again"),
        "{html}"
    );
}

#[test]
fn the_readme_shows_the_embedding_example_and_it_needs_only_four_crates() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let example = std::fs::read_to_string(root.join("server/examples/embed.rs")).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = readme
        .split("## Add Portcullis to your app")
        .nth(1)
        .expect("README has an \"Add Portcullis to your app\" section");
    let block = section
        .split("```rust\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("with a Rust block");
    assert_eq!(
        block.trim(),
        example.trim(),
        "the README's block is server/examples/embed.rs, which this test compiles and runs"
    );
    for line in example.lines().filter(|line| line.starts_with("use ")) {
        let root = line["use ".len()..].split("::").next().unwrap();
        assert!(
            ["std", "axum", "tokio", "serde_json", "portcullis"].contains(&root),
            "the example needs only portcullis, axum, tokio and serde_json: {line}"
        );
    }
    let mounting = example
        .lines()
        .filter(|line| line.contains("portcullis") || line.contains("Portcullis"))
        .count();
    assert!(
        mounting <= 30,
        "Portcullis takes {mounting} lines of the app"
    );
}
