//! The faucet of a local network: an ordinary account, funded at genesis, whose key the host
//! holds and signs transfers with. No WAL is minted, so the supply stays fixed.
//!
//! It exists only when the host is given the key and listens on a loopback address.

use axum::http::StatusCode;
use tokio::sync::Mutex;
use walrus_chain::{Call, Frost, TransactionData, TxStatus};
use walrus_core::keys::{Address, Ed25519KeyPair};

use crate::chain::Executed;
use crate::rpc::{ApiError, Rpc, SUBMIT_WAIT_DEFAULT};

/// Most FROST one faucet request may ask for (1,000 WAL).
pub const FAUCET_REQUEST_MAX: u64 = 1_000 * walrus_chain::amount::FROST_PER_WAL;

/// The faucet account.
pub struct Faucet {
    key: Ed25519KeyPair,
    /// Requests are served one at a time, so that each takes the next nonce.
    turn: Mutex<()>,
}

impl Faucet {
    /// A faucet signing with `key`.
    pub fn new(key: Ed25519KeyPair) -> Self {
        Faucet { key, turn: Mutex::new(()) }
    }

    /// The faucet's address.
    pub fn address(&self) -> Address {
        self.key.address()
    }

    /// Sends `amount` FROST to `to` and waits for the transfer to be final.
    pub(crate) async fn send(&self, rpc: &Rpc, to: Address, amount: u64) -> Result<Executed, ApiError> {
        if amount == 0 || amount > FAUCET_REQUEST_MAX {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidAmount",
                format!("amount must be in 1..={FAUCET_REQUEST_MAX} FROST"),
            ));
        }
        let _turn = self.turn.lock().await;
        let tx = {
            let state = rpc.chain.state();
            TransactionData {
                chain_id: state.chain_id,
                sender: self.address(),
                nonce: state.account(&self.address()).nonce,
                fee: state.system.params.min_fee,
                call: Call::Transfer { to, amount: Frost(amount) },
            }
            .sign(&self.key)
        };
        let digest = tx.data.digest();
        let waiter = rpc.chain.wait_for(digest);
        if let Err(e) = rpc.orderer.submit(tx) {
            rpc.chain.forget(&digest);
            return Err(e.into());
        }
        let executed = tokio::time::timeout(SUBMIT_WAIT_DEFAULT, waiter)
            .await
            .map_err(|_| {
                ApiError::new(StatusCode::GATEWAY_TIMEOUT, "Timeout", "the transfer is not final yet")
            })?
            .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Stopped", "the chain stopped"))?;
        match &executed.1.status {
            TxStatus::Success => Ok(executed),
            TxStatus::Failed { message, .. } | TxStatus::Skipped { reason: message } => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "FaucetFailed",
                format!("the faucet's transfer failed: {message}"),
            )),
        }
    }
}
