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
use walrus_chain::block::BLOCK_TRANSACTIONS_MAX;
use walrus_chain::{Block, SignedTransaction, TxDigest};
use walrus_core::keys::Address;

use crate::chain::{Chain, ChainError};

/// Most transactions waiting in the mempool.
pub const MEMPOOL_TRANSACTIONS_MAX: usize = 50_000;
/// Most transactions one account may have waiting.
pub const SENDER_PENDING_MAX: u64 = 1_000;
/// How long a transaction may wait for the ones before it (a nonce gap) before it is dropped.
pub const PENDING_AGE_MAX: Duration = Duration::from_secs(60);
/// Longest sleep of an idle sequencer between looks at the epoch clock.
const IDLE_WAKE: Duration = Duration::from_millis(500);

/// Why a transaction was not admitted for ordering.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// Signed for another chain.
    #[error("transaction is for chain 0x{0}, not this one")]
    WrongChain(String),
    /// The signature does not verify for the sender.
    #[error("signature does not verify for the sender")]
    BadSignature,
    /// The fee is below the minimum.
    #[error("fee {got} FROST is below the minimum of {min} FROST")]
    FeeTooLow {
        /// The minimum.
        min: u64,
        /// The transaction's.
        got: u64,
    },
    /// The nonce was used already.
    #[error("nonce {got} was already used; the account's next nonce is {expected}")]
    StaleNonce {
        /// The account's next nonce.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// The nonce is too far ahead of the account's.
    #[error("nonce {got} is too far ahead of the account's next nonce {expected}")]
    NonceTooFarAhead {
        /// The account's next nonce.
        expected: u64,
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
            let block = {
                let state = self.chain.state();
                Block {
                    height: state.height + 1,
                    parent: state.last_block,
                    timestamp_ms: now_ms().max(state.timestamp_ms),
                    transactions,
                }
            };
            if let Err(e) = self.chain.commit(&block) {
                self.stop();
                return Err(e);
            }
        }
    }

    /// Waits until there is something to put in a block (transactions ready to run, or an
    /// epoch change due) and takes it; `None` once stopped.
    fn next_batch(&self) -> Option<Vec<SignedTransaction>> {
        let mut pool = self.mempool();
        loop {
            if pool.stopped {
                return None;
            }
            let (step_due_ms, nonces) = {
                let state = self.chain.state();
                let due = state.system.next_step_ms().unwrap_or(u64::MAX);
                let nonces: Vec<(Address, u64)> =
                    pool.by_sender.keys().map(|sender| (*sender, state.account(sender).nonce)).collect();
                (due, nonces)
            };
            let batch = self.take_ready(&mut pool, &nonces);
            let now = now_ms();
            if !batch.is_empty() || now >= step_due_ms {
                return Some(batch);
            }
            let sleep = Duration::from_millis(step_due_ms - now).min(IDLE_WAKE);
            pool = self.wake.wait_timeout(pool, sleep).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// Removes and returns, per sender, the run of transactions starting at the account's next
    /// nonce; drops what can no longer run (used nonces) or waited too long for a gap.
    fn take_ready(&self, pool: &mut Mempool, nonces: &[(Address, u64)]) -> Vec<SignedTransaction> {
        let mut batch = Vec::new();
        let mut dropped = Vec::new();
        for (sender, next) in nonces {
            let Some(queue) = pool.by_sender.get_mut(sender) else { continue };
            let mut expected = *next;
            while batch.len() < BLOCK_TRANSACTIONS_MAX {
                let Some(entry) = queue.first_entry() else { break };
                let nonce = *entry.key();
                if nonce < expected {
                    dropped.push(entry.remove().digest);
                } else if nonce == expected {
                    batch.push(entry.remove().tx);
                    expected += 1;
                } else {
                    break;
                }
            }
            let now = Instant::now();
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
        let data = &tx.data;
        let (expected, min_fee) = {
            let state = self.chain.state();
            if data.chain_id != state.chain_id {
                return Err(SubmitError::WrongChain(hex::encode(data.chain_id)));
            }
            (state.account(&data.sender).nonce, state.system.params.min_fee)
        };
        if data.fee < min_fee {
            return Err(SubmitError::FeeTooLow { min: min_fee.0, got: data.fee.0 });
        }
        if data.nonce < expected {
            return Err(SubmitError::StaleNonce { expected, got: data.nonce });
        }
        if data.nonce - expected >= SENDER_PENDING_MAX {
            return Err(SubmitError::NonceTooFarAhead { expected, got: data.nonce });
        }
        if !tx.is_authentic() {
            return Err(SubmitError::BadSignature);
        }
        let digest = data.digest();
        let (sender, nonce) = (data.sender, data.nonce);
        let mut pool = self.mempool();
        if pool.stopped {
            return Err(SubmitError::Stopped);
        }
        if let Some(existing) = pool.by_sender.get(&sender).and_then(|q| q.get(&nonce)) {
            return if existing.digest == digest { Ok(()) } else { Err(SubmitError::Conflict(nonce)) };
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
