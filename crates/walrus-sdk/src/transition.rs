//! The client's side of an epoch change, as the reference's `active_committees.rs` and
//! `retry_if_error_epoch_change`: writes and confirmations go to the current committee, and a
//! store that meets a committee change mid-way is uploaded and certified again against the new
//! one; while the change is in sync, blobs certified before the epoch are read from the previous
//! committee, which still holds the shards that moved.

use std::sync::Arc;
use std::time::Duration;

use walrus_chain::epoch::EpochState;
use walrus_chain::system::Committee;
use walrus_chain_client::ClientError;
use walrus_core::{BlobId, EncodingParams, Epoch, ObjectId};
use walrus_node_client::SliverSource;

use crate::client::{BlobStoreResult, Registered, StoreError};
use crate::upload::Confirmed;
use crate::Client;

/// How often a store starts again after the committee changed under it (the reference: 5).
pub const EPOCH_CHANGE_RETRIES: usize = 5;
/// The pause before each of those attempts.
pub const EPOCH_CHANGE_PAUSE: Duration = Duration::from_secs(1);

impl Client {
    /// After a store of `blob` failed (`failure`) with the committee of `epoch`: if the epoch
    /// has moved on, uploads and certifies again against the new committee (the registration
    /// stays valid), up to [`EPOCH_CHANGE_RETRIES`] times; otherwise the failure stands.
    pub(crate) async fn after_epoch_change(
        &self,
        blob: &Arc<dyn SliverSource>,
        registered: Registered,
        deletable: Option<ObjectId>,
        mut epoch: Epoch,
        failure: StoreError,
    ) -> Result<BlobStoreResult, StoreError> {
        let mut last = failure;
        for _ in 0..EPOCH_CHANGE_RETRIES {
            let network = self.network().await.map_err(|e| StoreError::Network(Arc::new(e)))?;
            if network.committee.epoch == epoch {
                return Err(last);
            }
            epoch = network.committee.epoch;
            tracing::info!(
                "{}: the committee changed to epoch {epoch}; storing again",
                blob.metadata().blob_id()
            );
            tokio::time::sleep(EPOCH_CHANGE_PAUSE).await;
            let attempt = match self.upload_and_confirm(blob, &network.committee, deletable, true).await {
                Ok(Confirmed { certificate, weight, tail, uploaded }) => {
                    let confirmed = (certificate, weight, uploaded);
                    let certified =
                        self.certify(blob, registered.clone(), confirmed, &network.committee).await;
                    Confirmed::tail_ends(tail).await;
                    certified
                }
                Err(e) => Err(e),
            };
            match attempt {
                Ok(stored) => return Ok(stored),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The committee to read `blob_id` from: the current one, except while the epoch change is
    /// in sync, when a blob certified before the epoch is read from the previous committee.
    pub(crate) async fn read_committee(
        &self,
        blob_id: &BlobId,
    ) -> Result<(EncodingParams, Committee), ClientError> {
        let system = self.chain().system().await?.system;
        let params = EncodingParams::new(u64::from(system.params.n_shards))
            .map_err(|e| ClientError::Decode { url: self.chain().base().into(), reason: e.to_string() })?;
        if let (EpochState::ChangeSync { .. }, Some(previous)) =
            (system.epoch_state, &system.previous_committee)
        {
            if let Some(view) = crate::blobs::blob_view(self.chain(), blob_id).await? {
                let certified =
                    view.objects.iter().filter_map(|o| o.object.body.blob()?.certified_epoch).min();
                if certified.is_some_and(|certified| certified < system.epoch()) {
                    return Ok((params, previous.clone()));
                }
            }
        }
        Ok((params, system.committee))
    }
}
