//! Hosts the coordination chain.
//!
//! The rules live in `walrus-chain`; this crate runs them. A [`sequencer::Sequencer`] (behind
//! the [`sequencer::Orderer`] trait, where a replicated BFT orderer can take its place) cuts
//! blocks from a bounded mempool; the [`chain::Chain`] persists each block durably before it
//! runs it and answers waiting clients after; [`store::FjallBlockStore`] keeps the blocks, and
//! the effects and events as caches rebuilt by replay; [`rpc`] serves it all over HTTP, and
//! `walrus_chain_client::ChainClient` (a crate below this one) talks to it.

pub mod chain;
pub mod faucet;
pub mod init;
pub mod node;
pub mod rpc;
pub mod sequencer;
pub mod store;

pub use chain::Chain;
pub use node::{start, NodeConfig, RunningNode};
