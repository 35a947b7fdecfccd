//! Invalid blobs: when recovery proves that the writer encoded a blob inconsistently, this node
//! sends the inconsistency proof to the other committee members, each of which checks it and
//! answers with a signed `InvalidBlobIdMsg`; once the attesting members hold a validity
//! quorum of shards (`3w >= n + 1`, at least one correct node) the node submits the aggregate
//! certificate to the chain (`InvalidateBlobId`). The chain's `InvalidBlobID` event then makes
//! every node drop the blob's data and report it as invalid.
//!
//! As in the reference, the proof body is the BCS of the axis-specific proof, the axis is in the
//! path (`POST /v1/blobs/{blob_id}/inconsistencyProof/{axis}`), and the answer is the JSON
//! envelope around a `SignedMessage`.

use std::sync::Arc;

use walrus_chain::tx::CertificateArgs;
use walrus_chain::Call;
use walrus_core::inconsistency::InconsistencyProof;
use walrus_core::messages::{Certificate, InvalidBlobIdMsg, ProtocolMessage, SignedMessage};
use walrus_core::params::Quorum;
use walrus_core::{BlobId, SliverType};

use crate::node::Node;

/// Why a blob could not be marked invalid.
#[derive(Debug, thiserror::Error)]
pub enum InvalidateError {
    /// The attestations gathered do not reach validity.
    #[error("attestations of invalid blob {blob_id} cover {weight} shards, below validity")]
    BelowValidity {
        /// The blob.
        blob_id: BlobId,
        /// Shards of the members that attested.
        weight: usize,
    },
    /// The attestations do not aggregate.
    #[error("the attestations do not aggregate: {0}")]
    Certificate(#[from] walrus_core::messages::MessageError),
    /// The operator key cannot be read.
    #[error(transparent)]
    Key(#[from] walrus_chain_node::init::InitError),
    /// The chain refused or did not answer.
    #[error(transparent)]
    Chain(#[from] walrus_chain_client::ClientError),
}

/// This node's attestation that `blob_id` is invalid, for its current epoch.
pub fn attest(node: &Node, blob_id: BlobId) -> SignedMessage {
    let message = ProtocolMessage::new(node.view().epoch, InvalidBlobIdMsg(blob_id));
    node.metrics.invalid_attestations.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    SignedMessage::sign(&node.bls, &message)
}

/// Gathers attestations for `proof` until they reach a validity quorum, then marks the blob
/// invalid on chain.
pub async fn invalidate(
    node: &Arc<Node>,
    blob_id: BlobId,
    axis: SliverType,
    proof: &InconsistencyProof,
) -> Result<(), InvalidateError> {
    let view = node.view();
    let quorum = Quorum::new(view.params.n());
    let mut signed: Vec<(u16, SignedMessage)> = Vec::new();
    let mut weight = 0usize;
    // Every member at once; the answers are taken as they come until they reach validity.
    let mut asks = tokio::task::JoinSet::new();
    for (index, member) in view.committee.members.iter().enumerate() {
        let (node, address, proof) =
            (Arc::clone(node), crate::follower::PeerAddress::of(member), proof.clone());
        let mine = member.public_key == *node.bls.public();
        asks.spawn(async move {
            let attestation = if mine {
                Ok(attest(&node, blob_id))
            } else {
                crate::recovery::peer(&node, &address).inconsistency_proof(&blob_id, axis, &proof).await
            };
            (index, attestation)
        });
    }
    while let Some(joined) = asks.join_next().await {
        let Ok((index, attestation)) = joined else { continue };
        let member = &view.committee.members[index];
        let attestation = match attestation {
            Ok(attestation) => attestation,
            Err(e) => {
                tracing::warn!("attestation of invalid blob {blob_id} from {}: {e}", member.network_address);
                continue;
            }
        };
        if let Err(e) = attestation.verify(&member.public_key, view.epoch, &InvalidBlobIdMsg(blob_id)) {
            tracing::warn!("bad attestation from {}: {e}", member.network_address);
            continue;
        }
        // Committees have at most 65,535 members (a u16 bitmap index).
        let Ok(index) = u16::try_from(index) else { continue };
        signed.push((index, attestation));
        weight += member.shards.len();
        if quorum.includes_one_correct_node(weight) {
            asks.abort_all();
            break;
        }
    }
    // The certificate lists its signers in committee order.
    signed.sort_by_key(|(index, _)| *index);
    if !quorum.includes_one_correct_node(weight) {
        return Err(InvalidateError::BelowValidity { blob_id, weight });
    }
    let certificate = Certificate::aggregate(signed)?;
    let owner = node.owner_key()?;
    let call = Call::InvalidateBlobId { certificate: CertificateArgs::from(certificate) };
    node.chain.execute(owner, call).await?;
    tracing::warn!("blob {blob_id} is inconsistently encoded; marked invalid on chain");
    Ok(())
}
