//! The state's tables in the host's database: records (`tag byte ‖ key` -> `hash ‖ value`),
//! buckets (big-endian `u16` -> their entries, 65 bytes each: tag byte, key, hash) and index
//! members (`index byte ‖ key ‖ object ID` -> nothing), read by the state machine as a block
//! needs them ([`walrus_chain::tables::Tables`]).
//!
//! Every record read is checked against the hash stored beside it, so a corrupt disk is
//! noticed before its bytes reach execution. A read that fails or a record that does not match
//! stops the process: a block must never run on records the host could not see, and a restart
//! replays from the last state the database holds.

use fjall::{Keyspace, OwnedWriteBatch};
use walrus_chain::records::{record_hash, RecordEntry, Tag};
use walrus_chain::tables::{Flush, Index, MemberIter, RecordIter, Stored, Tables};
use walrus_core::ObjectId;

/// The [`Tables`] on two fjall keyspaces.
pub struct FjallTables {
    records: Keyspace,
    buckets: Keyspace,
    members: Keyspace,
}

/// Bytes of one bucket entry: tag byte, key, hash.
const ENTRY_BYTES: usize = 1 + 32 + 32;

/// Stops the process: the state cannot be read (see the module's documentation).
fn fatal(what: &str, why: &dyn std::fmt::Display) -> ! {
    tracing::error!("chain state tables: {what}: {why}; stopping (a restart replays from the stored state)");
    eprintln!("chain state tables: {what}: {why}; stopping (a restart replays from the stored state)");
    std::process::abort()
}

fn record_key(tag: Tag, key: &[u8; 32]) -> [u8; 33] {
    let mut out = [0u8; 33];
    out[0] = tag.byte();
    out[1..].copy_from_slice(key);
    out
}

fn member_key(index: Index, key: &[u8; 32], id: &ObjectId) -> [u8; 65] {
    let mut out = [0u8; 65];
    out[0] = index.byte();
    out[1..33].copy_from_slice(key);
    out[33..].copy_from_slice(&id.0);
    out
}

/// A stored record's value, checked against its hash.
fn stored(tag: Tag, key: &[u8; 32], bytes: &[u8]) -> Stored {
    let Some((hash, value)) = bytes.split_first_chunk::<32>() else {
        fatal("a record shorter than its hash", &hex::encode(key))
    };
    if record_hash(tag, key, value) != *hash {
        fatal("a record that does not match its hash (a corrupt disk?)", &hex::encode(key));
    }
    Stored { hash: *hash, value: value.to_vec() }
}

impl FjallTables {
    /// The tables on `records`, `buckets` and `members`.
    pub fn new(records: Keyspace, buckets: Keyspace, members: Keyspace) -> FjallTables {
        FjallTables { records, buckets, members }
    }

    /// Adds the writes of `flush` to `batch`.
    pub fn flush_into(&self, batch: &mut OwnedWriteBatch, flush: &Flush) {
        for (tag, key, stored) in &flush.records {
            let at = record_key(*tag, key);
            match stored {
                Some(stored) => {
                    batch.insert(&self.records, at, [stored.hash.as_slice(), &stored.value].concat())
                }
                None => batch.remove(&self.records, at),
            }
        }
        for (bucket, entries) in &flush.buckets {
            let mut bytes = Vec::with_capacity(entries.len() * ENTRY_BYTES);
            for entry in entries {
                bytes.push(entry.tag.byte());
                bytes.extend_from_slice(&entry.key);
                bytes.extend_from_slice(&entry.hash);
            }
            batch.insert(&self.buckets, bucket.to_be_bytes(), bytes);
        }
        for (index, key, id, present) in &flush.members {
            let at = member_key(*index, key, id);
            if *present {
                batch.insert(&self.members, at, []);
            } else {
                batch.remove(&self.members, at);
            }
        }
    }
}

impl Tables for FjallTables {
    fn record(&self, tag: Tag, key: &[u8; 32]) -> Option<Stored> {
        match self.records.get(record_key(tag, key)) {
            Ok(found) => found.map(|bytes| stored(tag, key, &bytes)),
            Err(e) => fatal("a record read failed", &e),
        }
    }

    fn records(&self, tag: Tag, from: [u8; 32], to: [u8; 32]) -> RecordIter<'_> {
        let range = record_key(tag, &from)..=record_key(tag, &to);
        Box::new(self.records.range(range).map(move |guard| {
            let (at, bytes) = guard.into_inner().unwrap_or_else(|e| fatal("a record scan failed", &e));
            let key: [u8; 32] = at
                .get(1..)
                .and_then(|k| k.try_into().ok())
                .unwrap_or_else(|| fatal("a record key of the wrong length", &hex::encode(&at)));
            (key, stored(tag, &key, &bytes))
        }))
    }

    fn bucket(&self, bucket: usize) -> Vec<RecordEntry> {
        let at =
            u16::try_from(bucket).unwrap_or_else(|_| fatal("a bucket out of range", &bucket)).to_be_bytes();
        let bytes = match self.buckets.get(at) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Vec::new(),
            Err(e) => fatal("a bucket read failed", &e),
        };
        if bytes.len() % ENTRY_BYTES != 0 {
            fatal("a bucket of a wrong length", &bucket);
        }
        bytes
            .chunks_exact(ENTRY_BYTES)
            .map(|chunk| {
                let tag =
                    Tag::from_byte(chunk[0]).unwrap_or_else(|| fatal("a bucket entry of no tag", &bucket));
                let key = chunk[1..33].try_into().expect("32 bytes");
                let hash = chunk[33..].try_into().expect("32 bytes");
                RecordEntry { tag, key, hash }
            })
            .collect()
    }

    fn members(&self, index: Index, key: &[u8; 32], after: Option<ObjectId>) -> MemberIter<'_> {
        let from = match after {
            Some(after) => std::ops::Bound::Excluded(member_key(index, key, &after)),
            None => std::ops::Bound::Included(member_key(index, key, &ObjectId([0; 32]))),
        };
        let to = std::ops::Bound::Included(member_key(index, key, &ObjectId([0xff; 32])));
        Box::new(self.members.range((from, to)).map(|guard| {
            let at = guard.key().unwrap_or_else(|e| fatal("an index scan failed", &e));
            let id: [u8; 32] = at
                .get(33..)
                .and_then(|k| k.try_into().ok())
                .unwrap_or_else(|| fatal("an index key of the wrong length", &hex::encode(&at)));
            ObjectId(id)
        }))
    }
}
