//! A new operator's node joins the committee through the commands of docs/operators.md, and an
//! original node leaves, on a network of real processes with 12-second epochs: `node setup`,
//! the faucet, `node register`, `node run`, `stake`; later the original node's operator withdraws
//! its stake. The nodes step the epochs themselves; a blob stored before stays readable, and the
//! new node rebuilds its shards and reports them. On the way, two operators pass a governance
//! vote from the command line, which takes effect at the next epoch.

use crate::common;

use std::time::{Duration, Instant};

use common::{spawn, walrus, Network};

/// The chain's system view, as JSON.
fn system(chain_url: &str) -> serde_json::Value {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let http = walrus_tls::http_client().build().expect("an HTTP client");
        let response = http.get(format!("{chain_url}/v1/system")).send().await.expect("GET /v1/system");
        response.json().await.expect("JSON")
    })
}

/// Waits (up to `limit`) until `check` holds for the system view.
fn wait_for(
    chain_url: &str,
    limit: Duration,
    what: &str,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let view = system(chain_url);
        if check(&view) {
            return view;
        }
        assert!(start.elapsed() < limit, "{what} did not happen within {limit:?}: {view}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn shards_of(view: &serde_json::Value, node_id: &str) -> usize {
    let members = view["system"]["committee"]["members"].as_array().expect("members");
    members
        .iter()
        .find(|m| m["node_id"] == node_id)
        .map_or(0, |m| m["shards"].as_array().expect("shards").len())
}

fn epoch_of(view: &serde_json::Value) -> u64 {
    view["system"]["committee"]["epoch"].as_u64().expect("epoch")
}

fn synced(view: &serde_json::Value) -> bool {
    view["system"]["epoch_state"].get("ChangeSync").is_none()
}

/// The operator's own calls on a registered node (`node-admin`, with its configuration in
/// `dir`): votes, name, and a new network key before the node's first start, which the node
/// registers as it starts. Returns the new key.
fn admin_calls(config: &str, dir: &std::path::Path) -> String {
    walrus(&["--config", config, "node-admin", "set-votes", "--capacity", "1000000000000"]);
    walrus(&["--config", config, "node-admin", "set-info", "--name", "fifth-node"]);
    let rotated: serde_json::Value =
        serde_json::from_str(&walrus(&["--config", config, "node-admin", "rotate-network-key", "--json"]))
            .expect("JSON");
    let new_key = rotated["networkPublicKey"].as_str().expect("new key").to_string();
    assert_ne!(rotated["oldNetworkPublicKey"].as_str(), Some(new_key.as_str()));
    assert!(dir.join("network.key.old").exists());
    new_key
}

/// The node's record shows [`admin_calls`]: its name, capacity vote, and the key it registered.
fn admin_calls_took_effect(config: &str, new_key: &str) {
    let info: serde_json::Value =
        serde_json::from_str(&walrus(&["--config", config, "node-admin", "info", "--json"])).expect("JSON");
    assert_eq!(info["name"], "fifth-node", "{info}");
    assert_eq!(info["capacity"], 1_000_000_000_000u64, "{info}");
    assert_eq!(info["networkPublicKey"].as_str(), Some(new_key), "{info}");
}

/// Governance from the command line: the operators of nodes 0 and 1 (7 of 10 shards, a quorum)
/// raise the validators' reveal bond; node 2's proposal of a stake slashing gets only its own
/// 3 shards and stays open. Proposals lapse at the epoch's end, so the votes start at the
/// beginning of a 12-second epoch; on a loaded machine that epoch may still end under them, and
/// the votes are then cast again in the next one.
fn governance_vote(dir: &std::path::Path, url: &str) {
    let config = |i: usize| dir.join(format!("nodes/{i}/node.yaml")).to_str().expect("utf-8").to_string();
    let configs = [config(0), config(1), config(2)];
    for _ in 0..3 {
        let now = epoch_of(&system(url));
        let view = wait_for(url, Duration::from_secs(60), "a fresh epoch", |view| {
            epoch_of(view) > now && synced(view)
        });
        let open = votes(&configs, url);
        if epoch_of(&system(url)) != epoch_of(&view) {
            continue;
        }
        let open = open.expect("the votes of one epoch succeed");
        let passed: Vec<bool> = open["open"]
            .as_array()
            .expect("list")
            .iter()
            .map(|p| p["passed"].as_bool().expect("bool"))
            .collect();
        assert_eq!(passed, [true, false], "{open}");
        assert_eq!(open["scheduled"][0]["RevealBond"], 2_000_000_000u64, "{open}");
        return;
    }
    panic!("three epochs in a row ended under the votes");
}

/// The votes of [`governance_vote`] by the operators with `configs`; the open proposals after
/// them, or `None` if a step failed (as one does when the epoch ends under it).
fn votes(configs: &[String; 3], url: &str) -> Option<serde_json::Value> {
    let run = |args: &[&str]| {
        let output = std::process::Command::new(common::WALRUS).args(args).output().expect("walrus runs");
        if !output.status.success() {
            eprintln!("walrus {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        output.status.success().then(|| String::from_utf8(output.stdout).expect("utf-8 output"))
    };
    // Another process reads the newest proven state, which may be a few blocks behind the
    // vote just made: the open proposals once `count` of them show (within 10 s).
    let proposals = |count: usize| -> Option<serde_json::Value> {
        for _ in 0..20 {
            let open: serde_json::Value =
                serde_json::from_str(&run(&["governance", "proposals", "--chain-url", url, "--json"])?)
                    .ok()?;
            if open["open"].as_array().is_some_and(|list| list.len() >= count) {
                return Some(open);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        eprintln!("fewer than {count} open proposals after 10 s");
        None
    };
    let [first, second, third] = configs;
    run(&["--config", first, "node-admin", "vote", "--set", "reveal-bond=2000000000"])?;
    let open = proposals(1)?;
    let id = open["open"][0]["id"].as_u64().expect("a proposal ID").to_string();
    assert_eq!(open["open"][0]["passed"], false, "{open}");
    run(&["--config", second, "node-admin", "vote", "--proposal", &id])?;
    let info: serde_json::Value =
        serde_json::from_str(&run(&["--config", third, "node-admin", "info", "--json"])?).expect("JSON");
    let target = info["nodeId"].as_str().expect("node ID").to_string();
    run(&["--config", third, "node-admin", "vote", "--slash-stake", &target, "--bps", "100"])?;
    // The second proposal shows in a state as new as the vote before it.
    proposals(2)
}

#[test]
fn a_new_node_joins_by_stake_and_an_original_node_leaves() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut net = Network::start_with_epochs(&tmp.path().join("net"), 3, 10, "12s");
    let url = net.chain_url.as_str();
    let user = tmp.path().join("user.key");
    let user = user.to_str().expect("utf-8");
    walrus(&["wallet", "--wallet", user, "--chain-url", url, "new"]);
    walrus(&["wallet", "--wallet", user, "--chain-url", url, "faucet", "--amount", "1000"]);
    let file = tmp.path().join("kept.bin");
    let data: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&file, &data).expect("write");
    let stored: serde_json::Value = serde_json::from_str(&walrus(&[
        "store",
        file.to_str().expect("utf-8"),
        "--epochs",
        "20",
        "--wallet",
        user,
        "--chain-url",
        url,
        "--json",
    ]))
    .expect("JSON");
    let blob_id = stored[0]["blobStoreResult"]["newlyCreated"]["blobObject"]["blobId"]
        .as_str()
        .expect("id")
        .to_string();

    governance_vote(&net.dir, url);

    // The new operator, from nothing.
    let dir = tmp.path().join("fifth");
    let port = common::port_block(1);
    let setup: serde_json::Value = serde_json::from_str(&walrus(&[
        "node",
        "setup",
        "--dir",
        dir.to_str().expect("utf-8"),
        "--chain-url",
        url,
        "--rest-listen",
        &format!("127.0.0.1:{port}"),
        "--name",
        "fifth",
        "--json",
    ]))
    .expect("JSON");
    assert!(setup["operator"].as_str().is_some(), "{setup}");
    let owner = dir.join("owner.key");
    walrus(&[
        "wallet",
        "--wallet",
        owner.to_str().expect("utf-8"),
        "--chain-url",
        url,
        "faucet",
        "--amount",
        "100",
    ]);
    let config = dir.join("node.yaml");
    let config = config.to_str().expect("utf-8");
    let registered: serde_json::Value =
        serde_json::from_str(&walrus(&["--config", config, "node", "register", "--json"])).expect("JSON");
    let node_id = registered["nodeId"].as_str().expect("node ID").to_string();
    let new_key = admin_calls(config, &dir);
    let (fifth, _) = spawn(&["node", "run", "--config", config], " on https://");
    // Killed with the network's own nodes when the test ends, failed or not.
    net.nodes.push(fifth);
    // 400 WAL beside 400, 300 and 300: 3 of the 10 shards.
    walrus(&["stake", "--node-id", &node_id, "--amount", "400", "--wallet", user, "--chain-url", url]);

    let joined = wait_for(url, Duration::from_secs(90), "the new node joining", |view| {
        shards_of(view, &node_id) > 0 && synced(view)
    });
    let epoch = epoch_of(&joined);
    assert_eq!(shards_of(&joined, &node_id), 3, "{joined}");
    // It reports its shards once it has them, pulled or rebuilt (the sync's sweep tries each
    // lacking blob once per pass, and wakes recoveries waiting out a backoff).
    wait_for(url, Duration::from_secs(30), "the new node's sync report", |view| {
        view["system"]["nodes"][&node_id]["last_sync_done"].as_u64() >= Some(epoch)
    });
    let copy = tmp.path().join("copy.bin");
    walrus(&["read", &blob_id, "--out", copy.to_str().expect("utf-8"), "--wallet", user, "--chain-url", url]);
    assert_eq!(std::fs::read(&copy).expect("copy"), data);
    admin_calls_took_effect(config, &new_key);

    // An original node's operator withdraws its stake: the node leaves, its shards move.
    let leaving = net.dir.join("nodes/2/owner.key");
    let leaving = leaving.to_str().expect("utf-8");
    let listed: serde_json::Value = serde_json::from_str(&walrus(&[
        "list-staked-wal",
        "--wallet",
        leaving,
        "--chain-url",
        url,
        "--json",
    ]))
    .expect("JSON");
    let stake = listed[0]["id"].as_str().expect("genesis stake").to_string();
    let leaving_node = listed[0]["nodeId"].as_str().expect("node").to_string();
    walrus(&["request-withdraw-stake", "--staked-wal-id", &stake, "--wallet", leaving, "--chain-url", url]);
    let left = wait_for(url, Duration::from_secs(90), "the original node leaving", |view| {
        shards_of(view, &leaving_node) == 0 && synced(view)
    });
    assert!(epoch_of(&left) > epoch);
    // The vote passed in the first epoch took effect at the next.
    let shown: serde_json::Value =
        serde_json::from_str(&walrus(&["governance", "show", "--chain-url", url, "--json"])).expect("JSON");
    assert_eq!(shown["challenge"]["reveal_bond"], 2_000_000_000u64, "{shown}");
    std::fs::remove_file(&copy).expect("removed");
    walrus(&["read", &blob_id, "--out", copy.to_str().expect("utf-8"), "--wallet", user, "--chain-url", url]);
    assert_eq!(std::fs::read(&copy).expect("copy"), data);
}
