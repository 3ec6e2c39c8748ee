//! "Continue with …" button for one identity provider. A plain link, so it
//! works before the WASM bundle has loaded.

use leptos::{either::Either, prelude::*};

use crate::model::{ProviderView, first_letter};

#[component]
pub fn ProviderButton(provider: ProviderView) -> impl IntoView {
    let label = format!("Continue with {}", provider.label);
    let icon = view! { <ProviderIcon label=provider.label.clone() icon=provider.icon.clone() /> };
    if provider.available {
        Either::Left(view! {
            <a class="provider-button" href=provider.sign_in_href() rel="external" data-provider=provider.id.clone()>
                {icon}
                <span>{label}</span>
            </a>
        })
    } else {
        Either::Right(view! {
            <span class="provider-button provider-button-disabled" aria-disabled="true" data-provider=provider.id.clone()>
                {icon}
                <span>{label}</span>
                <span class="provider-note">"Unavailable right now"</span>
            </span>
        })
    }
}

/// A provider's icon (a preset's image), else its label's first letter.
/// Decorative: the label beside it names the provider.
#[component]
pub fn ProviderIcon(label: String, icon: Option<String>) -> impl IntoView {
    match icon {
        Some(src) => Either::Left(view! {
            <img class="provider-icon provider-icon-image" src=src alt="" width="30" height="30" />
        }),
        None => Either::Right(view! {
            <span class="provider-icon" aria-hidden="true">{first_letter(&label)}</span>
        }),
    }
}
