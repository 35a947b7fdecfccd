//! The executor: owns the state, applies finalized blocks in order, and tells waiting clients.
//!
//! Whatever orders the blocks (the single sequencer now, a BFT engine later) hands each one to
//! [`Chain::commit`], which persists it, executes it with the pure state machine, records its
//! effects and wakes whoever waits for its transactions or events.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};

use tokio::sync::{oneshot, watch};
use walrus_chain::{
    check_block, execute_block, Block, BlockEffects, BlockError, Genesis, State, TxDigest, TxEffects,
};
use walrus_core::hash::Digest;

use crate::store::{BlockStore, StoreError};

/// Why the chain cannot open or go on. All are fatal for the host process.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The genesis is invalid.
    #[error("genesis: {0}")]
    Genesis(#[from] walrus_chain::genesis::GenesisError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored block does not follow the state replayed so far.
    #[error("stored block {height} does not apply: {source}")]
    Replay {
        /// Its height.
        height: u64,
        /// Why.
        source: BlockError,
    },
    /// A block is missing from the middle of the store.
    #[error("stored block {0} is missing")]
    Gap(u64),
    /// Replaying a block gave another state than when it first ran: the state machine is not
    /// deterministic across versions, and this node must not serve.
    #[error("replaying block {0} gives a different state digest than recorded")]
    Diverged(u64),
    /// A block handed to `commit` cannot follow the state.
    #[error(transparent)]
    Block(#[from] BlockError),
}

/// What a client waiting for a transaction gets: the block height and its effects.
pub type Executed = (u64, TxEffects);

/// The executing chain.
pub struct Chain {
    genesis: Genesis,
    state: RwLock<State>,
    store: Arc<dyn BlockStore>,
    /// The last executed height and the state digest after it.
    head: watch::Sender<(u64, Digest)>,
    waiters: Mutex<HashMap<TxDigest, Vec<oneshot::Sender<Executed>>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Chain {
    /// Builds the genesis state and replays every stored block onto it, rewriting the effects
    /// and events caches and checking each recorded state digest.
    pub fn open(genesis: Genesis, store: Arc<dyn BlockStore>) -> Result<Chain, ChainError> {
        let mut state = genesis.build()?;
        let mut digest = state.digest();
        let latest = store.latest_height()?;
        for height in 1..=latest {
            let block = store.block(height)?.ok_or(ChainError::Gap(height))?;
            let recorded = store.effects(height)?;
            let effects =
                execute_block(&mut state, &block).map_err(|source| ChainError::Replay { height, source })?;
            if recorded.as_ref().is_some_and(|r| r.state_digest != effects.state_digest) {
                return Err(ChainError::Diverged(height));
            }
            if recorded.is_none() {
                store.put_effects(&effects)?;
            }
            digest = effects.state_digest;
        }
        let (head, _) = watch::channel((state.height, digest));
        Ok(Chain { genesis, state: RwLock::new(state), store, head, waiters: Mutex::new(HashMap::new()) })
    }

    /// The genesis this chain started from.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The store.
    pub fn store(&self) -> &dyn BlockStore {
        self.store.as_ref()
    }

    /// Read access to the current state. Hold it briefly: blocks wait for it.
    pub fn state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The last executed height and the state digest after it; changes after every block.
    pub fn head(&self) -> watch::Receiver<(u64, Digest)> {
        self.head.subscribe()
    }

    /// Registers interest in transaction `digest`; the receiver resolves when a block executes
    /// it. Register before submitting so that the answer cannot be missed.
    pub fn wait_for(&self, digest: TxDigest) -> oneshot::Receiver<Executed> {
        let (tx, rx) = oneshot::channel();
        lock(&self.waiters).entry(digest).or_default().push(tx);
        rx
    }

    /// Drops the waiters of a transaction that will not be executed (refused or expired).
    pub fn forget(&self, digest: &TxDigest) {
        lock(&self.waiters).remove(digest);
    }

    /// Persists, executes and publishes the next block. An error leaves the chain unusable
    /// (the block may be on disk without having run); the host must stop and replay.
    pub fn commit(&self, block: &Block) -> Result<BlockEffects, ChainError> {
        check_block(&self.state(), block)?;
        self.store.append(block)?;
        let effects = {
            let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
            execute_block(&mut state, block)?
        };
        self.store.put_effects(&effects)?;
        self.head.send_replace((effects.height, effects.state_digest));
        let mut waiters = lock(&self.waiters);
        for tx in &effects.transactions {
            for waiter in waiters.remove(&tx.digest).into_iter().flatten() {
                // A waiter that gave up has dropped its receiver; nothing to do then.
                let _ = waiter.send((effects.height, tx.clone()));
            }
        }
        Ok(effects)
    }
}
