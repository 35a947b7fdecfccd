//! The scenario tests' small network: four storage nodes holding 4, 3, 2 and 1 of 10 shards
//! (operated by one account with 1 000 WAL, each node with 100 WAL of its stake per shard and a
//! 10% commission), three users with 1 000 WAL,
//! and blocks run one transaction at a time, with WAL conservation checked after each.
#![allow(dead_code)]

use walrus_chain::block::TxStatus;
use walrus_chain::system::Parameters;
use walrus_chain::tx::CertificateArgs;
use walrus_chain::*;
use walrus_core::encode::compute_metadata;
use walrus_core::keys::{BlsKeyPair, Ed25519KeyPair};
use walrus_core::messages::{
    proof_of_possession, signers_to_bitmap, BlobPersistenceType, MessageBody, ProtocolMessage,
    StorageConfirmation,
};
use walrus_core::{EncodingParams, Epoch, ObjectId};

pub const N_SHARDS: u16 = 10;
pub const DAY_MS: u64 = 86_400_000;
pub const GENESIS_MS: u64 = 1_000;

pub struct Net {
    pub state: State,
    pub nodes: Vec<BlsKeyPair>,
    pub users: Vec<Ed25519KeyPair>,
    pub blocks: Vec<Block>,
}

pub fn genesis(nodes: &[BlsKeyPair], users: &[Ed25519KeyPair]) -> Genesis {
    let owner = Ed25519KeyPair::from_seed(&[200; 32]).address();
    Genesis {
        chain_name: "test".into(),
        timestamp_ms: 1_000,
        params: Parameters {
            n_shards: N_SHARDS,
            epoch_duration_ms: DAY_MS,
            max_epochs_ahead: 53,
            storage_price_per_unit: Frost(100_000),
            write_price_per_unit: Frost(20_000),
            total_capacity: 1 << 40,
            min_fee: Frost(1_000),
            active_set_size: 111,
            challenge: Default::default(),
            price_bounds: Default::default(),
        },
        allocations: users
            .iter()
            .map(|u| u.address())
            .chain([owner])
            .map(|address| (address, Frost::from_wal(1_000).expect("fits")))
            .collect(),
        nodes: nodes
            .iter()
            .zip([4u16, 3, 2, 1])
            .enumerate()
            .map(|(i, (key, shards))| GenesisNode {
                owner,
                public_key: *key.public(),
                proof_of_possession: proof_of_possession(key, owner, Epoch(0)),
                network_address: format!("127.0.0.1:{}", 9000 + i),
                network_public_key: network_key(i as u8),
                shards,
                stake: Frost::from_wal(u64::from(shards) * 100).expect("fits"),
                commission_rate: 1_000,
            })
            .collect(),
        validators: Vec::new(),
    }
}

/// A network key in valid form (the chain checks only the form; no TLS here).
pub fn network_key(seed: u8) -> walrus_core::keys::NetworkPublicKey {
    let mut bytes = [seed; 33];
    bytes[0] = 0x02;
    walrus_core::keys::NetworkPublicKey::from_bytes(&bytes).expect("compressed form")
}

impl Net {
    pub fn new() -> Net {
        let nodes: Vec<BlsKeyPair> = (0..4u8).map(|i| BlsKeyPair::from_seed(&[i + 1; 32])).collect();
        let users: Vec<Ed25519KeyPair> =
            (0..3u8).map(|i| Ed25519KeyPair::from_seed(&[i + 100; 32])).collect();
        let state = genesis(&nodes, &users).build().expect("valid genesis");
        Net { state, nodes, users, blocks: Vec::new() }
    }

    pub fn tx(&self, user: usize, call: Call) -> SignedTransaction {
        let key = &self.users[user];
        TransactionData {
            chain_id: self.state.chain_id,
            sender: key.address(),
            nonce: self.state.account(&key.address()).nonce,
            fee: Frost(1_000),
            call,
        }
        .sign(key)
    }

    pub fn block_at(&mut self, timestamp_ms: u64, transactions: Vec<SignedTransaction>) -> BlockEffects {
        let block = Block::next(&self.state, timestamp_ms, transactions);
        let effects = execute_block(&mut self.state, &block).expect("valid block");
        self.blocks.push(block);
        assert_eq!(self.state.circulating(), Ok(self.state.total_supply), "WAL is conserved");
        effects
    }

    /// Runs one transaction in its own block and returns its effects.
    pub fn run(&mut self, user: usize, call: Call) -> TxEffects {
        let tx = self.tx(user, call);
        let at = self.state.timestamp_ms + 10;
        self.block_at(at, vec![tx]).transactions.remove(0)
    }

    /// Runs a transaction of any key in its own block.
    pub fn run_as(&mut self, key: &Ed25519KeyPair, call: Call) -> TxEffects {
        self.run_at(0, key, call)
    }

    /// Gives `key` 10 WAL from user 0, for fees.
    pub fn fund(&mut self, key: &Ed25519KeyPair) {
        self.ok(0, Call::Transfer { to: key.address(), amount: Frost::from_wal(10).expect("fits") });
    }

    pub fn ok(&mut self, user: usize, call: Call) -> TxEffects {
        let effects = self.run(user, call);
        assert_eq!(effects.status, TxStatus::Success);
        effects
    }

    /// The committee member index of each node key.
    pub fn member_index(&self, node: usize) -> u16 {
        let key = *self.nodes[node].public();
        self.state.system.committee.members.iter().position(|m| m.public_key == key).expect("member") as u16
    }

    pub fn certificate<T: MessageBody>(
        &self,
        signers: &[usize],
        message: &ProtocolMessage<T>,
    ) -> CertificateArgs {
        let bytes = message.to_bytes();
        let signatures: Vec<_> = signers.iter().map(|&i| self.nodes[i].sign(&bytes)).collect();
        let members: Vec<u16> = signers.iter().map(|&i| self.member_index(i)).collect();
        CertificateArgs {
            signature: walrus_core::keys::BlsSignature::aggregate(&signatures).expect("non-empty"),
            signers_bitmap: signers_to_bitmap(&members),
            message: bytes,
        }
    }

    pub fn confirmation(&self, signers: &[usize], blob: ObjectId) -> CertificateArgs {
        let object = self.blob(blob);
        let blob_type = if object.deletable {
            BlobPersistenceType::Deletable { object_id: blob }
        } else {
            BlobPersistenceType::Permanent
        };
        let body = StorageConfirmation { blob_id: object.blob_id, blob_type };
        self.certificate(signers, &ProtocolMessage::new(self.state.system.epoch(), body))
    }

    pub fn blob(&self, id: ObjectId) -> walrus_chain::objects::BlobObject {
        self.state.object(&id).expect("a live object").body.blob().expect("a blob").clone()
    }

    /// Reserves storage for `data` and registers it; returns the blob object's ID.
    pub fn register(&mut self, user: usize, data: &[u8], deletable: bool, epochs: u32) -> ObjectId {
        let (size, register) = registration(data, deletable);
        let storage = self.ok(user, Call::ReserveSpace { size, epochs_ahead: epochs }).created[0];
        self.ok(user, register(storage)).created[0]
    }

    /// The account operating the four genesis nodes.
    pub fn operator() -> Ed25519KeyPair {
        Ed25519KeyPair::from_seed(&[200; 32])
    }

    /// The key of `address`: a user's or the operator's.
    pub fn key_of(&self, address: walrus_core::keys::Address) -> Ed25519KeyPair {
        let operator = Net::operator();
        if operator.address() == address {
            return operator;
        }
        self.users.iter().find(|u| u.address() == address).expect("a known account").clone()
    }

    /// Runs a transaction of `key` in its own block at `at_ms` (or just after the last block).
    pub fn run_at(&mut self, at_ms: u64, key: &Ed25519KeyPair, call: Call) -> TxEffects {
        let tx = TransactionData {
            chain_id: self.state.chain_id,
            sender: key.address(),
            nonce: self.state.account(&key.address()).nonce,
            fee: Frost(1_000),
            call,
        }
        .sign(key);
        let at = at_ms.max(self.state.timestamp_ms + 10);
        self.block_at(at, vec![tx]).transactions.remove(0)
    }

    /// Steps through a whole epoch change, as the nodes' drivers do: `VotingEnd` when due,
    /// `InitiateEpochChange` when due, then every member of the new committee reports its sync
    /// (until the change is done). Returns every event, in order.
    pub fn next_epoch(&mut self) -> Vec<Event> {
        let caller = Net::operator();
        let mut events = Vec::new();
        for call in [Call::VotingEnd, Call::InitiateEpochChange] {
            let due = self.state.system.next_step_ms().expect("the epoch clock runs");
            let effects = self.run_at(due, &caller, call);
            assert_eq!(effects.status, TxStatus::Success, "{effects:?}");
            events.extend(effects.events.into_iter().map(|e| e.event));
        }
        events.extend(self.sync_all());
        events
    }

    /// Every member of the committee reports its sync, until the change is done.
    pub fn sync_all(&mut self) -> Vec<Event> {
        let epoch = self.state.system.epoch();
        let mut events = Vec::new();
        for member in self.state.system.committee.members.clone() {
            if self.state.system.next_step_ms().is_some() {
                break;
            }
            let owner = self.key_of(self.state.system.nodes[&member.node_id].owner);
            let effects = self.run_as(&owner, Call::EpochSyncDone { node_id: member.node_id, epoch });
            assert_eq!(effects.status, TxStatus::Success, "{effects:?}");
            events.extend(effects.events.into_iter().map(|e| e.event));
        }
        events
    }
}

/// The encoded size of `data` and its registration call on a given storage resource.
pub fn registration(data: &[u8], deletable: bool) -> (u64, impl Fn(ObjectId) -> Call) {
    let params = EncodingParams::new(u64::from(N_SHARDS)).expect("valid");
    let metadata = compute_metadata(params, data).expect("encodable");
    let size = params.encoded_blob_length(data.len() as u64).expect("fits");
    let len = data.len() as u64;
    let call = move |storage| Call::RegisterBlob {
        storage,
        blob_id: *metadata.blob_id(),
        root_hash: metadata.metadata().compute_root_hash(),
        size: len,
        encoding_type: 1,
        deletable,
    };
    (size, call)
}

pub fn failure(effects: &TxEffects) -> &str {
    match &effects.status {
        TxStatus::Failed { code, .. } => code,
        other => panic!("expected a failure, got {other:?}"),
    }
}
