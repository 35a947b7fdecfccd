//! Walrus core: the RS2 ("Red Stuff") erasure code, its commitments, and the signed messages.
//!
//! Data flow of a store: [`encode::encode_blob`] turns a blob into `n` sliver pairs and a
//! [`metadata::VerifiedBlobMetadataWithId`] (the sliver hashes and the [`BlobId`]); a reader
//! verifies metadata and slivers ([`metadata::UnverifiedBlobMetadataWithId::verify`],
//! [`sliver::UnverifiedSliver::verify`]) and calls [`decode::decode_blob`]; a storage node that
//! lost a sliver rebuilds it from others' [`recovery`] symbols, or proves the writer
//! inconsistent ([`inconsistency`]). Nodes sign [`messages`] with BLS keys ([`keys`]).
//!
//! Architecture invariant: this crate does no I/O, reads no clock and uses no global random
//! number generator. Randomness (for key generation) comes from the caller; parallelism is
//! rayon's data parallelism on the caller's thread pool.

pub mod blob_id;
pub mod challenge;
pub mod decode;
pub mod encode;
pub mod expand;
mod frontier;
pub mod hash;
pub mod ids;
pub mod inconsistency;
pub mod keys;
pub mod merkle;
pub mod messages;
pub mod metadata;
pub mod params;
pub mod quilt;
pub mod recovery;
mod rs;
pub mod sliver;
pub mod splitmix;
mod strip;

pub use blob_id::{BlobId, EncodingType};
pub use ids::{Epoch, ObjectId, ShardIndex, SliverIndex, SliverPairIndex, SliverType};
pub use params::EncodingParams;
pub use rs::RsError;

/// What the exported macros need; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::ids::parse_hex32;
    pub use hex;
    pub use serde;
}
