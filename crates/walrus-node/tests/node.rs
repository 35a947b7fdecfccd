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
const NODES: usize = 2;

struct Net {
    _tmp: tempfile::TempDir,
    chain: Option<RunningChain>,
    chain_client: ChainClient,
    nodes: Vec<RunningNode>,
    user: Ed25519KeyPair,
    http: reqwest::Client,
}

impl Net {
    async fn start() -> Net {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = ChainDir(tmp.path().join("chain"));
        let addresses = (0..NODES).map(|i| format!("127.0.0.1:{}", 19300 + i)).collect();
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
        for i in 0..NODES {
            let config = node_config(&dir, i, &chain_url);
            nodes.push(walrus_node::start(config).await.expect("node starts"));
        }
        let chain_client = ChainClient::new(&chain_url);
        let user = Ed25519KeyPair::from_seed(&[42; 32]);
        chain_client.faucet(user.address(), 1_000_000_000_000).await.expect("funded");
        Net { _tmp: tmp, chain: Some(chain), chain_client, nodes, user, http: reqwest::Client::new() }
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
        for node in 0..NODES {
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

    async fn stop(mut self) {
        for node in self.nodes.drain(..) {
            node.run_until(async {}).await.expect("node stops");
        }
        if let Some(chain) = self.chain.take() {
            chain.run_until(async {}).await.expect("chain stops");
        }
    }
}

fn node_config(dir: &ChainDir, i: usize, chain_url: &str) -> NodeConfig {
    NodeConfig {
        name: format!("node-{i}"),
        storage_path: dir.node(i).join("db"),
        rest_listen: "127.0.0.1:0".parse().expect("addr"),
        chain_url: chain_url.to_string(),
        bls_key: dir.node(i).join("bls.key"),
        owner_key: dir.node(i).join("owner.key"),
        body_bytes_max: 1 << 20,
        concurrent_uploads_max: 64,
    }
}

fn reason(body: &serde_json::Value) -> &str {
    body["error"]["details"][0]["reason"].as_str().unwrap_or("<none>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_confirm_and_certify_through_two_nodes() {
    let net = Net::start().await;
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
    let (status, body) = net.put(0, &path, vec![0; 2 << 20]).await;
    assert_eq!((status, reason(&body)), (413, "BODY_TOO_LARGE"), "{body}");

    let mut signed = Vec::new();
    for node in 0..NODES {
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
    let committee = net.chain_client.committee().await.expect("committee");
    let members: Vec<u16> = (0..NODES)
        .map(|i| {
            let key = net.nodes[i].node.bls.public();
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
        net.chain_client.execute(&net.user, Call::CertifyBlob { blob: object, certificate }).await;
    check_success(certified.expect("certify")).expect("certified");
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
    let net = Net::start().await;
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

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
