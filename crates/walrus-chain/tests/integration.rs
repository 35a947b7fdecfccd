//! The integration tests of `walrus-chain`, one module per file beside this one, linked into one
//! test binary: one binary per crate, not one per file, links the stack once (a cold
//! `cargo test --workspace` spent most of its time and target directory on linking).
//! Run one file's tests with `cargo test -p walrus-chain --test integration FILE::`.

mod access;
mod chain;
mod challenges;
mod common;
mod simulation;
mod sites;
mod staking;
