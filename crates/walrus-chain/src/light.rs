//! What a client that trusts only the genesis checks before it believes an RPC endpoint: the
//! state header a finalized block commits to, the system object under it, and the events.
//!
//! Every block carries an [`crate::ExecCommitment`]: the digest of the state at an earlier
//! height. That digest is [`StateHeader::digest`], a hash of the state's scalars and of three
//! digests: of the system object's BCS bytes, the root of the records tree
//! ([`crate::records`]), and of every event so far ([`fold_event`], a running hash in cursor
//! order). So a [`StateProof`] (a block, its
//! finality proof and the header it commits to) proves, from the genesis validators alone:
//! - the header's fields at that height (supply, time, last block);
//! - the system object (committee, epoch, prices) given beside it, by its digest;
//! - the events up to that height: a client that folds the events it received from a header it
//!   trusts (or from the genesis, whose events digest is all zeros) must reach the proven
//!   header's events digest, so a forged, reordered, hidden or invented event is detected.
//!
//! - any account, object, blob-ID index entry or invalid mark, with a bucket proof under the
//!   records root ([`crate::records::BucketProof`]).

use serde::{Deserialize, Serialize};
use walrus_core::hash::{blake2b256_parts, Digest};

use crate::amount::Frost;
use crate::block::Block;
use crate::events::EventEnvelope;
use crate::finality::{verify_finality, FinalityError, FinalityProof};
use crate::genesis::GenesisValidator;
use crate::system::System;

/// The state's scalars and the digests of its parts: what a block's execution commitment
/// commits to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateHeader {
    /// The genesis digest.
    #[serde(with = "walrus_core::hash::hex_digest")]
    pub chain_id: Digest,
    /// Height of the last executed block.
    pub height: u64,
    /// Digest of the last executed block.
    #[serde(with = "walrus_core::hash::hex_digest")]
    pub last_block: Digest,
    /// Its timestamp (ms).
    pub timestamp_ms: u64,
    /// WAL in existence.
    pub total_supply: Frost,
    /// WAL burned so far.
    pub burned: Frost,
    /// The height of the state the last block committed to.
    pub last_exec_height: u64,
    /// [`fold_event`] over every event so far.
    #[serde(with = "walrus_core::hash::hex_digest")]
    pub events_digest: Digest,
    /// [`system_digest`] of the system object.
    #[serde(with = "walrus_core::hash::hex_digest")]
    pub system_digest: Digest,
    /// The root of the records tree ([`crate::records`]): accounts, objects, invalid blob IDs,
    /// convictions and the blob-ID index.
    #[serde(with = "walrus_core::hash::hex_digest")]
    pub records_root: Digest,
}

impl StateHeader {
    /// The state digest (version 4): Blake2b-256 over a domain tag and the header's BCS bytes.
    pub fn digest(&self) -> Digest {
        let bytes = bcs::to_bytes(self).expect("plain BCS");
        blake2b256_parts(&[b"walrus-chain/state/v4", &bytes])
    }
}

/// The digest of a system object's BCS bytes, as a [`StateHeader`] holds it.
pub fn system_digest(system_bcs: &[u8]) -> Digest {
    blake2b256_parts(&[b"walrus-chain/system/v1", system_bcs])
}

/// The events digest after `event`, from the digest `before` it.
pub fn fold_event(before: &Digest, event: &EventEnvelope) -> Digest {
    let bytes = bcs::to_bytes(event).expect("plain BCS");
    blake2b256_parts(&[b"walrus-chain/events/v1", before, &bytes])
}

/// A finalized block and the state header its execution commitment names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateProof {
    /// The block.
    pub block: Block,
    /// Its finality proof.
    pub finality: FinalityProof,
    /// The state at `block.exec.height`.
    pub header: StateHeader,
}

/// Why a state proof, a system object or a run of events is not believed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LightError {
    /// The block is not shown final.
    #[error("the block is not final: {0}")]
    Finality(#[from] FinalityError),
    /// The header is of another chain.
    #[error("the state header is of another chain")]
    WrongChain,
    /// The block commits to another height than the header's.
    #[error("the block commits to the state at height {committed}, the header is at {header}")]
    Height {
        /// The block's execution height.
        committed: u64,
        /// The header's.
        header: u64,
    },
    /// The header's digest is not the one the block commits to.
    #[error("the state header at height {0} is not the one the finalized block commits to")]
    StateDigest(u64),
    /// The system object is not the one under the header.
    #[error("the system object is not the one of the state at height {0}")]
    SystemDigest(u64),
    /// The events do not fold to the header's events digest.
    #[error("the events up to height {0} are not those the chain executed (forged, reordered or missing)")]
    EventsDigest(u64),
}

/// Checks that a quorum of `validators` finalized `proof.block` and that the block commits to
/// `proof.header` of chain `chain_id`.
pub fn verify_state(
    validators: &[GenesisValidator],
    chain_id: &Digest,
    proof: &StateProof,
) -> Result<(), LightError> {
    verify_finality(validators, &proof.block.digest(), &proof.finality)?;
    let header = &proof.header;
    if header.chain_id != *chain_id {
        return Err(LightError::WrongChain);
    }
    if proof.block.exec.height != header.height {
        return Err(LightError::Height { committed: proof.block.exec.height, header: header.height });
    }
    if proof.block.exec.state_digest != header.digest() {
        return Err(LightError::StateDigest(header.height));
    }
    Ok(())
}

/// Decodes `system_bcs` if it is the system object under `header`.
pub fn verify_system(header: &StateHeader, system_bcs: &[u8]) -> Result<System, LightError> {
    if system_digest(system_bcs) != header.system_digest {
        return Err(LightError::SystemDigest(header.height));
    }
    bcs::from_bytes(system_bcs).map_err(|_| LightError::SystemDigest(header.height))
}
