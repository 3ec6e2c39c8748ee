//! Reusable pieces of the UI.

pub mod avatar;
pub mod connections;
pub mod header;
pub mod live_data;
pub mod notes;
pub mod provider_button;
pub mod sessions;
pub mod status;
