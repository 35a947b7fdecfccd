//! The chain RPC's wire types: what the server sends and the client reads, with the limits a
//! client must know.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use walrus_chain::objects::Object;
use walrus_chain::state::Account;
use walrus_chain::system::System;
use walrus_chain::tx::TransactionData;
use walrus_chain::{EventCursor, EventEnvelope, TxEffects};
use walrus_core::hash::Digest;
use walrus_core::keys::Address;
use walrus_core::{BlobId, ObjectId};

/// Largest transaction, in BCS bytes.
pub const TX_BYTES_MAX: usize = 128 * 1024;

/// Longest wait a request may ask for (submit or events).
pub const WAIT_MAX: Duration = Duration::from_secs(60);

/// Most events in one page.
pub const EVENTS_PAGE_MAX: usize = 1_000;

/// Most objects in one page of an owner's objects.
pub const OWNED_OBJECTS_PAGE_MAX: usize = 1_000;

/// The JSON body of every error.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// An error's code and reason.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable, for programs.
    pub code: String,
    /// For people.
    pub reason: String,
}

/// A transaction's effects and the block that ran it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecutedTx {
    /// The block height.
    pub height: u64,
    /// What it did.
    pub effects: TxEffects,
    /// The block's time (ms since the Unix epoch); in answers to a lookup
    /// (`GET /v1/transactions/{digest}`) only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_ms: Option<u64>,
    /// What the transaction asked; in answers to a lookup only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<TransactionData>,
}

impl ExecutedTx {
    /// The effects of a transaction run at `height`, without its data.
    pub fn new(height: u64, effects: TxEffects) -> ExecutedTx {
        ExecutedTx { height, effects, timestamp_ms: None, data: None }
    }
}

/// An account as the RPC shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountView {
    /// The address.
    pub address: Address,
    /// Balance and next nonce.
    #[serde(flatten)]
    pub account: Account,
}

/// An object with its ID.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectView {
    /// The ID.
    pub id: ObjectId,
    /// Owner and contents.
    #[serde(flatten)]
    pub object: Object,
}

/// Most key servers `GET /v1/key-servers` lists.
pub const KEY_SERVERS_MAX: usize = 1_000;

/// `GET /v1/key-servers`: the registered key servers' object IDs, in ID order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyServerList {
    /// The IDs.
    pub key_servers: Vec<ObjectId>,
}

/// A page of an owner's objects, in ID order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OwnedObjectsPage {
    /// The objects.
    pub objects: Vec<ObjectView>,
    /// Where the next page starts (`?after=`), if there may be more.
    pub next_cursor: Option<ObjectId>,
}

/// The system state with the chain's clock.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SystemView {
    /// Last block height.
    pub height: u64,
    /// Last block time (ms).
    pub timestamp_ms: u64,
    /// When the next epoch step (parameter selection or epoch change) is due (ms).
    pub next_epoch_step_ms: Option<u64>,
    /// WAL in existence (FROST).
    pub total_supply: u64,
    /// WAL burned so far (FROST).
    pub burned: u64,
    /// Parameters, committee, per-epoch accounts.
    pub system: System,
}

/// The blob objects of one blob ID.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlobView {
    /// The blob ID.
    pub blob_id: BlobId,
    /// Marked invalid by a certificate.
    pub invalid: bool,
    /// The event that marked it invalid (absent from hosts that predate it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalidation: Option<EventEnvelope>,
    /// Its blob objects (several accounts may register the same blob).
    pub objects: Vec<ObjectView>,
}

/// A page of events.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventPage {
    /// Events after the requested cursor, in order.
    pub events: Vec<EventEnvelope>,
    /// The cursor to ask from next (`height:index`); `None` if there were none at all.
    pub next_cursor: Option<String>,
}

/// Parses `height:index`.
pub fn parse_cursor(text: &str) -> Option<EventCursor> {
    let (height, index) = text.split_once(':')?;
    Some(EventCursor { height: height.parse().ok()?, index: index.parse().ok()? })
}

/// Formats a cursor as `height:index`.
pub fn format_cursor(cursor: EventCursor) -> String {
    format!("{}:{}", cursor.height, cursor.index)
}

/// Liveness and the chain's head.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Health {
    /// Always `ok` when the node answers.
    pub status: String,
    /// The chain ID (genesis digest).
    #[serde(with = "walrus_core::hash::hex_digest")]
    pub chain_id: Digest,
    /// Last block height.
    pub height: u64,
    /// Last block time (ms).
    pub timestamp_ms: u64,
    /// Current epoch.
    pub epoch: u32,
    /// State digest after the last block.
    #[serde(with = "walrus_core::hash::hex_digest")]
    pub state_digest: Digest,
    /// The minimum transaction fee in FROST.
    pub min_fee: u64,
    /// Whether `/v1/faucet` works here.
    pub faucet: bool,
}

/// A finalized block and the proof that it is final (`GET /v1/blocks/{height}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FinalizedBlock {
    /// Its height.
    pub height: u64,
    /// The block's BCS bytes, hex.
    pub block: String,
    /// The finalize votes of a quorum of validators on its digest.
    pub proof: walrus_chain::finality::FinalityProof,
}

/// A finalized block, its finality proof and the state header it commits to, with the system
/// object under that header (`GET /v1/state`): see `walrus_chain::light`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateProofView {
    /// The block's BCS bytes, hex.
    pub block: String,
    /// The finalize votes of a quorum of validators on its digest.
    pub finality: walrus_chain::finality::FinalityProof,
    /// The state at the block's execution height.
    pub header: walrus_chain::light::StateHeader,
    /// The system object's BCS bytes at that height, hex; absent if the validator no longer
    /// keeps them.
    pub system: Option<String>,
}

/// Most records one `GET /v1/records` may ask for.
pub const RECORD_KEYS_MAX: usize = 64;

/// A record's name in a query: its tag's letter (`A`ccount, `B`lob index, `I`nvalid blob ID,
/// `O`bject, `Q` conviction), a colon and its key in hex.
pub fn format_record_key(tag: walrus_chain::records::Tag, key: &[u8; 32]) -> String {
    use walrus_chain::records::Tag;
    let letter = match tag {
        Tag::Account => 'A',
        Tag::BlobIndex => 'B',
        Tag::Invalid => 'I',
        Tag::Object => 'O',
        Tag::Conviction => 'Q',
    };
    format!("{letter}:{}", hex::encode(key))
}

/// Parses [`format_record_key`]'s form.
pub fn parse_record_key(text: &str) -> Option<(walrus_chain::records::Tag, [u8; 32])> {
    use walrus_chain::records::Tag;
    let (letter, key) = text.split_once(':')?;
    let tag = match letter {
        "A" => Tag::Account,
        "B" => Tag::BlobIndex,
        "I" => Tag::Invalid,
        "O" => Tag::Object,
        "Q" => Tag::Conviction,
        _ => return None,
    };
    let key = key.strip_prefix("0x").unwrap_or(key);
    let bytes = hex::decode(key).ok()?;
    Some((tag, bytes.try_into().ok()?))
}

/// One record asked for, with its value's BCS bytes (hex) if the state holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordValue {
    /// Its kind.
    pub tag: walrus_chain::records::Tag,
    /// Its key, hex.
    pub key: String,
    /// Its value's BCS bytes, hex; absent if the state has no such record.
    pub value: Option<String>,
}

/// Records with their proof (`GET /v1/records?keys=...`): a finalized state, and for each
/// record asked for its value and the proof of its bucket under the state's records root.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordsProofView {
    /// The finalized state (its system object is left out).
    pub state: StateProofView,
    /// The proofs of the buckets of the records asked for, each once.
    pub buckets: Vec<walrus_chain::records::BucketProof>,
    /// The records asked for, in the order asked.
    pub values: Vec<RecordValue>,
}

/// The genesis (`GET /v1/genesis`): its digest is the chain ID.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GenesisView {
    /// The genesis' BCS bytes, hex.
    pub genesis: String,
}

/// A faucet request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaucetRequest {
    /// Who gets the WAL.
    pub address: Address,
    /// How much, in FROST.
    pub amount: u64,
}
