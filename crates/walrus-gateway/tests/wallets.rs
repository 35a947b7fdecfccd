//! The publisher's wallets: stores at once from sub-wallets that the main wallet funds before
//! serving and refills, the blob objects ending with the main wallet; with `burn_after_store`,
//! burnt; with `share=true`, shared.

use std::time::Duration;

use walrus_chain::objects::Owner;
use walrus_core::keys::Ed25519KeyPair;
use walrus_gateway::wallets::SubWallets;
use walrus_gateway::{start, GatewayConfig};
use walrus_sdk::Client;
use walrus_testkit::Net;

/// PUTs `count` different blobs (from `first`) at once; the new blob objects' IDs.
async fn store_at_once(addr: std::net::SocketAddr, first: u8, count: u8) -> Vec<walrus_core::ObjectId> {
    let http = walrus_tls::http_client().build().expect("an HTTP client");
    let mut stores = tokio::task::JoinSet::new();
    for i in first..first + count {
        let request =
            http.put(format!("http://{addr}/v1/blobs?epochs=1")).body(vec![i; 10_000 + usize::from(i)]);
        stores.spawn(async move { request.send().await.expect("answer").json::<serde_json::Value>().await });
    }
    let mut objects = Vec::new();
    while let Some(answer) = stores.join_next().await {
        let answer = answer.expect("joined").expect("JSON");
        let id = answer["newlyCreated"]["blobObject"]["id"].as_str().unwrap_or_else(|| panic!("{answer}"));
        objects.push(id.parse().expect("an object ID"));
    }
    objects
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_run_from_sub_wallets_and_their_objects_go_to_the_main_wallet() {
    let net = Net::start(4).await;
    let main = Ed25519KeyPair::from_seed(&[61; 32]);
    net.chain_client.faucet(main.address(), 1_000_000_000_000).await.expect("funded");
    let subs: Vec<Client> =
        (0..3u8).map(|i| Client::new(&net.chain_url, Ed25519KeyPair::from_seed(&[70 + i; 32]))).collect();
    let mut config = GatewayConfig::new("127.0.0.1:0".parse().expect("addr"));
    let (refill_amount, min_balance) = (50_000_000_000, 10_000_000_000);
    let clients = subs.clone();
    config.sub_wallets =
        Some(SubWallets { clients, refill_interval: Duration::from_millis(200), refill_amount, min_balance });
    let params = walrus_core::EncodingParams::new(u64::from(net.n_shards)).expect("params");
    let blocked = *walrus_core::encode::compute_metadata(params, b"blocked").expect("metadata").blob_id();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("blocklist.yaml"), format!("- {blocked}\n")).expect("blocklist");
    config.blocklist = Some(walrus_sdk::Blocklist::load(dir.path().join("blocklist.yaml")).expect("loaded"));
    let gateway = start(config, &net.chain_url, Some(Client::new(&net.chain_url, main.clone()))).await;
    let gateway = gateway.expect("gateway");
    for sub in &subs {
        let account = net.chain_client.account(&sub.wallet().address()).await.expect("account").account;
        assert_eq!(account.balance.0, refill_amount, "funded before the first store");
    }
    let objects = store_at_once(gateway.addr, 0, 6).await;
    for object in &objects {
        let owner = net.chain_client.object(object).await.expect("object").object.owner;
        assert_eq!(owner, Owner::Address(main.address()), "the main wallet keeps the blob objects");
    }
    let mut used = 0;
    for sub in &subs {
        used += usize::from(
            net.chain_client.account(&sub.wallet().address()).await.expect("account").account.nonce > 0,
        );
    }
    assert!(used >= 2, "stores ran from several sub-wallets at once ({used})");
    let http = walrus_tls::http_client().build().expect("an HTTP client");
    let put = http.put(format!("http://{}/v1/blobs", gateway.addr)).body("blocked").send().await;
    assert_eq!(put.expect("answer").status().as_u16(), 451, "sub-wallets refuse the blocklist too");
    gateway.stop().await.expect("stops");

    let mut config = GatewayConfig::new("127.0.0.1:0".parse().expect("addr"));
    config.burn_after_store = true;
    let gateway = start(config, &net.chain_url, Some(Client::new(&net.chain_url, main.clone()))).await;
    let gateway = gateway.expect("gateway");
    let burnt = store_at_once(gateway.addr, 6, 1).await;
    assert!(net.chain_client.object(&burnt[0]).await.is_err(), "the blob object is burnt");
    let http = walrus_tls::http_client().build().expect("an HTTP client");
    let put = |query: &str| {
        http.put(format!("http://{}/v1/blobs?{query}", gateway.addr)).body("shared blob").send()
    };
    let refused = put("share=true").await.expect("answer");
    assert_eq!(refused.status().as_u16(), 400, "a deletable blob is not shared");
    let shared: serde_json::Value =
        put("permanent=true&share=true").await.expect("answer").json().await.expect("JSON");
    let created = &shared["newlyCreated"];
    assert_eq!(created["sharedBlobObject"], created["blobObject"]["id"], "{shared}");
    let id: walrus_core::ObjectId = created["blobObject"]["id"].as_str().expect("id").parse().expect("an ID");
    assert_eq!(net.chain_client.object(&id).await.expect("object").object.owner, Owner::Shared);
    gateway.stop().await.expect("stops");
    net.stop().await;
}
