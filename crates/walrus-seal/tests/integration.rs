//! The integration tests of `walrus-seal`, one module per file beside this one, linked into one
//! test binary: one binary per crate, not one per file, links the stack once (a cold
//! `cargo test --workspace` spent most of its time and target directory on linking).
//! Run one file's tests with `cargo test -p walrus-seal --test integration FILE::`.

mod conformance;
mod objects;
mod vectors;
