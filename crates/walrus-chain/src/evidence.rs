//! Evidence that a validator equivocated, and its record on chain.
//!
//! An honest validator signs at most one proposal per round to notarize, at most one to
//! finalize, and never both a nullify and a finalize vote in one round. Two signed votes that
//! break one of these rules are proof of a fault that anyone holding the genesis can check
//! (`finality::vote_message` rebuilds what was signed). Validators that see such a pair put it in
//! a block they propose ([`Block::evidence`](crate::Block)); the block is valid only if every
//! piece checks, and its execution records, per validator, how many times it was convicted and
//! the latest evidence (rounds only move forward, so the record is bounded by the validator set)
//! and emits [`crate::Event::ValidatorEquivocated`].

use serde::{Deserialize, Serialize};
use walrus_core::keys::{Ed25519PublicKey, Ed25519Signature};

use crate::finality::{vote_message, Vote};

/// Most pieces of evidence in one block.
pub const EVIDENCE_PER_BLOCK_MAX: usize = 16;

/// One vote with the signature of the validator that cast it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedVote {
    /// The vote.
    pub vote: Vote,
    /// The validator's signature over [`vote_message`].
    pub signature: Ed25519Signature,
}

/// Two votes one validator signed in one round that no honest validator signs together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Equivocation {
    /// The validator's consensus key (one of the genesis validators).
    pub validator: Ed25519PublicKey,
    /// The consensus epoch of the round.
    pub epoch: u64,
    /// The view of the round.
    pub view: u64,
    /// The first vote.
    pub first: SignedVote,
    /// The second vote.
    pub second: SignedVote,
}

/// What the chain keeps of a validator's equivocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conviction {
    /// Equivocations recorded (each in a later round than the one before).
    pub count: u64,
    /// The latest recorded.
    pub latest: Equivocation,
}

/// Why a piece of evidence proves nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// The key is not a genesis validator's.
    #[error("the accused key is not a validator's")]
    NotValidator,
    /// The two votes may both come from an honest validator.
    #[error("the two votes do not conflict")]
    NotConflicting,
    /// A signature does not verify.
    #[error("the {0} vote's signature does not verify")]
    Signature(&'static str),
}

impl Equivocation {
    /// Checks that the two votes conflict and that `validator`, one of `validators`, signed
    /// both.
    pub fn check(&self, validators: &[Ed25519PublicKey]) -> Result<(), EvidenceError> {
        if !validators.contains(&self.validator) {
            return Err(EvidenceError::NotValidator);
        }
        let conflicting = match (self.first.vote, self.second.vote) {
            (Vote::Notarize { .. }, Vote::Notarize { .. })
            | (Vote::Finalize { .. }, Vote::Finalize { .. }) => self.first.vote != self.second.vote,
            (Vote::Nullify, Vote::Finalize { .. }) | (Vote::Finalize { .. }, Vote::Nullify) => true,
            _ => false,
        };
        if !conflicting {
            return Err(EvidenceError::NotConflicting);
        }
        for (which, signed) in [("first", &self.first), ("second", &self.second)] {
            let message = vote_message(self.epoch, self.view, &signed.vote);
            self.validator
                .verify(&message, &signed.signature)
                .map_err(|_| EvidenceError::Signature(which))?;
        }
        Ok(())
    }

    /// The round, in order.
    pub fn round(&self) -> (u64, u64) {
        (self.epoch, self.view)
    }
}

#[cfg(test)]
mod tests {
    use walrus_core::keys::Ed25519KeyPair;

    use super::*;

    fn signed(key: &Ed25519KeyPair, view: u64, vote: Vote) -> SignedVote {
        SignedVote { vote, signature: key.sign(&vote_message(0, view, &vote)) }
    }

    #[test]
    fn only_signed_conflicting_votes_of_a_validator_convict() {
        let keys: Vec<_> = (0..2u8).map(|i| Ed25519KeyPair::from_seed(&[i + 1; 32])).collect();
        let validators = [keys[0].public()];
        let a = Vote::Notarize { parent_view: 4, payload: [1; 32] };
        let b = Vote::Notarize { parent_view: 4, payload: [2; 32] };
        let fin = Vote::Finalize { parent_view: 4, payload: [1; 32] };
        let evidence = |first, second| Equivocation {
            validator: keys[0].public(),
            epoch: 0,
            view: 5,
            first: signed(&keys[0], 5, first),
            second: signed(&keys[0], 5, second),
        };
        assert_eq!(evidence(a, b).check(&validators), Ok(()));
        assert_eq!(evidence(Vote::Nullify, fin).check(&validators), Ok(()));
        assert_eq!(evidence(fin, Vote::Nullify).check(&validators), Ok(()));
        assert_eq!(evidence(a, a).check(&validators), Err(EvidenceError::NotConflicting));
        // Notarizing one block and finalizing another is what an honest validator does across
        // a view change's certificates; only the pairs above convict.
        assert_eq!(evidence(a, fin).check(&validators), Err(EvidenceError::NotConflicting));
        assert_eq!(evidence(Vote::Nullify, a).check(&validators), Err(EvidenceError::NotConflicting));
        let mut moved = evidence(a, b);
        moved.view = 6;
        assert_eq!(moved.check(&validators), Err(EvidenceError::Signature("first")));
        let mut forged = evidence(a, b);
        forged.second = signed(&keys[1], 5, b);
        assert_eq!(forged.check(&validators), Err(EvidenceError::Signature("second")));
        let mut stranger = evidence(a, b);
        stranger.validator = keys[1].public();
        assert_eq!(stranger.check(&validators), Err(EvidenceError::NotValidator));
    }
}
