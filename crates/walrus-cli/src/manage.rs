//! `walrus list-blobs`, `walrus delete` and `walrus extend`: the wallet's blob objects.

use anyhow::{bail, Context, Result};
use walrus_core::{BlobId, ObjectId};
use walrus_sdk::Client;

use crate::wallet::{print, Account};
use crate::GlobalArgs;

/// `walrus list-blobs`
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Include blobs whose storage has ended.
    #[arg(long)]
    include_expired: bool,
    #[command(flatten)]
    account: Account,
}

/// `walrus delete`
#[derive(Debug, clap::Args)]
pub struct DeleteArgs {
    /// Delete the wallet's deletable objects of this blob ID.
    #[arg(
        long,
        conflicts_with = "object_id",
        required_unless_present = "object_id",
        allow_hyphen_values = true
    )]
    blob_id: Option<BlobId>,
    /// Delete this blob object.
    #[arg(long)]
    object_id: Option<ObjectId>,
    #[command(flatten)]
    account: Account,
}

/// `walrus extend`
#[derive(Debug, clap::Args)]
pub struct ExtendArgs {
    /// The blob object to extend.
    #[arg(long)]
    blob_obj_id: ObjectId,
    /// Epochs to add.
    #[arg(long)]
    epochs_extended: u32,
    #[command(flatten)]
    account: Account,
}

/// Lists the wallet's blob objects.
pub fn list(args: ListArgs, global: &GlobalArgs) -> Result<()> {
    let json = global.json;
    let network = args.account.resolve(global)?;
    let client = Client::new(&network.chain_url, network.key()?);
    let runtime = tokio::runtime::Runtime::new()?;
    let (epoch, objects) = runtime.block_on(async {
        let epoch = client.chain().system().await?.system.epoch();
        anyhow::Ok((epoch, client.owned_blobs().await?))
    })?;
    let blobs: Vec<serde_json::Value> = objects
        .iter()
        .filter(|(_, b)| args.include_expired || b.end_epoch() > epoch)
        .map(|(id, b)| {
            serde_json::json!({
                "id": id,
                "blobId": b.blob_id.to_string(),
                "size": b.size,
                "deletable": b.deletable,
                "certifiedEpoch": b.certified_epoch.map(|e| e.0),
                "endEpoch": b.end_epoch().0,
                "expired": b.end_epoch() <= epoch,
            })
        })
        .collect();
    let text = || {
        let mut out = format!(
            "{:<44} {:>10} {:>9} {:>9} {:>9}  object",
            "blob ID", "size", "deletable", "certified", "end epoch"
        );
        for b in &blobs {
            out.push_str(&format!(
                "\n{:<44} {:>10} {:>9} {:>9} {:>9}  {}",
                b["blobId"].as_str().unwrap_or("?"),
                b["size"],
                b["deletable"],
                b["certifiedEpoch"],
                b["endEpoch"],
                b["id"].as_str().unwrap_or("?")
            ));
        }
        out
    };
    print(json, serde_json::Value::Array(blobs.clone()), text);
    Ok(())
}

/// Deletes deletable blob objects of the wallet; their storage returns to it.
pub fn delete(args: DeleteArgs, global: &GlobalArgs) -> Result<()> {
    let json = global.json;
    let network = args.account.resolve(global)?;
    let client = Client::new(&network.chain_url, network.key()?);
    let runtime = tokio::runtime::Runtime::new()?;
    let deleted = runtime.block_on(async {
        let targets: Vec<ObjectId> = match (args.object_id, args.blob_id) {
            (Some(object_id), _) => vec![object_id],
            (None, Some(blob_id)) => client
                .owned_blobs()
                .await?
                .into_iter()
                .filter(|(_, b)| b.blob_id == blob_id && b.deletable)
                .map(|(id, _)| id)
                .collect(),
            (None, None) => bail!("give --blob-id or --object-id"),
        };
        if targets.is_empty() {
            bail!("the wallet owns no deletable object of that blob");
        }
        for blob in &targets {
            client.delete_blob(*blob).await.with_context(|| format!("deleting {blob}"))?;
        }
        anyhow::Ok(targets)
    })?;
    print(json, serde_json::json!({ "deleted": deleted }), || {
        deleted.iter().map(|id| format!("Deleted blob object {id}")).collect::<Vec<_>>().join("\n")
    });
    Ok(())
}

/// Extends a blob object's storage by some epochs (paid by the wallet).
pub fn extend(args: ExtendArgs, global: &GlobalArgs) -> Result<()> {
    let json = global.json;
    let network = args.account.resolve(global)?;
    let client = Client::new(&network.chain_url, network.key()?);
    let runtime = tokio::runtime::Runtime::new()?;
    let end_epoch = runtime.block_on(client.extend_blob(args.blob_obj_id, args.epochs_extended))?;
    print(json, serde_json::json!({ "objectId": args.blob_obj_id, "endEpoch": end_epoch.0 }), || {
        format!("Blob object {} is now stored until epoch {end_epoch} (exclusive)", args.blob_obj_id)
    });
    Ok(())
}
