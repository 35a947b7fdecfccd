//! Uploads that race the registration event (`?pending=true`, as in the reference): metadata
//! and slivers of a blob the node has not yet seen registered wait in memory, bounded in
//! entries, bytes (in all and per blob ID, so that uploads for made-up blob IDs cannot take the
//! whole buffer for one), per-sliver size and time (a timer drops expired entries, whether or
//! not more uploads arrive), and are written when the registration arrives.
//!
//! Buffered metadata is verified against its blob ID on arrival; buffered slivers are verified
//! against the metadata when they are flushed (the metadata may arrive after them), and a
//! sliver that fails is dropped then. Nothing buffered is acknowledged as stored: the answer is
//! 202, and a confirmation is signed only once the slivers are in the store. A crash loses the
//! buffer, which is why the client keeps retrying until it holds a confirmation.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use walrus_core::metadata::VerifiedBlobMetadataWithId;
use walrus_core::sliver::{UnverifiedSliver, VerifiedSliver};
use walrus_core::{BlobId, ShardIndex, SliverType};
use walrus_store::StoreError;

use crate::node::Node;

/// Most buffered entries (metadata and slivers), as the reference's sliver cache.
pub const PENDING_ENTRIES_MAX: usize = 20_480;
/// Most buffered bytes.
pub const PENDING_BYTES_MAX: usize = 128 << 20;
/// Most buffered bytes for one blob ID.
pub const PENDING_BLOB_BYTES_MAX: usize = PENDING_BYTES_MAX / 4;
/// How often the timer drops expired entries.
pub const PENDING_EXPIRY_TICK: Duration = Duration::from_secs(5);
/// Largest sliver that may be buffered.
pub const PENDING_SLIVER_BYTES_MAX: usize = 4 << 20;
/// How long an upload waits for its registration.
pub const PENDING_TTL: Duration = Duration::from_secs(60);

/// Why an upload could not be buffered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PendingError {
    /// The buffer is full.
    #[error("the buffer for uploads awaiting registration is full; retry later")]
    Saturated,
    /// The sliver is larger than a buffered sliver may be.
    #[error("slivers above {PENDING_SLIVER_BYTES_MAX} bytes cannot wait for registration")]
    TooLarge,
}

#[derive(Debug)]
struct Entry {
    since: Instant,
    metadata: Option<VerifiedBlobMetadataWithId>,
    slivers: Vec<(ShardIndex, SliverType, UnverifiedSliver)>,
    bytes: usize,
}

#[derive(Debug, Default)]
struct Inner {
    blobs: BTreeMap<BlobId, Entry>,
    entries: usize,
    bytes: usize,
}

impl Inner {
    fn expire(&mut self, now: Instant) {
        let (entries, bytes) = (&mut self.entries, &mut self.bytes);
        self.blobs.retain(|_, entry| {
            let keep = now.duration_since(entry.since) < PENDING_TTL;
            if !keep {
                *entries -= usize::from(entry.metadata.is_some()) + entry.slivers.len();
                *bytes -= entry.bytes;
            }
            keep
        });
    }

    fn admit(&mut self, blob_id: &BlobId, bytes: usize) -> Result<(), PendingError> {
        self.expire(Instant::now());
        if self.entries + 1 > PENDING_ENTRIES_MAX || self.bytes + bytes > PENDING_BYTES_MAX {
            return Err(PendingError::Saturated);
        }
        if self.blobs.get(blob_id).map_or(0, |e| e.bytes) + bytes > PENDING_BLOB_BYTES_MAX {
            return Err(PendingError::Saturated);
        }
        self.entries += 1;
        self.bytes += bytes;
        Ok(())
    }

    fn entry(&mut self, blob_id: BlobId) -> &mut Entry {
        self.blobs.entry(blob_id).or_insert_with(|| Entry {
            since: Instant::now(),
            metadata: None,
            slivers: Vec::new(),
            bytes: 0,
        })
    }
}

/// The buffer.
#[derive(Debug, Default)]
pub struct PendingUploads {
    inner: Mutex<Inner>,
}

/// What a flush found for one blob.
#[derive(Debug)]
pub struct Flushed {
    /// The buffered metadata, if any.
    pub metadata: Option<VerifiedBlobMetadataWithId>,
    /// The buffered slivers with their shards.
    pub slivers: Vec<(ShardIndex, SliverType, UnverifiedSliver)>,
}

impl PendingUploads {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Buffers verified metadata.
    pub fn put_metadata(&self, metadata: VerifiedBlobMetadataWithId) -> Result<(), PendingError> {
        let mut inner = self.lock();
        let bytes = metadata.to_bcs().len();
        let blob_id = *metadata.blob_id();
        if inner.blobs.get(&blob_id).is_some_and(|e| e.metadata.is_some()) {
            return Ok(());
        }
        inner.admit(&blob_id, bytes)?;
        let entry = inner.entry(blob_id);
        entry.metadata = Some(metadata);
        entry.bytes += bytes;
        Ok(())
    }

    /// Buffers a sliver for `shard`.
    pub fn put_sliver(
        &self,
        blob_id: BlobId,
        shard: ShardIndex,
        axis: SliverType,
        sliver: UnverifiedSliver,
    ) -> Result<(), PendingError> {
        let bytes = sliver.data.len();
        if bytes > PENDING_SLIVER_BYTES_MAX {
            return Err(PendingError::TooLarge);
        }
        let mut inner = self.lock();
        let known =
            inner.blobs.get(&blob_id).is_some_and(|e| e.slivers.iter().any(|s| s.0 == shard && s.1 == axis));
        if known {
            return Ok(());
        }
        inner.admit(&blob_id, bytes)?;
        let entry = inner.entry(blob_id);
        entry.slivers.push((shard, axis, sliver));
        entry.bytes += bytes;
        Ok(())
    }

    /// Drops what waited longer than [`PENDING_TTL`].
    pub fn expire(&self) {
        self.lock().expire(Instant::now());
    }

    /// Bytes buffered now.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Whether metadata of `blob_id` is buffered.
    pub fn has_metadata(&self, blob_id: &BlobId) -> bool {
        self.lock().blobs.get(blob_id).is_some_and(|e| e.metadata.is_some())
    }

    /// Takes everything buffered for `blob_id`.
    pub fn take(&self, blob_id: &BlobId) -> Option<Flushed> {
        let mut inner = self.lock();
        let entry = inner.blobs.remove(blob_id)?;
        inner.entries -= usize::from(entry.metadata.is_some()) + entry.slivers.len();
        inner.bytes -= entry.bytes;
        Some(Flushed { metadata: entry.metadata, slivers: entry.slivers })
    }
}

/// Writes what was buffered for a blob that is now registered: the metadata, then every
/// buffered sliver that matches the metadata (stored or buffered). Returns the slivers stored.
pub fn flush(node: &Node, blob_id: &BlobId) -> Result<usize, StoreError> {
    let Some(flushed) = node.pending.take(blob_id) else { return Ok(0) };
    let _shared = node.blob_locks.shared(blob_id);
    if let Some(metadata) = &flushed.metadata {
        if !node.store.has_metadata(blob_id)? {
            node.store.put_metadata(metadata)?;
            node.metrics.metadata_stored.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let params = node.view().params;
    let metadata = match node.store.metadata(blob_id)?.map(|m| m.verify(params)) {
        Some(Ok(metadata)) => metadata,
        _ => {
            if !flushed.slivers.is_empty() {
                tracing::warn!(
                    "dropping {} buffered slivers of {blob_id}: no metadata",
                    flushed.slivers.len()
                );
            }
            return Ok(0);
        }
    };
    let mut verified: Vec<(ShardIndex, VerifiedSliver)> = Vec::new();
    for (shard, axis, sliver) in flushed.slivers {
        match sliver.verify(axis, &metadata) {
            Ok(sliver) => verified.push((shard, sliver)),
            Err(e) => tracing::warn!("dropping a buffered {axis} sliver of {blob_id} for shard {shard}: {e}"),
        }
    }
    let refs: Vec<_> = verified.iter().map(|(shard, sliver)| (*shard, sliver)).collect();
    node.store.put_slivers(blob_id, &refs)?;
    for (_, sliver) in &verified {
        node.metrics.count_sliver(sliver.axis());
    }
    Ok(verified.len())
}

/// Drops expired entries every [`PENDING_EXPIRY_TICK`], for as long as the node runs.
pub async fn expire_on_timer(node: std::sync::Arc<Node>) {
    loop {
        tokio::time::sleep(PENDING_EXPIRY_TICK).await;
        node.pending.expire();
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU16;

    use walrus_core::SliverIndex;

    use super::*;

    fn sliver(bytes: usize) -> UnverifiedSliver {
        UnverifiedSliver {
            data: vec![7; bytes],
            symbol_size: NonZeroU16::new(1).expect("nonzero"),
            index: SliverIndex(0),
        }
    }

    #[test]
    fn one_blob_id_cannot_take_the_whole_buffer() {
        let pending = PendingUploads::default();
        let flood = BlobId([1; 32]);
        let mut shard = 0u16;
        let refused = loop {
            match pending.put_sliver(flood, ShardIndex(shard), SliverType::Primary, sliver(4 << 20)) {
                Ok(()) => shard += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(refused, PendingError::Saturated);
        assert!(pending.bytes() <= PENDING_BLOB_BYTES_MAX, "{}", pending.bytes());
        // Another blob ID still gets room.
        let honest = BlobId([2; 32]);
        assert_eq!(pending.put_sliver(honest, ShardIndex(0), SliverType::Primary, sliver(1 << 20)), Ok(()));
    }

    #[test]
    fn the_whole_buffer_is_bounded_across_blob_ids() {
        let pending = PendingUploads::default();
        let mut refused = 0;
        for id in 0..200u8 {
            if pending
                .put_sliver(BlobId([id; 32]), ShardIndex(0), SliverType::Primary, sliver(4 << 20))
                .is_err()
            {
                refused += 1;
            }
        }
        assert!(refused > 0);
        assert!(pending.bytes() <= PENDING_BYTES_MAX, "{}", pending.bytes());
    }
}
