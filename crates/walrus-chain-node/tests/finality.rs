//! Finality proofs over the RPC with four validators in this process (commonware consensus over
//! TCP on loopback): every validator serves a finalized block with the finalize votes of a
//! quorum on its digest, which the client checks against the genesis validators; a proof checked
//! against other validators, a block changed by a man in the middle and a proof short of a
//! quorum are refused; bad heights get JSON errors, and a flood of requests for blocks that do
//! not exist leaves the validator serving. A man in the middle between a client and a validator
//! cannot make the client believe a forged committee or a changed or hidden event, nor another
//! chain's genesis, nor a forged or hidden account, object or blob record.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use walrus_chain::records::record_hash;
use walrus_chain::system::System;
use walrus_chain::{Block, Call, Event, Genesis, GenesisValidator};
use walrus_chain_client::wire::{EventPage, FinalizedBlock, RecordsProofView, StateProofView};
use walrus_chain_client::{ChainClient, ClientError, EventsPosition};
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

async fn network(tmp: &tempfile::TempDir) -> (Genesis, Vec<RunningNode>) {
    let dir = ChainDir(tmp.path().to_path_buf());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis();
    let nodes_addresses = vec!["127.0.0.1:19001".to_string(), "127.0.0.1:19002".to_string()];
    let mut spec = InitSpec::localnet(10, nodes_addresses, 3_600_000, now as u64);
    spec.validator_addresses = free_ports(VALIDATORS);
    let genesis = init_dir(&dir, &spec).expect("init");
    (genesis, start_validators(&dir).await)
}

/// What the man in the middle of [`tampering_proxy`] changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tamper {
    Nothing,
    /// Moves a committee member's address, and fixes the header's system digest to match.
    Committee,
    /// Changes the first event of a page.
    ChangeEvent,
    /// Leaves out the first event of a page.
    HideEvent,
    /// Changes the value of the first record present, not its bucket.
    RecordValue,
    /// Changes the value of the first record present and its hash in the bucket proof.
    RecordAndBucket,
    /// Answers that the first record present is absent, and leaves it out of its bucket.
    HideRecord,
}

/// Forwards GET requests to `upstream`, changing answers as `tamper` says; returns its URL.
async fn tampering_proxy(upstream: String, tamper: Arc<Mutex<Tamper>>) -> String {
    let http = walrus_tls::http_client().build().expect("an HTTP client");
    let router = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let (http, upstream, tamper) = (http.clone(), upstream.clone(), *tamper.lock().expect("lock"));
        async move {
            let response = http.get(format!("{upstream}{uri}")).send().await.expect("upstream answers");
            let status = response.status();
            let body = response.bytes().await.expect("upstream body");
            let body = match (uri.path(), tamper, status.is_success()) {
                ("/v1/state", Tamper::Committee, true) => {
                    let mut view: StateProofView = serde_json::from_slice(&body).expect("a state proof");
                    let bytes = hex::decode(view.system.expect("system")).expect("hex");
                    let mut system: System = bcs::from_bytes(&bytes).expect("system");
                    system.committee.members[0].network_address = "203.0.113.1:9000".into();
                    let bytes = bcs::to_bytes(&system).expect("BCS");
                    view.header.system_digest = walrus_chain::light::system_digest(&bytes);
                    view.system = Some(hex::encode(bytes));
                    serde_json::to_vec(&view).expect("JSON")
                }
                ("/v1/events", Tamper::ChangeEvent | Tamper::HideEvent, true) => {
                    let mut page: EventPage = serde_json::from_slice(&body).expect("events");
                    if !page.events.is_empty() {
                        if tamper == Tamper::HideEvent {
                            page.events.remove(0);
                        } else if let Event::BlobRegistered { size, .. } = &mut page.events[0].event {
                            *size += 1;
                        } else {
                            page.events[0].tx_digest = None;
                        }
                    }
                    serde_json::to_vec(&page).expect("JSON")
                }
                ("/v1/records", Tamper::RecordValue | Tamper::RecordAndBucket | Tamper::HideRecord, true) => {
                    let mut view: RecordsProofView = serde_json::from_slice(&body).expect("records");
                    if let Some(value) = view.values.iter_mut().find(|v| v.value.is_some()) {
                        let mut bytes = hex::decode(value.value.take().expect("present")).expect("hex");
                        bytes[0] ^= 1;
                        let key = hex::decode(&value.key).expect("hex");
                        let records = view
                            .buckets
                            .iter_mut()
                            .find(|b| b.records.iter().any(|r| r.key.as_slice() == key.as_slice()));
                        let records = &mut records.expect("the bucket").records;
                        let index = records
                            .iter()
                            .position(|r| r.tag == value.tag && r.key.as_slice() == key.as_slice());
                        let index = index.expect("the entry");
                        match tamper {
                            Tamper::RecordValue => value.value = Some(hex::encode(&bytes)),
                            Tamper::RecordAndBucket => {
                                records[index].hash = record_hash(value.tag, &records[index].key, &bytes);
                                value.value = Some(hex::encode(&bytes));
                            }
                            _ => {
                                records.remove(index);
                            }
                        }
                    }
                    serde_json::to_vec(&view).expect("JSON")
                }
                _ => body.to_vec(),
            };
            (status, [(axum::http::header::CONTENT_TYPE, "application/json")], body)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("bound"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

/// Follows proven events from the genesis until one satisfies `wanted`.
async fn proven_event(client: &ChainClient, wanted: impl Fn(&Event) -> bool) -> Result<(), ClientError> {
    let mut position = EventsPosition::GENESIS;
    for _ in 0..200 {
        let page = client.proven_events(position, 1_000, Duration::from_millis(200)).await?;
        if page.events.iter().any(|e| wanted(&e.event)) {
            return Ok(());
        }
        position = page.position;
    }
    panic!("no such proven event");
}

/// Funds `user` from the faucet and registers a 12-byte blob: its blob ID and object.
async fn register_blob(
    direct: &ChainClient,
    user: &Ed25519KeyPair,
) -> (walrus_core::BlobId, walrus_core::ObjectId) {
    direct.faucet(user.address(), 5_000_000_000).await.expect("funded");
    let params = walrus_core::EncodingParams::new(10).expect("params");
    let metadata = walrus_core::encode::compute_metadata(params, b"forge me not").expect("metadata");
    let size = params.encoded_blob_length(12).expect("size");
    let storage = direct.execute(user, Call::ReserveSpace { size, epochs_ahead: 2 }).await;
    let register = Call::RegisterBlob {
        storage: storage.expect("reserved").effects.created[0],
        blob_id: *metadata.blob_id(),
        root_hash: metadata.metadata().compute_root_hash(),
        size: 12,
        encoding_type: 1,
        deletable: false,
    };
    let object_id = direct.execute(user, register).await.expect("registered").effects.created[0];
    (*metadata.blob_id(), object_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_man_in_the_middle_cannot_forge_the_committee_or_events() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (genesis, nodes) = network(&tmp).await;
    let direct = ChainClient::new(&format!("http://{}", nodes[0].addr)).pinned_to(genesis.digest());
    let user = Ed25519KeyPair::from_seed(&[1; 32]);
    register_blob(&direct, &user).await;
    let committee = direct.committee().await.expect("a proven committee");
    assert_eq!(committee, genesis.build().expect("genesis state").system.committee);

    // The state proof route: JSON errors on bad input, and it keeps answering under a flood.
    let http = walrus_tls::http_client().build().expect("an HTTP client");
    let validator = format!("http://{}", nodes[1].addr);
    for bad in ["abc", "-1", "18446744073709551616"] {
        let response = http.get(format!("{validator}/v1/state?at={bad}")).send().await.expect("answer");
        assert_eq!(response.status().as_u16(), 400, "{bad}");
        let body: serde_json::Value = response.json().await.expect("a JSON error");
        assert_eq!(body["error"]["code"], "InvalidParameter", "{bad}");
    }
    let flood: Vec<_> =
        (0..200u64).map(|i| tokio::spawn(http.get(format!("{validator}/v1/state?at={i}")).send())).collect();
    for request in flood {
        assert!(request.await.expect("task").expect("answer").status().is_success());
    }

    let tamper = Arc::new(Mutex::new(Tamper::Nothing));
    let proxy = tampering_proxy(format!("http://{}", nodes[0].addr), Arc::clone(&tamper)).await;
    let client = ChainClient::new(&proxy).pinned_to(genesis.digest());
    assert_eq!(client.committee().await.expect("honest answers pass"), committee);
    let registered = |event: &Event| matches!(event, Event::BlobRegistered { .. });
    proven_event(&client, registered).await.expect("honest events pass");

    for forgery in [Tamper::Committee, Tamper::ChangeEvent, Tamper::HideEvent] {
        *tamper.lock().expect("lock") = forgery;
        let refused = match forgery {
            Tamper::Committee => client.committee().await.map(|_| ()),
            _ => proven_event(&client, registered).await,
        };
        assert!(matches!(refused, Err(ClientError::Unproven { .. })), "{forgery:?}: {refused:?}");
    }
    *tamper.lock().expect("lock") = Tamper::Nothing;
    let pinned = ChainClient::new(&format!("{proxy}#0x{}", hex::encode(genesis.digest())));
    assert_eq!(pinned.committee().await.expect("the pinned chain"), committee);
    for pin in [format!("0x{}", hex::encode([7; 32])), "0xzz".into(), "0x0102".into()] {
        let refused = ChainClient::new(&format!("{proxy}#{pin}")).committee().await;
        assert!(matches!(refused, Err(ClientError::Unproven { .. })), "{pin}: {refused:?}");
    }

    for node in nodes {
        node.run_until(async {}).await.expect("clean stop");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_man_in_the_middle_cannot_forge_a_balance_an_object_or_a_blob_status() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (genesis, nodes) = network(&tmp).await;
    let direct = ChainClient::new(&format!("http://{}", nodes[0].addr)).pinned_to(genesis.digest());
    let user = Ed25519KeyPair::from_seed(&[1; 32]);
    let (blob_id, object_id) = register_blob(&direct, &user).await;

    // Proven reads through a client that reads its own writes.
    let balance = direct.account(&user.address()).await.expect("a proven account").account.balance;
    assert!(balance.0 > 0 && balance.0 < 5_000_000_000, "funded, less the fees and storage");
    let blob = direct.blob(&blob_id).await.expect("a proven blob");
    assert!(!blob.invalid);
    assert_eq!(blob.objects.iter().map(|o| o.id).collect::<Vec<_>>(), vec![object_id]);
    assert_eq!(direct.object(&object_id).await.expect("a proven object").id, object_id);
    let nothing = direct.blob(&walrus_core::BlobId([9; 32])).await.expect("a proven absence");
    assert!(nothing.objects.is_empty() && !nothing.invalid);
    let missing = direct.object(&walrus_core::ObjectId([9; 32])).await;
    assert!(matches!(missing, Err(ClientError::Api { status: 404, .. })), "{missing:?}");

    // Bad requests get JSON errors.
    let http = walrus_tls::http_client().build().expect("an HTTP client");
    let validator = format!("http://{}", nodes[1].addr);
    let many = vec![format!("A:{}", hex::encode([1; 32])); 65].join(",");
    for bad in ["", "X:00", "A:zz", "A:0102", many.as_str()] {
        let response = http.get(format!("{validator}/v1/records?keys={bad}")).send().await.expect("answer");
        assert_eq!(response.status().as_u16(), 400, "{bad}");
        let body: serde_json::Value = response.json().await.expect("a JSON error");
        assert_eq!(body["error"]["code"], "InvalidParameter", "{bad}");
    }
    // A flood of the largest requests (64 records each) is answered, each within its bound.
    let keys: Vec<String> = (0..64u8).map(|i| format!("O:{}", hex::encode([i; 32]))).collect();
    let url = format!("{validator}/v1/records?keys={}", keys.join(","));
    let flood: Vec<_> = (0..200).map(|_| tokio::spawn(http.get(&url).send())).collect();
    for request in flood {
        assert!(request.await.expect("task").expect("answer").status().is_success());
    }

    let tamper = Arc::new(Mutex::new(Tamper::Nothing));
    let proxy = tampering_proxy(format!("http://{}", nodes[0].addr), Arc::clone(&tamper)).await;
    let client = ChainClient::new(&proxy).pinned_to(genesis.digest());
    assert_eq!(client.account(&user.address()).await.expect("honest answers pass").account.balance, balance);
    for forgery in [Tamper::RecordValue, Tamper::RecordAndBucket, Tamper::HideRecord] {
        *tamper.lock().expect("lock") = forgery;
        let account = client.account(&user.address()).await.map(|_| ());
        let blob = client.blob(&blob_id).await.map(|_| ());
        let object = client.object(&object_id).await.map(|_| ());
        for refused in [account, blob, object] {
            assert!(matches!(refused, Err(ClientError::Unproven { .. })), "{forgery:?}: {refused:?}");
        }
    }

    for node in nodes {
        node.run_until(async {}).await.expect("clean stop");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_check_finality_and_refuse_forgeries() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (genesis, nodes) = network(&tmp).await;
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
