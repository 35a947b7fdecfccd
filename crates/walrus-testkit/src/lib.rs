//! The test network (dev-only): a real chain node and storage nodes on loopback, in-process,
//! with helpers to register, upload, confirm and certify blobs through the public APIs. Shared
//! by the node tests and benchmarks and the SDK tests.

pub mod browser;

use std::net::SocketAddr;
use std::time::Duration;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use walrus_chain::system::Committee;
use walrus_chain::tx::CertificateArgs;
use walrus_chain::Call;
use walrus_chain_client::{check_success, ChainClient};
use walrus_chain_node::init::{init_dir, read_ed25519, ChainDir, InitSpec};
use walrus_chain_node::{NodeConfig as ChainNodeConfig, RunningNode as RunningChain};
use walrus_core::encode::EncodedBlob;
use walrus_core::expand::ExpandedSliver;
use walrus_core::keys::{BlsKeyPair, BlsSignature, Ed25519KeyPair};
use walrus_core::merkle::Node as MerkleNode;
use walrus_core::messages::{
    signers_to_bitmap, BlobPersistenceType, ProtocolMessage, SignedMessage, StorageConfirmation,
};
use walrus_core::metadata::{BlobMetadata, UnverifiedBlobMetadataWithId, VerifiedBlobMetadataWithId};
use walrus_core::recovery::{EitherDecodingSymbol, GeneralRecoverySymbol};
use walrus_core::sliver::UnverifiedSliver;
use walrus_core::{BlobId, EncodingParams, Epoch, ObjectId, ShardIndex, SliverPairIndex, SliverType};
use walrus_node::recovery::RecoveryRequest;
use walrus_node::{NodeConfig, RunningNode};

/// Shards of every test network.
pub const N: u16 = 10;

/// `count` listeners on loopback ports the system picked (port 0): the committee's addresses
/// are fixed at genesis, so each node's port is bound before the genesis is written, and the
/// node is started on its listener.
pub async fn listeners(count: usize) -> Vec<tokio::net::TcpListener> {
    let any = "127.0.0.1:0".parse().expect("address");
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        out.push(walrus_http::bind(any).await.expect("a loopback port"));
    }
    out
}

/// A loopback port free a moment ago, for a program that takes a port number (chromedriver).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    listener.local_addr().expect("address").port()
}

/// How [`Net::launch`] sets a network up beyond its shape.
#[derive(Debug, Clone, Copy, Default)]
struct Launch {
    /// Nodes serve HTTPS with their network keys.
    tls: bool,
    /// Blobs per storage challenge (0: none).
    challenge_blobs: u16,
}

/// A running network.
pub struct Net {
    /// Holds the chain directory and the node databases.
    pub _tmp: tempfile::TempDir,
    /// The chain directory (genesis, keys, node directories).
    pub dir: ChainDir,
    /// The chain RPC.
    pub chain_url: String,
    /// The chain node, until stopped.
    pub chain: Option<RunningChain>,
    /// A client of the chain.
    pub chain_client: ChainClient,
    /// The storage nodes started, in genesis order.
    pub nodes: Vec<RunningNode>,
    /// A funded user.
    pub user: Ed25519KeyPair,
    /// Each genesis node's REST address, in genesis order (a restarted node takes its own).
    pub addresses: Vec<SocketAddr>,
    /// For requests to the nodes.
    pub http: reqwest::Client,
    /// Shards in the system ([`N`] unless started with [`Net::start_shaped`]).
    pub n_shards: u16,
    /// Whether the nodes serve HTTPS ([`Net::start_tls`]) rather than plain HTTP.
    pub tls: bool,
}

impl Net {
    /// A network of `count` nodes, with one-hour epochs.
    pub async fn start(count: usize) -> Net {
        Net::start_with(count, 3_600_000).await
    }

    /// The same with epochs of `epoch_ms`.
    pub async fn start_with(count: usize, epoch_ms: u64) -> Net {
        Net::start_custom(count, epoch_ms, |_| {}).await
    }

    /// A network whose node configurations `configure` may change.
    pub async fn start_custom(count: usize, epoch_ms: u64, configure: impl Fn(&mut NodeConfig)) -> Net {
        Net::start_without(count, epoch_ms, configure, |_, _| Vec::new()).await
    }

    /// A network in which the genesis nodes that `absent` picks (from the committee and the
    /// genesis nodes' addresses) are not started: their ports are let go, for a test to put
    /// something else there. `nodes` holds the others, in genesis order.
    pub async fn start_without(
        count: usize,
        epoch_ms: u64,
        configure: impl Fn(&mut NodeConfig),
        absent: impl Fn(&Committee, &[SocketAddr]) -> Vec<usize>,
    ) -> Net {
        Net::start_shaped(count, N, epoch_ms, configure, absent).await
    }

    /// `count` nodes over `n_shards` shards (the helpers that upload by hand use the network's
    /// own shard count), serving plain HTTP on loopback.
    pub async fn start_shaped(
        count: usize,
        n_shards: u16,
        epoch_ms: u64,
        configure: impl Fn(&mut NodeConfig),
        absent: impl Fn(&Committee, &[SocketAddr]) -> Vec<usize>,
    ) -> Net {
        Net::launch(count, n_shards, epoch_ms, configure, absent, Launch::default()).await
    }

    /// `count` nodes with epochs of `epoch_ms` and storage challenges of `blobs` blobs per epoch
    /// (the other networks have none: a challenge pauses reads of its blobs, and short test
    /// epochs would spend much of their time in one).
    pub async fn start_challenged(count: usize, epoch_ms: u64, blobs: u16) -> Net {
        Net::start_challenged_with(count, epoch_ms, blobs, |_| {}).await
    }

    /// The same, with `configure` applied to every node's configuration.
    pub async fn start_challenged_with(
        count: usize,
        epoch_ms: u64,
        blobs: u16,
        configure: impl Fn(&mut NodeConfig),
    ) -> Net {
        let launch = Launch { challenge_blobs: blobs, ..Launch::default() };
        Net::launch(count, N, epoch_ms, configure, |_, _| Vec::new(), launch).await
    }

    /// `count` nodes with one-hour epochs serving HTTPS with their network keys, as a real
    /// network's do; their requests go through the SDK (which pins each node's key), not
    /// [`Net::http`].
    pub async fn start_tls(count: usize) -> Net {
        Net::launch(count, N, 3_600_000, |_| {}, |_, _| Vec::new(), Launch { tls: true, ..Launch::default() })
            .await
    }

    async fn launch(
        count: usize,
        n_shards: u16,
        epoch_ms: u64,
        configure: impl Fn(&mut NodeConfig),
        absent: impl Fn(&Committee, &[SocketAddr]) -> Vec<usize>,
        launch: Launch,
    ) -> Net {
        let tls = launch.tls;
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = ChainDir(tmp.path().join("chain"));
        let bound = listeners(count).await;
        let sockets: Vec<SocketAddr> = bound.iter().map(|l| l.local_addr().expect("address")).collect();
        let scheme = if tls { "" } else { "http://" };
        let addresses = sockets.iter().map(|socket| format!("{scheme}{socket}")).collect();
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis();
        let mut spec = InitSpec::localnet(n_shards, addresses, epoch_ms, now as u64);
        spec.params.challenge.blobs = launch.challenge_blobs;
        init_dir(&dir, &spec).expect("init");
        let faucet = read_ed25519(&dir.faucet_key()).expect("faucet");
        let chain = walrus_chain_node::start(ChainNodeConfig {
            dir: dir.clone(),
            validator: 0,
            listen: "127.0.0.1:0".parse().expect("addr"),
            faucet: Some(faucet),
            server: Default::default(),
        })
        .await
        .expect("chain starts");
        let chain_url = format!("http://{}", chain.addr);
        let chain_client = ChainClient::new(&chain_url);
        let absent = absent(&chain_client.committee().await.expect("committee"), &sockets);
        let mut nodes = Vec::new();
        for (i, listener) in bound.into_iter().enumerate() {
            if absent.contains(&i) {
                continue;
            }
            let mut config = node_config(&dir, i, &chain_url, sockets[i].port());
            config.plain_http = !tls;
            configure(&mut config);
            nodes.push(walrus_node::start_on(config, listener).await.expect("node starts"));
        }
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
            addresses: sockets,
            http: walrus_tls::http_client().build().expect("an HTTP client"),
            n_shards,
            tls,
        }
    }

    /// Starts genesis node `genesis_index` again (after a test stopped it) on its address, with
    /// its store as it was; returns its index in `nodes` (the last).
    pub async fn restart(&mut self, genesis_index: usize) -> usize {
        let port = self.addresses[genesis_index].port();
        let mut config = node_config(&self.dir, genesis_index, &self.chain_url, port);
        config.plain_http = !self.tls;
        self.nodes.push(walrus_node::start(config).await.expect("restarts"));
        self.nodes.len() - 1
    }

    /// The URL of `path` on node `node`.
    pub fn url(&self, node: usize, path: &str) -> String {
        format!("http://{}{path}", self.nodes[node].addr)
    }

    /// Reserves, registers and waits until every node has seen the registration.
    pub async fn register(&self, blob: &EncodedBlob, deletable: bool) -> ObjectId {
        self.register_for(blob.metadata(), deletable, 2).await
    }

    /// Reserves for `epochs_ahead`, registers `metadata`, and waits until every node has seen it.
    pub async fn register_for(
        &self,
        metadata: &VerifiedBlobMetadataWithId,
        deletable: bool,
        epochs_ahead: u32,
    ) -> ObjectId {
        let object = self.register_only(metadata, deletable, epochs_ahead).await;
        for node in 0..self.nodes.len() {
            self.wait_registered(node, metadata.blob_id()).await;
        }
        object
    }

    /// Reserves for `epochs_ahead` and registers `metadata`, without waiting for the nodes.
    pub async fn register_only(
        &self,
        metadata: &VerifiedBlobMetadataWithId,
        deletable: bool,
        epochs_ahead: u32,
    ) -> ObjectId {
        let params = EncodingParams::new(u64::from(self.n_shards)).expect("params");
        let size = params.encoded_blob_length(metadata.unencoded_length()).expect("size");
        let storage = self.chain_client.execute(&self.user, Call::ReserveSpace { size, epochs_ahead }).await;
        let register = Call::RegisterBlob {
            storage: storage.expect("reserve").effects.created[0],
            blob_id: *metadata.blob_id(),
            root_hash: metadata.metadata().compute_root_hash(),
            size: metadata.unencoded_length(),
            encoding_type: 1,
            deletable,
        };
        self.chain_client.execute(&self.user, register).await.expect("register").effects.created[0]
    }

    /// Waits until node `node` has seen the registration of `blob_id`.
    pub async fn wait_registered(&self, node: usize, blob_id: &BlobId) {
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

    /// GET, with the status and the JSON body.
    pub async fn get_json(&self, node: usize, path: &str) -> (u16, serde_json::Value) {
        let response = self.http.get(self.url(node, path)).send().await.expect("answer");
        (response.status().as_u16(), response.json().await.expect("JSON"))
    }

    /// PUT, with the status and the JSON body.
    pub async fn put(&self, node: usize, path: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
        let response = self.http.put(self.url(node, path)).body(body).send().await.expect("answer");
        (response.status().as_u16(), response.json().await.expect("JSON"))
    }

    /// The pairs node `node` is responsible for.
    pub fn pairs_of(&self, node: usize, blob_id: &BlobId) -> Vec<SliverPairIndex> {
        let view = self.nodes[node].node.view();
        view.shards.iter().map(|shard| blob_id.pair_for_shard(*shard, self.n_shards)).collect()
    }

    /// Uploads metadata and this node's slivers.
    pub async fn upload(&self, node: usize, blob: &EncodedBlob) {
        self.upload_with(node, blob.metadata(), blob).await
    }

    /// Uploads `metadata` and this node's slivers cut from `blob`.
    pub async fn upload_with(&self, node: usize, metadata: &VerifiedBlobMetadataWithId, blob: &EncodedBlob) {
        self.upload_metadata(node, metadata).await;
        for pair in self.pairs_of(node, metadata.blob_id()) {
            self.upload_pair_of(node, metadata.blob_id(), blob, pair).await;
        }
    }

    /// Uploads `metadata`; it must be accepted.
    pub async fn upload_metadata(&self, node: usize, metadata: &VerifiedBlobMetadataWithId) {
        let blob_id = metadata.blob_id();
        let (status, body) =
            self.put(node, &format!("/v1/blobs/{blob_id}/metadata"), metadata.metadata_bcs()).await;
        assert!(status == 201 || status == 200, "metadata upload: {status} {body}");
    }

    /// Uploads both slivers of `pair` of `blob`; they must be stored (now or before).
    pub async fn upload_pair(&self, node: usize, blob: &EncodedBlob, pair: SliverPairIndex) {
        self.upload_pair_of(node, blob.metadata().blob_id(), blob, pair).await
    }

    async fn upload_pair_of(&self, node: usize, blob_id: &BlobId, blob: &EncodedBlob, pair: SliverPairIndex) {
        let (primary, secondary) = blob.sliver_pair(pair);
        for (axis, sliver) in [("primary", primary), ("secondary", secondary)] {
            let path = format!("/v1/blobs/{blob_id}/slivers/{}/{axis}", pair.0);
            let (status, body) = self.put(node, &path, sliver.to_bcs()).await;
            assert!(status == 201 || status == 200, "sliver upload: {status} {body}");
        }
    }

    /// Certifies `object` with the confirmations `signed` of nodes `signers`.
    pub async fn certify(&self, object: ObjectId, signers: &[usize], signed: &[SignedMessage]) {
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
    pub async fn upload_and_confirm(&self, node: usize, blob: &EncodedBlob) -> SignedMessage {
        self.upload(node, blob).await;
        self.confirmation(node, blob.metadata().blob_id()).await
    }

    /// Node `node`'s permanent confirmation of `blob_id`.
    pub async fn confirmation(&self, node: usize, blob_id: &BlobId) -> SignedMessage {
        let (status, body) =
            self.get_json(node, &format!("/v1/blobs/{blob_id}/confirmation/permanent")).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_value(body["success"]["data"]["signed"].clone()).expect("signed")
    }

    /// The value of metric `name` on node `node` (0 if absent).
    pub async fn metric(&self, node: usize, name: &str) -> u64 {
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

    /// Stops the largest nodes until they held `shards` shards of the current committee
    /// (panics if no set of largest-first nodes adds up to exactly that).
    pub async fn stop_nodes_holding(&mut self, shards: usize) {
        let committee = self.chain_client.committee().await.expect("committee");
        let mut by_shards: Vec<(usize, usize)> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let key = *n.node.bls.public();
                (committee.members.iter().find(|m| m.public_key == key).map_or(0, |m| m.shards.len()), i)
            })
            .collect();
        by_shards.sort();
        let mut down = Vec::new();
        let mut held = 0;
        while held < shards {
            let (count, i) = by_shards.pop().expect("a node");
            held += count;
            down.push(i);
        }
        assert_eq!(held, shards, "nodes of exactly {shards} shards");
        down.sort_unstable_by(|a, b| b.cmp(a));
        for i in down {
            self.nodes.remove(i).run_until(async {}).await.expect("node stops");
        }
    }

    /// Stops the nodes, then the chain.
    pub async fn stop(mut self) {
        for node in self.nodes.drain(..) {
            node.run_until(async {}).await.expect("node stops");
        }
        if let Some(chain) = self.chain.take() {
            chain.run_until(async {}).await.expect("chain stops");
        }
    }
}

/// The configuration of genesis node `i` of the network in `dir`.
pub fn node_config(dir: &ChainDir, i: usize, chain_url: &str, port: u16) -> NodeConfig {
    let listen = format!("127.0.0.1:{port}").parse().expect("addr");
    let mut config =
        NodeConfig::new(format!("node-{i}"), dir.node(i).join("db"), listen, chain_url.to_string());
    config.bls_key = dir.node(i).join("bls.key");
    config.owner_key = dir.node(i).join("owner.key");
    config.network_key = dir.node(i).join("network.key");
    config.plain_http = true;
    config.body_bytes_max = 1 << 20;
    config.recovery_delay_ms = 100;
    config
}

/// The reason code of an error body.
pub fn reason(body: &serde_json::Value) -> &str {
    body["error"]["details"][0]["reason"].as_str().unwrap_or("<none>")
}

/// Waits until `check` holds, polling every 25 ms for at most `seconds`.
pub async fn eventually<F: std::future::Future<Output = bool>>(
    seconds: u64,
    mut check: impl FnMut() -> F,
) -> bool {
    for _ in 0..seconds * 40 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

/// Lowercase hex.
pub fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A committee member that lies: it answers as a storage node would, but every answer is
/// corrupted. Metadata has a changed sliver hash; recovery symbols and slivers have a flipped
/// byte; uploads are "stored" and then thrown away; confirmations are signed by a key that is
/// not the member's. It counts the requests it gets in `asked`. It serves plain HTTP on `addr`
/// (`HOST:PORT`, or the `http://HOST:PORT` the test network registers).
pub async fn serve_liar(
    addr: String,
    blob: Arc<EncodedBlob>,
    shards: Vec<ShardIndex>,
    asked: Arc<AtomicU64>,
) {
    use axum::routing::{get, post, put};
    let count = |asked: &Arc<AtomicU64>| asked.fetch_add(1, Ordering::Relaxed);
    let metadata = {
        let (blob, asked) = (Arc::clone(&blob), Arc::clone(&asked));
        move || async move {
            count(&asked);
            let mut metadata = blob.metadata().metadata().clone();
            let BlobMetadata::V1(v1) = &mut metadata;
            v1.hashes[0].primary_hash = MerkleNode::Digest([7; 32]);
            bcs::to_bytes(&UnverifiedBlobMetadataWithId::new(*blob.metadata().blob_id(), metadata))
                .expect("bcs")
        }
    };
    let symbols = {
        let (blob, asked) = (Arc::clone(&blob), Arc::clone(&asked));
        move |body: axum::body::Bytes| async move {
            count(&asked);
            let request: RecoveryRequest = bcs::from_bytes(&body).expect("a recovery request");
            let params = blob.metadata().params();
            let blob_id = blob.metadata().blob_id();
            let mut out = Vec::new();
            for shard in &shards {
                let pair = blob_id.pair_for_shard(*shard, N);
                for (target_axis, target) in &request.targets {
                    let source_axis = target_axis.orthogonal();
                    let source_index = pair.to_sliver_index(source_axis, N);
                    let data = blob.sliver_bytes(source_axis, source_index);
                    let expanded =
                        ExpandedSliver::new(params, source_axis, blob.symbol_size(), data).expect("expands");
                    let mut symbol =
                        GeneralRecoverySymbol::from_expanded(source_axis, source_index, &expanded, *target)
                            .expect("symbol");
                    let (EitherDecodingSymbol::Primary(s) | EitherDecodingSymbol::Secondary(s)) =
                        &mut symbol.symbol;
                    s.data[0] ^= 1;
                    out.push(symbol);
                }
            }
            bcs::to_bytes(&out).expect("bcs")
        }
    };
    let slivers = {
        let (blob, asked) = (Arc::clone(&blob), Arc::clone(&asked));
        move |body: axum::body::Bytes| async move {
            count(&asked);
            let wanted: Vec<(SliverPairIndex, SliverType)> = bcs::from_bytes(&body).expect("a batch read");
            let out: Vec<Option<UnverifiedSliver>> = wanted
                .iter()
                .map(|(pair, axis)| {
                    let (primary, secondary) = blob.sliver_pair(*pair);
                    let mut sliver =
                        if *axis == SliverType::Primary { primary } else { secondary }.into_unverified();
                    sliver.data[0] ^= 1;
                    Some(sliver)
                })
                .collect();
            bcs::to_bytes(&out).expect("bcs")
        }
    };
    let confirmation = {
        let (blob, asked) = (Arc::clone(&blob), Arc::clone(&asked));
        move || async move {
            count(&asked);
            let impostor = BlsKeyPair::from_seed(&[13; 32]);
            let message = ProtocolMessage::new(
                Epoch(0),
                StorageConfirmation {
                    blob_id: *blob.metadata().blob_id(),
                    blob_type: BlobPersistenceType::Permanent,
                },
            );
            let signed = SignedMessage::sign(&impostor, &message);
            axum::Json(serde_json::json!({ "success": { "code": 200, "data": { "signed": signed } } }))
        }
    };
    let stored = || async {
        (
            axum::http::StatusCode::CREATED,
            axum::Json(serde_json::json!({ "success": { "code": 201, "data": "stored" } })),
        )
    };
    let app = axum::Router::new()
        .route("/v1/blobs/{blob_id}/metadata", get(metadata).put(stored))
        .route("/v1/blobs/{blob_id}/recoverySymbols", post(symbols))
        .route("/v1/blobs/{blob_id}/slivers", post(slivers).put(stored))
        .route("/v1/blobs/{blob_id}/slivers/{pair}/{axis}", put(stored))
        .route("/v1/blobs/{blob_id}/confirmation/permanent", get(confirmation.clone()))
        .route("/v1/blobs/{blob_id}/confirmation/deletable/{object}", get(confirmation));
    let addr = addr.strip_prefix("http://").unwrap_or(&addr);
    let listener = tokio::net::TcpListener::bind(addr).await.expect("the liar's address is free");
    axum::serve(listener, app).await.expect("the liar serves");
}
