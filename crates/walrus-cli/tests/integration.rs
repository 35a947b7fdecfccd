//! The integration tests of `walrus-cli`, one module per file beside this one, linked into one
//! test binary: one binary per crate, not one per file, links the stack once (a cold
//! `cargo test --workspace` spent most of its time and target directory on linking).
//! Run one file's tests with `cargo test -p walrus-cli --test integration FILE::`.

mod abuse;
mod chain_crash;
mod common;
mod huge_blob;
mod localnet;
mod mainnet_shape;
mod node_crash;
mod operator;
mod quilt;
mod reference_cli;
mod relay;
mod store_read;
mod tidy;
mod wallet;
