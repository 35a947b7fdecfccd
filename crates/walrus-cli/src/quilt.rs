//! `walrus store-quilt`, `walrus read-quilt` and `walrus list-patches-in-quilt`, with the
//! reference's names and flags: many files in one blob, each read back alone.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use walrus_core::quilt::{DecodedPatch, QuiltPatchId, Tags};
use walrus_core::BlobId;
use walrus_sdk::quilt::{tags_json, QuiltFile};
use walrus_sdk::{Client, StoreOptions};

use crate::blob::{clear_progress_line, render_store, with_progress_line};
use crate::wallet::{print, Account, ChainArg};
use crate::GlobalArgs;

/// Most files `store-quilt` reads from directories (a quilt holds at most `n - f - 1`).
const FILES_MAX: usize = 65_535;

/// `walrus store-quilt`
#[derive(Debug, clap::Args)]
pub struct StoreQuiltArgs {
    /// Files or directories (read recursively); each file's identifier is its file name.
    #[arg(long, num_args = 1.., required_unless_present = "blobs", conflicts_with = "blobs")]
    paths: Vec<PathBuf>,
    /// Files as JSON objects: `{"path": P, "identifier": I, "tags": {"k": "v"}}` (identifier
    /// defaults to the file name, tags to none).
    #[arg(long, num_args = 1..)]
    blobs: Vec<String>,
    #[command(flatten)]
    lifetime: crate::epochs::EpochArgs,
    /// Store a permanent blob (default: deletable).
    #[arg(long)]
    permanent: bool,
    /// Store a deletable blob: the default (kept for the reference's older scripts).
    #[arg(long, hide = true, conflicts_with = "permanent")]
    deletable: bool,
    /// Store even if the quilt is already certified for long enough.
    #[arg(long)]
    force: bool,
    /// Only build the quilt: print its blob ID, encoded size and index; write nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    account: Account,
}

/// One `--blobs` entry.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BlobInput {
    path: PathBuf,
    identifier: Option<String>,
    #[serde(default)]
    tags: Tags,
}

/// The file name of `path` as an identifier.
fn file_name(path: &Path) -> Result<String> {
    let name = path.file_name().and_then(|n| n.to_str());
    name.map(str::to_string)
        .with_context(|| format!("{} has no UTF-8 file name; name it with --blobs", path.display()))
}

/// Every file under `path` (itself if a file), in name order.
fn files_under(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("Path '{}' does not exist.", path.display()))?;
    if meta.is_file() {
        out.push(path.to_path_buf());
    } else if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot list {}", path.display()))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for entry in entries {
            files_under(&entry, out)?;
        }
    }
    if out.len() > FILES_MAX {
        bail!("more than {FILES_MAX} files under {}", path.display());
    }
    Ok(())
}

/// The files `--paths` or `--blobs` name, read.
fn quilt_files(args: &StoreQuiltArgs) -> Result<Vec<QuiltFile>> {
    let mut files = Vec::new();
    if !args.blobs.is_empty() {
        for text in &args.blobs {
            let input: BlobInput = serde_json::from_str(text)
                .with_context(|| format!("--blobs {text}: not a blob description"))?;
            let identifier = match input.identifier {
                Some(identifier) => identifier,
                None => file_name(&input.path)?,
            };
            let data = std::fs::read(&input.path)
                .with_context(|| format!("cannot read {}", input.path.display()))?;
            files.push(QuiltFile { identifier, tags: input.tags, data });
        }
        return Ok(files);
    }
    let mut paths = Vec::new();
    for path in &args.paths {
        files_under(path, &mut paths)?;
    }
    if paths.is_empty() {
        bail!("No valid files found in the specified folder");
    }
    for path in paths {
        let data = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        files.push(QuiltFile { identifier: file_name(&path)?, tags: Tags::new(), data });
    }
    Ok(files)
}

/// Stores the files as one quilt; prints the blob's result and each patch's ID.
pub fn store(args: StoreQuiltArgs, global: &GlobalArgs) -> Result<()> {
    let json = global.json;
    let files = quilt_files(&args)?;
    let network = args.account.resolve(global)?;
    let client = Client::new(&network.chain_url, network.key()?);
    let runtime = tokio::runtime::Runtime::new()?;
    let system = runtime.block_on(client.chain().system())?.system;
    let epochs_ahead = args.lifetime.epochs_ahead(&system)?;
    if args.dry_run {
        // The system is at hand: build the quilt without asking the chain again.
        let params = walrus_core::EncodingParams::new(u64::from(system.params.n_shards))?;
        let quilt = walrus_sdk::quilt::quilt_of(params, &files)?;
        let metadata = walrus_core::encode::compute_metadata(params, &quilt.blob)?;
        let output = crate::blob::dry_run(Path::new("n/a"), &metadata, &system.params, epochs_ahead)?;
        let text = format!(
            "Quilt of {} files: blob ID {}, encoded size {} B, cost {} FROST (dry run)",
            files.len(),
            output["blobId"].as_str().unwrap_or_default(),
            output["encodedSize"],
            output["storageCost"]
        );
        let value =
            serde_json::json!({ "quiltBlobOutput": output, "quiltIndex": quilt_index_json(&quilt.index) });
        print(json, value, || text);
        return Ok(());
    }
    let options = StoreOptions {
        epochs_ahead,
        deletable: !args.permanent,
        force: args.force,
        ..StoreOptions::default()
    };
    let client = if json { client } else { with_progress_line(client) };
    let stored = runtime.block_on(client.store_quilt(&files, options));
    clear_progress_line(json);
    let stored = stored?;
    if json {
        println!("{}", stored.to_json());
    } else {
        render_store(
            &PathBuf::from(format!("quilt of {} files", files.len())),
            &stored.blob_store_result,
            false,
        );
        for patch in &stored.stored_quilt_blobs {
            println!("  {}: {}", patch.identifier, patch.patch_id);
        }
    }
    Ok(())
}

/// The index as the reference's `QuiltIndex` JSON (which `site-builder` reads from a dry run):
/// `{"v1": {"quiltPatches": [{"endIndex", "identifier", "tags"}]}}`.
fn quilt_index_json(index: &walrus_core::quilt::QuiltIndexV1) -> serde_json::Value {
    let patches: Vec<_> = index
        .quilt_patches
        .iter()
        .map(|p| serde_json::json!({ "endIndex": p.end_index, "identifier": p.identifier, "tags": tags_json(&p.tags) }))
        .collect();
    serde_json::json!({ "v1": { "quiltPatches": patches } })
}

/// The index as JSON: each patch's identifier, ID, columns and tags.
fn index_json(quilt_id: BlobId, index: &walrus_core::quilt::QuiltIndexV1) -> serde_json::Value {
    let patches: Vec<_> = index
        .quilt_patches
        .iter()
        .map(|p| {
            serde_json::json!({
                "identifier": p.identifier,
                "patchId": walrus_sdk::quilt::patch_id(quilt_id, p).to_string(),
                "startIndex": p.start_index,
                "endIndex": p.end_index,
                "tags": tags_json(&p.tags),
            })
        })
        .collect();
    serde_json::json!({ "quiltId": quilt_id.to_string(), "quiltPatches": patches })
}

/// `walrus read-quilt`
#[derive(Debug, clap::Args)]
pub struct ReadQuiltArgs {
    /// The quilt (its blob ID).
    #[arg(long, allow_hyphen_values = true, required_unless_present = "quilt_patch_ids")]
    quilt_id: Option<BlobId>,
    /// Patches of the quilt by identifier.
    #[arg(long, alias = "identifier", num_args = 1.., requires = "quilt_id", conflicts_with = "tag")]
    identifiers: Vec<String>,
    /// Patches of the quilt whose tag KEY is VALUE.
    #[arg(long, num_args = 2, value_names = ["KEY", "VALUE"], requires = "quilt_id")]
    tag: Vec<String>,
    /// Patches by ID (of any quilts; write an ID that starts with `-` as `--quilt-patch-ids=ID`).
    #[arg(long, aliases = ["quilt-patch-id", "patch-ids"], num_args = 1.., conflicts_with = "quilt_id")]
    quilt_patch_ids: Vec<QuiltPatchId>,
    /// Write each patch to DIR/<identifier> (default: the data to standard output).
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    chain: ChainArg,
}

/// Reads patches by identifier, tag or patch ID (all of the quilt if none is named).
pub fn read(args: ReadQuiltArgs, global: &GlobalArgs) -> Result<()> {
    let json = global.json;
    let client = Client::read_only(&args.chain.resolve(global)?);
    let runtime = tokio::runtime::Runtime::new()?;
    let patches: Vec<DecodedPatch> = runtime.block_on(async {
        if !args.quilt_patch_ids.is_empty() {
            let mut out = Vec::new();
            for id in &args.quilt_patch_ids {
                out.push(client.read_quilt_patch(id).await?);
            }
            return anyhow::Ok(out);
        }
        let quilt_id = args.quilt_id.context("--quilt-id or --quilt-patch-ids")?;
        let quilt = client.open_quilt(&quilt_id).await?;
        Ok(match (args.identifiers.as_slice(), args.tag.as_slice()) {
            ([], [key, value]) => quilt.patches_with_tag(key, value).await?,
            ([], _) => quilt.all_patches().await?,
            (identifiers, _) => quilt.patches(identifiers).await?,
        })
    })?;
    let mut written = Vec::new();
    match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            let mut used = BTreeSet::new();
            for patch in &patches {
                let path = out_path(dir, &patch.identifier, &mut used);
                std::fs::write(&path, &patch.data)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                written.push(serde_json::json!({
                    "identifier": patch.identifier,
                    "tags": tags_json(&patch.tags),
                    "path": path,
                    "size": patch.data.len(),
                }));
                if !json {
                    println!("{} ({} B) -> {}", patch.identifier, patch.data.len(), path.display());
                }
            }
            if json {
                println!("{}", serde_json::json!({ "out": dir, "retrievedBlobs": written }));
            }
        }
        None if json => {
            use base64::Engine as _;
            let blobs: Vec<_> = patches
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "identifier": p.identifier,
                        "tags": tags_json(&p.tags),
                        "blob": base64::engine::general_purpose::STANDARD.encode(&p.data),
                    })
                })
                .collect();
            println!("{}", serde_json::json!({ "retrievedBlobs": blobs }));
        }
        None => {
            let mut stdout = std::io::stdout();
            for patch in &patches {
                stdout.write_all(&patch.data)?;
            }
        }
    }
    Ok(())
}

/// Where a patch goes under `dir`: its identifier made a safe file name (path separators and
/// `..` replaced), made unique.
fn out_path(dir: &Path, identifier: &str, used: &mut BTreeSet<String>) -> PathBuf {
    let mut name: String = identifier.chars().map(|c| if c == '/' || c == '\\' { '_' } else { c }).collect();
    if name == "." || name == ".." {
        name = format!("_{name}");
    }
    let mut unique = name.clone();
    let mut i = 1;
    while !used.insert(unique.clone()) {
        unique = format!("{name}.{i}");
        i += 1;
    }
    dir.join(unique)
}

/// `walrus list-patches-in-quilt`
#[derive(Debug, clap::Args)]
pub struct ListPatchesArgs {
    /// The quilt (its blob ID).
    #[arg(allow_hyphen_values = true)]
    quilt_id: BlobId,
    #[command(flatten)]
    chain: ChainArg,
}

/// Prints the quilt's index (read from its first columns only).
pub fn list_patches(args: ListPatchesArgs, global: &GlobalArgs) -> Result<()> {
    let client = Client::read_only(&args.chain.resolve(global)?);
    let runtime = tokio::runtime::Runtime::new()?;
    let quilt = runtime.block_on(client.open_quilt(&args.quilt_id))?;
    let value = index_json(args.quilt_id, quilt.index());
    print(global.json, value, || {
        let mut text = format!("Quilt {} has {} patches:", args.quilt_id, quilt.index().quilt_patches.len());
        for p in &quilt.index().quilt_patches {
            let id = walrus_sdk::quilt::patch_id(args.quilt_id, p);
            text.push_str(&format!(
                "\n  {} is stored at [{}, {}): {id}",
                p.identifier, p.start_index, p.end_index
            ));
        }
        text
    });
    Ok(())
}
