//! `walrus stake`, `walrus request-withdraw-stake`, `walrus withdraw-stake` and
//! `walrus list-staked-wal`: delegated staking from the wallet (rules in docs/chain.md, Epochs).

use anyhow::{Context, Result};
use walrus_chain::staking::StakedState;
use walrus_chain_node::init::wal;
use walrus_core::ObjectId;
use walrus_sdk::Client;

use crate::wallet::{parse_wal, print, Account};
use crate::GlobalArgs;

/// `walrus stake`
#[derive(Debug, clap::Args)]
pub struct StakeArgs {
    /// The storage node (its node ID, as `walrus info committee` shows).
    #[arg(long, visible_alias = "node-ids")]
    node_id: ObjectId,
    /// WAL to stake (at least 1; up to 9 decimals).
    #[arg(long, visible_alias = "amounts", default_value = "1")]
    amount: String,
    #[command(flatten)]
    account: Account,
}

/// `walrus request-withdraw-stake`, `walrus withdraw-stake`
#[derive(Debug, clap::Args)]
pub struct StakedWalArgs {
    /// The `StakedWal` object (as `walrus list-staked-wal` shows).
    #[arg(long)]
    staked_wal_id: ObjectId,
    #[command(flatten)]
    account: Account,
}

/// `walrus list-staked-wal`
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    account: Account,
}

fn client(account: &Account, global: &GlobalArgs) -> Result<Client> {
    let network = account.resolve(global)?;
    Ok(Client::new(&network.chain_url, network.key()?))
}

/// Stakes WAL with a node's pool.
pub fn stake(args: StakeArgs, global: &GlobalArgs) -> Result<()> {
    let amount = parse_wal(&args.amount)?;
    let client = client(&args.account, global)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let id = runtime.block_on(client.stake(args.node_id, amount)).context("staking")?;
    let value = serde_json::json!({ "stakedWal": id, "nodeId": args.node_id, "amountFrost": amount.0 });
    print(global.json, value, || {
        format!("Staked {} with node {}: StakedWal {id}", wal(amount), args.node_id)
    });
    Ok(())
}

/// Asks to withdraw a `StakedWal`.
pub fn request_withdraw(args: StakedWalArgs, global: &GlobalArgs) -> Result<()> {
    let client = client(&args.account, global)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let id = args.staked_wal_id;
    let listed = runtime.block_on(async {
        client.request_withdraw_stake(id).await?;
        client.staked_wal().await
    })?;
    // Stake that was not earning is paid out at once: its object is gone.
    let state = listed.iter().find(|(listed, _)| *listed == id).map(|(_, s)| s.state);
    let (value, text) = match state {
        Some(StakedState::Withdrawing { withdraw_epoch, .. }) => (
            serde_json::json!({ "stakedWal": id, "withdrawEpoch": withdraw_epoch.0 }),
            format!("Withdrawal of {id} requested: withdraw it from epoch {withdraw_epoch}"),
        ),
        _ => {
            (serde_json::json!({ "stakedWal": id, "withdrawn": true }), format!("{id} was paid out at once"))
        }
    };
    print(global.json, value, || text);
    Ok(())
}

/// Claims a `StakedWal` whose withdrawal epoch has come.
pub fn withdraw(args: StakedWalArgs, global: &GlobalArgs) -> Result<()> {
    let client = client(&args.account, global)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let id = args.staked_wal_id;
    runtime.block_on(client.withdraw_stake(id)).with_context(|| format!("withdrawing {id}"))?;
    print(global.json, serde_json::json!({ "stakedWal": id, "withdrawn": true }), || {
        format!("Withdrew {id}")
    });
    Ok(())
}

/// Lists the wallet's `StakedWal` objects.
pub fn list(args: ListArgs, global: &GlobalArgs) -> Result<()> {
    let client = client(&args.account, global)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let staked = runtime.block_on(client.staked_wal())?;
    let rows: Vec<serde_json::Value> = staked
        .iter()
        .map(|(id, s)| {
            let (state, withdraw_epoch) = match s.state {
                StakedState::Staked => ("staked", None),
                StakedState::Withdrawing { withdraw_epoch, .. } => ("withdrawing", Some(withdraw_epoch.0)),
            };
            serde_json::json!({
                "id": id,
                "nodeId": s.node_id,
                "principalFrost": s.principal.0,
                "activationEpoch": s.activation_epoch.0,
                "state": state,
                "withdrawEpoch": withdraw_epoch,
            })
        })
        .collect();
    let text = || {
        let mut out = String::from("StakedWal, node, principal, active from, state");
        for ((id, s), row) in staked.iter().zip(&rows) {
            out.push_str(&format!(
                "\n{id} {} {} {} {}",
                s.node_id,
                wal(s.principal),
                s.activation_epoch,
                row["state"].as_str().unwrap_or("?")
            ));
        }
        out
    };
    print(global.json, serde_json::Value::Array(rows.clone()), text);
    Ok(())
}
