//! Reads of records a client believes only with a proof: an account, an object, the blob
//! objects of a blob ID and whether it is invalid, each checked against the records root of a
//! state the genesis validators finalized (`walrus_chain::records`).
//!
//! A validator answers `GET /v1/records` with the records at its newest state and, once a
//! finalized block commits to a state with the same records root, that block, its certificate
//! and header; the client checks the certificate, the header and each bucket's proof, then
//! decodes the values. It reads its own writes: it asks for a state at least as new as the
//! newest block it saw run one of its transactions.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use walrus_chain::light::StateHeader;
use walrus_chain::objects::Object;
use walrus_chain::records::{bucket_of, BucketProof, Tag};
use walrus_chain::state::Account;
use walrus_core::keys::Address;
use walrus_core::{BlobId, ObjectId};

use crate::client::{ChainClient, ClientError, READ_TIMEOUT};
use crate::wire::{format_record_key, AccountView, BlobView, ObjectView, RecordsProofView, RECORD_KEYS_MAX};

/// Records proven to be those of a finalized state.
#[derive(Debug, Clone)]
pub struct ProvenRecords {
    /// The state's header.
    pub header: StateHeader,
    values: BTreeMap<(Tag, [u8; 32]), Option<Vec<u8>>>,
}

impl ProvenRecords {
    /// The value of record (`tag`, `key`), `None` if the state has none; an error if it was
    /// not asked for or does not decode.
    pub fn get<T: DeserializeOwned>(&self, tag: Tag, key: &[u8; 32]) -> Result<Option<T>, ClientError> {
        let unproven = |reason: String| ClientError::Unproven { url: "/v1/records".into(), reason };
        let value =
            self.values.get(&(tag, *key)).ok_or_else(|| unproven(format!("{tag:?} record not read")))?;
        value
            .as_deref()
            .map(|bytes| {
                bcs::from_bytes(bytes).map_err(|e| unproven(format!("{tag:?} record does not decode: {e}")))
            })
            .transpose()
    }
}

/// Records a bucket proof may list before a client refuses it: about 61 per bucket in a state
/// of a million records; more means keys were ground into one bucket.
pub const BUCKET_RECORDS_MAX: usize = 4_096;

/// Blob objects a proven blob read covers; a blob ID registered more often is refused.
pub const PROVEN_BLOB_OBJECTS_MAX: usize = RECORD_KEYS_MAX - 2;

impl ChainClient {
    /// The records `keys` (at most [`RECORD_KEYS_MAX`]), proven (see the module's documentation).
    pub async fn proven_records(&self, keys: &[(Tag, [u8; 32])]) -> Result<ProvenRecords, ClientError> {
        let trust = self.trust().await?;
        let names: Vec<String> = keys.iter().map(|(tag, key)| format_record_key(*tag, key)).collect();
        let min_height = self.seen_height();
        let path = format!("/v1/records?keys={}&min_height={min_height}", names.join(","));
        let answer: RecordsProofView = self.get(&path, READ_TIMEOUT).await?;
        let unproven =
            |reason: String| ClientError::Unproven { url: format!("{}{path}", self.base()), reason };
        if answer.buckets.len() > keys.len()
            || answer.buckets.iter().any(|b| b.records.len() > BUCKET_RECORDS_MAX)
        {
            return Err(unproven("more bucket proofs, or longer ones, than a read needs".into()));
        }
        let state = self.check_state(&trust, &path, answer.state)?;
        // An older state, however well proven, could hide what this client's own transactions
        // did since: a replayed proof is refused.
        if state.header.height < min_height {
            return Err(unproven(format!(
                "the records are proven at height {}, older than height {min_height} this client saw run",
                state.header.height
            )));
        }
        let root = state.header.records_root;
        let mut buckets: BTreeMap<u16, &BucketProof> = BTreeMap::new();
        for proof in &answer.buckets {
            proof.check(&root).map_err(|e| unproven(e.to_string()))?;
            buckets.insert(proof.bucket, proof);
        }
        if answer.values.len() != keys.len() {
            return Err(unproven(format!(
                "{} records answered for {} asked",
                answer.values.len(),
                keys.len()
            )));
        }
        let mut values = BTreeMap::new();
        for ((tag, key), answered) in keys.iter().zip(&answer.values) {
            if answered.tag != *tag || answered.key != hex::encode(key) {
                return Err(unproven("the records answered are not those asked for".into()));
            }
            let value = answered
                .value
                .as_deref()
                .map(|text| hex::decode(text).map_err(|e| unproven(format!("a value is not hex: {e}"))))
                .transpose()?;
            let bucket = u16::try_from(bucket_of(key)).expect("a bucket index");
            let proof =
                buckets.get(&bucket).ok_or_else(|| unproven(format!("no proof of bucket {bucket}")))?;
            proof.check_value(*tag, key, value.as_deref()).map_err(|e| unproven(e.to_string()))?;
            values.insert((*tag, *key), value);
        }
        Ok(ProvenRecords { header: state.header, values })
    }

    /// An account's balance and next nonce, proven (a never-seen address has zeros).
    pub async fn account(&self, address: &Address) -> Result<AccountView, ClientError> {
        let records = self.proven_records(&[(Tag::Account, address.0)]).await?;
        let account: Option<Account> = records.get(Tag::Account, &address.0)?;
        Ok(AccountView { address: *address, account: account.unwrap_or_default() })
    }

    /// One live object, proven; 404 `ObjectNotFound` if the state has none with this ID.
    pub async fn object(&self, id: &ObjectId) -> Result<ObjectView, ClientError> {
        let records = self.proven_records(&[(Tag::Object, id.0)]).await?;
        let object: Option<Object> = records.get(Tag::Object, &id.0)?;
        let object = object.ok_or_else(|| ClientError::Api {
            status: 404,
            code: "ObjectNotFound".into(),
            reason: format!("no live object {id} (proven at height {})", records.header.height),
        })?;
        Ok(ObjectView { id: *id, object })
    }

    /// The blob objects of a blob ID and whether it is marked invalid, proven: the blob-ID
    /// index and every object it lists, read in one state (at most
    /// [`PROVEN_BLOB_OBJECTS_MAX`] objects).
    pub async fn blob(&self, blob_id: &BlobId) -> Result<BlobView, ClientError> {
        let index = [(Tag::BlobIndex, blob_id.0), (Tag::Invalid, blob_id.0)];
        // The index first, then the index again with its objects: the same state answers both
        // unless a block changed the index in between, and then the read is tried again.
        let mut ids: Vec<ObjectId> = Vec::new();
        for _ in 0..4 {
            let mut keys = index.to_vec();
            keys.extend(ids.iter().map(|id| (Tag::Object, id.0)));
            let records = self.proven_records(&keys).await?;
            let listed: Vec<ObjectId> = records
                .get::<std::collections::BTreeSet<ObjectId>>(Tag::BlobIndex, &blob_id.0)?
                .unwrap_or_default()
                .into_iter()
                .collect();
            if listed.len() > PROVEN_BLOB_OBJECTS_MAX {
                return Err(ClientError::Api {
                    status: 422,
                    code: "TooManyObjects".into(),
                    reason: format!(
                        "blob {blob_id} has {} objects; a proven read covers at most {PROVEN_BLOB_OBJECTS_MAX}",
                        listed.len()
                    ),
                });
            }
            if listed != ids {
                ids = listed;
                continue;
            }
            let invalid = records.get::<()>(Tag::Invalid, &blob_id.0)?.is_some();
            let mut objects = Vec::with_capacity(ids.len());
            for id in &ids {
                let object: Object =
                    records.get(Tag::Object, &id.0)?.ok_or_else(|| ClientError::Unproven {
                        url: "/v1/records".into(),
                        reason: format!("the blob-ID index lists {id}, which the state does not hold"),
                    })?;
                objects.push(ObjectView { id: *id, object });
            }
            // The invalid mark is proven; where the event that set it is (reported beside the
            // status, as the reference does) is the validator's word.
            let invalidation = match invalid {
                true => {
                    self.get::<BlobView>(&format!("/v1/blobs/{blob_id}"), READ_TIMEOUT).await?.invalidation
                }
                false => None,
            };
            let invalidation = invalidation.filter(
                |e| matches!(e.event, walrus_chain::Event::InvalidBlobID { blob_id: id, .. } if id == *blob_id),
            );
            return Ok(BlobView { blob_id: *blob_id, invalid, invalidation, objects });
        }
        Err(ClientError::Api {
            status: 503,
            code: "NotProvenYet".into(),
            reason: format!("the objects of blob {blob_id} changed at every read"),
        })
    }
}
