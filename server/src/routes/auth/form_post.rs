//! The page that carries a `form_post` callback (OAuth 2.0 Form Post
//! Response Mode) from the provider's site to this one: the provider's
//! cross-site post arrives without the `SameSite=Lax` session cookie, so
//! the same fields are posted again from a page of this site, where the
//! cookie comes along. The page holds only the authorization response's
//! own fields, escaped, is never stored or framed, and runs only its one
//! script (a nonce of its own); without JavaScript, a button does the
//! same. Its referrer policy is `same-origin` whatever the site's: with
//! `no-referrer` a browser sends `Origin: null` even to its own site, and
//! the post would look cross-site again. A post it made that still arrives cross-site is
//! refused rather than relayed once more ([`RELAYED`]).

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::sign_in::CallbackQuery;
use crate::pages::escape;

/// The field the page adds, so a post it made is never relayed again.
pub(super) const RELAYED: &str = "portcullis_relayed";

/// The page that posts `form` to `/auth/callback/{provider}` from this site.
pub(super) fn relay(provider: &str, form: &CallbackQuery) -> Response {
    // 256 random bits, base64url: as good a script nonce as a grant id.
    let nonce = crate::vault::new_grant_id();
    let fields = [
        ("code", &form.code),
        ("state", &form.state),
        ("iss", &form.iss),
        ("error", &form.error),
        ("user", &form.user),
    ];
    let mut inputs: String = fields
        .iter()
        .filter_map(|(name, value)| value.as_deref().map(|value| (name, value)))
        .map(|(name, value)| {
            format!(
                r#"<input type="hidden" name="{name}" value="{}">"#,
                escape(value)
            )
        })
        .collect();
    inputs.push_str(&format!(
        r#"<input type="hidden" name="{RELAYED}" value="1">"#
    ));
    let action = format!("/auth/callback/{}", escape(provider));
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<meta name="referrer" content="same-origin">
<title>Signing you in…</title>
</head>
<body>
<main>
<form method="post" action="{action}">
{inputs}
<p>Signing you in…</p>
<noscript><p>JavaScript is off: press the button to finish signing in.</p></noscript>
<button type="submit">Continue signing in</button>
</form>
</main>
<script nonce="{nonce}">document.forms[0].submit();</script>
</body>
</html>
"#
    );
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; img-src data:; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    let mut response = (StatusCode::OK, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn the_relay_page_carries_only_the_response_fields_escaped_with_its_own_script_nonce() {
        let form = CallbackQuery {
            code: Some("c\"><script>alert(1)</script>".into()),
            state: Some("s&1".into()),
            user: Some(r#"{"name":{"firstName":"Jane"}}"#.into()),
            ..CallbackQuery::default()
        };
        let response = relay("apple", &form);
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        // Never `no-referrer`, which would make the browser send
        // `Origin: null` to this very site.
        assert!(response.headers().get(header::REFERRER_POLICY).is_none());
        let html = body(response).await;
        assert!(html.contains(r#"action="/auth/callback/apple""#));
        assert!(
            html.contains(
                r#"name="code" value="c&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;""#
            ),
            "{html}"
        );
        assert!(html.contains(r#"name="state" value="s&amp;1""#));
        assert!(
            html.contains(
                r#"name="user" value="{&quot;name&quot;:{&quot;firstName&quot;:&quot;Jane&quot;}}""#
            ),
            "Sign in with Apple's one-time user field: {html}"
        );
        assert!(!html.contains(r#"name="iss""#));
        assert!(html.contains(r#"<meta name="referrer" content="same-origin">"#));
        assert!(
            html.contains(r#"name="portcullis_relayed" value="1""#),
            "the loop guard"
        );
        assert!(!html.contains("<script>alert"));
        // The one script runs by the page's own nonce, and the form may
        // only go to this site.
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap();
        assert!(html.contains(&format!(r#"<script nonce="{nonce}">"#)));
        assert!(csp.contains("form-action 'self'") && csp.contains("default-src 'none'"));
        let again = relay("apple", &CallbackQuery::default());
        assert_ne!(
            again.headers()[header::CONTENT_SECURITY_POLICY],
            csp.as_str()
        );
    }
}
