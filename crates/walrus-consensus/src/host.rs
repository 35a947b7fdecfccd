//! A validator as a process runs it: commonware's tokio runtime and authenticated p2p around
//! the one constructor of [`crate::validator`].
//!
//! The p2p network is the `lookup` flavour: every validator's public key and address is known
//! (from the genesis), connections are authenticated with the validator's ed25519 key and
//! encrypted, and a peer outside the set cannot connect. The runtime has its own threads and
//! its own storage directory (marshal's archives and simplex's write-ahead log), so the host
//! runs on a thread of its own; the rest of the process reaches it through the [`Mempool`] and
//! the [`Executor`] handles of [`RunningHost`], whose channels work across runtimes.

use std::net::{SocketAddr, ToSocketAddrs as _};
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use commonware_codec::DecodeExt as _;
use commonware_cryptography::ed25519::{PrivateKey, PublicKey};
use commonware_cryptography::{ChaCha20Poly1305, Signer as _};
use commonware_p2p::authenticated::lookup;
use commonware_p2p::{Address, AddressableManager as _};
use commonware_runtime::{tokio as runtime, Quota, Runner as _, Spawner as _, Supervisor as _};
use commonware_stream::cups::{self, Cups};
use commonware_stream::sake::{self, Sake};
use commonware_utils::channel::oneshot;
use commonware_utils::ordered::{Map, Set};
use walrus_chain::Genesis;

use crate::block::{BlockConfig, ChainBlock};
use crate::executor::{Executor, StateStore};
use crate::gossip::Gossip;
use crate::mempool::Mempool;
use crate::proof::Proofs;
use crate::validator::{self, channels, Channels, Parameters, ValidatorError, P2P_NAMESPACE};

/// What a validator process is built from.
pub struct HostConfig {
    /// Its key: consensus votes and p2p identity.
    pub signer: PrivateKey,
    /// Every validator (itself included) and the address its p2p listens on.
    pub validators: Vec<(PublicKey, SocketAddr)>,
    /// Where its own p2p listens (usually its entry of `validators`, or a wildcard address).
    pub listen: SocketAddr,
    /// Where the runtime keeps its storage (archives, write-ahead log).
    pub storage_dir: PathBuf,
    /// The chain's genesis.
    pub genesis: Genesis,
    /// Where the executed state lives; `None` keeps it in memory.
    pub store: Option<Arc<dyn StateStore>>,
    /// Timeouts and sizes.
    pub parameters: Parameters,
    /// The runtime's worker threads.
    pub worker_threads: usize,
}

/// Why a host cannot start, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The validator cannot be built.
    #[error(transparent)]
    Validator(#[from] ValidatorError),
    /// Two validators share a key, or the set is empty.
    #[error("the validator set must be non-empty and its keys distinct")]
    ValidatorSet,
    /// This validator's key is not in the set.
    #[error("this validator's key is not in the validator set")]
    NotValidator,
    /// The host's thread cannot be started, or ended before the validator was built.
    #[error("the validator's runtime thread failed: {0}")]
    Thread(String),
    /// A genesis validator's key or address is unusable.
    #[error("genesis validator {index}: {reason}")]
    BadValidator {
        /// Its index in the genesis.
        index: usize,
        /// Why.
        reason: String,
    },
}

/// The consensus signer of a validator key seed: the same ed25519 key as
/// `walrus_core::keys::Ed25519KeyPair::from_seed(seed)`.
pub fn signer_from_seed(seed: &[u8; 32]) -> PrivateKey {
    PrivateKey::decode(seed.to_vec()).expect("any 32 bytes are an ed25519 seed")
}

/// The validators a genesis names, with their keys in consensus form and their p2p addresses
/// resolved. A p2p port 0 (listen anywhere) is allowed only for a chain of one validator, which
/// no peer dials.
pub fn genesis_validators(genesis: &Genesis) -> Result<Vec<(PublicKey, SocketAddr)>, HostError> {
    if genesis.validators.is_empty() {
        return Err(HostError::ValidatorSet);
    }
    let alone = genesis.validators.len() == 1;
    genesis
        .validators
        .iter()
        .enumerate()
        .map(|(index, validator)| {
            let bad = |reason: String| HostError::BadValidator { index, reason };
            let key = PublicKey::decode(validator.public_key.0.to_vec())
                .map_err(|e| bad(format!("not an ed25519 public key ({e})")))?;
            let address = validator
                .p2p_address
                .to_socket_addrs()
                .map_err(|e| bad(format!("p2p address {:?}: {e}", validator.p2p_address)))?
                .next()
                .ok_or_else(|| bad(format!("p2p address {:?} resolves to nothing", validator.p2p_address)))?;
            if address.port() == 0 && !alone {
                return Err(bad("p2p port 0 is only for a chain of one validator".into()));
            }
            Ok((key, address))
        })
        .collect()
}

/// A running validator.
pub struct RunningHost {
    /// Its public key.
    pub public_key: PublicKey,
    /// The mempool it proposes from.
    pub mempool: Arc<Mempool>,
    /// Admits client transactions and gossips them to the other validators.
    pub gossip: Gossip,
    /// Its executor (the executed state, heads, transaction effects).
    pub executor: Executor,
    /// The genesis block (height 0, digest the chain ID).
    pub genesis: ChainBlock,
    /// Finality proofs of the blocks it finalized.
    pub proofs: Proofs,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningHost {
    /// Stops the validator and its runtime, and waits for its thread. What is on storage stays.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for RunningHost {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// How long the runtime waits for its tasks to end on stop.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Messages per second and peer on each channel. Votes and certificates are a few per view;
/// the bound is for a peer that floods.
const CHANNEL_RATE: u32 = 10_000;
/// Messages a peer may send on a channel at once. commonware preallocates every channel's
/// inbound mailbox for one burst of every peer it may retain (four peer sets): with the burst
/// at the rate (10 000), four validators held about 600 MiB each of empty queue slots; at 512,
/// 103-106 MiB; at 256, 89-100 MiB, with the same throughput (docs/benchmarks.md).
const CHANNEL_BURST: u32 = 256;

/// The handles a started validator hands back to the caller's thread.
type Started = Result<(Arc<Mempool>, Gossip, Executor, ChainBlock, Proofs), HostError>;

/// Starts a validator on a thread of its own; returns once it is built (its p2p connects and
/// consensus proceeds in the background).
pub fn spawn(config: HostConfig) -> Result<RunningHost, HostError> {
    let keys: Vec<PublicKey> = config.validators.iter().map(|(key, _)| key.clone()).collect();
    let participants = Set::from_iter_dedup(keys.iter().cloned());
    if participants.len() != keys.len() || keys.is_empty() {
        return Err(HostError::ValidatorSet);
    }
    let public_key = config.signer.public_key();
    if !keys.contains(&public_key) {
        return Err(HostError::NotValidator);
    }
    let (started_tx, started_rx) = std::sync::mpsc::channel::<Started>();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("chain-validator".into())
        .spawn(move || run(config, participants, started_tx, stop_rx))
        .map_err(|e| HostError::Thread(e.to_string()))?;
    match started_rx.recv() {
        Ok(Ok((mempool, gossip, executor, genesis, proofs))) => Ok(RunningHost {
            public_key,
            mempool,
            gossip,
            executor,
            genesis,
            proofs,
            stop: Some(stop_tx),
            thread: Some(thread),
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err(HostError::Thread("ended before the validator was built".into()))
        }
    }
}

/// The host's thread: builds the runtime, the p2p network and the validator, reports them, and
/// runs until told to stop.
fn run(
    config: HostConfig,
    participants: Set<PublicKey>,
    started: std::sync::mpsc::Sender<Started>,
    stop: oneshot::Receiver<()>,
) {
    let runtime_config = runtime::Config::new()
        .with_worker_threads(config.worker_threads.max(1))
        .with_storage_directory(config.storage_dir.clone());
    runtime::Runner::new(runtime_config).start(|context| async move {
        let HostConfig { signer, validators, listen, genesis, store, parameters, .. } = config;
        let genesis_order: Vec<PublicKey> = validators.iter().map(|(key, _)| key.clone()).collect();
        let n = u32::try_from(validators.len()).unwrap_or(u32::MAX);
        let genesis_block = match genesis.build() {
            Ok(state) => ChainBlock::genesis(&genesis, &state),
            Err(e) => {
                let _ = started.send(Err(HostError::Validator(ValidatorError::Genesis(e))));
                return;
            }
        };
        let block_config =
            BlockConfig { max_bytes: parameters.limits.max_bytes, genesis: genesis_block.clone() };
        let handshake = Cups::<_, ChaCha20Poly1305>::new(
            Sake {
                signer: signer.clone(),
                synchrony_bound: Duration::from_secs(5),
                max_handshake_age: Duration::from_secs(10),
                version: sake::Version::V1,
            },
            cups::Version::V1,
        );
        let peers_per_set = NonZeroUsize::new(validators.len()).unwrap_or(NonZeroUsize::MIN);
        let mailbox = NonZeroUsize::new(parameters.mailbox_size).unwrap_or(NonZeroUsize::MIN);
        let p2p_config = lookup::Config::local(
            handshake,
            P2P_NAMESPACE,
            listen,
            peers_per_set,
            validator::max_message_size(n, &block_config),
            mailbox,
        );
        let (mut network, mut oracle) = lookup::Network::new(context.child("p2p"), p2p_config);
        let addresses: Vec<(PublicKey, Address)> =
            validators.iter().map(|(key, addr)| (key.clone(), Address::from(*addr))).collect();
        let Ok(addresses) = Map::try_from(addresses) else {
            let _ = started.send(Err(HostError::ValidatorSet));
            return;
        };
        oracle.track(0, addresses);
        let quota = Quota::per_second(NonZeroU32::new(CHANNEL_RATE).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(CHANNEL_BURST).unwrap_or(NonZeroU32::MIN));
        let channels = Channels {
            votes: network.register(channels::VOTES, quota),
            certificates: network.register(channels::CERTIFICATES, quota),
            resolver: network.register(channels::RESOLVER, quota),
            backfill: network.register(channels::BACKFILL, quota),
            blocks: network.register(channels::BLOCKS, quota),
            transactions: network.register(channels::TRANSACTIONS, quota),
        };
        let _network = network.start();
        let config = validator::Config {
            signer,
            participants,
            genesis,
            store,
            blocker: oracle.clone(),
            peers: oracle,
            partition_prefix: "chain".into(),
            parameters,
        };
        let validator = match validator::start(context.child("validator"), config, channels).await {
            Ok(validator) => validator,
            Err(e) => {
                let _ = started.send(Err(e.into()));
                return;
            }
        };
        let handles = (
            Arc::clone(&validator.mempool),
            validator.gossip.clone(),
            validator.executor.clone(),
            genesis_block,
            Proofs::new(validator.marshal.clone(), &genesis_order),
        );
        if started.send(Ok(handles)).is_err() {
            validator.abort();
            return;
        }
        let _ = stop.await;
        validator.abort();
        let _ = context.stop(0, Some(STOP_GRACE)).await;
    });
}
