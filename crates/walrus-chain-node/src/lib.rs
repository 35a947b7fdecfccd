//! Hosts the coordination chain.
//!
//! The rules live in `walrus-chain`; this crate runs them. Every chain node hosts one validator
//! of the replicated chain (`walrus-consensus`: commonware simplex and marshal), a chain of one
//! validator included. The RPC hands transactions to it through the [`orderer::Orderer`] seam;
//! finalized blocks come back to the [`chain::Chain`], the validator's state store, which
//! persists each block durably before it runs it and answers waiting clients after;
//! [`store::FjallBlockStore`] keeps the blocks, and the effects and events as caches rebuilt by
//! replay; [`beacon`] sends the validator's commits and reveals for the challenges' seed;
//! [`rpc`] serves it all over HTTP, and `walrus_chain_client::ChainClient` (a crate
//! below this one) talks to it.

pub mod beacon;
pub mod chain;
pub mod faucet;
pub mod init;
pub mod node;
pub mod orderer;
mod records;
pub mod rpc;
pub mod store;
pub mod tables;

pub use chain::Chain;
pub use node::{start, NodeConfig, RunningNode};
