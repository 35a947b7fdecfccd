//! `walrus info` and its parts, as the reference's: `epoch`, `storage`, `size`, `price`, `bft`,
//! `committee` and `all`; without one, the first four. The JSON has the reference's fields
//! (camelCase), plus a few of ours (the epoch's state, capacity, stake).

use anyhow::Result;
use serde_json::{json, Value};
use walrus_chain::epoch::EpochState;
use walrus_chain::system::Member;
use walrus_chain_client::wire::SystemView;
use walrus_chain_client::ChainClient;
use walrus_chain_node::init::wal;
use walrus_core::params::max_n_faulty;
use walrus_core::{EncodingParams, SliverType};

use crate::wallet::{print, ChainArg};
use crate::GlobalArgs;

/// The storage unit prices are quoted in (1 MiB, as the reference).
const UNIT_BYTES: u64 = 1 << 20;

/// `walrus info [epoch | storage | size | price | bft | committee | all]`
#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    #[command(subcommand)]
    what: Option<InfoCommand>,
    #[command(flatten)]
    chain: ChainArg,
}

/// How `committee` and `all` order the storage nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SortBy {
    Id,
    Name,
    Url,
}

/// The ordering flags of `committee` and `all`.
#[derive(Debug, Clone, Copy, clap::Args)]
struct Sorting {
    /// Order the storage nodes by node ID, name or network address.
    #[arg(long, value_enum, default_value = "name")]
    sort_by: SortBy,
    /// In descending order.
    #[arg(long)]
    desc: bool,
}

/// What `walrus info` shows.
#[derive(Debug, clap::Subcommand)]
enum InfoCommand {
    /// Everything: the four parts, the committee and the BFT figures.
    All(Sorting),
    /// The epoch, its start and length, where it is in its cycle, and the longest storage.
    Epoch,
    /// Shards, storage nodes and capacity.
    Storage,
    /// The storage unit and the largest blob.
    Size,
    /// Prices: per unit and epoch, to write, and for example blobs.
    Price,
    /// The fault tolerance: `f`, the quorum, and how few nodes hold more than `f` shards.
    Bft,
    /// Each committee member: name, addresses, keys, shards, stake; the next committee once chosen.
    Committee(Sorting),
}

/// Prints the system's state, or one part of it.
pub fn info(args: InfoArgs, global: &GlobalArgs) -> Result<()> {
    let chain_url = args.chain.resolve(global)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let view = runtime.block_on(ChainClient::new(&chain_url).system())?;
    let params = EncodingParams::new(u64::from(view.system.params.n_shards))?;
    let parts: Vec<(&str, Value)> = match args.what {
        None => vec![
            ("epochInfo", epoch(&view)),
            ("storageInfo", storage(&view)),
            ("sizeInfo", size(params)),
            ("priceInfo", price(&view, params)),
        ],
        Some(InfoCommand::All(sorting)) => vec![
            ("epochInfo", epoch(&view)),
            ("storageInfo", storage(&view)),
            ("sizeInfo", size(params)),
            ("priceInfo", price(&view, params)),
            ("committeeInfo", committee(&view, params, sorting)),
            ("bftInfo", bft(&view)),
        ],
        Some(InfoCommand::Epoch) => vec![("", epoch(&view))],
        Some(InfoCommand::Storage) => vec![("", storage(&view))],
        Some(InfoCommand::Size) => vec![("", size(params))],
        Some(InfoCommand::Price) => vec![("", price(&view, params))],
        Some(InfoCommand::Bft) => vec![("", bft(&view))],
        Some(InfoCommand::Committee(sorting)) => vec![("", committee(&view, params, sorting))],
    };
    let value = match parts.as_slice() {
        [("", part)] => part.clone(),
        _ => Value::Object(parts.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect()),
    };
    print(global.json, value, || parts.iter().map(|(_, part)| text(part)).collect::<Vec<_>>().join("\n\n"));
    Ok(())
}

fn epoch(view: &SystemView) -> Value {
    let system = &view.system;
    let (state, start) = match system.epoch_state {
        EpochState::ChangeSync { .. } => ("EpochChangeSync", None),
        EpochState::ChangeDone { since_ms } => ("EpochChangeDone", Some(since_ms)),
        EpochState::NextParamsSelected { since_ms } => ("NextParamsSelected", Some(since_ms)),
    };
    let start = match start {
        Some(ms) => json!({ "DateTime": crate::epochs::rfc3339(ms) }),
        None => json!({ "Message": "the epoch change is in progress" }),
    };
    let duration = system.params.epoch_duration_ms;
    json!({
        "currentEpoch": system.epoch().0,
        "startOfCurrentEpoch": start,
        "epochDuration": { "secs": duration / 1000, "nanos": (duration % 1000) * 1_000_000 },
        "maxEpochsAhead": system.params.max_epochs_ahead,
        "epoch": system.epoch().0,
        "state": state,
        "epochDurationMs": duration,
        "nextStepMs": view.next_epoch_step_ms,
        "blockTimeMs": view.timestamp_ms,
        "height": view.height,
    })
}

fn storage(view: &SystemView) -> Value {
    let system = &view.system;
    json!({
        "nShards": system.params.n_shards,
        "nNodes": system.committee.members.len(),
        "totalCapacity": system.params.total_capacity,
        "usedCapacity": system.used_capacity(),
    })
}

fn size(params: EncodingParams) -> Value {
    json!({ "storageUnitSize": UNIT_BYTES, "maxBlobSize": params.max_blob_size() })
}

/// Prices in FROST: per storage unit and epoch, to write, and what example blobs cost for one
/// epoch (storage and write fee, as a store from scratch pays).
fn price(view: &SystemView, params: EncodingParams) -> Value {
    let p = &view.system.params;
    let units = |bytes: u64| walrus_chain::amount::storage_units(bytes);
    let metadata_units = units(params.metadata_length());
    let examples: Vec<Value> = [16 << 20, 512 << 20, params.max_blob_size()]
        .into_iter()
        .filter_map(|size| {
            let encoded = params.encoded_blob_length(size).ok()?;
            Some(json!({
                "unencodedSize": size,
                "encodedSize": encoded,
                "price": p.register_from_scratch_cost(encoded, 1),
                "encodingType": "RS2",
            }))
        })
        .collect();
    let marginal = params.encoded_blob_length(UNIT_BYTES).map_or(0, units);
    json!({
        "storagePricePerUnitSize": p.storage_price_per_unit.0,
        "writePricePerUnitSize": p.write_price_per_unit.0,
        "encodingDependentPriceInfo": [{
            "marginalSize": UNIT_BYTES,
            "metadataPrice": p.storage_price_per_unit.0.saturating_mul(metadata_units),
            "marginalPrice": p.storage_price_per_unit.0.saturating_mul(marginal.saturating_sub(metadata_units)),
            "exampleBlobs": examples,
            "encodingType": "RS2",
        }],
    })
}

fn bft(view: &SystemView) -> Value {
    let committee = &view.system.committee;
    let n = usize::from(view.system.params.n_shards);
    let f = max_n_faulty(n);
    let mut shards: Vec<usize> = committee.members.iter().map(|m| m.shards.len()).collect();
    shards.sort_unstable_by(|a, b| b.cmp(a));
    let (mut nodes, mut above) = (0, 0);
    for count in shards {
        if above > f {
            break;
        }
        (nodes, above) = (nodes + 1, above + count);
    }
    json!({
        "maxFaultyShards": f,
        "minCorrectShards": n - f,
        "quorumThreshold": 2 * f + 1,
        "minNodesAbove": nodes,
        "shardsAbove": above,
    })
}

fn committee(view: &SystemView, params: EncodingParams, sorting: Sorting) -> Value {
    let system = &view.system;
    let nodes = |members: &[Member]| -> Vec<Value> {
        let mut members: Vec<&Member> = members.iter().collect();
        let name = |m: &Member| system.nodes.get(&m.node_id).map(|n| n.name.clone()).unwrap_or_default();
        match sorting.sort_by {
            SortBy::Id => members.sort_by_key(|m| m.node_id),
            SortBy::Name => members.sort_by_key(|m| name(m)),
            SortBy::Url => members.sort_by_key(|m| m.network_address.clone()),
        }
        if sorting.desc {
            members.reverse();
        }
        members
            .into_iter()
            .map(|m| {
                let record = system.nodes.get(&m.node_id);
                json!({
                    "name": name(m),
                    "networkAddress": m.network_address,
                    "publicKey": m.public_key.to_string(),
                    "networkPublicKey": m.network_public_key.to_string(),
                    "nShards": m.shards.len(),
                    "shardIds": m.shards.iter().map(|s| s.0).collect::<Vec<_>>(),
                    "nodeId": m.node_id,
                    "stake": record.map(|r| r.pool.active_wal),
                    "commissionBps": record.map(|r| r.commission_rate),
                })
            })
            .collect()
    };
    let max = params.max_blob_size();
    let max_sliver = [SliverType::Primary, SliverType::Secondary]
        .into_iter()
        .filter_map(|axis| params.sliver_size(axis, max).ok())
        .max();
    json!({
        "epoch": system.epoch().0,
        "nShards": system.params.n_shards,
        "nPrimarySourceSymbols": params.primary_source_symbols(),
        "nSecondarySourceSymbols": params.secondary_source_symbols(),
        "maxSliverSize": max_sliver,
        "metadataStorageSize": params.metadata_length(),
        "maxEncodedBlobSize": params.encoded_blob_length(max).ok(),
        "storageNodes": nodes(&system.committee.members),
        "nextStorageNodes": system.next_committee.as_ref().map(|next| nodes(&next.members)),
    })
}

/// A part as text: its fields, one per line (nested ones indented), FROST also in WAL.
fn text(part: &Value) -> String {
    fn lines(value: &Value, indent: usize, out: &mut Vec<String>) {
        let pad = "  ".repeat(indent);
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match value {
                        Value::Object(_) | Value::Array(_) => {
                            out.push(format!("{pad}{key}:"));
                            lines(value, indent + 1, out);
                        }
                        Value::Number(n) if key.contains("rice") || key == "stake" => {
                            let frost = n.as_u64().unwrap_or(0);
                            out.push(format!(
                                "{pad}{key}: {frost} FROST ({})",
                                wal(walrus_chain::Frost(frost))
                            ));
                        }
                        _ => out.push(format!("{pad}{key}: {value}")),
                    }
                }
            }
            Value::Array(items) if items.iter().all(|i| !i.is_object()) => {
                out.push(format!(
                    "{pad}{}",
                    items.iter().map(Value::to_string).collect::<Vec<_>>().join(", ")
                ));
            }
            Value::Array(items) => {
                for item in items {
                    lines(item, indent, out);
                    out.push(String::new());
                }
                out.pop();
            }
            other => out.push(format!("{pad}{other}")),
        }
    }
    let mut out = Vec::new();
    lines(part, 0, &mut out);
    out.join("\n")
}
