//! Storing and reading blobs through the chain and the storage nodes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use walrus_chain::objects::{ObjectBody, Owner};
use walrus_chain::system::{Committee, Parameters};
use walrus_chain::tx::CertificateArgs;
use walrus_chain::{Call, EventEnvelope};
use walrus_chain_client::wire::BlobView;
use walrus_chain_client::{ChainClient, ClientError};
use walrus_core::encode::encode_blob;
use walrus_core::keys::Ed25519KeyPair;
use walrus_core::messages::Certificate;
use walrus_core::{BlobId, EncodingParams, Epoch, ObjectId};
use walrus_node_client::SliverSource;

use crate::blocklist::Blocklist;
use crate::relay::Raw;
use crate::upload::Confirmed;

/// Attempts per node for the upload and the confirmation.
pub const NODE_ATTEMPTS_MAX: u32 = 5;
/// First pause between attempts (doubling).
pub const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// How to store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Epochs ahead to store for (1..=max epochs ahead).
    pub epochs_ahead: u32,
    /// A deletable blob (the owner may delete it before it expires).
    pub deletable: bool,
    /// Store even if the blob is already certified for long enough.
    pub force: bool,
    /// Buy new storage and register anew, reusing none of the wallet's storage resources or
    /// uncertified registrations (the reference's `--ignore-resources`).
    pub ignore_resources: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { epochs_ahead: 1, deletable: true, force: false, ignore_resources: false }
    }
}

/// How a store ended, as the reference's `BlobStoreResult`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobStoreResult {
    /// The blob was encoded, registered, uploaded and certified now.
    NewlyCreated(StoreResult),
    /// A certified object already keeps the blob long enough (a permanent one, or a deletable
    /// one this wallet owns); nothing was written.
    AlreadyCertified {
        /// The blob ID.
        blob_id: BlobId,
        /// The certified object.
        object_id: ObjectId,
        /// The epoch from which it is no longer stored.
        end_epoch: Epoch,
    },
    /// The blob ID is marked invalid on chain (its encoding is inconsistent): it cannot be
    /// stored; nothing was written.
    MarkedInvalid {
        /// The blob ID.
        blob_id: BlobId,
        /// The event that marked it, if the chain host reports it.
        event: Option<EventEnvelope>,
    },
}

impl BlobStoreResult {
    /// The blob ID, any way.
    pub fn blob_id(&self) -> &BlobId {
        match self {
            BlobStoreResult::NewlyCreated(result) => &result.blob_id,
            BlobStoreResult::AlreadyCertified { blob_id, .. }
            | BlobStoreResult::MarkedInvalid { blob_id, .. } => blob_id,
        }
    }

    /// The reference's JSON `BlobStoreResult` (`newlyCreated`, `alreadyCertified`,
    /// `markedInvalid`), as the CLI's `--json` and the publisher both answer.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            BlobStoreResult::NewlyCreated(stored) => {
                let blob = &stored.blob_object;
                let resource = match stored.resource {
                    ResourceOperation::RegisterFromScratch { encoded_length, epochs_ahead } => json!({
                        "registerFromScratch": { "encodedLength": encoded_length, "epochsAhead": epochs_ahead }
                    }),
                    ResourceOperation::ReuseStorage { encoded_length } => {
                        json!({ "reuseStorage": { "encodedLength": encoded_length } })
                    }
                    ResourceOperation::ReuseRegistration { encoded_length } => {
                        json!({ "reuseRegistration": { "encodedLength": encoded_length } })
                    }
                };
                json!({ "newlyCreated": {
                    "blobObject": crate::blobs::blob_object_json(stored.object_id, blob),
                    "resourceOperation": resource,
                    "cost": stored.cost,
                }})
            }
            BlobStoreResult::AlreadyCertified { blob_id, object_id, end_epoch } => json!({
                "alreadyCertified": { "blobId": blob_id.to_string(), "object": object_id, "endEpoch": end_epoch.0 }
            }),
            BlobStoreResult::MarkedInvalid { blob_id, event } => json!({
                "markedInvalid": { "blobId": blob_id.to_string(), "event": event.as_ref().map(EventEnvelope::event_id) }
            }),
        }
    }
}

/// Where a new blob's storage came from, as the reference's `resourceOperation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceOperation {
    /// Storage bought for this blob and registered.
    RegisterFromScratch {
        /// Encoded bytes bought.
        encoded_length: u64,
        /// Epochs bought.
        epochs_ahead: u32,
    },
    /// A storage resource the wallet owned, registered.
    ReuseStorage {
        /// Encoded bytes used.
        encoded_length: u64,
    },
    /// A registration the wallet had left uncertified.
    ReuseRegistration {
        /// Encoded bytes.
        encoded_length: u64,
    },
}

/// What a store did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreResult {
    /// The blob ID.
    pub blob_id: BlobId,
    /// The new blob object.
    pub object_id: ObjectId,
    /// Unencoded size in bytes.
    pub unencoded_size: u64,
    /// Encoded size in bytes (what the storage resource covers).
    pub encoded_size: u64,
    /// The epoch it was certified in.
    pub certified_epoch: Epoch,
    /// Shards whose nodes confirmed.
    pub confirmed_shards: usize,
    /// Where its storage came from.
    pub resource: ResourceOperation,
    /// What the store cost in FROST: storage bought (price per unit, units, epochs) plus the
    /// write fee, as the chain charges them; 0 when a registration was reused.
    pub cost: u64,
    /// The blob object as the chain holds it after certification.
    pub blob_object: Box<walrus_chain::objects::BlobObject>,
    /// The sliver bytes sent before certification, and those the nodes held already.
    pub uploaded: crate::upload::Uploaded,
}

/// Why a store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The blob is too large for this system.
    #[error(transparent)]
    TooLarge(#[from] walrus_core::params::DataTooLargeError),
    /// A chain request or transaction failed.
    #[error(transparent)]
    Chain(#[from] ClientError),
    /// Not enough nodes confirmed.
    #[error("confirmations cover {confirmed} of {n_shards} shards, below a quorum; failures: {failures}")]
    NoQuorum {
        /// Shards confirmed.
        confirmed: usize,
        /// All shards.
        n_shards: usize,
        /// What the nodes said.
        failures: String,
    },
    /// The blob ID is on this client's blocklist.
    #[error("blob {0} is blocked")]
    Blocked(BlobId),
    /// The epochs asked for are outside what the chain sells (checked before anything is
    /// bought, so no fee is spent on a transaction that would fail).
    #[error("{asked} epochs ahead asked; the chain sells 1 to {max}")]
    InvalidEpochs {
        /// Epochs asked for.
        asked: u32,
        /// The chain's `max_epochs_ahead`.
        max: u32,
    },
    /// The chain's system state could not be read, so no blob of the batch was stored.
    #[error("cannot read the network from the chain: {0}")]
    Network(Arc<ClientError>),
    /// A task of the store panicked or was cancelled.
    #[error("a store task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The blob's store ended without a result (its task was lost).
    #[error("the blob's store ended without a result")]
    NoResult,
    /// The confirmations do not aggregate into a certificate.
    #[error("the confirmations do not aggregate: {0}")]
    Certificate(#[from] walrus_core::messages::MessageError),
    /// The chain's object after certification is not a blob.
    #[error("the certified object {0} is not a blob on chain")]
    NotABlob(ObjectId),
    /// A transaction that creates an object created none.
    #[error("the transaction created no object")]
    NoObjectCreated,
    /// The file could not be read or encoded in the memory budget.
    #[error(transparent)]
    File(#[from] crate::streaming::EncodeFileError),
    /// The files do not make a quilt (identifiers, count, size).
    #[error(transparent)]
    Quilt(#[from] walrus_core::quilt::QuiltError),
    /// The upload relay refused the blob or failed (its HTTP status, if it answered).
    #[error("upload relay{}: {message}", status.map(|s| format!(" ({s})")).unwrap_or_default())]
    Relay {
        /// The HTTP status of its answer.
        status: Option<u16>,
        /// What it said, or what went wrong.
        message: String,
    },
}

/// Most input bytes encoded and uploaded at once by [`Client::store_many`] (the encoded form
/// is about 4.5 times larger and stays in memory until the upload ends).
pub const GROUP_BYTES_MAX: usize = 256 << 20;

/// What a store or read has reached, for progress displays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The blob is encoded; its ID is known.
    Encoded {
        /// The blob ID.
        blob_id: BlobId,
    },
    /// The blob object to upload for exists on chain.
    Registered {
        /// The blob ID.
        blob_id: BlobId,
        /// Its object.
        object_id: ObjectId,
    },
    /// A node confirmed; `confirmed` of `n_shards` shards so far.
    Confirmed {
        /// The blob ID.
        blob_id: BlobId,
        /// Shards whose nodes confirmed.
        confirmed: usize,
        /// All shards.
        n_shards: usize,
    },
    /// The certificate is on chain.
    Certified {
        /// The blob ID.
        blob_id: BlobId,
    },
    /// A read has `have` of the `need` primary slivers.
    Slivers {
        /// The blob ID.
        blob_id: BlobId,
        /// Verified slivers.
        have: usize,
        /// Needed.
        need: usize,
    },
    /// A range read rebuilt `slivers` rows its nodes did not serve from other nodes' recovery
    /// symbols.
    Recovered {
        /// The blob ID.
        blob_id: BlobId,
        /// Rows rebuilt.
        slivers: usize,
    },
    /// An upload has sent `sent` sliver bytes of `total` (all members together); the members
    /// held `held` already (a resumed store).
    Sent {
        /// The blob ID.
        blob_id: BlobId,
        /// Sliver bytes sent so far.
        sent: u64,
        /// Sliver bytes the members held.
        held: u64,
        /// Sliver bytes of every member.
        total: u64,
    },
}

/// A progress callback.
#[derive(Clone)]
struct ProgressFn(Arc<dyn Fn(Progress) + Send + Sync>);

impl std::fmt::Debug for ProgressFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressFn")
    }
}

/// A client of one network: its chain and, through the committee, its storage nodes. Clones
/// share the wallet and submit its transactions one at a time (each takes the next nonce).
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) chain: ChainClient,
    pub(crate) wallet: Arc<Ed25519KeyPair>,
    /// Connections to the storage nodes, each pinned to its registered network key.
    pub(crate) nodes: walrus_node_client::NodeConnector,
    pub(crate) tx_turn: Arc<tokio::sync::Mutex<()>>,
    progress: Option<ProgressFn>,
    blocklist: Option<Blocklist>,
    /// The memory a store from a file may use ([`Client::with_memory_budget`]).
    pub(crate) memory_budget: usize,
    /// Where the streaming encoder keeps its scratch files (default: the temporary directory).
    pub(crate) scratch_dir: Option<std::path::PathBuf>,
    /// The upload relay stores go through ([`Client::with_upload_relay`]), if any.
    pub(crate) relay: Option<Arc<str>>,
    /// How long, in all, a read waits for nodes that pause a blob's slivers during a storage
    /// challenge ([`Client::with_challenge_wait`]).
    pub(crate) challenge_wait: std::time::Duration,
}

/// A blob after [`Client::prepare`].
enum Prepared {
    /// Nothing more to do.
    Done(BlobStoreResult),
    /// Upload it for this blob object.
    Upload(Arc<dyn SliverSource>, Registered),
}

/// The encoding of one blob to store: the in-memory or the streaming encoder's.
pub(crate) type Encoder = Box<dyn FnOnce(EncodingParams) -> Result<Arc<dyn SliverSource>, StoreError> + Send>;

/// A blob to store: its length (to group blobs by), how it is encoded, and its bytes (for an
/// upload relay).
pub(crate) struct Input {
    pub(crate) len: u64,
    pub(crate) encode: Encoder,
    pub(crate) raw: Raw,
}

impl Input {
    /// A blob held in memory, encoded in memory.
    pub(crate) fn bytes(data: Vec<u8>) -> Input {
        let data = bytes::Bytes::from(data);
        let raw = Raw::Bytes(data.clone());
        Input {
            len: data.len() as u64,
            encode: Box::new(
                move |params| Ok(Arc::new(encode_blob(params, &data)?) as Arc<dyn SliverSource>),
            ),
            raw,
        }
    }
}

/// What the chain says a store works from: the encoding, the committee, the prices.
pub(crate) struct Network {
    pub(crate) params: EncodingParams,
    pub(crate) committee: Committee,
    prices: Parameters,
}

/// A blob object to upload for, how it was obtained, and what that cost in FROST (storage
/// bought plus the write fee, as the chain charges them).
#[derive(Debug, Clone)]
pub(crate) struct Registered {
    pub(crate) object_id: ObjectId,
    resource: ResourceOperation,
    cost: u64,
}

impl Client {
    /// A client of the chain at `chain_url` that pays with `wallet`.
    pub fn new(chain_url: &str, wallet: Ed25519KeyPair) -> Self {
        Client {
            chain: ChainClient::new(chain_url),
            wallet: Arc::new(wallet),
            nodes: walrus_node_client::NodeConnector::new(),
            tx_turn: Arc::default(),
            progress: None,
            blocklist: None,
            memory_budget: crate::streaming::MEMORY_BUDGET_DEFAULT,
            scratch_dir: None,
            relay: None,
            challenge_wait: crate::read::CHALLENGE_WAIT_MAX,
        }
    }

    /// A client for reads and chain queries only (an aggregator): its wallet is a fixed key that
    /// is never funded, so anything that must pay fails on chain.
    pub fn read_only(chain_url: &str) -> Self {
        Client::new(chain_url, Ed25519KeyPair::from_seed(&[0u8; 32]))
    }

    /// This client, reporting what its stores and reads reach to `progress`.
    pub fn with_progress(mut self, progress: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(ProgressFn(Arc::new(progress)));
        self
    }

    /// This client, refusing to store or read the blob IDs of `blocklist`
    /// ([`StoreError::Blocked`], [`crate::ReadError::Blocked`]).
    pub fn with_blocklist(mut self, blocklist: Blocklist) -> Self {
        self.blocklist = Some(blocklist);
        self
    }

    /// This client, keeping a store from a file ([`Client::store_file`]) within `bytes` of
    /// memory, and its scratch files in `scratch_dir` (default: the temporary directory).
    pub fn with_memory_budget(mut self, bytes: usize, scratch_dir: Option<std::path::PathBuf>) -> Self {
        self.memory_budget = bytes;
        self.scratch_dir = scratch_dir;
        self
    }

    /// This client, waiting at most `wait` in all (default [`crate::CHALLENGE_WAIT_MAX`])
    /// for nodes that pause a blob's slivers during a storage challenge before a read fails with
    /// [`crate::ReadError::ChallengePaused`] (zero: at once, as a server that must not hold a
    /// request does).
    pub fn with_challenge_wait(mut self, wait: std::time::Duration) -> Self {
        self.challenge_wait = wait;
        self
    }

    /// Whether `blob_id` is on this client's blocklist.
    pub fn is_blocked(&self, blob_id: &BlobId) -> bool {
        self.blocklist.as_ref().is_some_and(|list| list.contains(blob_id))
    }

    pub(crate) fn report(&self, progress: Progress) {
        if let Some(ProgressFn(report)) = &self.progress {
            report(progress);
        }
    }

    /// The chain client.
    pub fn chain(&self) -> &ChainClient {
        &self.chain
    }

    /// The wallet that pays.
    pub fn wallet(&self) -> &Ed25519KeyPair {
        &self.wallet
    }

    /// The chain's view a store works from, read once per call.
    pub(crate) async fn network(&self) -> Result<Network, ClientError> {
        let system = self.chain.system().await?.system;
        let params = EncodingParams::new(u64::from(system.params.n_shards))
            .map_err(|e| ClientError::Decode { url: self.chain.base().into(), reason: e.to_string() })?;
        Ok(Network { params, committee: system.committee, prices: system.params })
    }

    /// Stores `data`: [`Client::store_many`] with one blob.
    pub async fn store(&self, data: Vec<u8>, options: StoreOptions) -> Result<BlobStoreResult, StoreError> {
        self.store_many(vec![data], options).await.pop().unwrap_or(Err(StoreError::NoResult))
    }

    /// Stores the file at `path` within the client's memory budget
    /// ([`Client::with_memory_budget`]): encoded in memory if that fits, else streamed from the
    /// file ([`crate::streaming`]), never held whole. As [`Client::store`] otherwise; a store
    /// that stopped after registering resumes, uploading only the slivers the nodes lack.
    pub async fn store_file(
        &self,
        path: &std::path::Path,
        options: StoreOptions,
    ) -> Result<BlobStoreResult, StoreError> {
        let len = std::fs::metadata(path)
            .map_err(|source| crate::streaming::EncodeFileError::Io { path: path.into(), source })?
            .len();
        let raw = Raw::File(path.to_path_buf());
        let (path, budget, scratch) = (path.to_path_buf(), self.memory_budget, self.scratch_dir.clone());
        let encode: Encoder = Box::new(move |params| {
            Ok(crate::streaming::encode_file(params, &path, budget, scratch.as_deref())?)
        });
        self.store_inputs(vec![Input { len, encode, raw }], options)
            .await
            .pop()
            .unwrap_or(Err(StoreError::NoResult))
    }

    /// Stores several blobs, one result each, in order. For each: encode; unless `force`, stop
    /// if it is already certified for long enough; reuse a registration or a storage resource
    /// the wallet owns, or buy storage, and register; upload to every node; certify. The blobs
    /// of a group (up to [`GROUP_BYTES_MAX`] of input) are uploaded concurrently.
    pub async fn store_many(
        &self,
        blobs: Vec<Vec<u8>>,
        options: StoreOptions,
    ) -> Vec<Result<BlobStoreResult, StoreError>> {
        self.store_inputs(blobs.into_iter().map(Input::bytes).collect(), options).await
    }

    pub(crate) async fn store_inputs(
        &self,
        mut blobs: Vec<Input>,
        options: StoreOptions,
    ) -> Vec<Result<BlobStoreResult, StoreError>> {
        if self.relay.is_some() {
            for input in &mut blobs {
                let (raw, scratch) = (input.raw.clone(), self.scratch_dir.clone());
                input.encode = crate::relay::metadata_encoder(raw, self.memory_budget, scratch);
            }
        }
        let count = blobs.len();
        let mut results = Vec::with_capacity(count);
        let network = match self.network().await {
            Ok(found) => found,
            Err(e) => {
                let e = Arc::new(e);
                return (0..count).map(|_| Err(StoreError::Network(Arc::clone(&e)))).collect();
            }
        };
        let mut blobs = blobs.into_iter().peekable();
        while blobs.peek().is_some() {
            let mut group = Vec::new();
            let mut bytes = 0;
            while let Some(next) = blobs.peek() {
                if !group.is_empty() && bytes + next.len > GROUP_BYTES_MAX as u64 {
                    break;
                }
                bytes += next.len;
                group.extend(blobs.next());
            }
            results.extend(self.store_group(group, options, &network).await);
        }
        results
    }

    async fn store_group(
        &self,
        group: Vec<Input>,
        options: StoreOptions,
        network: &Network,
    ) -> Vec<Result<BlobStoreResult, StoreError>> {
        let committee = &network.committee;
        let started = Instant::now();
        let mut results: Vec<Option<Result<BlobStoreResult, StoreError>>> = Vec::new();
        let mut to_upload = Vec::new();
        let mut raws = Vec::new();
        for (position, data) in group.into_iter().enumerate() {
            results.push(None);
            let raw = data.raw.clone();
            match self.prepare(data, options, network).await {
                Ok(Prepared::Done(outcome)) => results[position] = Some(Ok(outcome)),
                Ok(Prepared::Upload(blob, registered)) => {
                    to_upload.push((position, blob, registered));
                    raws.push(raw);
                }
                Err(e) => results[position] = Some(Err(e)),
            }
        }
        let mut tasks = JoinSet::new();
        for (index, ((_, blob, registered), raw)) in to_upload.iter().zip(raws).enumerate() {
            let (client, blob, committee) = (self.clone(), Arc::clone(blob), committee.clone());
            let deletable = options.deletable.then_some(registered.object_id);
            // A registration made before: an earlier store stopped after it, so resume.
            let resume = matches!(registered.resource, ResourceOperation::ReuseRegistration { .. });
            tasks.spawn(async move {
                let confirmed = match client.relay.clone() {
                    Some(relay) => client.upload_via_relay(&relay, &raw, &blob, &committee, deletable).await,
                    None => client.upload_and_confirm(&blob, &committee, deletable, resume).await,
                };
                (index, confirmed)
            });
        }
        let mut confirmed: Vec<Result<Confirmed, StoreError>> = Vec::new();
        confirmed.resize_with(to_upload.len(), || Err(StoreError::NoResult));
        while let Some(joined) = tasks.join_next().await {
            if let Ok((index, outcome)) = joined {
                confirmed[index] = outcome;
            }
        }
        let mut tails = Vec::new();
        for ((position, blob, registered), confirmed) in to_upload.into_iter().zip(confirmed) {
            let outcome = match confirmed {
                Ok(Confirmed { certificate, weight, tail, uploaded }) => {
                    tails.push(tail);
                    self.certify(&blob, registered.clone(), (certificate, weight, uploaded), committee).await
                }
                Err(e) => Err(e),
            };
            let outcome = match outcome {
                Err(e) => {
                    let deletable = options.deletable.then_some(registered.object_id);
                    self.after_epoch_change(&blob, registered, deletable, committee.epoch, e).await
                }
                done => done,
            };
            tracing::debug!("{}: done at {:?}", blob.metadata().blob_id(), started.elapsed());
            results[position] = Some(outcome);
        }
        for tail in tails {
            Confirmed::tail_ends(tail).await;
        }
        results.into_iter().map(|r| r.unwrap_or(Err(StoreError::NoResult))).collect()
    }

    /// Encodes, checks whether the blob is already certified, and registers it.
    async fn prepare(
        &self,
        input: Input,
        options: StoreOptions,
        network: &Network,
    ) -> Result<Prepared, StoreError> {
        let (params, committee) = (network.params, &network.committee);
        let max = network.prices.max_epochs_ahead;
        if options.epochs_ahead == 0 || options.epochs_ahead > max {
            return Err(StoreError::InvalidEpochs { asked: options.epochs_ahead, max });
        }
        let started = Instant::now();
        let blob = tokio::task::spawn_blocking(move || (input.encode)(params)).await??;
        let metadata = blob.metadata();
        let blob_id = *metadata.blob_id();
        self.report(Progress::Encoded { blob_id });
        tracing::debug!("{blob_id}: encoded at {:?}", started.elapsed());
        if self.is_blocked(&blob_id) {
            return Err(StoreError::Blocked(blob_id));
        }
        let until = Epoch(committee.epoch.0.saturating_add(options.epochs_ahead));
        if let Some(view) = crate::blobs::blob_view(&self.chain, &blob_id).await? {
            if view.invalid {
                // The chain refuses to register it again; say so, as the reference does.
                let event = view.invalidation;
                return Ok(Prepared::Done(BlobStoreResult::MarkedInvalid { blob_id, event }));
            }
            if let Some((object_id, end_epoch)) =
                self.certified_until(&view, until).filter(|_| !options.force)
            {
                return Ok(Prepared::Done(BlobStoreResult::AlreadyCertified {
                    blob_id,
                    object_id,
                    end_epoch,
                }));
            }
        }
        let encoded_size = params.encoded_blob_length(metadata.unencoded_length())?;
        let registered =
            self.registration(&blob, encoded_size, options, &network.prices, committee.epoch, until).await?;
        self.report(Progress::Registered { blob_id, object_id: registered.object_id });
        tracing::debug!("{blob_id}: registered at {:?}", started.elapsed());
        Ok(Prepared::Upload(blob, registered))
    }

    /// A blob object to upload `blob` for: one this wallet registered before (uncertified,
    /// same persistence, long enough), else a new registration on a storage resource it owns
    /// (the smallest that fits, split to size), else on newly bought storage.
    async fn registration(
        &self,
        blob: &Arc<dyn SliverSource>,
        encoded_size: u64,
        options: StoreOptions,
        prices: &Parameters,
        epoch: Epoch,
        until: Epoch,
    ) -> Result<Registered, StoreError> {
        let metadata = blob.metadata();
        let _turn = self.tx_turn.lock().await;
        let units = walrus_chain::amount::storage_units(encoded_size);
        let write_cost = prices.write_price_per_unit.0.saturating_mul(units);
        let owned = match options.ignore_resources {
            true => Vec::new(),
            false => self.chain.owned_objects(&self.wallet.address()).await?,
        };
        let registered = owned.iter().find_map(|object| {
            let b = object.object.body.blob()?;
            (b.blob_id == *metadata.blob_id()
                && b.certified_epoch.is_none()
                && b.deletable == options.deletable
                && b.end_epoch() >= until)
                .then_some(object.id)
        });
        if let Some(object_id) = registered {
            let resource = ResourceOperation::ReuseRegistration { encoded_length: encoded_size };
            return Ok(Registered { object_id, resource, cost: 0 });
        }
        let fitting = owned
            .iter()
            .filter_map(|object| match &object.object.body {
                ObjectBody::Storage(storage)
                    if storage.start_epoch <= epoch
                        && storage.end_epoch >= until
                        && storage.storage_size >= encoded_size =>
                {
                    Some(storage)
                }
                _ => None,
            })
            .min_by_key(|storage| (storage.storage_size, storage.end_epoch));
        let (storage, resource, cost) = match fitting {
            Some(storage) => {
                if storage.storage_size > encoded_size {
                    let split = Call::SplitStorageBySize { storage: storage.id, size: encoded_size };
                    self.chain.execute(&self.wallet, split).await?;
                }
                (storage.id, ResourceOperation::ReuseStorage { encoded_length: encoded_size }, write_cost)
            }
            None => {
                let reserve = Call::ReserveSpace { size: encoded_size, epochs_ahead: options.epochs_ahead };
                let created =
                    first_created(&self.chain.execute(&self.wallet, reserve).await?.effects.created)?;
                let bought = ResourceOperation::RegisterFromScratch {
                    encoded_length: encoded_size,
                    epochs_ahead: options.epochs_ahead,
                };
                (created, bought, prices.register_from_scratch_cost(encoded_size, options.epochs_ahead))
            }
        };
        let register = Call::RegisterBlob {
            storage,
            blob_id: *metadata.blob_id(),
            root_hash: metadata.metadata().compute_root_hash(),
            size: metadata.unencoded_length(),
            encoding_type: 1,
            deletable: options.deletable,
        };
        let object_id = first_created(&self.chain.execute(&self.wallet, register).await?.effects.created)?;
        Ok(Registered { object_id, resource, cost })
    }

    pub(crate) async fn certify(
        &self,
        blob: &Arc<dyn SliverSource>,
        Registered { object_id, resource, cost }: Registered,
        (certificate, confirmed_shards, uploaded): (Certificate, usize, crate::upload::Uploaded),
        committee: &Committee,
    ) -> Result<BlobStoreResult, StoreError> {
        let metadata = blob.metadata();
        let certify = Call::CertifyBlob { blob: object_id, certificate: CertificateArgs::from(certificate) };
        self.execute(certify).await?;
        let blob_id = *metadata.blob_id();
        self.report(Progress::Certified { blob_id });
        let object = self.chain.object(&object_id).await?;
        let blob_object =
            object.object.body.blob().cloned().map(Box::new).ok_or(StoreError::NotABlob(object_id))?;
        let params = metadata.params();
        Ok(BlobStoreResult::NewlyCreated(StoreResult {
            blob_id,
            object_id,
            unencoded_size: metadata.unencoded_length(),
            encoded_size: params.encoded_blob_length(metadata.unencoded_length())?,
            certified_epoch: committee.epoch,
            confirmed_shards,
            resource,
            cost,
            blob_object,
            uploaded,
        }))
    }

    /// A certified object in `view` stored at least until `until` that this wallet may rely
    /// on: permanent, or deletable and owned by it.
    fn certified_until(&self, view: &BlobView, until: Epoch) -> Option<(ObjectId, Epoch)> {
        let me = self.wallet.address();
        view.objects.iter().find_map(|object| {
            let blob = object.object.body.blob()?;
            let usable = !blob.deletable || object.object.owner == Owner::Address(me);
            (usable && blob.certified_epoch.is_some() && blob.end_epoch() >= until)
                .then_some((object.id, blob.end_epoch()))
        })
    }
}

fn first_created(created: &[ObjectId]) -> Result<ObjectId, StoreError> {
    created.first().copied().ok_or(StoreError::NoObjectCreated)
}
