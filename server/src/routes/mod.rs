//! HTTP routes outside the Leptos app.

pub mod auth;
pub mod health;
