//! One epoch change that moves a quarter of the shards, in process: a chain and four storage
//! nodes on loopback (n = 100 shards, 25 each, 120-second epochs), `EPOCH_BENCH_MIB` MiB of
//! blobs stored with the SDK (64 by default; 1024 for the figure), then enough stake on
//! the first node to give it half of the shards at the next epoch. It prints:
//!
//! - the time from `EpochChangeStart` to `EpochChangeDone` (every node rebuilt or pulled what it
//!   gained and reported);
//! - the sliver bytes shard sync moved against the encoded bytes of the shards that moved (the
//!   goal is at most 1.1x), and what recovery downloaded besides;
//! - read latency of a 1 MiB blob (p50, p99) during the change against a quiet epoch after it.
//!
//! Run with `cargo bench -p walrus-sdk --bench epoch_change` (`RUST_LOG=warn` for the nodes'
//! logs); results in docs/benchmarks.md.

use std::time::{Duration, Instant};

use walrus_chain::epoch::EpochState;
use walrus_chain::{Call, Frost};
use walrus_core::keys::Ed25519KeyPair;
use walrus_core::{BlobId, EncodingParams, Epoch, SliverType};
use walrus_sdk::{BlobStoreResult, Client, StoreOptions};
use walrus_testkit::Net;

const NODES: usize = 4;
const SHARDS: u16 = 100;
const EPOCH_MS: u64 = 120_000;
const BLOB_BYTES: usize = 16 << 20;

fn data(size: usize, seed: u64) -> Vec<u8> {
    (0..size as u64).map(|i| ((i ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8).collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn sum_metric(net: &Net, name: &str) -> u64 {
    let mut total = 0;
    for node in 0..net.nodes.len() {
        total += net.metric(node, name).await;
    }
    total
}

async fn read_latencies(
    client: &Client,
    blob_id: &BlobId,
    until: impl Fn() -> bool,
    at_most: usize,
) -> Vec<Duration> {
    let mut out = Vec::new();
    while out.len() < at_most && !until() {
        let started = Instant::now();
        client.read(blob_id).await.expect("read");
        out.push(started.elapsed());
    }
    out.sort();
    out
}

/// Logs to stderr when `RUST_LOG` is set.
fn logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    }
}

fn main() {
    logs();
    let mib: usize = std::env::var("EPOCH_BENCH_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async move {
        let net = Net::start_shaped(NODES, SHARDS, EPOCH_MS, |_| {}, |_, _| Vec::new()).await;
        let key = *net.nodes[0].node.bls.public();
        let committee = net.chain_client.committee().await.expect("committee");
        let node_id = committee.members.iter().find(|m| m.public_key == key).expect("member").node_id;
        // 2 500 WAL each; 5 000 more on the first: 50 of the 100 shards, 25 of them moving.
        let stake = Call::StakeWithPool { node_id, amount: Frost::from_wal(5_000).expect("fits") };
        // The faucet gives at most 1 000 WAL at a time.
        for _ in 0..6 {
            net.chain_client.faucet(net.user.address(), 1_000_000_000_000).await.expect("funded");
        }
        net.chain_client.execute(&net.user, stake).await.expect("staked");

        let wallet = Ed25519KeyPair::from_seed(&[91; 32]);
        net.chain_client.faucet(wallet.address(), 1_000_000_000_000).await.expect("funded");
        let client = Client::new(&net.chain_url, wallet);
        let options = StoreOptions { epochs_ahead: 5, ..StoreOptions::default() };
        let params = EncodingParams::new(u64::from(SHARDS)).expect("params");
        let started = Instant::now();
        let mut sizes = Vec::new();
        for i in 0..(mib << 20).div_ceil(BLOB_BYTES) {
            let size = BLOB_BYTES.min((mib << 20) - i * BLOB_BYTES);
            client.store(data(size, i as u64), options).await.expect("stored");
            sizes.push(size as u64);
        }
        let probe = match client.store(data(1 << 20, 999), options).await.expect("stored") {
            BlobStoreResult::NewlyCreated(stored) => stored.blob_id,
            other => panic!("expected a new blob, got {other:?}"),
        };
        println!("stored {mib} MiB in {} blobs in {:.1} s", sizes.len(), started.elapsed().as_secs_f64());
        let system = net.chain_client.system().await.expect("system");
        assert!(system.system.next_committee.is_none(), "storing took past mid-epoch: use fewer MiB");

        let quiet = read_latencies(&client, &probe, || false, 20).await;
        // Wait for the change to begin, then read until it is done.
        loop {
            let system = net.chain_client.system().await.expect("system").system;
            if system.epoch() >= Epoch(1) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let change_started = Instant::now();
        let chain = net.chain_client.clone();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watcher = {
            let done = std::sync::Arc::clone(&done);
            tokio::spawn(async move {
                loop {
                    let system = chain.system().await.expect("system").system;
                    if !matches!(system.epoch_state, EpochState::ChangeSync { .. }) {
                        done.store(true, std::sync::atomic::Ordering::Relaxed);
                        return Instant::now();
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        };
        let during =
            read_latencies(&client, &probe, || done.load(std::sync::atomic::Ordering::Relaxed), 10_000).await;
        let change_done = watcher.await.expect("watcher");
        let members = net.chain_client.committee().await.expect("committee").members;
        let gained = members.iter().find(|m| m.node_id == node_id).map_or(0, |m| m.shards.len()) - 25;
        let per_shard: u64 = sizes
            .iter()
            .chain(std::iter::once(&(1u64 << 20)))
            .map(|size| {
                let primary = params.sliver_size(SliverType::Primary, *size).expect("size");
                let secondary = params.sliver_size(SliverType::Secondary, *size).expect("size");
                (primary + secondary) as u64
            })
            .sum();
        let moved = per_shard * gained as u64;
        let synced = sum_metric(&net, "walrus_shard_sync_bytes_total").await;
        let recovered = sum_metric(&net, "walrus_recovery_bytes_total").await;
        println!(
            "epoch change moving {gained} of {SHARDS} shards with {mib} MiB stored: {:.2} s from start to done",
            (change_done - change_started).as_secs_f64()
        );
        println!(
            "bytes moved: shard sync received {synced} for {moved} encoded bytes of the moved shards ({:.3}x); recovery downloaded {recovered}",
            synced as f64 / moved as f64
        );
        let after = read_latencies(&client, &probe, || false, during.len().max(20)).await;
        let show = |name: &str, l: &[Duration]| {
            if l.is_empty() {
                println!("reads {name}: none");
            } else {
                println!(
                    "reads {name}: {} of 1 MiB, p50 {:.1} ms, p99 {:.1} ms",
                    l.len(),
                    percentile(l, 0.5).as_secs_f64() * 1e3,
                    percentile(l, 0.99).as_secs_f64() * 1e3
                );
            }
        };
        show("before the change", &quiet);
        show("during the change", &during);
        show("after the change", &after);
        net.stop().await;
    });
}
