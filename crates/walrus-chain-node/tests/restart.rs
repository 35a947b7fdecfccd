//! Restarts: the host opens the state its store holds (its head, tree and tables) and replays
//! only the blocks after it; a stored state of another chain is refused.

use std::sync::Arc;

use walrus_chain::tables::Flush;
use walrus_chain::{execute_block, Block, Call, Frost, State, TransactionData};
use walrus_chain_node::chain::ChainError;
use walrus_chain_node::init::{init_dir, read_ed25519, ChainDir, InitSpec};
use walrus_chain_node::store::{FjallBlockStore, StoreError};
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

    /// The next block: one transfer of `amount` from the faucet to the key of seed `to`.
    fn transfer_block(&self, chain: &Chain, to: u8, amount: u64) -> Block {
        let state = chain.state();
        let tx = TransactionData {
            chain_id: state.chain_id,
            sender: self.faucet.address(),
            nonce: state.account(&self.faucet.address()).nonce,
            fee: state.system.params.min_fee,
            call: Call::Transfer {
                to: Ed25519KeyPair::from_seed(&[to; 32]).address(),
                amount: Frost(amount),
            },
        }
        .sign(&self.faucet);
        Block::next(&state, state.timestamp_ms + 1, vec![tx])
    }

    /// Commits `blocks` blocks of one transfer each from the faucet.
    fn transfers(&self, chain: &Chain, blocks: u64) {
        for _ in 0..blocks {
            chain.commit(&self.transfer_block(chain, 9, 1)).expect("commits");
        }
    }
}

/// What identifies a state: its head's BCS bytes and its records root. (A copy of a state
/// shares the store's tables, so the tests keep these instead of the copy.)
fn identity(state: &State) -> (Vec<u8>, [u8; 32]) {
    (bcs::to_bytes(state).expect("encodes"), state.records.root())
}

#[test]
fn a_restart_opens_the_stored_state_and_replays_only_what_it_lacks() {
    let fixture = fixture();
    let chain = fixture.open();
    fixture.transfers(&chain, 13);
    let before = identity(&chain.state());
    // The stored state is that after the last block: nothing to replay.
    let head = chain.store().state_head().expect("read").expect("a stored state");
    assert_eq!(bcs::from_bytes::<State>(&head).expect("decodes").height, 13);

    // A block made durable, then a crash before it ran: the restart runs it.
    let block = fixture.transfer_block(&chain, 8, 5);
    let after = {
        let mut copy = chain.state().clone();
        execute_block(&mut copy, &block).expect("valid");
        identity(&copy)
    };
    chain.store().append(&block).expect("appended");
    drop(chain);

    let reopened = fixture.open();
    assert_eq!(reopened.state().height, 14);
    assert_eq!(identity(&reopened.state()), after, "the replayed block gives the state it gave");
    assert_ne!(identity(&reopened.state()), before);
    let state = reopened.state();
    assert_eq!(state.records.root(), state.records.recomputed_root(), "the stored tree is the records'");
    assert_eq!(state.account(&Ed25519KeyPair::from_seed(&[8; 32]).address()).balance, Frost(5));
    drop(state);
    fixture.transfers(&reopened, 1);
    let last = identity(&reopened.state());
    drop(reopened);
    assert_eq!(identity(&fixture.open().state()), last);
}

#[test]
fn a_stored_state_of_another_chain_is_refused() {
    let (one, other) = (fixture(), fixture());
    let chain = one.open();
    one.transfers(&chain, 2);
    let foreign = bcs::to_bytes(&*chain.state()).expect("encodes");
    drop(chain);
    // `other` has another genesis time, hence another chain ID.
    assert_ne!(
        other.chain_dir.read_genesis().expect("genesis").digest(),
        one.chain_dir.read_genesis().expect("genesis").digest()
    );
    let chain = other.open();
    other.transfers(&chain, 2);
    chain.store().put_state(None, &foreign, &Flush::default()).expect("written");
    drop(chain);
    let genesis = other.chain_dir.read_genesis().expect("genesis");
    let store = FjallBlockStore::open(&other.chain_dir.store(0), &genesis.digest()).expect("store");
    let error = Chain::open(genesis, Arc::new(store)).err().expect("refused");
    assert!(matches!(error, ChainError::Store(StoreError::WrongChain { .. })), "{error}");
}
