//! Uploading a blob to the committee: every member in parallel, until the confirmations cover a
//! quorum; the slower members get a tail.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use walrus_chain::system::{Committee, Member};
use walrus_core::messages::{BlobPersistenceType, Certificate, SignedMessage, StorageConfirmation};
use walrus_core::params::Quorum;
use walrus_core::{ObjectId, SliverPairIndex, SliverType};
use walrus_node_client::SliverSource;
use walrus_node_client::{NodeClient, NodeError, Reason};

use crate::client::{Progress, StoreError, NODE_ATTEMPTS_MAX, RETRY_PAUSE};
use crate::Client;

impl Client {
    /// Uploads to every member in parallel and returns a certificate once the confirmations
    /// cover a quorum; the other uploads get a short tail (half the time so far plus 500 ms,
    /// as the reference; the whole time so far if the memory budget held some back), which
    /// runs on while the certificate goes to the chain ([`Confirmed::tail`]), and are then
    /// abandoned.
    ///
    /// With `resume` (a store of a blob registered before), each member is first asked which
    /// slivers it holds, and only the others are sent.
    pub(crate) async fn upload_and_confirm(
        &self,
        blob: &Arc<dyn SliverSource>,
        committee: &Committee,
        deletable: Option<ObjectId>,
        resume: bool,
    ) -> Result<Confirmed, StoreError> {
        let n = blob.metadata().params().n();
        let state = Arc::new(UploadState {
            client: self.clone(),
            blob_id: *blob.metadata().blob_id(),
            total: (n * (blob.sliver_len(SliverType::Primary) + blob.sliver_len(SliverType::Secondary)))
                as u64,
            sent: AtomicU64::new(0),
            held: AtomicU64::new(0),
            resume,
            throttle: (!blob.held_in_memory()).then(|| Semaphore::new(self.in_flight_mib(blob.as_ref()))),
        });
        let quorum = Quorum::new(n);
        let blob_type = match deletable {
            None => BlobPersistenceType::Permanent,
            Some(object_id) => BlobPersistenceType::Deletable { object_id },
        };
        let expected = StorageConfirmation { blob_id: *blob.metadata().blob_id(), blob_type };
        let started = Instant::now();
        let mut tasks = JoinSet::new();
        for (index, member) in committee.members.iter().enumerate() {
            let node = self.nodes.node(&member.network_address, &member.network_public_key);
            let (blob, member, state) = (Arc::clone(blob), member.clone(), Arc::clone(&state));
            tasks.spawn(async move {
                (index, member.clone(), store_on(&node, &blob, &member, deletable, &state).await)
            });
        }
        let mut signed: Vec<(u16, SignedMessage)> = Vec::new();
        let mut weight = 0;
        let mut failures = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let (index, member, outcome) = joined?;
            match outcome.and_then(|confirmation| {
                confirmation
                    .verify(&member.public_key, committee.epoch, &expected)
                    .map(|()| confirmation)
                    .map_err(|e| NodeError::Decode {
                        url: member.network_address.clone(),
                        reason: e.to_string(),
                    })
            }) {
                Ok(confirmation) => {
                    // Committees have at most 65,535 members (a u16 bitmap index).
                    let Ok(index) = u16::try_from(index) else { continue };
                    signed.push((index, confirmation));
                    weight += member.shards.len();
                    self.report(Progress::Confirmed {
                        blob_id: *blob.metadata().blob_id(),
                        confirmed: weight,
                        n_shards: n,
                    });
                }
                Err(e) => failures.push(e.to_string()),
            }
            if quorum.is_certificate_quorum(weight) {
                break;
            }
        }
        if !quorum.is_certificate_quorum(weight) {
            return Err(StoreError::NoQuorum {
                confirmed: weight,
                n_shards: n,
                failures: failures.join("; "),
            });
        }
        // Under a memory budget the members share the slivers in flight, and the slower ones
        // wait their turn more: they get as long as the quorum took, not half, so that they
        // are not left to rebuild what they lack by recovery.
        let so_far = started.elapsed();
        let tail = if state.throttle.is_some() { so_far } else { so_far / 2 } + Duration::from_millis(500);
        let tail = (!tasks.is_empty()).then(|| {
            let rest = async move { while tasks.join_next().await.is_some() {} };
            tokio::spawn(async move {
                let _ = tokio::time::timeout(tail, rest).await;
            })
        });
        let certificate = Certificate::aggregate(signed)?;
        let uploaded = Uploaded {
            sent_bytes: state.sent.load(Ordering::Relaxed),
            held_bytes: state.held.load(Ordering::Relaxed),
        };
        Ok(Confirmed { certificate, weight, tail, uploaded })
    }

    /// MiB of slivers in flight at once (read into memory for their requests) for a blob
    /// that is not held in memory: the memory budget's share beyond the process, and at least
    /// a batch (so that every batch can go).
    fn in_flight_mib(&self, blob: &dyn SliverSource) -> usize {
        let sliver = blob.sliver_len(SliverType::Primary).max(blob.sliver_len(SliverType::Secondary));
        let batch = sliver.max(walrus_node_client::client::BATCH_BYTES_MAX);
        let share = self.memory_budget.saturating_sub(crate::streaming::PROCESS_RESERVE_BYTES);
        (share >> 20).max(batch.div_ceil(1 << 20))
    }
}

/// What the uploads of one blob share: the counts of bytes, the progress reports, and the
/// limit on sliver bytes in flight (in MiB permits).
struct UploadState {
    client: Client,
    blob_id: walrus_core::BlobId,
    /// Sliver bytes of every member together.
    total: u64,
    sent: AtomicU64,
    /// Sliver bytes a member held already (a resumed store).
    held: AtomicU64,
    resume: bool,
    throttle: Option<Semaphore>,
}

impl UploadState {
    fn report(&self) {
        let (sent, held) = (self.sent.load(Ordering::Relaxed), self.held.load(Ordering::Relaxed));
        self.client.report(Progress::Sent { blob_id: self.blob_id, sent, held, total: self.total });
    }
}

/// The sliver bytes an upload sent, and those the members held already (before the
/// certificate: uploads to slower members go on for a short tail).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Uploaded {
    /// Sliver bytes sent.
    pub sent_bytes: u64,
    /// Sliver bytes not sent because the member held them (a resumed store).
    pub held_bytes: u64,
}

/// A quorum's certificate, and the uploads to the other members still running.
pub(crate) struct Confirmed {
    /// The aggregated confirmations.
    pub(crate) certificate: Certificate,
    /// The shards they cover.
    pub(crate) weight: usize,
    /// Ends when the other uploads end or their tail runs out. A store waits for it after
    /// certifying (the reference's blocking tail, overlapped with the chain's round trip): a
    /// process that exits at once would cut the uploads short and leave those members to
    /// rebuild their slivers by recovery.
    pub(crate) tail: Option<tokio::task::JoinHandle<()>>,
    /// What was sent.
    pub(crate) uploaded: Uploaded,
}

impl Confirmed {
    /// Waits for the tail.
    pub(crate) async fn tail_ends(tail: Option<tokio::task::JoinHandle<()>>) {
        if let Some(tail) = tail {
            let _ = tail.await;
        }
    }
}

/// Uploads the metadata and the member's slivers (in batches), then asks for its
/// confirmation, retrying with backoff (the node may not have seen the registration yet).
/// Resuming, it first asks which of them the member holds.
async fn store_on(
    node: &NodeClient,
    blob: &Arc<dyn SliverSource>,
    member: &Member,
    deletable: Option<ObjectId>,
    state: &UploadState,
) -> Result<SignedMessage, NodeError> {
    let metadata = blob.metadata();
    let blob_id = metadata.blob_id();
    let n = metadata.params().n_shards();
    let mut uploads: Vec<(SliverPairIndex, SliverType)> = member
        .shards
        .iter()
        .flat_map(|shard| {
            let pair = blob_id.pair_for_shard(*shard, n);
            [SliverType::Primary, SliverType::Secondary].map(|axis| (pair, axis))
        })
        .collect();
    let mut pause = RETRY_PAUSE;
    let mut attempt = 1;
    loop {
        let outcome = async {
            let started = Instant::now();
            if state.resume && node.metadata_stored(blob_id).await? {
                let missing = missing(node, blob, &uploads).await?;
                if attempt == 1 {
                    let held: usize = uploads
                        .iter()
                        .filter(|u| !missing.contains(u))
                        .map(|(_, axis)| blob.sliver_len(*axis))
                        .sum();
                    state.held.fetch_add(held as u64, Ordering::Relaxed);
                    state.report();
                }
                uploads = missing;
            } else {
                node.put_metadata(metadata).await?;
            }
            let metadata_done = started.elapsed();
            if !uploads.is_empty() {
                let sent = |bytes: u64| {
                    state.sent.fetch_add(bytes, Ordering::Relaxed);
                    state.report();
                };
                node.put_slivers_chunked(blob, &uploads, &sent, state.throttle.as_ref()).await?;
            }
            let slivers_done = started.elapsed();
            let confirmation = node.confirmation(blob_id, deletable).await;
            tracing::debug!(
                "{blob_id} on {}: metadata {metadata_done:?}, slivers {slivers_done:?}, confirmation {:?}",
                member.network_address,
                started.elapsed()
            );
            confirmation
        }
        .await;
        match outcome {
            Ok(confirmation) => return Ok(confirmation),
            Err(e) if attempt < NODE_ATTEMPTS_MAX && retriable(&e) => {
                tokio::time::sleep(pause).await;
                pause *= 2;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Status requests to one member in flight at once.
const STATUS_REQUESTS_AT_ONCE: usize = 16;

/// Those of `uploads` the member does not hold (the reference's sliver status endpoint).
async fn missing(
    node: &NodeClient,
    blob: &Arc<dyn SliverSource>,
    uploads: &[(SliverPairIndex, SliverType)],
) -> Result<Vec<(SliverPairIndex, SliverType)>, NodeError> {
    let blob_id = *blob.metadata().blob_id();
    let limit = Arc::new(Semaphore::new(STATUS_REQUESTS_AT_ONCE));
    let mut asks = JoinSet::new();
    for (position, &(pair, axis)) in uploads.iter().enumerate() {
        let (node, limit) = (node.clone(), Arc::clone(&limit));
        asks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (position, node.sliver_stored(&blob_id, pair, axis).await)
        });
    }
    let mut held = vec![false; uploads.len()];
    while let Some(joined) = asks.join_next().await {
        let Ok((position, stored)) = joined else { continue };
        held[position] = stored?;
    }
    Ok(uploads.iter().zip(held).filter(|(_, held)| !held).map(|(upload, _)| *upload).collect())
}

/// Refusals worth retrying: the node has not seen the registration yet, or is busy, or has not
/// switched to the committee this client read yet (a node learns of an epoch change from
/// proven events, a block or two after a client may read the new committee).
fn retriable(e: &NodeError) -> bool {
    match e {
        // A node of another build may not send the codes this one knows: 503 is busy anyway.
        NodeError::Refused { reason, status, .. } => {
            reason.is_retriable() || *reason == Reason::ShardNotAssigned || *status == 503
        }
        NodeError::Transport { .. } => true,
        NodeError::Decode { .. }
        | NodeError::TooLarge { .. }
        | NodeError::Unusable { .. }
        | NodeError::Local { .. } => false,
    }
}
