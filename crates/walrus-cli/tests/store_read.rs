//! `walrus store` and `walrus read` against a network of real processes (a chain and four
//! storage nodes on loopback, n = 10): the blob ID is the one `walrus blob-id` computes, and
//! the bytes read back are the bytes stored.

use crate::common;

use common::{walrus, Network};

#[test]
fn store_then_read_through_the_cli() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let net = Network::start(&tmp.path().join("net"), 4, 10);
    let wallet = tmp.path().join("wallet.key");
    let wallet = wallet.to_str().expect("utf-8");
    let account = ["--wallet", wallet, "--chain-url", &net.chain_url];
    walrus(&[&["wallet", "new"][..], &account].concat());
    walrus(&[&["wallet", "faucet", "--amount", "100"][..], &account].concat());

    let file = tmp.path().join("blob.bin");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 9) as u8).collect();
    std::fs::write(&file, &data).expect("write");
    let file = file.to_str().expect("utf-8");
    let dry: serde_json::Value =
        serde_json::from_str(&walrus(&[&["store", file, "--dry-run", "--json"][..], &account].concat()))
            .expect("JSON");
    let listed: serde_json::Value =
        serde_json::from_str(&walrus(&[&["list-blobs", "--json"][..], &account].concat())).expect("JSON");
    assert_eq!(listed.as_array().map(Vec::len), Some(0), "a dry run wrote nothing: {listed}");
    let stored: serde_json::Value =
        serde_json::from_str(&walrus(&[&["store", file, "--epochs", "2", "--json"][..], &account].concat()))
            .expect("JSON");
    let blob_id =
        stored[0]["blobStoreResult"]["newlyCreated"]["blobObject"]["blobId"].as_str().expect("blob ID");
    let expected: serde_json::Value =
        serde_json::from_str(&walrus(&["blob-id", file, "--n-shards", "10", "--json"])).expect("JSON");
    assert_eq!(blob_id, expected["blobId"].as_str().expect("blob ID"));
    assert_eq!(dry[0]["blobId"].as_str(), Some(blob_id), "{dry}");

    // The same file again: already certified for long enough, so nothing is written.
    let again: serde_json::Value =
        serde_json::from_str(&walrus(&[&["store", file, "--epochs", "1", "--json"][..], &account].concat()))
            .expect("JSON");
    assert_eq!(again[0]["blobStoreResult"]["alreadyCertified"]["blobId"], blob_id, "{again}");

    through_walrus_json(file, blob_id, wallet, &net.chain_url, &data);
    let forced: serde_json::Value = serde_json::from_str(&walrus(
        &[&["store", file, "--epochs", "max", "--force", "--permanent", "--json"][..], &account].concat(),
    ))
    .expect("JSON");
    assert_eq!(forced[0]["blobStoreResult"]["newlyCreated"]["blobObject"]["deletable"], false, "{forced}");

    let status: serde_json::Value =
        serde_json::from_str(&walrus(&[&["blob-status", "--file", file, "--json"][..], &account].concat()))
            .expect("JSON");
    assert_eq!(
        (status["blobId"].as_str(), status["isCertified"].as_bool()),
        (Some(blob_id), Some(true)),
        "{status}"
    );
    let permanent = &status["status"]["permanent"];
    let counts =
        (permanent["isCertified"].as_bool(), permanent["deletableCounts"]["count_deletable_total"].as_u64());
    assert_eq!(counts, (Some(true), Some(1)), "the reference's BlobStatus: {status}");
    assert!(status["estimatedExpiryTimestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{status}");
    let unknown: serde_json::Value = serde_json::from_str(&walrus(
        &[
            &["blob-status", "--blob-id", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "--json"][..],
            &account,
        ]
        .concat(),
    ))
    .expect("JSON");
    assert_eq!(unknown["status"], "nonexistent", "{unknown}");
    // The wallet's objects: the deletable one and the permanent one; extend, then delete.
    let listed: serde_json::Value =
        serde_json::from_str(&walrus(&[&["list-blobs", "--json"][..], &account].concat())).expect("JSON");
    let objects = listed.as_array().expect("objects");
    assert_eq!(objects.len(), 2, "{listed}");
    let deletable = objects.iter().find(|o| o["deletable"] == true).expect("a deletable object");
    let id = deletable["id"].as_str().expect("id");
    let extended: serde_json::Value = serde_json::from_str(&walrus(
        &[&["extend", "--blob-obj-id", id, "--epochs-extended", "3", "--json"][..], &account].concat(),
    ))
    .expect("JSON");
    assert_eq!(extended["endEpoch"].as_u64(), deletable["endEpoch"].as_u64().map(|e| e + 3), "{extended}");
    let deleted: serde_json::Value =
        serde_json::from_str(&walrus(&[&["delete", "--blob-id", blob_id, "--json"][..], &account].concat()))
            .expect("JSON");
    assert_eq!(deleted[0]["deletedBlobs"][0]["id"].as_str(), Some(id), "{deleted}");
    assert!(
        deleted[0]["postDeletionStatus"]["permanent"].is_object(),
        "the permanent object remains: {deleted}"
    );
    let listed: serde_json::Value =
        serde_json::from_str(&walrus(&[&["list-blobs", "--json"][..], &account].concat())).expect("JSON");
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    info_and_health(&net.chain_url);

    let out = tmp.path().join("read.bin");
    let out = out.to_str().expect("utf-8");
    for check in [&[][..], &["--strict-consistency-check"], &["--skip-consistency-check"]] {
        walrus(&[&["read", blob_id, "--out", out][..], check, &account].concat());
        assert!(std::fs::read(out).expect("read file") == data, "{check:?}: the bytes read back differ");
    }
    // Without --out, JSON mode returns the blob in base64, as the reference's JSON mode.
    let read: serde_json::Value =
        serde_json::from_str(&walrus(&[&["read", blob_id, "--json"][..], &account].concat())).expect("JSON");
    use base64::Engine as _;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(read["blob"].as_str().expect("blob"))
        .expect("base64");
    assert!(blob == data, "the base64 blob differs");
}

/// `info` and `health` on the network: its shape, capacity used, every node active.
fn info_and_health(chain_url: &str) {
    let info: serde_json::Value =
        serde_json::from_str(&walrus(&["info", "--json", "--chain-url", chain_url])).expect("JSON");
    let storage = &info["storageInfo"];
    assert_eq!((storage["nShards"].as_u64(), storage["nNodes"].as_u64()), (Some(10), Some(4)), "{info}");
    assert!(storage["usedCapacity"].as_u64().expect("used") > 0, "{info}");
    let health: serde_json::Value =
        serde_json::from_str(&walrus(&["health", "--json", "--chain-url", chain_url])).expect("JSON");
    let nodes = health["healthInfo"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 4);
    assert!(nodes.iter().all(|n| n["healthInfo"]["Ok"]["nodeStatus"] == "Active"), "{health}");
}

/// The same store (already certified) and a read through `walrus json`, the way the Walrus docs'
/// Python example drives the CLI.
fn through_walrus_json(file: &str, blob_id: &str, wallet: &str, chain_url: &str, data: &[u8]) {
    use base64::Engine as _;
    let as_json = |command: serde_json::Value| -> serde_json::Value {
        let input = serde_json::json!({ "command": command }).to_string();
        serde_json::from_str(&walrus(&["json", &input])).expect("JSON")
    };
    let stored_again = as_json(serde_json::json!({
        "store": { "files": [file], "epochs": 1, "wallet": wallet, "chainUrl": chain_url }
    }));
    assert_eq!(stored_again[0]["blobStoreResult"]["alreadyCertified"]["blobId"], blob_id, "{stored_again}");
    let read = as_json(
        serde_json::json!({ "read": { "blobId": blob_id, "wallet": wallet, "chainUrl": chain_url } }),
    );
    assert_eq!(read["blobId"], blob_id, "{read}");
    let blob = base64::engine::general_purpose::STANDARD
        .decode(read["blob"].as_str().expect("blob"))
        .expect("base64");
    assert!(blob == data, "walrus json read back other bytes");
}
