//! The storage node.
//!
//! It serves the reference's REST API ([`api`]) so that the official SDK's storage-node client
//! works against it unchanged, accepts metadata and slivers only for blobs registered on the
//! chain and only after verifying them, stores them durably in `walrus-store`, signs storage
//! confirmations when every shard it holds has both slivers, and follows the chain's events
//! ([`follower`]) with a persisted cursor.

pub mod api;
pub mod config;
pub mod follower;
pub mod metrics;
pub mod node;
pub mod recovery;

pub use config::NodeConfig;
pub use node::{start, Node, RunningNode};
