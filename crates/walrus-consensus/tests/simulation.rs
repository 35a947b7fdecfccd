//! Four validators on the deterministic runtime and the simulated p2p network, built with the
//! same constructor the binary will use, with a real genesis and real signed transfers:
//! - honest: all reach height [`HEIGHT`], agree on every block and state digest, and execute
//!   every submitted transfer exactly once (each was submitted to every validator's mempool);
//! - one validator crashed from the start (f = 1): the other three do the same;
//! - slow and lossy links (a tenth of the messages lost, 200 ± 100 ms): the same, later;
//! - a partition into two halves: no half finalizes alone, and after it heals all go on and
//!   agree;
//! - determinism: one seed gives one run (the runtime auditor's digest).

use std::collections::{BTreeMap, BTreeSet};
use std::num::{NonZeroU32, NonZeroUsize};
use std::time::{Duration, UNIX_EPOCH};

mod common;

use common::{genesis, transfers, users, USERS};
use commonware_cryptography::ed25519::{PrivateKey, PublicKey};
use commonware_cryptography::Signer as _;
use commonware_p2p::simulated::{self, Link, Network, Oracle};
use commonware_runtime::{deterministic, Clock as _, Quota, Runner as _, Supervisor as _};
use commonware_utils::ordered::Set;
use commonware_utils::probability;
use walrus_chain::{Genesis, SignedTransaction, TxDigest, TxStatus};
use walrus_consensus::{channels, BlockConfig, ChainBlock, Channels, Config, Parameters, Validator};
use walrus_core::hash::Digest;

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
}

const HONEST: Scenario = Scenario { crashed: &[], link: LINK, partition: None };

/// The height at which the partition starts.
const PARTITION_AT: u64 = 5;

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
}

fn submit(validators: &[Validator], txs: &[SignedTransaction]) {
    for validator in validators {
        for tx in txs {
            let state = validator.executor.state();
            validator.mempool.submit(&state, tx.clone()).expect("admitted");
        }
    }
}

/// Starts the simulated network and the `N` validators but those in `crashed` (never started,
/// without links).
async fn start_validators(
    context: &deterministic::Context,
    genesis: &Genesis,
    scenario: &Scenario,
) -> (Vec<Validator>, Oracle<PublicKey, deterministic::Context>, Vec<PublicKey>) {
    let crashed = scenario.crashed;
    let keys: Vec<PrivateKey> = (0..N as u64).map(PrivateKey::from_seed).collect();
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
    let quota = Quota::per_second(NonZeroU32::new(10_000).expect("non-zero"));
    let mut validators = Vec::new();
    for &i in &live {
        let control = oracle.control(keys[i].public_key());
        let register = async |channel| control.register(channel, quota).await.expect("channel registered");
        let channels = Channels {
            votes: register(channels::VOTES).await,
            certificates: register(channels::CERTIFICATES).await,
            resolver: register(channels::RESOLVER).await,
            backfill: register(channels::BACKFILL).await,
            blocks: register(channels::BLOCKS).await,
            transactions: register(channels::TRANSACTIONS).await,
        };
        let config = Config {
            signer: keys[i].clone(),
            participants: participants.clone(),
            genesis: genesis.clone(),
            store: None,
            blocker: control.clone(),
            peers: oracle.manager(),
            partition_prefix: format!("validator-{i}"),
            parameters: Parameters::default(),
        };
        let context = context.child("validator").with_attribute("index", i);
        validators.push(walrus_consensus::start(context, config, channels).await.expect("validator starts"));
    }
    (validators, oracle, keys.iter().map(|k| k.public_key()).collect())
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

/// Runs `N` validators from `seed` as `scenario` says, until every live one has executed
/// [`HEIGHT`] blocks and every submitted transfer.
fn run(seed: u64, scenario: Scenario) -> Outcome {
    let config = deterministic::Config::new()
        .with_seed(seed)
        .with_start_time(UNIX_EPOCH + Duration::from_millis(GENESIS_MS))
        .with_timeout(Some(DEADLINE * 2));
    deterministic::Runner::new(config).start(|context| async move {
        let users = users(USERS);
        let genesis = genesis(&users, GENESIS_MS);
        let (validators, oracle, keys) = start_validators(&context, &genesis, &scenario).await;
        let mut partition = scenario.partition;
        let mut effects: Vec<_> = validators.iter().map(|v| v.executor.subscribe_effects()).collect();

        // An idle chain makes no blocks: a round of transfers (one per user) goes in whenever
        // the previous one is executed everywhere, until the chain is high enough.
        let mut submitted = BTreeSet::new();
        let deadline = context.current() + DEADLINE;
        let mut round = 0;
        loop {
            let heights: Vec<u64> = validators.iter().map(|v| v.executor.head().height).collect();
            let pending = validators.iter().map(|v| v.mempool.len()).sum::<usize>();
            if heights.iter().all(|h| *h >= HEIGHT) && pending == 0 {
                break;
            }
            if let Some(length) = partition.filter(|_| heights.iter().all(|h| *h >= PARTITION_AT)) {
                partition = None;
                split(&oracle, &keys, None).await;
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
                split(&oracle, &keys, Some(&scenario.link)).await;
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
                "heights {heights:?} and {pending} pending at the deadline"
            );
            context.sleep(Duration::from_millis(100)).await;
        }

        assert!(partition.is_none(), "the chain ended before the partition began");
        for validator in &validators {
            // Blocks commit to the states their proposers executed, a few heights back.
            let committed = validator.executor.state().last_exec_height;
            assert!(committed >= HEIGHT / 2, "blocks commit to the state at height {committed} only");
        }
        let mut logs = Vec::new();
        let mut executed = Vec::new();
        for receiver in &mut effects {
            let mut log = BTreeMap::new();
            let mut txs = Vec::new();
            while let Ok(block) = receiver.try_recv() {
                log.insert(block.height, (block.block_digest, block.state_digest));
                txs.extend(block.transactions.iter().map(|tx| (tx.digest, tx.status.clone())));
            }
            logs.push(log);
            executed.push(txs);
        }
        for validator in validators {
            validator.abort();
        }
        Outcome { logs, executed, submitted, audit: context.auditor().state() }
    })
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
fn a_seed_determines_the_run() {
    let first = run(3, HONEST);
    let second = run(3, HONEST);
    assert_eq!(first.audit, second.audit);
    assert_eq!(first.logs, second.logs);
    let other = run(4, HONEST);
    assert_ne!(first.audit, other.audit, "another seed gives another schedule");
}
