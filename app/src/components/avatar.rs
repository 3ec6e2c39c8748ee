//! The user's picture, or their initials when there is none.

use leptos::prelude::*;

use crate::model::UserView;

/// Round avatar of a fixed size, so nothing moves when the image loads.
#[component]
pub fn Avatar(user: UserView, #[prop(default = "avatar")] class: &'static str) -> impl IntoView {
    let initials = user.initials();
    match user.picture {
        Some(src) => view! { <img class=class src=src alt="" width="40" height="40" /> }.into_any(),
        None => view! {
            <span class=format!("{class} avatar-initials") aria-hidden="true">
                {initials}
            </span>
        }
        .into_any(),
    }
}
