//! The marshal application: builds blocks on a proposer and checks them on every validator.
//!
//! Consensus orders blocks before anyone executes them, and a block's parent may be certified
//! but not final, so neither side reads state that could differ between honest validators.
//! Both [`ChainApp::propose`](Application::propose) and [`ChainApp::verify`](Application::verify)
//! look only at the block's ancestry, with two exceptions that are the same on every honest
//! validator: the state digest of a finalized height (the block's lagged state commitment) and
//! the clock, which only makes a validator wait.
//!
//! The *unexecuted ancestry* of a block is its ancestors above the height its state commitment
//! names: for its proposer, the blocks it had not executed. A proposer leaves out transactions
//! those blocks already hold and continues each sender's nonces after them; a verifier refuses
//! a block that repeats one. Nonces, balances and call rules are not checked here: execution
//! after finality decides them, and skips or fails a transaction as a whole.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use commonware_consensus::marshal::ancestry::Ancestry;
use commonware_consensus::simplex::scheme::ed25519;
use commonware_consensus::simplex::types::Context;
use commonware_consensus::Application;
use commonware_cryptography::Digested;
use commonware_runtime::Clock;
use futures::StreamExt as _;
use walrus_chain::block::{check_evidence, BLOCK_TRANSACTIONS_MAX, BLOCK_VERSION};
use walrus_chain::evidence::EVIDENCE_PER_BLOCK_MAX;
use walrus_chain::state::EXEC_LAG_MAX;
use walrus_chain::{Block, BlockError, ExecCommitment, SignedTransaction, TxDigest};
use walrus_core::hash::Digest;
use walrus_core::keys::{Address, Ed25519PublicKey};

use crate::block::{ChainBlock, ConsensusDigest, BLOCK_BYTES_MAX};
use crate::evidence::EvidencePool;
use crate::executor::Executor;
use crate::mempool::Mempool;

/// The consensus context of a proposal or a verification.
pub type ConsensusContext = Context<ConsensusDigest, commonware_cryptography::ed25519::PublicKey>;

/// Bounds on the blocks this node builds, and how far ahead of its clock a block may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockLimits {
    /// Most transactions in a block this node proposes (at most [`BLOCK_TRANSACTIONS_MAX`]).
    pub max_transactions: usize,
    /// Most bytes of a proposed block's BCS encoding (the decoding bound of every validator
    /// must be at least this).
    pub max_bytes: usize,
    /// How far a block's time may be ahead of this node's clock before it waits to vote.
    pub max_future: Duration,
    /// How long a proposer with nothing to include waits, at most, before it proposes an empty
    /// block (well below the leader timeout) when no block commits yet to the state after the
    /// last transactions (a block with transactions above the parent's commitment) or to the
    /// genesis: that block commits to it, so that a light client can check reads of it
    /// (storage nodes wait for it before they act on events). It proposes as soon as its
    /// executor has run the parent. Otherwise a proposer waits for a
    /// transaction as long as its view lasts; an idle chain makes no blocks, and its views end
    /// by timeout.
    pub idle_wait: Duration,
}

impl Default for BlockLimits {
    fn default() -> Self {
        BlockLimits {
            max_transactions: BLOCK_TRANSACTIONS_MAX,
            max_bytes: BLOCK_BYTES_MAX,
            max_future: Duration::from_millis(500),
            idle_wait: Duration::from_millis(50),
        }
    }
}

/// Room left in a block's encoding for everything but the transactions.
const HEADER_BYTES: usize = 1_024;
/// Room kept for the evidence a block may carry: [`EVIDENCE_PER_BLOCK_MAX`] pieces of at most
/// 32 + 2 × 10 + 2 × (1 + 10 + 32 + 64) bytes each, rounded up.
const EVIDENCE_BYTES_MAX: usize = EVIDENCE_PER_BLOCK_MAX * 320;

/// Why a block is invalid whatever the state: it is refused for good.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// Another format version.
    #[error("block format version {0}, expected {BLOCK_VERSION}")]
    Version(u16),
    /// Not its parent's height plus one.
    #[error("block height {got} does not follow its parent's {parent}")]
    Height {
        /// The parent's height.
        parent: u64,
        /// The block's.
        got: u64,
    },
    /// Does not name its parent.
    #[error("block does not name its parent's digest")]
    Parent,
    /// Earlier than its parent.
    #[error("block time goes backwards")]
    Time,
    /// More than [`BLOCK_TRANSACTIONS_MAX`] transactions.
    #[error("too many transactions in one block")]
    TooManyTransactions,
    /// The state commitment's height is outside what the block may commit to.
    #[error("block commits to the state at height {got}, outside {min}..={max}")]
    ExecHeight {
        /// The lowest allowed.
        min: u64,
        /// The highest allowed.
        max: u64,
        /// The block's.
        got: u64,
    },
    /// A transaction for another chain, or whose signature does not verify.
    #[error("transaction {0} is not authentic for this chain")]
    Transaction(TxDigest),
    /// A transaction appears twice, in the block or in its unexecuted ancestry.
    #[error("transaction {0} is repeated")]
    Repeated(TxDigest),
    /// Too much evidence, or a piece that convicts no validator.
    #[error(transparent)]
    Evidence(BlockError),
}

/// The range of heights a block following `parent` may commit to: the lag rule of
/// [`walrus_chain::check_block`].
pub fn exec_bounds(parent: &Block) -> (u64, u64) {
    let min = parent.exec.height.max(parent.height.saturating_sub(EXEC_LAG_MAX - 1));
    (min, parent.height)
}

/// Checks what makes `block` (whose transactions have the digests `digests`) invalid as a child
/// of `parent` on the chain `chain_id` of the genesis `validators`, whatever the state. The
/// signatures of the transactions `known` says were checked already are not checked again.
pub fn check_stateless(
    chain_id: &Digest,
    validators: &[Ed25519PublicKey],
    parent: &ChainBlock,
    block: &Block,
    digests: &[TxDigest],
    known: &dyn Fn(&SignedTransaction) -> bool,
) -> Result<(), Invalid> {
    let parent_block = parent.block();
    if block.version != BLOCK_VERSION {
        return Err(Invalid::Version(block.version));
    }
    if block.height != parent_block.height + 1 {
        return Err(Invalid::Height { parent: parent_block.height, got: block.height });
    }
    if block.parent != parent.chain_digest() {
        return Err(Invalid::Parent);
    }
    if block.timestamp_ms < parent_block.timestamp_ms {
        return Err(Invalid::Time);
    }
    if block.transactions.len() > BLOCK_TRANSACTIONS_MAX {
        return Err(Invalid::TooManyTransactions);
    }
    let (min, max) = exec_bounds(parent_block);
    if !(min..=max).contains(&block.exec.height) {
        return Err(Invalid::ExecHeight { min, max, got: block.exec.height });
    }
    check_evidence(validators, &block.evidence).map_err(Invalid::Evidence)?;
    let mut seen = BTreeSet::new();
    for (tx, digest) in block.transactions.iter().zip(digests) {
        if !seen.insert(*digest) {
            return Err(Invalid::Repeated(*digest));
        }
        if tx.data.chain_id != *chain_id || !(known(tx) || tx.is_authentic()) {
            return Err(Invalid::Transaction(*digest));
        }
    }
    Ok(())
}

/// What the unexecuted ancestry holds: its transactions, and per sender the nonce after the
/// highest one it holds.
#[derive(Debug, Default)]
struct Unexecuted {
    transactions: BTreeSet<TxDigest>,
    next_nonces: BTreeMap<Address, u64>,
    /// Whether a block above the walk's floor holds transactions.
    transactions_above_floor: bool,
}

/// Walks from `parent` (the newest ancestor) down the rest of `ancestry` while heights are
/// above `above` (and above `floor`, if lower, only to see whether a block there has
/// transactions). `None` if the stream ends before (marshal no longer has the blocks).
async fn unexecuted(
    parent: Digested<ChainBlock>,
    mut ancestry: impl Ancestry<ChainBlock>,
    above: u64,
    floor: u64,
) -> Option<Unexecuted> {
    let mut found = Unexecuted::default();
    let mut next = Some(parent);
    loop {
        let block = next?;
        let height = block.inner().block().height;
        if height <= above.min(floor) {
            return Some(found);
        }
        let inner = block.inner();
        found.transactions_above_floor |= height > floor && !inner.block().transactions.is_empty();
        if height > above {
            found.transactions.extend(inner.transaction_digests().iter().copied());
            for tx in &inner.block().transactions {
                let nonce = found.next_nonces.entry(tx.data.sender).or_default();
                *nonce = (*nonce).max(tx.data.nonce.saturating_add(1));
            }
        }
        next = ancestry.next().await;
    }
}

fn millis(time: SystemTime) -> u64 {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// The chain's marshal application (cheap to clone).
#[derive(Clone)]
pub struct ChainApp {
    chain_id: Digest,
    executor: Executor,
    mempool: Arc<Mempool>,
    evidence: Arc<EvidencePool>,
    limits: BlockLimits,
}

impl ChainApp {
    /// The application of chain `chain_id`, proposing from `mempool` and `evidence` and
    /// committing to the states `executor` has executed.
    pub fn new(
        chain_id: Digest,
        executor: Executor,
        mempool: &Arc<Mempool>,
        evidence: &Arc<EvidencePool>,
        limits: BlockLimits,
    ) -> ChainApp {
        ChainApp { chain_id, executor, mempool: Arc::clone(mempool), evidence: Arc::clone(evidence), limits }
    }

    /// The state commitment of a block following `parent`: the newest executed state, no
    /// higher than the parent, waiting until the executor reaches the lowest allowed height.
    /// `None` if that state is no longer known.
    async fn exec_commitment(&self, parent: &Block) -> Option<ExecCommitment> {
        let (min, max) = exec_bounds(parent);
        let head = self.executor.wait_for_height(min).await?;
        let height = head.height.min(max);
        let state_digest = self.executor.state_digest_at(height)?;
        Some(ExecCommitment { height, state_digest })
    }

    /// Builds a block on the first block of `ancestry` (the parent). With nothing to include,
    /// it waits for a transaction first (see [`BlockLimits::idle_wait`]).
    async fn build<E: Clock>(
        &self,
        clock: &E,
        mut ancestry: impl Ancestry<ChainBlock>,
    ) -> Option<Digested<ChainBlock>> {
        let parent = ancestry.next().await?;
        let exec = self.exec_commitment(parent.inner().block()).await?;
        let parent_block = parent.inner().block().clone();
        let parent_digest = parent.inner().chain_digest();
        // Whether no block commits to the state after the ancestry's last transactions yet.
        let floor = parent_block.exec.height;
        let unexecuted = unexecuted(parent, ancestry, exec.height, floor).await?;
        let uncommitted = parent_block.height == 0 || unexecuted.transactions_above_floor;
        let max_transactions = self.limits.max_transactions.min(BLOCK_TRANSACTIONS_MAX);
        let max_bytes = self.limits.max_bytes.saturating_sub(HEADER_BYTES + EVIDENCE_BYTES_MAX);
        let select = || {
            self.mempool.select(&self.executor.state(), &unexecuted.next_nonces, max_transactions, max_bytes)
        };
        // Wake when a transaction arrives, or when the executor catches up (a sender whose
        // transactions the unexecuted ancestry holds waits for their execution).
        let mut admissions = self.mempool.admissions();
        let mut heads = self.executor.subscribe_head();
        let select_evidence =
            || self.evidence.pending(&self.executor.state().convictions, EVIDENCE_PER_BLOCK_MAX);
        let mut transactions = select();
        let mut evidence = select_evidence();
        // Consensus drops this build when the view ends, so an endless wait ends with the view.
        let deadline = if uncommitted { Some(clock.current() + self.limits.idle_wait) } else { None };
        while transactions.is_empty() && evidence.is_empty() {
            // Once the parent ran, an empty block can commit to the state after it at once.
            if uncommitted && self.executor.head().height >= parent_block.height {
                break;
            }
            let admitted = std::pin::pin!(admissions.changed());
            let executed = std::pin::pin!(heads.changed());
            let woken = futures::future::select(admitted, executed);
            let timeout = std::pin::pin!(async {
                match deadline {
                    Some(deadline) => clock.sleep_until(deadline).await,
                    None => futures::future::pending().await,
                }
            });
            match futures::future::select(woken, timeout).await {
                futures::future::Either::Left((
                    futures::future::Either::Left((Ok(()), _)) | futures::future::Either::Right((Ok(()), _)),
                    _,
                )) => {
                    transactions = select();
                    evidence = select_evidence();
                }
                _ => break,
            }
        }
        // An empty block commits to the newest state the executor reached meanwhile (the
        // transactions were selected against the commitment computed first, so a block with
        // transactions keeps it).
        let exec = if transactions.is_empty() { self.exec_commitment(&parent_block).await? } else { exec };
        let block = ChainBlock::new(Block {
            version: BLOCK_VERSION,
            height: parent_block.height + 1,
            parent: parent_digest,
            timestamp_ms: millis(clock.current()).max(parent_block.timestamp_ms),
            exec,
            transactions,
            evidence,
        });
        debug_assert!(block.bcs_bytes().len() <= self.limits.max_bytes, "a proposal within the block bound");
        tracing::debug!(
            height = block.block().height,
            transactions = block.block().transactions.len(),
            exec = exec.height,
            "proposing"
        );
        let digest = commonware_cryptography::Digestible::digest(&block);
        Some(Digested::precomputed(block, digest))
    }

    /// The verdict on the first block of `ancestry`, given its parent (the second); `None`
    /// while it cannot be decided yet for good (the caller then waits).
    async fn judge<E: Clock>(&self, clock: &E, mut ancestry: impl Ancestry<ChainBlock>) -> Option<bool> {
        let candidate = ancestry.next().await?;
        let parent = ancestry.next().await?;
        let block = candidate.inner().block();
        let digests = candidate.inner().transaction_digests();
        let known = |tx: &SignedTransaction| self.mempool.is_verified(tx);
        let validators = self.evidence.validators();
        if let Err(e) = check_stateless(&self.chain_id, validators, parent.inner(), block, digests, &known) {
            tracing::warn!(height = block.height, error = %e, "refusing block");
            return Some(false);
        }
        let seen = unexecuted(parent, ancestry, block.exec.height, block.exec.height).await?;
        if let Some(repeated) = digests.iter().find(|d| seen.transactions.contains(d)) {
            tracing::warn!(height = block.height, error = %Invalid::Repeated(*repeated), "refusing block");
            return Some(false);
        }
        // A block from the future waits until it is within the bound of this node's clock.
        let bound = u64::try_from(self.limits.max_future.as_millis()).unwrap_or(u64::MAX);
        if block.timestamp_ms > millis(clock.current()).saturating_add(bound) {
            let ready = Duration::from_millis(block.timestamp_ms - bound);
            clock.sleep_until(UNIX_EPOCH + ready).await;
        }
        self.executor.wait_for_height(block.exec.height).await?;
        let digest = self.executor.state_digest_at(block.exec.height)?;
        if digest != block.exec.state_digest {
            tracing::error!(
                height = block.height,
                exec = block.exec.height,
                "state commitment differs from ours"
            );
            return Some(false);
        }
        Some(true)
    }
}

impl<E: Clock> Application<E> for ChainApp {
    type SigningScheme = ed25519::Scheme;
    type Context = ConsensusContext;
    type Block = ChainBlock;
    type Input = ();

    async fn propose(
        &mut self,
        (clock, _context): (E, ConsensusContext),
        ancestry: impl Ancestry<ChainBlock>,
        _input: (),
    ) -> Option<Digested<ChainBlock>> {
        self.build(&clock, ancestry).await
    }

    async fn verify(
        &mut self,
        (clock, _context): (E, ConsensusContext),
        ancestry: impl Ancestry<ChainBlock>,
    ) -> bool {
        match self.judge(&clock, ancestry).await {
            Some(verdict) => verdict,
            // Undecidable for now (a missing ancestor or state): never answer false for that;
            // consensus drops the request when the view ends.
            None => futures::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use commonware_consensus::marshal::ancestry;
    use commonware_consensus::simplex::types::Context;
    use commonware_consensus::types::{Epoch, Round, View};
    use commonware_cryptography::{ed25519::PrivateKey, Digestible as _, Signer as _};
    use commonware_runtime::{deterministic, Runner as _, Supervisor as _};
    use walrus_chain::{Call, Frost, SignedTransaction, State, TransactionData};
    use walrus_core::keys::Ed25519KeyPair;

    use super::*;
    use crate::executor::MemoryStore;
    use crate::testing;

    fn transfer(state: &State, key: &Ed25519KeyPair, nonce: u64) -> SignedTransaction {
        let call = Call::Transfer { to: Address([7; 32]), amount: Frost(1) };
        TransactionData { chain_id: state.chain_id, sender: key.address(), nonce, fee: Frost(1_000), call }
            .sign(key)
    }

    fn digested(block: ChainBlock) -> Digested<ChainBlock> {
        let digest = block.digest();
        Digested::precomputed(block, digest)
    }

    fn consensus_context(parent: &ChainBlock) -> ConsensusContext {
        Context {
            round: Round::new(Epoch::zero(), View::new(1)),
            leader: PrivateKey::from_seed(0).public_key(),
            parent: (View::zero(), parent.digest()),
        }
    }

    #[test]
    fn stateless_checks_refuse_malformed_children() {
        let users = testing::users(1);
        let genesis = testing::genesis(&users, 1_000);
        let state = genesis.build().expect("valid genesis");
        let parent = ChainBlock::genesis(&genesis, &state);
        let good = Block::next(&state, 2_000, vec![transfer(&state, &users[0], 0)]);
        let check = |block: &Block| {
            let digests: Vec<_> = block.transactions.iter().map(|tx| tx.data.digest()).collect();
            check_stateless(&state.chain_id, &state.validators, &parent, block, &digests, &|_| false)
        };
        assert_eq!(check(&good), Ok(()));
        let mut block = good.clone();
        block.version += 1;
        assert!(matches!(check(&block), Err(Invalid::Version(_))));
        let mut block = good.clone();
        block.height = 2;
        assert!(matches!(check(&block), Err(Invalid::Height { .. })));
        let mut block = good.clone();
        block.parent = [9; 32];
        assert_eq!(check(&block), Err(Invalid::Parent));
        let mut block = good.clone();
        block.timestamp_ms = genesis.timestamp_ms - 1;
        assert_eq!(check(&block), Err(Invalid::Time));
        let mut block = good.clone();
        block.exec.height = 1;
        assert!(matches!(check(&block), Err(Invalid::ExecHeight { min: 0, max: 0, got: 1 })));
        let mut block = good.clone();
        block.transactions.push(block.transactions[0].clone());
        assert!(matches!(check(&block), Err(Invalid::Repeated(_))));
        let mut block = good.clone();
        block.transactions[0].data.nonce = 5;
        assert!(matches!(check(&block), Err(Invalid::Transaction(_))));
    }

    #[test]
    fn a_block_from_the_future_waits_and_a_repeat_of_the_ancestry_is_refused() {
        deterministic::Runner::default().start(|context| async move {
            let users = testing::users(1);
            let genesis = testing::genesis(&users, 1_000);
            let state = genesis.build().expect("valid genesis");
            let first = ChainBlock::genesis(&genesis, &state);
            let mempool = Arc::new(Mempool::new(10));
            let executor = Executor::new(Arc::new(MemoryStore::new(state.clone())), Arc::clone(&mempool));
            let pool = Arc::new(EvidencePool::new(state.validators.clone(), Arc::clone(&mempool)));
            let mut app = ChainApp::new(state.chain_id, executor, &mempool, &pool, BlockLimits::default());

            // Five seconds ahead of the clock: the verdict comes 4.5 s later.
            let start = millis(context.current());
            let tx = transfer(&state, &users[0], 0);
            let ahead = ChainBlock::new(Block::next(&state, start + 5_000, vec![tx.clone()]));
            let blocks = ancestry::from_iter([digested(ahead.clone()), digested(first.clone())]);
            let verdict = app.verify((context.child("verify"), consensus_context(&first)), blocks).await;
            assert!(verdict);
            assert_eq!(millis(context.current()), start + 4_500);

            // A child repeating the transaction of its unexecuted parent is refused.
            let mut child = Block::next(&state, start + 5_000, vec![tx]);
            child.height = 2;
            child.parent = ahead.chain_digest();
            let child = ChainBlock::new(child);
            let blocks =
                ancestry::from_iter([digested(child), digested(ahead.clone()), digested(first.clone())]);
            assert!(!app.verify((context.child("verify"), consensus_context(&ahead)), blocks).await);
        });
    }
}
