//! One module per page.

pub mod error;
pub mod home;
pub mod not_found;
pub mod profile;
pub mod signed_out;
