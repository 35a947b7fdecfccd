//! Running a chain node: open the store, replay, start the sequencer and the RPC server.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::oneshot;
use walrus_core::keys::Ed25519KeyPair;

use crate::chain::{Chain, ChainError};
use crate::faucet::Faucet;
use crate::init::{ChainDir, InitError};
use crate::rpc::{router, Rpc};
use crate::sequencer::Sequencer;
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
    /// The block loop ended without reporting why.
    #[error("the block loop ended without a word")]
    BlockLoopGone,
}

/// Default RPC address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9184";

/// How to run a node.
pub struct NodeConfig {
    /// The chain directory.
    pub dir: ChainDir,
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
    sequencer: Arc<Sequencer>,
    blocks: oneshot::Receiver<Result<(), ChainError>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    shutdown: oneshot::Sender<()>,
}

/// Opens the chain in `config.dir` (replaying its blocks) and starts serving.
pub async fn start(config: NodeConfig) -> Result<RunningNode, HostError> {
    let genesis = config.dir.read_genesis()?;
    let chain_id = genesis.digest();
    let store_dir = config.dir.store();
    let chain = tokio::task::spawn_blocking(move || -> Result<Chain, HostError> {
        let store = Arc::new(FjallBlockStore::open(&store_dir, &chain_id)?);
        Ok(Chain::open(genesis, store)?)
    })
    .await??;
    let chain = Arc::new(chain);
    let faucet = match config.faucet {
        Some(key) if config.listen.ip().is_loopback() => Some(Arc::new(Faucet::new(key))),
        Some(_) => {
            tracing::warn!("faucet disabled: it is only served on a loopback address");
            None
        }
        None => None,
    };
    let sequencer = Sequencer::new(Arc::clone(&chain));
    let blocks = sequencer.start();
    let rpc = Rpc { chain: Arc::clone(&chain), orderer: sequencer.clone(), faucet };
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
    Ok(RunningNode { addr, chain, sequencer, blocks, server, shutdown })
}

impl RunningNode {
    /// Runs until `stop` resolves or the block loop fails; then shuts down cleanly.
    pub async fn run_until(self, stop: impl std::future::Future<Output = ()>) -> Result<(), HostError> {
        let RunningNode { sequencer, blocks, server, shutdown, .. } = self;
        let outcome = tokio::select! {
            () = stop => None,
            outcome = blocks => Some(outcome),
        };
        sequencer.stop();
        let _ = shutdown.send(());
        let _ = server.await;
        match outcome {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(HostError::Chain(e)),
            Some(Err(_)) => Err(HostError::BlockLoopGone),
        }
    }
}
