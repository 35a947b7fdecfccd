//! The node store: data round trips and survives reopening; blob info follows chain events
//! into the reference's `BlobStatus`; garbage collection finds what may go.

use walrus_chain::{Event, EventCursor, EventEnvelope, TxDigest};
use walrus_core::encode::encode_blob;
use walrus_core::sliver::{parse_uploads, verify_uploads, VerifiedSliver};
use walrus_core::{BlobId, EncodingParams, Epoch, ObjectId, ShardIndex, SliverPairIndex, SliverType};
use walrus_store::{BlobStatus, DeletableCounts, NodeStore, SyncProgress};

const N: u16 = 10;

fn params() -> EncodingParams {
    EncodingParams::new(u64::from(N)).expect("valid")
}

#[test]
fn metadata_and_slivers_round_trip_and_survive_reopening() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let blob = encode_blob(params(), b"a blob for one storage node").expect("encodable");
    let blob_id = *blob.metadata().blob_id();
    let shards = [ShardIndex(2), ShardIndex(7)];
    {
        let store = NodeStore::open(tmp.path()).expect("open");
        store.put_metadata(blob.metadata()).expect("put metadata");
        let pairs: Vec<_> = shards
            .iter()
            .map(|shard| (*shard, blob.sliver_pair(blob_id.pair_for_shard(*shard, N))))
            .collect();
        let slivers: Vec<_> = pairs
            .iter()
            .flat_map(|(shard, (primary, secondary))| [(*shard, primary), (*shard, secondary)])
            .collect();
        store.put_slivers(&blob_id, &slivers).expect("put slivers");
    }
    let store = NodeStore::open(tmp.path()).expect("reopen");
    let metadata =
        store.metadata(&blob_id).expect("read").expect("stored").verify(params()).expect("verifies");
    assert_eq!(&metadata, blob.metadata());
    for shard in shards {
        let pair: SliverPairIndex = blob_id.pair_for_shard(shard, N);
        for axis in [SliverType::Primary, SliverType::Secondary] {
            assert!(store.has_sliver(shard, axis, &blob_id).expect("read"));
            let sliver = store.sliver(shard, axis, &blob_id).expect("read").expect("stored");
            let verified = sliver.verify(axis, &metadata).expect("verifies");
            assert_eq!(verified.index(), pair.to_sliver_index(axis, N));
        }
    }
    assert!(!store.has_sliver(ShardIndex(3), SliverType::Primary, &blob_id).expect("read"));
    assert_eq!(store.shards_with_slivers().expect("read"), shards);
    assert_eq!(store.drop_shard(ShardIndex(7)).expect("drop"), 2);
    assert_eq!(store.shards_with_slivers().expect("read"), [ShardIndex(2)]);
    assert!(!store.has_sliver(ShardIndex(7), SliverType::Primary, &blob_id).expect("read"));
    store.delete_blob_data(&blob_id, &shards).expect("delete");
    assert!(!store.has_metadata(&blob_id).expect("read"));
    assert!(store.sliver(ShardIndex(2), SliverType::Secondary, &blob_id).expect("read").is_none());
}

/// A shard sync's progress is kept per shard and axis and survives reopening (a node restarted
/// during a sync resumes there).
#[test]
fn sync_progress_survives_reopening() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let half = SyncProgress { epoch: Epoch(3), next: Some(BlobId([9; 32])) };
    let done = SyncProgress { epoch: Epoch(3), next: None };
    {
        let store = NodeStore::open(tmp.path()).expect("open");
        assert_eq!(store.sync_progress(ShardIndex(4), SliverType::Primary).expect("read"), None);
        store.set_sync_progress(ShardIndex(4), SliverType::Primary, &half).expect("write");
        store.set_sync_progress(ShardIndex(4), SliverType::Secondary, &done).expect("write");
    }
    let store = NodeStore::open(tmp.path()).expect("reopen");
    assert_eq!(store.sync_progress(ShardIndex(4), SliverType::Primary).expect("read"), Some(half));
    assert_eq!(store.sync_progress(ShardIndex(4), SliverType::Secondary).expect("read"), Some(done));
    assert_eq!(store.sync_progress(ShardIndex(5), SliverType::Primary).expect("read"), None);
}

/// The shards kept one epoch more survive reopening; the last record replaces the one before.
#[test]
fn retained_shards_survive_reopening() {
    let tmp = tempfile::tempdir().expect("tempdir");
    {
        let store = NodeStore::open(tmp.path()).expect("open");
        assert_eq!(store.retained_shards().expect("read"), None);
        store.set_retained_shards(Epoch(4), &[ShardIndex(1), ShardIndex(9)]).expect("write");
        store.set_retained_shards(Epoch(5), &[ShardIndex(3)]).expect("write");
    }
    let store = NodeStore::open(tmp.path()).expect("reopen");
    assert_eq!(store.retained_shards().expect("read"), Some((Epoch(5), vec![ShardIndex(3)])));
}

fn slivers_of(
    blob: &walrus_core::encode::EncodedBlob,
    shards: &[ShardIndex],
) -> Vec<(ShardIndex, VerifiedSliver)> {
    let blob_id = *blob.metadata().blob_id();
    shards
        .iter()
        .flat_map(|shard| {
            let (primary, secondary) = blob.sliver_pair(blob_id.pair_for_shard(*shard, N));
            [(*shard, primary), (*shard, secondary)]
        })
        .collect()
}

fn files_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).expect("read dir").count()
}

#[test]
fn slivers_verified_in_place_are_stored_from_their_batch_and_go_with_their_blob() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let blob = encode_blob(params(), &[9u8; 4000]).expect("encodable");
    let blob_id = *blob.metadata().blob_id();
    let uploads: Vec<_> = (0..N)
        .flat_map(|p| {
            [SliverType::Primary, SliverType::Secondary]
                .map(|axis| blob.sliver_upload(SliverPairIndex(p), axis))
        })
        .collect();
    let body = bcs::to_bytes(&uploads).expect("bcs");
    let entries = parse_uploads(&body).expect("parses");
    let verified = verify_uploads(blob.metadata(), &entries);
    let store = NodeStore::open(tmp.path()).expect("open");
    let stored: Vec<(ShardIndex, _)> = entries
        .iter()
        .zip(verified)
        .map(|(entry, verified)| (blob_id.shard_for_pair(entry.pair, N), verified.expect("verifies")))
        .collect();
    store.put_verified(&blob_id, &stored).expect("put");
    for (entry, (shard, _)) in entries.iter().zip(&stored) {
        assert_eq!(store.sliver_bcs(*shard, entry.axis, &blob_id).expect("read").as_deref(), Some(entry.bcs));
    }
    assert_eq!(files_under(&tmp.path().join("slivers")), 1, "one directory for the blob");
    let shards: Vec<ShardIndex> = (0..N).map(ShardIndex).collect();
    store.delete_blob_data(&blob_id, &shards).expect("delete");
    assert_eq!(files_under(&tmp.path().join("slivers")), 0, "the blob's files are gone");
    assert!(!store.has_sliver(ShardIndex(0), SliverType::Primary, &blob_id).expect("read"));
}

#[test]
fn a_sliver_whose_file_rotted_is_an_error_not_wrong_bytes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let blob = encode_blob(params(), b"bytes that will rot on disk").expect("encodable");
    let blob_id = *blob.metadata().blob_id();
    let store = NodeStore::open(tmp.path()).expect("open");
    let slivers = slivers_of(&blob, &[ShardIndex(4)]);
    let refs: Vec<_> = slivers.iter().map(|(shard, sliver)| (*shard, sliver)).collect();
    store.put_slivers(&blob_id, &refs).expect("put");
    let blob_dir =
        std::fs::read_dir(tmp.path().join("slivers")).expect("dir").next().expect("blob").expect("entry");
    let file = std::fs::read_dir(blob_dir.path()).expect("dir").next().expect("file").expect("entry").path();
    let mut bytes = std::fs::read(&file).expect("read");
    bytes[3] ^= 0x40;
    std::fs::write(&file, bytes).expect("write");
    let error = store.sliver(ShardIndex(4), SliverType::Primary, &blob_id).expect_err("rotted");
    assert!(error.to_string().contains("checksum"), "{error}");
}

#[test]
fn slivers_of_the_old_layout_move_to_files_when_the_store_opens() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let blob = encode_blob(params(), b"stored before sliver files").expect("encodable");
    let blob_id = *blob.metadata().blob_id();
    let slivers = slivers_of(&blob, &[ShardIndex(1), ShardIndex(8)]);
    {
        // The old layout: BCS slivers as values of the `slivers` keyspace.
        let db = fjall::Database::builder(tmp.path()).open().expect("db");
        let legacy = db.keyspace("slivers", fjall::KeyspaceCreateOptions::default).expect("keyspace");
        for (shard, sliver) in &slivers {
            let mut key = shard.0.to_be_bytes().to_vec();
            key.push(u8::from(sliver.axis() == SliverType::Secondary));
            key.extend_from_slice(blob_id.as_bytes());
            legacy.insert(key, sliver.to_bcs()).expect("insert");
        }
        db.persist(fjall::PersistMode::SyncAll).expect("persist");
    }
    let store = NodeStore::open(tmp.path()).expect("open migrates");
    for (shard, sliver) in &slivers {
        assert_eq!(store.sliver_bcs(*shard, sliver.axis(), &blob_id).expect("read"), Some(sliver.to_bcs()));
    }
    drop(store);
    let db = fjall::Database::builder(tmp.path()).open().expect("db");
    assert!(!db.keyspace_exists("slivers"), "the old keyspace is gone");
}

#[test]
fn object_records_without_a_version_are_tagged_when_the_store_opens() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let blob_id = BlobId([3; 32]);
    let info = walrus_store::ObjectInfo {
        blob_id,
        object_id: ObjectId([4; 32]),
        end_epoch: Epoch(9),
        deletable: true,
        certified_epoch: Some(Epoch(2)),
        deleted: false,
        registered_event: walrus_store::EventId { tx_digest: "5".into(), event_seq: "0".into() },
        certified_event: None,
    };
    {
        // The old layout: untagged BCS records in the `objects` keyspace.
        let db = fjall::Database::builder(tmp.path()).open().expect("db");
        let legacy = db.keyspace("objects", fjall::KeyspaceCreateOptions::default).expect("keyspace");
        let mut key = blob_id.as_bytes().to_vec();
        key.extend_from_slice(&info.object_id.0);
        legacy.insert(key, bcs::to_bytes(&info).expect("encodes")).expect("insert");
        db.persist(fjall::PersistMode::SyncAll).expect("persist");
    }
    let store = NodeStore::open(tmp.path()).expect("open migrates");
    assert_eq!(store.objects_of(&blob_id).expect("read"), vec![info]);
    drop(store);
    let db = fjall::Database::builder(tmp.path()).open().expect("db");
    assert!(!db.keyspace_exists("objects"), "the old keyspace is gone");
}

struct Events {
    height: u64,
    list: Vec<EventEnvelope>,
}

impl Events {
    fn push(&mut self, event: Event) -> &mut Self {
        self.height += 1;
        self.list.push(EventEnvelope {
            cursor: EventCursor { height: self.height, index: 0 },
            tx_digest: Some(TxDigest([self.height as u8; 32])),
            event,
        });
        self
    }
}

fn registered(blob_id: BlobId, object: u8, end: u32, deletable: bool) -> Event {
    Event::BlobRegistered {
        epoch: Epoch(1),
        blob_id,
        size: 10,
        encoding_type: 1,
        end_epoch: Epoch(end),
        deletable,
        object_id: ObjectId([object; 32]),
    }
}

fn certified(blob_id: BlobId, object: u8, end: u32, deletable: bool) -> Event {
    Event::BlobCertified {
        epoch: Epoch(1),
        blob_id,
        end_epoch: Epoch(end),
        deletable,
        object_id: ObjectId([object; 32]),
        is_extension: false,
    }
}

#[test]
fn blob_status_follows_the_events() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = NodeStore::open(tmp.path()).expect("open");
    let id = BlobId([5; 32]);
    let mut events = Events { height: 0, list: Vec::new() };
    assert_eq!(store.blob_status(&id, Epoch(1)).expect("status"), BlobStatus::Nonexistent);

    events.push(registered(id, 1, 5, false)).push(registered(id, 2, 3, true));
    store.apply_events(&events.list).expect("apply");
    let status = store.blob_status(&id, Epoch(1)).expect("status");
    let BlobStatus::Permanent { end_epoch, is_certified, deletable_counts, .. } = status else {
        panic!("permanent expected, got {status:?}")
    };
    assert_eq!((end_epoch, is_certified), (Epoch(5), false));
    assert_eq!(deletable_counts, DeletableCounts { count_deletable_total: 1, count_deletable_certified: 0 });

    // Applying the same events again changes nothing; new ones continue from the cursor.
    store.apply_events(&events.list).expect("idempotent");
    events.push(certified(id, 1, 5, false)).push(certified(id, 2, 3, true));
    store.apply_events(&events.list).expect("apply");
    let status = store.blob_status(&id, Epoch(1)).expect("status");
    let json = serde_json::to_value(&status).expect("JSON");
    assert_eq!(json["permanent"]["isCertified"], true);
    assert_eq!(json["permanent"]["endEpoch"], 5);
    assert_eq!(json["permanent"]["initialCertifiedEpoch"], 1);
    assert_eq!(json["permanent"]["deletableCounts"]["count_deletable_certified"], 1);
    assert_eq!(json["permanent"]["statusEvent"]["eventSeq"], "0");
    assert!(json["permanent"]["statusEvent"]["txDigest"].as_str().is_some_and(|d| !d.is_empty()));

    // Expiry needs no event: past the end epochs the blob is gone, and collectable.
    assert_eq!(store.blob_status(&id, Epoch(5)).expect("status"), BlobStatus::Nonexistent);
    assert_eq!(store.collectable_blobs(Epoch(5), 10).expect("gc"), vec![id]);
    assert!(store.collectable_blobs(Epoch(4), 10).expect("gc").is_empty());

    // Only deletable left, then deleted; registered and deleted within one page too.
    let other = BlobId([6; 32]);
    events
        .push(registered(other, 3, 9, true))
        .push(Event::BlobDeleted {
            epoch: Epoch(1),
            blob_id: other,
            end_epoch: Epoch(9),
            object_id: ObjectId([3; 32]),
            was_certified: false,
        })
        .push(registered(other, 4, 9, true));
    store.apply_events(&events.list).expect("apply");
    let status = store.blob_status(&other, Epoch(1)).expect("status");
    assert_eq!(
        status,
        BlobStatus::Deletable {
            initial_certified_epoch: None,
            deletable_counts: DeletableCounts { count_deletable_total: 1, count_deletable_certified: 0 }
        }
    );
    assert_eq!(serde_json::to_value(BlobStatus::Nonexistent).expect("JSON"), "nonexistent");

    // Invalid wins over everything, for good, and makes the data collectable.
    events.push(Event::InvalidBlobID { epoch: Epoch(1), blob_id: other });
    store.apply_events(&events.list).expect("apply");
    assert!(matches!(store.blob_status(&other, Epoch(1)).expect("status"), BlobStatus::Invalid { .. }));
    assert!(store.collectable_blobs(Epoch(1), 10).expect("gc").contains(&other));
    let seen = store.objects_of(&other).expect("objects");
    store.forget_objects(&other, &seen).expect("forget");
    assert!(!store.collectable_blobs(Epoch(1), 10).expect("gc").contains(&other));
    assert!(matches!(store.blob_status(&other, Epoch(1)).expect("status"), BlobStatus::Invalid { .. }));
    let cursor = store.event_cursor().expect("cursor").expect("set");
    assert_eq!(cursor.height, events.height);
}
