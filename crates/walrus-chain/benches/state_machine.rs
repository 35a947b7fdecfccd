//! State-machine throughput: blocks of transfers, blocks of blob registrations and of
//! certifications (four-node committee, n = 1000 shards, as on Walrus Mainnet), and the state
//! digest that closes every block, at growing numbers of objects.
//!
//! Results are recorded in docs/benchmarks.md.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use walrus_chain::system::Parameters;
use walrus_chain::tx::CertificateArgs;
use walrus_chain::{
    execute_block, Block, Call, Frost, Genesis, GenesisNode, SignedTransaction, State, TransactionData,
};
use walrus_core::encode::compute_metadata;
use walrus_core::keys::{BlsKeyPair, BlsSignature, Ed25519KeyPair};
use walrus_core::messages::{
    proof_of_possession, signers_to_bitmap, BlobPersistenceType, ProtocolMessage, StorageConfirmation,
};
use walrus_core::{BlobId, EncodingParams, Epoch, ObjectId};

const N_SHARDS: u16 = 1000;
const BLOCK: usize = 1000;

struct Bench {
    state: State,
    nodes: Vec<BlsKeyPair>,
    users: Vec<Ed25519KeyPair>,
}

impl Bench {
    fn new(users: usize) -> Bench {
        let nodes: Vec<BlsKeyPair> = (0..4u8).map(|i| BlsKeyPair::from_seed(&[i + 1; 32])).collect();
        let users: Vec<Ed25519KeyPair> = (0..users)
            .map(|i| {
                let mut seed = [0u8; 32];
                seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
                Ed25519KeyPair::from_seed(&seed)
            })
            .collect();
        let owner = Ed25519KeyPair::from_seed(&[200; 32]).address();
        let genesis = Genesis {
            chain_name: "bench".into(),
            timestamp_ms: 0,
            params: Parameters {
                n_shards: N_SHARDS,
                epoch_duration_ms: u64::MAX / 4,
                max_epochs_ahead: 53,
                storage_price_per_unit: Frost(100_000),
                write_price_per_unit: Frost(20_000),
                total_capacity: 1 << 60,
                min_fee: Frost(1_000),
                active_set_size: 111,
                challenge: Default::default(),
                price_bounds: Default::default(),
            },
            allocations: users
                .iter()
                .map(|u| (u.address(), Frost::from_wal(1_000_000).expect("fits")))
                .collect(),
            nodes: nodes
                .iter()
                .map(|key| GenesisNode {
                    owner,
                    public_key: *key.public(),
                    proof_of_possession: proof_of_possession(key, owner, Epoch(0)),
                    network_address: "127.0.0.1:1".into(),
                    network_public_key: walrus_core::keys::NetworkPublicKey::from_bytes(&[2; 33])
                        .expect("compressed form"),
                    shards: N_SHARDS / 4,
                    stake: Frost::ZERO,
                    commission_rate: 0,
                })
                .collect(),
            validators: Vec::new(),
        };
        Bench { state: genesis.build().expect("valid genesis"), nodes, users }
    }

    fn tx(&self, user: usize, call: Call) -> SignedTransaction {
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

    fn block(&self, transactions: Vec<SignedTransaction>) -> Block {
        Block::next(&self.state, self.state.timestamp_ms + 1, transactions)
    }

    fn run(&mut self, transactions: Vec<SignedTransaction>) -> walrus_chain::BlockEffects {
        let block = self.block(transactions);
        execute_block(&mut self.state, &block).expect("valid block")
    }

    /// Reserves and registers the same small blob once per user (several objects may share a
    /// blob ID; encoding stays out of the measurement); returns the blob objects.
    fn register_all(&mut self, count: usize) -> Vec<ObjectId> {
        let register = self.registrations(count);
        self.run(register).transactions.iter().map(|t| t.created[0]).collect()
    }

    /// Reserves storage for users `0..count` and signs their registrations of one blob.
    fn registrations(&mut self, count: usize) -> Vec<SignedTransaction> {
        let params = EncodingParams::new(u64::from(N_SHARDS)).expect("valid");
        let size = params.encoded_blob_length(8).expect("fits");
        let reserve = (0..count).map(|u| self.tx(u, Call::ReserveSpace { size, epochs_ahead: 2 })).collect();
        let storages: Vec<ObjectId> = self.run(reserve).transactions.iter().map(|t| t.created[0]).collect();
        let metadata = compute_metadata(params, &[1u8; 8]).expect("encodable");
        (0..count)
            .map(|u| {
                self.tx(
                    u,
                    Call::RegisterBlob {
                        storage: storages[u],
                        blob_id: *metadata.blob_id(),
                        root_hash: metadata.metadata().compute_root_hash(),
                        size: 8,
                        encoding_type: 1,
                        deletable: false,
                    },
                )
            })
            .collect()
    }

    /// A certificate of three of the four nodes for a permanent blob.
    fn certificate(&self, blob_id: BlobId) -> CertificateArgs {
        let body = StorageConfirmation { blob_id, blob_type: BlobPersistenceType::Permanent };
        let message = ProtocolMessage::new(self.state.system.epoch(), body).to_bytes();
        let signers = [0usize, 1, 2];
        let signatures: Vec<_> = signers.iter().map(|&i| self.nodes[i].sign(&message)).collect();
        let members: Vec<u16> = signers
            .iter()
            .map(|&i| {
                let key = *self.nodes[i].public();
                self.state.system.committee.members.iter().position(|m| m.public_key == key).expect("member")
                    as u16
            })
            .collect();
        CertificateArgs {
            signature: BlsSignature::aggregate(&signatures).expect("non-empty"),
            signers_bitmap: signers_to_bitmap(&members),
            message,
        }
    }
}

fn transfers(c: &mut Criterion) {
    let bench = Bench::new(BLOCK);
    let to = Ed25519KeyPair::from_seed(&[7; 32]).address();
    let txs: Vec<_> = (0..BLOCK).map(|u| bench.tx(u, Call::Transfer { to, amount: Frost(1) })).collect();
    let block = bench.block(txs);
    let mut group = c.benchmark_group("state_machine");
    group.sample_size(10).throughput(Throughput::Elements(BLOCK as u64));
    group.bench_function("transfers_block_of_1000", |b| {
        b.iter_batched(
            || bench.state.clone(),
            |mut state| execute_block(&mut state, &block).expect("valid"),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn register_and_certify(c: &mut Criterion) {
    const PAIRS: usize = 100;
    let mut bench = Bench::new(PAIRS);
    let register_block = {
        let registrations = bench.registrations(PAIRS);
        bench.block(registrations)
    };
    let mut group = c.benchmark_group("state_machine");
    group.sample_size(10).throughput(Throughput::Elements(PAIRS as u64));
    group.bench_function("register_block_of_100", |b| {
        b.iter_batched(
            || bench.state.clone(),
            |mut state| execute_block(&mut state, &register_block).expect("valid"),
            BatchSize::LargeInput,
        )
    });
    let blobs = {
        let effects = bench.run(register_block.transactions.clone());
        effects.transactions.iter().map(|t| t.created[0]).collect::<Vec<_>>()
    };
    let certify: Vec<_> = blobs
        .iter()
        .enumerate()
        .map(|(u, blob)| {
            let blob_id = bench.state.object(blob).expect("blob").body.blob().expect("blob").blob_id;
            bench.tx(u, Call::CertifyBlob { blob: *blob, certificate: bench.certificate(blob_id) })
        })
        .collect();
    let certify_block = bench.block(certify);
    group.bench_function("certify_block_of_100", |b| {
        b.iter_batched(
            || bench.state.clone(),
            |mut state| execute_block(&mut state, &certify_block).expect("valid"),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn state_digest(c: &mut Criterion) {
    let mut group = c.benchmark_group("state_digest");
    group.sample_size(10);
    for blobs in [1_000usize, 10_000] {
        let mut bench = Bench::new(1_000);
        for _ in 0..blobs / 1_000 {
            bench.register_all(1_000);
        }
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{blobs}_blobs")),
            &bench.state,
            |b, state| b.iter(|| state.digest()),
        );
    }
    group.finish();
}

mod harness {
    //! Criterion's generated entry points (undocumented by construction).
    #![allow(missing_docs)]
    use super::*;
    criterion_group!(benches, transfers, register_and_certify, state_digest);
}

criterion_main!(harness::benches);
