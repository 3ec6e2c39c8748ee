//! How an error looks to the user: title, plain sentence, stable code and a
//! way forward. `/error?code=…` is where the server sends a failed sign-in.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::error::AppError;

#[component]
pub fn ErrorPanel(
    error: AppError,
    /// Where "Try again" leads; without it only the start page is offered.
    #[prop(optional)]
    retry_href: Option<String>,
) -> impl IntoView {
    view! {
        <section class="card error" role="alert" aria-labelledby="error-heading">
            <h1 id="error-heading">{error.title()}</h1>
            <p class="lead">{error.to_string()}</p>
            <p class="muted">"Error code: " <code data-testid="error-code">{error.code()}</code></p>
            <div class="actions">
                {retry_href.map(|href| view! { <a class="button" href=href rel="external">"Try again"</a> })}
                <a class="button button-quiet" href="/">"Back to the start page"</a>
            </div>
        </section>
    }
}

/// The page a failed flow lands on.
#[component]
pub fn ErrorPage() -> impl IntoView {
    let query = use_query_map();
    let error = move || {
        query
            .read()
            .get("code")
            .and_then(|code| AppError::from_code(&code))
            .unwrap_or(AppError::Internal)
    };
    let retry = move || {
        let provider = query.read().get("provider")?;
        let valid = !provider.is_empty()
            && provider
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        (valid && error().retry_sign_in()).then(|| format!("/auth/login/{provider}"))
    };
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = http::StatusCode::from_u16(error().status())
    {
        response.set_status(status);
    }
    view! {
        <Title text=move || format!("{} · Portcullis", error().title()) />
        {move || match retry() {
            Some(href) => view! { <ErrorPanel error=error() retry_href=href /> }.into_any(),
            None => view! { <ErrorPanel error=error() /> }.into_any(),
        }}
    }
}
