//! Delegated staking and committees chosen by stake: a candidate joins the committee with a
//! delegator's stake and leaves when it is withdrawn, rewards reach the delegator after the
//! commission, early and locked withdrawals, and random histories that keep WAL conserved and
//! every shard with exactly one owner within the cap.

use crate::common;

use std::collections::BTreeMap;

use common::*;
use walrus_chain::block::TxStatus;
use walrus_chain::committee::max_shards_per_node;
use walrus_chain::epoch::{NodeRegistration, Votes};
use walrus_chain::objects::ObjectBody;
use walrus_chain::staking::{StakedState, StakedWal};
use walrus_chain::*;
use walrus_core::keys::BlsKeyPair;
use walrus_core::messages::proof_of_possession;
use walrus_core::{Epoch, ObjectId, ShardIndex};

/// Registers a candidate operated by user 2 (5% commission); returns its node ID.
fn candidate(net: &mut Net, seed: u8) -> ObjectId {
    let bls = BlsKeyPair::from_seed(&[seed; 32]);
    let operator = net.users[2].address();
    let epoch = net.state.system.epoch();
    let registration = NodeRegistration {
        name: format!("candidate-{seed}"),
        public_key: *bls.public(),
        proof_of_possession: proof_of_possession(&bls, operator, epoch),
        network_address: format!("127.0.0.1:{}", 9100 + u16::from(seed)),
        network_public_key: common::network_key(seed),
        votes: Votes { storage_price: Frost(100_000), write_price: Frost(20_000), node_capacity: 1 << 40 },
        commission_rate: 500,
    };
    net.ok(2, Call::RegisterNode(registration));
    *net.state.system.nodes.iter().find(|(_, n)| n.public_key == *bls.public()).expect("registered").0
}

fn staked(net: &Net, id: ObjectId) -> StakedWal {
    match &net.state.object(&id).expect("a live object").body {
        ObjectBody::StakedWal(staked) => *staked,
        other => panic!("staked WAL expected, got {other:?}"),
    }
}

fn shards_of(net: &Net) -> BTreeMap<ObjectId, Vec<ShardIndex>> {
    net.state.system.committee.members.iter().map(|m| (m.node_id, m.shards.clone())).collect()
}

fn wal(amount: u64) -> Frost {
    Frost::from_wal(amount).expect("fits")
}

#[test]
fn stake_brings_a_candidate_in_and_its_withdrawal_takes_it_out() {
    let mut net = Net::new();
    // Paid storage for three epochs, so that epochs 1 and 2 have rewards.
    let blob = net.register(0, b"paid storage", false, 3);
    let certificate = net.confirmation(&[0, 1], blob);
    net.ok(0, Call::CertifyBlob { blob, certificate });
    let node = candidate(&mut net, 60);
    assert_eq!(
        failure(&net.run(0, Call::StakeWithPool { node_id: node, amount: Frost(999_999_999) })),
        "EStakeBelowThreshold"
    );
    let stake = net.ok(0, Call::StakeWithPool { node_id: node, amount: wal(500) }).created[0];
    assert_eq!(staked(&net, stake).activation_epoch, Epoch(1), "staked before mid-epoch: active next epoch");

    // Epoch 1, by D'Hondt over 500 (the candidate), 400, 300, 200 and 100 WAL with a cap of 4:
    // 4, 3, 2, 1 and 0 shards. Only the candidate's 4 shards move; the smallest node leaves.
    let before = shards_of(&net);
    net.next_epoch();
    let after = shards_of(&net);
    assert_eq!(after[&node].len(), 4);
    assert_eq!(after.len(), 4, "{after:?}");
    for (id, shards) in &after {
        if *id != node {
            assert!(shards.iter().all(|s| before[id].contains(s)), "a staying node keeps its shards");
        }
    }
    assert_eq!(net.state.system.nodes[&node].pool.active_wal, wal(500).0);

    // Withdrawn during epoch 1 (the next committee not selected yet): it leaves at epoch 2, after
    // earning epoch 1's rewards, and the candidate with no stake left leaves the committee.
    net.ok(0, Call::RequestWithdrawStake { staked_wal: stake });
    assert!(matches!(staked(&net, stake).state, StakedState::Withdrawing { withdraw_epoch: Epoch(2), .. }));
    assert_eq!(failure(&net.run(0, Call::WithdrawStake { staked_wal: stake })), "EWrongState");
    let caller = net.users[1].clone();
    let due = net.state.system.next_step_ms().expect("running");
    net.run_at(due, &caller, Call::VotingEnd);
    // Epoch 1's rewards: what it holds now and the fee of the call that ends it.
    let rewards = net.state.system.future[0].rewards.0 + 1_000;
    let due = net.state.system.next_step_ms().expect("running");
    net.run_at(due, &caller, Call::InitiateEpochChange);
    net.sync_all();
    assert!(!shards_of(&net).contains_key(&node), "no stake, no shards");
    let reward = (rewards - rewards * 3 / 100) * 4 / u64::from(N_SHARDS);
    let commission = reward * 500 / 10_000;
    assert_eq!(net.state.system.nodes[&node].commission_blocked.0, commission);
    let balance = net.state.account(&net.users[0].address()).balance;
    net.ok(0, Call::WithdrawStake { staked_wal: stake });
    let paid = net.state.account(&net.users[0].address()).balance.0 + 1_000 - balance.0;
    // It leaves one epoch after it activated: 1% of it is the stake-hop burn (docs/economics.md).
    let earned = wal(500).0 + reward - commission;
    assert_eq!(paid, earned - earned / 100, "principal and rewards after commission, less the hop burn");
    assert!(net.state.object(&stake).is_none());
}

#[test]
fn stake_not_yet_active_comes_back_early_unless_the_committee_counted_it() {
    let mut net = Net::new();
    let node = candidate(&mut net, 61);
    let user = net.users[1].address();
    let start = net.state.account(&user).balance;
    // Not counted by any selection yet: paid back at once.
    let early = net.ok(1, Call::StakeWithPool { node_id: node, amount: wal(10) }).created[0];
    net.ok(1, Call::WithdrawStake { staked_wal: early });
    assert_eq!(net.state.account(&user).balance.0, start.0 - 2_000);
    // Counted by the selection at mid-epoch: it can only leave at its activation epoch.
    let locked = net.ok(1, Call::StakeWithPool { node_id: node, amount: wal(10) }).created[0];
    let due = net.state.system.next_step_ms().expect("running");
    net.run_at(due, &net.users[0].clone(), Call::VotingEnd);
    assert_eq!(failure(&net.run(1, Call::WithdrawStake { staked_wal: locked })), "EWrongState");
    net.ok(1, Call::RequestWithdrawStake { staked_wal: locked });
    assert_eq!(
        staked(&net, locked).state,
        StakedState::Withdrawing { withdraw_epoch: Epoch(1), shares: None }
    );
    // Stake after mid-epoch activates the epoch after next.
    let late = net.ok(1, Call::StakeWithPool { node_id: node, amount: wal(10) }).created[0];
    assert_eq!(staked(&net, late).activation_epoch, Epoch(2));
    let due = net.state.system.next_step_ms().expect("running");
    net.run_at(due, &net.users[0].clone(), Call::InitiateEpochChange);
    net.ok(1, Call::WithdrawStake { staked_wal: locked });
    assert_eq!(net.state.system.nodes[&node].pool.pre_active_claimable, 0);
    // Split and join keep the principal.
    let half = net.ok(1, Call::SplitStakedWal { staked_wal: late, amount: wal(4) }).created[0];
    assert_eq!((staked(&net, late).principal, staked(&net, half).principal), (wal(6), wal(4)));
    assert_eq!(
        failure(&net.run(1, Call::SplitStakedWal { staked_wal: half, amount: Frost(1) })),
        "EStakeBelowThreshold"
    );
    net.ok(1, Call::JoinStakedWal { first: late, second: half });
    assert_eq!(staked(&net, late).principal, wal(10));
}

#[derive(Debug, Clone)]
enum Op {
    Stake { user: usize, node: usize, wal: u64 },
    RequestWithdraw { user: usize, stake: usize },
    Withdraw { user: usize, stake: usize },
    Split { user: usize, stake: usize },
    Epoch,
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        (0..3usize, 0..6usize, 1..400u64).prop_map(|(user, node, wal)| Op::Stake { user, node, wal }),
        (0..3usize, 0..16usize).prop_map(|(user, stake)| Op::RequestWithdraw { user, stake }),
        (0..3usize, 0..16usize).prop_map(|(user, stake)| Op::Withdraw { user, stake }),
        (0..3usize, 0..16usize).prop_map(|(user, stake)| Op::Split { user, stake }),
        Just(Op::Epoch),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

    /// WAL is conserved after every block (the harness checks it), every shard has exactly one
    /// owner within the cap, and a `StakedWal` is always paid out once its epoch has come.
    #[test]
    fn random_stake_moves_keep_the_invariants(ops in proptest::collection::vec(op(), 1..40)) {
        let mut net = Net::new();
        let blob = net.register(0, b"rewards", false, 50);
        let certificate = net.confirmation(&[0, 1], blob);
        net.ok(0, Call::CertifyBlob { blob, certificate });
        let mut nodes: Vec<ObjectId> = net.state.system.nodes.keys().copied().collect();
        nodes.push(candidate(&mut net, 62));
        nodes.push(candidate(&mut net, 63));
        let mut stakes: Vec<(usize, ObjectId)> = Vec::new();
        for op in ops {
            let pick = |i: usize, user: usize| {
                stakes.iter().filter(|(u, id)| *u == user && net.state.object(id).is_some()).nth(i % 4).map(|(_, id)| *id)
            };
            match op {
                Op::Stake { user, node, wal } => {
                    let call = Call::StakeWithPool { node_id: nodes[node], amount: Frost::from_wal(wal).expect("fits") };
                    let effects = net.run(user, call);
                    stakes.extend(effects.created.iter().map(|id| (user, *id)));
                }
                Op::RequestWithdraw { user, stake } => if let Some(id) = pick(stake, user) {
                    net.run(user, Call::RequestWithdrawStake { staked_wal: id });
                },
                Op::Withdraw { user, stake } => if let Some(id) = pick(stake, user) {
                    let state = staked(&net, id).state;
                    let effects = net.run(user, Call::WithdrawStake { staked_wal: id });
                    if let StakedState::Withdrawing { withdraw_epoch, .. } = state {
                        let due = withdraw_epoch <= net.state.system.epoch();
                        proptest::prop_assert_eq!(effects.status == TxStatus::Success, due, "{:?}", effects);
                    }
                },
                Op::Split { user, stake } => if let Some(id) = pick(stake, user) {
                    let effects = net.run(user, Call::SplitStakedWal { staked_wal: id, amount: Frost::from_wal(1).expect("fits") });
                    stakes.extend(effects.created.iter().map(|id| (user, *id)));
                },
                Op::Epoch => {
                    net.next_epoch();
                    let members = &net.state.system.committee.members;
                    let cap = max_shards_per_node(N_SHARDS, members.len());
                    let mut owners = [0u8; N_SHARDS as usize];
                    for member in members {
                        proptest::prop_assert!(member.weight() <= u64::from(cap) && member.weight() > 0);
                        for shard in &member.shards {
                            owners[usize::from(shard.0)] += 1;
                        }
                    }
                    proptest::prop_assert!(owners.iter().all(|o| *o == 1), "{:?}", members);
                }
            }
        }
    }
}
