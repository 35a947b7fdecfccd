//! Garbage collection against registrations and uploads on a running node (real chain node,
//! the node over HTTP, short epochs): a blob whose registration ran out is registered again
//! while the collection is under way, and the node neither loses the new registration's record
//! nor ever signs a confirmation for slivers whose files are gone. (The crash between the
//! collection's index delete and its unlink is the store's own test:
//! `cargo test -p walrus-store --lib crash_between`.)

use std::time::{Duration, Instant};

use walrus_core::encode::{encode_blob, EncodedBlob};
use walrus_core::{BlobId, EncodingParams, Epoch, ObjectId, SliverType};
use walrus_testkit::*;

/// Epochs of the first test's network: long enough for its set-up to fit in one.
const EPOCH_MS: u64 = 8_000;

/// Epochs of the interleaved test's network.
const SHORT_EPOCH_MS: u64 = 6_000;

/// `count` blobs whose IDs fall in distinct lock stripes (the stripe is the ID's first byte), so
/// that a test may hold all their locks at once.
fn blobs(count: usize, seed: u8) -> Vec<EncodedBlob> {
    let params = EncodingParams::new(u64::from(N)).expect("params");
    let mut out: Vec<EncodedBlob> = Vec::new();
    for i in 0u32.. {
        let blob =
            encode_blob(params, &[&[seed][..], &i.to_le_bytes(), &[7u8; 2_000]].concat()).expect("encodable");
        let first = blob.metadata().blob_id().as_bytes()[0];
        if out.iter().all(|b| b.metadata().blob_id().as_bytes()[0] != first) {
            out.push(blob);
        }
        if out.len() == count {
            break;
        }
    }
    out
}

/// Waits until node 0 holds the record of `object` (it read the registration's event).
async fn wait_for_record(net: &Net, blob_id: &BlobId, object: ObjectId) {
    let store = &net.nodes[0].node.store;
    let seen = eventually(15, || async {
        store.objects_of(blob_id).expect("records").iter().any(|o| o.object_id == object)
    })
    .await;
    assert!(seen, "node 0 never recorded {object} of {blob_id}");
}

/// Waits for node 0 to enter an epoch after the one it is in; returns the new one.
async fn next_epoch(net: &Net) -> Epoch {
    let now = net.nodes[0].node.view().epoch;
    let started = Instant::now();
    loop {
        let epoch = net.nodes[0].node.view().epoch;
        if epoch > now {
            return epoch;
        }
        assert!(started.elapsed() < Duration::from_millis(3 * EPOCH_MS), "no epoch change after {now:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Uploads the blob's metadata and slivers to node 0, whatever the node answers (the blob may
/// be unregistered or already stored at that moment).
async fn upload_any(net: &Net, blob: &EncodedBlob) {
    let blob_id = blob.metadata().blob_id();
    net.put(0, &format!("/v1/blobs/{blob_id}/metadata"), blob.metadata().metadata_bcs()).await;
    for pair in net.pairs_of(0, blob_id) {
        let (primary, secondary) = blob.sliver_pair(pair);
        for (axis, sliver) in [("primary", primary), ("secondary", secondary)] {
            net.put(0, &format!("/v1/blobs/{blob_id}/slivers/{}/{axis}", pair.0), sliver.to_bcs()).await;
        }
    }
}

/// Node 0's permanent confirmation of the blob, if it gives one. When it does, every sliver it
/// is responsible for is read back from its store and verified: a confirmation is never signed
/// for a sliver whose file is gone. (The caller asks only while the blob is registered for
/// epochs to come, so no collection can remove the data in between.)
async fn confirmed_with_data(net: &Net, blob: &EncodedBlob) -> bool {
    let blob_id = blob.metadata().blob_id();
    let (status, body) = net.get_json(0, &format!("/v1/blobs/{blob_id}/confirmation/permanent")).await;
    if status != 200 {
        assert!(status < 500, "{status} {body}");
        return false;
    }
    let node = &net.nodes[0].node;
    for shard in &node.view().shards {
        for axis in [SliverType::Primary, SliverType::Secondary] {
            let sliver = node.store.sliver(*shard, axis, blob_id).expect("read").unwrap_or_else(|| {
                panic!("node 0 confirmed {blob_id} without its {axis:?} sliver of shard {shard:?}")
            });
            sliver.verify(axis, blob.metadata()).expect("the stored sliver verifies");
        }
    }
    true
}

/// Uploads until node 0 confirms the blob (with its data), within 30 s.
async fn converge(net: &Net, blob: &EncodedBlob) {
    let started = Instant::now();
    while !confirmed_with_data(net, blob).await {
        assert!(started.elapsed() < Duration::from_secs(30), "{} never confirmed", blob.metadata().blob_id());
        upload_any(net, blob).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The collection runs into a held blob lock at the epoch change; while it waits, half the
/// blobs are registered again. Those keep their data and records (confirmed with no new
/// upload); the others are collected, files and all, and when registered again afterwards take
/// uploads and are confirmed.
// The locks are held over awaits on purpose: the test plays a writer that holds them while the
// collection waits (nothing the test awaits meanwhile takes them).
#[allow(clippy::await_holding_lock)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_during_collection_keeps_its_record_and_data() {
    let net = Net::start_with(1, EPOCH_MS).await;
    let blobs = blobs(6, 1);
    next_epoch(&net).await;
    for blob in &blobs {
        net.register_for(blob.metadata(), false, 1).await;
        net.upload_and_confirm(0, blob).await;
    }
    let node = std::sync::Arc::clone(&net.nodes[0].node);
    // The collection goes through blobs in the order of their IDs' bytes and blocks on the
    // first: that one is among the renewed (every other one is).
    let mut sorted: Vec<&EncodedBlob> = blobs.iter().collect();
    sorted.sort_by_key(|b| *b.metadata().blob_id().as_bytes());
    let kept: Vec<&EncodedBlob> = sorted.iter().step_by(2).copied().collect();
    let collected: Vec<&EncodedBlob> = sorted.iter().skip(1).step_by(2).copied().collect();
    let mut renewed = Vec::new();
    {
        let _locks: Vec<_> =
            blobs.iter().map(|b| node.blob_locks.exclusive(b.metadata().blob_id())).collect();
        next_epoch(&net).await;
        // The collection has listed the six blobs: it now waits on the lock of the first.
        let listed =
            eventually(15, || async { net.metric(0, "walrus_gc_candidates_total").await >= 6 }).await;
        assert!(listed, "the collection never listed the expired blobs");
        for blob in &kept {
            let object = net.register_only(blob.metadata(), false, 4).await;
            wait_for_record(&net, blob.metadata().blob_id(), object).await;
            renewed.push(object);
        }
        // Still nothing collected: the collection waits for the locks.
        assert_eq!(net.metric(0, "walrus_blobs_collected_total").await, 0);
    }
    let done = eventually(15, || async { net.metric(0, "walrus_blobs_collected_total").await >= 3 }).await;
    assert!(done, "the collection did not finish");
    assert_eq!(net.metric(0, "walrus_blobs_collected_total").await, 3, "only the blobs no one renewed");
    for (blob, object) in kept.iter().zip(&renewed) {
        let blob_id = blob.metadata().blob_id();
        assert!(node.store.objects_of(blob_id).expect("records").iter().any(|o| o.object_id == *object));
        assert!(confirmed_with_data(&net, blob).await, "{blob_id} lost its data");
    }
    for blob in &collected {
        let blob_id = blob.metadata().blob_id();
        let (_, body) = net.get_json(0, &format!("/v1/blobs/{blob_id}/status")).await;
        assert_eq!(body["success"]["data"], "nonexistent", "{body}");
        let dir = net.dir.node(0).join("db").join("slivers").join(hex_of(blob_id.as_bytes()));
        assert!(!dir.exists(), "the files of collected {blob_id} are still there");
        let object = net.register_only(blob.metadata(), false, 2).await;
        wait_for_record(&net, blob_id, object).await;
        assert!(!confirmed_with_data(&net, blob).await, "confirmed {blob_id} before any upload");
        converge(&net, blob).await;
    }
    net.stop().await;
}

/// Waits until the chain's next epoch change is due within a second (block times are this
/// machine's clock; an idle chain makes no block to read the time from): the
/// epoch runs from the end of the previous change's shard sync, which the node reports after
/// its driver's next poll, so the time of the node's view changing does not tell.
async fn until_change_is_near(net: &Net) {
    let started = Instant::now();
    loop {
        let system = net.chain_client.system().await.expect("system");
        let selected =
            matches!(system.system.epoch_state, walrus_chain::epoch::EpochState::NextParamsSelected { .. });
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        if selected && system.next_epoch_step_ms.is_some_and(|due| due <= now_ms + 1_000) {
            return;
        }
        assert!(started.elapsed() < Duration::from_millis(3 * SHORT_EPOCH_MS), "no epoch change came near");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Registrations, uploads and collections interleaved at random over three epoch changes: each
/// round registers blobs until the next change, then registers them again for longer at moments
/// spread from a second before it to two after, while the node collects. Every blob ends
/// confirmed, and every confirmation given once the renewal was recorded came with its data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_upload_and_collection_interleaved() {
    let net = Net::start_with(1, SHORT_EPOCH_MS).await;
    for round in 0..3u8 {
        let blobs = blobs(6, 10 + round);
        next_epoch(&net).await;
        for blob in &blobs {
            net.register_only(blob.metadata(), false, 1).await;
            upload_any(&net, blob).await;
        }
        until_change_is_near(&net).await;
        let started = Instant::now();
        let spacing = Duration::from_millis(3_000 / blobs.len() as u64);
        let mut renewed = Vec::new();
        for (i, blob) in blobs.iter().enumerate() {
            tokio::time::sleep_until((started + spacing * i as u32).into()).await;
            renewed.push(net.register_only(blob.metadata(), false, 3).await);
        }
        for (blob, object) in blobs.iter().zip(renewed) {
            wait_for_record(&net, blob.metadata().blob_id(), object).await;
            converge(&net, blob).await;
        }
    }
    // (Renewals after the change find their blob collected; the others find it kept.)
    assert!(net.metric(0, "walrus_blobs_collected_total").await > 0, "no renewal came after a collection");
    net.stop().await;
}
