//! Storage challenges, their settlement, and governance on the scenario network (`common`):
//! the validators' commit-reveal seed, the draw, certificates, the graded rewards, the burns,
//! the floor's penalty and eviction, the pause of blob removals while the draw is pending, the
//! stake-hop burn, and parameter and slashing votes with and without a quorum. WAL
//! conservation is checked after every block.

use walrus_chain::block::TxStatus;
use walrus_chain::challenge::{schedule, BPS};
use walrus_chain::governance::{ParameterChange, Proposal};
use walrus_chain::*;
use walrus_core::challenge::{reveal_commitment, set_bit, ChallengeResult};
use walrus_core::keys::Ed25519KeyPair;
use walrus_core::messages::ProtocolMessage;
use walrus_core::ObjectId;

use crate::common::{self, failure, Net};

/// The scenario network with three funded validators.
pub(crate) fn net_with_validators() -> (Net, Vec<Ed25519KeyPair>) {
    net_with_validators_and(|_| {})
}

/// The same, with `edit` applied to the genesis first.
pub(crate) fn net_with_validators_and(edit: impl Fn(&mut Genesis)) -> (Net, Vec<Ed25519KeyPair>) {
    let nodes: Vec<_> = (0..4u8).map(|i| walrus_core::keys::BlsKeyPair::from_seed(&[i + 1; 32])).collect();
    let users: Vec<Ed25519KeyPair> = (0..3u8).map(|i| Ed25519KeyPair::from_seed(&[i + 100; 32])).collect();
    let validators: Vec<Ed25519KeyPair> =
        (0..3u8).map(|i| Ed25519KeyPair::from_seed(&[i + 50; 32])).collect();
    let mut genesis = common::genesis(&nodes, &users);
    genesis.validators = validators
        .iter()
        .enumerate()
        .map(|(i, v)| GenesisValidator {
            public_key: v.public(),
            p2p_address: format!("127.0.0.1:{}", 7000 + i),
        })
        .collect();
    genesis
        .allocations
        .extend(validators.iter().map(|v| (v.address(), Frost::from_wal(10).expect("as set up"))));
    edit(&mut genesis);
    let state = genesis.build().expect("valid genesis");
    (Net { state, nodes, users, blocks: Vec::new() }, validators)
}

pub(crate) fn secret(i: usize, epoch: u32) -> [u8; 32] {
    let mut s = [i as u8; 32];
    s[31] = epoch as u8;
    s
}

/// Stores `count` small certified blobs (user 0), then moves to the next epoch so that they are
/// challengeable.
fn store_blobs(net: &mut Net, count: usize) -> Vec<ObjectId> {
    let ids: Vec<ObjectId> = (0..count)
        .map(|i| {
            let data = vec![i as u8; 100 + i];
            let blob = net.register(0, &data, true, 5);
            let certificate = net.confirmation(&[0, 1, 2, 3], blob);
            net.ok(0, Call::CertifyBlob { blob, certificate });
            blob
        })
        .collect();
    net.next_epoch();
    ids
}

/// Commits for every validator, reveals for those in `reveal`, starts the challenge.
fn run_round(net: &mut Net, validators: &[Ed25519KeyPair], reveal: &[usize]) -> Vec<Event> {
    let epoch = net.state.system.epoch();
    for (i, v) in validators.iter().enumerate() {
        let call = Call::ChallengeCommit { epoch, commitment: reveal_commitment(&secret(i, epoch.0)) };
        assert_eq!(net.run_as(v, call).status, TxStatus::Success);
    }
    let times = schedule(&net.state.system).expect("the clock runs");
    for &i in reveal {
        let call = Call::ChallengeReveal { epoch, secret: secret(i, epoch.0) };
        let effects = net.run_at(times.reveal_open_ms, &validators[i], call);
        assert_eq!(effects.status, TxStatus::Success, "{effects:?}");
    }
    let effects = net.run_at(times.start_ms, &Net::operator(), Call::StartChallenge);
    assert_eq!(effects.status, TxStatus::Success, "{effects:?}");
    effects.events.into_iter().map(|e| e.event).collect()
}

/// A certificate for node `prover` (a genesis node index) with `passed` items of its
/// `blobs × shards`, signed by `signers`.
fn result_certificate(net: &Net, prover: usize, passed: u32, signers: &[usize]) -> CertificateArgs {
    let system = &net.state.system;
    let challenge = system.round.challenge.as_ref().expect("started");
    let member = &system.committee.members[usize::from(net.member_index(prover))];
    let n_items = (challenge.blobs.len() as u64 * member.weight()) as u32;
    let mut bitmap = vec![0u8; (n_items as usize).div_ceil(8)];
    for i in 0..passed as usize {
        set_bit(&mut bitmap, i);
    }
    let result = ChallengeResult { node_id: member.node_id, seed: challenge.seed, n_items, passed: bitmap };
    net.certificate(signers, &ProtocolMessage::new(system.epoch(), result))
}

/// Submits a certificate from the nodes' operator.
fn submit(net: &mut Net, certificate: CertificateArgs) -> walrus_chain::TxEffects {
    net.run_as(&Net::operator(), Call::SubmitChallengeCertificate { certificate })
}

fn node_id(net: &Net, node: usize) -> ObjectId {
    net.state.system.committee.members[usize::from(net.member_index(node))].node_id
}

#[test]
fn a_round_draws_from_the_reveals_and_settles_rewards_by_pass_rate() {
    let (mut net, validators) = net_with_validators();
    store_blobs(&mut net, 5);
    let supply = net.state.total_supply;
    let events = run_round(&mut net, &validators, &[0, 1]);
    // Validator 2 withheld its reveal: its bond is burned; the others got theirs back.
    let bond = net.state.system.params.challenge.reveal_bond;
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::RevealWithheld { validator: 2, bond: b, .. } if *b == bond)));
    assert_eq!(net.state.total_supply, supply.checked_sub(bond).expect("as set up"));
    let Some(Event::ChallengeStarted { blobs, insecure, .. }) = events.last() else { panic!("{events:?}") };
    assert_eq!(blobs.len(), 5, "fewer blobs than c: all of them");
    assert!(!insecure);
    // Node 0 (4 shards) passes all 20 items, node 1 (3 shards) 12 of 15, node 2 (2 shards) 4
    // of 10; node 3 submits nothing.
    for (prover, passed) in [(0, 20), (1, 12), (2, 4)] {
        let certificate = result_certificate(&net, prover, passed, &[0, 1]);
        let effects = submit(&mut net, certificate);
        assert_eq!(effects.status, TxStatus::Success, "{effects:?}");
    }
    let ids: Vec<ObjectId> = (0..4).map(|i| node_id(&net, i)).collect();
    let events = net.next_epoch();
    let settled = |node: ObjectId| {
        events
            .iter()
            .find_map(|e| match e {
                Event::ChallengeSettled { node_id, n_items, n_passed, reward_bps, penalty, .. }
                    if *node_id == node =>
                {
                    Some((*n_items, *n_passed, *reward_bps, *penalty))
                }
                _ => None,
            })
            .expect("settled")
    };
    let wal = |n: u64| Frost::from_wal(n).expect("as set up");
    assert_eq!(settled(ids[0]), (20, 20, 10_000, Frost::ZERO));
    // 20% failed: 1 − 2 × 0.2 = 60% kept.
    assert_eq!(settled(ids[1]), (15, 12, 6_000, Frost::ZERO));
    // 60% failed: nothing kept, and under the floor: 1 WAL per shard.
    assert_eq!(settled(ids[2]), (10, 4, 0, wal(2)));
    assert_eq!(settled(ids[3]), (5, 0, 0, wal(1)));
    let record = |i: usize| net.state.system.nodes[&ids[i]].challenge;
    assert_eq!((record(0).fail_streak, record(2).fail_streak, record(3).fail_streak), (0, 1, 1));
    assert!(net.state.system.round.commits.is_empty(), "the round resets");
}

#[test]
fn certificates_must_match_the_challenge_quorum_and_deadline() {
    let (mut net, validators) = net_with_validators();
    store_blobs(&mut net, 3);
    run_round(&mut net, &validators, &[0, 1, 2]);
    // Nodes 2 and 3 hold 3 shards: below the quorum of 7.
    let weak = result_certificate(&net, 0, 12, &[2, 3]);
    assert_eq!(failure(&submit(&mut net, weak)), "ENotEnoughStake");
    // A bitmap that does not cover the prover's items.
    let bad = ChallengeResult { n_items: 3, passed: vec![7], ..challenge_result(&net, 0) };
    let short = net.certificate(&[0, 1], &ProtocolMessage::new(net.state.system.epoch(), bad));
    assert_eq!(failure(&submit(&mut net, short)), "EInvalidMsgType");
    // Another seed.
    let other =
        ChallengeResult { seed: [0; 32], n_items: 12, passed: vec![0xff, 0x0f], ..challenge_result(&net, 0) };
    let other = net.certificate(&[0, 1], &ProtocolMessage::new(net.state.system.epoch(), other));
    assert_eq!(failure(&submit(&mut net, other)), "EInvalidMsgType");
    // The right one, once, and only from the prover's operator.
    let good = result_certificate(&net, 0, 12, &[0, 1]);
    let stranger = net.run(0, Call::SubmitChallengeCertificate { certificate: good.clone() });
    assert_eq!(failure(&stranger), "EAuthorizationFailure");
    assert_eq!(submit(&mut net, good.clone()).status, TxStatus::Success);
    assert_eq!(failure(&submit(&mut net, good)), "EChallengeStep");
    // After the deadline.
    let late = result_certificate(&net, 1, 9, &[0, 1]);
    let deadline = net.state.system.round.challenge.as_ref().expect("as set up").deadline_ms;
    let effects =
        net.run_at(deadline + 1, &Net::operator(), Call::SubmitChallengeCertificate { certificate: late });
    assert_eq!(failure(&effects), "EChallengeStep");
    // Only nodes 0 certified (4 of 10 shards, under a quorum): the round is void, all keep all.
    let events = net.next_epoch();
    assert!(events
        .iter()
        .all(|e| !matches!(e, Event::ChallengeSettled { reward_bps, .. } if *reward_bps != 10_000)));
}

fn challenge_result(net: &Net, prover: usize) -> ChallengeResult {
    let challenge = net.state.system.round.challenge.as_ref().expect("as set up");
    ChallengeResult { node_id: node_id(net, prover), seed: challenge.seed, n_items: 0, passed: Vec::new() }
}

#[test]
fn commitments_and_reveals_follow_their_windows() {
    let (mut net, validators) = net_with_validators();
    let epoch = net.state.system.epoch();
    let stranger = net.users[1].clone();
    let commit =
        |i: usize| Call::ChallengeCommit { epoch, commitment: reveal_commitment(&secret(i, epoch.0)) };
    assert_eq!(failure(&net.run_as(&stranger, commit(0))), "ENotAValidator");
    assert_eq!(net.run_as(&validators[0], commit(0)).status, TxStatus::Success);
    assert_eq!(failure(&net.run_as(&validators[0], commit(0))), "EChallengeStep");
    let times = schedule(&net.state.system).expect("as set up");
    // Too early to reveal; then a wrong secret; then too late to commit.
    let reveal = |s: [u8; 32]| Call::ChallengeReveal { epoch, secret: s };
    assert_eq!(failure(&net.run_as(&validators[0], reveal(secret(0, epoch.0)))), "EChallengeStep");
    let wrong = net.run_at(times.reveal_open_ms, &validators[0], reveal([9; 32]));
    assert_eq!(failure(&wrong), "EChallengeStep");
    assert_eq!(failure(&net.run_as(&validators[1], commit(1))), "EChallengeStep");
    assert_eq!(net.run_as(&validators[0], reveal(secret(0, epoch.0))).status, TxStatus::Success);
    // The start waits for its time.
    assert_eq!(failure(&net.run_as(&stranger, Call::StartChallenge)), "EWrongEpochState");
}

#[test]
fn blob_removals_wait_while_the_draw_is_pending() {
    let (mut net, _) = net_with_validators();
    let ids = store_blobs(&mut net, 2);
    let times = schedule(&net.state.system).expect("as set up");
    let user = net.users[0].clone();
    let pending = net.run_at(times.reveal_open_ms, &user, Call::DeleteBlob { blob: ids[0] });
    assert_eq!(failure(&pending), "EChallengeDrawPending");
    assert_eq!(net.run_at(times.start_ms, &user, Call::StartChallenge).status, TxStatus::Success);
    // No validator revealed: the seed is a block digest's, flagged insecure.
    let challenge = net.state.system.round.challenge.clone().expect("as set up");
    assert!(challenge.insecure);
    // Until the deadline a drawn blob's data must stay with the verifiers.
    assert_eq!(failure(&net.run_as(&user, Call::DeleteBlob { blob: ids[0] })), "EChallengeDrawPending");
    let after = net.run_at(challenge.deadline_ms + 1, &user, Call::DeleteBlob { blob: ids[0] });
    assert_eq!(after.status, TxStatus::Success);
}

#[test]
fn two_epochs_under_the_floor_cost_the_shards_at_the_next_assignment() {
    let (mut net, validators) = net_with_validators();
    store_blobs(&mut net, 2);
    let weak = node_id(&net, 3);
    for round in 0..2 {
        run_round(&mut net, &validators, &[0, 1, 2]);
        for prover in 0..3 {
            let member = &net.state.system.committee.members[usize::from(net.member_index(prover))];
            let all = 2 * member.weight() as u32;
            let certificate = result_certificate(&net, prover, all, &[0, 1]);
            assert_eq!(submit(&mut net, certificate).status, TxStatus::Success);
        }
        net.next_epoch();
        assert_eq!(net.state.system.nodes[&weak].challenge.fail_streak, round + 1);
    }
    // The committee of the next epoch is selected at its mid-point: without node 3.
    let due = net.state.system.next_step_ms().expect("as set up");
    assert_eq!(net.run_at(due, &Net::operator(), Call::VotingEnd).status, TxStatus::Success);
    let next = net.state.system.next_committee.clone().expect("as set up");
    assert!(next.members.iter().all(|m| m.node_id != weak), "{next:?}");
    assert_eq!(next.members.iter().map(|m| m.weight()).sum::<u64>(), 10);
}

#[test]
fn a_parameter_vote_applies_at_the_next_epoch_only_with_a_quorum() {
    let (mut net, _) = net_with_validators();
    let operator = Net::operator();
    let ids: Vec<ObjectId> = (0..4).map(|i| node_id(&net, i)).collect();
    let change = Proposal::SetParameter(ParameterChange::ChallengeBlobs(16));
    // Nodes 0 and 1 (7 of 10 shards) reach the quorum; nodes 2 and 3 alone (3) do not.
    net.run_as(&operator, Call::Propose { node_id: ids[0], proposal: change });
    let passed = net.run_as(&operator, Call::Vote { node_id: ids[1], proposal_id: 0 });
    assert!(passed.events.iter().any(|e| matches!(e.event, Event::ProposalPassed { proposal_id: 0, .. })));
    let lapsing = Proposal::SetParameter(ParameterChange::FloorBps(9_000));
    net.run_as(&operator, Call::Propose { node_id: ids[2], proposal: lapsing });
    net.run_as(&operator, Call::Vote { node_id: ids[3], proposal_id: 1 });
    assert_eq!(
        failure(&net.run_as(&operator, Call::Vote { node_id: ids[3], proposal_id: 1 })),
        "EInvalidParameter"
    );
    assert_eq!(net.state.system.params.challenge.blobs, 64, "not before the epoch change");
    let events = net.next_epoch();
    assert!(events.iter().any(|e| matches!(e, Event::ParametersChanged { .. })));
    assert_eq!(net.state.system.params.challenge.blobs, 16);
    assert_eq!(net.state.system.params.challenge.floor_bps, 5_000, "the lapsed proposal changed nothing");
    assert!(net.state.system.governance.open.is_empty());
    // Out-of-bounds values are refused when proposed.
    let bad = Proposal::SetParameter(ParameterChange::FloorBps(10_001));
    assert_eq!(
        failure(&net.run_as(&operator, Call::Propose { node_id: ids[0], proposal: bad })),
        "EInvalidParameter"
    );
}

#[test]
fn a_slashing_vote_burns_with_a_quorum_and_nothing_without() {
    let (mut net, _) = net_with_validators();
    store_blobs(&mut net, 1);
    net.next_epoch();
    let operator = Net::operator();
    let ids: Vec<ObjectId> = (0..4).map(|i| node_id(&net, i)).collect();
    let target = ids[3];
    let commission = |net: &Net| {
        let node = &net.state.system.nodes[&target];
        node.commission.checked_add(node.commission_blocked).expect("as set up")
    };
    assert!(commission(&net) > Frost::ZERO, "the node earned commission");
    let stake_before = net.state.system.nodes[&target].pool.active_wal;
    let slash = Proposal::SlashStake { node_id: target, bps: 1_000 };
    net.run_as(&operator, Call::Propose { node_id: ids[2], proposal: slash });
    net.run_as(&operator, Call::Vote { node_id: ids[3], proposal_id: 0 });
    assert!(commission(&net) > Frost::ZERO, "3 of 10 shards: no quorum, nothing burned");
    let supply = net.state.total_supply;
    let expected = commission(&net).checked_add(Frost(stake_before / 10)).expect("as set up");
    let effects = net.run_as(&operator, Call::Vote { node_id: ids[0], proposal_id: 0 });
    assert!(effects
        .events
        .iter()
        .any(|e| matches!(e.event, Event::ProposalPassed { burned, .. } if burned == expected)));
    assert_eq!(commission(&net), Frost::ZERO);
    assert_eq!(net.state.system.nodes[&target].pool.active_wal, stake_before - stake_before / 10);
    assert_eq!(net.state.total_supply, supply.checked_sub(expected).expect("as set up"));
}

#[test]
fn stake_withdrawn_soon_after_activation_pays_the_hop_burn() {
    let (mut net, _) = net_with_validators();
    let node = node_id(&net, 0);
    let user = net.users[1].clone();
    let amount = Frost::from_wal(100).expect("as set up");
    // Withdrawn before any selection counted it: free.
    let early = net.run_as(&user, Call::StakeWithPool { node_id: node, amount }).created[0];
    let before = net.state.account(&user.address()).balance;
    assert_eq!(net.run_as(&user, Call::WithdrawStake { staked_wal: early }).status, TxStatus::Success);
    assert_eq!(net.state.account(&user.address()).balance.0 + 1_000, before.0 + amount.0);
    // Active from epoch 1, asked out at once, paid in epoch 2: within the hop epochs, 1% burned.
    let staked = net.run_as(&user, Call::StakeWithPool { node_id: node, amount }).created[0];
    net.next_epoch();
    assert_eq!(
        net.run_as(&user, Call::RequestWithdrawStake { staked_wal: staked }).status,
        TxStatus::Success
    );
    net.next_epoch();
    let (before, supply) = (net.state.account(&user.address()).balance, net.state.total_supply);
    assert_eq!(net.run_as(&user, Call::WithdrawStake { staked_wal: staked }).status, TxStatus::Success);
    let paid = net.state.account(&user.address()).balance.0 + 1_000 - before.0;
    let burned = supply.0 - net.state.total_supply.0;
    let rate = u64::from(net.state.system.params.challenge.stake_hop_burn_bps);
    assert_eq!(burned, (paid + burned) * rate / BPS, "1% of what it took out");
    assert!(burned > 0);
}
