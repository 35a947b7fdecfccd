//! Events with the reference's names and fields (`walrus::events`), and their cursors.

use serde::{Deserialize, Serialize};
use walrus_core::{BlobId, Epoch, ObjectId, ShardIndex};

use crate::amount::Frost;
use crate::tx::TxDigest;

/// Where an event is in the chain: the block height and its position among the block's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventCursor {
    /// Block height.
    pub height: u64,
    /// Position in the block's events.
    pub index: u32,
}

/// A chain event. Tags are append-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// A blob object was registered.
    BlobRegistered {
        /// The current epoch.
        epoch: Epoch,
        /// The blob ID.
        blob_id: BlobId,
        /// Unencoded length.
        size: u64,
        /// Encoding type byte.
        encoding_type: u8,
        /// First epoch not stored.
        end_epoch: Epoch,
        /// Deletable or permanent.
        deletable: bool,
        /// The blob object.
        object_id: ObjectId,
    },
    /// A blob object was certified, or a certified one extended.
    BlobCertified {
        /// The epoch of first certification.
        epoch: Epoch,
        /// The blob ID.
        blob_id: BlobId,
        /// First epoch not stored.
        end_epoch: Epoch,
        /// Deletable or permanent.
        deletable: bool,
        /// The blob object.
        object_id: ObjectId,
        /// Whether this is an extension of an already certified blob.
        is_extension: bool,
    },
    /// A deletable blob object was deleted.
    BlobDeleted {
        /// The current epoch.
        epoch: Epoch,
        /// The blob ID.
        blob_id: BlobId,
        /// The end epoch it had.
        end_epoch: Epoch,
        /// The deleted object.
        object_id: ObjectId,
        /// Whether it had been certified.
        was_certified: bool,
    },
    /// A blob ID was marked invalid.
    InvalidBlobID {
        /// The current epoch.
        epoch: Epoch,
        /// The blob ID.
        blob_id: BlobId,
    },
    /// An epoch change began.
    EpochChangeStart {
        /// The new epoch.
        epoch: Epoch,
    },
    /// An epoch change completed.
    EpochChangeDone {
        /// The new epoch.
        epoch: Epoch,
    },
    /// A node of the committee reported that it holds its shards for the epoch.
    ShardsReceived {
        /// The current epoch.
        epoch: Epoch,
        /// The node's shards.
        shards: Vec<ShardIndex>,
    },
    /// The next epoch's committee and capacity were chosen (at mid-epoch).
    EpochParametersSelected {
        /// The epoch they are for.
        next_epoch: Epoch,
    },
    /// Storage and write prices were recomputed from the committee's votes.
    PricesUpdated {
        /// The current epoch.
        epoch: Epoch,
        /// FROST per storage unit per epoch.
        storage_price: Frost,
        /// FROST per storage unit, once per registration.
        write_price: Frost,
    },
}

/// An event where it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventEnvelope {
    /// Its position.
    pub cursor: EventCursor,
    /// The transaction that emitted it (`None` for the block's own system step).
    pub tx_digest: Option<TxDigest>,
    /// The event.
    pub event: Event,
}
