//! Scenario tests of the state machine: a small network with four storage nodes, accounts
//! that buy storage, register, certify, delete and extend blobs, and epochs that pass.

use crate::common;

use common::*;
use walrus_chain::block::TxStatus;
use walrus_chain::objects::ObjectBody;
use walrus_chain::*;
use walrus_core::encode::compute_metadata;
use walrus_core::keys::{BlsKeyPair, Ed25519KeyPair};
use walrus_core::messages::{proof_of_possession, signers_to_bitmap, InvalidBlobIdMsg, ProtocolMessage};
use walrus_core::{EncodingParams, Epoch, ObjectId};

#[test]
fn transfers_move_wal_and_charge_fees() {
    let mut net = Net::new();
    let (a, b) = (net.users[0].address(), net.users[1].address());
    let before = net.state.account(&a).balance;
    net.ok(0, Call::Transfer { to: b, amount: Frost(5) });
    assert_eq!(net.state.account(&a).balance, Frost(before.0 - 5 - 1_000));
    assert_eq!(net.state.account(&a).nonce, 1);
    assert_eq!(net.state.account(&b).balance, Frost(before.0 + 5));
    let effects = net.run(0, Call::Transfer { to: b, amount: Frost(u64::MAX) });
    assert_eq!(failure(&effects), "EInsufficientFunds");
    assert_eq!(net.state.account(&a).nonce, 2, "a failed call still uses its nonce and fee");
    let memo = vec![7u8; walrus_chain::tx::MEMO_BYTES_MAX];
    net.ok(0, Call::TransferWithMemo { to: b, amount: Frost(9), memo: memo.clone() });
    assert_eq!(net.state.account(&b).balance, Frost(before.0 + 5 + 9));
    let long = [memo, vec![7]].concat();
    let effects = net.run(0, Call::TransferWithMemo { to: b, amount: Frost(9), memo: long });
    assert_eq!(failure(&effects), "ELimitExceeded");
    assert_eq!(net.state.account(&b).balance, Frost(before.0 + 5 + 9), "a memo too long moves nothing");
}

#[test]
fn replayed_or_forged_transactions_are_skipped() {
    let mut net = Net::new();
    let tx = net.tx(0, Call::Transfer { to: net.users[1].address(), amount: Frost(1) });
    let at = net.state.timestamp_ms + 1;
    let effects = net.block_at(at, vec![tx.clone(), tx.clone()]);
    assert_eq!(effects.transactions[0].status, TxStatus::Success);
    assert!(matches!(effects.transactions[1].status, TxStatus::Skipped { .. }), "same nonce twice");
    let mut forged = net.tx(0, Call::Transfer { to: net.users[1].address(), amount: Frost(1) });
    forged.data.call = Call::Transfer { to: net.users[1].address(), amount: Frost(999) };
    let effects = net.block_at(at + 1, vec![forged]);
    assert!(matches!(effects.transactions[0].status, TxStatus::Skipped { .. }));
    assert_eq!(net.state.account(&net.users[0].address()).nonce, 1);
}

#[test]
fn a_blob_registers_and_certifies_with_a_quorum_only() {
    let mut net = Net::new();
    let blob = net.register(0, b"hello walrus", false, 5);
    let registered = net.blob(blob);
    assert_eq!(net.state.blob_objects(&registered.blob_id).len(), 1);
    // Nodes 0 and 1 hold 4 + 3 = 7 of 10 shards: 3 * 7 = 21 >= 2 * 10 + 1.
    // Nodes 0 and 2 hold 6: 18 < 21, not a quorum.
    let weak = net.confirmation(&[0, 2], blob);
    assert_eq!(failure(&net.run(0, Call::CertifyBlob { blob, certificate: weak })), "ENotEnoughStake");
    let mut forged = net.confirmation(&[0, 1], blob);
    forged.signers_bitmap =
        signers_to_bitmap(&[net.member_index(0), net.member_index(2), net.member_index(1)]);
    forged.signature = net.confirmation(&[0, 1], blob).signature;
    assert_eq!(failure(&net.run(0, Call::CertifyBlob { blob, certificate: forged })), "ESigVerification");
    assert_eq!(net.blob(blob).certified_epoch, None);
    let good = net.confirmation(&[0, 1], blob);
    let effects = net.ok(0, Call::CertifyBlob { blob, certificate: good.clone() });
    assert!(matches!(effects.events[0].event, Event::BlobCertified { is_extension: false, .. }));
    assert_eq!(net.blob(blob).certified_epoch, Some(Epoch(0)));
    assert_eq!(failure(&net.run(0, Call::CertifyBlob { blob, certificate: good })), "EAlreadyCertified");
}

#[test]
fn registration_checks_the_blob_id_and_the_storage() {
    let mut net = Net::new();
    let params = EncodingParams::new(u64::from(N_SHARDS)).expect("valid");
    let metadata = compute_metadata(params, b"data").expect("encodable");
    let size = params.encoded_blob_length(4).expect("fits");
    let small = net.ok(0, Call::ReserveSpace { size: size - 1, epochs_ahead: 2 }).created[0];
    let exact = net.ok(0, Call::ReserveSpace { size, epochs_ahead: 2 }).created[0];
    let register = |storage, blob_id, size| Call::RegisterBlob {
        storage,
        blob_id,
        root_hash: metadata.metadata().compute_root_hash(),
        size,
        encoding_type: 1,
        deletable: false,
    };
    let blob_id = *metadata.blob_id();
    assert_eq!(failure(&net.run(0, register(small, blob_id, 4))), "EResourceSize");
    assert_eq!(failure(&net.run(0, register(exact, blob_id, 3))), "EInvalidBlobId");
    assert_eq!(failure(&net.run(1, register(exact, blob_id, 4))), "ENotOwner");
    assert_eq!(net.run(0, register(exact, blob_id, 4)).status, TxStatus::Success);
}

#[test]
fn deletable_blobs_give_their_storage_back() {
    let mut net = Net::new();
    let permanent = net.register(0, b"keep", false, 3);
    assert_eq!(failure(&net.run(0, Call::DeleteBlob { blob: permanent })), "EBlobNotDeletable");
    let blob = net.register(0, b"temporary", true, 3);
    let certificate = net.confirmation(&[0, 1, 2], blob);
    net.ok(0, Call::CertifyBlob { blob, certificate });
    let storage_id = net.blob(blob).storage.id;
    let effects = net.ok(0, Call::DeleteBlob { blob });
    assert!(matches!(effects.events[0].event, Event::BlobDeleted { was_certified: true, .. }));
    assert!(net.state.object(&blob).is_none());
    assert!(matches!(net.state.object(&storage_id).expect("a live object").body, ObjectBody::Storage(_)));
    assert_eq!(failure(&net.run(0, Call::DeleteBlob { blob })), "EObjectNotFound");
}

#[test]
fn storage_splits_and_fuses_back() {
    let mut net = Net::new();
    let storage = net.ok(0, Call::ReserveSpace { size: 1000, epochs_ahead: 10 }).created[0];
    let later = net.ok(0, Call::SplitStorageByEpoch { storage, epoch: Epoch(4) }).created[0];
    let smaller = net.ok(0, Call::SplitStorageBySize { storage, size: 600 }).created[0];
    assert_eq!(
        failure(&net.run(0, Call::FuseStorage { first: smaller, second: later })),
        "EIncompatibleStorage"
    );
    net.ok(0, Call::FuseStorage { first: storage, second: smaller });
    net.ok(0, Call::FuseStorage { first: storage, second: later });
    match &net.state.object(&storage).expect("a live object").body {
        ObjectBody::Storage(s) => {
            assert_eq!((s.start_epoch, s.end_epoch, s.storage_size), (Epoch(0), Epoch(10), 1000))
        }
        _ => panic!("storage expected"),
    }
}

#[test]
fn epochs_follow_the_reference_cycle_and_blobs_expire() {
    let mut net = Net::new();
    let blob = net.register(0, b"short lived", true, 1);
    let caller = net.users[1].clone();
    let early = net.run_at(GENESIS_MS + DAY_MS / 2 - 1, &caller, Call::VotingEnd);
    assert_eq!(failure(&early), "EWrongEpochState");
    let mid = net.run_at(GENESIS_MS + DAY_MS / 2, &caller, Call::VotingEnd);
    assert_eq!(mid.events[0].event, Event::EpochParametersSelected { next_epoch: Epoch(1) });
    assert_eq!(failure(&net.run_at(0, &caller, Call::VotingEnd)), "EWrongEpochState");
    assert_eq!(
        failure(&net.run_at(GENESIS_MS + DAY_MS - 1, &caller, Call::InitiateEpochChange)),
        "EWrongEpochState"
    );
    let end = net.run_at(GENESIS_MS + DAY_MS, &caller, Call::InitiateEpochChange);
    assert_eq!(end.events[0].event, Event::EpochChangeStart { epoch: Epoch(1) });
    assert_eq!(net.state.system.epoch(), Epoch(1));
    // The clock waits for the members to report their shards: 1 + 2 + 3 of 10 shards is not a
    // quorum, the 4 more are.
    assert_eq!(net.state.system.next_step_ms(), None);
    let operator = Net::operator();
    let mut members = net.state.system.committee.members.clone();
    members.sort_by_key(|m| m.weight());
    for (i, member) in members.iter().enumerate() {
        let sync = net.run_as(&operator, Call::EpochSyncDone { node_id: member.node_id, epoch: Epoch(1) });
        let events: Vec<Event> = sync.events.iter().map(|e| e.event.clone()).collect();
        assert_eq!(events[0], Event::ShardsReceived { epoch: Epoch(1), shards: member.shards.clone() });
        assert_eq!(events.contains(&Event::EpochChangeDone { epoch: Epoch(1) }), i == 3, "{events:?}");
    }
    // The next epoch's clock runs from the moment its change was done.
    let done_at = net.state.timestamp_ms;
    assert_eq!(net.state.system.next_step_ms(), Some(done_at + DAY_MS / 2));
    let certificate = net.confirmation(&[0, 1], blob);
    assert_eq!(failure(&net.run(0, Call::CertifyBlob { blob, certificate })), "EResourceBounds");
    assert_eq!(failure(&net.run(0, Call::DeleteBlob { blob })), "EResourceBounds");
}

#[test]
fn an_ending_epoch_burns_3_percent_and_pays_nodes_by_shards() {
    let mut net = Net::new();
    let blob = net.register(0, b"paid storage", false, 3);
    let certificate = net.confirmation(&[0, 1], blob);
    net.ok(0, Call::CertifyBlob { blob, certificate });
    let rewards = net.state.system.future[0].rewards.0;
    let supply = net.state.total_supply.0;
    let pools_before: Vec<u64> = net.state.system.nodes.values().map(|n| n.pool.active_wal).collect();
    net.next_epoch();
    // The fees of `VotingEnd` and `InitiateEpochChange` are the epoch's too.
    let rewards = rewards + 2_000;
    let burned = rewards * 3 / 100;
    assert_eq!((net.state.burned.0, net.state.total_supply.0), (burned, supply - burned));
    let members = net.state.system.committee.members.clone();
    let mut paid = 0;
    for (member, before) in members.iter().zip(pools_before) {
        let node = &net.state.system.nodes[&member.node_id];
        let reward = (rewards - burned) * member.weight() / u64::from(N_SHARDS);
        // 10% to the operator, blocked until mid-epoch; the rest to the pool's stake.
        let commission = reward / 10;
        assert_eq!(node.commission_blocked.0, commission);
        assert_eq!(node.pool.active_wal, before + reward - commission);
        paid += reward;
    }
    let leftover = rewards - burned - paid;
    assert!(leftover < members.len() as u64, "only rounding is left over");
    let operator = Net::operator();
    let node_id = members[0].node_id;
    let blocked = net.state.system.nodes[&node_id].commission_blocked;
    let stranger = net.users[1].address();
    assert_eq!(failure(&net.run(1, Call::CollectNodeRewards { node_id })), "EAuthorizationFailure");
    assert_eq!(net.state.account(&stranger).nonce, 1);
    let before = net.state.account(&operator.address()).balance;
    net.run_as(&operator, Call::CollectNodeRewards { node_id });
    assert_eq!(net.state.account(&operator.address()).balance.0, before.0 - 1_000, "blocked until mid-epoch");
    let due = net.state.system.next_step_ms().expect("running");
    net.run_at(due, &operator, Call::VotingEnd);
    let before = net.state.account(&operator.address()).balance;
    net.run_as(&operator, Call::CollectNodeRewards { node_id });
    assert_eq!(net.state.account(&operator.address()).balance.0, before.0 + blocked.0 - 1_000);
    assert_eq!(net.state.system.nodes[&node_id].commission, Frost::ZERO);
}

#[test]
fn nodes_register_with_a_proof_of_possession_and_votes_set_prices() {
    let mut net = Net::new();
    let bls = BlsKeyPair::from_seed(&[50; 32]);
    let votes =
        walrus_chain::epoch::Votes { storage_price: Frost(1), write_price: Frost(1), node_capacity: 1 << 30 };
    let registration = |pop| {
        Call::RegisterNode(walrus_chain::epoch::NodeRegistration {
            name: "candidate".into(),
            public_key: *bls.public(),
            proof_of_possession: pop,
            network_address: "127.0.0.1:9999".into(),
            network_public_key: common::network_key(50),
            votes,
            commission_rate: 500,
        })
    };
    let stolen = proof_of_possession(&bls, net.users[1].address(), Epoch(0));
    assert_eq!(failure(&net.run(2, registration(stolen))), "EInvalidProofOfPossession");
    let own = proof_of_possession(&bls, net.users[2].address(), Epoch(0));
    net.ok(2, registration(own));
    assert_eq!(failure(&net.run(2, registration(own))), "EInvalidNodeInfo");
    let candidate =
        *net.state.system.nodes.iter().find(|(_, n)| n.public_key == *bls.public()).expect("registered").0;
    // A candidate is not in the committee: its low votes move no price, and it cannot sync.
    assert_eq!(net.state.system.params.storage_price_per_unit, Frost(100_000));
    let sync = Call::EpochSyncDone { node_id: candidate, epoch: Epoch(0) };
    assert_eq!(failure(&net.run(2, sync)), "ENotInCommittee");

    // Members holding 4 + 3 = 7 of 10 shards (a quorum) vote a lower storage price.
    let operator = Net::operator();
    let members = net.state.system.committee.members.clone();
    let lower = |node: usize| {
        let member = members.iter().find(|m| m.public_key == *net.nodes[node].public()).expect("member");
        let mut votes = net.state.system.nodes[&member.node_id].votes;
        votes.storage_price = Frost(60_000);
        Call::SetNodeVotes { node_id: member.node_id, votes }
    };
    let (first, second) = (lower(0), lower(1));
    assert!(net.run_as(&operator, first).events.is_empty(), "4 shards are not a quorum");
    let effects = net.run_as(&operator, second);
    assert_eq!(
        effects.events[0].event,
        Event::PricesUpdated { epoch: Epoch(0), storage_price: Frost(60_000), write_price: Frost(20_000) }
    );
    assert_eq!(net.state.system.params.storage_price_per_unit, Frost(60_000));
    let sync = Call::EpochSyncDone { node_id: members[0].node_id, epoch: Epoch(0) };
    assert_eq!(failure(&net.run_as(&operator, sync)), "EDuplicateSyncDone");
}

#[test]
fn attributes_and_shared_blobs() {
    let mut net = Net::new();
    let blob = net.register(0, b"shared and described", false, 2);
    let certificate = net.confirmation(&[0, 1], blob);
    net.ok(0, Call::CertifyBlob { blob, certificate });
    let set = vec![("content-type".to_string(), "text/plain".to_string())];
    net.ok(0, Call::SetBlobAttributes { blob, set, remove: vec![] });
    assert_eq!(net.blob(blob).attributes["content-type"], "text/plain");
    let remove = vec!["missing".to_string()];
    assert_eq!(
        failure(&net.run(0, Call::SetBlobAttributes { blob, set: vec![], remove })),
        "EMissingMetadataKey"
    );
    let long = vec![("k".repeat(2000), String::new())];
    assert_eq!(
        failure(&net.run(0, Call::SetBlobAttributes { blob, set: long, remove: vec![] })),
        "ELimitExceeded"
    );

    net.ok(0, Call::ShareBlob { blob, funds: Frost(1_000_000) });
    assert_eq!(failure(&net.run(0, Call::BurnBlob { blob })), "ENotOwner");
    net.ok(1, Call::FundSharedBlob { blob, amount: Frost(500_000) });
    // One storage unit for two more epochs at 100 000 FROST each.
    net.ok(2, Call::ExtendSharedBlob { blob, epochs: 2 });
    match &net.state.object(&blob).expect("a live object").body {
        ObjectBody::SharedBlob { blob: shared, funds } => {
            assert_eq!(shared.end_epoch(), Epoch(4));
            assert_eq!(
                *funds,
                Frost(1_500_000 - 2 * 100_000 * shared.storage.storage_size.div_ceil(1 << 20))
            );
        }
        _ => panic!("shared blob expected"),
    }
    assert_eq!(failure(&net.run(2, Call::ExtendSharedBlob { blob, epochs: 40 })), "EInsufficientFunds");
    assert_eq!(
        failure(&net.run(2, Call::FundSharedBlob { blob: ObjectId([1; 32]), amount: Frost(1) })),
        "EObjectNotFound"
    );
}

#[test]
fn extension_pays_for_more_epochs() {
    let mut net = Net::new();
    let blob = net.register(0, b"extend me", false, 2);
    assert_eq!(failure(&net.run(0, Call::ExtendBlob { blob, epochs: 3 })), "ENotCertified");
    let certificate = net.confirmation(&[0, 1], blob);
    net.ok(0, Call::CertifyBlob { blob, certificate });
    let effects = net.ok(0, Call::ExtendBlob { blob, epochs: 3 });
    assert!(matches!(effects.events[0].event, Event::BlobCertified { is_extension: true, .. }));
    assert_eq!(net.blob(blob).end_epoch(), Epoch(5));
    assert_eq!(failure(&net.run(0, Call::ExtendBlob { blob, epochs: 49 })), "EInvalidEpochsAhead");
}

#[test]
fn an_invalid_blob_certificate_marks_the_id_for_good() {
    let mut net = Net::new();
    let blob = net.register(0, b"badly encoded", false, 2);
    let blob_id = net.blob(blob).blob_id;
    let message = ProtocolMessage::new(Epoch(0), InvalidBlobIdMsg(blob_id));
    // Node 3 holds 1 shard: 3 < 11, below validity. Node 2 holds 2... 2 + 1 = 3 shards: 9 < 11.
    let weak = net.certificate(&[2, 3], &message);
    assert_eq!(failure(&net.run(1, Call::InvalidateBlobId { certificate: weak })), "ENotEnoughStake");
    // Node 0 holds 4 shards: 12 >= 11.
    let certificate = net.certificate(&[0], &message);
    let effects = net.ok(1, Call::InvalidateBlobId { certificate });
    assert_eq!(effects.events[0].event, Event::InvalidBlobID { epoch: Epoch(0), blob_id });
    let certificate = net.confirmation(&[0, 1], blob);
    assert_eq!(failure(&net.run(0, Call::CertifyBlob { blob, certificate })), "EBlobIdMarkedInvalid");
}

#[test]
fn replaying_the_blocks_gives_the_same_digests() {
    let mut net = Net::new();
    let blob = net.register(0, b"replay", true, 4);
    let certificate = net.confirmation(&[0, 1], blob);
    net.ok(0, Call::CertifyBlob { blob, certificate });
    net.next_epoch();
    net.ok(1, Call::Transfer { to: net.users[2].address(), amount: Frost(7) });
    let mut replica = genesis(&net.nodes, &net.users).build().expect("valid genesis");
    for block in &net.blocks {
        execute_block(&mut replica, block).expect("replays");
    }
    assert_eq!(replica.digest(), net.state.digest());
    assert_eq!(replica, net.state);
    let again = execute_block(&mut replica, &net.blocks[0]);
    assert!(again.is_err(), "an executed height is refused");
}

#[test]
fn a_block_commits_to_a_recent_state_of_this_replica() {
    let mut net = Net::new();
    net.ok(1, Call::Transfer { to: net.users[2].address(), amount: Frost(7) });
    net.ok(1, Call::Transfer { to: net.users[2].address(), amount: Frost(8) });
    let next = Block::next(&net.state, net.state.timestamp_ms, vec![]);
    assert_eq!(next.exec.height, net.state.height);
    // A commitment to an older state is allowed, not older than the parent's commitment.
    let mut lagged = next.clone();
    lagged.exec = net.blocks[1].exec;
    check_block(&net.state, &lagged).expect("a lag of two blocks is allowed");
    lagged.exec = net.blocks[0].exec;
    assert!(matches!(check_block(&net.state, &lagged), Err(BlockError::ExecHeight { .. })));
    // Another digest than this replica's is a divergence.
    let mut diverged = next.clone();
    diverged.exec.state_digest = [7; 32];
    assert_eq!(check_block(&net.state, &diverged), Err(BlockError::ExecDigest(net.state.height)));
    let mut future = next.clone();
    future.exec.height += 1;
    assert!(matches!(check_block(&net.state, &future), Err(BlockError::ExecHeight { .. })));
    let mut version = next;
    version.version = 2;
    assert_eq!(check_block(&net.state, &version), Err(BlockError::Version(2)));
}

#[test]
fn certificates_verified_ahead_give_the_same_effects() {
    let mut net = Net::new();
    let blob = net.register(0, b"ahead", true, 4);
    let good = net.confirmation(&[0, 1], blob);
    let mut bad = good.clone();
    bad.message[7] ^= 1;
    let nonce = net.state.account(&net.users[0].address()).nonce;
    let txs = vec![
        signed(&net, &net.users[0], nonce, Call::CertifyBlob { blob, certificate: bad }),
        signed(&net, &net.users[0], nonce + 1, Call::CertifyBlob { blob, certificate: good }),
    ];
    let block = Block::next(&net.state, net.state.timestamp_ms, txs);
    let mut ahead = net.state.clone();
    let verified = verify_block(&ahead, &block);
    let with = execute_verified(&mut ahead, &block, &verified).expect("valid");
    // Verdicts computed under another committee (a signer with another node's key) are not used.
    let mut forged = net.state.clone();
    let signer = usize::from(net.member_index(0));
    forged.system.committee.members[signer].public_key = *net.nodes[3].public();
    let mut stale = net.state.clone();
    let with_stale = execute_verified(&mut stale, &block, &verify_block(&forged, &block)).expect("valid");
    let without = execute_block(&mut net.state, &block).expect("valid");
    assert_eq!(with, without);
    assert_eq!(with_stale, without);
    assert_eq!(failure(&with.transactions[0]), "ESigVerification");
    assert_eq!(with.transactions[1].status, TxStatus::Success);
}

/// One step of a random history.
#[derive(Debug, Clone)]
enum Op {
    Transfer { from: usize, to: usize, amount: u64 },
    Reserve { user: usize, size: u64, epochs: u32 },
    Register { user: usize, seed: u8, deletable: bool, epochs: u32 },
    Certify { user: usize, blob: usize, signers: u8 },
    Delete { user: usize, blob: usize },
    Burn { user: usize, blob: usize },
    Extend { user: usize, blob: usize, epochs: u32 },
    Share { user: usize, blob: usize, funds: u64 },
    ExtendShared { user: usize, blob: usize, epochs: u32 },
    Wait { days: u64 },
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        (0..3usize, 0..3usize, 0..2_000_000_000_000u64).prop_map(|(from, to, amount)| Op::Transfer {
            from,
            to,
            amount
        }),
        (0..3usize, 0..1u64 << 32, 0..60u32).prop_map(|(user, size, epochs)| Op::Reserve {
            user,
            size,
            epochs
        }),
        (0..3usize, any::<u8>(), any::<bool>(), 1..6u32)
            .prop_map(|(user, seed, deletable, epochs)| Op::Register { user, seed, deletable, epochs }),
        (0..3usize, 0..8usize, 0..16u8).prop_map(|(user, blob, signers)| Op::Certify { user, blob, signers }),
        (0..3usize, 0..8usize).prop_map(|(user, blob)| Op::Delete { user, blob }),
        (0..3usize, 0..8usize).prop_map(|(user, blob)| Op::Burn { user, blob }),
        (0..3usize, 0..8usize, 0..60u32).prop_map(|(user, blob, epochs)| Op::Extend { user, blob, epochs }),
        (0..3usize, 0..8usize, 0..10_000_000u64).prop_map(|(user, blob, funds)| Op::Share {
            user,
            blob,
            funds
        }),
        (0..3usize, 0..8usize, 0..5u32).prop_map(|(user, blob, epochs)| Op::ExtendShared {
            user,
            blob,
            epochs
        }),
        (0..3u64).prop_map(|days| Op::Wait { days }),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

    /// WAL is conserved (checked after every block), capacity is never over-committed,
    /// nothing certifies without a quorum, and deleted blob objects stay deleted.
    #[test]
    fn random_histories_keep_the_invariants(ops in proptest::collection::vec(op(), 1..30)) {
        let mut net = Net::new();
        let mut blobs: Vec<ObjectId> = Vec::new();
        let mut gone: Vec<ObjectId> = Vec::new();
        let weights = [4u64, 3, 2, 1];
        for op in ops {
            let pick = |i: usize| blobs.get(i % blobs.len().max(1)).copied();
            let effects = match op {
                Op::Transfer { from, to, amount } => {
                    Some(net.run(from, Call::Transfer { to: net.users[to].address(), amount: Frost(amount) }))
                }
                Op::Reserve { user, size, epochs } => Some(net.run(user, Call::ReserveSpace { size, epochs_ahead: epochs })),
                Op::Register { user, seed, deletable, epochs } => {
                    let (size, register) = registration(&vec![seed; usize::from(seed)], deletable);
                    let reserved = net.run(user, Call::ReserveSpace { size, epochs_ahead: epochs });
                    reserved.created.first().copied().map(|storage| {
                        let effects = net.run(user, register(storage));
                        blobs.extend(effects.created.iter().copied());
                        effects
                    })
                }
                Op::Certify { user, blob, signers } => pick(blob).filter(|b| net.state.object(b).is_some()).map(|blob| {
                    let chosen: Vec<usize> = (0..4).filter(|i| signers & (1 << i) != 0).collect();
                    let effects = if chosen.is_empty() {
                        net.run(user, Call::BurnBlob { blob: ObjectId([0; 32]) })
                    } else {
                        let certificate = net.confirmation(&chosen, blob);
                        net.run(user, Call::CertifyBlob { blob, certificate })
                    };
                    if effects.status == TxStatus::Success {
                        let weight: u64 = chosen.iter().map(|&i| weights[i]).sum();
                        assert!(3 * weight > 2 * u64::from(N_SHARDS), "certified with weight {weight}");
                    }
                    effects
                }),
                Op::Delete { user, blob } => pick(blob).map(|blob| net.run(user, Call::DeleteBlob { blob })),
                Op::Burn { user, blob } => pick(blob).map(|blob| net.run(user, Call::BurnBlob { blob })),
                Op::Extend { user, blob, epochs } => pick(blob).map(|blob| net.run(user, Call::ExtendBlob { blob, epochs })),
                Op::Share { user, blob, funds } => {
                    pick(blob).map(|blob| net.run(user, Call::ShareBlob { blob, funds: Frost(funds) }))
                }
                Op::ExtendShared { user, blob, epochs } => {
                    pick(blob).map(|blob| net.run(user, Call::ExtendSharedBlob { blob, epochs }))
                }
                Op::Wait { days } => {
                    for _ in 0..days {
                        net.next_epoch();
                    }
                    None
                }
            };
            if let Some(effects) = effects {
                gone.extend(effects.deleted.iter().filter(|id| blobs.contains(id)).copied());
            }
            for account in &net.state.system.future {
                assert!(account.used_capacity <= net.state.system.params.total_capacity);
            }
            for id in &gone {
                assert!(net.state.object(id).is_none(), "deleted blob object {id} came back");
            }
            // The owner index is exactly the objects' owners.
            let mut by_owner = std::collections::BTreeMap::<_, std::collections::BTreeSet<ObjectId>>::new();
            for (id, object) in net.state.objects() {
                if let objects::Owner::Address(owner) = object.owner {
                    by_owner.entry(owner).or_default().insert(id);
                }
            }
            for (owner, ids) in &by_owner {
                let indexed = net.state.owned_objects(owner, None, usize::MAX);
                assert_eq!(indexed.into_iter().map(|(id, _)| id).collect::<std::collections::BTreeSet<_>>(), *ids);
            }
            // The incremental set hash is the one computed from scratch.
            assert_eq!(net.state.records.root(), net.state.records.recomputed_root());
        }
    }
}

/// `tx` of `key` with an explicit nonce.
fn signed(net: &Net, key: &Ed25519KeyPair, nonce: u64, call: Call) -> SignedTransaction {
    TransactionData { chain_id: net.state.chain_id, sender: key.address(), nonce, fee: Frost(1_000), call }
        .sign(key)
}

#[test]
fn admission_refuses_what_could_not_pay_and_counts_queued_fees() {
    use walrus_chain::admission::{admit, AdmissionError};
    let mut net = Net::new();
    let fresh = Ed25519KeyPair::from_seed(&[77; 32]);
    let to = net.users[1].address();
    let spam = signed(&net, &fresh, 0, Call::Transfer { to, amount: Frost(0) });
    assert!(matches!(admit(&net.state, &spam, Frost::ZERO), Err(AdmissionError::CannotPayFee { .. })));
    // Give the fresh key exactly two fees: a third queued transaction is refused.
    net.ok(0, Call::Transfer { to: fresh.address(), amount: Frost(2_000) });
    let t0 = signed(
        &net,
        &fresh,
        0,
        Call::SetBlobAttributes { blob: ObjectId([1; 32]), set: vec![], remove: vec![] },
    );
    assert_eq!(admit(&net.state, &t0, Frost::ZERO), Ok(()));
    assert_eq!(admit(&net.state, &t0, Frost(1_000)), Ok(()));
    assert!(matches!(admit(&net.state, &t0, Frost(2_000)), Err(AdmissionError::CannotPayFee { .. })));
    let mut forged = t0.clone();
    forged.data.fee = Frost(1_001);
    assert_eq!(admit(&net.state, &forged, Frost::ZERO), Err(AdmissionError::BadSignature));
    let old = signed(&net, &net.users[0].clone(), 0, Call::Transfer { to, amount: Frost(1) });
    assert!(matches!(admit(&net.state, &old, Frost::ZERO), Err(AdmissionError::StaleNonce { .. })));
}

/// Random queues of transfers (some spending everything) and calls that take nothing: the
/// runs `runnable` picks are never skipped, while the same queues executed whole would be.
#[test]
fn the_runs_admission_picks_are_never_skipped() {
    use walrus_chain::admission::runnable;
    let mut net = Net::new();
    let keys: Vec<Ed25519KeyPair> = (0..4u8).map(|i| Ed25519KeyPair::from_seed(&[150 + i; 32])).collect();
    for key in &keys {
        net.ok(0, Call::Transfer { to: key.address(), amount: Frost(20_000) });
    }
    let choices = walrus_core::splitmix::splitmix_bytes(7, 64);
    let mut choice = choices.iter().cycle();
    let mut queues: Vec<Vec<SignedTransaction>> = keys
        .iter()
        .map(|key| {
            let mut balance = net.state.account(&key.address()).balance.0;
            (0..12)
                .map(|nonce| {
                    let call = match choice.next().copied().unwrap_or(0) % 3 {
                        0 => Call::Transfer { to: net.users[2].address(), amount: Frost(balance / 2) },
                        1 => Call::Transfer {
                            to: net.users[2].address(),
                            amount: Frost(balance.saturating_sub(1_000)),
                        },
                        _ => Call::SetBlobAttributes { blob: ObjectId([9; 32]), set: vec![], remove: vec![] },
                    };
                    balance = balance.saturating_sub(1_000);
                    signed(&net, key, nonce, call)
                })
                .collect()
        })
        .collect();
    let mut included = 0;
    for _ in 0..40 {
        let mut block = Vec::new();
        for queue in &mut queues {
            let take = runnable(&net.state, queue.iter());
            block.extend(queue.drain(..take));
        }
        if block.is_empty() {
            break;
        }
        included += block.len();
        let at = net.state.timestamp_ms + 1;
        let effects = net.block_at(at, block);
        for tx in &effects.transactions {
            assert!(!matches!(tx.status, TxStatus::Skipped { .. }), "{:?}", tx.status);
        }
    }
    assert!(included > 8, "the runs make progress: {included} included");
    // What is left could not pay: executing it anyway would skip it.
    let left: Vec<SignedTransaction> = queues.into_iter().flatten().collect();
    assert!(!left.is_empty(), "some senders spent everything");
    let at = net.state.timestamp_ms + 1;
    let effects = net.block_at(at, left);
    assert!(effects.transactions.iter().any(|tx| matches!(tx.status, TxStatus::Skipped { .. })));
}

/// An operator moves its node to another address and network key: the record and the
/// committee change at once (clients pin the new key from the next read of the system), with
/// `NodeInfoUpdated`; nobody else may, and the usual bounds hold.
#[test]
fn an_operator_changes_its_nodes_address_and_network_key_at_once() {
    let mut net = Net::new();
    let operator = Net::operator();
    let member = net.state.system.committee.members[0].clone();
    let moved = Call::SetNodeInfo {
        node_id: member.node_id,
        name: None,
        network_address: Some("10.0.0.7:9185".into()),
        network_public_key: Some(common::network_key(60)),
    };
    assert_eq!(failure(&net.run(0, moved.clone())), "EAuthorizationFailure");
    let effects = net.run_as(&operator, moved);
    assert_eq!(effects.events[0].event, Event::NodeInfoUpdated { epoch: Epoch(0), node_id: member.node_id });
    let record = &net.state.system.nodes[&member.node_id];
    assert_eq!(
        (record.network_address.as_str(), record.network_public_key),
        ("10.0.0.7:9185", common::network_key(60))
    );
    let now =
        net.state.system.committee.members.iter().find(|m| m.node_id == member.node_id).expect("member");
    assert_eq!(
        (now.network_address.as_str(), now.network_public_key),
        ("10.0.0.7:9185", common::network_key(60))
    );
    assert_eq!(now.shards, member.shards);
    let long = Call::SetNodeInfo {
        node_id: member.node_id,
        name: Some("n".repeat(101)),
        network_address: None,
        network_public_key: None,
    };
    assert_eq!(failure(&net.run_as(&operator, long)), "EInvalidNodeInfo");
}

#[test]
fn equivocation_evidence_is_recorded_once_per_round_and_forged_evidence_refuses_the_block() {
    use walrus_chain::evidence::{Equivocation, EvidenceError, SignedVote};
    use walrus_chain::finality::{vote_message, Vote};

    let validators: Vec<Ed25519KeyPair> =
        (0..4u8).map(|i| Ed25519KeyPair::from_seed(&[i + 50; 32])).collect();
    let nodes: Vec<BlsKeyPair> = (0..4u8).map(|i| BlsKeyPair::from_seed(&[i + 1; 32])).collect();
    let users: Vec<Ed25519KeyPair> = (0..3u8).map(|i| Ed25519KeyPair::from_seed(&[i + 100; 32])).collect();
    let mut genesis = genesis(&nodes, &users);
    genesis.validators = validators
        .iter()
        .map(|k| GenesisValidator { public_key: k.public(), p2p_address: "127.0.0.1:1".into() })
        .collect();
    let mut state = genesis.build().expect("valid genesis");
    let sign = |key: &Ed25519KeyPair, view: u64, vote: Vote| SignedVote {
        vote,
        signature: key.sign(&vote_message(0, view, &vote)),
    };
    let conflicting = |key: &Ed25519KeyPair, view: u64| Equivocation {
        validator: key.public(),
        epoch: 0,
        view,
        first: sign(key, view, Vote::Notarize { parent_view: view - 1, payload: [1; 32] }),
        second: sign(key, view, Vote::Notarize { parent_view: view - 1, payload: [2; 32] }),
    };
    let block_with = |state: &mut State, evidence: Vec<Equivocation>| {
        let mut block = Block::next(state, state.timestamp_ms + 1, Vec::new());
        block.evidence = evidence;
        execute_block(state, &block)
    };

    // Two validators convicted in one block; the record is in the state digest.
    let before = state.digest();
    let effects =
        block_with(&mut state, vec![conflicting(&validators[1], 9), conflicting(&validators[2], 4)])
            .expect("valid");
    assert_ne!(state.header().0.records_root, genesis.build().expect("valid").header().0.records_root);
    assert_ne!(state.digest(), before);
    let events: Vec<_> = effects.all_events().map(|e| (e.tx_digest, e.event.clone())).collect();
    assert_eq!(
        events,
        vec![
            (
                None,
                Event::ValidatorEquivocated {
                    validator: validators[1].public(),
                    consensus_epoch: 0,
                    view: 9,
                    count: 1
                }
            ),
            (
                None,
                Event::ValidatorEquivocated {
                    validator: validators[2].public(),
                    consensus_epoch: 0,
                    view: 4,
                    count: 1
                }
            ),
        ]
    );
    assert_eq!(
        state.records.root(),
        state.records.recomputed_root(),
        "the records' set hash follows the convictions"
    );

    // The same evidence again, or an older round, changes nothing; a later round counts.
    let effects =
        block_with(&mut state, vec![conflicting(&validators[1], 9), conflicting(&validators[1], 3)])
            .expect("valid");
    assert_eq!(effects.all_events().count(), 0);
    let effects = block_with(&mut state, vec![conflicting(&validators[1], 12)]).expect("valid");
    assert_eq!(effects.all_events().count(), 1);
    assert_eq!(state.convictions[&validators[1].public()].count, 2);
    assert_eq!(state.convictions[&validators[1].public()].latest.view, 12);
    assert_eq!(state.records.root(), state.records.recomputed_root());

    // Forged, non-conflicting or a stranger's evidence makes the whole block invalid.
    let height = state.height;
    let mut forged = conflicting(&validators[3], 20);
    forged.second.signature = validators[0].sign(b"something else");
    assert_eq!(
        block_with(&mut state, vec![forged]),
        Err(BlockError::Evidence { index: 0, source: EvidenceError::Signature("second") })
    );
    let mut same = conflicting(&validators[3], 20);
    same.second = same.first;
    assert_eq!(
        block_with(&mut state, vec![same]),
        Err(BlockError::Evidence { index: 0, source: EvidenceError::NotConflicting })
    );
    let stranger = Ed25519KeyPair::from_seed(&[99; 32]);
    assert_eq!(
        block_with(&mut state, vec![conflicting(&stranger, 20)]),
        Err(BlockError::Evidence { index: 0, source: EvidenceError::NotValidator })
    );
    let many = (0..17).map(|view| conflicting(&validators[3], 30 + view)).collect();
    assert_eq!(block_with(&mut state, many), Err(BlockError::TooMuchEvidence));
    assert_eq!(state.height, height, "a refused block changes nothing");
}
