//! The validator's part in the storage challenges' seed (docs/challenges.md): in every epoch it
//! commits to a secret before the reveal window opens and reveals it once the window is open,
//! from its own account (the address of its consensus key), through its own mempool.
//!
//! The secret is derived from the validator's key seed, the chain ID and the epoch, so a
//! restarted validator reveals what it committed without having kept anything. Each new block
//! is a chance to act; a step is sent only once the last block's time says it would run, and a
//! transaction still pending is not sent twice (the mempool refuses its nonce).

use std::sync::Arc;
use std::time::Duration;

use walrus_chain::challenge::schedule;
use walrus_chain::{Call, State, TransactionData};
use walrus_core::challenge::{reveal_commitment, reveal_secret};
use walrus_core::keys::{Address, Ed25519KeyPair};

use crate::chain::Chain;
use crate::orderer::{Orderer, SubmitError};

/// Longest wait between two looks when no block comes.
const IDLE_LOOK: Duration = Duration::from_secs(1);

/// The call this validator owes the round now, if any.
pub fn due_call(state: &State, key_seed: &[u8; 32], me: Address) -> Option<Call> {
    let system = &state.system;
    if system.params.challenge.blobs == 0 || system.round.challenge.is_some() {
        return None;
    }
    let index = state.validators.iter().position(|key| Address::from_ed25519(key) == me)?;
    let index = u16::try_from(index).ok()?;
    let epoch = system.epoch();
    let secret = reveal_secret(key_seed, &state.chain_id, epoch);
    let window_open = schedule(system).is_some_and(|s| state.timestamp_ms >= s.reveal_open_ms);
    let committed = system.round.commits.contains_key(&index);
    match (committed, window_open) {
        (false, false) => Some(Call::ChallengeCommit { epoch, commitment: reveal_commitment(&secret) }),
        (true, true) if !system.round.reveals.contains_key(&index) => {
            Some(Call::ChallengeReveal { epoch, secret })
        }
        _ => None,
    }
}

/// Runs until the process ends.
pub async fn run(chain: Arc<Chain>, orderer: Arc<dyn Orderer>, key_seed: [u8; 32]) {
    let key = Ed25519KeyPair::from_seed(&key_seed);
    let me = key.address();
    let mut head = chain.head();
    let mut warned_epoch = None;
    loop {
        let tx = {
            let state = chain.state();
            due_call(&state, &key_seed, me).map(|call| {
                let data = TransactionData {
                    chain_id: state.chain_id,
                    sender: me,
                    nonce: state.account(&me).nonce,
                    fee: state.system.params.min_fee,
                    call,
                };
                (state.system.epoch(), data.sign(&key))
            })
        };
        if let Some((epoch, tx)) = tx {
            match orderer.submit(tx) {
                Ok(()) | Err(SubmitError::Conflict(_)) => {}
                // Most likely too little WAL for the bond: said once per epoch.
                Err(e) if warned_epoch != Some(epoch) => {
                    warned_epoch = Some(epoch);
                    tracing::warn!(
                        "challenge seed: this validator ({me}) cannot commit or reveal in epoch {epoch}: {e}"
                    );
                }
                Err(_) => {}
            }
        }
        if tokio::time::timeout(IDLE_LOOK, head.changed()).await.is_ok_and(|r| r.is_err()) {
            return;
        }
    }
}
