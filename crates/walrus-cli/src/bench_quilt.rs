//! `walrus bench --quilt`: the small-file case on a running network. `--quilt-files` files of
//! `--quilt-file-size` bytes stored as one quilt and, for comparison, one by one as separate
//! blobs; wall time and WAL paid (the wallet's balance before and after: storage, write fees and
//! transaction fees) for each, a patch read's p50 by patch ID, and encoded bytes per file.

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
    quilt_store_s: f64,
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

/// Stores `files` files of `size` bytes as a quilt and as separate blobs; reads `reads`
/// patches back by ID. The blobs stay stored (deletable, one epoch).
pub fn measure(
    runtime: &tokio::runtime::Runtime,
    client: &Client,
    n_shards: u16,
    files: usize,
    size: u64,
    reads: usize,
) -> Result<QuiltFigures> {
    let len = usize::try_from(size).context("file size")?;
    let seed = u64::from_le_bytes(walrus_chain_node::init::random_seed()?[..8].try_into().context("seed")?);
    let inputs: Vec<QuiltFile> = (0..files)
        .map(|i| QuiltFile {
            identifier: format!("file-{i:05}.bin"),
            tags: Default::default(),
            data: splitmix_bytes(seed.wrapping_add(i as u64), len),
        })
        .collect();
    let options = StoreOptions { epochs_ahead: 1, deletable: true, force: true };

    let before = balance(runtime, client)?;
    let started = Instant::now();
    let stored =
        runtime.block_on(client.store_quilt(&inputs, options)).context("storing the quilt failed")?;
    let quilt_store = started.elapsed();
    let quilt_frost = before.saturating_sub(balance(runtime, client)?);
    let BlobStoreResult::NewlyCreated(created) = &stored.blob_store_result else {
        bail!("a forced quilt store did not create a blob")
    };
    eprintln!(
        "quilt of {files} files of {size} B: stored in {:.2} s, {quilt_frost} FROST",
        quilt_store.as_secs_f64()
    );

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
        quilt_store_s: quilt_store.as_secs_f64(),
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
         | one quilt | {:.2} s | {} | {per_file} |\n\
         | {} separate stores | {:.2} s | {} | {} |\n\
         | ratio | {:.1}x | {:.1}x | {:.1}x |\n\n\
         One patch read by patch ID: p50 {:.1} ms, max {:.1} ms ({} reads).\n",
        f.n_shards,
        f.files,
        f.file_size,
        f.quilt_store_s,
        f.quilt_frost,
        f.separate_stores,
        f.separate_store_s,
        f.separate_frost,
        f.separate_encoded_bytes_per_file,
        f.separate_store_s / f.quilt_store_s.max(1e-9),
        f.separate_frost as f64 / f.quilt_frost.max(1) as f64,
        f.separate_encoded_bytes_per_file as f64 / per_file.max(1) as f64,
        f.patch_read_p50_s * 1e3,
        f.patch_read_max_s * 1e3,
        f.patch_reads
    )
}
