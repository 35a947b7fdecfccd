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
//! The records and the tree's nodes live in [`crate::tables::Records`]. A block rehashes each
//! bucket it wrote (its entries, 65 bytes each: about 61 per bucket in a state of a million
//! records) and the path above it.

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

    /// The tag [`Tag::byte`] stands for.
    pub fn from_byte(byte: u8) -> Option<Tag> {
        Tag::ALL.into_iter().find(|tag| tag.byte() == byte)
    }

    /// The byte that stands for the tag in hashes (and in a host's database keys).
    pub fn byte(self) -> u8 {
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

pub(crate) fn node_hash(left: &Digest, right: &Digest) -> Digest {
    blake2b256_parts(&[b"walrus-chain/records-node/v1", left, right])
}

/// The nodes of the tree without records (computed once).
pub(crate) fn empty_nodes() -> &'static [Digest] {
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
        let mut tree = crate::tables::Records::default();
        let empty = tree.root();
        tree.put(Tag::Object, other, Some(b"obj".to_vec()));
        tree.put(Tag::Account, key, Some(b"acc".to_vec()));
        tree.refresh();
        let root = tree.root();
        assert_ne!(root, empty);
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

        // Removing the records takes them out of the root.
        tree.put(Tag::Object, other, None);
        tree.put(Tag::Account, key, None);
        tree.refresh();
        assert_eq!(tree.root(), empty);
    }
}
