//! How an error looks to the user: title, plain sentence, stable code and a
//! way forward.

use leptos::prelude::*;

use crate::error::AppError;

#[component]
pub fn ErrorPanel(error: AppError) -> impl IntoView {
    view! {
        <section class="card error" role="alert" aria-labelledby="error-heading">
            <h1 id="error-heading">{error.title()}</h1>
            <p class="lead">{error.to_string()}</p>
            <p class="muted">"Error code: " <code data-testid="error-code">{error.code()}</code></p>
            <a class="button" href="/">"Back to the start page"</a>
        </section>
    }
}
