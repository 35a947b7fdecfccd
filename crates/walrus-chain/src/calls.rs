//! The calls: WAL and object transfers, storage resources, and blobs (register, certify,
//! delete, burn, extend, invalidate), each checked before anything is written.

use walrus_core::hash::Digest;
use walrus_core::keys::Address;
use walrus_core::{BlobId, EncodingParams, EncodingType, Epoch, ObjectId};

use crate::amount::{storage_units, Frost};
use crate::certify::{self, Threshold};
use crate::error::ExecError;
use crate::events::Event;
use crate::objects::{BlobObject, Object, ObjectBody, Owner, StorageResource};
use crate::state::Overlay;
use crate::tx::{Call, CertificateArgs};
use crate::{access, challenge, epoch, governance, site, staking};

/// Runs `call` for `sender` on the overlay.
pub(crate) fn run(o: &mut Overlay<'_>, sender: Address, call: &Call) -> Result<(), ExecError> {
    match call {
        Call::Transfer { to, amount } => {
            o.debit(sender, *amount)?;
            o.credit(*to, *amount)
        }
        Call::TransferWithMemo { to, amount, memo } => {
            if memo.len() > crate::tx::MEMO_BYTES_MAX {
                return Err(ExecError::LimitExceeded {
                    what: "memo bytes",
                    max: crate::tx::MEMO_BYTES_MAX as u64,
                });
            }
            o.debit(sender, *amount)?;
            o.credit(*to, *amount)
        }
        Call::TransferObject { object, to } => {
            let mut found = o.owned(*object, sender)?;
            found.owner = Owner::Address(*to);
            o.put_object(*object, found);
            Ok(())
        }
        Call::ReserveSpace { size, epochs_ahead } => {
            reserve_space(o, sender, *size, *epochs_ahead).map(|_| ())
        }
        Call::SplitStorageByEpoch { storage, epoch } => split_by_epoch(o, sender, *storage, *epoch),
        Call::SplitStorageBySize { storage, size } => split_by_size(o, sender, *storage, *size),
        Call::FuseStorage { first, second } => fuse(o, sender, *first, *second),
        Call::DestroyStorage { storage } => {
            o.owned(*storage, sender)?.as_storage(*storage)?;
            o.delete_object(*storage);
            Ok(())
        }
        Call::RegisterBlob { storage, blob_id, root_hash, size, encoding_type, deletable } => register(
            o,
            sender,
            *storage,
            Registration {
                blob_id: *blob_id,
                root_hash: *root_hash,
                size: *size,
                encoding_type: *encoding_type,
                deletable: *deletable,
            },
        )
        .map(|_| ()),
        Call::CertifyBlob { blob, certificate } => certify_blob(o, sender, *blob, certificate),
        Call::DeleteBlob { blob } => delete_blob(o, sender, *blob),
        Call::BurnBlob { blob } => {
            o.owned(*blob, sender)?.as_blob(*blob)?;
            challenge::check_no_draw_pending(o)?;
            o.delete_object(*blob);
            Ok(())
        }
        Call::ExtendBlob { blob, epochs } => extend_blob(o, sender, *blob, *epochs),
        Call::InvalidateBlobId { certificate } => invalidate(o, certificate),
        Call::RegisterNode(registration) => epoch::register_node(o, sender, registration).map(|_| ()),
        Call::SetNodeVotes { node_id, votes } => epoch::set_votes(o, sender, *node_id, *votes),
        Call::EpochSyncDone { node_id, epoch } => epoch::epoch_sync_done(o, sender, *node_id, *epoch),
        Call::CollectNodeRewards { node_id } => epoch::collect_commission(o, sender, *node_id),
        Call::SetBlobAttributes { blob, set, remove } => set_attributes(o, sender, *blob, set, remove),
        Call::ShareBlob { blob, funds } => share_blob(o, sender, *blob, *funds),
        Call::FundSharedBlob { blob, amount } => fund_shared_blob(o, sender, *blob, *amount),
        Call::ExtendSharedBlob { blob, epochs } => extend_shared_blob(o, *blob, *epochs),
        Call::VotingEnd => epoch::voting_end(o),
        Call::InitiateEpochChange => epoch::initiate_epoch_change(o),
        Call::StakeWithPool { node_id, amount } => staking::stake(o, sender, *node_id, *amount).map(|_| ()),
        Call::RequestWithdrawStake { staked_wal } => staking::request_withdraw(o, sender, *staked_wal),
        Call::WithdrawStake { staked_wal } => staking::withdraw(o, sender, *staked_wal),
        Call::SplitStakedWal { staked_wal, amount } => {
            staking::split(o, sender, *staked_wal, *amount).map(|_| ())
        }
        Call::JoinStakedWal { first, second } => staking::join(o, sender, *first, *second),
        Call::SetCommissionRate { node_id, rate } => epoch::set_commission_rate(o, sender, *node_id, *rate),
        Call::CreateSite { name, metadata } => site::create(o, sender, name, metadata).map(|_| ()),
        Call::UpdateSite(update) => site::update(o, sender, update),
        Call::DestroySite { site } => site::destroy(o, sender, *site),
        Call::SetSiteName { name, site } => site::set_name(o, sender, name, *site),
        Call::CreatePolicy { kind } => access::create_policy(o, sender, kind).map(|_| ()),
        Call::UpdateAllowlist { policy, add, remove } => {
            access::update_allowlist(o, sender, *policy, (add, remove))
        }
        Call::Subscribe { policy } => access::subscribe(o, sender, *policy).map(|_| ()),
        Call::RegisterKeyServer { name, url, public_key, pop } => {
            access::register_key_server(o, sender, (name, url), public_key, pop).map(|_| ())
        }
        Call::ChallengeCommit { epoch, commitment } => challenge::commit(o, sender, *epoch, *commitment),
        Call::ChallengeReveal { epoch, secret } => challenge::reveal(o, sender, *epoch, *secret),
        Call::StartChallenge => challenge::start(o),
        Call::SubmitChallengeCertificate { certificate } => {
            challenge::submit_certificate(o, sender, certificate)
        }
        Call::Propose { node_id, proposal } => governance::propose(o, sender, *node_id, *proposal),
        Call::Vote { node_id, proposal_id } => governance::vote(o, sender, *node_id, *proposal_id),
        Call::SetNodeInfo { node_id, name, network_address, network_public_key } => {
            let info = epoch::NodeInfo { name, network_address, network_public_key };
            epoch::set_node_info(o, sender, *node_id, info)
        }
    }
}

/// `current + offset` as an epoch.
fn epoch_plus(epoch: Epoch, offset: u32) -> Result<Epoch, ExecError> {
    epoch.0.checked_add(offset).map(Epoch).ok_or(ExecError::ArithmeticOverflow)
}

/// Buys `size` bytes for `epochs_ahead` epochs from now; returns the new resource's ID.
pub(crate) fn reserve_space(
    o: &mut Overlay<'_>,
    sender: Address,
    size: u64,
    epochs_ahead: u32,
) -> Result<ObjectId, ExecError> {
    let system = o.system();
    let max = system.params.max_epochs_ahead;
    if epochs_ahead == 0 || epochs_ahead > max {
        return Err(ExecError::InvalidEpochsAhead { epochs: epochs_ahead, max });
    }
    if size == 0 {
        return Err(ExecError::InvalidSize(size));
    }
    let per_epoch = system.params.storage_price_per_unit.checked_mul(storage_units(size))?;
    let start = system.epoch();
    o.debit(sender, per_epoch.checked_mul(u64::from(epochs_ahead))?)?;
    o.system_mut().reserve(0..epochs_ahead, size, per_epoch)?;
    let id = o.new_object_id();
    let storage = StorageResource {
        id,
        start_epoch: start,
        end_epoch: epoch_plus(start, epochs_ahead)?,
        storage_size: size,
    };
    o.put_object(id, Object { owner: Owner::Address(sender), body: ObjectBody::Storage(storage) });
    Ok(id)
}

fn owned_storage(o: &Overlay<'_>, sender: Address, id: ObjectId) -> Result<StorageResource, ExecError> {
    o.owned(id, sender)?.as_storage(id).copied()
}

fn put_storage(o: &mut Overlay<'_>, owner: Address, storage: StorageResource) {
    o.put_object(storage.id, Object { owner: Owner::Address(owner), body: ObjectBody::Storage(storage) });
}

fn split_by_epoch(o: &mut Overlay<'_>, sender: Address, id: ObjectId, epoch: Epoch) -> Result<(), ExecError> {
    let mut first = owned_storage(o, sender, id)?;
    if !(first.start_epoch < epoch && epoch < first.end_epoch) {
        return Err(ExecError::ResourceBounds);
    }
    let second = StorageResource { id: o.new_object_id(), start_epoch: epoch, ..first };
    first.end_epoch = epoch;
    put_storage(o, sender, first);
    put_storage(o, sender, second);
    Ok(())
}

fn split_by_size(o: &mut Overlay<'_>, sender: Address, id: ObjectId, size: u64) -> Result<(), ExecError> {
    let mut first = owned_storage(o, sender, id)?;
    let rest = first
        .storage_size
        .checked_sub(size)
        .ok_or(ExecError::ResourceSize { needed: size, available: first.storage_size })?;
    let second = StorageResource { id: o.new_object_id(), storage_size: rest, ..first };
    first.storage_size = size;
    put_storage(o, sender, first);
    put_storage(o, sender, second);
    Ok(())
}

fn fuse(o: &mut Overlay<'_>, sender: Address, first: ObjectId, second: ObjectId) -> Result<(), ExecError> {
    if first == second {
        return Err(ExecError::IncompatibleStorage);
    }
    let mut a = owned_storage(o, sender, first)?;
    let b = owned_storage(o, sender, second)?;
    if a.start_epoch == b.start_epoch && a.end_epoch == b.end_epoch {
        a.storage_size = a.storage_size.checked_add(b.storage_size).ok_or(ExecError::ArithmeticOverflow)?;
    } else if a.storage_size == b.storage_size && a.end_epoch == b.start_epoch {
        a.end_epoch = b.end_epoch;
    } else if a.storage_size == b.storage_size && b.end_epoch == a.start_epoch {
        a.start_epoch = b.start_epoch;
    } else {
        return Err(ExecError::IncompatibleStorage);
    }
    put_storage(o, sender, a);
    o.delete_object(second);
    Ok(())
}

/// The blob-specific arguments of a registration.
pub(crate) struct Registration {
    pub(crate) blob_id: BlobId,
    pub(crate) root_hash: Digest,
    pub(crate) size: u64,
    pub(crate) encoding_type: u8,
    pub(crate) deletable: bool,
}

/// Registers a blob on `storage`; returns the blob object's ID.
pub(crate) fn register(
    o: &mut Overlay<'_>,
    sender: Address,
    storage: ObjectId,
    r: Registration,
) -> Result<ObjectId, ExecError> {
    let resource = owned_storage(o, sender, storage)?;
    let system = o.system();
    let epoch = system.epoch();
    if r.encoding_type != EncodingType::Rs2.as_u8() {
        return Err(ExecError::UnsupportedEncoding(r.encoding_type));
    }
    if !resource.covers(epoch) {
        return Err(ExecError::ResourceBounds);
    }
    let params =
        EncodingParams::new(u64::from(system.params.n_shards)).map_err(|_| ExecError::InvalidSize(r.size))?;
    let encoded = params.encoded_blob_length(r.size).map_err(|_| ExecError::BlobTooLarge(r.size))?;
    if encoded > resource.storage_size {
        return Err(ExecError::ResourceSize { needed: encoded, available: resource.storage_size });
    }
    if BlobId::from_root(EncodingType::Rs2, r.size, &r.root_hash) != r.blob_id {
        return Err(ExecError::InvalidBlobId(r.blob_id));
    }
    if o.is_invalid(&r.blob_id) {
        return Err(ExecError::BlobIdMarkedInvalid(r.blob_id));
    }
    let write_cost = system.params.write_price_per_unit.checked_mul(storage_units(encoded))?;
    o.debit(sender, write_cost)?;
    o.system_mut().pay_current(write_cost)?;
    let id = o.new_object_id();
    let blob = BlobObject {
        id,
        registered_epoch: epoch,
        blob_id: r.blob_id,
        size: r.size,
        encoding_type: EncodingType::Rs2,
        certified_epoch: None,
        storage: resource,
        deletable: r.deletable,
        attributes: Default::default(),
    };
    o.emit(Event::BlobRegistered {
        epoch,
        blob_id: r.blob_id,
        size: r.size,
        encoding_type: r.encoding_type,
        end_epoch: resource.end_epoch,
        deletable: r.deletable,
        object_id: id,
    });
    o.delete_object(storage);
    o.put_object(id, Object { owner: Owner::Address(sender), body: ObjectBody::Blob(blob) });
    Ok(id)
}

fn owned_blob(o: &Overlay<'_>, sender: Address, id: ObjectId) -> Result<BlobObject, ExecError> {
    o.owned(id, sender)?.as_blob(id).cloned()
}

fn certify_blob(
    o: &mut Overlay<'_>,
    sender: Address,
    id: ObjectId,
    certificate: &CertificateArgs,
) -> Result<(), ExecError> {
    let mut blob = owned_blob(o, sender, id)?;
    let epoch = o.system().epoch();
    if blob.certified_epoch.is_some() {
        return Err(ExecError::AlreadyCertified);
    }
    if epoch >= blob.end_epoch() {
        return Err(ExecError::Expired(blob.end_epoch()));
    }
    let body = certify::verify(o.system(), certificate, Threshold::Quorum, certify::BLOB_CERT, o.verdict())?;
    let confirmed = certify::parse_confirmation(body)?;
    let expected_object = blob.deletable.then_some(id);
    if confirmed.blob_id != blob.blob_id || confirmed.deletable_object != expected_object {
        return Err(ExecError::CertificateMismatch);
    }
    if o.is_invalid(&blob.blob_id) {
        return Err(ExecError::BlobIdMarkedInvalid(blob.blob_id));
    }
    blob.certified_epoch = Some(epoch);
    o.emit(Event::BlobCertified {
        epoch,
        blob_id: blob.blob_id,
        end_epoch: blob.end_epoch(),
        deletable: blob.deletable,
        object_id: id,
        is_extension: false,
    });
    o.put_object(id, Object { owner: Owner::Address(sender), body: ObjectBody::Blob(blob) });
    Ok(())
}

fn delete_blob(o: &mut Overlay<'_>, sender: Address, id: ObjectId) -> Result<(), ExecError> {
    let blob = owned_blob(o, sender, id)?;
    let epoch = o.system().epoch();
    if !blob.deletable {
        return Err(ExecError::NotDeletable);
    }
    if epoch >= blob.end_epoch() {
        return Err(ExecError::Expired(blob.end_epoch()));
    }
    challenge::check_no_draw_pending(o)?;
    o.emit(Event::BlobDeleted {
        epoch,
        blob_id: blob.blob_id,
        end_epoch: blob.end_epoch(),
        object_id: id,
        was_certified: blob.certified_epoch.is_some(),
    });
    o.delete_object(id);
    put_storage(o, sender, blob.storage);
    Ok(())
}

fn extend_blob(o: &mut Overlay<'_>, sender: Address, id: ObjectId, epochs: u32) -> Result<(), ExecError> {
    let mut blob = owned_blob(o, sender, id)?;
    let cost = extend(o, &mut blob, epochs)?;
    o.debit(sender, cost)?;
    o.put_object(id, Object { owner: Owner::Address(sender), body: ObjectBody::Blob(blob) });
    Ok(())
}

/// Extends a certified, unexpired blob by `epochs`: reserves the space in each added epoch,
/// pays those epochs' rewards, and emits the extension event. Returns the price, which the
/// caller takes from the payer.
fn extend(o: &mut Overlay<'_>, blob: &mut BlobObject, epochs: u32) -> Result<Frost, ExecError> {
    let system = o.system();
    let epoch = system.epoch();
    let certified_epoch = blob.certified_epoch.ok_or(ExecError::NotCertified)?;
    if epoch >= blob.end_epoch() {
        return Err(ExecError::Expired(blob.end_epoch()));
    }
    let start = blob.end_epoch().0 - epoch.0;
    let end = start.checked_add(epochs).ok_or(ExecError::ArithmeticOverflow)?;
    if epochs == 0 || end > system.params.max_epochs_ahead {
        return Err(ExecError::InvalidEpochsAhead { epochs: end, max: system.params.max_epochs_ahead });
    }
    let per_epoch =
        system.params.storage_price_per_unit.checked_mul(storage_units(blob.storage.storage_size))?;
    o.system_mut().reserve(start..end, blob.storage.storage_size, per_epoch)?;
    blob.storage.end_epoch = epoch_plus(blob.storage.end_epoch, epochs)?;
    o.emit(Event::BlobCertified {
        epoch: certified_epoch,
        blob_id: blob.blob_id,
        end_epoch: blob.end_epoch(),
        deletable: blob.deletable,
        object_id: blob.id,
        is_extension: true,
    });
    per_epoch.checked_mul(u64::from(epochs))
}

/// Most attributes on one blob object.
pub const ATTRIBUTES_MAX: usize = 256;
/// Longest attribute key, in bytes.
pub const ATTRIBUTE_KEY_BYTES_MAX: usize = 1024;
/// Most bytes of keys and values on one blob object.
pub const ATTRIBUTES_BYTES_MAX: usize = 64 * 1024;

fn set_attributes(
    o: &mut Overlay<'_>,
    sender: Address,
    id: ObjectId,
    set: &[(String, String)],
    remove: &[String],
) -> Result<(), ExecError> {
    let mut blob = owned_blob(o, sender, id)?;
    for key in remove {
        blob.attributes.remove(key).ok_or_else(|| ExecError::AttributeNotFound(key.clone()))?;
    }
    for (key, value) in set {
        if key.len() > ATTRIBUTE_KEY_BYTES_MAX {
            return Err(ExecError::LimitExceeded {
                what: "attribute key bytes",
                max: ATTRIBUTE_KEY_BYTES_MAX as u64,
            });
        }
        blob.attributes.insert(key.clone(), value.clone());
    }
    if blob.attributes.len() > ATTRIBUTES_MAX {
        return Err(ExecError::LimitExceeded { what: "attributes", max: ATTRIBUTES_MAX as u64 });
    }
    let bytes: usize = blob.attributes.iter().map(|(k, v)| k.len() + v.len()).sum();
    if bytes > ATTRIBUTES_BYTES_MAX {
        return Err(ExecError::LimitExceeded { what: "attribute bytes", max: ATTRIBUTES_BYTES_MAX as u64 });
    }
    o.put_object(id, Object { owner: Owner::Address(sender), body: ObjectBody::Blob(blob) });
    Ok(())
}

fn share_blob(o: &mut Overlay<'_>, sender: Address, id: ObjectId, funds: Frost) -> Result<(), ExecError> {
    let blob = owned_blob(o, sender, id)?;
    o.debit(sender, funds)?;
    o.put_object(id, Object { owner: Owner::Shared, body: ObjectBody::SharedBlob { blob, funds } });
    Ok(())
}

fn shared_blob(o: &Overlay<'_>, id: ObjectId) -> Result<(BlobObject, Frost), ExecError> {
    match &o.object(id)?.body {
        ObjectBody::SharedBlob { blob, funds } => Ok((blob.clone(), *funds)),
        _ => Err(ExecError::NotShared(id)),
    }
}

fn fund_shared_blob(
    o: &mut Overlay<'_>,
    sender: Address,
    id: ObjectId,
    amount: Frost,
) -> Result<(), ExecError> {
    let (blob, funds) = shared_blob(o, id)?;
    o.debit(sender, amount)?;
    let funds = funds.checked_add(amount)?;
    o.put_object(id, Object { owner: Owner::Shared, body: ObjectBody::SharedBlob { blob, funds } });
    Ok(())
}

fn extend_shared_blob(o: &mut Overlay<'_>, id: ObjectId, epochs: u32) -> Result<(), ExecError> {
    let (mut blob, funds) = shared_blob(o, id)?;
    let cost = extend(o, &mut blob, epochs)?;
    let funds = funds.checked_sub(cost)?;
    o.put_object(id, Object { owner: Owner::Shared, body: ObjectBody::SharedBlob { blob, funds } });
    Ok(())
}

fn invalidate(o: &mut Overlay<'_>, certificate: &CertificateArgs) -> Result<(), ExecError> {
    let body =
        certify::verify(o.system(), certificate, Threshold::Validity, certify::INVALID_BLOB_ID, o.verdict())?;
    let blob_id = certify::parse_invalid_blob(body)?;
    challenge::check_no_draw_pending(o)?;
    let epoch = o.system().epoch();
    o.mark_invalid(blob_id);
    o.emit(Event::InvalidBlobID { epoch, blob_id });
    Ok(())
}

/// The fee a transaction pays into the current epoch's rewards.
pub(crate) fn charge_fee(o: &mut Overlay<'_>, sender: Address, fee: Frost) -> Result<(), ExecError> {
    o.debit(sender, fee)?;
    o.system_mut().pay_current(fee)
}
