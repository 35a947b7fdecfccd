//! The Rust client of the chain RPC, for storage nodes, the SDK and the CLI.

use std::time::Duration;

use serde::de::DeserializeOwned;
use walrus_chain::system::Committee;
use walrus_chain::{Call, EventCursor, Frost, SignedTransaction, TransactionData, TxDigest, TxStatus};
use walrus_core::keys::{Address, Ed25519KeyPair};
use walrus_core::{BlobId, ObjectId};

use crate::wire::{
    format_cursor, AccountView, BlobView, ErrorBody, EventPage, ExecutedTx, FaucetRequest, Health,
    ObjectView, OwnedObjectsPage, SystemView, OWNED_OBJECTS_PAGE_MAX,
};

/// Timeout of a read request.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Timeout of a submission (the server waits up to 10 s for finality by default).
pub const SUBMIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No answer (connection refused, timeout, ...).
    #[error("chain RPC at {url}: {source}")]
    Transport {
        /// The request URL.
        url: String,
        /// The cause.
        source: reqwest::Error,
    },
    /// The server answered with an error.
    #[error("chain RPC: {code} ({status}): {reason}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Stable error code.
        code: String,
        /// Why.
        reason: String,
    },
    /// The answer does not parse.
    #[error("chain RPC at {url}: unexpected response: {reason}")]
    Decode {
        /// The request URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The transaction ran but did not succeed.
    #[error("transaction {digest} {outcome}")]
    TxFailed {
        /// The transaction.
        digest: TxDigest,
        /// `failed with CODE: message` or `was skipped: reason`.
        outcome: String,
        /// The error code when the call failed (`None` when skipped).
        code: Option<String>,
    },
}

impl ClientError {
    /// The API error code, if the server answered with one.
    pub fn api_code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// A client of one chain node.
#[derive(Debug, Clone)]
pub struct ChainClient {
    base: String,
    http: reqwest::Client,
}

impl ChainClient {
    /// A client of the node at `base` (for example `http://127.0.0.1:9184`).
    pub fn new(base: &str) -> Self {
        let http = walrus_tls::http_client().build().expect("a client without TLS always builds");
        ChainClient { base: base.trim_end_matches('/').to_string(), http }
    }

    /// The node's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn answer<T: DeserializeOwned>(url: String, response: reqwest::Response) -> Result<T, ClientError> {
        let status = response.status();
        let bytes =
            response.bytes().await.map_err(|source| ClientError::Transport { url: url.clone(), source })?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => ClientError::Api {
                    status: status.as_u16(),
                    code: body.error.code,
                    reason: body.error.reason,
                },
                Err(_) => ClientError::Api {
                    status: status.as_u16(),
                    code: "Http".into(),
                    reason: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
                },
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode { url, reason: e.to_string() })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, timeout: Duration) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let response = self
            .http
            .get(&url)
            .timeout(timeout)
            .send()
            .await
            .map_err(|source| ClientError::Transport { url: url.clone(), source })?;
        Self::answer(url, response).await
    }

    /// Submits `tx` and waits for it to be final; returns its effects whatever its status.
    pub async fn submit(&self, tx: &SignedTransaction) -> Result<ExecutedTx, ClientError> {
        let url = format!("{}/v1/transactions", self.base);
        let response = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(tx.to_bcs())
            .timeout(SUBMIT_TIMEOUT)
            .send()
            .await
            .map_err(|source| ClientError::Transport { url: url.clone(), source })?;
        Self::answer(url, response).await
    }

    /// The effects of an executed transaction.
    pub async fn transaction(&self, digest: &TxDigest) -> Result<ExecutedTx, ClientError> {
        self.get(&format!("/v1/transactions/{digest}"), READ_TIMEOUT).await
    }

    /// An account's balance and next nonce.
    pub async fn account(&self, address: &Address) -> Result<AccountView, ClientError> {
        self.get(&format!("/v1/accounts/{address}"), READ_TIMEOUT).await
    }

    /// Every object `address` owns, read page by page.
    pub async fn owned_objects(&self, address: &Address) -> Result<Vec<ObjectView>, ClientError> {
        let mut objects = Vec::new();
        let mut after = String::new();
        loop {
            let path = format!("/v1/accounts/{address}/objects?limit={OWNED_OBJECTS_PAGE_MAX}{after}");
            let page: OwnedObjectsPage = self.get(&path, READ_TIMEOUT).await?;
            objects.extend(page.objects);
            match page.next_cursor {
                Some(cursor) => after = format!("&after={cursor}"),
                None => return Ok(objects),
            }
        }
    }

    /// One live object.
    pub async fn object(&self, id: &ObjectId) -> Result<ObjectView, ClientError> {
        self.get(&format!("/v1/objects/{id}"), READ_TIMEOUT).await
    }

    /// The system state.
    pub async fn system(&self) -> Result<SystemView, ClientError> {
        self.get("/v1/system", READ_TIMEOUT).await
    }

    /// The current committee.
    pub async fn committee(&self) -> Result<Committee, ClientError> {
        self.get("/v1/committee", READ_TIMEOUT).await
    }

    /// The blob objects of a blob ID, and whether it is marked invalid.
    pub async fn blob(&self, blob_id: &BlobId) -> Result<BlobView, ClientError> {
        self.get(&format!("/v1/blobs/{blob_id}"), READ_TIMEOUT).await
    }

    /// Up to `limit` events after `after`, waiting up to `wait` for the first one.
    pub async fn events(
        &self,
        after: Option<EventCursor>,
        limit: usize,
        wait: Duration,
    ) -> Result<EventPage, ClientError> {
        let after = after.map(format_cursor).unwrap_or_default();
        let path = format!("/v1/events?after={after}&limit={limit}&wait_ms={}", wait.as_millis());
        self.get(&path, wait + READ_TIMEOUT).await
    }

    /// Liveness, chain ID and head.
    pub async fn health(&self) -> Result<Health, ClientError> {
        self.get("/v1/health", READ_TIMEOUT).await
    }

    /// Asks a local network's faucet for `amount` FROST.
    pub async fn faucet(&self, address: Address, amount: u64) -> Result<ExecutedTx, ClientError> {
        let url = format!("{}/v1/faucet", self.base);
        let response = self
            .http
            .post(&url)
            .json(&FaucetRequest { address, amount })
            .timeout(SUBMIT_TIMEOUT)
            .send()
            .await
            .map_err(|source| ClientError::Transport { url: url.clone(), source })?;
        Self::answer(url, response).await
    }

    /// Signs `call` as `key` with the account's next nonce and the minimum fee, submits it, and
    /// returns its effects if it succeeded.
    pub async fn execute(&self, key: &Ed25519KeyPair, call: Call) -> Result<ExecutedTx, ClientError> {
        let health = self.health().await?;
        let nonce = self.account(&key.address()).await?.account.nonce;
        let tx = TransactionData {
            chain_id: health.chain_id,
            sender: key.address(),
            nonce,
            fee: Frost(health.min_fee),
            call,
        }
        .sign(key);
        let executed = self.submit(&tx).await?;
        check_success(executed)
    }
}

/// `Ok` if the transaction succeeded, [`ClientError::TxFailed`] otherwise.
pub fn check_success(executed: ExecutedTx) -> Result<ExecutedTx, ClientError> {
    let digest = executed.effects.digest;
    match &executed.effects.status {
        TxStatus::Success => Ok(executed),
        TxStatus::Failed { code, message } => Err(ClientError::TxFailed {
            digest,
            outcome: format!("failed with {code}: {message}"),
            code: Some(code.clone()),
        }),
        TxStatus::Skipped { reason } => {
            Err(ClientError::TxFailed { digest, outcome: format!("was skipped: {reason}"), code: None })
        }
    }
}
