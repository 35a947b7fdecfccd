//! `walrus chain init|run`: create and run the coordination chain.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use walrus_chain_node::init::{init_dir, read_ed25519, wal, ChainDir, InitSpec};
use walrus_chain_node::node::{NodeConfig, DEFAULT_LISTEN};

/// `walrus chain ...`
#[derive(Debug, clap::Subcommand)]
pub enum ChainCommand {
    /// Create a chain directory: genesis, storage-node keys and a funded faucet.
    Init(InitArgs),
    /// Run one validator of the chain and its RPC server until interrupted.
    Run(RunArgs),
}

/// Arguments of `walrus chain init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The directory to create.
    #[arg(long)]
    dir: PathBuf,
    /// Shards in the system (1000 gives the blob IDs of Walrus Mainnet).
    #[arg(long, default_value_t = 1000)]
    shards: u16,
    /// Storage nodes of the first committee; shards are split evenly.
    #[arg(long, default_value_t = 4)]
    nodes: usize,
    /// Port of the first storage node; node i listens on this plus i, on 127.0.0.1.
    #[arg(long, default_value_t = DEFAULT_FIRST_NODE_PORT)]
    first_node_port: u16,
    /// Validators ordering the chain's blocks (BFT: up to a third less one may fail); each runs
    /// as `walrus chain run --validator i`.
    #[arg(long, default_value_t = 1)]
    validators: usize,
    /// Consensus p2p port of the first validator; validator i listens on this plus i, on
    /// 127.0.0.1 [default: 9284; a chain of one validator takes any free port].
    #[arg(long)]
    first_p2p_port: Option<u16>,
    /// Epoch length, for example `1h`, `10m`, `30s`.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    epoch_duration: Duration,
    /// WAL held by the faucet account.
    #[arg(long, default_value_t = 1_000_000)]
    faucet_wal: u64,
    /// Nodes serve plain HTTP (registered as `http://127.0.0.1:PORT`) instead of HTTPS with
    /// their network key: for loopback tests only.
    #[arg(long)]
    plain_http: bool,
}

/// Arguments of `walrus chain run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The chain directory made by `walrus chain init`.
    #[arg(long)]
    dir: PathBuf,
    /// Which validator of the genesis to run (its key is `D/validators/<i>/validator.key`).
    #[arg(long, default_value_t = 0)]
    validator: usize,
    /// Where the RPC listens. The faucet is served only on a loopback address.
    #[arg(long, default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
}

/// Default port of the first storage node.
pub const DEFAULT_FIRST_NODE_PORT: u16 = 9200;
/// Default consensus p2p port of the first validator of a chain of several.
pub const DEFAULT_FIRST_P2P_PORT: u16 = 9284;

/// Parses `250ms`, `30s`, `10m`, `2h` or `1d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number.parse().map_err(|_| format!("{text:?} is not a duration like 30s or 10m"))?;
    let ms = match unit {
        "ms" => Some(value),
        "s" => value.checked_mul(1_000),
        "m" => value.checked_mul(60_000),
        "h" => value.checked_mul(3_600_000),
        "d" => value.checked_mul(86_400_000),
        _ => return Err(format!("{text:?}: the unit must be ms, s, m, h or d")),
    };
    match ms {
        Some(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
        _ => Err(format!("{text:?} is out of range")),
    }
}

fn now_ms() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// Runs a `walrus chain` command.
pub fn run(command: ChainCommand, json: bool) -> Result<()> {
    match command {
        ChainCommand::Init(args) => init(&args, json),
        ChainCommand::Run(args) => {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(serve(args))
        }
    }
}

fn init(args: &InitArgs, json: bool) -> Result<()> {
    let epoch_ms = u64::try_from(args.epoch_duration.as_millis()).context("epoch duration too long")?;
    let dir = ChainDir(args.dir.clone());
    let chain_url = format!("http://{DEFAULT_LISTEN}");
    let shape = Shape {
        shards: args.shards,
        nodes: args.nodes,
        first_node_port: args.first_node_port,
        epoch_ms,
        plain_http: args.plain_http,
        validators: args.validators,
        first_p2p_port: args.first_p2p_port,
    };
    let genesis = create(&dir, &shape, args.faucet_wal, &chain_url)?;
    let chain_id = format!("0x{}", hex::encode(genesis.digest()));
    if json {
        println!(
            "{}",
            serde_json::json!({
                "chainId": chain_id,
                "genesis": dir.genesis(),
                "nShards": args.shards,
                "nodes": args.nodes,
                "validators": genesis.validators.iter().map(|v| serde_json::json!({
                    "publicKey": hex::encode(v.public_key.0),
                    "p2pAddress": v.p2p_address,
                })).collect::<Vec<_>>(),
            })
        );
    } else {
        let faucet = genesis.allocations.first().map(|(_, amount)| wal(*amount)).unwrap_or_default();
        println!("Created chain {chain_id} in {}", args.dir.display());
        println!("  {} shards on {} storage nodes; faucet holds {faucet}", args.shards, args.nodes);
        println!("  {} validators", genesis.validators.len());
        println!("Next: walrus chain run --dir {} [--validator I --listen ADDR]", args.dir.display());
        println!("      walrus node run --config {}", dir.node(0).join("node.yaml").display());
    }
    Ok(())
}

/// The shape of a local network.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Shards in the system.
    pub shards: u16,
    /// Storage nodes of the first committee.
    pub nodes: usize,
    /// Node `i` listens on 127.0.0.1 at this port plus `i`.
    pub first_node_port: u16,
    /// Epoch length.
    pub epoch_ms: u64,
    /// Nodes serve plain HTTP instead of HTTPS.
    pub plain_http: bool,
    /// Validators of the chain.
    pub validators: usize,
    /// Validator `i`'s consensus p2p listens on 127.0.0.1 at this port plus `i` (`None`: the
    /// default, and any free port for a chain of one).
    pub first_p2p_port: Option<u16>,
}

/// `count` consecutive loopback addresses from `first`.
pub fn loopback_range(first: u16, count: usize, what: &str) -> Result<Vec<SocketAddr>> {
    (0..count)
        .map(|i| {
            let port = u16::try_from(usize::from(first) + i)
                .with_context(|| format!("{what} ports run past 65535"))?;
            Ok(SocketAddr::from(([127, 0, 0, 1], port)))
        })
        .collect()
}

/// `urls` (comma-separated validator URLs) pinned to chain `chain_id`: clients refuse another
/// chain's genesis (`ChainClient::new`).
pub fn pinned_url(urls: &str, chain_id: &walrus_core::hash::Digest) -> String {
    format!("{urls}#0x{}", hex::encode(chain_id))
}

/// Creates a chain directory for a local network: the genesis (nodes on 127.0.0.1 from
/// `first_node_port` on), the keys, and each node's `nodes/<i>/node.yaml` pointing at `chain_url`
/// pinned to the new chain's ID.
pub fn create(
    dir: &ChainDir,
    shape: &Shape,
    faucet_wal: u64,
    chain_url: &str,
) -> Result<walrus_chain::Genesis> {
    let listens = loopback_range(shape.first_node_port, shape.nodes, "node")?;
    let scheme = if shape.plain_http { "http://" } else { "" };
    let addresses = listens.iter().map(|listen| format!("{scheme}{listen}")).collect();
    let mut spec = InitSpec::localnet(shape.shards, addresses, shape.epoch_ms, now_ms());
    spec.faucet_wal = faucet_wal;
    let first_p2p = match (shape.first_p2p_port, shape.validators) {
        (Some(port), _) => port,
        (None, 1) => 0,
        (None, _) => DEFAULT_FIRST_P2P_PORT,
    };
    spec.validator_addresses = if first_p2p == 0 {
        vec!["127.0.0.1:0".into(); shape.validators]
    } else {
        loopback_range(first_p2p, shape.validators, "validator")?.iter().map(ToString::to_string).collect()
    };
    let genesis = init_dir(dir, &spec)?;
    let chain_url = pinned_url(chain_url, &genesis.digest());
    for (i, listen) in listens.into_iter().enumerate() {
        let mut config =
            walrus_node::NodeConfig::new(format!("node-{i}"), "db".into(), listen, chain_url.clone());
        config.plain_http = shape.plain_http;
        config.save(&dir.node(i).join("node.yaml"))?;
    }
    Ok(genesis)
}

async fn serve(args: RunArgs) -> Result<()> {
    if args.validator > 0 && args.listen.to_string() == DEFAULT_LISTEN {
        anyhow::bail!("validator {} needs its own RPC address: pass --listen", args.validator);
    }
    let dir = ChainDir(args.dir.clone());
    let faucet = if dir.faucet_key().exists() { Some(read_ed25519(&dir.faucet_key())?) } else { None };
    let node = walrus_chain_node::start(NodeConfig {
        dir,
        validator: args.validator,
        listen: args.listen,
        faucet,
        server: Default::default(),
    })
    .await?;
    let (height, _) = *node.chain.head().borrow();
    eprintln!(
        "chain RPC on http://{} (validator {}, height {height}); Ctrl-C to stop",
        node.addr, args.validator
    );
    Ok(node.run_until(shutdown_signal()).await?)
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
pub async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
