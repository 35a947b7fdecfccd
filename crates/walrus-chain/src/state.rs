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
use crate::records::{record_hash, RecordEntry, RecordsTree, Tag};
use crate::system::System;
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

/// Everything the chain knows. Ordered maps only, so that its BCS bytes (a snapshot) are a
/// function of its contents.
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
    /// Accounts with a balance or a nonce.
    pub accounts: BTreeMap<Address, Account>,
    /// Live objects.
    pub objects: BTreeMap<ObjectId, Object>,
    /// Blob objects by blob ID (several objects may share one ID).
    pub blobs_by_id: BTreeMap<BlobId, BTreeSet<ObjectId>>,
    /// Objects by owning account (an index of `objects`, kept by [`apply`]).
    pub objects_by_owner: BTreeMap<Address, BTreeSet<ObjectId>>,
    /// Objects by owning object (a site's resources; an index of `objects`, kept by [`apply`]).
    pub children: BTreeMap<ObjectId, BTreeSet<ObjectId>>,
    /// The registered key servers (an index of `objects`, kept by [`apply`]).
    pub key_servers: BTreeSet<ObjectId>,
    /// Blob IDs marked invalid; never removed.
    pub invalid_blob_ids: BTreeSet<BlobId>,
    /// All WAL in existence: the genesis allocations less what was burned.
    pub total_supply: Frost,
    /// WAL burned at epoch changes.
    pub burned: Frost,
    /// The Merkle commitment to the accounts, objects, invalid blob IDs, convictions and the
    /// blob-ID index ([`crate::records`]), kept in step by [`apply`]. Derived from
    /// them, so left out of snapshots: [`State::rebuild_records`] after decoding a state.
    #[serde(skip)]
    pub records: RecordsTree,
    /// [`crate::light::fold_event`] over every event so far (zeros at genesis).
    pub events_digest: Digest,
    /// The height of the state the last block committed to.
    pub last_exec_height: u64,
    /// The digests of the last [`EXEC_LAG_MAX`] states (this one's included), by height.
    pub recent_digests: BTreeMap<u64, Digest>,
    /// The genesis validators' consensus keys, in genesis order (the chain ID commits to them).
    pub validators: Vec<Ed25519PublicKey>,
    /// Per validator that equivocated, its record (in [`State::records`]).
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
        fn bcs_of(value: &impl Serialize) -> Vec<u8> {
            bcs::to_bytes(value).expect("plain BCS")
        }
        match tag {
            Tag::Account => self.accounts.get(&Address(*key)).map(bcs_of),
            Tag::BlobIndex => self.blobs_by_id.get(&BlobId(*key)).map(bcs_of),
            Tag::Invalid => self.invalid_blob_ids.contains(&BlobId(*key)).then(|| bcs_of(&())),
            Tag::Object => self.objects.get(&ObjectId(*key)).map(bcs_of),
            Tag::Conviction => self.convictions.get(&Ed25519PublicKey(*key)).map(bcs_of),
        }
    }

    /// Every record, hashed.
    fn record_entries(&self) -> impl Iterator<Item = RecordEntry> + '_ {
        fn hashed<'a, K: 'a, V: Serialize + 'a>(
            map: impl IntoIterator<Item = (&'a K, &'a V)> + 'a,
            tag: Tag,
            key: impl Fn(&K) -> [u8; 32] + 'a,
        ) -> impl Iterator<Item = RecordEntry> + 'a {
            map.into_iter().map(move |(k, v)| {
                let key = key(k);
                RecordEntry { tag, key, hash: record_hash(tag, &key, &bcs::to_bytes(v).expect("plain BCS")) }
            })
        }
        let unit = bcs::to_bytes(&()).expect("plain BCS");
        let invalid = self.invalid_blob_ids.iter().map(move |id| RecordEntry {
            tag: Tag::Invalid,
            key: id.0,
            hash: record_hash(Tag::Invalid, &id.0, &unit),
        });
        hashed(&self.accounts, Tag::Account, |k: &Address| k.0)
            .chain(hashed(&self.blobs_by_id, Tag::BlobIndex, |k: &BlobId| k.0))
            .chain(invalid)
            .chain(hashed(&self.objects, Tag::Object, |k: &ObjectId| k.0))
            .chain(hashed(&self.convictions, Tag::Conviction, |k: &Ed25519PublicKey| k.0))
    }

    /// Records a conviction of `validator` (replacing its previous one, if any).
    pub(crate) fn set_conviction(&mut self, validator: Ed25519PublicKey, conviction: Conviction) {
        self.convictions.insert(validator, conviction);
        self.records.touch(Tag::Conviction, &validator.0);
    }

    /// Rehashes the records written since the last call.
    pub fn refresh_records(&mut self) {
        let dirty = self.records.take_dirty();
        let hashes: Vec<_> = dirty
            .into_iter()
            .map(|(tag, key)| {
                (tag, key, self.record_value(tag, &key).map(|value| record_hash(tag, &key, &value)))
            })
            .collect();
        self.records.update(hashes);
    }

    /// Builds the records tree from the records (after decoding a state, whose snapshot leaves
    /// it out). Linear in the state.
    pub fn rebuild_records(&mut self) {
        self.records = self.recompute_records();
    }

    /// The records tree computed from scratch: equal to [`State::records`] in every reachable
    /// state between blocks (a check for tests; it costs the whole state).
    pub fn recompute_records(&self) -> RecordsTree {
        RecordsTree::build(self.record_entries())
    }

    /// Records the digest of this state among the recent ones, forgetting the too old.
    pub(crate) fn remember_digest(&mut self) -> (StateHeader, Digest) {
        self.refresh_records();
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
        self.accounts.get(address).copied().unwrap_or_default()
    }

    /// WAL in balances, rewards (per epoch and per node) and shared blobs' funds; equals
    /// `total_supply` in every reachable state.
    pub fn circulating(&self) -> Result<Frost, ExecError> {
        let balances = self.accounts.values().try_fold(Frost::ZERO, |sum, a| sum.checked_add(a.balance))?;
        let funds = self.objects.values().try_fold(Frost::ZERO, |sum, object| match object.body {
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
    ) -> Vec<(ObjectId, &Object)> {
        self.page_of(self.objects_by_owner.get(owner), after, limit)
    }

    /// Up to `limit` objects owned by the object `parent` (a site's resources), in ID order,
    /// after `after`.
    pub fn child_objects(
        &self,
        parent: &ObjectId,
        after: Option<ObjectId>,
        limit: usize,
    ) -> Vec<(ObjectId, &Object)> {
        self.page_of(self.children.get(parent), after, limit)
    }

    /// Up to `limit` of the objects `ids`, in ID order, after `after`.
    fn page_of(
        &self,
        ids: Option<&BTreeSet<ObjectId>>,
        after: Option<ObjectId>,
        limit: usize,
    ) -> Vec<(ObjectId, &Object)> {
        let Some(ids) = ids else { return Vec::new() };
        let start = match after {
            Some(after) => std::ops::Bound::Excluded(after),
            None => std::ops::Bound::Unbounded,
        };
        ids.range((start, std::ops::Bound::Unbounded))
            .take(limit)
            .filter_map(|id| self.objects.get(id).map(|object| (*id, object)))
            .collect()
    }

    /// The blob objects of `blob_id`.
    pub fn blob_objects(&self, blob_id: &BlobId) -> Vec<(ObjectId, &Object)> {
        self.blobs_by_id
            .get(blob_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.objects.get(id).map(|object| (*id, object)))
            .collect()
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

    pub(crate) fn object(&self, id: ObjectId) -> Result<&Object, ExecError> {
        match self.objects.get(&id) {
            Some(Some(object)) => Ok(object),
            Some(None) => Err(ExecError::ObjectNotFound(id)),
            None => self.base.objects.get(&id).ok_or(ExecError::ObjectNotFound(id)),
        }
    }

    /// The object, checked to be owned by `owner`.
    pub(crate) fn owned(&self, id: ObjectId, owner: Address) -> Result<Object, ExecError> {
        let object = self.object(id)?;
        if object.owner != Owner::Address(owner) {
            return Err(ExecError::NotOwner(id));
        }
        Ok(object.clone())
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
        self.invalid.contains(blob_id) || self.base.invalid_blob_ids.contains(blob_id)
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
        state.accounts.insert(address, account);
        state.records.touch(Tag::Account, &address.0);
    }
    if let Some(system) = writes.system {
        state.system = system;
    }
    // Burned WAL left the system's accounts in the same writes, so the supply covers it.
    state.total_supply = Frost(state.total_supply.0.saturating_sub(writes.burned.0));
    state.burned = Frost(state.burned.0.saturating_add(writes.burned.0));
    for blob_id in writes.invalid {
        if state.invalid_blob_ids.insert(blob_id) {
            state.records.touch(Tag::Invalid, &blob_id.0);
        }
    }
    let (mut created, mut deleted) = (Vec::new(), Vec::new());
    for (id, object) in writes.objects {
        let old = state.objects.remove(&id);
        state.records.touch(Tag::Object, &id.0);
        if let Some(old) = &old {
            index(state, id, old, false);
        }
        match (&old, object) {
            (_, Some(object)) => {
                index(state, id, &object, true);
                state.objects.insert(id, object);
                if old.is_none() {
                    created.push(id);
                }
            }
            (Some(_), None) => deleted.push(id),
            (None, None) => {}
        }
    }
    Changes { events: writes.events, created, deleted }
}

/// Adds `id` to (or, not `present`, removes it from) the indexes `object` belongs in.
fn index(state: &mut State, id: ObjectId, object: &Object, present: bool) {
    if let Some(blob) = object.body.blob() {
        set_member(&mut state.blobs_by_id, blob.blob_id, id, present);
        state.records.touch(Tag::BlobIndex, &blob.blob_id.0);
    }
    if matches!(object.body, ObjectBody::KeyServer(_)) {
        if present {
            state.key_servers.insert(id);
        } else {
            state.key_servers.remove(&id);
        }
    }
    match object.owner {
        Owner::Address(owner) => set_member(&mut state.objects_by_owner, owner, id, present),
        Owner::Object(parent) => set_member(&mut state.children, parent, id, present),
        Owner::Shared => {}
    }
}

/// Puts `id` into the set under `key`, or takes it out (dropping a set left empty).
fn set_member<K: Ord>(index: &mut BTreeMap<K, BTreeSet<ObjectId>>, key: K, id: ObjectId, present: bool) {
    if present {
        index.entry(key).or_default().insert(id);
    } else if let Some(ids) = index.get_mut(&key) {
        ids.remove(&id);
        if ids.is_empty() {
            index.remove(&key);
        }
    }
}
