//! "Continue with …" button for one identity provider. A plain link, so it
//! works before the WASM bundle has loaded.

use leptos::prelude::*;

use crate::model::ProviderView;

#[component]
pub fn ProviderButton(provider: ProviderView) -> impl IntoView {
    let initial = provider
        .label
        .chars()
        .next()
        .map(|c| c.to_uppercase().to_string())
        .unwrap_or_default();
    let label = format!("Continue with {}", provider.label);
    if provider.available {
        view! {
            <a class="provider-button" href=provider.login_href() rel="external" data-provider=provider.id.clone()>
                <span class="provider-icon" aria-hidden="true">{initial}</span>
                <span>{label}</span>
            </a>
        }
        .into_any()
    } else {
        view! {
            <span class="provider-button provider-button-disabled" aria-disabled="true" data-provider=provider.id.clone()>
                <span class="provider-icon" aria-hidden="true">{initial}</span>
                <span>{label}</span>
                <span class="provider-note">"Unavailable right now"</span>
            </span>
        }
        .into_any()
    }
}
