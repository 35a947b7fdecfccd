//! `walrus bench --quilt`: the small-file case on a running network. `--quilt-files` files of
//! `--quilt-file-size` bytes stored as one quilt (`--warmup` unrecorded quilts, then `--runs`
//! measured ones, each of fresh files) and, for comparison, one by one as separate blobs; wall
//! time and WAL paid (the wallet's balance before and after: storage, write fees and transaction
//! fees) for each, a patch read's p50 by patch ID, and encoded bytes per file.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use walrus_core::splitmix::splitmix_bytes;
use walrus_sdk::quilt::QuiltFile;
use walrus_sdk::{BlobStoreResult, Client, StoreOptions};

/// What a quilt run measured.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuiltFigures {
    files: usize,
    file_size: u64,
    n_shards: u16,
    quilt_runs: usize,
    quilt_store_p50_s: f64,
    quilt_store_min_s: f64,
    quilt_store_max_s: f64,
    /// The first measured quilt store (after the warm-up ones).
    quilt_store_first_s: f64,
    quilt_frost: u64,
    quilt_encoded_bytes: u64,
    separate_stores: usize,
    separate_store_s: f64,
    separate_frost: u64,
    separate_encoded_bytes_per_file: u64,
    patch_reads: usize,
    patch_read_p50_s: f64,
    patch_read_max_s: f64,
}

fn balance(runtime: &tokio::runtime::Runtime, client: &Client) -> Result<u64> {
    let address = client.wallet().address();
    Ok(runtime.block_on(client.chain().account(&address))?.account.balance.0)
}

/// `files` files of `size` fresh random bytes.
fn fresh_files(files: usize, len: usize) -> Result<Vec<QuiltFile>> {
    let seed = u64::from_le_bytes(walrus_chain_node::init::random_seed()?[..8].try_into().context("seed")?);
    Ok((0..files)
        .map(|i| QuiltFile {
            identifier: format!("file-{i:05}.bin"),
            tags: Default::default(),
            data: splitmix_bytes(seed.wrapping_add(i as u64), len),
        })
        .collect())
}

/// How a quilt case runs: its shape, and how many quilts and patch reads.
#[derive(Debug, Clone, Copy)]
pub struct QuiltCase {
    pub n_shards: u16,
    pub files: usize,
    pub size: u64,
    pub warmup: usize,
    pub runs: usize,
    pub reads: usize,
}

/// Stores `warmup + runs` quilts of `files` files of `size` bytes (timing the last `runs`)
/// and the last quilt's files as separate blobs; reads `reads` patches of the last quilt back
/// by ID. The blobs stay stored (deletable, one epoch).
pub fn measure(runtime: &tokio::runtime::Runtime, client: &Client, case: QuiltCase) -> Result<QuiltFigures> {
    let QuiltCase { n_shards, files, size, warmup, runs, reads } = case;
    let len = usize::try_from(size).context("file size")?;
    let options = StoreOptions { force: true, ..StoreOptions::default() };
    let mut store_times = Vec::with_capacity(runs);
    let mut last = None;
    let mut quilt_frost = 0;
    for round in 0..warmup + runs.max(1) {
        let inputs = fresh_files(files, len)?;
        let before = balance(runtime, client)?;
        let started = Instant::now();
        let stored =
            runtime.block_on(client.store_quilt(&inputs, options)).context("storing the quilt failed")?;
        let elapsed = started.elapsed();
        quilt_frost = before.saturating_sub(balance(runtime, client)?);
        let measured = round >= warmup;
        eprintln!(
            "quilt of {files} files of {size} B: stored in {:.3} s, {quilt_frost} FROST{}",
            elapsed.as_secs_f64(),
            if measured { "" } else { " (warm-up)" }
        );
        if measured {
            store_times.push(elapsed);
        }
        last = Some((inputs, stored));
    }
    let (inputs, stored) = last.context("no quilt was stored")?;
    let BlobStoreResult::NewlyCreated(created) = &stored.blob_store_result else {
        bail!("a forced quilt store did not create a blob")
    };
    let quilt_store_first = store_times.first().copied().unwrap_or_default();
    store_times.sort();
    let quilt_store_p50 = store_times[store_times.len().saturating_sub(1) / 2];

    let mut times = Vec::with_capacity(reads);
    for i in 0..reads.min(files) {
        let patch = &stored.stored_quilt_blobs[i * files / reads.min(files).max(1)];
        let started = Instant::now();
        let read =
            runtime.block_on(client.read_quilt_patch(&patch.patch_id)).context("reading a patch failed")?;
        times.push(started.elapsed());
        let expected =
            inputs.iter().find(|f| f.identifier == patch.identifier).context("the patch's file")?;
        if read.data != expected.data {
            bail!("patch {} read back other bytes", patch.identifier);
        }
    }
    times.sort();
    let p50 = times.get(times.len().saturating_sub(1) / 2).copied().unwrap_or(Duration::ZERO);

    let before = balance(runtime, client)?;
    let started = Instant::now();
    let mut encoded = 0;
    for file in &inputs {
        let outcome =
            runtime.block_on(client.store(file.data.clone(), options)).context("a separate store failed")?;
        if let BlobStoreResult::NewlyCreated(one) = outcome {
            encoded = one.encoded_size;
        }
    }
    let separate_store = started.elapsed();
    let separate_frost = before.saturating_sub(balance(runtime, client)?);
    eprintln!("{files} separate stores: {:.2} s, {separate_frost} FROST", separate_store.as_secs_f64());
    Ok(QuiltFigures {
        files,
        file_size: size,
        n_shards,
        quilt_runs: store_times.len(),
        quilt_store_p50_s: quilt_store_p50.as_secs_f64(),
        quilt_store_min_s: store_times[0].as_secs_f64(),
        quilt_store_max_s: store_times[store_times.len() - 1].as_secs_f64(),
        quilt_store_first_s: quilt_store_first.as_secs_f64(),
        quilt_frost,
        quilt_encoded_bytes: created.encoded_size,
        separate_stores: files,
        separate_store_s: separate_store.as_secs_f64(),
        separate_frost,
        separate_encoded_bytes_per_file: encoded,
        patch_reads: times.len(),
        patch_read_p50_s: p50.as_secs_f64(),
        patch_read_max_s: times.last().map_or(0.0, Duration::as_secs_f64),
    })
}

/// The figures as Markdown.
pub fn markdown(f: &QuiltFigures, machine: &str) -> String {
    let per_file = f.quilt_encoded_bytes / f.files.max(1) as u64;
    format!(
        "Measured by `walrus bench --quilt` (n = {} shards) on {machine}: {} files of {} B.\n\n\
         | | Wall time | WAL paid (FROST) | Encoded bytes per file |\n|---|---|---|---|\n\
         | one quilt, p50 of {} (min {:.2}, max {:.2}, first {:.2}) | {:.2} s | {} | {per_file} |\n\
         | {} separate stores | {:.2} s | {} | {} |\n\
         | ratio | {:.1}x | {:.1}x | {:.1}x |\n\n\
         One patch read by patch ID: p50 {:.1} ms, max {:.1} ms ({} reads).\n",
        f.n_shards,
        f.files,
        f.file_size,
        f.quilt_runs,
        f.quilt_store_min_s,
        f.quilt_store_max_s,
        f.quilt_store_first_s,
        f.quilt_store_p50_s,
        f.quilt_frost,
        f.separate_stores,
        f.separate_store_s,
        f.separate_frost,
        f.separate_encoded_bytes_per_file,
        f.separate_store_s / f.quilt_store_p50_s.max(1e-9),
        f.separate_frost as f64 / f.quilt_frost.max(1) as f64,
        f.separate_encoded_bytes_per_file as f64 / per_file.max(1) as f64,
        f.patch_read_p50_s * 1e3,
        f.patch_read_max_s * 1e3,
        f.patch_reads
    )
}
