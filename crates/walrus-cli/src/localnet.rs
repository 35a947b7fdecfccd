//! `walrus localnet`: a complete network on this machine in one command. Every chain validator
//! and every storage node runs as its own `walrus` process (each restartable alone with the
//! command `D/localnet.json` records); the nodes, the gateway and the client configuration are
//! given every validator's RPC URL and fail over between them; the wallet is funded from the
//! faucet; a self-check stores a small blob and reads it back; then it serves until
//! interrupted. A node, the gateway, the portal or a key server that dies is reported and
//! restarted (the network stops if one dies more than three times in a minute); a validator
//! that dies is reported and the chain goes on (it tolerates fewer than a third of them down;
//! `localnet.json` has the command that restarts it). Logs are appended across runs. A second `walrus
//! localnet` on a running directory says so and touches nothing; a new network that never came
//! up is removed, so that it can be made again (say, with other ports).
//! It writes `D/client_config.yaml` (found by the other commands for the default directory)
//! and `D/localnet.json`. Restarting with the same directory keeps every blob (the chain replays its blocks, the nodes
//! reopen their databases).

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use walrus_chain_client::ChainClient;
use walrus_chain_node::init::{random_seed, read_ed25519, write_secret, ChainDir};
use walrus_core::keys::Ed25519KeyPair;
use walrus_sdk::{Client, StoreOptions};

use crate::chain::{create, parse_duration, shutdown_signal};
use crate::config::{default_localnet_dir, default_wallet, ClientConfig, CLIENT_CONFIG_FILE};

/// WAL the wallet gets from the faucet when it holds less than half of it.
const FUND_WAL: u64 = 1_000;
/// How long a process may take to come up.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// `walrus localnet`
#[derive(Debug, clap::Args)]
pub struct LocalnetArgs {
    /// The network's directory (kept between runs).
    #[arg(long, default_value_os_t = default_localnet_dir())]
    dir: PathBuf,
    /// Storage nodes (for a new network).
    #[arg(long, default_value_t = 4)]
    nodes: usize,
    /// Shards (for a new network); 1000 gives the blob IDs of Walrus Mainnet.
    #[arg(long, default_value_t = 1000)]
    shards: u16,
    /// Epoch length (for a new network).
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    epoch_duration: Duration,
    /// Chain validators (for a new network), each its own process.
    #[arg(long, default_value_t = 4)]
    validators: usize,
    /// The first validator's chain RPC port on 127.0.0.1; validator i serves on this plus i.
    #[arg(long, default_value_t = 9184)]
    chain_port: u16,
    /// The first validator's consensus p2p port on 127.0.0.1 (for a new network); validator i
    /// listens on this plus i.
    #[arg(long, default_value_t = crate::chain::DEFAULT_FIRST_P2P_PORT)]
    p2p_port: u16,
    /// Port of the first storage node (for a new network); node i listens on this plus i.
    #[arg(long, default_value_t = crate::chain::DEFAULT_FIRST_NODE_PORT)]
    first_node_port: u16,
    /// The wallet to fund (created if missing).
    #[arg(long, env = "WALRUS_WALLET", default_value_os_t = default_wallet())]
    wallet: PathBuf,
    /// The gateway's (aggregator and publisher) port on 127.0.0.1.
    #[arg(long, default_value_t = 31415)]
    gateway_port: u16,
    /// The Walrus Sites portal's port: sites at `http://SITE.localhost:PORT/`.
    #[arg(long, default_value_t = 3000)]
    portal_port: u16,
    /// Seal key servers to run (each with its own master key, registered on chain).
    #[arg(long, default_value_t = 3)]
    key_servers: u16,
    /// Port of the first key server; key server i listens on this plus i.
    #[arg(long, default_value_t = 9300)]
    first_key_server_port: u16,
    /// Nodes serve plain HTTP instead of HTTPS (for a new network; loopback only).
    #[arg(long)]
    plain_http: bool,
}

/// A child process that is stopped (SIGTERM, then SIGKILL) when dropped, and restarted with
/// the same arguments when it dies while the network runs.
struct Process {
    name: String,
    child: Child,
    args: Vec<String>,
    ready: String,
    log: PathBuf,
    /// When it was restarted, within the last minute.
    restarts: Vec<Instant>,
    /// Restarted when it dies (a validator is only reported: the chain goes on without it, and
    /// `localnet.json` has the command that restarts it).
    restart: bool,
    /// Whether its exit was reported (a process not restarted).
    reported: bool,
}

/// Restarts allowed within a minute before the network stops.
const RESTARTS_MAX: usize = 3;

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).stderr(Stdio::null()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `walrus ARGS`, waits for its ready line (containing `ready`), and appends the rest of
/// its log to `log`.
fn start(name: &str, args: &[&str], ready: &str, log: &Path) -> Result<Process> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let child = spawn_ready(name, &args, ready, log)?;
    Ok(Process {
        name: name.into(),
        child,
        args,
        ready: ready.into(),
        log: log.into(),
        restarts: Vec::new(),
        restart: true,
        reported: false,
    })
}

fn spawn_ready(name: &str, args: &[String], ready: &str, log: &Path) -> Result<Child> {
    let exe = std::env::current_exe().context("cannot find the walrus binary")?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open {}", log.display()))?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    writeln!(file, "--- {name} starting (unix time {now}) ---")?;
    let mut child = Command::new(exe)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {name}"))?;
    let stderr = child.stderr.take().context("no stderr pipe")?;
    // `true` once the ready line came, `false` if the output ended before it.
    let (tx, rx) = std::sync::mpsc::channel();
    let ready = ready.to_string();
    std::thread::spawn(move || {
        let mut signalled = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = writeln!(file, "{line}");
            if !signalled && line.contains(&ready) {
                signalled = true;
                let _ = tx.send(true);
            }
        }
        let _ = tx.send(false);
    });
    if let Ok(true) = rx.recv_timeout(START_TIMEOUT) {
        return Ok(child);
    }
    let status = child.try_wait().ok().flatten();
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = rx.recv_timeout(Duration::from_secs(1)); // The log's last lines are written.
    let how = status.map_or("did not come up in time".to_string(), |s| format!("exited ({s})"));
    bail!("{name} {how}: {} (its log: {})", last_error(log), log.display())
}

/// The line of `log`'s last run that says why it stopped: its last fatal error (`Error: …`) or
/// error-level log line.
fn last_error(log: &Path) -> String {
    let text = std::fs::read(log).unwrap_or_default();
    let text = String::from_utf8_lossy(&text[text.len().saturating_sub(64 << 10)..]);
    let run = text.rsplit_once("\n--- ").map_or(text.as_ref(), |(_, run)| run);
    let lines: Vec<&str> = run.lines().skip(1).filter(|l| !l.trim().is_empty()).collect();
    let error = lines.iter().rev().find(|l| l.starts_with("Error:") || l.contains(" ERROR "));
    error.map_or("no error in its log".to_string(), |l| l.trim().to_string())
}

/// The chain RPC URLs of `count` validators from `port`.
fn validator_urls(port: u16, count: usize) -> Result<Vec<String>> {
    let addresses = crate::chain::loopback_range(port, count, "validator")?;
    Ok(addresses.iter().map(|address| format!("http://{address}")).collect())
}

/// Runs the local network until interrupted.
pub fn run(args: LocalnetArgs) -> Result<()> {
    let existed = args.dir.exists();
    std::fs::create_dir_all(&args.dir).with_context(|| format!("cannot create {}", args.dir.display()))?;
    let _lock = lock(&args.dir)?;
    let fresh = !ChainDir(args.dir.clone()).genesis().exists();
    let outcome = run_network(&args);
    if outcome.is_err() && fresh && !existed && !args.dir.join("localnet.json").exists() {
        // Nothing of it ever ran: take it away, so that the next try makes it anew.
        if std::fs::remove_dir_all(&args.dir).is_ok() {
            eprintln!(
                "The new network never came up; removed {} so that it can be made again (with other ports, say)",
                args.dir.display()
            );
        }
    }
    outcome
}

/// Holds `dir/localnet.lock` for as long as this process runs (the system lets it go when the
/// process ends, however it ends), or says which process holds it.
fn lock(dir: &Path) -> Result<std::fs::File> {
    let path = dir.join("localnet.lock");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .write(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0)?;
            writeln!(file, "{}", std::process::id())?;
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let pid = std::fs::read_to_string(&path).unwrap_or_default().trim().to_string();
            bail!(
                "a local network is already running in {} (pid {pid}); stop it first (`kill {pid}`), or give another --dir",
                dir.display()
            )
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

fn run_network(args: &LocalnetArgs) -> Result<()> {
    let dir = ChainDir(args.dir.clone());
    if dir.genesis().exists() {
        eprintln!("Reusing the network in {} (its blobs are kept)", args.dir.display());
    } else {
        let rpc_end = usize::from(args.chain_port) + args.validators;
        let nodes_end = usize::from(args.first_node_port) + args.nodes;
        if usize::from(args.first_node_port) < rpc_end && usize::from(args.chain_port) < nodes_end {
            bail!(
                "the validators' RPC ports (from --chain-port) overlap the nodes' (from --first-node-port)"
            );
        }
        let epoch_ms = u64::try_from(args.epoch_duration.as_millis()).context("epoch duration too long")?;
        let shape = crate::chain::Shape {
            shards: args.shards,
            nodes: args.nodes,
            first_node_port: args.first_node_port,
            epoch_ms,
            plain_http: args.plain_http,
            validators: args.validators,
            first_p2p_port: Some(args.p2p_port),
        };
        let chain_urls = validator_urls(args.chain_port, args.validators)?.join(",");
        create(&dir, &shape, 1_000_000_000, &chain_urls)?;
        eprintln!(
            "Created a network of {} validators, {} nodes and {} shards in {}",
            args.validators,
            args.nodes,
            args.shards,
            args.dir.display()
        );
    }
    let genesis = dir.read_genesis()?;
    let chain_urls = validator_urls(args.chain_port, genesis.validators.len())?;
    let chain_id = genesis.digest();
    let chain_url = crate::chain::pinned_url(&chain_urls.join(","), &chain_id);
    let logs = args.dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    let mut processes = Vec::new();
    for (i, url) in chain_urls.iter().enumerate() {
        let command = validator_command(&args.dir, i, url)?;
        let name = format!("validator-{i}");
        let command: Vec<&str> = command[1..].iter().map(String::as_str).collect();
        let mut process = start(&name, &command, "chain RPC on", &logs.join(format!("{name}.log")))?;
        process.restart = false;
        processes.push(process);
    }
    for i in 0..genesis.nodes.len() {
        let config = dir.node(i).join("node.yaml");
        let config = config.to_str().context("the directory path is not UTF-8")?;
        let name = format!("node-{i}");
        processes.push(start(
            &name,
            &["node", "run", "--config", config],
            " on http", // https://, or http:// on a plain-HTTP localnet
            &logs.join(format!("{name}.log")),
        )?);
    }
    let runtime = tokio::runtime::Runtime::new()?;
    // The gateway pays for stores with a wallet of its own (a second process on the user's
    // wallet would race it for nonces).
    let gateway_wallet = args.dir.join("gateway.key");
    runtime.block_on(fund(&ChainClient::new(&chain_url), &gateway_wallet))?;
    let gateway_wallet = gateway_wallet.to_str().context("the directory path is not UTF-8")?;
    let bind = format!("127.0.0.1:{}", args.gateway_port);
    processes.push(start(
        "gateway",
        &["daemon", "--bind", &bind, "--chain-url", &chain_url, "--wallet", gateway_wallet],
        " on http://",
        &logs.join("gateway.log"),
    )?);
    let portal_bind = format!("127.0.0.1:{}", args.portal_port);
    let aggregator = format!("http://{bind}");
    processes.push(start(
        "portal",
        &["portal", "--bind", &portal_bind, "--chain-url", &chain_url, "--aggregator", &aggregator],
        " on http://",
        &logs.join("portal.log"),
    )?);
    let key_servers = start_key_servers(args, &chain_url, &runtime, &mut processes)?;
    let addresses: Vec<String> = genesis.nodes.iter().map(|n| n.network_address.clone()).collect();
    let network = Network {
        chain_urls: &chain_urls,
        chain_id,
        validators: &genesis.validators,
        addresses: &addresses,
        key_servers: &key_servers,
    };
    let served = runtime.block_on(serve(args, &network, &mut processes));
    // The key servers, the portal and the gateway stop first, then the nodes, then the chain.
    while let Some(process) = processes.pop() {
        drop(process);
    }
    served
}

/// The command that runs validator `i` of the network in `dir` with its RPC at `url` (the
/// program first).
fn validator_command(dir: &Path, i: usize, url: &str) -> Result<Vec<String>> {
    let exe = std::env::current_exe().context("cannot find the walrus binary")?;
    let listen = url.trim_start_matches("http://");
    Ok([
        exe.to_str().context("the walrus binary's path is not UTF-8")?,
        "chain",
        "run",
        "--dir",
        dir.to_str().context("the directory path is not UTF-8")?,
        "--validator",
        &i.to_string(),
        "--listen",
        listen,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect())
}

/// What `localnet.json` describes besides the processes.
struct Network<'a> {
    /// Each validator's chain RPC URL.
    chain_urls: &'a [String],
    chain_id: walrus_core::hash::Digest,
    /// The genesis validators.
    validators: &'a [walrus_chain::GenesisValidator],
    /// The storage nodes' addresses, in genesis order.
    addresses: &'a [String],
    /// The key servers, as `localnet.json` lists them.
    key_servers: &'a [serde_json::Value],
}

/// Makes, registers (paid by a wallet of their own, `keyservers.key`) and starts the key
/// servers; returns their descriptions.
fn start_key_servers(
    args: &LocalnetArgs,
    chain_url: &str,
    runtime: &tokio::runtime::Runtime,
    processes: &mut Vec<Process>,
) -> Result<Vec<serde_json::Value>> {
    let wallet = args.dir.join("keyservers.key");
    let key = runtime.block_on(fund(&ChainClient::new(chain_url), &wallet))?;
    let client = walrus_sdk::Client::new(chain_url, key);
    let mut described = Vec::new();
    for i in 0..args.key_servers {
        let port = args.first_key_server_port.checked_add(i).context("key server ports run past 65535")?;
        let init = crate::seal_cmd::InitArgs {
            dir: args.dir.join("keyservers").join(i.to_string()),
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            url: None,
            name: format!("localnet-{i}"),
            account: crate::wallet::Account { wallet: None, chain_url: None },
        };
        let (config, object_id) = runtime.block_on(crate::seal_cmd::init(&init, chain_url, &client))?;
        let config_text = config.to_str().context("the directory path is not UTF-8")?;
        let name = format!("key-server-{i}");
        let log = args.dir.join("logs").join(format!("{name}.log"));
        processes.push(start(&name, &["key-server", "run", "--config", config_text], " on http://", &log)?);
        described.push(serde_json::json!({
            "objectId": object_id.to_string(),
            "url": format!("http://127.0.0.1:{port}"),
            "pid": processes.last().map(|p| p.child.id()),
            "config": config,
        }));
    }
    Ok(described)
}

/// The key in `path` (created if missing), topped up from the faucet when below half of
/// [`FUND_WAL`].
async fn fund(chain: &ChainClient, path: &Path) -> Result<Ed25519KeyPair> {
    if !path.exists() {
        write_secret(path, &random_seed()?)?;
    }
    let wallet = read_ed25519(path)?;
    let balance = chain.account(&wallet.address()).await?.account.balance;
    let fund = walrus_chain::Frost::from_wal(FUND_WAL)?;
    if balance.0 < fund.0 / 2 {
        chain.faucet(wallet.address(), fund.0).await?;
    }
    Ok(wallet)
}

/// The committee's nodes as `localnet.json` lists them.
fn describe_nodes(
    args: &LocalnetArgs,
    network: &Network<'_>,
    committee: &walrus_chain::system::Committee,
    processes: &[Process],
) -> Vec<serde_json::Value> {
    let addresses = network.addresses;
    let first_node = network.chain_urls.len();
    committee
        .members
        .iter()
        .map(|member| {
            let index = addresses.iter().position(|a| *a == member.network_address);
            let pid = index.and_then(|i| processes.get(first_node + i)).map(|p| p.child.id());
            serde_json::json!({
                "url": walrus_tls::node_base_url(&member.network_address).unwrap_or_default(),
                "networkPublicKey": member.network_public_key.to_string(),
                "publicKey": member.public_key.to_string(),
                "shards": member.shards.len(),
                "pid": pid,
                "config": index.map(|i| ChainDir(args.dir.clone()).node(i).join("node.yaml")),
            })
        })
        .collect()
}

/// Funds the wallet, describes the network, runs the self-check, and waits for a signal.
/// `processes` are the validators', the nodes' in genesis order, the gateway's, the portal's.
async fn serve(args: &LocalnetArgs, network: &Network<'_>, processes: &mut [Process]) -> Result<()> {
    let chain_url = crate::chain::pinned_url(&network.chain_urls.join(","), &network.chain_id);
    let chain_url = chain_url.as_str();
    let chain = ChainClient::new(chain_url);
    let wallet = fund(&chain, &args.wallet).await?;
    let committee = chain.committee().await?;
    let nodes = describe_nodes(args, network, &committee, processes);
    let validators = network
        .chain_urls
        .iter()
        .zip(network.validators)
        .enumerate()
        .map(|(i, (url, validator))| {
            Ok(serde_json::json!({
                "url": url,
                "publicKey": hex::encode(validator.public_key.0),
                "p2pAddress": validator.p2p_address,
                "pid": processes.get(i).map(|p| p.child.id()),
                "command": validator_command(&args.dir, i, url)?,
            }))
        })
        .collect::<Result<Vec<_>>>()?;
    let gateway_url = format!("http://127.0.0.1:{}", args.gateway_port);
    let portal_url = format!("http://localhost:{}", args.portal_port);
    let description = serde_json::json!({
        "chainUrl": network.chain_urls.join(","),
        "chainId": format!("0x{}", hex::encode(network.chain_id)),
        "chainPid": processes[0].child.id(),
        "validators": validators,
        "gatewayUrl": gateway_url,
        "gatewayPid": processes.iter().find(|p| p.name == "gateway").map(|p| p.child.id()),
        "portalUrl": portal_url,
        "portalPid": processes.iter().find(|p| p.name == "portal").map(|p| p.child.id()),
        "keyServers": network.key_servers,
        "wallet": args.wallet,
        "nodes": nodes,
    });
    std::fs::write(args.dir.join("localnet.json"), serde_json::to_string_pretty(&description)? + "\n")?;
    let wallet_path = std::path::absolute(&args.wallet).unwrap_or_else(|_| args.wallet.clone());
    let client_config = args.dir.join(CLIENT_CONFIG_FILE);
    let portal = Some(portal_url.clone());
    ClientConfig { chain_url: Some(chain_url.to_string()), wallet: Some(wallet_path), portal_url: portal }
        .save(&client_config)?;

    let check = self_check(chain_url, Ed25519KeyPair::from_seed(&wallet.seed())).await?;
    println!(
        "Local Walrus network up: {} chain validators ({chain_url}), {} storage nodes",
        network.chain_urls.len(),
        committee.members.len()
    );
    for node in &nodes {
        println!("  node {} ({} shards)", node["url"].as_str().unwrap_or("?"), node["shards"]);
    }
    println!("  gateway {gateway_url} (aggregator and publisher: GET/PUT {gateway_url}/v1/blobs)");
    println!(
        "  portal {portal_url} (Walrus Sites: `walrus site publish DIR`, then http://SITE.localhost:{}/)",
        args.portal_port
    );
    for server in network.key_servers {
        println!(
            "  key server {} ({})",
            server["url"].as_str().unwrap_or("?"),
            server["objectId"].as_str().unwrap_or("?")
        );
    }
    println!("{check}");
    println!(
        "Wallet {} ({}), network described in {}",
        args.wallet.display(),
        wallet.address(),
        args.dir.join("localnet.json").display()
    );
    println!("Client configuration: {}", client_config.display());
    let config_flag =
        if std::path::absolute(&args.dir).ok() == std::path::absolute(default_localnet_dir()).ok() {
            String::new()
        } else {
            format!(" --config {}", client_config.display())
        };
    let walrus = command_name();
    println!(
        "Try: {walrus} store FILE --epochs 2{config_flag}   then   {walrus} read BLOB_ID --out COPY{config_flag}"
    );
    println!("Ctrl-C to stop (the network's data stays in {}).", args.dir.display());
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            () = tokio::time::sleep(Duration::from_secs(1)) => {
                if let Err(e) = restart_exited(processes) {
                    anyhow::bail!("{e:#}; stopping the local network (its logs are in {})", args.dir.join("logs").display());
                }
            }
        }
    }
    eprintln!("Stopping the local network");
    Ok(())
}

/// How to call this binary: `walrus` when that is it on the `PATH`, else its path.
fn command_name() -> String {
    let Ok(exe) = std::env::current_exe().and_then(std::fs::canonicalize) else { return "walrus".into() };
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path)
            .any(|dir| std::fs::canonicalize(dir.join("walrus")).is_ok_and(|found| found == exe))
    });
    if on_path {
        "walrus".into()
    } else {
        exe.display().to_string()
    }
}

/// Restarts each process of `processes` that has exited, saying so on standard error; fails
/// when one exits more than [`RESTARTS_MAX`] times within a minute or cannot be restarted.
fn restart_exited(processes: &mut [Process]) -> Result<()> {
    for process in processes.iter_mut().filter(|p| !p.reported) {
        let Some(status) = process.child.try_wait().ok().flatten() else { continue };
        let pid = process.child.id();
        if !process.restart {
            process.reported = true;
            eprintln!(
                "{} (pid {pid}) exited unexpectedly ({status}); the chain goes on while more than two thirds of its validators run (restart it with the command in localnet.json)",
                process.name
            );
            continue;
        }
        process.restarts.retain(|at| at.elapsed() < Duration::from_secs(60));
        if process.restarts.len() >= RESTARTS_MAX {
            bail!(
                "{} (pid {pid}) exited ({status}) {RESTARTS_MAX} times within a minute: {}",
                process.name,
                last_error(&process.log)
            );
        }
        eprintln!(
            "{} (pid {pid}) exited unexpectedly ({status}): {}; restarting it",
            process.name,
            last_error(&process.log)
        );
        process.child = spawn_ready(&process.name, &process.args, &process.ready, &process.log)?;
        process.restarts.push(Instant::now());
        eprintln!("{} restarted (pid {})", process.name, process.child.id());
    }
    Ok(())
}

/// Stores a small blob and reads it back.
async fn self_check(chain_url: &str, wallet: Ed25519KeyPair) -> Result<String> {
    let client = Client::new(chain_url, wallet);
    let data = format!("walrus localnet self-check at {:?}\n", std::time::SystemTime::now()).into_bytes();
    let started = Instant::now();
    let options = StoreOptions { force: true, ..StoreOptions::default() };
    let stored = client.store(data.clone(), options).await.context("self-check store failed")?;
    let stored_in = started.elapsed();
    let blob_id = *stored.blob_id();
    let read = client.read(&blob_id).await.context("self-check read failed")?;
    if read != data {
        bail!("self-check: blob {blob_id} read back different bytes");
    }
    Ok(format!(
        "Self-check: stored {} B as blob {} in {:.0} ms and read it back in {:.0} ms",
        data.len(),
        blob_id,
        stored_in.as_secs_f64() * 1e3,
        (started.elapsed() - stored_in).as_secs_f64() * 1e3
    ))
}
