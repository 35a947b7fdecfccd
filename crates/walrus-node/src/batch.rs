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

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use walrus_core::sliver::push_uleb128;
use walrus_core::{SliverPairIndex, SliverType};

use crate::api::{blob_id, blocking, body, success};
use crate::edge::response_permit;
use crate::node::Node;
use crate::service::{self, ServiceError};

/// `PUT /v1/blobs/{blob_id}/slivers`.
pub async fn put_slivers(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
    payload: Result<Bytes, BytesRejection>,
) -> Result<Response, ServiceError> {
    let blob_id = blob_id(&id)?;
    let payload = body(payload)?;
    let (stored, already) = blocking(move || service::put_slivers(&node, blob_id, &payload)).await?;
    Ok(success(StatusCode::CREATED, json!({ "stored": stored, "alreadyStored": already })))
}

/// `POST /v1/blobs/{blob_id}/slivers`: checked whole first ([`service::plan_batch_read`]), then
/// streamed from the store in frames of about [`STREAM_FRAME_BYTES`], holding at most
/// [`STREAM_AHEAD`] frames besides the one being sent (taken from the response budget for the
/// stream's life).
pub async fn get_slivers(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
    payload: Result<Bytes, BytesRejection>,
) -> Result<Response, ServiceError> {
    let blob_id = blob_id(&id)?;
    let wanted: Vec<(SliverPairIndex, SliverType)> =
        bcs::from_bytes(&body(payload)?).map_err(ServiceError::BatchBcs)?;
    let worker = Arc::clone(&node);
    let (located, largest) = blocking(move || service::plan_batch_read(&worker, &blob_id, wanted)).await?;
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
