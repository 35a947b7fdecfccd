//! The executor: applies finalized blocks to the chain state, once per height, in order.
//!
//! Marshal reports finalized blocks to the [`Finalized`] reporter in height order, without
//! gaps, at least once (it redelivers after a restart). The reporter hands each block to the
//! executor's own task, which applies it with the pure state machine
//! ([`walrus_chain::execute_verified`]) unless its height is already applied, records the new
//! state digest, publishes the new [`Head`] and the block's effects to whoever waits, drops the
//! block's transactions from the mempool, and only then acknowledges the block to marshal.
//!
//! The state lives behind [`StateStore`]. This increment keeps it in memory ([`MemoryStore`]);
//! a later step backs it with the node's durable block store, which must persist the block and
//! the applied height before [`StateStore::apply`] returns, since the acknowledgement is
//! marshal's signal that the block need not be redelivered.
//!
//! A finalized block that the state machine refuses, or a gap in the heights, means this node
//! diverged from its peers: the executor records the error ([`Executor::failure`]), stops, and
//! drops the acknowledgement, which stops marshal too.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::Arc;

use commonware_actor::Feedback;
use commonware_consensus::marshal::Update;
use commonware_consensus::Reporter;
use commonware_cryptography::Digested;
use commonware_runtime::{Handle, Spawner};
use commonware_utils::acknowledgement::{Acknowledgement as _, Exact};
use commonware_utils::channel::{mpsc, oneshot, watch};
use commonware_utils::sync::{Mutex, RwLock};
use walrus_chain::{
    execute_verified, verify_block_with, Block, BlockEffects, BlockError, SignedTransaction, State, TxDigest,
    TxEffects,
};
use walrus_core::hash::Digest;

use crate::block::ChainBlock;
use crate::mempool::Mempool;

/// How many past state digests the executor keeps, by height, for verifying the lagged state
/// commitments of blocks (which reach back at most [`walrus_chain::state::EXEC_LAG_MAX`]
/// heights from their parent).
pub const DIGEST_HISTORY: usize = 1_024;

/// A read guard on the executed state (whatever lock the store uses).
pub type StateGuard<'a> = Box<dyn Deref<Target = State> + 'a>;

/// Why a store could not apply a finalized block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The state machine refuses the block.
    #[error(transparent)]
    Rejected(#[from] BlockError),
    /// The store failed to persist it (the block may be on disk without having run).
    #[error("the store failed: {0}")]
    Store(String),
}

/// Where the executed state lives.
pub trait StateStore: Send + Sync + 'static {
    /// The newest executed state.
    fn read(&self) -> StateGuard<'_>;

    /// Applies the finalized `block`, which follows the newest executed state, and returns its
    /// effects, taking as authentic the transactions `known` says were checked at admission.
    /// A durable store persists before it returns.
    fn apply(&self, block: &Block, known: &Known<'_>) -> Result<BlockEffects, ApplyError>;
}

/// Says whether a transaction's signature was checked already (at admission).
pub type Known<'a> = dyn Fn(&SignedTransaction) -> bool + Sync + 'a;

/// A state kept in memory only.
pub struct MemoryStore {
    state: RwLock<State>,
}

impl MemoryStore {
    /// Starts from `state` (the genesis state, say).
    pub fn new(state: State) -> MemoryStore {
        MemoryStore { state: RwLock::new(state) }
    }
}

impl StateStore for MemoryStore {
    fn read(&self) -> StateGuard<'_> {
        Box::new(self.state.read())
    }

    fn apply(&self, block: &Block, known: &Known<'_>) -> Result<BlockEffects, ApplyError> {
        // The costly checks (signatures, certificates) run while readers still use the state.
        let verified = verify_block_with(&self.state.read(), block, known);
        Ok(execute_verified(&mut self.state.write(), block, &verified)?)
    }
}

/// The newest executed height and the state digest after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// The height (0: genesis).
    pub height: u64,
    /// The state digest after it.
    pub state_digest: Digest,
}

/// What a client waiting for a transaction gets: the height of its block and its effects.
pub type Executed = (u64, TxEffects);

/// Why the executor stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecutorError {
    /// The state machine refuses a finalized block (this node's state diverged), or the store
    /// failed to persist it.
    #[error("finalized block {height} does not apply: {source}")]
    Rejected {
        /// Its height.
        height: u64,
        /// Why.
        source: ApplyError,
    },
    /// A finalized block does not follow the newest applied height.
    #[error("finalized block {got} delivered after height {applied}")]
    Gap {
        /// The newest applied height.
        applied: u64,
        /// The delivered block's.
        got: u64,
    },
}

struct Shared {
    store: Arc<dyn StateStore>,
    mempool: Arc<Mempool>,
    head: watch::Sender<Head>,
    history: Mutex<BTreeMap<u64, Digest>>,
    waiters: Mutex<BTreeMap<TxDigest, Vec<oneshot::Sender<Executed>>>>,
    subscribers: Mutex<Vec<mpsc::UnboundedSender<Arc<BlockEffects>>>>,
    failure: Mutex<Option<ExecutorError>>,
}

/// A handle on the executor (cheap to clone).
#[derive(Clone)]
pub struct Executor {
    shared: Arc<Shared>,
}

impl Executor {
    /// An executor over `store` that drops executed transactions from `mempool`.
    pub fn new(store: Arc<dyn StateStore>, mempool: Arc<Mempool>) -> Executor {
        let (head, history) = {
            let state = store.read();
            let digest = state.recent_digests.get(&state.height).copied().unwrap_or_else(|| state.digest());
            let mut history = state.recent_digests.clone();
            history.insert(state.height, digest);
            (Head { height: state.height, state_digest: digest }, history)
        };
        let (head, _) = watch::channel(head);
        Executor {
            shared: Arc::new(Shared {
                store,
                mempool,
                head,
                history: Mutex::new(history),
                waiters: Mutex::new(BTreeMap::new()),
                subscribers: Mutex::new(Vec::new()),
                failure: Mutex::new(None),
            }),
        }
    }

    /// Starts the executor's task on `context` and returns the reporter marshal delivers
    /// finalized blocks to.
    pub fn start<E: Spawner>(&self, context: E) -> (Finalized, Handle<()>) {
        let (sender, mut receiver) = mpsc::unbounded_channel::<(Digested<ChainBlock>, Exact)>();
        let executor = self.clone();
        let handle = context.spawn(move |_| async move {
            while let Some((block, ack)) = receiver.recv().await {
                match executor.apply(block.inner()) {
                    Ok(()) => ack.acknowledge(),
                    Err(e) => {
                        tracing::error!(error = %e, "executor stopped");
                        *executor.shared.failure.lock() = Some(e);
                        return;
                    }
                }
            }
        });
        (Finalized { sender }, handle)
    }

    /// The newest executed height and state digest.
    pub fn head(&self) -> Head {
        *self.shared.head.borrow()
    }

    /// A receiver that sees every new [`Head`].
    pub fn subscribe_head(&self) -> watch::Receiver<Head> {
        self.shared.head.subscribe()
    }

    /// Waits until `height` is executed; the head then. `None` only if the executor is gone.
    pub async fn wait_for_height(&self, height: u64) -> Option<Head> {
        let mut head = self.shared.head.subscribe();
        let head = head.wait_for(|head| head.height >= height).await.ok()?;
        Some(*head)
    }

    /// The state digest after `height`, if it is executed and recent enough to be kept.
    pub fn state_digest_at(&self, height: u64) -> Option<Digest> {
        self.shared.history.lock().get(&height).copied()
    }

    /// The newest executed state (hold the guard briefly: execution waits for it).
    pub fn state(&self) -> StateGuard<'_> {
        self.shared.store.read()
    }

    /// The store it applies blocks to (a restarted validator opens the same one).
    pub fn store(&self) -> Arc<dyn StateStore> {
        Arc::clone(&self.shared.store)
    }

    /// A receiver for the effects of the transaction `digest` once a finalized block executes
    /// it (dropped if the executor stops first).
    pub fn wait_for_transaction(&self, digest: TxDigest) -> oneshot::Receiver<Executed> {
        let (sender, receiver) = oneshot::channel();
        self.shared.waiters.lock().entry(digest).or_default().push(sender);
        receiver
    }

    /// A receiver for the effects of every block executed from now on.
    pub fn subscribe_effects(&self) -> mpsc::UnboundedReceiver<Arc<BlockEffects>> {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.shared.subscribers.lock().push(sender);
        receiver
    }

    /// Why the executor stopped, if it did.
    pub fn failure(&self) -> Option<ExecutorError> {
        self.shared.failure.lock().clone()
    }

    /// Applies the finalized `block` unless its height is already applied.
    pub fn apply(&self, block: &ChainBlock) -> Result<(), ExecutorError> {
        let shared = &self.shared;
        let applied = self.head().height;
        let height = block.block().height;
        if height <= applied {
            return Ok(());
        }
        if height != applied + 1 {
            return Err(ExecutorError::Gap { applied, got: height });
        }
        let known = |tx: &SignedTransaction| shared.mempool.is_verified(tx);
        let effects = shared
            .store
            .apply(block.block(), &known)
            .map_err(|source| ExecutorError::Rejected { height, source })?;
        {
            let mut history = shared.history.lock();
            history.insert(height, effects.state_digest);
            while history.len() > DIGEST_HISTORY {
                history.pop_first();
            }
        }
        shared.mempool.remove_executed(&shared.store.read(), block.transaction_digests());
        shared.head.send_replace(Head { height, state_digest: effects.state_digest });
        {
            let mut waiters = shared.waiters.lock();
            for tx in &effects.transactions {
                for waiter in waiters.remove(&tx.digest).into_iter().flatten() {
                    let _ = waiter.send((height, tx.clone()));
                }
            }
            // Forget the waiters whose clients left.
            waiters.retain(|_, senders| {
                senders.retain(|s| !s.is_closed());
                !senders.is_empty()
            });
        }
        let effects = Arc::new(effects);
        shared.subscribers.lock().retain(|s| s.send(Arc::clone(&effects)).is_ok());
        Ok(())
    }
}

/// The reporter marshal delivers finalized blocks to; it hands them to the executor's task.
#[derive(Clone)]
pub struct Finalized {
    sender: mpsc::UnboundedSender<(Digested<ChainBlock>, Exact)>,
}

impl Reporter for Finalized {
    type Activity = Update<ChainBlock>;

    fn report(&mut self, activity: Update<ChainBlock>) -> Feedback {
        match activity {
            Update::Block(block, ack) => match self.sender.send((block, ack)) {
                Ok(()) => Feedback::Ok,
                // The executor stopped; the acknowledgement is dropped with the message.
                Err(_) => Feedback::Closed,
            },
            Update::Tip(..) => Feedback::Ok,
        }
    }
}

#[cfg(test)]
mod tests {
    use walrus_chain::{Call, Frost, TransactionData};

    use super::*;
    use crate::testing;

    #[test]
    fn applies_each_height_once_and_tells_waiters() {
        let users = testing::users(1);
        let state = testing::genesis(&users, 1_000).build().expect("valid genesis");
        let mempool = Arc::new(Mempool::new(10));
        let tx = TransactionData {
            chain_id: state.chain_id,
            sender: users[0].address(),
            nonce: 0,
            fee: Frost(1_000),
            call: Call::Transfer { to: walrus_core::keys::Address([7; 32]), amount: Frost(5) },
        }
        .sign(&users[0]);
        mempool.submit(&state, tx.clone()).expect("admitted");
        let block = ChainBlock::new(Block::next(&state, 2_000, vec![tx.clone()]));
        let executor = Executor::new(Arc::new(MemoryStore::new(state)), Arc::clone(&mempool));
        let mut waiter = executor.wait_for_transaction(tx.data.digest());
        let mut effects = executor.subscribe_effects();
        executor.apply(&block).expect("applies");
        let head = executor.head();
        assert_eq!(head.height, 1);
        assert_eq!(executor.state_digest_at(1), Some(head.state_digest));
        assert!(mempool.is_empty());
        let (height, tx_effects) = waiter.try_recv().expect("told");
        assert_eq!((height, tx_effects.status), (1, walrus_chain::TxStatus::Success));
        assert_eq!(effects.try_recv().expect("published").height, 1);
        // Redelivery is skipped; a gap is an error.
        executor.apply(&block).expect("skipped");
        assert_eq!(executor.head(), head);
        let mut later = block.block().clone();
        later.height = 3;
        assert!(matches!(
            executor.apply(&ChainBlock::new(later)),
            Err(ExecutorError::Gap { applied: 1, got: 3 })
        ));
    }
}
