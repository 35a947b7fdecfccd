//! Shard sync (the reference's `POST /v1/migrate/sync_shard`): a node that gains a shard at an
//! epoch change pulls the shard's own slivers from the shard's owner in the last epoch, which
//! still serves it read-only, instead of rebuilding each sliver from other nodes' symbols. It
//! moves about one shard's share of the encoded data.
//!
//! The request is a BLS-signed `SyncShardRequest::V1 { shard_index, sliver_type,
//! starting_blob_id, sliver_count, epoch }` with the requester's public key in the
//! `Authorization` header; the serving node checks that the requester holds the shard in the
//! committee of the request's epoch, which is the current one (the shard is read-only here) or
//! the one before (a sync still running after the next change began: the shard is retained
//! here, [`crate::follower::ChainView::retained`]), and answers BCS `SyncShardResponse::V1`
//! with the shard's slivers from the starting blob ID on, in blob-ID order, built from the stored
//! bytes. The requester verifies every sliver against its blob's metadata before storing it,
//! primaries first, then secondaries, in pages of [`SYNC_BATCH`], recording after each page
//! how far it came (a restarted node resumes there); what a sync misses (an owner
//! down or lying, a blob it lacks) is left to the sweep's recovery.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use walrus_core::keys::BlsPublicKey;
use walrus_core::messages::{ProtocolMessage, SignedMessage, SyncShardRequest, SyncShardRequestV1};
use walrus_core::metadata::VerifiedBlobMetadataWithId;
use walrus_core::sliver::push_uleb128;
use walrus_core::{BlobId, Epoch, ShardIndex, SliverType};
use walrus_node_client::client::SYNC_ANSWER_SLIVER_BYTES;
use walrus_store::{BlobStatus, SyncProgress};

use crate::node::Node;
use crate::service::ServiceError;

/// Slivers asked for per request (the reference's default).
pub const SYNC_BATCH: u64 = 1_000;
/// Most slivers one request may ask for (the reference's server cap).
pub const SYNC_SLIVERS_MAX: u64 = 100_000;

/// Checks a shard-sync request before any of its work: `requester` signed `signed`, a request
/// for this node's current epoch (or the one before), and holds the shard in that epoch's
/// committee, which this node still serves (or retains). Returns the request.
pub fn authorize(
    node: &Node,
    requester: &BlsPublicKey,
    signed: &SignedMessage,
) -> Result<SyncShardRequestV1, ServiceError> {
    let message =
        signed.decode::<SyncShardRequest>().map_err(|e| ServiceError::SyncMalformed(e.to_string()))?;
    requester
        .verify(&signed.serialized_message, &signed.signature)
        .map_err(|_| ServiceError::SyncUnauthorized("the signature does not verify"))?;
    let SyncShardRequest::V1(request) = message.body;
    let view = node.view();
    if message.epoch != request.epoch {
        return Err(ServiceError::SyncEpoch { asked: request.epoch, current: view.epoch });
    }
    // A sync of the current epoch pulls a shard this node lost at it; one of the epoch before,
    // still running, a shard it lost then and retains.
    let (committee, source) = match &view.previous {
        _ if request.epoch == view.epoch => (&view.committee, view.serves(request.shard_index)),
        Some(previous) if request.epoch.0.checked_add(1) == Some(view.epoch.0) => {
            (previous, view.retained.binary_search(&request.shard_index).is_ok())
        }
        _ => return Err(ServiceError::SyncEpoch { asked: request.epoch, current: view.epoch }),
    };
    let holder = committee.members.iter().find(|m| m.public_key == *requester);
    if !holder.is_some_and(|m| m.shards.contains(&request.shard_index)) {
        return Err(ServiceError::SyncUnauthorized("the requester does not hold this shard"));
    }
    if !source {
        return Err(ServiceError::ShardNotAssigned(request.shard_index));
    }
    Ok(request)
}

/// Serves an authorized shard sync ([`authorize`]): BCS `SyncShardResponse::V1` with at most
/// [`SYNC_SLIVERS_MAX`] slivers and [`SYNC_ANSWER_SLIVER_BYTES`] of them (or one larger sliver).
pub fn serve(node: &Node, request: &SyncShardRequestV1) -> Result<Vec<u8>, ServiceError> {
    let limit = request.sliver_count.clamp(1, SYNC_SLIVERS_MAX) as usize;
    let slivers = node.store.shard_slivers(
        request.shard_index,
        request.sliver_type,
        &request.starting_blob_id,
        limit,
        SYNC_ANSWER_SLIVER_BYTES as usize,
    )?;
    // BCS of `SyncShardResponse::V1(Vec<(BlobId, sliver)>)`, from the stored bytes.
    let bytes: usize = slivers.iter().map(|(_, sliver)| sliver.len()).sum();
    let mut out = Vec::with_capacity(bytes + slivers.len() * (32 + 10) + 11);
    out.push(0u8);
    push_uleb128(&mut out, slivers.len());
    for (blob_id, sliver) in slivers {
        out.extend_from_slice(blob_id.as_bytes());
        out.extend(sliver);
    }
    node.metrics.sync_served_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    Ok(out)
}

/// Why a pull stopped.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The previous owner did not answer, or refused.
    #[error(transparent)]
    Peer(#[from] walrus_node_client::NodeError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] walrus_store::StoreError),
    /// The previous owner sent slivers out of order.
    #[error("the previous owner answered out of blob-ID order")]
    OutOfOrder,
    /// A blocking task failed.
    #[error("a task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The blob ID after `id` in key order, if any.
fn next_id(id: &BlobId) -> Option<BlobId> {
    let mut bytes = *id.as_bytes();
    for byte in bytes.iter_mut().rev() {
        if *byte == 0xff {
            *byte = 0;
        } else {
            *byte += 1;
            return Some(BlobId(bytes));
        }
    }
    None
}

/// Pulls `shard`'s slivers for `epoch` from `address` (its owner in the last epoch): primaries,
/// then secondaries, page after page until an empty one, resuming where the store's
/// [`SyncProgress`] of this epoch says a pull stopped (a restart does not pull again what it
/// has). A sliver is stored only if its blob is registered here, its metadata is stored here,
/// and it verifies; the others are skipped (recovery fetches what is still missing). Returns
/// the slivers stored.
pub async fn pull(
    node: &Arc<Node>,
    shard: ShardIndex,
    address: &crate::follower::PeerAddress,
    epoch: Epoch,
) -> Result<usize, PullError> {
    // Its own byte count, apart from recovery's.
    let peer =
        node.peers.node(&address.address, &address.key).counting(Arc::clone(&node.metrics.synced_bytes));
    let mut stored = 0;
    for axis in [SliverType::Primary, SliverType::Secondary] {
        let recorded = node.store.sync_progress(shard, axis)?.filter(|p| p.epoch == epoch);
        let mut start = match recorded {
            Some(SyncProgress { next: None, .. }) => continue,
            Some(SyncProgress { next: Some(next), .. }) => next,
            None => BlobId([0; 32]),
        };
        loop {
            let body = SyncShardRequest::V1(SyncShardRequestV1 {
                shard_index: shard,
                sliver_type: axis,
                starting_blob_id: start,
                sliver_count: SYNC_BATCH,
                epoch,
            });
            let signed = SignedMessage::sign(&node.bls, &ProtocolMessage::new(epoch, body));
            let page = ask(node, &peer, &signed, epoch).await?;
            if page.first().is_some_and(|(first, _)| *first < start)
                || page.windows(2).any(|w| w[0].0 >= w[1].0)
            {
                return Err(PullError::OutOfOrder);
            }
            // An empty page ends the pull, and so does the last possible blob ID.
            let next = page.last().and_then(|(last, _)| next_id(last));
            let worker = Arc::clone(node);
            stored += tokio::task::spawn_blocking(move || -> Result<usize, walrus_store::StoreError> {
                let stored = store_page(&worker, shard, axis, page)?;
                worker.store.set_sync_progress(shard, axis, &SyncProgress { epoch, next })?;
                Ok(stored)
            })
            .await??;
            match next {
                Some(next) => start = next,
                None => break,
            }
        }
    }
    Ok(stored)
}

/// Attempts at one page while the owner answers that it is busy (503), or that it is not in
/// the epoch of a sync this node runs for the current epoch (its view of the chain lags: an
/// owner asked within a second of the change may not have read it yet).
const BUSY_ATTEMPTS: u32 = 30;
/// Attempts at one page while the owner does not answer at all: an overloaded node may drop a
/// connection; one that is down is left to recovery within seconds.
const UNANSWERED_ATTEMPTS: u32 = 4;

/// One page, asked again (after 0.1 s, doubling up to 2 s) while the owner is busy or behind
/// ([`BUSY_ATTEMPTS`]) or silent ([`UNANSWERED_ATTEMPTS`]).
async fn ask(
    node: &Node,
    peer: &walrus_node_client::NodeClient,
    signed: &SignedMessage,
    epoch: Epoch,
) -> Result<Vec<(BlobId, walrus_core::sliver::UnverifiedSliver)>, walrus_node_client::NodeError> {
    use walrus_node_client::NodeError;
    let mut pause = std::time::Duration::from_millis(100);
    let mut attempt = 1;
    loop {
        let answer = peer.sync_shard(signed, node.bls.public()).await;
        let attempts = match &answer {
            Err(e) if e.reason().is_some_and(|r| r.is_retriable()) => BUSY_ATTEMPTS,
            Err(e) if e.is_wrong_epoch() && node.epoch_seen.load(Ordering::Relaxed) == epoch.0 => {
                BUSY_ATTEMPTS
            }
            Err(NodeError::Transport { .. }) => UNANSWERED_ATTEMPTS,
            _ => return answer,
        };
        if attempt >= attempts {
            return answer;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_secs(2));
        attempt += 1;
    }
}

/// Verifies one page of synced slivers and stores those that verify together (one durable
/// write for the page); returns how many were stored.
fn store_page(
    node: &Node,
    shard: ShardIndex,
    axis: SliverType,
    page: Vec<(BlobId, walrus_core::sliver::UnverifiedSliver)>,
) -> Result<usize, walrus_store::StoreError> {
    let view = node.view();
    let n = view.params.n_shards();
    // Garbage collection waits until the page is stored.
    let _shared = node.blob_locks.shared_many(page.iter().map(|(blob_id, _)| blob_id));
    let mut verified_page = Vec::with_capacity(page.len());
    for (blob_id, sliver) in page {
        if matches!(
            node.store.blob_status(&blob_id, view.epoch)?,
            BlobStatus::Nonexistent | BlobStatus::Invalid { .. }
        ) || node.store.has_sliver(shard, axis, &blob_id)?
        {
            continue;
        }
        let Some(metadata) = node.store.metadata(&blob_id)?.and_then(|m| m.verify(view.params).ok()) else {
            continue;
        };
        if sliver.index != blob_id.pair_for_shard(shard, n).to_sliver_index(axis, n) {
            continue;
        }
        let Ok(verified) = sliver.verify(axis, &metadata) else {
            tracing::warn!("shard sync of {shard}: a sliver of {blob_id} does not verify");
            continue;
        };
        verified_page.push((blob_id, verified));
    }
    let entries: Vec<_> = verified_page.iter().map(|(blob_id, sliver)| (*blob_id, shard, sliver)).collect();
    node.store.put_many(&entries)?;
    node.metrics.synced_slivers.fetch_add(entries.len() as u64, Ordering::Relaxed);
    Ok(entries.len())
}

/// Certified blobs read from the store at once while looking for missing metadata.
const METADATA_PAGE: usize = 1_000;

/// Metadata fetched at once while a new member catches up.
const METADATA_AT_ONCE: usize = 16;

/// Fetches the metadata of every live certified blob that this node lacks (a new member holds
/// none: the reference's `RecoverMetadata`), from peers, [`METADATA_AT_ONCE`] at a time, each
/// verified against its blob ID. Returns how many were fetched; a blob no peer serves is left
/// to recovery.
pub async fn fetch_missing_metadata(node: &Arc<Node>) -> Result<usize, PullError> {
    let mut after: Option<BlobId> = None;
    let mut fetched = 0;
    loop {
        let worker = Arc::clone(node);
        let (page, missing) = tokio::task::spawn_blocking(move || -> Result<_, walrus_store::StoreError> {
            let page =
                worker.store.certified_blobs(worker.view().epoch, None, after.as_ref(), METADATA_PAGE)?;
            let mut missing = Vec::new();
            for blob_id in &page {
                if !worker.store.has_metadata(blob_id)? {
                    missing.push(*blob_id);
                }
            }
            Ok((page, missing))
        })
        .await??;
        let mut fetches = tokio::task::JoinSet::new();
        for blob_id in missing {
            let node = Arc::clone(node);
            fetches.spawn(async move {
                (blob_id, crate::recovery::metadata_from_anywhere(&node, &blob_id).await)
            });
            while fetches.len() >= METADATA_AT_ONCE {
                fetched += fetched_one(fetches.join_next().await);
            }
        }
        while !fetches.is_empty() {
            fetched += fetched_one(fetches.join_next().await);
        }
        if page.len() < METADATA_PAGE {
            return Ok(fetched);
        }
        after = page.last().copied();
    }
}

/// One metadata fetch's task, as it ends.
type Fetched =
    Result<(BlobId, Result<VerifiedBlobMetadataWithId, crate::recovery::HealError>), tokio::task::JoinError>;

/// 1 if a metadata fetch's task ended with the metadata, else 0 (and a warning).
fn fetched_one(done: Option<Fetched>) -> usize {
    match done {
        Some(Ok((_, Ok(_)))) => 1,
        Some(Ok((blob_id, Err(e)))) => {
            tracing::warn!("metadata of {blob_id}: {e}");
            0
        }
        Some(Err(e)) => {
            tracing::warn!("a metadata fetch failed: {e}");
            0
        }
        None => 0,
    }
}

/// Pulls every shard this node gained in `epoch` from its previous owner, a few at once; a
/// shard whose pull fails is left to recovery.
pub async fn pull_gained(node: &Arc<Node>, epoch: Epoch) {
    let started = std::time::Instant::now();
    match fetch_missing_metadata(node).await {
        Ok(0) => {}
        Ok(fetched) => {
            tracing::info!("epoch {epoch}: fetched {fetched} blobs' metadata in {:?}", started.elapsed())
        }
        Err(e) => tracing::warn!("epoch {epoch}: fetching missing metadata failed: {e}"),
    }
    let view = node.view();
    node.set_shard_status(&view.gained, Some(crate::epoch_driver::ShardStatus::InTransfer));
    let mut pulls = tokio::task::JoinSet::new();
    for shard in view.gained.iter().copied() {
        let Some(owner) = view.previous_owner(shard) else { continue };
        let (node, address) = (Arc::clone(node), crate::follower::PeerAddress::of(owner));
        pulls.spawn(async move { (shard, pull(&node, shard, &address, epoch).await) });
        while pulls.len() >= SHARDS_AT_ONCE {
            report(pulls.join_next().await);
        }
    }
    while let Some(done) = pulls.join_next().await {
        report(Some(done));
    }
}

/// Shards pulled at once (the reference's default).
pub const SHARDS_AT_ONCE: usize = 10;

/// One shard's pull, as its task ends.
type Pulled = Result<(ShardIndex, Result<usize, PullError>), tokio::task::JoinError>;

fn report(done: Option<Pulled>) {
    match done {
        Some(Ok((shard, Ok(stored)))) => tracing::info!("shard {shard}: {stored} slivers synced"),
        Some(Ok((shard, Err(e)))) => tracing::warn!("shard {shard}: sync failed, recovery takes over: {e}"),
        Some(Err(e)) => tracing::warn!("a shard sync task failed: {e}"),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_ids_follow_in_key_order() {
        assert_eq!(
            next_id(&BlobId([0; 32])),
            Some(BlobId({
                let mut b = [0; 32];
                b[31] = 1;
                b
            }))
        );
        let mut carry = [0u8; 32];
        carry[30] = 1;
        carry[31] = 0xff;
        let mut after = [0u8; 32];
        after[30] = 2;
        assert_eq!(next_id(&BlobId(carry)), Some(BlobId(after)));
        assert_eq!(next_id(&BlobId([0xff; 32])), None);
    }
}
