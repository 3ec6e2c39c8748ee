//! The backend-for-frontend API proxy against a real resource server (the
//! notes API, which asks the local identity provider whether each bearer
//! token is active and Portcullis's): the browser's calls reach it with
//! the user's real, fresh token, which never reaches the browser.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::{Client, Method, StatusCode, header};
use serde_json::{Value, json};

use crate::{
    github::sign_in_with_github,
    harness::{TestApp, browser},
    hostile_idp::Script,
    local_idp::NOTES_RESOURCE,
    login::sign_in_at_provider,
    notes_api::NotesApi,
    walk::{is_signed_in, live, location, sign_in as hostile_sign_in, sign_out, user_status},
};

const PREFIX: &str = "/api/remote/notes";

/// `app` with the notes API at `/api/remote/notes`, taking the local
/// provider's tokens unless the test's own settings say otherwise.
async fn with_notes(
    app: crate::harness::TestAppBuilder<crate::harness::Local>,
) -> (TestApp, NotesApi) {
    let notes = NotesApi::start().await;
    let app = app
        .default_vars(&[
            ("REMOTE_APIS", "notes"),
            ("API_NOTES_URL", &notes.url),
            ("API_NOTES_PROVIDER", "local"),
        ])
        .spawn()
        .await;
    notes.trust(&app.idp.issuer).await;
    (app, notes)
}

/// A browser signed in as `login` at the local provider.
async fn signed_in(app: &TestApp, login: &str) -> Client {
    let client = browser();
    let callback = sign_in_at_provider(&client, app, login, "/").await;
    let back = client.get(&callback).send().await.unwrap();
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    client
}

/// A call from the app's own page: same-origin `Origin`.
fn call(client: &Client, app: &TestApp, method: Method, path: &str) -> reqwest::RequestBuilder {
    client
        .request(method, format!("{}{PREFIX}{path}", app.url))
        .header(header::ORIGIN, &app.url)
}

/// `GET <prefix><path>` from the app's own page; the status and JSON.
async fn get_json(client: &Client, app: &TestApp, path: &str) -> (StatusCode, Value) {
    json_of(call(client, app, Method::GET, path).send().await.unwrap()).await
}

async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn a_signed_in_call_reaches_the_api_with_the_users_token_which_never_reaches_the_browser() {
    let (app, notes) = with_notes(TestApp::local()).await;
    let client = signed_in(&app, "demo").await;

    let (status, body) = get_json(&client, &app, "/notes").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "owner": "demo-user-1", "notes": [] }));

    let added = call(&client, &app, Method::POST, "/notes")
        .json(&json!({ "text": "buy milk" }))
        .send()
        .await
        .unwrap();
    let headers = format!("{:?}", added.headers());
    let (status, body) = json_of(added).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["notes"], json!(["buy milk"]));

    // A script may prove itself with X-CSRF instead of Origin.
    let (status, body) = json_of(
        client
            .get(format!("{}{PREFIX}/notes", app.url))
            .header("x-csrf", "1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["notes"], json!(["buy milk"]));

    let tokens = notes.tokens();
    assert_eq!(tokens.len(), 1, "one token, still fresh");
    let seen = format!("{headers} {body}");
    assert!(!seen.contains(&tokens[0]), "the token reached the browser");
    assert!(
        !crate::log_capture::text().contains(&tokens[0]),
        "the token is in the log"
    );
}

#[tokio::test]
async fn anonymous_and_signed_out_calls_get_401_json_and_never_reach_the_api() {
    let (app, notes) = with_notes(TestApp::local()).await;
    let (status, body) = json_of(
        call(&browser(), &app, Method::GET, "/notes")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "PC-AUTH-401", "{body}");

    let client = signed_in(&app, "demo").await;
    sign_out(&client, &app.url).await;
    // A page navigation too gets JSON, never a redirect to sign in.
    let (status, body) = json_of(
        call(&client, &app, Method::GET, "/notes")
            .header(header::ACCEPT, "text/html")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "PC-AUTH-401", "{body}");
    assert_eq!(notes.requests(), 0);
}

#[tokio::test]
async fn a_call_without_an_anti_forgery_proof_is_refused_whatever_its_method() {
    let (app, notes) = with_notes(TestApp::local()).await;
    let client = signed_in(&app, "demo").await;
    for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
        let url = format!("{}{PREFIX}/notes", app.url);
        let attempts = [
            client
                .request(method.clone(), &url)
                .header(header::ORIGIN, "https://evil.test"),
            client
                .request(method.clone(), &url)
                .header("sec-fetch-site", "cross-site"),
            client.request(method.clone(), &url).header("x-csrf", "0"),
            client
                .request(method.clone(), &url)
                .header(header::ORIGIN, "https://evil.test")
                .header("x-csrf", "1"),
            client.request(method.clone(), &url),
        ];
        for attempt in attempts {
            let (status, body) = json_of(attempt.send().await.unwrap()).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method}: {body}");
            assert_eq!(body["error"], "PC-SEC-403", "{method}: {body}");
        }
    }
    assert_eq!(notes.requests(), 0);
}

#[tokio::test]
async fn cookies_authorization_and_hop_by_hop_headers_stay_on_their_side() {
    let (app, notes) = with_notes(TestApp::local()).await;
    let client = signed_in(&app, "demo").await;
    let answer = call(&client, &app, Method::GET, "/echo?x=1")
        // The session cookie goes along, as from any page.
        .header(header::AUTHORIZATION, "Bearer from-the-browser")
        .header(header::CONNECTION, "x-hop")
        .header("x-hop", "secret")
        .header("x-request-id", "abc")
        .header("x-forwarded-for", "10.0.0.1")
        .header("x-original-url", "/admin")
        .header("x-http-method-override", "DELETE")
        .send()
        .await
        .unwrap();
    // What the upstream tried to do to the whole site did not pass.
    let back = answer.headers().clone();
    for gone in ["set-cookie", "clear-site-data", "x-portcullis-error"] {
        assert!(back.get(gone).is_none(), "{gone} came back: {back:?}");
    }
    assert_eq!(
        back["cache-control"], "private, no-store",
        "made with the user's token"
    );
    assert!(
        back["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("sandbox;"),
        "{back:?}"
    );
    assert_eq!(
        back["x-frame-options"], "DENY",
        "the site's own, not the upstream's"
    );
    assert!(back.get("strict-transport-security").is_none(), "{back:?}");
    let (status, seen) = json_of(answer).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    let token = notes.tokens()[0].clone();
    assert_eq!(seen["authorization"], format!("Bearer {token}"));
    assert_eq!(seen["x-request-id"], "abc", "end-to-end headers pass");
    for gone in [
        "cookie",
        "x-hop",
        "x-csrf",
        "x-forwarded-for",
        "x-original-url",
        "x-http-method-override",
    ] {
        assert!(seen.get(gone).is_none(), "{gone} was forwarded: {seen}");
    }
    assert!(notes.last_request().get(header::COOKIE).is_none());

    let trace = call(&client, &app, Method::TRACE, "/echo")
        .send()
        .await
        .unwrap();
    assert_eq!(trace.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(trace.headers()["allow"].to_str().unwrap().contains("PATCH"));
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_for_fifty_concurrent_calls() {
    let (app, notes) = with_notes(TestApp::local().access_token_ttl(4).vars(&[
        ("BACKGROUND_REFRESH_SECONDS", "0"),
        ("TOKEN_REFRESH_SKEW_SECONDS", "1"),
    ]))
    .await;
    let client = signed_in(&app, "demo").await;
    let (status, _) = get_json(&client, &app, "/notes").await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_secs(4)).await;

    let calls = (0..50).map(|_| call(&client, &app, Method::GET, "/notes").send());
    for answer in futures_util::future::join_all(calls).await {
        let (status, body) = json_of(answer.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(notes.tokens_seen(), 2, "the first token, and one refreshed");
}

#[tokio::test]
async fn an_api_that_refuses_the_token_gets_one_refresh_and_an_idempotent_call_one_retry() {
    let (app, notes) = with_notes(TestApp::local().var("BACKGROUND_REFRESH_SECONDS", "0")).await;
    let client = signed_in(&app, "demo").await;
    let get = || call(&client, &app, Method::GET, "/notes").send();
    assert_eq!(get().await.unwrap().status(), StatusCode::OK);

    notes.refuse_current_token();
    let (status, body) = json_of(get().await.unwrap()).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "retried with a refreshed token: {body}"
    );
    assert_eq!(notes.tokens_seen(), 2);
}

#[tokio::test]
async fn a_refused_post_is_never_sent_twice_and_refusals_refresh_at_most_once_a_minute() {
    let (app, notes) = with_notes(TestApp::local().var("BACKGROUND_REFRESH_SECONDS", "0")).await;
    let client = signed_in(&app, "demo").await;
    let get = || call(&client, &app, Method::GET, "/notes").send();
    assert_eq!(get().await.unwrap().status(), StatusCode::OK);

    // A POST is not replayed: the token is refreshed, the call answered 401.
    notes.refuse_current_token();
    let (status, body) = json_of(
        call(&client, &app, Method::POST, "/notes")
            .json(&json!({ "text": "once" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "PC-API-401", "{body}");
    let (status, body) = json_of(get().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["notes"],
        json!([]),
        "the refused POST was not sent again"
    );
    assert_eq!(notes.tokens_seen(), 2);

    // An upstream that keeps refusing cannot make the provider refresh on
    // every call: not again within the minute, and the session stays.
    notes.refuse_current_token();
    let (status, body) = json_of(get().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "PC-API-401", "{body}");
    assert_eq!(notes.tokens_seen(), 2, "no second refresh");
    assert_eq!(user_status(&client, &app.url).await, StatusCode::OK);
}

/// `app` with the notes API naming its resource and `scopes`, the API
/// taking only tokens meant for that resource carrying `notes:read`.
async fn with_resource_notes(
    app: crate::harness::TestAppBuilder<crate::harness::Local>,
    scopes: &str,
) -> (TestApp, NotesApi) {
    let app = app.vars(&[
        ("API_NOTES_RESOURCE", NOTES_RESOURCE),
        ("API_NOTES_SCOPES", scopes),
    ]);
    let (app, notes) = with_notes(app).await;
    notes.require_audience(NOTES_RESOURCE, "notes:read");
    (app, notes)
}

#[tokio::test]
async fn an_api_naming_its_resource_gets_a_token_for_that_audience_and_its_scopes_alone() {
    let (app, notes) = with_resource_notes(TestApp::local(), "notes:read notes:write").await;

    // The authorization request names the resource and asks for its
    // scopes (RFC 8707 §2.1), so signing in grants them.
    let start = browser()
        .get(format!("{}/auth/sign-in/local", app.url))
        .send()
        .await
        .unwrap();
    let authorize = url::Url::parse(&location(&app.url, &start)).unwrap();
    let query: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
    assert!(
        query.contains(&("resource".into(), NOTES_RESOURCE.into())),
        "{authorize}"
    );
    let scope = &query.iter().find(|(k, _)| k == "scope").unwrap().1;
    for wanted in ["openid", "notes:read", "notes:write"] {
        assert!(scope.split(' ').any(|s| s == wanted), "{scope}");
    }

    let client = signed_in(&app, "demo").await;
    let (status, body) = get_json(&client, &app, "/notes").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let added = call(&client, &app, Method::POST, "/notes")
        .json(&json!({ "text": "for the resource" }))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::CREATED);

    // What the provider says about the token the API was shown: meant
    // for the resource, with its scopes and nothing of the sign-in's.
    let seen = notes.introspected();
    let last = seen.last().unwrap();
    assert_eq!(last["aud"], NOTES_RESOURCE, "{last}");
    let mut scopes: Vec<&str> = last["scope"].as_str().unwrap().split(' ').collect();
    scopes.sort();
    assert_eq!(scopes, ["notes:read", "notes:write"], "{last}");
    assert_eq!(notes.tokens_seen(), 1, "one token, kept for both calls");

    // The session's own token is still the sign-in's, good for userinfo.
    let (status, profile) = live(&client, &app.url).await;
    assert_eq!(status, StatusCode::OK, "{profile}");
}

#[tokio::test]
async fn an_api_that_does_not_name_its_resource_is_refused_by_a_server_that_checks_the_audience() {
    let (app, notes) = with_notes(TestApp::local()).await;
    notes.require_audience(NOTES_RESOURCE, "notes:read");
    let client = signed_in(&app, "demo").await;

    let (status, body) = get_json(&client, &app, "/notes").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "PC-API-401", "{body}");
    let introspected = notes.introspected();
    assert!(!introspected.is_empty(), "the API was shown a token");
    assert!(
        introspected
            .iter()
            .all(|answer| answer["aud"] != NOTES_RESOURCE)
    );
    assert_eq!(user_status(&client, &app.url).await, StatusCode::OK);
}

#[tokio::test]
async fn the_apis_own_token_is_renewed_once_for_fifty_calls_and_the_rotated_refresh_token_kept() {
    let (app, notes) = with_resource_notes(
        TestApp::local().access_token_ttl(4).vars(&[
            ("BACKGROUND_REFRESH_SECONDS", "0"),
            ("TOKEN_REFRESH_SKEW_SECONDS", "1"),
        ]),
        "notes:read",
    )
    .await;
    let client = signed_in(&app, "demo").await;
    let (status, _) = get_json(&client, &app, "/notes").await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_secs(4)).await;

    // Fifty API calls and five pages needing the session's own (also
    // expired) token at once: each grant rotates the refresh token, and
    // the provider ends the whole grant when a spent one comes back, so
    // every renewal must use the latest.
    let calls = (0..50).map(|_| call(&client, &app, Method::GET, "/notes").send());
    let pages = (0..5).map(|_| live(&client, &app.url));
    let (calls, pages) = tokio::join!(
        futures_util::future::join_all(calls),
        futures_util::future::join_all(pages)
    );
    for answer in calls {
        let (status, body) = json_of(answer.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    for (status, profile) in pages {
        assert_eq!(status, StatusCode::OK, "{profile}");
    }
    assert_eq!(notes.tokens_seen(), 2, "the first token, and one renewed");
    let (status, body) = get_json(&client, &app, "/notes").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(user_status(&client, &app.url).await, StatusCode::OK);
}

#[tokio::test]
async fn an_api_token_refused_upstream_is_renewed_once_and_the_call_retried() {
    let (app, notes) = with_resource_notes(
        TestApp::local().var("BACKGROUND_REFRESH_SECONDS", "0"),
        "notes:read",
    )
    .await;
    let client = signed_in(&app, "demo").await;
    assert_eq!(get_json(&client, &app, "/notes").await.0, StatusCode::OK);

    notes.refuse_current_token();
    let (status, body) = get_json(&client, &app, "/notes").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "retried with a renewed token: {body}"
    );
    assert_eq!(notes.tokens_seen(), 2);
    let last = notes.introspected().pop().unwrap();
    assert_eq!(last["aud"], NOTES_RESOURCE, "{last}");
}

#[tokio::test]
async fn scopes_the_provider_will_not_grant_get_pc_api_001_and_the_session_stays() {
    // "notes:admin" is not one of the resource's scopes at the provider;
    // without a resource, "notes:read" is no scope it grants at all.
    for (resource, scopes) in [
        (Some(NOTES_RESOURCE), "notes:read notes:admin"),
        (None, "notes:read"),
    ] {
        let mut app = TestApp::local().var("API_NOTES_SCOPES", scopes);
        if let Some(resource) = resource {
            app = app.var("API_NOTES_RESOURCE", resource);
        }
        let (app, notes) = with_notes(app).await;
        let client = signed_in(&app, "demo").await;

        let (status, body) = get_json(&client, &app, "/notes").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{scopes}: {body}");
        assert_eq!(body["error"], "PC-API-001", "{scopes}: {body}");
        assert_eq!(notes.requests(), 0, "{scopes}: no token was sent");
        assert_eq!(user_status(&client, &app.url).await, StatusCode::OK);
        let (status, profile) = live(&client, &app.url).await;
        assert_eq!(status, StatusCode::OK, "{scopes}: {profile}");
    }
}

#[tokio::test]
async fn an_api_token_granted_fewer_scopes_than_the_api_needs_is_never_sent_and_the_session_stays()
{
    type Tamper = fn(&mut serde_json::Map<String, Value>, &crate::hostile_idp::Context);
    // The granted scopes in the shapes providers send them (RFC 6749's
    // spaces, GitHub's commas, an array, or left unsaid: "as asked"; a
    // shape no provider uses grants nothing), and whether they cover
    // "notes:read notes:write".
    let grants: [(Tamper, bool); 8] = [
        (
            |r, _| drop(r.insert("scope".into(), json!("notes:read"))),
            false,
        ),
        (
            |r, _| drop(r.insert("scope".into(), json!("notes:read,openid"))),
            false,
        ),
        (
            |r, _| drop(r.insert("scope".into(), json!(["notes:write"]))),
            false,
        ),
        (
            |r, _| {
                drop(r.insert(
                    "scope".into(),
                    json!({ "notes:read": true, "notes:write": true }),
                ))
            },
            false,
        ),
        (
            |r, _| drop(r.insert("scope".into(), json!("openid notes:write notes:read"))),
            true,
        ),
        (
            |r, _| drop(r.insert("scope".into(), json!("notes:read,notes:write"))),
            true,
        ),
        (
            |r, _| drop(r.insert("scope".into(), json!(["notes:write", "notes:read"]))),
            true,
        ),
        (|r, _| drop(r.remove("scope")), true),
    ];
    for (case, (refresh_response, covered)) in grants.into_iter().enumerate() {
        let notes = NotesApi::start().await;
        // The session's own token expires at once, so a page that needs it
        // refreshes it (with whatever refresh token was kept).
        let script = Script {
            refresh_response,
            access_token_ttl: 1,
            ..Script::default()
        };
        let rig = TestApp::hostile(script)
            .vars(&[
                ("BACKGROUND_REFRESH_SECONDS", "0"),
                ("REMOTE_APIS", "notes"),
                ("API_NOTES_URL", &notes.url),
                ("API_NOTES_PROVIDER", "hostile"),
                ("API_NOTES_SCOPES", "notes:read notes:write"),
            ])
            .spawn()
            .await;
        let client = browser();
        assert_eq!(hostile_sign_in(&rig, &client).await, "/");
        let notes_call = || {
            client
                .get(format!("{}{PREFIX}/notes", rig.url))
                .header(header::ORIGIN, &rig.url)
                .send()
        };

        let (_, body) = json_of(notes_call().await.unwrap()).await;
        let calls = rig.idp.calls();
        if covered {
            // The notes API does not trust this provider and refuses the
            // token; what matters is that it was shown the API's own, the
            // first one issued after the sign-in's.
            let api_token = calls.issued_access_tokens.get(1);
            assert_eq!(notes.tokens().first(), api_token, "case {case}: {body}");
            continue;
        }
        assert_eq!(calls.refreshes, 1, "case {case}: one grant for the API");
        assert_eq!(body["error"], "PC-API-001", "case {case}: {body}");
        assert_eq!(notes.requests(), 0, "case {case}: no token was sent");
        // The refusal is remembered: a page that polls does not make the
        // provider refuse on every call.
        let (status, body) = json_of(notes_call().await.unwrap()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "case {case}: {body}");
        assert_eq!(body["error"], "PC-API-001", "case {case}: {body}");
        assert_eq!(rig.idp.calls().refreshes, 1, "case {case}");
        // The refresh token that grant rotated was kept: the session's own
        // token is refreshed with it (a spent one would end the session).
        let (status, profile) = live(&client, &rig.url).await;
        assert_eq!(status, StatusCode::OK, "case {case}: {profile}");
        let calls = rig.idp.calls();
        assert_eq!(calls.refreshes, 2, "case {case}");
        assert_ne!(calls.refresh_tokens_used[0], calls.refresh_tokens_used[1]);
        assert!(is_signed_in(&rig, &client).await, "case {case}");
    }
}

#[tokio::test]
async fn a_redirect_is_handed_back_not_followed_and_never_points_at_this_site() {
    let (app, notes) = with_notes(TestApp::local()).await;
    let client = signed_in(&app, "demo").await;
    let location = |answer: &reqwest::Response| answer.headers()[header::LOCATION].clone();
    let moved = call(&client, &app, Method::GET, "/moved")
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), StatusCode::FOUND);
    assert_eq!(
        location(&moved),
        "https://elsewhere.test/notes",
        "elsewhere: as it came"
    );

    // Under the API's base: the same path under the prefix, so a browser
    // that follows it comes back through the proxy.
    let within = call(&client, &app, Method::GET, "/moved-within")
        .send()
        .await
        .unwrap();
    assert_eq!(within.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(location(&within), "/api/remote/notes/notes?from=moved");

    // To this site: the browser would follow it with our origin and its
    // proof (a 307 keeps the method and body), so it is refused.
    let here = format!("/moved-to?to={}/auth/logout", app.url);
    let (status, body) = get_json(&client, &app, &here).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error"], "PC-API-502", "{body}");
    assert_eq!(notes.requests(), 3, "none followed");
}

#[tokio::test]
async fn an_unreachable_api_is_502_and_a_slow_one_504_each_with_its_code() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let notes = NotesApi::start().await;
    let app = TestApp::local()
        .vars(&[
            ("REMOTE_APIS", "down,notes"),
            ("API_DOWN_URL", &closed_url),
            ("API_DOWN_PROVIDER", "local"),
            ("API_NOTES_PROVIDER", "local"),
            ("API_NOTES_URL", &notes.url),
            ("API_NOTES_TIMEOUT_SECONDS", "1"),
        ])
        .spawn()
        .await;
    notes.trust(&app.idp.issuer).await;
    let client = signed_in(&app, "demo").await;

    let down = client
        .get(format!("{}/api/remote/down/anything", app.url))
        .header(header::ORIGIN, &app.url)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(down).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error"], "PC-API-502", "{body}");

    let (status, body) = get_json(&client, &app, "/slow").await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(body["error"], "PC-API-504", "{body}");
    let log = crate::log_capture::text();
    for token in notes.tokens() {
        assert!(!log.contains(&token), "a token is in the log");
    }
}

/// `GET <path>` sent byte for byte (an HTTP client would normalise dot
/// segments away); the status and the whole answer.
async fn raw_get(app: &TestApp, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nOrigin: {}\r\nConnection: close\r\n\r\n",
        app.url
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let status = answer[9..12].parse().unwrap();
    (status, answer)
}

#[tokio::test]
async fn a_path_that_would_leave_the_apis_base_is_refused() {
    let (app, notes) = with_notes(TestApp::local()).await;
    for rest in [
        "/../admin",
        "/%2e%2e/admin",
        "/notes/%2E%2E/%2E%2E/admin",
        "/./notes",
        "/a%2fb",
        "/a%5cb",
        "/a\\b",
        "/..;/admin",
        "/notes;jsessionid=x",
        "/%252e%252e/admin",
    ] {
        let (status, answer) = raw_get(&app, &format!("{PREFIX}{rest}")).await;
        assert_eq!(status, 400, "{rest}: {answer}");
        assert!(answer.contains("PC-WEB-400"), "{rest}: {answer}");
    }
    assert_eq!(notes.requests(), 0);
}

#[tokio::test]
async fn bodies_over_the_configured_cap_are_refused_both_ways() {
    let (app, notes) = with_notes(TestApp::local().var("API_NOTES_MAX_BODY_BYTES", "100000")).await;
    let client = signed_in(&app, "demo").await;
    let (status, body) = json_of(
        call(&client, &app, Method::POST, "/upload")
            .body(vec![b'x'; 100_001])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"], "PC-API-413", "{body}");
    assert_eq!(notes.requests(), 0, "refused before it was sent");

    // Without a stated length, the stream is cut at the cap.
    let chunks =
        futures_util::stream::iter((0..4).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 40_000])));
    let (status, body) = json_of(
        call(&client, &app, Method::POST, "/upload")
            .body(reqwest::Body::wrap_stream(chunks))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");

    let (status, body) = get_json(&client, &app, "/download/100001").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error"], "PC-API-502", "{body}");
    let within = call(&client, &app, Method::GET, "/download/100000")
        .send()
        .await
        .unwrap();
    assert_eq!(within.bytes().await.unwrap().len(), 100_000);
}

/// The server process's peak resident memory (`VmHWM`), in KiB.
fn peak_memory_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn a_hundred_megabytes_stream_up_and_down_in_bounded_memory() {
    const SIZE: u64 = 100 * 1024 * 1024;
    let notes = NotesApi::start().await;
    let app = TestApp::local()
        .vars(&[
            ("REMOTE_APIS", "notes"),
            ("API_NOTES_URL", &notes.url),
            ("API_NOTES_PROVIDER", "local"),
        ])
        .spawn_binary()
        .await;
    notes.trust(&app.idp.issuer).await;
    let client = signed_in(&app, "demo").await;
    let pid = app.pid().unwrap();
    // Warm: the first proxied call, so only the transfers' own cost counts.
    let (status, _) = get_json(&client, &app, "/notes").await;
    assert_eq!(status, StatusCode::OK);
    let before = peak_memory_kib(pid);

    let down = call(&client, &app, Method::GET, &format!("/download/{SIZE}"))
        .send()
        .await
        .unwrap();
    assert_eq!(down.status(), StatusCode::OK);
    let mut received = 0u64;
    let mut stream = down.bytes_stream();
    while let Some(chunk) = stream.next().await {
        received += chunk.unwrap().len() as u64;
    }
    assert_eq!(received, SIZE);

    const CHUNK: usize = 256 * 1024;
    let chunks = futures_util::stream::iter(
        (0..SIZE as usize / CHUNK).map(|_| Ok::<_, std::io::Error>(vec![b'u'; CHUNK])),
    );
    let (status, body) = json_of(
        call(&client, &app, Method::POST, "/upload")
            .header(header::CONTENT_LENGTH, SIZE)
            .body(reqwest::Body::wrap_stream(chunks))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["bytes"], SIZE);

    let grown_mib = peak_memory_kib(pid).saturating_sub(before) / 1024;
    assert!(
        grown_mib < 32,
        "the server's peak memory grew by {grown_mib} MiB moving 2 × 100 MiB"
    );
}

#[tokio::test]
async fn an_api_refusing_a_token_that_cannot_be_renewed_answers_401_and_the_session_stays() {
    // GitHub's tokens have no refresh token, and the notes API takes only
    // the local provider's: a refusal must not end the GitHub session.
    let (app, notes) = with_notes(
        TestApp::local()
            .github(0)
            .var("API_NOTES_PROVIDER", "github"),
    )
    .await;
    let client = browser();
    assert_eq!(sign_in_with_github(&client, &app, "octocat").await, "/");
    let (status, body) = get_json(&client, &app, "/notes").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "PC-API-401", "{body}");
    assert_eq!(notes.requests(), 1, "sent once, not retried");
    assert_eq!(
        user_status(&client, &app.url).await,
        StatusCode::OK,
        "still signed in"
    );
}

#[tokio::test]
async fn an_api_with_scopes_of_its_own_at_a_provider_without_refresh_tokens_is_001_and_the_session_stays()
 {
    // GitHub's tokens have no refresh token to ask for a narrower one.
    let (app, notes) = with_notes(TestApp::local().github(0).vars(&[
        ("API_NOTES_PROVIDER", "github"),
        ("API_NOTES_SCOPES", "read:user"),
    ]))
    .await;
    let client = browser();
    assert_eq!(sign_in_with_github(&client, &app, "octocat").await, "/");
    let (status, body) = get_json(&client, &app, "/notes").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "PC-API-001", "{body}");
    assert_eq!(notes.requests(), 0);
    assert_eq!(user_status(&client, &app.url).await, StatusCode::OK);
}

#[tokio::test]
async fn an_api_that_takes_one_providers_tokens_refuses_other_sessions_and_the_page_hides_it() {
    let (app, notes) = with_notes(
        TestApp::local()
            .github(0)
            .var("API_NOTES_PROVIDER", "local"),
    )
    .await;
    let github = browser();
    sign_in_with_github(&github, &app, "octocat").await;
    let (status, body) = get_json(&github, &app, "/notes").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "PC-API-403", "{body}");
    assert_eq!(notes.requests(), 0);

    let profile = |client: Client| {
        let url = format!("{}/profile", app.url);
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    assert!(
        !profile(github).await.contains("Your notes"),
        "no card it cannot use"
    );
    let local = signed_in(&app, "demo").await;
    assert!(profile(local).await.contains("Your notes"));
}

#[tokio::test]
async fn the_profile_page_has_no_notes_card_where_no_notes_api_is_configured() {
    let app = TestApp::local().spawn().await;
    let client = signed_in(&app, "demo").await;
    let page = client
        .get(format!("{}/profile", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Dana Demo"), "{page}");
    assert!(!page.contains("Your notes"), "{page}");
}
