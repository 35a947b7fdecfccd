//! The node's protocol rules, free of HTTP: what may be stored, served and signed, and why a
//! request is refused ([`ServiceError`]). The REST adapter ([`crate::api`], [`crate::batch`])
//! parses paths and bodies, runs these on a blocking thread, and maps a refusal to its status and
//! the reference's reason code in one place (`api::http`).
//!
//! Every function here runs store work and must not be called on an async thread.

use std::collections::BTreeSet;

use walrus_core::inconsistency::{InconsistencyProof, InconsistencyProofError};
use walrus_core::messages::{BlobPersistenceType, ProtocolMessage, SignedMessage, StorageConfirmation};
use walrus_core::metadata::{
    BlobMetadata, MetadataError, UnverifiedBlobMetadataWithId, VerifiedBlobMetadataWithId,
};
use walrus_core::recovery::{
    symbols_response_bytes, targets_per_request, RECOVERY_RESPONSE_BYTES_MAX, RECOVERY_TARGETS_MAX,
};
use walrus_core::sliver::{
    parse_uploads, verify_uploads, SliverError, UnverifiedSliver, UploadParseError, BATCH_READ_BYTES_MAX,
};
use walrus_core::{BlobId, Epoch, ObjectId, ShardIndex, SliverIndex, SliverPairIndex, SliverType};
use walrus_store::{BlobStatus, StoreError};

use crate::node::Node;
use crate::pending::PendingError;
use crate::recovery::symbols_for;

/// Most entries in one batch: both slivers of every pair.
pub const BATCH_ENTRIES_MAX: usize = 2 * 65_535;

/// Why the node refuses a request. Each variant has one HTTP status and reason code
/// (`api::http`); the `Display` text is the error's message, and documents the variant.
#[allow(missing_docs)]
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    // What the request says does not parse.
    #[error("{0:?} is not a blob ID")]
    InvalidBlobId(String),
    #[error("the sliver type is primary or secondary")]
    InvalidSliverType,
    #[error("{0:?} is not a sliver pair index")]
    InvalidSliverPair(String),
    #[error("{0:?} is not an object ID")]
    InvalidObjectId(String),
    #[error("{message}")]
    BodyRejected { too_large: bool, message: String },
    #[error("the body declares {declared} bytes; the limit is {limit}")]
    BodyTooLarge { declared: u64, limit: u64 },
    #[error("not BCS BlobMetadata: {0}")]
    MetadataBcs(bcs::Error),
    #[error("not a BCS sliver: {0}")]
    SliverBcs(bcs::Error),
    #[error("{0}")]
    UploadsBcs(UploadParseError),
    #[error("not a BCS list of (pair, axis): {0}")]
    BatchBcs(bcs::Error),
    #[error("not a BCS recovery request: {0}")]
    RecoveryBcs(bcs::Error),
    #[error("not a BCS inconsistency proof: {0}")]
    ProofBcs(bcs::Error),

    // The blob's state on chain, as this node has seen it.
    #[error("blob {0} is not registered or has expired")]
    NotRegistered(BlobId),
    #[error("no permanent registration of blob {0}")]
    NotPermanent(BlobId),
    #[error("{0} is not a live deletable blob object")]
    NotLiveDeletable(ObjectId),
    #[error("blob {0} is marked invalid")]
    InvalidBlob(BlobId),

    // What the node holds.
    #[error("no metadata for blob {0}")]
    MetadataNotFound(BlobId),
    #[error("store the blob's metadata first")]
    MetadataFirst,
    #[error("this sliver is not stored")]
    SliverNotFound,
    #[error("this node holds no slivers of the blob")]
    NoSlivers,
    #[error("sliver pair index must be below {n}")]
    PairOutOfRange { n: u16 },
    #[error("this node does not hold shard {0}")]
    ShardNotAssigned(ShardIndex),

    // What was sent does not check out.
    #[error("{0}")]
    InvalidMetadata(MetadataError),
    #[error("{0}")]
    InvalidSliver(SliverError),
    #[error("the sliver's index does not match its pair")]
    SliverIndexMismatch,
    #[error("{0}")]
    InvalidProof(InconsistencyProofError),

    // Batches and recovery requests.
    #[error("1..={BATCH_ENTRIES_MAX} slivers per batch")]
    BatchLength,
    #[error("the same sliver appears twice")]
    DuplicateSliver,
    #[error("the slivers asked for add up to {total} bytes; a batch read is at most {BATCH_READ_BYTES_MAX}")]
    BatchTooLarge { total: u64 },
    #[error("entry {index}: {source}")]
    Entry { index: usize, source: Box<ServiceError> },
    #[error("1..={RECOVERY_TARGETS_MAX} targets below {n}")]
    InvalidTargets { n: u16 },
    #[error("the same target appears twice")]
    DuplicateTarget,
    #[error("the symbols for {targets} targets could take {bytes} bytes; ask for at most {per_request} targets at once")]
    ResponseTooLarge { targets: usize, bytes: u64, per_request: usize },

    // Shard sync.
    #[error("not a BCS signed shard-sync request: {0}")]
    SyncBcs(bcs::Error),
    #[error("malformed shard-sync request: {0}")]
    SyncMalformed(String),
    #[error("shard sync refused: {0}")]
    SyncUnauthorized(&'static str),
    #[error("shard sync for epoch {asked}; this node is in epoch {current}")]
    SyncEpoch { asked: Epoch, current: Epoch },

    // Signing.
    #[error("epoch {seen} began and this node has not read its committee yet; retry")]
    CommitteeNotCurrent { seen: u32 },
    #[error("this node holds no shards in epoch {0}")]
    NotInCommittee(Epoch),
    #[error("shard {shard} does not have the {axis} sliver yet")]
    MissingSlivers { shard: ShardIndex, axis: SliverType },

    // Load.
    #[error("{0}")]
    Pending(PendingError),
    #[error("the node is receiving as many uploads as it takes at once; retry")]
    TooManyUploads,
    #[error("the node is serving as many bytes as it holds at once; retry")]
    TooManyReads,
    #[error("the node is stopping")]
    Stopping,
    #[error("a storage challenge is running: slivers and symbols of this blob are not served now; retry in {retry_after_s} s")]
    ChallengeInProgress { retry_after_s: u64 },

    // Storage challenges.
    #[error("this node has not seen the challenge of epoch {0} start; retry")]
    ChallengeUnknown(Epoch),
    #[error("{0} is not in the committee")]
    ProverNotInCommittee(ObjectId),
    #[error("a challenge item names a blob or a shard outside the prover's items")]
    InvalidChallengeItem,
    #[error("not a BCS challenge chunk: {0}")]
    ChallengeBcs(bcs::Error),
    #[error("the chunk is not signed by the prover")]
    ChallengeSignature,
    #[error("the deadline of epoch {0}'s challenge has passed")]
    ChallengeOver(Epoch),

    // The node's own failures (logged in full; the client sees the message only).
    #[error("the node's store failed")]
    Store(#[from] StoreError),
    #[error("stored metadata is corrupt")]
    CorruptMetadata,
    #[error("stored sliver is corrupt")]
    CorruptSliver,
    #[error("a task of the node failed")]
    Task(String),
}

impl ServiceError {
    /// The error that entry `index` of a batch caused.
    fn at(index: usize) -> impl Fn(ServiceError) -> ServiceError {
        move |e| ServiceError::Entry { index, source: Box::new(e) }
    }

    /// The error itself, or the entry's cause for a batch entry.
    pub fn cause(&self) -> &ServiceError {
        match self {
            ServiceError::Entry { source, .. } => source.cause(),
            e => e,
        }
    }
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Written now.
    Created,
    /// It was stored already (and what was sent checked out).
    AlreadyStored,
    /// Held until the blob's registration is seen (`?pending=true`).
    Buffered,
}

/// The blob's status, if it is registered (and not invalid) in the node's view.
pub fn registered(node: &Node, blob_id: &BlobId) -> Result<BlobStatus, ServiceError> {
    match node.store.blob_status(blob_id, node.view().epoch)? {
        BlobStatus::Nonexistent => Err(ServiceError::NotRegistered(*blob_id)),
        BlobStatus::Invalid { .. } => Err(ServiceError::InvalidBlob(*blob_id)),
        status => Ok(status),
    }
}

/// The blob's stored metadata, verified.
pub fn stored_metadata(node: &Node, blob_id: &BlobId) -> Result<VerifiedBlobMetadataWithId, ServiceError> {
    let stored = node.store.metadata(blob_id)?.ok_or(ServiceError::MetadataNotFound(*blob_id))?;
    stored.verify(node.view().params).map_err(|e| {
        tracing::error!("stored metadata of {blob_id} fails verification: {e}");
        ServiceError::CorruptMetadata
    })
}

/// The metadata a write verifies against: it must be stored first.
fn metadata_for_write(node: &Node, blob_id: &BlobId) -> Result<VerifiedBlobMetadataWithId, ServiceError> {
    stored_metadata(node, blob_id).map_err(|e| match e {
        ServiceError::MetadataNotFound(_) => ServiceError::MetadataFirst,
        e => e,
    })
}

/// Whether an upload should be buffered: `pending` asked, and the blob not registered yet.
/// Other refusals (an invalid blob) stay errors.
fn should_buffer(node: &Node, blob_id: &BlobId, pending: bool) -> Result<bool, ServiceError> {
    match registered(node, blob_id) {
        Ok(_) => Ok(false),
        Err(ServiceError::NotRegistered(_)) if pending => Ok(true),
        Err(e) => Err(e),
    }
}

/// After buffering: if the registration arrived meanwhile, flush now (the follower's flush for
/// it may already have run).
fn flush_if_registered(node: &Node, blob_id: &BlobId) -> Result<(), ServiceError> {
    if registered(node, blob_id).is_ok() {
        crate::pending::flush(node, blob_id)?;
    }
    Ok(())
}

/// The shard that holds `pair` of `blob_id`, checked to be this node's (to write to).
pub fn own_shard(node: &Node, blob_id: &BlobId, pair: SliverPairIndex) -> Result<ShardIndex, ServiceError> {
    shard_of(node, blob_id, pair, false)
}

/// The shard that holds `pair` of `blob_id`, checked to be one this node serves reads of (its
/// own, or one it held in the last epoch).
pub fn served_shard(
    node: &Node,
    blob_id: &BlobId,
    pair: SliverPairIndex,
) -> Result<ShardIndex, ServiceError> {
    shard_of(node, blob_id, pair, true)
}

fn shard_of(
    node: &Node,
    blob_id: &BlobId,
    pair: SliverPairIndex,
    read: bool,
) -> Result<ShardIndex, ServiceError> {
    let view = node.view();
    let n = view.params.n_shards();
    if pair.0 >= n {
        return Err(ServiceError::PairOutOfRange { n });
    }
    let shard = blob_id.shard_for_pair(pair, n);
    let allowed = if read { view.serves(shard) } else { view.holds(shard) };
    if !allowed {
        return Err(ServiceError::ShardNotAssigned(shard));
    }
    Ok(shard)
}

/// Stores the blob's metadata once it is verified against the blob ID.
pub fn put_metadata(
    node: &Node,
    blob_id: BlobId,
    metadata: BlobMetadata,
    pending: bool,
) -> Result<Stored, ServiceError> {
    let buffer = should_buffer(node, &blob_id, pending)?;
    let verified = UnverifiedBlobMetadataWithId::new(blob_id, metadata)
        .verify(node.view().params)
        .map_err(ServiceError::InvalidMetadata)?;
    if buffer {
        node.pending.put_metadata(verified).map_err(ServiceError::Pending)?;
        flush_if_registered(node, &blob_id)?;
        return Ok(Stored::Buffered);
    }
    // Checked again under the blob's lock: garbage collection may have run meanwhile.
    let _shared = node.blob_locks.shared(&blob_id);
    registered(node, &blob_id)?;
    if node.store.has_metadata(&blob_id)? {
        return Ok(Stored::AlreadyStored);
    }
    node.store.put_metadata(&verified)?;
    node.metrics.metadata_stored.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(Stored::Created)
}

/// The metadata of a registered blob, as BCS.
pub fn metadata(node: &Node, blob_id: &BlobId) -> Result<Vec<u8>, ServiceError> {
    registered(node, blob_id).map_err(|_| ServiceError::MetadataNotFound(*blob_id))?;
    Ok(stored_metadata(node, blob_id)?.to_bcs())
}

/// `stored`, `buffered` or `nonexistent`.
pub fn metadata_status(node: &Node, blob_id: &BlobId) -> Result<&'static str, ServiceError> {
    Ok(if node.store.has_metadata(blob_id)? {
        "stored"
    } else if node.pending.has_metadata(blob_id) {
        "buffered"
    } else {
        "nonexistent"
    })
}

/// Stores one sliver once it is verified against the stored metadata.
pub fn put_sliver(
    node: &Node,
    blob_id: BlobId,
    pair: SliverPairIndex,
    axis: SliverType,
    sliver: UnverifiedSliver,
    pending: bool,
) -> Result<Stored, ServiceError> {
    let shard = own_shard(node, &blob_id, pair)?;
    let buffer = should_buffer(node, &blob_id, pending)?;
    if sliver.index != pair.to_sliver_index(axis, node.view().params.n_shards()) {
        return Err(ServiceError::SliverIndexMismatch);
    }
    if buffer {
        node.pending.put_sliver(blob_id, shard, axis, sliver).map_err(ServiceError::Pending)?;
        flush_if_registered(node, &blob_id)?;
        return Ok(Stored::Buffered);
    }
    let _shared = node.blob_locks.shared(&blob_id);
    registered(node, &blob_id)?;
    let metadata = metadata_for_write(node, &blob_id)?;
    // Verified first: garbage is refused even when the sliver is stored already.
    let verified = sliver.verify(axis, &metadata).map_err(ServiceError::InvalidSliver)?;
    if node.store.has_sliver(shard, axis, &blob_id)? {
        return Ok(Stored::AlreadyStored);
    }
    node.store.put_slivers(&blob_id, &[(shard, &verified)])?;
    node.metrics.count_sliver(axis);
    Ok(Stored::Created)
}

/// One stored sliver of a registered blob, verified again, as BCS.
pub fn sliver(
    node: &Node,
    blob_id: &BlobId,
    pair: SliverPairIndex,
    axis: SliverType,
) -> Result<Vec<u8>, ServiceError> {
    let shard = served_shard(node, blob_id, pair)?;
    registered(node, blob_id)?;
    crate::challenge::gate(node, Some(blob_id))?;
    let sliver = node.store.sliver(shard, axis, blob_id)?.ok_or(ServiceError::SliverNotFound)?;
    let metadata = stored_metadata(node, blob_id)?;
    let verified = sliver.verify(axis, &metadata).map_err(|e| {
        tracing::error!("stored sliver {blob_id}/{shard}/{axis} fails verification: {e}");
        ServiceError::CorruptSliver
    })?;
    Ok(verified.to_bcs())
}

/// Whether the sliver is stored here.
pub fn sliver_status(
    node: &Node,
    blob_id: &BlobId,
    pair: SliverPairIndex,
    axis: SliverType,
) -> Result<bool, ServiceError> {
    let shard = served_shard(node, blob_id, pair)?;
    Ok(node.store.has_sliver(shard, axis, blob_id)?)
}

/// The blob's status in the node's view.
pub fn blob_status(node: &Node, blob_id: &BlobId) -> Result<BlobStatus, ServiceError> {
    Ok(node.store.blob_status(blob_id, node.view().epoch)?)
}

/// A signed confirmation of a permanent registration.
pub fn confirm_permanent(node: &Node, blob_id: BlobId) -> Result<SignedMessage, ServiceError> {
    let _shared = node.blob_locks.shared(&blob_id);
    if !matches!(registered(node, &blob_id)?, BlobStatus::Permanent { .. }) {
        return Err(ServiceError::NotPermanent(blob_id));
    }
    confirm(node, blob_id, BlobPersistenceType::Permanent)
}

/// A signed confirmation of the deletable blob object `object_id`.
pub fn confirm_deletable(
    node: &Node,
    blob_id: BlobId,
    object_id: ObjectId,
) -> Result<SignedMessage, ServiceError> {
    let _shared = node.blob_locks.shared(&blob_id);
    registered(node, &blob_id)?;
    let epoch = node.view().epoch;
    let live = node
        .store
        .objects_of(&blob_id)?
        .iter()
        .any(|o| o.object_id == object_id && o.deletable && o.is_live(epoch));
    if !live {
        return Err(ServiceError::NotLiveDeletable(object_id));
    }
    confirm(node, blob_id, BlobPersistenceType::Deletable { object_id })
}

/// Signs a confirmation if every shard of this node holds both slivers of the blob (the
/// caller holds the blob's lock, so garbage collection cannot remove them meanwhile).
fn confirm(
    node: &Node,
    blob_id: BlobId,
    blob_type: BlobPersistenceType,
) -> Result<SignedMessage, ServiceError> {
    let view = node.view();
    let seen = node.epoch_seen.load(std::sync::atomic::Ordering::Relaxed);
    if view.epoch.0 < seen {
        return Err(ServiceError::CommitteeNotCurrent { seen });
    }
    if view.shards.is_empty() {
        return Err(ServiceError::NotInCommittee(view.epoch));
    }
    for shard in &view.shards {
        for axis in [SliverType::Primary, SliverType::Secondary] {
            if !node.store.has_sliver(*shard, axis, &blob_id)? {
                return Err(ServiceError::MissingSlivers { shard: *shard, axis });
            }
        }
    }
    let message = ProtocolMessage::new(view.epoch, StorageConfirmation { blob_id, blob_type });
    node.metrics.confirmations.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(SignedMessage::sign(&node.bls, &message))
}

/// Recovery targets checked: at most [`RECOVERY_TARGETS_MAX`], each below the shard count, none
/// twice.
pub fn check_targets(node: &Node, targets: &[(SliverType, SliverIndex)]) -> Result<(), ServiceError> {
    let n = node.view().params.n_shards();
    if targets.is_empty() || targets.len() > RECOVERY_TARGETS_MAX || targets.iter().any(|(_, i)| i.0 >= n) {
        return Err(ServiceError::InvalidTargets { n });
    }
    let distinct: BTreeSet<_> = targets.iter().collect();
    if distinct.len() != targets.len() {
        return Err(ServiceError::DuplicateTarget);
    }
    Ok(())
}

/// What serving symbols for `targets` will take: the blob's metadata and the bytes it will hold
/// (the answer, at most [`RECOVERY_RESPONSE_BYTES_MAX`], and one sliver's expansion).
pub fn plan_symbols(
    node: &Node,
    blob_id: &BlobId,
    targets: usize,
) -> Result<(VerifiedBlobMetadataWithId, u64), ServiceError> {
    registered(node, blob_id)?;
    crate::challenge::gate(node, Some(blob_id))?;
    let metadata = stored_metadata(node, blob_id)?;
    let (params, symbol_size) = (metadata.params(), metadata.symbol_size());
    let held = node.view().served().count();
    let answer = symbols_response_bytes(params, symbol_size, targets, held);
    if answer > RECOVERY_RESPONSE_BYTES_MAX {
        return Err(ServiceError::ResponseTooLarge {
            targets,
            bytes: answer,
            per_request: targets_per_request(params, symbol_size, held),
        });
    }
    let expansion = (params.n() as u64) * (u64::from(symbol_size) + 64);
    Ok((metadata, answer + expansion))
}

/// The recovery symbols this node's slivers give for `targets`, as BCS
/// `Vec<GeneralRecoverySymbol>`.
pub fn symbols(
    node: &Node,
    metadata: &VerifiedBlobMetadataWithId,
    targets: &[(SliverType, SliverIndex)],
) -> Result<Vec<u8>, ServiceError> {
    let symbols = symbols_for(node, metadata, targets)?;
    if symbols.is_empty() {
        return Err(ServiceError::NoSlivers);
    }
    bcs::to_bytes(&symbols).map_err(|e| ServiceError::Task(format!("encoding symbols: {e}")))
}

/// Checks another node's proof that the blob is inconsistently encoded and, if it holds, signs
/// this node's `InvalidBlobIdMsg`.
pub fn inconsistency_proof(
    node: &Node,
    blob_id: BlobId,
    axis: SliverType,
    proof: &InconsistencyProof,
) -> Result<SignedMessage, ServiceError> {
    let metadata = stored_metadata(node, &blob_id)?;
    proof.verify(axis, &metadata).map_err(ServiceError::InvalidProof)?;
    Ok(crate::invalid::attest(node, blob_id))
}

fn check_batch_len(len: usize) -> Result<(), ServiceError> {
    if len == 0 || len > BATCH_ENTRIES_MAX {
        return Err(ServiceError::BatchLength);
    }
    Ok(())
}

/// Stores a batch of slivers of one blob (the BCS body of `PUT /v1/blobs/{id}/slivers`),
/// parsed, verified and written in place, all or none. Answers (stored now, stored already).
pub fn put_slivers(node: &Node, blob_id: BlobId, body: &[u8]) -> Result<(usize, usize), ServiceError> {
    let started = std::time::Instant::now();
    // Parsed, verified and written in place: the body is the only copy of the slivers.
    let uploads = parse_uploads(body).map_err(ServiceError::UploadsBcs)?;
    check_batch_len(uploads.len())?;
    let _shared = node.blob_locks.shared(&blob_id);
    registered(node, &blob_id)?;
    let metadata = metadata_for_write(node, &blob_id)?;
    let n = node.view().params.n_shards();
    let mut seen = BTreeSet::new();
    let mut shards: Vec<(usize, ShardIndex, bool)> = Vec::with_capacity(uploads.len());
    for (i, upload) in uploads.iter().enumerate() {
        let at = ServiceError::at(i);
        let shard = own_shard(node, &blob_id, upload.pair).map_err(&at)?;
        if !seen.insert((upload.pair, upload.axis)) {
            return Err(at(ServiceError::DuplicateSliver));
        }
        if upload.sliver.index != upload.pair.to_sliver_index(upload.axis, n) {
            return Err(at(ServiceError::SliverIndexMismatch));
        }
        shards.push((i, shard, node.store.has_sliver(shard, upload.axis, &blob_id)?));
    }
    let decoded = started.elapsed();
    // Every entry is verified, stored ones too: garbage is refused, never "already stored".
    let mut verified = Vec::with_capacity(shards.len());
    let mut already = 0;
    for ((i, shard, stored), result) in shards.into_iter().zip(verify_uploads(&metadata, &uploads)) {
        let sliver = result.map_err(|e| ServiceError::at(i)(ServiceError::InvalidSliver(e)))?;
        if stored {
            already += 1;
        } else {
            verified.push((shard, sliver));
        }
    }
    let checked = started.elapsed();
    node.store.put_verified(&blob_id, &verified)?;
    tracing::debug!(
        "{blob_id}: {} slivers, parsed {decoded:?}, verified {checked:?}, written {:?}",
        verified.len(),
        started.elapsed()
    );
    for (_, sliver) in &verified {
        node.metrics.count_sliver(sliver.axis());
    }
    Ok((verified.len(), already))
}

/// Where the slivers of a batch read are, checked whole first: no sliver twice, each of a
/// shard held here, at most [`BATCH_READ_BYTES_MAX`] sliver bytes in all. Answers each
/// sliver's (shard, axis) in request order, and the largest sliver's size.
pub fn plan_batch_read(
    node: &Node,
    blob_id: &BlobId,
    wanted: Vec<(SliverPairIndex, SliverType)>,
) -> Result<(Vec<(ShardIndex, SliverType)>, u64), ServiceError> {
    check_batch_len(wanted.len())?;
    registered(node, blob_id)?;
    crate::challenge::gate(node, Some(blob_id))?;
    // Only the blob's length is needed (for the slivers' sizes): the metadata was verified
    // when it was stored, and is not verified again on this hot path.
    let stored = node.store.metadata(blob_id)?.ok_or(ServiceError::MetadataNotFound(*blob_id))?;
    let (params, length) = (node.view().params, stored.metadata.unencoded_length());
    let mut seen = BTreeSet::new();
    let (mut total, mut largest) = (0u64, 0u64);
    let mut located = Vec::with_capacity(wanted.len());
    for (i, (pair, axis)) in wanted.into_iter().enumerate() {
        let at = ServiceError::at(i);
        if !seen.insert((pair, axis)) {
            return Err(at(ServiceError::DuplicateSliver));
        }
        let shard = served_shard(node, blob_id, pair).map_err(&at)?;
        let size = params.sliver_size(axis, length).map_err(|_| ServiceError::CorruptMetadata)? as u64;
        total += size;
        largest = largest.max(size);
        located.push((shard, axis));
    }
    if total > BATCH_READ_BYTES_MAX {
        return Err(ServiceError::BatchTooLarge { total });
    }
    Ok((located, largest))
}
