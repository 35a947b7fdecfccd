//! Blocks: the ordered transactions of one step of the chain, executed deterministically.
//!
//! A block first runs the system step (an epoch change when the epoch's time is up), then its
//! transactions in order. A transaction that fails its pre-checks (chain, signature, nonce,
//! fee) is skipped without effect; one that passes pays its fee and bumps the nonce, and its
//! call then either succeeds as a whole or changes nothing else.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use walrus_core::hash::{blake2b256_parts, Digest};
use walrus_core::keys::Ed25519PublicKey;
use walrus_core::ObjectId;

use crate::calls;
use crate::error::ExecError;
use crate::events::{Event, EventCursor, EventEnvelope};
use crate::evidence::{Conviction, Equivocation, EvidenceError, EVIDENCE_PER_BLOCK_MAX};
use crate::state::{apply, Overlay, State};
use crate::tx::{SignedTransaction, TxDigest};

/// Most transactions in one block.
pub const BLOCK_TRANSACTIONS_MAX: usize = 10_000;

/// The format version of [`Block`]; a block of another version is refused.
pub const BLOCK_VERSION: u16 = 1;

/// A block's commitment to an earlier state: the digest after block `height`. Replicas compare
/// it with their own, so a divergence is caught at the next block; a light client can trust a
/// state digest carried by a finalized block. It lags because a proposer may order a block
/// before it has executed the previous ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecCommitment {
    /// The height of the committed state: at least the parent's commitment's, at most the
    /// parent's height, and at most [`crate::state::EXEC_LAG_MAX`] heights behind it.
    pub height: u64,
    /// The state digest after that height.
    #[serde(with = "walrus_core::hash::hex_digest")]
    pub state_digest: Digest,
}

/// One block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// The format version, [`BLOCK_VERSION`].
    pub version: u16,
    /// Its height: the previous block's plus one (the first block is 1).
    pub height: u64,
    /// The previous block's digest (the chain ID for block 1).
    #[serde(with = "walrus_core::hash::hex_digest")]
    pub parent: Digest,
    /// Block time in milliseconds; never earlier than the parent's.
    pub timestamp_ms: u64,
    /// The state this block's proposer had executed.
    pub exec: ExecCommitment,
    /// The transactions, in execution order.
    pub transactions: Vec<SignedTransaction>,
    /// Evidence of validators' equivocations, recorded before the transactions run (at most
    /// [`EVIDENCE_PER_BLOCK_MAX`]).
    pub evidence: Vec<Equivocation>,
}

impl Block {
    /// The block that follows `state`, built by a proposer that has executed everything before
    /// it (the single sequencer): it commits to `state` itself.
    pub fn next(state: &State, timestamp_ms: u64, transactions: Vec<SignedTransaction>) -> Block {
        Block {
            version: BLOCK_VERSION,
            height: state.height + 1,
            parent: state.last_block,
            timestamp_ms: timestamp_ms.max(state.timestamp_ms),
            exec: ExecCommitment {
                height: state.height,
                state_digest: state
                    .recent_digests
                    .get(&state.height)
                    .copied()
                    .unwrap_or_else(|| state.digest()),
            },
            transactions,
            evidence: Vec::new(),
        }
    }

    /// The block's digest.
    pub fn digest(&self) -> Digest {
        let bytes = bcs::to_bytes(self).expect("blocks are plain BCS");
        blake2b256_parts(&[b"walrus-chain/block/v1", &bytes])
    }
}

/// Why a block cannot follow the current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// Another format version.
    #[error("block format version {0}, expected {BLOCK_VERSION}")]
    Version(u16),
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
    /// The state commitment's digest is not the state's at that height: the proposer's
    /// state and this one diverged.
    #[error("block commits to another state digest at height {0} than this replica's")]
    ExecDigest(u64),
    /// Not the next height.
    #[error("block height {got}, expected {expected}")]
    Height {
        /// The next height.
        expected: u64,
        /// The block's.
        got: u64,
    },
    /// The parent digest is not the last block's.
    #[error("block does not extend the last block")]
    Parent,
    /// Earlier than the last block.
    #[error("block time goes backwards")]
    Time,
    /// More than [`BLOCK_TRANSACTIONS_MAX`] transactions.
    #[error("too many transactions in one block")]
    TooManyTransactions,
    /// More than [`EVIDENCE_PER_BLOCK_MAX`] pieces of evidence.
    #[error("too much evidence in one block")]
    TooMuchEvidence,
    /// A piece of evidence proves nothing.
    #[error("evidence {index} of the block: {source}")]
    Evidence {
        /// Its position in the block.
        index: usize,
        /// Why.
        source: EvidenceError,
    },
}

/// How a transaction ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxStatus {
    /// The call succeeded.
    Success,
    /// The call failed; only the fee and nonce changed.
    Failed {
        /// The stable error code.
        code: String,
        /// For people.
        message: String,
    },
    /// Pre-checks failed; nothing changed.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// What one transaction did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxEffects {
    /// The transaction.
    pub digest: TxDigest,
    /// How it ended.
    pub status: TxStatus,
    /// Objects it created.
    pub created: Vec<ObjectId>,
    /// Objects it deleted.
    pub deleted: Vec<ObjectId>,
    /// Its events.
    pub events: Vec<EventEnvelope>,
}

/// What a block did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockEffects {
    /// The block's height.
    pub height: u64,
    /// The block's digest.
    #[serde(with = "walrus_core::hash::hex_digest")]
    pub block_digest: Digest,
    /// The state digest after the block.
    #[serde(with = "walrus_core::hash::hex_digest")]
    pub state_digest: Digest,
    /// The state header after the block (its digest is `state_digest`).
    pub header: crate::light::StateHeader,
    /// The block's own events (recorded equivocations), before its transactions'.
    pub events: Vec<EventEnvelope>,
    /// Per transaction, in order.
    pub transactions: Vec<TxEffects>,
}

impl BlockEffects {
    /// Every event of the block, in cursor order.
    pub fn all_events(&self) -> impl Iterator<Item = &EventEnvelope> {
        self.events.iter().chain(self.transactions.iter().flat_map(|tx| &tx.events))
    }
}

/// Why a transaction is not admissible now: it would be skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrecheckError {
    /// For another chain.
    #[error("transaction is for another chain")]
    WrongChain,
    /// Bad key or signature.
    #[error("signature does not verify for the sender")]
    BadSignature,
    /// Not the account's next nonce.
    #[error("nonce {got}, expected {expected}")]
    Nonce {
        /// The account's nonce.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// Below the minimum fee.
    #[error("fee below the minimum of {0}")]
    Fee(crate::amount::Frost),
    /// Cannot pay the fee.
    #[error("balance does not cover the fee")]
    CannotPayFee,
}

/// Checks what must hold for `tx` to be included next: chain, signature, nonce, fee.
pub fn precheck(state: &State, tx: &SignedTransaction) -> Result<(), PrecheckError> {
    precheck_verified(state, tx, tx.is_authentic())
}

/// [`precheck`] with the signature's verdict computed beforehand (in parallel for a block).
fn precheck_verified(state: &State, tx: &SignedTransaction, authentic: bool) -> Result<(), PrecheckError> {
    let data = &tx.data;
    if data.chain_id != state.chain_id {
        return Err(PrecheckError::WrongChain);
    }
    let account = state.account(&data.sender);
    if data.nonce != account.nonce {
        return Err(PrecheckError::Nonce { expected: account.nonce, got: data.nonce });
    }
    if data.fee < state.system.params.min_fee {
        return Err(PrecheckError::Fee(state.system.params.min_fee));
    }
    if account.balance < data.fee {
        return Err(PrecheckError::CannotPayFee);
    }
    if !authentic {
        return Err(PrecheckError::BadSignature);
    }
    Ok(())
}

/// Checks that `block` can follow `state`: the next height, this chain's last block as parent,
/// time not going backwards, not too many transactions. [`execute_block`] accepts exactly the
/// blocks that pass, so a host can check before it persists.
pub fn check_block(state: &State, block: &Block) -> Result<(), BlockError> {
    if block.version != BLOCK_VERSION {
        return Err(BlockError::Version(block.version));
    }
    let expected = state.height + 1;
    if block.height != expected {
        return Err(BlockError::Height { expected, got: block.height });
    }
    if block.parent != state.last_block {
        return Err(BlockError::Parent);
    }
    if block.timestamp_ms < state.timestamp_ms {
        return Err(BlockError::Time);
    }
    if block.transactions.len() > BLOCK_TRANSACTIONS_MAX {
        return Err(BlockError::TooManyTransactions);
    }
    check_evidence(&state.validators, &block.evidence)?;
    let min = state.last_exec_height.max(state.height.saturating_sub(crate::state::EXEC_LAG_MAX - 1));
    let max = state.height;
    if !(min..=max).contains(&block.exec.height) {
        return Err(BlockError::ExecHeight { min, max, got: block.exec.height });
    }
    if state.recent_digests.get(&block.exec.height) != Some(&block.exec.state_digest) {
        return Err(BlockError::ExecDigest(block.exec.height));
    }
    Ok(())
}

/// Checks the evidence a block carries against the genesis validators' keys (stateless, so that
/// a proposer's peers check it before they vote).
pub fn check_evidence(validators: &[Ed25519PublicKey], evidence: &[Equivocation]) -> Result<(), BlockError> {
    if evidence.len() > EVIDENCE_PER_BLOCK_MAX {
        return Err(BlockError::TooMuchEvidence);
    }
    for (index, piece) in evidence.iter().enumerate() {
        piece.check(validators).map_err(|source| BlockError::Evidence { index, source })?;
    }
    Ok(())
}

/// Records each equivocation in a later round than the validator's last recorded one; the
/// others were recorded already (two proposers may carry the same evidence).
fn record_evidence(state: &mut State, evidence: &[Equivocation]) -> Vec<Event> {
    let mut events = Vec::new();
    for piece in evidence {
        let previous = state.convictions.get(&piece.validator);
        if previous.is_some_and(|c| c.latest.round() >= piece.round()) {
            continue;
        }
        let count = previous.map_or(0, |c| c.count) + 1;
        state.set_conviction(piece.validator, Conviction { count, latest: *piece });
        events.push(Event::ValidatorEquivocated {
            validator: piece.validator,
            consensus_epoch: piece.epoch,
            view: piece.view,
            count,
        });
    }
    events
}

/// What a block's execution can learn before it takes the state for writing: whether each
/// transaction's signature verifies, and each certificate's aggregate signature against the
/// committee it names. These are the block's costly checks (tens of microseconds to milliseconds
/// each), and none depends on what earlier transactions of the block do, so a host computes them
/// on all cores while readers still use the state.
#[derive(Debug, Clone, Default)]
pub struct Verified {
    signatures: Vec<bool>,
    certificates: Vec<Option<crate::certify::Verdict>>,
}

/// Verifies the signatures and certificates of `block` against `state` (see [`Verified`]).
pub fn verify_block(state: &State, block: &Block) -> Verified {
    verify_block_with(state, block, &|_| false)
}

/// [`verify_block`], taking as authentic without checking again the transactions `known` says
/// the host checked already (at admission).
pub fn verify_block_with(
    state: &State,
    block: &Block,
    known: &(dyn Fn(&SignedTransaction) -> bool + Sync),
) -> Verified {
    let (signatures, certificates) = block
        .transactions
        .par_iter()
        .map(|tx| {
            let verdict =
                tx.data.call.certificate().map(|c| crate::certify::Verdict::compute(&state.system, c));
            (known(tx) || tx.is_authentic(), verdict)
        })
        .unzip();
    Verified { signatures, certificates }
}

/// Executes `block` on `state`.
pub fn execute_block(state: &mut State, block: &Block) -> Result<BlockEffects, BlockError> {
    let verified = verify_block(state, block);
    execute_verified(state, block, &verified)
}

/// Executes `block` on `state` with its checks computed beforehand by [`verify_block`] (on this
/// state or an earlier one: a verdict is used only for the keys it was computed with).
pub fn execute_verified(
    state: &mut State,
    block: &Block,
    verified: &Verified,
) -> Result<BlockEffects, BlockError> {
    check_block(state, block)?;
    state.height = block.height;
    state.timestamp_ms = block.timestamp_ms;
    let mut cursor = EventCursor { height: block.height, index: 0 };
    let mut envelope = |tx_digest, event| {
        let e = EventEnvelope { cursor, tx_digest, event };
        cursor.index += 1;
        e
    };
    state.last_exec_height = block.exec.height;
    let events: Vec<EventEnvelope> =
        record_evidence(state, &block.evidence).into_iter().map(|event| envelope(None, event)).collect();
    let transactions: Vec<TxEffects> = block
        .transactions
        .iter()
        .enumerate()
        .map(|(i, tx)| {
            let authentic = verified.signatures.get(i).copied().unwrap_or_else(|| tx.is_authentic());
            let verdict = verified.certificates.get(i).and_then(Option::as_ref);
            execute_transaction(state, tx, authentic, verdict, &mut envelope)
        })
        .collect();
    for event in events.iter().chain(transactions.iter().flat_map(|tx| &tx.events)) {
        state.events_digest = crate::light::fold_event(&state.events_digest, event);
    }
    let block_digest = block.digest();
    state.last_block = block_digest;
    let (header, state_digest) = state.remember_digest();
    Ok(BlockEffects { height: block.height, block_digest, state_digest, header, events, transactions })
}

/// Executes one transaction: pre-checks, fee and nonce, then the call as a whole or not at all.
fn execute_transaction(
    state: &mut State,
    tx: &SignedTransaction,
    authentic: bool,
    verdict: Option<&crate::certify::Verdict>,
    envelope: &mut impl FnMut(Option<TxDigest>, Event) -> EventEnvelope,
) -> TxEffects {
    let digest = tx.data.digest();
    let skipped = |reason: String| TxEffects {
        digest,
        status: TxStatus::Skipped { reason },
        created: Vec::new(),
        deleted: Vec::new(),
        events: Vec::new(),
    };
    if let Err(e) = precheck_verified(state, tx, authentic) {
        return skipped(e.to_string());
    }
    let sender = tx.data.sender;
    let mut fee = Overlay::new(state, digest);
    if let Err(e) = calls::charge_fee(&mut fee, sender, tx.data.fee) {
        return skipped(e.to_string());
    }
    let mut account = fee.account(&sender);
    account.nonce += 1;
    fee.set_account(sender, account);
    let writes = fee.into_writes();
    apply(state, writes);
    let mut call = Overlay::new(state, digest).with_verdict(verdict);
    let (status, changes) = match calls::run(&mut call, sender, &tx.data.call) {
        Ok(()) => {
            let writes = call.into_writes();
            (TxStatus::Success, Some(apply(state, writes)))
        }
        Err(e) => (failed(&e), None),
    };
    let (events, created, deleted) = match changes {
        Some(c) => (c.events, c.created, c.deleted),
        None => Default::default(),
    };
    let events = events.into_iter().map(|event| envelope(Some(digest), event)).collect();
    TxEffects { digest, status, created, deleted, events }
}

fn failed(e: &ExecError) -> TxStatus {
    TxStatus::Failed { code: e.code().to_string(), message: e.to_string() }
}
