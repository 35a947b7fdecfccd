//! The setup every gateway test shares: an in-process network (a chain and four storage
//! nodes, n = 10) and a daemon on it whose publisher pays with a funded wallet.

use walrus_core::keys::Ed25519KeyPair;
use walrus_gateway::{start, GatewayConfig, RunningGateway};
use walrus_sdk::Client;
use walrus_testkit::Net;

/// Starts the network and a daemon over it (configured by `configure`) paying with the wallet
/// of seed `[seed; 32]`; returns them and the publisher's client.
pub async fn daemon(seed: u8, configure: impl FnOnce(&mut GatewayConfig)) -> (Net, RunningGateway, Client) {
    let net = Net::start(4).await;
    let wallet = Ed25519KeyPair::from_seed(&[seed; 32]);
    net.chain_client.faucet(wallet.address(), 1_000_000_000_000).await.expect("funded");
    let writer = Client::new(&net.chain_url, wallet);
    let mut config = GatewayConfig::new("127.0.0.1:0".parse().expect("addr"));
    configure(&mut config);
    let gateway = start(config, &net.chain_url, Some(writer.clone())).await.expect("gateway");
    (net, gateway, writer)
}
