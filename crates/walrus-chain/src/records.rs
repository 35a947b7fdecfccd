//! The records' Merkle commitment: what lets a light client check one account, object, blob
//! index entry or invalid blob ID against a proven state header.
//!
//! Records are the state's keyed entries ([`Tag`]). Every key is 32 bytes and uniform (a hash
//! or a public key), and its first [`BUCKET_BITS`] bits pick one of [`BUCKETS`] buckets. A
//! record's hash is Blake2b over its tag, key and value's BCS bytes; a bucket's hash is Blake2b
//! over its records' tags, keys and hashes in (tag, key) order; the root is a binary Merkle tree
//! over the bucket hashes, and the state header carries it. A [`BucketProof`] lists a bucket's
//! records (tag, key, hash) and the [`BUCKET_BITS`] sibling hashes on its path, so it shows a
//! record present with the value it has, or absent.
//!
//! The tree keeps every record's hash, by bucket. A block rehashes the records it wrote
//! ([`RecordsTree::touch`]), then each bucket they are in (its entries, 65 bytes each: about
//! 61 per bucket in a state of a million records) and the path above it. The tree is derived
//! data: snapshots leave it out, and [`crate::State::rebuild_records`] builds it from the
//! records after a state is decoded.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use walrus_core::hash::{blake2b256_parts, Digest};

/// Bits of a key that pick its bucket.
pub const BUCKET_BITS: u32 = 14;
/// Buckets.
pub const BUCKETS: usize = 1 << BUCKET_BITS;

/// The kinds of records, in their order within a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Tag {
    /// An account (key: the address; value: `Account`).
    Account,
    /// The objects registered for a blob ID (key: the blob ID; value: `BTreeSet<ObjectId>`).
    BlobIndex,
    /// A blob ID marked invalid (key: the blob ID; value: `()`).
    Invalid,
    /// A live object (key: its ID; value: `Object`).
    Object,
    /// A validator's equivocations (key: its consensus key; value: `Conviction`).
    Conviction,
}

impl Tag {
    /// Every tag, in bucket order.
    pub const ALL: [Tag; 5] = [Tag::Account, Tag::BlobIndex, Tag::Invalid, Tag::Object, Tag::Conviction];

    fn byte(self) -> u8 {
        match self {
            Tag::Account => b'A',
            Tag::BlobIndex => b'B',
            Tag::Invalid => b'I',
            Tag::Object => b'O',
            Tag::Conviction => b'Q',
        }
    }
}

/// The bucket of `key`.
pub fn bucket_of(key: &[u8; 32]) -> usize {
    usize::from(u16::from_be_bytes([key[0], key[1]]) >> (16 - BUCKET_BITS))
}

/// A record's hash.
pub fn record_hash(tag: Tag, key: &[u8; 32], value_bcs: &[u8]) -> Digest {
    blake2b256_parts(&[b"walrus-chain/record/v1", &[tag.byte()], key, value_bcs])
}

/// One record of a bucket as a proof lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordEntry {
    /// Its kind.
    pub tag: Tag,
    /// Its key.
    #[serde(with = "walrus_core::hash::hex_digest")]
    pub key: [u8; 32],
    /// [`record_hash`] of it.
    #[serde(with = "walrus_core::hash::hex_digest")]
    pub hash: Digest,
}

/// A bucket's hash, from its records in (tag, key) order.
pub fn bucket_hash(records: &[RecordEntry]) -> Digest {
    let mut parts: Vec<&[u8]> = Vec::with_capacity(1 + 3 * records.len());
    let tags: Vec<[u8; 1]> = records.iter().map(|r| [r.tag.byte()]).collect();
    parts.push(b"walrus-chain/bucket/v1");
    for (record, tag) in records.iter().zip(&tags) {
        parts.extend([tag.as_slice(), record.key.as_slice(), record.hash.as_slice()]);
    }
    blake2b256_parts(&parts)
}

fn node_hash(left: &Digest, right: &Digest) -> Digest {
    blake2b256_parts(&[b"walrus-chain/records-node/v1", left, right])
}

/// Every record's hash by bucket, the Merkle tree over the buckets, and the records written
/// since it was last brought up to date. Not serialized: rebuilt from the records.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RecordsTree {
    /// Per bucket, its entries in (tag, key) order; empty until built.
    buckets: Vec<Vec<RecordEntry>>,
    /// Heap order: the root at 1, the children of `i` at `2i` and `2i + 1`, bucket `b` at
    /// `BUCKETS + b`; 0 is unused. Empty until built.
    nodes: Vec<Digest>,
    /// Records written and not rehashed yet.
    dirty: BTreeSet<(Tag, [u8; 32])>,
}

impl std::fmt::Debug for RecordsTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.nodes.get(1) {
            Some(root) => write!(f, "RecordsTree({}, {} dirty)", hex::encode(root), self.dirty.len()),
            None => write!(f, "RecordsTree(not built)"),
        }
    }
}

/// The nodes of the tree without records (computed once).
fn empty_nodes() -> &'static [Digest] {
    static EMPTY: std::sync::OnceLock<Vec<Digest>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| {
        let mut nodes = vec![[0; 32]; 2 * BUCKETS];
        nodes[BUCKETS..].fill(bucket_hash(&[]));
        for i in (1..BUCKETS).rev() {
            nodes[i] = node_hash(&nodes[2 * i], &nodes[2 * i + 1]);
        }
        nodes
    })
}

impl RecordsTree {
    /// The tree of `records` (each a tag, a key and its [`record_hash`], in any order).
    pub fn build(records: impl IntoIterator<Item = RecordEntry>) -> RecordsTree {
        let mut tree = RecordsTree {
            buckets: vec![Vec::new(); BUCKETS],
            nodes: empty_nodes().to_vec(),
            dirty: BTreeSet::new(),
        };
        let mut filled = BTreeSet::new();
        for entry in records {
            let bucket = bucket_of(&entry.key);
            tree.buckets[bucket].push(entry);
            filled.insert(bucket);
        }
        for &bucket in &filled {
            tree.buckets[bucket].sort_by_key(|e| (e.tag, e.key));
        }
        tree.rehash(filled);
        tree
    }

    /// Rehashes `buckets` and the nodes above them, level by level.
    fn rehash(&mut self, buckets: BTreeSet<usize>) {
        let mut level: BTreeSet<usize> = buckets
            .into_iter()
            .map(|bucket| {
                self.nodes[BUCKETS + bucket] = bucket_hash(&self.buckets[bucket]);
                (BUCKETS + bucket) / 2
            })
            .collect();
        while !level.is_empty() {
            for &i in &level {
                self.nodes[i] = node_hash(&self.nodes[2 * i], &self.nodes[2 * i + 1]);
            }
            level = level.into_iter().filter(|i| *i > 1).map(|i| i / 2).collect();
        }
    }

    /// Whether it was built (a decoded state's is not, until rebuilt).
    pub fn is_built(&self) -> bool {
        !self.nodes.is_empty()
    }

    /// Notes that record (`tag`, `key`) was written.
    pub fn touch(&mut self, tag: Tag, key: &[u8; 32]) {
        self.dirty.insert((tag, *key));
    }

    /// Takes the records written since the last call.
    pub fn take_dirty(&mut self) -> BTreeSet<(Tag, [u8; 32])> {
        std::mem::take(&mut self.dirty)
    }

    /// Sets the hashes of `records` (`None`: the record is gone), then rehashes their buckets
    /// and the paths above them.
    pub fn update(&mut self, records: impl IntoIterator<Item = (Tag, [u8; 32], Option<Digest>)>) {
        assert!(self.is_built(), "the records tree is not built (State::rebuild_records after decoding)");
        let mut changed = BTreeSet::new();
        for (tag, key, hash) in records {
            let bucket = bucket_of(&key);
            let entries = &mut self.buckets[bucket];
            match (entries.binary_search_by_key(&(tag, key), |e| (e.tag, e.key)), hash) {
                (Ok(at), Some(hash)) => entries[at].hash = hash,
                (Ok(at), None) => {
                    entries.remove(at);
                }
                (Err(at), Some(hash)) => entries.insert(at, RecordEntry { tag, key, hash }),
                (Err(_), None) => continue,
            }
            changed.insert(bucket);
        }
        self.rehash(changed);
    }

    /// The root: up to date only when no record is dirty.
    pub fn root(&self) -> Digest {
        assert!(self.is_built(), "the records tree is not built (State::rebuild_records after decoding)");
        assert!(self.dirty.is_empty(), "a records root read before the written records were rehashed");
        self.nodes[1]
    }

    /// The proof of `bucket`: its entries and the sibling hashes on its path.
    pub fn prove(&self, bucket: usize) -> BucketProof {
        assert!(self.is_built(), "the records tree is not built (State::rebuild_records after decoding)");
        let mut path = Vec::with_capacity(BUCKET_BITS as usize);
        let mut i = BUCKETS + bucket;
        while i > 1 {
            path.push(self.nodes[i ^ 1]);
            i /= 2;
        }
        let bucket_index = u16::try_from(bucket).expect("a bucket index");
        BucketProof { bucket: bucket_index, records: self.buckets[bucket].clone(), path }
    }
}

/// A bucket's records and its path: shows which records the bucket holds under a root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketProof {
    /// The bucket.
    pub bucket: u16,
    /// Its records, in (tag, key) order.
    pub records: Vec<RecordEntry>,
    /// Sibling hashes from the bucket up to the root.
    pub path: Vec<Digest>,
}

/// Why a record proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordsError {
    /// The proof is of another bucket than the key's, or malformed.
    #[error("the proof is not of the key's bucket, or is malformed")]
    Malformed,
    /// The bucket and path do not hash to the root.
    #[error("the proof does not lead to the state's records root")]
    Root,
    /// The record has another value than the one given (or is absent, or present).
    #[error("the {0:?} record {1} is not as claimed")]
    Value(Tag, String),
}

impl BucketProof {
    /// Checks that the proof is of a bucket under `root`.
    pub fn check(&self, root: &Digest) -> Result<(), RecordsError> {
        let bucket = usize::from(self.bucket);
        if self.path.len() != BUCKET_BITS as usize {
            return Err(RecordsError::Malformed);
        }
        let ordered = self.records.windows(2).all(|w| (w[0].tag, w[0].key) < (w[1].tag, w[1].key));
        if !ordered || self.records.iter().any(|r| bucket_of(&r.key) != bucket) {
            return Err(RecordsError::Malformed);
        }
        let mut hash = bucket_hash(&self.records);
        let mut i = BUCKETS + bucket;
        for sibling in &self.path {
            hash = if i.is_multiple_of(2) { node_hash(&hash, sibling) } else { node_hash(sibling, &hash) };
            i /= 2;
        }
        if hash != *root {
            return Err(RecordsError::Root);
        }
        Ok(())
    }

    /// Checks, for a proof already [checked](BucketProof::check), that the record (`tag`, `key`)
    /// has the value whose BCS bytes are `value`, or is absent if `None`.
    pub fn check_value(&self, tag: Tag, key: &[u8; 32], value: Option<&[u8]>) -> Result<(), RecordsError> {
        if bucket_of(key) != usize::from(self.bucket) {
            return Err(RecordsError::Malformed);
        }
        let found = self.records.iter().find(|r| r.tag == tag && r.key == *key).map(|r| r.hash);
        if found != value.map(|bytes| record_hash(tag, key, bytes)) {
            return Err(RecordsError::Value(tag, hex::encode(key)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tag: Tag, key: [u8; 32], value: &[u8]) -> RecordEntry {
        RecordEntry { tag, key, hash: record_hash(tag, &key, value) }
    }

    #[test]
    fn buckets_are_the_first_bits_of_the_key() {
        assert_eq!(bucket_of(&[0; 32]), 0);
        assert_eq!(bucket_of(&[0xff; 32]), BUCKETS - 1);
        let mut key = [0; 32];
        key[0] = 0x12;
        key[1] = 0x3f;
        assert_eq!(bucket_of(&key), 0x123f >> (16 - BUCKET_BITS));
    }

    #[test]
    fn a_bucket_proof_shows_presence_values_and_absence_under_the_root() {
        let mut key = [7; 32];
        key[0] = 0x80;
        let other = {
            let mut k = key;
            k[31] = 9;
            k
        };
        let bucket = bucket_of(&key);
        let records = vec![entry(Tag::Object, other, b"obj"), entry(Tag::Account, key, b"acc")];
        let tree = RecordsTree::build(records.clone());
        let root = tree.root();
        let mut updated = RecordsTree::build([]);
        assert_ne!(root, updated.root());
        updated.touch(Tag::Account, &key);
        assert_eq!(updated.take_dirty().into_iter().collect::<Vec<_>>(), vec![(Tag::Account, key)]);
        updated.update(records.iter().map(|e| (e.tag, e.key, Some(e.hash))));
        assert_eq!(updated, tree, "built and updated trees agree");
        let proof = tree.prove(bucket);
        assert_eq!(proof.records.iter().map(|r| r.tag).collect::<Vec<_>>(), vec![Tag::Account, Tag::Object]);
        assert_eq!(proof.check(&root), Ok(()));
        assert_eq!(proof.check_value(Tag::Account, &key, Some(b"acc")), Ok(()));
        assert_eq!(proof.check_value(Tag::Object, &other, Some(b"obj")), Ok(()));
        assert_eq!(proof.check_value(Tag::Invalid, &key, None), Ok(()));
        assert!(proof.check_value(Tag::Account, &key, Some(b"forged")).is_err());
        assert!(proof.check_value(Tag::Account, &key, None).is_err(), "a present record cannot be hidden");
        let mut far = key;
        far[0] = 0;
        assert_eq!(proof.check_value(Tag::Account, &far, None), Err(RecordsError::Malformed));

        // Leaving a record out, changing one or reordering breaks the proof.
        let mut hidden = proof.clone();
        hidden.records.remove(0);
        assert_eq!(hidden.check(&root), Err(RecordsError::Root));
        let mut changed = proof.clone();
        changed.records[1].hash = [1; 32];
        assert_eq!(changed.check(&root), Err(RecordsError::Root));
        let mut reordered = proof.clone();
        reordered.records.swap(0, 1);
        assert_eq!(reordered.check(&root), Err(RecordsError::Malformed));
        let mut moved = proof.clone();
        moved.bucket += 1;
        assert_eq!(moved.check(&root), Err(RecordsError::Malformed));
        let mut short = proof;
        short.path.pop();
        assert_eq!(short.check(&root), Err(RecordsError::Malformed));

        // Removing a record takes it out of the root.
        updated.update([(Tag::Object, other, None)]);
        assert_eq!(updated, RecordsTree::build([records[1]]));
    }
}
