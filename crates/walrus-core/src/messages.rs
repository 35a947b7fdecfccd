//! Signed protocol messages: the 7-byte intent header, storage confirmations, invalid-blob
//! attestations, sync-shard requests, proofs of possession, and certificates.
//!
//! Every signed message is the BCS of `ProtocolMessage { intent (type, version 0, app 3),
//! epoch: u32, body }`; the signature covers exactly those bytes. A [`SignedMessage`] carries
//! the bytes and a BLS signature; in JSON both are standard base64 (`serializedMessage`,
//! `signature`), in BCS a length-prefixed byte string and 96 raw bytes.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::blob_id::BlobId;
use crate::ids::{Epoch, ObjectId, ShardIndex, SliverType};
use crate::keys::{Address, BlsKeyPair, BlsPublicKey, BlsSignature, KeyError};

/// Intent types (the first header byte).
pub mod intent_type {
    /// Proof of possession of a BLS key.
    pub const PROOF_OF_POSSESSION: u8 = 0;
    /// Storage confirmation (blob certification).
    pub const BLOB_CERT: u8 = 1;
    /// Attestation that a blob ID is invalid.
    pub const INVALID_BLOB_ID: u8 = 2;
    /// Shard-sync request between storage nodes (off chain).
    pub const SYNC_SHARD: u8 = 3;
    /// Deny-list update.
    pub const DENY_LIST_UPDATE: u8 = 4;
    /// Deny-listed blob deleted.
    pub const DENY_LIST_BLOB_DELETED: u8 = 5;
    /// Protocol version.
    pub const PROTOCOL_VERSION: u8 = 6;
}

/// The only intent version.
pub const INTENT_VERSION: u8 = 0;
/// The storage application's ID.
pub const INTENT_APP_ID: u8 = 3;

/// The 3-byte intent at the start of every signed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// One of [`intent_type`].
    pub intent_type: u8,
    /// Always [`INTENT_VERSION`].
    pub version: u8,
    /// Always [`INTENT_APP_ID`].
    pub app_id: u8,
}

impl Intent {
    /// The storage app's intent of the given type.
    pub const fn storage(intent_type: u8) -> Intent {
        Intent { intent_type, version: INTENT_VERSION, app_id: INTENT_APP_ID }
    }
}

/// A message body with its intent and epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolMessage<T> {
    /// What kind of message this is.
    pub intent: Intent,
    /// The epoch the signer speaks for.
    pub epoch: Epoch,
    /// The body.
    pub body: T,
}

/// A message body that knows its intent type.
pub trait MessageBody: Serialize + DeserializeOwned {
    /// The intent type this body is signed under.
    const INTENT_TYPE: u8;
}

impl<T: MessageBody> ProtocolMessage<T> {
    /// The message for `body` in `epoch`, with the body's intent.
    pub fn new(epoch: Epoch, body: T) -> Self {
        ProtocolMessage { intent: Intent::storage(T::INTENT_TYPE), epoch, body }
    }

    /// The BCS bytes that are signed.
    pub fn to_bytes(&self) -> Vec<u8> {
        bcs::to_bytes(self).expect("protocol messages are plain BCS structs")
    }
}

/// How a confirmed blob may be removed: never (permanent) or by its blob object's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlobPersistenceType {
    /// Stored until its end epoch.
    Permanent,
    /// Deletable by the owner of this blob object.
    Deletable {
        /// The blob object on chain.
        object_id: ObjectId,
    },
}

/// Body of a storage confirmation: the node stores both slivers of all its shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageConfirmation {
    /// The confirmed blob.
    pub blob_id: BlobId,
    /// Permanent or deletable (with the object).
    pub blob_type: BlobPersistenceType,
}

impl MessageBody for StorageConfirmation {
    const INTENT_TYPE: u8 = intent_type::BLOB_CERT;
}

/// Body of an invalid-blob attestation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidBlobIdMsg(pub BlobId);

impl MessageBody for InvalidBlobIdMsg {
    const INTENT_TYPE: u8 = intent_type::INVALID_BLOB_ID;
}

/// Version 1 of a shard-sync request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncShardRequestV1 {
    /// The shard to copy.
    pub shard_index: ShardIndex,
    /// Which slivers.
    pub sliver_type: SliverType,
    /// Resume from this blob ID (inclusive), in blob-ID order.
    pub starting_blob_id: BlobId,
    /// At most this many slivers.
    pub sliver_count: u64,
    /// Sync blobs certified before this epoch (the epoch being entered).
    pub epoch: Epoch,
}

/// A shard-sync request, versioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncShardRequest {
    /// The only version.
    V1(SyncShardRequestV1),
}

impl MessageBody for SyncShardRequest {
    const INTENT_TYPE: u8 = intent_type::SYNC_SHARD;
}

/// A shard-sync answer: slivers of the shard from the starting blob ID on, in blob-ID order
/// (fewer than asked once the shard or the answer's byte budget ends), unverified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncShardResponse {
    /// The only version.
    V1(Vec<(BlobId, crate::sliver::UnverifiedSliver)>),
}

/// Body of a proof of possession: the signer's account and BLS key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofOfPossessionBody {
    /// The account registering the key (the transaction sender).
    pub address: Address,
    /// The BLS key whose possession is proven.
    pub bls_public_key: BlsPublicKey,
}

impl MessageBody for ProofOfPossessionBody {
    const INTENT_TYPE: u8 = intent_type::PROOF_OF_POSSESSION;
}

/// Signs a proof of possession of `key` for `address` in `epoch`.
pub fn proof_of_possession(key: &BlsKeyPair, address: Address, epoch: Epoch) -> BlsSignature {
    let message =
        ProtocolMessage::new(epoch, ProofOfPossessionBody { address, bls_public_key: *key.public() });
    key.sign(&message.to_bytes())
}

/// Checks a proof of possession.
pub fn verify_proof_of_possession(
    key: &BlsPublicKey,
    address: Address,
    epoch: Epoch,
    signature: &BlsSignature,
) -> Result<(), KeyError> {
    let message = ProtocolMessage::new(epoch, ProofOfPossessionBody { address, bls_public_key: *key });
    key.verify(&message.to_bytes(), signature)
}

/// Why a signed message was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The bytes are not a message of the expected type.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The intent is not the one expected for this message type.
    #[error("unexpected intent {actual:?}, expected {expected:?}")]
    WrongIntent {
        /// Intent found.
        actual: Intent,
        /// Intent expected.
        expected: Intent,
    },
    /// The message is for another epoch.
    #[error("message is for epoch {actual}, expected {expected}")]
    WrongEpoch {
        /// Epoch found.
        actual: Epoch,
        /// Epoch expected.
        expected: Epoch,
    },
    /// The message has different contents.
    #[error("message contents differ from the expected ones")]
    WrongContents,
    /// The signature does not verify.
    #[error(transparent)]
    Signature(#[from] KeyError),
}

/// Standard padded base64 in human-readable formats, a plain byte string in binary ones.
mod bytes_or_base64 {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&STANDARD.encode(bytes))
        } else {
            s.serialize_bytes(bytes)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        if d.is_human_readable() {
            let text = String::deserialize(d)?;
            STANDARD.decode(text).map_err(serde::de::Error::custom)
        } else {
            serde_bytes::deserialize(d)
        }
    }
}

/// A message's bytes with one node's BLS signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedMessage {
    /// The BCS bytes of the `ProtocolMessage`.
    #[serde(with = "bytes_or_base64")]
    pub serialized_message: Vec<u8>,
    /// The signature over exactly those bytes.
    pub signature: BlsSignature,
}

impl SignedMessage {
    /// Signs `message` with `key`.
    pub fn sign<T: MessageBody>(key: &BlsKeyPair, message: &ProtocolMessage<T>) -> Self {
        let serialized_message = message.to_bytes();
        let signature = key.sign(&serialized_message);
        SignedMessage { serialized_message, signature }
    }

    /// Decodes the message, checking its intent but not its signature.
    pub fn decode<T: MessageBody>(&self) -> Result<ProtocolMessage<T>, MessageError> {
        let message: ProtocolMessage<T> =
            bcs::from_bytes(&self.serialized_message).map_err(|e| MessageError::Malformed(e.to_string()))?;
        let expected = Intent::storage(T::INTENT_TYPE);
        if message.intent != expected {
            return Err(MessageError::WrongIntent { actual: message.intent, expected });
        }
        Ok(message)
    }

    /// Checks that this is `expected_body` for `epoch`, signed by `key`.
    pub fn verify<T: MessageBody + PartialEq>(
        &self,
        key: &BlsPublicKey,
        epoch: Epoch,
        expected_body: &T,
    ) -> Result<(), MessageError> {
        let message = self.decode::<T>()?;
        if message.epoch != epoch {
            return Err(MessageError::WrongEpoch { actual: message.epoch, expected: epoch });
        }
        if message.body != *expected_body {
            return Err(MessageError::WrongContents);
        }
        key.verify(&self.serialized_message, &self.signature)?;
        Ok(())
    }
}

/// An aggregate of signatures by several committee members over one message.
///
/// JSON form as in the reference: snake_case fields, `signers` and `serialized_message` as
/// arrays of numbers, `signature` as base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// Committee member indices of the signers, ascending.
    pub signers: Vec<u16>,
    /// The signed message bytes.
    pub serialized_message: Vec<u8>,
    /// The aggregate signature.
    pub signature: BlsSignature,
}

impl Certificate {
    /// Aggregates `(member index, signed message)` pairs; all must sign identical bytes.
    pub fn aggregate(mut signed: Vec<(u16, SignedMessage)>) -> Result<Self, MessageError> {
        signed.sort_by_key(|(member, _)| *member);
        signed.dedup_by_key(|(member, _)| *member);
        let first = signed.first().ok_or(MessageError::Signature(KeyError::EmptyAggregate))?;
        let serialized_message = first.1.serialized_message.clone();
        if signed.iter().any(|(_, s)| s.serialized_message != serialized_message) {
            return Err(MessageError::WrongContents);
        }
        let signatures: Vec<BlsSignature> = signed.iter().map(|(_, s)| s.signature).collect();
        Ok(Certificate {
            signers: signed.iter().map(|(member, _)| *member).collect(),
            serialized_message,
            signature: BlsSignature::aggregate(&signatures)?,
        })
    }

    /// Checks the aggregate signature against the signers' keys (`keys_of(member)`).
    pub fn verify_signature(&self, keys: &[BlsPublicKey]) -> Result<(), MessageError> {
        BlsPublicKey::verify_aggregate(keys, &self.serialized_message, &self.signature)?;
        Ok(())
    }
}

/// The chain's signer bitmap: bit `i % 8` of byte `i / 8` (least significant first) is set for
/// each signer `i`.
pub fn signers_to_bitmap(signers: &[u16]) -> Vec<u8> {
    let len = signers.iter().map(|&s| usize::from(s) / 8 + 1).max().unwrap_or(0);
    let mut bitmap = vec![0u8; len];
    for &s in signers {
        bitmap[usize::from(s) / 8] |= 1 << (s % 8);
    }
    bitmap
}

/// The signers of a bitmap over `n_members` committee members, or `None` if the bitmap is
/// longer than needed or marks a member past the end.
pub fn bitmap_to_signers(bitmap: &[u8], n_members: usize) -> Option<Vec<u16>> {
    if bitmap.len() > n_members.div_ceil(8) {
        return None;
    }
    let mut signers = Vec::new();
    for (byte_index, byte) in bitmap.iter().enumerate() {
        for bit in 0..8 {
            if byte & (1 << bit) != 0 {
                let member = byte_index * 8 + bit;
                if member >= n_members {
                    return None;
                }
                signers.push(u16::try_from(member).ok()?);
            }
        }
    }
    Some(signers)
}
