//! Storage challenges end to end on the in-process network (four nodes, ten shards, 40 s
//! epochs, every blob challenged): the validator commits and reveals, a node starts the
//! challenge, every node proves its items, has its peers verify them and certifies them on
//! chain. A node deleted one of its ten blobs before the challenge and tries to rebuild it from
//! its peers once the challenge starts (the relay attack: it holds nothing, and fetches what it
//! is asked).
//!
//! With the freeze, its peers refuse: it proves 90% of its items and keeps 80% of its reward,
//! the honest nodes pass everything and keep all of theirs, and a drawn blob's slivers are
//! refused with 503 `CHALLENGE_IN_PROGRESS` and a `Retry-After` while the challenge runs.
//! Without the freeze (every node's `challenge_freeze: false`) the same node rebuilds the blob
//! in time and passes everything: the freeze is what defeats the attack.

use walrus_chain::challenge::Settlement;
use walrus_core::challenge::ChallengeChunk;
use walrus_core::encode::encode_blob;
use walrus_core::keys::BlsKeyPair;
use walrus_core::{BlobId, EncodingParams, Epoch, ShardIndex};
use walrus_testkit::*;

/// The chain's epoch now.
async fn epoch(net: &Net) -> Epoch {
    net.chain_client.system().await.expect("system").system.epoch()
}

/// Waits (up to `seconds`) until the chain is in epoch `wanted` or later.
async fn wait_epoch(net: &Net, wanted: u32, seconds: u64) {
    assert!(eventually(seconds, || async { epoch(net).await.0 >= wanted }).await, "no epoch {wanted}");
}

/// The node that loses a blob.
const CHEATER: usize = 3;

/// Stores ten blobs in epoch 0; in epoch 1 the cheater deletes every sliver of the first on all
/// its shards. Returns the blob IDs and the cheater's shards.
async fn store_and_lose(net: &Net) -> (Vec<BlobId>, Vec<ShardIndex>) {
    let params = EncodingParams::new(u64::from(N)).expect("params");
    let mut blobs = Vec::new();
    for i in 0..10u8 {
        let blob = encode_blob(params, &vec![i; 3000 + usize::from(i)]).expect("encodable");
        let object = net.register_for(blob.metadata(), false, 6).await;
        let mut signed = Vec::new();
        for node in 0..4 {
            signed.push(net.upload_and_confirm(node, &blob).await);
        }
        net.certify(object, &[0, 1, 2, 3], &signed).await;
        blobs.push(*blob.metadata().blob_id());
    }
    // Certified in epoch 0, challenged in epoch 1.
    wait_epoch(net, 1, 60).await;
    let shards = net.nodes[CHEATER].node.view().shards.clone();
    net.nodes[CHEATER].node.store.delete_blob_data(&blobs[0], &shards).expect("deleted");
    (blobs, shards)
}

/// Once epoch 2 began: every node's settlement of epoch 1, the cheater's first.
async fn settled(net: &Net) -> (Settlement, Vec<Settlement>) {
    wait_epoch(net, 2, 60).await;
    let system = net.chain_client.system().await.expect("system").system;
    let cheater_key = *net.nodes[CHEATER].node.bls.public();
    let mut cheater = None;
    let mut honest = Vec::new();
    for node in system.nodes.values() {
        let s = node.challenge.last.expect("every node was settled");
        assert_eq!(s.epoch, Epoch(1));
        assert!(s.n_items > 0 && s.n_items % 10 == 0, "{s:?}");
        if node.public_key == cheater_key {
            cheater = Some(s);
        } else {
            honest.push(s);
        }
    }
    (cheater.expect("the cheater was settled"), honest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_lost_a_tenth_of_its_blobs_is_caught_and_paid_less() {
    let net = Net::start_challenged(4, 40_000, 10).await;
    let (blobs, shards) = store_and_lose(&net).await;
    // While the challenge runs, the drawn blobs' slivers are served to nobody.
    let started = eventually(50, || async {
        let system = net.chain_client.system().await.expect("system").system;
        system.epoch() == Epoch(1) && system.round.challenge.is_some()
    });
    assert!(started.await, "the challenge of epoch 1 started");
    let pair = net.pairs_of(0, &blobs[1])[0];
    let path = format!("/v1/blobs/{}/slivers/{}/primary", blobs[1], pair.0);
    let refused = eventually(5, || async {
        let response = net.http.get(net.url(0, &path)).send().await.expect("answer");
        let retry_after = response.headers().contains_key("retry-after");
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.expect("JSON");
        status == 503 && retry_after && reason(&body) == "CHALLENGE_IN_PROGRESS"
    });
    assert!(refused.await, "a drawn blob's sliver is refused during the challenge");
    // Only a prover's own signed chunks count: one signed by another key is refused.
    let committee = net.chain_client.committee().await.expect("committee");
    let victim = committee.members[0].node_id;
    let forged =
        ChallengeChunk { items: Vec::new(), signature: BlsKeyPair::from_seed(&[9; 32]).sign(b"forged") };
    let url = net.url(0, &format!("/v1/challenges/1/items?node_id={victim}"));
    let bytes = bcs::to_bytes(&forged).expect("BCS");
    // (Once node 0 has seen the start: before, every chunk is answered 503, retry.)
    let unauthorized = eventually(10, || async {
        let response = net.http.post(&url).body(bytes.clone()).send().await.expect("answer");
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.expect("JSON");
        (status, reason(&body)) == (401, "REQUEST_UNAUTHORIZED")
    });
    assert!(unauthorized.await, "a chunk not signed by its prover is refused");

    let (cheater, honest) = settled(&net).await;
    assert_eq!(cheater.n_passed, cheater.n_items / 10 * 9, "the lost blob's items fail: {cheater:?}");
    assert_eq!(cheater.reward_bps, 8_000, "{cheater:?}");
    assert_eq!(honest.len(), 3);
    for s in honest {
        assert_eq!((s.n_passed, s.reward_bps), (s.n_items, 10_000), "{s:?}");
    }
    // The cheater's attempt to rebuild was refused by its peers (nodes 1 and 2, which the test
    // did not ask itself); its bundle said so.
    let mut refusals = 0;
    for node in 1..3 {
        refusals += net.metric(node, "walrus_challenge_refusals_total").await;
    }
    assert!(refusals > 0, "the peers refused the cheater's recovery");
    assert_eq!(net.metric(CHEATER, "walrus_challenge_missing_items").await, shards.len() as u64);
    // The node's report shows the settlement once its driver has read it (every 2 s).
    let reported = eventually(10, || async {
        let (_, health) = net.get_json(CHEATER, "/v1/health?detailed=true").await;
        health["success"]["data"]["challenge"]["lastSettled"]["rewardBps"] == 8_000
    });
    assert!(reported.await, "the detailed health report shows the settlement");
    // The freeze is over (the deadline and the clock-skew margin past): the blob is read again.
    let served = eventually(10, || async {
        net.http.get(net.url(0, &path)).send().await.is_ok_and(|r| r.status().as_u16() == 200)
    });
    assert!(served.await, "served again after the challenge");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_freeze_the_same_node_rebuilds_on_demand_and_passes() {
    let net = Net::start_challenged_with(4, 40_000, 10, |config| config.challenge_freeze = false).await;
    let (blobs, shards) = store_and_lose(&net).await;
    let (cheater, honest) = settled(&net).await;
    assert_eq!((cheater.n_passed, cheater.reward_bps), (cheater.n_items, 10_000), "{cheater:?}");
    assert!(honest.iter().all(|s| s.n_passed == s.n_items));
    // It answered with slivers it did not hold when the challenge began.
    let store = &net.nodes[CHEATER].node.store;
    let healed = shards.iter().all(|&shard| {
        matches!(store.sliver(shard, walrus_core::SliverType::Primary, &blobs[0]), Ok(Some(_)))
    });
    assert!(healed, "the lost blob was rebuilt from the peers during the challenge");
    net.stop().await;
}
