//! Batch endpoints of our own, beside the reference's one-sliver-per-request API (which stays
//! as it is): a client writes all the slivers of one blob for this node's shards in one request,
//! verified together and stored in one synced batch, and reads many slivers in one request.
//!
//! - `PUT /v1/blobs/{blob_id}/slivers`: body BCS `Vec<walrus_core::sliver::SliverUpload>` (parsed,
//!   verified and written in place); answers
//!   `{"success": {"code": 201, "data": {"stored": k, "alreadyStored": m}}}`. If any entry is
//!   refused, nothing is stored and the error names the entry.
//! - `POST /v1/blobs/{blob_id}/slivers`: body BCS `Vec<(u16 pair, SliverType)>`, no entry twice,
//!   at most `walrus_core::sliver::BATCH_READ_BYTES_MAX` sliver bytes; answers BCS
//!   `Vec<Option<sliver>>` in request order (`None`: not stored here), streamed, served as stored: each
//!   sliver was verified against the metadata when it was written, the store checksums what it
//!   reads back, and the reader verifies every sliver again (a bulk read would otherwise pay the
//!   verification twice).

use std::collections::BTreeSet;
use std::sync::Arc;
use walrus_node_client::Reason;

use axum::body::Body;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use walrus_core::sliver::{parse_uploads, push_uleb128, verify_uploads, BATCH_READ_BYTES_MAX};
use walrus_core::{ShardIndex, SliverPairIndex, SliverType};

use crate::api::{
    blob_id, blocking, body, own_shard_of, require_registered, stored_metadata, success, ApiError,
};
use crate::edge::response_permit;
use crate::node::Node;

/// Most entries in one batch: both slivers of every pair.
pub const BATCH_ENTRIES_MAX: usize = 2 * 65_535;

fn check_batch_len(len: usize) -> Result<(), ApiError> {
    if len == 0 || len > BATCH_ENTRIES_MAX {
        return Err(ApiError::bad(
            Reason::InvalidBatch,
            format!("1..={BATCH_ENTRIES_MAX} slivers per batch"),
        ));
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
    blocking(move || {
        // Parsed, verified and written in place: the body is the only copy of the slivers.
        let uploads =
            parse_uploads(&payload).map_err(|e| ApiError::bad(Reason::InvalidSliver, e.to_string()))?;
        check_batch_len(uploads.len())?;
        let _shared = node.blob_locks.shared(&blob_id);
        require_registered(&node, &blob_id)?;
        let metadata = stored_metadata(&node, &blob_id)
            .map_err(|_| ApiError::bad(Reason::MetadataNotFound, "store the blob's metadata first"))?;
        let n = node.view().params.n_shards();
        let mut seen = BTreeSet::new();
        let mut shards: Vec<(usize, ShardIndex, bool)> = Vec::new();
        let mut unverified = Vec::new();
        let mut already = 0;
        for (i, upload) in uploads.into_iter().enumerate() {
            let at = |e: ApiError| ApiError::new(e.status, e.reason, format!("entry {i}: {}", e.message));
            let (pair, shard) = own_shard_of(&node, &blob_id, upload.pair).map_err(at)?;
            if !seen.insert((pair, upload.axis)) {
                return Err(at(ApiError::bad(Reason::InvalidBatch, "the same sliver appears twice")));
            }
            if upload.sliver.index != pair.to_sliver_index(upload.axis, n) {
                return Err(at(ApiError::bad(
                    Reason::SliverIndexMismatch,
                    "the sliver's index does not match its pair",
                )));
            }
            let stored = node.store.has_sliver(shard, upload.axis, &blob_id)?;
            shards.push((i, shard, stored));
            unverified.push(upload);
        }
        let decoded = started.elapsed();
        // Every entry is verified, stored ones too: garbage is refused, never "already stored".
        let mut verified = Vec::with_capacity(shards.len());
        for ((i, shard, stored), result) in shards.into_iter().zip(verify_uploads(&metadata, &unverified)) {
            let sliver =
                result.map_err(|e| ApiError::bad(Reason::InvalidSliver, format!("entry {i}: {e}")))?;
            if stored {
                already += 1;
            } else {
                verified.push((shard, sliver));
            }
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

/// `POST /v1/blobs/{blob_id}/slivers`: checked whole first (no sliver twice, each of a shard
/// held here, at most [`BATCH_READ_BYTES_MAX`] sliver bytes in all), then streamed from the
/// store in frames of about [`STREAM_FRAME_BYTES`], holding at most [`STREAM_AHEAD`] frames
/// besides the one being sent (taken from the response budget for the stream's life).
pub async fn get_slivers(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
    payload: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let blob_id = blob_id(&id)?;
    let payload = body(payload)?;
    let wanted: Vec<(SliverPairIndex, SliverType)> = bcs::from_bytes(&payload)
        .map_err(|e| ApiError::bad(Reason::InvalidBatch, format!("not a BCS list of (pair, axis): {e}")))?;
    check_batch_len(wanted.len())?;
    let worker = Arc::clone(&node);
    let (located, largest) = blocking(move || {
        let node = worker;
        require_registered(&node, &blob_id)?;
        // Only the blob's length is needed (for the slivers' sizes): the metadata was verified
        // when it was stored, and is not verified again on this hot path.
        let stored = node.store.metadata(&blob_id)?;
        let stored =
            stored.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, Reason::MetadataNotFound, "no metadata for this blob"))?;
        let (params, length) = (node.view().params, stored.metadata.unencoded_length());
        let mut seen = BTreeSet::new();
        let (mut total, mut largest) = (0u64, 0u64);
        let mut located = Vec::with_capacity(wanted.len());
        for (i, (pair, axis)) in wanted.into_iter().enumerate() {
            if !seen.insert((pair, axis)) {
                return Err(ApiError::bad(Reason::InvalidBatch, format!("entry {i}: the same sliver appears twice")));
            }
            let (_, shard) = own_shard_of(&node, &blob_id, pair)?;
            let size = params.sliver_size(axis, length).map_err(ApiError::internal)? as u64;
            total += size;
            largest = largest.max(size);
            located.push((shard, axis));
        }
        if total > BATCH_READ_BYTES_MAX {
            return Err(ApiError::bad(
                Reason::BatchTooLarge,
                format!("the slivers asked for add up to {total} bytes; a batch read is at most {BATCH_READ_BYTES_MAX}"),
            ));
        }
        Ok((located, largest))
    })
    .await?;
    let frame_max = largest + STREAM_FRAME_BYTES as u64;
    let permit = response_permit(&node, frame_max * (STREAM_AHEAD as u64 + 1))?;
    let (frames, body) = tokio::sync::mpsc::channel::<Result<Bytes, StreamError>>(STREAM_AHEAD);
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        // BCS `Vec<Option<sliver>>`, built from the stored BCS bytes without decoding them, in
        // frames of about STREAM_FRAME_BYTES (one write each, not one per small sliver).
        let mut frame = Vec::with_capacity(STREAM_FRAME_BYTES);
        push_uleb128(&mut frame, located.len());
        for (shard, axis) in located {
            match node.store.sliver_bcs(shard, axis, &blob_id) {
                Ok(Some(bcs)) => {
                    frame.push(1);
                    frame.extend_from_slice(&bcs);
                }
                Ok(None) => frame.push(0),
                Err(e) => {
                    tracing::error!("batch read of {blob_id}: {e}");
                    let _ = frames.blocking_send(Err(StreamError));
                    return;
                }
            }
            if frame.len() >= STREAM_FRAME_BYTES {
                let full = std::mem::replace(&mut frame, Vec::with_capacity(STREAM_FRAME_BYTES));
                // The client hung up: stop reading.
                if frames.blocking_send(Ok(full.into())).is_err() {
                    return;
                }
            }
        }
        let _ = frames.blocking_send(Ok(frame.into()));
    });
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], Body::new(ChannelBody(body))).into_response())
}

/// Frames a batch read holds ready besides the one being sent.
pub const STREAM_AHEAD: usize = 2;
/// About how many bytes a frame of a batch read gathers before it is sent.
pub const STREAM_FRAME_BYTES: usize = 256 << 10;

/// A stored sliver could not be read mid-stream: the response is cut short (the reader sees a
/// truncated body, never wrong bytes).
#[derive(Debug, thiserror::Error)]
#[error("the node's store failed while streaming")]
pub struct StreamError;

/// A response body fed by a channel.
struct ChannelBody(tokio::sync::mpsc::Receiver<Result<Bytes, StreamError>>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = StreamError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, StreamError>>> {
        self.0.poll_recv(cx).map(|frame| frame.map(|f| f.map(http_body::Frame::data)))
    }
}
