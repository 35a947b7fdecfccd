//! Garbage collection: at each epoch change, the metadata and slivers of blobs that no live
//! object backs any more (expired, deleted, or marked invalid) are removed, in batches, and
//! their blob info is forgotten (an invalid mark stays for good). The data of a blob marked
//! invalid is removed at once when the event arrives.

use std::sync::atomic::Ordering;

use walrus_core::BlobId;
use walrus_store::{BlobStatus, StoreError};

use crate::node::Node;

/// Blobs examined per batch.
pub const GC_BATCH: usize = 1_000;

/// Removes the data of every collectable blob; returns how many blobs were collected.
pub fn collect(node: &Node) -> Result<usize, StoreError> {
    let view = node.view();
    let mut collected = 0;
    loop {
        let batch = node.store.collectable_blobs(view.epoch, GC_BATCH)?;
        node.metrics.gc_candidates.fetch_add(batch.len() as u64, Ordering::Relaxed);
        let mut progressed = false;
        for blob_id in &batch {
            // No write or confirmation of this blob until it is collected or found live.
            let _exclusive = node.blob_locks.exclusive(blob_id);
            // A registration may have arrived since the batch was listed: check again.
            let objects = node.store.objects_of(blob_id)?;
            let status = walrus_store::status_of(&objects, view.epoch);
            if matches!(status, BlobStatus::Nonexistent | BlobStatus::Invalid { .. }) {
                // The index entries go (durably) before the files.
                node.store.delete_blob_data(blob_id, &view.shards)?;
                // Only the records seen dead: one applied meanwhile stays.
                node.store.forget_objects(blob_id, &objects)?;
                node.metrics.blobs_collected.fetch_add(1, Ordering::Relaxed);
                collected += 1;
                progressed = true;
            }
        }
        if batch.len() < GC_BATCH || !progressed {
            break;
        }
    }
    Ok(collected)
}

/// Removes the data of a blob the chain marked invalid.
pub fn drop_invalid(node: &Node, blob_id: &BlobId) -> Result<(), StoreError> {
    node.store.delete_blob_data(blob_id, &node.view().shards)
}
