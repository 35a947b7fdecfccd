//! Equivocation evidence from simplex to the chain.
//!
//! Simplex reports a validator's conflicting votes (two notarize or two finalize votes for
//! different proposals in one round, or a nullify and a finalize vote) as activity, without
//! verifying their signatures first. [`EvidenceReporter`] turns each into the chain's
//! [`Equivocation`], and the [`EvidencePool`] keeps those whose signatures verify against the
//! genesis validators until a block this validator proposes records them; execution then
//! records each validator's conviction on chain (`walrus_chain::evidence`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use commonware_actor::Feedback;
use commonware_codec::{Encode as _, ReadExt as _};
use commonware_consensus::simplex::types::{Activity, Finalize, Notarize, Nullify, Proposal};
use commonware_consensus::Reporter;
use commonware_cryptography::ed25519::PublicKey;
use commonware_utils::ordered::Set;
use walrus_chain::evidence::{Conviction, Equivocation, SignedVote};
use walrus_chain::finality::Vote;
use walrus_core::keys::{Ed25519PublicKey, Ed25519Signature};

use crate::block::ConsensusDigest;
use crate::mempool::Mempool;
use crate::validator::Scheme;

/// Most pieces of evidence a validator holds before a block records them; more are dropped
/// (each validator is convicted once per round, and a block carries
/// `walrus_chain::evidence::EVIDENCE_PER_BLOCK_MAX`).
pub const EVIDENCE_POOL_MAX: usize = 64;

/// Evidence by validator and round (epoch, view).
type Pending = BTreeMap<(Ed25519PublicKey, (u64, u64)), Equivocation>;

/// Verified evidence waiting to be proposed, one piece per validator and round.
pub struct EvidencePool {
    validators: Vec<Ed25519PublicKey>,
    pending: Mutex<Pending>,
    /// Woken when a piece arrives, so that an idle proposer includes it.
    mempool: Arc<Mempool>,
}

impl EvidencePool {
    /// A pool checking evidence against the genesis `validators`, waking `mempool`'s waiters.
    pub fn new(validators: Vec<Ed25519PublicKey>, mempool: Arc<Mempool>) -> EvidencePool {
        EvidencePool { validators, pending: Mutex::new(BTreeMap::new()), mempool }
    }

    /// Adds `evidence` if it convicts a genesis validator and the pool has room; returns
    /// whether it was added.
    pub fn add(&self, evidence: Equivocation) -> bool {
        if let Err(e) = evidence.check(&self.validators) {
            tracing::warn!("ignoring equivocation evidence: {e}");
            return false;
        }
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if pending.len() >= EVIDENCE_POOL_MAX {
            return false;
        }
        let added = pending.insert((evidence.validator, evidence.round()), evidence).is_none();
        drop(pending);
        if added {
            tracing::warn!(
                validator = ?evidence.validator,
                view = evidence.view,
                "a validator equivocated; the evidence goes into the next block this validator proposes"
            );
            self.mempool.wake();
        }
        added
    }

    /// Up to `max` pieces the chain has not recorded yet (`convictions` is the executed
    /// state's); forgets the recorded ones.
    pub fn pending(
        &self,
        convictions: &BTreeMap<Ed25519PublicKey, Conviction>,
        max: usize,
    ) -> Vec<Equivocation> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.retain(|(validator, round), _| {
            convictions.get(validator).is_none_or(|recorded| recorded.latest.round() < *round)
        });
        pending.values().take(max).copied().collect()
    }

    /// The genesis validators' keys it checks evidence against.
    pub fn validators(&self) -> &[Ed25519PublicKey] {
        &self.validators
    }

    /// Pieces waiting.
    pub fn len(&self) -> usize {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Simplex's reporter of faults: hands conflicting votes to the [`EvidencePool`] (cheap to
/// clone).
#[derive(Clone)]
pub struct EvidenceReporter {
    /// The participants' keys, in simplex's order (sorted).
    participants: Arc<Vec<Ed25519PublicKey>>,
    pool: Arc<EvidencePool>,
}

impl EvidenceReporter {
    /// A reporter for `participants` into `pool`.
    pub fn new(participants: &Set<PublicKey>, pool: Arc<EvidencePool>) -> EvidenceReporter {
        let keys =
            participants.iter().map(|key| Ed25519PublicKey(key.as_ref().try_into().expect("32 bytes")));
        EvidenceReporter { participants: Arc::new(keys.collect()), pool }
    }

    /// The chain's form of a fault simplex reported; `None` for other activity, or if the
    /// votes do not decode as votes of one participant.
    fn equivocation(&self, activity: &Activity<Scheme, ConsensusDigest>) -> Option<Equivocation> {
        // The pairs' fields are private; their encoding is the two votes one after the other.
        let (first, second, mut bytes) = match activity {
            Activity::ConflictingNotarize(pair) => (Kind::Notarize, Kind::Notarize, pair.encode()),
            Activity::ConflictingFinalize(pair) => (Kind::Finalize, Kind::Finalize, pair.encode()),
            Activity::NullifyFinalize(pair) => (Kind::Nullify, Kind::Finalize, pair.encode()),
            _ => return None,
        };
        let (signer, epoch, view, first) = first.read(&mut bytes)?;
        let (second_signer, second_epoch, second_view, second) = second.read(&mut bytes)?;
        if (signer, epoch, view) != (second_signer, second_epoch, second_view) {
            return None;
        }
        let validator = *self.participants.get(usize::try_from(signer).ok()?)?;
        Some(Equivocation { validator, epoch, view, first, second })
    }
}

/// Which vote to read next from a reported pair.
#[derive(Clone, Copy)]
enum Kind {
    Notarize,
    Nullify,
    Finalize,
}

impl Kind {
    /// Reads one vote: its signer, epoch, view and the signed vote.
    fn read(self, bytes: &mut impl commonware_codec::Buf) -> Option<(u32, u64, u64, SignedVote)> {
        let proposal_vote = |proposal: &Proposal<ConsensusDigest>, finalize: bool| {
            let (parent_view, payload) = (proposal.parent.get(), proposal.payload.0);
            if finalize {
                Vote::Finalize { parent_view, payload }
            } else {
                Vote::Notarize { parent_view, payload }
            }
        };
        let (round, vote, attestation) = match self {
            Kind::Notarize => {
                let vote = Notarize::<Scheme, ConsensusDigest>::read(bytes).ok()?;
                (vote.proposal.round, proposal_vote(&vote.proposal, false), vote.attestation)
            }
            Kind::Finalize => {
                let vote = Finalize::<Scheme, ConsensusDigest>::read(bytes).ok()?;
                (vote.proposal.round, proposal_vote(&vote.proposal, true), vote.attestation)
            }
            Kind::Nullify => {
                let vote = Nullify::<Scheme>::read(bytes).ok()?;
                (vote.round, Vote::Nullify, vote.attestation)
            }
        };
        let signature: [u8; 64] = attestation.signature.get()?.as_ref().try_into().ok()?;
        let signed = SignedVote { vote, signature: Ed25519Signature(signature) };
        Some((attestation.signer.get(), round.epoch().get(), round.view().get(), signed))
    }
}

impl Reporter for EvidenceReporter {
    type Activity = Activity<Scheme, ConsensusDigest>;

    fn report(&mut self, activity: Self::Activity) -> Feedback {
        if let Some(evidence) = self.equivocation(&activity) {
            self.pool.add(evidence);
        }
        Feedback::Ok
    }
}

#[cfg(test)]
mod tests {
    use commonware_consensus::simplex::types::{ConflictingFinalize, ConflictingNotarize, NullifyFinalize};
    use commonware_consensus::types::{Epoch, Round, View};
    use commonware_cryptography::ed25519::PrivateKey;
    use commonware_cryptography::Signer as _;
    use walrus_chain::evidence::EvidenceError;

    use super::*;
    use crate::validator::NAMESPACE;

    /// Every kind of fault simplex reports becomes evidence the chain accepts: our rebuilt vote
    /// messages are the ones simplex signs.
    #[test]
    fn each_kind_of_fault_becomes_evidence_the_chain_accepts() {
        let keys: Vec<PrivateKey> = (0..4u64).map(PrivateKey::from_seed).collect();
        let participants = Set::from_iter_dedup(keys.iter().map(|k| k.public_key()));
        let signer = keys[2].clone();
        let accused = Ed25519PublicKey(signer.public_key().as_ref().try_into().expect("32 bytes"));
        let scheme = Scheme::signer(NAMESPACE, participants.clone(), signer).expect("a participant");
        let validators: Vec<Ed25519PublicKey> = keys
            .iter()
            .map(|k| Ed25519PublicKey(k.public_key().as_ref().try_into().expect("32 bytes")))
            .collect();
        let pool = Arc::new(EvidencePool::new(validators.clone(), Arc::new(Mempool::new(1))));
        let reporter = EvidenceReporter::new(&participants, Arc::clone(&pool));

        let round = Round::new(Epoch::new(3), View::new(41));
        let proposal = |payload: u8| Proposal::new(round, View::new(40), ConsensusDigest([payload; 32]));
        let notarize = |payload| Notarize::sign(&scheme, proposal(payload)).expect("signed");
        let finalize = |payload| Finalize::sign(&scheme, proposal(payload)).expect("signed");
        let nullify = Nullify::sign::<ConsensusDigest>(&scheme, round).expect("signed");
        let faults = [
            Activity::ConflictingNotarize(ConflictingNotarize::new(notarize(1), notarize(2))),
            Activity::ConflictingFinalize(ConflictingFinalize::new(finalize(1), finalize(2))),
            Activity::NullifyFinalize(NullifyFinalize::new(nullify, finalize(1))),
        ];
        for fault in &faults {
            let evidence = reporter.equivocation(fault).expect("a fault");
            assert_eq!((evidence.validator, evidence.epoch, evidence.view), (accused, 3, 41));
            assert_eq!(evidence.check(&validators), Ok(()), "{fault:?}");
            let mut moved = evidence;
            moved.view += 1;
            assert_eq!(moved.check(&validators), Err(EvidenceError::Signature("first")));
        }
        // The pool keeps one piece per validator and round, and only verified ones.
        let mut reporter = reporter;
        for fault in faults {
            reporter.report(fault);
        }
        assert_eq!(pool.len(), 1);
        let mut forged = pool.pending(&BTreeMap::new(), 16)[0];
        forged.view = 42;
        assert!(!pool.add(forged), "a piece whose signatures do not verify is dropped");
        assert_eq!(pool.len(), 1);
    }
}
