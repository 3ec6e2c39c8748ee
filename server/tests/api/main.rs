//! Integration tests: the real router, requests without a socket.

mod helpers;
mod pages;
mod server_functions;
