//! `GET /v1alpha/blobs/concat?ids=a,b,…` and `POST /v1alpha/blobs/concat` (`{"ids": […]}`): the
//! blobs named by blob IDs or Blob object IDs, one after the other in one body, as the
//! reference's aggregator serves them. Every ID is resolved and every blob opened (its metadata
//! verified, its length known) before the answer starts, so that a bad or missing ID is an
//! error JSON; the bytes then stream piece by piece, one blob after the other, and a failure
//! half-way cuts the connection (fewer bytes than `Content-Length`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde::Deserialize;
use sha2::Digest as _;
use tokio::sync::mpsc;
use walrus_core::decode::ConsistencyCheck;
use walrus_core::{BlobId, ObjectId};
use walrus_sdk::{OpenBlob, ReadError};

use crate::aggregator::{cache_headers, consistency, content_type, open, Streamed};
use crate::{Checked, Gateway, GatewayError};

/// Most blobs one concatenation may name.
pub(crate) const CONCAT_IDS_MAX: usize = 256;

/// `GET`'s query: the IDs comma-separated, and the read options.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConcatQuery {
    ids: String,
    #[serde(default)]
    strict_consistency_check: bool,
    #[serde(default)]
    skip_consistency_check: bool,
}

/// `POST`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConcatBody {
    ids: Vec<String>,
    #[serde(default)]
    strict_consistency_check: bool,
    #[serde(default)]
    skip_consistency_check: bool,
}

/// `GET /v1alpha/blobs/concat`.
pub(crate) async fn get(
    State(gateway): State<Arc<Gateway>>,
    Checked(Query(query)): Checked<Query<ConcatQuery>>,
    headers: HeaderMap,
) -> Result<Response, GatewayError> {
    let ids: Vec<String> =
        query.ids.split(',').map(str::trim).filter(|id| !id.is_empty()).map(String::from).collect();
    let check = consistency(query.strict_consistency_check, query.skip_consistency_check)?;
    concat(&gateway, ids, check, &headers).await
}

/// `POST /v1alpha/blobs/concat`.
pub(crate) async fn post(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Result<Json<ConcatBody>, JsonRejection>,
) -> Result<Response, GatewayError> {
    let Json(body) = body.map_err(|e| GatewayError::bad("INVALID_BODY", e.body_text()))?;
    let check = consistency(body.strict_consistency_check, body.skip_consistency_check)?;
    let ids = body.ids.iter().map(|id| id.trim().to_string()).filter(|id| !id.is_empty()).collect();
    concat(&gateway, ids, check, &headers).await
}

async fn concat(
    gateway: &Gateway,
    ids: Vec<String>,
    check: ConsistencyCheck,
    request: &HeaderMap,
) -> Result<Response, GatewayError> {
    if ids.is_empty() || ids.len() > CONCAT_IDS_MAX {
        let message = format!("give 1 to {CONCAT_IDS_MAX} blob or object IDs, not {}", ids.len());
        return Err(GatewayError::bad("INVALID_IDS", message));
    }
    let permit = Arc::clone(&gateway.reads).try_acquire_owned().map_err(|_| GatewayError::busy())?;
    let mut blobs: Vec<OpenBlob> = Vec::with_capacity(ids.len());
    for id in &ids {
        let blob_id = resolve(gateway, id).await?;
        if gateway.reader.is_blocked(&blob_id) {
            return Err(GatewayError::blocked(&blob_id));
        }
        blobs.push(open(gateway, &blob_id).await?);
    }
    let total: u64 = blobs.iter().map(OpenBlob::len).sum();
    let piece = gateway.config.stream_piece_bytes;
    // A strict check decodes each blob whole; otherwise a few pieces are in flight.
    let holds = match check {
        ConsistencyCheck::Strict => 2 * blobs.iter().map(OpenBlob::len).max().unwrap_or(0),
        _ => 4 * piece,
    };
    let budget = gateway.read_bytes.try_take(holds).ok_or_else(GatewayError::busy)?;
    let (send, receive) = mpsc::channel(2);
    tokio::spawn(async move {
        let _held = (permit, budget);
        for blob in blobs {
            if !forward(&blob, check, piece, &send).await {
                return;
            }
        }
    });
    let body = Streamed {
        first: None,
        pieces: receive,
        what: format!("the concatenation of {}", ids.join(",")),
        _held: None,
    };
    let mut response = (StatusCode::OK, Body::new(body)).into_response();
    let headers = response.headers_mut();
    let etag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(ids.join(",")));
    cache_headers(headers, &etag);
    headers.insert(header::CONTENT_TYPE, content_type(request));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(total));
    Ok(response)
}

/// Sends `blob`'s bytes into `send`; false once the body is gone or a read failed (sent on).
async fn forward(
    blob: &OpenBlob,
    check: ConsistencyCheck,
    piece: u64,
    send: &mpsc::Sender<Result<Vec<u8>, ReadError>>,
) -> bool {
    if check == ConsistencyCheck::Strict {
        let read = blob.read(check).await;
        let failed = read.is_err();
        return send.send(read).await.is_ok() && !failed;
    }
    let mut pieces = blob.stream(0..blob.len(), piece);
    while let Some(read) = pieces.recv().await {
        let failed = read.is_err();
        if send.send(read).await.is_err() || failed {
            return false;
        }
    }
    true
}

/// A blob ID, or the blob ID of a Blob (or shared blob) object.
async fn resolve(gateway: &Gateway, id: &str) -> Result<BlobId, GatewayError> {
    if let Ok(blob_id) = id.parse::<BlobId>() {
        return Ok(blob_id);
    }
    let object_id: ObjectId = id.parse().map_err(|_| {
        GatewayError::bad("INVALID_ID_FORMAT", format!("{id:?} is neither a blob ID nor an object ID"))
    })?;
    let not_found =
        |why: String| GatewayError::new(StatusCode::NOT_FOUND, "OBJECT_ID_RESOLUTION_FAILED", why);
    let object = gateway.reader.chain().object(&object_id).await.map_err(|e| match e {
        walrus_chain_client::ClientError::Api { status: 404, .. } => {
            not_found(format!("no object {object_id}"))
        }
        other => GatewayError::new(StatusCode::SERVICE_UNAVAILABLE, "BLOB_UNAVAILABLE", other),
    })?;
    let blob =
        object.object.body.blob().ok_or_else(|| not_found(format!("{object_id} is not a blob object")))?;
    Ok(blob.blob_id)
}
