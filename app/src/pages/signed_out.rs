//! Where the browser lands after signing out.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SignedOutPage() -> impl IntoView {
    view! {
        <Title text="Signed out · Portcullis" />
        <section class="card" aria-labelledby="signed-out-heading">
            <h1 id="signed-out-heading">"You are signed out"</h1>
            <p class="lead">"Your session here has ended and its tokens were deleted."</p>
            <a class="button" href="/">"Sign in again"</a>
        </section>
    }
}
