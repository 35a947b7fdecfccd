//! Chain throughput through the HTTP RPC on loopback: real chain nodes (fjall store, synced
//! blocks, commonware consensus over TCP), one validator or four in this process, with
//! n = 1000 shards on four genesis storage nodes, and 32 concurrent clients.
//!
//! - `rpc_{1,4}v/transfer_{1,32}_clients`: one signed transfer, submitted and waited for until
//!   final; with one client the time per element is the finality latency. Clients spread over
//!   the validators' RPCs.
//! - `rpc_{1,4}v/store_pair`: what a store costs on chain: reserve space, register the blob,
//!   certify it with a three-node certificate (three transactions, each waited for).
//! - Before each group, 200 sequential transfers print the finality p50 and p99.
//!
//! Each client keeps its own nonce, as the SDK does. Every pair registers the same 1 KiB blob
//! (several objects may share a blob ID), so that encoding stays out of the measurement.
//! Results are recorded in docs/benchmarks.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use walrus_chain::tx::CertificateArgs;
use walrus_chain::{Call, Frost, TransactionData, TxStatus};
use walrus_chain_client::ChainClient;
use walrus_chain_node::init::{init_dir, read_bls, read_ed25519, ChainDir, InitSpec};
use walrus_chain_node::{start, NodeConfig, RunningNode};
use walrus_core::encode::compute_metadata;
use walrus_core::hash::Digest;
use walrus_core::keys::{BlsSignature, Ed25519KeyPair};
use walrus_core::messages::{signers_to_bitmap, BlobPersistenceType, ProtocolMessage, StorageConfirmation};
use walrus_core::{BlobId, EncodingParams};

const CLIENTS: usize = 32;
const N_SHARDS: u16 = 1000;

struct Setup {
    _dir: tempfile::TempDir,
    nodes: Vec<RunningNode>,
    /// One client per validator.
    clients: Vec<ChainClient>,
    chain_id: Digest,
    users: Vec<Arc<Ed25519KeyPair>>,
    blob_id: BlobId,
    root_hash: Digest,
    encoded_size: u64,
    certificate: CertificateArgs,
}

/// `count` ports free on 127.0.0.1 now.
fn free_ports(count: usize) -> Vec<String> {
    let listeners: Vec<_> =
        (0..count).map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port")).collect();
    listeners.iter().map(|l| l.local_addr().expect("bound").to_string()).collect()
}

async fn setup(validators: usize) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let chain_dir = ChainDir(dir.path().to_path_buf());
    let addresses = (0..4).map(|i| format!("127.0.0.1:{}", 19100 + i)).collect();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis();
    let mut spec = InitSpec::localnet(N_SHARDS, addresses, 3_600_000, now as u64);
    if validators > 1 {
        spec.validator_addresses = free_ports(validators);
    }
    init_dir(&chain_dir, &spec).expect("init");
    let mut nodes = Vec::new();
    for validator in 0..validators {
        let faucet = read_ed25519(&chain_dir.faucet_key()).expect("faucet key");
        let config = NodeConfig {
            dir: chain_dir.clone(),
            validator,
            listen: "127.0.0.1:0".parse().expect("addr"),
            faucet: Some(faucet).filter(|_| validator == 0),
            server: Default::default(),
        };
        nodes.push(start(config).await.expect("node"));
    }
    let clients: Vec<_> =
        nodes.iter().map(|node| ChainClient::new(&format!("http://{}", node.addr))).collect();
    let client = clients[0].clone();
    let users: Vec<_> =
        (0..CLIENTS).map(|i| Arc::new(Ed25519KeyPair::from_seed(&[i as u8 + 1; 32]))).collect();
    for user in &users {
        client.faucet(user.address(), 1_000 * walrus_chain::amount::FROST_PER_WAL).await.expect("funded");
    }
    let params = EncodingParams::new(u64::from(N_SHARDS)).expect("params");
    let data = vec![7u8; 1024];
    let metadata = compute_metadata(params, &data).expect("metadata");
    let committee = client.committee().await.expect("committee");
    let message = ProtocolMessage::new(
        committee.epoch,
        StorageConfirmation { blob_id: *metadata.blob_id(), blob_type: BlobPersistenceType::Permanent },
    )
    .to_bytes();
    let (mut signatures, mut members) = (Vec::new(), Vec::new());
    for i in 0..3 {
        let key = read_bls(&chain_dir.node(i).join("bls.key")).expect("bls key");
        signatures.push(key.sign(&message));
        members.push(
            committee.members.iter().position(|m| m.public_key == *key.public()).expect("member") as u16
        );
    }
    let certificate = CertificateArgs {
        signature: BlsSignature::aggregate(&signatures).expect("non-empty"),
        signers_bitmap: signers_to_bitmap(&members),
        message,
    };
    let chain_id = client.health().await.expect("health").chain_id;
    Setup {
        _dir: dir,
        nodes,
        clients,
        chain_id,
        users,
        blob_id: *metadata.blob_id(),
        root_hash: metadata.metadata().compute_root_hash(),
        encoded_size: params.encoded_blob_length(1024).expect("size"),
        certificate,
    }
}

/// One client's signer with its own nonce.
struct Signer {
    key: Arc<Ed25519KeyPair>,
    nonce: u64,
    chain_id: Digest,
    client: ChainClient,
}

impl Signer {
    async fn new(setup: &Setup, user: usize) -> Signer {
        let key = Arc::clone(&setup.users[user]);
        // The nonce from the validator this client submits to: another may not have executed
        // this client's last transaction yet.
        let client = setup.clients[user % setup.clients.len()].clone();
        let nonce = client.account(&key.address()).await.expect("account").account.nonce;
        Signer { key, nonce, chain_id: setup.chain_id, client }
    }

    async fn run(&mut self, call: Call) -> walrus_chain::TxEffects {
        let tx = TransactionData {
            chain_id: self.chain_id,
            sender: self.key.address(),
            nonce: self.nonce,
            fee: Frost(1_000),
            call,
        }
        .sign(&self.key);
        self.nonce += 1;
        let effects = self.client.submit(&tx).await.expect("submitted").effects;
        assert_eq!(effects.status, TxStatus::Success);
        effects
    }
}

/// Runs `iters` operations spread over the clients; returns the wall time.
async fn spread<F, Fut>(setup: &Setup, clients: usize, iters: u64, op: F) -> Duration
where
    F: Fn(Signer, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let mut signers = Vec::new();
    for user in 0..clients {
        signers.push(Signer::new(setup, user).await);
    }
    let start = Instant::now();
    let tasks: Vec<_> = signers
        .into_iter()
        .enumerate()
        .map(|(i, signer)| {
            let share = iters / clients as u64 + u64::from((i as u64) < iters % clients as u64);
            let op = op.clone();
            tokio::spawn(async move { op(signer, share).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("client task");
    }
    start.elapsed()
}

/// Prints the p50 and p99 of 200 sequential transfers' submit-to-final times.
async fn finality_percentiles(setup: &Setup, label: &str) {
    let mut signer = Signer::new(setup, 0).await;
    let to = Ed25519KeyPair::from_seed(&[99; 32]).address();
    let mut times = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        signer.run(Call::Transfer { to, amount: Frost(1) }).await;
        times.push(started.elapsed());
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    eprintln!("{label}: finality of a transfer over the RPC: p50 {:?}, p99 {:?}", at(0.5), at(0.99));
}

fn rpc(c: &mut Criterion) {
    for validators in [1, 4] {
        rpc_with(c, validators);
    }
}

fn rpc_with(c: &mut Criterion, validators: usize) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let setup = runtime.block_on(setup(validators));
    let label = format!("rpc_{validators}v");
    runtime.block_on(finality_percentiles(&setup, &label));
    let mut group = c.benchmark_group(label);
    group.sample_size(10).throughput(Throughput::Elements(1));
    for clients in [1, CLIENTS] {
        group.bench_function(format!("transfer_{clients}_clients"), |b| {
            b.iter_custom(|iters| {
                runtime.block_on(spread(&setup, clients, iters, |mut signer, n| async move {
                    let to = Ed25519KeyPair::from_seed(&[99; 32]).address();
                    for _ in 0..n {
                        signer.run(Call::Transfer { to, amount: Frost(1) }).await;
                    }
                }))
            })
        });
    }
    let (blob_id, root_hash, size, certificate) =
        (setup.blob_id, setup.root_hash, setup.encoded_size, setup.certificate.clone());
    group.bench_function("store_pair", |b| {
        b.iter_custom(|iters| {
            let certificate = certificate.clone();
            runtime.block_on(spread(&setup, CLIENTS, iters, move |mut signer, n| {
                let certificate = certificate.clone();
                async move {
                    for _ in 0..n {
                        let storage =
                            signer.run(Call::ReserveSpace { size, epochs_ahead: 2 }).await.created[0];
                        let register = Call::RegisterBlob {
                            storage,
                            blob_id,
                            root_hash,
                            size: 1024,
                            encoding_type: 1,
                            deletable: false,
                        };
                        let blob = signer.run(register).await.created[0];
                        signer.run(Call::CertifyBlob { blob, certificate: certificate.clone() }).await;
                    }
                }
            }))
        })
    });
    group.finish();
    for node in setup.nodes {
        runtime.block_on(node.run_until(async {})).expect("clean stop");
    }
}

mod harness {
    //! Criterion's generated entry points (undocumented by construction).
    #![allow(missing_docs)]
    use super::*;
    criterion_group!(benches, rpc);
}

criterion_main!(harness::benches);
