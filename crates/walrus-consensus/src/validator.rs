//! One validator: simplex, marshal, block broadcast and backfill around the chain application.
//!
//! [`start`] is the one constructor, generic over the runtime context and over the p2p
//! channels, so that the deterministic simulation (tests) and the binary (tokio runtime,
//! authenticated p2p) build exactly the same validator. It wires, on the channels of
//! [`channels`]:
//! - a buffered broadcast engine that carries full blocks (channel 4);
//! - marshal's backfill resolver, which fetches blocks and finalizations a validator missed
//!   (channel 3);
//! - marshal itself, with two immutable archives (finalized blocks and their finalizations),
//!   delivering finalized blocks to the [`Executor`];
//! - the [`ChainApp`] behind marshal's standard `Inline` wrapper, which is simplex's automaton,
//!   relay and reporter;
//! - transaction gossip (channel 5), so a transaction admitted by any validator can be proposed
//!   by whichever leads;
//! - simplex with the ed25519 scheme and a round-robin leader (votes, certificates and its own
//!   certificate resolver on channels 0, 1 and 2), in one endless consensus epoch, reporting
//!   conflicting votes to the evidence pool.

use std::num::{NonZeroU16, NonZeroU64, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

use commonware_broadcast::buffered;
use commonware_consensus::marshal::core::{Actor, Mailbox};
use commonware_consensus::marshal::resolver::p2p as backfill;
use commonware_consensus::marshal::standard::{Inline, Standard};
use commonware_consensus::marshal::{self, Start};
use commonware_consensus::simplex::elector::RoundRobin;
use commonware_consensus::simplex::types::Finalization;
use commonware_consensus::simplex::{self, scheme::ed25519, ForwardPolicy, SkipBudget, SkipPolicy};
use commonware_consensus::types::{Epoch, FixedEpocher, ViewDelta};
use commonware_consensus::Reporters;
use commonware_cryptography::certificate::{ConstantProvider, Verifier as _};
use commonware_cryptography::ed25519::{PrivateKey, PublicKey};
use commonware_cryptography::sha256::Sha256;
use commonware_cryptography::{Digested, Digestible as _, Signer as _};
use commonware_p2p::{Blocker, Provider, Receiver, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::buffer::paged::CacheRef;
use commonware_runtime::{Clock, Handle, Metrics, Spawner, Storage};
use commonware_storage::archive::immutable;
use commonware_utils::ordered::Set;
use commonware_utils::NonZeroDuration;
use rand_core::CryptoRng;
use walrus_chain::Genesis;
use walrus_core::keys::Ed25519PublicKey;

use crate::app::{BlockLimits, ChainApp};
use crate::block::{BlockConfig, ChainBlock, ConsensusDigest};
use crate::evidence::{EvidencePool, EvidenceReporter};
use crate::executor::{Executor, Finalized, MemoryStore, StateStore};
use crate::gossip::Gossip;
use crate::mempool::{Mempool, MEMPOOL_TRANSACTIONS_MAX};

/// The namespace of consensus signatures (votes and certificates).
pub const NAMESPACE: &[u8] = walrus_chain::finality::CONSENSUS_NAMESPACE;
/// The namespace of the p2p handshake (used by the binary's authenticated network).
pub const P2P_NAMESPACE: &[u8] = b"_WALRUS_CHAIN_P2P";

/// The p2p channel plan; every validator registers the same numbers.
pub mod channels {
    use commonware_p2p::Channel;

    /// Simplex votes.
    pub const VOTES: Channel = 0;
    /// Simplex certificates.
    pub const CERTIFICATES: Channel = 1;
    /// Simplex's certificate resolver.
    pub const RESOLVER: Channel = 2;
    /// Marshal's backfill of blocks and finalizations.
    pub const BACKFILL: Channel = 3;
    /// Full blocks (buffered broadcast).
    pub const BLOCKS: Channel = 4;
    /// Transaction gossip.
    pub const TRANSACTIONS: Channel = 5;
}

/// The consensus signing scheme.
pub type Scheme = ed25519::Scheme;
/// Marshal's mailbox of a validator (reads of finalized blocks and finalizations).
pub type MarshalMailbox = Mailbox<Scheme, Standard<ChainBlock>>;

/// Timeouts and sizes; every validator of a network should use the same.
#[derive(Debug, Clone)]
pub struct Parameters {
    /// How long a view waits for its leader's proposal.
    pub leader_timeout: Duration,
    /// How long a view waits for a certificate (more than the leader timeout).
    pub certification_timeout: Duration,
    /// How often a nullify vote is resent while a view is stuck.
    pub timeout_retry: Duration,
    /// How long before an inactive leader is skipped early (more than the certification
    /// timeout and the retry).
    pub skip_timeout: Duration,
    /// Views of data kept behind the finalized one.
    pub view_retention: u64,
    /// Finalized blocks marshal hands over before the executor acknowledges them.
    pub max_pending_acks: usize,
    /// Actors' mailbox sizes.
    pub mailbox_size: usize,
    /// How long a fetch from a peer may take before another is asked.
    pub fetch_timeout: Duration,
    /// Pause before retrying a failed fetch.
    pub fetch_retry_delay: Duration,
    /// Blocks cached per peer by the broadcast engine.
    pub deque_size: usize,
    /// Bounds on proposed blocks.
    pub limits: BlockLimits,
    /// Most transactions in the mempool.
    pub mempool_max: usize,
}

impl Default for Parameters {
    fn default() -> Self {
        Parameters {
            leader_timeout: Duration::from_secs(1),
            certification_timeout: Duration::from_secs(2),
            timeout_retry: Duration::from_secs(2),
            skip_timeout: Duration::from_secs(5),
            view_retention: 32,
            max_pending_acks: 8,
            mailbox_size: 1_024,
            fetch_timeout: Duration::from_secs(2),
            fetch_retry_delay: Duration::from_millis(200),
            deque_size: 10,
            limits: BlockLimits::default(),
            mempool_max: MEMPOOL_TRANSACTIONS_MAX,
        }
    }
}

impl Parameters {
    /// Checks what simplex would otherwise assert at start-up.
    pub fn check(&self) -> Result<(), ValidatorError> {
        let fail = |what| Err(ValidatorError::Parameter(what));
        if self.leader_timeout.is_zero() || self.certification_timeout <= self.leader_timeout {
            return fail("the certification timeout must exceed a non-zero leader timeout");
        }
        if self.timeout_retry.is_zero() {
            return fail("the timeout retry must be non-zero");
        }
        if self.skip_timeout <= self.certification_timeout || self.skip_timeout <= self.timeout_retry {
            return fail("the skip timeout must exceed the certification timeout and the retry");
        }
        if self.view_retention == 0 {
            return fail("the view retention must be non-zero");
        }
        if self.limits.max_bytes > 1 << 30 {
            return fail("blocks are bounded by at most 1 GiB");
        }
        Ok(())
    }
}

/// What one validator is built from.
pub struct Config<B, P> {
    /// Its consensus key (also its p2p identity).
    pub signer: PrivateKey,
    /// The validator set, itself included.
    pub participants: Set<PublicKey>,
    /// The chain's genesis.
    pub genesis: Genesis,
    /// Where the executed state lives; `None` keeps the genesis state in memory.
    pub store: Option<Arc<dyn StateStore>>,
    /// Blocks peers that send invalid data (the p2p network's).
    pub blocker: B,
    /// The p2p peer sets (the p2p network's).
    pub peers: P,
    /// Prefix of every storage partition of this validator.
    pub partition_prefix: String,
    /// Timeouts and sizes.
    pub parameters: Parameters,
}

/// The validator's p2p channels, registered with the numbers of [`channels`].
pub struct Channels<S, R> {
    /// [`channels::VOTES`].
    pub votes: (S, R),
    /// [`channels::CERTIFICATES`].
    pub certificates: (S, R),
    /// [`channels::RESOLVER`].
    pub resolver: (S, R),
    /// [`channels::BACKFILL`].
    pub backfill: (S, R),
    /// [`channels::BLOCKS`].
    pub blocks: (S, R),
    /// [`channels::TRANSACTIONS`].
    pub transactions: (S, R),
}

/// Why a validator cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ValidatorError {
    /// The genesis is invalid.
    #[error("genesis: {0}")]
    Genesis(#[from] walrus_chain::genesis::GenesisError),
    /// The key is not in the validator set.
    #[error("this validator's key is not in the validator set")]
    NotParticipant,
    /// A storage archive failed to open.
    #[error("opening the {0} archive: {1}")]
    Archive(&'static str, commonware_storage::archive::Error),
    /// A parameter is out of range.
    #[error("invalid consensus parameter: {0}")]
    Parameter(&'static str),
}

/// A running validator.
pub struct Validator {
    /// Its public key.
    pub public_key: PublicKey,
    /// The mempool it proposes from.
    pub mempool: Arc<Mempool>,
    /// The equivocation evidence it will propose.
    pub evidence: Arc<EvidencePool>,
    /// Admits client transactions and sends them to the other validators.
    pub gossip: Gossip,
    /// Its executor.
    pub executor: Executor,
    /// Marshal's mailbox.
    pub marshal: MarshalMailbox,
    /// The genesis block (height 0, digest the chain ID).
    pub genesis: ChainBlock,
    handles: Vec<Handle<()>>,
}

impl Validator {
    /// Stops every task of the validator (a crash: what is on storage stays).
    pub fn abort(self) {
        for handle in self.handles {
            handle.abort();
        }
    }
}

/// The largest p2p message a network of `participants` validators exchanges with blocks
/// decoded under `block`: the bound to configure the p2p network with.
pub fn max_message_size(participants: u32, block: &BlockConfig) -> u32 {
    commonware_p2p::max_message_size(&[
        simplex::max_payload_size::<Scheme, ConsensusDigest>(participants),
        marshal::max_payload_size::<Standard<ChainBlock>, Scheme>(participants, block),
    ])
}

fn non_zero(value: usize, what: &'static str) -> Result<NonZeroUsize, ValidatorError> {
    NonZeroUsize::new(value).ok_or(ValidatorError::Parameter(what))
}

/// Pages of the archives' page cache, and their size.
const PAGE_SIZE: NonZeroU16 = NonZeroU16::new(4_096).expect("non-zero");
const PAGE_CACHE_PAGES: NonZeroUsize = NonZeroUsize::new(1_024).expect("non-zero");
/// Items per archive section, and the storage write buffers.
const ITEMS_PER_SECTION: NonZeroU64 = NonZeroU64::new(1_024).expect("non-zero");
const WRITE_BUFFER: NonZeroUsize = NonZeroUsize::new(1 << 20).expect("non-zero");
const REPLAY_BUFFER: NonZeroUsize = NonZeroUsize::new(1 << 20).expect("non-zero");

fn archive_config<C>(
    prefix: &str,
    name: &str,
    page_cache: &CacheRef,
    codec_config: C,
) -> immutable::Config<C> {
    let partition = |part: &str| format!("{prefix}-{name}-{part}");
    immutable::Config {
        metadata_partition: partition("metadata"),
        freezer_table_partition: partition("freezer-table"),
        freezer_table_initial_size: 1_024,
        freezer_table_resize_frequency: 4,
        freezer_table_resize_chunk_size: 1_024,
        freezer_key_partition: partition("freezer-key"),
        freezer_key_page_cache: page_cache.clone(),
        freezer_value_partition: partition("freezer-value"),
        freezer_value_target_size: 64 << 20,
        freezer_value_compression: None,
        ordinal_partition: partition("ordinal"),
        items_per_section: ITEMS_PER_SECTION,
        freezer_key_write_buffer: WRITE_BUFFER,
        freezer_value_write_buffer: WRITE_BUFFER,
        ordinal_write_buffer: WRITE_BUFFER,
        replay_buffer: REPLAY_BUFFER,
        codec_config,
    }
}

/// Marshal's archive of finalizations, by height.
type FinalizationArchive<E> = immutable::Archive<E, ConsensusDigest, Finalization<Scheme, ConsensusDigest>>;
/// Marshal's archive of finalized blocks, by height.
type BlockArchive<E> = immutable::Archive<E, ConsensusDigest, Arc<ChainBlock>>;

/// Opens marshal's two archives.
async fn open_archives<E: Spawner + Clock + Metrics + Storage>(
    context: &E,
    prefix: &str,
    page_cache: &CacheRef,
    block_config: &BlockConfig,
) -> Result<(FinalizationArchive<E>, BlockArchive<E>), ValidatorError> {
    let codec = Scheme::certificate_codec_config_unbounded();
    let finalizations = immutable::Archive::init(
        context.child("finalizations"),
        archive_config(prefix, "finalizations", page_cache, codec),
    )
    .await
    .map_err(|e| ValidatorError::Archive("finalizations", e))?;
    let blocks = immutable::Archive::init(
        context.child("blocks"),
        archive_config(prefix, "blocks", page_cache, block_config.clone()),
    )
    .await
    .map_err(|e| ValidatorError::Archive("blocks", e))?;
    Ok((finalizations, blocks))
}

/// Builds and starts one validator on `context`.
pub async fn start<E, B, P, S, R>(
    context: E,
    config: Config<B, P>,
    channels: Channels<S, R>,
) -> Result<Validator, ValidatorError>
where
    E: Spawner + Clock + Metrics + Storage + CryptoRng,
    B: Blocker<PublicKey = PublicKey>,
    P: Provider<PublicKey = PublicKey>,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
{
    let Config { signer, participants, genesis, store, blocker, peers, partition_prefix, parameters } =
        config;
    parameters.check()?;
    let public_key = signer.public_key();
    let scheme =
        Scheme::signer(NAMESPACE, participants.clone(), signer).ok_or(ValidatorError::NotParticipant)?;
    let genesis_state = genesis.build()?;
    let chain_id = genesis.digest();
    let genesis_block = ChainBlock::genesis(&genesis, &genesis_state);
    let block_config = BlockConfig { max_bytes: parameters.limits.max_bytes, genesis: genesis_block.clone() };
    let mailbox_size = non_zero(parameters.mailbox_size, "mailbox size")?;
    let fetch_timeout =
        NonZeroDuration::new(parameters.fetch_timeout).ok_or(ValidatorError::Parameter("fetch timeout"))?;
    let page_cache = CacheRef::new(PAGE_SIZE, PAGE_CACHE_PAGES);
    let mut handles = Vec::new();

    let execution = (genesis_state.validators.clone(), channels.transactions);
    let store = store.unwrap_or_else(|| Arc::new(MemoryStore::new(genesis_state)));
    let (mempool, evidence, executor, finalized, gossip) =
        start_execution(&context, store, execution, parameters.mempool_max, &blocker, &mut handles);

    // Full blocks travel by buffered broadcast; missed ones come through the backfill resolver.
    let (broadcast, buffer) = buffered::Engine::new(
        context.child("broadcast"),
        buffered::Config {
            public_key: public_key.clone(),
            mailbox_size,
            deque_size: parameters.deque_size,
            priority: false,
            codec_config: block_config.clone(),
            peer_provider: peers.clone(),
            strategy: Sequential,
        },
    );
    handles.push(broadcast.start(channels.blocks));
    let resolver = backfill::init(
        context.child("backfill"),
        backfill::Config {
            public_key: public_key.clone(),
            peer_provider: peers,
            blocker: blocker.clone(),
            mailbox_size,
            fetch_timeout,
            fetch_retry_delay: parameters.fetch_retry_delay,
            priority_requests: false,
            priority_responses: false,
        },
        channels.backfill,
    );

    // Marshal: finalized blocks in order, stored before the executor sees them.
    let (finalizations, blocks) =
        open_archives(&context, &partition_prefix, &page_cache, &block_config).await?;
    let epocher = FixedEpocher::new(NonZeroU64::MAX);
    let (actor, marshal, _floor) = Actor::init(
        context.child("marshal"),
        finalizations,
        blocks,
        marshal::Config {
            provider: ConstantProvider::new(scheme.clone()),
            epocher: epocher.clone(),
            start: Start::Genesis(Digested::precomputed(genesis_block.clone(), genesis_block.digest())),
            partition_prefix: format!("{partition_prefix}-marshal"),
            mailbox_size,
            view_retention: ViewDelta::new(parameters.view_retention),
            prunable_items_per_section: ITEMS_PER_SECTION,
            page_cache: page_cache.clone(),
            replay_buffer: REPLAY_BUFFER,
            key_write_buffer: WRITE_BUFFER,
            value_write_buffer: WRITE_BUFFER,
            block_codec_config: block_config,
            max_repair: non_zero(16, "max repair")?,
            max_pending_acks: non_zero(parameters.max_pending_acks, "max pending acks")?,
            strategy: Sequential,
        },
    )
    .await;
    handles.push(actor.start(finalized, buffer, resolver));

    // Consensus: simplex around the application; faults it sees go to the evidence pool.
    let reporter = EvidenceReporter::new(&participants, Arc::clone(&evidence));
    let app = ChainApp::new(chain_id, executor.clone(), &mempool, &evidence, parameters.limits);
    let inline = Inline::new(context.child("application"), app, marshal.clone(), epocher);
    let setup = SimplexSetup {
        scheme,
        blocker,
        partition: format!("{partition_prefix}-simplex-e0"),
        genesis: genesis_block.digest(),
        mailbox_size,
        fetch_timeout,
        page_cache,
    };
    let network = (channels.votes, channels.certificates, channels.resolver);
    handles.push(start_simplex(context.child("simplex"), setup, &parameters, (inline, reporter), network));

    Ok(Validator {
        public_key,
        mempool,
        evidence,
        gossip,
        executor,
        marshal,
        genesis: genesis_block,
        handles,
    })
}

/// Starts the execution side: the mempool, the evidence pool checking against the genesis
/// `validators`, the executor's task over `store`, and transaction gossip on `transactions`.
#[allow(clippy::type_complexity)]
fn start_execution<E, B, S, R>(
    context: &E,
    store: Arc<dyn StateStore>,
    (validators, transactions): (Vec<Ed25519PublicKey>, (S, R)),
    mempool_max: usize,
    blocker: &B,
    handles: &mut Vec<Handle<()>>,
) -> (Arc<Mempool>, Arc<EvidencePool>, Executor, Finalized, Gossip)
where
    E: Spawner + Clock + Metrics,
    B: Blocker<PublicKey = PublicKey>,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
{
    let clock = context.child("mempool");
    let mempool = Arc::new(Mempool::with_clock(mempool_max, Arc::new(move || clock.current())));
    let executor = Executor::new(store, Arc::clone(&mempool));
    let (finalized, handle) = executor.start(context.child("executor"));
    handles.push(handle);
    let (gossip, gossip_handles) = crate::gossip::start(
        context.child("gossip"),
        Arc::clone(&mempool),
        executor.clone(),
        transactions,
        blocker.clone(),
    );
    handles.extend(gossip_handles);
    let evidence = Arc::new(EvidencePool::new(validators, Arc::clone(&mempool)));
    (mempool, evidence, executor, finalized, gossip)
}

/// What simplex is built from besides the application and the parameters.
struct SimplexSetup<B> {
    scheme: Scheme,
    blocker: B,
    partition: String,
    genesis: ConsensusDigest,
    mailbox_size: NonZeroUsize,
    fetch_timeout: NonZeroDuration,
    page_cache: CacheRef,
}

/// The application wrapped for simplex.
type Wrapped<E> = Inline<E, Scheme, ChainApp, ChainBlock, FixedEpocher>;

/// Starts simplex (epoch 0, from genesis) on its three channels, reporting to the application
/// and the evidence reporter.
fn start_simplex<E, B, S, R>(
    context: E,
    setup: SimplexSetup<B>,
    parameters: &Parameters,
    (inline, evidence): (Wrapped<E>, EvidenceReporter),
    (votes, certificates, resolver): ((S, R), (S, R), (S, R)),
) -> Handle<()>
where
    E: Spawner + Clock + Metrics + Storage + CryptoRng,
    B: Blocker<PublicKey = PublicKey>,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
{
    let engine = simplex::Engine::new(
        context,
        simplex::Config {
            scheme: setup.scheme,
            elector: RoundRobin::<Sha256>::default(),
            blocker: setup.blocker,
            automaton: inline.clone(),
            relay: inline.clone(),
            reporter: Reporters::from((inline, evidence)),
            strategy: Sequential,
            partition: setup.partition,
            mailbox_size: setup.mailbox_size,
            epoch: Epoch::zero(),
            floor: simplex::Floor::Genesis(setup.genesis),
            replay_buffer: REPLAY_BUFFER,
            write_buffer: WRITE_BUFFER,
            page_cache: setup.page_cache,
            leader_timeout: parameters.leader_timeout,
            certification_timeout: parameters.certification_timeout,
            timeout_retry: parameters.timeout_retry,
            view_retention: ViewDelta::new(parameters.view_retention),
            skip: SkipPolicy::Enabled { timeout: parameters.skip_timeout, budget: SkipBudget::Participants },
            fetch_timeout: setup.fetch_timeout,
            fetch_retry_delay: parameters.fetch_retry_delay,
            forward: ForwardPolicy::SilentVoters,
            // Keeps every vote until its view is pruned, so that a conflicting one is always caught.
            track_historical_votes: true,
        },
    );
    engine.start(votes, certificates, resolver)
}
