//! Genesis: the parameters, allocations and first committee a chain starts from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use walrus_core::hash::{blake2b256_parts, Digest};
use walrus_core::keys::{Address, BlsPublicKey, BlsSignature, Ed25519PublicKey, NetworkPublicKey};
use walrus_core::messages::verify_proof_of_possession;
use walrus_core::{EncodingParams, Epoch, ObjectId, ShardIndex};

use crate::amount::Frost;
use crate::epoch::{EpochState, NodeRecord, Votes};
use crate::objects::{Object, ObjectBody, Owner};
use crate::staking::{Bucket, Pool, StakedState, StakedWal, COMMISSION_BPS_MAX};
use crate::state::{Account, State};
use crate::system::{Committee, EpochAccount, Member, Parameters, System};

/// Largest `max_epochs_ahead` (the reference contract's cap).
pub const MAX_EPOCHS_AHEAD_MAX: u32 = 1000;

/// A storage node of the first committee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisNode {
    /// The account operating the node.
    pub owner: Address,
    /// Its BLS key.
    pub public_key: BlsPublicKey,
    /// Proof of possession of the key for `owner` in epoch 0.
    pub proof_of_possession: BlsSignature,
    /// Where its REST API listens (`host:port`; HTTPS).
    pub network_address: String,
    /// The key its TLS certificate carries.
    pub network_public_key: NetworkPublicKey,
    /// How many shards it holds.
    pub shards: u16,
    /// Its operator's stake, active from epoch 0 (a `StakedWal` owned by `owner`; added to the
    /// supply).
    pub stake: Frost,
    /// Its commission rate in basis points.
    pub commission_rate: u16,
}

/// A validator of the chain: it votes in consensus and proposes blocks in turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisValidator {
    /// Its ed25519 key: consensus votes and the p2p identity.
    pub public_key: Ed25519PublicKey,
    /// Where its consensus p2p listens (`host:port`).
    pub p2p_address: String,
}

/// Most validators a genesis may name.
pub const VALIDATORS_MAX: usize = 256;

/// Everything a chain starts from. Its digest is the chain ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// A name, so that two local networks with equal parameters differ.
    pub chain_name: String,
    /// Start time in milliseconds since the Unix epoch; epoch 0 starts here.
    pub timestamp_ms: u64,
    /// Shard count, prices, capacity, epoch length.
    pub params: Parameters,
    /// Initial balances.
    pub allocations: Vec<(Address, Frost)>,
    /// The first committee, in any order.
    pub nodes: Vec<GenesisNode>,
    /// The validators ordering the chain's blocks (fixed at genesis; their order is their
    /// index). The chain ID commits to them, so a client that trusts the genesis knows whose
    /// signatures finalize a block.
    pub validators: Vec<GenesisValidator>,
}

/// Why a genesis is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    /// A parameter is out of range.
    #[error("invalid genesis parameter: {0}")]
    Parameter(String),
    /// The nodes' shards do not add up to `n_shards`, or a node has none.
    #[error(
        "nodes hold {assigned} shards in all; every node needs at least one and the total must be {n_shards}"
    )]
    Shards {
        /// Sum over the nodes.
        assigned: u64,
        /// Shards in the system.
        n_shards: u16,
    },
    /// A node's proof of possession does not verify.
    #[error("node {0}'s proof of possession does not verify")]
    ProofOfPossession(usize),
    /// The allocations overflow a u64 of FROST.
    #[error("allocations overflow")]
    Supply,
}

impl Genesis {
    /// The chain ID: Blake2b-256 over a domain tag and the genesis BCS bytes.
    pub fn digest(&self) -> Digest {
        let bytes = bcs::to_bytes(self).expect("genesis is plain BCS");
        blake2b256_parts(&[b"walrus-chain/genesis/v1", &bytes])
    }

    /// The state at height 0, after checking every parameter.
    pub fn build(&self) -> Result<State, GenesisError> {
        let bad = |what: &str| GenesisError::Parameter(what.to_string());
        EncodingParams::new(u64::from(self.params.n_shards))
            .map_err(|e| GenesisError::Parameter(e.to_string()))?;
        if self.params.epoch_duration_ms == 0 {
            return Err(bad("epoch duration must be positive"));
        }
        if !(1..=MAX_EPOCHS_AHEAD_MAX).contains(&self.params.max_epochs_ahead) {
            return Err(bad("max epochs ahead must be in 1..=1000"));
        }
        if self.params.active_set_size == 0 {
            return Err(bad("the active set must take at least one node"));
        }
        if self.validators.len() > VALIDATORS_MAX {
            return Err(bad("more than 256 validators"));
        }
        let keys: std::collections::BTreeSet<_> = self.validators.iter().map(|v| v.public_key).collect();
        if keys.len() != self.validators.len() {
            return Err(bad("two validators share a key"));
        }
        if self.nodes.iter().any(|n| n.commission_rate > COMMISSION_BPS_MAX) {
            return Err(bad("a commission rate is above 10 000 basis points"));
        }
        crate::governance::check_parameters(&self.params).map_err(|e| bad(&e.to_string()))?;
        let chain_id = self.digest();
        let (committee, nodes, stakes) = self.committee(chain_id)?;
        let mut accounts = BTreeMap::new();
        let mut total_supply = Frost::ZERO;
        for (_, staked) in &stakes {
            total_supply = total_supply.checked_add(staked.principal).map_err(|_| GenesisError::Supply)?;
        }
        for (address, amount) in &self.allocations {
            total_supply = total_supply.checked_add(*amount).map_err(|_| GenesisError::Supply)?;
            let account: &mut Account = accounts.entry(*address).or_default();
            account.balance = account.balance.checked_add(*amount).map_err(|_| GenesisError::Supply)?;
        }
        let future = (0..self.params.max_epochs_ahead)
            .map(|i| EpochAccount { epoch: Epoch(i), used_capacity: 0, rewards: Frost::ZERO })
            .collect();
        let mut state = State {
            chain_id,
            height: 0,
            last_block: chain_id,
            timestamp_ms: self.timestamp_ms,
            system: System {
                params: self.params.clone(),
                committee,
                future,
                epoch_state: EpochState::ChangeDone { since_ms: self.timestamp_ms },
                nodes,
                next_capacity: None,
                next_committee: None,
                previous_committee: None,
                round: Default::default(),
                governance: Default::default(),
            },
            key_servers: Default::default(),
            total_supply,
            burned: Frost::ZERO,
            records: Default::default(),
            events_digest: [0; 32],
            last_exec_height: 0,
            recent_digests: BTreeMap::new(),
            validators: self.validators.iter().map(|v| v.public_key).collect(),
            convictions: BTreeMap::new(),
        };
        for (owner, staked) in stakes {
            let id =
                ObjectId(blake2b256_parts(&[b"walrus-chain/genesis-stake/v1", &chain_id, &staked.node_id.0]));
            let object = Object { owner: Owner::Address(owner), body: ObjectBody::StakedWal(staked) };
            state.insert_object(id, object);
        }
        for (address, account) in accounts {
            state.set_account(address, account);
        }
        state.remember_digest();
        Ok(state)
    }

    /// The epoch-0 committee, its node records and their operators' stake: node IDs derived
    /// from the chain ID, members sorted by node ID, shards assigned sequentially in that order
    /// (as the reference's first assignment). Genesis nodes vote the genesis prices and an even
    /// share of the capacity.
    #[allow(clippy::type_complexity)]
    fn committee(
        &self,
        chain_id: Digest,
    ) -> Result<(Committee, BTreeMap<ObjectId, NodeRecord>, Vec<(Address, StakedWal)>), GenesisError> {
        let assigned: u64 = self.nodes.iter().map(|n| u64::from(n.shards)).sum();
        if assigned != u64::from(self.params.n_shards) || self.nodes.iter().any(|n| n.shards == 0) {
            return Err(GenesisError::Shards { assigned, n_shards: self.params.n_shards });
        }
        let mut nodes: Vec<(ObjectId, &GenesisNode)> = Vec::new();
        for (i, node) in self.nodes.iter().enumerate() {
            verify_proof_of_possession(&node.public_key, node.owner, Epoch(0), &node.proof_of_possession)
                .map_err(|_| GenesisError::ProofOfPossession(i))?;
            let id = ObjectId(blake2b256_parts(&[
                b"walrus-chain/genesis-node/v1",
                &chain_id,
                &(i as u64).to_le_bytes(),
            ]));
            nodes.push((id, node));
        }
        nodes.sort_by_key(|(id, _)| *id);
        let mut next = 0u16;
        let mut records = BTreeMap::new();
        let mut stakes = Vec::new();
        let n = u128::from(self.params.n_shards);
        let members = nodes
            .into_iter()
            .enumerate()
            .map(|(i, (node_id, node))| {
                let shards = (next..next + node.shards).map(ShardIndex).collect();
                next += node.shards;
                let share = u128::from(self.params.total_capacity) * u128::from(node.shards) / n;
                let votes = Votes {
                    storage_price: self.params.storage_price_per_unit,
                    write_price: self.params.write_price_per_unit,
                    node_capacity: u64::try_from(share).unwrap_or(u64::MAX),
                };
                let mut pool = Pool::default();
                if node.stake > Frost::ZERO {
                    let bucket = Bucket { wal: node.stake.0, shares: node.stake.0 };
                    (pool.active_wal, pool.active_shares) = (bucket.wal, bucket.shares);
                    pool.activations.insert(Epoch(0), bucket);
                    stakes.push((
                        node.owner,
                        StakedWal {
                            node_id,
                            principal: node.stake,
                            activation_epoch: Epoch(0),
                            state: StakedState::Staked,
                        },
                    ));
                }
                records.insert(
                    node_id,
                    NodeRecord {
                        owner: node.owner,
                        name: format!("genesis-{i}"),
                        public_key: node.public_key,
                        network_address: node.network_address.clone(),
                        network_public_key: node.network_public_key,
                        votes,
                        commission: Frost::ZERO,
                        commission_blocked: Frost::ZERO,
                        commission_rate: node.commission_rate,
                        pending_commission_rates: BTreeMap::new(),
                        last_sync_done: Some(Epoch(0)),
                        challenge: Default::default(),
                        pool,
                    },
                );
                Member {
                    node_id,
                    public_key: node.public_key,
                    network_address: node.network_address.clone(),
                    network_public_key: node.network_public_key,
                    shards,
                }
            })
            .collect();
        Ok((Committee { epoch: Epoch(0), members }, records, stakes))
    }
}
