//! Four validators as the binary runs them (commonware's tokio runtime, authenticated p2p on
//! 127.0.0.1 with real TCP connections, each on its own runtime and storage directory), with a
//! real genesis and signed transfers: transfers submitted to one validator reach the others by
//! gossip; with that validator stopped, the other three execute every transfer once and agree
//! on the state digest at every height they share.

use crate::common;

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{genesis, transfers, users, USERS};
use commonware_cryptography::ed25519::PrivateKey;
use commonware_cryptography::Signer as _;
use walrus_chain::TxStatus;
use walrus_consensus::{HostConfig, Parameters, RunningHost};

const N: u64 = 4;
/// Transfers each user sends.
const TRANSFERS: u64 = 6;
/// How long the validators get to execute every transfer (real time).
const DEADLINE: Duration = Duration::from_secs(60);

/// `count` ports free on 127.0.0.1 right now.
fn free_ports(count: usize) -> Vec<SocketAddr> {
    let listeners: Vec<TcpListener> =
        (0..count).map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port")).collect();
    listeners.iter().map(|l| l.local_addr().expect("bound")).collect()
}

#[test]
fn transactions_gossip_and_three_of_four_validators_over_tcp_finalize_and_agree() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // The last user only warms the network up.
    let all = users(USERS + 1);
    let (users, warm_up) = all.split_at(usize::from(USERS));
    let warm_up = &warm_up[0];
    let now_ms = u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_millis())
        .expect("fits");
    let genesis = genesis(&all, now_ms);
    let keys: Vec<PrivateKey> = (0..N).map(|i| PrivateKey::from_seed(1_000 + i)).collect();
    let addresses = free_ports(keys.len());
    let validators: Vec<_> = keys.iter().map(|k| k.public_key()).zip(addresses.iter().copied()).collect();
    let hosts: Vec<RunningHost> = keys
        .iter()
        .zip(&addresses)
        .enumerate()
        .map(|(i, (key, addr))| {
            walrus_consensus::spawn(HostConfig {
                signer: key.clone(),
                validators: validators.clone(),
                listen: *addr,
                storage_dir: tmp.path().join(format!("validator-{i}")),
                genesis: genesis.clone(),
                store: None,
                parameters: Parameters::default(),
                worker_threads: 1,
            })
            .expect("validator starts")
        })
        .collect();

    // Connected: a transfer submitted to each validator in turn is executed by all (an idle
    // chain makes no blocks). Gossip is best effort, and a message to a peer not yet connected
    // is dropped; a transfer that was not passed on waits for its validator's turn to lead.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a runtime");
    for (nonce, host) in hosts.iter().enumerate() {
        let to = users[0].address();
        let call = walrus_chain::Call::Transfer { to, amount: walrus_chain::Frost(1) };
        let data = walrus_chain::TransactionData {
            chain_id: genesis.digest(),
            sender: warm_up.address(),
            nonce: nonce as u64,
            fee: walrus_chain::Frost(1_000),
            call,
        };
        let tx = data.sign(warm_up);
        let waiting: Vec<_> =
            hosts.iter().map(|h| h.executor.wait_for_transaction(tx.data.digest())).collect();
        host.gossip.submit(tx).expect("admitted");
        runtime.block_on(async {
            for receiver in waiting {
                let executed = tokio::time::timeout(DEADLINE, receiver).await;
                assert!(executed.expect("progress within the deadline").is_ok(), "the executor runs");
            }
        });
    }

    // Every transfer but each user's first goes to validator 0 alone. None can be proposed yet
    // (each user's nonce 0 is missing), so they wait in the mempools: in the others' only if
    // gossip carried them there.
    let txs = transfers(&genesis, users, 0..TRANSFERS);
    let (first, rest): (Vec<_>, Vec<_>) = txs.iter().partition(|tx| tx.data.nonce == 0);
    for tx in &rest {
        hosts[0].gossip.submit((*tx).clone()).expect("admitted");
    }
    let gossiped = |host: &RunningHost| rest.iter().all(|tx| host.mempool.contains(&tx.data.digest()));
    let started = Instant::now();
    while !hosts[1..].iter().all(gossiped) {
        assert!(started.elapsed() < DEADLINE, "gossip did not reach every validator");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Validator 0 stops; the other three (2f + 1) execute everything once the first transfers
    // arrive, through validator 1.
    let mut hosts = hosts;
    hosts.remove(0).stop();
    let waiting: Vec<Vec<_>> = txs
        .iter()
        .map(|tx| hosts.iter().map(|h| h.executor.wait_for_transaction(tx.data.digest())).collect())
        .collect();
    for tx in first {
        hosts[0].gossip.submit(tx.clone()).expect("admitted");
    }
    runtime.block_on(async {
        for receivers in waiting {
            for receiver in receivers {
                let (height, effects) = tokio::time::timeout(DEADLINE, receiver)
                    .await
                    .expect("executed within the deadline")
                    .expect("the executor runs");
                assert!(height >= 1);
                assert_eq!(effects.status, TxStatus::Success);
            }
        }
    });
    let common = hosts.iter().map(|h| h.executor.head().height).min().expect("hosts");
    assert!(common >= 1);
    for height in 1..=common {
        let digests: Vec<_> = hosts.iter().map(|h| h.executor.state_digest_at(height)).collect();
        assert!(digests.iter().all(|d| d.is_some() && *d == digests[0]), "height {height}: {digests:?}");
    }
    for host in hosts {
        host.stop();
    }
}
