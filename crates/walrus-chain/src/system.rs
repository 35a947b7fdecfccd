//! The system object: shard count, epoch, committee, prices, capacity, and the per-epoch
//! accounting of used space and rewards ("future accounting" in the reference).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use walrus_core::keys::{BlsPublicKey, NetworkPublicKey};
use walrus_core::{Epoch, ObjectId, ShardIndex};

use crate::amount::Frost;
use crate::challenge::{ChallengeParams, Round};
use crate::epoch::{EpochState, NodeRecord};
use crate::error::ExecError;
use crate::governance::Governance;

/// A storage node in a committee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The node's ID.
    pub node_id: ObjectId,
    /// Its BLS key for confirmations and certificates.
    pub public_key: BlsPublicKey,
    /// Where its REST API listens (`host:port`; HTTPS).
    pub network_address: String,
    /// The key its TLS certificate carries: clients accept no other.
    pub network_public_key: NetworkPublicKey,
    /// The shards it holds this epoch.
    pub shards: Vec<ShardIndex>,
}

impl Member {
    /// The member's weight: its number of shards.
    pub fn weight(&self) -> u64 {
        self.shards.len() as u64
    }
}

/// The storage nodes of one epoch, sorted by node ID; a member's position is its bit in
/// certificate bitmaps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committee {
    /// The epoch this committee serves.
    pub epoch: Epoch,
    /// The members, by node ID.
    pub members: Vec<Member>,
}

/// Used space and collected rewards of one future epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochAccount {
    /// The epoch.
    pub epoch: Epoch,
    /// Encoded bytes reserved for it.
    pub used_capacity: u64,
    /// Payments to be distributed to the nodes when it ends.
    pub rewards: Frost,
}

/// The system's parameters, fixed at genesis (price and capacity votes will change some).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameters {
    /// Shards in the system.
    pub n_shards: u16,
    /// Epoch length in milliseconds.
    pub epoch_duration_ms: u64,
    /// How far ahead storage may be bought (53 on Walrus Mainnet).
    pub max_epochs_ahead: u32,
    /// FROST per storage unit (1 MiB encoded) per epoch.
    pub storage_price_per_unit: Frost,
    /// FROST per storage unit, paid once on registration.
    pub write_price_per_unit: Frost,
    /// Total capacity in encoded bytes.
    pub total_capacity: u64,
    /// The smallest fee a transaction may carry.
    pub min_fee: Frost,
    /// The most nodes in a committee (the reference's active set size: 111 on Mainnet).
    pub active_set_size: u16,
    /// Storage challenges, rewards and penalties (governance changes them).
    #[serde(default)]
    pub challenge: ChallengeParams,
    /// Bounds on the prices the nodes' votes select (governance changes them).
    #[serde(default)]
    pub price_bounds: PriceBounds,
}

/// Bounds on the voted prices, FROST per storage unit (`(min, max)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceBounds {
    /// Of the storage price (per epoch).
    pub storage: (Frost, Frost),
    /// Of the write price.
    pub write: (Frost, Frost),
}

impl Default for PriceBounds {
    fn default() -> Self {
        PriceBounds { storage: (Frost::ZERO, Frost(u64::MAX)), write: (Frost::ZERO, Frost(u64::MAX)) }
    }
}

impl Parameters {
    /// FROST to buy storage for `encoded_size` bytes for `epochs_ahead` epochs and register a
    /// blob on it (transaction fees aside): the reference's `RegisterFromScratch` cost.
    pub fn register_from_scratch_cost(&self, encoded_size: u64, epochs_ahead: u32) -> u64 {
        let units = crate::amount::storage_units(encoded_size);
        let storage =
            self.storage_price_per_unit.0.saturating_mul(units).saturating_mul(u64::from(epochs_ahead));
        storage.saturating_add(self.write_price_per_unit.0.saturating_mul(units))
    }
}

/// The chain's system object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct System {
    /// Shard count, prices, capacity, epoch length.
    pub params: Parameters,
    /// The current committee (its `epoch` is the current epoch).
    pub committee: Committee,
    /// Accounts of the current and the next `max_epochs_ahead - 1` epochs; index 0 is the
    /// current epoch.
    pub future: Vec<EpochAccount>,
    /// Where the epoch is in its cycle.
    pub epoch_state: EpochState,
    /// Registered storage nodes by node ID (committee members and candidates).
    pub nodes: BTreeMap<ObjectId, NodeRecord>,
    /// The capacity voted for the next epoch, once selected at mid-epoch.
    pub next_capacity: Option<u64>,
    /// The next epoch's committee, once selected at mid-epoch.
    pub next_committee: Option<Committee>,
    /// The last epoch's committee (none at genesis): while the epoch change is in sync, it still
    /// holds the shards that moved, and clients read blobs certified before the epoch from it.
    pub previous_committee: Option<Committee>,
    /// The current epoch's challenge round.
    pub round: Round,
    /// Proposals and scheduled parameter changes.
    pub governance: Governance,
}

impl System {
    /// The current epoch.
    pub fn epoch(&self) -> Epoch {
        self.committee.epoch
    }

    /// Encoded bytes used in the current epoch.
    pub fn used_capacity(&self) -> u64 {
        self.future.first().map_or(0, |account| account.used_capacity)
    }

    /// The account of epoch `current + offset`.
    fn account_mut(&mut self, offset: u32) -> Result<&mut EpochAccount, ExecError> {
        let max = self.params.max_epochs_ahead;
        self.future.get_mut(offset as usize).ok_or(ExecError::InvalidEpochsAhead { epochs: offset + 1, max })
    }

    /// Reserves `size` bytes in epochs `current + offsets` and pays `price_per_epoch` into each
    /// of them. Fails without change if any epoch would exceed the total capacity.
    pub fn reserve(
        &mut self,
        offsets: std::ops::Range<u32>,
        size: u64,
        price_per_epoch: Frost,
    ) -> Result<(), ExecError> {
        let max = self.params.max_epochs_ahead;
        if offsets.is_empty() || offsets.end > max {
            return Err(ExecError::InvalidEpochsAhead { epochs: offsets.end, max });
        }
        let total = self.params.total_capacity;
        for offset in offsets.clone() {
            let account = self.account_mut(offset)?;
            let used = account.used_capacity.checked_add(size).ok_or(ExecError::ArithmeticOverflow)?;
            if used > total {
                return Err(ExecError::StorageExceeded { epoch: account.epoch, used, total });
            }
            account.rewards.checked_add(price_per_epoch)?;
        }
        for offset in offsets {
            let account = self.account_mut(offset)?;
            account.used_capacity += size;
            account.rewards = account.rewards.checked_add(price_per_epoch)?;
        }
        Ok(())
    }

    /// Pays `amount` into the current epoch's rewards (write fees, transaction fees).
    pub fn pay_current(&mut self, amount: Frost) -> Result<(), ExecError> {
        let account = self.account_mut(0)?;
        account.rewards = account.rewards.checked_add(amount)?;
        Ok(())
    }

    /// All WAL the system holds: rewards not yet distributed, commission not yet collected,
    /// validators' reveal bonds, and the staking pools.
    pub fn held(&self) -> Result<Frost, ExecError> {
        let future =
            self.future.iter().try_fold(Frost::ZERO, |sum, account| sum.checked_add(account.rewards))?;
        let future = future.checked_add(self.round.bonds()?)?;
        self.nodes.values().try_fold(future, |sum, node| {
            sum.checked_add(node.commission)?
                .checked_add(node.commission_blocked)?
                .checked_add(node.pool.total()?)
        })
    }
}
