//! The page for unknown addresses.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{error::AppError, pages::error::ErrorPanel};

#[component]
pub fn NotFoundPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found · Portcullis" />
        <ErrorPanel error=AppError::NotFound />
    }
}
