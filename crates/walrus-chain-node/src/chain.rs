//! The durable state: applies finalized blocks in order, and tells waiting clients.
//!
//! The validator's executor (`walrus_consensus::Executor`) hands each finalized block to
//! [`Chain::commit`] through the [`StateStore`] seam; it persists the block, executes it with
//! the pure state machine, records its effects and wakes whoever waits for its transactions or
//! events, and only then does the executor acknowledge the block to consensus.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};

use tokio::sync::{oneshot, watch};
use walrus_chain::light::StateHeader;
use walrus_chain::tables::Records;
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
    /// The stored state is after the last stored block: blocks are synced before they run, so
    /// the store was damaged.
    #[error("the stored state is at height {state}, after the last stored block {latest}")]
    AheadOfBlocks {
        /// The stored state's height.
        state: u64,
        /// The last stored block.
        latest: u64,
    },
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
    /// The state digest after the state's last block, set under the state's write lock (the
    /// head is published later, once the effects are stored): read under the read lock, it
    /// belongs to the state one sees.
    digest: Mutex<Digest>,
    waiters: Mutex<HashMap<TxDigest, Vec<oneshot::Sender<Executed>>>>,
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
    /// Opens the state the store holds (writing the genesis state into it on the first start)
    /// and replays the stored blocks after it. Nothing here reads the whole state: the records
    /// stay in the store's tables, and the records tree's nodes are read as they are.
    pub fn open(genesis: Genesis, store: Arc<dyn BlockStore>) -> Result<Chain, ChainError> {
        let latest = store.latest_height()?;
        let genesis_state = genesis.build()?;
        let genesis_header = genesis_state.header().0;
        let mut state = match stored_state(&genesis_header, store.as_ref())? {
            Some(state) => state,
            None => {
                let mut state = genesis_state;
                flush(store.as_ref(), &mut state, None)?;
                state.records = Records::on(store.tables(), store.tree_nodes()?);
                state
            }
        };
        if state.height > latest {
            return Err(ChainError::AheadOfBlocks { state: state.height, latest });
        }
        if state.height > 0 {
            tracing::info!(height = state.height, latest, "chain state opened");
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
            flush(store.as_ref(), &mut state, Some(&effects))?;
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
            // Into the tables before anyone reads the state again (readers see the tables).
            flush(self.store.as_ref(), &mut state, Some(&effects))?;
            *lock(&self.digest) = effects.state_digest;
            // Serialized again only when it changed (an epoch step, a registration, a price).
            keep_system(&mut lock(&self.systems), &effects.header, || {
                bcs::to_bytes(&state.system).expect("plain BCS")
            });
            effects
        };
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

/// Moves the state's writes since the last flush into the store, with `effects` and the
/// state's head, in one batch.
fn flush(
    store: &dyn BlockStore,
    state: &mut State,
    effects: Option<&walrus_chain::BlockEffects>,
) -> Result<(), StoreError> {
    let writes = state.records.take_flush();
    let head = bcs::to_bytes(&*state).expect("the state is plain BCS");
    store.put_state(effects, &head, &writes)
}

/// The state the store holds, checked against the digest recorded for its height.
fn stored_state(genesis_header: &StateHeader, store: &dyn BlockStore) -> Result<Option<State>, ChainError> {
    let Some(head) = store.state_head()? else { return Ok(None) };
    let mut state: State =
        bcs::from_bytes(&head).map_err(|source| StoreError::Corrupt { what: "state head", source })?;
    if state.chain_id != genesis_header.chain_id {
        let (stored, expected) = (hex::encode(state.chain_id), hex::encode(genesis_header.chain_id));
        return Err(StoreError::WrongChain {
            stored: format!("0x{stored}"),
            expected: format!("0x{expected}"),
        }
        .into());
    }
    state.records = Records::on(store.tables(), store.tree_nodes()?);
    let recorded = match state.height {
        0 => Some(genesis_header.digest()),
        height => store.effects(height)?.map(|effects| effects.state_digest),
    };
    if recorded.is_some_and(|digest| digest != state.digest()) {
        return Err(ChainError::Diverged(state.height));
    }
    Ok(Some(state))
}
