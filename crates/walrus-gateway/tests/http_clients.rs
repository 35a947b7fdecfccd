//! HTTP clients in other languages against the gateway, as the Walrus documentation uses the
//! API: `scripts/http-examples/store_and_read.mjs` (Node.js `fetch`) and `store_and_read.py`
//! (Python `requests`) store a file and read it back. `.ci/run` installs what they need; on a
//! machine without Node.js or `requests` the missing one is reported and skipped.

use std::process::Command;

mod common;

fn available(program: &str, args: &[&str]) -> bool {
    Command::new(program).args(args).output().is_ok_and(|o| o.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_and_requests_store_and_read_through_the_gateway() {
    let (net, gateway, _) = common::daemon(1, 11, |_| {}).await;
    let url = format!("http://{}", gateway.addr);
    let scripts = format!("{}/../../scripts/http-examples", env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let clients = [
        ("node", vec!["--version"], "store_and_read.mjs"),
        ("python3", vec!["-c", "import requests"], "store_and_read.py"),
    ];
    let mut ran = 0;
    for (i, (program, probe, script)) in clients.into_iter().enumerate() {
        if !available(program, &probe) {
            eprintln!("SKIP {script}: {program} (or its HTTP library) is not available");
            continue;
        }
        let file = tmp.path().join(format!("{i}.bin"));
        std::fs::write(&file, walrus_core::splitmix::splitmix_bytes(i as u64, 100_000 + i)).expect("write");
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
        assert_eq!(printed["bytes"], 100_000 + i, "{printed}");
        assert!(printed["blobId"].as_str().is_some_and(|id| id.len() == 43), "{printed}");
        ran += 1;
    }
    eprintln!("{ran} of 2 HTTP clients ran");
    gateway.stop().await.expect("stopped");
    net.stop().await;
}
