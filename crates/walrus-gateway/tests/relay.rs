//! The upload relay: a plain HTTP client stores through a relay that asks a tip and certifies
//! with the certificate it answers; bad requests (no tip, a tip too low, a wrong length, a body
//! over the limit, other bytes) get their error before anything reaches a node; the SDK's
//! stores go through a relay; and the relay holds against clients that send too much or
//! nothing.

use std::io::Write as _;
use std::time::Duration;

use walrus_chain::amount::Frost;
use walrus_chain::tx::{Call, CertificateArgs};
use walrus_core::encode::encode_blob;
use walrus_core::keys::Ed25519KeyPair;
use walrus_core::{BlobId, EncodingParams};
use walrus_gateway::relay::{start_relay, RelayConfig, RelaySettings};
use walrus_gateway::RunningGateway;
use walrus_sdk::relay::{sha256, HashedAuthPackage, RelayParams, RelayResponse, TipConfig, TipKind};
use walrus_sdk::{BlobStoreResult, Client, StoreOptions};
use walrus_testkit::Net;

const TIP: TipKind = TipKind::Linear { base: 1_000, encoded_size_mul_per_kib: 10 };

async fn relay(net: &Net, tip: TipConfig, configure: impl FnOnce(&mut RelayConfig)) -> RunningGateway {
    let settings = RelaySettings { tip_config: tip, ..RelaySettings::default() };
    let mut config = RelayConfig::new("127.0.0.1:0".parse().expect("addr"), settings);
    configure(&mut config);
    start_relay(config, &net.chain_url).await.expect("relay")
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

/// Pays `amount` to `to` with the commitment to `blob` (claiming `length` bytes) and `nonce`.
async fn pay(
    net: &Net,
    to: walrus_core::keys::Address,
    amount: u64,
    blob: &[u8],
    length: u64,
) -> RelayParams {
    let nonce = [blob.len() as u8; 32];
    let memo = HashedAuthPackage::new(sha256(blob), &nonce, length).to_bytes();
    let call = Call::TransferWithMemo { to, amount: Frost(amount), memo };
    let paid = net.chain_client.execute(&net.user, call).await.expect("tip paid");
    RelayParams {
        blob_id: BlobId([0; 32]),
        tx_id: Some(paid.effects.digest),
        nonce: Some(nonce),
        deletable_blob_object: None,
    }
}

/// POSTs `body` with `params` to the relay; the status and the error reason (or the answer).
async fn post(relay: &RunningGateway, params: &RelayParams, body: Vec<u8>) -> (u16, serde_json::Value) {
    let http = walrus_tls::http_client().build().expect("an HTTP client");
    let response =
        http.post(params.url(&format!("http://{}", relay.addr))).body(body).send().await.expect("answer");
    (response.status().as_u16(), response.json().await.expect("JSON"))
}

fn reason(body: &serde_json::Value) -> &str {
    body["error"]["details"][0]["reason"].as_str().unwrap_or_default()
}

/// Whether any node holds `blob_id`'s metadata.
async fn stored_anywhere(net: &Net, blob_id: &BlobId) -> bool {
    for node in 0..net.nodes.len() {
        if net.get_json(node, &format!("/v1/blobs/{blob_id}/metadata/status")).await.1["success"]["data"]
            != "nonexistent"
        {
            return true;
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_http_client_stores_through_a_tipping_relay() {
    let net = Net::start(4).await;
    let owner = Ed25519KeyPair::from_seed(&[41; 32]).address();
    let relay = relay(&net, TipConfig::SendTip { address: owner, kind: TIP }, |_| {}).await;
    let params = EncodingParams::new(u64::from(net.n_shards)).expect("params");
    let http = walrus_tls::http_client().build().expect("an HTTP client");
    let config: TipConfig = http
        .get(format!("http://{}/v1/tip-config", relay.addr))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(config, TipConfig::SendTip { address: owner, kind: TIP });

    let blob = data(100_000, 1);
    let encoded = encode_blob(params, &blob).expect("encodes");
    let blob_id = *encoded.metadata().blob_id();
    let object = net.register(&encoded, false).await;
    let tip = TIP.tip(params, blob.len() as u64).expect("a tip");
    let len = blob.len() as u64;

    // Refused before anything is stored: no tip, too low a tip, a tip for another length,
    // other bytes of the same length.
    let free = RelayParams { blob_id, tx_id: None, nonce: None, deletable_blob_object: None };
    let (status, body) = post(&relay, &free, blob.clone()).await;
    assert_eq!((status, reason(&body)), (400, "MISSING_TX_ID_OR_NONCE"));
    let low = RelayParams { blob_id, ..pay(&net, owner, tip - 1, &blob, len).await };
    let (status, body) = post(&relay, &low, blob.clone()).await;
    assert_eq!((status, reason(&body)), (402, "INSUFFICIENT_TIP"), "{body}");
    let elsewhere = RelayParams { blob_id, ..pay(&net, net.user.address(), tip, &blob, len).await };
    assert_eq!(reason(&post(&relay, &elsewhere, blob.clone()).await.1), "NO_TIP_SENT");
    let longer = RelayParams { blob_id, ..pay(&net, owner, tip, &blob, len + 1).await };
    let (status, body) = post(&relay, &longer, blob.clone()).await;
    assert_eq!((status, reason(&body)), (401, "BLOB_LENGTH_MISMATCH"), "{body}");
    let paid = RelayParams { blob_id, ..pay(&net, owner, tip, &blob, len).await };
    let (status, body) = post(&relay, &paid, blob[..blob.len() - 1].to_vec()).await;
    assert_eq!((status, reason(&body)), (400, "BLOB_LENGTH_MISMATCH"), "a body shorter than registered");
    let (status, body) = post(&relay, &paid, data(100_000, 2)).await;
    assert_eq!((status, reason(&body)), (401, "BLOB_DIGEST_MISMATCH"), "{body}");
    assert!(!stored_anywhere(&net, &blob_id).await, "nothing reached a node");

    // The paid request stores; the client certifies with the relay's certificate.
    let before = net.chain_client.account(&owner).await.expect("account").account.balance;
    assert_eq!(before, Frost(3 * tip - 1), "the tips paid to the relay (one too low) reached it");
    let (status, body) = post(&relay, &paid, blob.clone()).await;
    assert_eq!(status, 200, "{body}");
    let answer: RelayResponse = serde_json::from_value(body).expect("the reference's answer");
    assert_eq!(answer.blob_id, blob_id);
    let certificate = answer.confirmation_certificate;
    let certify = Call::CertifyBlob { blob: object, certificate: CertificateArgs::from(certificate) };
    net.chain_client.execute(&net.user, certify).await.expect("certified");
    let reader = Client::read_only(&net.chain_url);
    assert_eq!(reader.read(&blob_id).await.expect("reads back"), blob);
    let after = net.chain_client.account(&owner).await.expect("account").account.balance;
    assert_eq!(after, before, "the relay spends nothing on chain");

    // The SDK's stores through the relay pay the tip themselves.
    let client = Client::new(&net.chain_url, Ed25519KeyPair::from_seed(&[7; 32]));
    net.chain_client.faucet(client.wallet().address(), 1_000_000_000_000).await.expect("funded");
    let client = client.with_upload_relay(&format!("http://{}", relay.addr));
    let stored = data(300_000, 3);
    let options = StoreOptions { epochs_ahead: 2, ..StoreOptions::default() };
    let BlobStoreResult::NewlyCreated(result) = client.store(stored.clone(), options).await.expect("stored")
    else {
        panic!("a new blob");
    };
    assert_eq!(result.uploaded.sent_bytes, stored.len() as u64, "the blob went to the relay once");
    assert_eq!(reader.read(&result.blob_id).await.expect("reads back"), stored);
    let paid_tips = net.chain_client.account(&owner).await.expect("account").account.balance.0 - after.0;
    assert_eq!(paid_tips, TIP.tip(params, stored.len() as u64).expect("a tip"));
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_free_relay_refuses_what_it_cannot_relay_and_holds_against_abusive_clients() {
    let net = Net::start(4).await;
    let relay = relay(&net, TipConfig::NoTip, |config| {
        config.max_body_bytes = 200_000;
        config.max_concurrent_uploads = 1;
    })
    .await;
    let params = EncodingParams::new(u64::from(net.n_shards)).expect("params");
    let unregistered = *encode_blob(params, &data(1000, 9)).expect("encodes").metadata().blob_id();
    let query = |blob_id| RelayParams { blob_id, tx_id: None, nonce: None, deletable_blob_object: None };
    let (status, body) = post(&relay, &query(unregistered), data(1000, 9)).await;
    assert_eq!((status, reason(&body)), (400, "BLOB_NOT_REGISTERED"));

    // Over the limit: refused from the registration, before the body.
    let large = encode_blob(params, &data(300_000, 4)).expect("encodes");
    net.register(&large, false).await;
    let (status, body) = post(&relay, &query(*large.metadata().blob_id()), data(300_000, 4)).await;
    assert_eq!((status, reason(&body)), (413, "BLOB_TOO_LARGE"));

    // A deletable registration needs its object named; other bytes do not encode to the ID.
    let small = encode_blob(params, &data(5_000, 5)).expect("encodes");
    let object = net.register(&small, true).await;
    let blob_id = *small.metadata().blob_id();
    assert_eq!(reason(&post(&relay, &query(blob_id), data(5_000, 5)).await.1), "BLOB_NOT_REGISTERED");
    let deletable = RelayParams { deletable_blob_object: Some(object), ..query(blob_id) };
    let (status, body) = post(&relay, &deletable, data(5_000, 6)).await;
    assert_eq!((status, reason(&body)), (400, "BLOB_ID_MISMATCH"));
    assert!(!stored_anywhere(&net, &blob_id).await);

    // A body that runs on past the registered length is cut off (chunked: no length declared).
    let url = deletable.url("");
    let mut stream = std::net::TcpStream::connect(relay.addr).expect("connects");
    let head = format!("POST {url} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    stream.write_all(head.as_bytes()).expect("writes");
    let chunk = [7u8; 4096];
    let mut written = 0;
    while written < 1 << 20 {
        let sent = stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).and_then(|()| {
            stream.write_all(&chunk)?;
            stream.write_all(b"\r\n")
        });
        if sent.is_err() {
            break; // The relay answered and closed.
        }
        written += chunk.len();
    }
    let mut answer = String::new();
    let _ = std::io::Read::read_to_string(&mut stream, &mut answer);
    assert!(answer.starts_with("HTTP/1.1 400") && answer.contains("BLOB_LENGTH_MISMATCH"), "{answer}");

    // A client that declares a body and holds it back takes the one slot; the next is refused.
    let mut holder = std::net::TcpStream::connect(relay.addr).expect("connects");
    let head = format!("POST {url} HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n0123");
    holder.write_all(head.as_bytes()).expect("writes");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = post(&relay, &deletable, data(5_000, 5)).await;
    assert_eq!((status, reason(&body)), (429, "TOO_MANY_REQUESTS"));
    drop(holder);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = post(&relay, &deletable, data(5_000, 5)).await;
    assert_eq!(status, 200, "{body}");
    net.stop().await;
}

#[test]
fn the_references_relay_settings_file_parses() {
    // The reference's `walrus_upload_relay_config_example.yaml`.
    let text = "tip_config: !send_tip\n  address: 0x2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a\n  kind: !const 42\ntx_freshness_threshold_secs: 36000\ntx_max_future_threshold_secs: 30\n";
    let settings: RelaySettings = serde_yaml::from_str(text).expect("parses");
    let TipConfig::SendTip { kind, .. } = settings.tip_config else { panic!("a tip") };
    assert_eq!((kind, settings.tx_freshness_threshold_secs), (TipKind::Const(42), 36_000));
    let free: RelaySettings = serde_yaml::from_str(
        "tip_config: no_tip\ntx_freshness_threshold_secs: 60\ntx_max_future_threshold_secs: 30\n",
    )
    .expect("parses");
    assert_eq!(free.tip_config, TipConfig::NoTip);
    assert!(serde_yaml::from_str::<RelaySettings>("tip_config: no_tip\nsurprise: 1\n").is_err());
}
