//! Admission: the one rule a host applies before it orders a transaction, at submission and
//! again when it cuts a block, so that no transaction it writes into a block is skipped.
//!
//! A skipped transaction changes nothing and pays nothing, so a host that wrote it into a
//! durable block would let anyone fill its disk for free (an unfunded key signs as many as it
//! likes). [`admit`] refuses at submission what could not pay: the sender's balance must cover
//! the fees of everything it already has queued plus this one. [`runnable`] picks, when a block
//! is cut, the run of a sender's queue that will pass [`crate::precheck`] in that block: its
//! nonces follow on, its fees are covered, and it ends after the first call that may take WAL
//! from the sender (a transfer, a purchase), because what is left after it is not known until
//! it runs. The rest waits for the next block, where the balance is known again.
//!
//! Within a block only the sender's own transactions take WAL from it (the system step and
//! other senders' calls only credit it), which is why checking against the balance at the cut
//! is enough.

use crate::amount::Frost;
use crate::state::State;
use crate::tx::{Call, SignedTransaction};

/// Most transactions one sender may have queued: nonces at most this far ahead of the
/// account's are admitted.
pub const SENDER_QUEUE_MAX: u64 = 1_000;

/// Why a transaction is not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmissionError {
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
    /// The balance does not cover this fee and the fees already queued.
    #[error(
        "balance {balance} FROST does not cover the fee of {fee} FROST and {queued} FROST of fees queued"
    )]
    CannotPayFee {
        /// The sender's balance.
        balance: u64,
        /// The transaction's fee.
        fee: u64,
        /// Fees of the sender's transactions already queued.
        queued: u64,
    },
}

/// Checks `tx` for queueing behind transactions of the same sender whose fees add up to
/// `queued_fees`. The cheap checks come first; the signature last.
pub fn admit(state: &State, tx: &SignedTransaction, queued_fees: Frost) -> Result<(), AdmissionError> {
    let data = &tx.data;
    if data.chain_id != state.chain_id {
        return Err(AdmissionError::WrongChain(hex::encode(data.chain_id)));
    }
    let min = state.system.params.min_fee;
    if data.fee < min {
        return Err(AdmissionError::FeeTooLow { min: min.0, got: data.fee.0 });
    }
    let account = state.account(&data.sender);
    if data.nonce < account.nonce {
        return Err(AdmissionError::StaleNonce { expected: account.nonce, got: data.nonce });
    }
    if data.nonce - account.nonce >= SENDER_QUEUE_MAX {
        return Err(AdmissionError::NonceTooFarAhead { expected: account.nonce, got: data.nonce });
    }
    let needed = queued_fees.0.checked_add(data.fee.0);
    if needed.is_none_or(|needed| needed > account.balance.0) {
        return Err(AdmissionError::CannotPayFee {
            balance: account.balance.0,
            fee: data.fee.0,
            queued: queued_fees.0,
        });
    }
    if !tx.is_authentic() {
        return Err(AdmissionError::BadSignature);
    }
    Ok(())
}

/// How many of `queue` (one sender's admitted transactions in nonce order, starting at the
/// account's next nonce) can go into the next block without any being skipped.
pub fn runnable<'a>(state: &State, queue: impl IntoIterator<Item = &'a SignedTransaction>) -> usize {
    let mut taken = 0;
    let mut fees = Frost::ZERO;
    let mut expected = None;
    for tx in queue {
        let data = &tx.data;
        let account = state.account(&data.sender);
        let nonce = expected.unwrap_or(account.nonce);
        if data.nonce != nonce || data.chain_id != state.chain_id || data.fee < state.system.params.min_fee {
            break;
        }
        match fees.checked_add(data.fee) {
            Ok(total) if total <= account.balance => fees = total,
            _ => break,
        }
        taken += 1;
        expected = Some(nonce + 1);
        if may_debit(&data.call) {
            break;
        }
    }
    taken
}

/// Whether `call` may take WAL from its sender's balance (beyond the fee).
pub fn may_debit(call: &Call) -> bool {
    match call {
        Call::Transfer { .. }
        | Call::TransferWithMemo { .. }
        | Call::ReserveSpace { .. }
        | Call::RegisterBlob { .. }
        | Call::ExtendBlob { .. }
        | Call::ShareBlob { .. }
        | Call::FundSharedBlob { .. }
        | Call::StakeWithPool { .. }
        | Call::Subscribe { .. }
        | Call::ChallengeCommit { .. } => true,
        Call::TransferObject { .. }
        | Call::SplitStorageByEpoch { .. }
        | Call::SplitStorageBySize { .. }
        | Call::FuseStorage { .. }
        | Call::DestroyStorage { .. }
        | Call::CertifyBlob { .. }
        | Call::DeleteBlob { .. }
        | Call::BurnBlob { .. }
        | Call::InvalidateBlobId { .. }
        | Call::RegisterNode(_)
        | Call::SetNodeVotes { .. }
        | Call::EpochSyncDone { .. }
        | Call::CollectNodeRewards { .. }
        | Call::SetBlobAttributes { .. }
        | Call::ExtendSharedBlob { .. }
        | Call::VotingEnd
        | Call::InitiateEpochChange
        | Call::RequestWithdrawStake { .. }
        | Call::WithdrawStake { .. }
        | Call::SplitStakedWal { .. }
        | Call::JoinStakedWal { .. }
        | Call::SetCommissionRate { .. }
        | Call::SetNodeInfo { .. }
        | Call::CreateSite { .. }
        | Call::UpdateSite(_)
        | Call::DestroySite { .. }
        | Call::SetSiteName { .. }
        | Call::CreatePolicy { .. }
        | Call::UpdateAllowlist { .. }
        | Call::RegisterKeyServer { .. }
        | Call::ChallengeReveal { .. }
        | Call::StartChallenge
        | Call::SubmitChallengeCertificate { .. }
        | Call::Propose { .. }
        | Call::Vote { .. } => false,
    }
}
