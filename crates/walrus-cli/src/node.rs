//! `walrus node setup|register|run` and `walrus node-admin`: an operator's storage node, from
//! nothing to a member of the committee (docs/operators.md).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use walrus_chain::epoch::{NodeRegistration, Votes};
use walrus_chain::{Call, Frost};
use walrus_chain_client::ChainClient;
use walrus_chain_node::init::{
    random_seed, read_bls, read_ed25519, read_network_key, wal, write_network_key, write_secret,
};
use walrus_core::keys::{BlsKeyPair, Ed25519KeyPair};
use walrus_core::messages::proof_of_possession;
use walrus_core::ObjectId;
use walrus_node::NodeConfig;

use crate::config::DEFAULT_CHAIN_URL;
use crate::wallet::print;
use crate::GlobalArgs;

/// `walrus node ...`
#[derive(Debug, clap::Subcommand)]
pub enum NodeCommand {
    /// Run a storage node until interrupted.
    /// Its configuration is the global `--config D/node.yaml` (written by `walrus node setup`,
    /// or by `walrus chain init` for the genesis nodes).
    Run,
    /// Create a storage node's keys and configuration in a directory: `D/node.yaml`,
    /// `D/bls.key` (its protocol key), `D/network.key` (the key of its TLS certificate) and
    /// `D/owner.key` (the operator's account, which pays the node's transactions: fund it
    /// before `register`).
    Setup(SetupArgs),
    /// Register the node of the global `--config D/node.yaml` as a candidate for the committee
    /// (with a proof of possession of its BLS key); prints its node ID. It joins a committee
    /// once it has enough stake (`walrus stake --node-id ID`).
    Register(RegisterArgs),
}

/// `walrus node setup`
#[derive(Debug, clap::Args)]
pub struct SetupArgs {
    /// The directory to create the node in.
    #[arg(long)]
    dir: PathBuf,
    /// The chain RPC.
    #[arg(long, default_value = DEFAULT_CHAIN_URL)]
    chain_url: String,
    /// Where the node's REST API listens.
    #[arg(long)]
    rest_listen: SocketAddr,
    /// A name for people (at most 100 bytes).
    #[arg(long)]
    name: String,
    /// Serve plain HTTP instead of HTTPS: only with a loopback `--rest-listen` (a local test
    /// network).
    #[arg(long)]
    plain_http: bool,
}

/// `walrus node register`
#[derive(Debug, clap::Args)]
pub struct RegisterArgs {
    /// Commission on the node's rewards, in basis points (at most 10 000).
    #[arg(long, default_value_t = 6_000)]
    commission_bps: u16,
    /// Where clients and other nodes reach the node, `HOST:PORT` (HTTPS) [default: its
    /// `rest_listen`, with `http://` if it serves plain HTTP].
    #[arg(long)]
    network_address: Option<String>,
    /// Encoded bytes the node offers (its capacity vote).
    #[arg(long, default_value_t = 1 << 40)]
    capacity: u64,
}

/// `walrus node-admin`: the operator's calls for a registered node.
#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AdminCommand {
    /// Set the commission rate (applies from the epoch after next).
    SetCommission {
        /// Basis points (at most 10 000).
        #[arg(long)]
        bps: u16,
    },
    /// Set the node's price and capacity votes (each left out keeps its value).
    SetVotes {
        /// FROST per MiB of encoded size per epoch.
        #[arg(long)]
        storage_price: Option<u64>,
        /// FROST per MiB of encoded size, once per registration.
        #[arg(long)]
        write_price: Option<u64>,
        /// Encoded bytes the node offers.
        #[arg(long)]
        capacity: Option<u64>,
    },
    /// Pay the node's collectable commission to the operator's account.
    CollectCommission,
    /// Change the node's name, network address or network key on chain, at once (clients and
    /// peers reach it with them from their next look at the chain).
    SetInfo {
        /// A new name (at most 100 bytes).
        #[arg(long)]
        name: Option<String>,
        /// A new `host:port` where the node's REST API is reached.
        #[arg(long)]
        network_address: Option<String>,
        /// Register the key of the configuration's network key file.
        #[arg(long)]
        network_key: bool,
    },
    /// Make a new network key: the old file is kept beside it (`.old`); restart the node, which
    /// registers the new key on chain as it starts.
    RotateNetworkKey,
    /// The node's record on chain: ID, stake, commission, votes, last challenge settlement.
    Info,
    /// Vote in governance with the node's shards: for an open proposal, or for a new one (a
    /// parameter from the next epoch, or a slashing).
    Vote(crate::governance::VoteArgs),
}

/// Runs a `walrus node` command.
pub fn run(command: NodeCommand, global: &GlobalArgs) -> Result<()> {
    let config = global.config.as_deref();
    match command {
        NodeCommand::Run => {
            let config = config.context("`walrus node run` needs --config D/node.yaml")?;
            let config = NodeConfig::load(config)?;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                let node = walrus_node::start(config).await?;
                let view = node.node.view();
                eprintln!(
                    "storage node {} on {}://{} (epoch {}, {} shards); Ctrl-C to stop",
                    node.node.config.name,
                    if node.node.config.plain_http { "http" } else { "https" },
                    node.addr,
                    view.epoch,
                    view.shards.len()
                );
                Ok(node.run_until(crate::chain::shutdown_signal()).await?)
            })
        }
        NodeCommand::Setup(args) => setup(args, global.json),
        NodeCommand::Register(args) => {
            let config = config.context("`walrus node register` needs --config D/node.yaml")?;
            register(args, config, global.json)
        }
    }
}

/// Creates the node's directory.
fn setup(args: SetupArgs, json: bool) -> Result<()> {
    let path = args.dir.join("node.yaml");
    if path.exists() {
        bail!("{} exists already", path.display());
    }
    std::fs::create_dir_all(&args.dir).with_context(|| format!("creating {}", args.dir.display()))?;
    if args.plain_http && !args.rest_listen.ip().is_loopback() {
        bail!("--plain-http is for a loopback --rest-listen only (other machines reach the node over HTTPS)");
    }
    let mut config = NodeConfig::new(args.name, "db".into(), args.rest_listen, args.chain_url);
    config.plain_http = args.plain_http;
    let (bls_seed, owner_seed) = (random_seed()?, random_seed()?);
    let bls = BlsKeyPair::from_seed(&bls_seed);
    write_secret(&args.dir.join(&config.bls_key), &bls.secret_bytes())?;
    write_secret(&args.dir.join(&config.owner_key), &owner_seed)?;
    let network = write_network_key(&args.dir.join(&config.network_key))?;
    config.save(&path)?;
    let operator = Ed25519KeyPair::from_seed(&owner_seed).address();
    let value = serde_json::json!({
        "config": path,
        "operator": operator.to_string(),
        "publicKey": bls.public().to_string(),
        "networkPublicKey": network.public().to_string(),
    });
    print(json, value, || {
        format!(
            "Node configuration in {}; operator account {operator}.\nFund it (`walrus wallet --wallet {} faucet` on a local network), then `walrus --config {} node register`.",
            path.display(),
            args.dir.join(&config.owner_key).display(),
            path.display()
        )
    });
    Ok(())
}

/// The node's keys and chain client, from its configuration.
struct Operator {
    config: NodeConfig,
    bls: BlsKeyPair,
    owner: Ed25519KeyPair,
    chain: ChainClient,
}

impl Operator {
    fn load(path: &Path) -> Result<Operator> {
        let config = NodeConfig::load(path)?;
        let bls = read_bls(&config.bls_key)?;
        let owner = read_ed25519(&config.owner_key)?;
        let chain = ChainClient::new(&config.chain_url);
        Ok(Operator { config, bls, owner, chain })
    }

    /// The node's ID on chain (its BLS key's record).
    async fn node_id(&self) -> Result<ObjectId> {
        let system = self.chain.system().await?.system;
        let found = system.nodes.iter().find(|(_, n)| n.public_key == *self.bls.public());
        found.map(|(id, _)| *id).context("this node is not registered; run `walrus node register`")
    }
}

/// Registers the node as a candidate.
fn register(args: RegisterArgs, config: &Path, json: bool) -> Result<()> {
    let operator = Operator::load(config)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let node_id = runtime.block_on(async {
        let system = operator.chain.system().await?.system;
        if system.nodes.values().any(|n| n.public_key == *operator.bls.public()) {
            bail!("this node is registered already");
        }
        let network = read_network_key(&operator.config.network_key)?;
        let scheme = if operator.config.plain_http { "http://" } else { "" };
        let registration = NodeRegistration {
            name: operator.config.name.clone(),
            public_key: *operator.bls.public(),
            proof_of_possession: proof_of_possession(&operator.bls, operator.owner.address(), system.epoch()),
            network_address: args
                .network_address
                .clone()
                .unwrap_or_else(|| format!("{scheme}{}", operator.config.rest_listen)),
            network_public_key: *network.public(),
            votes: Votes {
                storage_price: system.params.storage_price_per_unit,
                write_price: system.params.write_price_per_unit,
                node_capacity: args.capacity,
            },
            commission_rate: args.commission_bps,
        };
        operator.chain.execute(&operator.owner, Call::RegisterNode(registration)).await?;
        operator.node_id().await
    })?;
    print(json, serde_json::json!({ "nodeId": node_id }), || {
        format!(
            "Registered node {node_id}; it joins a committee once staked: `walrus stake --node-id {node_id}`"
        )
    });
    Ok(())
}

/// Runs a `walrus node-admin` command.
pub fn admin(args: AdminArgs, global: &GlobalArgs) -> Result<()> {
    let config = global.config.as_deref().context("`walrus node-admin` needs --config D/node.yaml")?;
    let operator = Operator::load(config)?;
    let json = global.json;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let node_id = operator.node_id().await?;
        let system = operator.chain.system().await?.system;
        let node = system.nodes.get(&node_id).context("node record")?.clone();
        let call = match args.command {
            AdminCommand::SetCommission { bps } => Call::SetCommissionRate { node_id, rate: bps },
            AdminCommand::SetVotes { storage_price, write_price, capacity } => {
                let mut votes = node.votes;
                votes.storage_price = storage_price.map_or(votes.storage_price, Frost);
                votes.write_price = write_price.map_or(votes.write_price, Frost);
                votes.node_capacity = capacity.unwrap_or(votes.node_capacity);
                Call::SetNodeVotes { node_id, votes }
            }
            AdminCommand::CollectCommission => Call::CollectNodeRewards { node_id },
            AdminCommand::SetInfo { name, network_address, network_key } => {
                let key = network_key.then(|| read_network_key(&operator.config.network_key)).transpose()?;
                let network_public_key = key.map(|k| *k.public());
                if name.is_none() && network_address.is_none() && network_public_key.is_none() {
                    bail!("nothing to change: give --name, --network-address or --network-key");
                }
                Call::SetNodeInfo { node_id, name, network_address, network_public_key }
            }
            AdminCommand::RotateNetworkKey => return rotate_network_key(&operator.config.network_key, json),
            AdminCommand::Vote(args) => crate::governance::vote_call(args, node_id)?,
            AdminCommand::Info => {
                let value = serde_json::json!({
                    "nodeId": node_id,
                    "name": node.name,
                    "networkAddress": node.network_address,
                    "networkPublicKey": node.network_public_key.to_string(),
                    "stakeFrost": node.pool.active_wal,
                    "commissionBps": node.commission_rate,
                    "commissionFrost": node.commission.0,
                    "commissionBlockedFrost": node.commission_blocked.0,
                    "storagePriceFrost": node.votes.storage_price.0,
                    "writePriceFrost": node.votes.write_price.0,
                    "capacity": node.votes.node_capacity,
                    "shards": system.committee.members.iter().find(|m| m.node_id == node_id).map_or(0, |m| m.shards.len()),
                    "challenge": node.challenge,
                });
                print(json, value, || {
                    format!(
                        "Node {node_id} ({}): {} staked, commission {} bps, {} to collect",
                        node.name,
                        wal(Frost(node.pool.active_wal)),
                        node.commission_rate,
                        wal(node.commission)
                    )
                });
                return Ok(());
            }
        };
        let executed = operator.chain.execute(&operator.owner, call.clone()).await?;
        print(json, serde_json::json!({ "digest": executed.effects.digest }), || format!("Done: {call:?}"));
        anyhow::Ok(())
    })
}

/// Replaces the network key file at `path` with a new key, keeping the old one as `path.old`.
fn rotate_network_key(path: &Path, json: bool) -> Result<()> {
    let old = read_network_key(path)?;
    let kept = path.with_extension("key.old");
    if kept.exists() {
        bail!("{} exists: move it away first (it is the key before the last rotation)", kept.display());
    }
    std::fs::rename(path, &kept).with_context(|| format!("cannot move {} aside", path.display()))?;
    let new = write_network_key(path)?;
    let value = serde_json::json!({
        "networkKeyFile": path,
        "oldKeyFile": kept,
        "oldNetworkPublicKey": old.public().to_string(),
        "networkPublicKey": new.public().to_string(),
    });
    print(json, value, || {
        format!(
            "New network key {} in {} (the old one, {}, is in {}). Restart the node: it registers \
             the new key on chain as it starts.",
            new.public(),
            path.display(),
            old.public(),
            kept.display()
        )
    });
    Ok(())
}
