//! The `walrus` command-line tool.
//!
//! Each subcommand is a thin shell over library crates: it parses arguments, calls the library
//! and renders the result for people or, with `--json`, as the reference CLI's camelCase JSON.
//! Errors are printed as `Error: ...` with a non-zero exit status, never as a panic.

mod blob;
mod blob_id;
mod chain;
mod info;
mod localnet;
mod manage;
mod node;
mod wallet;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Flags accepted before or after the subcommand, as in the reference CLI.
#[derive(Debug, clap::Args)]
struct GlobalArgs {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::BlobId(args) => blob_id::run(&args, cli.global.json),
        Command::ConvertBlobId(args) => blob_id::convert(&args, cli.global.json),
        Command::Chain(command) => chain::run(command, cli.global.json),
        Command::Wallet(args) => wallet::run(args, cli.global.json),
        Command::Node(command) => node::run(command),
        Command::Store(args) => blob::store(args, cli.global.json),
        Command::Read(args) => blob::read(args, cli.global.json),
        Command::Localnet(args) => localnet::run(args),
        Command::BlobStatus(args) => blob::status(args, cli.global.json),
        Command::ListBlobs(args) => manage::list(args, cli.global.json),
        Command::Delete(args) => manage::delete(args, cli.global.json),
        Command::Extend(args) => manage::extend(args, cli.global.json),
        Command::Info(args) => info::info(args, cli.global.json),
        Command::Health(args) => info::health(args, cli.global.json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
