//! The integration tests of `walrus-gateway`, one module per file beside this one, linked into one
//! test binary: one binary per crate, not one per file, links the stack once (a cold
//! `cargo test --workspace` spent most of its time and target directory on linking).
//! Run one file's tests with `cargo test -p walrus-gateway --test integration FILE::`.

mod common;
mod concat;
mod gateway;
mod http_clients;
mod jwt;
mod limits;
mod page;
mod portal;
mod quilts;
mod relay;
mod site_browser;
mod wallets;
