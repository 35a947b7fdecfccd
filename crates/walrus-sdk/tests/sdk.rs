//! The SDK against an in-process network (a chain and four storage nodes on loopback, n = 10):
//! store and read back, with nodes down up to the thresholds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use walrus_chain::objects::ObjectBody;
use walrus_chain::tx::CertificateArgs;
use walrus_chain::{Call, TxStatus};
use walrus_core::encode::encode_blob;
use walrus_core::keys::Ed25519KeyPair;
use walrus_core::messages::{Certificate, InvalidBlobIdMsg, ProtocolMessage, SignedMessage};
use walrus_core::EncodingParams;
use walrus_sdk::{BlobStoreResult, Client, Progress, ReadError, StoreOptions, StoreResult};
use walrus_testkit::{serve_liar, Net, N};

/// Stores `bytes` and expects a new blob.
async fn store_new(client: &Client, bytes: Vec<u8>, options: StoreOptions) -> StoreResult {
    match client.store(bytes, options).await.expect("stored") {
        BlobStoreResult::NewlyCreated(stored) => stored,
        other => panic!("expected a new blob, got {other:?}"),
    }
}

async fn funded_client(net: &Net, seed: u8) -> Client {
    let wallet = Ed25519KeyPair::from_seed(&[seed; 32]);
    net.chain_client.faucet(wallet.address(), 1_000_000_000_000).await.expect("funded");
    Client::new(&net.chain_url, wallet)
}

fn data(size: usize) -> Vec<u8> {
    (0..size as u64).map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 57) as u8).collect()
}

/// Byte ranges of the blob `blob_id` (`bytes`) read back right: one per row, the whole blob,
/// an empty one and one past the end. With `all_up`, each range is read from its rows alone
/// (the progress reports ask for no more); otherwise missing rows fall back to a full decode.
async fn assert_ranges_read(client: &Client, blob_id: &walrus_core::BlobId, bytes: &[u8], all_up: bool) {
    let needs = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&needs);
    let client = client.clone().with_progress(move |progress| {
        if let Progress::Slivers { need, .. } = progress {
            seen.lock().expect("lock").push(need);
        }
    });
    let blob = client.open(blob_id).await.expect("open");
    assert_eq!(blob.len(), bytes.len() as u64);
    let params = EncodingParams::new(u64::from(N)).expect("params");
    let length = bytes.len() as u64;
    let symbol = u64::from(params.symbol_size(length).expect("encodable"));
    let row = symbol * params.secondary_source_symbols() as u64;
    let within = |start: u64, end: u64| start.min(length).min(end)..end.min(length);
    let mut ranges: Vec<std::ops::Range<u64>> =
        (0..length.div_ceil(row)).map(|r| within(r * row + row / 3, r * row + row / 2 + 7)).collect();
    ranges.extend([0..length, length / 2..length / 2, within(row.saturating_sub(5), row + 5)]);
    for range in ranges {
        needs.lock().expect("lock").clear();
        let read = blob.read_range(range.clone()).await.expect("range read");
        assert!(read == bytes[range.start as usize..range.end as usize], "range {range:?} differs");
        if all_up {
            let rows = range.end.div_ceil(row) - range.start / row;
            let asked = needs.lock().expect("lock").iter().copied().max().unwrap_or(0) as u64;
            // No more than its rows. Fewer (none) when a slow node under load missed the hedge
            // deadline once, the blob was decoded whole, and later ranges are cut from that.
            assert!(asked <= rows, "range {range:?}: {asked} slivers sought, {rows} rows");
        }
    }
    let beyond = blob.read_range(length..length + 1).await;
    assert!(matches!(beyond, Err(ReadError::RangeOutsideBlob { .. })), "{beyond:?}");
    // Streamed in pieces of a row or two, from a point inside a row: the same bytes, in order.
    for (start, piece) in [(0, 1), (row / 2, row + 1)] {
        let start = start.min(length);
        let mut pieces = client.open(blob_id).await.expect("open").stream(start..length, piece);
        let mut streamed = Vec::new();
        while let Some(part) = pieces.recv().await {
            let part = part.expect("piece");
            assert!(!part.is_empty() && part.len() as u64 <= 2 * row, "a piece of {} bytes", part.len());
            streamed.extend_from_slice(&part);
        }
        assert!(
            streamed == bytes[start as usize..],
            "streamed from {start} in pieces of {piece}: bytes differ"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_and_read_back_every_size() {
    let net = Net::start(4).await;
    let client = funded_client(&net, 1).await;
    let params = EncodingParams::new(u64::from(N)).expect("params");
    let min_fee = net.chain_client.system().await.expect("system").system.params.min_fee.0;
    for size in [0, 1, 1 << 20] {
        let bytes = data(size);
        let address = client.wallet().address();
        let before = net.chain_client.account(&address).await.expect("account").account;
        let stored = store_new(&client, bytes.clone(), StoreOptions::default()).await;
        // `cost` is what the chain charged beside the fees of the store's transactions.
        let after = net.chain_client.account(&address).await.expect("account").account;
        let fees = (after.nonce - before.nonce) * min_fee;
        assert_eq!(before.balance.0 - after.balance.0, stored.cost + fees, "size {size}");
        assert!(stored.cost > 0, "size {size}: storage was bought");
        let expected = encode_blob(params, &bytes).expect("encodable");
        assert_eq!(&stored.blob_id, expected.metadata().blob_id(), "size {size}");
        assert_eq!(stored.unencoded_size, size as u64);
        assert!(stored.confirmed_shards * 3 > 2 * usize::from(N));
        let read = client.read(&stored.blob_id).await.expect("read");
        assert!(read == bytes, "size {size}: the bytes read back differ");
        assert_ranges_read(&client, &stored.blob_id, &bytes, true).await;
    }
    let permanent = StoreOptions { deletable: false, epochs_ahead: 2, ..StoreOptions::default() };
    let stored = store_new(&client, data(5_000), permanent).await;
    assert_eq!(client.read(&stored.blob_id).await.expect("read"), data(5_000));
    // Stored again: already certified for long enough, so nothing is written, for this
    // wallet and for another (the object is permanent); a longer period or `force` stores anew.
    for who in [&client, &funded_client(&net, 3).await] {
        let again =
            who.store(data(5_000), StoreOptions { epochs_ahead: 1, ..permanent }).await.expect("store");
        let BlobStoreResult::AlreadyCertified { blob_id, object_id, end_epoch } = again else {
            panic!("expected alreadyCertified, got {again:?}")
        };
        assert_eq!((blob_id, object_id, end_epoch.0), (stored.blob_id, stored.object_id, 2));
    }
    let longer = store_new(&client, data(5_000), StoreOptions { epochs_ahead: 3, ..permanent }).await;
    assert_ne!(longer.object_id, stored.object_id);
    store_new(&client, data(5_000), StoreOptions { force: true, ..permanent }).await;
    // Someone else's deletable object does not count: it may disappear.
    let deletable = store_new(&client, data(6_000), StoreOptions::default()).await;
    let other = funded_client(&net, 4).await;
    let theirs = store_new(&other, data(6_000), StoreOptions::default()).await;
    assert_eq!(theirs.blob_id, deletable.blob_id);
    let unknown = encode_blob(params, b"never stored").expect("encodable");
    let missing = client.read(unknown.metadata().blob_id()).await;
    assert!(matches!(missing, Err(ReadError::NotFound(_))), "{missing:?}");
    net.stop().await;
}

/// What the wallet owns is used before anything is bought: a blob it registered but never
/// certified, else its smallest fitting storage resource (split to size). Several blobs store
/// in one call, clones of a client store concurrently (their transactions take turns), and
/// progress reaches the callback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owned_resources_are_reused_and_many_blobs_store_at_once() {
    let net = Net::start(4).await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&events);
    let client = funded_client(&net, 5).await.with_progress(move |p| seen.lock().expect("lock").push(p));
    let params = EncodingParams::new(u64::from(N)).expect("params");
    let chain = client.chain().clone();
    let wallet = client.wallet();
    let created = |executed: walrus_chain_client::wire::ExecutedTx| executed.effects.created[0];

    // A registration left uncertified (an earlier attempt that failed) is completed.
    let blob = encode_blob(params, &data(3_000)).expect("encodable");
    let encoded = params.encoded_blob_length(3_000).expect("size");
    let storage = created(
        chain.execute(wallet, Call::ReserveSpace { size: encoded, epochs_ahead: 1 }).await.expect("reserve"),
    );
    let metadata = blob.metadata();
    let register = Call::RegisterBlob {
        storage,
        blob_id: *metadata.blob_id(),
        root_hash: metadata.metadata().compute_root_hash(),
        size: 3_000,
        encoding_type: 1,
        deletable: true,
    };
    let registered = created(chain.execute(wallet, register).await.expect("register"));
    let stored = store_new(&client, data(3_000), StoreOptions::default()).await;
    assert_eq!(stored.object_id, registered);

    // A larger resource is split: the blob takes what it needs, the rest stays the wallet's.
    let big = created(
        chain
            .execute(wallet, Call::ReserveSpace { size: 10 * encoded, epochs_ahead: 3 })
            .await
            .expect("reserve"),
    );
    let stored =
        store_new(&client, data(3_001), StoreOptions { epochs_ahead: 2, ..StoreOptions::default() }).await;
    let object = chain.object(&stored.object_id).await.expect("object");
    let wrapped = object.object.body.blob().expect("a blob").storage;
    assert_eq!(wrapped.id, big, "the owned resource was used");
    assert_eq!(wrapped.storage_size, params.encoded_blob_length(3_001).expect("size"));
    let rest = chain.owned_objects(&wallet.address()).await.expect("objects");
    assert!(rest.iter().any(|o| matches!(&o.object.body,
        ObjectBody::Storage(s) if s.storage_size == 10 * encoded - wrapped.storage_size)));

    // Three blobs in one call, and two clones storing at the same time.
    let many = client.store_many(vec![data(100), data(101), data(102)], StoreOptions::default()).await;
    assert_eq!(many.len(), 3);
    for (outcome, size) in many.into_iter().zip([100, 101, 102]) {
        let blob_id = *outcome.expect("stored").blob_id();
        assert_eq!(client.read(&blob_id).await.expect("read"), data(size));
    }
    let other = client.clone();
    let (a, b) = tokio::join!(
        client.store(data(200), StoreOptions::default()),
        other.store(data(201), StoreOptions::default())
    );
    a.expect("first concurrent store");
    b.expect("second concurrent store");

    let events = events.lock().expect("lock").clone();
    let certified = events.iter().filter(|p| matches!(p, Progress::Certified { .. })).count();
    assert_eq!(certified, 7, "every new blob reported its certification");
    assert!(events.iter().any(|p| matches!(p, Progress::Confirmed { confirmed, .. } if *confirmed > 0)));
    assert!(events.iter().any(|p| matches!(p, Progress::Slivers { have, need, .. } if have == need)));
    net.stop().await;
}

/// Five nodes of 2 shards each (f = 3): a store certifies with one node down (2 shards), and
/// a read returns the right bytes with three down (6 shards = 2f; the 4 left are n - 2f).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_and_reads_survive_nodes_down_up_to_the_thresholds() {
    let mut net = Net::start(5).await;
    let client = funded_client(&net, 2).await;
    assert!(net.nodes.iter().all(|n| n.node.view().shards.len() == 2));
    // Down during the store: the node that holds the blob's first row (primary sliver 0).
    let bytes = data(200_000);
    let params = EncodingParams::new(u64::from(N)).expect("params");
    let blob_id = *encode_blob(params, &bytes).expect("encodable").metadata().blob_id();
    let first_row_shard = blob_id.shard_for_pair(walrus_core::SliverPairIndex(0), N);
    let holder = net.nodes.iter().position(|n| n.node.view().shards.contains(&first_row_shard));
    net.nodes.remove(holder.expect("a holder")).run_until(async {}).await.expect("stops");
    let stored = store_new(&client, bytes.clone(), StoreOptions::default()).await;
    assert_eq!(stored.blob_id, blob_id);
    // With f shards or fewer down, a range's missing row is rebuilt from recovery symbols (not
    // by decoding the blob).
    let rebuilt = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&rebuilt);
    let watching = client.clone().with_progress(move |progress| {
        if let Progress::Recovered { slivers, .. } = progress {
            seen.fetch_add(slivers as u64, Ordering::Relaxed);
        }
    });
    let blob = watching.open(&blob_id).await.expect("open");
    let first_row = blob.read_range(10..blob.row_bytes() - 10).await.expect("range");
    assert!(first_row == bytes[10..blob.row_bytes() as usize - 10], "the rebuilt row's bytes differ");
    assert_eq!(rebuilt.load(Ordering::Relaxed), 1, "row 0 was not rebuilt from recovery symbols");
    for _ in 0..2 {
        net.nodes.remove(0).run_until(async {}).await.expect("stops");
    }
    let read = client.read(&stored.blob_id).await.expect("read with 2f shards down");
    assert!(read == bytes, "the bytes read back differ");
    assert_ranges_read(&client, &stored.blob_id, &bytes, false).await;
    net.nodes.remove(0).run_until(async {}).await.expect("stops");
    let read = client.read(&stored.blob_id).await;
    assert!(matches!(read, Err(ReadError::NotEnoughSlivers { have: 2, need: 4 })), "{read:?}");
    net.stop().await;
}

/// A committee member that lies (tampered metadata, corrupted slivers, confirmations under a
/// key that is not its own, uploads thrown away) neither breaks a store nor a read. It is the
/// first member, so the read asks it for metadata first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_node_breaks_neither_stores_nor_reads() {
    let params = EncodingParams::new(u64::from(N)).expect("params");
    let bytes = data(120_000);
    let blob = Arc::new(encode_blob(params, &bytes).expect("encodable"));
    let liar = Arc::new(Mutex::new(None));
    let chosen = Arc::clone(&liar);
    let net = Net::start_without(
        4,
        3_600_000,
        |_| {},
        move |committee, addresses| {
            let first = &committee.members[0];
            *chosen.lock().expect("lock") = Some((first.network_address.clone(), first.shards.clone()));
            vec![addresses
                .iter()
                .position(|a| format!("http://{a}") == first.network_address)
                .expect("a genesis node")]
        },
    )
    .await;
    let (address, shards) = liar.lock().expect("lock").clone().expect("chosen");
    let asked = Arc::new(AtomicU64::new(0));
    let task = tokio::spawn(serve_liar(address, Arc::clone(&blob), shards.clone(), Arc::clone(&asked)));
    let client = funded_client(&net, 5).await;
    let stored = store_new(&client, bytes.clone(), StoreOptions::default()).await;
    assert_eq!(&stored.blob_id, blob.metadata().blob_id());
    assert!(stored.confirmed_shards <= usize::from(N) - shards.len(), "the liar's confirmation was counted");
    let read = client.read(&stored.blob_id).await.expect("read despite the liar");
    assert!(read == bytes, "the bytes read back differ");
    assert_ranges_read(&client, &stored.blob_id, &bytes, false).await;
    assert!(asked.load(Ordering::Relaxed) >= 1, "the liar was never asked");
    task.abort();
    net.stop().await;
}

/// A blob ID marked invalid on chain is reported as `markedInvalid`, with the event that
/// marked it, and nothing is bought or written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_marked_invalid_is_reported_not_stored() {
    let net = Net::start(4).await;
    let client = funded_client(&net, 5).await;
    let params = EncodingParams::new(u64::from(N)).expect("params");
    let bytes = data(3_000);
    let blob_id = *encode_blob(params, &bytes).expect("encodable").metadata().blob_id();
    // Every node attests the blob invalid (as they would after an inconsistency proof).
    let committee = net.chain_client.committee().await.expect("committee");
    let message = ProtocolMessage::new(committee.epoch, InvalidBlobIdMsg(blob_id));
    let signed: Vec<(u16, SignedMessage)> = net
        .nodes
        .iter()
        .map(|running| {
            let key = running.node.bls.public();
            let member = committee.members.iter().position(|m| m.public_key == *key).expect("member");
            (member as u16, SignedMessage::sign(&running.node.bls, &message))
        })
        .collect();
    let certificate = Certificate::aggregate(signed).expect("aggregate");
    let certificate = CertificateArgs::from(certificate);
    let invalidated = net.chain_client.execute(&net.user, Call::InvalidateBlobId { certificate }).await;
    assert!(matches!(invalidated.expect("submitted").effects.status, TxStatus::Success), "invalidated");

    let before = net.chain_client.account(&client.wallet().address()).await.expect("account").account;
    let outcome = client.store(bytes, StoreOptions::default()).await.expect("store");
    let BlobStoreResult::MarkedInvalid { blob_id: reported, event } = &outcome else {
        panic!("expected markedInvalid, got {outcome:?}")
    };
    assert_eq!(*reported, blob_id);
    let event = event.as_ref().expect("the chain reports the invalidation event");
    assert!(matches!(event.event, walrus_chain::Event::InvalidBlobID { blob_id: id, .. } if id == blob_id));
    let json = outcome.to_json();
    assert_eq!(json["markedInvalid"]["blobId"], blob_id.to_string(), "{json}");
    assert_eq!(json["markedInvalid"]["event"]["eventSeq"], event.cursor.index.to_string(), "{json}");
    let after = net.chain_client.account(&client.wallet().address()).await.expect("account").account;
    assert_eq!(before, after, "nothing was bought or registered");
    net.stop().await;
}

/// A member that hangs (it accepts connections and never answers) is not waited for: metadata
/// comes from the next member after a short hedge, and the slivers it holds are sought
/// elsewhere once the others of a round have answered. Without that, each read would wait out
/// the request timeouts (10 s for metadata, 120 s for slivers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_node_costs_a_read_seconds_not_the_request_timeout() {
    let mut net = Net::start(4).await;
    let client = funded_client(&net, 3).await;
    let bytes = data(300_000);
    let stored = store_new(&client, bytes.clone(), StoreOptions::default()).await;
    // The member holding the first row hangs.
    let first_row_shard = stored.blob_id.shard_for_pair(walrus_core::SliverPairIndex(0), N);
    let holder = net.nodes.iter().position(|n| n.node.view().shards.contains(&first_row_shard));
    let holder = holder.expect("a holder");
    let address = net.nodes[holder].addr;
    net.nodes.remove(holder).run_until(async {}).await.expect("stops");
    let listener = tokio::net::TcpListener::bind(address).await.expect("the hung member's address");
    let hung = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let started = std::time::Instant::now();
    let read = client.read(&stored.blob_id).await.expect("read");
    assert!(read == bytes, "the bytes read back differ");
    let blob = client.open(&stored.blob_id).await.expect("open");
    let ranged = blob.read_range(0..bytes.len() as u64).await.expect("range");
    assert!(ranged == bytes, "the range read back differs");
    // Row by row: the first piece asks the hung member alone (no other answer to time it by);
    // later pieces of the stream do not ask it again.
    let mut pieces = client.open(&stored.blob_id).await.expect("open").stream(0..bytes.len() as u64, 1);
    let mut streamed = Vec::new();
    while let Some(piece) = pieces.recv().await {
        streamed.extend_from_slice(&piece.expect("piece"));
    }
    assert!(streamed == bytes, "the stream differs");
    // A liveness bound, far below the 120 s sliver timeout (about 10 s is expected here).
    let waited = started.elapsed();
    assert!(waited < std::time::Duration::from_secs(30), "the reads waited {waited:?} for the hung member");
    hung.abort();
    net.stop().await;
}
