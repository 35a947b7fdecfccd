//! A storage node's embedded database (fjall): blob metadata, slivers per shard, the node's view
//! of the chain's blob objects, and the event cursor.
//!
//! Only verified data goes in ([`VerifiedBlobMetadataWithId`], [`VerifiedSliver`],
//! [`VerifiedSliverRef`]); what comes out is unverified again, for the caller to check before
//! serving (a disk can rot). Writes of uploaded data are synced before they return, so an
//! acknowledged sliver survives `kill -9` and power loss. Sliver bytes live in files of their
//! own (module `sliver_files`), written once; the database holds where each one is.
//! Blob info is derived from chain events and may be re-derived: it is written with its cursor
//! in one atomic batch, and applying an event twice changes nothing.
//!
//! Keyspaces:
//!
//! | keyspace | key | value |
//! |---|---|---|
//! | `metadata` | blob ID | BCS `UnverifiedBlobMetadataWithId` |
//! | `sliver_locations` | shard (u16 BE) · axis (0 primary, 1 secondary) · blob ID | version 1 · file, offset, length and xxh3 of the BCS sliver (28 bytes without the version: written before versions) |
//! | `blob_objects` | blob ID · object ID | version 1 · BCS [`ObjectInfo`] (the unversioned `objects` keyspace is migrated on open) |
//! | `invalid` | blob ID | BCS [`EventId`] of the invalidation |
//! | `meta` | `event_cursor` | BCS `EventCursor` |
//! | `meta` | `follower_position` | the event follower's position (the node's BCS) |
//! | `meta` | `sync/` · shard (u16 BE) · axis | BCS [`SyncProgress`] of the shard's pull |

mod blob_info;
mod sliver_files;

use std::collections::BTreeMap;
use std::path::Path;

use fjall::{CompressionType, Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use walrus_chain::{EventCursor, EventEnvelope};
use walrus_core::metadata::{UnverifiedBlobMetadataWithId, VerifiedBlobMetadataWithId};
use walrus_core::sliver::{UnverifiedSliver, VerifiedSliver, VerifiedSliverRef};
use walrus_core::{BlobId, Epoch, ShardIndex, SliverType};

pub use blob_info::{status as status_of, BlobStatus, DeletableCounts, ObjectInfo};
use sliver_files::{Location, SliverFiles};
pub use walrus_chain::EventId;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed (disk full, I/O error, ...).
    #[error("node store: {0}")]
    Db(#[from] fjall::Error),
    /// A sliver file failed (disk full, I/O error, bytes that fail their checksum, ...).
    #[error("node store: sliver file: {0}")]
    Io(#[from] std::io::Error),
    /// Stored bytes do not decode.
    #[error("node store: corrupt {what} record")]
    Corrupt {
        /// Which record.
        what: &'static str,
    },
}

/// The node's database.
pub struct NodeStore {
    db: Database,
    metadata: Keyspace,
    slivers: Keyspace,
    files: SliverFiles,
    objects: Keyspace,
    invalid: Keyspace,
    meta: Keyspace,
}

const EVENT_CURSOR_KEY: &[u8] = b"event_cursor";
const FOLLOWER_POSITION_KEY: &[u8] = b"follower_position";
/// The keyspace that held sliver bytes before they moved to files; migrated on open.
const LEGACY_SLIVERS: &str = "slivers";
/// Sliver bytes migrated per batch (bounds the memory a migration takes).
const MIGRATION_BATCH_BYTES: usize = 64 << 20;
/// The keyspace that held object records without a version tag; migrated on open.
const LEGACY_OBJECTS: &str = "objects";
/// Object records migrated per batch.
const MIGRATION_BATCH_RECORDS: usize = 10_000;
/// The format version of an object record, its first byte.
const OBJECT_RECORD_VERSION: u8 = 1;

fn encode_object(info: &ObjectInfo) -> Vec<u8> {
    let mut out = vec![OBJECT_RECORD_VERSION];
    out.extend(encode(info));
    out
}

fn decode_object(bytes: &[u8]) -> Result<ObjectInfo, StoreError> {
    match bytes.split_first() {
        Some((&OBJECT_RECORD_VERSION, rest)) => decode("object info", rest),
        _ => Err(StoreError::Corrupt { what: "object info (unknown version)" }),
    }
}

fn decode<T: serde::de::DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    bcs::from_bytes(bytes).map_err(|_| StoreError::Corrupt { what })
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    bcs::to_bytes(value).expect("stored types are plain BCS")
}

/// One blob's slivers to write: their bytes and their index keys, in the same order.
type BlobPieces<'a> = (Vec<&'a [u8]>, Vec<Vec<u8>>);

/// How far a shard sync pulled one axis of a shard, for the epoch it pulled it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SyncProgress {
    /// The epoch in which the shard was gained (progress of an earlier one does not count).
    pub epoch: Epoch,
    /// The blob ID to ask from next; `None` once the pull ended.
    pub next: Option<BlobId>,
}

/// The `meta` key of [`NodeStore::retained_shards`].
const RETAINED_KEY: &[u8] = b"retained";

fn sync_progress_key(shard: ShardIndex, axis: SliverType) -> Vec<u8> {
    let mut key = b"sync/".to_vec();
    key.extend_from_slice(&shard.0.to_be_bytes());
    key.push(axis_byte(axis));
    key
}

fn axis_byte(axis: SliverType) -> u8 {
    match axis {
        SliverType::Primary => 0,
        SliverType::Secondary => 1,
    }
}

fn sliver_key(shard: ShardIndex, axis: SliverType, blob_id: &BlobId) -> [u8; 35] {
    let mut key = [0u8; 35];
    key[..2].copy_from_slice(&shard.0.to_be_bytes());
    key[2] = axis_byte(axis);
    key[3..].copy_from_slice(blob_id.as_bytes());
    key
}

impl NodeStore {
    /// Opens (or creates) the store in `dir`: the database, and sliver files in `dir/slivers`.
    pub fn open(dir: &Path) -> Result<NodeStore, StoreError> {
        // Journal entries are small now that slivers live in files; compressing them buys
        // nothing.
        let db = Database::builder(dir).journal_compression(CompressionType::None).open()?;
        let plain = |name: &str| db.keyspace(name, KeyspaceCreateOptions::default);
        let store = NodeStore {
            metadata: plain("metadata")?,
            slivers: plain("sliver_locations")?,
            files: SliverFiles::open(dir.join("slivers"))?,
            objects: plain("blob_objects")?,
            invalid: plain("invalid")?,
            meta: plain("meta")?,
            db,
        };
        store.migrate_legacy_slivers()?;
        store.migrate_legacy_objects()?;
        Ok(store)
    }

    /// Moves object records written without a version tag into `blob_objects`, tagged, a
    /// bounded batch at a time (each batch atomic, so an interrupted migration resumes).
    fn migrate_legacy_objects(&self) -> Result<(), StoreError> {
        if !self.db.keyspace_exists(LEGACY_OBJECTS) {
            return Ok(());
        }
        let legacy = self.db.keyspace(LEGACY_OBJECTS, KeyspaceCreateOptions::default)?;
        loop {
            let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
            let mut moved = 0;
            for guard in legacy.iter().take(MIGRATION_BATCH_RECORDS) {
                let (key, value) = guard.into_inner()?;
                let info: ObjectInfo = decode("legacy object info", &value)?;
                batch.insert(&self.objects, key.as_ref(), encode_object(&info));
                batch.remove(&legacy, key.as_ref());
                moved += 1;
            }
            if moved == 0 {
                break;
            }
            batch.commit()?;
        }
        self.db.delete_keyspace(legacy)?;
        Ok(())
    }

    /// Moves slivers from the keyspace that held their bytes (stores written before sliver
    /// files) into files, a bounded batch at a time; each batch is written, then indexed and
    /// removed from the old keyspace atomically, so an interrupted migration resumes.
    fn migrate_legacy_slivers(&self) -> Result<(), StoreError> {
        if !self.db.keyspace_exists(LEGACY_SLIVERS) {
            return Ok(());
        }
        let legacy = self.db.keyspace(LEGACY_SLIVERS, KeyspaceCreateOptions::default)?;
        loop {
            let mut by_blob: BTreeMap<BlobId, Vec<(Vec<u8>, fjall::Slice)>> = BTreeMap::new();
            let mut bytes = 0;
            for guard in legacy.iter() {
                let (key, value) = guard.into_inner()?;
                let blob_id = key.get(3..).and_then(|id| <[u8; 32]>::try_from(id).ok());
                let Some(blob_id) = blob_id.map(BlobId) else {
                    return Err(StoreError::Corrupt { what: "sliver key" });
                };
                bytes += value.len();
                by_blob.entry(blob_id).or_default().push((key.to_vec(), value));
                if bytes >= MIGRATION_BATCH_BYTES {
                    break;
                }
            }
            if by_blob.is_empty() {
                break;
            }
            let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
            for (blob_id, entries) in &by_blob {
                let pieces: Vec<&[u8]> = entries.iter().map(|(_, value)| value.as_ref()).collect();
                let locations = self.files.write(blob_id, &pieces)?;
                for ((key, _), location) in entries.iter().zip(locations) {
                    batch.insert(&self.slivers, key.as_slice(), location.to_bytes().as_slice());
                    batch.remove(&legacy, key.as_slice());
                }
            }
            batch.commit()?;
        }
        self.db.delete_keyspace(legacy)?;
        Ok(())
    }

    /// Stores verified metadata; durable on return.
    pub fn put_metadata(&self, metadata: &VerifiedBlobMetadataWithId) -> Result<(), StoreError> {
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        batch.insert(&self.metadata, metadata.blob_id().as_bytes().as_slice(), metadata.to_bcs());
        batch.commit()?;
        Ok(())
    }

    /// The stored metadata of `blob_id`, to be verified again before use.
    pub fn metadata(&self, blob_id: &BlobId) -> Result<Option<UnverifiedBlobMetadataWithId>, StoreError> {
        self.metadata.get(blob_id.as_bytes())?.map(|bytes| decode("metadata", &bytes)).transpose()
    }

    /// Whether metadata of `blob_id` is stored.
    pub fn has_metadata(&self, blob_id: &BlobId) -> Result<bool, StoreError> {
        Ok(self.metadata.contains_key(blob_id.as_bytes())?)
    }

    /// Stores verified slivers of one blob, each with the shard that holds it, in one synced
    /// batch: all of them are durable on return, or none is stored.
    pub fn put_slivers(
        &self,
        blob_id: &BlobId,
        slivers: &[(ShardIndex, &VerifiedSliver)],
    ) -> Result<(), StoreError> {
        let bcs: Vec<Vec<u8>> = slivers.iter().map(|(_, sliver)| sliver.to_bcs()).collect();
        let entries: Vec<(ShardIndex, SliverType, &[u8])> = slivers
            .iter()
            .zip(&bcs)
            .map(|((shard, sliver), bytes)| (*shard, sliver.axis(), bytes.as_slice()))
            .collect();
        self.put_sliver_bytes(blob_id, &entries)
    }

    /// [`NodeStore::put_slivers`] for slivers verified where they arrived: their bytes are
    /// written from there, without a copy.
    pub fn put_verified(
        &self,
        blob_id: &BlobId,
        slivers: &[(ShardIndex, VerifiedSliverRef<'_>)],
    ) -> Result<(), StoreError> {
        let entries: Vec<(ShardIndex, SliverType, &[u8])> =
            slivers.iter().map(|(shard, sliver)| (*shard, sliver.axis(), sliver.bcs())).collect();
        self.put_sliver_bytes(blob_id, &entries)
    }

    /// Slivers of many blobs at once (a page of shard sync): written to one new file per blob,
    /// made durable together, then indexed in one synced batch.
    pub fn put_many(&self, slivers: &[(BlobId, ShardIndex, &VerifiedSliver)]) -> Result<(), StoreError> {
        let bcs: Vec<Vec<u8>> = slivers.iter().map(|(_, _, sliver)| sliver.to_bcs()).collect();
        // Per blob, its slivers' bytes and index keys, in the same order.
        let mut by_blob: BTreeMap<BlobId, BlobPieces<'_>> = BTreeMap::new();
        for ((blob_id, shard, sliver), bytes) in slivers.iter().zip(&bcs) {
            let (pieces, keys) = by_blob.entry(*blob_id).or_default();
            pieces.push(bytes);
            keys.push(sliver_key(*shard, sliver.axis(), blob_id).to_vec());
        }
        let (batches, keys): (Vec<_>, Vec<_>) =
            by_blob.into_iter().map(|(blob_id, (pieces, keys))| ((blob_id, pieces), keys)).unzip();
        let locations = self.files.write_many(&batches)?;
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        for (key, location) in keys.iter().flatten().zip(locations.into_iter().flatten()) {
            batch.insert(&self.slivers, key.as_slice(), location.to_bytes().as_slice());
        }
        batch.commit()?;
        Ok(())
    }

    fn put_sliver_bytes(
        &self,
        blob_id: &BlobId,
        entries: &[(ShardIndex, SliverType, &[u8])],
    ) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let pieces: Vec<&[u8]> = entries.iter().map(|(_, _, bytes)| *bytes).collect();
        let locations = self.files.write(blob_id, &pieces)?;
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        for ((shard, axis, _), location) in entries.iter().zip(locations) {
            batch.insert(
                &self.slivers,
                sliver_key(*shard, *axis, blob_id).as_slice(),
                location.to_bytes().as_slice(),
            );
        }
        batch.commit()?;
        Ok(())
    }

    /// A stored sliver, to be verified again before it is served.
    pub fn sliver(
        &self,
        shard: ShardIndex,
        axis: SliverType,
        blob_id: &BlobId,
    ) -> Result<Option<UnverifiedSliver>, StoreError> {
        self.sliver_bcs(shard, axis, blob_id)?.map(|bytes| decode("sliver", &bytes)).transpose()
    }

    /// A stored sliver's BCS bytes, as they were verified on write (checked against their
    /// checksum, not against the metadata).
    pub fn sliver_bcs(
        &self,
        shard: ShardIndex,
        axis: SliverType,
        blob_id: &BlobId,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(value) = self.slivers.get(sliver_key(shard, axis, blob_id))? else { return Ok(None) };
        let location = Location::from_bytes(&value).ok_or(StoreError::Corrupt { what: "sliver location" })?;
        Ok(self.files.read(blob_id, location)?)
    }

    /// The length of the first sliver [`NodeStore::shard_slivers`] would return, if any (an
    /// answer is at most this or its `bytes_max`, whichever is larger).
    pub fn first_shard_sliver_len(
        &self,
        shard: ShardIndex,
        axis: SliverType,
        from: &BlobId,
    ) -> Result<Option<u64>, StoreError> {
        let start = sliver_key(shard, axis, from).to_vec();
        let end = sliver_key(shard, axis, &BlobId([0xff; 32])).to_vec();
        let Some(guard) = self.slivers.range(start..=end).next() else { return Ok(None) };
        let (_, value) = guard.into_inner()?;
        let location = Location::from_bytes(&value).ok_or(StoreError::Corrupt { what: "sliver location" })?;
        Ok(Some(u64::from(location.len)))
    }

    /// The stored slivers of `shard` and `axis` from `from` on (inclusive), in blob-ID order, as
    /// their BCS bytes (checked against their checksums): at most `limit` of them and at most
    /// `bytes_max` bytes, except that the first sliver always comes. What a shard sync serves.
    pub fn shard_slivers(
        &self,
        shard: ShardIndex,
        axis: SliverType,
        from: &BlobId,
        limit: usize,
        bytes_max: usize,
    ) -> Result<Vec<(BlobId, Vec<u8>)>, StoreError> {
        let start = sliver_key(shard, axis, from).to_vec();
        let end = sliver_key(shard, axis, &BlobId([0xff; 32])).to_vec();
        let mut out = Vec::new();
        let mut bytes = 0;
        for guard in self.slivers.range(start..=end) {
            if out.len() >= limit {
                break;
            }
            let (key, value) = guard.into_inner()?;
            let blob_id =
                BlobId(key[3..].try_into().map_err(|_| StoreError::Corrupt { what: "sliver key" })?);
            let location =
                Location::from_bytes(&value).ok_or(StoreError::Corrupt { what: "sliver location" })?;
            if !out.is_empty() && bytes + location.len as usize > bytes_max {
                break;
            }
            // An index entry whose file is gone (collected meanwhile) is passed over.
            let Some(sliver) = self.files.read(&blob_id, location)? else { continue };
            bytes += sliver.len();
            out.push((blob_id, sliver));
        }
        Ok(out)
    }

    /// Whether a sliver is stored: indexed, and its file on disk. A sliver whose file went
    /// missing (lost by the disk, or removed by hand) counts as not stored, so that the node
    /// takes it again and never confirms it.
    pub fn has_sliver(
        &self,
        shard: ShardIndex,
        axis: SliverType,
        blob_id: &BlobId,
    ) -> Result<bool, StoreError> {
        let Some(value) = self.slivers.get(sliver_key(shard, axis, blob_id))? else { return Ok(false) };
        let location = Location::from_bytes(&value).ok_or(StoreError::Corrupt { what: "sliver location" })?;
        Ok(self.files.holds(blob_id, location)?)
    }

    /// Deletes the metadata and the slivers of `blob_id` on `shards` (garbage collection).
    pub fn delete_blob_data(&self, blob_id: &BlobId, shards: &[ShardIndex]) -> Result<(), StoreError> {
        self.unindex_blob_data(blob_id, shards)?;
        self.files.remove_blob(blob_id)?;
        Ok(())
    }

    /// The first half of [`NodeStore::delete_blob_data`]: the index entries go, durably, before
    /// the files. A crash in between leaves files without index entries (removed when the blob
    /// is collected again), never index entries without their files.
    fn unindex_blob_data(&self, blob_id: &BlobId, shards: &[ShardIndex]) -> Result<(), StoreError> {
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        batch.remove(&self.metadata, blob_id.as_bytes().as_slice());
        for shard in shards {
            for axis in [SliverType::Primary, SliverType::Secondary] {
                batch.remove(&self.slivers, sliver_key(*shard, axis, blob_id).as_slice());
            }
        }
        batch.commit()?;
        Ok(())
    }

    /// Drops every sliver of `shard` (the shard moved away). Their bytes stay in their blobs'
    /// files, shared with other shards' slivers, until each blob is collected.
    pub fn drop_shard(&self, shard: ShardIndex) -> Result<u64, StoreError> {
        let mut removed = 0;
        let mut batch = self.db.batch();
        for guard in self.slivers.prefix(shard.0.to_be_bytes()) {
            batch.remove(&self.slivers, guard.key()?);
            removed += 1;
        }
        batch.commit()?;
        Ok(removed)
    }

    /// Every shard of which the store holds at least one sliver, in order (one seek per shard
    /// found).
    pub fn shards_with_slivers(&self) -> Result<Vec<ShardIndex>, StoreError> {
        let mut out = Vec::new();
        let mut from = 0u16;
        loop {
            let Some(guard) = self.slivers.range(from.to_be_bytes().to_vec()..).next() else {
                return Ok(out);
            };
            let key = guard.key()?;
            let shard = u16::from_be_bytes(
                key.get(..2)
                    .and_then(|k| k.try_into().ok())
                    .ok_or(StoreError::Corrupt { what: "sliver key" })?,
            );
            out.push(ShardIndex(shard));
            match shard.checked_add(1) {
                Some(next) => from = next,
                None => return Ok(out),
            }
        }
    }

    /// The shards kept one epoch more after they stopped being served, with the epoch they
    /// are kept in (see the node's epoch driver), if any were recorded.
    pub fn retained_shards(&self) -> Result<Option<(Epoch, Vec<ShardIndex>)>, StoreError> {
        self.meta.get(RETAINED_KEY)?.map(|bytes| decode("retained shards", &bytes)).transpose()
    }

    /// Records the shards kept in `epoch` (replacing the last record).
    pub fn set_retained_shards(&self, epoch: Epoch, shards: &[ShardIndex]) -> Result<(), StoreError> {
        self.meta.insert(RETAINED_KEY, encode(&(epoch, shards)))?;
        Ok(())
    }

    /// How far the pull of `shard`'s `axis` slivers has come, if one was recorded.
    pub fn sync_progress(
        &self,
        shard: ShardIndex,
        axis: SliverType,
    ) -> Result<Option<SyncProgress>, StoreError> {
        self.meta
            .get(sync_progress_key(shard, axis))?
            .map(|bytes| decode("sync progress", &bytes))
            .transpose()
    }

    /// Records how far the pull of `shard`'s `axis` slivers has come (after the page it follows
    /// is stored: a crash at worst pulls one page again).
    pub fn set_sync_progress(
        &self,
        shard: ShardIndex,
        axis: SliverType,
        progress: &SyncProgress,
    ) -> Result<(), StoreError> {
        self.meta.insert(sync_progress_key(shard, axis), encode(progress))?;
        Ok(())
    }

    /// The last applied event's cursor.
    pub fn event_cursor(&self) -> Result<Option<EventCursor>, StoreError> {
        self.meta.get(EVENT_CURSOR_KEY)?.map(|bytes| decode("event cursor", &bytes)).transpose()
    }

    /// The event follower's position as it last recorded it with [`Store::apply_events_at`]
    /// (opaque here; the node keeps the cursor and the events digest through it).
    pub fn follower_position(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.meta.get(FOLLOWER_POSITION_KEY)?.map(|bytes| bytes.to_vec()))
    }

    /// [`Store::apply_events`], recording the follower's `position` after them in the same
    /// batch.
    pub fn apply_events_at(&self, events: &[EventEnvelope], position: &[u8]) -> Result<(), StoreError> {
        self.apply(events, Some(position))
    }

    /// Applies chain events (in order) to the blob info and advances the cursor, atomically.
    /// Events at or before the stored cursor are skipped.
    pub fn apply_events(&self, events: &[EventEnvelope]) -> Result<(), StoreError> {
        self.apply(events, None)
    }

    fn apply(&self, events: &[EventEnvelope], position: Option<&[u8]>) -> Result<(), StoreError> {
        let after = self.event_cursor()?;
        let mut batch = self.db.batch();
        if let Some(position) = position {
            batch.insert(&self.meta, FOLLOWER_POSITION_KEY, position);
        }
        let mut pending = blob_info::Pending::new();
        let mut last = None;
        for envelope in events.iter().filter(|e| after.is_none_or(|c| e.cursor > c)) {
            blob_info::apply(self, &mut pending, &mut batch, envelope)?;
            last = Some(envelope.cursor);
        }
        blob_info::flush(self, pending, &mut batch);
        if let Some(cursor) = last {
            batch.insert(&self.meta, EVENT_CURSOR_KEY, encode(&cursor));
        }
        batch.commit()?;
        Ok(())
    }

    /// What the node knows of `blob_id` in epoch `current`.
    pub fn blob_status(&self, blob_id: &BlobId, current: Epoch) -> Result<BlobStatus, StoreError> {
        if let Some(bytes) = self.invalid.get(blob_id.as_bytes())? {
            return Ok(BlobStatus::Invalid { event: decode("invalid mark", &bytes)? });
        }
        Ok(blob_info::status(&self.objects_of(blob_id)?, current))
    }

    /// The blob objects the node has seen for `blob_id`, live or not.
    pub fn objects_of(&self, blob_id: &BlobId) -> Result<Vec<ObjectInfo>, StoreError> {
        let mut out = Vec::new();
        for guard in self.objects.prefix(blob_id.as_bytes()) {
            out.push(decode_object(&guard.value()?)?);
        }
        Ok(out)
    }

    /// Blob IDs after `after` (in key order; from the first if `None`) with a live certified
    /// object in epoch `current` and no invalid mark: the blobs whose slivers the node must
    /// hold. With `certified_before`, only those with an object first certified before that
    /// epoch. At most `limit`; fewer means the end was reached.
    pub fn certified_blobs(
        &self,
        current: Epoch,
        certified_before: Option<Epoch>,
        after: Option<&BlobId>,
        limit: usize,
    ) -> Result<Vec<BlobId>, StoreError> {
        let start = match after {
            // Past every object key of `after` (blob ID, then a 32-byte object ID).
            Some(id) => {
                let mut key = [0xffu8; 64];
                key[..32].copy_from_slice(id.as_bytes());
                std::ops::Bound::Excluded(key.to_vec())
            }
            None => std::ops::Bound::Unbounded,
        };
        let mut out: Vec<BlobId> = Vec::new();
        for guard in self.objects.range((start, std::ops::Bound::Unbounded)) {
            let info = decode_object(&guard.value()?)?;
            let certified = info.certified_epoch.is_some_and(|e| certified_before.is_none_or(|b| e < b))
                && info.is_live(current);
            if !certified || out.last() == Some(&info.blob_id) {
                continue;
            }
            if out.len() == limit {
                break;
            }
            if !self.invalid.contains_key(info.blob_id.as_bytes())? {
                out.push(info.blob_id);
            }
        }
        Ok(out)
    }

    /// Blob IDs the node has seen whose objects are all expired or deleted by epoch `current`,
    /// or which are marked invalid: their data may be collected. At most `limit`.
    pub fn collectable_blobs(&self, current: Epoch, limit: usize) -> Result<Vec<BlobId>, StoreError> {
        let mut out = Vec::new();
        let mut candidate: Option<(BlobId, bool)> = None;
        for guard in self.objects.iter() {
            let info = decode_object(&guard.value()?)?;
            match &mut candidate {
                Some((id, live)) if *id == info.blob_id => *live |= info.is_live(current),
                _ => {
                    if let Some((id, live)) = candidate.take() {
                        if !live || self.invalid.contains_key(id.as_bytes())? {
                            out.push(id);
                        }
                    }
                    if out.len() >= limit {
                        return Ok(out);
                    }
                    candidate = Some((info.blob_id, info.is_live(current)));
                }
            }
        }
        if let Some((id, live)) = candidate {
            if !live || self.invalid.contains_key(id.as_bytes())? {
                out.push(id);
            }
        }
        out.truncate(limit);
        Ok(out)
    }

    /// Forgets `objects` of a collected blob (its data is gone; the invalid mark stays): only
    /// those, so that a registration applied since they were read is kept.
    pub fn forget_objects(&self, blob_id: &BlobId, objects: &[ObjectInfo]) -> Result<(), StoreError> {
        let mut batch = self.db.batch();
        for object in objects {
            batch.remove(&self.objects, blob_info::object_key(blob_id, &object.object_id).as_slice());
        }
        batch.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use walrus_core::encode::encode_blob;
    use walrus_core::sliver::VerifiedSliver;
    use walrus_core::{EncodingParams, ShardIndex, SliverType};

    use super::*;

    /// A crash between garbage collection's index delete and its unlink leaves files nothing
    /// points to: after a restart nothing of the blob counts as stored (so it is never
    /// confirmed), the blob takes uploads again, and the next collection removes the files.
    #[test]
    fn a_crash_between_the_index_delete_and_the_unlink_loses_no_truth() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let params = EncodingParams::new(10).expect("params");
        let blob = encode_blob(params, b"collected, then a crash").expect("encodable");
        let blob_id = *blob.metadata().blob_id();
        let shards = [ShardIndex(1), ShardIndex(6)];
        let owned: Vec<(ShardIndex, VerifiedSliver)> = shards
            .iter()
            .flat_map(|&shard| {
                let (primary, secondary) = blob.sliver_pair(blob_id.pair_for_shard(shard, 10));
                [(shard, primary), (shard, secondary)]
            })
            .collect();
        let slivers: Vec<(ShardIndex, &VerifiedSliver)> = owned.iter().map(|(s, v)| (*s, v)).collect();
        let store = NodeStore::open(tmp.path()).expect("open");
        store.put_metadata(blob.metadata()).expect("metadata");
        store.put_slivers(&blob_id, &slivers).expect("slivers");
        store.unindex_blob_data(&blob_id, &shards).expect("index delete");
        let blob_dir = store.files.blob_dir(&blob_id);
        drop(store); // the crash: the files stay
        assert!(blob_dir.exists(), "the files outlive the index");

        let store = NodeStore::open(tmp.path()).expect("reopen");
        for &shard in &shards {
            for axis in [SliverType::Primary, SliverType::Secondary] {
                assert!(!store.has_sliver(shard, axis, &blob_id).expect("read"), "nothing counts as stored");
            }
        }
        assert!(store.metadata(&blob_id).expect("read").is_none());
        // Taken again, and readable.
        store.put_metadata(blob.metadata()).expect("metadata");
        store.put_slivers(&blob_id, &slivers).expect("slivers");
        let (shard, sliver) = &slivers[0];
        assert_eq!(store.sliver_bcs(*shard, sliver.axis(), &blob_id).expect("read"), Some(sliver.to_bcs()));
        // Collected for good: index and files.
        store.delete_blob_data(&blob_id, &shards).expect("collect");
        assert!(!blob_dir.exists());
    }

    /// A sliver whose file is gone counts as not stored, whatever the index says.
    #[test]
    fn an_indexed_sliver_without_its_file_is_not_stored() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let params = EncodingParams::new(10).expect("params");
        let blob = encode_blob(params, b"a file lost by the disk").expect("encodable");
        let blob_id = *blob.metadata().blob_id();
        let (primary, _) = blob.sliver_pair(blob_id.pair_for_shard(ShardIndex(2), 10));
        let store = NodeStore::open(tmp.path()).expect("open");
        store.put_slivers(&blob_id, &[(ShardIndex(2), &primary)]).expect("slivers");
        assert!(store.has_sliver(ShardIndex(2), SliverType::Primary, &blob_id).expect("read"));
        std::fs::remove_dir_all(store.files.blob_dir(&blob_id)).expect("lose it");
        assert!(!store.has_sliver(ShardIndex(2), SliverType::Primary, &blob_id).expect("read"));
    }
}
