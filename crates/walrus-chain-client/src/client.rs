//! The Rust client of the chain RPC, for storage nodes, the SDK and the CLI.
//!
//! A client may be given several validators' RPC URLs (a comma-separated list): it sends each
//! request to the one that answered last, and moves on to the next when a validator cannot be
//! reached or says it is unavailable (502, 503). A submission that reached a validator is not
//! sent again on a timeout (504): the transaction waits in the validators' mempools, and the
//! caller gets the error within [`SUBMIT_TIMEOUT`].

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use walrus_chain::{Call, EventCursor, Frost, SignedTransaction, TransactionData, TxDigest, TxStatus};
use walrus_core::keys::{Address, Ed25519KeyPair};

use crate::wire::{
    format_cursor, ErrorBody, EventPage, ExecutedTx, FaucetRequest, FinalizedBlock, Health, ObjectView,
    OwnedObjectsPage, OWNED_OBJECTS_PAGE_MAX,
};

/// What a validator answered: the request URL, the status and the whole body.
type Answer = (String, reqwest::StatusCode, bytes::Bytes);

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
    /// The answer does not prove what it claims (a lying or broken validator).
    #[error("chain RPC at {url}: not proven: {reason}")]
    Unproven {
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

/// A client of the chain's validators.
#[derive(Debug, Clone)]
pub struct ChainClient {
    bases: Arc<Vec<String>>,
    /// The index of the validator that answered last.
    current: Arc<AtomicUsize>,
    http: reqwest::Client,
    /// The chain ID the genesis must have (see [`crate::proven`]), or why the one given does
    /// not parse.
    pub(crate) pinned: Option<Result<walrus_core::hash::Digest, String>>,
    /// The genesis validators, once fetched.
    pub(crate) trust: Arc<std::sync::OnceLock<Arc<crate::proven::Trust>>>,
    /// The newest block this client saw run one of its transactions.
    seen: Arc<AtomicU64>,
}

/// A chain ID as `0x` and 64 hex digits (or the digits alone).
fn parse_chain_id(text: &str) -> Result<walrus_core::hash::Digest, String> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    let bytes = hex::decode(digits).map_err(|e| format!("chain ID {text:?} is not hex: {e}"))?;
    bytes.try_into().map_err(|_| format!("chain ID {text:?} is not 32 bytes"))
}

/// Whether a request that got `status` should go to the next validator.
fn unavailable(status: reqwest::StatusCode) -> bool {
    matches!(status.as_u16(), 502 | 503)
}

impl ChainClient {
    /// A client of the validator RPC at `base` (for example `http://127.0.0.1:9184`), or of
    /// several, comma-separated, that it fails over between. A chain ID after a `#` at the end
    /// (`http://a:9184,http://b:9184#0x59cc…`) pins the chain: the client refuses a genesis
    /// with another digest (see [`crate::proven`]).
    pub fn new(base: &str) -> Self {
        let http = walrus_tls::http_client().build().expect("a client without TLS always builds");
        let (base, pinned) = match base.rsplit_once('#') {
            Some((list, pin)) => (list, Some(parse_chain_id(pin.trim()))),
            None => (base, None),
        };
        let mut bases: Vec<String> = base
            .split(',')
            .map(|b| b.trim().trim_end_matches('/').to_string())
            .filter(|b| !b.is_empty())
            .collect();
        if bases.is_empty() {
            bases.push(String::new());
        }
        ChainClient {
            bases: Arc::new(bases),
            current: Arc::new(AtomicUsize::new(0)),
            http,
            pinned,
            trust: Arc::default(),
            seen: Arc::default(),
        }
    }

    /// The base URL of the validator requests go to now.
    pub fn base(&self) -> &str {
        &self.bases[self.current.load(Ordering::Relaxed) % self.bases.len()]
    }

    /// Every validator's base URL.
    pub fn bases(&self) -> &[String] {
        &self.bases
    }

    /// Sends the request `build` makes for a base URL to the current validator, and to the
    /// next ones while a validator is unreachable or unavailable (or, if `idempotent`, fails in
    /// any other way on the wire: a timeout, a reset connection from a validator killed at that
    /// moment, or a body cut off mid-answer). Returns the request URL, the status and the body.
    async fn send(
        &self,
        path: &str,
        idempotent: bool,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<Answer, ClientError> {
        let first = self.current.load(Ordering::Relaxed);
        let count = self.bases.len();
        let mut last = None;
        for attempt in 0..count {
            let index = (first + attempt) % count;
            let url = format!("{}{path}", self.bases[index]);
            match build(&url).send().await {
                Ok(response) if attempt + 1 < count && unavailable(response.status()) => {
                    tracing::debug!(url, status = %response.status(), "chain validator unavailable; trying the next");
                }
                Ok(response) => {
                    self.current.store(index, Ordering::Relaxed);
                    let status = response.status();
                    match response.bytes().await {
                        Ok(bytes) => return Ok((url, status, bytes)),
                        Err(source) if idempotent => {
                            tracing::debug!(
                                url,
                                "chain validator's answer cut off ({source}); trying the next"
                            );
                            last = Some(ClientError::Transport { url, source });
                        }
                        Err(source) => return Err(ClientError::Transport { url, source }),
                    }
                }
                Err(source) if idempotent || source.is_connect() => {
                    tracing::debug!(url, "chain validator unreachable ({source}); trying the next");
                    last = Some(ClientError::Transport { url, source });
                }
                Err(source) => return Err(ClientError::Transport { url, source }),
            }
        }
        Err(last.expect("at least one base URL"))
    }

    fn answer<T: DeserializeOwned>((url, status, bytes): Answer) -> Result<T, ClientError> {
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

    /// The newest block this client saw run one of its transactions (0 if none).
    pub fn seen_height(&self) -> u64 {
        self.seen.load(Ordering::Relaxed)
    }

    fn saw(&self, executed: Result<ExecutedTx, ClientError>) -> Result<ExecutedTx, ClientError> {
        if let Ok(executed) = &executed {
            self.seen.fetch_max(executed.height, Ordering::Relaxed);
        }
        executed
    }

    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        timeout: Duration,
    ) -> Result<T, ClientError> {
        Self::answer(self.send(path, true, |url| self.http.get(url).timeout(timeout)).await?)
    }

    /// Submits `tx` and waits for it to be final; returns its effects whatever its status.
    pub async fn submit(&self, tx: &SignedTransaction) -> Result<ExecutedTx, ClientError> {
        let body = tx.to_bcs();
        let answer = self
            .send("/v1/transactions", false, |url| {
                self.http
                    .post(url)
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .body(body.clone())
                    .timeout(SUBMIT_TIMEOUT)
            })
            .await?;
        self.saw(Self::answer(answer))
    }

    /// The effects of an executed transaction.
    pub async fn transaction(&self, digest: &TxDigest) -> Result<ExecutedTx, ClientError> {
        self.saw(self.get(&format!("/v1/transactions/{digest}"), READ_TIMEOUT).await)
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

    /// The object IDs of the registered key servers (at most [`crate::wire::KEY_SERVERS_MAX`];
    /// not proven: read each object with a proof).
    pub async fn key_server_ids(&self) -> Result<Vec<walrus_core::ObjectId>, ClientError> {
        let list: crate::wire::KeyServerList = self.get("/v1/key-servers", READ_TIMEOUT).await?;
        Ok(list.key_servers)
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

    /// The block at `height`, after checking that a quorum of `validators` (the genesis
    /// validators, which the caller trusts) finalized it.
    pub async fn finalized_block(
        &self,
        height: u64,
        validators: &[walrus_chain::GenesisValidator],
    ) -> Result<walrus_chain::Block, ClientError> {
        let path = format!("/v1/blocks/{height}");
        let answer: FinalizedBlock = self.get(&path, READ_TIMEOUT).await?;
        let unproven =
            |reason: String| ClientError::Unproven { url: format!("{}{path}", self.base()), reason };
        let bytes = hex::decode(&answer.block).map_err(|e| unproven(format!("block is not hex: {e}")))?;
        let block: walrus_chain::Block =
            bcs::from_bytes(&bytes).map_err(|e| unproven(format!("block does not decode: {e}")))?;
        if block.height != height || answer.height != height {
            return Err(unproven(format!("asked for height {height}, got block {}", block.height)));
        }
        walrus_chain::finality::verify_finality(validators, &block.digest(), &answer.proof)
            .map_err(|e| unproven(e.to_string()))?;
        Ok(block)
    }

    /// Liveness, chain ID and head.
    pub async fn health(&self) -> Result<Health, ClientError> {
        self.get("/v1/health", READ_TIMEOUT).await
    }

    /// Asks a local network's faucet for `amount` FROST.
    pub async fn faucet(&self, address: Address, amount: u64) -> Result<ExecutedTx, ClientError> {
        let request = FaucetRequest { address, amount };
        let answer = self
            .send("/v1/faucet", false, |url| self.http.post(url).json(&request).timeout(SUBMIT_TIMEOUT))
            .await?;
        self.saw(Self::answer(answer))
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
