//! Uploading a blob to the committee: every member in parallel, until the confirmations cover a
//! quorum; the slower members get a tail.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use walrus_chain::system::{Committee, Member};
use walrus_core::encode::EncodedBlob;
use walrus_core::messages::{BlobPersistenceType, Certificate, SignedMessage, StorageConfirmation};
use walrus_core::params::Quorum;
use walrus_core::{ObjectId, SliverPairIndex, SliverType};
use walrus_node_client::{NodeClient, NodeError, Reason};

use crate::client::{Progress, StoreError, NODE_ATTEMPTS_MAX, RETRY_PAUSE};
use crate::Client;

impl Client {
    /// Uploads to every member in parallel and returns a certificate once the confirmations
    /// cover a quorum; the other uploads get a short tail (half the time so far plus 500 ms,
    /// as the reference), which runs on while the certificate goes to the chain
    /// ([`Confirmed::tail`]), and are then abandoned.
    pub(crate) async fn upload_and_confirm(
        &self,
        blob: &Arc<EncodedBlob>,
        committee: &Committee,
        deletable: Option<ObjectId>,
    ) -> Result<Confirmed, StoreError> {
        let n = blob.metadata().params().n();
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
            let (blob, member) = (Arc::clone(blob), member.clone());
            tasks.spawn(
                async move { (index, member.clone(), store_on(&node, &blob, &member, deletable).await) },
            );
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
        let tail = started.elapsed() / 2 + Duration::from_millis(500);
        let tail = (!tasks.is_empty()).then(|| {
            let rest = async move { while tasks.join_next().await.is_some() {} };
            tokio::spawn(async move {
                let _ = tokio::time::timeout(tail, rest).await;
            })
        });
        let certificate = Certificate::aggregate(signed)?;
        Ok(Confirmed { certificate, weight, tail })
    }
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
}

impl Confirmed {
    /// Waits for the tail.
    pub(crate) async fn tail_ends(tail: Option<tokio::task::JoinHandle<()>>) {
        if let Some(tail) = tail {
            let _ = tail.await;
        }
    }
}

/// Uploads the metadata and the member's slivers (one batch), then asks for its confirmation,
/// retrying with backoff (the node may not have seen the registration yet).
async fn store_on(
    node: &NodeClient,
    blob: &Arc<EncodedBlob>,
    member: &Member,
    deletable: Option<ObjectId>,
) -> Result<SignedMessage, NodeError> {
    let metadata = blob.metadata();
    let blob_id = metadata.blob_id();
    let n = metadata.params().n_shards();
    let uploads: Vec<(SliverPairIndex, SliverType)> = member
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
            node.put_metadata(metadata).await?;
            let metadata_done = started.elapsed();
            if !uploads.is_empty() {
                node.put_slivers_chunked(blob, &uploads).await?;
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
        NodeError::Decode { .. } | NodeError::TooLarge { .. } | NodeError::Unusable { .. } => false,
    }
}
