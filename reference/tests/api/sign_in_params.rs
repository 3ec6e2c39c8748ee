//! A sign-in's own authentication request parameters (OIDC Core
//! §3.1.2.1: `prompt`, `login_hint`, `max_age`, `acr_values`,
//! `ui_locales`), allow-listed, passed on and checked in the answer, and
//! the step-up an app asks for with `RecentSignIn`: through the real local
//! provider, and the scripted one for a provider that ignores what it was
//! asked.

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{Json, Router, routing::get};
use portcullis::{Portcullis, RecentSignIn};
use reqwest::{
    Client, StatusCode, Url,
    cookie::{CookieStore, Jar},
    header,
};
use serde_json::{Value, json};

use crate::harness::{TestApp, browser};
use crate::hostile_idp::Script;
use crate::login::{complete_at_provider, follow};
use crate::walk::{self, location};

fn query_of(url: &str) -> Vec<(String, String)> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// `GET /auth/sign-in/local?<query>`: where Portcullis sends the browser.
async fn start(client: &Client, app: &TestApp, query: &str) -> String {
    let url = format!("{}/auth/sign-in/local?{query}", app.url);
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{url}");
    location(&url, &response)
}

/// Delivers a callback; returns where Portcullis sends the browser.
async fn deliver(client: &Client, callback: &str) -> String {
    let response = client.get(callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{callback}");
    response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

/// A browser (cookies kept, redirects not followed) with this cookie jar.
fn browser_with(jar: Arc<Jar>) -> Client {
    Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

#[tokio::test]
async fn every_allowed_sign_in_parameter_reaches_the_provider_and_nothing_else_does() {
    let app = TestApp::local().spawn().await;
    let client = browser();
    let authorize = start(
        &client,
        &app,
        "return_to=/profile&prompt=login&login_hint=dana%40portcullis.test&max_age=600\
         &acr_values=urn:portcullis:acr:password&ui_locales=fr-CA%20en\
         &scope=admin&redirect_uri=https://evil.test/&claims=%7B%7D&foo=bar",
    )
    .await;
    let query = query_of(&authorize);
    assert_eq!(param(&query, "prompt"), Some("login"));
    assert_eq!(param(&query, "login_hint"), Some("dana@portcullis.test"));
    assert_eq!(param(&query, "max_age"), Some("600"));
    assert_eq!(
        param(&query, "acr_values"),
        Some("urn:portcullis:acr:password")
    );
    assert_eq!(param(&query, "ui_locales"), Some("fr-CA en"));
    for name in ["foo", "claims"] {
        assert_eq!(param(&query, name), None, "{name} is not passed on");
    }
    assert_eq!(
        param(&query, "scope"),
        Some("openid email profile"),
        "the browser cannot widen the scopes"
    );
    assert_eq!(
        param(&query, "redirect_uri"),
        Some(format!("{}/auth/callback/local", app.url).as_str())
    );
    for name in ["prompt", "max_age", "scope", "redirect_uri"] {
        assert_eq!(
            query.iter().filter(|(key, _)| key == name).count(),
            1,
            "{name} once"
        );
    }

    // The real provider takes them all, and its answer meets them: the ID
    // token carries a recent auth_time and the acr asked for.
    let callback = complete_at_provider(&client, &app, authorize, "demo").await;
    assert_eq!(deliver(&client, &callback).await, "/profile");
    assert!(walk::user_status(&client, &app.url).await.is_success());
}

#[tokio::test]
async fn a_sign_in_parameter_that_is_not_allowed_ends_on_the_error_page_before_the_provider() {
    let app = TestApp::local().spawn().await;
    let client = browser();
    for query in [
        "prompt=none%20login",
        "prompt=create",
        "max_age=-1",
        "max_age=soon",
        "login_hint=dana%0D%0ASet-Cookie:%20x=1",
        "ui_locales=en_US",
        "acr_values=a%20b%20c%20d%20e%20f%20g%20h%20i%20j%20k",
    ] {
        let url = format!("{}/auth/sign-in/local?{query}", app.url);
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{query}");
        assert_eq!(
            response.headers()[header::LOCATION],
            "/error?code=PC-WEB-400&provider=local",
            "{query}"
        );
    }
    // A parameter given twice: the request is not read at all, and
    // answered with the same code, never as bare text.
    for query in ["prompt=login&prompt=consent", "max_age=1&max_age=2"] {
        let url = format!("{}/auth/sign-in/local?{query}", app.url);
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        let kind = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(!kind.starts_with("text/plain"), "{query}: {kind}");
        assert!(
            response.text().await.unwrap().contains("PC-WEB-400"),
            "{query}"
        );
    }
}

#[tokio::test]
async fn a_silent_sign_in_goes_on_to_the_login_form_and_later_signs_in_unseen() {
    let app = TestApp::local().spawn().await;
    let jar = Arc::new(Jar::default());
    let client = browser_with(jar.clone());
    let callback_prefix = format!("{}/auth/callback/local", app.url);

    // No session at the provider yet: it answers login_required, and the
    // sign-in goes on interactively, with the rest of what it asked.
    let authorize = start(
        &client,
        &app,
        "prompt=none&login_hint=demo&return_to=/profile",
    )
    .await;
    assert_eq!(param(&query_of(&authorize), "prompt"), Some("none"));
    let (refusal, _) = follow(&client, authorize, &callback_prefix).await;
    assert!(refusal.contains("error=login_required"), "{refusal}");
    let again = client.get(&refusal).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let interactive = location(&refusal, &again);
    let query = query_of(&interactive);
    assert!(interactive.starts_with(&app.idp.issuer), "{interactive}");
    assert_eq!(param(&query, "prompt"), None, "no prompt=none again");
    assert_eq!(param(&query, "login_hint"), Some("demo"));
    let callback = complete_at_provider(&client, &app, interactive, "demo").await;
    assert_eq!(deliver(&client, &callback).await, "/profile");
    assert!(walk::user_status(&client, &app.url).await.is_success());

    // The session here is gone (the same browser, without this site's
    // cookie; cookies do not tell ports apart, so it is left out by name)
    // but the provider's is not: a silent sign-in comes straight back
    // with a code, no page shown.
    let provider_only = Arc::new(Jar::default());
    let idp = Url::parse(&app.idp.issuer).unwrap();
    let cookies = jar.cookies(&idp).unwrap();
    let cookies = cookies.to_str().unwrap().split("; ");
    for cookie in cookies.filter(|cookie| !cookie.starts_with("portcullis=")) {
        provider_only.add_cookie_str(cookie, &idp);
    }
    let client = browser_with(provider_only);
    assert_eq!(walk::user_status(&client, &app.url).await, 401);
    let authorize = start(&client, &app, "prompt=none&return_to=/profile").await;
    let (callback, page) = follow(&client, authorize, &callback_prefix).await;
    assert!(page.status().is_redirection(), "no page: {callback}");
    assert!(callback.contains("code="), "{callback}");
    assert_eq!(deliver(&client, &callback).await, "/profile");
    assert!(walk::user_status(&client, &app.url).await.is_success());
}

#[tokio::test]
async fn an_authentication_context_the_provider_did_not_reach_is_refused_and_no_one_signs_in() {
    let app = TestApp::local().spawn().await;
    let client = browser();
    // The local provider's login form is a password; asked for more, it
    // still answers (acr_values is voluntary) with acr = password.
    let authorize = start(&client, &app, "acr_values=urn:portcullis:acr:mfa").await;
    let callback = complete_at_provider(&client, &app, authorize, "demo").await;
    assert_eq!(
        deliver(&client, &callback).await,
        "/error?code=PC-AUTH-015&provider=local"
    );
    assert_eq!(walk::user_status(&client, &app.url).await, 401);
    assert_eq!(app.database.count("token_vault").await, 0);
}

/// The reference app with one sensitive route of the test's own, which
/// needs a sign-in within the last ten seconds.
async fn with_sensitive_route() -> TestApp {
    TestApp::local()
        .own_app(|settings, _| async move {
            let portcullis = Portcullis::start(settings).await.unwrap();
            let sensitive = Router::new().route(
                "/sensitive",
                get(|RecentSignIn(user): RecentSignIn<10>| async move {
                    Json(json!({ "authenticated_at": user.authenticated_at() }))
                })
                .post(|RecentSignIn(_): RecentSignIn<10>| async { "done" }),
            );
            portcullis.mount(sensitive)
        })
        .await
}

fn navigate(client: &Client, url: &str) -> reqwest::RequestBuilder {
    client
        .get(url)
        .header("sec-fetch-mode", "navigate")
        .header(header::ACCEPT, "text/html")
}

#[tokio::test]
async fn a_sensitive_action_asks_for_a_recent_sign_in_and_gets_it_from_the_provider() {
    let app = with_sensitive_route().await;
    let client = browser();
    let sensitive = format!("{}/sensitive", app.url);
    let authorize = start(&client, &app, "return_to=/sensitive").await;
    let callback = complete_at_provider(&client, &app, authorize, "demo").await;
    assert_eq!(deliver(&client, &callback).await, "/sensitive");
    let fresh = navigate(&client, &sensitive).send().await.unwrap();
    assert_eq!(fresh.status(), StatusCode::OK, "just signed in");
    let first: Value = fresh.json().await.unwrap();
    assert!((now() - first["authenticated_at"].as_i64().unwrap()).abs() <= 10);

    tokio::time::sleep(Duration::from_secs(12)).await;

    // An API call: 401 with the code and where to sign in again, back to
    // the page it came from.
    let call = client.get(&sensitive).send().await.unwrap();
    assert_eq!(call.status(), StatusCode::UNAUTHORIZED);
    let body: Value = call.json().await.unwrap();
    assert_eq!(body["error"], "PC-AUTH-014");
    assert_eq!(
        body["sign_in"],
        "/auth/sign-in/local?max_age=10&return_to=%2F"
    );
    let post = client
        .post(&sensitive)
        .header(header::ORIGIN, &app.url)
        .header(header::REFERER, format!("{}/account?tab=security", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), StatusCode::UNAUTHORIZED);
    let body: Value = post.json().await.unwrap();
    assert_eq!(
        body["sign_in"],
        "/auth/sign-in/local?max_age=10&return_to=%2Faccount%3Ftab%3Dsecurity"
    );
    let elsewhere = client
        .post(&sensitive)
        .header(header::ORIGIN, &app.url)
        .header(header::REFERER, "https://evil.test/account")
        .send()
        .await
        .unwrap();
    let body: Value = elsewhere.json().await.unwrap();
    assert_eq!(
        body["sign_in"], "/auth/sign-in/local?max_age=10&return_to=%2F",
        "never back to another site"
    );

    // A page: straight to a sign-in that asks the provider for max_age,
    // which the provider meets by showing its login form again.
    let page = navigate(&client, &sensitive).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    let step_up = location(&sensitive, &page);
    assert_eq!(
        step_up,
        format!(
            "{}/auth/sign-in/local?max_age=10&return_to=%2Fsensitive",
            app.url
        )
    );
    let to_provider = client.get(&step_up).send().await.unwrap();
    let authorize = location(&step_up, &to_provider);
    assert_eq!(param(&query_of(&authorize), "max_age"), Some("10"));
    let callback = complete_at_provider(&client, &app, authorize, "demo").await;
    assert_eq!(deliver(&client, &callback).await, "/sensitive");
    let after = navigate(&client, &sensitive).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::OK);
    let second: Value = after.json().await.unwrap();
    assert!(
        second["authenticated_at"].as_i64() > first["authenticated_at"].as_i64(),
        "{first} then {second}"
    );
}

#[tokio::test]
async fn a_step_up_asked_without_signing_in_is_the_usual_sign_in() {
    let app = with_sensitive_route().await;
    let client = browser();
    let call = client
        .get(format!("{}/sensitive", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), StatusCode::UNAUTHORIZED);
    let body: Value = call.json().await.unwrap();
    assert_eq!(body["error"], "PC-AUTH-401");
    let page = navigate(&client, &format!("{}/sensitive", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        page.headers()[header::LOCATION],
        "/auth/sign-in?return_to=%2Fsensitive"
    );
}

/// Signs in at the scripted provider with `query`; returns where it ends.
async fn hostile_sign_in(script: Script, query: &str) -> String {
    let rig = TestApp::hostile(script).spawn().await;
    let client = browser();
    let url = format!("{}/auth/sign-in/hostile?{query}", rig.url);
    let response = client.get(&url).send().await.unwrap();
    let authorize = location(&url, &response);
    let callback = walk::authorize(&rig, &client, &authorize).await;
    walk::finish(&client, &callback).await
}

#[tokio::test]
async fn a_provider_that_ignores_max_age_or_prompt_login_is_refused_with_its_own_code() {
    let not_confirmed = "/error?code=PC-AUTH-015&provider=hostile";
    // No auth_time, though max_age makes it required.
    let none = Script::default();
    assert_eq!(hostile_sign_in(none, "max_age=60").await, not_confirmed);
    // An auth_time from an hour ago: it did not authenticate the user again.
    let old = || Script {
        claims: |claims, _| {
            claims.insert("auth_time".into(), json!(now() - 3600));
        },
        ..Script::default()
    };
    assert_eq!(hostile_sign_in(old(), "max_age=60").await, not_confirmed);
    assert_eq!(hostile_sign_in(old(), "prompt=login").await, not_confirmed);
    // The same provider signs in when nothing asks for a recent sign-in,
    // and one that authenticated the user just now meets max_age.
    assert_eq!(hostile_sign_in(old(), "").await, "/");
    let recent = Script {
        claims: |claims, _| {
            claims.insert("auth_time".into(), json!(now() - 5));
        },
        ..Script::default()
    };
    assert_eq!(hostile_sign_in(recent, "max_age=60").await, "/");
}

#[tokio::test]
async fn an_acr_that_is_missing_or_not_asked_for_is_refused() {
    let not_confirmed = "/error?code=PC-AUTH-015&provider=hostile";
    let asked = "acr_values=urn:example:loa:2%20urn:example:loa:3";
    assert_eq!(
        hostile_sign_in(Script::default(), asked).await,
        not_confirmed
    );
    let weaker = || Script {
        claims: |claims, _| {
            claims.insert("acr".into(), json!("urn:example:loa:1"));
        },
        ..Script::default()
    };
    assert_eq!(hostile_sign_in(weaker(), asked).await, not_confirmed);
    assert_eq!(hostile_sign_in(weaker(), "").await, "/");
    let met = Script {
        claims: |claims, _| {
            claims.insert("acr".into(), json!("urn:example:loa:3"));
        },
        ..Script::default()
    };
    assert_eq!(hostile_sign_in(met, asked).await, "/");
}
