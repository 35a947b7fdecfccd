//! `walrus store FILE...` and `walrus read BLOB_ID` (the SDK's store and read flows), and
//! `walrus blob-status` (what the chain knows of a blob).

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};
use walrus_core::BlobId;
use walrus_sdk::{Client, StoreOptions, StoreOutcome};

use crate::wallet::{print, Account};

/// `walrus store`
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// The files to store.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Epochs ahead to store for: a number, or `max` (the system's maximum).
    #[arg(long, default_value = "1")]
    epochs: String,
    /// Store a permanent blob (default: deletable, as the reference since v1.33).
    #[arg(long)]
    permanent: bool,
    /// Store even if the blob is already certified for long enough.
    #[arg(long)]
    force: bool,
    /// Only encode: print each file's blob ID and encoded size; write nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    account: Account,
}

/// `walrus read`
#[derive(Debug, clap::Args)]
pub struct ReadArgs {
    /// The blob ID.
    blob_id: BlobId,
    /// Write the blob here (default: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    account: Account,
}

/// Stores every file; prints one result per file.
pub fn store(args: StoreArgs, json: bool) -> Result<()> {
    let client = Client::new(&args.account.chain_url, args.account.key()?);
    let runtime = tokio::runtime::Runtime::new()?;
    let system = runtime.block_on(client.chain().system())?.system;
    let epochs_ahead = match args.epochs.as_str() {
        "max" => system.params.max_epochs_ahead,
        text => text
            .parse()
            .ok()
            .filter(|e| *e > 0)
            .with_context(|| format!("--epochs must be a positive number or `max`, not {text:?}"))?,
    };
    let options = StoreOptions { epochs_ahead, deletable: !args.permanent, force: args.force };
    let mut results = Vec::new();
    for path in &args.files {
        let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        if args.dry_run {
            let params = walrus_core::EncodingParams::new(u64::from(system.params.n_shards))?;
            let metadata = walrus_core::encode::compute_metadata(params, &data)?;
            let encoded_size = params.encoded_blob_length(metadata.unencoded_length())?;
            if !json {
                println!(
                    "{}: blob ID {}, encoded size {encoded_size} B (dry run)",
                    path.display(),
                    metadata.blob_id()
                );
            }
            results.push(serde_json::json!({
                "path": path,
                "blobId": metadata.blob_id().to_string(),
                "unencodedSize": metadata.unencoded_length(),
                "encodedSize": encoded_size,
            }));
            continue;
        }
        let outcome = runtime
            .block_on(client.store(data, options))
            .with_context(|| format!("storing {} failed", path.display()))?;
        let stored = match outcome {
            StoreOutcome::NewlyCreated(stored) => stored,
            StoreOutcome::AlreadyCertified { blob_id, object_id, end_epoch } => {
                if !json {
                    println!("{} is already stored and certified as blob {blob_id}", path.display());
                    println!("  object ID: {object_id}, stored until epoch {end_epoch} (exclusive)");
                }
                results.push(serde_json::json!({
                    "path": path,
                    "blobStoreResult": { "alreadyCertified": {
                        "blobId": blob_id.to_string(),
                        "object": object_id,
                        "endEpoch": end_epoch.0,
                    }},
                }));
                continue;
            }
        };
        if !json {
            println!("Stored {}", path.display());
            println!("  blob ID: {}", stored.blob_id);
            println!("  object ID: {}", stored.object_id);
            println!(
                "  unencoded size: {} B, encoded size: {} B",
                stored.unencoded_size, stored.encoded_size
            );
            println!(
                "  certified in epoch {}, by nodes holding {} shards",
                stored.certified_epoch, stored.confirmed_shards
            );
        }
        results.push(serde_json::json!({
            "path": path,
            "blobStoreResult": { "newlyCreated": {
                "blobObject": {
                    "id": stored.object_id,
                    "blobId": stored.blob_id.to_string(),
                    "size": stored.unencoded_size,
                    "certifiedEpoch": stored.certified_epoch.0,
                    "deletable": options.deletable,
                },
                "encodedSize": stored.encoded_size,
            }},
        }));
    }
    if json {
        println!("{}", serde_json::Value::Array(results));
    }
    Ok(())
}

/// Reads a blob to `--out` or standard output.
pub fn read(args: ReadArgs, json: bool) -> Result<()> {
    let client = Client::new(&args.account.chain_url, args.account.key()?);
    let runtime = tokio::runtime::Runtime::new()?;
    let data = runtime.block_on(client.read(&args.blob_id))?;
    match &args.out {
        Some(out) => {
            std::fs::write(out, &data).with_context(|| format!("cannot write {}", out.display()))?;
            print(json, serde_json::json!({ "blobId": args.blob_id.to_string(), "out": out }), || {
                format!("Read {} B of blob {} into {}", data.len(), args.blob_id, out.display())
            });
        }
        None if json => {
            use base64::Engine as _;
            let blob = base64::engine::general_purpose::STANDARD.encode(&data);
            println!("{}", serde_json::json!({ "blobId": args.blob_id.to_string(), "blob": blob }));
        }
        None => std::io::stdout().write_all(&data)?,
    }
    Ok(())
}

/// `walrus blob-status`
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The blob ID.
    #[arg(long, conflicts_with = "file", required_unless_present = "file")]
    blob_id: Option<BlobId>,
    /// A file: its blob ID is computed for the network's shard count.
    #[arg(long)]
    file: Option<PathBuf>,
    #[command(flatten)]
    account: Account,
}

/// Prints what the chain knows of a blob: its objects, whether any is certified, until when
/// it is stored, and whether it is marked invalid.
pub fn status(args: StatusArgs, json: bool) -> Result<()> {
    let chain = walrus_chain_node::ChainClient::new(&args.account.chain_url);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let system = chain.system().await?.system;
        let blob_id = match (&args.blob_id, &args.file) {
            (Some(blob_id), _) => *blob_id,
            (None, Some(file)) => {
                let data = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
                let params = walrus_core::EncodingParams::new(u64::from(system.params.n_shards))?;
                *walrus_core::encode::compute_metadata(params, &data)?.blob_id()
            }
            (None, None) => anyhow::bail!("give --blob-id or --file"),
        };
        let view = chain.blob(&blob_id).await?;
        let epoch = system.epoch();
        let live: Vec<_> = view
            .objects
            .iter()
            .filter_map(|o| o.object.body.blob().map(|b| (o, b)))
            .filter(|(_, b)| b.end_epoch() > epoch)
            .collect();
        let certified = live.iter().any(|(_, b)| b.certified_epoch.is_some());
        let end_epoch = live.iter().map(|(_, b)| b.end_epoch().0).max();
        let status = if view.invalid {
            "invalid"
        } else if live.is_empty() {
            "nonexistent"
        } else if live.iter().any(|(_, b)| !b.deletable) {
            "permanent"
        } else {
            "deletable"
        };
        let objects: Vec<serde_json::Value> = live
            .iter()
            .map(|(o, b)| {
                serde_json::json!({
                    "id": o.id,
                    "deletable": b.deletable,
                    "certifiedEpoch": b.certified_epoch.map(|e| e.0),
                    "endEpoch": b.end_epoch().0,
                })
            })
            .collect();
        let value = serde_json::json!({
            "blobId": blob_id.to_string(),
            "status": status,
            "isCertified": certified,
            "endEpoch": end_epoch,
            "currentEpoch": epoch.0,
            "objects": objects,
        });
        print(json, value, || match end_epoch {
            Some(end) if !view.invalid => format!(
                "Blob {blob_id}: {status}, {}, stored until epoch {end} (exclusive); {} live object(s); current epoch {epoch}",
                if certified { "certified" } else { "not certified yet" },
                live.len()
            ),
            _ => format!("Blob {blob_id}: {status} (current epoch {epoch})"),
        });
        Ok(())
    })
}
