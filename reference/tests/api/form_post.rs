//! Callbacks a provider posts from its own page (`response_mode=form_post`),
//! through the real local identity provider: the cross-site post comes
//! without the `SameSite=Lax` session cookie, so Portcullis answers it
//! with a page that posts the same fields again from its own site, where
//! the cookie comes along; only that same-origin post is read as the
//! callback, checked like any other.

use reqwest::{Client, StatusCode, Url, header};

use crate::harness::{TestApp, browser};
use crate::login::follow;
use crate::walk::{location, user_status};

/// The hidden fields of the first form in `html`, and where it posts.
fn form_of(html: &str) -> (String, Vec<(String, String)>) {
    let attribute = |tag: &str, name: &str| {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let end = tag[start..].find('"')? + start;
        Some(
            tag[start..end]
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&#39;", "'")
                .replace("&amp;", "&"),
        )
    };
    let form_tag = html.split("<form").nth(1).expect("a form");
    let action = attribute(form_tag, "action").expect("an action");
    let fields = html
        .split("<input")
        .skip(1)
        .filter_map(|tag| Some((attribute(tag, "name")?, attribute(tag, "value")?)))
        .collect();
    (action, fields)
}

/// Signs in at the local provider up to its form_post page; returns the
/// provider's page (the form it would post to our callback).
async fn to_the_providers_form(client: &Client, app: &TestApp, login: &str) -> String {
    let start = client
        .get(format!("{}/auth/sign-in/local", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let authorize = location(&app.url, &start);
    let query: Vec<(String, String)> = Url::parse(&authorize)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert!(
        query.contains(&("response_mode".into(), "form_post".into())),
        "{authorize}"
    );
    let callback = format!("{}/auth/callback/local", app.url);
    let (page_url, page) = follow(client, authorize, &callback).await;
    assert_eq!(page.status(), StatusCode::OK);
    let form = [("prompt", "login"), ("login", login), ("password", "any")];
    let posted = client.post(&page_url).form(&form).send().await.unwrap();
    let (consent_url, consent) = follow(client, location(&page_url, &posted), &callback).await;
    let html = consent.text().await.unwrap();
    if html.contains("value=\"consent\"") {
        let posted = client
            .post(&consent_url)
            .form(&[("prompt", "consent")])
            .send()
            .await
            .unwrap();
        let (_, form_page) = follow(client, location(&consent_url, &posted), &callback).await;
        assert_eq!(form_page.status(), StatusCode::OK);
        return form_page.text().await.unwrap();
    }
    html
}

#[tokio::test]
async fn a_form_post_callback_is_carried_to_this_site_and_signs_the_user_in() {
    let app = TestApp::local()
        .var("LOCAL_RESPONSE_MODE", "form_post")
        .spawn()
        .await;
    let client = browser();
    let providers_page = to_the_providers_form(&client, &app, "demo").await;
    let (action, fields) = form_of(&providers_page);
    assert_eq!(action, format!("{}/auth/callback/local", app.url));
    assert!(
        fields.iter().any(|(name, _)| name == "code"),
        "{providers_page}"
    );

    // The provider's page posts cross-site: the browser keeps the Lax
    // session cookie back, and Origin names the provider.
    let cross_site = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let relayed = cross_site
        .post(&action)
        .header(header::ORIGIN, &app.idp.issuer)
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(relayed.status(), StatusCode::OK);
    assert_eq!(relayed.headers()[header::CACHE_CONTROL], "no-store");
    let relay_page = relayed.text().await.unwrap();
    let (again, carried) = form_of(&relay_page);
    assert_eq!(again, "/auth/callback/local");
    for field in &fields {
        if ["code", "state", "iss"].contains(&field.0.as_str()) {
            assert!(carried.contains(field), "{field:?} in {relay_page}");
        }
    }
    // Nothing was redeemed by that post: the code still works below.

    // The relay page posts from this site, with the session cookie.
    let back = client
        .post(format!("{}{again}", app.url))
        .header(header::ORIGIN, &app.url)
        .form(&carried)
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    assert_eq!(back.headers()[header::LOCATION], "/");
    assert_eq!(user_status(&client, &app.url).await, StatusCode::OK);
}

/// Posts `fields` to `action` with `headers`; where the answer goes (a
/// redirect), or "relay" for the page that posts them again.
async fn post(
    client: &Client,
    action: &str,
    headers: &[(&str, &str)],
    fields: &[(String, String)],
) -> String {
    let mut request = client.post(action).form(fields);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let answer = request.send().await.unwrap();
    if answer.status() == StatusCode::OK {
        let page = answer.text().await.unwrap();
        assert!(page.contains("portcullis_relayed"), "{page}");
        return "relay".into();
    }
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    answer.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn only_a_same_origin_post_is_read_as_the_callback_and_nothing_else_signs_anyone_in() {
    let app = TestApp::local()
        .var("LOCAL_RESPONSE_MODE", "form_post")
        .spawn()
        .await;
    let victim = browser();
    let providers_page = to_the_providers_form(&victim, &app, "demo").await;
    let (action, fields) = form_of(&providers_page);
    let idp = app.idp.issuer.as_str();

    // Whatever a cross-site post carries (even this browser's cookie and
    // the right state), it only gets the page that posts it again; so does
    // a post that says nothing of where it comes from.
    for headers in [
        vec![("origin", idp)],
        vec![("origin", "null")],
        vec![("sec-fetch-site", "cross-site")],
        vec![],
    ] {
        assert_eq!(
            post(&victim, &action, &headers, &fields).await,
            "relay",
            "{headers:?}"
        );
    }
    // A post of that page arriving cross-site all the same is refused,
    // not relayed round again.
    let relay_page = victim
        .post(&action)
        .header(header::ORIGIN, idp)
        .form(&fields)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (_, carried) = form_of(&relay_page);
    let looped = post(&victim, &action, &[("origin", "null")], &carried).await;
    assert!(looped.starts_with("/error?code=PC-SEC-403"), "{looped}");

    // Another browser (no sign-in in progress of its own) posting from
    // this site: the state is not one it started.
    let other = browser();
    let to = post(&other, &action, &[("origin", &app.url)], &fields).await;
    assert!(to.starts_with("/error?code=PC-AUTH-002"), "{to}");
    assert_eq!(
        user_status(&other, &app.url).await,
        StatusCode::UNAUTHORIZED
    );

    // The browser that started it, from this site (its fetch metadata is
    // enough without an Origin), finishes; the same answer again does not
    // sign in twice.
    let same_site = [("sec-fetch-site", "same-origin")];
    assert_eq!(post(&victim, &action, &same_site, &fields).await, "/");
    let replay = post(&victim, &action, &[("origin", &app.url)], &fields).await;
    assert!(replay.starts_with("/error?code=PC-AUTH-002"), "{replay}");
}

#[tokio::test]
async fn a_posted_back_refusal_is_the_cancelled_page_and_uses_up_the_sign_in() {
    let app = TestApp::local()
        .var("LOCAL_RESPONSE_MODE", "form_post")
        .spawn()
        .await;
    let client = browser();
    let start = client
        .get(format!("{}/auth/sign-in/local", app.url))
        .send()
        .await
        .unwrap();
    let authorize = location(&app.url, &start);
    let state = Url::parse(&authorize)
        .unwrap()
        .query_pairs()
        .find(|(key, _)| key == "state")
        .unwrap()
        .1
        .into_owned();
    let action = format!("{}/auth/callback/local", app.url);
    let refusal = [
        ("error".to_owned(), "access_denied".to_owned()),
        ("state".to_owned(), state),
    ];
    let to = post(&client, &action, &[("origin", &app.url)], &refusal).await;
    assert!(to.starts_with("/error?code=PC-AUTH-001"), "{to}");
    let again = post(&client, &action, &[("origin", &app.url)], &refusal).await;
    assert!(again.starts_with("/error?code=PC-AUTH-002"), "{again}");
}
