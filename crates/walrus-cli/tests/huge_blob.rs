//! A blob larger than the client's memory budget, through the CLI at the localnet's default
//! shape (four node processes, n = 1000): a 1 GiB file stores within `--memory-budget 128MiB`
//! (the client's peak RSS, sampled from /proc, stays under it), with the blob ID that
//! `walrus blob-id` computes within the same budget, and reads back to a file in pieces within
//! it, byte for byte. The full scenario (4 GiB, a store killed half way and resumed) is
//! `scripts/huge-blob.sh`; its last run is in docs/benchmarks.md.

use crate::common;

use std::io::{Read as _, Write as _};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{walrus, Network, WALRUS};
use walrus_core::splitmix::splitmix_bytes;

const SIZE: u64 = 1 << 30;
const BUDGET: &str = "128MiB";
const BUDGET_BYTES: u64 = 128 << 20;
/// The file is this many pieces of the splitmix stream (seed = piece index).
const PIECE: usize = 8 << 20;

/// Runs `walrus ARGS`, sampling its peak RSS (`VmHWM`) until it exits; returns its standard
/// output and the last peak seen (bytes). The peak comes while encoding, long before the end.
fn walrus_peak(args: &[&str]) -> (String, u64) {
    let mut child = Command::new(WALRUS)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("walrus starts");
    let status_path = format!("/proc/{}/status", child.id());
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).expect("utf-8");
        text
    });
    let mut peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waits") {
            break status;
        }
        let kib = std::fs::read_to_string(&status_path).ok().and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        });
        peak = peak.max(kib.unwrap_or(0) * 1024);
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut errors = String::new();
    child.stderr.take().expect("piped").read_to_string(&mut errors).expect("utf-8");
    assert!(status.success(), "walrus {args:?} failed: {errors}");
    (reader.join().expect("reader"), peak)
}

#[test]
fn a_1_gib_blob_stores_and_reads_back_within_a_128_mib_budget() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("huge.bin");
    let mut writer = std::io::BufWriter::new(std::fs::File::create(&file).expect("created"));
    for piece in 0..SIZE / PIECE as u64 {
        writer.write_all(&splitmix_bytes(piece, PIECE)).expect("written");
    }
    writer.flush().expect("flushed");
    drop(writer);
    let path = file.to_str().expect("utf-8");
    let (computed, peak) = walrus_peak(&["blob-id", path, "--memory-budget", BUDGET, "--json"]);
    assert!(peak <= BUDGET_BYTES, "blob-id peaked at {peak} bytes");
    let computed: serde_json::Value = serde_json::from_str(&computed).expect("JSON");

    let net = Network::start(&tmp.path().join("net"), 4, 1000);
    let wallet = tmp.path().join("wallet.key");
    let account = ["--wallet", wallet.to_str().expect("utf-8"), "--chain-url", &net.chain_url];
    walrus(&[&["wallet", "new"][..], &account].concat());
    walrus(&[&["wallet", "faucet", "--amount", "1000"][..], &account].concat());
    let store = [&["store", path, "--memory-budget", BUDGET, "--json"][..], &account].concat();
    let (stored, peak) = walrus_peak(&store);
    assert!(peak <= BUDGET_BYTES, "the store peaked at {peak} bytes");
    let stored: serde_json::Value = serde_json::from_str(&stored).expect("JSON");
    let blob_id = common::new_blob_id(&stored);
    assert_eq!(blob_id, computed["blobId"].as_str().expect("blob ID"));
    assert!(stored[0]["upload"]["sentBytes"].as_u64().expect("sent") > 0, "{stored}");

    let out = tmp.path().join("out.bin");
    let read =
        [&["read", &blob_id, "--out", out.to_str().expect("utf-8"), "--memory-budget", BUDGET][..], &account]
            .concat();
    let (_, peak) = walrus_peak(&read);
    assert!(peak <= BUDGET_BYTES, "the read peaked at {peak} bytes");
    let mut read_back = std::io::BufReader::new(std::fs::File::open(&out).expect("written"));
    assert_eq!(std::fs::metadata(&out).expect("written").len(), SIZE);
    let mut bytes = vec![0u8; PIECE];
    for piece in 0..SIZE / PIECE as u64 {
        read_back.read_exact(&mut bytes).expect("a piece");
        assert!(bytes == splitmix_bytes(piece, PIECE), "piece {piece} differs");
    }
    drop(net);
}
