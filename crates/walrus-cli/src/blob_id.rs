//! `walrus blob-id` and `walrus convert-blob-id`: blob IDs without a network.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use walrus_core::{BlobId, EncodingParams};

/// Shards on Walrus Mainnet; the same blob gives the same blob ID there.
const N_SHARDS_MAINNET: u64 = 1000;

/// Arguments of `walrus blob-id`.
#[derive(Debug, clap::Args)]
pub struct BlobIdArgs {
    /// The file to compute the blob ID of.
    file: PathBuf,
    /// Number of shards of the network (4..=65535).
    #[arg(long, default_value_t = N_SHARDS_MAINNET)]
    n_shards: u64,
    /// The memory the computation may use (bytes, or with a KiB / MiB / GiB suffix). A file
    /// whose encoding does not fit is encoded streaming from the file, never held whole.
    #[arg(long, default_value = "1GiB", value_parser = crate::bench::parse_size)]
    memory_budget: u64,
}

/// Arguments of `walrus convert-blob-id`.
#[derive(Debug, clap::Args)]
pub struct ConvertArgs {
    /// The blob ID as the decimal u256 stored on chain.
    blob_id_decimal: String,
}

/// The JSON form of `blob-id`'s result, fields in the reference's order.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct BlobIdOutput {
    blob_id: String,
    unencoded_length: u64,
    n_shards: u64,
}

pub fn run(args: &BlobIdArgs, json: bool) -> Result<()> {
    let params = EncodingParams::new(args.n_shards)?;
    let size =
        std::fs::metadata(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?.len();
    if size > params.max_blob_size() {
        bail!(
            "{} has {size} bytes, more than the maximum blob size of {} bytes for {} shards",
            args.file.display(),
            params.max_blob_size(),
            args.n_shards
        );
    }
    let budget = usize::try_from(args.memory_budget).unwrap_or(usize::MAX);
    let metadata = walrus_sdk::streaming::file_metadata(params, &args.file, budget, None)?;
    let len = metadata.unencoded_length();
    if json {
        let out = BlobIdOutput {
            blob_id: metadata.blob_id().to_string(),
            unencoded_length: len,
            n_shards: args.n_shards,
        };
        println!("{}", serde_json::to_string(&out)?);
    } else {
        println!("Blob ID: {}", metadata.blob_id());
        println!("Unencoded size: {len} B");
        println!("Encoded size (all shards, with metadata): {} B", params.encoded_blob_length(len)?);
        println!("Shards: {}", args.n_shards);
    }
    Ok(())
}

pub fn convert(args: &ConvertArgs, json: bool) -> Result<()> {
    let blob_id = BlobId::from_u256_decimal(args.blob_id_decimal.trim())?;
    if json {
        println!("{}", serde_json::json!({ "blobId": blob_id.to_string() }));
    } else {
        println!("{blob_id}");
    }
    Ok(())
}
