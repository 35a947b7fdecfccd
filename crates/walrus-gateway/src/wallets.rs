//! The publisher's wallets (the reference's `--sub-wallets-dir`, `--n-clients`): stores run
//! from sub-wallets, each an account with its own nonces, so one publisher stores several
//! blobs at once without their transactions queuing behind one account's; the main wallet keeps
//! them funded and receives the blob objects they create (unless `send_object_to` names
//! someone else, or `--burn-after-store` burns them). Without sub-wallets the main wallet
//! stores, one transaction at a time.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use walrus_chain::tx::Call;
use walrus_chain::Frost;
use walrus_chain_client::ClientError;
use walrus_core::ObjectId;
use walrus_sdk::Client;

use crate::publisher::Receiver;

/// Sub-wallets and how they are kept funded.
#[derive(Debug, Clone)]
pub struct SubWallets {
    /// Their clients (the caller keeps their keys).
    pub clients: Vec<Client>,
    /// How often their balances are looked at.
    pub refill_interval: Duration,
    /// What a sub-wallet below `min_balance` is sent by the main wallet, in FROST.
    pub refill_amount: u64,
    /// The balance under which a sub-wallet is refilled, in FROST.
    pub min_balance: u64,
}

/// The wallets stores are paid from.
pub(crate) struct Writers {
    main: Client,
    /// Sub-wallets not storing now.
    free: Mutex<Vec<Client>>,
    /// One permit per sub-wallet; none when there are none.
    available: Option<Semaphore>,
    burn_after_store: bool,
    refill: Option<tokio::task::JoinHandle<()>>,
}

/// A wallet taken for one store; a sub-wallet goes back when this is dropped.
pub(crate) struct Lease<'a> {
    writers: &'a Writers,
    client: Option<Client>,
    _permit: Option<SemaphorePermit<'a>>,
}

impl std::ops::Deref for Lease<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        self.client.as_ref().unwrap_or(&self.writers.main)
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            self.writers.free.lock().unwrap_or_else(|e| e.into_inner()).push(client);
        }
    }
}

impl Drop for Writers {
    fn drop(&mut self) {
        if let Some(refill) = &self.refill {
            refill.abort();
        }
    }
}

impl Writers {
    /// The main wallet, and its sub-wallets (funded once before this returns, then every
    /// refill interval).
    pub(crate) async fn new(main: Client, sub: Option<SubWallets>, burn_after_store: bool) -> Writers {
        let Some(sub) = sub.filter(|sub| !sub.clients.is_empty()) else {
            return Writers { main, free: Mutex::default(), available: None, burn_after_store, refill: None };
        };
        refill_once(&main, &sub).await;
        let (background, funded) = (main.clone(), sub.clone());
        let refill = tokio::spawn(async move {
            loop {
                tokio::time::sleep(funded.refill_interval).await;
                refill_once(&background, &funded).await;
            }
        });
        Writers {
            available: Some(Semaphore::new(sub.clients.len())),
            free: Mutex::new(sub.clients),
            main,
            burn_after_store,
            refill: Some(refill),
        }
    }

    /// A wallet to store from: a free sub-wallet (waiting for one), else the main wallet.
    pub(crate) async fn lease(&self) -> Lease<'_> {
        let Some(available) = &self.available else {
            return Lease { writers: self, client: None, _permit: None };
        };
        let permit = available.acquire().await.ok();
        let client = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop();
        Lease { writers: self, client, _permit: permit }
    }

    /// After `by` stored a new blob object: it goes to `send_object_to`, or is shared, or else
    /// is burnt with `--burn-after-store`, or else goes to (or stays with) the main wallet.
    pub(crate) async fn settle(
        &self,
        by: &Client,
        object: ObjectId,
        receiver: Receiver,
    ) -> Result<(), ClientError> {
        let main = self.main.wallet().address();
        match receiver {
            Receiver::Address(to) => by.transfer_object(object, to).await,
            Receiver::Shared => by.execute(Call::ShareBlob { blob: object, funds: Frost(0) }).await.map(drop),
            Receiver::Wallet if self.burn_after_store => {
                by.execute(Call::BurnBlob { blob: object }).await.map(drop)
            }
            Receiver::Wallet if by.wallet().address() != main => by.transfer_object(object, main).await,
            Receiver::Wallet => Ok(()),
        }
    }
}

/// Sends `refill_amount` from the main wallet to each sub-wallet below `min_balance`.
async fn refill_once(main: &Client, sub: &SubWallets) {
    for client in &sub.clients {
        let address = client.wallet().address();
        match main.chain().account(&address).await {
            Ok(view) if view.account.balance.0 < sub.min_balance => {
                let call = Call::Transfer { to: address, amount: Frost(sub.refill_amount) };
                if let Err(e) = main.execute(call).await {
                    tracing::warn!("cannot refill sub-wallet {address}: {e}");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("cannot read the balance of sub-wallet {address}: {e}"),
        }
    }
}
