//! Test helpers: a small genesis with funded accounts (the unit tests', and through
//! `tests/common` the integration tests').

use walrus_chain::system::Parameters;
use walrus_chain::{Frost, Genesis, GenesisNode};
use walrus_core::keys::{BlsKeyPair, Ed25519KeyPair, NetworkPublicKey};
use walrus_core::messages::proof_of_possession;
use walrus_core::Epoch;

/// `n` user keys.
pub fn users(n: u8) -> Vec<Ed25519KeyPair> {
    (0..n).map(|i| Ed25519KeyPair::from_seed(&[i + 100; 32])).collect()
}

/// A genesis at `timestamp_ms`: one storage node holding all 10 shards, and 1 000 WAL for
/// each of `users`.
pub fn genesis(users: &[Ed25519KeyPair], timestamp_ms: u64) -> Genesis {
    let bls = BlsKeyPair::from_seed(&[1; 32]);
    let owner = Ed25519KeyPair::from_seed(&[200; 32]).address();
    let mut network_key = [3u8; 33];
    network_key[0] = 0x02;
    Genesis {
        chain_name: "walrus-consensus-test".into(),
        timestamp_ms,
        params: Parameters {
            n_shards: 10,
            epoch_duration_ms: 86_400_000,
            max_epochs_ahead: 53,
            storage_price_per_unit: Frost(100_000),
            write_price_per_unit: Frost(20_000),
            total_capacity: 1 << 40,
            min_fee: Frost(1_000),
            active_set_size: 111,
            challenge: Default::default(),
            price_bounds: Default::default(),
        },
        allocations: users.iter().map(|u| (u.address(), Frost::from_wal(1_000).expect("fits"))).collect(),
        nodes: vec![GenesisNode {
            owner,
            public_key: *bls.public(),
            proof_of_possession: proof_of_possession(&bls, owner, Epoch(0)),
            network_address: "127.0.0.1:9000".into(),
            network_public_key: NetworkPublicKey::from_bytes(&network_key).expect("compressed form"),
            shards: 10,
            stake: Frost::from_wal(1_000).expect("fits"),
            commission_rate: 1_000,
        }],
        validators: Vec::new(),
    }
}
