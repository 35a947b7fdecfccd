//! Storage nodes on loopback with a real chain node: a blob registered on chain is uploaded to
//! two nodes, each confirms, the confirmations aggregate into a certificate the chain accepts,
//! and every refusal path answers with the reference's error JSON.
//!
//! With `WALRUS_CONFORMANCE_DIR` set (CI sets it), the official SDK's storage-node client runs
//! against a node through `node-api.mjs`.

use std::path::Path;
use std::time::Duration;

use walrus_chain::tx::CertificateArgs;
use walrus_chain::Call;
use walrus_chain_node::client::check_success;
use walrus_chain_node::init::{init_dir, read_ed25519, ChainDir, InitSpec};
use walrus_chain_node::{ChainClient, NodeConfig as ChainNodeConfig, RunningNode as RunningChain};
use walrus_core::encode::{encode_blob, EncodedBlob};
use walrus_core::keys::{BlsSignature, Ed25519KeyPair};
use walrus_core::messages::{signers_to_bitmap, SignedMessage};
use walrus_core::{BlobId, EncodingParams, ObjectId, SliverPairIndex, SliverType};
use walrus_node::{NodeConfig, RunningNode};

const N: u16 = 10;

/// Loopback ports for a test's nodes (the committee's addresses are fixed at genesis, and
/// peers find each other there): distinct per test and per process.
fn base_port(test: u16) -> u16 {
    20_000 + (std::process::id() % 400) as u16 * 10 * 4 + test * 10
}

struct Net {
    _tmp: tempfile::TempDir,
    dir: ChainDir,
    chain_url: String,
    chain: Option<RunningChain>,
    chain_client: ChainClient,
    nodes: Vec<RunningNode>,
    user: Ed25519KeyPair,
    http: reqwest::Client,
}

impl Net {
    async fn start(count: usize, test: u16) -> Net {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = ChainDir(tmp.path().join("chain"));
        let addresses = (0..count).map(|i| format!("127.0.0.1:{}", base_port(test) + i as u16)).collect();
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis();
        init_dir(&dir, &InitSpec::localnet(N, addresses, 3_600_000, now as u64)).expect("init");
        let faucet = read_ed25519(&dir.faucet_key()).expect("faucet");
        let chain = walrus_chain_node::start(ChainNodeConfig {
            dir: dir.clone(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            faucet: Some(faucet),
        })
        .await
        .expect("chain starts");
        let chain_url = format!("http://{}", chain.addr);
        let mut nodes = Vec::new();
        for i in 0..count {
            let config = node_config(&dir, i, &chain_url, base_port(test) + i as u16);
            nodes.push(walrus_node::start(config).await.expect("node starts"));
        }
        let chain_client = ChainClient::new(&chain_url);
        let user = Ed25519KeyPair::from_seed(&[42; 32]);
        chain_client.faucet(user.address(), 1_000_000_000_000).await.expect("funded");
        Net {
            _tmp: tmp,
            dir,
            chain_url,
            chain: Some(chain),
            chain_client,
            nodes,
            user,
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, node: usize, path: &str) -> String {
        format!("http://{}{path}", self.nodes[node].addr)
    }

    /// Reserves, registers and waits until every node has seen the registration.
    async fn register(&self, blob: &EncodedBlob, deletable: bool) -> ObjectId {
        let metadata = blob.metadata();
        let params = EncodingParams::new(u64::from(N)).expect("params");
        let size = params.encoded_blob_length(metadata.unencoded_length()).expect("size");
        let storage =
            self.chain_client.execute(&self.user, Call::ReserveSpace { size, epochs_ahead: 2 }).await;
        let register = Call::RegisterBlob {
            storage: storage.expect("reserve").effects.created[0],
            blob_id: *metadata.blob_id(),
            root_hash: metadata.metadata().compute_root_hash(),
            size: metadata.unencoded_length(),
            encoding_type: 1,
            deletable,
        };
        let object =
            self.chain_client.execute(&self.user, register).await.expect("register").effects.created[0];
        for node in 0..self.nodes.len() {
            self.wait_registered(node, metadata.blob_id()).await;
        }
        object
    }

    async fn wait_registered(&self, node: usize, blob_id: &BlobId) {
        for _ in 0..200 {
            let status: serde_json::Value =
                self.get_json(node, &format!("/v1/blobs/{blob_id}/status")).await.1;
            if status["success"]["data"] != "nonexistent" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("node {node} never saw the registration of {blob_id}");
    }

    async fn get_json(&self, node: usize, path: &str) -> (u16, serde_json::Value) {
        let response = self.http.get(self.url(node, path)).send().await.expect("answer");
        (response.status().as_u16(), response.json().await.expect("JSON"))
    }

    async fn put(&self, node: usize, path: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
        let response = self.http.put(self.url(node, path)).body(body).send().await.expect("answer");
        (response.status().as_u16(), response.json().await.expect("JSON"))
    }

    /// The pairs node `node` is responsible for.
    fn pairs_of(&self, node: usize, blob_id: &BlobId) -> Vec<SliverPairIndex> {
        let view = self.nodes[node].node.view();
        view.shards.iter().map(|shard| blob_id.pair_for_shard(*shard, N)).collect()
    }

    /// Uploads metadata and this node's slivers.
    async fn upload(&self, node: usize, blob: &EncodedBlob) {
        let blob_id = blob.metadata().blob_id();
        let (status, _) =
            self.put(node, &format!("/v1/blobs/{blob_id}/metadata"), blob.metadata().metadata_bcs()).await;
        assert!(status == 201 || status == 200, "metadata upload: {status}");
        for pair in self.pairs_of(node, blob_id) {
            let (primary, secondary) = blob.sliver_pair(pair);
            for (axis, sliver) in [("primary", primary), ("secondary", secondary)] {
                let path = format!("/v1/blobs/{blob_id}/slivers/{}/{axis}", pair.0);
                let (status, body) = self.put(node, &path, sliver.to_bcs()).await;
                assert_eq!(status, 201, "{body}");
            }
        }
    }

    /// Certifies `object` with the confirmations `signed` of nodes `signers`.
    async fn certify(&self, object: ObjectId, signers: &[usize], signed: &[SignedMessage]) {
        let committee = self.chain_client.committee().await.expect("committee");
        let members: Vec<u16> = signers
            .iter()
            .map(|i| {
                let key = self.nodes[*i].node.bls.public();
                committee.members.iter().position(|m| m.public_key == *key).expect("member") as u16
            })
            .collect();
        let signatures: Vec<BlsSignature> = signed.iter().map(|s| s.signature).collect();
        let certificate = CertificateArgs {
            signature: BlsSignature::aggregate(&signatures).expect("non-empty"),
            signers_bitmap: signers_to_bitmap(&members),
            message: signed[0].serialized_message.clone(),
        };
        let certified =
            self.chain_client.execute(&self.user, Call::CertifyBlob { blob: object, certificate }).await;
        check_success(certified.expect("certify")).expect("certified");
    }

    /// Uploads to `node` and returns its confirmation.
    async fn upload_and_confirm(&self, node: usize, blob: &EncodedBlob) -> SignedMessage {
        self.upload(node, blob).await;
        let blob_id = blob.metadata().blob_id();
        let (status, body) =
            self.get_json(node, &format!("/v1/blobs/{blob_id}/confirmation/permanent")).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_value(body["success"]["data"]["signed"].clone()).expect("signed")
    }

    async fn metric(&self, node: usize, name: &str) -> u64 {
        let text = self
            .http
            .get(self.url(node, "/metrics"))
            .send()
            .await
            .expect("answer")
            .text()
            .await
            .expect("text");
        text.lines()
            .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.trim().parse().ok()))
            .unwrap_or(0)
    }

    async fn stop(mut self) {
        for node in self.nodes.drain(..) {
            node.run_until(async {}).await.expect("node stops");
        }
        if let Some(chain) = self.chain.take() {
            chain.run_until(async {}).await.expect("chain stops");
        }
    }
}

fn node_config(dir: &ChainDir, i: usize, chain_url: &str, port: u16) -> NodeConfig {
    let listen = format!("127.0.0.1:{port}").parse().expect("addr");
    let mut config =
        NodeConfig::new(format!("node-{i}"), dir.node(i).join("db"), listen, chain_url.to_string());
    config.bls_key = dir.node(i).join("bls.key");
    config.owner_key = dir.node(i).join("owner.key");
    config.body_bytes_max = 1 << 20;
    config.recovery_delay_ms = 100;
    config
}

fn reason(body: &serde_json::Value) -> &str {
    body["error"]["details"][0]["reason"].as_str().unwrap_or("<none>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_confirm_and_certify_through_two_nodes() {
    let net = Net::start(2, 0).await;
    let params = EncodingParams::new(u64::from(N)).expect("params");
    let blob = encode_blob(params, &vec![7u8; 5000]).expect("encodable");
    let blob_id = *blob.metadata().blob_id();

    // Before registration: refused with NOT_REGISTERED (the SDK retries on it).
    let (status, body) =
        net.put(0, &format!("/v1/blobs/{blob_id}/metadata"), blob.metadata().metadata_bcs()).await;
    assert_eq!((status, reason(&body)), (400, "NOT_REGISTERED"), "{body}");

    let object = net.register(&blob, false).await;
    let (status, body) = net.get_json(0, &format!("/v1/blobs/{blob_id}/confirmation/permanent")).await;
    assert_eq!((status, reason(&body)), (400, "MISSING_SLIVERS"), "{body}");
    // A sliver for a shard the node does not hold, and a corrupted sliver, are refused.
    let foreign = net.pairs_of(1, &blob_id)[0];
    let (primary, _) = blob.sliver_pair(foreign);
    let (status, _) =
        net.put(0, &format!("/v1/blobs/{blob_id}/metadata"), blob.metadata().metadata_bcs()).await;
    assert_eq!(status, 201);
    let path = format!("/v1/blobs/{blob_id}/slivers/{}/primary", foreign.0);
    let (status, body) = net.put(0, &path, primary.to_bcs()).await;
    assert_eq!((status, reason(&body)), (400, "SHARD_NOT_ASSIGNED"), "{body}");
    let own = net.pairs_of(0, &blob_id)[0];
    let (primary, _) = blob.sliver_pair(own);
    let mut corrupt = primary.to_bcs();
    corrupt[5] ^= 0xff;
    let path = format!("/v1/blobs/{blob_id}/slivers/{}/primary", own.0);
    let (status, body) = net.put(0, &path, corrupt).await;
    assert_eq!((status, reason(&body)), (400, "INVALID_SLIVER"), "{body}");
    // The server answers an oversized body without reading it and closes the connection, so
    // this request gets a client of its own (a pooled connection would be dead afterwards).
    let response = reqwest::Client::new().put(net.url(0, &path)).body(vec![0; 2 << 20]).send().await;
    let response = response.expect("answer");
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!((status, reason(&body)), (413, "BODY_TOO_LARGE"), "{body}");

    let mut signed = Vec::new();
    for node in 0..2 {
        net.upload(node, &blob).await;
        let (status, body) = net.get_json(node, &format!("/v1/blobs/{blob_id}/confirmation/permanent")).await;
        assert_eq!(status, 200, "{body}");
        let message: SignedMessage =
            serde_json::from_value(body["success"]["data"]["signed"].clone()).expect("signed");
        signed.push(message);
    }
    // Reads give back verified bytes.
    let response =
        net.http.get(net.url(0, &format!("/v1/blobs/{blob_id}/slivers/{}/primary", own.0))).send().await;
    let bytes = response.expect("answer").bytes().await.expect("body");
    assert_eq!(bytes.as_ref(), blob.sliver_pair(own).0.to_bcs().as_slice());
    let response = net.http.get(net.url(1, &format!("/v1/blobs/{blob_id}/metadata"))).send().await;
    assert_eq!(
        response.expect("answer").bytes().await.expect("body").as_ref(),
        blob.metadata().to_bcs().as_slice()
    );

    // The two nodes hold all shards: their confirmations certify the blob on chain.
    net.certify(object, &[0, 1], &signed).await;
    for _ in 0..200 {
        let (_, status) = net.get_json(0, &format!("/v1/blobs/{blob_id}/status")).await;
        if status["success"]["data"]["permanent"]["isCertified"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (_, status) = net.get_json(0, &format!("/v1/blobs/{blob_id}/status")).await;
    assert_eq!(status["success"]["data"]["permanent"]["isCertified"], true, "{status}");

    let (status, body) = net.get_json(0, "/v1/blobs/not-a-blob/status").await;
    assert_eq!((status, reason(&body)), (400, "INVALID_BLOB_ID"));
    let metrics =
        net.http.get(net.url(0, "/metrics")).send().await.expect("answer").text().await.expect("text");
    assert!(metrics.contains("walrus_storage_confirmations_issued_total 1"), "{metrics}");
    net.stop().await;
}

/// Runs the official SDK's storage-node client against one node (all its pairs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_sdk_client_works_against_a_node() {
    let Some(conformance) = std::env::var_os("WALRUS_CONFORMANCE_DIR") else {
        eprintln!(
            "SKIP: WALRUS_CONFORMANCE_DIR is not set (CI sets it after ../shared/conformance/setup.sh)"
        );
        return;
    };
    let net = Net::start(2, 1).await;
    let file = net._tmp.path().join("blob.bin");
    let data: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&file, &data).expect("write blob");
    let params = EncodingParams::new(u64::from(N)).expect("params");
    let blob = encode_blob(params, &data).expect("encodable");
    net.register(&blob, false).await;
    let blob_id = *blob.metadata().blob_id();
    // The official client stores to node 0 only; node 0 then needs its own pairs only.
    let pairs: Vec<String> = net.pairs_of(0, &blob_id).iter().map(|p| p.0.to_string()).collect();
    let key = hex_of(net.nodes[0].node.bls.public().as_bytes());
    let output = tokio::process::Command::new("node")
        .arg(Path::new(&conformance).join("node-api.mjs"))
        .args([
            "--node",
            &net.url(0, ""),
            "--file",
            file.to_str().expect("utf-8"),
            "--shards",
            &N.to_string(),
        ])
        .args(["--pairs", &pairs.join(","), "--public-key", &key])
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "node-api.mjs failed:\n{stdout}");
    assert!(stdout.contains("all checks passed"));
    let _ = SliverType::Primary;
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_down_during_a_store_recovers_its_slivers_after_restart() {
    let mut net = Net::start(3, 2).await;
    // The node with the fewest shards goes down; the other two hold 7 of 10, a quorum.
    let down = (0..3).min_by_key(|i| net.nodes[*i].node.view().shards.len()).expect("nodes");
    let stopped = net.nodes.remove(down);
    let own_shards = stopped.node.view().shards.len();
    stopped.run_until(async {}).await.expect("stops");

    let params = EncodingParams::new(u64::from(N)).expect("params");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let blob = encode_blob(params, &data).expect("encodable");
    let blob_id = *blob.metadata().blob_id();
    let object = net.register(&blob, false).await;
    let signed = vec![net.upload_and_confirm(0, &blob).await, net.upload_and_confirm(1, &blob).await];
    net.certify(object, &[0, 1], &signed).await;

    // Back up: it replays the events it missed, sees the certification, and recovers.
    let config = node_config(&net.dir, down, &net.chain_url, base_port(2) + down as u16);
    net.nodes.push(walrus_node::start(config).await.expect("restarts"));
    let back = net.nodes.len() - 1;
    let wanted = 2 * own_shards as u64;
    for _ in 0..400 {
        if net.metric(back, "walrus_slivers_recovered_total").await >= wanted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(net.metric(back, "walrus_slivers_recovered_total").await, wanted);
    let mut own_bytes = 0;
    for pair in net.pairs_of(back, &blob_id) {
        let (primary, secondary) = blob.sliver_pair(pair);
        for (axis, sliver) in [("primary", primary), ("secondary", secondary)] {
            let path = format!("/v1/blobs/{blob_id}/slivers/{}/{axis}", pair.0);
            let bytes =
                net.http.get(net.url(back, &path)).send().await.expect("answer").bytes().await.expect("body");
            assert_eq!(bytes.as_ref(), sliver.to_bcs().as_slice(), "recovered {axis} sliver {}", pair.0);
            own_bytes += sliver.data().len() as u64;
        }
    }
    let downloaded = net.metric(back, "walrus_recovery_bytes_total").await;
    println!(
        "recovery: {downloaded} bytes downloaded for {own_bytes} bytes of own slivers ({:.2}x); blob {} bytes, n = {N}",
        downloaded as f64 / own_bytes as f64,
        data.len()
    );
    assert!(downloaded < 3 * own_bytes, "downloaded {downloaded} for {own_bytes} bytes of slivers");
    net.stop().await;
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
