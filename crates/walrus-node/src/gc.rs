//! Garbage collection: at each epoch change, the metadata and slivers of blobs that no live
//! object backs any more (expired, deleted, or marked invalid) are removed, in batches, and
//! their blob info is forgotten (an invalid mark stays for good). The data of a blob marked
//! invalid is removed at once when the event arrives.

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
        for blob_id in &batch {
            // A registration may have arrived since the batch was listed: check again.
            let status = node.store.blob_status(blob_id, view.epoch)?;
            if matches!(status, BlobStatus::Nonexistent | BlobStatus::Invalid { .. }) {
                node.store.delete_blob_data(blob_id, &view.shards)?;
                node.store.forget_blob(blob_id)?;
                collected += 1;
            }
        }
        if batch.len() < GC_BATCH {
            break;
        }
    }
    node.metrics.blobs_collected.fetch_add(collected as u64, std::sync::atomic::Ordering::Relaxed);
    Ok(collected)
}

/// Removes the data of a blob the chain marked invalid.
pub fn drop_invalid(node: &Node, blob_id: &BlobId) -> Result<(), StoreError> {
    node.store.delete_blob_data(blob_id, &node.view().shards)
}
