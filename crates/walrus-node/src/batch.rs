//! Batch endpoints of our own, beside the reference's one-sliver-per-request API (which stays
//! as it is): a client writes all the slivers of one blob for this node's shards in one request,
//! verified together and stored in one synced batch, and reads many slivers in one request.
//!
//! - `PUT /v1/blobs/{blob_id}/slivers`: body BCS `Vec<walrus_core::sliver::SliverUpload>` (parsed,
//!   verified and written in place); answers
//!   `{"success": {"code": 201, "data": {"stored": k, "alreadyStored": m}}}`. If any entry is
//!   refused, nothing is stored and the error names the entry.
//! - `POST /v1/blobs/{blob_id}/slivers`: body BCS `Vec<(u16 pair, SliverType)>`; answers BCS
//!   `Vec<Option<sliver>>` in request order (`None`: not stored here), served as stored: each
//!   sliver was verified against the metadata when it was written, the store checksums what it
//!   reads back, and the reader verifies every sliver again (a bulk read would otherwise pay the
//!   verification twice).

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use walrus_core::sliver::{parse_uploads, push_uleb128, verify_uploads};
use walrus_core::{ShardIndex, SliverPairIndex, SliverType};

use crate::api::{
    bcs_response, blob_id, blocking, body, own_shard_of, require_registered, stored_metadata, success,
    upload_permit, ApiError,
};
use crate::node::Node;

/// Most entries in one batch: both slivers of every pair.
pub const BATCH_ENTRIES_MAX: usize = 2 * 65_535;

fn check_batch_len(len: usize) -> Result<(), ApiError> {
    if len == 0 || len > BATCH_ENTRIES_MAX {
        return Err(ApiError::bad("INVALID_BATCH", format!("1..={BATCH_ENTRIES_MAX} slivers per batch")));
    }
    Ok(())
}

/// `PUT /v1/blobs/{blob_id}/slivers`.
pub async fn put_slivers(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
    payload: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let started = std::time::Instant::now();
    let blob_id = blob_id(&id)?;
    let payload = body(payload)?;
    let _permit = upload_permit(&node)?;
    blocking(move || {
        // Parsed, verified and written in place: the body is the only copy of the slivers.
        let uploads = parse_uploads(&payload).map_err(|e| ApiError::bad("INVALID_SLIVER", e.to_string()))?;
        check_batch_len(uploads.len())?;
        require_registered(&node, &blob_id)?;
        let metadata = stored_metadata(&node, &blob_id)
            .map_err(|_| ApiError::bad("METADATA_NOT_FOUND", "store the blob's metadata first"))?;
        let n = node.view().params.n_shards();
        let mut seen = BTreeSet::new();
        let mut shards: Vec<(usize, ShardIndex)> = Vec::new();
        let mut unverified = Vec::new();
        let mut already = 0;
        for (i, upload) in uploads.into_iter().enumerate() {
            let at = |e: ApiError| ApiError::new(e.status, e.reason, format!("entry {i}: {}", e.message));
            let (pair, shard) = own_shard_of(&node, &blob_id, upload.pair).map_err(at)?;
            if !seen.insert((pair, upload.axis)) {
                return Err(at(ApiError::bad("INVALID_BATCH", "the same sliver appears twice")));
            }
            if upload.sliver.index != pair.to_sliver_index(upload.axis, n) {
                return Err(at(ApiError::bad(
                    "SLIVER_INDEX_MISMATCH",
                    "the sliver's index does not match its pair",
                )));
            }
            if node.store.has_sliver(shard, upload.axis, &blob_id)? {
                already += 1;
                continue;
            }
            shards.push((i, shard));
            unverified.push(upload);
        }
        let decoded = started.elapsed();
        let mut verified = Vec::with_capacity(shards.len());
        for ((i, shard), result) in shards.into_iter().zip(verify_uploads(&metadata, &unverified)) {
            let sliver = result.map_err(|e| ApiError::bad("INVALID_SLIVER", format!("entry {i}: {e}")))?;
            verified.push((shard, sliver));
        }
        let checked = started.elapsed();
        node.store.put_verified(&blob_id, &verified)?;
        tracing::debug!(
            "{blob_id}: {} slivers, parsed {decoded:?}, verified {checked:?}, written {:?}",
            verified.len(),
            started.elapsed()
        );
        for (_, sliver) in &verified {
            node.metrics.count_sliver(sliver.axis());
        }
        Ok(success(StatusCode::CREATED, json!({ "stored": verified.len(), "alreadyStored": already })))
    })
    .await
}

/// `POST /v1/blobs/{blob_id}/slivers`.
pub async fn get_slivers(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
    payload: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let blob_id = blob_id(&id)?;
    let payload = body(payload)?;
    let wanted: Vec<(SliverPairIndex, SliverType)> = bcs::from_bytes(&payload)
        .map_err(|e| ApiError::bad("INVALID_BATCH", format!("not a BCS list of (pair, axis): {e}")))?;
    check_batch_len(wanted.len())?;
    blocking(move || {
        require_registered(&node, &blob_id)?;
        // BCS `Vec<Option<sliver>>`, built from the stored BCS bytes without decoding them.
        let mut out = Vec::new();
        push_uleb128(&mut out, wanted.len());
        for (pair, axis) in wanted {
            let (_, shard) = own_shard_of(&node, &blob_id, pair)?;
            match node.store.sliver_bcs(shard, axis, &blob_id)? {
                Some(bcs) => {
                    out.push(1);
                    out.extend_from_slice(&bcs);
                }
                None => out.push(0),
            }
        }
        Ok(bcs_response(out))
    })
    .await
}
