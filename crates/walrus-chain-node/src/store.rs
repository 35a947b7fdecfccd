//! The block store: blocks are the only durable truth; effects and events are caches.
//!
//! A block is written and synced (`PersistMode::SyncAll`) before it is executed, so nothing a
//! client was told is final can be lost. Effects, events and the transaction index are written
//! after execution without a sync: on start the host replays the blocks after its latest state
//! snapshot and rewrites them, so a crash between the two loses nothing that cannot be
//! recomputed. Before a snapshot is written everything is synced, so the caches of the blocks it
//! covers are durable.
//!
//! Snapshots are files beside the database (`snapshots/<height>.snap`): a header, the state's
//! BCS bytes and a Blake2b-256 checksum, written to a temporary file, synced and renamed.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

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
    /// A snapshot file cannot be read or written.
    #[error("state snapshot {path}: {source}")]
    Snapshot {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
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
    /// Makes everything written so far durable, the caches included.
    fn sync(&self) -> Result<(), StoreError>;
    /// Keeps `state` (the BCS bytes of the state after block `height`) durably, and drops all
    /// but the newest [`SNAPSHOTS_KEPT`] snapshots.
    fn put_snapshot(&self, height: u64, state: &[u8]) -> Result<(), StoreError>;
    /// The heights of the snapshots held, newest first.
    fn snapshot_heights(&self) -> Result<Vec<u64>, StoreError>;
    /// The state bytes of the snapshot at `height`, checked against its checksum.
    fn snapshot(&self, height: u64) -> Result<Option<Vec<u8>>, StoreError>;
}

/// Snapshots a store keeps (the newest may be torn by a crash in a way the checksum catches).
pub const SNAPSHOTS_KEPT: usize = 2;

/// The store's format: version 1 is blocks with a version tag and a lagged state commitment;
/// version 2 has staking in the state and effects without a system step; version 3 has each
/// node's network key; version 4 has equivocation evidence in blocks and the records tree in
/// the state; version 5 has Walrus Sites (objects owned by objects) in the state; version 6
/// has access policies and the key server index.
pub const STORE_FORMAT: u16 = 6;

const SNAPSHOT_MAGIC: &[u8; 16] = b"walrus-chain-snp";
const SNAPSHOT_VERSION: u16 = 1;

/// The [`BlockStore`] on fjall.
pub struct FjallBlockStore {
    db: Database,
    snapshots: PathBuf,
    blocks: Keyspace,
    effects: Keyspace,
    events: Keyspace,
    txs: Keyspace,
    /// Blob ID -> cursor of the event that marked it invalid.
    invalidations: Keyspace,
    meta: Keyspace,
}

const CHAIN_ID_KEY: &[u8] = b"chain_id";
const FORMAT_KEY: &[u8] = b"format";

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
            snapshots: dir.join("snapshots"),
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

impl FjallBlockStore {
    fn snapshot_path(&self, height: u64) -> PathBuf {
        self.snapshots.join(format!("{height:020}.snap"))
    }

    fn snapshot_error(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Snapshot { path: path.to_path_buf(), source }
    }
}

/// A snapshot file's bytes: magic, version, height, length, the state, and a checksum of all
/// that precedes it.
fn snapshot_file(height: u64, state: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(state.len() + 66);
    out.extend_from_slice(SNAPSHOT_MAGIC);
    out.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
    out.extend_from_slice(&height.to_le_bytes());
    out.extend_from_slice(&(state.len() as u64).to_le_bytes());
    out.extend_from_slice(state);
    let checksum = walrus_core::hash::blake2b256_parts(&[b"walrus-chain/snapshot/v1", &out]);
    out.extend_from_slice(&checksum);
    out
}

/// The state bytes of a snapshot file, or why they cannot be trusted.
fn parse_snapshot_file(height: u64, mut bytes: Vec<u8>) -> Result<Vec<u8>, &'static str> {
    const HEADER: usize = 16 + 2 + 8 + 8;
    if bytes.len() < HEADER + 32 {
        return Err("shorter than its header");
    }
    let (body, checksum) = bytes.split_at(bytes.len() - 32);
    if walrus_core::hash::blake2b256_parts(&[b"walrus-chain/snapshot/v1", body]).as_slice() != checksum {
        return Err("checksum mismatch (torn or corrupt)");
    }
    if &body[..16] != SNAPSHOT_MAGIC || body[16..18] != SNAPSHOT_VERSION.to_le_bytes() {
        return Err("not a snapshot of this format");
    }
    if body[18..26] != height.to_le_bytes() {
        return Err("height does not match its name");
    }
    let len = u64::from_le_bytes(body[26..34].try_into().expect("8 bytes"));
    if len != (body.len() - HEADER) as u64 {
        return Err("length does not match");
    }
    bytes.truncate(bytes.len() - 32);
    bytes.drain(..HEADER);
    Ok(bytes)
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

    fn sync(&self) -> Result<(), StoreError> {
        self.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }

    fn put_snapshot(&self, height: u64, state: &[u8]) -> Result<(), StoreError> {
        let dir = &self.snapshots;
        fs::create_dir_all(dir).map_err(Self::snapshot_error(dir))?;
        let path = self.snapshot_path(height);
        let temporary = path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            let mut file = fs::File::create(&temporary)?;
            file.write_all(&snapshot_file(height, state))?;
            file.sync_all()?;
            fs::rename(&temporary, &path)?;
            fs::File::open(dir)?.sync_all()
        };
        write().map_err(Self::snapshot_error(&path))?;
        for old in self.snapshot_heights()?.into_iter().skip(SNAPSHOTS_KEPT) {
            let old = self.snapshot_path(old);
            fs::remove_file(&old).map_err(Self::snapshot_error(&old))?;
        }
        Ok(())
    }

    fn snapshot_heights(&self) -> Result<Vec<u64>, StoreError> {
        let entries = match fs::read_dir(&self.snapshots) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Self::snapshot_error(&self.snapshots)(e)),
        };
        let mut heights = Vec::new();
        for entry in entries {
            let name = entry.map_err(Self::snapshot_error(&self.snapshots))?.file_name();
            let name = name.to_string_lossy();
            if let Some(height) = name.strip_suffix(".snap").and_then(|h| h.parse::<u64>().ok()) {
                heights.push(height);
            }
        }
        heights.sort_unstable_by(|a, b| b.cmp(a));
        Ok(heights)
    }

    fn snapshot(&self, height: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.snapshot_path(height);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Self::snapshot_error(&path)(e)),
        };
        parse_snapshot_file(height, bytes).map(Some).map_err(|why| StoreError::Snapshot {
            path,
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, why),
        })
    }
}

/// The effects of one transaction, looked up by digest.
pub fn tx_effects(store: &dyn BlockStore, digest: &TxDigest) -> Result<Option<(u64, TxEffects)>, StoreError> {
    let Some((height, index)) = store.tx_location(digest)? else { return Ok(None) };
    let Some(effects) = store.effects(height)? else { return Ok(None) };
    Ok(effects.transactions.into_iter().nth(index as usize).map(|tx| (height, tx)))
}
