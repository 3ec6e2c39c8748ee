//! Server-rendered pages: what the first paint shows.

use crate::harness::TestApp;
use crate::oneshot::get;

#[tokio::test]
async fn a_provider_whose_discovery_fails_is_shown_as_unavailable() {
    let res = get(TestApp::unreachable().router().await, "/").await;
    assert_eq!(res.status, 200);
    assert!(
        res.body.contains("Continue with Local Test IdP"),
        "{}",
        res.body
    );
    assert!(res.body.contains("Unavailable right now"));
    assert!(!res.body.contains(r#"href="/auth/sign-in/local""#));
    // The hydration script is part of the first paint.
    assert!(res.body.contains("/pkg/portcullis.js"));
    assert!(!res.body.contains("secret-never-shown"));
}

#[tokio::test]
async fn home_page_explains_when_no_provider_is_configured() {
    let res = get(TestApp::without_provider().router().await, "/").await;
    assert_eq!(res.status, 200);
    assert!(res.body.contains("No sign-in provider is configured yet"));
}

#[tokio::test]
async fn profile_page_for_an_anonymous_visitor_offers_sign_in() {
    let res = get(TestApp::unreachable().router().await, "/profile").await;
    assert_eq!(res.status, 200);
    assert!(res.body.contains("You are not signed in"));
}

#[tokio::test]
async fn unknown_address_is_a_404_page_with_a_stable_code() {
    let res = get(TestApp::unreachable().router().await, "/no/such/page").await;
    assert_eq!(res.status, 404);
    assert!(res.body.contains("Page not found"));
    assert!(res.body.contains("PC-WEB-404"));
    assert!(res.body.contains(r#"href="/""#));
}

#[tokio::test]
async fn liveness_endpoint_answers_ok_uncached() {
    let res = get(TestApp::unreachable().router().await, "/healthz").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.headers["cache-control"], "no-store");
    assert_eq!(res.body, r#"{"status":"ok"}"#);
}

#[tokio::test]
async fn signing_in_with_an_unreachable_provider_ends_on_a_clear_error_page() {
    let res = get(TestApp::unreachable().router().await, "/auth/sign-in/local").await;
    assert_eq!(res.status, 303);
    assert_eq!(
        res.headers["location"],
        "/error?code=PC-AUTH-004&provider=local"
    );
    let page = get(
        TestApp::unreachable().router().await,
        "/error?code=PC-AUTH-004&provider=local",
    )
    .await;
    assert_eq!(page.status, 502);
    assert!(
        page.body
            .contains("We could not reach the identity provider")
    );
    assert!(
        page.body.contains(r#"href="/auth/sign-in/local""#),
        "try again"
    );
    assert!(!page.body.contains("127.0.0.1:1"), "no internal detail");
}

#[tokio::test]
async fn an_unknown_provider_is_a_clear_404_error() {
    let res = get(TestApp::unreachable().router().await, "/auth/sign-in/nope").await;
    assert_eq!(res.headers["location"], "/error?code=PC-AUTH-006");
    let page = get(
        TestApp::unreachable().router().await,
        "/error?code=PC-AUTH-006",
    )
    .await;
    assert_eq!(page.status, 404);
    assert!(
        page.body
            .contains("This sign-in provider is not configured here.")
    );
}

#[tokio::test]
async fn an_unknown_error_code_shows_the_generic_error_not_a_crash() {
    let page = get(
        TestApp::unreachable().router().await,
        "/error?code=%3Cscript%3E",
    )
    .await;
    assert_eq!(page.status, 500);
    assert!(page.body.contains("PC-SRV-500"));
    assert!(!page.body.contains("<script>"));
}

#[tokio::test]
async fn a_presets_button_shows_its_icon_which_is_served_as_an_image_that_runs_nothing() {
    let app = TestApp::local().github(0).router().await;
    // The first paint: GitHub's button has its icon (decorative, sized, so
    // nothing moves when it loads); the local provider, described by
    // configuration, its initial.
    let home = get(app.clone(), "/").await;
    assert!(
        home.body.contains(
            r#"<img src="/auth/icons/github.svg" alt="" width="30" height="30" class="provider-icon provider-icon-image">"#
        ),
        "{}",
        home.body
    );
    assert_eq!(
        home.body.matches(r#"src="/auth/icons/"#).count(),
        1,
        "local has none"
    );
    // Portcullis's own sign-in page too.
    let page = get(app.clone(), "/auth/sign-in").await;
    assert!(
        page.body
            .contains(r#"<img src="/auth/icons/github.svg" alt="" width="20" height="20"> Continue with GitHub"#),
        "{}",
        page.body
    );

    let icon = get(app.clone(), "/auth/icons/github.svg").await;
    assert_eq!(icon.status, 200);
    assert_eq!(icon.headers["content-type"], "image/svg+xml");
    assert_eq!(icon.headers["cache-control"], "public, max-age=86400");
    let policy = icon.headers["content-security-policy"].to_str().unwrap();
    assert!(
        policy.contains("default-src 'none'") && policy.contains("sandbox"),
        "{policy}"
    );
    assert_eq!(
        icon.body,
        include_str!("../../../server/src/providers/icons/github.svg")
    );
    for missing in [
        "/auth/icons/local.svg",
        "/auth/icons/github",
        "/auth/icons/github.svg.svg",
        "/auth/icons/..%2Fgithub.svg",
    ] {
        let answer = get(app.clone(), missing).await;
        assert_eq!(answer.status, 404, "{missing}");
        assert!(
            answer.body.contains("PC-WEB-404"),
            "{missing}: {}",
            answer.body
        );
    }
}
