//! Portcullis's own plain pages, for apps that have none of their own: a
//! sign-in page listing the providers, and the page a failed sign-in or an
//! unreadable request lands on; and the presets' button icons, for any
//! page's sign-in buttons. Self-contained (no stylesheet or script
//! of the app's, nothing from a store), so they render whatever is down.

use axum::{
    extract::{Path, Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use serde::Deserialize;
use std::sync::Arc;

use crate::{backend::Core, error::ErrorCode, flow::return_to, providers};

/// Portcullis's own sign-in page.
pub const SIGN_IN_PAGE: &str = crate::config::DEFAULT_SIGN_IN_PAGE;

/// `GET /auth/icons/<preset>.svg`: a preset's sign-in button icon, an SVG
/// image (24×24) that may be cached for a day. Served with a policy that
/// lets it run nothing, should it ever be opened as a page.
pub async fn provider_icon(Path(file): Path<String>, headers: http::HeaderMap) -> Response {
    let icon = file
        .strip_suffix(".svg")
        .and_then(providers::preset)
        .map(|preset| preset.icon);
    let Some(icon) = icon else {
        return error_answer(
            ErrorCode::NotFound,
            StatusCode::NOT_FOUND,
            !is_navigation(&headers),
        );
    };
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; sandbox",
            ),
        ],
        icon,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
pub struct ErrorQuery {
    code: Option<String>,
}

/// `GET /auth/error?code=PC-...`: the page a failed sign-in lands on when
/// the app has none of its own. An unknown code reads as "not found".
pub async fn error_page(Query(query): Query<ErrorQuery>) -> Response {
    let error = query
        .code
        .as_deref()
        .and_then(ErrorCode::from_code)
        .unwrap_or(ErrorCode::NotFound);
    error_answer(error, error.status(), false)
}

/// The error page's looks: readable on any screen, without a stylesheet
/// of the app's.
const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1b1f24}\
main{max-width:36rem;margin:4rem auto;padding:0 1rem}\
.card{background:#fff;border:1px solid #d0d7de;border-radius:.5rem;padding:1.5rem}\
.muted{color:#57606a}.button{display:inline-block;padding:.5rem 1rem;border-radius:.375rem;\
background:#1f6feb;color:#fff;text-decoration:none}.button:focus{outline:3px solid #0a3069;outline-offset:2px}\
.providers{list-style:none;padding:0;display:grid;gap:.5rem}\
.button img{vertical-align:middle;margin-right:.4rem;border-radius:4px}";

#[derive(Debug, Deserialize)]
pub struct SignInQuery {
    return_to: Option<String>,
}

/// `GET /auth/sign-in?return_to=/path`: one button per provider, each
/// starting its sign-in and coming back to `return_to` (a same-origin path;
/// anything else means the home page).
pub async fn sign_in_page(
    State(core): State<Arc<Core>>,
    Query(query): Query<SignInQuery>,
) -> Response {
    let back = return_to::or_home(query.return_to.as_deref());
    let back: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
    let mut buttons = String::new();
    for provider in core.registry.views().await {
        let label = escape(&provider.label);
        if provider.available {
            // Decorative: the label says which provider it is.
            let icon = provider.icon.as_deref().map_or(String::new(), |src| {
                format!(
                    "<img src=\"{}\" alt=\"\" width=\"20\" height=\"20\"> ",
                    escape(src)
                )
            });
            buttons.push_str(&format!(
                "<li><a class=\"button\" href=\"/auth/sign-in/{id}?return_to={back}\">{icon}Continue with {label}</a></li>",
                id = escape(&provider.id),
            ));
        } else {
            buttons.push_str(&format!(
                "<li><span class=\"muted\">{label} is unavailable right now.</span></li>"
            ));
        }
    }
    if buttons.is_empty() {
        buttons.push_str("<li class=\"muted\">No sign-in provider is configured.</li>");
    }
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Sign in</title><style>{STYLE}</style></head>\
         <body><main id=\"main\"><section class=\"card\">\
         <h1>Sign in</h1><ul class=\"providers\">{buttons}</ul>\
         </section></main></body></html>"
    );
    let mut response = (StatusCode::OK, Html(html)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An [`ErrorCode`] answers as the JSON error body
/// `{"error": "<code>", "message": "<sentence>"}` with its status.
impl IntoResponse for ErrorCode {
    fn into_response(self) -> Response {
        error_answer(self, self.status(), true)
    }
}

/// `text` safe between tags and in a quoted attribute.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `error` with `status`: the project's JSON error body, or a
/// self-contained page (it must not need the store to render).
pub(crate) fn error_answer(error: ErrorCode, status: StatusCode, json: bool) -> Response {
    error_answer_to(error, status, json, None)
}

/// [`error_answer`] whose way forward is signing in at `sign_in` (a path
/// here): the page's button goes there, and the JSON body names it as
/// `"sign_in"`.
pub(crate) fn error_answer_to(
    error: ErrorCode,
    status: StatusCode,
    json: bool,
    sign_in: Option<&str>,
) -> Response {
    let mut response = if json {
        let mut body = serde_json::json!({ "error": error.code(), "message": error.to_string() });
        if let Some(sign_in) = sign_in {
            body["sign_in"] = sign_in.into();
        }
        (status, axum::Json(body)).into_response()
    } else {
        let (href, action) = match sign_in {
            Some(sign_in) => (escape(sign_in), "Sign in again"),
            None => ("/".to_owned(), "Try again"),
        };
        let html = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title><style>{STYLE}</style></head>\
             <body><main id=\"main\" class=\"main\"><section class=\"card error\" role=\"alert\">\
             <h1>{title}</h1><p class=\"lead\">{message}</p>\
             <p class=\"muted\">Error code: <code data-testid=\"error-code\">{code}</code></p>\
             <div class=\"actions\"><a class=\"button\" href=\"{href}\">{action}</a></div>\
             </section></main></body></html>",
            title = error.title(),
            message = error,
            code = error.code(),
        );
        (status, Html(html)).into_response()
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Whether the request is a browser navigating to a page (Fetch Metadata
/// `Sec-Fetch-Mode: navigate`, or an `Accept` that asks for HTML), which is
/// sent to sign in rather than told 401.
pub(crate) fn is_navigation(headers: &http::HeaderMap) -> bool {
    let header = |name| {
        headers
            .get(name)
            .and_then(|value: &HeaderValue| value.to_str().ok())
    };
    match header("sec-fetch-mode") {
        Some(mode) => mode == "navigate",
        None => header(header::ACCEPT.as_str()).is_some_and(|accept| accept.contains("text/html")),
    }
}
