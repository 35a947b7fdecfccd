//! Storage nodes and epochs, as the reference's `staking_inner.move` and `system_state_inner.move`:
//! node registration with a proof of possession, price and capacity votes, commission, and the
//! epoch state machine (`EpochChangeDone → NextParamsSelected → EpochChangeSync →
//! EpochChangeDone`), stepped by permissionless calls that the nodes send when the block time
//! says a step is due: `VotingEnd` at mid-epoch selects the next committee by stake
//! ([`crate::committee`]) and the capacity; `InitiateEpochChange` at the epoch's end burns 3% of
//! its rewards, pays the committee (commission to the operator, the rest to the pool's stakers),
//! advances every pool ([`crate::staking`]) and starts the next epoch; every member of the new
//! committee then reports `EpochSyncDone` once it holds its shards, and a quorum of shards ends
//! the change.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use walrus_core::keys::{Address, BlsPublicKey, BlsSignature, NetworkPublicKey};
use walrus_core::messages::verify_proof_of_possession;
use walrus_core::{Epoch, ObjectId, ShardIndex};

use crate::amount::Frost;
use crate::challenge::{NodeChallenge, Settlement, BPS};
use crate::error::ExecError;
use crate::events::Event;
use crate::governance::ParameterChange;
use crate::staking::{Pool, COMMISSION_BPS_MAX};
use crate::state::Overlay;
use crate::system::{Committee, EpochAccount, Member, System};

/// Share of an ending epoch's rewards that is burned, in percent.
pub const REWARD_BURN_PERCENT: u64 = 3;
/// Longest node name, in bytes.
pub const NODE_NAME_BYTES_MAX: usize = 100;
/// Longest node network address, in bytes.
pub const NETWORK_ADDRESS_BYTES_MAX: usize = 259;

/// A node's votes on prices and capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Votes {
    /// FROST per storage unit per epoch.
    pub storage_price: Frost,
    /// FROST per storage unit, once per registration.
    pub write_price: Frost,
    /// Encoded bytes the node offers.
    pub node_capacity: u64,
}

/// A registered storage node and its staking pool (the reference's `StakingPool`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// The account that operates it.
    pub owner: Address,
    /// A name for people.
    pub name: String,
    /// Its BLS key.
    pub public_key: BlsPublicKey,
    /// Where its REST API listens (`host:port`; HTTPS).
    pub network_address: String,
    /// The key its TLS certificate carries.
    pub network_public_key: NetworkPublicKey,
    /// Its votes.
    pub votes: Votes,
    /// Commission earned and collectable by the operator.
    pub commission: Frost,
    /// Commission earned at the last epoch change, collectable from mid-epoch (`VotingEnd`).
    pub commission_blocked: Frost,
    /// The commission rate in basis points.
    pub commission_rate: u16,
    /// Rates that take effect at an epoch (set two epochs ahead).
    pub pending_commission_rates: BTreeMap<Epoch, u16>,
    /// The last epoch for which it reported holding its shards.
    pub last_sync_done: Option<Epoch>,
    /// The stake with the node.
    pub pool: Pool,
    /// Its last challenge settlement and its streak under the floor.
    pub challenge: NodeChallenge,
}

/// Where the epoch is in its cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EpochState {
    /// The epoch has begun; members holding `weight` shards have reported their shards.
    ChangeSync {
        /// Shards reported so far.
        weight: u64,
    },
    /// Every member holds its shards since `since_ms`; the epoch's clock runs from there.
    ChangeDone {
        /// When the quorum was reached.
        since_ms: u64,
    },
    /// The next epoch's parameters are chosen (at mid-epoch).
    NextParamsSelected {
        /// When the epoch change was done.
        since_ms: u64,
    },
}

impl System {
    /// The block time at which the next epoch step is due, if the clock is running.
    pub fn next_step_ms(&self) -> Option<u64> {
        let duration = self.params.epoch_duration_ms;
        match self.epoch_state {
            EpochState::ChangeSync { .. } => None,
            EpochState::ChangeDone { since_ms } => Some(since_ms.saturating_add(duration / 2)),
            EpochState::NextParamsSelected { since_ms } => Some(since_ms.saturating_add(duration)),
        }
    }

    /// Quorum weight: `2f + 1` of `n` shards.
    pub(crate) fn quorum(&self) -> u64 {
        let n = u64::from(self.params.n_shards);
        2 * ((n - 1) / 3) + 1
    }

    /// Members' votes with their shard weights.
    fn weighted_votes(&self) -> Vec<(Votes, u64)> {
        self.committee
            .members
            .iter()
            .filter_map(|m| self.nodes.get(&m.node_id).map(|node| (node.votes, m.weight())))
            .collect()
    }

    /// The lowest value such that members holding a quorum of shards voted at or below it.
    fn quorum_below(&self, mut votes: Vec<(u64, u64)>) -> Option<u64> {
        votes.sort_unstable();
        let mut weight = 0;
        votes.into_iter().find_map(|(value, w)| {
            weight += w;
            (weight >= self.quorum()).then_some(value)
        })
    }

    /// The highest value such that members holding a quorum of shards voted at or above it.
    fn quorum_above(&self, mut votes: Vec<(u64, u64)>) -> Option<u64> {
        votes.sort_unstable_by(|a, b| b.cmp(a));
        let mut weight = 0;
        votes.into_iter().find_map(|(value, w)| {
            weight += w;
            (weight >= self.quorum()).then_some(value)
        })
    }

    /// Recomputes the prices from the current committee's votes; the event if they changed.
    pub(crate) fn update_prices(&mut self) -> Option<Event> {
        let votes = self.weighted_votes();
        let storage = self.quorum_below(votes.iter().map(|(v, w)| (v.storage_price.0, *w)).collect())?;
        let write = self.quorum_below(votes.iter().map(|(v, w)| (v.write_price.0, *w)).collect())?;
        let bounds = self.params.price_bounds;
        let storage = Frost(storage).clamp(bounds.storage.0, bounds.storage.1.max(bounds.storage.0));
        let write = Frost(write).clamp(bounds.write.0, bounds.write.1.max(bounds.write.0));
        if (storage, write) == (self.params.storage_price_per_unit, self.params.write_price_per_unit) {
            return None;
        }
        self.params.storage_price_per_unit = storage;
        self.params.write_price_per_unit = write;
        Some(Event::PricesUpdated { epoch: self.epoch(), storage_price: storage, write_price: write })
    }

    /// The capacity the committee votes for: each vote scaled to the whole system
    /// (`capacity × n / shards`), then the quorum from above.
    fn voted_capacity(&self) -> Option<u64> {
        let n = u128::from(self.params.n_shards);
        let votes = self
            .weighted_votes()
            .into_iter()
            .filter(|(_, w)| *w > 0)
            .map(|(v, w)| {
                let scaled = u128::from(v.node_capacity) * n / u128::from(w);
                (u64::try_from(scaled).unwrap_or(u64::MAX), w)
            })
            .collect();
        self.quorum_above(votes)
    }
}

/// Why an epoch step cannot be taken now.
fn not_due(step: &'static str) -> ExecError {
    ExecError::EpochStepNotDue(step)
}

/// `VotingEnd`, permissionless, at mid-epoch (half an epoch after the change was done): selects
/// the next committee and capacity, and unblocks the commission earned at the last change.
pub(crate) fn voting_end(o: &mut Overlay<'_>) -> Result<(), ExecError> {
    let now = o.now_ms();
    let system = o.system();
    let EpochState::ChangeDone { since_ms } = system.epoch_state else { return Err(not_due("voting end")) };
    if system.next_step_ms().is_none_or(|due| now < due) {
        return Err(not_due("voting end"));
    }
    let next_epoch = system.epoch().next().ok_or(ExecError::ArithmeticOverflow)?;
    let next_committee = select_committee(system, next_epoch);
    let next_capacity = system.voted_capacity();
    let system = o.system_mut();
    for node in system.nodes.values_mut() {
        node.commission = node.commission.checked_add(std::mem::take(&mut node.commission_blocked))?;
    }
    system.next_committee = Some(next_committee);
    system.next_capacity = next_capacity;
    system.epoch_state = EpochState::NextParamsSelected { since_ms };
    o.emit(Event::EpochParametersSelected { next_epoch });
    Ok(())
}

/// The committee for `epoch`: the active set by the stake each pool will have then, shards by
/// D'Hondt under the per-node cap, placed from the current committee's shards. If nobody has
/// stake, the current committee goes on unchanged.
pub fn select_committee(system: &System, epoch: Epoch) -> Committee {
    // A node under the challenge floor `eviction_streak` epochs in a row sits this one out.
    let streak = system.params.challenge.eviction_streak;
    let stakes: Vec<(ObjectId, u64)> = system
        .nodes
        .iter()
        .map(|(id, node)| {
            let evicted = node.challenge.fail_streak >= streak;
            (*id, if evicted { 0 } else { node.pool.stake_at(epoch) })
        })
        .collect();
    let active = crate::committee::active_set(&stakes, usize::from(system.params.active_set_size));
    let n = system.params.n_shards;
    let cap = crate::committee::max_shards_per_node(n, active.len());
    let Some(counts) = crate::committee::dhondt(n, cap, &active) else {
        return Committee { epoch, members: system.committee.members.clone() };
    };
    let current: BTreeMap<ObjectId, Vec<ShardIndex>> =
        system.committee.members.iter().map(|m| (m.node_id, m.shards.clone())).collect();
    let placed = crate::committee::transition(n, &current, &counts.into_iter().collect());
    let members = placed
        .into_iter()
        .filter_map(|(node_id, shards)| {
            let node = system.nodes.get(&node_id)?;
            Some(Member {
                node_id,
                public_key: node.public_key,
                network_address: node.network_address.clone(),
                network_public_key: node.network_public_key,
                shards,
            })
        })
        .collect();
    Committee { epoch, members }
}

/// `InitiateEpochChange`, permissionless, once the epoch has lasted its duration after the next
/// parameters were selected.
pub(crate) fn initiate_epoch_change(o: &mut Overlay<'_>) -> Result<(), ExecError> {
    let now = o.now_ms();
    let system = o.system();
    let ready = matches!(system.epoch_state, EpochState::NextParamsSelected { .. })
        && system.next_step_ms().is_some_and(|due| now >= due);
    if !ready {
        return Err(not_due("epoch change"));
    }
    let mut system = system.clone();
    let ended = system.epoch();
    let changed = change_epoch(&mut system)?;
    let epoch = system.epoch();
    let prices = system.update_prices();
    *o.system_mut() = system;
    o.burn(changed.burned)?;
    for s in changed.settlements {
        o.emit(Event::ChallengeSettled {
            epoch: ended,
            node_id: s.0,
            n_items: s.1.n_items,
            n_passed: s.1.n_passed,
            reward_bps: s.1.reward_bps,
            forfeited: s.1.forfeited,
            penalty: s.1.penalty,
        });
    }
    for (validator, bond) in changed.withheld {
        o.emit(Event::RevealWithheld { epoch: ended, validator, bond });
    }
    if !changed.parameters.is_empty() {
        o.emit(Event::ParametersChanged { epoch, changes: changed.parameters });
    }
    o.emit(Event::EpochChangeStart { epoch });
    if let Some(event) = prices {
        o.emit(event);
    }
    Ok(())
}

/// What an epoch change did besides moving the system on.
struct EpochChanged {
    /// WAL burned: 3% of the rewards, challenge forfeits and penalties, withheld bonds.
    burned: Frost,
    /// Each member's challenge settlement.
    settlements: Vec<(ObjectId, Settlement)>,
    /// Validators (index) whose commitment was never revealed, and their bonds.
    withheld: Vec<(u16, Frost)>,
    /// Governance changes now in force.
    parameters: Vec<ParameterChange>,
}

/// Ends the current epoch: burns 3% of its rewards, pays the rest to its committee by stored
/// weight scaled by each member's challenge pass rate (burning the forfeits and the penalties
/// under the floor), rolls the accounts forward, advances every pool, applies governance's
/// changes, and starts the next epoch with the selected committee.
fn change_epoch(system: &mut System) -> Result<EpochChanged, ExecError> {
    let ended_epoch = system.epoch();
    let next = ended_epoch.next().ok_or(ExecError::ArithmeticOverflow)?;
    let after_last =
        system.future.last().map(|a| a.epoch).and_then(Epoch::next).ok_or(ExecError::ArithmeticOverflow)?;
    let ended = system.future.remove(0);
    system.future.push(EpochAccount { epoch: after_last, used_capacity: 0, rewards: Frost::ZERO });
    // 3% of a u64 fits in a u64.
    let mut burned = Frost((u128::from(ended.rewards.0) * u128::from(REWARD_BURN_PERCENT) / 100) as u64);
    let to_share = Frost(ended.rewards.0 - burned.0);
    let (rewards, leftover) = distribute(system, to_share, ended.used_capacity);
    // Leftover and burn come out of rewards that existed, so neither can overflow.
    system.future[0].rewards = system.future[0].rewards.checked_add(leftover)?;
    let settled = crate::challenge::settle(system);
    let mut settlements = Vec::new();
    for (node_id, node) in &mut system.nodes {
        let base = rewards.get(node_id).copied().unwrap_or(0);
        let keep = settled.reward_bps.get(node_id).copied().unwrap_or(BPS);
        // keep ≤ BPS, so the kept reward is at most `base`.
        let reward = (u128::from(base) * u128::from(keep) / u128::from(BPS)) as u64;
        let forfeited = Frost(base - reward);
        let penalty = settled.penalties.get(node_id).map_or(Ok(Frost::ZERO), |p| take_penalty(node, *p))?;
        burned = burned.checked_add(forfeited)?.checked_add(penalty)?;
        match settled.outcomes.get(node_id) {
            Some(&(n_items, n_passed)) => {
                // A void round (no items) neither extends nor ends a streak.
                let under_floor = settled.penalties.contains_key(node_id);
                if under_floor {
                    node.challenge.fail_streak = node.challenge.fail_streak.saturating_add(1);
                } else if n_items > 0 {
                    node.challenge.fail_streak = 0;
                }
                let reward_bps = u16::try_from(keep).unwrap_or(u16::MAX);
                let settlement =
                    Settlement { epoch: ended_epoch, n_items, n_passed, reward_bps, forfeited, penalty };
                node.challenge.last = Some(settlement);
                // A void round (nothing drawn, or no quorum certified) says nothing worth an event.
                if n_items > 0 {
                    settlements.push((*node_id, settlement));
                }
            }
            // Not a member: it sat the epoch out, which ends any streak.
            None => node.challenge.fail_streak = 0,
        }
        // A pool without stakers has nobody to share with: its operator takes all.
        let commission = if node.pool.active_shares == 0 {
            reward
        } else {
            (u128::from(reward) * u128::from(node.commission_rate) / u128::from(COMMISSION_BPS_MAX)) as u64
        };
        node.commission_blocked = node.commission_blocked.checked_add(Frost(commission))?;
        node.pool.advance(next, reward - commission)?;
        let due = node.pending_commission_rates.split_off(&Epoch(next.0 + 1));
        if let Some(rate) = std::mem::replace(&mut node.pending_commission_rates, due).into_values().last() {
            node.commission_rate = rate;
        }
    }
    let round = std::mem::take(&mut system.round);
    let withheld: Vec<(u16, Frost)> =
        round.commits.iter().filter(|(_, c)| c.bond > Frost::ZERO).map(|(i, c)| (*i, c.bond)).collect();
    burned = burned.checked_add(round.bonds()?)?;
    let parameters = crate::governance::end_epoch(system);
    let used = system.used_capacity();
    let voted = system.next_capacity.take().unwrap_or(system.params.total_capacity);
    system.params.total_capacity = voted.max(used);
    let mut committee = system.next_committee.take().unwrap_or_else(|| system.committee.clone());
    committee.epoch = next;
    system.previous_committee = Some(std::mem::replace(&mut system.committee, committee));
    system.epoch_state = EpochState::ChangeSync { weight: 0 };
    Ok(EpochChanged { burned, settlements, withheld, parameters })
}

/// Takes up to `amount` from a node: its commission first, then its pool's active stake (the
/// stakers bear the rest pro rata), at most half of that stake, so that a share keeps a value
/// new stake can buy at. Returns what was taken.
fn take_penalty(node: &mut NodeRecord, amount: Frost) -> Result<Frost, ExecError> {
    let mut left = amount.0;
    for part in [&mut node.commission, &mut node.commission_blocked] {
        let taken = part.0.min(left);
        part.0 -= taken;
        left -= taken;
    }
    let taken = (node.pool.active_wal / 2).min(left);
    node.pool.active_wal -= taken;
    left -= taken;
    Ok(Frost(amount.0 - left))
}

/// Splits `amount` over the committee in proportion to `weight × used` (the reference's stored
/// weight, with no deny lists yet): each member's reward, and what is left over by rounding (all
/// of it when nothing was stored).
fn distribute(system: &System, amount: Frost, used: u64) -> (BTreeMap<ObjectId, u64>, Frost) {
    let stored: Vec<(ObjectId, u128)> = system
        .committee
        .members
        .iter()
        .map(|m| (m.node_id, u128::from(m.weight()) * u128::from(used)))
        .collect();
    let total = stored.iter().map(|(_, s)| s).sum::<u128>().max(1);
    let mut paid = 0u64;
    let mut rewards = BTreeMap::new();
    for (node_id, share) in stored {
        // share ≤ total, so the reward is at most `amount`.
        let reward = u64::try_from(share * u128::from(amount.0) / total).unwrap_or(0);
        if system.nodes.contains_key(&node_id) {
            rewards.insert(node_id, reward);
            paid += reward;
        }
    }
    (rewards, Frost(amount.0 - paid))
}

/// Adds `weight` to the sync quorum; the epoch change is done when it reaches a quorum.
fn record_sync(system: &mut System, weight: u64, now: u64) -> Option<Event> {
    let EpochState::ChangeSync { weight: synced } = system.epoch_state else { return None };
    let synced = synced + weight;
    if synced >= system.quorum() {
        system.epoch_state = EpochState::ChangeDone { since_ms: now };
        return Some(Event::EpochChangeDone { epoch: system.epoch() });
    }
    system.epoch_state = EpochState::ChangeSync { weight: synced };
    None
}

/// What a candidate node registers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRegistration {
    /// A name for people (≤ 100 bytes).
    pub name: String,
    /// Its BLS key.
    pub public_key: BlsPublicKey,
    /// Proof of possession of the key, for the sender and the current epoch.
    pub proof_of_possession: BlsSignature,
    /// Where its REST API listens (≤ 259 bytes).
    pub network_address: String,
    /// The key its TLS certificate carries (secp256r1, compressed).
    pub network_public_key: NetworkPublicKey,
    /// Its first votes.
    pub votes: Votes,
    /// Its commission rate in basis points (≤ 10 000).
    pub commission_rate: u16,
}

/// Registers a candidate node operated by `sender`; returns its node ID.
pub(crate) fn register_node(
    o: &mut Overlay<'_>,
    sender: Address,
    r: &NodeRegistration,
) -> Result<ObjectId, ExecError> {
    check_name_and_address(&r.name, &r.network_address)?;
    if r.commission_rate > COMMISSION_BPS_MAX {
        return Err(ExecError::InvalidNodeInfo("commission rate above 10 000 basis points"));
    }
    let system = o.system();
    if system.nodes.values().any(|n| n.public_key == r.public_key) {
        return Err(ExecError::InvalidNodeInfo("BLS key already registered"));
    }
    verify_proof_of_possession(&r.public_key, sender, system.epoch(), &r.proof_of_possession)
        .map_err(|_| ExecError::InvalidProofOfPossession)?;
    let node_id = o.new_object_id();
    let record = NodeRecord {
        owner: sender,
        name: r.name.clone(),
        public_key: r.public_key,
        network_address: r.network_address.clone(),
        network_public_key: r.network_public_key,
        votes: r.votes,
        commission: Frost::ZERO,
        commission_blocked: Frost::ZERO,
        commission_rate: r.commission_rate,
        pending_commission_rates: BTreeMap::new(),
        last_sync_done: None,
        challenge: NodeChallenge::default(),
        pool: Pool::default(),
    };
    o.system_mut().nodes.insert(node_id, record);
    Ok(node_id)
}

fn check_name_and_address(name: &str, network_address: &str) -> Result<(), ExecError> {
    if name.len() > NODE_NAME_BYTES_MAX {
        return Err(ExecError::InvalidNodeInfo("name longer than 100 bytes"));
    }
    if network_address.len() > NETWORK_ADDRESS_BYTES_MAX {
        return Err(ExecError::InvalidNodeInfo("network address longer than 259 bytes"));
    }
    Ok(())
}

/// What [`set_node_info`] changes (each `None` keeps its value).
pub(crate) struct NodeInfo<'a> {
    pub(crate) name: &'a Option<String>,
    pub(crate) network_address: &'a Option<String>,
    pub(crate) network_public_key: &'a Option<NetworkPublicKey>,
}

/// Changes a node's name, network address or network key in its record and in the current,
/// previous and next committees, so that clients and peers reach it with them at once.
pub(crate) fn set_node_info(
    o: &mut Overlay<'_>,
    sender: Address,
    node_id: ObjectId,
    info: NodeInfo<'_>,
) -> Result<(), ExecError> {
    let mut node = operated_node(o, sender, node_id)?;
    node.name = info.name.clone().unwrap_or(node.name);
    node.network_address = info.network_address.clone().unwrap_or(node.network_address);
    node.network_public_key = info.network_public_key.unwrap_or(node.network_public_key);
    check_name_and_address(&node.name, &node.network_address)?;
    let system = o.system_mut();
    let epoch = system.epoch();
    let committees = std::iter::once(&mut system.committee)
        .chain(system.previous_committee.as_mut())
        .chain(system.next_committee.as_mut());
    for member in committees.flat_map(|c| c.members.iter_mut()).filter(|m| m.node_id == node_id) {
        member.network_address = node.network_address.clone();
        member.network_public_key = node.network_public_key;
    }
    system.nodes.insert(node_id, node);
    o.emit(Event::NodeInfoUpdated { epoch, node_id });
    Ok(())
}

fn operated_node(o: &Overlay<'_>, sender: Address, node_id: ObjectId) -> Result<NodeRecord, ExecError> {
    let node = o.system().nodes.get(&node_id).ok_or(ExecError::NodeNotFound(node_id))?;
    if node.owner != sender {
        return Err(ExecError::NotNodeOwner(node_id));
    }
    Ok(node.clone())
}

/// Replaces a node's votes; prices follow at once.
pub(crate) fn set_votes(
    o: &mut Overlay<'_>,
    sender: Address,
    node_id: ObjectId,
    votes: Votes,
) -> Result<(), ExecError> {
    let mut node = operated_node(o, sender, node_id)?;
    node.votes = votes;
    let system = o.system_mut();
    system.nodes.insert(node_id, node);
    if let Some(event) = system.update_prices() {
        o.emit(event);
    }
    Ok(())
}

/// A committee member reports that it holds all its shards for `epoch`.
pub(crate) fn epoch_sync_done(
    o: &mut Overlay<'_>,
    sender: Address,
    node_id: ObjectId,
    epoch: Epoch,
) -> Result<(), ExecError> {
    let mut node = operated_node(o, sender, node_id)?;
    let now = o.now_ms();
    let system = o.system();
    let current = system.epoch();
    if epoch != current {
        return Err(ExecError::InvalidSyncEpoch { current, got: epoch });
    }
    if node.last_sync_done.is_some_and(|last| last >= current) {
        return Err(ExecError::DuplicateSyncDone);
    }
    let member = system.committee.members.iter().find(|m| m.node_id == node_id);
    let member = member.ok_or(ExecError::NotInCommittee(node_id))?.clone();
    node.last_sync_done = Some(current);
    let system = o.system_mut();
    system.nodes.insert(node_id, node);
    let done = record_sync(system, member.weight(), now);
    o.emit(Event::ShardsReceived { epoch: current, shards: member.shards });
    if let Some(event) = done {
        o.emit(event);
    }
    Ok(())
}

/// Pays a node's collectable commission to its operator.
pub(crate) fn collect_commission(
    o: &mut Overlay<'_>,
    sender: Address,
    node_id: ObjectId,
) -> Result<(), ExecError> {
    let mut node = operated_node(o, sender, node_id)?;
    let amount = std::mem::take(&mut node.commission);
    o.system_mut().nodes.insert(node_id, node);
    o.credit(sender, amount)
}

/// Sets a node's commission rate from the epoch after next (stakers see a change coming for a
/// whole epoch before it applies).
pub(crate) fn set_commission_rate(
    o: &mut Overlay<'_>,
    sender: Address,
    node_id: ObjectId,
    rate: u16,
) -> Result<(), ExecError> {
    if rate > COMMISSION_BPS_MAX {
        return Err(ExecError::InvalidNodeInfo("commission rate above 10 000 basis points"));
    }
    let mut node = operated_node(o, sender, node_id)?;
    let from = Epoch(o.system().epoch().0.checked_add(2).ok_or(ExecError::ArithmeticOverflow)?);
    node.pending_commission_rates.insert(from, rate);
    o.system_mut().nodes.insert(node_id, node);
    Ok(())
}
