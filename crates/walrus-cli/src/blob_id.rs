//! `walrus blob-id` and `walrus convert-blob-id`: blob IDs, for a network's shard count.

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
    /// Number of shards of the network (4..=65535) [default: the network's, when one is given
    /// with --rpc-url/--chain-url, --config or --context; else 1000, Mainnet's].
    #[arg(long)]
    n_shards: Option<u64>,
    /// The memory the computation may use (bytes, or with a KiB / MiB / GiB suffix). A file
    /// whose encoding does not fit is encoded streaming from the file, never held whole.
    #[arg(long, default_value = "1GiB", value_parser = crate::bench::parse_size)]
    memory_budget: u64,
    #[command(flatten)]
    chain: crate::wallet::ChainArg,
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
    file: PathBuf,
    unencoded_length: u64,
    encoding_type: &'static str,
    n_shards: u64,
}

/// The shard count: `--n-shards`, else the network's when one is named, else Mainnet's.
fn n_shards(args: &BlobIdArgs, global: &crate::GlobalArgs) -> Result<u64> {
    if let Some(n) = args.n_shards {
        return Ok(n);
    }
    let named = args.chain.chain_url.is_some()
        || global.chain_url.is_some()
        || global.config.is_some()
        || global.context.is_some()
        || std::env::var_os("WALRUS_CONFIG").is_some_and(|p| !p.is_empty());
    if !named {
        return Ok(N_SHARDS_MAINNET);
    }
    let chain_url = args.chain.resolve(global)?;
    let chain = walrus_chain_client::ChainClient::new(&chain_url);
    let system = tokio::runtime::Runtime::new()?.block_on(chain.system()).with_context(|| {
        format!("cannot ask the chain at {chain_url} for its shard count (or give --n-shards)")
    })?;
    Ok(u64::from(system.system.params.n_shards))
}

pub fn run(args: &BlobIdArgs, global: &crate::GlobalArgs) -> Result<()> {
    let json = global.json;
    let n_shards = n_shards(args, global)?;
    let params = EncodingParams::new(n_shards)?;
    let size =
        std::fs::metadata(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?.len();
    if size > params.max_blob_size() {
        bail!(
            "{} has {size} bytes, more than the maximum blob size of {} bytes for {} shards",
            args.file.display(),
            params.max_blob_size(),
            n_shards
        );
    }
    let budget = usize::try_from(args.memory_budget).unwrap_or(usize::MAX);
    let metadata = walrus_sdk::streaming::file_metadata(params, &args.file, budget, None)?;
    let len = metadata.unencoded_length();
    if json {
        let out = BlobIdOutput {
            blob_id: metadata.blob_id().to_string(),
            file: args.file.clone(),
            unencoded_length: len,
            encoding_type: "RS2",
            n_shards,
        };
        println!("{}", serde_json::to_string(&out)?);
    } else {
        println!("Blob ID: {}", metadata.blob_id());
        println!("Unencoded size: {len} B");
        println!("Encoded size (all shards, with metadata): {} B", params.encoded_blob_length(len)?);
        println!("Shards: {n_shards}");
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
