//! The client SDK.
//!
//! [`Client::store`] encodes a blob, buys storage and registers it on chain, uploads its
//! metadata and slivers to every storage node in parallel (one batch request per node), collects
//! storage confirmations until they cover a quorum of shards (`3w >= 2n + 1`), verifies and
//! aggregates them, and certifies the blob. [`Client::read`] fetches metadata that verifies
//! against the blob ID and primary slivers that verify against the metadata, and decodes; an
//! inconsistently encoded blob reads as [`ReadError::Inconsistent`], never as wrong bytes.

pub mod blobs;
pub mod blocklist;
pub mod client;
pub mod quilt;
pub mod read;
pub mod relay;
pub mod seal;
pub mod site;
pub mod staking;
pub mod streaming;
pub mod transition;
pub mod upload;

pub use blobs::BlobStatus;
pub use blocklist::Blocklist;
pub use client::{
    BlobStoreResult, Client, Progress, ResourceOperation, StoreError, StoreOptions, StoreResult,
};
pub use read::{OpenBlob, ReadError, CHALLENGE_WAIT_MAX};
pub use walrus_node_client::{NodeClient, NodeError};
