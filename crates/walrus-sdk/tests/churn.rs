//! Churn, reduced for CI (the full form is 1000 shards, 30-second epochs and ten
//! changes): four in-process nodes, n = 10, 4-second epochs, six epoch changes. Before each
//! mid-epoch, stake moves (new stake on one node, an earlier stake withdrawn from another), so
//! that nodes gain and lose shards at most changes, while a client stores a blob and reads it and
//! an older one back, over and over (and every blob at the end). Every store succeeds (retrying by itself), every read
//! returns the right bytes, and every shard has exactly one owner in every committee.

use std::time::{Duration, Instant};

use walrus_chain::Frost;
use walrus_core::keys::Ed25519KeyPair;
use walrus_core::{BlobId, Epoch};
use walrus_sdk::{BlobStoreResult, Client, StoreOptions};
use walrus_testkit::{Net, N};

const CHANGES: u32 = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_and_reads_never_fail_while_stake_moves_shards() {
    let net = Net::start_with(4, 4_000).await;
    let staker = Ed25519KeyPair::from_seed(&[81; 32]);
    for _ in 0..3 {
        net.chain_client.faucet(staker.address(), 1_000_000_000_000).await.expect("funded");
    }
    let stakes = Client::new(&net.chain_url, staker);
    let wallet = Ed25519KeyPair::from_seed(&[82; 32]);
    net.chain_client.faucet(wallet.address(), 1_000_000_000_000).await.expect("funded");
    let client = Client::new(&net.chain_url, wallet);
    let nodes: Vec<_> =
        net.chain_client.committee().await.expect("committee").members.iter().map(|m| m.node_id).collect();

    let options = StoreOptions { epochs_ahead: 20, ..StoreOptions::default() };
    let mut stored: Vec<(BlobId, Vec<u8>)> = Vec::new();
    let mut staked = Vec::new();
    let mut moved_in = None;
    let mut committees = Vec::new();
    let started = Instant::now();
    let mut i = 0u32;
    loop {
        let system = net.chain_client.system().await.expect("system").system;
        let epoch = system.epoch();
        if epoch >= Epoch(CHANGES) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "epochs stopped at {epoch}");
        if committees.last().map(|(e, _)| *e) != Some(epoch) {
            committees.push((epoch, system.committee.members.clone()));
        }
        // Once per epoch, before mid-epoch: stake on the next node, withdraw the stake of two
        // epochs ago.
        if moved_in != Some(epoch) && system.next_committee.is_none() {
            let node = nodes[(epoch.0 as usize) % nodes.len()];
            staked.push(stakes.stake(node, Frost::from_wal(400).expect("fits")).await.expect("staked"));
            if staked.len() > 2 {
                let old = staked.remove(0);
                stakes.request_withdraw_stake(old).await.expect("withdrawal requested");
            }
            moved_in = Some(epoch);
        }
        let mut data: Vec<u8> = (0..30_000u32).map(|j| (j.wrapping_mul(17) % 253) as u8).collect();
        data[..4].copy_from_slice(&i.to_le_bytes());
        match client.store(data.clone(), options).await {
            Ok(BlobStoreResult::NewlyCreated(new)) => stored.push((new.blob_id, data)),
            other => panic!("store {i} in epoch {epoch} ({:?}): {other:?}", started.elapsed()),
        }
        // The new blob and an older one, each time.
        for (blob_id, bytes) in [&stored[stored.len() - 1], &stored[(i as usize * 7) % stored.len()]] {
            let read = client.read(blob_id).await;
            assert_eq!(read.as_ref().ok(), Some(bytes), "read of {blob_id} in epoch {epoch}: {read:?}");
        }
        i += 1;
    }
    let moved = committees.windows(2).filter(|w| {
        let shards = |members: &[walrus_chain::system::Member]| {
            let mut by_node: Vec<_> = members.iter().map(|m| (m.node_id, m.shards.clone())).collect();
            by_node.sort();
            by_node
        };
        shards(&w[0].1) != shards(&w[1].1)
    });
    assert!(moved.count() >= 2, "stake moved shards at fewer than 2 changes: {committees:?}");
    for (epoch, members) in &committees {
        let mut owners = vec![0u8; usize::from(N)];
        for member in members {
            for shard in &member.shards {
                owners[usize::from(shard.0)] += 1;
            }
        }
        assert!(owners.iter().all(|o| *o == 1), "epoch {epoch}: {members:?}");
    }
    for (blob_id, bytes) in &stored {
        assert_eq!(&client.read(blob_id).await.expect("read after the churn"), bytes);
    }
    println!("{} stores and their reads through {CHANGES} epoch changes", stored.len());
    net.stop().await;
}
