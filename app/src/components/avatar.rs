//! The user's picture, or their initials when there is none.

use leptos::{either::Either, prelude::*};

use crate::model::UserView;

/// Round avatar of a fixed size, so nothing moves when the image loads.
#[component]
pub fn Avatar(user: UserView, #[prop(default = "avatar")] class: &'static str) -> impl IntoView {
    let initials = user.initials();
    match user.picture {
        Some(src) => {
            Either::Left(view! { <img class=class src=src alt="" width="40" height="40" /> })
        }
        None => Either::Right(view! {
            <span class=format!("{class} avatar-initials") aria-hidden="true">
                {initials}
            </span>
        }),
    }
}
