//! Following the chain: the committee view (epoch, this node's shards) and the event loop that
//! feeds blob info into the store with a persisted cursor, believing only proven events.

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use walrus_chain::system::Committee;
use walrus_chain::{Event, EventEnvelope};
use walrus_chain_client::{ChainClient, EventsPosition};
use walrus_core::keys::BlsPublicKey;
use walrus_core::{BlobId, EncodingParams, Epoch, ShardIndex};

use crate::node::Node;

/// Why the node cannot build its view of the committee.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The chain did not answer.
    #[error(transparent)]
    Chain(#[from] walrus_chain_client::ClientError),
    /// The chain's shard count is not one the codec takes.
    #[error(transparent)]
    Params(#[from] walrus_core::params::ParamsError),
}
use crate::{gc, pending, recovery};

/// Events asked for per page.
const EVENTS_PAGE: usize = 1_000;
/// Long-poll wait per page.
const EVENTS_WAIT: Duration = Duration::from_secs(10);
/// Pause after a failed poll.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// What the node knows of the current epoch.
#[derive(Debug, Clone)]
pub struct ChainView {
    /// The current epoch.
    pub epoch: Epoch,
    /// Encoding parameters of the system.
    pub params: EncodingParams,
    /// The committee.
    pub committee: Committee,
    /// This node's shards (empty if not a member), sorted.
    pub shards: Vec<ShardIndex>,
    /// Shards this node held in the previous epoch and holds no more, sorted: still served for
    /// reads and recovery while their new owners sync (the reference's `LockedToMove`).
    pub read_only: Vec<ShardIndex>,
    /// Shards this node holds now and did not hold in the previous epoch, sorted: what it
    /// pulls by shard sync at an epoch change.
    pub gained: Vec<ShardIndex>,
    /// Shards that were read-only here in the previous epoch and are not served now, sorted:
    /// kept one epoch more as a source for their new owners' syncs of the previous epoch that
    /// are still running (the reference drops a shard once it has not owned it for two
    /// epochs), then dropped ([`crate::epoch_driver::shed`]).
    pub retained: Vec<ShardIndex>,
    /// The last epoch's committee (none at genesis).
    pub previous: Option<Committee>,
}

impl ChainView {
    /// The view from a committee (and the one before it), for the node with key `me`.
    pub fn new(
        committee: Committee,
        previous: Option<&Committee>,
        n_shards: u16,
        me: &BlsPublicKey,
    ) -> Result<ChainView, ViewError> {
        let params = EncodingParams::new(u64::from(n_shards))?;
        let shards_in = |committee: &Committee| {
            let member = committee.members.iter().find(|m| m.public_key == *me);
            let mut shards = member.map(|m| m.shards.clone()).unwrap_or_default();
            shards.sort_unstable();
            shards
        };
        let shards = shards_in(&committee);
        let before: Vec<ShardIndex> = previous.map(shards_in).unwrap_or_default();
        let read_only: Vec<ShardIndex> =
            before.iter().copied().filter(|s| shards.binary_search(s).is_err()).collect();
        // At genesis nobody held anything before, and there is nothing to pull.
        let gained: Vec<ShardIndex> = match previous {
            Some(_) => shards.iter().copied().filter(|s| before.binary_search(s).is_err()).collect(),
            None => Vec::new(),
        };
        let previous = previous.cloned();
        Ok(ChainView {
            epoch: committee.epoch,
            params,
            committee,
            shards,
            read_only,
            gained,
            retained: Vec::new(),
            previous,
        })
    }

    /// Whether this node holds `shard` now.
    pub fn holds(&self, shard: ShardIndex) -> bool {
        self.shards.binary_search(&shard).is_ok()
    }

    /// Whether this node serves reads of `shard`: it holds it, or held it in the last epoch.
    pub fn serves(&self, shard: ShardIndex) -> bool {
        self.holds(shard) || self.read_only.binary_search(&shard).is_ok()
    }

    /// What `self`, the view that follows `before`, retains: `before`'s read-only shards if
    /// `before` is the epoch just before, its retained ones if it is the same epoch, else none;
    /// never a shard this view serves.
    pub fn retained_after(&self, before: &ChainView) -> Vec<ShardIndex> {
        let carried: &[ShardIndex] = if before.epoch.0.checked_add(1) == Some(self.epoch.0) {
            &before.read_only
        } else if before.epoch == self.epoch {
            &before.retained
        } else {
            &[]
        };
        carried.iter().copied().filter(|s| !self.serves(*s)).collect()
    }

    /// Every node that serves reads now, but this one (`me`): the members of this committee and
    /// of the last, each with its address and the number of shards it serves.
    pub fn peers(&self, me: &BlsPublicKey) -> Vec<(PeerAddress, usize)> {
        let mut peers: Vec<(BlsPublicKey, PeerAddress, BTreeSet<ShardIndex>)> = Vec::new();
        for member in self.committee.members.iter().chain(self.previous.iter().flat_map(|c| &c.members)) {
            if member.public_key == *me {
                continue;
            }
            match peers.iter_mut().find(|(key, _, _)| *key == member.public_key) {
                Some((_, _, shards)) => shards.extend(member.shards.iter().copied()),
                None => peers.push((
                    member.public_key,
                    PeerAddress::of(member),
                    member.shards.iter().copied().collect(),
                )),
            }
        }
        peers.into_iter().map(|(_, address, shards)| (address, shards.len())).collect()
    }

    /// The member that held `shard` in the last epoch.
    pub fn previous_owner(&self, shard: ShardIndex) -> Option<&walrus_chain::system::Member> {
        self.previous.as_ref()?.members.iter().find(|m| m.shards.contains(&shard))
    }

    /// The shards this node serves reads of: its own, then the read-only ones.
    pub fn served(&self) -> impl Iterator<Item = &ShardIndex> {
        self.shards.iter().chain(&self.read_only)
    }
}

/// Where another storage node is reached: its registered address and the network key its TLS
/// certificate must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAddress {
    /// `host:port` (HTTPS), or `http://host:port` on a loopback localnet.
    pub address: String,
    /// Its network key.
    pub key: walrus_core::keys::NetworkPublicKey,
}

impl PeerAddress {
    /// Where `member` is reached.
    pub fn of(member: &walrus_chain::system::Member) -> Self {
        PeerAddress { address: member.network_address.clone(), key: member.network_public_key }
    }
}

impl std::fmt::Display for PeerAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.address)
    }
}

/// The shared, replaceable view.
pub type SharedView = Arc<RwLock<Arc<ChainView>>>;

/// Fetches the committee and builds the view.
pub async fn fetch_view(chain: &ChainClient, me: &BlsPublicKey) -> Result<ChainView, ViewError> {
    let system = chain.system().await?.system;
    ChainView::new(system.committee, system.previous_committee.as_ref(), system.params.n_shards, me)
}

/// What a page of events asks of the node once it is applied to the store.
#[derive(Debug, Default)]
struct Work {
    /// The newest epoch an `EpochChangeStart` of the page announced.
    epoch_changed: Option<Epoch>,
    /// A node's address or network key changed (`NodeInfoUpdated`): the view is read again.
    node_info_changed: bool,
    registered: Vec<BlobId>,
    /// Newly certified blobs, with the epoch of their certification.
    certified: Vec<(BlobId, Epoch)>,
    invalid: Vec<BlobId>,
}

impl Work {
    fn of(events: &[EventEnvelope]) -> Work {
        let mut work = Work::default();
        for envelope in events {
            match envelope.event {
                Event::EpochChangeStart { epoch } => {
                    work.epoch_changed = Some(work.epoch_changed.map_or(epoch, |seen| seen.max(epoch)));
                }
                Event::BlobRegistered { blob_id, .. } => work.registered.push(blob_id),
                Event::BlobCertified { blob_id, epoch, is_extension: false, .. } => {
                    work.certified.push((blob_id, epoch))
                }
                Event::InvalidBlobID { blob_id, .. } => work.invalid.push(blob_id),
                Event::NodeInfoUpdated { .. } => work.node_info_changed = true,
                _ => {}
            }
        }
        work
    }
}

/// Follows events until the process ends: takes each page only once a proven state shows it
/// is the chain's ([`ChainClient::proven_events`]), applies it to the store (blob info, cursor
/// and the follower's position in one batch), then does what the page asks ([`react`]).
pub async fn follow(node: Arc<Node>) {
    loop {
        let position = match node.store.follower_position() {
            // A store written before positions were recorded starts over from the first
            // event: the store skips those it applied, the digest is folded again.
            Ok(bytes) => bytes.and_then(|b| bcs::from_bytes(&b).ok()).unwrap_or(EventsPosition::GENESIS),
            Err(e) => {
                tracing::error!("cannot read the event follower's position: {e}");
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        };
        let page = match node.chain.proven_events(position, EVENTS_PAGE, EVENTS_WAIT).await {
            Ok(page) => page,
            Err(e @ walrus_chain_client::ClientError::Unproven { .. }) => {
                tracing::error!("refusing events that are not proven: {e}");
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
            Err(e) => {
                tracing::warn!("event poll failed: {e}");
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        };
        if page.position == position {
            continue;
        }
        let work = Work::of(&page.events);
        let store = Arc::clone(&node.store);
        let events = page.events;
        let position = bcs::to_bytes(&page.position).expect("plain BCS");
        match tokio::task::spawn_blocking(move || store.apply_events_at(&events, &position)).await {
            Ok(Ok(())) => {
                node.events_applied.send_modify(|pages| *pages += 1);
                react(&node, work).await
            }
            Ok(Err(e)) => {
                tracing::error!("cannot apply events: {e}");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Err(e) => tracing::error!("event task failed: {e}"),
        }
    }
}

/// After a page: refreshes the view and collects garbage when the epoch changed, writes
/// buffered uploads of newly registered blobs, drops the data of blobs marked invalid, and
/// starts recovery for certified blobs (after the configured delay).
async fn react(node: &Arc<Node>, work: Work) {
    if let Some(epoch) = work.epoch_changed {
        node.epoch_seen.fetch_max(epoch.0, std::sync::atomic::Ordering::Relaxed);
        refresh_view(node, epoch).await;
        crate::epoch_driver::on_epoch_change(node, epoch);
        crate::epoch_driver::shed(node);
        let worker = Arc::clone(node);
        node.spawn(async move {
            match tokio::task::spawn_blocking(move || gc::collect(&worker)).await {
                Ok(Ok(0)) => {}
                Ok(Ok(collected)) => tracing::info!("garbage collection removed {collected} blobs"),
                Ok(Err(e)) => tracing::error!("garbage collection failed: {e}"),
                Err(e) => tracing::error!("garbage collection task failed: {e}"),
            }
        });
    }
    if work.node_info_changed && work.epoch_changed.is_none() {
        refresh_view(node, node.view().epoch).await;
    }
    let worker = Arc::clone(node);
    let (registered, invalid) = (work.registered, work.invalid);
    let done = tokio::task::spawn_blocking(move || -> Result<(), walrus_store::StoreError> {
        for blob_id in &registered {
            pending::flush(&worker, blob_id)?;
        }
        for blob_id in &invalid {
            gc::drop_invalid(&worker, blob_id)?;
        }
        Ok(())
    })
    .await;
    if !matches!(done, Ok(Ok(()))) {
        tracing::error!("cannot write buffered uploads or drop invalid blobs: {done:?}");
    }
    // While the node does not hold its shards of the current epoch yet, the blobs certified
    // before it are the sync's ([`crate::epoch_driver::ensure_synced`]: shard sync, then a
    // sweep); recovering each of them here too (a new member replays every certification since
    // genesis) would compete with the sync for the peers and the recovery slots.
    let current = node.view().epoch;
    let syncing = node.shards_ready.epoch() < Some(current);
    for (blob_id, _) in work.certified.into_iter().filter(|(_, certified)| !(syncing && *certified < current))
    {
        let worker = Arc::clone(node);
        node.spawn(async move {
            tokio::time::sleep(Duration::from_millis(worker.config.recovery_delay_ms)).await;
            recovery::heal(worker, blob_id).await;
        });
    }
}

/// Longest pause between two attempts to read the committee of a new epoch.
const REFRESH_PAUSE_MAX: Duration = Duration::from_secs(10);

/// Reads the committee until the view is of `epoch` or later, retrying with backoff: until
/// then the node refuses to sign (503), since it would sign for an epoch it has not seen.
pub async fn refresh_view(node: &Node, epoch: Epoch) {
    let mut pause = RETRY_PAUSE;
    loop {
        match fetch_view(&node.chain, node.bls.public()).await {
            Ok(mut fresh) if fresh.epoch >= epoch => {
                fresh.retained = fresh.retained_after(&node.view());
                let (store, kept, at) = (Arc::clone(&node.store), fresh.retained.clone(), fresh.epoch);
                match tokio::task::spawn_blocking(move || store.set_retained_shards(at, &kept)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::error!("cannot record the retained shards: {e}"),
                    Err(e) => tracing::error!("the task recording the retained shards failed: {e}"),
                }
                *node.view.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(fresh);
                return;
            }
            Ok(fresh) => tracing::warn!("the chain still reports epoch {} after {epoch} began", fresh.epoch),
            Err(e) => tracing::warn!("cannot refresh the committee for epoch {epoch}: {e}"),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(REFRESH_PAUSE_MAX);
    }
}
