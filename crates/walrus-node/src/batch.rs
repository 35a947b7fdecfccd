//! Batch endpoints of our own, beside the reference's one-sliver-per-request API (which stays
//! as it is): a client writes all the slivers of one blob for this node's shards in one request,
//! verified one by one and stored in one synced batch, and reads many slivers in one request.
//!
//! - `PUT /v1/blobs/{blob_id}/slivers`: body BCS `Vec<walrus_core::sliver::SliverUpload>`; answers
//!   `{"success": {"code": 201, "data": {"stored": k, "alreadyStored": m}}}`. If any entry is
//!   refused, nothing is stored and the error names the entry.
//! - `POST /v1/blobs/{blob_id}/slivers`: body BCS `Vec<(u16 pair, SliverType)>`; answers BCS
//!   `Vec<Option<sliver>>` in request order (`None`: not stored here), each sliver verified
//!   against the metadata before it is served.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use walrus_core::sliver::{SliverUpload, UnverifiedSliver};
use walrus_core::{SliverPairIndex, SliverType};

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
    let blob_id = blob_id(&id)?;
    let payload = body(payload)?;
    let _permit = upload_permit(&node)?;
    let uploads: Vec<SliverUpload> = bcs::from_bytes(&payload)
        .map_err(|e| ApiError::bad("INVALID_SLIVER", format!("not a BCS list of sliver uploads: {e}")))?;
    check_batch_len(uploads.len())?;
    blocking(move || {
        require_registered(&node, &blob_id)?;
        let metadata = stored_metadata(&node, &blob_id)
            .map_err(|_| ApiError::bad("METADATA_NOT_FOUND", "store the blob's metadata first"))?;
        let n = node.view().params.n_shards();
        let mut seen = BTreeSet::new();
        let mut verified = Vec::new();
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
            let sliver = upload
                .sliver
                .verify(upload.axis, &metadata)
                .map_err(|e| at(ApiError::bad("INVALID_SLIVER", e)))?;
            verified.push((shard, sliver));
        }
        let refs: Vec<_> = verified.iter().map(|(shard, sliver)| (*shard, sliver)).collect();
        node.store.put_slivers(&blob_id, &refs)?;
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
        let metadata = stored_metadata(&node, &blob_id)?;
        let mut out: Vec<Option<UnverifiedSliver>> = Vec::with_capacity(wanted.len());
        for (pair, axis) in wanted {
            let (_, shard) = own_shard_of(&node, &blob_id, pair)?;
            let Some(sliver) = node.store.sliver(shard, axis, &blob_id)? else {
                out.push(None);
                continue;
            };
            let verified = sliver.verify(axis, &metadata).map_err(|e| {
                tracing::error!("stored sliver {blob_id}/{shard}/{axis} fails verification: {e}");
                ApiError::internal("stored sliver is corrupt")
            })?;
            out.push(Some(verified.into_unverified()));
        }
        Ok(bcs_response(bcs::to_bytes(&out).map_err(ApiError::internal)?))
    })
    .await
}
