//! Top bar: the product name and the signed-in state.

use leptos::{either::Either, prelude::*};

use crate::{CurrentUser, components::avatar::Avatar};

#[component]
pub fn Header() -> impl IntoView {
    let user = use_context::<CurrentUser>();
    view! {
        <header class="header">
            <a class="brand" href="/">
                <img src="/favicon.svg" alt="" width="28" height="28" />
                <span>"Portcullis"</span>
            </a>
            <nav class="nav" aria-label="Account">
                <Suspense fallback=|| view! { <span class="nav-placeholder"></span> }>
                    {move || Suspend::new(async move {
                        let signed_in = match user {
                            Some(user) => user.await.ok().flatten(),
                            None => None,
                        };
                        match signed_in {
                            Some(user) => Either::Left(view! {
                                <a class="nav-user" href="/profile">
                                    <Avatar user=user.clone() class="avatar avatar-small" />
                                    <span>{user.name.clone()}</span>
                                </a>
                            }),
                            None => Either::Right(view! { <a class="nav-link" href="/">"Sign in"</a> }),
                        }
                    })}
                </Suspense>
            </nav>
        </header>
    }
}
