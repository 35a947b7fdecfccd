//! Events with the reference's names and fields (`walrus::events`), and their cursors.

use serde::{Deserialize, Serialize};
use walrus_core::keys::Ed25519PublicKey;
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
    /// A node's name, network address or network key changed (clients and peers reach it
    /// with what the chain says now).
    NodeInfoUpdated {
        /// The current epoch.
        epoch: Epoch,
        /// The node.
        node_id: ObjectId,
    },
    /// A validator was shown to have signed conflicting consensus votes (see
    /// [`crate::evidence`]); emitted by the block that carries the evidence.
    ValidatorEquivocated {
        /// The validator's consensus key.
        validator: Ed25519PublicKey,
        /// The consensus epoch of the round.
        consensus_epoch: u64,
        /// The view of the round.
        view: u64,
        /// Equivocations recorded against it so far, this one included.
        count: u64,
    },
    /// A validator committed to a challenge secret and never revealed it: its bond was burned.
    RevealWithheld {
        /// The current epoch.
        epoch: Epoch,
        /// The validator's index in genesis order.
        validator: u16,
        /// The bond burned.
        bond: Frost,
    },
    /// The epoch's storage challenge started: every committee member proves the drawn blobs'
    /// symbols of each of its shards, and nodes stop serving those blobs' slivers until the
    /// deadline.
    ChallengeStarted {
        /// The current epoch.
        epoch: Epoch,
        /// The seed (gives the symbol positions).
        #[serde(with = "walrus_core::hash::hex_digest")]
        seed: walrus_core::hash::Digest,
        /// No validator revealed: the seed is a block digest's (grindable by its proposer).
        insecure: bool,
        /// Certificates are taken until this block time.
        deadline_ms: u64,
        /// The drawn blobs, in order.
        blobs: Vec<walrus_core::challenge::ChallengedBlob>,
    },
    /// A prover's challenge certificate was accepted.
    ChallengeCertified {
        /// The current epoch.
        epoch: Epoch,
        /// The prover.
        node_id: ObjectId,
        /// Its items.
        n_items: u32,
        /// Those that passed.
        n_passed: u32,
        /// Shards that signed.
        signer_weight: u64,
    },
    /// How the ending epoch's challenge settled for a committee member.
    ChallengeSettled {
        /// The epoch that ended.
        epoch: Epoch,
        /// The node.
        node_id: ObjectId,
        /// Its items (0: no challenge, or a void one).
        n_items: u32,
        /// Those that passed.
        n_passed: u32,
        /// The share of its reward kept, in basis points.
        reward_bps: u16,
        /// Reward burned.
        forfeited: Frost,
        /// Penalty burned (under the floor).
        penalty: Frost,
    },
    /// A governance proposal was opened.
    ProposalCreated {
        /// The current epoch.
        epoch: Epoch,
        /// Its ID.
        proposal_id: u64,
        /// The node that made it.
        proposer: ObjectId,
        /// What it asks.
        proposal: crate::governance::Proposal,
    },
    /// A committee member voted for a proposal.
    ProposalVoted {
        /// The current epoch.
        epoch: Epoch,
        /// The proposal.
        proposal_id: u64,
        /// The voter.
        node_id: ObjectId,
        /// The proposal's weight in shards with this vote.
        weight: u64,
    },
    /// A proposal reached the quorum: a parameter change is scheduled for the next epoch, a
    /// slashing is carried out.
    ProposalPassed {
        /// The current epoch.
        epoch: Epoch,
        /// The proposal.
        proposal_id: u64,
        /// WAL burned by it (slashing).
        burned: Frost,
    },
    /// Governance changed parameters at the epoch change.
    ParametersChanged {
        /// The epoch they apply from.
        epoch: Epoch,
        /// The changes, in the order they passed.
        changes: Vec<crate::governance::ParameterChange>,
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

/// An event's identity as the reference reports it: the transaction digest (base58) and the
/// event's position (a decimal string). Ours is the block position's index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventId {
    /// Base58 of the transaction digest.
    pub tx_digest: String,
    /// The event's sequence number, as a string.
    pub event_seq: String,
}

impl EventEnvelope {
    /// The event's identity as the reference reports it.
    pub fn event_id(&self) -> EventId {
        let digest = self.tx_digest.map(|d| d.0).unwrap_or_default();
        EventId { tx_digest: base58(&digest), event_seq: self.cursor.index.to_string() }
    }
}

/// Base58 (Bitcoin alphabet), as Sui prints digests.
fn base58(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut digits: Vec<u8> = Vec::new();
    for &byte in bytes {
        let mut carry = u32::from(byte);
        for digit in digits.iter_mut() {
            carry += u32::from(*digit) << 8;
            *digit = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    std::iter::repeat_n('1', zeros)
        .chain(digits.iter().rev().map(|d| char::from(ALPHABET[usize::from(*d)])))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base58_matches_known_encodings() {
        assert_eq!(base58(&[]), "");
        assert_eq!(base58(&[0, 0, 1]), "112");
        assert_eq!(base58(b"hello world"), "StV1DL6CwTryKyV");
        assert_eq!(base58(&[0xff; 4]), "7YXq9G");
    }
}
