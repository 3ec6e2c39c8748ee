//! "Live from <provider>": data the server fetches from the provider's API
//! with the user's token (refreshed first if about to expire). The browser
//! asks the server; it never holds or sees the token.

use leptos::{either::EitherOf4, prelude::*};

use crate::{api, error::AppError, model::LiveProfile, pages::error::InlineError};

#[component]
pub fn LiveData(provider: String) -> impl IntoView {
    let fetch = Action::new(|_: &()| api::fetch_live_profile());
    let pending = fetch.pending();
    let heading = format!("Live from {provider}");
    view! {
        <section class="live" aria-labelledby="live-heading">
            <h2 id="live-heading">{heading}</h2>
            <p class="muted">
                "Fetched now by the server with your token; this page never sees the token."
            </p>
            <button
                class="button button-quiet"
                type="button"
                on:click=move |_| {
                    fetch.dispatch(());
                }
                disabled=move || pending.get()
                aria-busy=move || pending.get().to_string()
            >
                {move || if pending.get() { "Fetching…" } else { "Fetch live data" }}
            </button>
            <div class="live-result" aria-live="polite">
                {move || {
                    let provider = provider.clone();
                    fetch.value().get().map(move |result| view! { <LiveResult result provider /> })
                }}
            </div>
        </section>
    }
}

#[component]
fn LiveResult(result: Result<Option<LiveProfile>, AppError>, provider: String) -> impl IntoView {
    match result {
        Ok(Some(live)) => {
            let rows = live
                .entries
                .into_iter()
                .map(|(label, value)| view! { <dt>{label}</dt> <dd>{value}</dd> })
                .collect_view();
            EitherOf4::A(view! {
                <dl class="facts" data-testid="live-data">{rows}</dl>
                <p class="muted">{live.source} " · " {live.fetched_at}</p>
            })
        }
        Ok(None) => {
            EitherOf4::B(view! { <p class="inline-error" role="alert">"Please sign in first."</p> })
        }
        Err(AppError::SessionEnded) => EitherOf4::C(view! {
            <p class="inline-error" role="alert">
                {format!("Your session with {provider} ended. Please sign in again. ")}
                <a href="/" rel="external">"Log in"</a>
            </p>
        }),
        Err(err) => EitherOf4::D(view! { <InlineError error=err /> }),
    }
}
