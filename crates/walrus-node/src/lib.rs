//! The storage node.
//!
//! It serves the reference's REST API ([`api`]) so that the official SDK's storage-node client
//! works against it unchanged, accepts metadata and slivers only for blobs registered on the
//! chain and only after verifying them, stores them durably in `walrus-store`, signs storage
//! confirmations when every shard it holds has both slivers, and follows the chain's events
//! ([`follower`]) with a persisted cursor. It heals missing slivers of certified blobs from
//! other nodes' recovery symbols ([`recovery`]), has inconsistently encoded blobs marked
//! invalid on chain ([`invalid`]), and collects the data of expired, deleted and invalid blobs
//! ([`gc`]). It proves its share of each epoch's storage challenge, verifies its peers', and
//! pauses serving the challenged blobs' slivers while the challenge runs ([`challenge`]).

pub mod api;
pub mod batch;
pub mod challenge;
pub mod config;
pub mod edge;
pub mod epoch_driver;
pub mod follower;
pub mod gc;
pub mod invalid;
pub mod metrics;
pub mod node;
pub mod pending;
pub mod recovery;
pub mod service;
pub mod shard_sync;

pub use config::NodeConfig;
pub use node::{start, start_on, Node, RunningNode};
