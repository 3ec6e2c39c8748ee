//! Portcullis UI: the Leptos application rendered on the server and hydrated
//! in the browser. It speaks only in view types ([`model`]); everything
//! sensitive lives in the `server` crate behind [`ports`].
//!
//! Where a view shows one of several things, it says so with `Either` or
//! `EitherOf3`/`EitherOf4`, not `.into_any()`: a type-erased view carries
//! compiled code for every way it could be rendered, used or not, and those
//! made the browser bundle about 20 KB (compressed) larger.

pub mod api;
pub mod components;
pub mod error;
pub mod model;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ports;

use leptos::prelude::*;
use leptos_meta::{Title, provide_meta_context};
use leptos_router::{
    SsrMode, StaticSegment,
    components::{Route, Router, Routes},
};

use crate::{
    components::{header::Header, status::StatusPanel},
    model::UserView,
    pages::{
        error::ErrorPage, home::HomePage, not_found::NotFoundPage, profile::ProfilePage,
        signed_out::SignedOutPage,
    },
};

/// The whole HTML document, rendered on the server.
#[cfg(feature = "ssr")]
pub fn shell(options: LeptosOptions) -> impl IntoView {
    use leptos_meta::MetaTags;

    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                // First in <head>, so it governs every script after it.
                <meta http-equiv="Content-Security-Policy" content=content_security_policy() />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
                // The same on every page, so plain tags: the browser bundle
                // needs no code to claim or update them.
                <meta name="description" content="Sign in safely with your identity provider." />
                <meta name="color-scheme" content="light dark" />
                <link rel="stylesheet" id="leptos" href="/pkg/portcullis.css" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The page's Content-Security-Policy: scripts only with this response's
/// nonce (and what they load, `strict-dynamic`), WebAssembly allowed,
/// everything else from our own origin; provider avatars may come from any
/// https host. Frame and base restrictions are sent as a header too.
#[cfg(feature = "ssr")]
fn content_security_policy() -> String {
    let nonce = use_nonce()
        .map(|nonce| format!(" 'nonce-{nonce}'"))
        .unwrap_or_default();
    // cargo-leptos' live reload talks to its own port in development.
    let reload = if cfg!(debug_assertions) {
        " ws://127.0.0.1:* ws://localhost:*"
    } else {
        ""
    };
    format!(
        "default-src 'self'; script-src 'self'{nonce} 'strict-dynamic' 'wasm-unsafe-eval'; \
         style-src 'self'{nonce}; img-src 'self' https: data:; connect-src 'self'{reload}; \
         object-src 'none'; base-uri 'none'"
    )
}

/// The signed-in user for this render, loaded once per request on the
/// server and shared by every component through context.
pub type CurrentUser = Resource<Result<Option<UserView>, error::AppError>>;

/// Root component: metadata, the user resource, and the routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let user: CurrentUser = Resource::new_blocking(|| (), |()| api::current_user());
    provide_context(user);
    mark_hydrated();

    view! {
        <Title text="Portcullis" />
        <Router>
            <a class="skip-link" href="#main">"Skip to content"</a>
            <Header />
            <main id="main" class="main" tabindex="-1">
                <Routes fallback=NotFoundPage>
                    <Route path=StaticSegment("") view=HomePage ssr=SsrMode::Async />
                    <Route path=StaticSegment("profile") view=ProfilePage ssr=SsrMode::Async />
                    <Route path=StaticSegment("error") view=ErrorPage />
                    <Route
                        path=(StaticSegment("auth"), StaticSegment("logged-out"))
                        view=SignedOutPage
                    />
                </Routes>
            </main>
            <footer class="footer">
                <StatusPanel />
            </footer>
        </Router>
    }
}

/// Sets `data-hydrated` on `<body>` once the WASM app has taken over the
/// server-rendered page. Effects only run in the browser, so the attribute
/// means "interactive now"; end-to-end tests wait for it.
fn mark_hydrated() {
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}
