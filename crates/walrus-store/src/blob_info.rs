//! The node's view of blob objects, from chain events, and the `BlobStatus` it reports.
//!
//! The reference keeps aggregate reference counts per blob ID plus per-object records. We keep
//! only the per-object records (keyed by blob ID, then object ID) and fold them when asked:
//! expiry then needs no bookkeeping, and applying an event twice writes the same record.

use std::collections::BTreeMap;

use fjall::OwnedWriteBatch as WriteBatch;
use serde::{Deserialize, Serialize};
use walrus_chain::{Event, EventEnvelope, EventId};
use walrus_core::{BlobId, Epoch, ObjectId};

use crate::{encode, NodeStore, StoreError};

/// One blob object as the node has seen it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectInfo {
    /// Its blob ID.
    pub blob_id: BlobId,
    /// The object.
    pub object_id: ObjectId,
    /// First epoch no longer stored.
    pub end_epoch: Epoch,
    /// Deletable or permanent.
    pub deletable: bool,
    /// The epoch it was first certified in.
    pub certified_epoch: Option<Epoch>,
    /// Deleted by its owner.
    pub deleted: bool,
    /// The registration event.
    pub registered_event: EventId,
    /// The latest certification (or extension) event.
    pub certified_event: Option<EventId>,
}

impl ObjectInfo {
    /// Registered, not deleted, not expired in `current`.
    pub fn is_live(&self, current: Epoch) -> bool {
        !self.deleted && current < self.end_epoch
    }
}

/// Deletable objects of a blob ID: live ones, and live certified ones. Field names are the
/// reference's (snake case, unlike the rest of the status).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletableCounts {
    /// Live deletable objects.
    pub count_deletable_total: u32,
    /// Live certified deletable objects.
    pub count_deletable_certified: u32,
}

/// A blob ID's status, in the reference's JSON form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum BlobStatus {
    /// No live object.
    Nonexistent,
    /// Marked invalid.
    Invalid {
        /// The invalidation event.
        event: EventId,
    },
    /// At least one live permanent object.
    Permanent {
        /// The furthest end epoch (of the certified objects if any is certified).
        end_epoch: Epoch,
        /// Whether a permanent object is certified.
        is_certified: bool,
        /// The event that set this status.
        status_event: EventId,
        /// Deletable objects besides.
        deletable_counts: DeletableCounts,
        /// The first certification epoch among the live objects.
        initial_certified_epoch: Option<Epoch>,
    },
    /// Only deletable live objects.
    Deletable {
        /// The first certification epoch among the live objects.
        initial_certified_epoch: Option<Epoch>,
        /// Counts.
        deletable_counts: DeletableCounts,
    },
}

/// Folds the objects of one blob ID into its status in epoch `current`.
pub fn status(objects: &[ObjectInfo], current: Epoch) -> BlobStatus {
    let live: Vec<&ObjectInfo> = objects.iter().filter(|o| o.is_live(current)).collect();
    let counts = DeletableCounts {
        count_deletable_total: live.iter().filter(|o| o.deletable).count() as u32,
        count_deletable_certified: live.iter().filter(|o| o.deletable && o.certified_epoch.is_some()).count()
            as u32,
    };
    let initial_certified_epoch = live.iter().filter_map(|o| o.certified_epoch).min();
    let permanent = live.iter().filter(|o| !o.deletable);
    let certified = permanent.clone().filter(|o| o.certified_epoch.is_some()).max_by_key(|o| o.end_epoch);
    let registered = permanent.max_by_key(|o| o.end_epoch);
    if let Some(object) = certified.or(registered) {
        let is_certified = object.certified_epoch.is_some();
        let status_event = match (&object.certified_event, is_certified) {
            (Some(event), true) => event.clone(),
            _ => object.registered_event.clone(),
        };
        return BlobStatus::Permanent {
            end_epoch: object.end_epoch,
            is_certified,
            status_event,
            deletable_counts: counts,
            initial_certified_epoch,
        };
    }
    if counts.count_deletable_total > 0 {
        return BlobStatus::Deletable { initial_certified_epoch, deletable_counts: counts };
    }
    BlobStatus::Nonexistent
}

pub(crate) fn object_key(blob_id: &BlobId, object_id: &ObjectId) -> [u8; 64] {
    let mut key = [0u8; 64];
    key[..32].copy_from_slice(blob_id.as_bytes());
    key[32..].copy_from_slice(&object_id.0);
    key
}

/// Object records changed by a page of events, not yet written.
pub(crate) type Pending = BTreeMap<[u8; 64], ObjectInfo>;

fn known_object(
    store: &NodeStore,
    pending: &Pending,
    blob_id: &BlobId,
    object_id: &ObjectId,
) -> Result<Option<ObjectInfo>, StoreError> {
    let key = object_key(blob_id, object_id);
    if let Some(info) = pending.get(&key) {
        return Ok(Some(info.clone()));
    }
    store.objects.get(key)?.map(|b| crate::decode_object(&b)).transpose()
}

/// Applies one event to the pending records (or, for invalidation, to `batch`).
pub(crate) fn apply(
    store: &NodeStore,
    pending: &mut Pending,
    batch: &mut WriteBatch,
    envelope: &EventEnvelope,
) -> Result<(), StoreError> {
    let fresh = |blob_id: &BlobId, object_id: &ObjectId, end_epoch: &Epoch, deletable: &bool| ObjectInfo {
        blob_id: *blob_id,
        object_id: *object_id,
        end_epoch: *end_epoch,
        deletable: *deletable,
        certified_epoch: None,
        deleted: false,
        registered_event: envelope.event_id(),
        certified_event: None,
    };
    match &envelope.event {
        Event::BlobRegistered { blob_id, end_epoch, deletable, object_id, .. } => {
            let info = fresh(blob_id, object_id, end_epoch, deletable);
            pending.insert(object_key(blob_id, object_id), info);
        }
        Event::BlobCertified { epoch, blob_id, end_epoch, deletable, object_id, .. } => {
            let known = known_object(store, pending, blob_id, object_id)?;
            let mut info = known.unwrap_or_else(|| fresh(blob_id, object_id, end_epoch, deletable));
            info.end_epoch = *end_epoch;
            info.certified_epoch = Some(info.certified_epoch.map_or(*epoch, |e| e.min(*epoch)));
            info.certified_event = Some(envelope.event_id());
            pending.insert(object_key(blob_id, object_id), info);
        }
        Event::BlobDeleted { blob_id, object_id, .. } => {
            if let Some(mut info) = known_object(store, pending, blob_id, object_id)? {
                info.deleted = true;
                pending.insert(object_key(blob_id, object_id), info);
            }
        }
        Event::InvalidBlobID { blob_id, .. } => {
            batch.insert(&store.invalid, blob_id.as_bytes().as_slice(), encode(&envelope.event_id()));
        }
        _ => {}
    }
    Ok(())
}

/// Writes the pending records into `batch`.
pub(crate) fn flush(store: &NodeStore, pending: Pending, batch: &mut WriteBatch) {
    for (key, info) in pending {
        batch.insert(&store.objects, key.as_slice(), crate::encode_object(&info));
    }
}
