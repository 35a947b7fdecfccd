//! Kills the real `walrus chain run` process with SIGKILL while transactions stream in, restarts
//! it, and checks that every transaction that was acknowledged as final is still there.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use walrus_chain::{Call, Frost, TransactionData, TxDigest, TxStatus};
use walrus_chain_client::ChainClient;
use walrus_chain_node::init::read_ed25519;
use walrus_core::keys::Ed25519KeyPair;

const WALRUS: &str = env!("CARGO_BIN_EXE_walrus");
const USERS: u8 = 4;

fn walrus(args: &[&str]) {
    let status = Command::new(WALRUS).args(args).stdout(Stdio::null()).status().expect("walrus runs");
    assert!(status.success(), "walrus {args:?} failed");
}

/// Starts `walrus chain run` on a free loopback port; returns the process and its RPC URL.
fn spawn_chain(dir: &str) -> (Child, String) {
    let mut child = Command::new(WALRUS)
        .args(["chain", "run", "--dir", dir, "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("walrus chain run starts");
    let stderr = child.stderr.take().expect("piped");
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let line = lines.next().expect("chain run prints its address").expect("utf-8");
        if let Some(rest) = line.strip_prefix("chain RPC on ") {
            break rest.split_whitespace().next().expect("url").to_string();
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, url)
}

/// Streams transfers from `user` until the chain stops answering; records each one that was
/// acknowledged as final.
async fn stream(client: ChainClient, user: Ed25519KeyPair, acked: Arc<Mutex<Vec<TxDigest>>>) {
    let Ok(health) = client.health().await else { return };
    let Ok(account) = client.account(&user.address()).await else { return };
    let mut nonce = account.account.nonce;
    loop {
        let tx = TransactionData {
            chain_id: health.chain_id,
            sender: user.address(),
            nonce,
            fee: Frost(health.min_fee),
            call: Call::Transfer { to: Ed25519KeyPair::from_seed(&[99; 32]).address(), amount: Frost(1) },
        }
        .sign(&user);
        match client.submit(&tx).await {
            Ok(executed) => {
                assert_eq!(executed.effects.status, TxStatus::Success);
                acked.lock().expect("lock").push(executed.effects.digest);
                nonce += 1;
            }
            Err(_) => return,
        }
    }
}

#[test]
fn sigkill_loses_no_acknowledged_transaction() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("chain");
    let dir = dir.to_str().expect("utf-8 path");
    walrus(&["chain", "init", "--dir", dir, "--shards", "10", "--nodes", "2"]);
    let faucet = read_ed25519(&tmp.path().join("chain/faucet.key")).expect("faucet key");
    let users: Vec<Ed25519KeyPair> = (0..USERS).map(|i| Ed25519KeyPair::from_seed(&[i + 1; 32])).collect();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let acked = Arc::new(Mutex::new(Vec::new()));

    for round in 0..3u64 {
        let (mut child, url) = spawn_chain(dir);
        let client = ChainClient::new(&url);
        runtime.block_on(async {
            wait_healthy(&client).await;
            // Everything acknowledged before the last kill survived it.
            let survivors = acked.lock().expect("lock").clone();
            all_present(&client, &survivors).await;
            if round == 0 {
                for user in &users {
                    let transfer = Call::Transfer { to: user.address(), amount: Frost(1_000_000_000) };
                    client.execute(&faucet, transfer).await.expect("funding");
                }
            }
            let tasks: Vec<_> = users
                .iter()
                .map(|user| {
                    let user = Ed25519KeyPair::from_seed(&user.seed());
                    tokio::spawn(stream(client.clone(), user, Arc::clone(&acked)))
                })
                .collect();
            // Kill at a different moment each round, mid-stream.
            tokio::time::sleep(Duration::from_millis(400 + 270 * round)).await;
            child.kill().expect("SIGKILL");
            child.wait().expect("reaped");
            for task in tasks {
                task.await.expect("stream task");
            }
        });
    }
    let count = acked.lock().expect("lock").len();
    assert!(count > 30, "the streams got only {count} transactions through");
    eprintln!("{count} acknowledged transactions survived 3 SIGKILLs");

    let (mut child, url) = spawn_chain(dir);
    let client = ChainClient::new(&url);
    runtime.block_on(async {
        wait_healthy(&client).await;
        let survivors = acked.lock().expect("lock").clone();
        all_present(&client, &survivors).await;
    });
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
}

async fn all_present(client: &ChainClient, digests: &[TxDigest]) {
    for digest in digests {
        let found = client.transaction(digest).await;
        assert!(found.is_ok(), "acknowledged {digest} is gone: {found:?}");
    }
}

async fn wait_healthy(client: &ChainClient) {
    for _ in 0..100 {
        if client.health().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the chain did not come up at {}", client.base());
}
