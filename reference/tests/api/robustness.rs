//! Bad input never breaks the server: arbitrary callback query strings and
//! cookies get a clear answer below 500 (a redirect to the error page, or
//! the error page itself), never a panic, a bare 500 or bare text. The fuzz target `callback_request`
//! (`make fuzz`) searches the same space longer.

use axum::body::Body;
use http::{Request, header};
use proptest::prelude::*;
use tower::ServiceExt;

use crate::harness::TestApp;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Query strings and cookies built from the pieces attacks are made of.
fn hostile_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("code=".to_owned()),
            Just("state=".to_owned()),
            Just("iss=".to_owned()),
            Just("error=".to_owned()),
            Just("&".to_owned()),
            Just("=".to_owned()),
            Just("%".to_owned()),
            Just("%00".to_owned()),
            Just("%zz".to_owned()),
            Just("+".to_owned()),
            Just(";".to_owned()),
            Just("portcullis=".to_owned()),
            Just("\"".to_owned()),
            Just("é".to_owned()),
            Just("\u{0}".to_owned()),
            Just(" ".to_owned()),
            Just("access_denied".to_owned()),
            Just("x".repeat(300)),
            Just("[]".to_owned()),
            Just("code[]=".to_owned()),
        ],
        0..16,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_callback_query_and_cookie_get_a_clear_answer(
        query in hostile_text(),
        cookie in hostile_text(),
    ) {
        let Ok(request) = Request::get(format!("/auth/callback/local?{query}"))
            .header(header::COOKIE, cookie.as_str())
            .body(Body::empty())
        else {
            // Not a valid HTTP request at all: it never reaches the server.
            return Ok(());
        };
        let response = runtime().block_on(async { TestApp::unreachable().router().await.oneshot(request).await.unwrap() });
        let status = response.status();
        prop_assert!(status.as_u16() < 500, "{query:?} / {cookie:?} → {status}");
        // A refusal is the project's page or a redirect to it, never text.
        let kind = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or_default().to_owned())
            .unwrap_or_default();
        prop_assert!(
            status.is_redirection() || kind.starts_with("text/html"),
            "{query:?} / {cookie:?} → {status} {kind:?}"
        );
    }
}
