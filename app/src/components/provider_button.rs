//! "Continue with …" button for one identity provider. A plain link, so it
//! works before the WASM bundle has loaded.

use leptos::{either::Either, prelude::*};

use crate::model::{ProviderView, first_letter};

#[component]
pub fn ProviderButton(provider: ProviderView) -> impl IntoView {
    let initial = first_letter(&provider.label).unwrap_or_default();
    let label = format!("Continue with {}", provider.label);
    if provider.available {
        Either::Left(view! {
            <a class="provider-button" href=provider.sign_in_href() rel="external" data-provider=provider.id.clone()>
                <span class="provider-icon" aria-hidden="true">{initial}</span>
                <span>{label}</span>
            </a>
        })
    } else {
        Either::Right(view! {
            <span class="provider-button provider-button-disabled" aria-disabled="true" data-provider=provider.id.clone()>
                <span class="provider-icon" aria-hidden="true">{initial}</span>
                <span>{label}</span>
                <span class="provider-note">"Unavailable right now"</span>
            </span>
        })
    }
}
