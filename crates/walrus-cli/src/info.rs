//! `walrus info` (the system: epoch, shards, nodes, limits, prices) and `walrus health` (every
//! committee member's `/v1/health`).

use std::time::Duration;

use anyhow::Result;
use walrus_chain::epoch::EpochState;
use walrus_chain_client::wire::SystemView;
use walrus_chain_client::ChainClient;
use walrus_chain_node::init::wal;
use walrus_core::EncodingParams;

use crate::wallet::{print, Account};
use crate::GlobalArgs;

/// The storage unit prices are quoted in (1 MiB, as the reference).
const UNIT_BYTES: u64 = 1 << 20;
/// How long a node may take to answer `health`.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

/// `walrus health`.
#[derive(Debug, clap::Args)]
pub struct ChainArgs {
    #[command(flatten)]
    account: Account,
}

/// `walrus info [all | epoch | committee]`
#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    #[command(subcommand)]
    what: Option<InfoCommand>,
    #[command(flatten)]
    account: Account,
}

/// What `walrus info` shows.
#[derive(Debug, clap::Subcommand)]
enum InfoCommand {
    /// The system: epoch, shards, nodes, limits, prices (the default).
    All,
    /// The epoch, where it is in its cycle, and when the next step is due.
    Epoch,
    /// Each committee member: node ID, name, stake, shards, commission, address.
    Committee,
}

/// Prints the system's state, or one part of it.
pub fn info(args: InfoArgs, global: &GlobalArgs) -> Result<()> {
    let json = global.json;
    let network = args.account.resolve(global)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let view = runtime.block_on(ChainClient::new(&network.chain_url).system())?;
    match args.what.unwrap_or(InfoCommand::All) {
        InfoCommand::All => all(&view, json),
        InfoCommand::Epoch => {
            epoch(&view, json);
            Ok(())
        }
        InfoCommand::Committee => {
            committee(&view, json);
            Ok(())
        }
    }
}

/// `walrus info epoch`.
fn epoch(view: &SystemView, json: bool) {
    let system = &view.system;
    let state = match system.epoch_state {
        EpochState::ChangeSync { .. } => "EpochChangeSync",
        EpochState::ChangeDone { .. } => "EpochChangeDone",
        EpochState::NextParamsSelected { .. } => "NextParamsSelected",
    };
    let value = serde_json::json!({
        "epoch": system.epoch().0,
        "state": state,
        "epochDurationMs": system.params.epoch_duration_ms,
        "nextStepMs": view.next_epoch_step_ms,
        "blockTimeMs": view.timestamp_ms,
    });
    print(json, value, || {
        let next = match view.next_epoch_step_ms {
            Some(due) => format!("next step in {} s", due.saturating_sub(view.timestamp_ms) / 1000),
            None => "waiting for the committee to report its shards".into(),
        };
        format!("Epoch {} ({state}); {next}", system.epoch())
    });
}

/// `walrus info committee`.
fn committee(view: &SystemView, json: bool) {
    let system = &view.system;
    let members: Vec<serde_json::Value> = system
        .committee
        .members
        .iter()
        .map(|m| {
            let node = system.nodes.get(&m.node_id);
            serde_json::json!({
                "nodeId": m.node_id,
                "name": node.map(|n| n.name.clone()),
                "stakeFrost": node.map(|n| n.pool.active_wal),
                "shards": m.shards.len(),
                "commissionBps": node.map(|n| n.commission_rate),
                "networkAddress": m.network_address,
                "publicKey": m.public_key.to_string(),
            })
        })
        .collect();
    let value = serde_json::json!({ "epoch": system.epoch().0, "members": members });
    print(json, value.clone(), || {
        let mut out = format!("Committee of epoch {}", system.epoch());
        for m in &members {
            out.push_str(&format!(
                "\n{}  {:<16} {:>6} shards  {:>20} stake  {:>5} bps  {}",
                m["nodeId"].as_str().unwrap_or("?"),
                m["name"].as_str().unwrap_or("?"),
                m["shards"],
                m["stakeFrost"].as_u64().map(|f| wal(walrus_chain::Frost(f))).unwrap_or_default(),
                m["commissionBps"],
                m["networkAddress"].as_str().unwrap_or("?"),
            ));
        }
        out
    });
}

/// `walrus info all`.
fn all(view: &SystemView, json: bool) -> Result<()> {
    let system = &view.system;
    let p = &system.params;
    let params = EncodingParams::new(u64::from(p.n_shards))?;
    let value = serde_json::json!({
        "epoch": system.epoch().0,
        "epochDurationMs": p.epoch_duration_ms,
        "maxEpochsAhead": p.max_epochs_ahead,
        "nShards": p.n_shards,
        "nNodes": system.committee.members.len(),
        "maxBlobSize": params.max_blob_size(),
        "storageUnitSize": UNIT_BYTES,
        "storagePricePerUnitFrost": p.storage_price_per_unit.0,
        "writePricePerUnitFrost": p.write_price_per_unit.0,
        "totalCapacity": p.total_capacity,
        "usedCapacity": system.used_capacity(),
        "height": view.height,
    });
    print(json, value, || {
        let mut out = String::new();
        out.push_str(&format!(
            "Epoch {} ({} ms long), block height {}\n",
            system.epoch(),
            p.epoch_duration_ms,
            view.height
        ));
        out.push_str(&format!("{} shards on {} storage nodes\n", p.n_shards, system.committee.members.len()));
        out.push_str(&format!(
            "Maximum blob size: {} B; up to {} epochs ahead\n",
            params.max_blob_size(),
            p.max_epochs_ahead
        ));
        out.push_str(&format!(
            "Price per MiB of encoded size: {} per epoch, {} to write\n",
            wal(p.storage_price_per_unit),
            wal(p.write_price_per_unit)
        ));
        out.push_str(&format!(
            "Capacity: {} of {} B used this epoch",
            system.used_capacity(),
            p.total_capacity
        ));
        out
    });
    Ok(())
}

/// Asks every committee member for its health.
pub fn health(args: ChainArgs, global: &GlobalArgs) -> Result<()> {
    let json = global.json;
    let network = args.account.resolve(global)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let reports = runtime.block_on(async {
        let committee = ChainClient::new(&network.chain_url).committee().await?;
        let nodes = walrus_node_client::NodeConnector::new();
        let mut reports = Vec::new();
        for member in &committee.members {
            let node =
                nodes.node(&member.network_address, &member.network_public_key).with_timeout(HEALTH_TIMEOUT);
            let (health, error) = match node.health().await {
                Ok(health) => (health, None),
                Err(e) => (serde_json::Value::Null, Some(e.to_string())),
            };
            reports.push(serde_json::json!({
                "nodeUrl": node.base(),
                "publicKey": member.public_key.to_string(),
                "shards": member.shards.len(),
                "healthInfo": health,
                "error": error,
            }));
        }
        anyhow::Ok(reports)
    })?;
    let text = || {
        reports
            .iter()
            .map(|r| match r["error"].as_str() {
                Some(e) => format!("{}: UNREACHABLE ({e})", r["nodeUrl"].as_str().unwrap_or("?")),
                None => format!(
                    "{}: {} in epoch {}, {} shards, up {} s",
                    r["nodeUrl"].as_str().unwrap_or("?"),
                    r["healthInfo"]["nodeStatus"].as_str().unwrap_or("?"),
                    r["healthInfo"]["epoch"],
                    r["shards"],
                    r["healthInfo"]["uptime"]
                ),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    print(json, serde_json::json!({ "healthInfo": reports }), text);
    Ok(())
}
