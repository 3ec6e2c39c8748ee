//! How an error looks to the user: title, plain sentence, stable code and a
//! way forward. `/error?code=…` is where the server sends a failed sign-in.

use leptos::{either::Either, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::error::AppError;

#[component]
pub fn ErrorPanel(
    error: AppError,
    /// Where "Try again" leads; without it only the start page is offered.
    #[prop(optional)]
    retry_href: Option<String>,
    /// A more specific sentence than the error's own.
    #[prop(optional)]
    message: Option<String>,
    /// The text of the retry button, "Try again" unless given.
    #[prop(optional)]
    retry_label: Option<String>,
) -> impl IntoView {
    let message = message.unwrap_or_else(|| error.to_string());
    let retry_label = retry_label.unwrap_or_else(|| "Try again".into());
    view! {
        <section class="card error" role="alert" aria-labelledby="error-heading">
            <h1 id="error-heading">{error.title()}</h1>
            <p class="lead">{message}</p>
            <p class="muted">"Error code: " <code data-testid="error-code">{error.code()}</code></p>
            <div class="actions">
                {retry_href.map(|href| view! { <a class="button" href=href rel="external">{retry_label}</a> })}
                <a class="button button-quiet" href="/">"Back to the start page"</a>
            </div>
        </section>
    }
}

/// A provider id as it may appear in a URL (lower-case letters, digits, '-').
fn provider_id(value: Option<String>) -> Option<String> {
    value.filter(|id| {
        !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    })
}

/// An error inside a page section: the sentence and the code, announced.
#[component]
pub fn InlineError(error: AppError) -> impl IntoView {
    view! {
        <p class="inline-error" role="alert">
            {error.to_string()} " Error code: " <code>{error.code()}</code>
        </p>
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
    let provider = move || provider_id(query.read().get("provider"));
    let retry = move || {
        let provider = provider()?;
        error()
            .retry_sign_in()
            .then(|| format!("/auth/sign-in/{provider}"))
    };
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = http::StatusCode::from_u16(error().status())
    {
        response.set_status(status);
    }
    view! {
        <Title text=move || format!("{} · Portcullis", error().title()) />
        {move || {
            let existing = provider_id(query.read().get("existing"));
            match (error(), existing, provider()) {
                (AppError::EmailInUse, Some(existing), Some(provider)) => {
                    Either::Left(view! { <EmailInUsePanel existing provider /> })
                }
                (error, ..) => Either::Right(match retry() {
                    Some(href) => view! { <ErrorPanel error retry_href=href /> },
                    None => view! { <ErrorPanel error /> },
                }),
            }
        }}
    }
}

/// A new identity whose e-mail is an existing account's: the account is
/// never joined by e-mail, so the way forward is to sign in as the
/// account and connect the new provider from the profile.
#[component]
fn EmailInUsePanel(existing: String, provider: String) -> impl IntoView {
    let providers = Resource::new_blocking(|| (), |()| crate::api::list_providers());
    view! {
        <Suspense fallback=|| view! { <div class="card card-loading" aria-busy="true"></div> }>
            {move || {
                let (existing, provider) = (existing.clone(), provider.clone());
                Suspend::new(async move {
                    let providers = providers.await.unwrap_or_default();
                    let label = |id: &str| {
                        providers
                            .iter()
                            .find(|p| p.id == id)
                            .map(|p| p.label.clone())
                            .unwrap_or_else(|| id.to_owned())
                    };
                    let (existing_label, provider_label) = (label(&existing), label(&provider));
                    let message = format!(
                        "This e-mail belongs to an account that uses {existing_label}. \
                         Log in with {existing_label}, then connect {provider_label} from your profile."
                    );
                    view! {
                        <ErrorPanel
                            error=AppError::EmailInUse
                            message
                            retry_href=format!("/auth/sign-in/{existing}?return_to=/profile")
                            retry_label=format!("Log in with {existing_label}")
                        />
                    }
                })
            }}
        </Suspense>
    }
}
