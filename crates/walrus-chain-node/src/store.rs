//! The block store: blocks are the only durable truth; effects and events are caches.
//!
//! A block is written and synced (`PersistMode::SyncAll`) before it is executed, so nothing a
//! client was told is final can be lost. Effects, events and the transaction index are written
//! after execution without a sync: on start the host replays every block and rewrites them, so a
//! crash between the two loses nothing that cannot be recomputed.

use std::path::Path;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use walrus_chain::{Block, BlockEffects, Event, EventCursor, EventEnvelope, TxDigest, TxEffects, TxStatus};
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
    /// Records what a block did (not synced; rebuilt by replay).
    fn put_effects(&self, effects: &BlockEffects) -> Result<(), StoreError>;
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
}

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
}

const CHAIN_ID_KEY: &[u8] = b"chain_id";

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
        let db = Database::builder(dir).open()?;
        let keyspace = |name: &str| db.keyspace(name, KeyspaceCreateOptions::default);
        let store = FjallBlockStore {
            blocks: keyspace("blocks")?,
            effects: keyspace("effects")?,
            events: keyspace("events")?,
            txs: keyspace("txs")?,
            invalidations: keyspace("invalidations")?,
            meta: keyspace("meta")?,
            db,
        };
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

    fn put_effects(&self, effects: &BlockEffects) -> Result<(), StoreError> {
        let mut batch = self.db.batch();
        batch.insert(&self.effects, effects.height.to_be_bytes(), encode(effects));
        let all = effects.system_events.iter().chain(effects.transactions.iter().flat_map(|t| &t.events));
        for event in all {
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
        batch.commit()?;
        Ok(())
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
}

/// The effects of one transaction, looked up by digest.
pub fn tx_effects(store: &dyn BlockStore, digest: &TxDigest) -> Result<Option<(u64, TxEffects)>, StoreError> {
    let Some((height, index)) = store.tx_location(digest)? else { return Ok(None) };
    let Some(effects) = store.effects(height)? else { return Ok(None) };
    Ok(effects.transactions.into_iter().nth(index as usize).map(|tx| (height, tx)))
}
