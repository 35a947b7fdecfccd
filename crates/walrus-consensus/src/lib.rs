//! Replicates the coordination chain over BFT consensus: commonware's simplex orders blocks,
//! marshal turns the ordering into a gap-free stream of finalized blocks, and the chain's pure
//! state machine (`walrus-chain`) executes them.
//!
//! The layering, from the wire up:
//! - [`validator`] builds one validator from a runtime context and p2p channels: simplex
//!   (ed25519 votes, round-robin leaders) agrees on block digests; buffered broadcast carries
//!   the full blocks and marshal's resolver backfills what a validator missed; marshal stores
//!   finalized blocks and delivers them in height order, at least once.
//! - [`app`] is marshal's application. A proposer builds a block from the [`mempool`] on a
//!   parent that may not be final yet; every validator checks a proposed block only with what
//!   its ancestry determines (format, signatures, no repeated transaction, time, the lag rule).
//! - [`host`] runs a validator as a process does: commonware's tokio runtime and authenticated
//!   p2p (every validator's key and address known from the genesis) on a thread of its own.
//! - [`gossip`] brings a transaction admitted by any validator into every validator's mempool.
//! - [`executor`] applies each finalized block once per height and acknowledges it to marshal
//!   only afterwards; it publishes the new state digest and the transactions' effects.
//! - [`evidence`] turns the conflicting votes simplex reports into the chain's equivocation
//!   evidence, which proposers put into blocks and execution records.
//! - [`proof`] turns marshal's finalization certificates into the chain's own
//!   `walrus_chain::finality::FinalityProof`, which clients check without commonware.
//!
//! **Order first, execute after finality.** Validity never depends on executing unfinalized
//! blocks: nonces, balances and call rules are decided by execution, which skips or fails a
//! transaction as a whole, identically on every replica.
//!
//! **State commitments lag.** Each block commits to the state digest after a height its
//! proposer had finalized and executed (at least its parent's commitment, at most its parent's
//! height, within `walrus_chain::state::EXEC_LAG_MAX`). A verifier that has not executed that
//! height yet waits, then compares: since every honest replica computes the same digest for a
//! finalized height, a divergent replica is caught at the next block, and a finalized block
//! carries a state digest a light client can trust.
//!
//! [`block`] adapts our block to commonware: its digest is our Blake2b block digest, and the
//! genesis block (height 0) has the chain ID as its digest, so block 1's parent is the chain ID.

pub mod app;
pub mod block;
pub mod evidence;
pub mod executor;
pub mod gossip;
pub mod host;
pub mod mempool;
pub mod proof;
pub mod validator;

#[cfg(test)]
mod testing;

pub use app::{BlockLimits, ChainApp};
pub use block::{BlockConfig, ChainBlock, ConsensusDigest, BLOCK_BYTES_MAX};
pub use evidence::{EvidencePool, EvidenceReporter};
pub use executor::{
    ApplyError, Executed, Executor, ExecutorError, Finalized, Head, Known, MemoryStore, StateGuard,
    StateStore,
};
pub use gossip::{Gossip, GOSSIP_TX_BYTES_MAX};
pub use host::{genesis_validators, signer_from_seed, spawn, HostConfig, HostError, RunningHost};
pub use mempool::{Mempool, MempoolError};
pub use proof::Proofs;
pub use validator::{
    channels, max_message_size, start, Channels, Config, Parameters, Validator, ValidatorError, NAMESPACE,
    P2P_NAMESPACE,
};
