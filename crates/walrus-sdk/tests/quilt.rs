//! Quilts through the SDK on an in-process network (four nodes, n = 10): one store for many
//! files, each read back by patch ID, by identifier and by tag, also with nodes holding 2f
//! shards down; a patch ID that is not of the quilt is refused.

use walrus_core::encode::compute_metadata;
use walrus_core::keys::Ed25519KeyPair;
use walrus_core::quilt::{QuiltPatchId, Tags};
use walrus_core::EncodingParams;
use walrus_sdk::quilt::{quilt_of, QuiltFile};
use walrus_sdk::read::ReadError;
use walrus_sdk::{BlobStoreResult, Client, StoreOptions};
use walrus_testkit::{Net, N};

fn files() -> Vec<QuiltFile> {
    let tag = |k: &str, v: &str| -> Tags { [(k.to_string(), v.to_string())].into_iter().collect() };
    vec![
        QuiltFile {
            identifier: "index.html".into(),
            tags: tag("content-type", "text/html"),
            data: b"<h1>hi</h1>".to_vec(),
        },
        QuiltFile {
            identifier: "style.css".into(),
            tags: tag("content-type", "text/css"),
            data: b"h1{}".to_vec(),
        },
        QuiltFile {
            identifier: "data.bin".into(),
            tags: Tags::new(),
            data: (0..30_000u32).map(|i| (i % 253) as u8).collect(),
        },
        QuiltFile { identifier: "empty".into(), tags: tag("content-type", "text/html"), data: Vec::new() },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quilt_stores_once_and_each_patch_reads_alone() {
    let mut net = Net::start(4).await;
    let wallet = Ed25519KeyPair::from_seed(&[61; 32]);
    net.chain_client.faucet(wallet.address(), 1_000_000_000_000).await.expect("funded");
    let client = Client::new(&net.chain_url, wallet);
    let files = files();
    let options = StoreOptions { epochs_ahead: 3, ..StoreOptions::default() };
    let stored = client.store_quilt(&files, options).await.expect("stored");
    assert!(matches!(stored.blob_store_result, BlobStoreResult::NewlyCreated(_)));
    // The quilt is the core's layout of these files, and its ID is that blob's.
    let params = EncodingParams::new(u64::from(N)).expect("params");
    let quilt = quilt_of(params, &files).expect("a quilt");
    let quilt_id = *compute_metadata(params, &quilt.blob).expect("metadata").blob_id();
    assert_eq!(*stored.blob_store_result.blob_id(), quilt_id);
    assert_eq!(stored.stored_quilt_blobs.len(), files.len());
    let json = stored.to_json();
    assert_eq!(json["storedQuiltBlobs"][0]["identifier"], "data.bin", "{json}");
    // Marked as a quilt on chain, as the reference marks it.
    let owned = client.owned_blobs().await.expect("blobs");
    let (_, object) = owned.iter().find(|(_, b)| b.blob_id == quilt_id).expect("the quilt's object");
    assert_eq!(object.attributes.get("_walrusBlobType").map(String::as_str), Some("quilt"));

    let open = client.open_quilt(&quilt_id).await.expect("index");
    assert_eq!(open.index(), &quilt.index);
    for file in &files {
        let by_name = open.patch(&file.identifier).await.expect("by identifier");
        assert_eq!((&by_name.data, &by_name.tags), (&file.data, &file.tags), "{}", file.identifier);
        let id =
            stored.stored_quilt_blobs.iter().find(|p| p.identifier == file.identifier).expect("id").patch_id;
        let by_id = client.read_quilt_patch(&id).await.expect("by patch ID");
        assert_eq!(by_id, by_name);
    }
    let html = open.patches_with_tag("content-type", "text/html").await.expect("by tag");
    let names: Vec<_> = html.iter().map(|p| p.identifier.as_str()).collect();
    assert_eq!(names, ["empty", "index.html"]);
    let missing = open.patches(&["index.html".into(), "nope".into()]).await.expect_err("missing");
    assert!(missing.to_string().contains("not found in the quilt: nope"), "{missing}");

    // A patch ID of another quilt: this quilt's ID with columns that hold no patch's start.
    let first = stored.stored_quilt_blobs[0].patch_id;
    let wrong = QuiltPatchId { quilt_id, start_index: first.start_index, end_index: first.end_index + 1 };
    let refused = client.read_quilt_patch(&wrong).await.expect_err("another quilt's patch ID");
    assert!(matches!(refused, ReadError::Quilt(_)), "{refused}");

    // Nodes holding 2f = 6 of the 10 shards down: the patches still read (from the columns
    // served, else from the decoded blob).
    net.stop_nodes_holding(6).await;
    for file in &files {
        let id =
            stored.stored_quilt_blobs.iter().find(|p| p.identifier == file.identifier).expect("id").patch_id;
        let patch = client.read_quilt_patch(&id).await.expect("read with 2f shards down");
        assert_eq!(patch.data, file.data, "{}", file.identifier);
    }
    net.stop().await;
}
