//! The integration tests of `walrus-core`, one module per file beside this one, linked into one
//! test binary: one binary per crate, not one per file, links the stack once (a cold
//! `cargo test --workspace` spent most of its time and target directory on linking).
//! Run one file's tests with `cargo test -p walrus-core --test integration FILE::`.

mod messages;
mod properties;
mod quilt_oracle;
mod streaming;
mod vectors;
