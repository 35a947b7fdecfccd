//! `walrus localnet` end to end: it starts four chain validators and four node processes,
//! funds the wallet, passes its self-check and describes itself in `localnet.json` and
//! `client_config.yaml`; the CLI stores and reads against it through that configuration;
//! SIGTERM stops every process it started; a restart on the same directory keeps the blob
//! readable; with a validator killed (-9) the network stores and reads on, and the validator,
//! restarted alone with the command `localnet.json` records, catches up; a second localnet on
//! the running directory is refused; a killed node is restarted.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::{new_blob_id, walrus, WALRUS};

/// Starts the localnet (its standard error into `errors`) and waits until it is up; returns
/// the process and what it printed.
fn start_localnet(args: &[String], errors: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(WALRUS)
        .arg("localnet")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(errors).expect("a file for standard error"))
        .spawn()
        .expect("walrus localnet starts");
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = String::new();
    loop {
        let line = lines.next().expect("localnet prints until it is up").expect("utf-8");
        printed.push_str(&line);
        printed.push('\n');
        if line.starts_with("Ctrl-C to stop") {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    (child, printed)
}

/// The localnets a test started, stopped (SIGTERM, which stops their children) when the test
/// ends however it ends: a failing assertion leaves no network running.
#[derive(Default)]
struct StopOnDrop(std::cell::RefCell<Vec<u32>>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        for pid in self.0.borrow().iter() {
            // Only a localnet still running under that pid (not a process that took it since).
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains("localnet") {
                let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).stderr(Stdio::null()).status();
            }
        }
    }
}

fn stop(mut child: Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(status.success());
    let exit = child.wait().expect("reaped");
    assert!(exit.success(), "localnet exited with {exit}");
}

/// What the localnet in `dir` wrote to `localnet.json`.
fn described(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("localnet.json")).expect("localnet.json"))
        .expect("JSON")
}

/// The validators `localnet.json` lists: four, from `port` on, with their process IDs and
/// commands; the chain URL lists them all.
fn described_validators(described: &serde_json::Value, port: u16) -> &[serde_json::Value] {
    let validators = described["validators"].as_array().expect("validators");
    assert_eq!(validators.len(), 4);
    for (i, validator) in validators.iter().enumerate() {
        assert_eq!(validator["url"], format!("http://127.0.0.1:{}", port + i as u16), "{validator}");
        assert!(validator["pid"].as_u64().is_some() && validator["command"].is_array(), "{validator}");
    }
    let urls: Vec<&str> = validators.iter().map(|v| v["url"].as_str().expect("url")).collect();
    assert_eq!(described["chainUrl"], urls.join(","));
    validators
}

/// `walrus localnet` arguments for a network in `dir` of four validators from `port` on, their
/// p2p from `port + 10`, four nodes from `port + 20` and the gateway at `port + 30`.
fn localnet_args(dir: &std::path::Path, wallet: &std::path::Path, port: u16) -> Vec<String> {
    [
        "--dir",
        dir.to_str().expect("utf-8"),
        "--nodes",
        "4",
        "--shards",
        "10",
        "--epoch-duration",
        "1h",
        "--validators",
        "4",
        "--chain-port",
        &port.to_string(),
        "--p2p-port",
        &(port + 10).to_string(),
        "--first-node-port",
        &(port + 20).to_string(),
        "--wallet",
        wallet.to_str().expect("utf-8"),
        "--gateway-port",
        &(port + 30).to_string(),
        "--portal-port",
        &(port + 31).to_string(),
        "--first-key-server-port",
        &(port + 32).to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn alive(pid: u64) -> bool {
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn localnet_runs_stores_reads_stops_and_restarts_with_its_blobs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("localnet");
    let wallet = tmp.path().join("wallet.key");
    let port = crate::common::port_block(40);
    let args = localnet_args(&dir, &wallet, port);
    let cleanup = StopOnDrop::default();
    let (child, printed) = start_localnet(&args, &tmp.path().join("localnet.err"));
    cleanup.0.borrow_mut().push(child.id());
    assert!(printed.contains("Self-check: stored"), "{printed}");
    let described = described(&dir);
    let nodes = described["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 4);
    let shards: u64 = nodes.iter().map(|n| n["shards"].as_u64().expect("shards")).sum();
    assert_eq!(shards, 10);
    // The nodes serve HTTPS with their network keys (what the clients below pin).
    for node in nodes {
        assert!(node["url"].as_str().is_some_and(|url| url.starts_with("https://")), "{node}");
        assert!(node["networkPublicKey"].as_str().is_some(), "{node}");
    }
    let validators = described_validators(&described, port);
    // The client configuration it wrote is all the other commands need, given as the global
    // `--config` flag (here before the subcommand) or as `WALRUS_CONFIG`.
    let config = dir.join("client_config.yaml");
    let config = config.to_str().expect("utf-8");
    assert!(printed.contains(&format!("--config {config}")), "{printed}");

    let file = tmp.path().join("blob.txt");
    std::fs::write(&file, b"kept across restarts\n".repeat(1000)).expect("write");
    let stored: serde_json::Value = serde_json::from_str(&walrus(&[
        "--config",
        config,
        "store",
        file.to_str().expect("utf-8"),
        "--json",
    ]))
    .expect("JSON");
    let blob_id = stored[0]["blobStoreResult"]["newlyCreated"]["blobObject"]["blobId"]
        .as_str()
        .expect("blob ID")
        .to_string();
    // The gateway it started stores and reads over HTTP, as the Walrus docs' examples do.
    let gateway = described["gatewayUrl"].as_str().expect("gateway URL").to_string();
    assert_eq!(gateway, format!("http://127.0.0.1:{}", port + 30));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let via_gateway = b"through the gateway\n".repeat(100);
    let http = walrus_tls::http_client().build().expect("an HTTP client");
    let put: serde_json::Value = runtime.block_on(async {
        let response = http
            .put(format!("{gateway}/v1/blobs?epochs=2"))
            .body(via_gateway.clone())
            .send()
            .await
            .expect("PUT");
        assert_eq!(response.status(), 200);
        response.json().await.expect("JSON")
    });
    let gateway_blob = put["newlyCreated"]["blobObject"]["blobId"].as_str().expect("blob ID").to_string();
    let get = |blob_id: String| {
        runtime.block_on(async {
            let response = http.get(format!("{gateway}/v1/blobs/{blob_id}")).send().await.expect("GET");
            assert_eq!(response.status(), 200);
            response.bytes().await.expect("body").to_vec()
        })
    };
    assert_eq!(get(gateway_blob.clone()), via_gateway);
    assert_eq!(get(blob_id.clone()), std::fs::read(&file).expect("original"), "a CLI blob via the gateway");
    let pids: Vec<u64> = validators
        .iter()
        .map(|v| v["pid"].as_u64().expect("pid"))
        .chain(std::iter::once(described["gatewayPid"].as_u64().expect("gateway pid")))
        .chain(std::iter::once(described["portalPid"].as_u64().expect("portal pid")))
        .chain(
            described["keyServers"]
                .as_array()
                .expect("key servers")
                .iter()
                .map(|k| k["pid"].as_u64().expect("pid")),
        )
        .chain(nodes.iter().map(|n| n["pid"].as_u64().expect("pid")))
        .collect();
    stop(child);
    assert!(pids.iter().all(|pid| !alive(*pid)), "a process the localnet started is still running");

    let (child, printed) = start_localnet(&args, &tmp.path().join("localnet.err"));
    cleanup.0.borrow_mut().push(child.id());
    assert!(printed.contains("Self-check: stored"), "{printed}");
    let copy = tmp.path().join("copy.txt");
    let read = Command::new(WALRUS)
        .args(["read", &blob_id, "--out", copy.to_str().expect("utf-8")])
        .env("WALRUS_CONFIG", config)
        .output()
        .expect("walrus read runs");
    assert!(read.status.success(), "{}", String::from_utf8_lossy(&read.stderr));
    assert_eq!(get(gateway_blob), via_gateway, "a gateway blob after the restart");
    assert_eq!(std::fs::read(&copy).expect("copy"), std::fs::read(&file).expect("original"));

    a_site_is_published_and_served_by_the_portal(&runtime, config, &described, tmp.path());
    an_encrypted_blob_is_stored_and_read_back(config, tmp.path());
    a_killed_validator_is_tolerated_and_catches_up(&dir, config, &file, tmp.path());
    a_second_localnet_is_refused(&args, &dir);
    a_dead_node_is_restarted(child, &dir, &tmp.path().join("localnet.err"));
}

/// `walrus store --encrypt` seals a file for the localnet's three key servers (2 of 3 needed);
/// the blob holds ciphertext, and `walrus read` decrypts it for the wallet.
fn an_encrypted_blob_is_stored_and_read_back(config: &str, tmp: &std::path::Path) {
    let file = tmp.join("secret.txt");
    std::fs::write(&file, "a secret kept by key servers\n").expect("write");
    let stored: serde_json::Value = serde_json::from_str(&walrus(&[
        "--config",
        config,
        "store",
        file.to_str().expect("utf-8"),
        "--encrypt",
        "--json",
    ]))
    .expect("JSON");
    let blob_id = new_blob_id(&stored);
    let (raw, plain) = (tmp.join("secret.sealed"), tmp.join("secret.copy"));
    walrus(&["--config", config, "read", &blob_id, "--no-decrypt", "--out", raw.to_str().expect("utf-8")]);
    let sealed = std::fs::read(&raw).expect("read");
    assert!(!String::from_utf8_lossy(&sealed).contains("a secret"), "the stored blob is ciphertext");
    walrus(&["--config", config, "read", &blob_id, "--out", plain.to_str().expect("utf-8")]);
    assert_eq!(std::fs::read(&plain).expect("read"), std::fs::read(&file).expect("original"));
    let servers: serde_json::Value =
        serde_json::from_str(&walrus(&["--config", config, "seal", "key-servers", "--json"])).expect("JSON");
    assert_eq!(servers.as_array().map(Vec::len), Some(3));

    // An allowlist the wallet owns; the keys of a blob under it, as any Seal decryptor takes them.
    let json = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["--config", config];
        all.extend_from_slice(args);
        all.push("--json");
        serde_json::from_str(&walrus(&all)).expect("JSON")
    };
    let list = json(&["policy", "allowlist", "create"])["policy"].as_str().expect("policy").to_string();
    let shown = json(&["policy", "show", &list]);
    assert!(shown["body"]["Policy"]["kind"]["Allowlist"].is_object(), "{shown}");
    let under_list = format!("allowlist:{list}");
    let stored = json(&[
        "store",
        file.to_str().expect("utf-8"),
        "--encrypt",
        "--policy",
        &under_list,
        "--epochs",
        "2",
    ]);
    let blob_id = new_blob_id(&stored);
    let keys = json(&["seal", "fetch-keys", "--blob-id", &blob_id]);
    assert_eq!(keys["keys"].as_array().map(Vec::len), Some(2), "{keys}");
    walrus(&["--config", config, "read", &blob_id, "--out", plain.to_str().expect("utf-8")]);
    assert_eq!(std::fs::read(&plain).expect("read"), std::fs::read(&file).expect("original"));
}

/// `walrus site publish` over the localnet; its portal serves the site at the URL printed.
fn a_site_is_published_and_served_by_the_portal(
    runtime: &tokio::runtime::Runtime,
    config: &str,
    described: &serde_json::Value,
    tmp: &std::path::Path,
) {
    let site = tmp.join("site");
    std::fs::create_dir_all(site.join("css")).expect("mkdir");
    std::fs::write(site.join("index.html"), "<h1>A localnet site</h1>").expect("write");
    std::fs::write(site.join("css/site.css"), "h1 { color: teal }").expect("write");
    let published: serde_json::Value = serde_json::from_str(&walrus(&[
        "--config",
        config,
        "site",
        "publish",
        site.to_str().expect("utf-8"),
        "--epochs",
        "2",
        "--json",
    ]))
    .expect("JSON");
    assert_eq!(published["uploadedFiles"], 2, "{published}");
    let url = published["url"].as_str().expect("a portal URL").to_string();
    let portal = described["portalUrl"].as_str().expect("portal URL");
    let port = portal.rsplit(':').next().expect("port");
    assert!(url.ends_with(&format!(".localhost:{port}/")), "{url}");
    // `*.localhost` need not resolve here: the request goes to 127.0.0.1 with the site's host.
    let host = url.trim_start_matches("http://").trim_end_matches('/').to_string();
    let http = walrus_tls::http_client().build().expect("an HTTP client");
    let (status, body) = runtime.block_on(async {
        let response =
            http.get(format!("http://127.0.0.1:{port}/")).header("host", host).send().await.expect("GET");
        (response.status().as_u16(), response.text().await.expect("text"))
    });
    assert_eq!((status, body.as_str()), (200, "<h1>A localnet site</h1>"));
}

/// Kills validator 0 (the one clients try first) with SIGKILL: the CLI stores and reads through
/// the others; restarted alone with its recorded command, it catches up with them. Then two of
/// four validators are down: a store fails with a clear error within the submission timeout
/// instead of hanging, and succeeds again once one of them is back.
fn a_killed_validator_is_tolerated_and_catches_up(
    dir: &std::path::Path,
    config: &str,
    file: &std::path::Path,
    tmp: &std::path::Path,
) {
    let described = described(dir);
    let validators = described["validators"].as_array().expect("validators");
    kill(validators[0]["pid"].as_u64().expect("pid"));
    store_and_read(config, file, tmp);

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut restarted = vec![restart(&validators[0], tmp)];
    let client =
        |i: usize| walrus_chain_client::ChainClient::new(validators[i]["url"].as_str().expect("url"));
    let caught_up = runtime.block_on(async {
        let target = client(1).health().await.expect("validator 1 answers").height;
        for _ in 0..600 {
            if client(0).health().await.is_ok_and(|health| health.height >= target) {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        false
    });
    assert!(caught_up, "the restarted validator did not catch up within 60 s");

    // Two of four down: no quorum.
    kill(validators[2]["pid"].as_u64().expect("pid"));
    kill(validators[3]["pid"].as_u64().expect("pid"));
    let started = std::time::Instant::now();
    let output = Command::new(WALRUS)
        .args(["--config", config, "store", file.to_str().expect("utf-8"), "--force"])
        .output()
        .expect("walrus runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a store without a quorum of validators succeeded");
    assert!(stderr.contains("not final yet"), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(45), "the store took {:?}", started.elapsed());
    let stuck = runtime.block_on(client(1).health()).expect("validator 1 answers").height;
    restarted.push(restart(&validators[2], tmp));
    // The failed store's first transaction waited in the mempools; it runs first, so that the
    // next store's nonce is past it.
    let resumed = runtime.block_on(async {
        for _ in 0..600 {
            if client(1).health().await.is_ok_and(|health| health.height > stuck) {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        false
    });
    assert!(resumed, "the chain did not resume within 60 s of a third validator's return");
    store_and_read(config, file, tmp);
    for mut child in restarted {
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn kill(pid: u64) {
    assert!(Command::new("kill").args(["-KILL", &pid.to_string()]).status().expect("kill runs").success());
}

/// Stores `file` (a new object) and reads it back.
fn store_and_read(config: &str, file: &std::path::Path, tmp: &std::path::Path) {
    let stored: serde_json::Value = serde_json::from_str(&walrus(&[
        "--config",
        config,
        "store",
        file.to_str().expect("utf-8"),
        "--json",
        "--force",
    ]))
    .expect("JSON");
    let blob_id =
        stored[0]["blobStoreResult"]["newlyCreated"]["blobObject"]["blobId"].as_str().expect("blob ID");
    let copy = tmp.join("copy-of-store.txt");
    walrus(&["--config", config, "read", blob_id, "--out", copy.to_str().expect("utf-8")]);
    assert_eq!(std::fs::read(&copy).expect("copy"), std::fs::read(file).expect("original"));
}

/// Restarts a validator with the command `localnet.json` records for it.
fn restart(validator: &serde_json::Value, tmp: &std::path::Path) -> Child {
    let command: Vec<&str> =
        validator["command"].as_array().expect("command").iter().map(|a| a.as_str().expect("text")).collect();
    let log = tmp.join(format!("restarted-{}.err", validator["pid"]));
    Command::new(command[0])
        .args(&command[1..])
        .stderr(std::fs::File::create(log).expect("a file"))
        .spawn()
        .expect("the validator restarts")
}

/// Kills one node process of a running localnet: the localnet says which and restarts it (the
/// new process runs); then the localnet stops cleanly. (The chain has lost its quorum to the
/// validator test before: the node is not asked to store.)
fn a_dead_node_is_restarted(child: Child, dir: &std::path::Path, errors: &std::path::Path) {
    let described = described(dir);
    let node = described["nodes"][1]["pid"].as_u64().expect("pid").to_string();
    assert!(Command::new("kill").args(["-KILL", &node]).status().expect("kill runs").success());
    let exited = format!("(pid {node}) exited unexpectedly");
    let mut stderr = String::new();
    for _ in 0..600 {
        stderr = std::fs::read_to_string(errors).expect("standard error");
        if stderr.contains(&exited) && stderr.contains(" restarted (pid ") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let restarted = stderr.split(" restarted (pid ").nth(1).and_then(|rest| rest.split(')').next());
    let restarted: u64 = restarted.and_then(|pid| pid.parse().ok()).unwrap_or_else(|| panic!("{stderr}"));
    assert!(stderr.contains(&exited), "{stderr}");
    assert!(alive(restarted), "the restarted node runs");
    stop(child);
    assert!(!alive(restarted), "the restarted node stops with the localnet");
}

/// A second `walrus localnet` on the running directory says so at once and touches nothing:
/// the running network's logs keep their length.
fn a_second_localnet_is_refused(args: &[String], dir: &std::path::Path) {
    let log = dir.join("logs").join("validator-0.log");
    let before = std::fs::metadata(&log).expect("a log").len();
    let output = Command::new(WALRUS).arg("localnet").args(args).output().expect("walrus runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("already running in") && stderr.contains("(pid "), "{stderr}");
    assert!(std::fs::metadata(&log).expect("a log").len() >= before, "the running network's log was cut");
}
