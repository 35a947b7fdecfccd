//! What the consensus tests share: a real genesis with funded users, and signed transfers.

use walrus_chain::{Call, Frost, Genesis, SignedTransaction, TransactionData};
use walrus_core::keys::Ed25519KeyPair;

#[path = "../../src/testing.rs"]
mod testing;
pub use testing::{genesis, users};

/// Funded users.
pub const USERS: u8 = 4;

/// Transfers of `user` with nonces in `nonces`, each to the next user.
pub fn transfers(
    genesis: &Genesis,
    users: &[Ed25519KeyPair],
    nonces: std::ops::Range<u64>,
) -> Vec<SignedTransaction> {
    let chain_id = genesis.digest();
    let mut txs = Vec::new();
    for nonce in nonces {
        for (i, user) in users.iter().enumerate() {
            let to = users[(i + 1) % users.len()].address();
            let call = Call::Transfer { to, amount: Frost(1_000 + nonce) };
            let data = TransactionData { chain_id, sender: user.address(), nonce, fee: Frost(1_000), call };
            txs.push(data.sign(user));
        }
    }
    txs
}
