//! Storage nodes on loopback with a real chain node: a blob registered on chain is uploaded to
//! two nodes, each confirms, the confirmations aggregate into a certificate the chain accepts,
//! and every refusal path answers with the reference's error JSON.
//!
//! Ignored by a plain `cargo test`, run by `.ci/run` with `WALRUS_CONFORMANCE_DIR` set: the official SDK's storage-node client runs
//! against a node through `node-api.mjs`.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use walrus_core::encode::encode_blob;
use walrus_core::expand::sliver_roots;
use walrus_core::merkle::Node as MerkleNode;
use walrus_core::messages::SignedMessage;
use walrus_core::metadata::{BlobMetadata, UnverifiedBlobMetadataWithId};
use walrus_core::sliver::SliverUpload;
use walrus_core::sliver::UnverifiedSliver;
use walrus_core::{EncodingParams, SliverIndex, SliverPairIndex, SliverType};
use walrus_testkit::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_confirm_and_certify_through_two_nodes() {
    let net = Net::start(2).await;
    let params = EncodingParams::new(u64::from(N)).expect("params");
    let blob = encode_blob(params, &vec![7u8; 5000]).expect("encodable");
    let blob_id = *blob.metadata().blob_id();

    // Before registration: refused with NOT_REGISTERED (the SDK retries on it).
    let (status, body) =
        net.put(0, &format!("/v1/blobs/{blob_id}/metadata"), blob.metadata().metadata_bcs()).await;
    assert_eq!((status, reason(&body)), (400, "NOT_REGISTERED"), "{body}");

    let object = net.register(&blob, false).await;
    let (status, body) = net.get_json(0, &format!("/v1/blobs/{blob_id}/confirmation/permanent")).await;
    assert_eq!((status, reason(&body)), (400, "MISSING_SLIVERS"), "{body}");
    // A sliver for a shard the node does not hold, and a corrupted sliver, are refused.
    let foreign = net.pairs_of(1, &blob_id)[0];
    let (primary, _) = blob.sliver_pair(foreign);
    let (status, _) =
        net.put(0, &format!("/v1/blobs/{blob_id}/metadata"), blob.metadata().metadata_bcs()).await;
    assert_eq!(status, 201);
    let path = format!("/v1/blobs/{blob_id}/slivers/{}/primary", foreign.0);
    let (status, body) = net.put(0, &path, primary.to_bcs()).await;
    assert_eq!((status, reason(&body)), (400, "SHARD_NOT_ASSIGNED"), "{body}");
    let own = net.pairs_of(0, &blob_id)[0];
    let (primary, _) = blob.sliver_pair(own);
    let mut corrupt = primary.to_bcs();
    corrupt[5] ^= 0xff;
    let path = format!("/v1/blobs/{blob_id}/slivers/{}/primary", own.0);
    let (status, body) = net.put(0, &path, corrupt).await;
    assert_eq!((status, reason(&body)), (400, "INVALID_SLIVER"), "{body}");
    // The server refuses an oversized body by its declared length; one this small it reads and
    // drops first, so that the client, still writing, gets the 413 rather than a reset.
    let response = walrus_tls::http_client()
        .build()
        .expect("an HTTP client")
        .put(net.url(0, &path))
        .body(vec![0; 2 << 20])
        .send()
        .await;
    let response = response.expect("answer");
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!((status, reason(&body)), (413, "BODY_TOO_LARGE"), "{body}");

    let mut signed = Vec::new();
    for node in 0..2 {
        net.upload(node, &blob).await;
        let (status, body) = net.get_json(node, &format!("/v1/blobs/{blob_id}/confirmation/permanent")).await;
        assert_eq!(status, 200, "{body}");
        let message: SignedMessage =
            serde_json::from_value(body["success"]["data"]["signed"].clone()).expect("signed");
        signed.push(message);
    }
    // Reads give back verified bytes.
    let response =
        net.http.get(net.url(0, &format!("/v1/blobs/{blob_id}/slivers/{}/primary", own.0))).send().await;
    let bytes = response.expect("answer").bytes().await.expect("body");
    assert_eq!(bytes.as_ref(), blob.sliver_pair(own).0.to_bcs().as_slice());
    let response = net.http.get(net.url(1, &format!("/v1/blobs/{blob_id}/metadata"))).send().await;
    assert_eq!(
        response.expect("answer").bytes().await.expect("body").as_ref(),
        blob.metadata().to_bcs().as_slice()
    );

    // The two nodes hold all shards: their confirmations certify the blob on chain.
    net.certify(object, &[0, 1], &signed).await;
    for _ in 0..200 {
        let (_, status) = net.get_json(0, &format!("/v1/blobs/{blob_id}/status")).await;
        if status["success"]["data"]["permanent"]["isCertified"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (_, status) = net.get_json(0, &format!("/v1/blobs/{blob_id}/status")).await;
    assert_eq!(status["success"]["data"]["permanent"]["isCertified"], true, "{status}");

    let (status, body) = net.get_json(0, "/v1/blobs/not-a-blob/status").await;
    assert_eq!((status, reason(&body)), (400, "INVALID_BLOB_ID"));
    // axum's own refusals are the same error JSON: a query that does not parse, a wrong method.
    let bad_query = net.http.put(net.url(0, &format!("/v1/blobs/{blob_id}/metadata?pending=maybe"))).send();
    let bad_query = bad_query.await.expect("answer");
    assert_eq!(bad_query.status().as_u16(), 400);
    let body: serde_json::Value = bad_query.json().await.expect("error JSON");
    assert_eq!(reason(&body), "INVALID_REQUEST", "{body}");
    let wrong_method = net.http.delete(net.url(0, "/v1/health")).send().await.expect("answer");
    assert_eq!(wrong_method.status().as_u16(), 405);
    let body: serde_json::Value = wrong_method.json().await.expect("error JSON");
    assert_eq!(reason(&body), "METHOD_NOT_ALLOWED", "{body}");
    let metrics =
        net.http.get(net.url(0, "/metrics")).send().await.expect("answer").text().await.expect("text");
    assert!(metrics.contains("walrus_storage_confirmations_issued_total 1"), "{metrics}");
    net.stop().await;
}

/// Registers a 20 000-byte blob and runs the official SDK's storage-node client
/// (`node-api.mjs` from `WALRUS_CONFORMANCE_DIR`) against node `node`, on the pairs it holds:
/// stores, reads back and checks the confirmation signed in the current epoch.
async fn official_client_against(net: &Net, node: usize, seed: u32) {
    let conformance = std::env::var_os("WALRUS_CONFORMANCE_DIR").expect(
        "WALRUS_CONFORMANCE_DIR is not set: run ../shared/conformance/setup.sh and set it to its output",
    );
    let file = net._tmp.path().join(format!("blob-{seed}.bin"));
    let data: Vec<u8> = (0..20_000u32).map(|i| ((i + seed) * 7 % 251) as u8).collect();
    std::fs::write(&file, &data).expect("write blob");
    let params = EncodingParams::new(u64::from(N)).expect("params");
    let blob = encode_blob(params, &data).expect("encodable");
    net.register(&blob, false).await;
    let blob_id = *blob.metadata().blob_id();
    // The official client stores to this node only; it then needs its own pairs only.
    let pairs: Vec<String> = net.pairs_of(node, &blob_id).iter().map(|p| p.0.to_string()).collect();
    let key = hex_of(net.nodes[node].node.bls.public().as_bytes());
    let output = tokio::process::Command::new("node")
        .arg(Path::new(&conformance).join("node-api.mjs"))
        .args([
            "--node",
            &net.url(node, ""),
            "--file",
            file.to_str().expect("utf-8"),
            "--shards",
            &N.to_string(),
        ])
        .args(["--pairs", &pairs.join(","), "--public-key", &key])
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "node-api.mjs failed:\n{stdout}");
    assert!(stdout.contains("all checks passed"));
}

/// Runs the official SDK's storage-node client against one node (all its pairs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the official packages: WALRUS_CONFORMANCE_DIR from ../shared/conformance/setup.sh (.ci/run sets it and runs the ignored tests)"]
async fn the_official_sdk_client_works_against_a_node() {
    let net = Net::start(2).await;
    official_client_against(&net, 0, 0).await;
    net.stop().await;
}

/// The official SDK's storage-node client still works against a node after an epoch change
/// that gave it three more shards: on the pairs it holds now, with a confirmation of epoch 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the official packages: WALRUS_CONFORMANCE_DIR from ../shared/conformance/setup.sh (.ci/run sets it and runs the ignored tests)"]
async fn the_official_sdk_client_works_against_a_node_after_an_epoch_change() {
    let net = Net::start_with(3, 8_000).await;
    let (before, _) = stake_for_three_more_shards(&net).await;
    wait_for_the_first_change(&net).await;
    let view = net.nodes[0].node.view();
    assert!(view.epoch.0 >= 1 && view.shards.len() == before.len() + 3, "node 0 holds {:?}", view.shards);
    official_client_against(&net, 0, 1).await;
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_down_during_a_store_recovers_its_slivers_after_restart() {
    let mut net = Net::start(3).await;
    // The node with the fewest shards goes down; the other two hold 7 of 10, a quorum.
    let down = (0..3).min_by_key(|i| net.nodes[*i].node.view().shards.len()).expect("nodes");
    let stopped = net.nodes.remove(down);
    let own_shards = stopped.node.view().shards.len();
    stopped.run_until(async {}).await.expect("stops");

    let params = EncodingParams::new(u64::from(N)).expect("params");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let blob = encode_blob(params, &data).expect("encodable");
    let blob_id = *blob.metadata().blob_id();
    let object = net.register(&blob, false).await;
    let signed = vec![net.upload_and_confirm(0, &blob).await, net.upload_and_confirm(1, &blob).await];
    net.certify(object, &[0, 1], &signed).await;

    // Back up: it replays the events it missed, sees the certification, and recovers.
    let back = net.restart(down).await;
    let wanted = 2 * own_shards as u64;
    for _ in 0..400 {
        if net.metric(back, "walrus_slivers_recovered_total").await >= wanted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(net.metric(back, "walrus_slivers_recovered_total").await, wanted);
    let mut own_bytes = 0;
    for pair in net.pairs_of(back, &blob_id) {
        let (primary, secondary) = blob.sliver_pair(pair);
        for (axis, sliver) in [("primary", primary), ("secondary", secondary)] {
            let path = format!("/v1/blobs/{blob_id}/slivers/{}/{axis}", pair.0);
            let bytes =
                net.http.get(net.url(back, &path)).send().await.expect("answer").bytes().await.expect("body");
            assert_eq!(bytes.as_ref(), sliver.to_bcs().as_slice(), "recovered {axis} sliver {}", pair.0);
            own_bytes += sliver.data().len() as u64;
        }
    }
    let downloaded = net.metric(back, "walrus_recovery_bytes_total").await;
    println!(
        "recovery: {downloaded} bytes downloaded for {own_bytes} bytes of own slivers ({:.2}x); blob {} bytes, n = {N}",
        downloaded as f64 / own_bytes as f64,
        data.len()
    );
    assert!(downloaded < 3 * own_bytes, "downloaded {downloaded} for {own_bytes} bytes of slivers");
    net.stop().await;
}

/// A node that saw a blob certified but stopped before its delayed recovery ran (the event is
/// behind its cursor now) recovers the blob's slivers anyway: the sweep over certified blobs
/// after start-up finds them missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_lost_to_a_restart_is_found_by_the_sweep() {
    // Recoveries wait an hour: none runs before the restart.
    let mut net = Net::start_custom(3, 3_600_000, |config| config.recovery_delay_ms = 3_600_000).await;
    let left_out = (0..3).min_by_key(|i| net.nodes[*i].node.view().shards.len()).expect("nodes");
    let uploaded: Vec<usize> = (0..3).filter(|i| *i != left_out).collect();
    let params = EncodingParams::new(u64::from(N)).expect("params");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i.wrapping_mul(2_246_822_519) >> 11) as u8).collect();
    let blob = encode_blob(params, &data).expect("encodable");
    let blob_id = *blob.metadata().blob_id();
    let object = net.register(&blob, false).await;
    let mut signed = Vec::new();
    for node in &uploaded {
        signed.push(net.upload_and_confirm(*node, &blob).await);
    }
    net.certify(object, &uploaded, &signed).await;
    // The left-out node applies the certification, then stops with its recovery still waiting.
    let path = format!("/v1/blobs/{blob_id}/status");
    let seen = eventually(10, || async {
        let (_, body) = net.get_json(left_out, &path).await;
        body["success"]["data"]["permanent"]["isCertified"] == true
    })
    .await;
    assert!(seen, "the left-out node never saw the certification");
    let stopped = net.nodes.remove(left_out);
    let own_shards = stopped.node.view().shards.len();
    stopped.run_until(async {}).await.expect("stops");

    let back = net.restart(left_out).await;
    let wanted = 2 * own_shards as u64;
    let recovered =
        eventually(10, || async { net.metric(back, "walrus_slivers_recovered_total").await >= wanted }).await;
    assert!(
        recovered,
        "{} of {wanted} slivers recovered",
        net.metric(back, "walrus_slivers_recovered_total").await
    );
    for pair in net.pairs_of(back, &blob_id) {
        let path = format!("/v1/blobs/{blob_id}/slivers/{}/primary", pair.0);
        let bytes =
            net.http.get(net.url(back, &path)).send().await.expect("answer").bytes().await.expect("body");
        assert_eq!(bytes.as_ref(), blob.sliver_pair(pair).0.to_bcs().as_slice(), "primary sliver {}", pair.0);
    }
    net.stop().await;
}

/// A writer encodes repair primary sliver `t` wrongly and commits to it. The node that holds
/// pair `t` is down during the store; when it comes back, recovery of that sliver from the other
/// nodes' symbols proves the inconsistency, the others attest to the proof, the blob is marked
/// invalid on chain, and every node drops its data and reports it invalid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inconsistently_encoded_blob_is_proven_and_marked_invalid() {
    let mut net = Net::start(4).await;
    let params = EncodingParams::new(u64::from(N)).expect("params");
    let data: Vec<u8> = (0..40_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    let blob = encode_blob(params, &data).expect("encodable");
    let t = SliverIndex(params.primary_source_symbols() as u16);
    let mut bad = blob.sliver_bytes(SliverType::Primary, t).to_vec();
    bad[0] ^= 0xff;
    let root = sliver_roots(params, SliverType::Primary, blob.symbol_size(), &[&bad]).expect("expands")[0];
    let mut metadata = blob.metadata().metadata().clone();
    let BlobMetadata::V1(v1) = &mut metadata;
    v1.hashes[t.as_usize()].primary_hash = MerkleNode::Digest(root);
    let metadata = UnverifiedBlobMetadataWithId::new(metadata.compute_blob_id(), metadata)
        .verify(params)
        .expect("consistent");
    let blob_id = *metadata.blob_id();

    // The node holding pair t (primary index t) goes down; the other three hold a quorum.
    let holder = blob_id.shard_for_pair(SliverPairIndex(t.0), N);
    let down = (0..4).find(|i| net.nodes[*i].node.view().holds(holder)).expect("a holder");
    let stopped = net.nodes.remove(down);
    stopped.run_until(async {}).await.expect("stops");
    let object = net.register_for(&metadata, false, 2).await;
    let mut signed = Vec::new();
    for node in 0..3 {
        net.upload_with(node, &metadata, &blob).await;
        signed.push(net.confirmation(node, &blob_id).await);
    }
    net.certify(object, &[0, 1, 2], &signed).await;

    net.restart(down).await;
    for node in 0..4 {
        let invalid = eventually(20, || async {
            let (_, status) = net.get_json(node, &format!("/v1/blobs/{blob_id}/status")).await;
            status["success"]["data"].get("invalid").is_some()
        })
        .await;
        assert!(invalid, "node {node} never reported {blob_id} invalid");
        let (status, body) = net.get_json(node, &format!("/v1/blobs/{blob_id}/metadata/status")).await;
        assert_eq!((status, body["success"]["data"].as_str()), (200, Some("nonexistent")), "{body}");
    }
    let attested: u64 = {
        let mut total = 0;
        for node in 0..4 {
            total += net.metric(node, "walrus_invalid_blob_attestations_total").await;
        }
        total
    };
    assert!(attested >= 2, "{attested} attestations");
    let (status, body) = net.put(0, &format!("/v1/blobs/{blob_id}/metadata"), metadata.metadata_bcs()).await;
    assert_eq!((status, reason(&body)), (400, "INVALID_BLOB"), "{body}");
    // A proof for a consistent blob is refused.
    let honest = encode_blob(params, b"a consistent blob").expect("encodable");
    net.register(&honest, false).await;
    net.upload(0, &honest).await;
    let proof = bcs::to_bytes(&(0u16, Vec::<u8>::new())).expect("bcs");
    let url = net.url(0, &format!("/v1/blobs/{}/inconsistencyProof/primary", honest.metadata().blob_id()));
    let response = net.http.post(url).body(proof).send().await.expect("answer");
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!((status, reason(&body)), (400, "INVALID_PROOF"), "{body}");
    net.stop().await;
}

/// A blob stored for one epoch is collected by every node after the epoch boundary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_blobs_are_collected_after_the_epoch_change() {
    let net = Net::start_with(2, 3_000).await;
    let params = EncodingParams::new(u64::from(N)).expect("params");
    let blob = encode_blob(params, &vec![3u8; 2_000]).expect("encodable");
    let blob_id = *blob.metadata().blob_id();
    net.register_for(blob.metadata(), false, 1).await;
    for node in 0..2 {
        net.upload(node, &blob).await;
    }
    for node in 0..2 {
        let collected =
            eventually(15, || async { net.metric(node, "walrus_blobs_collected_total").await >= 1 }).await;
        assert!(collected, "node {node} never collected the expired blob");
        let (_, body) = net.get_json(node, &format!("/v1/blobs/{blob_id}/metadata/status")).await;
        assert_eq!(body["success"]["data"], "nonexistent", "{body}");
        let (_, body) = net.get_json(node, &format!("/v1/blobs/{blob_id}/status")).await;
        assert_eq!(body["success"]["data"], "nonexistent", "{body}");
        let pair = net.pairs_of(node, &blob_id)[0];
        let path = format!("/v1/blobs/{blob_id}/slivers/{}/primary/status", pair.0);
        let (_, body) = net.get_json(node, &path).await;
        assert_eq!(body["success"]["data"], "nonexistent", "{body}");
    }
    net.stop().await;
}

/// Our batch endpoints: all of a node's slivers of a blob in one write (all or nothing), and
/// many slivers in one read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_writes_are_all_or_nothing_and_batch_reads_verify() {
    let net = Net::start(1).await;
    let params = EncodingParams::new(u64::from(N)).expect("params");
    let blob = encode_blob(params, &vec![9u8; 30_000]).expect("encodable");
    let blob_id = *blob.metadata().blob_id();
    net.register(&blob, false).await;
    net.upload_metadata(0, blob.metadata()).await;
    let uploads: Vec<SliverUpload> = (0..N)
        .flat_map(|p| {
            let (primary, secondary) = blob.sliver_pair(SliverPairIndex(p));
            [(SliverType::Primary, primary), (SliverType::Secondary, secondary)].map(|(axis, sliver)| {
                SliverUpload { pair: SliverPairIndex(p), axis, sliver: sliver.into_unverified() }
            })
        })
        .collect();
    let path = format!("/v1/blobs/{blob_id}/slivers");

    // One corrupted entry: refused, naming it, and nothing is stored.
    let mut corrupt = uploads.clone();
    corrupt[7].sliver.data[0] ^= 1;
    let (status, body) = net.put(0, &path, bcs::to_bytes(&corrupt).expect("bcs")).await;
    assert_eq!((status, reason(&body)), (400, "INVALID_SLIVER"), "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or("").starts_with("entry 7:"), "{body}");
    let mut twice = uploads[..2].to_vec();
    twice.push(uploads[0].clone());
    let (status, body) = net.put(0, &path, bcs::to_bytes(&twice).expect("bcs")).await;
    assert_eq!((status, reason(&body)), (400, "INVALID_BATCH"), "{body}");
    assert_eq!(net.metric(0, "walrus_slivers_stored_total{sliver_type=\"primary\"}").await, 0);

    let (status, body) = net.put(0, &path, bcs::to_bytes(&uploads).expect("bcs")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["success"]["data"], serde_json::json!({ "stored": 20, "alreadyStored": 0 }));
    let (status, body) = net.put(0, &path, bcs::to_bytes(&uploads).expect("bcs")).await;
    assert_eq!((status, &body["success"]["data"]["alreadyStored"]), (201, &serde_json::json!(20)), "{body}");
    net.confirmation(0, &blob_id).await;

    let wanted: Vec<(SliverPairIndex, SliverType)> = uploads.iter().map(|u| (u.pair, u.axis)).collect();
    let response = net.http.post(net.url(0, &path)).body(bcs::to_bytes(&wanted).expect("bcs")).send().await;
    let bytes = response.expect("answer").bytes().await.expect("body");
    let read: Vec<Option<UnverifiedSliver>> = bcs::from_bytes(&bytes).expect("BCS slivers");
    let expected: Vec<Option<UnverifiedSliver>> = uploads.into_iter().map(|u| Some(u.sliver)).collect();
    assert_eq!(read, expected);
    net.stop().await;
}

/// Uploads with `?pending=true` that arrive before the registration wait in the buffer (202,
/// "buffered") and are stored when the registration event arrives; without it they are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_racing_the_registration_wait_in_the_buffer() {
    let net = Net::start(1).await;
    let params = EncodingParams::new(u64::from(N)).expect("params");
    let blob = encode_blob(params, &vec![4u8; 12_000]).expect("encodable");
    let blob_id = *blob.metadata().blob_id();
    let metadata_path = format!("/v1/blobs/{blob_id}/metadata");
    let (status, body) =
        net.put(0, &format!("{metadata_path}?pending=true"), blob.metadata().metadata_bcs()).await;
    assert_eq!(status, 202, "{body}");
    let (_, body) = net.get_json(0, &format!("{metadata_path}/status")).await;
    assert_eq!(body["success"]["data"], "buffered");
    let (primary, secondary) = blob.sliver_pair(SliverPairIndex(0));
    let (status, body) =
        net.put(0, &format!("/v1/blobs/{blob_id}/slivers/0/primary"), primary.to_bcs()).await;
    assert_eq!((status, reason(&body)), (400, "NOT_REGISTERED"), "{body}");
    let path = format!("/v1/blobs/{blob_id}/slivers/0/primary?pending=true");
    let (status, body) = net.put(0, &path, primary.to_bcs()).await;
    assert_eq!(status, 202, "{body}");
    // A corrupted buffered sliver is dropped at the flush, never stored.
    let mut corrupt = secondary.to_bcs();
    corrupt[3] ^= 0xff;
    let path = format!("/v1/blobs/{blob_id}/slivers/0/secondary?pending=true");
    let (status, body) = net.put(0, &path, corrupt).await;
    assert_eq!(status, 202, "{body}");

    net.register(&blob, false).await;
    let flushed = eventually(10, || async {
        let (_, body) = net.get_json(0, &format!("/v1/blobs/{blob_id}/slivers/0/primary/status")).await;
        body["success"]["data"] == "stored"
    })
    .await;
    assert!(flushed, "the buffered sliver was never stored");
    let (_, body) = net.get_json(0, &format!("{metadata_path}/status")).await;
    assert_eq!(body["success"]["data"], "stored");
    let (_, body) = net.get_json(0, &format!("/v1/blobs/{blob_id}/slivers/0/secondary/status")).await;
    assert_eq!(body["success"]["data"], "nonexistent");
    // The rest goes in the ordinary way, and the node confirms.
    net.upload(0, &blob).await;
    net.confirmation(0, &blob_id).await;
    net.stop().await;
}

/// A committee member that serves corrupted metadata and recovery symbols is asked first by a
/// recovering node, is caught by verification, and the node recovers correct slivers from the
/// honest members.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_peer_is_caught_by_verification_during_recovery() {
    // Seven genesis nodes on 10 shards: three hold 2, four hold 1. The liar is the first
    // committee member; the recovering node is a one-shard node after it; the rest hold at
    // least 7 shards, enough to recover from without the liar.
    let liar_slot = Arc::new(std::sync::Mutex::new(None));
    let chosen = Arc::clone(&liar_slot);
    let net = Net::start_without(
        7,
        3_600_000,
        |_| {},
        move |committee, addresses| {
            let first = &committee.members[0];
            // The test network's nodes serve plain HTTP: their addresses are `http://HOST:PORT`.
            let index = addresses
                .iter()
                .position(|a| format!("http://{a}") == first.network_address)
                .expect("a genesis node");
            *chosen.lock().expect("lock") = Some((index, addresses[index].to_string(), first.shards.clone()));
            vec![index]
        },
    )
    .await;
    let (liar, liar_addr, liar_shards) = liar_slot.lock().expect("lock").clone().expect("liar chosen");
    let params = EncodingParams::new(u64::from(N)).expect("params");
    let data: Vec<u8> = (0..50_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    let blob = Arc::new(encode_blob(params, &data).expect("encodable"));
    let blob_id = *blob.metadata().blob_id();
    let asked = Arc::new(AtomicU64::new(0));
    let liar_task =
        tokio::spawn(serve_liar(liar_addr, Arc::clone(&blob), liar_shards.clone(), Arc::clone(&asked)));

    // Positions in `net.nodes` skip the liar. The recovering node: one shard, not the liar.
    let lagging =
        (0..net.nodes.len()).rev().find(|p| net.nodes[*p].node.view().shards.len() == 1).expect("one");
    let helpers: Vec<usize> = (0..net.nodes.len()).filter(|p| *p != lagging).collect();
    let helper_shards: usize = helpers.iter().map(|p| net.nodes[*p].node.view().shards.len()).sum();
    assert!(helper_shards >= 7, "honest helpers hold {helper_shards} shards (liar at genesis slot {liar})");
    let object = net.register(&blob, false).await;
    let mut signed = Vec::new();
    for p in &helpers {
        signed.push(net.upload_and_confirm(*p, &blob).await);
    }
    net.certify(object, &helpers, &signed).await;

    let recovered =
        eventually(20, || async { net.metric(lagging, "walrus_slivers_recovered_total").await >= 2 }).await;
    assert!(recovered, "the lagging node never recovered its slivers");
    assert!(asked.load(Ordering::Relaxed) >= 2, "the liar was asked for metadata and symbols first");
    for pair in net.pairs_of(lagging, &blob_id) {
        let (primary, secondary) = blob.sliver_pair(pair);
        for (axis, sliver) in [("primary", primary), ("secondary", secondary)] {
            let path = format!("/v1/blobs/{blob_id}/slivers/{}/{axis}", pair.0);
            let response = net.http.get(net.url(lagging, &path)).send().await.expect("answer");
            assert_eq!(response.bytes().await.expect("body").as_ref(), sliver.to_bcs().as_slice());
        }
    }
    let response = net.http.get(net.url(lagging, &format!("/v1/blobs/{blob_id}/metadata"))).send().await;
    assert_eq!(
        response.expect("answer").bytes().await.expect("body").as_ref(),
        blob.metadata().to_bcs().as_slice()
    );
    liar_task.abort();
    net.stop().await;
}

/// Files a node lost behind its back (a disk fault, or a crash that a wrong order of deletion
/// would have left) are never confirmed: the node answers MISSING_SLIVERS, takes the slivers
/// again, and confirms once it holds them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_never_confirms_slivers_whose_files_are_gone() {
    let net = Net::start(1).await;
    let params = EncodingParams::new(u64::from(N)).expect("params");
    let blob = encode_blob(params, &vec![9u8; 3000]).expect("encodable");
    let blob_id = *blob.metadata().blob_id();
    net.register(&blob, false).await;
    net.upload_and_confirm(0, &blob).await;
    let blob_dir = net.dir.node(0).join("db").join("slivers").join(hex_of(blob_id.as_bytes()));
    std::fs::remove_dir_all(&blob_dir).expect("the blob's sliver files");
    let (status, body) = net.get_json(0, &format!("/v1/blobs/{blob_id}/confirmation/permanent")).await;
    assert_eq!((status, reason(&body)), (400, "MISSING_SLIVERS"), "{body}");
    net.upload(0, &blob).await;
    net.confirmation(0, &blob_id).await;
    net.stop().await;
}

/// Node 0 of a 3-node network with 8-second epochs gets 900 WAL more before mid-epoch (with 400,
/// 300 and 300 WAL it had 4, 3 and 3 of the 10 shards; in epoch 1 it has 7, the cap), and a
/// 5 000-byte blob is stored on all three. Returns node 0's shards in epoch 0 and the blob ID.
async fn stake_for_three_more_shards(net: &Net) -> (Vec<walrus_core::ShardIndex>, walrus_core::BlobId) {
    use walrus_chain::{Call, Frost};
    let key = *net.nodes[0].node.bls.public();
    let committee = net.chain_client.committee().await.expect("committee");
    let member = committee.members.iter().find(|m| m.public_key == key).expect("member").clone();
    let stake = Call::StakeWithPool { node_id: member.node_id, amount: Frost::from_wal(900).expect("fits") };
    net.chain_client.execute(&net.user, stake).await.expect("staked");
    let system = net.chain_client.system().await.expect("system");
    assert!(system.system.next_committee.is_none(), "staked after mid-epoch: the test is too slow");

    let params = EncodingParams::new(u64::from(N)).expect("params");
    let blob = encode_blob(params, &vec![5u8; 5_000]).expect("encodable");
    let object = net.register_for(blob.metadata(), false, 5).await;
    let mut signed = Vec::new();
    for node in 0..3 {
        signed.push(net.upload_and_confirm(node, &blob).await);
    }
    net.certify(object, &[0, 1, 2], &signed).await;
    (member.shards, *blob.metadata().blob_id())
}

/// Waits up to 60 s for epoch 1's change to complete, and fails the test if it does not.
async fn wait_for_the_first_change(net: &Net) {
    use walrus_chain::epoch::EpochState;
    let changed = eventually(60, || async {
        let system = net.chain_client.system().await.expect("system").system;
        system.epoch() >= walrus_core::Epoch(1)
            && !matches!(system.epoch_state, EpochState::ChangeSync { .. })
    })
    .await;
    let system = net.chain_client.system().await.expect("system").system;
    let reports: Vec<_> = system.nodes.values().map(|n| n.last_sync_done).collect();
    assert!(
        changed,
        "epoch 1's change never completed: {:?}, reports {reports:?}, committee {:?}",
        system.epoch_state, system.committee
    );
}

/// Node 0 serves both slivers of `blob_id` on every shard it holds now and did not hold in
/// epoch 0; returns how many shards it gained.
async fn serves_gained_shards(
    net: &Net,
    before: &[walrus_core::ShardIndex],
    blob_id: &walrus_core::BlobId,
) -> usize {
    let view = net.nodes[0].node.view();
    let gained: Vec<_> = view.shards.iter().filter(|s| !before.contains(s)).collect();
    for shard in &gained {
        let pair = blob_id.pair_for_shard(**shard, N);
        for axis in ["primary", "secondary"] {
            let response =
                net.http.get(net.url(0, &format!("/v1/blobs/{blob_id}/slivers/{}/{axis}", pair.0))).send();
            assert_eq!(response.await.expect("answer").status(), 200, "gained shard {shard}, {axis}");
        }
    }
    gained.len()
}

/// Stake moved to one node before mid-epoch gives it more shards in epoch 1: the nodes step the
/// epochs themselves, the node pulls the slivers of its new shards from their previous owners by
/// shard sync before it reports, the change completes, and it serves those slivers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stake_moves_shards_and_their_new_owner_pulls_them() {
    let net = Net::start_with(3, 8_000).await;
    let (before, blob_id) = stake_for_three_more_shards(&net).await;
    wait_for_the_first_change(&net).await;
    assert_eq!(serves_gained_shards(&net, &before, &blob_id).await, 3);
    // Its 3 new shards came by shard sync from their previous owners: 3 primary and 3
    // secondary slivers, nothing rebuilt.
    assert_eq!(net.metric(0, "walrus_shard_sync_slivers_total").await, 6);
    assert_eq!(net.metric(0, "walrus_slivers_recovered_total").await, 0);
    net.stop().await;
}

/// The same move with node 1 down from before the change on: node 0 cannot pull the shards it
/// gains from node 1, so recovery rebuilds their slivers from the symbols of the 7 shards that
/// nodes 0 and 2 serve (exactly the `n - f` a primary sliver needs), node 0 reports, and the
/// change completes without node 1 (node 0's 7 shards are a quorum).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gained_shard_whose_owner_is_down_is_rebuilt_by_recovery() {
    let mut net = Net::start_with(3, 8_000).await;
    let (before, blob_id) = stake_for_three_more_shards(&net).await;
    net.nodes.remove(1).run_until(async {}).await.expect("node 1 stops");
    wait_for_the_first_change(&net).await;
    assert_eq!(serves_gained_shards(&net, &before, &blob_id).await, 3);
    // Node 1 lost at least one shard to node 0 (D'Hondt leaves it and node 2 with 3 shards
    // between them): those slivers were rebuilt, node 2's were pulled.
    let recovered = net.metric(0, "walrus_slivers_recovered_total").await;
    let synced = net.metric(0, "walrus_shard_sync_slivers_total").await;
    assert!(recovered >= 2, "{recovered} slivers recovered");
    assert_eq!(recovered + synced, 6, "{recovered} recovered and {synced} synced");
    net.stop().await;
}

/// Asks node `from` for `shard`'s primary slivers as node 0, for `epoch`.
async fn sync_as_node_0(
    net: &Net,
    from: usize,
    shard: walrus_core::ShardIndex,
    epoch: u32,
) -> Result<Vec<(walrus_core::BlobId, UnverifiedSliver)>, walrus_node_client::NodeError> {
    use walrus_core::messages::{ProtocolMessage, SyncShardRequest, SyncShardRequestV1};
    let bls = &net.nodes[0].node.bls;
    let body = SyncShardRequest::V1(SyncShardRequestV1 {
        shard_index: shard,
        sliver_type: SliverType::Primary,
        starting_blob_id: walrus_core::BlobId([0; 32]),
        sliver_count: 10,
        epoch: walrus_core::Epoch(epoch),
    });
    let signed = SignedMessage::sign(bls, &ProtocolMessage::new(walrus_core::Epoch(epoch), body));
    let client = walrus_node_client::NodeClient::new(&net.url(from, ""), net.http.clone());
    client.sync_shard(&signed, bls.public()).await
}

/// Waits up to 30 s until every node's view is at `epoch` or later.
async fn wait_for_views(net: &Net, epoch: u32) {
    let seen = eventually(30, || async { net.nodes.iter().all(|n| n.node.view().epoch.0 >= epoch) }).await;
    assert!(seen, "the nodes never reached epoch {epoch}");
}

/// A shard's previous owner keeps it for one epoch after it stops serving reads of it, so that
/// a sync of the last epoch still running when the next change begins can finish (the
/// reference drops a shard once it has not owned it for two epochs); then it drops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_shard_is_retained_one_epoch_for_a_late_sync_then_dropped() {
    use walrus_node_client::Reason;
    let net = Net::start_with(3, 8_000).await;
    let (before, blob_id) = stake_for_three_more_shards(&net).await;
    wait_for_the_first_change(&net).await;
    let system = net.chain_client.system().await.expect("system").system;
    let key = *net.nodes[0].node.bls.public();
    let mine = system.committee.members.iter().find(|m| m.public_key == key).expect("member").shards.clone();
    let shard = *mine.iter().find(|s| !before.contains(s)).expect("a gained shard");
    let epoch_0 = system.previous_committee.expect("epoch 0's committee");
    let owner_key = epoch_0.members.iter().find(|m| m.shards.contains(&shard)).expect("owner").public_key;
    let owner = net.nodes.iter().position(|n| *n.node.bls.public() == owner_key).expect("owner node");

    // Epoch 2 (nothing moves at it): the previous owner no longer serves reads of the shard,
    // but still answers node 0's sync of epoch 1.
    wait_for_views(&net, 2).await;
    assert!(net.nodes[owner].node.view().retained.contains(&shard));
    assert!(net.metric(owner, "walrus_retained_shards").await >= 1);
    // `/v1/health?detailed=true` lists it among the other shards stored, read-only.
    let health: serde_json::Value = net
        .http
        .get(net.url(owner, "/v1/health?detailed=true"))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("JSON");
    let detail = &health["success"]["data"]["shardDetail"];
    assert!(
        detail["other"]
            .as_array()
            .expect("other")
            .contains(&serde_json::json!({ "shard": shard.0, "status": "readOnly" })),
        "{health}"
    );
    let owned = detail["owned"].as_array().expect("owned");
    assert_eq!(
        owned.len() as u64,
        health["success"]["data"]["shardSummary"]["owned"].as_u64().expect("owned")
    );
    assert!(owned.iter().all(|s| s["status"] == "ready"), "{health}");
    let slivers = sync_as_node_0(&net, owner, shard, 1).await.expect("a late sync is served");
    assert_eq!(slivers.iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![blob_id]);
    // Not for epoch 0, nor as a node that did not hold the shard in epoch 1.
    let stale = sync_as_node_0(&net, owner, shard, 0).await.expect_err("epoch 0 is over");
    assert_eq!(stale.reason(), Some(&Reason::InvalidEpoch), "{stale}");
    let other = (0..N).map(walrus_core::ShardIndex).find(|s| !mine.contains(s));
    let refused = sync_as_node_0(&net, owner, other.expect("a shard of another node"), 1).await;
    let refused = refused.expect_err("node 0 did not hold it");
    assert_eq!(refused.reason(), Some(&Reason::RequestUnauthorized), "{refused}");

    // Epoch 3: the shard is dropped.
    wait_for_views(&net, 3).await;
    let dropped = eventually(10, || async {
        !net.nodes[owner].node.store.shards_with_slivers().expect("store").contains(&shard)
    })
    .await;
    assert!(dropped, "shard {shard} is still stored at its previous owner");
    let gone = sync_as_node_0(&net, owner, shard, 2).await.expect_err("no longer kept");
    assert_eq!(gone.reason(), Some(&Reason::ShardNotAssigned), "{gone}");
    net.stop().await;
}
