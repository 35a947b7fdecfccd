//! Four validators on the deterministic runtime and the simulated p2p network, built with the
//! same constructor the binary will use, with a real genesis and real signed transfers:
//! - honest: all reach height [`HEIGHT`], agree on every block and state digest, and execute
//!   every submitted transfer exactly once (each was submitted to every validator's mempool);
//! - one validator crashed from the start (f = 1): the other three do the same;
//! - slow and lossy links (a tenth of the messages lost, 200 ± 100 ms): the same, later;
//! - a partition into two halves: no half finalizes alone, and after it heals all go on and
//!   agree;
//! - a crash and restart: one validator stopped mid-run and started again from what it had
//!   stored (simplex's write-ahead log, marshal's archives, its executed state) catches up and
//!   executes every height exactly once;
//! - an equivocating twin: validator 0's key runs in two instances, one hearing validator 1 and
//!   the other validators 2 and 3, both heard by all: the honest three agree, finalize, and
//!   record the twin's conviction on chain;
//! - determinism: one seed gives one run (the runtime auditor's digest).

use std::collections::{BTreeMap, BTreeSet};
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use crate::common;

use common::{genesis, transfers, users, USERS};
use commonware_cryptography::ed25519::{PrivateKey, PublicKey};
use commonware_cryptography::Signer as _;
use commonware_p2p::simulated::SplitTarget;
use commonware_p2p::simulated::{self, Link, Network, Oracle};
use commonware_p2p::Recipients;
use commonware_runtime::{deterministic, Clock as _, Quota, Runner as _, Supervisor as _};
use commonware_utils::ordered::Set;
use commonware_utils::probability;
use walrus_chain::{BlockEffects, Event, Genesis, GenesisValidator, SignedTransaction, TxDigest, TxStatus};
use walrus_consensus::{
    channels, BlockConfig, ChainBlock, Channels, Config, Parameters, StateStore, Validator,
};
use walrus_core::hash::Digest;
use walrus_core::keys::Ed25519PublicKey;

/// Validators.
const N: usize = 4;
/// The height every live validator must reach.
const HEIGHT: u64 = 20;
/// Simulated time allowed to reach it.
const DEADLINE: Duration = Duration::from_secs(120);
/// Genesis time, also the simulation's start time.
const GENESIS_MS: u64 = 1_700_000_000_000;
const LINK: Link = Link {
    latency: Duration::from_millis(50),
    jitter: Duration::from_millis(10),
    success_rate: probability!(1.0),
};

/// Links that lose a tenth of the messages and take 200 ± 100 ms.
const LOSSY: Link = Link {
    latency: Duration::from_millis(200),
    jitter: Duration::from_millis(100),
    success_rate: probability!(0.9),
};

/// What a run does besides the honest schedule.
#[derive(Clone)]
struct Scenario {
    /// Validators never started.
    crashed: &'static [usize],
    /// Every link.
    link: Link,
    /// Once every validator reached [`PARTITION_AT`], cut {0, 1} from {2, 3} for this long.
    partition: Option<Duration>,
    /// Once every validator reached [`PARTITION_AT`], stop validator [`RESTARTED`] for this
    /// long, then start it again on what it stored.
    restart: Option<Duration>,
    /// Validator [`TWIN`]'s key runs twice (see the module documentation).
    twin: bool,
}

const HONEST: Scenario = Scenario { crashed: &[], link: LINK, partition: None, restart: None, twin: false };

/// The height at which the partition or the restart starts.
const PARTITION_AT: u64 = 5;
/// The validator stopped and started again.
const RESTARTED: usize = 3;
/// The validator with a twin.
const TWIN: usize = 0;

/// Per height: the block digest and the state digest after it.
type Log = BTreeMap<u64, (Digest, Digest)>;

/// What one run shows.
struct Outcome {
    /// Per live validator: its log, from its executed effects.
    logs: Vec<Log>,
    /// Per live validator: every executed transaction with its status.
    executed: Vec<Vec<(TxDigest, TxStatus)>>,
    /// The submitted transactions.
    submitted: BTreeSet<TxDigest>,
    /// The runtime auditor's digest of the run.
    audit: String,
    /// Per live honest validator: its executed state's record of each validator's
    /// equivocations (key, count).
    convictions: Vec<Vec<(Ed25519PublicKey, u64)>>,
    /// Per live honest validator: the validators its executed events show equivocated.
    equivocated: Vec<Vec<Ed25519PublicKey>>,
}

fn submit(validators: &[Validator], txs: &[SignedTransaction]) {
    for validator in validators {
        for tx in txs {
            let state = validator.executor.state();
            validator.mempool.submit(&state, tx.clone()).expect("admitted");
        }
    }
}

/// The validators' consensus keys.
fn keys() -> Vec<PrivateKey> {
    (0..N as u64).map(PrivateKey::from_seed).collect()
}

/// The test genesis, naming the validators of [`keys`].
fn genesis_of(users: &[walrus_core::keys::Ed25519KeyPair]) -> Genesis {
    let mut genesis = genesis(users, GENESIS_MS);
    genesis.validators = keys()
        .iter()
        .map(|key| GenesisValidator {
            public_key: Ed25519PublicKey(key.public_key().as_ref().try_into().expect("32 bytes")),
            p2p_address: "simulated".into(),
        })
        .collect();
    genesis
}

/// The simulated network and what starting a validator on it takes.
struct Net {
    oracle: Oracle<PublicKey, deterministic::Context>,
    keys: Vec<PrivateKey>,
    participants: Set<PublicKey>,
    genesis: Genesis,
}

type SimChannels =
    Channels<simulated::Sender<PublicKey, deterministic::Context>, simulated::Receiver<PublicKey>>;

impl Net {
    /// Registers validator `i`'s channels.
    async fn register(&self, i: usize) -> SimChannels {
        let quota = Quota::per_second(NonZeroU32::new(10_000).expect("non-zero"));
        let control = self.oracle.control(self.keys[i].public_key());
        let register = async |channel| control.register(channel, quota).await.expect("channel registered");
        Channels {
            votes: register(channels::VOTES).await,
            certificates: register(channels::CERTIFICATES).await,
            resolver: register(channels::RESOLVER).await,
            backfill: register(channels::BACKFILL).await,
            blocks: register(channels::BLOCKS).await,
            transactions: register(channels::TRANSACTIONS).await,
        }
    }

    /// Starts validator `i` on `channels`, with its storage under `prefix` and its executed
    /// state in `store` (in memory from genesis if `None`).
    async fn start<S, R>(
        &self,
        context: &deterministic::Context,
        i: usize,
        channels: Channels<S, R>,
        prefix: &str,
        store: Option<Arc<dyn StateStore>>,
    ) -> Validator
    where
        S: commonware_p2p::Sender<PublicKey = PublicKey>,
        R: commonware_p2p::Receiver<PublicKey = PublicKey>,
    {
        let config = Config {
            signer: self.keys[i].clone(),
            participants: self.participants.clone(),
            genesis: self.genesis.clone(),
            store,
            blocker: self.oracle.control(self.keys[i].public_key()),
            peers: self.oracle.manager(),
            partition_prefix: prefix.to_string(),
            parameters: Parameters::default(),
        };
        let context = context.child("validator").with_attribute("index", i).with_attribute("prefix", prefix);
        walrus_consensus::start(context, config, channels).await.expect("validator starts")
    }
}

/// Splits one registered channel between two twins: both send to everyone; messages from
/// `primary_peer` reach the first, the others' the second.
fn split_channel(
    context: &deterministic::Context,
    (sender, receiver): (
        simulated::Sender<PublicKey, deterministic::Context>,
        simulated::Receiver<PublicKey>,
    ),
    primary_peer: &PublicKey,
) -> (
    (impl commonware_p2p::Sender<PublicKey = PublicKey>, simulated::Receiver<PublicKey>),
    (impl commonware_p2p::Sender<PublicKey = PublicKey>, simulated::Receiver<PublicKey>),
) {
    let (first, second) =
        sender.split_with(|_, recipients: &Recipients<PublicKey>, _: &_| Some(recipients.clone()));
    let primary_peer = primary_peer.clone();
    let (one, two) = receiver.split_with(context.child("split"), move |(from, _): &(PublicKey, _)| {
        if *from == primary_peer {
            SplitTarget::Primary
        } else {
            SplitTarget::Secondary
        }
    });
    ((first, one), (second, two))
}

/// Starts the simulated network and the `N` validators but those in `crashed` (never started,
/// without links); with a twin, the honest ones first and the two twins apart.
async fn start_validators(
    context: &deterministic::Context,
    genesis: &Genesis,
    scenario: &Scenario,
) -> (Vec<Validator>, Vec<Validator>, Net) {
    let crashed = scenario.crashed;
    let keys = keys();
    let participants: Set<PublicKey> = Set::from_iter_dedup(keys.iter().map(|k| k.public_key()));
    let state = genesis.build().expect("valid genesis");
    let block_config = BlockConfig::new(ChainBlock::genesis(genesis, &state));
    let (network, oracle) = Network::new_with_peers(
        context.child("network"),
        simulated::Config {
            max_size: walrus_consensus::max_message_size(N as u32, &block_config),
            max_peers_per_set: NonZeroUsize::new(N).expect("non-zero"),
            disconnect_on_block: true,
            tracked_peer_sets: NonZeroUsize::new(1).expect("non-zero"),
        },
        participants.clone(),
    )
    .await;
    network.start();
    let live: Vec<usize> = (0..N).filter(|i| !crashed.contains(i)).collect();
    for &a in &live {
        for &b in &live {
            if a != b {
                let (pa, pb) = (keys[a].public_key(), keys[b].public_key());
                oracle.add_link(pa, pb, scenario.link.clone()).await.expect("link added");
            }
        }
    }
    let net = Net { oracle, keys, participants, genesis: genesis.clone() };
    let mut validators = Vec::new();
    let mut twins = Vec::new();
    for &i in &live {
        let channels = net.register(i).await;
        if scenario.twin && i == TWIN {
            let peer = net.keys[(TWIN + 1) % N].public_key();
            let split = |pair| split_channel(context, pair, &peer);
            let (votes, certificates, resolver) =
                (split(channels.votes), split(channels.certificates), split(channels.resolver));
            let (backfill, blocks, transactions) =
                (split(channels.backfill), split(channels.blocks), split(channels.transactions));
            let first = Channels {
                votes: votes.0,
                certificates: certificates.0,
                resolver: resolver.0,
                backfill: backfill.0,
                blocks: blocks.0,
                transactions: transactions.0,
            };
            let second = Channels {
                votes: votes.1,
                certificates: certificates.1,
                resolver: resolver.1,
                backfill: backfill.1,
                blocks: blocks.1,
                transactions: transactions.1,
            };
            twins.push(net.start(context, i, first, &format!("validator-{i}"), None).await);
            twins.push(net.start(context, i, second, &format!("validator-{i}-twin"), None).await);
            continue;
        }
        validators.push(net.start(context, i, channels, &format!("validator-{i}"), None).await);
    }
    (validators, twins, net)
}

/// Cuts (or restores, with `link`) every link between {0, 1} and {2, 3}.
async fn split(oracle: &Oracle<PublicKey, deterministic::Context>, keys: &[PublicKey], link: Option<&Link>) {
    for a in 0..N / 2 {
        for b in N / 2..N {
            for (from, to) in [(a, b), (b, a)] {
                let (from, to) = (keys[from].clone(), keys[to].clone());
                match link {
                    Some(link) => oracle.add_link(from, to, link.clone()).await.expect("link added"),
                    None => oracle.remove_link(from, to).await.expect("link removed"),
                }
            }
        }
    }
}

/// What a live validator's effects showed so far.
#[derive(Default)]
struct Seen {
    log: Log,
    executed: Vec<(TxDigest, TxStatus)>,
    /// The validators the executed blocks' events show equivocated.
    equivocated: Vec<Ed25519PublicKey>,
}

impl Seen {
    fn drain(&mut self, receiver: &mut Effects) {
        while let Ok(block) = receiver.try_recv() {
            self.log.insert(block.height, (block.block_digest, block.state_digest));
            self.executed.extend(block.transactions.iter().map(|tx| (tx.digest, tx.status.clone())));
            for event in block.all_events() {
                if let Event::ValidatorEquivocated { validator, .. } = event.event {
                    self.equivocated.push(validator);
                }
            }
        }
    }
}

type Effects = tokio::sync::mpsc::UnboundedReceiver<Arc<BlockEffects>>;

/// Whether every validator's executed state records an equivocation of [`TWIN`].
fn twin_convicted(validators: &[Validator], net: &Net) -> bool {
    let twin = &net.genesis.validators[TWIN].public_key;
    validators.iter().all(|v| v.executor.state().convictions.contains_key(twin))
}

/// Runs `N` validators from `seed` as `scenario` says, until every live one has executed
/// [`HEIGHT`] blocks and every submitted transfer (and, with a twin, recorded its conviction).
fn run(seed: u64, scenario: Scenario) -> Outcome {
    let config = deterministic::Config::new()
        .with_seed(seed)
        .with_start_time(UNIX_EPOCH + Duration::from_millis(GENESIS_MS))
        .with_timeout(Some(DEADLINE * 2));
    deterministic::Runner::new(config).start(|context| async move {
        let users = users(USERS);
        let genesis = genesis_of(&users);
        let (mut validators, twins, net) = start_validators(&context, &genesis, &scenario).await;
        let mut partition = scenario.partition;
        let mut restart = scenario.restart;
        let mut effects: Vec<_> = validators.iter().map(|v| v.executor.subscribe_effects()).collect();
        let mut seen: Vec<Seen> = validators.iter().map(|_| Seen::default()).collect();

        // An idle chain makes no blocks: a round of transfers (one per user) goes in whenever
        // the previous one is executed everywhere, until the chain is high enough.
        let mut submitted = BTreeSet::new();
        let deadline = context.current() + DEADLINE;
        let mut round = 0;
        loop {
            let heights: Vec<u64> = validators.iter().map(|v| v.executor.head().height).collect();
            let pending = validators.iter().map(|v| v.mempool.len()).sum::<usize>();
            let convicted = !scenario.twin || twin_convicted(&validators, &net);
            if heights.iter().all(|h| *h >= HEIGHT) && pending == 0 && convicted {
                break;
            }
            let started = heights.iter().all(|h| *h >= PARTITION_AT);
            if let Some(length) = partition.filter(|_| started) {
                partition = None;
                split(&net.oracle, &keys_of(&net), None).await;
                // Blocks certified before the cut may still finalize; then nothing does.
                context.sleep(Duration::from_secs(2)).await;
                let cut: Vec<u64> = validators.iter().map(|v| v.executor.head().height).collect();
                // Transactions submitted meanwhile wait for the heal.
                let txs = transfers(&genesis, &users, round..round + 1);
                submitted.extend(txs.iter().map(|tx| tx.data.digest()));
                submit(&validators, &txs);
                round += 1;
                context.sleep(length).await;
                let during: Vec<u64> = validators.iter().map(|v| v.executor.head().height).collect();
                assert_eq!(cut, during, "a half of the validators finalized alone");
                split(&net.oracle, &keys_of(&net), Some(&scenario.link)).await;
                continue;
            }
            if let Some(length) = restart.filter(|_| started) {
                restart = None;
                // A crash: every task stops; what the validator stored stays (its storage
                // partitions and its executed state).
                let store = validators[RESTARTED].executor.store();
                seen[RESTARTED].drain(&mut effects[RESTARTED]);
                validators.swap_remove(RESTARTED).abort();
                let txs = transfers(&genesis, &users, round..round + 1);
                submitted.extend(txs.iter().map(|tx| tx.data.digest()));
                submit(&validators, &txs);
                round += 1;
                context.sleep(length).await;
                let channels = net.register(RESTARTED).await;
                let prefix = format!("validator-{RESTARTED}");
                let restarted = net.start(&context, RESTARTED, channels, &prefix, Some(store)).await;
                effects[RESTARTED] = restarted.executor.subscribe_effects();
                validators.push(restarted);
                continue;
            }
            if pending == 0 {
                let txs = transfers(&genesis, &users, round..round + 1);
                submitted.extend(txs.iter().map(|tx| tx.data.digest()));
                submit(&validators, &txs);
                round += 1;
            }
            for validator in &validators {
                assert_eq!(validator.executor.failure(), None, "an executor stopped");
            }
            assert!(
                context.current() < deadline,
                "heights {heights:?}, {pending} pending and convicted: {convicted} at the deadline"
            );
            context.sleep(Duration::from_millis(100)).await;
        }

        assert!(partition.is_none() && restart.is_none(), "the chain ended before the fault began");
        for validator in &validators {
            // Blocks commit to the states their proposers executed, a few heights back.
            let committed = validator.executor.state().last_exec_height;
            assert!(committed >= HEIGHT / 2, "blocks commit to the state at height {committed} only");
        }
        for (seen, receiver) in seen.iter_mut().zip(&mut effects) {
            seen.drain(receiver);
        }
        let convictions = validators
            .iter()
            .map(|v| v.executor.state().convictions.iter().map(|(key, c)| (*key, c.count)).collect())
            .collect();
        for validator in validators.into_iter().chain(twins) {
            validator.abort();
        }
        Outcome {
            logs: seen.iter().map(|s| s.log.clone()).collect(),
            equivocated: seen.iter().map(|s| s.equivocated.clone()).collect(),
            executed: seen.into_iter().map(|s| s.executed).collect(),
            submitted,
            audit: context.auditor().state(),
            convictions,
        }
    })
}

fn keys_of(net: &Net) -> Vec<PublicKey> {
    net.keys.iter().map(|k| k.public_key()).collect()
}

/// Safety and completeness: every live validator executed heights 1..=HEIGHT (at least) with
/// the same block and state digests as every other, and every submitted transfer exactly once,
/// successfully.
fn check(outcome: &Outcome, live: usize) {
    assert_eq!(outcome.logs.len(), live);
    for log in &outcome.logs {
        let heights: Vec<u64> = log.keys().copied().collect();
        let expected: Vec<u64> = (1..=heights.len() as u64).collect();
        assert_eq!(heights, expected, "executed heights are 1, 2, ... without gaps");
        assert!(heights.len() as u64 >= HEIGHT);
    }
    for a in &outcome.logs {
        for b in &outcome.logs {
            for height in 1..=HEIGHT {
                assert_eq!(a.get(&height), b.get(&height), "validators disagree at height {height}");
            }
        }
    }
    for executed in &outcome.executed {
        let mut seen = BTreeSet::new();
        for (digest, status) in executed {
            assert!(seen.insert(*digest), "transaction {digest} executed twice");
            assert_eq!(*status, TxStatus::Success, "transaction {digest}");
        }
        assert_eq!(seen, outcome.submitted, "every submitted transfer executes");
    }
}

#[test]
fn honest_validators_agree_and_execute_every_transfer_once() {
    let outcome = run(1, HONEST);
    check(&outcome, N);
}

#[test]
fn three_of_four_validators_make_progress_with_one_crashed() {
    let outcome = run(2, Scenario { crashed: &[3], ..HONEST });
    check(&outcome, N - 1);
}

#[test]
fn slow_and_lossy_links_only_slow_the_chain() {
    let outcome = run(5, Scenario { link: LOSSY, ..HONEST });
    check(&outcome, N);
}

#[test]
fn a_partition_stops_finality_and_healing_resumes_it() {
    let outcome = run(6, Scenario { partition: Some(Duration::from_secs(20)), ..HONEST });
    check(&outcome, N);
}

#[test]
fn a_restarted_validator_resumes_from_its_write_ahead_log_and_executes_each_height_once() {
    let outcome = run(7, Scenario { restart: Some(Duration::from_secs(10)), ..HONEST });
    check(&outcome, N);
    assert!(outcome.convictions.iter().all(Vec::is_empty), "nobody equivocated");
}

#[test]
fn an_equivocating_twin_is_convicted_on_chain_and_the_honest_agree() {
    let outcome = run(8, Scenario { twin: true, ..HONEST });
    check(&outcome, N - 1);
    let twin = genesis_of(&users(USERS)).validators[TWIN].public_key;
    for convictions in &outcome.convictions {
        assert_eq!(convictions.len(), 1, "only the twin's key is convicted");
        assert_eq!(convictions[0].0, twin);
        assert!(convictions[0].1 >= 1);
    }
    for (events, convictions) in outcome.equivocated.iter().zip(&outcome.convictions) {
        assert_eq!(events.len() as u64, convictions[0].1, "one event per recorded equivocation");
        assert!(events.iter().all(|key| *key == twin));
    }
    assert!(outcome.convictions.windows(2).all(|w| w[0] == w[1]), "the record is the same everywhere");
}

#[test]
fn a_seed_determines_the_run() {
    let first = run(3, HONEST);
    let second = run(3, HONEST);
    assert_eq!(first.audit, second.audit);
    assert_eq!(first.logs, second.logs);
    let other = run(4, HONEST);
    assert_ne!(first.audit, other.audit, "another seed gives another schedule");
}
