//! Invocations of the reference CLI and daemon as the Walrus docs write them, against a network
//! of real processes (n = 10): each succeeds with the reference's output shape, and the ones the
//! reference refuses are refused here before anything reaches the chain.

use crate::common;

use std::process::Command;

use common::{spawn, walrus, Network, WALRUS};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Runs `walrus ARGS`, which must fail; its standard error.
fn refused(args: &[&str]) -> String {
    let output = Command::new(WALRUS).args(args).output().expect("walrus runs");
    assert!(!output.status.success(), "walrus {args:?} succeeded");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `walrus --wallet W --rpc-url URL …`: the reference's global flags, before the subcommand.
struct Cli {
    global: Vec<String>,
}

impl Cli {
    fn run(&self, args: &[&str]) -> serde_json::Value {
        let global: Vec<&str> = self.global.iter().map(String::as_str).collect();
        json(&walrus(&[&global[..], args, &["--json"]].concat()))
    }

    fn refused(&self, args: &[&str]) -> String {
        let global: Vec<&str> = self.global.iter().map(String::as_str).collect();
        refused(&[&global[..], args].concat())
    }
}

#[test]
fn reference_invocations_run_with_the_references_output() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let net = Network::start(&tmp.path().join("net"), 4, 10);
    let wallet = tmp.path().join("wallet.key");
    let wallet = wallet.to_str().expect("utf-8").to_string();
    let cli =
        Cli { global: vec!["--wallet".into(), wallet.clone(), "--rpc-url".into(), net.chain_url.clone()] };
    cli.run(&["wallet", "new"]);
    cli.run(&["wallet", "faucet", "--amount", "99"]);
    assert_eq!(cli.run(&["get-wal", "--amount", "1000000000"])["amount"], 1_000_000_000u64);
    let files: Vec<String> = (0..5u8)
        .map(|i| {
            let path = tmp.path().join(format!("file{i}.bin"));
            std::fs::write(&path, vec![i; 20_000 + usize::from(i)]).expect("write");
            path.to_str().expect("utf-8").to_string()
        })
        .collect();
    let blob_objects = stores(&cli, &files);
    info_and_health(&cli);
    objects(&cli, &blob_objects, &files);
    daemon(&net.chain_url, &wallet, &tmp.path().join("sub-wallets"));
}

#[test]
fn completion_scripts_and_json_mode_errors() {
    // Offline: a dry run for a shard count, against no network at all.
    let file = tempfile::NamedTempFile::new().expect("a file");
    std::fs::write(file.path(), b"offline").expect("write");
    let path = file.path().to_str().expect("utf-8");
    let dry = json(&walrus(&[
        "--rpc-url",
        "http://127.0.0.1:1",
        "store",
        path,
        "--dry-run",
        "--n-shards",
        "10",
        "--json",
    ]));
    let id = json(&walrus(&["blob-id", path, "--n-shards", "10", "--json"]));
    assert_eq!(dry[0]["blobId"], id["blobId"], "{dry}");
    let down = refused(&["--rpc-url", "http://127.0.0.1:1", "info"]);
    assert!(down.contains("cannot reach http://127.0.0.1:1: is the network running?"), "one line: {down}");
    assert_eq!(down.trim().lines().count(), 1, "{down}");
    let bash = walrus(&["completion", "bash"]);
    assert!(bash.contains("_walrus()"), "a bash completion function");
    assert!(walrus(&["completion", "--shell", "zsh"]).starts_with("#compdef walrus"));
    let output = Command::new(WALRUS).args(["json", r#"{"command": {"read": {"blobId": "nope"}}}"#]).output();
    let output = output.expect("walrus runs");
    assert!(!output.status.success());
    let answer = json(&String::from_utf8_lossy(&output.stdout));
    assert!(answer["error"].as_str().expect("an error").contains("invalid blob ID"), "{answer}");
}

/// `store` with each lifetime option; the refused combinations. Returns the new objects.
fn stores(cli: &Cli, files: &[String]) -> Vec<String> {
    let stored = cli.run(&["store", &files[0], "--epochs", "2", "--deletable"]);
    let created = &stored[0]["blobStoreResult"]["newlyCreated"];
    let object = &created["blobObject"];
    for field in ["id", "registeredEpoch", "blobId", "size", "encodingType", "certifiedEpoch", "deletable"] {
        assert!(!object[field].is_null(), "{field} in {stored}");
    }
    assert_eq!(object["storage"]["endEpoch"], 2, "{stored}");
    assert!(created["resourceOperation"]["registerFromScratch"].is_object(), "{stored}");
    assert!(created["cost"].as_u64().expect("cost") > 0, "{stored}");
    assert_eq!(stored[0]["path"].as_str(), Some(files[0].as_str()), "{stored}");
    let id = cli.run(&["blob-id", &files[0]]);
    assert_eq!(
        (id["nShards"].as_u64(), id["encodingType"].as_str()),
        (Some(10), Some("RS2")),
        "the network's shards"
    );
    assert_eq!(id["blobId"], object["blobId"], "{id}");
    let permanent = cli.run(&["store", &files[1], "--end-epoch", "3", "--permanent"]);
    let permanent_object = &permanent[0]["blobStoreResult"]["newlyCreated"]["blobObject"];
    assert_eq!(
        (permanent_object["storage"]["endEpoch"].as_u64(), permanent_object["deletable"].as_bool()),
        (Some(3), Some(false))
    );
    let soon = "2999-01-01T00:00:00Z";
    let late = cli.refused(&["store", &files[2], "--earliest-expiry-time", soon]);
    assert!(late.contains("epochs ahead asked"), "a time past the maximum: {late}");
    // Epochs are an hour long: two hours from now is two or three epochs ahead.
    let timed = cli.run(&["store", &files[2], "--earliest-expiry-time", &in_seconds(7200)]);
    let end = timed[0]["blobStoreResult"]["newlyCreated"]["blobObject"]["storage"]["endEpoch"].as_u64();
    assert!(matches!(end, Some(2 | 3)), "{timed}");
    let both = cli.refused(&["store", &files[3], "--epochs", "2", "--end-epoch", "3"]);
    assert!(both.contains("cannot be used with"), "one lifetime option: {both}");
    let unshared = cli.refused(&["store", &files[3], "--share"]);
    assert!(unshared.contains("--permanent"), "only a permanent blob is shared: {unshared}");
    let shared = cli.run(&["store", &files[4], "--permanent", "--share", "--ignore-resources"]);
    let created = &shared[0]["blobStoreResult"]["newlyCreated"];
    assert_eq!(created["sharedBlobObject"], created["blobObject"]["id"], "{shared}");
    assert!(created["resourceOperation"]["registerFromScratch"].is_object(), "{shared}");
    let too_long = cli.refused(&["store", &files[3], "--epochs", "100000"]);
    assert!(too_long.contains("this system stores for 1 to"), "{too_long}");
    let id = |v: &serde_json::Value| {
        v[0]["blobStoreResult"]["newlyCreated"]["blobObject"]["id"].as_str().expect("id").to_string()
    };
    vec![id(&stored), id(&permanent), id(&timed)]
}

fn info_and_health(cli: &Cli) {
    let info = cli.run(&["info"]);
    for part in ["epochInfo", "storageInfo", "sizeInfo", "priceInfo"] {
        assert!(info[part].is_object(), "{part} in {info}");
    }
    assert_eq!(cli.run(&["info", "storage"])["nShards"], 10);
    assert!(cli.run(&["info", "epoch"])["epochDuration"]["secs"].is_u64());
    assert!(cli.run(&["info", "size"])["maxBlobSize"].is_u64());
    assert!(cli.run(&["info", "price"])["encodingDependentPriceInfo"][0]["exampleBlobs"].is_array());
    assert_eq!(cli.run(&["info", "bft"])["quorumThreshold"], 7);
    let committee = cli.run(&["info", "committee", "--sort-by", "url", "--desc"]);
    let nodes = committee["storageNodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 4);
    assert!(nodes[0]["networkAddress"].as_str() > nodes[3]["networkAddress"].as_str(), "descending by URL");
    let all = cli.run(&["info", "all"]);
    assert!(all["committeeInfo"].is_object() && all["bftInfo"].is_object(), "{all}");
    let health =
        cli.run(&["health", "--committee", "--detail", "--sort-by", "name", "--concurrent-requests", "2"]);
    let reports = health["healthInfo"].as_array().expect("reports");
    assert_eq!(reports.len(), 4);
    assert!(reports.iter().all(|r| r["healthInfo"]["Ok"]["shardDetail"].is_object()), "{health}");
    let node_id = nodes[0]["nodeId"].as_str().expect("node ID");
    let one = cli.run(&["health", "--node-ids", node_id]);
    assert_eq!(one["healthInfo"][0]["nodeId"].as_str(), Some(node_id));
    assert_eq!(cli.run(&["health", "--active-set"])["healthInfo"].as_array().map(Vec::len), Some(4));
    let unknown = cli.refused(&["health", "--node-urls", "127.0.0.1:1"]);
    assert!(unknown.contains("not found in the active set"), "{unknown}");
}

/// Attributes, sharing, extending, deleting and burning.
fn objects(cli: &Cli, objects: &[String], files: &[String]) {
    let (deletable, permanent, timed) = (&objects[0], &objects[1], &objects[2]);
    cli.run(&["set-blob-attribute", deletable, "--attr", "content-type", "text/plain", "--attr", "k", "v"]);
    let got = cli.run(&["get-blob-attribute", deletable]);
    assert_eq!(got["attribute"], serde_json::json!({ "content-type": "text/plain", "k": "v" }));
    cli.run(&["remove-blob-attribute-fields", deletable, "--keys", "k"]);
    assert_eq!(
        cli.run(&["get-blob-attribute", deletable])["attribute"],
        serde_json::json!({ "content-type": "text/plain" })
    );
    cli.run(&["remove-blob-attribute", deletable]);
    assert!(cli.run(&["get-blob-attribute", deletable])["attribute"].is_null());

    let shared = cli.run(&["share", "--blob-obj-id", permanent, "--amount", "1000000000"]);
    assert_eq!(shared["sharedBlobObjectId"].as_str(), Some(permanent.as_str()));
    cli.run(&["fund-shared-blob", "--shared-blob-obj-id", permanent, "--amount", "1000000000"]);
    let extended = cli.run(&["extend", "--blob-obj-id", permanent, "--epochs-extended", "1", "--shared"]);
    assert_eq!(extended["endEpoch"], 4, "{extended}");
    let zero = cli.refused(&["extend", "--blob-obj-id", deletable, "--epochs-extended", "0"]);
    assert!(zero.contains("epochs-extended"), "{zero}");

    let deleted = cli.run(&["delete", "--file", &files[0], "--object-id", timed, "--yes"]);
    assert_eq!(deleted.as_array().map(Vec::len), Some(2), "{deleted}");
    assert_eq!(deleted[0]["deletedBlobs"][0]["id"].as_str(), Some(deletable.as_str()), "{deleted}");
    assert_eq!(deleted[1]["deletedBlobs"][0]["id"].as_str(), Some(timed.as_str()), "{deleted}");
    let again = cli.run(&["delete", "--file", &files[0], "--yes"]);
    let reason = again[0]["error"].as_str().expect("a reason");
    assert!(reason.contains("no live object") && reason.contains("blob "), "{again}");
    let kept = cli.run(&["store", &files[3], "--permanent"]);
    let blob_id = kept[0]["blobStoreResult"]["newlyCreated"]["blobObject"]["blobId"].as_str().expect("ID");
    let permanent_refused = cli.run(&["delete", "--blob-id", blob_id, "--yes"]);
    assert!(
        permanent_refused[0]["error"].as_str().expect("reason").contains("permanent"),
        "{permanent_refused}"
    );
    let object = kept[0]["blobStoreResult"]["newlyCreated"]["blobObject"]["id"].as_str().expect("id");
    let burnt = cli.run(&["burn-blobs", "--object-ids", object, "--yes"]);
    assert_eq!(burnt["burnt"][0].as_str(), Some(object));
}

/// The reference's publisher command line, with sub-wallets; unknown query parameters refused.
fn daemon(chain_url: &str, wallet: &str, sub_wallets: &std::path::Path) {
    let sub_wallets = sub_wallets.to_str().expect("utf-8");
    let args = [
        "publisher",
        "--bind-address",
        "127.0.0.1:0",
        "--sub-wallets-dir",
        sub_wallets,
        "--n-clients",
        "2",
        "--max-concurrent-requests",
        "4",
        "--max-buffer-size",
        "4",
        "--wal-refill-amount",
        "5000000000",
        "--sub-wallets-min-balance",
        "1000000000",
        "--refill-interval",
        "2s",
        "--burn-after-store",
        "--wallet",
        wallet,
        "--rpc-url",
        chain_url,
    ];
    let (mut publisher, addr) = spawn(&args, "Publisher on http://");
    assert_eq!(put_status(&addr, "/v1/blobs?epochs=1&surprise=1", "x"), 400, "an unknown parameter");
    assert_eq!(put_status(&addr, "/v1/blobs?epochs=1", "through a sub-wallet"), 200);
    assert_eq!(std::fs::read_dir(sub_wallets).expect("keys").count(), 2, "one key per sub-wallet");
    publisher.kill().expect("stops");
    publisher.wait().expect("reaped");
}

/// The time `seconds` from now, RFC 3339 UTC (from `date`).
fn in_seconds(seconds: u64) -> String {
    let output = Command::new("date")
        .args(["-u", "-d", &format!("+{seconds} seconds"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output();
    String::from_utf8(output.expect("date runs").stdout).expect("utf-8").trim().to_string()
}

/// The status of a raw HTTP/1.1 `PUT` of `body` to `path` at `addr`.
fn put_status(addr: &str, path: &str, body: &str) -> u16 {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).expect("connects");
    let request = format!(
        "PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("writes");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reads");
    answer.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("{answer}"))
}
