//! The main job at the localnet's default shape (four node processes, n = 1000 shards, as on
//! Walrus Mainnet), through the CLI: 0 B, 1 B, 1 MiB and 64 MiB store and read back with the
//! blob IDs of the official encoder (the committed golden vectors); with the node holding 250
//! shards (<= f = 333) killed a store still certifies, and with two (500 <= 2f) a read still
//! returns the right bytes.

use crate::common;

use common::{walrus, Network};
use walrus_core::splitmix::splitmix_bytes;

/// The golden vectors at n = 1000 of these sizes: (seed, size, blob ID).
fn vectors(sizes: &[u64]) -> Vec<(u64, u64, String)> {
    let path = format!(
        "{}/../walrus-core/tests/vectors/blob_ids.json",
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
    );
    let vectors: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("vectors")).expect("JSON");
    sizes
        .iter()
        .map(|size| {
            let case = vectors["cases"]
                .as_array()
                .expect("cases")
                .iter()
                .find(|c| c["n"] == 1000 && c["size"] == *size && c["input"]["kind"] == "splitmix")
                .unwrap_or_else(|| panic!("no vector of {size} bytes at n = 1000"));
            let seed = case["input"]["seed"].as_u64().expect("seed");
            (seed, *size, case["blobId"].as_str().expect("blob ID").to_string())
        })
        .collect()
}

fn store(account: &[&str], file: &str) -> String {
    let stored: serde_json::Value =
        serde_json::from_str(&walrus(&[&["store", file, "--json"][..], account].concat())).expect("JSON");
    stored[0]["blobStoreResult"]["newlyCreated"]["blobObject"]["blobId"]
        .as_str()
        .unwrap_or_else(|| panic!("not newly created: {stored}"))
        .to_string()
}

fn read_back(account: &[&str], blob_id: &str, out: &std::path::Path) -> Vec<u8> {
    walrus(&[&["read", blob_id, "--out", out.to_str().expect("utf-8")][..], account].concat());
    std::fs::read(out).expect("read back")
}

#[test]
fn sizes_up_to_64_mib_store_and_read_at_n_1000_with_nodes_down() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut net = Network::start(&tmp.path().join("net"), 4, 1000);
    let wallet = tmp.path().join("wallet.key");
    let account = ["--wallet", wallet.to_str().expect("utf-8"), "--chain-url", &net.chain_url];
    walrus(&[&["wallet", "new"][..], &account].concat());
    walrus(&[&["wallet", "faucet", "--amount", "1000"][..], &account].concat());
    let out = tmp.path().join("out.bin");

    let mut stored = Vec::new();
    for (seed, size, expected) in vectors(&[0, 1, 1 << 20, 64 << 20]) {
        let data = splitmix_bytes(seed, size as usize);
        let file = tmp.path().join(format!("in-{size}.bin"));
        std::fs::write(&file, &data).expect("write");
        let blob_id = store(&account, file.to_str().expect("utf-8"));
        assert_eq!(blob_id, expected, "size {size}: our blob ID differs from the official encoder's");
        assert!(read_back(&account, &blob_id, &out) == data, "size {size}: the bytes read back differ");
        stored.push((blob_id, data));
    }

    // One node down (250 shards <= f): a new blob still certifies.
    let mut down = net.nodes.remove(0);
    down.kill().expect("kill");
    down.wait().expect("reaped");
    let data = splitmix_bytes(7, 100_000);
    let file = tmp.path().join("with-one-down.bin");
    std::fs::write(&file, &data).expect("write");
    let blob_id = store(&account, file.to_str().expect("utf-8"));

    // Two down (500 shards <= 2f): reads still return the right bytes.
    let mut down = net.nodes.remove(0);
    down.kill().expect("kill");
    down.wait().expect("reaped");
    assert!(read_back(&account, &blob_id, &out) == data, "the blob stored with one node down");
    let (blob_id, data) = &stored[2];
    assert!(read_back(&account, blob_id, &out) == *data, "1 MiB with two nodes down");
}
