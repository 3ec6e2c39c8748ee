//! Integration tests: the real router, requests without a socket.

mod helpers;
mod local_idp;
mod login;
mod pages;
mod server_functions;
mod spawn;
