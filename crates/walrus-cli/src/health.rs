//! `walrus health`: storage nodes' own reports (`/v1/health`), as the reference's: the committee,
//! the active set (every registered node), or nodes by ID or URL; `--detail` for each shard's
//! status; sorted; many nodes at once.

use std::time::Duration;

use anyhow::Result;
use serde_json::{json, Value};
use walrus_chain_client::ChainClient;
use walrus_core::keys::NetworkPublicKey;
use walrus_core::ObjectId;

use crate::wallet::{print, ChainArg};
use crate::GlobalArgs;

/// How long a node may take to answer.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

/// `walrus health`
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("nodes").multiple(false)))]
pub struct HealthArgs {
    /// These nodes, by node ID.
    #[arg(long = "node-ids", alias = "node-id", num_args = 1.., group = "nodes")]
    node_ids: Vec<ObjectId>,
    /// These nodes, by network address (`host:port`, or a URL), among the active set.
    #[arg(long = "node-urls", alias = "node-url", num_args = 1.., group = "nodes")]
    node_urls: Vec<String>,
    /// The current committee (the default).
    #[arg(long, group = "nodes")]
    committee: bool,
    /// Every registered node: the committee and the candidates.
    #[arg(long, group = "nodes")]
    active_set: bool,
    /// Each shard's status too.
    #[arg(long)]
    detail: bool,
    /// Order by status, node ID, name or URL.
    #[arg(long, value_enum, default_value = "status")]
    sort_by: SortBy,
    /// In descending order.
    #[arg(long)]
    desc: bool,
    /// Nodes asked at once.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u16).range(1..))]
    concurrent_requests: u16,
    #[command(flatten)]
    chain: ChainArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SortBy {
    Status,
    Id,
    Name,
    Url,
}

/// A node to ask.
struct Target {
    node_id: ObjectId,
    name: String,
    address: String,
    key: NetworkPublicKey,
}

/// Asks the chosen nodes for their health.
pub fn health(args: HealthArgs, global: &GlobalArgs) -> Result<()> {
    let chain_url = args.chain.resolve(global)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let mut reports = runtime.block_on(async {
        let targets = targets(&args, &ChainClient::new(&chain_url)).await?;
        anyhow::Ok(ask(targets, args.detail, usize::from(args.concurrent_requests)).await)
    })?;
    let key = |r: &Value, field: &str| r[field].as_str().unwrap_or_default().to_string();
    reports.sort_by_key(|r| match args.sort_by {
        // Unreachable nodes last, then by name.
        SortBy::Status => (r["healthInfo"].get("Err").is_some().to_string(), key(r, "nodeName")),
        SortBy::Id => (key(r, "nodeId"), String::new()),
        SortBy::Name => (key(r, "nodeName"), String::new()),
        SortBy::Url => (key(r, "nodeUrl"), String::new()),
    });
    if args.desc {
        reports.reverse();
    }
    let text = || {
        let lines = reports.iter().map(|r| {
            let who = format!("{} ({})", key(r, "nodeName"), key(r, "nodeUrl"));
            match (&r["healthInfo"]["Ok"], r["healthInfo"]["Err"].as_str()) {
                (_, Some(e)) => format!("{who}: UNREACHABLE ({e})"),
                (ok, None) => format!(
                    "{who}: {} in epoch {}, {} shards owned, up {} s{}",
                    ok["nodeStatus"].as_str().unwrap_or("?"),
                    ok["epoch"],
                    ok["shardSummary"]["owned"],
                    ok["uptime"],
                    challenge_line(&ok["challenge"])
                ),
            }
        });
        lines.collect::<Vec<_>>().join("\n")
    };
    print(global.json, json!({ "healthInfo": reports, "latestSeq": Value::Null }), text);
    Ok(())
}

/// `--detail`'s storage-challenge line: the phase and the last settlement (empty without).
fn challenge_line(challenge: &Value) -> String {
    if challenge.is_null() {
        return String::new();
    }
    let phase = challenge["phase"].as_str().unwrap_or("?");
    let settled = &challenge["lastSettled"];
    if settled.is_null() {
        return format!("\n  storage challenge: {phase}, none settled yet");
    }
    format!(
        "\n  storage challenge: {phase}; epoch {} passed {} of {} items, kept {}% of its reward, penalty {} FROST",
        settled["epoch"],
        settled["passed"],
        settled["items"],
        settled["rewardBps"].as_u64().unwrap_or(0) as f64 / 100.0,
        settled["penaltyFrost"]
    )
}

/// The nodes the flags choose, from the chain.
async fn targets(args: &HealthArgs, chain: &ChainClient) -> Result<Vec<Target>> {
    let system = chain.system().await?.system;
    let name = |id: &ObjectId| system.nodes.get(id).map(|n| n.name.clone()).unwrap_or_default();
    let committee = || {
        system.committee.members.iter().map(|m| Target {
            node_id: m.node_id,
            name: name(&m.node_id),
            address: m.network_address.clone(),
            key: m.network_public_key,
        })
    };
    let registered = || {
        system.nodes.iter().map(|(id, n)| Target {
            node_id: *id,
            name: n.name.clone(),
            address: n.network_address.clone(),
            key: n.network_public_key,
        })
    };
    if !args.node_ids.is_empty() {
        let mut found = Vec::new();
        for id in &args.node_ids {
            let target = registered().find(|t| t.node_id == *id);
            found.push(target.ok_or_else(|| anyhow::anyhow!("no registered node {id}"))?);
        }
        return Ok(found);
    }
    if !args.node_urls.is_empty() {
        let mut found = Vec::new();
        for url in &args.node_urls {
            let address =
                url.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/');
            let target = registered().find(|t| t.address == address).ok_or_else(|| {
                anyhow::anyhow!("node URL {url} not found in the active set; try to query it by node ID")
            })?;
            found.push(target);
        }
        return Ok(found);
    }
    Ok(if args.active_set { registered().collect() } else { committee().collect() })
}

/// Asks `targets`, `concurrency` at a time; one report each, in their order.
async fn ask(targets: Vec<Target>, detail: bool, concurrency: usize) -> Vec<Value> {
    let connector = walrus_node_client::NodeConnector::new();
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, target) in targets.into_iter().enumerate() {
        let node = connector.node(&target.address, &target.key).with_timeout(HEALTH_TIMEOUT);
        let limit = std::sync::Arc::clone(&limit);
        tasks.spawn(async move {
            let _turn = limit.acquire_owned().await;
            let health = match node.health_of(detail).await {
                Ok(report) => json!({ "Ok": report }),
                Err(e) => json!({ "Err": format!("failed to get the node's health: {e}") }),
            };
            let report = json!({
                "nodeId": target.node_id,
                "nodeUrl": node.base(),
                "nodeName": target.name,
                "networkPublicKey": target.key.to_string(),
                "healthInfo": health,
            });
            (index, report)
        });
    }
    let mut reports: Vec<(usize, Value)> = Vec::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok(report) = done {
            reports.push(report);
        }
    }
    reports.sort_by_key(|(index, _)| *index);
    reports.into_iter().map(|(_, report)| report).collect()
}
