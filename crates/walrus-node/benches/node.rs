//! Storage nodes on loopback, in-process, with a real chain node (n = 10 shards):
//!
//! - `sliver_writes/<size>`: every sliver of a blob (10 primary and 10 secondary) written
//!   concurrently over HTTP into one node that holds all shards; each is verified against the
//!   stored metadata and synced to disk before the answer. The blob's registration and its
//!   metadata upload are outside the measurement. Throughput is in sliver bytes.
//! - `sliver_writes_batch/<size>`: the same 20 slivers in one request to our batch endpoint
//!   (`PUT /v1/blobs/{id}/slivers`), stored in one synced batch.
//! - `recovery/<size>`: a node that missed a certified blob rebuilds all its slivers (3 of the
//!   10 pairs) from the two other nodes' recovery symbols. The bytes it downloads, against the
//!   size of its own slivers and of the blob, are printed once per size.
//!
//! Results are recorded in docs/benchmarks.md.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use walrus_core::encode::{encode_blob, EncodedBlob};
use walrus_core::sliver::SliverUpload;
use walrus_core::{EncodingParams, SliverPairIndex, SliverType};
use walrus_testkit::{Net, N};

/// Blob sizes: a small file, and about the largest blob at n = 10 (1.8 MB).
const SIZES: [usize; 2] = [16 << 10, 1 << 20];

fn blob(size: usize, seed: u64) -> EncodedBlob {
    let params = EncodingParams::new(u64::from(N)).expect("params");
    let data: Vec<u8> =
        (0..size as u64).map(|i| ((i ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8).collect();
    encode_blob(params, &data).expect("encodable")
}

/// The bytes of all the blob's slivers.
fn sliver_bytes_of(blob: &EncodedBlob) -> u64 {
    (0..N)
        .map(|p| {
            let (primary, secondary) = blob.sliver_pair(SliverPairIndex(p));
            (primary.data().len() + secondary.data().len()) as u64
        })
        .sum()
}

fn label(size: usize) -> String {
    if size >= 1 << 20 {
        format!("{}MiB", size >> 20)
    } else {
        format!("{}KiB", size >> 10)
    }
}

fn sliver_writes(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let net = Arc::new(rt.block_on(Net::start_custom(1, 3_600_000, |config| {
        config.body_bytes_max = 64 << 20;
    })));
    let mut group = c.benchmark_group("sliver_writes");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    let mut seed = 0;
    for size in SIZES {
        group.throughput(Throughput::Bytes(sliver_bytes_of(&blob(size, 0))));
        group.bench_function(label(size), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        seed += 1;
                        let blob = Arc::new(blob(size, seed));
                        net.register(&blob, false).await;
                        net.upload_metadata(0, blob.metadata()).await;
                        let start = Instant::now();
                        let mut writes = tokio::task::JoinSet::new();
                        for pair in 0..N {
                            let (net, blob) = (Arc::clone(&net), Arc::clone(&blob));
                            writes
                                .spawn(async move { net.upload_pair(0, &blob, SliverPairIndex(pair)).await });
                        }
                        writes.join_all().await;
                        total += start.elapsed();
                    }
                    total
                })
            })
        });
    }
    group.finish();
    let mut group = c.benchmark_group("sliver_writes_batch");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    for size in SIZES {
        group.throughput(Throughput::Bytes(sliver_bytes_of(&blob(size, 0))));
        group.bench_function(label(size), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        seed += 1;
                        let blob = blob(size, seed);
                        net.register(&blob, false).await;
                        net.upload_metadata(0, blob.metadata()).await;
                        let uploads: Vec<SliverUpload> = (0..N)
                            .flat_map(|p| {
                                let pair = SliverPairIndex(p);
                                let (primary, secondary) = blob.sliver_pair(pair);
                                [(SliverType::Primary, primary), (SliverType::Secondary, secondary)].map(
                                    |(axis, sliver)| SliverUpload {
                                        pair,
                                        axis,
                                        sliver: sliver.into_unverified(),
                                    },
                                )
                            })
                            .collect();
                        let path = format!("/v1/blobs/{}/slivers", blob.metadata().blob_id());
                        let start = Instant::now();
                        let body = bcs::to_bytes(&uploads).expect("bcs");
                        let (status, answer) = net.put(0, &path, body).await;
                        total += start.elapsed();
                        assert_eq!(status, 201, "{answer}");
                    }
                    total
                })
            })
        });
    }
    group.finish();
    let net = Arc::into_inner(net).expect("no other owner");
    rt.block_on(net.stop());
}

fn recovery(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    // The follower's own recovery waits an hour, so that only the measured one runs.
    let net = rt.block_on(Net::start_custom(3, 3_600_000, |config| config.recovery_delay_ms = 3_600_000));
    // Genesis gives 4, 3 and 3 shards: nodes 0 and 1 hold 7 of 10, a quorum.
    let lagging = 2;
    let mut group = c.benchmark_group("recovery");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    let mut seed = 1 << 40;
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        let mut reported = false;
        group.bench_function(label(size), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        seed += 1;
                        let blob = blob(size, seed);
                        let object = net.register(&blob, false).await;
                        let signed = vec![net.upload_and_confirm(0, &blob).await, net.upload_and_confirm(1, &blob).await];
                        net.certify(object, &[0, 1], &signed).await;
                        let node = Arc::clone(&net.nodes[lagging].node);
                        let before = node.metrics.recovery_bytes.load(Ordering::Relaxed);
                        let recovered = node.metrics.slivers_recovered.load(Ordering::Relaxed);
                        let start = Instant::now();
                        walrus_node::recovery::heal(Arc::clone(&node), *blob.metadata().blob_id()).await;
                        total += start.elapsed();
                        let pairs = net.pairs_of(lagging, blob.metadata().blob_id());
                        let rebuilt = node.metrics.slivers_recovered.load(Ordering::Relaxed) - recovered;
                        assert_eq!(rebuilt, 2 * pairs.len() as u64, "every missing sliver is rebuilt");
                        if !reported {
                            reported = true;
                            let downloaded = node.metrics.recovery_bytes.load(Ordering::Relaxed) - before;
                            let own: usize = pairs
                                .iter()
                                .map(|p| {
                                    let (primary, secondary) = blob.sliver_pair(*p);
                                    primary.data().len() + secondary.data().len()
                                })
                                .sum();
                            eprintln!(
                                "recovery/{}: downloaded {downloaded} B for {own} B of own slivers ({:.2}x), blob {size} B ({:.3}x)",
                                label(size),
                                downloaded as f64 / own as f64,
                                downloaded as f64 / size as f64
                            );
                        }
                    }
                    total
                })
            })
        });
    }
    group.finish();
    rt.block_on(net.stop());
}

mod harness {
    //! Criterion's generated entry points (undocumented by construction).
    #![allow(missing_docs)]
    use super::*;
    criterion_group!(benches, sliver_writes, recovery);
}

criterion_main!(harness::benches);
