//! The objects accounts own: storage resources, blob objects and staked WAL, as in the
//! reference's `storage_resource.move`, `blob.move` and `staked_wal.move`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use walrus_core::keys::Address;
use walrus_core::{BlobId, EncodingType, Epoch, ObjectId};

use crate::access::{KeyServerInfo, Policy, Subscription};
use crate::amount::Frost;
use crate::error::ExecError;
use crate::site::{Site, SiteName, SiteResource};
use crate::staking::StakedWal;

/// Space reserved for epochs `start_epoch..end_epoch` (end exclusive), in encoded bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageResource {
    /// The resource's ID; kept while the resource is wrapped in a blob.
    pub id: ObjectId,
    /// First epoch covered.
    pub start_epoch: Epoch,
    /// First epoch no longer covered.
    pub end_epoch: Epoch,
    /// Encoded bytes.
    pub storage_size: u64,
}

impl StorageResource {
    /// Whether `epoch` is within `start_epoch..end_epoch`.
    pub fn covers(&self, epoch: Epoch) -> bool {
        self.start_epoch <= epoch && epoch < self.end_epoch
    }
}

/// A registered blob: its ID, size and encoding, the storage it uses, and its certification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobObject {
    /// The object's ID.
    pub id: ObjectId,
    /// The epoch of registration.
    pub registered_epoch: Epoch,
    /// The blob ID (the reference's `u256`, little-endian bytes).
    pub blob_id: BlobId,
    /// Unencoded length in bytes.
    pub size: u64,
    /// The encoding (RS2).
    pub encoding_type: EncodingType,
    /// The epoch of first certification.
    pub certified_epoch: Option<Epoch>,
    /// The wrapped storage resource; its end epoch is the blob's.
    pub storage: StorageResource,
    /// Whether the owner may delete it before its end epoch.
    pub deletable: bool,
    /// Key-value attributes set by the owner (for example `content-type`), in key order.
    pub attributes: BTreeMap<String, String>,
}

impl BlobObject {
    /// The epoch from which the blob is no longer stored.
    pub fn end_epoch(&self) -> Epoch {
        self.storage.end_epoch
    }
}

/// What an object is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectBody {
    /// A storage resource.
    Storage(StorageResource),
    /// A blob.
    Blob(BlobObject),
    /// A blob anyone may fund and extend (the reference's `SharedBlob`); never deleted.
    SharedBlob {
        /// The blob.
        blob: BlobObject,
        /// WAL set aside for its extensions.
        funds: Frost,
    },
    /// Stake with a node's pool (the WAL is in the pool).
    StakedWal(StakedWal),
    /// A Walrus Site.
    Site(Site),
    /// One resource of a site, owned by the site.
    SiteResource(SiteResource),
    /// A registered name pointing at a site.
    SiteName(SiteName),
    /// An access policy for encrypted blobs.
    Policy(Policy),
    /// A paid subscription to a policy.
    Subscription(Subscription),
    /// A registered Seal key server.
    KeyServer(KeyServerInfo),
}

impl ObjectBody {
    /// The blob inside, owned or shared.
    pub fn blob(&self) -> Option<&BlobObject> {
        match self {
            ObjectBody::Blob(blob) | ObjectBody::SharedBlob { blob, .. } => Some(blob),
            _ => None,
        }
    }
}

/// Who may use an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Owner {
    /// One account.
    Address(Address),
    /// Everyone (shared blobs).
    Shared,
    /// Another object (a site's resources): reachable only through it.
    Object(ObjectId),
}

/// A live object and its owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    /// Who may use it.
    pub owner: Owner,
    /// The object.
    pub body: ObjectBody,
}

impl Object {
    /// The storage resource inside, or an error naming `id`.
    pub fn as_storage(&self, id: ObjectId) -> Result<&StorageResource, ExecError> {
        match &self.body {
            ObjectBody::Storage(storage) => Ok(storage),
            _ => Err(ExecError::WrongObjectType { object: id, expected: "storage resource" }),
        }
    }

    /// The blob inside, or an error naming `id`.
    pub fn as_blob(&self, id: ObjectId) -> Result<&BlobObject, ExecError> {
        match &self.body {
            ObjectBody::Blob(blob) => Ok(blob),
            _ => Err(ExecError::WrongObjectType { object: id, expected: "owned blob" }),
        }
    }
}
