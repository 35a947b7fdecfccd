//! HTTP clients in other languages against the gateway, as the Walrus documentation uses the
//! API: `scripts/http-examples/store_and_read.mjs` (Node.js `fetch`) and `store_and_read.py`
//! (Python `requests`) store a file and read it back. Each is ignored by a plain `cargo test`
//! (they need programs beyond cargo); `.ci/run` installs Node.js's and Python's, fails if either
//! is missing, and runs the ignored tests. Run without its program, a test fails and says so.

use std::process::Command;

use crate::common;

fn require(program: &str, args: &[&str]) {
    let found = Command::new(program).args(args).output().is_ok_and(|o| o.status.success());
    assert!(found, "`{program} {}` fails: install it (.ci/run does)", args.join(" "));
}

/// Runs `script` with `program` against a gateway of its own: it stores 100 KB and reads it back.
async fn store_and_read_with(program: &str, script: &str, variant: u16, seed: u8) {
    let (net, gateway, _) = common::daemon(seed, |_| {}).await;
    let url = format!("http://{}", gateway.addr);
    let scripts = format!(
        "{}/../../scripts/http-examples",
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("blob.bin");
    let len = 100_000 + usize::from(variant);
    std::fs::write(&file, walrus_core::splitmix::splitmix_bytes(u64::from(variant), len)).expect("write");
    let output = tokio::process::Command::new(program)
        .arg(format!("{scripts}/{script}"))
        .arg(&file)
        .env("PUBLISHER", &url)
        .env("AGGREGATOR", &url)
        .output()
        .await
        .expect("runs");
    assert!(output.status.success(), "{script}: {}", String::from_utf8_lossy(&output.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(printed["bytes"], len, "{printed}");
    assert!(printed["blobId"].as_str().is_some_and(|id| id.len() == 43), "{printed}");
    gateway.stop().await.expect("stopped");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js; .ci/run installs it and runs the ignored tests"]
async fn node_fetch_stores_and_reads_through_the_gateway() {
    require("node", &["--version"]);
    store_and_read_with("node", "store_and_read.mjs", 1, 11).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Python's requests; .ci/run installs it and runs the ignored tests"]
async fn python_requests_stores_and_reads_through_the_gateway() {
    require("python3", &["-c", "import requests"]);
    store_and_read_with("python3", "store_and_read.py", 3, 13).await;
}
