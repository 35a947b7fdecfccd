//! Self-healing: serving recovery symbols, and rebuilding this node's missing slivers of a
//! certified blob from other nodes' symbols.
//!
//! A primary sliver `t` is rebuilt from `n - f` symbols `E[t][j]`, each cut from some node's
//! secondary sliver `j` with a Merkle proof against that sliver's hash in the metadata; a
//! secondary sliver from `n - 2f`. Every symbol is verified before use, so a lying peer costs
//! bandwidth, never correctness; a rebuilt sliver that does not match its hash is an
//! inconsistency proof (the writer encoded badly), which [`crate::invalid`] takes to the chain.
//!
//! Besides the reference's per-target `GET .../recoverySymbols`, peers answer a batch request
//! (`POST`, BCS list of targets), expanding each of their slivers once for all targets.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use walrus_core::expand::ExpandedSliver;
use walrus_core::inconsistency::InconsistencyProof;
use walrus_core::metadata::VerifiedBlobMetadataWithId;
pub use walrus_core::recovery::RecoveryRequest;
use walrus_core::recovery::{
    collect_symbols, recover_sliver, targets_per_request, CollectedSymbols, GeneralRecoverySymbol,
    RecoveryError,
};
use walrus_core::{BlobId, Epoch, ShardIndex, SliverIndex, SliverPairIndex, SliverType};
use walrus_node_client::NodeClient;
use walrus_store::{BlobStatus, StoreError};

use crate::follower::PeerAddress;
use crate::node::Node;

/// Why a recovery pass did not finish (it is retried).
#[derive(Debug, thiserror::Error)]
pub enum HealError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blocking task panicked.
    #[error("a recovery task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    /// No peer served metadata that verifies.
    #[error("no peer served valid metadata")]
    NoMetadata,
    /// Some slivers could not be rebuilt from the symbols gathered.
    #[error("{count} slivers not recovered (first: {first})")]
    Unrecovered {
        /// How many.
        count: usize,
        /// The first, and why.
        first: String,
    },
    /// The blob proved inconsistent and could not be marked invalid.
    #[error(transparent)]
    Invalidate(#[from] crate::invalid::InvalidateError),
}

/// Timeout of one request to a peer.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(30);
/// First pause between two attempts to recover a blob; it doubles after each failure.
const RECOVERY_PAUSE_MIN: Duration = Duration::from_millis(500);
/// Longest pause between two attempts to recover a blob.
pub const RECOVERY_PAUSE_MAX: Duration = Duration::from_secs(300);

/// The symbols this node can give for `targets`: from each sliver it holds on the axis
/// orthogonal to a target, the symbol at the target's position with its proof.
pub fn symbols_for(
    node: &Node,
    metadata: &VerifiedBlobMetadataWithId,
    targets: &[(SliverType, SliverIndex)],
) -> Result<Vec<GeneralRecoverySymbol>, StoreError> {
    let view = node.view();
    let params = metadata.params();
    let n = params.n_shards();
    let blob_id = metadata.blob_id();
    let mut out = Vec::new();
    for source_axis in [SliverType::Primary, SliverType::Secondary] {
        let wanted: Vec<SliverIndex> =
            targets.iter().filter(|(axis, _)| axis.orthogonal() == source_axis).map(|(_, i)| *i).collect();
        if wanted.is_empty() {
            continue;
        }
        for shard in view.served() {
            let Some(sliver) = node.store.sliver(*shard, source_axis, blob_id)? else { continue };
            let Ok(sliver) = sliver.verify(source_axis, metadata) else {
                tracing::error!("stored sliver {blob_id}/{shard}/{source_axis} fails verification");
                continue;
            };
            let source_index = blob_id.pair_for_shard(*shard, n).to_sliver_index(source_axis, n);
            let Ok(expanded) = ExpandedSliver::new(params, source_axis, sliver.symbol_size(), sliver.data())
            else {
                continue;
            };
            out.extend(wanted.iter().filter_map(|t| {
                GeneralRecoverySymbol::from_expanded(source_axis, source_index, &expanded, *t)
            }));
        }
    }
    Ok(out)
}

/// The slivers this node should hold for `blob_id` and does not.
fn missing(node: &Node, blob_id: &BlobId) -> Result<Vec<(ShardIndex, SliverType, SliverIndex)>, StoreError> {
    let view = node.view();
    let n = view.params.n_shards();
    let mut out = Vec::new();
    for shard in &view.shards {
        let pair: SliverPairIndex = blob_id.pair_for_shard(*shard, n);
        for axis in [SliverType::Primary, SliverType::Secondary] {
            if !node.store.has_sliver(*shard, axis, blob_id)? {
                out.push((*shard, axis, pair.to_sliver_index(axis, n)));
            }
        }
    }
    Ok(out)
}

/// How often [`sweep`] looks over every certified blob again.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(30 * 60);
/// Blob IDs a sweep reads from the store at once.
const SWEEP_PAGE: usize = 1_000;

/// Heals every live certified blob this node lacks slivers of, one after another: once the
/// recovery delay after start-up (recoveries waiting when the process stopped are not in the
/// event stream any more, whose cursor is past their certification) and then every
/// [`SWEEP_INTERVAL`] (a safety net: a recovery retries by itself until it succeeds).
pub async fn sweep(node: Arc<Node>) {
    tokio::time::sleep(Duration::from_millis(node.config.recovery_delay_ms)).await;
    loop {
        match sweep_once(&node, Patience::UntilHealed).await {
            Ok(0) => {}
            Ok(healed) => tracing::info!("the sweep found {healed} certified blobs lacking slivers"),
            Err(e) => tracing::warn!("the sweep over certified blobs failed: {e}"),
        }
        tokio::time::sleep(SWEEP_INTERVAL).await;
    }
}

/// How a sweep treats a blob it cannot heal at once, and which blobs it looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Patience {
    /// Every certified blob, each retried with backoff before going on to the next (the
    /// background sweep).
    UntilHealed,
    /// The blobs certified before `epoch` (what the node must hold to report its shards for
    /// the epoch: later ones were written to it as a member, and its recoveries follow them),
    /// each tried once; the caller sweeps again (a node that must report its sync should not
    /// wait out one blob's backoff while others are missing).
    OneAttempt {
        /// The epoch whose sync the node is to report.
        epoch: Epoch,
    },
}

/// One pass over the certified blobs; returns how many lacked slivers.
pub(crate) async fn sweep_once(node: &Arc<Node>, patience: Patience) -> Result<usize, HealError> {
    let mut after: Option<BlobId> = None;
    let mut needy_total = 0;
    loop {
        let worker = Arc::clone(node);
        let (page, needy) = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
            let before = match patience {
                Patience::UntilHealed => None,
                Patience::OneAttempt { epoch } => Some(epoch),
            };
            let page =
                worker.store.certified_blobs(worker.view().epoch, before, after.as_ref(), SWEEP_PAGE)?;
            let mut needy = Vec::new();
            for blob_id in &page {
                if !missing(&worker, blob_id)?.is_empty() {
                    needy.push(*blob_id);
                }
            }
            Ok((page, needy))
        })
        .await??;
        needy_total += needy.len();
        for blob_id in needy {
            match patience {
                Patience::UntilHealed => heal(Arc::clone(node), blob_id).await,
                Patience::OneAttempt { .. } => attempt(node, blob_id).await,
            }
        }
        if page.len() < SWEEP_PAGE {
            return Ok(needy_total);
        }
        after = page.last().copied();
    }
}

/// Rebuilds whatever this node lacks of a certified blob, retrying with backoff (up to
/// [`RECOVERY_PAUSE_MAX`] apart, or sooner when [`Node::heal_wake`] fires) until nothing is
/// missing or the blob is gone. A recovery slot is held only while an attempt runs, not while
/// it waits for the next.
pub async fn heal(node: Arc<Node>, blob_id: BlobId) {
    // One recovery of a blob at a time (the follower's and the sweep's may meet).
    let Some(_healing) = Healing::start(&node, blob_id) else { return };
    let mut pause = RECOVERY_PAUSE_MIN;
    for attempt in 1.. {
        let outcome = {
            let Ok(_slot) = Arc::clone(&node.recoveries).acquire_owned().await else { return };
            heal_once(&node, &blob_id).await
        };
        match outcome {
            Ok(0) => return,
            Ok(rebuilt) => {
                tracing::info!("recovered {rebuilt} slivers of {blob_id}");
                return;
            }
            Err(e) => tracing::warn!("recovery of {blob_id}, attempt {attempt} (next in {pause:?}): {e}"),
        }
        tokio::select! {
            () = tokio::time::sleep(pause) => pause = (pause * 2).min(RECOVERY_PAUSE_MAX),
            () = node.heal_wake.notified() => pause = RECOVERY_PAUSE_MIN,
        }
    }
}

/// One attempt at a blob, unless a recovery of it is running already (woken by
/// [`Node::heal_wake`], it tries again soon by itself).
async fn attempt(node: &Arc<Node>, blob_id: BlobId) {
    let Some(_healing) = Healing::start(node, blob_id) else { return };
    let Ok(_slot) = Arc::clone(&node.recoveries).acquire_owned().await else { return };
    match heal_once(node, &blob_id).await {
        Ok(0) => {}
        Ok(rebuilt) => tracing::info!("recovered {rebuilt} slivers of {blob_id}"),
        Err(e) => tracing::warn!("recovery of {blob_id}: {e}"),
    }
}

/// One recovery pass of `blob_id` now, in a recovery slot (for the challenge prover: a pair it
/// lacks of a drawn blob). Nothing happens if a recovery of the blob is running already.
pub(crate) async fn heal_now(node: &Arc<Node>, blob_id: BlobId) -> Result<usize, HealError> {
    let Some(_healing) = Healing::start(node, blob_id) else { return Ok(0) };
    let Ok(_slot) = Arc::clone(&node.recoveries).acquire_owned().await else { return Ok(0) };
    heal_once(node, &blob_id).await
}

/// A blob's place in [`Node::healing`], given up when dropped (also when the task is aborted).
struct Healing<'a> {
    node: &'a Node,
    blob_id: BlobId,
}

impl<'a> Healing<'a> {
    fn start(node: &'a Node, blob_id: BlobId) -> Option<Self> {
        let fresh = node.healing.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(blob_id);
        // Built only when the place is taken: a dropped `Healing` gives the place up.
        fresh.then(|| Healing { node, blob_id })
    }
}

impl Drop for Healing<'_> {
    fn drop(&mut self) {
        self.node.healing.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.blob_id);
    }
}

/// One recovery pass; returns how many slivers were rebuilt.
async fn heal_once(node: &Arc<Node>, blob_id: &BlobId) -> Result<usize, HealError> {
    let worker = Arc::clone(node);
    let id = *blob_id;
    let todo = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
        let status = worker.store.blob_status(&id, worker.view().epoch)?;
        if matches!(status, BlobStatus::Nonexistent | BlobStatus::Invalid { .. }) {
            return Ok(Vec::new());
        }
        missing(&worker, &id)
    })
    .await??;
    if todo.is_empty() {
        return Ok(0);
    }
    let metadata = metadata_from_anywhere(node, blob_id).await?;
    let targets: Vec<(SliverType, SliverIndex)> =
        todo.iter().map(|(_, axis, index)| (*axis, *index)).collect();
    let mut collected = CollectedSymbols::new();
    // Every peer at once (the members of this committee and of the last, which still serves the
    // shards that moved), each in requests whose answers fit the response cap.
    let mut asks = tokio::task::JoinSet::new();
    for (address, served) in node.view().peers(node.bls.public()) {
        let per_request = targets_per_request(metadata.params(), metadata.symbol_size(), served);
        for chunk in targets.chunks(per_request) {
            let (node, address, id, chunk) = (Arc::clone(node), address.clone(), *blob_id, chunk.to_vec());
            asks.spawn(async move {
                let fetched = peer(&node, &address).recovery_symbols(&id, chunk).await;
                (address, fetched)
            });
        }
    }
    while let Some(joined) = asks.join_next().await {
        let Ok((address, fetched)) = joined else { continue };
        match fetched {
            // A symbol that does not verify is dropped: a lying peer only wastes bandwidth.
            Ok(symbols) => collect_symbols(&metadata, &targets, symbols, &mut collected),
            Err(e) => tracing::warn!("recovery symbols from {address}: {e}"),
        }
        if enough(&metadata, &targets, &collected) {
            asks.abort_all();
            break;
        }
    }
    if !enough(&metadata, &targets, &collected) {
        // This node's own slivers of other shards count too: after an epoch change it may hold
        // what its new shards need and the others no longer serve. Only now, since expanding
        // them costs as much as a peer's answer.
        let (worker, local_metadata, local_targets) = (Arc::clone(node), metadata.clone(), targets.clone());
        let own = tokio::task::spawn_blocking(move || symbols_for(&worker, &local_metadata, &local_targets))
            .await??;
        collect_symbols(&metadata, &targets, own, &mut collected);
    }
    let worker = Arc::clone(node);
    let id = *blob_id;
    let rebuilt =
        tokio::task::spawn_blocking(move || rebuild(&worker, &id, &metadata, todo, collected)).await??;
    if let Some((axis, proof)) = rebuilt.inconsistent {
        crate::invalid::invalidate(node, *blob_id, axis, &proof).await?;
        return Ok(rebuilt.count);
    }
    Ok(rebuilt.count)
}

/// Whether `collected` holds enough symbols to rebuild every target.
fn enough(
    metadata: &VerifiedBlobMetadataWithId,
    targets: &[(SliverType, SliverIndex)],
    collected: &CollectedSymbols,
) -> bool {
    targets
        .iter()
        .all(|t| collected.get(t).map_or(0, Vec::len) >= metadata.params().symbols_for_recovery(t.0))
}

/// What one rebuild pass did.
struct Rebuilt {
    /// Slivers rebuilt and stored.
    count: usize,
    /// A proof that the writer encoded the blob inconsistently, if recovery found one.
    inconsistent: Option<(SliverType, InconsistencyProof)>,
}

fn rebuild(
    node: &Node,
    blob_id: &BlobId,
    metadata: &VerifiedBlobMetadataWithId,
    todo: Vec<(ShardIndex, SliverType, SliverIndex)>,
    mut collected: CollectedSymbols,
) -> Result<Rebuilt, HealError> {
    let _shared = node.blob_locks.shared(blob_id);
    if matches!(node.store.blob_status(blob_id, node.view().epoch)?, BlobStatus::Nonexistent) {
        // Collected while its symbols were being fetched.
        return Ok(Rebuilt { count: 0, inconsistent: None });
    }
    let mut rebuilt = 0;
    let mut failures = Vec::new();
    let mut inconsistent = None;
    for (shard, axis, index) in todo {
        let symbols = collected.remove(&(axis, index)).unwrap_or_default();
        match recover_sliver(metadata, axis, index, symbols) {
            Ok(sliver) => {
                node.store.put_slivers(blob_id, &[(shard, &sliver)])?;
                rebuilt += 1;
            }
            Err(RecoveryError::Inconsistent(proof)) => {
                tracing::warn!("{axis} sliver {index} of {blob_id} is inconsistently encoded");
                inconsistent.get_or_insert((axis, *proof));
            }
            Err(e) => failures.push(format!("{axis} sliver {index}: {e}")),
        }
    }
    node.metrics.slivers_recovered.fetch_add(rebuilt as u64, Ordering::Relaxed);
    if failures.is_empty() || inconsistent.is_some() {
        Ok(Rebuilt { count: rebuilt, inconsistent })
    } else {
        Err(HealError::Unrecovered { count: failures.len(), first: failures.swap_remove(0) })
    }
}

/// The blob's metadata: from the store, or from a peer (verified against the blob ID, then
/// stored).
pub(crate) async fn metadata_from_anywhere(
    node: &Arc<Node>,
    blob_id: &BlobId,
) -> Result<VerifiedBlobMetadataWithId, HealError> {
    let params = node.view().params;
    let (worker, id) = (Arc::clone(node), *blob_id);
    let stored = tokio::task::spawn_blocking(move || {
        worker.store.metadata(&id).map(|stored| stored.and_then(|m| m.verify(params).ok()))
    })
    .await??;
    if let Some(verified) = stored {
        return Ok(verified);
    }
    for (address, _) in node.view().peers(node.bls.public()) {
        let Ok(unverified) = peer(node, &address).metadata(blob_id).await else { continue };
        if unverified.blob_id != *blob_id {
            continue;
        }
        if let Ok(verified) = unverified.verify(params) {
            let (worker, written) = (Arc::clone(node), verified.clone());
            tokio::task::spawn_blocking(move || worker.store.put_metadata(&written)).await??;
            return Ok(verified);
        }
    }
    Err(HealError::NoMetadata)
}

/// A client of the peer at `address`: the node's connection pool for it, the peer timeout, and
/// every answer's bytes counted in the recovery metric; answers are capped per request by the
/// client.
pub(crate) fn peer(node: &Node, address: &PeerAddress) -> NodeClient {
    node.peers
        .node(&address.address, &address.key)
        .with_timeout(PEER_TIMEOUT)
        .counting(Arc::clone(&node.metrics.recovery_bytes))
}
