//! Where a state's records and object indexes live: the [`Tables`] below it (a database in the
//! host, nothing for a state held wholly in memory) and the writes not yet flushed into them,
//! with the records' Merkle tree ([`crate::records`]) kept over both.
//!
//! The state machine reads and writes [`Records`] only, and does no I/O: the host's tables
//! read its database, and the host moves each block's writes into it with the block's effects
//! ([`Records::take_flush`]). A restart then opens the database and reads the tree's nodes
//! (a constant 1 MiB) instead of loading every object.
//!
//! The tables hold each record's value (with its hash, which the host checks as it reads), each
//! bucket's entries (tag, key and hash of its records, in order: a bucket is rehashed from one
//! read, not a scan of its records), and the owner and parent indexes as sets of
//! (owner, object ID) pairs, read in pages.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use walrus_core::hash::Digest;
use walrus_core::ObjectId;

use crate::records::{
    bucket_hash, bucket_of, empty_nodes, node_hash, record_hash, BucketProof, RecordEntry, Tag,
};
use crate::records::{BUCKETS, BUCKET_BITS};

/// A record as the tables keep it: its [`record_hash`] and its value's BCS bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// [`record_hash`] of the record.
    pub hash: Digest,
    /// The value's BCS bytes.
    pub value: Vec<u8>,
}

/// The indexes of objects by what owns them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Index {
    /// Objects owned by an account (key: the address).
    Owner,
    /// Objects owned by an object, a site's resources (key: the parent's ID).
    Children,
}

impl Index {
    /// The byte that names the index in a database key.
    pub fn byte(self) -> u8 {
        match self {
            Index::Owner => b'o',
            Index::Children => b'c',
        }
    }
}

/// Records in key order.
pub type RecordIter<'a> = Box<dyn Iterator<Item = ([u8; 32], Stored)> + 'a>;
/// Index members in ID order.
pub type MemberIter<'a> = Box<dyn Iterator<Item = ObjectId> + 'a>;

/// The flushed part of a state's records and indexes. Reads cannot fail: a host whose database
/// fails to read stops, rather than execute a block on records it could not see.
pub trait Tables: Send + Sync {
    /// Record (`tag`, `key`), if held.
    fn record(&self, tag: Tag, key: &[u8; 32]) -> Option<Stored>;
    /// The records of `tag` with keys in `from..=to`, in key order.
    fn records(&self, tag: Tag, from: [u8; 32], to: [u8; 32]) -> RecordIter<'_>;
    /// The entries of `bucket`, in (tag, key) order.
    fn bucket(&self, bucket: usize) -> Vec<RecordEntry>;
    /// The members of `index` under `key` after `after` (from the first if `None`), in ID order.
    fn members(&self, index: Index, key: &[u8; 32], after: Option<ObjectId>) -> MemberIter<'_>;
}

/// No tables: a state held wholly in memory keeps every record among its unflushed writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTables;

impl Tables for NoTables {
    fn record(&self, _: Tag, _: &[u8; 32]) -> Option<Stored> {
        None
    }
    fn records(&self, _: Tag, _: [u8; 32], _: [u8; 32]) -> RecordIter<'_> {
        Box::new(std::iter::empty())
    }
    fn bucket(&self, _: usize) -> Vec<RecordEntry> {
        Vec::new()
    }
    fn members(&self, _: Index, _: &[u8; 32], _: Option<ObjectId>) -> MemberIter<'_> {
        Box::new(std::iter::empty())
    }
}

/// What a flush moves into the tables: every record, bucket and index member written since the
/// last one (`None` and `false`: removed), and the tree nodes that changed, by heap index.
#[derive(Debug, Default)]
pub struct Flush {
    /// Records written (`None`: deleted).
    pub records: Vec<(Tag, [u8; 32], Option<Stored>)>,
    /// Buckets rehashed, with their entries in (tag, key) order.
    pub buckets: Vec<(u16, Vec<RecordEntry>)>,
    /// Index members added (`true`) or removed (`false`).
    pub members: Vec<(Index, [u8; 32], ObjectId, bool)>,
    /// Tree nodes changed, by heap index (the root at 1).
    pub nodes: Vec<(u32, Digest)>,
}

/// A state's records and indexes: the tables below, the writes above them, and the Merkle tree
/// over both. A clone shares the tables: it may diverge from the original as long as neither
/// is flushed.
#[derive(Clone)]
pub struct Records {
    tables: Arc<dyn Tables>,
    written: BTreeMap<(Tag, [u8; 32]), Option<Stored>>,
    members: BTreeMap<(Index, [u8; 32], ObjectId), bool>,
    /// The entries of the buckets rehashed since the last flush.
    buckets: BTreeMap<usize, Vec<RecordEntry>>,
    /// Heap order: the root at 1, the children of `i` at `2i` and `2i + 1`, bucket `b` at
    /// `BUCKETS + b`; 0 is unused.
    nodes: Vec<Digest>,
    /// Records written and not rehashed yet.
    dirty: BTreeSet<(Tag, [u8; 32])>,
    /// Nodes rehashed since the last flush.
    changed: BTreeSet<usize>,
}

impl Default for Records {
    fn default() -> Self {
        Records::on(Arc::new(NoTables), std::iter::empty())
    }
}

impl std::fmt::Debug for Records {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Records({}, {} written, {} dirty buckets)",
            hex::encode(self.nodes[1]),
            self.written.len(),
            self.dirty.len()
        )
    }
}

/// Two record stores are equal when their trees are (and the same buckets await rehashing):
/// equal records, up to a Blake2b collision.
impl PartialEq for Records {
    fn eq(&self, other: &Self) -> bool {
        self.nodes == other.nodes && self.dirty == other.dirty
    }
}
impl Eq for Records {}

/// `base` with `written` laid over it (a `None` hides the base's entry); both in key order.
fn merge<'a, K: Ord + Copy + 'a, V: 'a>(
    base: impl Iterator<Item = (K, V)> + 'a,
    written: impl Iterator<Item = (K, Option<V>)> + 'a,
) -> impl Iterator<Item = (K, V)> + 'a {
    let (mut base, mut written) = (base.peekable(), written.peekable());
    std::iter::from_fn(move || loop {
        let next_base = base.peek().map(|(k, _)| *k);
        let next_written = written.peek().map(|(k, _)| *k);
        match (next_base, next_written) {
            (None, None) => return None,
            (Some(b), Some(w)) if w <= b => {
                if w == b {
                    base.next();
                }
            }
            (Some(_), _) => return base.next(),
            (None, Some(_)) => {}
        }
        if let Some((key, Some(value))) = written.next() {
            return Some((key, value));
        }
    })
}

impl Records {
    /// The records of `tables`, whose tree nodes (heap index, hash) are `nodes`; nodes not
    /// given are those of the empty tree.
    pub fn on(tables: Arc<dyn Tables>, nodes: impl IntoIterator<Item = (u32, Digest)>) -> Records {
        let mut all = empty_nodes().to_vec();
        for (i, node) in nodes {
            if let Some(slot) = all.get_mut(i as usize) {
                *slot = node;
            }
        }
        Records {
            tables,
            written: BTreeMap::new(),
            members: BTreeMap::new(),
            buckets: BTreeMap::new(),
            nodes: all,
            dirty: BTreeSet::new(),
            changed: BTreeSet::new(),
        }
    }

    /// Record (`tag`, `key`), if present.
    pub fn get(&self, tag: Tag, key: &[u8; 32]) -> Option<Stored> {
        match self.written.get(&(tag, *key)) {
            Some(written) => written.clone(),
            None => self.tables.record(tag, key),
        }
    }

    /// Record (`tag`, `key`) decoded, if present.
    pub fn get_as<T: serde::de::DeserializeOwned>(&self, tag: Tag, key: &[u8; 32]) -> Option<T> {
        self.get(tag, key).map(|stored| decode(&stored.value))
    }

    /// Sets record (`tag`, `key`) to the value with BCS bytes `value`, or removes it (`None`).
    pub fn put(&mut self, tag: Tag, key: [u8; 32], value: Option<Vec<u8>>) {
        let stored = value.map(|value| Stored { hash: record_hash(tag, &key, &value), value });
        self.written.insert((tag, key), stored);
        self.dirty.insert((tag, key));
    }

    /// Sets record (`tag`, `key`) to `value`'s BCS bytes.
    pub fn put_value(&mut self, tag: Tag, key: [u8; 32], value: &impl serde::Serialize) {
        self.put(tag, key, Some(bcs::to_bytes(value).expect("plain BCS")));
    }

    /// The records of `tag` with keys in `from..=to`, in key order.
    pub fn range(
        &self,
        tag: Tag,
        from: [u8; 32],
        to: [u8; 32],
    ) -> impl Iterator<Item = ([u8; 32], Stored)> + '_ {
        let written =
            self.written.range((tag, from)..=(tag, to)).map(|((_, key), stored)| (*key, stored.clone()));
        merge(self.tables.records(tag, from, to), written)
    }

    /// Every record of `tag`, decoded, in key order.
    pub fn all_as<T: serde::de::DeserializeOwned>(
        &self,
        tag: Tag,
    ) -> impl Iterator<Item = ([u8; 32], T)> + '_ {
        self.range(tag, [0; 32], [0xff; 32]).map(|(key, stored)| (key, decode(&stored.value)))
    }

    /// Adds `id` to `index` under `key`, or (not `present`) takes it out.
    pub fn set_member(&mut self, index: Index, key: [u8; 32], id: ObjectId, present: bool) {
        self.members.insert((index, key, id), present);
    }

    /// Up to `limit` members of `index` under `key` after `after`, in ID order.
    pub fn members(
        &self,
        index: Index,
        key: &[u8; 32],
        after: Option<ObjectId>,
        limit: usize,
    ) -> Vec<ObjectId> {
        let from = match after {
            Some(after) => std::ops::Bound::Excluded((index, *key, after)),
            None => std::ops::Bound::Included((index, *key, ObjectId([0; 32]))),
        };
        let to = std::ops::Bound::Included((index, *key, ObjectId([0xff; 32])));
        let written =
            self.members.range((from, to)).map(|((_, _, id), present)| (*id, present.then_some(())));
        let base = self.tables.members(index, key, after).map(|id| (id, ()));
        merge(base, written).map(|(id, ())| id).take(limit).collect()
    }

    /// The entries of `bucket`, in (tag, key) order.
    fn bucket_entries(&self, bucket: usize) -> Vec<RecordEntry> {
        match self.buckets.get(&bucket) {
            Some(entries) => entries.clone(),
            None => self.tables.bucket(bucket),
        }
    }

    /// Rehashes the buckets of the records written since the last call and the paths above
    /// them.
    pub fn refresh(&mut self) {
        let mut by_bucket: BTreeMap<usize, Vec<(Tag, [u8; 32])>> = BTreeMap::new();
        for (tag, key) in std::mem::take(&mut self.dirty) {
            by_bucket.entry(bucket_of(&key)).or_default().push((tag, key));
        }
        let mut level: BTreeSet<usize> = BTreeSet::new();
        for (bucket, records) in by_bucket {
            let mut entries = self.buckets.remove(&bucket).unwrap_or_else(|| self.tables.bucket(bucket));
            for (tag, key) in records {
                let hash = self.written.get(&(tag, key)).and_then(|stored| stored.as_ref().map(|s| s.hash));
                match (entries.binary_search_by_key(&(tag, key), |e| (e.tag, e.key)), hash) {
                    (Ok(at), Some(hash)) => entries[at].hash = hash,
                    (Ok(at), None) => {
                        entries.remove(at);
                    }
                    (Err(at), Some(hash)) => entries.insert(at, RecordEntry { tag, key, hash }),
                    (Err(_), None) => {}
                }
            }
            let node = BUCKETS + bucket;
            self.nodes[node] = bucket_hash(&entries);
            self.buckets.insert(bucket, entries);
            self.changed.insert(node);
            level.insert(node / 2);
        }
        while !level.is_empty() {
            for &i in &level {
                self.nodes[i] = node_hash(&self.nodes[2 * i], &self.nodes[2 * i + 1]);
                self.changed.insert(i);
            }
            level = level.into_iter().filter(|i| *i > 1).map(|i| i / 2).collect();
        }
    }

    /// The root: up to date only when every write was rehashed ([`Records::refresh`]).
    pub fn root(&self) -> Digest {
        assert!(self.dirty.is_empty(), "a records root read before the written records were rehashed");
        self.nodes[1]
    }

    /// The proof of `bucket`: its entries and the sibling hashes on its path.
    pub fn prove(&self, bucket: usize) -> BucketProof {
        assert!(self.dirty.is_empty(), "a bucket proved before the written records were rehashed");
        let mut path = Vec::with_capacity(BUCKET_BITS as usize);
        let mut i = BUCKETS + bucket;
        while i > 1 {
            path.push(self.nodes[i ^ 1]);
            i /= 2;
        }
        let bucket_index = u16::try_from(bucket).expect("a bucket index");
        BucketProof { bucket: bucket_index, records: self.bucket_entries(bucket), path }
    }

    /// The root computed from every record, rehashed from its value: equal to
    /// [`Records::root`] in every reachable state between blocks (a check for tests; it costs
    /// the whole state).
    pub fn recomputed_root(&self) -> Digest {
        let mut fresh = Records::default();
        for tag in Tag::ALL {
            for (key, stored) in self.range(tag, [0; 32], [0xff; 32]) {
                fresh.put(tag, key, Some(stored.value));
            }
        }
        fresh.refresh();
        fresh.root()
    }

    /// Takes the writes since the last flush, for the host to move into its tables before it
    /// lets anyone read the state again.
    pub fn take_flush(&mut self) -> Flush {
        assert!(self.dirty.is_empty(), "a flush before the written records were rehashed");
        Flush {
            records: std::mem::take(&mut self.written)
                .into_iter()
                .map(|((tag, key), stored)| (tag, key, stored))
                .collect(),
            buckets: std::mem::take(&mut self.buckets)
                .into_iter()
                .map(|(bucket, entries)| (u16::try_from(bucket).expect("a bucket index"), entries))
                .collect(),
            members: std::mem::take(&mut self.members)
                .into_iter()
                .map(|((index, key, id), present)| (index, key, id, present))
                .collect(),
            nodes: std::mem::take(&mut self.changed)
                .into_iter()
                .map(|i| (u32::try_from(i).expect("a node index"), self.nodes[i]))
                .collect(),
        }
    }
}

/// A record's value, decoded: it was encoded by this state machine (and the host checks it
/// against its hash as it reads it).
fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> T {
    bcs::from_bytes(bytes).expect("a record decodes: this state machine encoded it")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_reads_lay_writes_over_the_base_in_order() {
        let base = vec![(1, 'a'), (3, 'c'), (5, 'e')];
        let written = vec![(0, Some('z')), (3, None), (4, Some('d')), (5, Some('E')), (6, None)];
        let merged: Vec<_> = merge(base.into_iter(), written.into_iter()).collect();
        assert_eq!(merged, vec![(0, 'z'), (1, 'a'), (4, 'd'), (5, 'E')]);
    }

    #[test]
    fn the_incremental_root_is_the_recomputed_one() {
        let mut records = Records::default();
        let empty = records.root();
        records.put(Tag::Account, [1; 32], Some(b"one".to_vec()));
        records.put(Tag::Object, [1; 32], Some(b"obj".to_vec()));
        records.put(Tag::Object, [2; 32], Some(b"two".to_vec()));
        records.refresh();
        assert_eq!(records.root(), records.recomputed_root());
        records.put(Tag::Object, [2; 32], None);
        records.refresh();
        assert_eq!(records.root(), records.recomputed_root());
        let proof = records.prove(bucket_of(&[1; 32]));
        assert_eq!(proof.check(&records.root()), Ok(()));
        assert_eq!(proof.check_value(Tag::Object, &[1; 32], Some(b"obj")), Ok(()));
        records.put(Tag::Account, [1; 32], None);
        records.put(Tag::Object, [1; 32], None);
        records.refresh();
        assert_eq!(records.root(), empty);
    }
}
