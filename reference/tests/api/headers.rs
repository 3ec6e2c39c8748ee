//! Security headers (SECURITY.md D8): a nonce-based script policy in every
//! page, a fresh nonce per response on every inline script, no framing, no
//! sniffing, a careful referrer policy, and HSTS over https.

use reqwest::header;

use crate::harness::{TestApp, browser};
use crate::hostile_idp::Script;

/// The nonce in a page's script policy.
fn policy_nonce(html: &str) -> String {
    let policy = html
        .split(r#"http-equiv="Content-Security-Policy" content=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no policy in the page: {html}"));
    assert!(policy.contains("script-src 'self' 'nonce-"), "{policy}");
    assert!(policy.contains("'strict-dynamic'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert!(policy.contains("object-src 'none'"), "{policy}");
    policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn every_page_carries_a_fresh_nonce_policy_and_every_inline_script_its_nonce() {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let client = browser();
    let mut nonces = Vec::new();
    for path in ["/", "/", "/profile", "/error?code=PC-AUTH-001"] {
        let page = client
            .get(format!("{}{path}", rig.url))
            .send()
            .await
            .unwrap();
        let html = page.text().await.unwrap();
        let nonce = policy_nonce(&html);
        let tags: Vec<&str> = html
            .split("<script")
            .skip(1)
            .map(|rest| rest.split('>').next().unwrap_or_default())
            .collect();
        assert!(!tags.is_empty(), "{path} has scripts");
        for tag in tags {
            assert!(
                tag.contains(&format!("nonce=\"{nonce}\"")),
                "{path}: a script without this response's nonce: <script{tag}>"
            );
        }
        nonces.push(nonce);
    }
    nonces.sort();
    nonces.dedup();
    assert_eq!(nonces.len(), 4, "a new nonce per response");
}

#[tokio::test]
async fn responses_forbid_framing_and_sniffing_and_keep_the_referrer_to_our_origin() {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    for path in ["/", "/auth/user", "/healthz", "/pkg/none.css"] {
        let response = browser()
            .get(format!("{}{path}", rig.url))
            .send()
            .await
            .unwrap();
        let headers = response.headers();
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY", "{path}");
        assert!(
            headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(
            headers[header::REFERRER_POLICY],
            "strict-origin-when-cross-origin",
            "{path}"
        );
        assert!(
            !headers.contains_key(header::STRICT_TRANSPORT_SECURITY),
            "no HSTS over plain http"
        );
    }
}

#[tokio::test]
async fn over_https_responses_carry_hsts() {
    let app = TestApp::local()
        .public_url("https://portcullis.example")
        .spawn()
        .await;
    // Behind a TLS proxy that names the public host.
    let response = browser()
        .get(format!("{}/", app.url))
        .header("x-forwarded-host", "portcullis.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()[header::STRICT_TRANSPORT_SECURITY],
        "max-age=63072000; includeSubDomains"
    );
}
