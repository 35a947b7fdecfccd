//! The wallet's blob objects, as the reference's commands: `list-blobs`, `delete`, `extend`
//! (`--shared` too), `share`, `fund-shared-blob` and `burn-blobs`.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;
use walrus_chain::objects::BlobObject;
use walrus_chain::{Call, Frost};
use walrus_core::{BlobId, Epoch, ObjectId};
use walrus_sdk::blobs::blob_object_json;
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

/// `walrus delete`: any mix of blob IDs, files and objects.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("targets").multiple(true).required(true)))]
pub struct DeleteArgs {
    /// Delete the wallet's deletable objects of this blob ID (repeat the flag for more; an ID
    /// may start with `-`).
    #[arg(long = "blob-ids", alias = "blob-id", action = clap::ArgAction::Append, allow_hyphen_values = true, group = "targets")]
    blob_ids: Vec<BlobId>,
    /// Delete the wallet's deletable objects of these files' blobs.
    #[arg(long = "files", alias = "file", num_args = 1.., group = "targets")]
    files: Vec<PathBuf>,
    /// Delete these blob objects of the wallet.
    #[arg(long = "object-ids", alias = "object-id", num_args = 1.., group = "targets")]
    object_ids: Vec<ObjectId>,
    /// Do not ask before deleting by blob ID or file.
    #[arg(long)]
    yes: bool,
    /// Do not look up the blob's status after deleting.
    #[arg(long)]
    no_status_check: bool,
    #[command(flatten)]
    account: Account,
}

/// `walrus extend`
#[derive(Debug, clap::Args)]
pub struct ExtendArgs {
    /// The blob object to extend (a shared blob with `--shared`).
    #[arg(long)]
    blob_obj_id: ObjectId,
    /// Epochs to add.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    epochs_extended: u32,
    /// The object is a shared blob: paid from its funds, not the wallet.
    #[arg(long)]
    shared: bool,
    #[command(flatten)]
    account: Account,
}

/// `walrus share`
#[derive(Debug, clap::Args)]
pub struct ShareArgs {
    /// The wallet's blob object to share: anyone may then fund and extend it, nobody delete it.
    #[arg(long)]
    blob_obj_id: ObjectId,
    /// Funds to give it at once, in FROST.
    #[arg(long)]
    amount: Option<u64>,
    #[command(flatten)]
    account: Account,
}

/// `walrus fund-shared-blob`
#[derive(Debug, clap::Args)]
pub struct FundArgs {
    /// The shared blob.
    #[arg(long)]
    shared_blob_obj_id: ObjectId,
    /// FROST to add to its funds, from the wallet.
    #[arg(long)]
    amount: u64,
    #[command(flatten)]
    account: Account,
}

/// `walrus burn-blobs`
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true)))]
pub struct BurnArgs {
    /// These blob objects of the wallet.
    #[arg(long = "object-ids", alias = "object-id", num_args = 1.., group = "which")]
    object_ids: Vec<ObjectId>,
    /// Every blob object of the wallet.
    #[arg(long, group = "which")]
    all: bool,
    /// Every expired blob object of the wallet.
    #[arg(long, group = "which")]
    all_expired: bool,
    /// Do not ask first.
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    account: Account,
}

/// Lists the wallet's blob objects.
pub fn list(args: ListArgs, global: &GlobalArgs) -> Result<()> {
    let (client, runtime) = args.account.client(global)?;
    let (epoch, objects) = runtime.block_on(async {
        let epoch = client.chain().system().await?.system.epoch();
        anyhow::Ok((epoch, client.owned_blobs().await?))
    })?;
    let shown: Vec<&(ObjectId, BlobObject)> =
        objects.iter().filter(|(_, b)| args.include_expired || b.end_epoch() > epoch).collect();
    let value = shown
        .iter()
        .map(|(id, b)| {
            json!({
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
    print(global.json, serde_json::Value::Array(value), || {
        let mut out = format!(
            "{:<43} {:>12} {:>9} {:>9} {:>9}  object",
            "blob ID", "size", "deletable", "certified", "end epoch"
        );
        for (id, b) in &shown {
            let certified = b.certified_epoch.map_or("-".to_string(), |e| e.0.to_string());
            out.push_str(&format!(
                "\n{:<43} {:>12} {:>9} {:>9} {:>9}  {id}",
                b.blob_id.to_string(),
                b.size,
                b.deletable,
                certified,
                b.end_epoch().0
            ));
        }
        out
    });
    Ok(())
}

/// One target of `delete`: what was asked, what was deleted, what went wrong.
struct Deletion {
    blob_id: Option<BlobId>,
    file: Option<PathBuf>,
    object_id: Option<ObjectId>,
    deleted: Vec<(ObjectId, BlobObject)>,
    error: Option<String>,
    aborted: bool,
}

/// Deletes deletable blob objects of the wallet (their storage returns to it). Each target is
/// reported on its own, as the reference's `DeleteOutput`; one that fails does not stop the rest.
pub fn delete(args: DeleteArgs, global: &GlobalArgs) -> Result<()> {
    let (client, runtime) = args.account.client(global)?;
    let owned = runtime.block_on(client.owned_blobs())?;
    let mut targets: Vec<Deletion> = Vec::new();
    let blank = |blob_id, file, object_id| Deletion {
        blob_id,
        file,
        object_id,
        deleted: Vec::new(),
        error: None,
        aborted: false,
    };
    for file in &args.files {
        let blob_id = runtime.block_on(crate::blob::file_blob_id(client.chain(), file))?;
        targets.push(blank(Some(blob_id), Some(file.clone()), None));
    }
    targets.extend(args.blob_ids.iter().map(|id| blank(Some(*id), None, None)));
    targets.extend(args.object_ids.iter().map(|id| blank(None, None, Some(*id))));
    for target in &mut targets {
        let found: Vec<&(ObjectId, BlobObject)> = owned
            .iter()
            .filter(|(id, b)| match (target.object_id, target.blob_id) {
                (Some(object), _) => *id == object,
                (None, Some(blob_id)) => b.blob_id == blob_id && b.deletable,
                (None, None) => false,
            })
            .collect();
        if found.is_empty() {
            target.error = Some(runtime.block_on(nothing_to_delete(&client, target)));
            continue;
        }
        if let Some((id, _)) = found.iter().find(|(_, b)| !b.deletable) {
            target.error = Some(format!("blob object {id} is permanent: it cannot be deleted"));
            continue;
        }
        if target.object_id.is_none() && !args.yes && !global.json && !confirm(target, found.len())? {
            target.aborted = true;
            continue;
        }
        for (id, blob) in found {
            match runtime.block_on(client.delete_blob(*id)) {
                Ok(()) => target.deleted.push((*id, blob.clone())),
                Err(e) => {
                    target.error = Some(format!("deleting {id}: {e}"));
                    break;
                }
            }
        }
    }
    report_deletions(&client, &runtime, &targets, global.json, args.no_status_check)
}

/// Why nothing of `target` can be deleted: permanent, someone else's, or not on chain at all.
async fn nothing_to_delete(client: &Client, target: &Deletion) -> String {
    let Some(blob_id) = target.blob_id else {
        let id = target.object_id.map(|id| id.to_string()).unwrap_or_default();
        return format!("the wallet owns no blob object {id} (another account's, or deleted already)");
    };
    match walrus_sdk::blobs::blob_status(client.chain(), &blob_id).await {
        Ok(status) if status.status == "nonexistent" => {
            format!("blob {blob_id} has no live object on chain (never stored, expired or deleted already)")
        }
        Ok(status) if status.objects.iter().all(|(_, b)| !b.deletable) => {
            format!("blob {blob_id} is stored as permanent: it cannot be deleted")
        }
        Ok(_) => format!("the deletable objects of blob {blob_id} belong to other accounts"),
        Err(e) => format!("the wallet owns no deletable object of blob {blob_id} ({e})"),
    }
}

/// Asks on the terminal whether to delete `count` objects of `target`'s blob.
fn confirm(target: &Deletion, count: usize) -> Result<bool> {
    let blob_id = target.blob_id.map(|id| id.to_string()).unwrap_or_default();
    ask(
        &format!("deleting {count} object(s) of blob {blob_id}"),
        &format!("Delete {count} object(s) of blob {blob_id}?"),
    )
}

/// Asks `question` on the terminal (y/N); without a terminal, refuses `what` until `--yes`.
fn ask(what: &str, question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("{what}: confirm with --yes (standard input is not a terminal)");
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

fn report_deletions(
    client: &Client,
    runtime: &tokio::runtime::Runtime,
    targets: &[Deletion],
    json: bool,
    no_status_check: bool,
) -> Result<()> {
    let mut values = Vec::new();
    for target in targets {
        let status = match (target.blob_id, no_status_check || target.deleted.is_empty()) {
            (Some(blob_id), false) => {
                runtime.block_on(walrus_sdk::blobs::blob_status(client.chain(), &blob_id)).ok()
            }
            _ => None,
        };
        let mut value = json!({
            "blobIdentity": {
                "blobId": target.blob_id.map(|id| id.to_string()),
                "file": target.file,
                "objectId": target.object_id,
            },
            "deletedBlobs": target.deleted.iter().map(|(id, b)| blob_object_json(*id, b)).collect::<Vec<_>>(),
            "noBlobFound": target.deleted.is_empty() && target.error.is_some() && !target.aborted,
            "aborted": target.aborted,
        });
        if let Some(status) = &status {
            value["postDeletionStatus"] = crate::blob::status_json(status);
        }
        if let Some(error) = &target.error {
            value["error"] = error.as_str().into();
        }
        if !json {
            let what = match (&target.file, target.blob_id, target.object_id) {
                (Some(file), _, _) => format!(
                    "{} (blob {})",
                    file.display(),
                    target.blob_id.map(|b| b.to_string()).unwrap_or_default()
                ),
                (None, Some(blob_id), _) => format!("blob {blob_id}"),
                (None, None, Some(object)) => format!("blob object {object}"),
                (None, None, None) => String::new(),
            };
            match (&target.error, target.aborted) {
                (Some(error), _) => eprintln!("Error: {what}: {error}"),
                (None, true) => println!("{what}: not deleted"),
                (None, false) => {
                    for (id, _) in &target.deleted {
                        println!("Deleted blob object {id} of {what}");
                    }
                    if let Some(status) = &status {
                        println!("  {what} is now {}", status.status);
                    }
                }
            }
        }
        values.push(value);
    }
    if json {
        println!("{}", serde_json::Value::Array(values));
    }
    Ok(())
}

/// Extends a blob object's storage by some epochs: paid by the wallet, or by a shared blob's
/// funds with `--shared`.
pub fn extend(args: ExtendArgs, global: &GlobalArgs) -> Result<()> {
    let (client, runtime) = args.account.client(global)?;
    let end_epoch: Epoch = runtime.block_on(async {
        let max = client.chain().system().await?.system.params.max_epochs_ahead;
        if args.epochs_extended > max {
            anyhow::bail!(
                "--epochs-extended {}: this system stores for at most {max} epochs ahead",
                args.epochs_extended
            );
        }
        if args.shared {
            client
                .execute(Call::ExtendSharedBlob { blob: args.blob_obj_id, epochs: args.epochs_extended })
                .await?;
            let object = client.chain().object(&args.blob_obj_id).await?;
            Ok(object.object.body.blob().map_or(Epoch(0), BlobObject::end_epoch))
        } else {
            Ok(client.extend_blob(args.blob_obj_id, args.epochs_extended).await?)
        }
    })?;
    let value = json!({ "epochsExtended": args.epochs_extended, "objectId": args.blob_obj_id, "endEpoch": end_epoch.0 });
    print(global.json, value, || {
        format!("Blob object {} is now stored until epoch {end_epoch} (exclusive)", args.blob_obj_id)
    });
    Ok(())
}

/// Turns a blob object of the wallet into a shared blob, funded with `--amount`.
pub fn share(args: ShareArgs, global: &GlobalArgs) -> Result<()> {
    let (client, runtime) = args.account.client(global)?;
    let amount = args.amount.unwrap_or(0);
    runtime.block_on(client.execute(Call::ShareBlob { blob: args.blob_obj_id, funds: Frost(amount) }))?;
    let value = json!({ "sharedBlobObjectId": args.blob_obj_id, "amount": amount });
    print(global.json, value, || {
        format!("Blob object {} is shared, with {amount} FROST of funds", args.blob_obj_id)
    });
    Ok(())
}

/// Adds funds to a shared blob.
pub fn fund_shared_blob(args: FundArgs, global: &GlobalArgs) -> Result<()> {
    let (client, runtime) = args.account.client(global)?;
    let call = Call::FundSharedBlob { blob: args.shared_blob_obj_id, amount: Frost(args.amount) };
    runtime.block_on(client.execute(call))?;
    print(global.json, json!({ "amount": args.amount }), || {
        format!("Added {} FROST to shared blob {}", args.amount, args.shared_blob_obj_id)
    });
    Ok(())
}

/// Burns blob objects of the wallet: the blobs stay stored until they expire, but the objects
/// (and the right to delete or extend them) are gone.
pub fn burn(args: BurnArgs, global: &GlobalArgs) -> Result<()> {
    let (client, runtime) = args.account.client(global)?;
    let (epoch, owned) = runtime.block_on(async {
        anyhow::Ok((client.chain().system().await?.system.epoch(), client.owned_blobs().await?))
    })?;
    let ids: Vec<ObjectId> = if args.all || args.all_expired {
        owned.iter().filter(|(_, b)| args.all || b.end_epoch() <= epoch).map(|(id, _)| *id).collect()
    } else {
        args.object_ids.clone()
    };
    if !args.yes && !global.json {
        let listed: Vec<String> = ids.iter().map(ObjectId::to_string).collect();
        let what = format!("burning {} blob object(s)", ids.len());
        if !ask(&what, &format!("Burn these blob objects?\n{}\n", listed.join("\n")))? {
            println!("Nothing burnt");
            return Ok(());
        }
    }
    for id in &ids {
        runtime.block_on(client.execute(Call::BurnBlob { blob: *id }))?;
    }
    print(global.json, json!({ "burnt": ids }), || {
        format!("The specified blob objects have been burned ({})", ids.len())
    });
    Ok(())
}
