//! The SDK across an epoch change that moves shards (an in-process network of three nodes,
//! n = 10, 6-second epochs): while the change waits for a node that gained most of the shards
//! and is down, a blob certified before the epoch is read from the previous committee (the
//! current one could not serve it); back up, the node rebuilds its new shards, reports, and the
//! change completes.

use walrus_chain::epoch::EpochState;
use walrus_chain::{Call, Frost};
use walrus_core::keys::Ed25519KeyPair;
use walrus_core::Epoch;
use walrus_sdk::{BlobStoreResult, Client, StoreOptions};
use walrus_testkit::{eventually, Net};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_during_a_change_use_the_previous_committee_and_a_late_node_catches_up() {
    let mut net = Net::start_with(3, 6_000).await;
    let key = *net.nodes[0].node.bls.public();
    let committee = net.chain_client.committee().await.expect("committee");
    let node_id = committee.members.iter().find(|m| m.public_key == key).expect("member").node_id;
    // 400, 300 and 300 WAL; 900 more make node 0 hold 7 of the 10 shards in epoch 1, so the
    // change cannot end (a quorum is 7) without its report.
    let stake = Call::StakeWithPool { node_id, amount: Frost::from_wal(900).expect("fits") };
    net.chain_client.execute(&net.user, stake).await.expect("staked");
    assert!(net.chain_client.system().await.expect("system").system.next_committee.is_none(), "too slow");

    let wallet = Ed25519KeyPair::from_seed(&[77; 32]);
    net.chain_client.faucet(wallet.address(), 1_000_000_000_000).await.expect("funded");
    let client = Client::new(&net.chain_url, wallet);
    let data: Vec<u8> = (0..40_000u32).map(|i| (i * 13 % 256) as u8).collect();
    let options = StoreOptions { epochs_ahead: 10, ..StoreOptions::default() };
    let blob_id = match client.store(data.clone(), options).await.expect("stored") {
        BlobStoreResult::NewlyCreated(stored) => stored.blob_id,
        other => panic!("expected a new blob, got {other:?}"),
    };

    // Node 0 goes down; the others step into epoch 1, whose change waits for node 0.
    let stopped = net.nodes.remove(0);
    stopped.run_until(async {}).await.expect("stops");
    let waiting = eventually(30, || async {
        let system = net.chain_client.system().await.expect("system").system;
        system.epoch() == Epoch(1) && matches!(system.epoch_state, EpochState::ChangeSync { .. })
    })
    .await;
    assert!(waiting, "epoch 1 never began");
    assert_eq!(client.read(&blob_id).await.expect("read from the previous committee"), data);

    // Back up: it rebuilds the shards it gained and reports; the change completes.
    net.restart(0).await;
    let done = eventually(60, || async {
        let system = net.chain_client.system().await.expect("system").system;
        !matches!(system.epoch_state, EpochState::ChangeSync { .. })
    })
    .await;
    assert!(done, "the change never completed after node 0 came back");
    assert_eq!(client.read(&blob_id).await.expect("read from the new committee"), data);
    net.stop().await;
}

/// Stores go on through an epoch change that moves shards: every store succeeds (retrying by
/// itself when the committee changes under it), and every blob reads back afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_across_an_epoch_change_all_succeed() {
    let net = Net::start_with(3, 5_000).await;
    let key = *net.nodes[0].node.bls.public();
    let committee = net.chain_client.committee().await.expect("committee");
    let node_id = committee.members.iter().find(|m| m.public_key == key).expect("member").node_id;
    let stake = Call::StakeWithPool { node_id, amount: Frost::from_wal(900).expect("fits") };
    net.chain_client.execute(&net.user, stake).await.expect("staked");
    let wallet = Ed25519KeyPair::from_seed(&[78; 32]);
    net.chain_client.faucet(wallet.address(), 1_000_000_000_000).await.expect("funded");
    let client = Client::new(&net.chain_url, wallet);
    let options = StoreOptions { epochs_ahead: 10, ..StoreOptions::default() };
    let mut stored = Vec::new();
    let started = std::time::Instant::now();
    let mut i = 0u32;
    // Until two epoch changes have passed (the first one moves the stake's shards).
    while net.chain_client.system().await.expect("system").system.epoch() < Epoch(2) {
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "epochs do not advance");
        let mut data: Vec<u8> = (0..20_000u32).map(|j| (j.wrapping_mul(31) % 251) as u8).collect();
        data[..4].copy_from_slice(&i.to_le_bytes());
        let result = client.store(data.clone(), options).await;
        let blob_id = match result {
            Ok(BlobStoreResult::NewlyCreated(new)) => new.blob_id,
            other => panic!("store {i} at {:?}: {other:?}", started.elapsed()),
        };
        stored.push((blob_id, data));
        i += 1;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(stored.len() > 3, "too few stores to cross the change: {}", stored.len());
    for (blob_id, data) in &stored {
        assert_eq!(&client.read(blob_id).await.expect("read"), data);
    }
    net.stop().await;
}
