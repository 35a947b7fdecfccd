//! A storage node's embedded database (fjall): blob metadata, slivers per shard, the node's view
//! of the chain's blob objects, and the event cursor.
//!
//! Only verified data goes in ([`VerifiedBlobMetadataWithId`], [`VerifiedSliver`]); what comes
//! out is unverified again, for the caller to check before serving (a disk can rot). Writes of
//! uploaded data are synced before they return, so an acknowledged sliver survives `kill -9`.
//! Blob info is derived from chain events and may be re-derived: it is written with its cursor
//! in one atomic batch, and applying an event twice changes nothing.
//!
//! Keyspaces:
//!
//! | keyspace | key | value |
//! |---|---|---|
//! | `metadata` | blob ID | BCS `UnverifiedBlobMetadataWithId` |
//! | `slivers` (values kept apart from the index) | shard (u16 BE) · axis (0 primary, 1 secondary) · blob ID | BCS sliver |
//! | `objects` | blob ID · object ID | BCS [`ObjectInfo`] |
//! | `invalid` | blob ID | BCS [`EventId`] of the invalidation |
//! | `meta` | `event_cursor` | BCS `EventCursor` |

mod blob_info;

use std::path::Path;

use fjall::{CompressionType, Database, Keyspace, KeyspaceCreateOptions, KvSeparationOptions, PersistMode};
use walrus_chain::{EventCursor, EventEnvelope};
use walrus_core::metadata::{UnverifiedBlobMetadataWithId, VerifiedBlobMetadataWithId};
use walrus_core::sliver::{UnverifiedSliver, VerifiedSliver};
use walrus_core::{BlobId, Epoch, ShardIndex, SliverType};

pub use blob_info::{BlobStatus, DeletableCounts, EventId, ObjectInfo};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed (disk full, I/O error, ...).
    #[error("node store: {0}")]
    Db(#[from] fjall::Error),
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
    objects: Keyspace,
    invalid: Keyspace,
    meta: Keyspace,
}

const EVENT_CURSOR_KEY: &[u8] = b"event_cursor";

fn decode<T: serde::de::DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    bcs::from_bytes(bytes).map_err(|_| StoreError::Corrupt { what })
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    bcs::to_bytes(value).expect("stored types are plain BCS")
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
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<NodeStore, StoreError> {
        // Slivers are erasure-coded and mostly incompressible: compressing them (fjall compresses
        // large journal entries and blob files with LZ4 by default) costs a copy and CPU for
        // nothing.
        let db = Database::builder(dir).journal_compression(CompressionType::None).open()?;
        let plain = |name: &str| db.keyspace(name, KeyspaceCreateOptions::default);
        let separated = KeyspaceCreateOptions::default()
            .with_kv_separation(Some(KvSeparationOptions::default().compression(CompressionType::None)));
        Ok(NodeStore {
            metadata: plain("metadata")?,
            slivers: db.keyspace("slivers", || separated)?,
            objects: plain("objects")?,
            invalid: plain("invalid")?,
            meta: plain("meta")?,
            db,
        })
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
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        for (shard, sliver) in slivers {
            batch.insert(
                &self.slivers,
                sliver_key(*shard, sliver.axis(), blob_id).as_slice(),
                sliver.to_bcs(),
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
        let key = sliver_key(shard, axis, blob_id);
        self.slivers.get(key)?.map(|bytes| decode("sliver", &bytes)).transpose()
    }

    /// Whether a sliver is stored.
    pub fn has_sliver(
        &self,
        shard: ShardIndex,
        axis: SliverType,
        blob_id: &BlobId,
    ) -> Result<bool, StoreError> {
        Ok(self.slivers.contains_key(sliver_key(shard, axis, blob_id))?)
    }

    /// Deletes the metadata and the slivers of `blob_id` on `shards` (garbage collection).
    pub fn delete_blob_data(&self, blob_id: &BlobId, shards: &[ShardIndex]) -> Result<(), StoreError> {
        let mut batch = self.db.batch();
        batch.remove(&self.metadata, blob_id.as_bytes().as_slice());
        for shard in shards {
            for axis in [SliverType::Primary, SliverType::Secondary] {
                batch.remove(&self.slivers, sliver_key(*shard, axis, blob_id).as_slice());
            }
        }
        batch.commit()?;
        Ok(())
    }

    /// Drops every sliver of `shard` (the shard moved away).
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

    /// The last applied event's cursor.
    pub fn event_cursor(&self) -> Result<Option<EventCursor>, StoreError> {
        self.meta.get(EVENT_CURSOR_KEY)?.map(|bytes| decode("event cursor", &bytes)).transpose()
    }

    /// Applies chain events (in order) to the blob info and advances the cursor, atomically.
    /// Events at or before the stored cursor are skipped.
    pub fn apply_events(&self, events: &[EventEnvelope]) -> Result<(), StoreError> {
        let after = self.event_cursor()?;
        let mut batch = self.db.batch();
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
            out.push(decode("object info", &guard.value()?)?);
        }
        Ok(out)
    }

    /// Blob IDs the node has seen whose objects are all expired or deleted by epoch `current`,
    /// or which are marked invalid: their data may be collected. At most `limit`.
    pub fn collectable_blobs(&self, current: Epoch, limit: usize) -> Result<Vec<BlobId>, StoreError> {
        let mut out = Vec::new();
        let mut candidate: Option<(BlobId, bool)> = None;
        for guard in self.objects.iter() {
            let info: ObjectInfo = decode("object info", &guard.value()?)?;
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

    /// Forgets the objects of a collected blob (its data is gone; the invalid mark stays).
    pub fn forget_blob(&self, blob_id: &BlobId) -> Result<(), StoreError> {
        let mut batch = self.db.batch();
        for guard in self.objects.prefix(blob_id.as_bytes()) {
            batch.remove(&self.objects, guard.key()?);
        }
        batch.commit()?;
        Ok(())
    }
}
