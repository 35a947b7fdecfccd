//! `walrus wallet` against a real `walrus chain run` process: a new key, the faucet, balances,
//! a transfer, and the errors a person gets for bad input.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

const WALRUS: &str = env!("CARGO_BIN_EXE_walrus");

struct Chain {
    child: Child,
    url: String,
}

impl Drop for Chain {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_chain(dir: &Path) -> Chain {
    let dir = dir.to_str().expect("utf-8 path");
    let init = Command::new(WALRUS)
        .args(["chain", "init", "--dir", dir, "--shards", "10", "--nodes", "2"])
        .output()
        .expect("walrus runs");
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let again = Command::new(WALRUS).args(["chain", "init", "--dir", dir]).output().expect("walrus runs");
    assert!(!again.status.success(), "init refuses an existing chain directory");
    let mut child = Command::new(WALRUS)
        .args(["chain", "run", "--dir", dir, "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("walrus chain run starts");
    let mut lines = BufReader::new(child.stderr.take().expect("piped")).lines();
    let url = loop {
        let line = lines.next().expect("chain run prints its address").expect("utf-8");
        if let Some(rest) = line.strip_prefix("chain RPC on ") {
            break rest.split_whitespace().next().expect("url").to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Chain { child, url }
}

fn wallet(chain: &Chain, key: &Path, args: &[&str]) -> Output {
    Command::new(WALRUS)
        .arg("wallet")
        .args(["--wallet", key.to_str().expect("utf-8"), "--chain-url", &chain.url])
        .args(args)
        .output()
        .expect("walrus runs")
}

fn json(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("JSON output")
}

#[test]
fn wallet_commands_against_a_running_chain() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let chain = start_chain(&tmp.path().join("chain"));
    let (alice, bob) = (tmp.path().join("alice.key"), tmp.path().join("bob.key"));

    let missing = wallet(&chain, &alice, &["balance"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("walrus wallet new"));

    let created = json(&wallet(&chain, &alice, &["--json", "new"]));
    let address = created["address"].as_str().expect("address").to_string();
    assert_eq!(json(&wallet(&chain, &alice, &["--json", "address"]))["address"], address.as_str());
    json(&wallet(&chain, &bob, &["--json", "new"]));
    let bob_address =
        json(&wallet(&chain, &bob, &["--json", "address"]))["address"].as_str().expect("a").to_string();

    json(&wallet(&chain, &alice, &["--json", "faucet", "--amount", "10"]));
    let balance = json(&wallet(&chain, &alice, &["--json", "balance"]));
    assert_eq!(balance["balanceFrost"], 10_000_000_000u64);

    json(&wallet(&chain, &alice, &["--json", "transfer", &bob_address, "2.5"]));
    let bob_balance = json(&wallet(&chain, &alice, &["--json", "balance", "--address", &bob_address]));
    assert_eq!(bob_balance["balanceFrost"], 2_500_000_000u64);

    for bad in [vec!["transfer", &bob_address, "1.2.3"], vec!["transfer", "0x12", "1"]] {
        let output = wallet(&chain, &alice, &bad);
        assert!(!output.status.success(), "{bad:?} should fail");
        assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
    }
    let broke = wallet(&chain, &bob, &["transfer", &address, "100"]);
    assert!(!broke.status.success());
    assert!(String::from_utf8_lossy(&broke.stderr).contains("EInsufficientFunds"), "{broke:?}");
}

fn walrus(chain: &Chain, key: &Path, args: &[&str]) -> Output {
    Command::new(WALRUS)
        .args(args)
        .args(["--json", "--wallet", key.to_str().expect("utf-8"), "--chain-url", &chain.url])
        .output()
        .expect("walrus runs")
}

/// `walrus stake`, `list-staked-wal`, `request-withdraw-stake`, `withdraw-stake` and `info
/// committee|epoch` against a running chain.
#[test]
fn staking_commands_against_a_running_chain() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let chain = start_chain(&tmp.path().join("chain"));
    let key = tmp.path().join("staker.key");
    json(&wallet(&chain, &key, &["--json", "new"]));
    json(&wallet(&chain, &key, &["--json", "faucet", "--amount", "10"]));

    let epoch = json(&walrus(&chain, &key, &["info", "epoch"]));
    assert_eq!((epoch["epoch"].as_u64(), epoch["state"].as_str()), (Some(0), Some("EpochChangeDone")));
    let committee = json(&walrus(&chain, &key, &["info", "committee"]));
    let members = committee["storageNodes"].as_array().expect("members");
    assert_eq!(members.len(), 2);
    // Genesis stake: 100 WAL per shard, 5 shards each.
    assert_eq!(members[0]["stake"], 500_000_000_000u64, "{committee}");
    let node = members[0]["nodeId"].as_str().expect("node ID").to_string();

    let staked = json(&walrus(&chain, &key, &["stake", "--node-id", &node, "--amount", "2"]));
    let id = staked["stakedWal"].as_str().expect("id").to_string();
    let listed = json(&walrus(&chain, &key, &["list-staked-wal"]));
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(
        (listed[0]["activationEpoch"].as_u64(), listed[0]["state"].as_str()),
        (Some(1), Some("staked"))
    );
    // Not active and not counted by a selection yet: paid back at once.
    let requested = json(&walrus(&chain, &key, &["request-withdraw-stake", "--staked-wal-id", &id]));
    assert_eq!(requested["withdrawn"], true);
    let again = json(&walrus(&chain, &key, &["stake", "--node-id", &node, "--amount", "1.5"]));
    let again = again["stakedWal"].as_str().expect("id").to_string();
    json(&walrus(&chain, &key, &["withdraw-stake", "--staked-wal-id", &again]));
    assert_eq!(json(&walrus(&chain, &key, &["list-staked-wal"])), serde_json::json!([]));
    let balance = json(&wallet(&chain, &key, &["--json", "balance"]));
    assert_eq!(balance["balanceFrost"], 10_000_000_000u64 - 4 * 1_000, "only the fees are spent");

    let small = walrus(&chain, &key, &["stake", "--node-id", &node, "--amount", "0.5"]);
    assert!(String::from_utf8_lossy(&small.stderr).contains("EStakeBelowThreshold"), "{small:?}");
}
