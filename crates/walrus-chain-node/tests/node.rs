//! The chain node end to end over HTTP: a directory made by `init_dir`, a node on a loopback
//! port, and the client. Covers submit-and-wait, reads, events, the faucet, every refusal path
//! of the RPC, a register-and-certify through the RPC, and a restart that replays the blocks.

use std::time::Duration;

use walrus_chain::tx::CertificateArgs;
use walrus_chain::{Call, Event, Frost, TransactionData, TxStatus};
use walrus_chain_client::{check_success, ChainClient};
use walrus_chain_node::init::{init_dir, read_bls, ChainDir, InitSpec};
use walrus_chain_node::{start, NodeConfig, RunningNode};
use walrus_core::encode::compute_metadata;
use walrus_core::keys::{BlsSignature, Ed25519KeyPair};
use walrus_core::messages::{signers_to_bitmap, BlobPersistenceType, ProtocolMessage, StorageConfirmation};
use walrus_core::EncodingParams;

const N_SHARDS: u16 = 10;
const WAL: u64 = walrus_chain::amount::FROST_PER_WAL;

fn init(dir: &std::path::Path) -> ChainDir {
    init_with_epoch(dir, 3_600_000)
}

fn init_with_epoch(dir: &std::path::Path, epoch_ms: u64) -> ChainDir {
    let chain_dir = ChainDir(dir.to_path_buf());
    let addresses = vec!["127.0.0.1:19001".to_string(), "127.0.0.1:19002".to_string()];
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis();
    let spec = InitSpec::localnet(N_SHARDS, addresses, epoch_ms, now as u64);
    init_dir(&chain_dir, &spec).expect("init");
    chain_dir
}

async fn run(dir: &ChainDir) -> (RunningNode, ChainClient) {
    let faucet = walrus_chain_node::init::read_ed25519(&dir.faucet_key()).expect("faucet key");
    let config = NodeConfig {
        dir: dir.clone(),
        validator: 0,
        listen: "127.0.0.1:0".parse().expect("address"),
        faucet: Some(faucet),
        server: Default::default(),
    };
    let node = start(config).await.expect("node starts");
    let client = ChainClient::new(&format!("http://{}", node.addr));
    (node, client)
}

async fn stop(node: RunningNode) {
    node.run_until(async {}).await.expect("clean stop");
}

fn funded_user(seed: u8) -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed(&[seed; 32])
}

async fn raw_post(client: &ChainClient, body: Vec<u8>) -> (u16, serde_json::Value) {
    let response = walrus_tls::http_client()
        .build()
        .expect("an HTTP client")
        .post(format!("{}/v1/transactions", client.base()))
        .body(body)
        .send()
        .await
        .expect("answer");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON error body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_reads_events_and_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = init(tmp.path());
    let (node, client) = run(&dir).await;
    let health = client.health().await.expect("health");
    assert!(health.faucet);
    assert_eq!(health.height, 0);

    let (alice, bob) = (funded_user(1), funded_user(2));
    check_success(client.faucet(alice.address(), 10 * WAL).await.expect("faucet")).expect("success");
    assert_eq!(client.account(&alice.address()).await.expect("account").account.balance, Frost(10 * WAL));
    let sent = client.execute(&alice, Call::Transfer { to: bob.address(), amount: Frost(3 * WAL) }).await;
    let sent = sent.expect("transfer");
    assert_eq!(client.account(&bob.address()).await.expect("account").account.balance, Frost(3 * WAL));
    let looked_up = client.transaction(&sent.effects.digest).await.expect("lookup");
    assert_eq!(looked_up.effects, sent.effects);

    // A failing call is final too: fee and nonce are taken, the error is reported.
    let err = client.execute(&bob, Call::Transfer { to: alice.address(), amount: Frost(100 * WAL) }).await;
    let err = err.expect_err("too much");
    assert!(err.to_string().contains("EInsufficientFunds"), "{err}");

    // Events: blob registration shows up for a follower waiting on the long poll.
    let follower = client.clone();
    let waiting = tokio::spawn(async move { follower.events(None, 100, Duration::from_secs(20)).await });
    let (blob_object, blob_id) = register_and_certify(&dir, &client, &alice).await;
    let page = waiting.await.expect("joined").expect("events");
    assert!(page.events.iter().any(|e| matches!(e.event, Event::BlobRegistered { .. })), "{page:?}");
    let all = client.events(None, 1000, Duration::ZERO).await.expect("events");
    let certified: Vec<_> =
        all.events.iter().filter(|e| matches!(e.event, Event::BlobCertified { .. })).collect();
    assert_eq!(certified.len(), 1);
    let after =
        client.events(Some(certified[0].cursor), 1000, Duration::from_millis(50)).await.expect("events");
    assert!(after.events.iter().all(|e| e.cursor > certified[0].cursor));

    let view = client.blob(&blob_id).await.expect("blob view");
    assert_eq!(view.objects.len(), 1);
    assert_eq!(view.objects[0].id, blob_object);
    assert!(!view.invalid);
    for _ in 0..2 {
        let reserve = client.execute(&alice, Call::ReserveSpace { size: 1_000, epochs_ahead: 1 }).await;
        check_success(reserve.expect("reserve")).expect("success");
    }
    let owned = client.owned_objects(&alice.address()).await.expect("owned");
    assert!(owned.iter().any(|o| o.id == blob_object));
    // Pages of one object give the same objects, each once, in ID order.
    let mut paged = Vec::new();
    let mut after = String::new();
    loop {
        let url = format!("{}/v1/accounts/{}/objects?limit=1{after}", client.base(), alice.address());
        let page: walrus_chain_client::wire::OwnedObjectsPage =
            reqwest::get(url).await.expect("answer").json().await.expect("page");
        assert!(page.objects.len() <= 1);
        paged.extend(page.objects.iter().map(|o| o.id));
        match page.next_cursor {
            Some(cursor) => after = format!("&after={cursor}"),
            None => break,
        }
    }
    assert_eq!(paged, owned.iter().map(|o| o.id).collect::<Vec<_>>());
    assert_eq!(paged.len(), 3, "alice owns the blob and two storage resources: {paged:?}");

    // The empty block that commits to the last transactions' state may still be on its way.
    let mut before = client.health().await.expect("health");
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = client.health().await.expect("health");
        if now.height == before.height {
            break;
        }
        before = now;
    }
    let bob_before = client.account(&bob.address()).await.expect("account");
    stop(node).await;

    // Restart: the blocks replay to the same state, and effects are still there.
    let (node, client) = run(&dir).await;
    let after = client.health().await.expect("health");
    assert_eq!((after.height, after.state_digest), (before.height, before.state_digest));
    assert_eq!(client.account(&bob.address()).await.expect("account").account, bob_before.account);
    assert_eq!(client.transaction(&sent.effects.digest).await.expect("lookup").effects, sent.effects);
    assert_eq!(client.system().await.expect("system").system.committee.members.len(), 2);
    stop(node).await;
}

/// Reserves storage, registers a small blob and certifies it with the genesis nodes' keys,
/// all through the RPC. Returns the blob object and blob ID.
async fn register_and_certify(
    dir: &ChainDir,
    client: &ChainClient,
    user: &Ed25519KeyPair,
) -> (walrus_core::ObjectId, walrus_core::BlobId) {
    let params = EncodingParams::new(u64::from(N_SHARDS)).expect("params");
    let data = b"hello, chain";
    let metadata = compute_metadata(params, data).expect("metadata");
    let size = params.encoded_blob_length(data.len() as u64).expect("size");
    let storage = client.execute(user, Call::ReserveSpace { size, epochs_ahead: 2 }).await.expect("reserve");
    let register = Call::RegisterBlob {
        storage: storage.effects.created[0],
        blob_id: *metadata.blob_id(),
        root_hash: metadata.metadata().compute_root_hash(),
        size: data.len() as u64,
        encoding_type: 1,
        deletable: false,
    };
    let blob = client.execute(user, register).await.expect("register").effects.created[0];
    let committee = client.committee().await.expect("committee");
    let message = ProtocolMessage::new(
        committee.epoch,
        StorageConfirmation { blob_id: *metadata.blob_id(), blob_type: BlobPersistenceType::Permanent },
    )
    .to_bytes();
    let mut signatures = Vec::new();
    let mut members = Vec::new();
    for i in 0..2 {
        let key = read_bls(&dir.node(i).join("bls.key")).expect("bls key");
        let position = committee.members.iter().position(|m| m.public_key == *key.public()).expect("member");
        signatures.push(key.sign(&message));
        members.push(position as u16);
    }
    let certificate = CertificateArgs {
        signature: BlsSignature::aggregate(&signatures).expect("non-empty"),
        signers_bitmap: signers_to_bitmap(&members),
        message,
    };
    client.execute(user, Call::CertifyBlob { blob, certificate }).await.expect("certify");
    (blob, *metadata.blob_id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_errors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = init(tmp.path());
    let (node, client) = run(&dir).await;
    let alice = funded_user(1);
    check_success(client.faucet(alice.address(), WAL).await.expect("faucet")).expect("success");
    let health = client.health().await.expect("health");
    let tx = |nonce: u64, fee: u64| TransactionData {
        chain_id: health.chain_id,
        sender: alice.address(),
        nonce,
        fee: Frost(fee),
        call: Call::Transfer { to: funded_user(2).address(), amount: Frost(1) },
    };

    let (status, body) = raw_post(&client, vec![1, 2, 3]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("MalformedTransaction")));

    let mut forged = tx(0, 1_000).sign(&alice);
    forged.data.call = Call::Transfer { to: funded_user(3).address(), amount: Frost(1) };
    let (status, body) = raw_post(&client, forged.to_bcs()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("BadSignature")));

    let (status, body) = raw_post(&client, tx(0, 1).sign(&alice).to_bcs()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("FeeTooLow")));

    let mut other_chain = tx(0, 1_000);
    other_chain.chain_id = [9; 32];
    let (status, body) = raw_post(&client, other_chain.sign(&alice).to_bcs()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("WrongChain")));

    check_success(client.submit(&tx(0, 1_000).sign(&alice)).await.expect("first")).expect("success");
    let (status, body) = raw_post(&client, tx(0, 1_000).sign(&alice).with_call_amount(2).to_bcs()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("StaleNonce")));
    // The very same transaction again is answered with its effects, not refused.
    let again = client.submit(&tx(0, 1_000).sign(&alice)).await.expect("idempotent");
    assert_eq!(again.effects.status, TxStatus::Success);

    let (status, body) = raw_post(&client, tx(5_000, 1_000).sign(&alice).to_bcs()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("NonceTooFarAhead")));

    let (status, body) = raw_post(&client, vec![0; walrus_chain_client::wire::TX_BYTES_MAX + 1]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("TransactionTooLarge")));

    for (path, code) in [
        ("/v1/accounts/0x12", "InvalidParameter"),
        ("/v1/objects/0x0000000000000000000000000000000000000000000000000000000000000001", "ObjectNotFound"),
        ("/v1/blobs/not-a-blob-id", "InvalidParameter"),
        ("/v1/events?after=abc", "InvalidParameter"),
        // axum's own refusals (a query that does not parse) are the same JSON.
        ("/v1/events?limit=many", "InvalidParameter"),
        ("/v1/nothing", "NotFound"),
    ] {
        let response = reqwest::get(format!("{}{path}", client.base())).await.expect("answer");
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.expect("JSON");
        assert!((400..500).contains(&status), "{path}: {status}");
        assert_eq!(body["error"]["code"].as_str(), Some(code), "{path}");
    }
    let wrong_method = walrus_tls::http_client()
        .build()
        .expect("an HTTP client")
        .delete(format!("{}/v1/health", client.base()))
        .send()
        .await;
    let wrong_method = wrong_method.expect("answer");
    assert_eq!(wrong_method.status().as_u16(), 405);
    let body: serde_json::Value = wrong_method.json().await.expect("JSON");
    assert_eq!(body["error"]["code"].as_str(), Some("MethodNotAllowed"), "{body}");
    let too_much = client.faucet(alice.address(), u64::MAX).await.expect_err("capped");
    assert_eq!(too_much.api_code(), Some("InvalidAmount"));
    stop(node).await;
}

trait WithAmount {
    fn with_call_amount(self, amount: u64) -> Self;
}

impl WithAmount for walrus_chain::SignedTransaction {
    /// Re-signs with another amount (so the digest differs but the nonce stays).
    fn with_call_amount(self, amount: u64) -> Self {
        let key = funded_user(1);
        let mut data = self.data;
        if let Call::Transfer { to, .. } = data.call {
            data.call = Call::Transfer { to, amount: Frost(amount) };
        }
        data.sign(&key)
    }
}

/// Epochs step only when someone calls, once each step is due (and the chain cuts no empty
/// blocks while it waits, past the one that commits to the state after the last
/// transactions); the members' sync reports end each change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epochs_change_when_their_steps_are_called() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Long enough that the first call lands before voting ends even on a loaded machine.
    let dir = init_with_epoch(tmp.path(), 5000);
    let (node, client) = run(&dir).await;
    let owners: Vec<Ed25519KeyPair> = (0..2)
        .map(|i| walrus_chain_node::init::read_ed25519(&dir.node(i).join("owner.key")).expect("owner key"))
        .collect();
    let caller = &owners[0];
    let early = client.execute(caller, Call::VotingEnd).await.expect_err("not due yet");
    assert!(early.to_string().contains("EWrongEpochState"), "{early}");
    // One empty block follows the last transactions, committing to the state after them.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let idle = client.health().await.expect("health").height;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(client.health().await.expect("health").height, idle, "no empty blocks");
    for _ in 0..2 {
        for call in [Call::VotingEnd, Call::InitiateEpochChange] {
            let due = client.system().await.expect("system").next_epoch_step_ms.expect("clock runs");
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock");
            tokio::time::sleep(Duration::from_millis(due.saturating_sub(now.as_millis() as u64) + 20)).await;
            client.execute(caller, call).await.expect("due");
        }
        let system = client.system().await.expect("system").system;
        for member in &system.committee.members {
            let owner =
                owners.iter().find(|o| o.address() == system.nodes[&member.node_id].owner).expect("owner");
            let sync = Call::EpochSyncDone { node_id: member.node_id, epoch: system.epoch() };
            client.execute(owner, sync).await.expect("sync");
        }
    }
    assert_eq!(client.health().await.expect("health").epoch, 2);
    let all = client.events(None, 1000, Duration::ZERO).await.expect("events");
    let changes = all.events.iter().filter(|e| matches!(e.event, Event::EpochChangeDone { .. })).count();
    assert_eq!(changes, 2);
    stop(node).await;
}

/// Item 3 and 4 of the hardening issue: fresh keys that cannot pay are refused at submission
/// (nothing of theirs reaches a block), the mempool stays open, and a funded transfer is final
/// within 2 s while 50 of them spam.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfunded_spam_is_refused_and_a_funded_transfer_stays_fast() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = init(tmp.path());
    let (node, client) = run(&dir).await;
    let (alice, bob) = (funded_user(1), funded_user(2));
    check_success(client.faucet(alice.address(), 10 * WAL).await.expect("faucet")).expect("success");
    let chain_id = client.health().await.expect("health").chain_id;
    let quit = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut spammers = Vec::new();
    for seed in 0..50u8 {
        let (client, quit) = (client.clone(), std::sync::Arc::clone(&quit));
        spammers.push(tokio::spawn(async move {
            let key = Ed25519KeyPair::from_seed(&[seed.wrapping_add(100); 32]);
            let mut refused = 0u32;
            let mut nonce = 0;
            while !quit.load(std::sync::atomic::Ordering::Relaxed) {
                let tx = TransactionData {
                    chain_id,
                    sender: key.address(),
                    nonce,
                    fee: Frost(1_000),
                    call: Call::Transfer { to: key.address(), amount: Frost(0) },
                }
                .sign(&key);
                nonce += 1;
                let (status, body) = raw_post(&client, tx.to_bcs()).await;
                assert_eq!((status, body["error"]["code"].as_str()), (422, Some("CannotPayFee")), "{body}");
                refused += 1;
            }
            refused
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for round in 0..3 {
        let started = std::time::Instant::now();
        let sent = client.execute(&alice, Call::Transfer { to: bob.address(), amount: Frost(1) }).await;
        check_success(sent.expect("transfer")).expect("success");
        let took = started.elapsed();
        assert!(took < Duration::from_secs(2), "round {round}: a funded transfer took {took:?} under spam");
    }
    quit.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut refused = 0;
    for spammer in spammers {
        refused += spammer.await.expect("spammer");
    }
    assert!(refused > 100, "the spam ran: {refused} refusals");
    let store = node.chain.store();
    for height in 1..=store.latest_height().expect("height") {
        let effects = store.effects(height).expect("effects").expect("stored");
        for tx in &effects.transactions {
            assert!(!matches!(tx.status, TxStatus::Skipped { .. }), "block {height}: {:?}", tx.status);
        }
    }
    stop(node).await;
}

/// GETs `path` on the node: its status and JSON body.
async fn get_json(client: &ChainClient, path: &str) -> (u16, serde_json::Value) {
    let response = reqwest::get(format!("{}{path}", client.base())).await.expect("answer");
    (response.status().as_u16(), response.json().await.expect("JSON"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sites_are_read_by_path_and_by_name_with_proofs() {
    use walrus_chain::site::{Resource, SiteMetadata, SiteUpdate};
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = init(tmp.path());
    let (node, client) = run(&dir).await;
    let alice = funded_user(7);
    check_success(client.faucet(alice.address(), 10 * WAL).await.expect("faucet")).expect("success");
    let call = Call::CreateSite { name: "site".into(), metadata: SiteMetadata::default() };
    let created = check_success(client.execute(&alice, call).await.expect("create")).expect("created");
    let site = created.effects.created[0];
    let resource = |path: &str| Resource {
        path: path.into(),
        headers: [("content-type".to_string(), "text/html".to_string())].into(),
        blob_id: walrus_core::BlobId([3; 32]),
        blob_hash: [4; 32],
        range: None,
    };
    let update = SiteUpdate {
        site,
        routes: Some([("/*".to_string(), "/index.html".to_string())].into()),
        put: vec![resource("/index.html"), resource("/a/b.html")],
        ..Default::default()
    };
    check_success(client.execute(&alice, Call::UpdateSite(update)).await.expect("update")).expect("updated");
    let call = Call::SetSiteName { name: "docs".into(), site: Some(site) };
    check_success(client.execute(&alice, call).await.expect("name")).expect("named");

    // Proven: the site, a present and an absent path, the name.
    let proven = client.proven_site(&site, &["/index.html", "/nope"]).await.expect("proven").expect("a site");
    assert_eq!(proven.site.routes["/*"], "/index.html");
    assert_eq!(proven.resources["/index.html"], Some(resource("/index.html")));
    assert_eq!(proven.resources["/nope"], None);
    assert!(client.proven_site(&walrus_core::ObjectId([9; 32]), &[]).await.expect("proven").is_none());
    assert_eq!(client.proven_site_name("docs").await.expect("name"), Some(site));
    assert_eq!(client.proven_site_name("absent").await.expect("name"), None);
    let listed = client.site_resources(&site).await.expect("sitemap");
    assert_eq!(listed, vec![resource("/a/b.html"), resource("/index.html")]);

    // The RPC by path and by name, with clear refusals.
    let (status, body) = get_json(&client, &format!("/v1/sites/{site}/resource?path=/a/b.html")).await;
    assert_eq!(
        (status, &body["body"]["SiteResource"]["resource"]["path"]),
        (200, &serde_json::json!("/a/b.html"))
    );
    let (status, body) = get_json(&client, &format!("/v1/sites/{site}/resource?path=/x")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("ResourceNotFound")));
    let (status, _) = get_json(&client, &format!("/v1/sites/{site}/resource?path=x")).await;
    assert_eq!(status, 400);
    let (status, body) = get_json(&client, "/v1/names/docs").await;
    assert_eq!((status, &body["body"]["SiteName"]["site"]), (200, &serde_json::json!(site.to_string())));
    assert_eq!(get_json(&client, "/v1/names/absent").await.0, 404);
    assert_eq!(get_json(&client, "/v1/names/Not.A.Name").await.0, 400);
    let (status, body) = get_json(&client, &format!("/v1/objects/{site}/children?limit=1")).await;
    assert_eq!((status, body["objects"].as_array().map(Vec::len)), (200, Some(1)));
    assert!(body["next_cursor"].is_string());
    stop(node).await;
}
