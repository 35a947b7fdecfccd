//! A blob's status as the chain sees it, and the wallet's blob objects: list, delete, extend.

use walrus_chain::objects::BlobObject;
use walrus_chain::Call;
use walrus_chain_client::wire::{BlobView, ExecutedTx};
use walrus_chain_client::{ChainClient, ClientError};
use walrus_core::keys::Address;
use walrus_core::{BlobId, Epoch, ObjectId};

use crate::Client;

/// A blob object as the reference's JSON `Blob` (camelCase, as `blobObject` in store results).
pub fn blob_object_json(id: ObjectId, blob: &BlobObject) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "registeredEpoch": blob.registered_epoch.0,
        "blobId": blob.blob_id.to_string(),
        "size": blob.size,
        "encodingType": "RS2",
        "certifiedEpoch": blob.certified_epoch.map(|e| e.0),
        "storage": {
            "id": blob.storage.id,
            "startEpoch": blob.storage.start_epoch.0,
            "endEpoch": blob.storage.end_epoch.0,
            "storageSize": blob.storage.storage_size,
        },
        "deletable": blob.deletable,
    })
}

/// What the chain knows of a blob ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobStatus {
    /// The blob ID.
    pub blob_id: BlobId,
    /// `invalid`, `nonexistent` (no live object), `permanent` (a live permanent object) or
    /// `deletable`, as the reference's `BlobStatus`.
    pub status: &'static str,
    /// Whether a live object is certified.
    pub certified: bool,
    /// The latest end epoch of the live objects.
    pub end_epoch: Option<Epoch>,
    /// The current epoch.
    pub epoch: Epoch,
    /// The live (unexpired) objects.
    pub objects: Vec<(ObjectId, BlobObject)>,
}

/// What the chain knows of `blob_id`: `None` if it never saw it.
pub async fn blob_view(chain: &ChainClient, blob_id: &BlobId) -> Result<Option<BlobView>, ClientError> {
    match chain.blob(blob_id).await {
        Ok(view) => Ok(Some(view)),
        Err(ClientError::Api { status: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The blob's status, from the chain (not from storage nodes, which could lie); needs no wallet.
pub async fn blob_status(chain: &ChainClient, blob_id: &BlobId) -> Result<BlobStatus, ClientError> {
    let epoch = chain.system().await?.system.epoch();
    let (invalid, objects) = match blob_view(chain, blob_id).await? {
        Some(view) => (view.invalid, view.objects),
        None => (false, Vec::new()),
    };
    let objects: Vec<(ObjectId, BlobObject)> = objects
        .into_iter()
        .filter_map(|o| o.object.body.blob().cloned().map(|b| (o.id, b)))
        .filter(|(_, b)| b.end_epoch() > epoch)
        .collect();
    let status = if invalid {
        "invalid"
    } else if objects.is_empty() {
        "nonexistent"
    } else if objects.iter().any(|(_, b)| !b.deletable) {
        "permanent"
    } else {
        "deletable"
    };
    Ok(BlobStatus {
        blob_id: *blob_id,
        status,
        certified: !invalid && objects.iter().any(|(_, b)| b.certified_epoch.is_some()),
        end_epoch: objects.iter().map(|(_, b)| b.end_epoch()).max(),
        epoch,
        objects,
    })
}

impl Client {
    /// [`blob_status`] through this client's chain.
    pub async fn blob_status(&self, blob_id: &BlobId) -> Result<BlobStatus, ClientError> {
        blob_status(&self.chain, blob_id).await
    }

    /// The wallet's blob objects, expired ones included.
    pub async fn owned_blobs(&self) -> Result<Vec<(ObjectId, BlobObject)>, ClientError> {
        let owned = self.chain.owned_objects(&self.wallet.address()).await?;
        Ok(owned.into_iter().filter_map(|o| o.object.body.blob().cloned().map(|b| (o.id, b))).collect())
    }

    /// Runs `call` from the wallet, one transaction of this client at a time (each takes the
    /// next nonce).
    pub async fn execute(&self, call: Call) -> Result<ExecutedTx, ClientError> {
        let _turn = self.tx_turn.lock().await;
        self.chain.execute(&self.wallet, call).await
    }

    /// Gives a blob object (or any owned object) of the wallet to `to`.
    pub async fn transfer_object(&self, object: ObjectId, to: Address) -> Result<(), ClientError> {
        self.execute(Call::TransferObject { object, to }).await.map(drop)
    }

    /// Removes the attributes `remove` (each must be present), then sets `set`, on a blob object
    /// of the wallet.
    pub async fn set_blob_attributes(
        &self,
        blob: ObjectId,
        set: Vec<(String, String)>,
        remove: Vec<String>,
    ) -> Result<(), ClientError> {
        self.execute(Call::SetBlobAttributes { blob, set, remove }).await.map(drop)
    }

    /// Deletes a deletable blob object of the wallet; its storage resource returns to it.
    pub async fn delete_blob(&self, object_id: ObjectId) -> Result<(), ClientError> {
        self.execute(Call::DeleteBlob { blob: object_id }).await.map(drop)
    }

    /// Extends a blob object by `epochs` (paid by the wallet); returns its new end epoch.
    pub async fn extend_blob(&self, object_id: ObjectId, epochs: u32) -> Result<Epoch, ClientError> {
        self.execute(Call::ExtendBlob { blob: object_id, epochs }).await?;
        let object = self.chain.object(&object_id).await?;
        object.object.body.blob().map(BlobObject::end_epoch).ok_or_else(|| ClientError::Decode {
            url: self.chain.base().into(),
            reason: format!("{object_id} is not a blob object"),
        })
    }
}
