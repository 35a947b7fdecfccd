//! `walrus upload-relay` and `walrus store --upload-relay` against a network of real processes
//! (n = 10): a file from standard input, its length declared, goes through a relay that asks a
//! tip; the tip reaches the relay's address and the blob reads back. Standard input of another
//! length than declared is refused with nothing stored.

use crate::common;

use std::io::Write as _;
use std::process::{Command, Stdio};

use common::{spawn, walrus, Network, WALRUS};

/// Runs `walrus ARGS` with `input` on standard input; its success and output.
fn walrus_with_input(args: &[&str], input: &[u8]) -> (bool, String, String) {
    let mut child = Command::new(WALRUS)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("walrus starts");
    let mut stdin = child.stdin.take().expect("piped");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || drop(stdin.write_all(&input)));
    let output = child.wait_with_output().expect("walrus runs");
    writer.join().expect("writes");
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("utf-8");
    (output.status.success(), text(output.stdout), text(output.stderr))
}

#[test]
fn standard_input_stores_through_a_tipping_relay() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let net = Network::start(&tmp.path().join("net"), 4, 10);
    let wallet = tmp.path().join("wallet.key");
    let wallet = wallet.to_str().expect("utf-8");
    let account = ["--wallet", wallet, "--chain-url", &net.chain_url];
    walrus(&[&["wallet", "new"][..], &account].concat());
    walrus(&[&["wallet", "faucet", "--amount", "100"][..], &account].concat());
    let owner = tmp.path().join("relay.key");
    let owner = owner.to_str().expect("utf-8");
    let address = walrus(&["wallet", "new", "--wallet", owner, "--json"]);
    let address: serde_json::Value = serde_json::from_str(&address).expect("JSON");
    let address = address["address"].as_str().expect("address");
    let settings = tmp.path().join("relay.yaml");
    let yaml = format!(
        "tip_config: !send_tip\n  address: {address}\n  kind: !const 4242\ntx_freshness_threshold_secs: 600\ntx_max_future_threshold_secs: 30\n"
    );
    std::fs::write(&settings, yaml).expect("write");
    let relay_args =
        ["upload-relay", "--bind", "127.0.0.1:0", "--relay-config", settings.to_str().expect("utf-8")];
    let (mut relay, addr) =
        spawn(&[&relay_args[..], &["--chain-url", &net.chain_url]].concat(), "upload relay on http://");
    let url = format!("http://{addr}");

    let data: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    let short = [&["store", "-", "--stdin-length", "200001", "--upload-relay", &url][..], &account].concat();
    let (ok, _, stderr) = walrus_with_input(&short, &data);
    assert!(!ok && stderr.contains("not the 200001 of --stdin-length"), "{stderr}");
    let length = data.len().to_string();
    let store =
        [&["store", "-", "--stdin-length", &length, "--upload-relay", &url, "--json"][..], &account].concat();
    let (ok, stdout, stderr) = walrus_with_input(&store, &data);
    assert!(ok, "{stderr}");
    let stored: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let blob_id = common::new_blob_id(&stored);
    assert_eq!(stored[0]["upload"]["sentBytes"].as_u64(), Some(data.len() as u64), "{stored}");
    let balance: serde_json::Value = serde_json::from_str(&walrus(&[
        "wallet",
        "balance",
        "--wallet",
        owner,
        "--chain-url",
        &net.chain_url,
        "--json",
    ]))
    .expect("JSON");
    assert_eq!(balance["balanceFrost"].as_u64(), Some(4242), "{balance}");
    let out = tmp.path().join("read.bin");
    walrus(&[&["read", &blob_id, "--out", out.to_str().expect("utf-8")][..], &account].concat());
    assert!(std::fs::read(&out).expect("read") == data, "the bytes read back differ");
    relay.kill().expect("stops");
    relay.wait().expect("reaped");
}
