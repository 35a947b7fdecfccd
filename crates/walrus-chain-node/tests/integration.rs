//! The integration tests of `walrus-chain-node`, one module per file beside this one, linked into one
//! test binary: one binary per crate, not one per file, links the stack once (a cold
//! `cargo test --workspace` spent most of its time and target directory on linking).
//! Run one file's tests with `cargo test -p walrus-chain-node --test integration FILE::`.

mod finality;
mod node;
mod restart;
