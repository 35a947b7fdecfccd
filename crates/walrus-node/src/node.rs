//! The running node: its parts, start-up and shutdown.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use tokio::sync::{oneshot, Semaphore};
use tokio::task::JoinSet;
use walrus_chain_client::ChainClient;
use walrus_chain_node::init::{read_bls, InitError};
use walrus_core::keys::{BlsKeyPair, NetworkPublicKey};
use walrus_core::BlobId;
use walrus_http::ByteBudget;
use walrus_store::NodeStore;

use crate::api::router;
use crate::config::NodeConfig;
use crate::epoch_driver::{ShardStatus, ShardsReady};
use crate::follower::{fetch_view, follow, ChainView, SharedView, ViewError};
use crate::metrics::Metrics;
use crate::pending::PendingUploads;

/// Per-blob locks, striped: writes of a blob's data (uploads, flushes of the pending buffer,
/// recovery) and its confirmations take its stripe shared, so they never wait for each other;
/// garbage collection takes it exclusive, so that between its status check and its deletion no
/// write lands and no confirmation is signed.
pub struct BlobLocks {
    stripes: Vec<RwLock<()>>,
}

impl Default for BlobLocks {
    fn default() -> Self {
        BlobLocks { stripes: (0..BLOB_LOCK_STRIPES).map(|_| RwLock::new(())).collect() }
    }
}

/// Stripes of [`BlobLocks`] (blob IDs are hashes, so they spread evenly).
const BLOB_LOCK_STRIPES: usize = 256;

impl BlobLocks {
    fn stripe_index(&self, blob_id: &BlobId) -> usize {
        usize::from(blob_id.as_bytes()[0]) % self.stripes.len()
    }

    fn stripe(&self, blob_id: &BlobId) -> &RwLock<()> {
        &self.stripes[self.stripe_index(blob_id)]
    }

    /// [`BlobLocks::shared`] for many blobs at once: each stripe once (a thread that read-locks
    /// a stripe twice deadlocks if a writer waits between), in ascending order.
    pub fn shared_many<'a>(
        &self,
        blob_ids: impl IntoIterator<Item = &'a BlobId>,
    ) -> Vec<RwLockReadGuard<'_, ()>> {
        let stripes: std::collections::BTreeSet<usize> =
            blob_ids.into_iter().map(|id| self.stripe_index(id)).collect();
        stripes.into_iter().map(|i| self.stripes[i].read().unwrap_or_else(PoisonError::into_inner)).collect()
    }

    /// For writing the blob's data or signing for it.
    pub fn shared(&self, blob_id: &BlobId) -> RwLockReadGuard<'_, ()> {
        self.stripe(blob_id).read().unwrap_or_else(PoisonError::into_inner)
    }

    /// For collecting the blob.
    pub fn exclusive(&self, blob_id: &BlobId) -> RwLockWriteGuard<'_, ()> {
        self.stripe(blob_id).write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the handlers and background tasks share.
pub struct Node {
    /// The configuration.
    pub config: NodeConfig,
    /// The database.
    pub store: Arc<NodeStore>,
    /// The protocol key.
    pub bls: BlsKeyPair,
    /// The chain.
    pub chain: ChainClient,
    /// Counters.
    pub metrics: Metrics,
    /// Upload slots.
    pub uploads: Arc<Semaphore>,
    /// Bytes of request bodies being received.
    pub upload_bytes: ByteBudget,
    /// Bytes held by responses being built or streamed.
    pub response_bytes: ByteBudget,
    /// Turns of recovery-symbol computations.
    pub symbol_turns: Arc<Semaphore>,
    /// Recovery slots.
    pub recoveries: Arc<Semaphore>,
    /// Connections to other nodes, each pinned to its registered network key.
    pub peers: walrus_node_client::NodeConnector,
    /// Start time.
    pub started: Instant,
    /// Uploads waiting for their registration event.
    pub pending: PendingUploads,
    /// Per-blob locks between writes, confirmations and garbage collection.
    pub blob_locks: BlobLocks,
    /// The newest epoch the chain's events announced; ahead of the view while the committee
    /// of a new epoch has not been read yet.
    pub epoch_seen: std::sync::atomic::AtomicU32,
    /// Bumped after each page of events is applied, so that a request for a blob the node has
    /// not seen registered yet can wait for the follower a moment.
    pub events_applied: tokio::sync::watch::Sender<u64>,
    pub(crate) view: SharedView,
    /// What may be served while storage challenges run ([`crate::challenge`]).
    pub challenge: crate::challenge::Gate,
    /// Tallies of other nodes' challenge items.
    pub verifier: crate::challenge::Verifier,
    /// The last epoch whose challenge this node set out to prove (`u32::MAX`: none).
    pub(crate) proving: std::sync::atomic::AtomicU32,
    /// Blobs being recovered now: one recovery per blob at a time.
    pub(crate) healing: Mutex<BTreeSet<BlobId>>,
    /// Wakes recoveries waiting out their backoff (an epoch change made peers newly able to
    /// serve them, or a node waits on them to report its sync).
    pub(crate) heal_wake: tokio::sync::Notify,
    /// The operator's key, read from `owner_key` when first needed.
    owner: std::sync::OnceLock<walrus_core::keys::Ed25519KeyPair>,
    /// Tasks the follower started (delayed recoveries, garbage collection): stopped with the
    /// node, so that nothing holds the store open after it.
    background: Mutex<JoinSet<()>>,
    /// The latest epoch for which this node holds all its shards (what `EpochSyncDone` reports).
    pub shards_ready: ShardsReady,
    /// Shards not ready yet, and why (`/v1/health`).
    pub(crate) shard_status: Mutex<std::collections::BTreeMap<walrus_core::ShardIndex, ShardStatus>>,
}

impl Node {
    /// Sets the status of `shards` (`None`: ready).
    pub(crate) fn set_shard_status(&self, shards: &[walrus_core::ShardIndex], status: Option<ShardStatus>) {
        let mut statuses = self.shard_status.lock().unwrap_or_else(PoisonError::into_inner);
        for shard in shards {
            match status {
                Some(status) => statuses.insert(*shard, status),
                None => statuses.remove(shard),
            };
        }
    }

    /// Each shard the node owns, in order, with its status as `/v1/health` names it: `ready`,
    /// `inTransfer` or `inRecovery`.
    pub fn owned_shard_statuses(&self) -> Vec<(walrus_core::ShardIndex, &'static str)> {
        let view = self.view();
        let statuses = self.shard_status.lock().unwrap_or_else(PoisonError::into_inner);
        let name = |shard| match statuses.get(shard) {
            None => "ready",
            Some(ShardStatus::InTransfer) => "inTransfer",
            Some(ShardStatus::InRecovery) => "inRecovery",
        };
        view.shards.iter().map(|shard| (*shard, name(shard))).collect()
    }

    /// Runs `task` in the background until it ends or the node stops.
    pub(crate) fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let mut tasks = self.background.lock().unwrap_or_else(PoisonError::into_inner);
        while tasks.try_join_next().is_some() {}
        tasks.spawn(task);
    }

    /// The operator's key (chain transactions on the node's behalf), read once.
    pub fn owner_key(&self) -> Result<&walrus_core::keys::Ed25519KeyPair, InitError> {
        if let Some(key) = self.owner.get() {
            return Ok(key);
        }
        let key = walrus_chain_node::init::read_ed25519(&self.config.owner_key)?;
        Ok(self.owner.get_or_init(|| key))
    }

    /// The current view of the committee.
    pub fn view(&self) -> Arc<ChainView> {
        Arc::clone(&self.view.read().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Why a node cannot start, or did not stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A key file cannot be read.
    #[error(transparent)]
    Key(#[from] InitError),
    /// The store cannot be opened.
    #[error(transparent)]
    Store(#[from] walrus_store::StoreError),
    /// The committee cannot be read from the chain.
    #[error("cannot read the committee from {url}: {source}")]
    Committee {
        /// The chain RPC.
        url: String,
        /// Why.
        source: ViewError,
    },
    /// The REST address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Plain HTTP was asked for on an address other machines reach.
    #[error("plain_http is for loopback addresses only, and rest_listen is {0}: serve HTTPS (leave plain_http out)")]
    PlainNotLoopback(SocketAddr),
    /// The TLS configuration cannot be made from the network key.
    #[error("TLS with the network key in {}: {source}", path.display())]
    Tls {
        /// The key file.
        path: std::path::PathBuf,
        /// Why.
        source: walrus_tls::TlsError,
    },
    /// The server ended with an error.
    #[error("the REST server failed: {0}")]
    Serve(std::io::Error),
    /// A task of the node panicked.
    #[error("a task of the node failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// The REST API's TLS configuration: a self-signed certificate on the network key, with the
/// key's public half; or none if the configuration asks for plain HTTP on a loopback address.
type Tls = (Arc<walrus_tls::rustls::ServerConfig>, NetworkPublicKey);

fn tls_config(config: &NodeConfig) -> Result<Option<Tls>, StartError> {
    if config.plain_http {
        if !config.rest_listen.ip().is_loopback() {
            return Err(StartError::PlainNotLoopback(config.rest_listen));
        }
        return Ok(None);
    }
    let key = walrus_chain_node::init::read_network_key(&config.network_key)?;
    let chain = match &config.tls_certificate {
        None => None,
        Some(path) => {
            let pem = std::fs::read_to_string(path).map_err(|e| StartError::Tls {
                path: path.clone(),
                source: walrus_tls::TlsError::BadCertificate(e.to_string()),
            })?;
            let chain = key.certificate_chain_from_pem(&pem);
            Some(chain.map_err(|source| StartError::Tls { path: path.clone(), source })?)
        }
    };
    let tls = key
        .server_config(chain)
        .map_err(|source| StartError::Tls { path: config.network_key.clone(), source })?;
    Ok(Some((tls, *key.public())))
}

/// Pause between two attempts at [`register_network_key`].
const REGISTER_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_secs(2);

/// At start-up over TLS: if the chain registered another network key for this node than the
/// one its certificate carries (the operator replaced the key file, `walrus node-admin
/// rotate-network-key`), registers this one with the operator key, as the reference's node
/// brings its on-chain parameters in line with its configuration when it starts. Clients and
/// peers pin the registered key, so they refuse the node until this lands. A node not
/// registered yet is left alone (`walrus node register` registers the key file's key).
async fn register_network_key(node: Arc<Node>, key: NetworkPublicKey) {
    loop {
        match register_network_key_once(&node, key).await {
            Ok(()) => return,
            Err(e) => tracing::warn!("cannot register this node's network key {key} yet: {e}"),
        }
        tokio::time::sleep(REGISTER_RETRY_PAUSE).await;
    }
}

async fn register_network_key_once(
    node: &Node,
    key: NetworkPublicKey,
) -> Result<(), crate::epoch_driver::DriveError> {
    let system = node.chain.system().await?.system;
    let Some((node_id, record)) = system.nodes.iter().find(|(_, n)| n.public_key == *node.bls.public())
    else {
        return Ok(());
    };
    if record.network_public_key == key {
        return Ok(());
    }
    let owner = node.owner_key()?;
    if owner.address() != record.owner {
        tracing::error!(
            "the chain registered network key {} for node {node_id}, not this node's {key}, and the \
             configured operator key does not own the node: clients and peers refuse this node \
             until its owner registers the key (`walrus node-admin set-info --network-key`)",
            record.network_public_key
        );
        return Ok(());
    }
    let call = walrus_chain::Call::SetNodeInfo {
        node_id: *node_id,
        name: None,
        network_address: None,
        network_public_key: Some(key),
    };
    node.chain.execute(owner, call).await?;
    tracing::info!("registered network key {key} for node {node_id} (it was {})", record.network_public_key);
    Ok(())
}

/// A running node.
pub struct RunningNode {
    /// Where the REST API listens.
    pub addr: SocketAddr,
    /// The node.
    pub node: Arc<Node>,
    follower: tokio::task::JoinHandle<()>,
    sweeper: tokio::task::JoinHandle<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    shutdown: oneshot::Sender<()>,
}

/// Opens the store, reads the committee from the chain, and starts the API, the follower and
/// the recovery sweep.
pub async fn start(config: NodeConfig) -> Result<RunningNode, StartError> {
    let listen = config.rest_listen;
    let listener =
        walrus_http::bind(listen).await.map_err(|source| StartError::Listen { addr: listen, source })?;
    start_on(config, listener).await
}

/// [`start`] on a listener bound beforehand (tests bind port 0 and put the port in the genesis).
pub async fn start_on(
    config: NodeConfig,
    listener: tokio::net::TcpListener,
) -> Result<RunningNode, StartError> {
    let bls = read_bls(&config.bls_key)?;
    let tls = tls_config(&config)?;
    let path = config.storage_path.clone();
    let store = Arc::new(tokio::task::spawn_blocking(move || NodeStore::open(&path)).await??);
    let chain = ChainClient::new(&config.chain_url);
    let mut view = fetch_view(&chain, bls.public())
        .await
        .map_err(|source| StartError::Committee { url: config.chain_url.clone(), source })?;
    // Shards retained in this epoch stay retained across a restart (after a longer absence the
    // record is stale and they go).
    let reader = Arc::clone(&store);
    if let Some((at, retained)) = tokio::task::spawn_blocking(move || reader.retained_shards()).await?? {
        if at == view.epoch {
            view.retained = retained.into_iter().filter(|s| !view.serves(*s)).collect();
        }
    }
    let epoch = view.epoch.0;
    let view: SharedView = Arc::new(RwLock::new(Arc::new(view)));
    let listen = config.rest_listen;
    let addr = listener.local_addr().map_err(|source| StartError::Listen { addr: listen, source })?;
    let node = Arc::new(Node {
        uploads: Arc::new(Semaphore::new(config.concurrent_uploads_max)),
        upload_bytes: ByteBudget::new(config.upload_bytes_max),
        response_bytes: ByteBudget::new(config.response_bytes_max),
        symbol_turns: Arc::new(Semaphore::new(config.concurrent_symbol_requests_max.max(1))),
        recoveries: Arc::new(Semaphore::new(config.concurrent_recoveries_max)),
        peers: walrus_node_client::NodeConnector::new(),
        config,
        store: Arc::clone(&store),
        bls: bls.clone(),
        chain: chain.clone(),
        metrics: Metrics::default(),
        started: Instant::now(),
        pending: PendingUploads::default(),
        blob_locks: BlobLocks::default(),
        epoch_seen: std::sync::atomic::AtomicU32::new(epoch),
        events_applied: tokio::sync::watch::Sender::new(0),
        view: Arc::clone(&view),
        challenge: crate::challenge::Gate::default(),
        verifier: crate::challenge::Verifier::default(),
        proving: std::sync::atomic::AtomicU32::new(u32::MAX),
        healing: Mutex::default(),
        heal_wake: tokio::sync::Notify::new(),
        background: Mutex::default(),
        owner: std::sync::OnceLock::new(),
        shards_ready: ShardsReady::default(),
        shard_status: Mutex::default(),
    });
    // The challenge gate serves no sliver until it has read the chain once.
    if let Ok(system) = node.chain.system().await {
        node.challenge.observe(&system.system, crate::challenge::now_ms());
    }
    let follower = tokio::spawn(follow(Arc::clone(&node)));
    let sweeper = tokio::spawn(crate::recovery::sweep(Arc::clone(&node)));
    node.spawn(crate::pending::expire_on_timer(Arc::clone(&node)));
    node.spawn(crate::epoch_driver::at_start(Arc::clone(&node)));
    crate::epoch_driver::shed(&node);
    if let Some((_, key)) = &tls {
        node.spawn(register_network_key(Arc::clone(&node), *key));
    }
    node.spawn(crate::epoch_driver::drive(Arc::clone(&node)));
    let (shutdown, stopped) = oneshot::channel::<()>();
    let app = router(Arc::clone(&node));
    let limits = node.config.server;
    let server = tokio::spawn(async move {
        walrus_http::serve_tls(listener, app, limits, tls.map(|(config, _)| config), async {
            let _ = stopped.await;
        })
        .await
    });
    Ok(RunningNode { addr, node, follower, sweeper, server, shutdown })
}

impl RunningNode {
    /// Serves until `stop` resolves, then shuts down.
    pub async fn run_until(self, stop: impl std::future::Future<Output = ()>) -> Result<(), StartError> {
        stop.await;
        self.follower.abort();
        self.sweeper.abort();
        let _ = self.follower.await;
        let _ = self.sweeper.await;
        let mut background =
            std::mem::take(&mut *self.node.background.lock().unwrap_or_else(PoisonError::into_inner));
        background.shutdown().await;
        let _ = self.shutdown.send(());
        self.server.await?.map_err(StartError::Serve)
    }
}
