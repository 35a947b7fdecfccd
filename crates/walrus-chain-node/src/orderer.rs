//! The seam between the RPC and whatever orders transactions into finalized blocks.
//!
//! Every chain node runs a validator of the replicated chain (`walrus-consensus`); a chain of
//! one validator is the same host with a set of one. The RPC hands a client's transaction to
//! the validator's [`Gossip`], which admits it with the chain's admission rule against the
//! executed state and passes it to the other validators, so that whichever leads the next view
//! includes it.

use walrus_chain::admission::AdmissionError;
use walrus_chain::SignedTransaction;
use walrus_consensus::{Gossip, MempoolError};

/// Why a transaction was not admitted for ordering.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The chain's admission rule refuses it (it would be skipped, or could never run).
    #[error(transparent)]
    Refused(#[from] AdmissionError),
    /// Another transaction with the same sender and nonce is waiting.
    #[error("another transaction with nonce {0} from this sender is pending")]
    Conflict(u64),
    /// The mempool is full; retry later.
    #[error("the mempool is full; retry later")]
    Full,
    /// Larger than a transaction may be.
    #[error("the transaction is {0} bytes, more than a transaction may be")]
    TooLarge(usize),
}

impl From<MempoolError> for SubmitError {
    fn from(e: MempoolError) -> Self {
        match e {
            MempoolError::Refused(refusal) => SubmitError::Refused(refusal),
            MempoolError::Conflict(nonce) => SubmitError::Conflict(nonce),
            MempoolError::Full => SubmitError::Full,
            MempoolError::TooLarge(bytes) => SubmitError::TooLarge(bytes),
        }
    }
}

/// Orders transactions into finalized blocks, which the [`crate::Chain`] executes.
pub trait Orderer: Send + Sync + 'static {
    /// Admits `tx` for ordering. `Ok` means queued, not final: wait with
    /// [`crate::Chain::wait_for`].
    fn submit(&self, tx: SignedTransaction) -> Result<(), SubmitError>;
}

impl Orderer for Gossip {
    fn submit(&self, tx: SignedTransaction) -> Result<(), SubmitError> {
        Gossip::submit(self, tx).map(drop).map_err(SubmitError::from)
    }
}
