//! The whole chain state, its digest, and the write-set overlay that makes every call atomic.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use walrus_core::hash::{blake2b256_parts, Digest};
use walrus_core::keys::{Address, Ed25519PublicKey};
use walrus_core::{BlobId, ObjectId};

use crate::amount::Frost;
use crate::certify::Verdict;
use crate::error::ExecError;
use crate::events::Event;
use crate::evidence::Conviction;
use crate::light::{system_digest, StateHeader};
use crate::objects::{Object, ObjectBody, Owner};
use crate::records::Tag;
use crate::system::System;
use crate::tables::{Index, Records};
use crate::tx::TxDigest;

/// An account's balance and the nonce its next transaction must carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// WAL held.
    pub balance: Frost,
    /// Transactions included so far.
    pub nonce: u64,
}

/// How many past state digests a state keeps, so a block may commit to a state up to this many
/// heights old (the lagged commitment of [`crate::block::ExecCommitment`]).
pub const EXEC_LAG_MAX: u64 = 32;

/// Everything the chain knows: a few fields held in memory, and the records (accounts,
/// objects, the blob-ID index, invalid blob IDs, convictions) with the object indexes in
/// [`Records`], whose tables a host keeps in its database. Its BCS bytes leave the records out:
/// they are the state's head, which a host stores beside the tables it flushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The genesis digest; transactions name it.
    pub chain_id: Digest,
    /// Height of the last executed block (0: genesis).
    pub height: u64,
    /// Digest of the last executed block (the chain ID at genesis).
    pub last_block: Digest,
    /// Timestamp of the last executed block, in milliseconds.
    pub timestamp_ms: u64,
    /// The system object.
    pub system: System,
    /// The registered key servers (an index of the objects, kept by [`apply`]).
    pub key_servers: BTreeSet<ObjectId>,
    /// All WAL in existence: the genesis allocations less what was burned.
    pub total_supply: Frost,
    /// WAL burned at epoch changes.
    pub burned: Frost,
    /// The records, their indexes and their Merkle commitment ([`crate::records`]), kept in
    /// step by [`apply`]. Not in the BCS bytes: a host sets them to its tables after decoding.
    #[serde(skip)]
    pub records: Records,
    /// [`crate::light::fold_event`] over every event so far (zeros at genesis).
    pub events_digest: Digest,
    /// The height of the state the last block committed to.
    pub last_exec_height: u64,
    /// The digests of the last [`EXEC_LAG_MAX`] states (this one's included), by height.
    pub recent_digests: BTreeMap<u64, Digest>,
    /// The genesis validators' consensus keys, in genesis order (the chain ID commits to them).
    pub validators: Vec<Ed25519PublicKey>,
    /// Per validator that equivocated, its record (also a record, for proofs).
    pub convictions: BTreeMap<Ed25519PublicKey, Conviction>,
}

impl State {
    /// The state digest: that of its [`StateHeader`]. It costs the size of the system object,
    /// not of the state: the records tree is rehashed where a block writes.
    pub fn digest(&self) -> Digest {
        self.header().0.digest()
    }

    /// The header a block's execution commitment names, and the system object's BCS bytes (the
    /// header holds their digest).
    pub fn header(&self) -> (StateHeader, Vec<u8>) {
        let system = bcs::to_bytes(&self.system).expect("plain BCS");
        let header = StateHeader {
            chain_id: self.chain_id,
            height: self.height,
            last_block: self.last_block,
            timestamp_ms: self.timestamp_ms,
            total_supply: self.total_supply,
            burned: self.burned,
            last_exec_height: self.last_exec_height,
            events_digest: self.events_digest,
            system_digest: system_digest(&system),
            records_root: self.records.root(),
        };
        (header, system)
    }

    /// The value's BCS bytes of record (`tag`, `key`), if the state holds it.
    pub fn record_value(&self, tag: Tag, key: &[u8; 32]) -> Option<Vec<u8>> {
        self.records.get(tag, key).map(|stored| stored.value)
    }

    /// Records a conviction of `validator` (replacing its previous one, if any).
    pub(crate) fn set_conviction(&mut self, validator: Ed25519PublicKey, conviction: Conviction) {
        self.records.put_value(Tag::Conviction, validator.0, &conviction);
        self.convictions.insert(validator, conviction);
    }

    /// Records the digest of this state among the recent ones, forgetting the too old.
    pub(crate) fn remember_digest(&mut self) -> (StateHeader, Digest) {
        self.records.refresh();
        let header = self.header().0;
        let digest = header.digest();
        self.recent_digests.insert(self.height, digest);
        while self.recent_digests.len() as u64 > EXEC_LAG_MAX {
            self.recent_digests.pop_first();
        }
        (header, digest)
    }

    /// The account of `address` (empty if it never received anything).
    pub fn account(&self, address: &Address) -> Account {
        self.records.get_as(Tag::Account, &address.0).unwrap_or_default()
    }

    /// Sets the account of `address`.
    pub(crate) fn set_account(&mut self, address: Address, account: Account) {
        self.records.put_value(Tag::Account, address.0, &account);
    }

    /// The live object `id`.
    pub fn object(&self, id: &ObjectId) -> Option<Object> {
        self.records.get_as(Tag::Object, &id.0)
    }

    /// Whether `blob_id` was marked invalid.
    pub fn is_invalid(&self, blob_id: &BlobId) -> bool {
        self.records.get(Tag::Invalid, &blob_id.0).is_some()
    }

    /// The objects registered for `blob_id`.
    pub fn blob_index(&self, blob_id: &BlobId) -> BTreeSet<ObjectId> {
        self.records.get_as(Tag::BlobIndex, &blob_id.0).unwrap_or_default()
    }

    /// Every blob ID with registered objects, and those objects, in blob-ID order (a scan of
    /// the whole index).
    pub fn blob_ids(&self) -> impl Iterator<Item = (BlobId, BTreeSet<ObjectId>)> + '_ {
        self.records.all_as(Tag::BlobIndex).map(|(key, ids)| (BlobId(key), ids))
    }

    /// Every live object, in ID order (a scan of the whole state).
    pub fn objects(&self) -> impl Iterator<Item = (ObjectId, Object)> + '_ {
        self.records.all_as(Tag::Object).map(|(key, object)| (ObjectId(key), object))
    }

    /// Puts `object` into the state outside any transaction (genesis, and benches that fill a
    /// state), indexing it.
    pub fn insert_object(&mut self, id: ObjectId, object: Object) {
        index(self, id, &object, true);
        self.records.put_value(Tag::Object, id.0, &object);
    }

    /// WAL in balances, rewards (per epoch and per node) and shared blobs' funds; equals
    /// `total_supply` in every reachable state. It scans the whole state.
    pub fn circulating(&self) -> Result<Frost, ExecError> {
        let balances = self
            .records
            .all_as::<Account>(Tag::Account)
            .try_fold(Frost::ZERO, |sum, (_, a)| sum.checked_add(a.balance))?;
        let funds = self.objects().try_fold(Frost::ZERO, |sum, (_, object)| match object.body {
            ObjectBody::SharedBlob { funds, .. } => sum.checked_add(funds),
            _ => Ok(sum),
        })?;
        balances.checked_add(self.system.held()?)?.checked_add(funds)
    }

    /// Up to `limit` objects owned by `owner`, in ID order, after `after` (from the first if
    /// `None`): a page read from the owner index, whatever the number of objects.
    pub fn owned_objects(
        &self,
        owner: &Address,
        after: Option<ObjectId>,
        limit: usize,
    ) -> Vec<(ObjectId, Object)> {
        self.page_of(Index::Owner, &owner.0, after, limit)
    }

    /// Up to `limit` objects owned by the object `parent` (a site's resources), in ID order,
    /// after `after`.
    pub fn child_objects(
        &self,
        parent: &ObjectId,
        after: Option<ObjectId>,
        limit: usize,
    ) -> Vec<(ObjectId, Object)> {
        self.page_of(Index::Children, &parent.0, after, limit)
    }

    fn page_of(
        &self,
        index: Index,
        key: &[u8; 32],
        after: Option<ObjectId>,
        limit: usize,
    ) -> Vec<(ObjectId, Object)> {
        let ids = self.records.members(index, key, after, limit);
        ids.into_iter().filter_map(|id| self.object(&id).map(|object| (id, object))).collect()
    }

    /// The blob objects of `blob_id`.
    pub fn blob_objects(&self, blob_id: &BlobId) -> Vec<(ObjectId, Object)> {
        let ids = self.blob_index(blob_id);
        ids.into_iter().filter_map(|id| self.object(&id).map(|object| (id, object))).collect()
    }
}

/// A call's pending writes over a read-only state; committed only if the call succeeds.
pub(crate) struct Overlay<'a> {
    base: &'a State,
    tx: TxDigest,
    created: u64,
    accounts: BTreeMap<Address, Account>,
    /// `None` marks a deletion.
    objects: BTreeMap<ObjectId, Option<Object>>,
    system: Option<System>,
    invalid: BTreeSet<BlobId>,
    burned: Frost,
    pub(crate) events: Vec<Event>,
    verdict: Option<&'a Verdict>,
}

/// What a committed call changed, for its effects.
pub(crate) struct Changes {
    pub(crate) events: Vec<Event>,
    pub(crate) created: Vec<ObjectId>,
    pub(crate) deleted: Vec<ObjectId>,
}

impl<'a> Overlay<'a> {
    pub(crate) fn new(base: &'a State, tx: TxDigest) -> Self {
        Overlay {
            base,
            tx,
            created: 0,
            accounts: BTreeMap::new(),
            objects: BTreeMap::new(),
            system: None,
            invalid: BTreeSet::new(),
            burned: Frost::ZERO,
            events: Vec::new(),
            verdict: None,
        }
    }

    /// The overlay with the call's certificate verdict, computed ahead of execution.
    pub(crate) fn with_verdict(mut self, verdict: Option<&'a Verdict>) -> Self {
        self.verdict = verdict;
        self
    }

    pub(crate) fn verdict(&self) -> Option<&'a Verdict> {
        self.verdict
    }

    /// The state before this call (for whole-state reads; this call's own writes are not in it).
    pub(crate) fn base(&self) -> &'a State {
        self.base
    }

    /// The block time.
    pub(crate) fn now_ms(&self) -> u64 {
        self.base.timestamp_ms
    }

    pub(crate) fn system(&self) -> &System {
        self.system.as_ref().unwrap_or(&self.base.system)
    }

    pub(crate) fn system_mut(&mut self) -> &mut System {
        self.system.get_or_insert_with(|| self.base.system.clone())
    }

    pub(crate) fn account(&self, address: &Address) -> Account {
        self.accounts.get(address).copied().unwrap_or_else(|| self.base.account(address))
    }

    pub(crate) fn set_account(&mut self, address: Address, account: Account) {
        self.accounts.insert(address, account);
    }

    /// Moves `amount` from `from`'s balance to nowhere (the caller credits it elsewhere).
    pub(crate) fn debit(&mut self, from: Address, amount: Frost) -> Result<(), ExecError> {
        let mut account = self.account(&from);
        account.balance = account.balance.checked_sub(amount)?;
        self.set_account(from, account);
        Ok(())
    }

    pub(crate) fn credit(&mut self, to: Address, amount: Frost) -> Result<(), ExecError> {
        let mut account = self.account(&to);
        account.balance = account.balance.checked_add(amount)?;
        self.set_account(to, account);
        Ok(())
    }

    pub(crate) fn object(&self, id: ObjectId) -> Result<Object, ExecError> {
        match self.objects.get(&id) {
            Some(Some(object)) => Ok(object.clone()),
            Some(None) => Err(ExecError::ObjectNotFound(id)),
            None => self.base.object(&id).ok_or(ExecError::ObjectNotFound(id)),
        }
    }

    /// The object, checked to be owned by `owner`.
    pub(crate) fn owned(&self, id: ObjectId, owner: Address) -> Result<Object, ExecError> {
        let object = self.object(id)?;
        if object.owner != Owner::Address(owner) {
            return Err(ExecError::NotOwner(id));
        }
        Ok(object)
    }

    pub(crate) fn put_object(&mut self, id: ObjectId, object: Object) {
        self.objects.insert(id, Some(object));
    }

    pub(crate) fn delete_object(&mut self, id: ObjectId) {
        self.objects.insert(id, None);
    }

    /// A fresh object ID: `Blake2b-256("walrus-chain/object-id/v1" || tx digest || counter)`.
    pub(crate) fn new_object_id(&mut self) -> ObjectId {
        let counter = self.created.to_le_bytes();
        self.created += 1;
        ObjectId(blake2b256_parts(&[b"walrus-chain/object-id/v1", &self.tx.0, &counter]))
    }

    pub(crate) fn is_invalid(&self, blob_id: &BlobId) -> bool {
        self.invalid.contains(blob_id) || self.base.is_invalid(blob_id)
    }

    pub(crate) fn mark_invalid(&mut self, blob_id: BlobId) {
        self.invalid.insert(blob_id);
    }

    /// Takes `amount` out of existence (it must have left an account or the system first).
    pub(crate) fn burn(&mut self, amount: Frost) -> Result<(), ExecError> {
        self.burned = self.burned.checked_add(amount)?;
        Ok(())
    }

    pub(crate) fn emit(&mut self, event: Event) {
        self.events.push(event);
    }

    /// Splits the overlay into its writes, to be applied with [`apply`].
    pub(crate) fn into_writes(self) -> Writes {
        Writes {
            accounts: self.accounts,
            objects: self.objects,
            system: self.system,
            invalid: self.invalid,
            burned: self.burned,
            events: self.events,
        }
    }
}

/// An overlay's writes, detached from the state they were computed against.
pub(crate) struct Writes {
    accounts: BTreeMap<Address, Account>,
    objects: BTreeMap<ObjectId, Option<Object>>,
    system: Option<System>,
    invalid: BTreeSet<BlobId>,
    burned: Frost,
    events: Vec<Event>,
}

/// Applies `writes` to `state`, keeping the blob-ID and owner indexes in step.
pub(crate) fn apply(state: &mut State, writes: Writes) -> Changes {
    for (address, account) in writes.accounts {
        state.set_account(address, account);
    }
    if let Some(system) = writes.system {
        state.system = system;
    }
    // Burned WAL left the system's accounts in the same writes, so the supply covers it.
    state.total_supply = Frost(state.total_supply.0.saturating_sub(writes.burned.0));
    state.burned = Frost(state.burned.0.saturating_add(writes.burned.0));
    for blob_id in writes.invalid {
        if !state.is_invalid(&blob_id) {
            state.records.put_value(Tag::Invalid, blob_id.0, &());
        }
    }
    let (mut created, mut deleted) = (Vec::new(), Vec::new());
    for (id, object) in writes.objects {
        let old = state.object(&id);
        // Most writes change an object in place (certify, extend, attributes): its indexes stay.
        let same_place = matches!((&old, &object), (Some(o), Some(n)) if index_place(o) == index_place(n));
        if let (Some(old), false) = (&old, same_place) {
            index(state, id, old, false);
        }
        match (&old, object) {
            (_, Some(object)) if same_place => state.records.put_value(Tag::Object, id.0, &object),
            (_, Some(object)) => {
                state.insert_object(id, object);
                if old.is_none() {
                    created.push(id);
                }
            }
            (Some(_), None) => {
                state.records.put(Tag::Object, id.0, None);
                deleted.push(id);
            }
            (None, None) => {}
        }
    }
    Changes { events: writes.events, created, deleted }
}

/// What decides the indexes an object is in: its blob ID, whether it is a key server, its owner.
fn index_place(object: &Object) -> (Option<BlobId>, bool, Owner) {
    let blob_id = object.body.blob().map(|blob| blob.blob_id);
    (blob_id, matches!(object.body, ObjectBody::KeyServer(_)), object.owner)
}

/// Adds `id` to (or, not `present`, removes it from) the indexes `object` belongs in.
fn index(state: &mut State, id: ObjectId, object: &Object, present: bool) {
    if let Some(blob) = object.body.blob() {
        let mut ids = state.blob_index(&blob.blob_id);
        if present {
            ids.insert(id);
        } else {
            ids.remove(&id);
        }
        let value = (!ids.is_empty()).then(|| bcs::to_bytes(&ids).expect("plain BCS"));
        state.records.put(Tag::BlobIndex, blob.blob_id.0, value);
    }
    if matches!(object.body, ObjectBody::KeyServer(_)) {
        if present {
            state.key_servers.insert(id);
        } else {
            state.key_servers.remove(&id);
        }
    }
    match object.owner {
        Owner::Address(owner) => state.records.set_member(Index::Owner, owner.0, id, present),
        Owner::Object(parent) => state.records.set_member(Index::Children, parent.0, id, present),
        Owner::Shared => {}
    }
}
