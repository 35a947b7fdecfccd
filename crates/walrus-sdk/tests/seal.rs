//! Seal end to end over an in-process chain and three key servers (2-of-3): keys are released
//! only as the on-chain policies say (private, allowlist with an address added and removed,
//! subscription), with one key server down reads still work and with two they fail clearly, a
//! key server answering a wrong key is detected and skipped, and forged, expired, replayed and
//! out-of-namespace requests get a clear refusal with no key.

use walrus_chain::access::{key_server_object_id, PolicyKind};
use walrus_chain::Call;
use walrus_chain_client::check_success;
use walrus_core::keys::Ed25519KeyPair;
use walrus_core::ObjectId;
use walrus_keyserver::{start, KeyServerConfig, RunningKeyServer};
use walrus_sdk::seal::{KeyServerView, SealClientError};
use walrus_sdk::Client;
use walrus_seal::bls::Scalar;
use walrus_seal::session::{Certificate, KeyRequest};
use walrus_seal::{decrypt, encrypt, ibe, Dem};
use walrus_testkit::Net;

fn master(seed: u8) -> Scalar {
    Scalar::from_be_bytes(&[seed; 32]).expect("a scalar")
}

/// Starts a key server with `running` and registers `registered`'s public key for it (the same
/// master, except for a lying server).
async fn key_server(net: &Net, operator: &Client, running: u8, registered: u8) -> RunningKeyServer {
    let config = KeyServerConfig::new("127.0.0.1:0".parse().expect("addr"), &net.chain_url);
    let server = start(config, master(running)).await.expect("key server");
    let registered = master(registered);
    let public = ibe::public_key(&registered).to_bytes();
    let pop = ibe::proof_of_possession(&registered, &key_server_object_id(&public).0).to_bytes();
    let call = Call::RegisterKeyServer {
        name: format!("ks-{running}"),
        url: format!("http://{}", server.server.addr),
        public_key: public.to_vec(),
        pop: pop.to_vec(),
    };
    check_success(operator.chain().execute(operator.wallet(), call).await.expect("registered")).expect("ok");
    server
}

async fn funded(net: &Net, seed: u8) -> Client {
    let wallet = Ed25519KeyPair::from_seed(&[seed; 32]);
    net.chain_client.faucet(wallet.address(), 100_000_000_000).await.expect("funded");
    Client::new(&net.chain_url, wallet)
}

async fn policy(client: &Client, kind: PolicyKind) -> ObjectId {
    let done = client.chain().execute(client.wallet(), Call::CreatePolicy { kind }).await.expect("created");
    check_success(done).expect("ok").effects.created[0]
}

/// Whether `client` gets `threshold` keys of `identity` and decrypts `object` with them.
async fn reads(
    client: &Client,
    servers: &[KeyServerView],
    object: &walrus_seal::EncryptedObject,
    subscription: Option<ObjectId>,
) -> Result<Vec<u8>, SealClientError> {
    let session = client.seal_session(10).await?;
    let keys = client.fetch_keys(&session, (&object.id, subscription), servers, 2).await?;
    Ok(decrypt(object, &keys, None).expect("the keys decrypt"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_follow_the_policies_and_the_threshold() {
    let net = Net::start(4).await;
    let (owner, reader, stranger) = (funded(&net, 61).await, funded(&net, 62).await, funded(&net, 63).await);
    let mut running = Vec::new();
    for seed in [71, 72, 73] {
        running.push(key_server(&net, &owner, seed, seed).await);
    }
    let servers = owner.key_servers().await.expect("key servers");
    assert_eq!(servers.len(), 3);
    let publics: Vec<_> = servers.iter().map(KeyServerView::as_key_server).collect();
    let package = owner.seal_package_id().await.expect("package");
    let seal = |policy: ObjectId, data: &[u8]| {
        let id = [policy.0.as_slice(), b"blob-1"].concat();
        encrypt((&package, &id), &publics, 2, (Dem::Aes256Gcm, b""), data, &[5; 32]).expect("encrypts").0
    };

    // Private: the owner reads; another wallet gets no key.
    let private = policy(&owner, PolicyKind::Private).await;
    let secret = seal(private, b"for the owner only");
    assert_eq!(reads(&owner, &servers, &secret, None).await.expect("the owner reads"), b"for the owner only");
    let refused = reads(&stranger, &servers, &secret, None).await.expect_err("refused");
    assert!(refused.to_string().contains("may not decrypt"), "{refused}");

    // Allowlist: added, the reader reads; removed, it cannot fetch keys anymore.
    let list = policy(&owner, PolicyKind::Allowlist { members: Default::default() }).await;
    let shared = seal(list, b"for the list");
    let add = Call::UpdateAllowlist { policy: list, add: vec![reader.wallet().address()], remove: vec![] };
    check_success(owner.chain().execute(owner.wallet(), add).await.expect("added")).expect("ok");
    assert_eq!(reads(&reader, &servers, &shared, None).await.expect("allowed"), b"for the list");
    let remove = Call::UpdateAllowlist { policy: list, add: vec![], remove: vec![reader.wallet().address()] };
    check_success(owner.chain().execute(owner.wallet(), remove).await.expect("removed")).expect("ok");
    assert!(reads(&reader, &servers, &shared, None).await.is_err(), "removed");

    // Subscription: the reader pays and reads at once.
    let price = walrus_chain::Frost::from_wal(1).expect("fits");
    let market = policy(&owner, PolicyKind::Subscription { price, epochs: 2 }).await;
    let dataset = seal(market, b"a dataset for sale");
    assert!(reads(&reader, &servers, &dataset, None).await.is_err(), "not before paying");
    let paid =
        reader.chain().execute(reader.wallet(), Call::Subscribe { policy: market }).await.expect("paid");
    let subscription = check_success(paid).expect("ok").effects.created[0];
    assert_eq!(
        reads(&reader, &servers, &dataset, Some(subscription)).await.expect("paid"),
        b"a dataset for sale"
    );

    // One key server down: still two keys; two down: a clear error.
    running.remove(0).server.stop().await.expect("stopped");
    assert_eq!(reads(&owner, &servers, &secret, None).await.expect("2 of 3"), b"for the owner only");
    running.remove(0).server.stop().await.expect("stopped");
    let down = reads(&owner, &servers, &secret, None).await.expect_err("1 of 3");
    assert!(matches!(down, SealClientError::NotEnoughKeys { got: 1, need: 2, .. }), "{down}");
    running.remove(0).server.stop().await.expect("stopped");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_key_server_is_skipped_and_bad_requests_are_refused() {
    let net = Net::start(4).await;
    let owner = funded(&net, 64).await;
    // Server 83 runs another master than the one it registered: its keys do not verify.
    let running = vec![
        key_server(&net, &owner, 81, 81).await,
        key_server(&net, &owner, 82, 82).await,
        key_server(&net, &owner, 84, 83).await,
    ];
    let servers = owner.key_servers().await.expect("key servers");
    let publics: Vec<_> = servers.iter().map(KeyServerView::as_key_server).collect();
    let package = owner.seal_package_id().await.expect("package");
    let private = policy(&owner, PolicyKind::Private).await;
    let id = [private.0.as_slice(), b"n"].concat();
    let (object, _) =
        encrypt((&package, &id), &publics, 2, (Dem::Hmac256Ctr, b""), b"data", &[6; 32]).expect("encrypts");
    let session = owner.seal_session(5).await.expect("session");
    let liar: Vec<_> = servers.iter().filter(|s| s.name == "ks-84").cloned().collect();
    // It answers under the object ID of the key it really holds: refused before the key is even
    // checked against the registered public key (which it would fail).
    let error = owner.fetch_keys(&session, (&id, None), &liar, 1).await.expect_err("a wrong key");
    assert!(matches!(error, SealClientError::NotEnoughKeys { got: 0, .. }), "{error}");
    assert!(error.to_string().contains("ks-84"), "{error}");
    let keys = owner.fetch_keys(&session, (&id, None), &servers, 2).await.expect("the honest two");
    assert!(keys.iter().all(|(server, _)| liar[0].object_id.0 != *server));
    assert_eq!(decrypt(&object, &keys, None).expect("decrypts"), b"data");

    // Raw requests: refusals with their codes, and no key.
    let honest = servers.iter().find(|s| s.name == "ks-81").expect("ks-81");
    let http = walrus_tls::http_client().build().expect("client");
    let url = format!("{}/v1/fetch_key", honest.url);
    let post = |body: String| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let answer = http
                .post(url)
                .body(body)
                .header("content-type", "application/json")
                .send()
                .await
                .expect("answer");
            let status = answer.status().as_u16();
            let json: serde_json::Value = answer.json().await.unwrap_or_default();
            (status, json["error"]["code"].as_str().unwrap_or_default().to_string())
        }
    };
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64;
    let wallet = owner.wallet();
    let session_key = Ed25519KeyPair::from_seed(&[9; 32]);
    let request = |certificate: Certificate, identity: &[u8], request_id: u8, at: u64| {
        let body = KeyRequest::sign(
            &session_key,
            certificate,
            (identity.to_vec(), None),
            ([7; 32], [request_id; 32], at),
        );
        serde_json::to_string(&body).expect("JSON")
    };
    let live = Certificate::sign(wallet, session_key.public(), package, (now, 5));
    let first = request(live.clone(), &id, 1, now);
    assert_eq!(post(first.clone()).await.0, 200);
    assert_eq!(post(first).await, (409, "Replayed".into()));
    let expired = Certificate::sign(wallet, session_key.public(), package, (now - 20 * 60_000, 5));
    assert_eq!(post(request(expired, &id, 2, now)).await, (401, "ExpiredSession".into()));
    let mut forged = live.clone();
    forged.user = Ed25519KeyPair::from_seed(&[10; 32]).address();
    assert_eq!(post(request(forged, &id, 3, now)).await, (401, "InvalidSignature".into()));
    assert_eq!(post(request(live.clone(), b"short", 4, now)).await, (403, "InvalidIdentity".into()));
    assert_eq!(post(request(live.clone(), &id, 5, now - 300_000)).await, (401, "StaleRequest".into()));
    assert_eq!(post("{not json".into()).await.0, 400);
    assert_eq!(post("x".repeat(20_000)).await.0, 413);
    let metrics = http
        .get(format!("{}/metrics", honest.url))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("walrus_keyserver_refused_total{code=\"Replayed\"} 1"), "{metrics}");
    for server in running {
        server.server.stop().await.expect("stopped");
    }
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_lock_opens_with_the_chain_and_a_key_off_its_public_key_is_caught() {
    let net = Net::start(4).await;
    let owner = funded(&net, 66).await;
    let running = vec![key_server(&net, &owner, 101, 101).await, key_server(&net, &owner, 102, 102).await];
    let servers = owner.key_servers().await.expect("key servers");
    let publics: Vec<_> = servers.iter().map(KeyServerView::as_key_server).collect();
    let package = owner.seal_package_id().await.expect("package");

    // A time-lock 3 s after the chain's time: refused before, released once the chain is past it.
    let unlock_ms = owner.chain().system().await.expect("system").timestamp_ms + 3_000;
    let lock = policy(&owner, PolicyKind::TimeLock { unlock_ms }).await;
    let id = [lock.0.as_slice(), b"later"].concat();
    let (object, _) = encrypt((&package, &id), &publics, 2, (Dem::Aes256Gcm, b""), b"opens later", &[8; 32])
        .expect("encrypts");
    let early = reads(&owner, &servers, &object, None).await.expect_err("locked");
    assert!(early.to_string().contains("opens at"), "{early}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        // Blocks move the chain's clock; a transfer makes one.
        let nudge = Call::Transfer { to: owner.wallet().address(), amount: walrus_chain::Frost(1) };
        check_success(owner.chain().execute(owner.wallet(), nudge).await.expect("transfer")).expect("ok");
        match reads(&owner, &servers, &object, None).await {
            Ok(plain) => {
                assert_eq!(plain, b"opens later");
                break;
            }
            Err(e) => assert!(std::time::Instant::now() < deadline, "never opened: {e}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }

    // A server whose key is not under the public key the client holds for it is skipped.
    let mut wrong = servers[0].clone();
    wrong.public_key = servers[1].public_key;
    let session = owner.seal_session(5).await.expect("session");
    let error = owner.fetch_keys(&session, (&id, None), &[wrong], 1).await.expect_err("a wrong key");
    assert!(error.to_string().contains("not this server's key"), "{error}");
    for server in running {
        server.server.stop().await.expect("stopped");
    }
    net.stop().await;
}

/// Runs the official `seal.mjs` (from `WALRUS_CONFORMANCE_DIR`) with `args`; its standard output.
fn seal_mjs(args: &[String]) -> String {
    let dir = std::path::PathBuf::from(
        std::env::var_os("WALRUS_CONFORMANCE_DIR")
            .expect("WALRUS_CONFORMANCE_DIR names the official packages"),
    );
    let output = std::process::Command::new("node")
        .arg(dir.join("seal.mjs"))
        .args(args)
        .current_dir(&dir)
        .output()
        .expect("node runs");
    assert!(output.status.success(), "seal.mjs {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js and the official packages; .ci/run sets WALRUS_CONFORMANCE_DIR and runs it"]
async fn the_official_sdk_and_our_key_servers_interoperate() {
    let net = Net::start(4).await;
    let owner = funded(&net, 65).await;
    let mut running = Vec::new();
    for seed in [91, 92, 93] {
        running.push(key_server(&net, &owner, seed, seed).await);
    }
    let servers = owner.key_servers().await.expect("key servers");
    let package = owner.seal_package_id().await.expect("package");
    let private = policy(&owner, PolicyKind::Private).await;
    let id = [private.0.as_slice(), b"official"].concat();
    let tmp = std::env::temp_dir().join(format!("walrus-seal-sdk-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("dir");
    let path = |name: &str| tmp.join(name).to_str().expect("utf-8").to_string();
    let server_args: Vec<String> = servers
        .iter()
        .flat_map(|s| ["--server".to_string(), format!("{}={}", s.object_id, hex::encode(s.public_key))])
        .collect();

    // The official SDK encrypts for our key servers; the blob is stored and read back, and the
    // wallet allowed by the policy decrypts it.
    std::fs::write(path("plain"), b"sealed by the official SDK").expect("write");
    let mut args: Vec<String> = [
        "encrypt",
        "--package-id",
        &format!("0x{}", hex::encode(package)),
        "--id",
        &hex::encode(&id),
        "--threshold",
        "2",
    ]
    .map(String::from)
    .to_vec();
    args.extend(server_args.clone());
    args.extend(["--in", &path("plain"), "--out", &path("theirs")].map(String::from));
    seal_mjs(&args);
    let options = walrus_sdk::StoreOptions { epochs_ahead: 2, ..Default::default() };
    let stored = owner.store(std::fs::read(path("theirs")).expect("read"), options).await.expect("stored");
    let bytes = owner.read(stored.blob_id()).await.expect("read back");
    let object = owner.sealed(&bytes).await.expect("chain").expect("a Seal object of this chain");
    assert_eq!(owner.seal_decrypt(&object).await.expect("decrypts"), b"sealed by the official SDK");

    // Ours decrypts with the official SDK given the keys our servers hand out, and the SDK
    // accepts every key.
    let ours = owner.seal_encrypt(private, b"sealed by us", 2).await.expect("encrypts");
    std::fs::write(path("ours"), ours.to_bytes()).expect("write");
    let (_, keys) = owner.seal_keys(&ours).await.expect("keys");
    let key_args: Vec<String> = keys
        .iter()
        .flat_map(|(server, key)| {
            ["--key".to_string(), format!("0x{}={}", hex::encode(server), hex::encode(key))]
        })
        .collect();
    let mut args: Vec<String> =
        ["decrypt", "--in", &path("ours"), "--out", &path("ours.plain")].map(String::from).to_vec();
    args.extend(key_args.clone());
    args.extend(server_args.clone());
    seal_mjs(&args);
    assert_eq!(std::fs::read(path("ours.plain")).expect("read"), b"sealed by us");
    for (server, key) in &keys {
        let public = servers.iter().find(|s| s.object_id.0 == *server).expect("a server");
        let verified = seal_mjs(&[
            "verify-key".into(),
            "--package-id".into(),
            format!("0x{}", hex::encode(package)),
            "--id".into(),
            hex::encode(&ours.id),
            "--server".into(),
            format!("{}={}", public.object_id, hex::encode(public.public_key)),
            "--key".into(),
            format!("0x{}={}", hex::encode(server), hex::encode(key)),
        ]);
        assert!(verified.contains("true"), "verify-key: {verified}");
    }
    let _ = std::fs::remove_dir_all(&tmp);
    for server in running {
        server.server.stop().await.expect("stopped");
    }
    net.stop().await;
}
