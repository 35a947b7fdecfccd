//! Kills the real `walrus node run` process with SIGKILL while slivers stream in, restarts it,
//! and checks that every sliver it acknowledged is still there, byte for byte, and that it still
//! knows every registration it had seen (its event cursor and blob info survived).

use crate::common;

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use walrus_chain::Call;
use walrus_chain_client::ChainClient;
use walrus_chain_node::init::read_ed25519;
use walrus_core::encode::{encode_blob, EncodedBlob};
use walrus_core::keys::Ed25519KeyPair;
use walrus_core::{EncodingParams, SliverPairIndex};
use walrus_node::NodeConfig;

use common::{spawn, WALRUS};

const N: u16 = 10;
const BLOBS: u64 = 40;

/// One acknowledged sliver: blob number, pair, axis.
type Acked = (usize, u16, &'static str);

/// Uploads the blobs' metadata and slivers in order until the node stops answering; records
/// every sliver it acknowledged.
async fn stream(url: String, blobs: Arc<Vec<EncodedBlob>>, acked: Arc<Mutex<Vec<Acked>>>) {
    let http = walrus_tls::http_client().build().expect("an HTTP client");
    for (b, blob) in blobs.iter().enumerate() {
        let blob_id = blob.metadata().blob_id();
        let put = |path: String, body: Vec<u8>| http.put(format!("{url}{path}")).body(body).send();
        let Ok(response) = put(format!("/v1/blobs/{blob_id}/metadata"), blob.metadata().metadata_bcs()).await
        else {
            return;
        };
        assert!(response.status().is_success(), "metadata: {}", response.status());
        for p in 0..N {
            let (primary, secondary) = blob.sliver_pair(SliverPairIndex(p));
            for (axis, sliver) in [("primary", primary), ("secondary", secondary)] {
                let path = format!("/v1/blobs/{blob_id}/slivers/{p}/{axis}");
                let Ok(response) = put(path, sliver.to_bcs()).await else { return };
                if response.status().as_u16() != 201 && response.status().as_u16() != 200 {
                    panic!("sliver upload answered {}", response.status());
                }
                acked.lock().expect("lock").push((b, p, axis));
            }
        }
    }
}

#[test]
fn sigkill_loses_no_acknowledged_sliver() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("chain");
    let dir_text = dir.to_str().expect("utf-8 path").to_string();
    let node_port = common::port_block(1).to_string();
    // Plain HTTP: the test talks to the node with raw requests.
    let init = ["chain", "init", "--dir", &dir_text, "--shards", "10", "--nodes", "1", "--plain-http"];
    let status = Command::new(WALRUS)
        .args(init)
        .args(["--first-node-port", &node_port])
        .stdout(Stdio::null())
        .status()
        .expect("init runs");
    assert!(status.success());
    let (mut chain, chain_url) =
        spawn(&["chain", "run", "--dir", &dir_text, "--listen", "127.0.0.1:0"], "chain RPC on ");
    let config_path = dir.join("nodes/0/node.yaml");
    let mut config = NodeConfig::load(&config_path).expect("node.yaml");
    config.chain_url = chain_url.clone();
    config.storage_path = "db".into();
    config.bls_key = "bls.key".into();
    config.owner_key = "owner.key".into();
    config.save(&config_path).expect("saved");
    let config_text = config_path.to_str().expect("utf-8").to_string();

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let client = ChainClient::new(&chain_url);
    let params = EncodingParams::new(u64::from(N)).expect("params");
    let blobs: Arc<Vec<EncodedBlob>> = Arc::new(
        (0..BLOBS)
            .map(|b| {
                let data: Vec<u8> = (0..3_000u64).map(|i| ((i * 31 + b * 7919) % 251) as u8).collect();
                encode_blob(params, &data).expect("encodable")
            })
            .collect(),
    );
    // Every blob is registered before the node first starts; it learns them from the events.
    runtime.block_on(async {
        let faucet = read_ed25519(&dir.join("faucet.key")).expect("faucet");
        let user = Ed25519KeyPair::from_seed(&[5; 32]);
        let funding = Call::Transfer { to: user.address(), amount: walrus_chain::Frost(1_000_000_000_000) };
        client.execute(&faucet, funding).await.expect("funded");
        for blob in blobs.iter() {
            let metadata = blob.metadata();
            let size = params.encoded_blob_length(metadata.unencoded_length()).expect("size");
            let storage = client.execute(&user, Call::ReserveSpace { size, epochs_ahead: 5 }).await;
            let register = Call::RegisterBlob {
                storage: storage.expect("reserved").effects.created[0],
                blob_id: *metadata.blob_id(),
                root_hash: metadata.metadata().compute_root_hash(),
                size: metadata.unencoded_length(),
                encoding_type: 1,
                deletable: false,
            };
            client.execute(&user, register).await.expect("registered");
        }
    });

    let acked = Arc::new(Mutex::new(Vec::new()));
    for round in 0..4u64 {
        let (mut node, addr) = spawn(&["node", "run", "--config", &config_text], " on http://");
        let url = format!("http://{addr}");
        runtime.block_on(async {
            wait_ready(&url, &blobs).await;
            let survivors = acked.lock().expect("lock").clone();
            all_present(&url, &blobs, &survivors).await;
            if round == 3 {
                return;
            }
            // Each round re-sends everything (the node answers 200 for what it has) and is
            // killed at a different moment.
            let task = tokio::spawn(stream(url.clone(), Arc::clone(&blobs), Arc::clone(&acked)));
            tokio::time::sleep(Duration::from_millis(300 + 250 * round)).await;
            node.kill().expect("SIGKILL");
            node.wait().expect("reaped");
            task.await.expect("stream task");
        });
        let _ = node.kill();
        let _ = node.wait();
    }
    let count = acked.lock().expect("lock").len();
    assert!(count > 50, "the stream got only {count} slivers through");
    eprintln!("{count} acknowledged sliver writes survived 3 SIGKILLs");
    chain.kill().expect("SIGKILL");
    chain.wait().expect("reaped");
}

/// Waits until the node answers and has seen every registration (from its cursor or the chain).
async fn wait_ready(url: &str, blobs: &[EncodedBlob]) {
    let http = walrus_tls::http_client().build().expect("an HTTP client");
    let last = blobs.last().expect("blobs").metadata().blob_id();
    for _ in 0..200 {
        if let Ok(response) = http.get(format!("{url}/v1/blobs/{last}/status")).send().await {
            let body: serde_json::Value = response.json().await.expect("JSON");
            if body["success"]["data"] != "nonexistent" {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the node at {url} never became ready");
}

async fn all_present(url: &str, blobs: &[EncodedBlob], acked: &[Acked]) {
    let http = walrus_tls::http_client().build().expect("an HTTP client");
    for (b, p, axis) in acked {
        let blob = &blobs[*b];
        let blob_id = blob.metadata().blob_id();
        let response = http.get(format!("{url}/v1/blobs/{blob_id}/slivers/{p}/{axis}")).send().await;
        let response = response.expect("answer");
        assert_eq!(response.status().as_u16(), 200, "acknowledged sliver {b}/{p}/{axis} is gone");
        let (primary, secondary) = blob.sliver_pair(SliverPairIndex(*p));
        let expected = if *axis == "primary" { primary } else { secondary };
        assert_eq!(response.bytes().await.expect("body").as_ref(), expected.to_bcs().as_slice());
    }
}
