//! Stores from files in a memory budget against an in-process network (n = 100): a file whose
//! encoding does not fit is streamed and reads back byte for byte with the in-memory encoder's
//! blob ID; a store stopped after registration resumes with only what the nodes lack.

use std::path::Path;

use walrus_core::encode::encode_blob;
use walrus_core::keys::Ed25519KeyPair;
use walrus_core::EncodingParams;
use walrus_sdk::client::ResourceOperation;
use walrus_sdk::{BlobStoreResult, Client, StoreError, StoreOptions, StoreResult};
use walrus_testkit::Net;

/// Shards: enough for blobs of tens of MiB (n = 10 takes at most 1.8 MB).
const N: u16 = 100;

async fn network() -> Net {
    Net::start_shaped(4, N, 3_600_000, |_| {}, |_, _| Vec::new()).await
}

/// A budget whose encoder share (after the process reserve) is the smallest accepted: files
/// over about 7 MiB stream at n = 100.
const BUDGET: usize = walrus_sdk::streaming::PROCESS_RESERVE_BYTES + walrus_core::encode::stream::BUDGET_MIN;

async fn funded_client(net: &Net, seed: u8, scratch: &Path) -> Client {
    let wallet = Ed25519KeyPair::from_seed(&[seed; 32]);
    net.chain_client.faucet(wallet.address(), 1_000_000_000_000).await.expect("funded");
    Client::new(&net.chain_url, wallet).with_memory_budget(BUDGET, Some(scratch.to_path_buf()))
}

fn data(size: usize) -> Vec<u8> {
    (0..size as u64).map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 55) as u8).collect()
}

fn newly_created(outcome: Result<BlobStoreResult, StoreError>) -> StoreResult {
    match outcome.expect("stored") {
        BlobStoreResult::NewlyCreated(stored) => stored,
        other => panic!("expected a new blob, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_larger_than_the_budget_is_streamed_and_reads_back() {
    let net = network().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let client = funded_client(&net, 3, dir.path()).await;
    let params = EncodingParams::new(u64::from(N)).expect("params");
    for (name, size) in [("small", 100_000), ("large", 24 << 20)] {
        let bytes = data(size);
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).expect("written");
        let streams = !walrus_sdk::streaming::fits_in_memory(params, size as u64, BUDGET);
        assert_eq!(streams, name == "large", "{name}");
        let stored = newly_created(client.store_file(&path, StoreOptions::default()).await);
        let expected = encode_blob(params, &bytes).expect("encodable");
        assert_eq!(stored.blob_id, *expected.metadata().blob_id(), "{name}");
        assert_eq!(stored.uploaded.held_bytes, 0);
        assert!(stored.uploaded.sent_bytes > 0);
        let read = client.read(&stored.blob_id).await.expect("read");
        assert!(read == bytes, "{name}: the bytes read back differ");
    }
    // The scratch files are unnamed: nothing is left in the directory but the inputs.
    assert_eq!(std::fs::read_dir(dir.path()).expect("listed").count(), 2);
    // A budget below what the encoder needs is refused before anything is bought.
    let tight = client.clone().with_memory_budget(BUDGET - (1 << 20), None);
    let balance = || async {
        net.chain_client.account(&tight.wallet().address()).await.expect("account").account.balance.0
    };
    let before = balance().await;
    let refused = tight.store_file(&dir.path().join("large"), StoreOptions::default()).await;
    let message = refused.expect_err("too small a budget").to_string();
    assert!(message.contains("memory budget") && message.contains("needs at least"), "{message}");
    assert_eq!(balance().await, before);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_stopped_after_registration_resumes_with_what_the_nodes_lack() {
    let mut net = network().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let client = funded_client(&net, 4, dir.path()).await;
    let bytes = data(16 << 20);
    let path = dir.path().join("blob");
    std::fs::write(&path, &bytes).expect("written");
    // Two of four nodes down: the slivers reach the other two, no quorum confirms.
    let stopped: Vec<_> = [3, 2].iter().map(|&i| net.nodes.remove(i)).collect();
    for node in stopped {
        node.run_until(async {}).await.expect("stops");
    }
    let first = client.store_file(&path, StoreOptions::default()).await;
    assert!(matches!(first, Err(StoreError::NoQuorum { .. })), "{first:?}");
    for genesis in [2, 3] {
        net.restart(genesis).await;
    }
    let stored = newly_created(client.store_file(&path, StoreOptions::default()).await);
    assert!(matches!(stored.resource, ResourceOperation::ReuseRegistration { .. }), "{:?}", stored.resource);
    let uploaded = stored.uploaded;
    let total = uploaded.sent_bytes + uploaded.held_bytes;
    // Each node holds a quarter of the shards: about half was held.
    assert!(
        uploaded.held_bytes * 10 >= total * 3 && uploaded.sent_bytes * 10 >= total * 3,
        "sent {} B, held {} B",
        uploaded.sent_bytes,
        uploaded.held_bytes
    );
    let read = client.read(&stored.blob_id).await.expect("read");
    assert!(read == bytes, "the bytes read back differ");
    net.stop().await;
}
