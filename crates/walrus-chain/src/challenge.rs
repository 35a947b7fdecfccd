//! Storage challenges on chain (docs/challenges.md): the validators' commit-reveal seed, the
//! draw of the challenged blobs, the provers' certificates, and the settlement that scales each
//! node's reward by its pass rate, burns what it forfeits, fines a node under the floor and
//! takes the shards of a node under it twice in a row.
//!
//! One round per epoch, on the epoch's own clock (it runs from the epoch change being done):
//! validators commit (a digest, with a bond) until the reveal window opens, reveal in it, and
//! `StartChallenge`, permissionless once the window is over, derives the seed from the reveals,
//! burns the bonds of commitments never revealed, and draws the blobs from those certified
//! before the epoch. Provers submit certificates until the deadline; the epoch change settles.
//! From the reveal window's opening to the deadline nothing that removes a blob object runs: the
//! last revealer could otherwise steer the draw by deleting blobs, and anyone could take a drawn
//! blob's data from the verifiers by deleting or invalidating it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use walrus_core::challenge::{
    challenge_seed, draw_blobs, reveal_commitment, BlobIndex, ChallengeResult, ChallengedBlob,
    CHALLENGE_INTENT_TYPE,
};
use walrus_core::hash::Digest;
use walrus_core::keys::Address;
use walrus_core::{BlobId, EncodingParams, Epoch, ObjectId};

use crate::amount::Frost;
use crate::certify::{self, Threshold};
use crate::epoch::EpochState;
use crate::error::ExecError;
use crate::events::Event;
use crate::state::{Overlay, State};
use crate::system::System;
use crate::tx::CertificateArgs;

/// Basis points: 10,000 is 1.
pub const BPS: u64 = 10_000;

/// The parameters of challenges, rewards and penalties; governance votes change them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeParams {
    /// Blobs drawn per epoch (`c`; half by count, half by size). 0 turns challenges off.
    pub blobs: u16,
    /// How long before the epoch's end the challenge starts (at most a quarter of the epoch).
    pub lead_ms: u64,
    /// The reveal window before the start, when nodes pause all sliver serving (at most an
    /// eighth of the epoch).
    pub reveal_window_ms: u64,
    /// How long provers have for their certificates (at most the lead).
    pub response_window_ms: u64,
    /// λ in `q = max(0, 1 − λ·fail)`, in basis points (2 = 20,000).
    pub reward_slope_bps: u32,
    /// Below this pass rate (basis points) a node pays the per-shard penalty.
    pub floor_bps: u16,
    /// The penalty per shard held, burned from the node's commission, then its pool.
    pub penalty_per_shard: Frost,
    /// Epochs in a row under the floor that cost a node its shards at the next assignment.
    pub eviction_streak: u8,
    /// What a validator locks with its commitment; burned if it never reveals.
    pub reveal_bond: Frost,
    /// Burned from stake withdrawn within `stake_hop_epochs` of its activation, in basis points.
    pub stake_hop_burn_bps: u16,
    /// How long stake must stay to leave without the burn.
    pub stake_hop_epochs: u32,
}

impl Default for ChallengeParams {
    fn default() -> Self {
        ChallengeParams {
            blobs: 64,
            lead_ms: 60 * 60 * 1000,
            reveal_window_ms: 10_000,
            response_window_ms: 30 * 60 * 1000,
            reward_slope_bps: 20_000,
            floor_bps: 5_000,
            penalty_per_shard: Frost(1_000_000_000),
            eviction_streak: 2,
            reveal_bond: Frost(1_000_000_000),
            stake_hop_burn_bps: 100,
            stake_hop_epochs: 2,
        }
    }
}

/// A validator's commitment and the bond it locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    /// `reveal_commitment(secret)`.
    pub commitment: Digest,
    /// The bond, returned on reveal.
    pub bond: Frost,
    /// Who paid it.
    pub from: Address,
}

/// What a certificate established of one prover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// Items it had to prove.
    pub n_items: u32,
    /// Items that passed.
    pub n_passed: u32,
    /// Shards that signed the certificate.
    pub signer_weight: u64,
}

/// A started challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// The seed.
    pub seed: Digest,
    /// No validator revealed: the seed came from a block digest, which its proposer could grind.
    pub insecure: bool,
    /// When it started, and until when certificates are taken.
    pub start_ms: u64,
    /// The deadline for certificates.
    pub deadline_ms: u64,
    /// The drawn blobs, in draw order (their index is `blob_index` in the items).
    pub blobs: Vec<ChallengedBlob>,
    /// Certified provers.
    pub outcomes: BTreeMap<ObjectId, Outcome>,
}

/// The current epoch's round.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Round {
    /// Commitments by validator index.
    pub commits: BTreeMap<u16, Commit>,
    /// Revealed secrets by validator index.
    pub reveals: BTreeMap<u16, Digest>,
    /// The challenge, once started.
    pub challenge: Option<Challenge>,
}

impl Round {
    /// Bonds held for commitments.
    pub fn bonds(&self) -> Result<Frost, ExecError> {
        self.commits.values().try_fold(Frost::ZERO, |sum, c| sum.checked_add(c.bond))
    }
}

/// A node's last settled challenge and its streak under the floor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeChallenge {
    /// Epochs in a row settled under the floor.
    pub fail_streak: u8,
    /// The last settlement that concerned it.
    pub last: Option<Settlement>,
}

/// How one epoch's challenge settled for one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    /// The epoch challenged.
    pub epoch: Epoch,
    /// Items it had to prove (0: no challenge, or voided).
    pub n_items: u32,
    /// Items that passed.
    pub n_passed: u32,
    /// Its reward's share kept, in basis points.
    pub reward_bps: u16,
    /// Reward burned.
    pub forfeited: Frost,
    /// Penalty burned.
    pub penalty: Frost,
}

/// The times of the current epoch's round, once the epoch's clock runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Reveals are taken from here (and nodes pause serving slivers).
    pub reveal_open_ms: u64,
    /// The challenge may start from here.
    pub start_ms: u64,
    /// Certificates are taken until here.
    pub deadline_ms: u64,
}

/// The round's schedule: `None` while the epoch change is in sync (the clock is not running).
pub fn schedule(system: &System) -> Option<Schedule> {
    let since = match system.epoch_state {
        EpochState::ChangeSync { .. } => return None,
        EpochState::ChangeDone { since_ms } | EpochState::NextParamsSelected { since_ms } => since_ms,
    };
    let duration = system.params.epoch_duration_ms;
    let p = &system.params.challenge;
    let lead = p.lead_ms.min(duration / 4);
    let start_ms = since.saturating_add(duration).saturating_sub(lead);
    let reveal_open_ms = start_ms.saturating_sub(p.reveal_window_ms.min(duration / 8));
    let deadline_ms = start_ms.saturating_add(p.response_window_ms.min(lead));
    Some(Schedule { reveal_open_ms, start_ms, deadline_ms })
}

/// Whether blob removals wait at `now_ms`: from the reveal window's opening until the
/// challenge's deadline. Before the start, deleting a blob would shift the draw the last
/// revealer already knows; after it, deleting or invalidating a drawn blob would take its data
/// from the verifiers and void the round.
pub fn removals_paused(system: &System, now_ms: u64) -> bool {
    let Some(times) = schedule(system).filter(|_| system.params.challenge.blobs > 0) else { return false };
    let deadline = system.round.challenge.as_ref().map_or(times.deadline_ms, |c| c.deadline_ms);
    now_ms >= times.reveal_open_ms && now_ms <= deadline
}

/// Refuses a call that would remove a blob object while removals are paused.
pub(crate) fn check_no_draw_pending(o: &Overlay<'_>) -> Result<(), ExecError> {
    if removals_paused(o.system(), o.now_ms()) {
        return Err(ExecError::ChallengeDrawPending);
    }
    Ok(())
}

fn validator_index(o: &Overlay<'_>, sender: Address) -> Result<u16, ExecError> {
    o.base()
        .validators
        .iter()
        .position(|key| Address::from_ed25519(key) == sender)
        .and_then(|i| u16::try_from(i).ok())
        .ok_or(ExecError::NotAValidator(sender))
}

fn check_epoch(o: &Overlay<'_>, epoch: Epoch) -> Result<(), ExecError> {
    let current = o.system().epoch();
    if epoch != current {
        return Err(ExecError::IncorrectEpoch { message: epoch, current });
    }
    Ok(())
}

/// `ChallengeCommit`: a validator commits to its secret before the reveal window opens and
/// locks the bond.
pub(crate) fn commit(
    o: &mut Overlay<'_>,
    sender: Address,
    epoch: Epoch,
    commitment: Digest,
) -> Result<(), ExecError> {
    check_epoch(o, epoch)?;
    let index = validator_index(o, sender)?;
    let system = o.system();
    if schedule(system).is_some_and(|s| o.now_ms() >= s.reveal_open_ms) {
        return Err(ExecError::ChallengeStep("commitments are closed: the reveal window is open"));
    }
    if system.round.commits.contains_key(&index) {
        return Err(ExecError::ChallengeStep("this validator has committed already"));
    }
    let bond = system.params.challenge.reveal_bond;
    o.debit(sender, bond)?;
    o.system_mut().round.commits.insert(index, Commit { commitment, bond, from: sender });
    Ok(())
}

/// `ChallengeReveal`: in the reveal window, the secret whose commitment is on chain; the bond
/// goes back.
pub(crate) fn reveal(
    o: &mut Overlay<'_>,
    sender: Address,
    epoch: Epoch,
    secret: Digest,
) -> Result<(), ExecError> {
    check_epoch(o, epoch)?;
    let index = validator_index(o, sender)?;
    let system = o.system();
    let open = schedule(system).is_some_and(|s| o.now_ms() >= s.reveal_open_ms);
    if !open || system.round.challenge.is_some() {
        return Err(ExecError::ChallengeStep("reveals are taken only in the reveal window"));
    }
    let commit =
        *system.round.commits.get(&index).ok_or(ExecError::ChallengeStep("no commitment to reveal"))?;
    if system.round.reveals.contains_key(&index) {
        return Err(ExecError::ChallengeStep("this validator has revealed already"));
    }
    if reveal_commitment(&secret) != commit.commitment {
        return Err(ExecError::ChallengeStep("the secret does not match the commitment"));
    }
    let round = &mut o.system_mut().round;
    round.reveals.insert(index, secret);
    if let Some(held) = round.commits.get_mut(&index) {
        held.bond = Frost::ZERO;
    }
    o.credit(commit.from, commit.bond)
}

/// The challengeable blobs of epoch `epoch` in `state`: certified before it, stored through it,
/// not invalid; one entry per blob ID (in blob-ID order) with its unencoded size.
pub struct Eligible {
    blobs: Vec<(BlobId, u64)>,
    /// `ends[k]`: total size of blobs `0..=k`.
    ends: Vec<u64>,
}

impl Eligible {
    /// Scans `state` once (O(N) per epoch; see docs/challenges.md on the index).
    pub fn scan(state: &State, epoch: Epoch) -> Eligible {
        let mut blobs = Vec::new();
        for (blob_id, objects) in state.blob_ids() {
            if state.is_invalid(&blob_id) {
                continue;
            }
            let size = objects.iter().filter_map(|id| state.object(id)).find_map(|object| {
                let blob = object.body.blob()?;
                let certified = blob.certified_epoch.is_some_and(|c| c < epoch);
                (certified && blob.end_epoch() > epoch).then_some(blob.size)
            });
            if let Some(size) = size {
                blobs.push((blob_id, size));
            }
        }
        Eligible::from_sorted(blobs)
    }

    /// From blobs in blob-ID order.
    pub fn from_sorted(blobs: Vec<(BlobId, u64)>) -> Eligible {
        let mut total = 0u64;
        let ends = blobs
            .iter()
            .map(|(_, size)| {
                total = total.saturating_add((*size).max(1));
                total
            })
            .collect();
        Eligible { blobs, ends }
    }
}

impl BlobIndex for Eligible {
    fn count(&self) -> u64 {
        self.blobs.len() as u64
    }
    fn total_size(&self) -> u64 {
        self.ends.last().copied().unwrap_or(0)
    }
    fn nth(&self, k: u64) -> Option<(BlobId, u64)> {
        self.blobs.get(usize::try_from(k).ok()?).copied()
    }
    fn at_size_offset(&self, offset: u64) -> Option<(BlobId, u64)> {
        let k = self.ends.partition_point(|&end| end <= offset);
        self.blobs.get(k).copied()
    }
}

/// `StartChallenge`, permissionless once the reveal window is over: fixes the seed, burns the
/// bonds never revealed, draws the blobs.
pub(crate) fn start(o: &mut Overlay<'_>) -> Result<(), ExecError> {
    let now = o.now_ms();
    let system = o.system();
    let due = schedule(system).filter(|s| now >= s.start_ms);
    let Some(schedule) = due else { return Err(ExecError::EpochStepNotDue("challenge start")) };
    if system.round.challenge.is_some() {
        return Err(ExecError::ChallengeStep("the challenge has started already"));
    }
    let epoch = system.epoch();
    let reveals: Vec<Digest> = system.round.reveals.values().copied().collect();
    let withheld: Vec<(u16, Commit)> = system
        .round
        .commits
        .iter()
        .filter(|(index, _)| !system.round.reveals.contains_key(index))
        .map(|(index, commit)| (*index, *commit))
        .collect();
    let seed = challenge_seed(epoch, &reveals, &o.base().last_block);
    let params =
        EncodingParams::new(u64::from(system.params.n_shards)).map_err(|_| ExecError::ArithmeticOverflow)?;
    let count = system.params.challenge.blobs;
    let blobs = if count == 0 {
        Vec::new()
    } else {
        draw_blobs(params, &seed, &Eligible::scan(o.base(), epoch), count)
    };
    let challenge = Challenge {
        seed,
        insecure: reveals.is_empty(),
        start_ms: now,
        deadline_ms: schedule.deadline_ms.max(now),
        blobs: blobs.clone(),
        outcomes: BTreeMap::new(),
    };
    let deadline_ms = challenge.deadline_ms;
    let round = &mut o.system_mut().round;
    round.challenge = Some(challenge);
    for (index, _) in &withheld {
        round.commits.remove(index);
    }
    for (validator, commit) in withheld {
        o.burn(commit.bond)?;
        o.emit(Event::RevealWithheld { epoch, validator, bond: commit.bond });
    }
    o.emit(Event::ChallengeStarted { epoch, seed, insecure: reveals.is_empty(), deadline_ms, blobs });
    Ok(())
}

/// `SubmitChallengeCertificate`: a prover's pass bitmap signed by verifiers holding a quorum of
/// shards, before the deadline, from the prover's operator (so that nobody can get in first with
/// a certificate of a worse bitmap that the verifiers signed before the prover's items came).
pub(crate) fn submit_certificate(
    o: &mut Overlay<'_>,
    sender: Address,
    certificate: &CertificateArgs,
) -> Result<(), ExecError> {
    let now = o.now_ms();
    let system = o.system();
    let challenge =
        system.round.challenge.as_ref().ok_or(ExecError::ChallengeStep("no challenge has started"))?;
    if now > challenge.deadline_ms {
        return Err(ExecError::ChallengeStep("the deadline for certificates has passed"));
    }
    let body = certify::verify(system, certificate, Threshold::Quorum, CHALLENGE_INTENT_TYPE, o.verdict())?;
    let result: ChallengeResult =
        bcs::from_bytes(body).map_err(|_| ExecError::InvalidMessage("not a challenge result"))?;
    if result.seed != challenge.seed {
        return Err(ExecError::InvalidMessage("the result is for another seed"));
    }
    let member = system
        .committee
        .members
        .iter()
        .find(|m| m.node_id == result.node_id)
        .ok_or(ExecError::ChallengeStep("the prover is not in the committee"))?;
    if system.nodes.get(&result.node_id).is_none_or(|node| node.owner != sender) {
        return Err(ExecError::NotNodeOwner(result.node_id));
    }
    if challenge.outcomes.contains_key(&result.node_id) {
        return Err(ExecError::ChallengeStep("this prover's certificate is in already"));
    }
    let expected = challenge.blobs.len() as u64 * member.weight();
    if u64::from(result.n_items) != expected || !result.is_well_formed() {
        return Err(ExecError::InvalidMessage("the bitmap does not cover the prover's items"));
    }
    let signer_weight = certify::signed_by(system, certificate).map_or(0, |(_, weight)| weight);
    let outcome = Outcome { n_items: result.n_items, n_passed: result.n_passed(), signer_weight };
    let epoch = system.epoch();
    let round = &mut o.system_mut().round;
    round.challenge.as_mut().expect("checked above").outcomes.insert(result.node_id, outcome);
    o.emit(Event::ChallengeCertified {
        epoch,
        node_id: result.node_id,
        n_items: outcome.n_items,
        n_passed: outcome.n_passed,
        signer_weight,
    });
    Ok(())
}

/// What settling a round takes out of each member's reward and pool.
#[derive(Debug, Default)]
pub(crate) struct Settled {
    /// Per member: the share of its reward it keeps, in basis points.
    pub(crate) reward_bps: BTreeMap<ObjectId, u64>,
    /// Per member under the floor: the penalty.
    pub(crate) penalties: BTreeMap<ObjectId, Frost>,
    /// Per member: items and passes (for its record).
    pub(crate) outcomes: BTreeMap<ObjectId, (u32, u32)>,
}

/// Settles the ending epoch's round: each member's kept share `max(0, 1 − λ·fail)` and, under
/// the floor, its penalty. A round that never started, drew nothing, or whose certificates
/// cover less than a quorum of shards (a network incident, not cheating) is void: all keep all.
pub(crate) fn settle(system: &System) -> Settled {
    let mut settled = Settled::default();
    let p = &system.params.challenge;
    let quorum = system.quorum();
    let void = match &system.round.challenge {
        None => true,
        Some(c) => {
            let certified: u64 = system
                .committee
                .members
                .iter()
                .filter(|m| c.outcomes.contains_key(&m.node_id))
                .map(|m| m.weight())
                .sum();
            c.blobs.is_empty() || certified < quorum
        }
    };
    for member in &system.committee.members {
        let challenge = system.round.challenge.as_ref().filter(|_| !void);
        let (n_items, n_passed) = match challenge {
            None => (0, 0),
            Some(c) => match c.outcomes.get(&member.node_id) {
                Some(outcome) => (outcome.n_items, outcome.n_passed),
                // No certificate: every item failed.
                None => (u32::try_from(c.blobs.len() as u64 * member.weight()).unwrap_or(u32::MAX), 0),
            },
        };
        let (keep, under_floor) = if n_items == 0 {
            (BPS, false)
        } else {
            let (items, failed) = (u64::from(n_items), u64::from(n_items - n_passed.min(n_items)));
            let cut = u64::from(p.reward_slope_bps).saturating_mul(failed) / items;
            (BPS.saturating_sub(cut), u64::from(n_passed) * BPS < u64::from(p.floor_bps) * items)
        };
        settled.reward_bps.insert(member.node_id, keep);
        settled.outcomes.insert(member.node_id, (n_items, n_passed));
        if under_floor {
            settled
                .penalties
                .insert(member.node_id, Frost(p.penalty_per_shard.0.saturating_mul(member.weight())));
        }
    }
    settled
}
