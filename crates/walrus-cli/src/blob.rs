//! `walrus store FILE...` and `walrus read BLOB_ID` (the SDK's store and read flows), and
//! `walrus blob-status` (what the chain knows of a blob).

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use walrus_core::decode::ConsistencyCheck;
use walrus_core::{BlobId, ObjectId};
use walrus_sdk::{BlobStoreResult, Client, Progress, StoreOptions};

use crate::wallet::{print, Account};
use crate::GlobalArgs;

/// `walrus store`
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// The files to store; `-` is standard input (with `--stdin-length`).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The length of standard input (bytes, or with a KiB / MiB / GiB suffix), declared so that
    /// a stream that breaks off, or runs on, is refused rather than stored as a blob. It is
    /// kept in an unnamed temporary file (in `--scratch-dir`) while it is stored.
    #[arg(long, value_parser = crate::bench::parse_size)]
    stdin_length: Option<u64>,
    /// Send each blob once to this upload relay (`http(s)://host:port`), which sends the
    /// slivers to the nodes, instead of uploading them from here; its tip, if it asks one, is
    /// paid from the wallet.
    #[arg(long)]
    upload_relay: Option<String>,
    #[command(flatten)]
    lifetime: crate::epochs::EpochArgs,
    /// Store a permanent blob (default: deletable, as the reference since v1.33).
    #[arg(long)]
    permanent: bool,
    /// Store a deletable blob: the default (kept for the reference's older scripts).
    #[arg(long, hide = true, conflicts_with = "permanent")]
    deletable: bool,
    /// Share each new blob once certified (anyone may then fund and extend it, nobody delete
    /// it); needs `--permanent`.
    #[arg(long, requires = "permanent")]
    share: bool,
    /// Buy new storage and register anew, reusing none of the wallet's storage resources or
    /// uncertified registrations.
    #[arg(long)]
    ignore_resources: bool,
    /// Store even if the blob is already certified for long enough.
    #[arg(long)]
    force: bool,
    /// Only encode: print each file's blob ID and encoded size; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// The reference's upload modes (conservative, balanced, aggressive): uploads here go to
    /// every node at once, so it is not used.
    #[arg(long = "upload-mode", hide = true)]
    _upload_mode: Option<String>,
    /// The reference's confirmation of a relay's tip: none is asked here, so it is not used.
    #[arg(long = "skip-tip-confirmation", hide = true, requires = "upload_relay")]
    _skip_tip_confirmation: bool,
    /// With --dry-run: for this many shards, without asking the chain (offline; no cost).
    #[arg(long, requires = "dry_run")]
    n_shards: Option<u64>,
    /// Encrypt each file with Seal first (for the registered key servers); see `--policy`.
    #[arg(long)]
    encrypt: bool,
    /// Who may decrypt: `private` (a new policy: the wallet only), `timelock:RFC3339` (a new
    /// one: anyone from then on), `allowlist:ID` or `subscription:ID` (existing policies).
    #[arg(long, default_value = "private", requires = "encrypt")]
    policy: String,
    /// Key servers needed to decrypt [default: a majority of those registered].
    #[arg(long, requires = "encrypt")]
    threshold: Option<usize>,
    /// The memory a store may use (bytes, or with a KiB / MiB / GiB suffix). A file whose
    /// encoding does not fit is encoded streaming from the file, never held whole.
    #[arg(long, default_value = "1GiB", value_parser = crate::bench::parse_size)]
    memory_budget: u64,
    /// Where a streaming encoding keeps its scratch files (about 2.5 times the file; removed
    /// when the store ends) [default: the temporary directory].
    #[arg(long)]
    scratch_dir: Option<PathBuf>,
    #[command(flatten)]
    account: Account,
}

/// `walrus read`
#[derive(Debug, clap::Args)]
pub struct ReadArgs {
    /// The blob ID (one in 64 starts with `-`, which is taken as the ID, not an option).
    #[arg(allow_hyphen_values = true)]
    blob_id: BlobId,
    /// Write the blob here (default: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Re-encode the blob and compare its blob ID (slower; catches every inconsistency).
    #[arg(long, conflicts_with = "skip_consistency_check")]
    strict_consistency_check: bool,
    /// Rely on each sliver's own verification only.
    #[arg(long)]
    skip_consistency_check: bool,
    /// Write a Seal-encrypted blob as stored, without decrypting it.
    #[arg(long)]
    no_decrypt: bool,
    /// The memory the read may use (bytes, or with a KiB / MiB / GiB suffix). A blob larger
    /// than a quarter of it is written in pieces of rows as they arrive, each verified, never
    /// held whole (a Seal-encrypted one is then written as stored).
    #[arg(long, default_value = "1GiB", value_parser = crate::bench::parse_size)]
    memory_budget: u64,
    #[command(flatten)]
    account: Account,
}

/// `store --dry-run --n-shards N`: each file's blob ID and sizes, without the network.
fn offline_dry_run(args: &StoreArgs, n_shards: u64, json: bool) -> Result<()> {
    let params = walrus_core::EncodingParams::new(n_shards)?;
    let budget = usize::try_from(args.memory_budget).unwrap_or(usize::MAX);
    let mut results = Vec::new();
    for path in &args.files {
        let metadata =
            walrus_sdk::streaming::file_metadata(params, path, budget, args.scratch_dir.as_deref())?;
        let encoded_size = params.encoded_blob_length(metadata.unencoded_length())?;
        if !json {
            println!(
                "{}: blob ID {}, encoded size {encoded_size} B (dry run, {n_shards} shards)",
                path.display(),
                metadata.blob_id()
            );
        }
        results.push(serde_json::json!({
            "path": path,
            "blobId": metadata.blob_id().to_string(),
            "encodingType": "RS2",
            "unencodedSize": metadata.unencoded_length(),
            "encodedSize": encoded_size,
            "storageCost": null,
        }));
    }
    if json {
        println!("{}", serde_json::Value::Array(results));
    }
    Ok(())
}

/// Stores every file; prints one result per file.
pub fn store(args: StoreArgs, global: &GlobalArgs) -> Result<()> {
    let json = global.json;
    if let (true, Some(n_shards)) = (args.dry_run, args.n_shards) {
        return offline_dry_run(&args, n_shards, json);
    }
    let network = args.account.resolve(global)?;
    let client = Client::new(&network.chain_url, network.key()?);
    let runtime = tokio::runtime::Runtime::new()?;
    let system = runtime.block_on(client.chain().system())?.system;
    let epochs_ahead = args.lifetime.epochs_ahead(&system)?;
    let options = StoreOptions {
        epochs_ahead,
        deletable: !args.permanent,
        force: args.force,
        ignore_resources: args.ignore_resources,
    };
    let sealing = match args.encrypt {
        true => Some(runtime.block_on(sealing(&client, &args.policy, args.threshold))?),
        false => None,
    };
    let budget = usize::try_from(args.memory_budget).unwrap_or(usize::MAX);
    let client = store_client(client, &args, budget, json);
    // Standard input, held in an unnamed file for as long as the store runs, and read by path.
    let stdin = match args.files.iter().any(|path| path.as_os_str() == "-") {
        true => Some(spool_stdin(args.stdin_length, args.scratch_dir.as_deref())?),
        false => None,
    };
    let source = |path: &PathBuf| -> PathBuf {
        match &stdin {
            Some((_, spooled)) if path.as_os_str() == "-" => spooled.clone(),
            _ => path.clone(),
        }
    };
    let share = |outcome| share_new(&runtime, &client, args.share, outcome);
    let encoding = walrus_core::EncodingParams::new(u64::from(system.params.n_shards))?;
    // Unencrypted files whose encoding does not fit the budget are streamed, one at a time.
    let streamed =
        |len: u64| sealing.is_none() && !walrus_sdk::streaming::fits_in_memory(encoding, len, budget);
    let sized: Vec<(&PathBuf, u64)> = args
        .files
        .iter()
        .map(|path| (path, std::fs::metadata(source(path)).map_or(0, |m| m.len())))
        .collect();
    let mut results = Vec::new();
    let mut failed = 0;
    if sized.iter().any(|(_, len)| streamed(*len)) {
        // Within the budget means the peak the process holds, not what it has kept for reuse.
        crate::return_freed_memory();
    }
    let mut files = sized.into_iter().peekable();
    while files.peek().is_some() {
        if let Some((path, _)) = files.next_if(|(_, len)| streamed(*len)) {
            if args.dry_run {
                let scratch = args.scratch_dir.as_deref();
                let metadata =
                    walrus_sdk::streaming::file_metadata(encoding, &source(path), budget, scratch)?;
                results.push(print_dry_run(path, &metadata, &system.params, epochs_ahead, json)?);
                continue;
            }
            let outcome = runtime.block_on(client.store_file(&source(path), options));
            clear_progress_line(json);
            record(&mut results, &mut failed, path, share(outcome), json);
            continue;
        }
        // Read a group of files (bounded in bytes) and store it in one SDK call.
        let mut group: Vec<(&PathBuf, Vec<u8>)> = Vec::new();
        let mut bytes = 0;
        // A group's encodings are held together: within the budget as well.
        let group_max = walrus_sdk::client::GROUP_BYTES_MAX.min(budget / 6) as u64;
        while let Some(&(_, len)) = files.peek() {
            if (!group.is_empty() && bytes + len > group_max) || streamed(len) {
                break;
            }
            let (path, _) = files.next().context("peeked")?;
            let data =
                std::fs::read(source(path)).with_context(|| format!("cannot read {}", path.display()))?;
            let data = match &sealing {
                Some((policy, threshold)) => {
                    runtime.block_on(client.seal_encrypt(*policy, &data, *threshold))?.to_bytes()
                }
                None => data,
            };
            bytes += data.len() as u64;
            group.push((path, data));
        }
        if args.dry_run {
            for (path, data) in &group {
                let metadata = walrus_core::encode::compute_metadata(encoding, data)?;
                results.push(print_dry_run(path, &metadata, &system.params, epochs_ahead, json)?);
            }
            continue;
        }
        let (paths, blobs): (Vec<&PathBuf>, Vec<Vec<u8>>) = group.into_iter().unzip();
        let outcomes = runtime.block_on(client.store_many(blobs, options));
        clear_progress_line(json);
        for (path, outcome) in paths.into_iter().zip(outcomes) {
            record(&mut results, &mut failed, path, share(outcome), json);
        }
    }
    if json {
        println!("{}", serde_json::Value::Array(results));
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} files were not stored", args.files.len());
    }
    Ok(())
}

/// Standard input, which must be `declared` bytes long, in an unnamed temporary file in `dir`;
/// returns the file (to keep open) and a path it can be opened by.
fn spool_stdin(declared: Option<u64>, dir: Option<&Path>) -> Result<(std::fs::File, PathBuf)> {
    let declared = declared.context(
        "standard input (`-`) needs --stdin-length: a stream cut short must not be stored as a blob",
    )?;
    let mut file = match dir {
        Some(dir) => tempfile::tempfile_in(dir),
        None => tempfile::tempfile(),
    }
    .context("cannot make a temporary file for standard input")?;
    // One byte more than declared shows a stream that runs on.
    let mut limited = std::io::Read::take(std::io::stdin().lock(), declared.saturating_add(1));
    let copied = std::io::copy(&mut limited, &mut file).context("cannot read standard input")?;
    if copied != declared {
        let what = if copied > declared { "more".to_string() } else { copied.to_string() };
        anyhow::bail!(
            "standard input has {what} bytes, not the {declared} of --stdin-length; nothing stored"
        );
    }
    let path = PathBuf::from(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file)));
    Ok((file, path))
}

/// The client of a store: its memory budget, its upload relay, its progress line.
fn store_client(client: Client, args: &StoreArgs, budget: usize, json: bool) -> Client {
    let client = client.with_memory_budget(budget, args.scratch_dir.clone());
    let client = match &args.upload_relay {
        Some(url) => client.with_upload_relay(url),
        None => client,
    };
    if json {
        client
    } else {
        with_progress_line(client)
    }
}

/// With `share`, shares a new blob once certified; the shared object, if any.
fn share_new(
    runtime: &tokio::runtime::Runtime,
    client: &Client,
    share: bool,
    outcome: Result<BlobStoreResult, walrus_sdk::StoreError>,
) -> Result<(BlobStoreResult, Option<ObjectId>)> {
    let outcome = outcome?;
    let shared = match (&outcome, share) {
        (BlobStoreResult::NewlyCreated(stored), true) => {
            let call =
                walrus_chain::Call::ShareBlob { blob: stored.object_id, funds: walrus_chain::Frost(0) };
            runtime
                .block_on(client.execute(call))
                .with_context(|| format!("stored as {}, but not shared", stored.object_id))?;
            Some(stored.object_id)
        }
        _ => None,
    };
    Ok((outcome, shared))
}

/// One file's store result: rendered into `results`, or counted in `failed` and said.
fn record(
    results: &mut Vec<serde_json::Value>,
    failed: &mut usize,
    path: &PathBuf,
    outcome: Result<(BlobStoreResult, Option<ObjectId>)>,
    json: bool,
) {
    match outcome {
        Ok((outcome, shared)) => {
            let mut value = render_store(path, &outcome, json);
            if let Some(shared) = shared {
                value["blobStoreResult"]["newlyCreated"]["sharedBlobObject"] = shared.to_string().into();
                if !json {
                    println!("  shared as {shared}");
                }
            }
            results.push(value);
        }
        Err(e) => {
            *failed += 1;
            eprintln!("Error: storing {} failed: {e:#}", path.display());
            // As the reference's JSON: an entry that says what failed.
            let error = serde_json::json!({ "failurePhase": "store", "errorMsg": format!("{e:#}") });
            results.push(serde_json::json!({ "path": path, "blobStoreResult": { "error": error } }));
        }
    }
}

/// The reference's dry-run output of a blob (from `path`) with `metadata`: its blob ID, sizes,
/// and what buying storage for it and registering it would cost.
pub(crate) fn dry_run(
    path: &Path,
    metadata: &walrus_core::metadata::VerifiedBlobMetadataWithId,
    params: &walrus_chain::system::Parameters,
    epochs_ahead: u32,
) -> Result<serde_json::Value> {
    let encoded_size = metadata.params().encoded_blob_length(metadata.unencoded_length())?;
    Ok(serde_json::json!({
        "path": path,
        "blobId": metadata.blob_id().to_string(),
        "encodingType": "RS2",
        "unencodedSize": metadata.unencoded_length(),
        "encodedSize": encoded_size,
        "storageCost": params.register_from_scratch_cost(encoded_size, epochs_ahead),
    }))
}

/// [`dry_run`], also printed for people unless `json`.
fn print_dry_run(
    path: &Path,
    metadata: &walrus_core::metadata::VerifiedBlobMetadataWithId,
    params: &walrus_chain::system::Parameters,
    epochs_ahead: u32,
    json: bool,
) -> Result<serde_json::Value> {
    let output = dry_run(path, metadata, params, epochs_ahead)?;
    if !json {
        println!(
            "{}: blob ID {}, encoded size {} B, cost {} FROST (dry run)",
            path.display(),
            output["blobId"].as_str().unwrap_or_default(),
            output["encodedSize"],
            output["storageCost"]
        );
    }
    Ok(output)
}

/// Prints (for people) and returns (as the reference's JSON) one file's store result.
pub(crate) fn render_store(path: &PathBuf, outcome: &BlobStoreResult, json: bool) -> serde_json::Value {
    if !json {
        match outcome {
            BlobStoreResult::AlreadyCertified { blob_id, object_id, end_epoch } => {
                println!("{} is already stored and certified as blob {blob_id}", path.display());
                println!("  object ID: {object_id}, stored until epoch {end_epoch} (exclusive)");
            }
            BlobStoreResult::MarkedInvalid { blob_id, .. } => println!(
                "{}: blob {blob_id} is marked invalid on chain (its encoding is inconsistent); not stored",
                path.display()
            ),
            BlobStoreResult::NewlyCreated(stored) => {
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
                let blob = &stored.blob_object;
                let kind = if blob.deletable { "deletable" } else { "permanent" };
                println!(
                    "  {kind}, stored until epoch {} (exclusive); cost {} FROST ({})",
                    blob.storage.end_epoch,
                    stored.cost,
                    walrus_chain_node::init::wal(walrus_chain::Frost(stored.cost))
                );
                let uploaded = stored.uploaded;
                if uploaded.held_bytes > 0 {
                    println!(
                        "  resumed: sent {} B of slivers; the nodes held {} B already",
                        uploaded.sent_bytes, uploaded.held_bytes
                    );
                }
            }
        }
    }
    let mut value = serde_json::json!({ "path": path, "blobStoreResult": outcome.to_json() });
    if let BlobStoreResult::NewlyCreated(stored) = outcome {
        value["upload"] = serde_json::json!({
            "sentBytes": stored.uploaded.sent_bytes,
            "heldBytes": stored.uploaded.held_bytes,
            "resumed": stored.uploaded.held_bytes > 0,
        });
    }
    value
}

/// The client, drawing one progress line on standard error when it is a terminal.
pub(crate) fn with_progress_line(client: Client) -> Client {
    if !std::io::stderr().is_terminal() {
        return client;
    }
    let started = std::time::Instant::now();
    client.with_progress(move |progress| {
        let line = match progress {
            Progress::Sent { blob_id, sent, held, total } => {
                let rate = mib_per_second(sent, started);
                let held =
                    if held > 0 { format!(", {:.0} MiB held already", mib(held)) } else { String::new() };
                format!(
                    "{blob_id}: sent {:.0} of {:.0} MiB of slivers{held}, {rate:.1} MiB/s",
                    mib(sent),
                    mib(total)
                )
            }
            Progress::Encoded { blob_id } => format!("{blob_id}: encoded, registering"),
            Progress::Registered { blob_id, .. } => format!("{blob_id}: registered, uploading"),
            Progress::Confirmed { blob_id, confirmed, n_shards } => {
                format!("{blob_id}: uploading, {confirmed} of {n_shards} shards confirmed")
            }
            Progress::Certified { blob_id } => format!("{blob_id}: certified"),
            Progress::Slivers { blob_id, have, need } => format!("{blob_id}: {have} of {need} slivers"),
            Progress::Recovered { blob_id, slivers } => format!("{blob_id}: {slivers} slivers rebuilt"),
        };
        eprint!("\r\x1b[2K{line}");
    })
}

/// Bytes in MiB, for progress lines.
fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1u32 << 20)
}

/// The rate of `bytes` since `started`, in MiB/s.
fn mib_per_second(bytes: u64, started: std::time::Instant) -> f64 {
    mib(bytes) / started.elapsed().as_secs_f64().max(1e-3)
}

pub(crate) fn clear_progress_line(json: bool) {
    if !json && std::io::stderr().is_terminal() {
        eprint!("\r\x1b[2K");
    }
}

/// The policy and threshold a `store --encrypt` seals under (creating a private or time-lock
/// policy first).
async fn sealing(
    client: &Client,
    spec: &str,
    threshold: Option<usize>,
) -> Result<(walrus_core::ObjectId, usize)> {
    let (kind, arg) = spec.split_once(':').unwrap_or((spec, ""));
    let policy = match kind {
        "private" => {
            crate::seal_cmd::create_policy(client, walrus_chain::access::PolicyKind::Private).await?
        }
        "timelock" => {
            let kind = crate::seal_cmd::policy_kind("timelock", Some(arg), None, None)?;
            crate::seal_cmd::create_policy(client, kind).await?
        }
        "allowlist" | "subscription" => {
            arg.parse().with_context(|| format!("--policy {spec}: not a policy ID"))?
        }
        _ => anyhow::bail!("--policy {spec}: private, timelock:RFC3339, allowlist:ID or subscription:ID"),
    };
    let threshold = match threshold {
        Some(t) => t,
        None => client.key_servers().await?.len() / 2 + 1,
    };
    Ok((policy, threshold))
}

/// Reads a blob to `--out` or standard output.
pub fn read(args: ReadArgs, global: &GlobalArgs) -> Result<()> {
    let json = global.json;
    let network = args.account.resolve(global)?;
    let client = Client::new(&network.chain_url, network.key()?);
    let client = if json { client } else { with_progress_line(client) };
    let runtime = tokio::runtime::Runtime::new()?;
    let check = match (args.strict_consistency_check, args.skip_consistency_check) {
        (true, _) => ConsistencyCheck::Strict,
        (_, true) => ConsistencyCheck::Skip,
        _ => ConsistencyCheck::Default,
    };
    let blob = runtime.block_on(client.open(&args.blob_id));
    let blob = match blob {
        Ok(blob) => blob,
        Err(e) => {
            clear_progress_line(json);
            return Err(e.into());
        }
    };
    let budget = args.memory_budget;
    if blob.len() > budget / 4 && !(json && args.out.is_none()) {
        // Within the budget means the peak the process holds, not what it has kept for reuse.
        crate::return_freed_memory();
        return runtime.block_on(read_streaming(&blob.within_memory(), &args, budget / 16, json));
    }
    let data = runtime.block_on(blob.read(check));
    clear_progress_line(json);
    let data = data?;
    let data = match runtime.block_on(client.sealed(&data))? {
        Some(object) if !args.no_decrypt => runtime.block_on(client.seal_decrypt(&object))?,
        _ => data,
    };
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

/// Writes `blob` to `--out` or standard output in pieces of about `piece_bytes` (whole rows),
/// each verified against the metadata as it arrives (the default consistency check), a few
/// pieces read ahead. A piece in flight holds about four times its size (the nodes' answers,
/// the verified slivers, their expansion while verified, the bytes cut out), and three are
/// in flight: a sixteenth of the budget per piece keeps the read within it. With `--strict-consistency-check`, the file written is encoded again
/// (streaming) and its blob ID compared; a blob that fails it is deleted.
async fn read_streaming(
    blob: &walrus_sdk::OpenBlob,
    args: &ReadArgs,
    piece_bytes: u64,
    json: bool,
) -> Result<()> {
    use tokio::io::AsyncWriteExt as _;
    if args.strict_consistency_check && args.out.is_none() {
        anyhow::bail!(
            "--strict-consistency-check of a blob this large needs --out (it is checked in the file)"
        );
    }
    let mut out: Box<dyn tokio::io::AsyncWrite + Unpin + Send> = match &args.out {
        Some(path) => Box::new(
            tokio::fs::File::create(path)
                .await
                .with_context(|| format!("cannot write {}", path.display()))?,
        ),
        None => Box::new(tokio::io::stdout()),
    };
    let started = std::time::Instant::now();
    let mut pieces = blob.stream(0..blob.len(), piece_bytes.max(1));
    let mut written = 0u64;
    while let Some(piece) = pieces.recv().await {
        let piece = piece.inspect_err(|_| clear_progress_line(json))?;
        out.write_all(&piece).await?;
        written += piece.len() as u64;
        if !json && std::io::stderr().is_terminal() {
            let rate = mib_per_second(written, started);
            let (written, len) = (mib(written), mib(blob.len()));
            eprint!("\r\x1b[2K{}: {written:.0} of {len:.0} MiB, {rate:.1} MiB/s", blob.blob_id());
        }
    }
    out.flush().await?;
    clear_progress_line(json);
    anyhow::ensure!(written == blob.len(), "the read ended after {written} of {} bytes", blob.len());
    if let (true, Some(path)) = (args.strict_consistency_check, &args.out) {
        let (params, budget) = (blob.params(), usize::try_from(args.memory_budget).unwrap_or(usize::MAX));
        let path_owned = path.clone();
        let metadata = tokio::task::spawn_blocking(move || {
            walrus_sdk::streaming::file_metadata(params, &path_owned, budget, None)
        })
        .await??;
        if metadata.blob_id() != blob.blob_id() {
            let _ = std::fs::remove_file(path);
            anyhow::bail!(
                "blob {} is inconsistent: its bytes encode to {}",
                blob.blob_id(),
                metadata.blob_id()
            );
        }
    }
    if let Some(out) = &args.out {
        print(json, serde_json::json!({ "blobId": args.blob_id.to_string(), "out": out }), || {
            format!("Read {written} B of blob {} into {}", args.blob_id, out.display())
        });
    }
    Ok(())
}

/// `walrus blob-status`
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The blob ID.
    #[arg(long, conflicts_with = "file", required_unless_present = "file", allow_hyphen_values = true)]
    blob_id: Option<BlobId>,
    /// A file: its blob ID is computed for the network's shard count.
    #[arg(long)]
    file: Option<PathBuf>,
    /// How long the lookup may take (`500ms`, `1s`, `2m`).
    #[arg(long, default_value = "10s", value_parser = crate::daemon::parse_duration)]
    timeout: std::time::Duration,
    #[command(flatten)]
    chain: crate::wallet::ChainArg,
}

/// The blob ID of `file` on the network of `chain` (its shard count), computed within the
/// default memory budget.
pub(crate) async fn file_blob_id(chain: &walrus_chain_client::ChainClient, file: &Path) -> Result<BlobId> {
    let n_shards = chain.system().await?.system.params.n_shards;
    let params = walrus_core::EncodingParams::new(u64::from(n_shards))?;
    let budget = walrus_sdk::streaming::MEMORY_BUDGET_DEFAULT;
    let metadata = walrus_sdk::streaming::file_metadata(params, file, budget, None)
        .with_context(|| format!("cannot compute the blob ID of {}", file.display()))?;
    Ok(*metadata.blob_id())
}

/// Prints what the chain knows of a blob: its objects, whether any is certified, until when
/// it is stored, and whether it is marked invalid.
pub fn status(args: StatusArgs, global: &GlobalArgs) -> Result<()> {
    let json = global.json;
    let chain = walrus_chain_client::ChainClient::new(&args.chain.resolve(global)?);
    let runtime = tokio::runtime::Runtime::new()?;
    let lookup = async {
        let blob_id = match (&args.blob_id, &args.file) {
            (Some(blob_id), _) => *blob_id,
            (None, Some(file)) => file_blob_id(&chain, file).await?,
            (None, None) => anyhow::bail!("give --blob-id or --file"),
        };
        let system = chain.system().await?.system;
        anyhow::Ok((walrus_sdk::blobs::blob_status(&chain, &blob_id).await?, system))
    };
    let (found, system) = runtime
        .block_on(async { tokio::time::timeout(args.timeout, lookup).await })
        .map_err(|_| anyhow::anyhow!("the chain did not answer within {:?} (--timeout)", args.timeout))??;
    let (blob_id, status, certified, epoch) = (found.blob_id, found.status, found.certified, found.epoch);
    let end_epoch = found.end_epoch.map(|e| e.0);
    let objects: Vec<serde_json::Value> = found
        .objects
        .iter()
        .map(|(id, b)| {
            serde_json::json!({
                "id": id,
                "deletable": b.deletable,
                "certifiedEpoch": b.certified_epoch.map(|e| e.0),
                "endEpoch": b.end_epoch().0,
            })
        })
        .collect();
    let mut value = serde_json::json!({
        "blobId": blob_id.to_string(),
        "file": args.file,
        "status": status_json(&found),
        "isCertified": certified,
        "endEpoch": end_epoch,
        "currentEpoch": epoch.0,
        "objects": objects,
    });
    if let (Some(end), "permanent") = (end_epoch, status) {
        value["estimatedExpiryTimestamp"] = crate::epochs::epoch_start_estimate(&system, end).into();
    }
    print(json, value, || {
        match end_epoch {
        Some(end) if status != "invalid" => format!(
            "Blob {blob_id}: {status}, {}, stored until epoch {end} (exclusive); {} live object(s); current epoch {epoch}",
            if certified { "certified" } else { "not certified yet" },
            objects.len()
        ),
        _ => format!("Blob {blob_id}: {status} (current epoch {epoch})"),
    }
    });
    Ok(())
}

/// A blob's status as the reference's JSON `BlobStatus`: `"nonexistent"`, `{"invalid": …}`,
/// `{"permanent": …}` or `{"deletable": …}`, with the counts of deletable objects.
pub(crate) fn status_json(found: &walrus_sdk::BlobStatus) -> serde_json::Value {
    let deletable: Vec<_> = found.objects.iter().filter(|(_, b)| b.deletable).collect();
    let counts = serde_json::json!({
        "count_deletable_total": deletable.len(),
        "count_deletable_certified": deletable.iter().filter(|(_, b)| b.certified_epoch.is_some()).count(),
    });
    let initial = found.objects.iter().filter_map(|(_, b)| b.certified_epoch.map(|e| e.0)).min();
    match found.status {
        "nonexistent" => "nonexistent".into(),
        "invalid" => serde_json::json!({ "invalid": { "event": null } }),
        "permanent" => {
            let permanent = found.objects.iter().filter(|(_, b)| !b.deletable);
            let end = permanent.clone().map(|(_, b)| b.end_epoch().0).max();
            serde_json::json!({ "permanent": {
                "endEpoch": end,
                "isCertified": permanent.clone().any(|(_, b)| b.certified_epoch.is_some()),
                "statusEvent": null,
                "deletableCounts": counts,
                "initialCertifiedEpoch": initial,
            }})
        }
        _ => {
            serde_json::json!({ "deletable": { "initialCertifiedEpoch": initial, "deletableCounts": counts } })
        }
    }
}
