//! The integration tests of `walrus-sdk`, one module per file beside this one, linked into one
//! test binary: one binary per crate, not one per file, links the stack once (a cold
//! `cargo test --workspace` spent most of its time and target directory on linking).
//! Run one file's tests with `cargo test -p walrus-sdk --test integration FILE::`.

mod challenge;
mod churn;
mod epochs;
mod quilt;
mod sdk;
mod seal;
mod streaming;
mod tls;
