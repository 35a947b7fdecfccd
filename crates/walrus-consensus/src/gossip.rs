//! Transaction gossip: a transaction admitted by any validator reaches every validator's
//! mempool, so whichever validator leads the next view can include it.
//!
//! A validator sends each transaction it admits from a client to all the others
//! ([`Gossip::submit`]); one that admits a transaction it did not hold yet passes it on once,
//! so a transaction crosses a link that is down (seen: a validator of four connected to two),
//! and each validator sends each transaction at most once. What arrives is checked as a client's submission is (decoded within a
//! size bound, then `walrus_chain::admission::admit` against the executed state); a peer that
//! sends bytes that are not a transaction is blocked, since only a faulty validator would.

use std::sync::Arc;

use commonware_cryptography::ed25519::PublicKey;
use commonware_p2p::{Blocker, Receiver, Recipients, Sender};
use commonware_runtime::{Handle, Spawner};
use commonware_utils::channel::mpsc;
use walrus_chain::{SignedTransaction, TxDigest};

use crate::executor::Executor;
use crate::mempool::{Mempool, MempoolError};

/// Largest transaction gossiped, in BCS bytes (the chain RPC's bound on a submission).
pub const GOSSIP_TX_BYTES_MAX: usize = 128 * 1024;

/// Admits transactions from clients and sends them to the other validators (cheap to clone).
#[derive(Clone)]
pub struct Gossip {
    mempool: Arc<Mempool>,
    executor: Executor,
    outbound: mpsc::UnboundedSender<Vec<u8>>,
}

impl Gossip {
    /// Admits `tx` into this validator's mempool against the executed state and, if it is
    /// new here, sends it to the other validators. Submitting a waiting transaction again
    /// succeeds and sends nothing.
    pub fn submit(&self, tx: SignedTransaction) -> Result<TxDigest, MempoolError> {
        let bytes = tx.to_bcs();
        if bytes.len() > GOSSIP_TX_BYTES_MAX {
            return Err(MempoolError::TooLarge(bytes.len()));
        }
        let known = self.mempool.contains(&tx.data.digest());
        let digest = self.mempool.submit(&self.executor.state(), tx)?;
        if !known {
            // The task is gone only when the validator stops; the transaction still waits here.
            let _ = self.outbound.send(bytes);
        }
        Ok(digest)
    }
}

/// Starts gossip on its channel: one task sends what [`Gossip::submit`] admits, one admits
/// what peers send.
pub fn start<E, S, R, B>(
    context: E,
    mempool: Arc<Mempool>,
    executor: Executor,
    (mut sender, mut receiver): (S, R),
    mut blocker: B,
) -> (Gossip, [Handle<()>; 2])
where
    E: Spawner,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey>,
{
    let (outbound, mut queue) = mpsc::unbounded_channel::<Vec<u8>>();
    let relay = outbound.clone();
    let gossip = Gossip { mempool: Arc::clone(&mempool), executor: executor.clone(), outbound };
    let send = context.child("send").spawn(move |_| async move {
        while let Some(bytes) = queue.recv().await {
            // Best effort: a peer that misses one still gets the block that includes it.
            let _ = sender.send(Recipients::All, bytes, false);
        }
    });
    let receive = context.child("receive").spawn(move |_| async move {
        while let Ok((peer, message)) = receiver.recv().await {
            let bytes = message.as_ref();
            let decoded = (bytes.len() <= GOSSIP_TX_BYTES_MAX)
                .then(|| bcs::from_bytes::<SignedTransaction>(bytes).ok())
                .flatten();
            let Some(tx) = decoded else {
                tracing::warn!(
                    ?peer,
                    len = bytes.len(),
                    "a validator gossiped bytes that are no transaction"
                );
                blocker.block(peer);
                continue;
            };
            // Refusals (nonce passed, balance, full) are the peer's client's business. A
            // transaction new here is passed on, so it crosses a link that is down.
            let digest = tx.data.digest();
            if !mempool.contains(&digest) && mempool.submit(&executor.state(), tx).is_ok() {
                let _ = relay.send(bytes.to_vec());
            }
        }
    });
    (gossip, [send, receive])
}
