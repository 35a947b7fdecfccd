//! The integration tests of `walrus-consensus`, one module per file beside this one, linked into one
//! test binary: one binary per crate, not one per file, links the stack once (a cold
//! `cargo test --workspace` spent most of its time and target directory on linking).
//! Run one file's tests with `cargo test -p walrus-consensus --test integration FILE::`.

mod common;
mod loopback;
mod simulation;
