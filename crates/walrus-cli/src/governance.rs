//! Governance from the command line (docs/challenges.md): `walrus governance proposals` and
//! `walrus governance show` for anyone, and `walrus node-admin vote …` for a committee member's
//! operator: a vote for an open proposal, or a new one (a parameter or a slashing), which counts
//! as the proposer's vote.

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use walrus_chain::governance::{ParameterChange, Proposal};
use walrus_chain::system::System;
use walrus_chain::{Call, Frost};
use walrus_chain_client::ChainClient;
use walrus_core::ObjectId;

use crate::wallet::{print, ChainArg};
use crate::GlobalArgs;

/// `walrus governance`
#[derive(Debug, clap::Subcommand)]
pub enum GovernanceCommand {
    /// The proposals open this epoch (they lapse at its end without a quorum) and the changes
    /// passed for the next.
    Proposals(ShowArgs),
    /// The governance parameters in force: challenges, penalties, stake-hop burn, epoch length,
    /// price bounds; and the current challenge round.
    Show(ShowArgs),
}

/// The chain to ask.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    #[command(flatten)]
    chain: ChainArg,
}

/// `walrus node-admin vote`: one of `--proposal`, `--set`, `--slash-commission`,
/// `--slash-stake`.
#[derive(Debug, clap::Args)]
#[group(skip)]
#[command(group(
    clap::ArgGroup::new("what")
        .required(true)
        .multiple(false)
        .args(["proposal", "set", "slash_commission", "slash_stake"])
))]
pub struct VoteArgs {
    /// Vote for the open proposal with this ID (`walrus governance proposals`).
    #[arg(long)]
    proposal: Option<u64>,
    /// Propose a parameter for the next epoch, `NAME=VALUE`: challenge-blobs=N,
    /// challenge-times=LEAD_MS,REVEAL_MS,RESPONSE_MS, reward-slope-bps=N, floor-bps=N,
    /// penalty-per-shard=FROST, eviction-streak=N, reveal-bond=FROST,
    /// stake-hop=BURN_BPS,EPOCHS, epoch-duration-ms=N, storage-price-bounds=MIN,MAX,
    /// write-price-bounds=MIN,MAX.
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_change)]
    set: Option<ParameterChange>,
    /// Propose burning this node's commission (the reference's slashing).
    #[arg(long, value_name = "NODE_ID")]
    slash_commission: Option<ObjectId>,
    /// Propose burning this node's commission and `--bps` of its pool's stake.
    #[arg(long, value_name = "NODE_ID", requires = "bps")]
    slash_stake: Option<ObjectId>,
    /// The share of the pool's stake `--slash-stake` burns, in basis points (at most 5 000).
    #[arg(long)]
    bps: Option<u16>,
}

/// The names `--set` takes.
const PARAMETER_NAMES: [&str; 11] = [
    "challenge-blobs",
    "challenge-times",
    "reward-slope-bps",
    "floor-bps",
    "penalty-per-shard",
    "eviction-streak",
    "reveal-bond",
    "stake-hop",
    "epoch-duration-ms",
    "storage-price-bounds",
    "write-price-bounds",
];

/// Parses `NAME=VALUE` of `--set`.
pub fn parse_change(text: &str) -> Result<ParameterChange, String> {
    let (name, value) = text.split_once('=').ok_or("expected NAME=VALUE")?;
    if !PARAMETER_NAMES.contains(&name) {
        return Err(format!("unknown parameter {name:?}: one of {}", PARAMETER_NAMES.join(", ")));
    }
    let numbers: Vec<u64> = value
        .split(',')
        .map(|v| v.trim().replace('_', "").parse::<u64>().map_err(|_| format!("{v:?} is not a number")))
        .collect::<Result<_, _>>()?;
    let want = |count: usize| {
        if numbers.len() == count {
            Ok(())
        } else {
            Err(format!("{name} takes {count} comma-separated number(s)"))
        }
    };
    let change = match name {
        "challenge-blobs" => {
            want(1).and_then(|()| narrow(name, numbers[0]).map(ParameterChange::ChallengeBlobs))?
        }
        "challenge-times" => want(3).map(|()| ParameterChange::ChallengeTimes {
            lead_ms: numbers[0],
            reveal_window_ms: numbers[1],
            response_window_ms: numbers[2],
        })?,
        "reward-slope-bps" => {
            want(1).and_then(|()| narrow(name, numbers[0]).map(ParameterChange::RewardSlopeBps))?
        }
        "floor-bps" => want(1).and_then(|()| narrow(name, numbers[0]).map(ParameterChange::FloorBps))?,
        "penalty-per-shard" => want(1).map(|()| ParameterChange::PenaltyPerShard(Frost(numbers[0])))?,
        "eviction-streak" => {
            want(1).and_then(|()| narrow(name, numbers[0]).map(ParameterChange::EvictionStreak))?
        }
        "reveal-bond" => want(1).map(|()| ParameterChange::RevealBond(Frost(numbers[0])))?,
        "stake-hop" => {
            want(2)?;
            ParameterChange::StakeHop {
                burn_bps: narrow(name, numbers[0])?,
                epochs: narrow(name, numbers[1])?,
            }
        }
        "epoch-duration-ms" => want(1).map(|()| ParameterChange::EpochDurationMs(numbers[0]))?,
        "storage-price-bounds" => want(2).map(|()| ParameterChange::StoragePriceBounds {
            min: Frost(numbers[0]),
            max: Frost(numbers[1]),
        })?,
        "write-price-bounds" => want(2)
            .map(|()| ParameterChange::WritePriceBounds { min: Frost(numbers[0]), max: Frost(numbers[1]) })?,
        other => return Err(format!("unknown parameter {other:?} (see --help)")),
    };
    change.check().map_err(|e| e.to_string())?;
    Ok(change)
}

/// `v` as a narrower integer, or why not.
fn narrow<T: TryFrom<u64>>(name: &str, v: u64) -> Result<T, String> {
    T::try_from(v).map_err(|_| format!("{v} is out of range for {name}"))
}

/// The call a `vote` makes for committee member `node_id`.
pub fn vote_call(args: VoteArgs, node_id: ObjectId) -> Result<Call> {
    let proposal = match (args.proposal, args.set, args.slash_commission, args.slash_stake) {
        (Some(proposal_id), ..) => return Ok(Call::Vote { node_id, proposal_id }),
        (_, Some(change), ..) => Proposal::SetParameter(change),
        (_, _, Some(target), _) => Proposal::SlashCommission { node_id: target },
        (_, _, _, Some(target)) => {
            Proposal::SlashStake { node_id: target, bps: args.bps.context("--slash-stake needs --bps")? }
        }
        _ => bail!("give --proposal, --set, --slash-commission or --slash-stake"),
    };
    Ok(Call::Propose { node_id, proposal })
}

/// Runs a `walrus governance` command.
pub fn run(command: GovernanceCommand, global: &GlobalArgs) -> Result<()> {
    let (GovernanceCommand::Proposals(args) | GovernanceCommand::Show(args)) = &command;
    let chain = ChainClient::new(&args.chain.resolve(global)?);
    let system = tokio::runtime::Runtime::new()?.block_on(chain.system())?.system;
    let (value, text) = match command {
        GovernanceCommand::Proposals(_) => proposals(&system),
        GovernanceCommand::Show(_) => show(&system),
    };
    print(global.json, value, || text);
    Ok(())
}

fn quorum(system: &System) -> u64 {
    let n = u64::from(system.params.n_shards);
    (2 * n + 1).div_ceil(3)
}

fn proposals(system: &System) -> (Value, String) {
    let quorum = quorum(system);
    let open: Vec<Value> = system
        .governance
        .open
        .iter()
        .map(|(id, p)| {
            json!({
                "id": id,
                "proposal": p.proposal,
                "proposer": p.proposer,
                "voters": p.voters,
                "weight": p.weight,
                "quorum": quorum,
                "passed": p.passed,
            })
        })
        .collect();
    let mut lines = vec![format!(
        "Epoch {}: {} open proposal(s); a quorum is {quorum} shards",
        system.epoch(),
        open.len()
    )];
    for (id, p) in &system.governance.open {
        let state = if p.passed { "passed" } else { "open" };
        lines.push(format!(
            "  #{id} {:?}: {} shards from {} node(s), {state}",
            p.proposal,
            p.weight,
            p.voters.len()
        ));
    }
    for change in &system.governance.scheduled {
        lines.push(format!("  from the next epoch: {change:?}"));
    }
    let value = json!({ "epoch": system.epoch(), "open": open, "scheduled": system.governance.scheduled });
    (value, lines.join("\n"))
}

fn show(system: &System) -> (Value, String) {
    let c = &system.params.challenge;
    let round = &system.round;
    let challenge = round.challenge.as_ref();
    let value = json!({
        "epoch": system.epoch(),
        "epochDurationMs": system.params.epoch_duration_ms,
        "challenge": c,
        "priceBounds": system.params.price_bounds,
        "round": {
            "commits": round.commits.len(),
            "reveals": round.reveals.len(),
            "started": challenge.is_some(),
            "insecure": challenge.map(|c| c.insecure),
            "drawnBlobs": challenge.map(|c| c.blobs.len()),
            "deadlineMs": challenge.map(|c| c.deadline_ms),
            "certified": challenge.map(|c| c.outcomes.len()),
        },
    });
    let text = format!(
        "Epoch {} ({} ms). Challenges: {} blobs, lead {} ms, reveal window {} ms, response window {} ms; \
         reward slope {} bps, floor {} bps, penalty {} FROST per shard, eviction after {} epochs; \
         reveal bond {} FROST; stake-hop burn {} bps within {} epochs.\n\
         This epoch's round: {} commitments, {} reveals, {}.",
        system.epoch(),
        system.params.epoch_duration_ms,
        c.blobs,
        c.lead_ms,
        c.reveal_window_ms,
        c.response_window_ms,
        c.reward_slope_bps,
        c.floor_bps,
        c.penalty_per_shard.0,
        c.eviction_streak,
        c.reveal_bond.0,
        c.stake_hop_burn_bps,
        c.stake_hop_epochs,
        round.commits.len(),
        round.reveals.len(),
        match challenge {
            None => "not started".to_string(),
            Some(c) => format!("{} blobs drawn, {} provers certified", c.blobs.len(), c.outcomes.len()),
        }
    );
    (value, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_parse_with_their_bounds() {
        assert_eq!(parse_change("challenge-blobs=16"), Ok(ParameterChange::ChallengeBlobs(16)));
        assert_eq!(parse_change("stake-hop=50,3"), Ok(ParameterChange::StakeHop { burn_bps: 50, epochs: 3 }));
        assert!(parse_change("floor-bps=10001").expect_err("as set up").contains("floor"));
        assert!(parse_change("challenge-blobs=70000").expect_err("as set up").contains("out of range"));
        assert!(parse_change("stake-hop=50").expect_err("as set up").contains("2 comma-separated"));
        assert!(parse_change("colour=blue").expect_err("as set up").contains("unknown parameter"));
        assert!(parse_change("floor-bps").is_err());
    }
}
