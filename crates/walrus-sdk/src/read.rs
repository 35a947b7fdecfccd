//! Reading a blob back: metadata that verifies against the blob ID, then only the primary
//! slivers still missing, systematic ones first, verified per node batch; decoding with the
//! chosen consistency check.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;
use walrus_chain::system::Committee;
use walrus_chain_node::ClientError;
use walrus_core::decode::{decode_blob, ConsistencyCheck, DecodeError};
use walrus_core::metadata::VerifiedBlobMetadataWithId;
use walrus_core::sliver::{verify_slivers, UnverifiedSliver, VerifiedSliver};
use walrus_core::{BlobId, EncodingParams, ShardIndex, SliverPairIndex, SliverType};

use crate::client::{Client, Progress};
use crate::node_client::NodeClient;

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A chain request failed.
    #[error(transparent)]
    Chain(#[from] ClientError),
    /// No node served metadata that verifies against the blob ID.
    #[error("no storage node served valid metadata for {0} (not stored, expired, or invalid)")]
    NotFound(BlobId),
    /// Not enough verified primary slivers.
    #[error("only {have} of the {need} primary slivers needed were served and verified")]
    NotEnoughSlivers {
        /// Verified slivers.
        have: usize,
        /// Needed.
        need: usize,
    },
    /// The blob was encoded inconsistently: it has no well-defined content.
    #[error("blob {0} is inconsistently encoded (invalid)")]
    Inconsistent(BlobId),
    /// Decoding failed otherwise.
    #[error("decoding failed: {0}")]
    Decode(String),
}

impl Client {
    /// Reads the blob `blob_id` back, with the reference's default consistency check.
    pub async fn read(&self, blob_id: &BlobId) -> Result<Vec<u8>, ReadError> {
        self.read_with(blob_id, ConsistencyCheck::Default).await
    }

    /// Reads the blob `blob_id` back with the given consistency check (`Strict` re-encodes the
    /// blob and compares the blob ID; `Skip` relies on the slivers' own verification).
    pub async fn read_with(&self, blob_id: &BlobId, check: ConsistencyCheck) -> Result<Vec<u8>, ReadError> {
        let started = Instant::now();
        let (params, committee) = self.committee().await?;
        let metadata = self.read_metadata(blob_id, params, &committee).await?;
        tracing::debug!("{blob_id}: metadata at {:?}", started.elapsed());
        let metadata = Arc::new(metadata);
        let need = params.primary_source_symbols();
        let n = params.n_shards();
        let owners: BTreeMap<ShardIndex, usize> = committee
            .members
            .iter()
            .enumerate()
            .flat_map(|(index, member)| member.shards.iter().map(move |shard| (*shard, index)))
            .collect();
        // Systematic slivers first (decoding from them is a copy), then the repair ones; each
        // round asks only for what is still missing, and a member that failed is not asked again.
        let mut untried = (0..n).map(SliverPairIndex);
        let mut failed: BTreeSet<usize> = BTreeSet::new();
        let mut slivers: BTreeMap<SliverPairIndex, VerifiedSliver> = BTreeMap::new();
        while slivers.len() < need {
            let mut asks: BTreeMap<usize, Vec<SliverPairIndex>> = BTreeMap::new();
            let mut asked = 0;
            while asked < need - slivers.len() {
                let Some(pair) = untried.next() else { break };
                let Some(&member) = owners.get(&blob_id.shard_for_pair(pair, n)) else { continue };
                if !failed.contains(&member) {
                    asks.entry(member).or_default().push(pair);
                    asked += 1;
                }
            }
            if asked == 0 {
                break;
            }
            let mut tasks = JoinSet::new();
            for (member, pairs) in asks {
                let node = NodeClient::new(&committee.members[member].network_address, self.http.clone());
                let metadata = Arc::clone(&metadata);
                tasks.spawn(async move { (member, primaries_from(&node, &metadata, pairs).await) });
            }
            while let Some(joined) = tasks.join_next().await {
                let Ok((member, (found, ask_again))) = joined else { continue };
                slivers.extend(found);
                self.report(Progress::Slivers { blob_id: *blob_id, have: slivers.len().min(need), need });
                if !ask_again {
                    failed.insert(member);
                }
            }
        }
        tracing::debug!("{blob_id}: {} primary slivers at {:?}", slivers.len(), started.elapsed());
        if slivers.len() < need {
            return Err(ReadError::NotEnoughSlivers { have: slivers.len(), need });
        }
        let id = *blob_id;
        tokio::task::spawn_blocking(move || decode_blob(&metadata, slivers.into_values(), check))
            .await
            .map_err(|e| ReadError::Decode(e.to_string()))?
            .map_err(|e| match e {
                DecodeError::InconsistentBlob => ReadError::Inconsistent(id),
                other => ReadError::Decode(other.to_string()),
            })
    }

    /// The first metadata a member serves that verifies against the blob ID.
    async fn read_metadata(
        &self,
        blob_id: &BlobId,
        params: EncodingParams,
        committee: &Committee,
    ) -> Result<VerifiedBlobMetadataWithId, ReadError> {
        for member in &committee.members {
            let node = NodeClient::new(&member.network_address, self.http.clone());
            let Ok(unverified) = node.metadata(blob_id).await else { continue };
            if unverified.blob_id != *blob_id {
                continue;
            }
            if let Ok(verified) = unverified.verify(params) {
                return Ok(verified);
            }
            tracing::warn!("{} served metadata of {blob_id} that does not verify", member.network_address);
        }
        Err(ReadError::NotFound(*blob_id))
    }
}

/// The primary slivers of `pairs` a member serves that verify against the metadata, and
/// whether the member may be asked again (it did not fail, and every sliver it served verified).
async fn primaries_from(
    node: &NodeClient,
    metadata: &Arc<VerifiedBlobMetadataWithId>,
    pairs: Vec<SliverPairIndex>,
) -> (Vec<(SliverPairIndex, VerifiedSliver)>, bool) {
    let n = metadata.params().n_shards();
    let wanted: Vec<(SliverPairIndex, SliverType)> =
        pairs.iter().map(|pair| (*pair, SliverType::Primary)).collect();
    let served = match node.slivers(metadata.blob_id(), &wanted).await {
        Ok(served) if served.len() == wanted.len() => served,
        Ok(_) => return (Vec::new(), false),
        Err(e) => {
            tracing::debug!("{}: {e}", metadata.blob_id());
            return (Vec::new(), false);
        }
    };
    let (pairs, slivers): (Vec<SliverPairIndex>, Vec<UnverifiedSliver>) = pairs
        .into_iter()
        .zip(served)
        .filter_map(|(pair, sliver)| sliver.map(|sliver| (pair, sliver)))
        .unzip();
    let indices_match = pairs
        .iter()
        .zip(&slivers)
        .all(|(pair, sliver)| sliver.index == pair.to_sliver_index(SliverType::Primary, n));
    if !indices_match {
        return (Vec::new(), false);
    }
    let metadata = Arc::clone(metadata);
    let verified =
        tokio::task::spawn_blocking(move || verify_slivers(SliverType::Primary, &metadata, slivers)).await;
    let Ok(verified) = verified else { return (Vec::new(), false) };
    let served = verified.len();
    let good: Vec<(SliverPairIndex, VerifiedSliver)> = pairs
        .into_iter()
        .zip(verified)
        .filter_map(|(pair, verified)| verified.ok().map(|v| (pair, v)))
        .collect();
    let honest = good.len() == served;
    (good, honest)
}
