//! `walrus bench`: store and read latency and throughput on a running network (the localnet by
//! default), through the SDK in this process, as a user of the network sees them: each store
//! encodes, registers, uploads, collects confirmations and certifies fresh random bytes; each
//! read fetches, verifies and decodes them back (and is checked against what was stored).
//!
//! With `--markdown FILE` the results replace the section between the `walrus bench` markers
//! in FILE (appended if there is none), beside a baseline measured by another system (the
//! JSON of `scripts/tahoe_baseline.sh`, `--baseline FILE`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use walrus_core::splitmix::splitmix_bytes;
use walrus_sdk::{BlobStoreResult, Client, StoreOptions};

use crate::wallet::Account;
use crate::GlobalArgs;

/// Start and end markers of the section `--markdown` rewrites.
const BEGIN: &str = "<!-- walrus bench: begin (written by `walrus bench --markdown`) -->";
const END: &str = "<!-- walrus bench: end -->";
/// Most runs per size.
const RUNS_MAX: usize = 1_000;

/// `walrus bench`
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Blob sizes (bytes, or with a KiB / MiB / GiB suffix), comma-separated.
    #[arg(long, default_value = "1KiB,1MiB,64MiB", value_delimiter = ',', value_parser = parse_size)]
    sizes: Vec<u64>,
    /// Stores and reads per size (at most 3 for sizes of 16 MiB and more, unless this is lower).
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Runs for sizes of 16 MiB and more.
    #[arg(long, default_value_t = 3)]
    large_runs: usize,
    /// Unrecorded store-and-read rounds per size before the measured ones (the processes'
    /// allocators and caches warm up, as in any benchmark harness).
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// A baseline's results (JSON of the same shape, e.g. from `scripts/tahoe_baseline.sh`).
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Rewrite the `walrus bench` section of this Markdown file with the results.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// The small-file case instead: `--quilt-files` files stored as one quilt and one by one.
    #[arg(long)]
    quilt: bool,
    /// Files of the quilt case.
    #[arg(long, default_value_t = 600)]
    quilt_files: usize,
    /// The Walrus Sites case instead: a site of `--site-files` files of `--quilt-file-size`
    /// published and updated, against one store per file, and its first page loaded through the
    /// configured portal (the localnet's).
    #[arg(long, conflicts_with = "quilt")]
    site: bool,
    /// The Seal case instead: key fetch latency from the key servers and one key server's
    /// requests per second (`--runs` fetches, `--seal-requests` requests).
    #[arg(long, conflicts_with_all = ["quilt", "site"])]
    seal: bool,
    /// Requests to one key server in the Seal case.
    #[arg(long, default_value_t = 1000)]
    seal_requests: usize,
    /// Files of the site case.
    #[arg(long, default_value_t = 200)]
    site_files: usize,
    /// Each file's size in the quilt and site cases.
    #[arg(long, default_value = "10KiB", value_parser = parse_size)]
    quilt_file_size: u64,
    #[command(flatten)]
    account: Account,
}

/// One size and operation: the shape `scripts/tahoe_baseline.sh` also prints.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Figure {
    size: u64,
    op: String,
    runs: usize,
    p50_s: f64,
    min_s: f64,
    max_s: f64,
    mb_per_s: f64,
}

/// A whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Report {
    system: String,
    machine: String,
    results: Vec<Figure>,
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

/// Runs the benchmark.
pub fn run(args: BenchArgs, global: &GlobalArgs) -> Result<()> {
    if args.runs == 0 || args.runs > RUNS_MAX || args.large_runs == 0 || args.large_runs > RUNS_MAX {
        bail!("--runs and --large-runs must be 1..={RUNS_MAX}");
    }
    if args.warmup > RUNS_MAX {
        bail!("--warmup must be at most {RUNS_MAX}");
    }
    let baseline: Option<Report> = args
        .baseline
        .as_ref()
        .map(|path| -> Result<Report> {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not a benchmark report", path.display()))
        })
        .transpose()?;
    let network = args.account.resolve(global)?;
    let client = Client::new(&network.chain_url, network.key()?);
    let runtime = tokio::runtime::Runtime::new()?;
    let system = runtime.block_on(client.chain().system())?.system;
    let n_shards = system.params.n_shards;
    let nodes = system.committee.members.len();
    if args.quilt || args.seal || args.site {
        return small_cases(&args, global, &runtime, (&client, n_shards));
    }
    let mut results = Vec::new();
    for &size in &args.sizes {
        let runs = if size >= 16 << 20 { args.large_runs.min(args.runs) } else { args.runs };
        let (stores, reads) = runtime.block_on(measure(&client, size, args.warmup, runs))?;
        for (op, times) in [("store", stores), ("read", reads)] {
            let figure = figure(size, op, times);
            eprintln!(
                "{op:>5} {:>9}: p50 {:.3} s (min {:.3}, max {:.3}), {:.1} MB/s, {runs} runs",
                human(size),
                figure.p50_s,
                figure.min_s,
                figure.max_s,
                figure.mb_per_s
            );
            results.push(figure);
        }
    }
    let mut extra = serde_json::Map::new();
    extra.insert("nodes".into(), nodes.into());
    extra.insert("nShards".into(), n_shards.into());
    extra.insert("warmupRounds".into(), args.warmup.into());
    let report = Report {
        system: format!("walrus-rs {}", env!("CARGO_PKG_VERSION")),
        machine: machine(),
        results,
        extra,
    };
    let table = markdown(&report, baseline.as_ref());
    if let Some(path) = &args.markdown {
        let old = std::fs::read_to_string(path).unwrap_or_default();
        std::fs::write(path, splice(&old, &table))
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("Wrote the results into {}", path.display());
    }
    if global.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{table}");
    }
    Ok(())
}

/// `runs` stores and reads of fresh random blobs of `size` bytes, after `warmup` unrecorded
/// ones; the blobs are deleted after.
async fn measure(
    client: &Client,
    size: u64,
    warmup: usize,
    runs: usize,
) -> Result<(Vec<Duration>, Vec<Duration>)> {
    let len = usize::try_from(size).context("size too large for this machine")?;
    let mut seed =
        u64::from_le_bytes(walrus_chain_node::init::random_seed()?[..8].try_into().context("seed")?);
    let (mut stores, mut reads) = (Vec::new(), Vec::new());
    for run in 0..warmup + runs {
        // Fresh bytes for every run, so that no store finds its blob already certified.
        seed = seed.wrapping_add(1);
        let data = splitmix_bytes(seed, len);
        let started = Instant::now();
        let outcome = client
            .store(data.clone(), StoreOptions { force: true, ..StoreOptions::default() })
            .await
            .with_context(|| format!("storing {} failed", human(size)))?;
        let stored_in = started.elapsed();
        let BlobStoreResult::NewlyCreated(stored) = outcome else {
            bail!("a forced store did not create a blob")
        };
        let started = Instant::now();
        let read =
            client.read(&stored.blob_id).await.with_context(|| format!("reading {} failed", human(size)))?;
        if run >= warmup {
            stores.push(stored_in);
            reads.push(started.elapsed());
        }
        if read != data {
            bail!("blob {} read back different bytes", stored.blob_id);
        }
        client.delete_blob(stored.object_id).await?;
    }
    Ok((stores, reads))
}

fn figure(size: u64, op: &str, mut times: Vec<Duration>) -> Figure {
    times.sort();
    let seconds = |d: &Duration| d.as_secs_f64();
    let p50 = seconds(&times[(times.len() - 1) / 2]);
    Figure {
        size,
        op: op.to_string(),
        runs: times.len(),
        p50_s: p50,
        min_s: times.first().map_or(0.0, seconds),
        max_s: times.last().map_or(0.0, seconds),
        mb_per_s: size as f64 / p50 / 1e6,
    }
}

/// The results as Markdown, beside the baseline's figures for the same size and operation.
fn markdown(report: &Report, baseline: Option<&Report>) -> String {
    let base_name = baseline.map_or("baseline", |b| b.system.as_str());
    let mut out = format!(
        "Measured by `walrus bench` ({}; {} nodes, n = {} shards) on {}, after {} unrecorded \
         warm-up round(s) per size.\n",
        report.system,
        report.extra.get("nodes").map_or("?".into(), |v| v.to_string()),
        report.extra.get("nShards").map_or("?".into(), |v| v.to_string()),
        report.machine,
        report.extra.get("warmupRounds").map_or("0".into(), |v| v.to_string()),
    );
    if let Some(baseline) = baseline {
        out.push_str(&format!("Baseline: {} on {}", baseline.system, baseline.machine));
        if let Some(shares) = baseline.extra.get("shares") {
            out.push_str(&format!(", shares {shares}"));
        }
        out.push_str(", measured in the same session.\n");
    }
    out.push_str(&format!(
        "\n| Blob | Operation | Runs | p50 | min | max | Throughput (p50) | {base_name} p50 | {base_name} throughput | Ratio |\n\
         |---|---|---|---|---|---|---|---|---|---|\n"
    ));
    for f in &report.results {
        let base = baseline.and_then(|b| b.results.iter().find(|g| g.size == f.size && g.op == f.op));
        let (base_p50, base_rate, ratio) = match base {
            Some(g) => (
                format!("{:.3} s", g.p50_s),
                format!("{:.1} MB/s", g.mb_per_s),
                format!("{:.2}x", g.p50_s / f.p50_s),
            ),
            None => ("".into(), "".into(), "".into()),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {:.3} s | {:.3} s | {:.3} s | {:.1} MB/s | {base_p50} | {base_rate} | {ratio} |\n",
            human(f.size),
            f.op,
            f.runs,
            f.p50_s,
            f.min_s,
            f.max_s,
            f.mb_per_s
        ));
    }
    if baseline.is_some() {
        out.push_str("\nRatio: the baseline's p50 time over ours (above 1: we are faster).\n");
    }
    out
}

/// `old` with its bench section replaced by `table` (or with a section appended).
fn splice(old: &str, table: &str) -> String {
    let section = format!("{BEGIN}\n{table}{END}\n");
    match (old.find(BEGIN), old.find(END)) {
        (Some(begin), Some(end)) if begin < end => {
            let after = &old[end + END.len()..];
            format!("{}{section}{}", &old[..begin], after.strip_prefix('\n').unwrap_or(after))
        }
        _ if old.is_empty() => section,
        _ => format!("{}\n{section}", old.trim_end_matches('\n').to_string() + "\n"),
    }
}

/// The quilt, Seal and Walrus Sites cases; prints their figures (JSON with `--json`).
fn small_cases(
    args: &BenchArgs,
    global: &GlobalArgs,
    runtime: &tokio::runtime::Runtime,
    (client, n_shards): (&Client, u16),
) -> Result<()> {
    fn report<T: Serialize>(
        global: &GlobalArgs,
        figures: &T,
        markdown: impl FnOnce() -> String,
    ) -> Result<()> {
        if global.json {
            println!("{}", serde_json::to_string(figures)?);
        } else {
            print!("{}", markdown());
        }
        Ok(())
    }
    if args.quilt {
        if args.quilt_files == 0 || args.quilt_files > 65_535 || args.quilt_file_size > 64 << 20 {
            bail!("--quilt-files must be 1..=65535 and --quilt-file-size at most 64 MiB");
        }
        let case = crate::bench_quilt::QuiltCase {
            n_shards,
            files: args.quilt_files,
            size: args.quilt_file_size,
            warmup: args.warmup,
            runs: args.runs,
            reads: args.runs * 2,
        };
        let figures = crate::bench_quilt::measure(runtime, client, case)?;
        return report(global, &figures, || crate::bench_quilt::markdown(&figures, &machine()));
    }
    if args.seal {
        if args.seal_requests == 0 || args.seal_requests > 100_000 {
            bail!("--seal-requests must be 1..=100000");
        }
        let figures = crate::bench_seal::measure(runtime, client, args.runs, args.seal_requests)?;
        return report(global, &figures, || crate::bench_seal::markdown(&figures, &machine()));
    }
    if args.site_files > 10_000 || args.quilt_file_size > 64 << 20 {
        bail!("--site-files must be at most 10000 and --quilt-file-size at most 64 MiB");
    }
    let portal = crate::config::ClientConfig::find(global.config.as_deref(), global.context.as_deref())?
        .portal_url
        .context("no portal_url in the client configuration (run a localnet)")?;
    let shape = (args.site_files, args.quilt_file_size);
    let figures = crate::bench_site::measure(runtime, client, n_shards, shape, &portal)?;
    report(global, &figures, || crate::bench_site::markdown(&figures, &machine()))
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores, {model}")
}

/// `1024` → `1 KiB`.
pub(crate) fn human(size: u64) -> String {
    for (unit, bytes) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if size >= bytes && size.is_multiple_of(bytes) {
            return format!("{} {unit}", size / bytes);
        }
    }
    format!("{size} B")
}

/// `64MiB`, `1KiB`, `1000` → bytes.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = text.find(|c: char| !c.is_ascii_digit()).map_or((text, ""), |i| text.split_at(i));
    let factor = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => return Err(format!("unknown unit {other:?} (use B, KiB, MiB or GiB)")),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("{text:?} is not a size"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1KiB"), Ok(1024));
        assert_eq!(parse_size("7"), Ok(7));
        assert!(parse_size("1MB").is_err());
        assert!(parse_size("x").is_err());
        assert_eq!(human(64 << 20), "64 MiB");
        assert_eq!(human(1000), "1000 B");
    }

    #[test]
    fn the_section_is_replaced_in_place_or_appended() {
        let first = splice("# Benchmarks\n\nintro\n", "table 1\n");
        assert_eq!(first, format!("# Benchmarks\n\nintro\n\n{BEGIN}\ntable 1\n{END}\n"));
        let second = splice(&(first.clone() + "after\n"), "table 2\n");
        assert_eq!(second, format!("# Benchmarks\n\nintro\n\n{BEGIN}\ntable 2\n{END}\nafter\n"));
    }
}
