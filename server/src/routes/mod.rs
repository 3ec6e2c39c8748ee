//! HTTP routes outside the Leptos app.

pub mod health;
