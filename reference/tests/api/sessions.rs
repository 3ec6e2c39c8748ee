//! Session management: the profile lists the account's sessions and can
//! end any other; idle and absolute timeouts sign sessions out.

use std::time::Duration;

use reqwest::{Client, StatusCode, header};
use serde_json::json;

use crate::harness::{Rig, TestApp};
use crate::walk::{is_signed_in, sign_in};
use crate::{hostile_idp::Script, login::page};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

fn browser_as(user_agent: &str) -> Client {
    Client::builder()
        .user_agent(user_agent)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn login_id(rig: &Rig, user_agent: &str) -> String {
    let (id,): (String,) = sqlx::query_as("SELECT id FROM logins WHERE user_agent = $1")
        .bind(user_agent)
        .fetch_one(&rig.database.connect().await)
        .await
        .unwrap();
    id
}

async fn end(rig: &Rig, client: &Client, id: &str) -> reqwest::Response {
    client
        .post(format!("{}/auth/sessions/end", rig.url))
        .header(header::ORIGIN, &rig.url)
        .form(&[("id", id), ("return_to", "/profile")])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn ending_a_session_goes_back_to_the_page_named_and_never_off_site() {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let laptop = browser_as(FIREFOX);
    sign_in(&rig, &laptop).await;
    for (return_to, landed) in [
        (None, "/"),
        (Some("/settings?tab=sessions"), "/settings?tab=sessions"),
        (Some("https://evil.test/phish"), "/"),
        (Some("//evil.test"), "/"),
    ] {
        let phone = browser_as(CHROME);
        sign_in(&rig, &phone).await;
        let id = login_id(&rig, CHROME).await;
        let mut form = vec![("id", id.as_str())];
        form.extend(return_to.map(|to| ("return_to", to)));
        let ended = laptop
            .post(format!("{}/auth/sessions/end", rig.url))
            .header(header::ORIGIN, &rig.url)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(ended.headers()[header::LOCATION], landed, "{return_to:?}");
        assert!(!is_signed_in(&rig, &phone).await);
    }
}

#[tokio::test]
async fn the_profile_lists_every_session_and_ends_another_one() {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let (laptop, desktop) = (browser_as(FIREFOX), browser_as(CHROME));
    sign_in(&rig, &laptop).await;
    sign_in(&rig, &desktop).await;

    let (status, profile) = page(&laptop, format!("{}/profile", rig.url)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(profile.matches(r#"data-testid="session""#).count(), 2);
    assert_eq!(profile.matches(r#"data-current="true""#).count(), 1);
    assert!(profile.contains("Firefox on Linux"));
    assert!(profile.contains("This browser"));
    assert!(profile.contains("Chrome on Windows"));
    assert_eq!(
        profile.matches(r#"action="/auth/sessions/end""#).count(),
        1,
        "only the other one can be ended here"
    );

    let ended = end(&rig, &laptop, &login_id(&rig, CHROME).await).await;
    assert_eq!(ended.headers()[header::LOCATION], "/profile");
    assert!(
        !is_signed_in(&rig, &desktop).await,
        "the other browser is signed out"
    );
    assert!(is_signed_in(&rig, &laptop).await);
}

#[tokio::test]
async fn a_session_of_another_account_cannot_be_ended_nor_from_another_site() {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let victim = browser_as(FIREFOX);
    sign_in(&rig, &victim).await;
    let victim_login = login_id(&rig, FIREFOX).await;

    rig.idp.rescript(|script| {
        script.claims = |claims, _| {
            claims.insert("sub".into(), json!("someone-else"));
        };
        script.userinfo = |claims, _| {
            claims.insert("sub".into(), json!("someone-else"));
            claims.insert("email".into(), json!("else@hostile.test"));
        };
    });
    let attacker = browser_as(CHROME);
    assert_eq!(sign_in(&rig, &attacker).await, "/");
    end(&rig, &attacker, &victim_login).await;
    assert!(is_signed_in(&rig, &victim).await, "not theirs to end");

    let cross_site = victim
        .post(format!("{}/auth/sessions/end", rig.url))
        .header(header::ORIGIN, "https://evil.test")
        .form(&[("id", victim_login.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        cross_site.headers()[header::LOCATION],
        "/error?code=PC-SEC-403"
    );
    assert!(is_signed_in(&rig, &victim).await);
}

#[tokio::test]
async fn an_idle_session_is_signed_out_and_its_tokens_deleted() {
    let rig = TestApp::hostile(Script::default())
        .vars(&[("SESSION_IDLE_TIMEOUT_SECONDS", "1")])
        .spawn()
        .await;
    let client = browser_as(FIREFOX);
    sign_in(&rig, &client).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(!is_signed_in(&rig, &client).await);
}

#[tokio::test]
async fn a_session_in_use_outlives_its_idle_timeout() {
    let rig = TestApp::hostile(Script::default())
        .vars(&[("SESSION_IDLE_TIMEOUT_SECONDS", "3")])
        .spawn()
        .await;
    let client = browser_as(FIREFOX);
    sign_in(&rig, &client).await;
    // Twice the idle timeout, never idle for long.
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(750)).await;
        assert!(
            is_signed_in(&rig, &client).await,
            "in use, so never idle for 3 s"
        );
    }
}

#[tokio::test]
async fn a_session_past_its_absolute_lifetime_is_signed_out_though_in_use() {
    let rig = TestApp::hostile(Script::default())
        .vars(&[("SESSION_ABSOLUTE_TIMEOUT_SECONDS", "3")])
        .spawn()
        .await;
    let client = browser_as(FIREFOX);
    sign_in(&rig, &client).await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            is_signed_in(&rig, &client).await,
            "in use, within its lifetime"
        );
    }
    // Times are kept to the second: wait past 3 s whatever the rounding.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    assert!(!is_signed_in(&rig, &client).await);
    let (tokens,): (i64,) = sqlx::query_as("SELECT count(*) FROM token_vault")
        .fetch_one(&rig.database.connect().await)
        .await
        .unwrap();
    assert_eq!(tokens, 0, "its tokens went with it");
}

/// Waits until the provider has seen `count` revocations.
async fn revoked(rig: &Rig, count: usize) -> Vec<(String, String)> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let revoked = rig.idp.calls().revoked;
        if revoked.len() >= count || std::time::Instant::now() > deadline {
            return revoked;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The refresh tokens the provider issued, in order.
fn issued_refresh_tokens(rig: &Rig) -> Vec<String> {
    rig.idp
        .calls()
        .issued_tokens
        .into_iter()
        .filter(|t| t.starts_with("hostile-rt-"))
        .collect()
}

#[tokio::test]
async fn signing_in_again_in_a_signed_in_browser_ends_the_earlier_sign_in_and_another_accounts_grant()
 {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let client = browser_as(FIREFOX);
    assert_eq!(sign_in(&rig, &client).await, "/");
    assert_eq!(sign_in(&rig, &client).await, "/");
    assert!(is_signed_in(&rig, &client).await);
    assert_eq!(rig.database.count("logins").await, 1, "one session listed");
    assert_eq!(rig.database.count("token_vault").await, 1);
    // The same account again (a step-up, say): the provider's one grant
    // for this user goes on in the new tokens, so it is not revoked.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rig.idp.calls().revoked, []);

    // Another account in the same browser: the earlier one's grant ends.
    rig.idp.rescript(|script| {
        script.claims = |claims, _| {
            claims.insert("sub".into(), json!("another-user"));
        };
        script.userinfo = |claims, _| {
            claims.insert("email".into(), json!("another@hostile.test"));
        };
    });
    assert_eq!(sign_in(&rig, &client).await, "/");
    assert_eq!(rig.database.count("logins").await, 1);
    let earlier = issued_refresh_tokens(&rig)[1].clone();
    assert_eq!(
        revoked(&rig, 1).await,
        [(earlier, "refresh_token".to_owned())],
        "the other account's grant was revoked at the provider"
    );
}

#[tokio::test]
async fn ending_another_session_revokes_its_grant_at_the_provider() {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let (laptop, desktop) = (browser_as(FIREFOX), browser_as(CHROME));
    assert_eq!(sign_in(&rig, &laptop).await, "/");
    assert_eq!(sign_in(&rig, &desktop).await, "/");
    let desktop_grant = issued_refresh_tokens(&rig)[1].clone();
    let ended = end(&rig, &laptop, &login_id(&rig, CHROME).await).await;
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert!(!is_signed_in(&rig, &desktop).await);
    assert_eq!(
        revoked(&rig, 1).await,
        [(desktop_grant, "refresh_token".to_owned())]
    );
}

/// Seconds from now until each stored session record expires.
async fn record_lifetimes(rig: &Rig) -> Vec<i64> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let expiries: Vec<(i64,)> =
        sqlx::query_as("SELECT CAST(strftime('%s', expiry_date) AS INTEGER) FROM tower_sessions")
            .fetch_all(&rig.database.connect().await)
            .await
            .unwrap();
    expiries.into_iter().map(|(at,)| at - now).collect()
}

#[tokio::test]
async fn a_session_holding_only_sign_ins_in_progress_lives_the_sign_in_timeout() {
    let rig = TestApp::hostile(Script::default())
        .vars(&[("LOGIN_TIMEOUT_SECONDS", "120")])
        .spawn()
        .await;
    for _ in 0..5 {
        crate::walk::start(&rig, &browser_as(FIREFOX)).await;
    }
    // One more is cancelled at the provider: its callback saves the
    // session, which keeps the sign-in timeout.
    let cancelled = browser_as(FIREFOX);
    let authorize = crate::walk::start(&rig, &cancelled).await;
    let state = crate::walk::state_of(&authorize);
    cancelled
        .get(format!(
            "{}/auth/callback/hostile?error=access_denied&state={state}",
            rig.url
        ))
        .send()
        .await
        .unwrap();
    let lifetimes = record_lifetimes(&rig).await;
    assert!(lifetimes.len() <= 6, "{lifetimes:?}");
    assert!(
        lifetimes.iter().all(|secs| *secs <= 121),
        "anonymous records last the sign-in timeout: {lifetimes:?}"
    );
    // Signing in gives the session the idle timeout (eight hours).
    let client = browser_as(CHROME);
    assert_eq!(sign_in(&rig, &client).await, "/");
    let longest = record_lifetimes(&rig).await.into_iter().max().unwrap();
    assert!(longest > 8 * 3600 - 60, "{longest}");
}
