//! Finality proofs over the RPC with four validators in this process (commonware consensus over
//! TCP on loopback): every validator serves a finalized block with the finalize votes of a
//! quorum on its digest, which the client checks against the genesis validators; a proof checked
//! against other validators, a block changed by a man in the middle and a proof short of a
//! quorum are refused; bad heights get JSON errors, and a flood of requests for blocks that do
//! not exist leaves the validator serving.

use walrus_chain::{Block, GenesisValidator};
use walrus_chain_client::wire::FinalizedBlock;
use walrus_chain_client::{ChainClient, ClientError};
use walrus_chain_node::init::{init_dir, read_ed25519, ChainDir, InitSpec};
use walrus_chain_node::{start, NodeConfig, RunningNode};
use walrus_core::keys::Ed25519KeyPair;

const VALIDATORS: usize = 4;

fn free_ports(count: usize) -> Vec<String> {
    let listeners: Vec<_> =
        (0..count).map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port")).collect();
    listeners.iter().map(|l| l.local_addr().expect("bound").to_string()).collect()
}

async fn start_validators(dir: &ChainDir) -> Vec<RunningNode> {
    let mut nodes = Vec::new();
    for validator in 0..VALIDATORS {
        let faucet = Some(read_ed25519(&dir.faucet_key()).expect("faucet key")).filter(|_| validator == 0);
        let listen = "127.0.0.1:0".parse().expect("address");
        let config = NodeConfig { dir: dir.clone(), validator, listen, faucet, server: Default::default() };
        nodes.push(start(config).await.expect("validator starts"));
    }
    nodes
}

/// Serves `answer` as every block on a loopback port; returns its URL.
async fn man_in_the_middle(answer: FinalizedBlock) -> String {
    let router = axum::Router::new().route(
        "/v1/blocks/{height}",
        axum::routing::get(move || {
            let answer = answer.clone();
            async move { axum::Json(answer) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("bound"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_check_finality_and_refuse_forgeries() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = ChainDir(tmp.path().to_path_buf());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis();
    let nodes_addresses = vec!["127.0.0.1:19001".to_string(), "127.0.0.1:19002".to_string()];
    let mut spec = InitSpec::localnet(10, nodes_addresses, 3_600_000, now as u64);
    spec.validator_addresses = free_ports(VALIDATORS);
    let genesis = init_dir(&dir, &spec).expect("init");
    let nodes = start_validators(&dir).await;
    let urls: Vec<String> = nodes.iter().map(|node| format!("http://{}", node.addr)).collect();
    let client = ChainClient::new(&urls.join(","));
    let user = Ed25519KeyPair::from_seed(&[1; 32]);
    let executed = client.faucet(user.address(), 5_000_000_000).await.expect("funded");
    let height = executed.height;

    // A validator that learned of a height only through a later block's finalization holds no
    // certificate of its own for it (`ProofNotFound`); it proves a later block instead.
    let mut transfer_proven_by = None;
    for url in &urls {
        let validator = ChainClient::new(url);
        let mut proven = None;
        for _ in 0..100 {
            let head = validator.health().await.expect("health").height;
            for candidate in height..=head {
                if let Ok(block) = validator.finalized_block(candidate, &genesis.validators).await {
                    proven = Some(block);
                    break;
                }
            }
            if proven.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let block = proven.unwrap_or_else(|| panic!("{url} proves no block from height {height} on"));
        if block.height == height {
            assert!(block.transactions.iter().any(|tx| tx.data.digest() == executed.effects.digest));
            transfer_proven_by = Some(url.clone());
        }
    }
    let proving = transfer_proven_by.expect("no validator proves the transfer's block");

    let strangers: Vec<GenesisValidator> = (0..VALIDATORS as u8)
        .map(|i| GenesisValidator {
            public_key: Ed25519KeyPair::from_seed(&[50 + i; 32]).public(),
            p2p_address: "127.0.0.1:1".into(),
        })
        .collect();
    let refused = client.finalized_block(height, &strangers).await;
    assert!(matches!(refused, Err(ClientError::Unproven { .. })), "{refused:?}");

    let real: FinalizedBlock = walrus_tls::http_client()
        .build()
        .expect("an HTTP client")
        .get(format!("{proving}/v1/blocks/{height}"))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("JSON");
    let mut block: Block = bcs::from_bytes(&hex::decode(&real.block).expect("hex")).expect("a block");
    block.timestamp_ms += 1;
    let forged = FinalizedBlock { block: hex::encode(bcs::to_bytes(&block).expect("BCS")), ..real.clone() };
    let refused =
        ChainClient::new(&man_in_the_middle(forged).await).finalized_block(height, &genesis.validators).await;
    assert!(matches!(refused, Err(ClientError::Unproven { .. })), "{refused:?}");
    let mut short = real;
    short.proof.signatures.truncate(2);
    let refused =
        ChainClient::new(&man_in_the_middle(short).await).finalized_block(height, &genesis.validators).await;
    assert!(matches!(refused, Err(ClientError::Unproven { .. })), "{refused:?}");

    let http = walrus_tls::http_client().build().expect("an HTTP client");
    for (text, status, code) in [
        ("abc".to_string(), 400, "InvalidParameter"),
        ("18446744073709551616".to_string(), 400, "InvalidParameter"),
        (u64::MAX.to_string(), 404, "BlockNotFound"),
    ] {
        let response = http.get(format!("{}/v1/blocks/{text}", urls[1])).send().await.expect("answer");
        assert_eq!(response.status().as_u16(), status, "{text}");
        let body: serde_json::Value = response.json().await.expect("a JSON error");
        assert_eq!(body["error"]["code"], code, "{text}");
    }
    let flood: Vec<_> = (0..200u64)
        .map(|i| tokio::spawn(http.get(format!("{}/v1/blocks/{}", urls[1], height + 1_000 + i)).send()))
        .collect();
    for request in flood {
        let response = request.await.expect("task").expect("answer");
        assert_eq!(response.status().as_u16(), 404);
    }
    ChainClient::new(&urls[1]).finalized_block(height, &genesis.validators).await.expect("still served");

    for node in nodes {
        node.run_until(async {}).await.expect("clean stop");
    }
}
