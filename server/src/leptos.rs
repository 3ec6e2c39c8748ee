//! The extractors for Leptos server functions and server-side rendering
//! (feature `leptos`): the same answers as [`User`], `Option<User>` and
//! [`AccessToken`] give an Axum handler, read from the request that
//! `leptos_axum` puts in the reactive context.
//!
//! ```no_run
//! use leptos::prelude::*;
//!
//! #[server]
//! pub async fn my_name() -> Result<String, ServerFnError> {
//!     // The stable code (`PC-AUTH-401`...) is what the client can act on.
//!     let user = portcullis::leptos::user()
//!         .await
//!         .map_err(|code| ServerFnError::new(code.code()))?;
//!     Ok(user.name().to_owned())
//! }
//! ```
//!
//! A failure is an [`ErrorCode`] (`PC-AUTH-401` when no one is signed in),
//! for the app to turn into its own server-function error type; as for
//! every code, [`ErrorCode::code`] is stable and its `Display` is a
//! sentence for the user.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;

use crate::{AccessToken, ErrorCode, User};

/// The request being served, as `leptos_axum` provides it to server
/// functions and to rendering.
fn request() -> Result<Parts, ErrorCode> {
    ::leptos::prelude::use_context::<Parts>().ok_or_else(|| {
        tracing::error!(
            "no request in the Leptos context: call this from a server function or while \
             rendering under leptos_axum"
        );
        ErrorCode::Internal
    })
}

/// The signed-in user, or [`ErrorCode::NotSignedIn`].
///
/// # Errors
///
/// [`ErrorCode::NotSignedIn`] when no one is signed in on this request's
/// session; [`ErrorCode::Internal`] outside a request or without the
/// Portcullis layer; a store failure's code.
pub async fn user() -> Result<User, ErrorCode> {
    optional_user().await?.ok_or(ErrorCode::NotSignedIn)
}

/// The signed-in user, or `None`.
///
/// # Errors
///
/// [`ErrorCode::Internal`] outside a request or without the Portcullis
/// layer; a store failure's code.
pub async fn optional_user() -> Result<Option<User>, ErrorCode> {
    let mut parts = request()?;
    <User as OptionalFromRequestParts<()>>::from_request_parts(&mut parts, &())
        .await
        .map_err(|rejection| rejection.code())
}

/// A fresh access token of the signed-in session's provider (RFC 6749
/// §1.4), refreshed first when it is about to expire, single-flight as
/// for the [`AccessToken`] extractor.
///
/// # Errors
///
/// As [`user`]; [`ErrorCode::SessionEnded`] when the provider ended the
/// grant (the session here is ended too); [`ErrorCode::ProviderUnavailable`]
/// when the provider cannot be reached to refresh it.
pub async fn access_token() -> Result<AccessToken, ErrorCode> {
    let mut parts = request()?;
    <AccessToken as FromRequestParts<()>>::from_request_parts(&mut parts, &())
        .await
        .map_err(|rejection| rejection.code())
}

#[cfg(test)]
#[cfg(feature = "testing")]
mod tests {
    use ::leptos::{prelude::ServerFnError, server};
    use axum::{
        Router,
        http::{Request, StatusCode, header},
        routing::post,
    };

    use crate::{
        Portcullis,
        testing::{self, TestUser},
    };

    #[server(endpoint = "portcullis-test/name")]
    async fn signed_in_name() -> Result<String, ServerFnError> {
        let user = crate::leptos::user()
            .await
            .map_err(|code| ServerFnError::new(code.code()))?;
        Ok(user.name().to_owned())
    }

    #[server(endpoint = "portcullis-test/maybe-name")]
    async fn maybe_name() -> Result<Option<String>, ServerFnError> {
        let user = crate::leptos::optional_user()
            .await
            .map_err(|code| ServerFnError::new(code.code()))?;
        Ok(user.map(|user| user.name().to_owned()))
    }

    #[server(endpoint = "portcullis-test/token")]
    async fn token() -> Result<String, ServerFnError> {
        let token = crate::leptos::access_token()
            .await
            .map_err(|code| ServerFnError::new(code.code()))?;
        Ok(token.expose().to_owned())
    }

    /// Calls the server function at `path` as the browser's generated
    /// client does; its status and body.
    async fn call(app: &Router, path: &str, cookie: Option<&str>) -> (StatusCode, String) {
        // The browser's fetch names our origin (the layer refuses a
        // signed-in call that does not).
        let request = Request::post(format!("/api/{path}"))
            .header(header::ORIGIN, "http://127.0.0.1:3000")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        testing::tests::answer(app, request, cookie).await
    }

    #[tokio::test]
    async fn server_functions_read_the_user_and_a_fresh_token_through_the_leptos_extractors() {
        let portcullis = Portcullis::start(testing::settings()).await.unwrap();
        let app = portcullis
            .mount(Router::new().route("/api/{*fn_name}", post(leptos_axum::handle_server_fns)));

        let (status, body) = call(&app, "portcullis-test/maybe-name", None).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "null"));
        let (status, body) = call(&app, "portcullis-test/name", None).await;
        assert!(
            status.is_server_error() && body.contains("PC-AUTH-401"),
            "{status} {body}"
        );
        let (_, body) = call(&app, "portcullis-test/token", None).await;
        assert!(body.contains("PC-AUTH-401"), "{body}");

        let session = portcullis
            .sign_in_for_test(TestUser::new("dana").name("Dana").access_token("at-dana"))
            .await
            .unwrap();
        let cookie = Some(session.cookie());
        assert_eq!(
            call(&app, "portcullis-test/maybe-name", cookie).await,
            (StatusCode::OK, "\"Dana\"".to_owned())
        );
        assert_eq!(
            call(&app, "portcullis-test/name", cookie).await,
            (StatusCode::OK, "\"Dana\"".to_owned())
        );
        assert_eq!(
            call(&app, "portcullis-test/token", cookie).await,
            (StatusCode::OK, "\"at-dana\"".to_owned())
        );
    }
}
