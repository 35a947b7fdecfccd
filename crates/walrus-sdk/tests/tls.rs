//! Storage nodes over TLS, as on a real network (an in-process network of four nodes, n = 10,
//! each serving HTTPS with a self-signed certificate on its registered network key): the SDK
//! stores and reads through connections pinned to each node's key; a node that was down
//! rebuilds its slivers from its peers over the same pinned TLS; a client pinned to another key,
//! a plain-HTTP request, and a plain-HTTP address of another machine all fail with a clear error.

use std::sync::atomic::Ordering;

use walrus_core::keys::Ed25519KeyPair;
use walrus_core::SliverType;
use walrus_node_client::{NodeConnector, NodeError};
use walrus_sdk::client::{NODE_ATTEMPTS_MAX, RETRY_PAUSE};
use walrus_sdk::{BlobStoreResult, Client, StoreOptions};
use walrus_testkit::{eventually, Net};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_reads_and_recovery_run_over_pinned_tls() {
    let mut net = Net::start_tls(4).await;
    let committee = net.chain_client.committee().await.expect("committee");
    // Node 3 (2 of the 10 shards) is down during the store; the other 8 shards are a quorum.
    let down_key = *net.nodes[3].node.bls.public();
    net.nodes.remove(3).run_until(async {}).await.expect("node 3 stops");

    let wallet = Ed25519KeyPair::from_seed(&[78; 32]);
    net.chain_client.faucet(wallet.address(), 1_000_000_000_000).await.expect("funded");
    let client = Client::new(&net.chain_url, wallet);
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let options = StoreOptions { epochs_ahead: 5, ..StoreOptions::default() };
    let blob_id = match client.store(data.clone(), options).await.expect("stored over TLS") {
        BlobStoreResult::NewlyCreated(stored) => stored.blob_id,
        other => panic!("expected a new blob, got {other:?}"),
    };
    assert_eq!(client.read(&blob_id).await.expect("read over TLS"), data);

    // Back up once the client has stopped retrying it (its attempts at node 3 go on after the
    // quorum returned the store: 5 attempts, with pauses doubling from 100 ms), node 3
    // recovers its slivers from its peers, over TLS pinned to their keys.
    tokio::time::sleep(RETRY_PAUSE * 2u32.pow(NODE_ATTEMPTS_MAX)).await;
    let restarted = net.restart(3).await;
    let node = &net.nodes[restarted].node;
    let shards = node.view().shards.clone();
    assert_eq!(shards.len(), 2);
    let held = eventually(30, || async {
        shards.iter().all(|shard| {
            [SliverType::Primary, SliverType::Secondary]
                .iter()
                .all(|axis| node.store.has_sliver(*shard, *axis, &blob_id).unwrap_or(false))
        })
    })
    .await;
    assert!(held, "node 3 never rebuilt its slivers");
    assert!(node.metrics.slivers_recovered.load(Ordering::Relaxed) >= 4);

    let member = committee.members.iter().find(|m| m.public_key == down_key).expect("member");
    let other = committee.members.iter().find(|m| m.public_key != down_key).expect("another member");
    let connector = NodeConnector::new();
    let health = connector.node(&member.network_address, &member.network_public_key).health().await;
    assert!(health.expect("health over TLS")["epoch"].is_number());
    // Pinned to another node's key, the handshake fails.
    let wrong = connector.node(&member.network_address, &other.network_public_key).health().await;
    let error = wrong.expect_err("another key is refused").to_string();
    assert!(error.contains("the chain registered"), "{error}");
    // The node speaks no plain HTTP.
    let plain = connector.node(&format!("http://{}", member.network_address), &member.network_public_key);
    assert!(matches!(plain.health().await, Err(NodeError::Transport { .. })));
    // A plain-HTTP address of another machine is never used.
    let remote = connector.node("http://192.0.2.1:9185", &member.network_public_key).health().await;
    assert!(matches!(remote, Err(NodeError::Unusable { .. })), "{remote:?}");
    net.stop().await;
}

/// An operator rotates a node's network key (a new key file, then a restart): the node
/// registers the new key on chain as it starts; clients pin it from then on and refuse the old
/// one, its peers read it from the chain's `NodeInfoUpdated`, and the SDK stores through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_network_key_is_registered_by_the_node_and_pinned_by_everyone() {
    let mut net = Net::start_tls(4).await;
    let key = *net.nodes[3].node.bls.public();
    let chain = net.chain_client.clone();
    let member_of = |committee: walrus_chain::system::Committee| {
        committee.members.into_iter().find(|m| m.public_key == key).expect("member")
    };
    let before = member_of(chain.committee().await.expect("committee"));
    net.nodes.remove(3).run_until(async {}).await.expect("node 3 stops");
    let path = net.dir.node(3).join("network.key");
    let new = walrus_tls::NetworkKeyPair::generate().expect("a new key");
    std::fs::write(&path, new.to_pem()).expect("key file replaced");
    let new = *new.public();
    assert_ne!(new, before.network_public_key);

    let restarted = net.restart(3).await;
    let registered = eventually(30, || async {
        member_of(chain.committee().await.expect("committee")).network_public_key == new
    })
    .await;
    assert!(registered, "node 3 never registered its new network key");
    let connector = NodeConnector::new();
    let health = connector.node(&before.network_address, &new).health().await;
    assert!(health.expect("health pinned to the new key")["epoch"].is_number());
    let old = connector.node(&before.network_address, &before.network_public_key).health().await;
    assert!(old.expect_err("the old key is refused").to_string().contains("the chain registered"));
    let peers_know = eventually(30, || async {
        member_of(net.nodes[0].node.view().committee.clone()).network_public_key == new
    })
    .await;
    assert!(peers_know, "node 0 still pins node 3's old key");

    let wallet = Ed25519KeyPair::from_seed(&[79; 32]);
    net.chain_client.faucet(wallet.address(), 1_000_000_000_000).await.expect("funded");
    let client = Client::new(&net.chain_url, wallet);
    let data: Vec<u8> = (0..50_000u32).map(|i| (i * 13 % 251) as u8).collect();
    let options = StoreOptions { epochs_ahead: 2, ..StoreOptions::default() };
    let blob_id = match client.store(data.clone(), options).await.expect("stored") {
        BlobStoreResult::NewlyCreated(stored) => stored.blob_id,
        other => panic!("expected a new blob, got {other:?}"),
    };
    // Node 3 got its slivers from the client, through its new key.
    let node = &net.nodes[restarted].node;
    let shards = node.view().shards.clone();
    let held = eventually(30, || async {
        shards
            .iter()
            .all(|shard| node.store.has_sliver(*shard, SliverType::Primary, &blob_id).unwrap_or(false))
    })
    .await;
    assert!(held, "node 3 lacks its slivers");
    assert_eq!(node.metrics.slivers_recovered.load(Ordering::Relaxed), 0);
    assert_eq!(client.read(&blob_id).await.expect("read"), data);
    net.stop().await;
}
