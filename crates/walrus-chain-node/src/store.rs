//! The block store: blocks are the only durable truth; the state, effects and events are
//! derived from them.
//!
//! A block is written and synced (`PersistMode::SyncAll`) before it is executed, so nothing a
//! client was told is final can be lost. After execution, one batch writes the block's effects,
//! events and transaction index with the state's writes ([`walrus_chain::tables::Flush`]: its
//! records, index members and records-tree nodes) and the state's head (its other fields),
//! without a sync. A crash loses a suffix of those batches at most (the journal keeps their
//! order), so the stored state is always that after some block; on start the host reads it and
//! replays the blocks after it. Nothing on start is linear in the state: the tables are read
//! as blocks need them.

use std::path::Path;
use std::sync::Arc;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use walrus_chain::tables::{Flush, Tables};
use walrus_chain::{Block, BlockEffects, Event, EventCursor, EventEnvelope, TxDigest, TxEffects, TxStatus};
use walrus_core::hash::Digest;
use walrus_core::BlobId;

/// Why the store failed. Every one of these is fatal for the host: it stops rather than run on
/// a state it cannot persist.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("block store: {0}")]
    Db(#[from] fjall::Error),
    /// Stored bytes do not decode.
    #[error("block store: corrupt {what} record: {source}")]
    Corrupt {
        /// Which record.
        what: &'static str,
        /// The decoding error.
        source: bcs::Error,
    },
    /// The database was written in another format.
    #[error(
        "block store format {found}, this build reads format {expected}: move the chain's store \
         aside and start the chain again from its genesis"
    )]
    Format {
        /// The store's.
        found: u16,
        /// This build's.
        expected: u16,
    },
    /// The database holds another chain.
    #[error("block store belongs to chain {stored}, not {expected}")]
    WrongChain {
        /// The chain it holds.
        stored: String,
        /// The chain of the genesis file.
        expected: String,
    },
}

/// Where blocks, effects and events live. The single-sequencer host and a replicated host use
/// the same store.
pub trait BlockStore: Send + Sync + 'static {
    /// Appends `block`; returns only once it is durable.
    fn append(&self, block: &Block) -> Result<(), StoreError>;
    /// The block at `height`.
    fn block(&self, height: u64) -> Result<Option<Block>, StoreError>;
    /// The highest stored block (0 when there is none).
    fn latest_height(&self) -> Result<u64, StoreError>;
    /// Records what a block did with the state after it: `effects` (none for the genesis
    /// state), the state's `head` (its BCS bytes) and `flush`, the writes to its tables, in one
    /// batch that is not synced (replay rebuilds it).
    fn put_state(&self, effects: Option<&BlockEffects>, head: &[u8], flush: &Flush)
        -> Result<(), StoreError>;
    /// The head of the stored state (see [`BlockStore::put_state`]), if one was stored.
    fn state_head(&self) -> Result<Option<Vec<u8>>, StoreError>;
    /// The stored records-tree nodes, by heap index (those not stored are the empty tree's).
    fn tree_nodes(&self) -> Result<Vec<(u32, Digest)>, StoreError>;
    /// The stored state's tables, read as the state needs them.
    fn tables(&self) -> Arc<dyn Tables>;
    /// What the block at `height` did, if recorded.
    fn effects(&self, height: u64) -> Result<Option<BlockEffects>, StoreError>;
    /// Where transaction `digest` was executed: block height and position.
    fn tx_location(&self, digest: &TxDigest) -> Result<Option<(u64, u32)>, StoreError>;
    /// Up to `limit` events strictly after `after` (from the first event if `None`).
    fn events_after(
        &self,
        after: Option<EventCursor>,
        limit: usize,
    ) -> Result<Vec<EventEnvelope>, StoreError>;
    /// The event that marked `blob_id` invalid, if one did.
    fn invalidation(&self, blob_id: &BlobId) -> Result<Option<EventEnvelope>, StoreError>;
    /// Makes everything written so far durable, the caches included.
    fn sync(&self) -> Result<(), StoreError>;
}

/// The store's format: version 1 is blocks with a version tag and a lagged state commitment;
/// version 2 has staking in the state and effects without a system step; version 3 has each
/// node's network key; version 4 has equivocation evidence in blocks and the records tree in
/// the state; version 5 has Walrus Sites (objects owned by objects) in the state; version 6
/// has access policies and the key server index; version 7 keeps the state's records, indexes
/// and tree in the database instead of snapshot files.
pub const STORE_FORMAT: u16 = 7;

/// The [`BlockStore`] on fjall.
pub struct FjallBlockStore {
    db: Database,
    blocks: Keyspace,
    effects: Keyspace,
    events: Keyspace,
    txs: Keyspace,
    /// Blob ID -> cursor of the event that marked it invalid.
    invalidations: Keyspace,
    meta: Keyspace,
    /// The state's records and indexes ([`crate::tables`]).
    tables: Arc<crate::tables::FjallTables>,
    /// Records-tree node (heap index, big-endian u32) -> its hash.
    tree: Keyspace,
}

/// The most journal a store keeps before it flushes memtables (a restart reads at most this).
pub const JOURNAL_MAX_BYTES: u64 = 64 << 20;

/// The database's block cache: the hot part of the state's tables (accounts, recent objects,
/// buckets) stays in memory. The state at a million objects takes about 0.5 GiB on disk.
pub const CACHE_BYTES: u64 = 256 << 20;

const CHAIN_ID_KEY: &[u8] = b"chain_id";
const FORMAT_KEY: &[u8] = b"format";
const STATE_KEY: &[u8] = b"state";

fn decode<T: serde::de::DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    bcs::from_bytes(bytes).map_err(|source| StoreError::Corrupt { what, source })
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    bcs::to_bytes(value).expect("chain types are plain BCS")
}

fn cursor_key(cursor: EventCursor) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..8].copy_from_slice(&cursor.height.to_be_bytes());
    key[8..].copy_from_slice(&cursor.index.to_be_bytes());
    key
}

impl FjallBlockStore {
    /// Opens (or creates) the store in `dir` for the chain `chain_id`.
    pub fn open(dir: &Path, chain_id: &[u8; 32]) -> Result<Self, StoreError> {
        // The journal bounds what a restart replays into memtables: the minimum fjall allows.
        let db =
            Database::builder(dir).max_journaling_size(JOURNAL_MAX_BYTES).cache_size(CACHE_BYTES).open()?;
        let keyspace = |name: &str| db.keyspace(name, KeyspaceCreateOptions::default);
        let store = FjallBlockStore {
            blocks: keyspace("blocks")?,
            effects: keyspace("effects")?,
            events: keyspace("events")?,
            txs: keyspace("txs")?,
            invalidations: keyspace("invalidations")?,
            meta: keyspace("meta")?,
            tables: Arc::new(crate::tables::FjallTables::new(
                keyspace("records")?,
                keyspace("buckets")?,
                keyspace("members")?,
            )),
            tree: keyspace("tree")?,
            db,
        };
        let found = match store.meta.get(FORMAT_KEY)? {
            Some(bytes) => u16::from_le_bytes(bytes.as_ref().try_into().unwrap_or([0, 0])),
            // A store from before formats were recorded, unless it is new.
            None if store.blocks.first_key_value().is_some() => 0,
            None => STORE_FORMAT,
        };
        if found != STORE_FORMAT {
            return Err(StoreError::Format { found, expected: STORE_FORMAT });
        }
        match store.meta.get(CHAIN_ID_KEY)? {
            Some(stored) if stored.as_ref() != chain_id => {
                return Err(StoreError::WrongChain {
                    stored: format!("0x{}", hex::encode(&stored)),
                    expected: format!("0x{}", hex::encode(chain_id)),
                });
            }
            Some(_) => {}
            None => {
                let mut batch = store.db.batch().durability(Some(PersistMode::SyncAll));
                batch.insert(&store.meta, CHAIN_ID_KEY, chain_id.as_slice());
                batch.insert(&store.meta, FORMAT_KEY, STORE_FORMAT.to_le_bytes().as_slice());
                batch.commit()?;
            }
        }
        Ok(store)
    }
}

impl BlockStore for FjallBlockStore {
    fn append(&self, block: &Block) -> Result<(), StoreError> {
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        batch.insert(&self.blocks, block.height.to_be_bytes(), encode(block));
        batch.commit()?;
        Ok(())
    }

    fn block(&self, height: u64) -> Result<Option<Block>, StoreError> {
        self.blocks.get(height.to_be_bytes())?.map(|bytes| decode("block", &bytes)).transpose()
    }

    fn latest_height(&self) -> Result<u64, StoreError> {
        let Some(last) = self.blocks.last_key_value() else { return Ok(0) };
        let key = last.key()?;
        let bytes: [u8; 8] = key
            .as_ref()
            .try_into()
            .map_err(|_| StoreError::Corrupt { what: "block key", source: bcs::Error::Eof })?;
        Ok(u64::from_be_bytes(bytes))
    }

    fn put_state(
        &self,
        effects: Option<&BlockEffects>,
        head: &[u8],
        flush: &Flush,
    ) -> Result<(), StoreError> {
        let mut batch = self.db.batch();
        if let Some(effects) = effects {
            self.effects_into(&mut batch, effects);
        }
        self.tables.flush_into(&mut batch, flush);
        for (i, node) in &flush.nodes {
            batch.insert(&self.tree, i.to_be_bytes(), node.as_slice());
        }
        batch.insert(&self.meta, STATE_KEY, head);
        batch.commit()?;
        Ok(())
    }

    fn state_head(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.meta.get(STATE_KEY)?.map(|bytes| bytes.to_vec()))
    }

    fn tree_nodes(&self) -> Result<Vec<(u32, Digest)>, StoreError> {
        let corrupt = || StoreError::Corrupt { what: "records-tree node", source: bcs::Error::Eof };
        let mut nodes = Vec::new();
        for guard in self.tree.iter() {
            let (key, value) = guard.into_inner()?;
            let index: [u8; 4] = key.as_ref().try_into().map_err(|_| corrupt())?;
            let node: Digest = value.as_ref().try_into().map_err(|_| corrupt())?;
            nodes.push((u32::from_be_bytes(index), node));
        }
        Ok(nodes)
    }

    fn tables(&self) -> Arc<dyn Tables> {
        self.tables.clone()
    }

    fn effects(&self, height: u64) -> Result<Option<BlockEffects>, StoreError> {
        self.effects.get(height.to_be_bytes())?.map(|bytes| decode("effects", &bytes)).transpose()
    }

    fn tx_location(&self, digest: &TxDigest) -> Result<Option<(u64, u32)>, StoreError> {
        let Some(bytes) = self.txs.get(digest.0)? else { return Ok(None) };
        let corrupt = || StoreError::Corrupt { what: "transaction index", source: bcs::Error::Eof };
        let height: [u8; 8] = bytes.get(..8).and_then(|b| b.try_into().ok()).ok_or_else(corrupt)?;
        let index: [u8; 4] = bytes.get(8..12).and_then(|b| b.try_into().ok()).ok_or_else(corrupt)?;
        Ok(Some((u64::from_be_bytes(height), u32::from_be_bytes(index))))
    }

    fn events_after(
        &self,
        after: Option<EventCursor>,
        limit: usize,
    ) -> Result<Vec<EventEnvelope>, StoreError> {
        let start = match after {
            None => std::ops::Bound::Unbounded,
            Some(cursor) => std::ops::Bound::Excluded(cursor_key(cursor).to_vec()),
        };
        let mut out = Vec::new();
        for guard in self.events.range::<Vec<u8>, _>((start, std::ops::Bound::Unbounded)).take(limit) {
            out.push(decode("event", &guard.value()?)?);
        }
        Ok(out)
    }

    fn invalidation(&self, blob_id: &BlobId) -> Result<Option<EventEnvelope>, StoreError> {
        let Some(key) = self.invalidations.get(blob_id.as_bytes())? else { return Ok(None) };
        self.events.get(key)?.map(|bytes| decode("event", &bytes)).transpose()
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }
}

impl FjallBlockStore {
    /// Writes every memtable to disk and waits until no flush or compaction runs, so that the
    /// journal is empty and reads meet a settled tree: what a store looks like after running a
    /// while (the chain-scale bench measures from there).
    pub fn settle(&self) -> Result<(), StoreError> {
        for name in self.db.list_keyspace_names() {
            self.db.keyspace(&name, KeyspaceCreateOptions::default)?.rotate_memtable_and_wait()?;
        }
        while self.db.outstanding_flushes() > 0 || self.db.active_compactions() > 0 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Ok(())
    }

    /// Bytes of journal the database holds: what opening it replays.
    pub fn journal_bytes(&self) -> Result<u64, StoreError> {
        Ok(self.db.journal_disk_space()?)
    }

    /// Adds `effects`, their events and transaction index to `batch`.
    fn effects_into(&self, batch: &mut fjall::OwnedWriteBatch, effects: &BlockEffects) {
        batch.insert(&self.effects, effects.height.to_be_bytes(), encode(effects));
        for event in effects.all_events() {
            batch.insert(&self.events, cursor_key(event.cursor), encode(event));
            if let Event::InvalidBlobID { blob_id, .. } = &event.event {
                batch.insert(&self.invalidations, blob_id.as_bytes().as_slice(), cursor_key(event.cursor));
            }
        }
        for (index, tx) in effects.transactions.iter().enumerate() {
            // A skipped transaction did nothing; the same bytes may still run once valid.
            if matches!(tx.status, TxStatus::Skipped { .. }) {
                continue;
            }
            let mut location = [0u8; 12];
            location[..8].copy_from_slice(&effects.height.to_be_bytes());
            location[8..].copy_from_slice(&(index as u32).to_be_bytes());
            batch.insert(&self.txs, tx.digest.0, location);
        }
    }
}

/// The effects of one transaction, looked up by digest.
pub fn tx_effects(store: &dyn BlockStore, digest: &TxDigest) -> Result<Option<(u64, TxEffects)>, StoreError> {
    let Some((height, index)) = store.tx_location(digest)? else { return Ok(None) };
    let Some(effects) = store.effects(height)? else { return Ok(None) };
    Ok(effects.transactions.into_iter().nth(index as usize).map(|tx| (height, tx)))
}
