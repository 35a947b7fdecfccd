//! The `walrus` command-line tool.
//!
//! Each subcommand is a thin shell over library crates: it parses arguments, calls the library
//! and renders the result for people or, with `--json`, as the reference CLI's camelCase JSON.
//! Errors are printed as `Error: ...` with a non-zero exit status, never as a panic.

mod attributes;
mod bench;
mod bench_quilt;
mod bench_seal;
mod bench_site;
mod blob;
mod blob_id;
mod chain;
mod config;
mod daemon;
mod epochs;
mod governance;
mod health;
mod info;
mod json_cmd;
mod localnet;
mod manage;
mod node;
mod quilt;
mod seal_cmd;
mod site;
mod staking;
mod wallet;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc keeps freed memory for reuse; glibc's allocator returns large blocks to the kernel,
/// and every sliver batch then paid for zeroing fresh pages (a third of a node's CPU time when
/// storing a 64 MiB blob).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc v3's `mimalloc.h` (the version `libmimalloc-sys` builds).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// How long freed memory stays with the process for reuse before it goes back to the OS.
/// mimalloc's default (1 s) is shorter than the gap between two large stores, so every store
/// touched fresh pages again; on a VM those cost a host fault each (first touch of 1 GiB: 0.8 to
/// 3.5 s measured here, against 0.02 s for memory already touched). A 64 MiB store on the
/// localnet went from about 1.6 s to about 1.05 s with memory kept.
const PURGE_DELAY_MS: std::ffi::c_long = 10_000;

/// Applies [`PURGE_DELAY_MS`] unless `MIMALLOC_PURGE_DELAY` says otherwise.
#[allow(unsafe_code)] // one FFI call into the allocator
fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: setting an option is thread-safe in mimalloc and takes plain integers.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) }
    }
}

/// For a process whose peak memory is what counts (a blob ID computed once; a store within a
/// memory budget): freed memory goes back to the OS at once.
#[allow(unsafe_code)] // one FFI call into the allocator
pub(crate) fn return_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: as in `keep_freed_memory`.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
    }
}

/// Turns transparent huge pages off for this process. mimalloc asks for them on its arenas
/// (`madvise`), and a 2 MiB page stays whole while any of it is in use: `walrus blob-id` on
/// 32 MiB peaked at 96 MiB with them and 79.5 MiB without, and on 256 MiB took 1.2 to 2.9 s
/// against 1.0 s (zeroing and compacting huge pages). mimalloc's own switch
/// (`MIMALLOC_ALLOW_THP=0`) is read before `main`, too late to set from here.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)] // one system call
fn no_transparent_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and only sets a flag of this process.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Flags accepted before or after the subcommand, as in the reference CLI.
#[derive(Debug, clap::Args)]
pub struct GlobalArgs {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,
    /// The configuration file (`walrus node run`: the node's) [default: $WALRUS_CONFIG, else the
    /// first client_config.yaml of ., ~/.config/walrus, ~/.walrus, ~/.walrus/localnet].
    #[arg(long, global = true, help_heading = "Global options")]
    pub config: Option<std::path::PathBuf>,
    /// The network of the configuration file to use, when it holds several (`contexts`).
    #[arg(long, global = true, help_heading = "Global options")]
    pub context: Option<String>,
    /// The reference's gas budget: fees here are fixed per transaction, so it is not used.
    #[arg(long = "gas-budget", global = true, hide = true)]
    _gas_budget: Option<u64>,
    /// The wallet's key file, given before the subcommand (as the reference's global
    /// `--wallet`); the subcommands that use a wallet take `--wallet` too.
    #[arg(long = "wallet", id = "wallet_before", value_name = "WALLET", hide = true)]
    pub wallet: Option<std::path::PathBuf>,
    /// The chain RPC, given before the subcommand (`--rpc-url` too, the reference's name).
    #[arg(long = "chain-url", id = "chain_url_before", alias = "rpc-url", value_name = "URL", hide = true)]
    pub chain_url: Option<String>,
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
    /// Get WAL for the wallet (from a local network's faucet; the reference swaps SUI on Testnet).
    GetWal(wallet::GetWalArgs),
    /// Set up, register or run a storage node.
    #[command(subcommand)]
    Node(node::NodeCommand),
    /// A registered node's operator calls: commission, votes, collecting commission, governance
    /// votes.
    NodeAdmin(node::AdminArgs),
    /// Governance: the open proposals and the parameters in force.
    #[command(subcommand)]
    Governance(governance::GovernanceCommand),
    /// Store files as blobs: encode, register, upload to the storage nodes, certify.
    Store(blob::StoreArgs),
    /// Read a blob back from the storage nodes.
    Read(blob::ReadArgs),
    /// Store files as one quilt: one blob, each file readable alone.
    #[command(alias = "write-quilt")]
    StoreQuilt(quilt::StoreQuiltArgs),
    /// Read patches of a quilt by identifier, tag or patch ID.
    ReadQuilt(quilt::ReadQuiltArgs),
    /// List a quilt's patches from its index.
    #[command(alias = "resolve-quilt")]
    ListPatchesInQuilt(quilt::ListPatchesArgs),
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
    /// Share a blob object of the wallet: anyone may then fund and extend it, nobody delete it.
    Share(manage::ShareArgs),
    /// Add funds to a shared blob (paid from the wallet).
    FundSharedBlob(manage::FundArgs),
    /// Burn blob objects of the wallet (the blobs stay until they expire; the objects go).
    BurnBlobs(manage::BurnArgs),
    /// Print a blob object's attributes.
    GetBlobAttribute(attributes::GetArgs),
    /// Set attributes (key-value pairs) of a blob object of the wallet.
    SetBlobAttribute(attributes::SetArgs),
    /// Remove some attributes of a blob object of the wallet.
    RemoveBlobAttributeFields(attributes::RemoveFieldsArgs),
    /// Remove every attribute of a blob object of the wallet.
    RemoveBlobAttribute(attributes::RemoveArgs),
    /// Show the system: epoch, storage, sizes, prices (or one part: `epoch`, `storage`, `size`,
    /// `price`, `bft`, `committee`, or `all` of them).
    Info(info::InfoArgs),
    /// Ask storage nodes for their health (the committee, the active set, or some by ID or URL).
    Health(health::HealthArgs),
    /// Stake WAL with a storage node's pool.
    Stake(staking::StakeArgs),
    /// Ask to withdraw a `StakedWal` (paid at once when it is not earning).
    RequestWithdrawStake(staking::StakedWalArgs),
    /// Claim a `StakedWal` whose withdrawal epoch has come.
    WithdrawStake(staking::StakedWalArgs),
    /// List the wallet's `StakedWal` objects.
    ListStakedWal(staking::ListArgs),
    /// Measure store and read latency and throughput on the network (the localnet by default).
    Bench(bench::BenchArgs),
    /// Serve the HTTP read API (GET /v1/blobs/{blob_id}, ...).
    Aggregator(daemon::DaemonArgs),
    /// Serve the HTTP store API (PUT /v1/blobs), paid by the wallet.
    Publisher(daemon::DaemonArgs),
    /// Serve both the aggregator's and the publisher's API.
    Daemon(daemon::DaemonArgs),
    /// Serve an upload relay: take whole blobs over HTTP, send their slivers to the nodes, and
    /// answer each with its confirmation certificate (for thin clients; a tip may be asked).
    UploadRelay(daemon::RelayArgs),
    /// Publish, update and manage Walrus Sites.
    #[command(subcommand)]
    Site(site::SiteCommand),
    /// Run a Seal key server (or make and register one).
    #[command(subcommand)]
    KeyServer(seal_cmd::KeyServerCommand),
    /// Access policies for encrypted blobs: create, allowlist, subscribe, show.
    #[command(subcommand)]
    Policy(seal_cmd::PolicyCommand),
    /// Seal encryption: key servers, keys, encrypt and decrypt files.
    #[command(subcommand)]
    Seal(seal_cmd::SealCommand),
    /// Serve Walrus Sites: `http://SITE.localhost:PORT/`, every byte checked against the chain.
    Portal(site::PortalArgs),
    /// Print a completion script for a shell (bash, elvish, fish, powershell, zsh; by default
    /// the one in $SHELL): `source <(walrus completion bash)`.
    Completion(CompletionArgs),
    /// Run one command given as JSON (on standard input, or as the argument), with JSON output:
    /// `{"config": PATH, "command": {"store": {"files": [PATH], "epochs": 2}}}`.
    Json(JsonArgs),
}

/// `walrus completion`
#[derive(Debug, clap::Args)]
struct CompletionArgs {
    /// The shell.
    #[arg(value_enum, ignore_case = true, conflicts_with = "shell_flag")]
    shell: Option<clap_complete::Shell>,
    /// The shell (the reference's form).
    #[arg(long = "shell", id = "shell_flag", value_enum, ignore_case = true)]
    shell_flag: Option<clap_complete::Shell>,
}

/// Prints the completion script of `walrus` for the shell asked, else the one in $SHELL.
fn completion(args: CompletionArgs) -> anyhow::Result<()> {
    let shell = args.shell.or(args.shell_flag).or_else(clap_complete::Shell::from_env);
    let shell = shell.ok_or_else(|| {
        anyhow::anyhow!("could not tell the shell from $SHELL: give it, e.g. `walrus completion bash`")
    })?;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "walrus", &mut script);
    match std::io::Write::write_all(&mut std::io::stdout().lock(), &script) {
        // A reader that stops early (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// `walrus json`
#[derive(Debug, clap::Args)]
struct JsonArgs {
    /// The JSON command (default: read from standard input).
    command: Option<String>,
}

fn main() -> ExitCode {
    #[cfg(target_os = "linux")]
    no_transparent_huge_pages();
    let cli = Cli::parse();
    match cli.command {
        Command::BlobId(_) => return_freed_memory(),
        _ => keep_freed_memory(),
    }
    init_logging(&cli.command);
    // `walrus json` answers in JSON, its errors too (on standard output, as its results).
    let json_mode = matches!(cli.command, Command::Json(_));
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if json_mode => {
            println!("{}", serde_json::json!({ "error": describe(&error) }));
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("Error: {}", describe(&error));
            ExitCode::FAILURE
        }
    }
}

/// An error in one line: a server that cannot be reached is named with what to do about it,
/// not as its chain of transport errors.
fn describe(error: &anyhow::Error) -> String {
    let unreachable = error.chain().find_map(|cause| {
        let cause = cause.downcast_ref::<reqwest::Error>()?;
        (cause.is_connect() || cause.is_timeout())
            .then(|| cause.url().map(|url| url.origin().ascii_serialization()))
    });
    match unreachable {
        Some(url) => format!(
            "cannot reach {}: is the network running? (`walrus localnet` starts a local one; --rpc-url or --config picks another)",
            url.unwrap_or_else(|| "the server".into())
        ),
        None => format!("{error:#}"),
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::BlobId(args) => blob_id::run(&args, &cli.global),
        Command::ConvertBlobId(args) => blob_id::convert(&args, cli.global.json),
        Command::Chain(command) => chain::run(command, cli.global.json),
        Command::Wallet(args) => wallet::run(args, &cli.global),
        Command::GetWal(args) => wallet::get_wal(args, &cli.global),
        Command::Node(command) => node::run(command, &cli.global),
        Command::NodeAdmin(args) => node::admin(args, &cli.global),
        Command::Governance(command) => governance::run(command, &cli.global),
        Command::Store(args) => blob::store(args, &cli.global),
        Command::Read(args) => blob::read(args, &cli.global),
        Command::StoreQuilt(args) => quilt::store(args, &cli.global),
        Command::ReadQuilt(args) => quilt::read(args, &cli.global),
        Command::ListPatchesInQuilt(args) => quilt::list_patches(args, &cli.global),
        Command::Localnet(args) => localnet::run(args),
        Command::BlobStatus(args) => blob::status(args, &cli.global),
        Command::ListBlobs(args) => manage::list(args, &cli.global),
        Command::Delete(args) => manage::delete(args, &cli.global),
        Command::Extend(args) => manage::extend(args, &cli.global),
        Command::Share(args) => manage::share(args, &cli.global),
        Command::FundSharedBlob(args) => manage::fund_shared_blob(args, &cli.global),
        Command::BurnBlobs(args) => manage::burn(args, &cli.global),
        Command::GetBlobAttribute(args) => attributes::get(args, &cli.global),
        Command::SetBlobAttribute(args) => attributes::set(args, &cli.global),
        Command::RemoveBlobAttributeFields(args) => attributes::remove_fields(args, &cli.global),
        Command::RemoveBlobAttribute(args) => attributes::remove(args, &cli.global),
        Command::Info(args) => info::info(args, &cli.global),
        Command::Stake(args) => staking::stake(args, &cli.global),
        Command::RequestWithdrawStake(args) => staking::request_withdraw(args, &cli.global),
        Command::WithdrawStake(args) => staking::withdraw(args, &cli.global),
        Command::ListStakedWal(args) => staking::list(args, &cli.global),
        Command::Health(args) => health::health(args, &cli.global),
        Command::Bench(args) => bench::run(args, &cli.global),
        Command::Aggregator(args) => daemon::run(args, &cli.global, daemon::Role::Aggregator),
        Command::Publisher(args) => daemon::run(args, &cli.global, daemon::Role::Publisher),
        Command::Daemon(args) => daemon::run(args, &cli.global, daemon::Role::Daemon),
        Command::UploadRelay(args) => daemon::run_relay(args, &cli.global),
        Command::Site(command) => site::run(command, &cli.global),
        Command::Portal(args) => site::portal(args, &cli.global),
        Command::KeyServer(command) => seal_cmd::key_server(command, &cli.global),
        Command::Policy(command) => seal_cmd::policy(command, &cli.global),
        Command::Seal(command) => seal_cmd::seal(command, &cli.global),
        Command::Completion(args) => completion(args),
        Command::Json(args) => {
            let line = json_cmd::read_args(args.command.as_deref())?;
            run(Cli::try_parse_from(line)?)
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
            | Command::UploadRelay(_)
            | Command::Portal(_)
            | Command::KeyServer(seal_cmd::KeyServerCommand::Run { .. })
    );
    let default = if server { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only on a terminal: a log file or a pipe gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(unsafe_code)] // reads the allocator's option through FFI
    fn the_purge_delay_option_is_the_one_we_set() {
        // SAFETY: reading and setting mimalloc options takes plain integers.
        let default = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(default, 1_000, "mimalloc v3's purge delay default: is index 15 still purge_delay?");
        }
        keep_freed_memory();
        // SAFETY: as above.
        let now = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(now, PURGE_DELAY_MS);
        }
    }

    #[test]
    fn a_blob_id_may_start_with_a_hyphen() {
        let id = "-3xPbXAnEN4cRjJE9Y8jw3l3f5o4JqKQyzqw6r7fYvc";
        for line in [
            vec!["walrus", "read", id],
            vec!["walrus", "blob-status", "--blob-id", id],
            vec!["walrus", "delete", "--blob-id", id],
        ] {
            let parsed = Cli::try_parse_from(&line);
            assert!(parsed.is_ok(), "{line:?}: {:?}", parsed.err());
        }
    }
}
