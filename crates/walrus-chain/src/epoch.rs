//! Storage nodes and epochs, as the reference's `staking_inner.move` and `system_state_inner.move`:
//! node registration with a proof of possession, price and capacity votes, the epoch state
//! machine (`EpochChangeDone → NextParamsSelected → EpochChangeSync → EpochChangeDone`), the 3%
//! burn and the reward split at each epoch change.
//!
//! Committee selection by stake and shard migration come later: the committee is carried over
//! unchanged, so its members already hold their shards and are counted as synced when the epoch
//! starts. A member whose shards change will have to report with `EpochSyncDone`, which this
//! module already implements.

use serde::{Deserialize, Serialize};
use walrus_core::keys::{Address, BlsPublicKey, BlsSignature};
use walrus_core::messages::verify_proof_of_possession;
use walrus_core::{Epoch, ObjectId};

use crate::amount::Frost;
use crate::error::ExecError;
use crate::events::Event;
use crate::state::{Overlay, State};
use crate::system::{EpochAccount, System};

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

/// A registered storage node (the reference's staking pool, without stake for now).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// The account that operates it.
    pub owner: Address,
    /// A name for people.
    pub name: String,
    /// Its BLS key.
    pub public_key: BlsPublicKey,
    /// Where its REST API listens (`host:port`).
    pub network_address: String,
    /// Its votes.
    pub votes: Votes,
    /// Rewards earned and not yet collected.
    pub rewards: Frost,
    /// The last epoch for which it reported holding its shards.
    pub last_sync_done: Option<Epoch>,
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
    fn quorum(&self) -> u64 {
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
        let (storage, write) = (Frost(storage), Frost(write));
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

/// The system step at the start of a block: at mid-epoch the next parameters are selected; at
/// the end of the epoch the epoch changes. At most one step per block.
pub(crate) fn begin_block(state: &mut State) -> Vec<Event> {
    let now = state.timestamp_ms;
    if state.system.next_step_ms().is_none_or(|due| now < due) {
        return Vec::new();
    }
    match state.system.epoch_state {
        EpochState::ChangeDone { since_ms } => {
            let system = &mut state.system;
            system.next_capacity = system.voted_capacity();
            system.epoch_state = EpochState::NextParamsSelected { since_ms };
            system
                .epoch()
                .next()
                .map(|next_epoch| Event::EpochParametersSelected { next_epoch })
                .into_iter()
                .collect()
        }
        EpochState::NextParamsSelected { .. } => change_epoch(state).unwrap_or_default(),
        EpochState::ChangeSync { .. } => Vec::new(),
    }
}

/// Ends the current epoch: burns 3% of its rewards, splits the rest over its committee by
/// stored weight, rolls the accounts forward, starts the next epoch with the same committee.
/// `None` (and no change) only if the epoch counter would overflow.
fn change_epoch(state: &mut State) -> Option<Vec<Event>> {
    let now = state.timestamp_ms;
    let system = &mut state.system;
    let next = system.epoch().next()?;
    let after_last = system.future.last().map(|a| a.epoch)?.next()?;
    let ended = system.future.remove(0);
    system.future.push(EpochAccount { epoch: after_last, used_capacity: 0, rewards: Frost::ZERO });
    // 3% of a u64 fits in a u64.
    let burned = Frost((u128::from(ended.rewards.0) * u128::from(REWARD_BURN_PERCENT) / 100) as u64);
    let to_share = Frost(ended.rewards.0 - burned.0);
    let leftover = distribute(system, to_share, ended.used_capacity);
    // Leftover and burn come out of rewards that existed, so neither can overflow.
    system.future[0].rewards = Frost(system.future[0].rewards.0.saturating_add(leftover.0));
    state.total_supply = Frost(state.total_supply.0 - burned.0);
    state.burned = Frost(state.burned.0.saturating_add(burned.0));

    let system = &mut state.system;
    let used = system.used_capacity();
    let voted = system.next_capacity.take().unwrap_or(system.params.total_capacity);
    system.params.total_capacity = voted.max(used);
    system.committee.epoch = next;
    system.epoch_state = EpochState::ChangeSync { weight: 0 };
    let mut events = vec![Event::EpochChangeStart { epoch: next }];
    events.extend(system.update_prices());
    // The committee is unchanged, so every member already holds its shards.
    let members: Vec<(ObjectId, u64)> =
        system.committee.members.iter().map(|m| (m.node_id, m.weight())).collect();
    for (node_id, weight) in members {
        if let Some(node) = system.nodes.get_mut(&node_id) {
            node.last_sync_done = Some(next);
        }
        events.extend(record_sync(system, weight, now));
    }
    Some(events)
}

/// Splits `amount` over the committee in proportion to `weight × used` (the reference's stored
/// weight, with no deny lists yet); returns what is left over by rounding (all of it when
/// nothing was stored).
fn distribute(system: &mut System, amount: Frost, used: u64) -> Frost {
    let stored: Vec<(ObjectId, u128)> = system
        .committee
        .members
        .iter()
        .map(|m| (m.node_id, u128::from(m.weight()) * u128::from(used)))
        .collect();
    let total = stored.iter().map(|(_, s)| s).sum::<u128>().max(1);
    let mut paid = 0u64;
    for (node_id, share) in stored {
        // share ≤ total, so the reward is at most `amount`.
        let reward = u64::try_from(share * u128::from(amount.0) / total).unwrap_or(0);
        if let Some(node) = system.nodes.get_mut(&node_id) {
            node.rewards = Frost(node.rewards.0.saturating_add(reward));
            paid += reward;
        }
    }
    Frost(amount.0 - paid)
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
    /// Its first votes.
    pub votes: Votes,
}

/// Registers a candidate node operated by `sender`; returns its node ID.
pub(crate) fn register_node(
    o: &mut Overlay<'_>,
    sender: Address,
    r: &NodeRegistration,
) -> Result<ObjectId, ExecError> {
    if r.name.len() > NODE_NAME_BYTES_MAX {
        return Err(ExecError::InvalidNodeInfo("name longer than 100 bytes"));
    }
    if r.network_address.len() > NETWORK_ADDRESS_BYTES_MAX {
        return Err(ExecError::InvalidNodeInfo("network address longer than 259 bytes"));
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
        votes: r.votes,
        rewards: Frost::ZERO,
        last_sync_done: None,
    };
    o.system_mut().nodes.insert(node_id, record);
    Ok(node_id)
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

/// Pays a node's earned rewards to its operator.
pub(crate) fn collect_rewards(
    o: &mut Overlay<'_>,
    sender: Address,
    node_id: ObjectId,
) -> Result<(), ExecError> {
    let mut node = operated_node(o, sender, node_id)?;
    let amount = std::mem::take(&mut node.rewards);
    o.system_mut().nodes.insert(node_id, node);
    o.credit(sender, amount)
}
