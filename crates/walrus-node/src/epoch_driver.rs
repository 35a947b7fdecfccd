//! The epoch-change driver (the reference's `EpochChangeDriver`): the chain steps its epochs
//! only when someone calls, so every node watches the chain's schedule and sends `VotingEnd` at
//! mid-epoch and `InitiateEpochChange` at the epoch's end, each after a jitter of its own (so
//! that the nodes do not all pay for the same call; whoever comes second fails harmlessly), and
//! reports `EpochSyncDone` once it holds every shard it has in the current epoch
//! ([`Node::shards_ready`]), also after the change completed without it. It also sends
//! `StartChallenge` when the epoch's storage challenge is due (docs/challenges.md).
//!
//! Shards a node gains at an epoch change are pulled from their previous owners by shard sync,
//! and whatever that misses is rebuilt by recovery ([`ensure_synced`]), before it reports.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use walrus_chain::epoch::EpochState;
use walrus_chain::Call;
use walrus_core::hash::blake2b256_parts;
use walrus_core::Epoch;

use crate::challenge::now_ms;
use crate::node::Node;

/// Longest wait between two looks at the chain's schedule.
const POLL_MAX: Duration = Duration::from_secs(2);
/// The most jitter before a step call (the reference's 3 minutes), and at most a tenth of an
/// epoch.
const JITTER_MAX_MS: u64 = 180_000;
/// The most jitter before `StartChallenge`.
const START_JITTER_MAX_MS: u64 = 5_000;
/// Pause after a failed look or call.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Runs until the process ends.
pub async fn drive(node: Arc<Node>) {
    loop {
        let wait = match step(&node).await {
            Ok(wait) => wait,
            Err(e) => {
                tracing::debug!("epoch driver: {e}");
                RETRY_PAUSE
            }
        };
        tokio::time::sleep(wait).await;
    }
}

/// Why a look at the chain or a call failed.
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    /// The chain did not answer, or refused the call.
    #[error(transparent)]
    Chain(#[from] walrus_chain_client::ClientError),
    /// The node's operator key cannot be read.
    #[error(transparent)]
    Key(#[from] walrus_chain_node::init::InitError),
}

/// This node's jitter before the step due at `due_ms`: a hash of its key and the due time, so
/// that it differs between nodes and steps but not between two looks.
fn jitter_ms(node: &Node, due_ms: u64, max_ms: u64) -> u64 {
    let max = max_ms.max(1);
    let hash =
        blake2b256_parts(&[b"walrus-node/epoch-jitter", node.bls.public().as_bytes(), &due_ms.to_le_bytes()]);
    u64::from_le_bytes(hash[..8].try_into().unwrap_or_default()) % max
}

/// One look at the chain: reports the sync if it is due, sends a step that is due, and says
/// how long to wait before the next look.
async fn step(node: &Arc<Node>) -> Result<Duration, DriveError> {
    let view = node.chain.system().await?;
    let system = &view.system;
    let epoch = system.epoch();
    observe_challenge(node, system);
    // Reported in whatever state the epoch is: a member that finishes after the change
    // completed without it still records that it holds its shards (`last_sync_done`).
    let me = system.committee.members.iter().find(|m| m.public_key == *node.bls.public());
    let reported = me.and_then(|m| system.nodes.get(&m.node_id)).and_then(|n| n.last_sync_done);
    let ready = node.shards_ready.epoch() == Some(epoch);
    if let Some(member) = me.filter(|_| reported < Some(epoch) && ready) {
        let call = Call::EpochSyncDone { node_id: member.node_id, epoch };
        node.chain.execute(node.owner_key()?, call).await?;
        tracing::info!("reported holding {} shards for epoch {epoch}", member.shards.len());
    }
    let challenge_wait = start_challenge(node, system).await?;
    let Some(due) = view.next_epoch_step_ms else { return Ok(challenge_wait) };
    let due =
        due.saturating_add(jitter_ms(node, due, JITTER_MAX_MS.min(system.params.epoch_duration_ms / 10)));
    let now = now_ms();
    if now < due {
        return Ok(Duration::from_millis(due - now).min(challenge_wait));
    }
    let call = match system.epoch_state {
        EpochState::ChangeDone { .. } => Call::VotingEnd,
        EpochState::NextParamsSelected { .. } => Call::InitiateEpochChange,
        EpochState::ChangeSync { .. } => return Ok(POLL_MAX),
    };
    match node.chain.execute(node.owner_key()?, call.clone()).await {
        Ok(_) => {
            tracing::info!("sent {call:?} in epoch {epoch}");
            Ok(Duration::ZERO)
        }
        // Another node was first, or the chain's clock is behind ours: look again shortly.
        Err(e) => {
            tracing::debug!("{call:?} in epoch {epoch}: {e}");
            Ok(RETRY_PAUSE)
        }
    }
}

/// Feeds the challenge gate, starts proving a challenge this node has not set out to prove
/// yet, and records the chain's last settlement of this node.
fn observe_challenge(node: &Arc<Node>, system: &walrus_chain::system::System) {
    node.challenge.observe(system, now_ms());
    let member = system.committee.members.iter().find(|m| m.public_key == *node.bls.public());
    if let Some(settlement) = member.and_then(|m| system.nodes.get(&m.node_id)).and_then(|n| n.challenge.last)
    {
        node.metrics.record_settlement(&settlement);
    }
    let Some(started) = node.challenge.started() else { return };
    let epoch = started.epoch.0;
    let certified =
        system.round.challenge.as_ref().zip(member).is_some_and(|(c, m)| c.outcomes.contains_key(&m.node_id));
    if member.is_some() && !certified && node.proving.swap(epoch, Ordering::Relaxed) != epoch {
        node.spawn(crate::challenge::prove(Arc::clone(node), started));
    }
}

/// Sends `StartChallenge` once the round's start is due (after a jitter of at most
/// [`START_JITTER_MAX_MS`]: the response window is short, so the start is not put off long);
/// says how long to wait before the next look.
async fn start_challenge(
    node: &Arc<Node>,
    system: &walrus_chain::system::System,
) -> Result<Duration, DriveError> {
    let pending = system.params.challenge.blobs > 0 && system.round.challenge.is_none();
    let Some(schedule) = walrus_chain::challenge::schedule(system).filter(|_| pending) else {
        return Ok(POLL_MAX);
    };
    let due = schedule.start_ms.saturating_add(jitter_ms(node, schedule.start_ms, START_JITTER_MAX_MS));
    let now = now_ms();
    if now < due {
        return Ok(Duration::from_millis(due - now).min(POLL_MAX));
    }
    let epoch = system.epoch();
    match node.chain.execute(node.owner_key()?, Call::StartChallenge).await {
        Ok(_) => tracing::info!("started the storage challenge of epoch {epoch}"),
        // Another node was first, or the chain's clock is behind ours.
        Err(e) => tracing::debug!("StartChallenge in epoch {epoch}: {e}"),
    }
    Ok(RETRY_PAUSE)
}

/// The latest epoch for which the node holds every shard it has, moved only forward.
#[derive(Debug)]
pub struct ShardsReady(AtomicU32);

impl Default for ShardsReady {
    fn default() -> Self {
        ShardsReady(AtomicU32::new(u32::MAX))
    }
}

impl ShardsReady {
    /// The epoch, if any is known ready.
    pub fn epoch(&self) -> Option<Epoch> {
        Some(self.0.load(Ordering::Relaxed)).filter(|e| *e != u32::MAX).map(Epoch)
    }

    /// Marks `epoch` ready unless a later one is.
    pub fn mark(&self, epoch: Epoch) {
        let _ = self.0.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |ready| {
            (ready == u32::MAX || ready < epoch.0).then_some(epoch.0)
        });
    }
}

/// At start-up: if this node is a member that has not reported holding its shards for the
/// current epoch (it may have missed the change, whether or not the chain still waits for it),
/// it first makes sure it holds them; otherwise they are ready.
pub async fn at_start(node: Arc<Node>) {
    loop {
        match node.chain.system().await {
            Ok(view) => {
                let system = &view.system;
                let epoch = system.epoch();
                let me = system.committee.members.iter().find(|m| m.public_key == *node.bls.public());
                let reported = me.and_then(|m| system.nodes.get(&m.node_id)).and_then(|n| n.last_sync_done);
                if me.is_some() && reported < Some(epoch) {
                    return ensure_synced(node, epoch).await;
                }
                return node.shards_ready.mark(epoch);
            }
            Err(e) => tracing::warn!("cannot read the chain's epoch state: {e}"),
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

/// After the view moved to `epoch` (the newest change seen): if the node held all its shards
/// before and gained none, it holds them now; otherwise it pulls and rebuilds what it lacks
/// first ([`ensure_synced`]).
pub fn on_epoch_change(node: &Arc<Node>, epoch: Epoch) {
    let view = node.view();
    if view.epoch > epoch {
        return;
    }
    let held_before = node.shards_ready.epoch().is_some_and(|ready| ready.0.saturating_add(1) >= epoch.0);
    if held_before && view.gained.is_empty() {
        return node.shards_ready.mark(epoch);
    }
    let worker = Arc::clone(node);
    node.spawn(async move { ensure_synced(worker, epoch).await });
}

/// Drops the slivers of every shard the node neither serves nor retains
/// ([`crate::follower::ChainView::retained`]): after an epoch change, and at start-up (a node
/// that was down while it lost shards drops them then). Their bytes stay in the blobs' files
/// until each blob is collected.
pub fn shed(node: &Arc<Node>) {
    let worker = Arc::clone(node);
    node.spawn(async move {
        let dropped = tokio::task::spawn_blocking(move || -> Result<u64, walrus_store::StoreError> {
            let view = worker.view();
            let mut dropped = 0;
            for shard in worker.store.shards_with_slivers()? {
                if !view.serves(shard) && view.retained.binary_search(&shard).is_err() {
                    dropped += worker.store.drop_shard(shard)?;
                }
            }
            Ok(dropped)
        })
        .await;
        match dropped {
            Ok(Ok(0)) => {}
            Ok(Ok(count)) => tracing::info!("dropped {count} slivers of shards this node no longer serves"),
            Ok(Err(e)) => tracing::error!("cannot drop released shards: {e}"),
            Err(e) => tracing::error!("the task dropping released shards failed: {e}"),
        }
    });
}

/// Where one of the node's shards is, as `/v1/health` reports it (the reference's `ready`,
/// `inTransfer`, `inRecovery`). A shard without an entry is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardStatus {
    /// Being pulled from its previous owner.
    InTransfer,
    /// Pulled (or the pull failed); recovery is rebuilding what is still missing.
    InRecovery,
}

/// Pulls the shards the node gained from their previous owners ([`crate::shard_sync`]), then
/// sweeps over the certified blobs, recovering what is still missing, until the node lacks no
/// sliver of its shards; then marks `epoch` ready. Stops unmarked if a later epoch begins
/// meanwhile (that epoch's sync takes over).
pub async fn ensure_synced(node: Arc<Node>, epoch: Epoch) {
    crate::shard_sync::pull_gained(&node, epoch).await;
    node.set_shard_status(&node.view().gained, Some(ShardStatus::InRecovery));
    loop {
        // A later epoch began before this one's sync ended: its own sync covers these blobs
        // (certified before it) and its shards, and this sweep would only compete with it.
        if node.view().epoch > epoch {
            tracing::info!("epoch {epoch}: superseded by epoch {} before its sync ended", node.view().epoch);
            return;
        }
        // Recoveries waiting out a backoff try again now: the peers they need may serve now.
        node.heal_wake.notify_waiters();
        match crate::recovery::sweep_once(&node, crate::recovery::Patience::OneAttempt { epoch }).await {
            Ok(0) => break,
            Ok(lacking) => {
                tracing::info!("epoch {epoch}: {lacking} blobs certified before it still lack slivers here")
            }
            Err(e) => tracing::warn!("epoch {epoch}: the sweep failed: {e}"),
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
    node.shards_ready.mark(epoch);
    node.set_shard_status(&node.view().gained, None);
    tracing::info!("epoch {epoch}: this node holds all its shards");
}
