//! The profile's sign-in methods: the account's provider identities, each
//! with "Disconnect" (never the last), and "Connect" for the providers it
//! has none at. Plain forms posting to `/auth/unlink` and
//! `/auth/link/<provider>`, so they work before the WASM bundle loads.

use leptos::{either::EitherOf3, prelude::*};

use crate::{
    api,
    components::provider_button::ProviderIcon,
    model::{ConnectionsView, IdentityView, ProviderView},
    pages::error::InlineError,
};

#[component]
pub fn Connections() -> impl IntoView {
    let connections = Resource::new_blocking(|| (), |()| api::connections());
    view! {
        <section class="connections" aria-labelledby="connections-heading">
            <h2 id="connections-heading">"Sign-in methods"</h2>
            <Suspense fallback=|| view! { <div class="identity-loading" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    match connections.await {
                        Err(err) => EitherOf3::A(view! { <InlineError error=err /> }),
                        Ok(None) => EitherOf3::B(()),
                        Ok(Some(connections)) => EitherOf3::C(view! { <ConnectionList connections /> }),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn ConnectionList(connections: ConnectionsView) -> impl IntoView {
    let can_disconnect = connections.can_disconnect();
    let linked = connections
        .linked
        .into_iter()
        .map(|identity| view! { <LinkedIdentity identity can_disconnect /> })
        .collect_view();
    let connectable = connections.connectable;
    let connect = (!connectable.is_empty()).then(|| {
        let forms = connectable
            .into_iter()
            .map(|provider| view! { <ConnectButton provider /> })
            .collect_view();
        view! {
            <h3 class="connect-heading">"Connect another provider"</h3>
            <p class="muted">
                "Sign in with any of them afterwards and you reach this same account."
            </p>
            <ul class="connect-list">{forms}</ul>
        }
    });
    view! {
        <ul class="identity-list">{linked}</ul>
        {connect}
    }
}

#[component]
fn LinkedIdentity(identity: IdentityView, can_disconnect: bool) -> impl IntoView {
    let disconnect_label = format!("Disconnect {}", identity.label);
    view! {
        <li class="identity" data-testid="identity" data-provider=identity.provider.clone()>
            <ProviderIcon label=identity.label.clone() icon=identity.icon.clone() />
            <span class="identity-text">
                <span class="identity-label">{identity.label.clone()}</span>
                <span class="muted">{identity.email.unwrap_or_else(|| "No e-mail shared".into())}</span>
            </span>
            {can_disconnect.then(|| view! {
                <form method="post" action="/auth/unlink" class="identity-action">
                    <input type="hidden" name="issuer" value=identity.issuer />
                    <input type="hidden" name="subject" value=identity.subject />
                    <input type="hidden" name="return_to" value="/profile" />
                    <button class="button button-quiet button-small" type="submit" aria-label=disconnect_label>
                        "Disconnect"
                    </button>
                </form>
            })}
        </li>
    }
}

#[component]
fn ConnectButton(provider: ProviderView) -> impl IntoView {
    let action = format!("/auth/link/{}?return_to=%2Fprofile", provider.id);
    let label = format!("Connect {}", provider.label);
    view! {
        <li>
            <form method="post" action=action>
                <button
                    class="button button-quiet"
                    type="submit"
                    disabled=!provider.available
                    data-provider=provider.id.clone()
                >
                    {label}
                </button>
                {(!provider.available).then(|| view! { <span class="provider-note">"Unavailable right now"</span> })}
            </form>
        </li>
    }
}
