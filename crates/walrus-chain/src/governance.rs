//! Governance: committee members propose and vote with their shards, under the quorum rule of
//! the reference's upgrade and slashing votes (`3w ≥ 2n + 1`). A parameter change that reaches
//! the quorum takes effect at the next epoch change; a slashing proposal is carried out when it
//! reaches it. Proposals live one epoch: those without a quorum lapse at the epoch change, as
//! the reference's votes reset every epoch (docs/challenges.md, "Governance").

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use walrus_core::challenge::CHALLENGED_BLOBS_MAX;
use walrus_core::keys::Address;
use walrus_core::ObjectId;

use crate::amount::Frost;
use crate::challenge::BPS;
use crate::error::ExecError;
use crate::events::Event;
use crate::state::Overlay;
use crate::system::{Parameters, System};

/// Most proposals one node may make per epoch (so the open ones are bounded by the committee's
/// size, and no group of nodes can crowd out the others' proposals).
pub const PROPOSALS_PER_NODE_MAX: usize = 4;
/// The largest share of a pool's stake one slashing proposal may burn, in basis points.
pub const STAKE_SLASH_BPS_MAX: u16 = 5_000;
/// The largest stake-hop burn, in basis points.
pub const STAKE_HOP_BURN_BPS_MAX: u16 = 1_000;
/// Shortest epoch governance may set, in milliseconds.
pub const EPOCH_DURATION_MS_MIN: u64 = 10_000;

/// A parameter a proposal sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParameterChange {
    /// Blobs drawn per challenge.
    ChallengeBlobs(u16),
    /// The challenge's timing: lead before the epoch's end, reveal window, response window.
    ChallengeTimes {
        /// Before the epoch's end.
        lead_ms: u64,
        /// The reveal window (the global pause).
        reveal_window_ms: u64,
        /// The certificates' window.
        response_window_ms: u64,
    },
    /// λ, in basis points.
    RewardSlopeBps(u32),
    /// The pass-rate floor, in basis points.
    FloorBps(u16),
    /// The penalty per shard under the floor.
    PenaltyPerShard(Frost),
    /// Epochs under the floor that cost the shards.
    EvictionStreak(u8),
    /// The validators' reveal bond.
    RevealBond(Frost),
    /// The stake-hop burn, in basis points, and the epochs within which it applies.
    StakeHop {
        /// Burned, in basis points.
        burn_bps: u16,
        /// Epochs after activation within which a withdrawal pays it.
        epochs: u32,
    },
    /// The epoch's length.
    EpochDurationMs(u64),
    /// Bounds of the storage price the votes may select (FROST per unit per epoch).
    StoragePriceBounds {
        /// Lowest.
        min: Frost,
        /// Highest.
        max: Frost,
    },
    /// Bounds of the write price the votes may select.
    WritePriceBounds {
        /// Lowest.
        min: Frost,
        /// Highest.
        max: Frost,
    },
}

impl ParameterChange {
    /// Checks the value against its bounds.
    pub fn check(&self) -> Result<(), ExecError> {
        let bad = |what: &'static str| Err(ExecError::InvalidParameter(what));
        match *self {
            ParameterChange::ChallengeBlobs(c) if c > CHALLENGED_BLOBS_MAX => {
                bad("challenge blobs above 1024")
            }
            ParameterChange::ChallengeTimes { lead_ms, reveal_window_ms, response_window_ms }
                if lead_ms == 0 || reveal_window_ms == 0 || response_window_ms == 0 =>
            {
                bad("challenge times must be positive")
            }
            ParameterChange::RewardSlopeBps(s) if u64::from(s) > 10 * BPS => bad("reward slope above 10"),
            ParameterChange::FloorBps(f) if u64::from(f) > BPS => bad("floor above 100%"),
            ParameterChange::EvictionStreak(0) => bad("eviction streak of 0"),
            ParameterChange::StakeHop { burn_bps, .. } if burn_bps > STAKE_HOP_BURN_BPS_MAX => {
                bad("stake-hop burn above 10%")
            }
            ParameterChange::EpochDurationMs(d) if d < EPOCH_DURATION_MS_MIN => {
                bad("epoch shorter than 10 s")
            }
            ParameterChange::StoragePriceBounds { min, max }
            | ParameterChange::WritePriceBounds { min, max }
                if min > max =>
            {
                bad("price bounds with min above max")
            }
            _ => Ok(()),
        }
    }

    /// Writes the value into `params`.
    pub fn apply(&self, params: &mut Parameters) {
        let c = &mut params.challenge;
        match *self {
            ParameterChange::ChallengeBlobs(v) => c.blobs = v,
            ParameterChange::ChallengeTimes { lead_ms, reveal_window_ms, response_window_ms } => {
                (c.lead_ms, c.reveal_window_ms, c.response_window_ms) =
                    (lead_ms, reveal_window_ms, response_window_ms);
            }
            ParameterChange::RewardSlopeBps(v) => c.reward_slope_bps = v,
            ParameterChange::FloorBps(v) => c.floor_bps = v,
            ParameterChange::PenaltyPerShard(v) => c.penalty_per_shard = v,
            ParameterChange::EvictionStreak(v) => c.eviction_streak = v,
            ParameterChange::RevealBond(v) => c.reveal_bond = v,
            ParameterChange::StakeHop { burn_bps, epochs } => {
                (c.stake_hop_burn_bps, c.stake_hop_epochs) = (burn_bps, epochs);
            }
            ParameterChange::EpochDurationMs(v) => params.epoch_duration_ms = v,
            ParameterChange::StoragePriceBounds { min, max } => params.price_bounds.storage = (min, max),
            ParameterChange::WritePriceBounds { min, max } => params.price_bounds.write = (min, max),
        }
    }
}

/// Checks every governed value of `params` as a proposal of it would be (for a genesis).
pub fn check_parameters(params: &Parameters) -> Result<(), ExecError> {
    let c = &params.challenge;
    let b = &params.price_bounds;
    [
        ParameterChange::ChallengeBlobs(c.blobs),
        ParameterChange::ChallengeTimes {
            lead_ms: c.lead_ms,
            reveal_window_ms: c.reveal_window_ms,
            response_window_ms: c.response_window_ms,
        },
        ParameterChange::RewardSlopeBps(c.reward_slope_bps),
        ParameterChange::FloorBps(c.floor_bps),
        ParameterChange::EvictionStreak(c.eviction_streak),
        ParameterChange::StakeHop { burn_bps: c.stake_hop_burn_bps, epochs: c.stake_hop_epochs },
        ParameterChange::StoragePriceBounds { min: b.storage.0, max: b.storage.1 },
        ParameterChange::WritePriceBounds { min: b.write.0, max: b.write.1 },
    ]
    .iter()
    .try_for_each(ParameterChange::check)
}

/// What a proposal asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Proposal {
    /// Set a parameter from the next epoch.
    SetParameter(ParameterChange),
    /// Burn the node's commission (the reference's slashing).
    SlashCommission {
        /// The node.
        node_id: ObjectId,
    },
    /// Burn a share of the node's pool (ours: its delegators bear it, as the paper asks).
    SlashStake {
        /// The node.
        node_id: ObjectId,
        /// The share burned, in basis points (at most [`STAKE_SLASH_BPS_MAX`]).
        bps: u16,
    },
}

/// A proposal open for votes this epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenProposal {
    /// What it asks.
    pub proposal: Proposal,
    /// The node that made it.
    pub proposer: ObjectId,
    /// The nodes that voted for it (the proposer first of all).
    pub voters: BTreeSet<ObjectId>,
    /// Their shards.
    pub weight: u64,
    /// Whether it reached the quorum (and was carried out or scheduled).
    pub passed: bool,
}

/// Governance's state in the system object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Governance {
    /// The next proposal's ID.
    pub next_id: u64,
    /// This epoch's proposals, by ID.
    pub open: BTreeMap<u64, OpenProposal>,
    /// Changes passed this epoch, applied at the epoch change in the order they passed.
    pub scheduled: Vec<ParameterChange>,
}

/// The committee member `node_id` operated by `sender`, and its shards.
fn voting_member(system: &System, sender: Address, node_id: ObjectId) -> Result<u64, ExecError> {
    let node = system.nodes.get(&node_id).ok_or(ExecError::NodeNotFound(node_id))?;
    if node.owner != sender {
        return Err(ExecError::NotNodeOwner(node_id));
    }
    let member = system.committee.members.iter().find(|m| m.node_id == node_id);
    member.map(|m| m.weight()).filter(|w| *w > 0).ok_or(ExecError::NotInCommittee(node_id))
}

/// `Propose`: a committee member's operator opens a proposal and votes for it.
pub(crate) fn propose(
    o: &mut Overlay<'_>,
    sender: Address,
    node_id: ObjectId,
    proposal: Proposal,
) -> Result<(), ExecError> {
    match proposal {
        Proposal::SetParameter(change) => change.check()?,
        Proposal::SlashCommission { node_id: target } | Proposal::SlashStake { node_id: target, .. } => {
            if !o.system().nodes.contains_key(&target) {
                return Err(ExecError::NodeNotFound(target));
            }
        }
    }
    if let Proposal::SlashStake { bps, .. } = proposal {
        if bps == 0 || bps > STAKE_SLASH_BPS_MAX {
            return Err(ExecError::InvalidParameter("stake slash outside 1..=5000 basis points"));
        }
    }
    let system = o.system();
    voting_member(system, sender, node_id)?;
    let gov = &system.governance;
    if gov.open.values().filter(|p| p.proposer == node_id).count() >= PROPOSALS_PER_NODE_MAX {
        return Err(ExecError::LimitExceeded {
            what: "proposals per node per epoch",
            max: PROPOSALS_PER_NODE_MAX as u64,
        });
    }
    let epoch = system.epoch();
    let gov = &mut o.system_mut().governance;
    let id = gov.next_id;
    gov.next_id += 1;
    let open =
        OpenProposal { proposal, proposer: node_id, voters: BTreeSet::new(), weight: 0, passed: false };
    gov.open.insert(id, open);
    o.emit(Event::ProposalCreated { epoch, proposal_id: id, proposer: node_id, proposal });
    vote(o, sender, node_id, id)
}

/// `Vote`: a committee member's operator votes for an open proposal with its shards; at the
/// quorum the proposal passes.
pub(crate) fn vote(
    o: &mut Overlay<'_>,
    sender: Address,
    node_id: ObjectId,
    proposal_id: u64,
) -> Result<(), ExecError> {
    let system = o.system();
    let weight = voting_member(system, sender, node_id)?;
    let open = system.governance.open.get(&proposal_id).ok_or(ExecError::ProposalNotFound(proposal_id))?;
    if open.voters.contains(&node_id) {
        return Err(ExecError::InvalidParameter("this node has voted for the proposal already"));
    }
    let n = u64::from(system.params.n_shards);
    let epoch = system.epoch();
    let system = o.system_mut();
    let open = system.governance.open.get_mut(&proposal_id).expect("checked above");
    open.voters.insert(node_id);
    open.weight += weight;
    // `3w ≥ 2n + 1`.
    let reached = !open.passed && 3 * open.weight > 2 * n;
    let (proposal, total) = (open.proposal, open.weight);
    o.emit(Event::ProposalVoted { epoch, proposal_id, node_id, weight: total });
    if !reached {
        return Ok(());
    }
    o.system_mut().governance.open.get_mut(&proposal_id).expect("checked above").passed = true;
    let burned = match proposal {
        Proposal::SetParameter(change) => {
            o.system_mut().governance.scheduled.push(change);
            Frost::ZERO
        }
        Proposal::SlashCommission { node_id: target } => slash(o.system_mut(), target, 0)?,
        Proposal::SlashStake { node_id: target, bps } => slash(o.system_mut(), target, bps)?,
    };
    o.burn(burned)?;
    o.emit(Event::ProposalPassed { epoch, proposal_id, burned });
    Ok(())
}

/// Burns `target`'s commission and, with `stake_bps > 0`, that share of its pool's active stake.
fn slash(system: &mut System, target: ObjectId, stake_bps: u16) -> Result<Frost, ExecError> {
    let node = system.nodes.get_mut(&target).ok_or(ExecError::NodeNotFound(target))?;
    let commission =
        std::mem::take(&mut node.commission).checked_add(std::mem::take(&mut node.commission_blocked))?;
    let stake = u64::try_from(u128::from(node.pool.active_wal) * u128::from(stake_bps) / u128::from(BPS))
        .unwrap_or(node.pool.active_wal);
    node.pool.active_wal -= stake;
    commission.checked_add(Frost(stake))
}

/// At the epoch change: applies the changes passed this epoch and lets the rest lapse.
pub(crate) fn end_epoch(system: &mut System) -> Vec<ParameterChange> {
    let gov = std::mem::take(&mut system.governance.scheduled);
    for change in &gov {
        change.apply(&mut system.params);
    }
    system.governance.open.clear();
    gov
}
