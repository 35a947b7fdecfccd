//! What makes a block final, checkable by anyone who trusts the genesis: the finalize votes of a
//! quorum of the genesis validators on the block's digest.
//!
//! Validators vote with commonware's simplex (`walrus-consensus`); a finalize vote is an
//! ed25519 signature over `varint(len(ns)) ‖ ns ‖ varint(epoch) ‖ varint(view) ‖
//! varint(parent view) ‖ block digest`, where `ns` is [`CONSENSUS_NAMESPACE`] followed by
//! `_FINALIZE` and the varints are unsigned LEB128 (commonware's codec); [`vote_message`] builds
//! every kind of vote. A [`FinalityProof`]
//! carries the vote's round and the signatures of at least a quorum, `n - ⌊(n - 1) / 3⌋` of the
//! `n` validators (2f + 1 when n = 3f + 1); [`verify_finality`] rebuilds the message from the
//! digest the verifier computed itself, so a proof cannot be moved to another block.

use serde::{Deserialize, Serialize};
use walrus_core::hash::Digest;
use walrus_core::keys::Ed25519Signature;
use walrus_core::sliver::push_uleb128;

use crate::genesis::GenesisValidator;

/// The namespace of the chain's consensus votes.
pub const CONSENSUS_NAMESPACE: &[u8] = b"_WALRUS_CHAIN_CONSENSUS";
/// The finalize votes of a quorum of validators on one block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalityProof {
    /// The consensus epoch of the vote.
    pub epoch: u64,
    /// The consensus view the block was proposed in.
    pub view: u64,
    /// The view of its parent.
    pub parent_view: u64,
    /// Per signer, its index in the genesis validators and its signature, by increasing index.
    pub signatures: Vec<(u32, Ed25519Signature)>,
}

/// Why a proof does not show a block final.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FinalityError {
    /// Fewer distinct signers than a quorum.
    #[error("{got} validators signed; finality needs {need}")]
    Quorum {
        /// Distinct signers.
        got: usize,
        /// The quorum.
        need: usize,
    },
    /// A signer index outside the validator set, or not increasing.
    #[error("signer index {0} is not a validator, or not in increasing order")]
    Signer(u32),
    /// A signature does not verify for its validator.
    #[error("validator {0}'s signature does not verify on this block")]
    Signature(u32),
}

/// Votes needed among `n` validators: `n - ⌊(n - 1) / 3⌋`.
pub fn quorum(n: usize) -> usize {
    n - n.saturating_sub(1) / 3
}

/// Appends `value` as commonware writes a varint (unsigned LEB128, as BCS writes lengths).
fn leb128(value: u64, out: &mut Vec<u8>) {
    push_uleb128(out, usize::try_from(value).expect("64-bit targets only"));
}

/// A consensus vote on one round (epoch and view), as simplex signs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Vote {
    /// Notarizes the proposal of block `payload` on the block of view `parent_view`.
    Notarize {
        /// The parent's view.
        parent_view: u64,
        /// The block digest.
        #[serde(with = "walrus_core::hash::hex_digest")]
        payload: Digest,
    },
    /// Asks to skip the round.
    Nullify,
    /// Finalizes the proposal.
    Finalize {
        /// The parent's view.
        parent_view: u64,
        /// The block digest.
        #[serde(with = "walrus_core::hash::hex_digest")]
        payload: Digest,
    },
}

/// The bytes a validator signs for `vote` in round (`epoch`, `view`): `varint(len(ns)) ‖ ns ‖
/// varint(epoch) ‖ varint(view)`, then `varint(parent view) ‖ payload` for a proposal, where
/// `ns` is [`CONSENSUS_NAMESPACE`] followed by `_NOTARIZE`, `_NULLIFY` or `_FINALIZE`.
pub fn vote_message(epoch: u64, view: u64, vote: &Vote) -> Vec<u8> {
    let (suffix, proposal): (&[u8], _) = match vote {
        Vote::Notarize { parent_view, payload } => (b"_NOTARIZE", Some((parent_view, payload))),
        Vote::Nullify => (b"_NULLIFY", None),
        Vote::Finalize { parent_view, payload } => (b"_FINALIZE", Some((parent_view, payload))),
    };
    let namespace = [CONSENSUS_NAMESPACE, suffix].concat();
    let mut message = Vec::with_capacity(namespace.len() + 64);
    leb128(namespace.len() as u64, &mut message);
    message.extend_from_slice(&namespace);
    leb128(epoch, &mut message);
    leb128(view, &mut message);
    if let Some((parent_view, payload)) = proposal {
        leb128(*parent_view, &mut message);
        message.extend_from_slice(payload);
    }
    message
}

/// The bytes a validator signs to finalize the block with digest `block` in `proof`'s round.
pub fn finalize_message(block: &Digest, proof: &FinalityProof) -> Vec<u8> {
    vote_message(proof.epoch, proof.view, &Vote::Finalize { parent_view: proof.parent_view, payload: *block })
}

/// Checks that `proof` holds valid finalize votes of a quorum of `validators` on the block
/// whose digest is `block`.
pub fn verify_finality(
    validators: &[GenesisValidator],
    block: &Digest,
    proof: &FinalityProof,
) -> Result<(), FinalityError> {
    let need = quorum(validators.len());
    if proof.signatures.len() < need {
        return Err(FinalityError::Quorum { got: proof.signatures.len(), need });
    }
    let message = finalize_message(block, proof);
    let mut last = None;
    for (index, signature) in &proof.signatures {
        let validator = validators.get(*index as usize).ok_or(FinalityError::Signer(*index))?;
        if last.is_some_and(|last| last >= *index) {
            return Err(FinalityError::Signer(*index));
        }
        last = Some(*index);
        validator.public_key.verify(&message, signature).map_err(|_| FinalityError::Signature(*index))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use walrus_core::keys::Ed25519KeyPair;

    use super::*;

    #[test]
    fn quorums_and_the_message_format() {
        assert_eq!([1, 2, 3, 4, 5, 7, 10].map(quorum), [1, 2, 3, 3, 4, 5, 7]);
        let proof = FinalityProof { epoch: 0, view: 300, parent_view: 1, signatures: Vec::new() };
        let message = finalize_message(&[9; 32], &proof);
        let namespace = b"_WALRUS_CHAIN_CONSENSUS_FINALIZE";
        assert_eq!(message[0] as usize, namespace.len());
        assert_eq!(&message[1..=namespace.len()], namespace);
        assert_eq!(&message[namespace.len() + 1..namespace.len() + 5], &[0, 0xac, 0x02, 1]);
        assert_eq!(&message[namespace.len() + 5..], &[9; 32]);
    }

    #[test]
    fn a_quorum_of_valid_votes_and_nothing_less() {
        let keys: Vec<_> = (0..4u8).map(|i| Ed25519KeyPair::from_seed(&[i + 1; 32])).collect();
        let validators: Vec<_> = keys
            .iter()
            .map(|k| GenesisValidator { public_key: k.public(), p2p_address: "127.0.0.1:1".into() })
            .collect();
        let block = [5; 32];
        let mut proof = FinalityProof { epoch: 0, view: 7, parent_view: 6, signatures: Vec::new() };
        let message = finalize_message(&block, &proof);
        proof.signatures = (0..3).map(|i| (i, keys[i as usize].sign(&message))).collect();
        assert_eq!(verify_finality(&validators, &block, &proof), Ok(()));
        assert_eq!(verify_finality(&validators, &[6; 32], &proof), Err(FinalityError::Signature(0)));
        let mut moved = proof.clone();
        moved.view = 8;
        assert_eq!(verify_finality(&validators, &block, &moved), Err(FinalityError::Signature(0)));
        let mut short = proof.clone();
        short.signatures.pop();
        assert_eq!(
            verify_finality(&validators, &block, &short),
            Err(FinalityError::Quorum { got: 2, need: 3 })
        );
        let mut repeated = proof.clone();
        repeated.signatures[2] = repeated.signatures[1];
        assert_eq!(verify_finality(&validators, &block, &repeated), Err(FinalityError::Signer(1)));
        let mut stranger = proof;
        stranger.signatures[2].0 = 9;
        assert_eq!(verify_finality(&validators, &block, &stranger), Err(FinalityError::Signer(9)));
    }
}
