//! The chain host at 10 thousand, 100 thousand and 1 million blob objects: block execution time
//! per transaction (transfers, reserve + register, certify) on a state read from the store's
//! tables, and restart time (open the store, read the state's head and tree, replay the blocks
//! after it).
//!
//! The objects are put into the stored state directly (registering a million blobs through
//! blocks would take the bench longer than the figures are worth), owned by 1,000 accounts, then
//! one block of transfers runs on them so that the store holds a state with recorded effects.
//! Each figure is the median of `RUNS` runs; the executions run on copies of the state (which
//! share its tables and are never flushed). n = 1000 shards on four genesis nodes, as on Walrus
//! Mainnet. `cargo bench -p walrus-chain-node --bench chain_scale`;
//! `CHAIN_SCALE_OBJECTS=10000,100000` picks the sizes. Results in docs/benchmarks.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use walrus_chain::objects::{BlobObject, Object, ObjectBody, Owner, StorageResource};
use walrus_chain::tables::Records;
use walrus_chain::tx::CertificateArgs;
use walrus_chain::{
    execute_block, Block, Call, Frost, Genesis, SignedTransaction, State, TransactionData, TxStatus,
};
use walrus_chain_node::init::{init_dir, read_bls, ChainDir, InitSpec};
use walrus_chain_node::store::{BlockStore, FjallBlockStore};
use walrus_chain_node::Chain;
use walrus_core::encode::compute_metadata;
use walrus_core::hash::blake2b256_parts;
use walrus_core::keys::{BlsKeyPair, BlsSignature, Ed25519KeyPair};
use walrus_core::messages::{signers_to_bitmap, BlobPersistenceType, ProtocolMessage, StorageConfirmation};
use walrus_core::{BlobId, EncodingParams, Epoch, ObjectId};

const N_SHARDS: u16 = 1000;
const USERS: usize = 1000;
const RUNS: usize = 5;
/// Blocks a restart replays (committed after the filled state).
const TAIL_BLOCKS: u64 = 10;

fn user(i: usize) -> Ed25519KeyPair {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    seed[31] = 0x5c;
    Ed25519KeyPair::from_seed(&seed)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

struct World {
    _dir: tempfile::TempDir,
    chain_dir: ChainDir,
    genesis: Genesis,
    users: Vec<Ed25519KeyPair>,
    nodes: Vec<BlsKeyPair>,
}

/// Objects put into the stored state between two flushes.
const FILL_CHUNK: u64 = 200_000;

impl World {
    /// A genesis with `USERS` funded accounts, and a store whose state holds `objects` blob
    /// objects more, after one block.
    fn new(objects: usize) -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let chain_dir = ChainDir(dir.path().to_path_buf());
        let users: Vec<_> = (0..USERS).map(user).collect();
        let mut spec = InitSpec::localnet(
            N_SHARDS,
            (0..4).map(|i| format!("127.0.0.1:{}", 1 + i)).collect(),
            1 << 40,
            0,
        );
        spec.allocations =
            users.iter().map(|u| (u.address(), Frost::from_wal(1_000_000).expect("fits"))).collect();
        let genesis = init_dir(&chain_dir, &spec).expect("init");
        let nodes = (0..4).map(|i| read_bls(&chain_dir.node(i).join("bls.key")).expect("bls key")).collect();
        let world = World { _dir: dir, chain_dir, genesis, users, nodes };
        world.fill(objects as u64);
        world
    }

    fn open_store(&self) -> Arc<FjallBlockStore> {
        Arc::new(FjallBlockStore::open(&self.chain_dir.store(0), &self.genesis.digest()).expect("store"))
    }

    /// Writes the genesis state and `objects` blob objects into the store, then runs one block.
    fn fill(&self, objects: u64) {
        drop(Chain::open(self.genesis.clone(), self.open_store()).expect("genesis state written"));
        let store = self.open_store();
        let head = store.state_head().expect("read").expect("the genesis state");
        let mut state: State = bcs::from_bytes(&head).expect("decodes");
        state.records = Records::on(store.tables(), store.tree_nodes().expect("tree"));
        for i in 0..objects {
            let id = ObjectId(blake2b256_parts(&[b"bench-object", &i.to_le_bytes()]));
            let blob_id = BlobId(blake2b256_parts(&[b"bench-blob", &i.to_le_bytes()]));
            let owner = self.users[(i as usize) % USERS].address();
            let storage =
                StorageResource { id, start_epoch: Epoch(0), end_epoch: Epoch(10), storage_size: 1 << 20 };
            let blob = BlobObject {
                id,
                registered_epoch: Epoch(0),
                blob_id,
                size: 1 << 16,
                encoding_type: walrus_core::EncodingType::Rs2,
                certified_epoch: Some(Epoch(0)),
                storage,
                deletable: i % 2 == 0,
                attributes: Default::default(),
            };
            state.insert_object(id, Object { owner: Owner::Address(owner), body: ObjectBody::Blob(blob) });
            if (i + 1) % FILL_CHUNK == 0 || i + 1 == objects {
                state.records.refresh();
                let flush = state.records.take_flush();
                store.put_state(None, &bcs::to_bytes(&state).expect("encodes"), &flush).expect("flushed");
            }
        }
        state.records.refresh();
        state.recent_digests.insert(0, state.digest());
        // One block on the filled state, stored as the chain host stores one.
        let to = Ed25519KeyPair::from_seed(&[7; 32]).address();
        let txs =
            (0..USERS).map(|u| self.tx(&state, u, 0, Call::Transfer { to, amount: Frost(1) })).collect();
        let block = Block::next(&state, state.timestamp_ms + 1, txs);
        store.append(&block).expect("block");
        let effects = execute_block(&mut state, &block).expect("valid block");
        let flush = state.records.take_flush();
        store.put_state(Some(&effects), &bcs::to_bytes(&state).expect("encodes"), &flush).expect("stored");
        store.sync().expect("synced");
        store.settle().expect("settled");
    }

    fn tx(&self, state: &State, user: usize, nonce_ahead: u64, call: Call) -> SignedTransaction {
        let key = &self.users[user];
        TransactionData {
            chain_id: state.chain_id,
            sender: key.address(),
            nonce: state.account(&key.address()).nonce + nonce_ahead,
            fee: Frost(1_000),
            call,
        }
        .sign(key)
    }

    fn certificate(&self, state: &State, blob_id: BlobId) -> CertificateArgs {
        let body = StorageConfirmation { blob_id, blob_type: BlobPersistenceType::Permanent };
        let message = ProtocolMessage::new(state.system.epoch(), body).to_bytes();
        let signatures: Vec<_> = self.nodes[..3].iter().map(|k| k.sign(&message)).collect();
        let members: Vec<u16> = self.nodes[..3]
            .iter()
            .map(|k| {
                state
                    .system
                    .committee
                    .members
                    .iter()
                    .position(|m| m.public_key == *k.public())
                    .expect("member") as u16
            })
            .collect();
        CertificateArgs {
            signature: BlsSignature::aggregate(&signatures).expect("non-empty"),
            signers_bitmap: signers_to_bitmap(&members),
            message,
        }
    }
}

/// Median time per transaction of `block` executed on copies of `state`; every transaction must
/// succeed.
fn per_tx(state: &State, block: &Block) -> Duration {
    let samples = (0..RUNS)
        .map(|_| {
            let mut copy = state.clone();
            let start = Instant::now();
            let effects = execute_block(&mut copy, block).expect("valid block");
            let took = start.elapsed();
            for tx in &effects.transactions {
                assert_eq!(tx.status, TxStatus::Success, "bench transactions succeed");
            }
            drop(copy);
            took
        })
        .collect();
    median(samples) / block.transactions.len() as u32
}

/// Commits `TAIL_BLOCKS` blocks of transfers through `chain`, then drops it and times a
/// restart (the median of `RUNS`).
fn restart(world: &World, chain: Chain) -> Restart {
    let to = Ed25519KeyPair::from_seed(&[7; 32]).address();
    let first = chain.state().height + 1;
    for b in 0..TAIL_BLOCKS {
        let block = {
            let state = chain.state();
            let txs =
                (0..100).map(|u| world.tx(&state, u, 0, Call::Transfer { to, amount: Frost(1) })).collect();
            Block::next(&state, state.timestamp_ms + 1 + b, txs)
        };
        chain.commit(&block).expect("commits");
    }
    chain.store().sync().expect("synced");
    drop(chain);

    let journal = world.open_store().journal_bytes().expect("journal size");
    let (mut stores, mut chains) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let start = Instant::now();
        let store = world.open_store();
        let opened = start.elapsed();
        let chain = Chain::open(world.genesis.clone(), store).expect("reopens");
        chains.push(start.elapsed() - opened);
        stores.push(opened);
        assert_eq!(chain.state().height, first + TAIL_BLOCKS - 1);
    }
    Restart { store: median(stores), chain: median(chains), journal }
}

/// A restart's two parts: opening the database (fjall replays its journal) and opening the
/// chain on it (the state's head and tree read, `TAIL_BLOCKS` blocks replayed).
struct Restart {
    store: Duration,
    chain: Duration,
    journal: u64,
}

fn measure(objects: usize) {
    let world = World::new(objects);
    let chain = Chain::open(world.genesis.clone(), world.open_store()).expect("opens");
    let base = chain.state().clone();
    let state = &base;
    let at = state.timestamp_ms + 1;

    let to = Ed25519KeyPair::from_seed(&[7; 32]).address();
    let transfers: Vec<_> =
        (0..1000).map(|u| world.tx(state, u, 0, Call::Transfer { to, amount: Frost(1) })).collect();
    let transfer = per_tx(state, &Block::next(state, at, transfers));

    // Reserve and register in one block: 100 users, two transactions each.
    let params = EncodingParams::new(u64::from(N_SHARDS)).expect("params");
    let metadata = compute_metadata(params, &[1u8; 8]).expect("encodable");
    let size = params.encoded_blob_length(8).expect("fits");
    let mut register_txs = Vec::new();
    for u in 0..100 {
        let reserve = world.tx(state, u, 0, Call::ReserveSpace { size, epochs_ahead: 2 });
        let storage = ObjectId(blake2b256_parts(&[
            b"walrus-chain/object-id/v1",
            &reserve.data.digest().0,
            &0u64.to_le_bytes(),
        ]));
        register_txs.push(reserve);
        register_txs.push(world.tx(
            state,
            u,
            1,
            Call::RegisterBlob {
                storage,
                blob_id: *metadata.blob_id(),
                root_hash: metadata.metadata().compute_root_hash(),
                size: 8,
                encoding_type: 1,
                deletable: false,
            },
        ));
    }
    let register_block = Block::next(state, at, register_txs);
    let register = per_tx(state, &register_block);

    let mut registered = state.clone();
    let effects = execute_block(&mut registered, &register_block).expect("valid");
    let blobs: Vec<ObjectId> = effects.transactions.iter().skip(1).step_by(2).map(|t| t.created[0]).collect();
    let certificate = world.certificate(state, *metadata.blob_id());
    let certify_txs = blobs
        .iter()
        .enumerate()
        .map(|(u, blob)| {
            world.tx(&registered, u, 0, Call::CertifyBlob { blob: *blob, certificate: certificate.clone() })
        })
        .collect();
    let certify = per_tx(&registered, &Block::next(&registered, at + 1, certify_txs));
    drop(registered);

    let digest_start = Instant::now();
    let _ = state.digest();
    let digest = digest_start.elapsed();
    let head = bcs::to_bytes(state).expect("encodes").len();
    // The copies share the store's tables: dropped before the restarts reopen it.
    drop(base);
    let restart = restart(&world, chain);

    println!(
        "| {objects:>9} | {:>8.1} | {:>8.1} | {:>8.1} | {:>7.3} | {:>7.0} | {:>7.0} | {:>6.1} | {:>6.1} |",
        transfer.as_secs_f64() * 1e6,
        register.as_secs_f64() * 1e6,
        certify.as_secs_f64() * 1e6,
        digest.as_secs_f64() * 1e3,
        restart.chain.as_secs_f64() * 1e3,
        restart.store.as_secs_f64() * 1e3,
        restart.journal as f64 / (1 << 20) as f64,
        head as f64 / 1024.0,
    );
}

fn main() {
    // `cargo test --benches` runs this with `--test`-like arguments; one small size then.
    let quick = std::env::args().any(|a| a == "--test");
    let sizes: Vec<usize> = match std::env::var("CHAIN_SCALE_OBJECTS") {
        Ok(list) => list.split(',').map(|s| s.trim().parse().expect("object counts")).collect(),
        Err(_) if quick => vec![1_000],
        Err(_) => vec![10_000, 100_000, 1_000_000],
    };
    println!(
        "per transaction (µs): transfer, reserve+register, certify; state digest (ms); restart \
         (ms): the chain's open (head, tree, 10 blocks replayed) and the database's (its journal \
         replayed; journal MiB); the state's head, stored after every block (KiB)"
    );
    println!("| objects | transfer | register | certify | digest | chain open | store open | journal (MiB) | head (KiB) |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for objects in sizes {
        measure(objects);
    }
}
