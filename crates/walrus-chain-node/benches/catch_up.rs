//! How long a restarted validator takes to catch up: four chain nodes in this process
//! (commonware consensus over TCP on loopback, fjall stores with synced blocks), validator 3
//! stopped, `CATCH_UP_BLOCKS` blocks (default 10 000) finalized by the other three under a
//! stream of transfers from eight clients, then validator 3 started again on its store; the
//! figure is the time from its start until it has executed the others' height, and the blocks
//! per second that makes. Marshal backfills the blocks it missed from its peers, and the
//! executor applies each once.
//!
//! `cargo bench -p walrus-chain-node --bench catch_up`; results in docs/benchmarks.md.

use std::time::{Duration, Instant};

use walrus_chain::{Call, Frost, TransactionData};
use walrus_chain_client::ChainClient;
use walrus_chain_node::init::{init_dir, read_ed25519, ChainDir, InitSpec};
use walrus_chain_node::{start, NodeConfig, RunningNode};
use walrus_core::keys::Ed25519KeyPair;

const VALIDATORS: usize = 4;
const CLIENTS: usize = 8;
/// The validator stopped and started again.
const LATE: usize = 3;

fn free_ports(count: usize) -> Vec<String> {
    let listeners: Vec<_> =
        (0..count).map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port")).collect();
    listeners.iter().map(|l| l.local_addr().expect("bound").to_string()).collect()
}

async fn start_validator(dir: &ChainDir, validator: usize) -> RunningNode {
    let faucet = read_ed25519(&dir.faucet_key()).expect("faucet key");
    let config = NodeConfig {
        dir: dir.clone(),
        validator,
        listen: "127.0.0.1:0".parse().expect("addr"),
        faucet: Some(faucet).filter(|_| validator == 0),
        server: Default::default(),
    };
    start(config).await.expect("node")
}

/// Transfers from `key` one after the other until `stop`, through `client`.
async fn transfers(client: ChainClient, key: Ed25519KeyPair, stop: tokio::sync::watch::Receiver<bool>) {
    let chain_id = client.health().await.expect("health").chain_id;
    let mut nonce = client.account(&key.address()).await.expect("account").account.nonce;
    let to = Ed25519KeyPair::from_seed(&[99; 32]).address();
    while !*stop.borrow() {
        let call = Call::Transfer { to, amount: Frost(1) };
        let tx =
            TransactionData { chain_id, sender: key.address(), nonce, fee: Frost(1_000), call }.sign(&key);
        client.submit(&tx).await.expect("submitted");
        nonce += 1;
    }
}

fn main() {
    let blocks: u64 = std::env::var("CATCH_UP_BLOCKS").ok().and_then(|b| b.parse().ok()).unwrap_or(10_000);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = ChainDir(tmp.path().to_path_buf());
        let addresses = (0..4).map(|i| format!("127.0.0.1:{}", 19200 + i)).collect();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock");
        let mut spec = InitSpec::localnet(100, addresses, 3_600_000, now.as_millis() as u64);
        spec.validator_addresses = free_ports(VALIDATORS);
        init_dir(&dir, &spec).expect("init");
        let mut nodes = Vec::new();
        for validator in 0..VALIDATORS {
            nodes.push(Some(start_validator(&dir, validator).await));
        }
        let clients: Vec<ChainClient> = nodes
            .iter()
            .map(|node| ChainClient::new(&format!("http://{}", node.as_ref().expect("running").addr)))
            .collect();
        let client = |i: usize| clients[i].clone();
        let users: Vec<_> = (0..CLIENTS).map(|i| Ed25519KeyPair::from_seed(&[i as u8 + 1; 32])).collect();
        for user in &users {
            client(0).faucet(user.address(), 1_000 * walrus_chain::amount::FROST_PER_WAL).await.expect("funded");
        }
        let stopped_at = nodes[LATE].as_ref().expect("running").chain.head().borrow().0;
        nodes[LATE].take().expect("running").run_until(async {}).await.expect("clean stop");

        // The others finalize `blocks` blocks meanwhile.
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let load: Vec<_> = users
            .iter()
            .enumerate()
            .map(|(i, user)| tokio::spawn(transfers(client(i % LATE), user.clone(), stopping.clone())))
            .collect();
        let generating = Instant::now();
        let mut head = nodes[0].as_ref().expect("running").chain.head();
        let target = stopped_at + blocks;
        head.wait_for(|(height, _)| *height >= target).await.expect("the chain goes on");
        stop.send_replace(true);
        for task in load {
            task.await.expect("client");
        }
        let generated = generating.elapsed();
        let target = nodes[0].as_ref().expect("running").chain.head().borrow().0;
        eprintln!(
            "{} blocks finalized by three validators in {generated:.1?} ({:.0} blocks/s)",
            target - stopped_at,
            (target - stopped_at) as f64 / generated.as_secs_f64()
        );

        // Validator 3 starts again on its store and catches up.
        let restarting = Instant::now();
        let late = start_validator(&dir, LATE).await;
        let opened = restarting.elapsed();
        let mut late_head = late.chain.head();
        tokio::time::timeout(Duration::from_secs(3_600), late_head.wait_for(|(height, _)| *height >= target))
            .await
            .expect("caught up within an hour")
            .expect("the validator runs");
        let caught_up = restarting.elapsed();
        let behind = target - stopped_at;
        eprintln!(
            "catch-up of {behind} blocks: {caught_up:.2?} from the restart (store opened in {opened:.2?}), {:.0} blocks/s",
            behind as f64 / caught_up.as_secs_f64()
        );
        late.run_until(async {}).await.expect("clean stop");
        for node in nodes.into_iter().flatten() {
            node.run_until(async {}).await.expect("clean stop");
        }
    });
}
