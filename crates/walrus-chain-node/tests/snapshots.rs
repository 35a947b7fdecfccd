//! State snapshots: a restart loads the newest good snapshot and replays only the blocks after
//! it; a torn or foreign snapshot is passed over, never trusted.

use std::sync::Arc;

use walrus_chain::{Block, Call, Frost, TransactionData};
use walrus_chain_node::init::{init_dir, read_ed25519, ChainDir, InitSpec};
use walrus_chain_node::store::{BlockStore, FjallBlockStore, StoreError};
use walrus_chain_node::Chain;
use walrus_core::keys::Ed25519KeyPair;

struct Fixture {
    _dir: tempfile::TempDir,
    chain_dir: ChainDir,
    faucet: Ed25519KeyPair,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temporary directory");
    let chain_dir = ChainDir(dir.path().to_path_buf());
    let addresses = vec!["127.0.0.1:1".to_string(), "127.0.0.1:2".to_string()];
    init_dir(&chain_dir, &InitSpec::localnet(10, addresses, 3_600_000, 1_000)).expect("init");
    let faucet = read_ed25519(&chain_dir.faucet_key()).expect("faucet key");
    Fixture { _dir: dir, chain_dir, faucet }
}

impl Fixture {
    fn open(&self) -> Chain {
        let genesis = self.chain_dir.read_genesis().expect("genesis");
        let store = FjallBlockStore::open(&self.chain_dir.store(0), &genesis.digest()).expect("store");
        Chain::open(genesis, Arc::new(store)).expect("chain opens")
    }

    /// Commits `blocks` blocks of one transfer each from the faucet.
    fn transfers(&self, chain: &Chain, blocks: u64) {
        for _ in 0..blocks {
            let block = {
                let state = chain.state();
                let tx = TransactionData {
                    chain_id: state.chain_id,
                    sender: self.faucet.address(),
                    nonce: state.account(&self.faucet.address()).nonce,
                    fee: state.system.params.min_fee,
                    call: Call::Transfer {
                        to: Ed25519KeyPair::from_seed(&[9; 32]).address(),
                        amount: Frost(1),
                    },
                }
                .sign(&self.faucet);
                Block::next(&state, state.timestamp_ms + 1, vec![tx])
            };
            chain.commit(&block).expect("commits");
        }
    }
}

#[test]
fn a_restart_starts_from_the_newest_snapshot_and_replays_the_rest() {
    let fixture = fixture();
    let chain = fixture.open().with_snapshot_interval(0);
    fixture.transfers(&chain, 5);
    assert_eq!(chain.snapshot().expect("snapshot"), 5);
    fixture.transfers(&chain, 5);
    assert_eq!(chain.snapshot().expect("snapshot"), 10);
    fixture.transfers(&chain, 3);
    let before = chain.state().clone();
    assert_eq!(chain.store().snapshot_heights().expect("heights"), vec![10, 5]);
    drop(chain);

    let reopened = fixture.open();
    assert_eq!(*reopened.state(), before, "snapshot 10 and blocks 11..=13 give the same state");
    assert_eq!(reopened.state().records, reopened.state().recompute_records());
    fixture.transfers(&reopened, 1);
    drop(reopened);

    // A torn newest snapshot is passed over: the older one and more blocks give the same state.
    let newest = fixture.chain_dir.store(0).join("snapshots").join(format!("{:020}.snap", 10));
    let bytes = std::fs::read(&newest).expect("snapshot file");
    std::fs::write(&newest, &bytes[..bytes.len() / 2]).expect("tear it");
    let store_error = {
        let genesis = fixture.chain_dir.read_genesis().expect("genesis");
        let store = FjallBlockStore::open(&fixture.chain_dir.store(0), &genesis.digest()).expect("store");
        store.snapshot(10).expect_err("a torn snapshot is an error")
    };
    assert!(matches!(store_error, StoreError::Snapshot { .. }), "{store_error}");
    let reopened = fixture.open();
    assert_eq!(reopened.state().height, 14);
    assert_eq!(reopened.state().records, reopened.state().recompute_records());
}

#[test]
fn snapshots_are_written_every_interval_and_only_the_newest_are_kept() {
    let fixture = fixture();
    let chain = fixture.open().with_snapshot_interval(4);
    for expected in [4u64, 8, 12] {
        fixture.transfers(&chain, 4);
        // The write runs on its own thread; wait for it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let done = || {
            let heights = chain.store().snapshot_heights().expect("heights");
            heights.first() == Some(&expected) && heights.len() <= 2
        };
        while !done() {
            assert!(std::time::Instant::now() < deadline, "snapshot {expected} never appeared");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    fixture.transfers(&chain, 1);
    assert_eq!(chain.store().snapshot_heights().expect("heights"), vec![12, 8]);
    let state = chain.state().clone();
    drop(chain);
    assert_eq!(*fixture.open().state(), state);
}

#[test]
fn a_snapshot_of_another_chain_is_not_loaded() {
    let (one, other) = (fixture(), fixture());
    let chain = one.open().with_snapshot_interval(0);
    one.transfers(&chain, 2);
    let foreign = bcs::to_bytes(&*chain.state()).expect("encodes");
    drop(chain);
    // `other` has another genesis time, hence another chain ID.
    let genesis = other.chain_dir.read_genesis().expect("genesis");
    assert_ne!(genesis.digest(), one.chain_dir.read_genesis().expect("genesis").digest());
    let chain = other.open().with_snapshot_interval(0);
    other.transfers(&chain, 2);
    chain.store().put_snapshot(2, &foreign).expect("written");
    let expected = chain.state().clone();
    drop(chain);
    assert_eq!(*other.open().state(), expected);
}
