//! Codec benchmarks at the production shape (n = 1000 shards): encoding with metadata, the
//! metadata (blob ID) alone, decoding from the systematic slivers and from a random `n - 2f`
//! set, and recovering one sliver of each axis from recovery symbols.
//!
//! `baseline/reference_style_blob_id` is the straightforward algorithm (one Reed-Solomon call per
//! row and per column on `s`-byte shards, one Blake2b call per node, one thread), as the
//! reference structures it; it must produce the same blob ID and gives the same-run baseline
//! for the ratios in docs/benchmarks.md.
//!
//! `WALRUS_BENCH_SIZES=1,1024,1048576` (bytes, comma-separated) limits the blob sizes;
//! `WALRUS_BENCH_SHARDS` changes n. Results are recorded in docs/benchmarks.md.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use walrus_core::decode::{decode_blob, ConsistencyCheck};
use walrus_core::encode::{compute_metadata, encode_blob};
use walrus_core::recovery::{recover_sliver, GeneralRecoverySymbol};
use walrus_core::{EncodingParams, SliverIndex, SliverPairIndex, SliverType};

const SIZES_DEFAULT: &[usize] = &[1, 1 << 10, 1 << 20, 32 << 20, 256 << 20];

fn sizes() -> Vec<usize> {
    std::env::var("WALRUS_BENCH_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| SIZES_DEFAULT.to_vec())
}

fn params() -> EncodingParams {
    let n = std::env::var("WALRUS_BENCH_SHARDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    EncodingParams::new(n).expect("valid shard count")
}

/// Deterministic pseudo-random bytes (splitmix64, seeded with the length).
fn blob(len: usize) -> Vec<u8> {
    walrus_core::splitmix::splitmix_bytes(len as u64, len)
}

fn label(size: usize) -> String {
    match size {
        s if s >= 1 << 20 => format!("{}MiB", s >> 20),
        s if s >= 1 << 10 => format!("{}KiB", s >> 10),
        s => format!("{s}B"),
    }
}

fn encoding(c: &mut Criterion) {
    let params = params();
    let mut group = c.benchmark_group("encode");
    group.sample_size(10);
    for size in sizes() {
        let data = blob(size);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("encode_with_metadata", label(size)), &data, |b, d| {
            b.iter(|| encode_blob(params, d).expect("encodable"))
        });
        group.bench_with_input(BenchmarkId::new("compute_metadata", label(size)), &data, |b, d| {
            b.iter(|| compute_metadata(params, d).expect("encodable"))
        });
    }
    group.finish();
}

/// Blake2b-256 of the concatenation of `parts`, one call per hash.
fn h(parts: &[&[u8]]) -> [u8; 32] {
    let mut state = blake2b_simd::Params::new().hash_length(32).to_state();
    for p in parts {
        state.update(p);
    }
    state.finalize().as_bytes().try_into().expect("32-byte digest")
}

/// Merkle root with one hash call per node (odd levels padded with zeros).
fn naive_root(mut level: Vec<[u8; 32]>) -> [u8; 32] {
    while level.len() > 1 {
        if level.len() % 2 == 1 {
            level.push([0; 32]);
        }
        level = level.chunks(2).map(|p| h(&[&[1], &p[0], &p[1]])).collect();
    }
    level[0]
}

/// The reference's structure: `kP` row encodes, then `n` column encodes, all on `s`-byte shards.
fn reference_style_blob_id(params: EncodingParams, blob: &[u8]) -> walrus_core::BlobId {
    let (n, kp, ks) = (params.n(), params.primary_source_symbols(), params.secondary_source_symbols());
    let s = usize::from(params.symbol_size(blob.len() as u64).expect("fits"));
    let mut padded = blob.to_vec();
    padded.resize(kp * ks * s, 0);
    // e[r][c]: the expanded matrix, symbol by symbol.
    let mut e = vec![vec![Vec::new(); n]; n];
    #[allow(clippy::needless_range_loop)] // index form mirrors the matrix maths
    for r in 0..kp {
        let row: Vec<&[u8]> = (0..ks).map(|c| &padded[(r * ks + c) * s..(r * ks + c + 1) * s]).collect();
        let repair = reed_solomon_simd::encode(ks, n - ks, &row).expect("encodes");
        for c in 0..n {
            e[r][c] = if c < ks { row[c].to_vec() } else { repair[c - ks].clone() };
        }
    }
    #[allow(clippy::needless_range_loop)]
    for c in 0..n {
        let column: Vec<Vec<u8>> = (0..kp).map(|r| e[r][c].clone()).collect();
        let repair = reed_solomon_simd::encode(kp, n - kp, &column).expect("encodes");
        for (r, symbol) in repair.into_iter().enumerate() {
            e[kp + r][c] = symbol;
        }
    }
    let leaf = |r: usize, c: usize| h(&[&[0], &e[r][c]]);
    let pairs: Vec<[u8; 64]> = (0..n)
        .map(|p| {
            let primary = naive_root((0..n).map(|c| leaf(p, c)).collect());
            let secondary = naive_root((0..n).map(|r| leaf(r, n - 1 - p)).collect());
            let mut pair = [0u8; 64];
            pair[..32].copy_from_slice(&primary);
            pair[32..].copy_from_slice(&secondary);
            pair
        })
        .collect();
    let root = naive_root(pairs.iter().map(|p| h(&[&[0], p])).collect());
    walrus_core::BlobId(h(&[&[1], &(blob.len() as u64).to_le_bytes(), &root]))
}

fn baseline(c: &mut Criterion) {
    let params = params();
    let mut group = c.benchmark_group("baseline");
    group.sample_size(10);
    // The straightforward algorithm holds all n^2 symbols as separate vectors: small blobs only.
    for size in sizes().into_iter().filter(|&s| s <= 1 << 20) {
        let data = blob(size);
        let expected = *compute_metadata(params, &data).expect("encodable").blob_id();
        assert_eq!(reference_style_blob_id(params, &data), expected, "baseline disagrees at {size} B");
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("reference_style_blob_id", label(size)), &data, |b, d| {
            b.iter(|| reference_style_blob_id(params, d))
        });
    }
    group.finish();
}

fn decoding(c: &mut Criterion) {
    let params = params();
    let (n, kp) = (params.n(), params.primary_source_symbols());
    let mut group = c.benchmark_group("decode");
    group.sample_size(10);
    for size in sizes() {
        let encoded = encode_blob(params, &blob(size)).expect("encodable");
        let primaries: Vec<_> = (0..n as u16).map(|i| encoded.sliver_pair(SliverPairIndex(i)).0).collect();
        let systematic: Vec<_> = primaries[..kp].to_vec();
        // A fixed "random" choice mixing systematic and repair slivers: every third index.
        let mixed: Vec<_> = primaries.iter().step_by(3).take(kp).cloned().collect();
        assert_eq!(mixed.len(), kp);
        let metadata = encoded.metadata().clone();
        group.throughput(Throughput::Bytes(size as u64));
        for (name, set) in [("systematic", &systematic), ("mixed_default_check", &mixed)] {
            group.bench_with_input(BenchmarkId::new(name, label(size)), set, |b, set| {
                b.iter_batched(
                    || set.clone(),
                    |set| decode_blob(&metadata, set, ConsistencyCheck::Default).expect("decodes"),
                    BatchSize::LargeInput,
                )
            });
        }
    }
    group.finish();
}

fn recovery(c: &mut Criterion) {
    let params = params();
    let n = params.n_shards();
    let mut group = c.benchmark_group("recover_sliver");
    group.sample_size(10);
    for size in sizes() {
        let encoded = encode_blob(params, &blob(size)).expect("encodable");
        let metadata = encoded.metadata().clone();
        let target = SliverIndex(n / 2);
        for axis in [SliverType::Primary, SliverType::Secondary] {
            let source_axis = axis.orthogonal();
            let symbols: Vec<GeneralRecoverySymbol> = (0..n)
                .rev()
                .take(params.symbols_for_recovery(axis))
                .map(|j| {
                    let sliver = encoded.sliver_bytes(source_axis, SliverIndex(j));
                    GeneralRecoverySymbol::from_sliver(
                        params,
                        source_axis,
                        SliverIndex(j),
                        encoded.symbol_size(),
                        sliver,
                        target,
                    )
                    .expect("valid source")
                })
                .collect();
            group.throughput(Throughput::Bytes(params.sliver_size(axis, size as u64).expect("fits") as u64));
            group.bench_with_input(BenchmarkId::new(axis.as_str(), label(size)), &symbols, |b, symbols| {
                b.iter(|| {
                    let verified =
                        symbols.iter().map(|s| s.clone().verify(&metadata, axis, target).expect("valid"));
                    recover_sliver(&metadata, axis, target, verified).expect("recovers")
                })
            });
        }
    }
    group.finish();
}

mod harness {
    //! Criterion's generated entry points (undocumented by construction).
    #![allow(missing_docs)]
    use super::*;
    criterion_group!(benches, baseline, encoding, decoding, recovery);
}

criterion_main!(harness::benches);
