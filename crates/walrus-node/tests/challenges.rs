//! Storage challenges end to end on the in-process network (four nodes, ten shards, 40 s
//! epochs, every blob challenged): the validator commits and reveals, a node starts the
//! challenge, every node proves its items, has its peers verify them and certifies them on
//! chain. Honest nodes pass everything and keep their whole reward. A node that deleted one of
//! its ten blobs tries to rebuild it from its peers while the challenge runs, is refused (the
//! freeze), proves 90% of its items and keeps 80% of its reward. A drawn blob's slivers are
//! refused with 503 `CHALLENGE_IN_PROGRESS` and a `Retry-After` while it runs.

use walrus_chain::challenge::Settlement;
use walrus_core::encode::encode_blob;
use walrus_core::{EncodingParams, Epoch, ObjectId};
use walrus_testkit::*;

/// The chain's epoch now.
async fn epoch(net: &Net) -> Epoch {
    net.chain_client.system().await.expect("system").system.epoch()
}

/// Waits (up to `seconds`) until the chain is in epoch `wanted` or later.
async fn wait_epoch(net: &Net, wanted: u32, seconds: u64) {
    assert!(eventually(seconds, || async { epoch(net).await.0 >= wanted }).await, "no epoch {wanted}");
}

/// Each committee member's last settlement, by node ID.
async fn settlements(net: &Net) -> Vec<(ObjectId, Option<Settlement>)> {
    let system = net.chain_client.system().await.expect("system").system;
    system.nodes.iter().map(|(id, node)| (*id, node.challenge.last)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_lost_a_tenth_of_its_blobs_is_caught_and_paid_less() {
    let net = Net::start_challenged(4, 40_000, 10).await;
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
    // Certified in epoch 0, challenged in epoch 1. The cheater loses every sliver of one blob.
    wait_epoch(&net, 1, 60).await;
    let cheater = 3;
    let cheater_key = *net.nodes[cheater].node.bls.public();
    let shards = net.nodes[cheater].node.view().shards.clone();
    net.nodes[cheater].node.store.delete_blob_data(&blobs[0], &shards).expect("deleted");

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

    // The epoch change settles the challenge.
    wait_epoch(&net, 2, 60).await;
    let committee = net.chain_client.committee().await.expect("committee");
    let cheater_id = committee.members.iter().find(|m| m.public_key == cheater_key).map(|m| m.node_id);
    let mut seen = 0;
    for (node_id, settlement) in settlements(&net).await {
        let s = settlement.expect("every node was settled");
        assert_eq!(s.epoch, Epoch(1));
        assert!(s.n_items > 0 && s.n_items % 10 == 0, "{s:?}");
        if Some(node_id) == cheater_id {
            assert_eq!(s.n_passed, s.n_items / 10 * 9, "the lost blob's items fail: {s:?}");
            assert_eq!(s.reward_bps, 8_000, "{s:?}");
        } else {
            assert_eq!((s.n_passed, s.reward_bps), (s.n_items, 10_000), "{s:?}");
        }
        seen += 1;
    }
    assert_eq!(seen, 4);
    // The freeze is over (the deadline and the clock-skew margin past): the blob is read again.
    let served = eventually(10, || async {
        net.http.get(net.url(0, &path)).send().await.is_ok_and(|r| r.status().as_u16() == 200)
    });
    assert!(served.await, "served again after the challenge");
    let metric = net.metric(cheater, "walrus_challenge_missing_items").await;
    assert_eq!(metric, shards.len() as u64);
    net.stop().await;
}
