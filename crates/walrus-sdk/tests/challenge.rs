//! A read during a storage challenge (in-process network, four nodes, 40 s epochs, every blob
//! drawn): the nodes pause a drawn blob's slivers until the challenge's deadline and say for how
//! long (`Retry-After`); the SDK waits that out and reads the blob, instead of failing as soon
//! as every node has refused, and a client that does not wait is told when to come back.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use walrus_core::keys::Ed25519KeyPair;
use walrus_core::Epoch;
use walrus_sdk::{BlobStoreResult, Client, ReadError, StoreOptions};
use walrus_testkit::{eventually, Net};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_waits_out_the_challenge_of_its_blob() {
    let net = Net::start_challenged(4, 40_000, 4).await;
    let wallet = Ed25519KeyPair::from_seed(&[41; 32]);
    net.chain_client.faucet(wallet.address(), 1_000_000_000_000).await.expect("funded");
    let client = Client::new(&net.chain_url, wallet);
    let bytes: Vec<u8> = (0..20_000u32).map(|i| (i * 31 % 253) as u8).collect();
    let options = StoreOptions { epochs_ahead: 5, ..StoreOptions::default() };
    let BlobStoreResult::NewlyCreated(stored) = client.store(bytes.clone(), options).await.expect("stored")
    else {
        panic!("a new blob")
    };
    let blob_id = stored.blob_id;

    // Certified in epoch 0 (or 1 on a slow machine), it is drawn in the next epoch's challenge:
    // every certified blob is, at four per epoch.
    let drawn = eventually(140, || async {
        let system = net.chain_client.system().await.expect("system").system;
        let challenge = system.round.challenge.as_ref();
        system.epoch() > Epoch(0) && challenge.is_some_and(|c| c.blobs.iter().any(|b| b.blob_id == blob_id))
    });
    assert!(drawn.await, "the blob was drawn");
    let deadline_ms =
        net.chain_client.system().await.expect("system").system.round.challenge.expect("started").deadline_ms;
    // The nodes refuse its slivers now.
    let pair = net.pairs_of(0, &blob_id)[0];
    let (status, body) = net.get_json(0, &format!("/v1/blobs/{blob_id}/slivers/{}/primary", pair.0)).await;
    assert_eq!(status, 503, "{body}");
    // A client that does not wait (as the aggregator) is told when to come back.
    let impatient = client.clone().with_challenge_wait(Duration::ZERO);
    match impatient.read(&blob_id).await {
        Err(ReadError::ChallengePaused { retry_after, .. }) => assert!(retry_after >= Duration::from_secs(1)),
        other => panic!("expected ChallengePaused, got {other:?}"),
    }

    // A whole read, and a byte range in bounded memory (the path of `walrus read`), at once.
    let ranged = async {
        let open = client.open(&blob_id).await.expect("metadata is served").within_memory();
        open.read_range(1_000..5_000).await
    };
    let both =
        tokio::time::timeout(Duration::from_secs(150), async { tokio::join!(client.read(&blob_id), ranged) });
    let (whole, range) = both.await.expect("the reads end");
    assert_eq!(whole.expect("read back"), bytes);
    assert_eq!(range.expect("range read back"), bytes[1_000..5_000]);
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as u64;
    assert!(
        now_ms >= deadline_ms,
        "the read ended {} ms before the challenge's deadline",
        deadline_ms - now_ms
    );
    net.stop().await;
}
