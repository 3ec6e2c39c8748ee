//! Home: the sign-in choices, or a welcome for a signed-in user.

use leptos::{either::EitherOf3, prelude::*};
use leptos_meta::Title;

use crate::{
    CurrentUser, api::list_providers, components::provider_button::ProviderButton,
    pages::error::ErrorPanel,
};

#[component]
pub fn HomePage() -> impl IntoView {
    let user = use_context::<CurrentUser>();
    let providers = Resource::new_blocking(|| (), |()| list_providers());

    view! {
        <Title text="Sign in · Portcullis" />
        <Suspense fallback=|| view! { <div class="card card-loading" aria-busy="true"></div> }>
            {move || Suspend::new(async move {
                let signed_in = match user {
                    Some(user) => user.await,
                    None => Ok(None),
                };
                match signed_in {
                    Err(err) => EitherOf3::A(view! { <ErrorPanel error=err /> }),
                    Ok(Some(user)) => EitherOf3::B(view! {
                        <section class="card">
                            <h1>{format!("Welcome back, {}", user.name)}</h1>
                            <p class="lead">{format!("You are signed in with {}.", user.provider)}</p>
                            <a class="button" href="/profile">"Go to your profile"</a>
                        </section>
                    }),
                    Ok(None) => match providers.await {
                        Err(err) => EitherOf3::A(view! { <ErrorPanel error=err /> }),
                        Ok(providers) => EitherOf3::C(view! { <SignIn providers /> }),
                    },
                }
            })}
        </Suspense>
    }
}

#[component]
fn SignIn(providers: Vec<crate::model::ProviderView>) -> impl IntoView {
    let empty = providers.is_empty();
    view! {
        <section class="card" aria-labelledby="signin-heading">
            <h1 id="signin-heading">"Sign in"</h1>
            <p class="lead">"Choose how you want to sign in. We never see your password."</p>
            <ul class="provider-list" role="list">
                {providers
                    .into_iter()
                    .map(|provider| view! { <li><ProviderButton provider /></li> })
                    .collect_view()}
            </ul>
            {empty.then(|| view! {
                <p class="notice">"No sign-in provider is configured yet. See the README's configuration section."</p>
            })}
        </section>
    }
}
