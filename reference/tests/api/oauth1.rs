//! OAuth 1.0a (RFC 5849), the `twitter` preset, against a real provider
//! implementation started for each test: oauthlib's provider side
//! (`end2end/oauth1-provider/server.py`), which checks every signature,
//! timestamp and nonce itself.

use reqwest::{Client, StatusCode, Url, header};
use serde_json::Value;

use crate::harness::{TestApp, browser};
use crate::node_service::NodeService;
use crate::walk::{live, location};

const CONSUMER_KEY: &str = "portcullisdevconsumerkey";
const CONSUMER_SECRET: &str = "portcullis-dev-consumer-secret";

struct Rig {
    app: TestApp<()>,
    provider: String,
    _service: NodeService,
}

/// The provider (with `provider_env`) and the app signing in with it as
/// `twitter` (with `app_vars`).
async fn start(provider_env: &[(&str, &str)], app_vars: &[(&str, &str)]) -> Rig {
    let mut env: Vec<(&str, String)> = vec![
        ("OAUTH1_CONSUMER_KEY", CONSUMER_KEY.to_owned()),
        ("OAUTH1_CONSUMER_SECRET", CONSUMER_SECRET.to_owned()),
        // The app's port is not known yet.
        ("OAUTH1_CALLBACK_PREFIX", "http://127.0.0.1:".to_owned()),
        ("OAUTH1_TEST_CONTROLS", "1".to_owned()),
    ];
    env.extend(provider_env.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let service =
        NodeService::start_python("end2end/oauth1-provider/server.py", &env, "OAUTH1_READY").await;
    let provider = service.ready["url"].as_str().unwrap().to_owned();
    let app = TestApp::without_provider()
        .vars(&[
            ("AUTH_PROVIDERS", "twitter"),
            ("TWITTER_CLIENT_ID", CONSUMER_KEY),
            ("TWITTER_CLIENT_SECRET", CONSUMER_SECRET),
            ("TWITTER_API_URL", &provider),
            ("TWITTER_ISSUER", &provider),
        ])
        .vars(app_vars)
        .spawn()
        .await;
    Rig {
        app,
        provider,
        _service: service,
    }
}

/// Starts a sign-in; the provider's authorization page it sends the
/// browser to.
async fn start_sign_in(client: &Client, rig: &Rig) -> Result<String, String> {
    let url = format!("{}/auth/sign-in/twitter", rig.app.url);
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let next = location(&url, &response);
    if next.starts_with(&rig.provider) {
        Ok(next)
    } else {
        Err(next.trim_start_matches(&rig.app.url).to_owned())
    }
}

/// The person's decision at the provider; the callback it sends back.
async fn decide(client: &Client, rig: &Rig, authorize: &str, decision: &str) -> String {
    let page = client.get(authorize).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let token = Url::parse(authorize)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "oauth_token")
        .unwrap()
        .1
        .into_owned();
    let answer = client
        .post(format!("{}/oauth/authorize", rig.provider))
        .form(&[("oauth_token", token.as_str()), ("decision", decision)])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let callback = location(&rig.provider, &answer);
    assert!(
        callback.starts_with(&format!("{}/auth/callback/twitter?", rig.app.url)),
        "{callback}"
    );
    callback
}

/// Delivers the callback; where Portcullis sends the browser.
async fn deliver(client: &Client, callback: &str) -> String {
    let response = client.get(callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

async fn signed_in_user(client: &Client, rig: &Rig) -> Option<Value> {
    let answer = client
        .get(format!("{}/auth/user", rig.app.url))
        .send()
        .await
        .unwrap();
    (answer.status() == StatusCode::OK).then_some(answer.json().await.unwrap())
}

#[tokio::test]
async fn a_user_signs_in_with_oauth_1a_and_the_sealed_token_credentials_sign_api_calls() {
    let rig = start(&[], &[]).await;
    let client = browser();
    let authorize = start_sign_in(&client, &rig).await.unwrap();
    assert!(authorize.starts_with(&format!("{}/oauth/authenticate?oauth_token=", rig.provider)));
    let callback = decide(&client, &rig, &authorize, "allow").await;
    assert!(
        callback.contains("state=") && callback.contains("oauth_verifier="),
        "{callback}"
    );
    assert_eq!(deliver(&client, &callback).await, "/");

    let user = signed_in_user(&client, &rig).await.unwrap();
    assert_eq!(user["name"], "Olivia Oauth");
    assert_eq!(user["subject"], "783214");
    assert_eq!(user["issuer"], rig.provider.as_str());
    assert_eq!(user["email"], "olivia@oauth1.portcullis.test");
    assert_eq!(user["email_verified"], true);
    assert_eq!(
        rig.app.database.count("token_vault").await,
        1,
        "sealed in the vault"
    );

    // The provider's API, called server-side with the token credentials:
    // each call signed anew, which the provider checks (its nonces are
    // single-use, so a second call with a reused one would fail).
    for _ in 0..2 {
        let (status, profile) = live(&client, &rig.app.url).await;
        assert_eq!(status, StatusCode::OK, "{profile}");
        assert!(profile.to_string().contains("olivia"), "{profile}");
    }
}

#[tokio::test]
async fn a_replayed_signed_request_is_refused_by_the_provider() {
    let rig = start(&[], &[]).await;
    let client = browser();
    let authorize = start_sign_in(&client, &rig).await.unwrap();
    let callback = decide(&client, &rig, &authorize, "allow").await;
    assert_eq!(deliver(&client, &callback).await, "/");
    // The API request Portcullis signed at sign-in, sent again as it was:
    // the provider refuses the nonce it has seen, so every call that
    // passes (two in a row in the test above) carried a fresh one.
    let received: Vec<Value> = reqwest::get(format!("{}/__test/requests", rig.provider))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let signed = received.last().unwrap();
    let replay = Client::new()
        .get(signed["url"].as_str().unwrap())
        .header(
            header::AUTHORIZATION,
            signed["authorization"].as_str().unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    let authorization = signed["authorization"].as_str().unwrap();
    assert!(authorization.contains("oauth_signature_method=\"HMAC-SHA1\""));
    assert!(!authorization.contains(CONSUMER_SECRET));
}

#[tokio::test]
async fn a_denied_authorization_ends_on_the_cancelled_page_and_no_one_signs_in() {
    let rig = start(&[], &[]).await;
    let client = browser();
    let authorize = start_sign_in(&client, &rig).await.unwrap();
    let callback = decide(&client, &rig, &authorize, "deny").await;
    assert!(callback.contains("denied="), "{callback}");
    assert_eq!(
        deliver(&client, &callback).await,
        "/error?code=PC-AUTH-001&provider=twitter"
    );
    assert!(signed_in_user(&client, &rig).await.is_none());
}

#[tokio::test]
async fn a_wrong_signature_or_an_expired_timestamp_is_refused_and_ends_on_a_clear_page() {
    // The app signs with another secret than the provider knows.
    let rig = start(&[], &[("TWITTER_CLIENT_SECRET", "not-the-consumer-secret")]).await;
    assert_eq!(
        start_sign_in(&browser(), &rig).await.unwrap_err(),
        "/error?code=PC-AUTH-003&provider=twitter"
    );
    // The provider's clock is an hour ahead: every timestamp looks expired.
    let rig = start(&[("OAUTH1_CLOCK_OFFSET", "3600")], &[]).await;
    assert_eq!(
        start_sign_in(&browser(), &rig).await.unwrap_err(),
        "/error?code=PC-AUTH-003&provider=twitter"
    );
}

#[tokio::test]
async fn a_callback_naming_other_temporary_credentials_signs_no_one_in() {
    let rig = start(&[], &[]).await;
    let client = browser();
    let authorize = start_sign_in(&client, &rig).await.unwrap();
    let callback = decide(&client, &rig, &authorize, "allow").await;
    let mut forged = Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = forged
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "oauth_token" {
                "someoneelsestoken00000".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    assert_eq!(
        deliver(&client, forged.as_str()).await,
        "/error?code=PC-AUTH-002&provider=twitter"
    );
    assert!(signed_in_user(&client, &rig).await.is_none());
    // Used up: the real callback does not work afterwards either.
    assert_eq!(
        deliver(&client, &callback).await,
        "/error?code=PC-AUTH-002&provider=twitter"
    );
}

#[tokio::test]
async fn plaintext_signatures_sign_in_where_a_provider_takes_them() {
    let rig = start(&[], &[("TWITTER_SIGNATURE_METHOD", "PLAINTEXT")]).await;
    let client = browser();
    let authorize = start_sign_in(&client, &rig).await.unwrap();
    let callback = decide(&client, &rig, &authorize, "allow").await;
    assert_eq!(deliver(&client, &callback).await, "/");
    assert_eq!(
        signed_in_user(&client, &rig).await.unwrap()["name"],
        "Olivia Oauth"
    );
}

#[tokio::test]
async fn a_step_up_asks_x_for_the_password_again_and_other_parameters_are_refused() {
    let rig = start(&[], &[]).await;
    let started = |query: &str| {
        let url = format!("{}/auth/sign-in/twitter?{query}", rig.app.url);
        async move {
            let response = browser().get(&url).send().await.unwrap();
            location(&url, &response)
        }
    };
    // What a step-up (RecentSignIn) asks, in X's words.
    let authorize = started("max_age=300&login_hint=olivia").await;
    assert!(authorize.starts_with(&rig.provider), "{authorize}");
    assert!(
        authorize.contains("&force_login=true&screen_name=olivia"),
        "{authorize}"
    );
    for query in ["prompt=none", "acr_values=urn:loa:2"] {
        assert_eq!(
            started(query).await,
            format!("{}/error?code=PC-WEB-400&provider=twitter", rig.app.url),
            "{query}"
        );
    }
}

#[tokio::test]
async fn an_oauth_1a_session_gets_no_bearer_token_from_the_access_token_extractor() {
    use axum::{Router, body::Body, http::Request, routing::get};
    use portcullis::{AccessToken, Portcullis, ProviderConfig, testing};

    let settings = testing::settings_builder()
        .provider(ProviderConfig::new("twitter").client(CONSUMER_KEY, CONSUMER_SECRET))
        .build()
        .unwrap();
    let portcullis = Portcullis::start(settings).await.unwrap();
    let app = portcullis.mount(Router::new().route(
        "/call",
        get(|token: AccessToken| async move { token.expose().to_owned() }),
    ));
    let call = |cookie: String| {
        Request::get("/call")
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap()
    };
    let twitter = portcullis
        .sign_in_for_test(
            testing::TestUser::new("783214")
                .provider("twitter")
                .access_token("oauth_token=t&oauth_token_secret=never-sent-as-a-bearer-token"),
        )
        .await
        .unwrap();
    let refused = crate::oneshot::send(app.clone(), call(twitter.cookie().to_owned())).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("PC-API-403"), "{}", refused.body);
    assert!(!refused.body.contains("never-sent"));
    // A bearer-token provider's session gets its token.
    let other = portcullis
        .sign_in_for_test(testing::TestUser::new("dana").access_token("bearer-token"))
        .await
        .unwrap();
    let served = crate::oneshot::send(app, call(other.cookie().to_owned())).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.body, "bearer-token");
}
