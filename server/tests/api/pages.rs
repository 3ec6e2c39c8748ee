//! Server-rendered pages: what the first paint shows.

use crate::helpers::{app, app_with, get};

#[tokio::test]
async fn a_provider_whose_discovery_fails_is_shown_as_unavailable() {
    let res = get(app().await, "/").await;
    assert_eq!(res.status, 200);
    assert!(
        res.body.contains("Continue with Local Test IdP"),
        "{}",
        res.body
    );
    assert!(res.body.contains("Unavailable right now"));
    assert!(!res.body.contains(r#"href="/auth/login/local""#));
    // The hydration script is part of the first paint.
    assert!(res.body.contains("/pkg/portcullis.js"));
    assert!(!res.body.contains("secret-never-shown"));
}

#[tokio::test]
async fn home_page_explains_when_no_provider_is_configured() {
    let res = get(app_with(&[]).await, "/").await;
    assert_eq!(res.status, 200);
    assert!(res.body.contains("No sign-in provider is configured yet"));
}

#[tokio::test]
async fn profile_page_for_an_anonymous_visitor_offers_sign_in() {
    let res = get(app().await, "/profile").await;
    assert_eq!(res.status, 200);
    assert!(res.body.contains("You are not signed in"));
}

#[tokio::test]
async fn unknown_address_is_a_404_page_with_a_stable_code() {
    let res = get(app().await, "/no/such/page").await;
    assert_eq!(res.status, 404);
    assert!(res.body.contains("Page not found"));
    assert!(res.body.contains("PC-WEB-404"));
    assert!(res.body.contains(r#"href="/""#));
}

#[tokio::test]
async fn liveness_endpoint_answers_ok_uncached() {
    let res = get(app().await, "/healthz").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.headers["cache-control"], "no-store");
    assert_eq!(res.body, r#"{"status":"ok"}"#);
}
