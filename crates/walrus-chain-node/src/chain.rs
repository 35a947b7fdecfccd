//! The durable state: applies finalized blocks in order, and tells waiting clients.
//!
//! The validator's executor (`walrus_consensus::Executor`) hands each finalized block to
//! [`Chain::commit`] through the [`StateStore`] seam; it persists the block, executes it with
//! the pure state machine, records its effects and wakes whoever waits for its transactions or
//! events, and only then does the executor acknowledge the block to consensus.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};

use tokio::sync::{oneshot, watch};
use walrus_chain::light::StateHeader;
use walrus_chain::{
    check_block, execute_block, execute_verified, verify_block_with, Block, BlockEffects, BlockError,
    Genesis, State, TxDigest, TxEffects,
};
use walrus_consensus::{ApplyError, Known, StateGuard, StateStore};
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

/// Blocks between state snapshots. A restart replays at most this many blocks after loading the
/// newest snapshot. Writing one copies the state on the block path (see docs/benchmarks.md for
/// its cost per million objects); the serialization, the sync and the file write run on their
/// own thread.
pub const SNAPSHOT_INTERVAL_BLOCKS: u64 = 1_000;

/// The executing chain.
pub struct Chain {
    genesis: Genesis,
    state: RwLock<State>,
    store: Arc<dyn BlockStore>,
    /// The last executed height and the state digest after it.
    head: watch::Sender<(u64, Digest)>,
    /// The state digest after the state's last block, set under the state's write lock (the
    /// head is published later, once the effects are stored): read under the read lock, it
    /// belongs to the state one sees.
    digest: Mutex<Digest>,
    waiters: Mutex<HashMap<TxDigest, Vec<oneshot::Sender<Executed>>>>,
    snapshot_interval: u64,
    /// Set while a snapshot is being written, so that a slow disk never queues a second one.
    snapshotting: Arc<AtomicBool>,
    /// The state header at height 0 (later ones are in the blocks' effects).
    genesis_header: StateHeader,
    /// The last [`SYSTEMS_KEPT`] distinct system objects, by digest, newest last: a state
    /// proof names a state up to `EXEC_LAG_MAX` heights old, and the system object changes in
    /// few blocks.
    systems: Mutex<VecDeque<(Digest, Arc<Vec<u8>>)>>,
}

/// Distinct system objects [`Chain::system_under`] keeps.
pub const SYSTEMS_KEPT: usize = walrus_chain::state::EXEC_LAG_MAX as usize + 8;

/// Keeps `system` (its digest in `header`) as the newest, unless it is already.
fn keep_system(
    systems: &mut VecDeque<(Digest, Arc<Vec<u8>>)>,
    header: &StateHeader,
    system: impl FnOnce() -> Vec<u8>,
) {
    if systems.back().is_some_and(|(digest, _)| *digest == header.system_digest) {
        return;
    }
    systems.push_back((header.system_digest, Arc::new(system())));
    while systems.len() > SYSTEMS_KEPT {
        systems.pop_front();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Chain {
    /// Loads the newest state snapshot the store holds (the genesis state if none is usable)
    /// and replays the stored blocks after it, rewriting the effects and events caches and
    /// checking each recorded state digest.
    pub fn open(genesis: Genesis, store: Arc<dyn BlockStore>) -> Result<Chain, ChainError> {
        let latest = store.latest_height()?;
        let genesis_state = genesis.build()?;
        let genesis_header = genesis_state.header().0;
        let mut state = match newest_snapshot(&genesis, store.as_ref(), latest)? {
            Some(state) => state,
            None => genesis_state,
        };
        if state.height > 0 {
            tracing::info!(height = state.height, latest, "chain state loaded from a snapshot");
        }
        let mut systems = VecDeque::new();
        let (header, system) = state.header();
        keep_system(&mut systems, &header, || system);
        let mut digest = header.digest();
        for height in state.height + 1..=latest {
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
            keep_system(&mut systems, &effects.header, || bcs::to_bytes(&state.system).expect("plain BCS"));
        }
        let (head, _) = watch::channel((state.height, digest));
        Ok(Chain {
            genesis,
            state: RwLock::new(state),
            store,
            head,
            digest: Mutex::new(digest),
            waiters: Mutex::new(HashMap::new()),
            snapshot_interval: SNAPSHOT_INTERVAL_BLOCKS,
            snapshotting: Arc::new(AtomicBool::new(false)),
            genesis_header,
            systems: Mutex::new(systems),
        })
    }

    /// The state header after the block at `height` (the genesis state's at 0), if executed.
    pub fn header_at(&self, height: u64) -> Result<Option<StateHeader>, ChainError> {
        if height == 0 {
            return Ok(Some(self.genesis_header.clone()));
        }
        Ok(self.store.effects(height)?.map(|effects| effects.header))
    }

    /// The system object's BCS bytes under `header`, if it is among the last [`SYSTEMS_KEPT`]
    /// distinct ones.
    pub fn system_under(&self, header: &StateHeader) -> Option<Arc<Vec<u8>>> {
        let systems = lock(&self.systems);
        let found = systems.iter().rev().find(|(digest, _)| *digest == header.system_digest);
        found.map(|(_, bytes)| Arc::clone(bytes))
    }

    /// Writes a snapshot every `blocks` blocks instead of [`SNAPSHOT_INTERVAL_BLOCKS`] (0: never).
    pub fn with_snapshot_interval(mut self, blocks: u64) -> Chain {
        self.snapshot_interval = blocks;
        self
    }

    /// Writes a snapshot of the current state now, on this thread.
    pub fn snapshot(&self) -> Result<u64, ChainError> {
        let (height, bytes) = self.snapshot_bytes();
        self.store.sync()?;
        self.store.put_snapshot(height, &bytes)?;
        Ok(height)
    }

    fn snapshot_bytes(&self) -> (u64, Vec<u8>) {
        let state = self.state();
        (state.height, bcs::to_bytes(&*state).expect("the state is plain BCS"))
    }

    /// Starts writing a snapshot on its own thread, unless one is being written.
    fn snapshot_in_background(&self) {
        if self.snapshotting.swap(true, Ordering::AcqRel) {
            return;
        }
        // A copy costs several times less than serializing (see docs/benchmarks.md); the
        // serialization and the disk work run beside the blocks.
        let state = self.state().clone();
        let store = Arc::clone(&self.store);
        let snapshotting = Arc::clone(&self.snapshotting);
        let spawned = std::thread::Builder::new().name("chain-snapshot".into()).spawn(move || {
            let height = state.height;
            let bytes = bcs::to_bytes(&state).expect("the state is plain BCS");
            drop(state);
            match store.sync().and_then(|()| store.put_snapshot(height, &bytes)) {
                Ok(()) => tracing::debug!(height, bytes = bytes.len(), "state snapshot written"),
                Err(e) => tracing::warn!(height, "state snapshot not written: {e}"),
            }
            snapshotting.store(false, Ordering::Release);
        });
        if let Err(e) = spawned {
            tracing::warn!("state snapshot not started: {e}");
            self.snapshotting.store(false, Ordering::Release);
        }
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

    /// The current state with the digest after it (its height is the state's own).
    pub fn state_and_digest(&self) -> (RwLockReadGuard<'_, State>, Digest) {
        let state = self.state();
        let digest = *lock(&self.digest);
        (state, digest)
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
        self.commit_with(block, &|_| false)
    }

    /// [`Chain::commit`], taking as authentic the transactions `known` says were checked at
    /// admission.
    pub fn commit_with(&self, block: &Block, known: &Known<'_>) -> Result<BlockEffects, ChainError> {
        // The signature and certificate checks share the state with readers; only the
        // execution itself takes it for writing.
        let verified = {
            let state = self.state();
            check_block(&state, block)?;
            verify_block_with(&state, block, known)
        };
        self.store.append(block)?;
        let effects = {
            let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
            let effects = execute_verified(&mut state, block, &verified)?;
            *lock(&self.digest) = effects.state_digest;
            // Serialized again only when it changed (an epoch step, a registration, a price).
            keep_system(&mut lock(&self.systems), &effects.header, || {
                bcs::to_bytes(&state.system).expect("plain BCS")
            });
            effects
        };
        self.store.put_effects(&effects)?;
        if self.snapshot_interval > 0 && effects.height.is_multiple_of(self.snapshot_interval) {
            self.snapshot_in_background();
        }
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

impl StateStore for Chain {
    fn read(&self) -> StateGuard<'_> {
        Box::new(self.state())
    }

    fn apply(&self, block: &Block, known: &Known<'_>) -> Result<BlockEffects, ApplyError> {
        self.commit_with(block, known).map_err(|e| match e {
            ChainError::Block(refused) => ApplyError::Rejected(refused),
            other => ApplyError::Store(other.to_string()),
        })
    }
}

/// The newest snapshot at or below `latest` that decodes, belongs to this chain and agrees with
/// the recorded effects; a bad one is reported and the next older one tried.
fn newest_snapshot(
    genesis: &Genesis,
    store: &dyn BlockStore,
    latest: u64,
) -> Result<Option<State>, ChainError> {
    let chain_id = genesis.digest();
    for height in store.snapshot_heights()? {
        if height > latest {
            tracing::warn!(height, latest, "ignoring a state snapshot newer than the last block");
            continue;
        }
        let bytes = match store.snapshot(height) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!("ignoring a state snapshot: {e}");
                continue;
            }
        };
        let mut state: State = match bcs::from_bytes(&bytes) {
            Ok(state) => state,
            Err(e) => {
                tracing::warn!(height, "ignoring a state snapshot that does not decode: {e}");
                continue;
            }
        };
        if state.chain_id != chain_id || state.height != height {
            tracing::warn!(height, "ignoring a state snapshot of another chain or height");
            continue;
        }
        state.rebuild_records();
        let digest = state.digest();
        let recorded = store.effects(height)?.map(|effects| effects.state_digest);
        let committed = store
            .block(height + 1)?
            .filter(|block| block.exec.height == height)
            .map(|block| block.exec.state_digest);
        if recorded.or(committed).is_some_and(|expected| expected != digest) {
            tracing::warn!(height, "ignoring a state snapshot whose digest is not the recorded one");
            continue;
        }
        return Ok(Some(state));
    }
    Ok(None)
}
