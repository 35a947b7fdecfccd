//! Quilts through the SDK: many files stored as one blob (one encoding, one registration, one
//! certificate), each read back alone from the secondary slivers (columns) that hold it, each
//! verified against the blob's metadata (`walrus_core::quilt` has the layout).

use serde_json::json;
use walrus_core::quilt::{
    decode_index, decode_patch, encode_quilt, DecodedPatch, PatchInput, QuiltColumns, QuiltError,
    QuiltIndexV1, QuiltPatchId, QuiltPatchV1, Tags,
};
use walrus_core::{BlobId, EncodingParams};

use crate::client::{BlobStoreResult, Client, StoreError, StoreOptions};
use crate::read::{OpenBlob, ReadError};

/// The blob attribute that names a blob's type, and its value for a quilt (the reference's
/// `BLOB_TYPE_ATTRIBUTE_KEY` and `QUILT_TYPE_VALUE`).
pub const BLOB_TYPE_ATTRIBUTE: &str = "_walrusBlobType";
/// See [`BLOB_TYPE_ATTRIBUTE`].
pub const QUILT_TYPE_VALUE: &str = "quilt";

/// A file to store in a quilt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuiltFile {
    /// Its name in the quilt (unique, not empty, no trailing whitespace or control characters).
    pub identifier: String,
    /// Its tags.
    pub tags: Tags,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// A patch of a stored quilt: its identifier, ID and columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredQuiltPatch {
    /// Its name in the quilt.
    pub identifier: String,
    /// Its ID.
    pub patch_id: QuiltPatchId,
}

/// What storing a quilt did: the blob's store result and each patch's ID, in index order.
#[derive(Debug, Clone)]
pub struct QuiltStoreResult {
    /// The quilt blob's result.
    pub blob_store_result: BlobStoreResult,
    /// Its patches.
    pub stored_quilt_blobs: Vec<StoredQuiltPatch>,
}

impl QuiltStoreResult {
    /// The reference's JSON `QuiltStoreResult` (`blobStoreResult`, `storedQuiltBlobs` with
    /// `identifier`, `quiltPatchId` and the column `range`), as the CLI's `--json` and the
    /// publisher answer.
    pub fn to_json(&self) -> serde_json::Value {
        let patches: Vec<_> = self
            .stored_quilt_blobs
            .iter()
            .map(|p| {
                json!({
                    "identifier": p.identifier,
                    "quiltPatchId": p.patch_id.to_string(),
                    "range": [p.patch_id.start_index, p.patch_id.end_index],
                })
            })
            .collect();
        json!({ "blobStoreResult": self.blob_store_result.to_json(), "storedQuiltBlobs": patches })
    }
}

/// The IDs of a quilt's patches.
pub fn patch_ids(quilt_id: BlobId, index: &QuiltIndexV1) -> Vec<StoredQuiltPatch> {
    index
        .quilt_patches
        .iter()
        .map(|p| StoredQuiltPatch { identifier: p.identifier.clone(), patch_id: patch_id(quilt_id, p) })
        .collect()
}

/// One patch's ID.
pub fn patch_id(quilt_id: BlobId, patch: &QuiltPatchV1) -> QuiltPatchId {
    QuiltPatchId { quilt_id, start_index: patch.start_index, end_index: patch.end_index }
}

impl Client {
    /// The quilt of `files` for the network's shard count (the reference's QuiltV1), not stored.
    pub async fn encode_quilt(
        &self,
        files: &[QuiltFile],
    ) -> Result<walrus_core::quilt::EncodedQuilt, StoreError> {
        let network = self.network().await.map_err(|e| StoreError::Network(std::sync::Arc::new(e)))?;
        Ok(quilt_of(network.params, files)?)
    }

    /// Stores `files` as one quilt: one blob, one registration, one certificate.
    pub async fn store_quilt(
        &self,
        files: &[QuiltFile],
        options: StoreOptions,
    ) -> Result<QuiltStoreResult, StoreError> {
        let quilt = self.encode_quilt(files).await?;
        self.store_encoded_quilt(quilt, options).await
    }

    /// Stores a quilt built by [`Client::encode_quilt`].
    pub async fn store_encoded_quilt(
        &self,
        quilt: walrus_core::quilt::EncodedQuilt,
        options: StoreOptions,
    ) -> Result<QuiltStoreResult, StoreError> {
        let mut blob_store_result = self.store(quilt.blob, options).await?;
        if let BlobStoreResult::NewlyCreated(stored) = &mut blob_store_result {
            // Marked as a quilt, as the reference marks it (readers may look for the mark).
            let mark = (BLOB_TYPE_ATTRIBUTE.to_string(), QUILT_TYPE_VALUE.to_string());
            self.set_blob_attributes(stored.object_id, vec![mark.clone()], Vec::new()).await?;
            stored.blob_object.attributes.insert(mark.0, mark.1);
        }
        let stored_quilt_blobs = match blob_store_result {
            BlobStoreResult::MarkedInvalid { .. } => Vec::new(),
            _ => patch_ids(*blob_store_result.blob_id(), &quilt.index),
        };
        Ok(QuiltStoreResult { blob_store_result, stored_quilt_blobs })
    }

    /// Opens the quilt `quilt_id`: its metadata, then its index from its first columns.
    pub async fn open_quilt(&self, quilt_id: &BlobId) -> Result<OpenQuilt, ReadError> {
        OpenQuilt::new(self.open(quilt_id).await?).await
    }

    /// The patch `id` (read from its columns alone; the quilt's index is not read).
    pub async fn read_quilt_patch(&self, id: &QuiltPatchId) -> Result<DecodedPatch, ReadError> {
        read_patch(&self.open(&id.quilt_id).await?, id).await
    }
}

/// The patch `id` of `blob` (its quilt, opened), from the patch's columns alone.
pub async fn read_patch(blob: &OpenBlob, id: &QuiltPatchId) -> Result<DecodedPatch, ReadError> {
    let n_columns = blob.params().secondary_source_symbols() as u16;
    if id.quilt_id != *blob.blob_id() || id.end_index > n_columns {
        return Err(ReadError::Quilt(QuiltError::OutOfBounds(
            usize::from(id.end_index),
            usize::from(n_columns),
        )));
    }
    patch_from(blob, id.start_index, id.end_index).await
}

/// The quilt of `files` for `params`.
pub fn quilt_of(
    params: EncodingParams,
    files: &[QuiltFile],
) -> Result<walrus_core::quilt::EncodedQuilt, QuiltError> {
    let inputs = files
        .iter()
        .map(|f| PatchInput { identifier: f.identifier.clone(), tags: f.tags.clone(), data: &f.data })
        .collect();
    encode_quilt(params, inputs)
}

/// Reads the patch in columns `start..end` of `blob`; refused if the patch found there does
/// not span exactly those columns (a patch ID of another quilt, or not of a patch).
async fn patch_from(blob: &OpenBlob, start: u16, end: u16) -> Result<DecodedPatch, ReadError> {
    let columns = blob.columns(start..end).await?;
    let source = QuiltColumns { columns: columns.iter().map(|(c, bytes)| (*c, bytes.as_slice())).collect() };
    let patch = decode_patch(&source, start).map_err(|e| match e {
        // The header claims more columns than the ID gives.
        QuiltError::MissingColumns(_) => QuiltError::Patch {
            column: start,
            reason: format!("it runs past column {end} (a patch ID of another quilt?)"),
        },
        other => other,
    });
    let patch = patch.map_err(ReadError::Quilt)?;
    if patch.end_index != end {
        return Err(ReadError::Quilt(QuiltError::Patch {
            column: start,
            reason: format!(
                "it ends at column {}, not {end} (a patch ID of another quilt?)",
                patch.end_index
            ),
        }));
    }
    Ok(patch)
}

/// A quilt whose metadata and index were read (see [`Client::open_quilt`]).
#[derive(Debug, Clone)]
pub struct OpenQuilt {
    blob: OpenBlob,
    index: QuiltIndexV1,
}

impl OpenQuilt {
    /// The quilt in `blob` (opened): its index, read from its first columns (more of them if
    /// the index spans several, at most 10).
    pub async fn new(blob: OpenBlob) -> Result<OpenQuilt, ReadError> {
        let n_columns = blob.params().secondary_source_symbols();
        let mut columns = blob.columns(0..1).await?;
        let index = loop {
            let source =
                QuiltColumns { columns: columns.iter().map(|(c, bytes)| (*c, bytes.as_slice())).collect() };
            match decode_index(&source, n_columns) {
                Ok(index) => break index,
                Err(QuiltError::MissingColumns(missing))
                    if !missing.iter().any(|c| columns.contains_key(c)) =>
                {
                    let (first, last) = (missing[0], missing[missing.len() - 1]);
                    columns.extend(blob.columns(first..last + 1).await?);
                }
                Err(e) => return Err(ReadError::Quilt(e)),
            }
        };
        Ok(OpenQuilt { blob, index })
    }

    /// The quilt's blob, opened.
    pub fn blob(&self) -> &OpenBlob {
        &self.blob
    }

    /// The quilt's ID (its blob ID).
    pub fn quilt_id(&self) -> BlobId {
        *self.blob.blob_id()
    }

    /// Its index: each patch's identifier, tags and columns.
    pub fn index(&self) -> &QuiltIndexV1 {
        &self.index
    }

    /// Its patches' IDs, in index order.
    pub fn patch_ids(&self) -> Vec<StoredQuiltPatch> {
        patch_ids(self.quilt_id(), &self.index)
    }

    /// The patch named `identifier`.
    pub async fn patch(&self, identifier: &str) -> Result<DecodedPatch, ReadError> {
        let patch = self
            .index
            .patch(identifier)
            .ok_or_else(|| ReadError::Quilt(QuiltError::NotFound(vec![identifier.to_string()])))?;
        patch_from(&self.blob, patch.start_index, patch.end_index).await
    }

    /// The patches named `identifiers`, in that order; all of them or an error naming the
    /// missing ones.
    pub async fn patches(&self, identifiers: &[String]) -> Result<Vec<DecodedPatch>, ReadError> {
        let missing: Vec<String> =
            identifiers.iter().filter(|i| self.index.patch(i).is_none()).cloned().collect();
        if !missing.is_empty() {
            return Err(ReadError::Quilt(QuiltError::NotFound(missing)));
        }
        let mut out = Vec::with_capacity(identifiers.len());
        for identifier in identifiers {
            out.push(self.patch(identifier).await?);
        }
        Ok(out)
    }

    /// The patches whose tag `key` is `value`, in index order (none is not an error).
    pub async fn patches_with_tag(&self, key: &str, value: &str) -> Result<Vec<DecodedPatch>, ReadError> {
        let ranges: Vec<(u16, u16)> =
            self.index.with_tag(key, value).map(|p| (p.start_index, p.end_index)).collect();
        let mut out = Vec::with_capacity(ranges.len());
        for (start, end) in ranges {
            out.push(patch_from(&self.blob, start, end).await?);
        }
        Ok(out)
    }

    /// Every patch, in index order.
    pub async fn all_patches(&self) -> Result<Vec<DecodedPatch>, ReadError> {
        let mut out = Vec::with_capacity(self.index.quilt_patches.len());
        for patch in &self.index.quilt_patches {
            out.push(patch_from(&self.blob, patch.start_index, patch.end_index).await?);
        }
        Ok(out)
    }
}

/// The tags as a JSON object.
pub fn tags_json(tags: &Tags) -> serde_json::Value {
    serde_json::Value::Object(
        tags.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
    )
}
