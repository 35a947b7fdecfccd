//! Running a chain node: open the store and replay, start the validator, serve the RPC.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use walrus_consensus::{HostConfig, Parameters, RunningHost, StateStore};
use walrus_core::keys::Ed25519KeyPair;

use crate::chain::{Chain, ChainError};
use crate::faucet::Faucet;
use crate::init::{read_secret, ChainDir, InitError};
use crate::rpc::{router, Rpc};
use crate::store::{FjallBlockStore, StoreError};

/// Why a chain node cannot start, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The chain directory cannot be read.
    #[error(transparent)]
    Init(#[from] InitError),
    /// The block store cannot be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored chain cannot be opened, or a block could not be committed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The validator cannot start.
    #[error("validator: {0}")]
    Validator(#[from] walrus_consensus::HostError),
    /// The genesis names no validator with this index.
    #[error("the genesis names {count} validators; there is no validator {index}")]
    NoSuchValidator {
        /// The index asked for.
        index: usize,
        /// How many the genesis names.
        count: usize,
    },
    /// The key file is not the key the genesis names for this validator.
    #[error("{} is not the key the genesis names for validator {index}", path.display())]
    WrongKey {
        /// The validator.
        index: usize,
        /// The key file.
        path: std::path::PathBuf,
    },
    /// The RPC address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The task opening the chain panicked.
    #[error("opening the chain failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    /// The validator stopped executing finalized blocks.
    #[error("the validator stopped: {0}")]
    Executor(#[from] walrus_consensus::ExecutorError),
}

/// Default RPC address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9184";

/// How often a running node looks whether its validator's executor stopped.
const HEALTH_CHECK: Duration = Duration::from_millis(500);

/// How to run a node.
pub struct NodeConfig {
    /// The chain directory.
    pub dir: ChainDir,
    /// Which of the genesis validators this node is.
    pub validator: usize,
    /// Where the RPC listens.
    pub listen: SocketAddr,
    /// The faucet's key; honoured only on a loopback address.
    pub faucet: Option<Ed25519KeyPair>,
    /// The RPC server's connection and timeout limits.
    pub server: walrus_http::ServerLimits,
}

/// A running chain node.
pub struct RunningNode {
    /// Where the RPC listens.
    pub addr: SocketAddr,
    /// The chain.
    pub chain: Arc<Chain>,
    host: RunningHost,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    shutdown: oneshot::Sender<()>,
    /// The validator's commits and reveals for the challenges' seed ([`crate::beacon`]).
    beacon: tokio::task::JoinHandle<()>,
}

/// Opens the chain of validator `config.validator` in `config.dir` (replaying its blocks),
/// starts the validator and serves the RPC.
pub async fn start(config: NodeConfig) -> Result<RunningNode, HostError> {
    let genesis = config.dir.read_genesis()?;
    let chain_id = genesis.digest();
    let index = config.validator;
    let validators = walrus_consensus::genesis_validators(&genesis)?;
    let count = validators.len();
    let p2p =
        validators.get(index).map(|(_, p2p)| *p2p).ok_or(HostError::NoSuchValidator { index, count })?;
    let key_path = config.dir.validator_key(index);
    let seed = read_secret(&key_path)?;
    if genesis.validators[index].public_key != Ed25519KeyPair::from_seed(&seed).public() {
        return Err(HostError::WrongKey { index, path: key_path });
    }
    let signer = walrus_consensus::signer_from_seed(&seed);
    let store_dir = config.dir.store(index);
    let chain = tokio::task::spawn_blocking({
        let genesis = genesis.clone();
        move || -> Result<Chain, HostError> {
            let store = Arc::new(FjallBlockStore::open(&store_dir, &chain_id)?);
            Ok(Chain::open(genesis, store)?)
        }
    })
    .await??;
    let chain = Arc::new(chain);
    let host_config = HostConfig {
        signer,
        validators,
        listen: p2p,
        storage_dir: config.dir.consensus(index),
        genesis,
        store: Some(Arc::clone(&chain) as Arc<dyn StateStore>),
        parameters: Parameters::default(),
        worker_threads: 2,
    };
    let host = tokio::task::spawn_blocking(move || walrus_consensus::spawn(host_config)).await??;
    let faucet = match config.faucet {
        Some(key) if config.listen.ip().is_loopback() => Some(Arc::new(Faucet::new(key))),
        Some(_) => {
            tracing::warn!("faucet disabled: it is only served on a loopback address");
            None
        }
        None => None,
    };
    let beacon = tokio::spawn(crate::beacon::run(Arc::clone(&chain), Arc::new(host.gossip.clone()), seed));
    let rpc = Rpc {
        chain: Arc::clone(&chain),
        orderer: Arc::new(host.gossip.clone()),
        faucet,
        proofs: host.proofs.clone(),
    };
    let listener = walrus_http::bind(config.listen)
        .await
        .map_err(|source| HostError::Listen { addr: config.listen, source })?;
    let addr = listener.local_addr().map_err(|source| HostError::Listen { addr: config.listen, source })?;
    let (shutdown, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        walrus_http::serve(listener, router(rpc), config.server, async {
            let _ = stopped.await;
        })
        .await
    });
    Ok(RunningNode { addr, chain, host, server, shutdown, beacon })
}

impl RunningNode {
    /// Runs until `stop` resolves or the validator stops executing; then shuts down cleanly.
    pub async fn run_until(self, stop: impl std::future::Future<Output = ()>) -> Result<(), HostError> {
        let RunningNode { host, server, shutdown, beacon, .. } = self;
        let executor = host.executor.clone();
        let failed = async {
            loop {
                if let Some(e) = executor.failure() {
                    return e;
                }
                tokio::time::sleep(HEALTH_CHECK).await;
            }
        };
        let outcome = tokio::select! {
            () = stop => None,
            e = failed => Some(e),
        };
        beacon.abort();
        let _ = shutdown.send(());
        let _ = server.await;
        tokio::task::spawn_blocking(move || host.stop()).await?;
        outcome.map_or(Ok(()), |e| Err(HostError::Executor(e)))
    }
}
