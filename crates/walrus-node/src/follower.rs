//! Following the chain: the committee view (epoch, this node's shards) and the event loop that
//! feeds blob info into the store with a persisted cursor.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use walrus_chain::system::Committee;
use walrus_chain::Event;
use walrus_chain_node::ChainClient;
use walrus_core::keys::BlsPublicKey;
use walrus_core::{BlobId, EncodingParams, Epoch, ShardIndex};

use crate::node::Node;
use crate::{gc, recovery};

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
    /// This node's shards (empty if not a member).
    pub shards: Vec<ShardIndex>,
}

impl ChainView {
    /// The view from a committee, for the node with key `me`.
    pub fn new(committee: Committee, n_shards: u16, me: &BlsPublicKey) -> anyhow::Result<ChainView> {
        let params = EncodingParams::new(u64::from(n_shards))?;
        let shards = committee
            .members
            .iter()
            .find(|m| m.public_key == *me)
            .map(|m| m.shards.clone())
            .unwrap_or_default();
        Ok(ChainView { epoch: committee.epoch, params, committee, shards })
    }

    /// Whether this node holds `shard` now.
    pub fn holds(&self, shard: ShardIndex) -> bool {
        self.shards.binary_search(&shard).is_ok()
    }
}

/// The shared, replaceable view.
pub type SharedView = Arc<RwLock<Arc<ChainView>>>;

/// Fetches the committee and builds the view.
pub async fn fetch_view(chain: &ChainClient, me: &BlsPublicKey) -> anyhow::Result<ChainView> {
    let system = chain.system().await?;
    let mut view = ChainView::new(system.system.committee, system.system.params.n_shards, me)?;
    view.shards.sort_unstable();
    Ok(view)
}

/// Follows events until the process ends: applies each page to the store (blob info and cursor
/// in one batch), drops the data of blobs marked invalid, starts recovery for certified blobs
/// this node lacks, and refreshes the view and collects garbage when the epoch changes.
pub async fn follow(node: Arc<Node>) {
    let me = *node.bls.public();
    loop {
        let cursor = match node.store.event_cursor() {
            Ok(cursor) => cursor,
            Err(e) => {
                tracing::error!("cannot read the event cursor: {e}");
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        };
        let page = match node.chain.events(cursor, EVENTS_PAGE, EVENTS_WAIT).await {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!("event poll failed: {e}");
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        };
        if page.events.is_empty() {
            continue;
        }
        let epoch_changed = page.events.iter().any(|e| matches!(e.event, Event::EpochChangeStart { .. }));
        let certified: Vec<BlobId> = page
            .events
            .iter()
            .filter_map(|e| match e.event {
                Event::BlobCertified { blob_id, is_extension: false, .. } => Some(blob_id),
                _ => None,
            })
            .collect();
        let invalid: Vec<BlobId> = page
            .events
            .iter()
            .filter_map(|e| match e.event {
                Event::InvalidBlobID { blob_id, .. } => Some(blob_id),
                _ => None,
            })
            .collect();
        let store = Arc::clone(&node.store);
        let events = page.events;
        match tokio::task::spawn_blocking(move || store.apply_events(&events)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!("cannot apply events: {e}");
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
            Err(e) => {
                tracing::error!("event task failed: {e}");
                continue;
            }
        }
        if epoch_changed {
            match fetch_view(&node.chain, &me).await {
                Ok(fresh) => {
                    *node.view.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(fresh)
                }
                Err(e) => tracing::warn!("cannot refresh the committee: {e}"),
            }
            let worker = Arc::clone(&node);
            tokio::spawn(async move {
                match tokio::task::spawn_blocking(move || gc::collect(&worker)).await {
                    Ok(Ok(0)) => {}
                    Ok(Ok(collected)) => tracing::info!("garbage collection removed {collected} blobs"),
                    Ok(Err(e)) => tracing::error!("garbage collection failed: {e}"),
                    Err(e) => tracing::error!("garbage collection task failed: {e}"),
                }
            });
        }
        if !invalid.is_empty() {
            let worker = Arc::clone(&node);
            let dropped = tokio::task::spawn_blocking(move || {
                invalid.iter().try_for_each(|blob_id| gc::drop_invalid(&worker, blob_id))
            })
            .await;
            if !matches!(dropped, Ok(Ok(()))) {
                tracing::error!("cannot drop the data of invalid blobs: {dropped:?}");
            }
        }
        for blob_id in certified {
            let node = Arc::clone(&node);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(node.config.recovery_delay_ms)).await;
                recovery::heal(node, blob_id).await;
            });
        }
    }
}
