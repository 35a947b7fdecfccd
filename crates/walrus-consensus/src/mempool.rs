//! The mempool: admitted transactions waiting for a proposer, bounded and deduplicated.
//!
//! A transaction is admitted with [`walrus_chain::admission::admit`] against the newest state
//! this node has executed (so it could pay its fee and its nonce is not used), and kept per
//! sender in nonce order. The same transaction submitted twice is kept once (by digest); another
//! transaction with a waiting one's sender and nonce is refused. A proposer takes, per sender
//! with nothing in the unexecuted ancestry, the run of nonces after the executed one that will
//! not be skipped ([`Mempool::select`]); the executor drops what finalized blocks included and
//! whatever their execution made stale ([`Mempool::remove_executed`]). [`crate::gossip`] brings a
//! transaction admitted by one validator into the others' mempools.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use commonware_utils::channel::watch;
use commonware_utils::sync::Mutex;
use walrus_chain::admission::{admit, runnable, AdmissionError};
use walrus_chain::{Frost, SignedTransaction, State, TxDigest};
use walrus_core::hash::Digest;
use walrus_core::keys::Address;

/// The default bound on waiting transactions.
pub const MEMPOOL_TRANSACTIONS_MAX: usize = 50_000;
/// How long a transaction may wait (for the nonces before it, or for its turn) before a full
/// mempool drops it to make room.
pub const PENDING_AGE_MAX: Duration = Duration::from_secs(60);

/// Signed transactions whose signatures admission checked, remembered by
/// [`SignedTransaction::authenticity_key`].
pub const VERIFIED_REMEMBERED: usize = 65_536;

/// The newest [`VERIFIED_REMEMBERED`] authenticity keys admission checked.
#[derive(Default)]
struct Verified {
    keys: HashSet<Digest>,
    order: VecDeque<Digest>,
}

impl Verified {
    fn insert(&mut self, key: Digest) {
        if self.keys.insert(key) {
            self.order.push_back(key);
            while self.order.len() > VERIFIED_REMEMBERED {
                if let Some(old) = self.order.pop_front() {
                    self.keys.remove(&old);
                }
            }
        }
    }

    fn contains(&self, key: &Digest) -> bool {
        self.keys.contains(key)
    }
}

/// The clock a mempool stamps admissions with (the runtime's, so that simulations stay
/// deterministic).
pub type MempoolClock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Why a transaction was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    /// The chain's admission rule refuses it.
    #[error(transparent)]
    Refused(#[from] AdmissionError),
    /// Another transaction with the same sender and nonce is waiting.
    #[error("another transaction with nonce {0} from this sender is waiting")]
    Conflict(u64),
    /// The mempool is full; retry later.
    #[error("the mempool is full; retry later")]
    Full,
    /// Larger than a transaction may be (BCS bytes).
    #[error("the transaction is {0} bytes, more than a transaction may be")]
    TooLarge(usize),
}

struct Entry {
    tx: SignedTransaction,
    digest: TxDigest,
    size: usize,
    admitted: SystemTime,
}

#[derive(Default)]
struct Pool {
    by_sender: BTreeMap<Address, BTreeMap<u64, Entry>>,
    by_digest: BTreeMap<TxDigest, (Address, u64)>,
}

impl Pool {
    /// Drops every transaction admitted before `oldest`.
    fn expire(&mut self, oldest: SystemTime) {
        let Pool { by_sender, by_digest } = self;
        for queue in by_sender.values_mut() {
            queue.retain(|_, entry| {
                let keep = entry.admitted >= oldest;
                if !keep {
                    by_digest.remove(&entry.digest);
                }
                keep
            });
        }
        by_sender.retain(|_, queue| !queue.is_empty());
    }
}

/// The bounded mempool (shared between the RPC, the proposer and the executor).
pub struct Mempool {
    pool: Mutex<Pool>,
    /// Transactions whose signatures admission checked, so that checking a block that carries
    /// them (before voting and before executing) need not check them again.
    verified: Mutex<Verified>,
    max: usize,
    /// Counts admissions, so that an idle proposer wakes when one arrives.
    admitted: watch::Sender<u64>,
    clock: MempoolClock,
}

impl Mempool {
    /// An empty mempool holding at most `max` transactions, on the system clock.
    pub fn new(max: usize) -> Mempool {
        Mempool::with_clock(max, Arc::new(SystemTime::now))
    }

    /// An empty mempool holding at most `max` transactions, stamping them with `clock`.
    pub fn with_clock(max: usize, clock: MempoolClock) -> Mempool {
        let verified = Mutex::new(Verified::default());
        Mempool { pool: Mutex::new(Pool::default()), verified, max, admitted: watch::channel(0).0, clock }
    }

    /// A receiver that changes whenever a transaction is admitted.
    pub fn admissions(&self) -> watch::Receiver<u64> {
        self.admitted.subscribe()
    }

    /// Wakes whoever waits on [`Mempool::admissions`] (a proposer), for something else to
    /// propose (evidence).
    pub fn wake(&self) {
        self.admitted.send_modify(|count| *count = count.wrapping_add(1));
    }

    /// Whether admission checked `tx`'s signature (recently: the memory is bounded).
    pub fn is_verified(&self, tx: &SignedTransaction) -> bool {
        self.verified.lock().contains(&tx.authenticity_key())
    }

    /// How many transactions wait.
    pub fn len(&self) -> usize {
        self.pool.lock().by_digest.len()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the transaction `digest` waits.
    pub fn contains(&self, digest: &TxDigest) -> bool {
        self.pool.lock().by_digest.contains_key(digest)
    }

    /// Admits `tx` against `state` (the newest executed state). Submitting a waiting
    /// transaction again changes nothing and succeeds.
    pub fn submit(&self, state: &State, tx: SignedTransaction) -> Result<TxDigest, MempoolError> {
        let digest = tx.data.digest();
        let (sender, nonce) = (tx.data.sender, tx.data.nonce);
        let mut pool = self.pool.lock();
        if pool.by_digest.contains_key(&digest) {
            return Ok(digest);
        }
        let queue = pool.by_sender.get(&sender);
        if queue.is_some_and(|q| q.contains_key(&nonce)) {
            return Err(MempoolError::Conflict(nonce));
        }
        let queued = queue.map_or(0, |q| q.values().map(|e| e.tx.data.fee.0).fold(0u64, u64::saturating_add));
        admit(state, &tx, Frost(queued))?;
        let key = tx.authenticity_key();
        let now = (self.clock)();
        if pool.by_digest.len() >= self.max {
            // Make room by dropping what waited too long (a nonce gap that never filled).
            let oldest = now.checked_sub(PENDING_AGE_MAX).unwrap_or(SystemTime::UNIX_EPOCH);
            pool.expire(oldest);
        }
        if pool.by_digest.len() >= self.max {
            return Err(MempoolError::Full);
        }
        let size = tx.to_bcs().len();
        pool.by_sender.entry(sender).or_default().insert(nonce, Entry { tx, digest, size, admitted: now });
        pool.by_digest.insert(digest, (sender, nonce));
        drop(pool);
        self.verified.lock().insert(key);
        self.admitted.send_modify(|count| *count = count.wrapping_add(1));
        Ok(digest)
    }

    /// Picks transactions for a block that follows an ancestry whose unexecuted blocks hold,
    /// per sender, nonces up to `next_nonces` (exclusive), within `max_transactions` and
    /// `max_bytes` of transaction BCS.
    ///
    /// None may be skipped at execution: a sender whose transactions the unexecuted ancestry
    /// holds waits until they are executed (what they leave of its balance is unknown until
    /// then); from any other sender it takes the run that [`runnable`] says passes the
    /// pre-checks on the executed `state`, which ends after the first call that may take WAL.
    pub fn select(
        &self,
        state: &State,
        next_nonces: &BTreeMap<Address, u64>,
        max_transactions: usize,
        max_bytes: usize,
    ) -> Vec<SignedTransaction> {
        let pool = self.pool.lock();
        let mut picked = Vec::new();
        let mut bytes = 0usize;
        'senders: for (sender, queue) in &pool.by_sender {
            let executed = state.account(sender).nonce;
            if next_nonces.get(sender).is_some_and(|next| *next > executed) {
                continue;
            }
            let run = queue.range(executed..).map(|(_, entry)| entry);
            let take = runnable(state, run.clone().map(|e| &e.tx));
            for entry in run.take(take) {
                if picked.len() >= max_transactions || bytes + entry.size > max_bytes {
                    break 'senders;
                }
                bytes += entry.size;
                picked.push(entry.tx.clone());
            }
        }
        picked
    }

    /// Drops the transactions a finalized block included (`included`) and those whose nonce
    /// the executed `state` has passed.
    pub fn remove_executed(&self, state: &State, included: &[TxDigest]) {
        let mut pool = self.pool.lock();
        let Pool { by_sender, by_digest } = &mut *pool;
        for digest in included {
            if let Some((sender, nonce)) = by_digest.remove(digest) {
                if let Some(queue) = by_sender.get_mut(&sender) {
                    queue.remove(&nonce);
                }
            }
        }
        for (sender, queue) in by_sender.iter_mut() {
            let next = state.account(sender).nonce;
            while let Some(entry) = queue.first_entry().filter(|e| *e.key() < next) {
                by_digest.remove(&entry.remove().digest);
            }
        }
        by_sender.retain(|_, queue| !queue.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use walrus_chain::{Call, TransactionData};
    use walrus_core::keys::Ed25519KeyPair;

    use super::*;
    use crate::testing;

    fn transfer(state: &State, key: &Ed25519KeyPair, nonce: u64) -> SignedTransaction {
        TransactionData {
            chain_id: state.chain_id,
            sender: key.address(),
            nonce,
            fee: state.system.params.min_fee,
            call: Call::Transfer { to: Address([7; 32]), amount: Frost(1) },
        }
        .sign(key)
    }

    #[test]
    fn deduplicates_refuses_conflicts_and_respects_the_bound() {
        let users = testing::users(2);
        let state = testing::genesis(&users, 1_000).build().expect("valid genesis");
        let pool = Mempool::new(2);
        let tx = transfer(&state, &users[0], 0);
        let digest = pool.submit(&state, tx.clone()).expect("admitted");
        assert_eq!(pool.submit(&state, tx).expect("again"), digest);
        assert_eq!(pool.len(), 1);
        let mut other = transfer(&state, &users[0], 0);
        other.data.fee = Frost(other.data.fee.0 + 1);
        let other = other.data.sign(&users[0]);
        assert_eq!(pool.submit(&state, other), Err(MempoolError::Conflict(0)));
        pool.submit(&state, transfer(&state, &users[0], 1)).expect("admitted");
        assert_eq!(pool.submit(&state, transfer(&state, &users[1], 0)), Err(MempoolError::Full));
        // Once the waiting ones are older than the bound, a full mempool drops them for room.
        let later = Arc::new(std::sync::Mutex::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000)));
        let clock = Arc::clone(&later);
        let aging = Mempool::with_clock(1, Arc::new(move || *clock.lock().expect("clock")));
        aging.submit(&state, transfer(&state, &users[0], 5)).expect("a gap admitted");
        assert_eq!(aging.submit(&state, transfer(&state, &users[1], 0)), Err(MempoolError::Full));
        *later.lock().expect("clock") += PENDING_AGE_MAX + Duration::from_secs(1);
        aging.submit(&state, transfer(&state, &users[1], 0)).expect("room made");
        assert_eq!(aging.len(), 1);
        let stranger = Ed25519KeyPair::from_seed(&[9; 32]);
        assert!(matches!(
            Mempool::new(10).submit(&state, transfer(&state, &stranger, 0)),
            Err(MempoolError::Refused(_))
        ));
    }

    #[test]
    fn remembers_the_signatures_it_checked_and_only_those() {
        let users = testing::users(2);
        let state = testing::genesis(&users, 1_000).build().expect("valid genesis");
        let pool = Mempool::new(10);
        let tx = transfer(&state, &users[0], 0);
        assert!(!pool.is_verified(&tx));
        pool.submit(&state, tx.clone()).expect("admitted");
        assert!(pool.is_verified(&tx));
        // The same data with another signature is not the transaction that was checked.
        let mut forged = tx.clone();
        forged.signature.0[0] ^= 1;
        assert_eq!(forged.data.digest(), tx.data.digest());
        assert!(!pool.is_verified(&forged));
        let refused = transfer(&state, &Ed25519KeyPair::from_seed(&[9; 32]), 0);
        assert!(pool.submit(&state, refused.clone()).is_err());
        assert!(!pool.is_verified(&refused), "a refused transaction is not remembered");
        let mut verified = Verified::default();
        for i in 0..=VERIFIED_REMEMBERED {
            let mut key = [0; 32];
            key[..8].copy_from_slice(&(i as u64).to_le_bytes());
            verified.insert(key);
        }
        assert!(!verified.contains(&[0; 32]), "the oldest is forgotten past the bound");
        assert_eq!(verified.keys.len(), VERIFIED_REMEMBERED);
    }

    #[test]
    fn selects_runs_that_cannot_be_skipped_and_forgets_what_executed() {
        let users = testing::users(2);
        let state = testing::genesis(&users, 1_000).build().expect("valid genesis");
        let pool = Mempool::new(100);
        let txs: Vec<_> = (0..3).map(|n| transfer(&state, &users[0], n)).collect();
        for tx in &txs {
            pool.submit(&state, tx.clone()).expect("admitted");
        }
        let other = transfer(&state, &users[1], 0);
        pool.submit(&state, other.clone()).expect("admitted");
        let none = BTreeMap::new();
        let picked = pool.select(&state, &none, 100, usize::MAX);
        assert_eq!(picked, vec![txs[0].clone(), other.clone()], "a transfer ends its sender's run");
        // A sender with unexecuted transactions in the ancestry waits for their execution.
        let next = BTreeMap::from([(users[0].address(), 1)]);
        assert_eq!(pool.select(&state, &next, 100, usize::MAX), vec![other.clone()]);
        assert_eq!(pool.select(&state, &none, 1, usize::MAX).len(), 1);
        assert!(pool.select(&state, &none, 100, 10).is_empty());
        pool.remove_executed(&state, &[txs[0].data.digest()]);
        assert_eq!(pool.len(), 3);
    }
}
