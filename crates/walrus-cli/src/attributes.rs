//! A blob object's attributes (key-value pairs kept on chain; an aggregator returns allowed
//! ones as headers), as the reference's `get-blob-attribute`, `set-blob-attribute`,
//! `remove-blob-attribute-fields` and `remove-blob-attribute`.

use anyhow::Result;
use walrus_core::ObjectId;
use walrus_sdk::Client;

use crate::wallet::{print, Account};
use crate::GlobalArgs;

/// `walrus get-blob-attribute`
#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// The blob object.
    blob_obj_id: ObjectId,
    #[command(flatten)]
    account: Account,
}

/// `walrus set-blob-attribute`
#[derive(Debug, clap::Args)]
pub struct SetArgs {
    /// The wallet's blob object.
    blob_obj_id: ObjectId,
    /// A key and its value (repeatable); an existing key's value is replaced.
    #[arg(long = "attr", num_args = 2, value_names = ["KEY", "VALUE"], required = true, action = clap::ArgAction::Append)]
    attrs: Vec<String>,
    #[command(flatten)]
    account: Account,
}

/// `walrus remove-blob-attribute-fields`
#[derive(Debug, clap::Args)]
pub struct RemoveFieldsArgs {
    /// The wallet's blob object.
    blob_obj_id: ObjectId,
    /// The keys to remove (each must be present).
    #[arg(long, num_args = 1.., required = true)]
    keys: Vec<String>,
    #[command(flatten)]
    account: Account,
}

/// `walrus remove-blob-attribute`
#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    /// The wallet's blob object: every attribute is removed.
    blob_obj_id: ObjectId,
    #[command(flatten)]
    account: Account,
}

/// The attributes of a blob object, from the chain.
async fn attributes(client: &Client, id: ObjectId) -> Result<std::collections::BTreeMap<String, String>> {
    let object = client.chain().object(&id).await?;
    let blob = object.object.body.blob().ok_or_else(|| anyhow::anyhow!("{id} is not a blob object"))?;
    Ok(blob.attributes.clone())
}

/// Prints a blob object's attributes (`null` when it has none).
pub fn get(args: GetArgs, global: &GlobalArgs) -> Result<()> {
    let (client, runtime) = args.account.client(global)?;
    let found = runtime.block_on(attributes(&client, args.blob_obj_id))?;
    let value = serde_json::json!({ "attribute": (!found.is_empty()).then_some(&found) });
    print(global.json, value, || match found.is_empty() {
        true => format!("Blob object {} has no attributes", args.blob_obj_id),
        false => found.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("\n"),
    });
    Ok(())
}

/// Sets attributes of a blob object of the wallet.
pub fn set(args: SetArgs, global: &GlobalArgs) -> Result<()> {
    let (client, runtime) = args.account.client(global)?;
    let pairs: Vec<(String, String)> =
        args.attrs.chunks_exact(2).map(|pair| (pair[0].clone(), pair[1].clone())).collect();
    let count = pairs.len();
    runtime.block_on(client.set_blob_attributes(args.blob_obj_id, pairs, Vec::new()))?;
    print(global.json, serde_json::json!({ "set": count }), || {
        format!("Set {count} attribute(s) of blob object {}", args.blob_obj_id)
    });
    Ok(())
}

/// Removes some attributes of a blob object of the wallet.
pub fn remove_fields(args: RemoveFieldsArgs, global: &GlobalArgs) -> Result<()> {
    let (client, runtime) = args.account.client(global)?;
    let count = args.keys.len();
    runtime.block_on(client.set_blob_attributes(args.blob_obj_id, Vec::new(), args.keys))?;
    print(global.json, serde_json::json!({ "removed": count }), || {
        format!("Removed {count} attribute(s) of blob object {}", args.blob_obj_id)
    });
    Ok(())
}

/// Removes every attribute of a blob object of the wallet.
pub fn remove(args: RemoveArgs, global: &GlobalArgs) -> Result<()> {
    let (client, runtime) = args.account.client(global)?;
    let count = runtime.block_on(async {
        let keys: Vec<String> = attributes(&client, args.blob_obj_id).await?.into_keys().collect();
        let count = keys.len();
        if count > 0 {
            client.set_blob_attributes(args.blob_obj_id, Vec::new(), keys).await?;
        }
        anyhow::Ok(count)
    })?;
    print(global.json, serde_json::json!({ "removed": count }), || {
        format!("Removed the {count} attribute(s) of blob object {}", args.blob_obj_id)
    });
    Ok(())
}
