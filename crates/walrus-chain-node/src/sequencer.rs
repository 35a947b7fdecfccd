//! The single sequencer: admits transactions into a bounded mempool and cuts blocks from it.
//!
//! Blocks are cut as fast as they can be made durable: while one block is being synced, new
//! transactions gather for the next, so the batch grows with the load (group commit). When
//! nothing is submitted, a block is still cut when the epoch's time is up, so that epochs change
//! on schedule (mid-epoch parameter selection, then the epoch change). The block time is the wall clock, never earlier than the last block's.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::oneshot;
use walrus_chain::admission::{admit, runnable, AdmissionError};
use walrus_chain::block::BLOCK_TRANSACTIONS_MAX;
use walrus_chain::{Block, Frost, SignedTransaction, State, TxDigest};
use walrus_core::keys::Address;

use crate::chain::{Chain, ChainError};

/// Most transactions waiting in the mempool.
pub const MEMPOOL_TRANSACTIONS_MAX: usize = 50_000;
/// How far past the end of a sender's queue (the next nonce after the run it has queued) a
/// nonce may be: transactions sent concurrently may arrive out of order, but a gap that is
/// never filled holds mempool room without ever paying a fee.
pub const SENDER_GAP_MAX: u64 = 32;
/// How long a transaction may wait (for the ones before it, or for a balance that covers it)
/// before it is dropped.
pub const PENDING_AGE_MAX: Duration = Duration::from_secs(60);
/// Longest sleep of an idle sequencer between looks at the epoch clock.
const IDLE_WAKE: Duration = Duration::from_millis(500);

/// Why a transaction was not admitted for ordering.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The chain's admission rule refuses it (it would be skipped, or could never run).
    #[error(transparent)]
    Refused(#[from] AdmissionError),
    /// The nonce leaves too wide a gap after the sender's queued transactions.
    #[error("nonce {got} leaves a gap: the sender's queue ends before nonce {next}")]
    NonceGap {
        /// The next nonce after the sender's queued run.
        next: u64,
        /// The transaction's.
        got: u64,
    },
    /// Another transaction with the same sender and nonce is waiting.
    #[error("another transaction with nonce {0} from this sender is pending")]
    Conflict(u64),
    /// The mempool is full; retry later.
    #[error("the mempool is full; retry later")]
    Full,
    /// The sequencer has stopped.
    #[error("the sequencer has stopped")]
    Stopped,
}

/// Orders transactions into finalized blocks and hands them to the [`Chain`]. This is the seam
/// where a replicated (BFT) orderer replaces the single sequencer; the rules never change.
pub trait Orderer: Send + Sync + 'static {
    /// Admits `tx` for ordering. `Ok` means queued, not final: wait with [`Chain::wait_for`].
    fn submit(&self, tx: SignedTransaction) -> Result<(), SubmitError>;
}

struct Pending {
    tx: SignedTransaction,
    digest: TxDigest,
    admitted: Instant,
}

#[derive(Default)]
struct Mempool {
    by_sender: BTreeMap<Address, BTreeMap<u64, Pending>>,
    count: usize,
    stopped: bool,
}

/// The single sequencer.
pub struct Sequencer {
    chain: Arc<Chain>,
    mempool: Mutex<Mempool>,
    wake: Condvar,
}

fn now_ms() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

impl Sequencer {
    /// A sequencer for `chain`; blocks are cut once [`Sequencer::start`] runs.
    pub fn new(chain: Arc<Chain>) -> Arc<Sequencer> {
        Arc::new(Sequencer { chain, mempool: Mutex::new(Mempool::default()), wake: Condvar::new() })
    }

    fn mempool(&self) -> MutexGuard<'_, Mempool> {
        self.mempool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts cutting blocks on a thread of its own. The thread ends on [`Sequencer::stop`], or
    /// with the error if a block cannot be persisted or executed; the receiver gets the outcome.
    pub fn start(self: &Arc<Self>) -> oneshot::Receiver<Result<(), ChainError>> {
        let this = Arc::clone(self);
        let (done, outcome) = oneshot::channel();
        std::thread::Builder::new()
            .name("sequencer".into())
            .spawn(move || {
                let _ = done.send(this.run());
            })
            .expect("spawning a thread only fails when the OS is out of resources");
        outcome
    }

    /// Stops the block loop after the block in progress.
    pub fn stop(&self) {
        self.mempool().stopped = true;
        self.wake.notify_all();
    }

    fn run(&self) -> Result<(), ChainError> {
        loop {
            let Some(transactions) = self.next_batch() else { return Ok(()) };
            let block = Block::next(&self.chain.state(), now_ms(), transactions);
            if let Err(e) = self.chain.commit(&block) {
                self.stop();
                return Err(e);
            }
        }
    }

    /// Waits until there are transactions ready to run and takes them; `None` once stopped.
    fn next_batch(&self) -> Option<Vec<SignedTransaction>> {
        let mut pool = self.mempool();
        loop {
            if pool.stopped {
                return None;
            }
            let batch = self.take_ready(&mut pool, &self.chain.state());
            if !batch.is_empty() {
                return Some(batch);
            }
            pool = self.wake.wait_timeout(pool, IDLE_WAKE).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// Removes and returns, per sender, the run of transactions that the admission rule says
    /// will run in the next block ([`runnable`]); drops what can no longer run (used nonces) or
    /// waited too long (for a gap, or for a balance).
    fn take_ready(&self, pool: &mut Mempool, state: &State) -> Vec<SignedTransaction> {
        let mut batch = Vec::new();
        let mut dropped = Vec::new();
        let now = Instant::now();
        for (sender, queue) in &mut pool.by_sender {
            let next = state.account(sender).nonce;
            while let Some(entry) = queue.first_entry().filter(|e| *e.key() < next) {
                dropped.push(entry.remove().digest);
            }
            let room = BLOCK_TRANSACTIONS_MAX - batch.len();
            let take = runnable(state, queue.values().map(|p| &p.tx)).min(room);
            for _ in 0..take {
                if let Some(entry) = queue.first_entry() {
                    batch.push(entry.remove().tx);
                }
            }
            queue.retain(|_, p| {
                let keep = now.duration_since(p.admitted) < PENDING_AGE_MAX;
                if !keep {
                    dropped.push(p.digest);
                }
                keep
            });
        }
        pool.by_sender.retain(|_, queue| !queue.is_empty());
        pool.count = pool.by_sender.values().map(BTreeMap::len).sum();
        for digest in &dropped {
            self.chain.forget(digest);
        }
        batch
    }
}

impl Orderer for Sequencer {
    fn submit(&self, tx: SignedTransaction) -> Result<(), SubmitError> {
        let digest = tx.data.digest();
        let (sender, nonce) = (tx.data.sender, tx.data.nonce);
        let mut pool = self.mempool();
        if pool.stopped {
            return Err(SubmitError::Stopped);
        }
        let queue = pool.by_sender.get(&sender);
        if let Some(existing) = queue.and_then(|q| q.get(&nonce)) {
            return if existing.digest == digest { Ok(()) } else { Err(SubmitError::Conflict(nonce)) };
        }
        let queued_fees = queue.map_or(0, |q| q.values().map(|p| p.tx.data.fee.0).sum::<u64>());
        {
            let state = self.chain.state();
            admit(&state, &tx, Frost(queued_fees))?;
            // The end of the sender's contiguous run of queued nonces.
            let mut next = state.account(&sender).nonce;
            while queue.is_some_and(|q| q.contains_key(&next)) {
                next += 1;
            }
            if nonce >= next + SENDER_GAP_MAX {
                return Err(SubmitError::NonceGap { next, got: nonce });
            }
        }
        if pool.count >= MEMPOOL_TRANSACTIONS_MAX {
            return Err(SubmitError::Full);
        }
        pool.by_sender
            .entry(sender)
            .or_default()
            .insert(nonce, Pending { tx, digest, admitted: Instant::now() });
        pool.count += 1;
        drop(pool);
        self.wake.notify_one();
        Ok(())
    }
}
