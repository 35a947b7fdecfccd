//! The `walrus` command-line tool.
//!
//! Each subcommand is a thin shell over library crates: it parses arguments, calls the library
//! and renders the result for people or, with `--json`, as the reference CLI's camelCase JSON.
//! Errors are printed as `Error: ...` with a non-zero exit status, never as a panic.

mod bench;
mod blob;
mod blob_id;
mod chain;
mod config;
mod daemon;
mod info;
mod localnet;
mod manage;
mod node;
mod wallet;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc keeps freed memory for reuse; glibc's allocator returns large blocks to the kernel,
/// and every sliver batch then paid for zeroing fresh pages (a third of a node's CPU time when
/// storing a 64 MiB blob).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Flags accepted before or after the subcommand, as in the reference CLI.
#[derive(Debug, clap::Args)]
pub struct GlobalArgs {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// The configuration file: the client's (default: $WALRUS_CONFIG, else
    /// ~/.walrus/localnet/client_config.yaml if it exists), or the node's for `walrus node run`.
    #[arg(long, global = true)]
    pub config: Option<std::path::PathBuf>,
}

#[derive(Debug, Parser)]
#[command(name = "walrus", version, about = "A Walrus-compatible decentralized blob store")]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compute the blob ID of a file, as the network would, without storing it.
    BlobId(blob_id::BlobIdArgs),
    /// Convert a blob ID from its on-chain decimal (u256) form to its text form.
    ConvertBlobId(blob_id::ConvertArgs),
    /// Create or run the coordination chain.
    #[command(subcommand)]
    Chain(chain::ChainCommand),
    /// Manage an account on the chain: keys, balance, transfers, the local faucet.
    Wallet(wallet::WalletArgs),
    /// Run a storage node.
    #[command(subcommand)]
    Node(node::NodeCommand),
    /// Store files as blobs: encode, register, upload to the storage nodes, certify.
    Store(blob::StoreArgs),
    /// Read a blob back from the storage nodes.
    Read(blob::ReadArgs),
    /// Run a complete local network: the chain and storage nodes, each its own process.
    Localnet(localnet::LocalnetArgs),
    /// Show what the chain knows of a blob: status, certification, expiry, objects.
    BlobStatus(blob::StatusArgs),
    /// List the wallet's blob objects.
    ListBlobs(manage::ListArgs),
    /// Delete the wallet's deletable blob objects (their storage returns to the wallet).
    Delete(manage::DeleteArgs),
    /// Extend a blob object's storage by some epochs.
    Extend(manage::ExtendArgs),
    /// Show the system: epoch, shards, nodes, limits, prices.
    Info(info::ChainArgs),
    /// Ask every storage node of the committee for its health.
    Health(info::ChainArgs),
    /// Measure store and read latency and throughput on the network (the localnet by default).
    Bench(bench::BenchArgs),
    /// Serve the HTTP read API (GET /v1/blobs/{blob_id}, ...).
    Aggregator(daemon::DaemonArgs),
    /// Serve the HTTP store API (PUT /v1/blobs), paid by the wallet.
    Publisher(daemon::DaemonArgs),
    /// Serve both the aggregator's and the publisher's API.
    Daemon(daemon::DaemonArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.command);
    let result = match cli.command {
        Command::BlobId(args) => blob_id::run(&args, cli.global.json),
        Command::ConvertBlobId(args) => blob_id::convert(&args, cli.global.json),
        Command::Chain(command) => chain::run(command, cli.global.json),
        Command::Wallet(args) => wallet::run(args, &cli.global),
        Command::Node(command) => node::run(command, cli.global.config.as_deref()),
        Command::Store(args) => blob::store(args, &cli.global),
        Command::Read(args) => blob::read(args, &cli.global),
        Command::Localnet(args) => localnet::run(args),
        Command::BlobStatus(args) => blob::status(args, &cli.global),
        Command::ListBlobs(args) => manage::list(args, &cli.global),
        Command::Delete(args) => manage::delete(args, &cli.global),
        Command::Extend(args) => manage::extend(args, &cli.global),
        Command::Info(args) => info::info(args, &cli.global),
        Command::Health(args) => info::health(args, &cli.global),
        Command::Bench(args) => bench::run(args, &cli.global),
        Command::Aggregator(args) => daemon::run(args, &cli.global, daemon::Role::Aggregator),
        Command::Publisher(args) => daemon::run(args, &cli.global, daemon::Role::Publisher),
        Command::Daemon(args) => daemon::run(args, &cli.global, daemon::Role::Daemon),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to standard error, filtered by `RUST_LOG` (for example `RUST_LOG=walrus_sdk=debug`);
/// by default servers log at `info` and client commands only warnings.
fn init_logging(command: &Command) {
    let server = matches!(
        command,
        Command::Chain(_)
            | Command::Node(_)
            | Command::Localnet(_)
            | Command::Aggregator(_)
            | Command::Publisher(_)
            | Command::Daemon(_)
    );
    let default = if server { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
