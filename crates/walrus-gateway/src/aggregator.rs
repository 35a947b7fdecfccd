//! Reads: `GET`/`HEAD /v1/blobs/{blob_id}` and `GET /v1/blobs/by-object-id/{object_id}`.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use walrus_core::decode::ConsistencyCheck;
use walrus_core::{BlobId, ObjectId};
use walrus_sdk::{OpenBlob, ReadError};

use crate::{Checked, Gateway, GatewayError};

/// Read options, as the reference's query parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadQuery {
    #[serde(default)]
    strict_consistency_check: bool,
    #[serde(default)]
    skip_consistency_check: bool,
}

impl ReadQuery {
    fn check(&self) -> Result<ConsistencyCheck, GatewayError> {
        consistency(self.strict_consistency_check, self.skip_consistency_check)
    }
}

/// The check the reference's `strict_consistency_check` and `skip_consistency_check` ask for.
pub(crate) fn consistency(strict: bool, skip: bool) -> Result<ConsistencyCheck, GatewayError> {
    match (strict, skip) {
        (true, true) => Err(GatewayError::bad(
            "INVALID_CONSISTENCY_CHECK",
            "strict_consistency_check and skip_consistency_check exclude each other",
        )),
        (true, false) => Ok(ConsistencyCheck::Strict),
        (false, true) => Ok(ConsistencyCheck::Skip),
        (false, false) => Ok(ConsistencyCheck::Default),
    }
}

/// `GET /v1/blobs/{blob_id}`.
pub(crate) async fn blob(
    State(gateway): State<Arc<Gateway>>,
    Checked(Path(id)): Checked<Path<String>>,
    Checked(Query(query)): Checked<Query<ReadQuery>>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, GatewayError> {
    let blob_id = parse_blob_id(&id)?;
    serve(&gateway, method, &blob_id, query.check()?, &headers, BTreeMap::new(), false).await
}

/// `GET /v1alpha/blobs/{blob_id}/stream`: the blob streamed piece by piece whatever its size
/// (`x-walrus-streaming: true`), as the reference's progressive read.
pub(crate) async fn stream(
    State(gateway): State<Arc<Gateway>>,
    Checked(Path(id)): Checked<Path<String>>,
    Checked(Query(query)): Checked<Query<ReadQuery>>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, GatewayError> {
    let blob_id = parse_blob_id(&id)?;
    let check = query.check()?;
    if check == ConsistencyCheck::Strict {
        let message = "a streamed read checks each piece; strict_consistency_check needs the whole blob";
        return Err(GatewayError::bad("INVALID_CONSISTENCY_CHECK", message));
    }
    let mut response = serve(&gateway, method, &blob_id, check, &headers, BTreeMap::new(), true).await?;
    response.headers_mut().insert("x-walrus-streaming", HeaderValue::from_static("true"));
    Ok(response)
}

/// `GET /v1/blobs/by-object-id/{object_id}`: the blob of a Blob or SharedBlob object, with
/// its allowed attributes as headers.
pub(crate) async fn by_object_id(
    State(gateway): State<Arc<Gateway>>,
    Checked(Path(id)): Checked<Path<String>>,
    Checked(Query(query)): Checked<Query<ReadQuery>>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, GatewayError> {
    let object_id: ObjectId = id
        .parse()
        .map_err(|e| GatewayError::bad("INVALID_OBJECT_ID", format!("{id:?} is not an object ID: {e}")))?;
    let check = query.check()?;
    let object = gateway.reader.chain().object(&object_id).await.map_err(|e| match e {
        walrus_chain_client::ClientError::Api { status: 404, .. } => {
            GatewayError::new(StatusCode::NOT_FOUND, "BLOB_NOT_FOUND", format!("no object {object_id}"))
        }
        other => unavailable(other),
    })?;
    let blob = object.object.body.blob().ok_or_else(|| {
        GatewayError::new(
            StatusCode::NOT_FOUND,
            "BLOB_NOT_FOUND",
            format!("{object_id} is not a blob object"),
        )
    })?;
    let allowed: BTreeMap<String, String> = blob
        .attributes
        .iter()
        .filter(|(key, _)| gateway.config.allowed_headers.iter().any(|a| a.eq_ignore_ascii_case(key)))
        .map(|(key, value)| (key.to_ascii_lowercase(), value.clone()))
        .collect();
    serve(&gateway, method, &blob.blob_id, check, &headers, allowed, false).await
}

/// The reference's `?start=&length=` of a byte-range read.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ByteRangeQuery {
    start: u64,
    length: u64,
}

/// `GET /v1/blobs/{blob_id}/byte-range?start=&length=`: `length` bytes from `start`, as the
/// reference: 200 (not 206, so that a CDN caches it) with the ETag `{blob_id}-{start}-{length}`;
/// a range that is empty or outside the blob is 400 `INVALID_BYTE_RANGE`.
pub(crate) async fn byte_range_read(
    State(gateway): State<Arc<Gateway>>,
    Checked(Path(id)): Checked<Path<String>>,
    Checked(Query(query)): Checked<Query<ByteRangeQuery>>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, GatewayError> {
    let blob_id = parse_blob_id(&id)?;
    let ByteRangeQuery { start, length } = query;
    if length == 0 {
        return Err(GatewayError::bad("INVALID_BYTE_RANGE", "length must be greater than 0"));
    }
    let end = start
        .checked_add(length)
        .ok_or_else(|| GatewayError::bad("INVALID_BYTE_RANGE", "start + length overflows"))?;
    let etag = format!("{blob_id}-{start}-{length}");
    if gateway.reader.is_blocked(&blob_id) {
        return Err(GatewayError::blocked(&blob_id));
    }
    if let Some(response) = not_modified(&headers, &etag) {
        return Ok(response);
    }
    let permit = Arc::clone(&gateway.reads).try_acquire_owned().map_err(|_| GatewayError::busy())?;
    let blob = open(&gateway, &blob_id).await?;
    if end > blob.len() {
        return Err(GatewayError::bad(
            "INVALID_BYTE_RANGE",
            format!("byte range out of bounds: requested {start}-{end}, blob size is {}", blob.len()),
        ));
    }
    let body = body(&gateway, &method, blob, start..end, ConsistencyCheck::Default, permit, false).await?;
    let mut response = body.into_response();
    let response_headers = response.headers_mut();
    cache_headers(response_headers, &etag);
    response_headers.insert(header::CONTENT_TYPE, content_type(&headers));
    response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    Ok(response)
}

/// The blob's verified metadata; a blob larger than `--max-blob-size` is refused (403), as the
/// reference does.
pub(crate) async fn open(gateway: &Gateway, blob_id: &BlobId) -> Result<OpenBlob, GatewayError> {
    let blob = gateway.reader.open(blob_id).await.map_err(read_error)?;
    let max = gateway.config.max_blob_size;
    if blob.len() > max {
        return Err(GatewayError::new(
            StatusCode::FORBIDDEN,
            "BLOB_TOO_LARGE",
            format!("the blob has {} bytes; this aggregator serves at most {max}", blob.len()),
        ));
    }
    Ok(blob)
}

pub(crate) fn parse_blob_id(id: &str) -> Result<BlobId, GatewayError> {
    id.parse().map_err(|e| GatewayError::bad("INVALID_BLOB_ID", format!("{id:?} is not a blob ID: {e}")))
}

/// A 304 if the request's `If-None-Match` names `etag`.
pub(crate) fn not_modified(request: &HeaderMap, etag: &str) -> Option<Response> {
    let matches = request.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(',').any(|tag| tag.trim().trim_start_matches("W/").trim_matches('"') == etag)
    });
    matches.then(|| {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        cache_headers(response.headers_mut(), etag);
        response
    })
}

async fn serve(
    gateway: &Gateway,
    method: Method,
    blob_id: &BlobId,
    check: ConsistencyCheck,
    request: &HeaderMap,
    attributes: BTreeMap<String, String>,
    stream_always: bool,
) -> Result<Response, GatewayError> {
    let etag = blob_id.to_string();
    // Before the conditional answer: a cache must not keep revalidating a blocked blob.
    if gateway.reader.is_blocked(blob_id) {
        return Err(GatewayError::blocked(blob_id));
    }
    if let Some(response) = not_modified(request, &etag) {
        return Ok(response);
    }
    let permit = Arc::clone(&gateway.reads).try_acquire_owned().map_err(|_| GatewayError::busy())?;
    let blob = open(gateway, blob_id).await?;
    let total = blob.len();
    let range = match request.get(header::RANGE) {
        None => None,
        Some(value) => Some(byte_range(value.to_str().unwrap_or(""), total)?),
    };
    let (status, bytes) = match range {
        Some((start, end)) => (StatusCode::PARTIAL_CONTENT, start..end + 1),
        None => (StatusCode::OK, 0..total),
    };
    let length = bytes.end - bytes.start;
    let body = body(gateway, &method, blob, bytes, check, permit, stream_always).await?;
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    cache_headers(headers, &etag);
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some((start, end)) = range {
        let value = format!("bytes {start}-{end}/{total}");
        headers.insert(header::CONTENT_RANGE, HeaderValue::from_str(&value).map_err(internal)?);
    }
    headers.insert(header::CONTENT_TYPE, content_type(request));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    for (key, value) in attributes {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(key), HeaderValue::from_str(&value)) {
            headers.insert(name, value);
        }
    }
    Ok(response)
}

/// Immutable content: the blob ID is the ETag, and caches may keep it a day.
pub(crate) fn cache_headers(headers: &mut HeaderMap, etag: &str) {
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400, stale-while-revalidate=3600"),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
}

/// As the reference: the request's `Accept` if it names one type (no `*`), else its
/// `Content-Type`, else `application/octet-stream`.
pub(crate) fn content_type(request: &HeaderMap) -> HeaderValue {
    requested_type(request).unwrap_or_else(|| HeaderValue::from_static("application/octet-stream"))
}

/// The request's `Accept` if it names one type (no `*`), else its `Content-Type`, if any.
pub(crate) fn requested_type(request: &HeaderMap) -> Option<HeaderValue> {
    let accept = request
        .get(header::ACCEPT)
        .filter(|v| v.to_str().is_ok_and(|s| !s.contains('*') && !s.contains(',') && !s.trim().is_empty()));
    accept.or_else(|| request.get(header::CONTENT_TYPE)).cloned()
}

/// One closed range of `bytes=a-b`, `bytes=a-` or `bytes=-n` within `total` bytes, as inclusive
/// offsets; several ranges or bad syntax are 400, an unsatisfiable range 416.
pub(crate) fn byte_range(value: &str, total: u64) -> Result<(u64, u64), GatewayError> {
    let invalid = || {
        GatewayError::bad("INVALID_BYTE_RANGE", format!("unsupported Range {value:?}: give one bytes=a-b"))
    };
    let spec = value.trim().strip_prefix("bytes=").ok_or_else(invalid)?;
    if spec.contains(',') {
        return Err(invalid());
    }
    let (first, last) = spec.split_once('-').ok_or_else(invalid)?;
    let parse = |s: &str| s.trim().parse::<u64>().map_err(|_| invalid());
    let (start, end) = match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, true) => return Err(invalid()),
        (true, false) => {
            let suffix = parse(last)?;
            if suffix == 0 {
                return Err(unsatisfiable(value, total));
            }
            (total.saturating_sub(suffix), total.saturating_sub(1))
        }
        (false, true) => (parse(first)?, total.saturating_sub(1)),
        (false, false) => (parse(first)?, parse(last)?.min(total.saturating_sub(1))),
    };
    if total == 0 || start >= total || start > end {
        return Err(unsatisfiable(value, total));
    }
    Ok((start, end))
}

/// The body of a read of `bytes` of `blob` (the whole blob decoded with `check`, or a range
/// of its rows). A HEAD answers from the metadata alone. Large reads stream (the bytes the
/// reference's default check accepts: each row verified against the metadata); a strict check
/// needs the whole blob first.
async fn body(
    gateway: &Gateway,
    method: &Method,
    blob: OpenBlob,
    bytes: std::ops::Range<u64>,
    check: ConsistencyCheck,
    permit: OwnedSemaphorePermit,
    stream_always: bool,
) -> Result<Body, GatewayError> {
    if *method == Method::HEAD {
        return Ok(Body::empty());
    }
    let whole = bytes.start == 0 && bytes.end == blob.len();
    let length = bytes.end - bytes.start;
    let streamed = (stream_always || length >= gateway.config.stream_from_bytes)
        && !(whole && check == ConsistencyCheck::Strict);
    // What the read holds at once: the pieces in flight, or the slivers and the bytes decoded.
    let holds = if streamed { 4 * gateway.config.stream_piece_bytes } else { 2 * length };
    let budget = gateway.read_bytes.try_take(holds).ok_or_else(GatewayError::busy)?;
    let held = (permit, budget);
    Ok(if streamed {
        // The first piece comes before the status: a blob that cannot be read at all is still
        // answered with the error JSON.
        let mut pieces = blob.stream(bytes, gateway.config.stream_piece_bytes);
        let first = pieces.recv().await.transpose().map_err(read_error)?;
        Body::new(Streamed { first, pieces, what: blob.blob_id().to_string(), _held: Some(held) })
    } else {
        let read = if whole { blob.read(check).await } else { blob.read_range(bytes).await };
        Body::new(Held { body: Body::from(read.map_err(read_error)?), _held: held })
    })
}

/// The read slot and the byte budget a response holds until it is sent.
pub(crate) type Slots = (OwnedSemaphorePermit, OwnedSemaphorePermit);

/// A buffered response body that holds its [`Slots`] until it is sent.
struct Held {
    body: Body,
    _held: Slots,
}

impl http_body::Body for Held {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// A response body read piece by piece while it is sent ([`OpenBlob::stream`]); it holds its
/// [`Slots`] (if any) until it ends. A failure half-way ends the body with an error, which cuts
/// the connection: the client sees fewer bytes than `Content-Length` says.
pub(crate) struct Streamed {
    pub(crate) first: Option<Vec<u8>>,
    pub(crate) pieces: mpsc::Receiver<Result<Vec<u8>, ReadError>>,
    /// What is read, for the log.
    pub(crate) what: String,
    pub(crate) _held: Option<Slots>,
}

impl http_body::Body for Streamed {
    type Data = Bytes;
    type Error = ReadError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, ReadError>>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from(first)))));
        }
        let this = &mut *self;
        this.pieces.poll_recv(cx).map(|piece| {
            piece.map(|piece| {
                piece.map(|bytes| http_body::Frame::data(Bytes::from(bytes))).inspect_err(|e| {
                    tracing::warn!("{}: a streamed read failed half-way: {e}", this.what);
                })
            })
        })
    }
}

pub(crate) fn read_error(e: ReadError) -> GatewayError {
    match e {
        ReadError::NotFound(_) | ReadError::Inconsistent(_) => {
            GatewayError::new(StatusCode::NOT_FOUND, "BLOB_NOT_FOUND", e)
        }
        ReadError::NotEnoughSlivers { .. } | ReadError::Chain(_) => {
            GatewayError::new(StatusCode::SERVICE_UNAVAILABLE, "BLOB_UNAVAILABLE", e)
        }
        ReadError::ChallengePaused { retry_after, .. } => {
            GatewayError::new(StatusCode::SERVICE_UNAVAILABLE, "BLOB_UNAVAILABLE", e).retry_after(retry_after)
        }
        ReadError::RangeOutsideBlob { .. } => {
            GatewayError::new(StatusCode::RANGE_NOT_SATISFIABLE, "INVALID_BYTE_RANGE", e)
        }
        ReadError::Blocked(blob_id) => GatewayError::blocked(&blob_id),
        ReadError::Decode(_) | ReadError::Task(_) => {
            GatewayError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", e)
        }
        // An identifier the quilt lacks, a patch ID whose columns hold no patch, a blob that is
        // not a quilt: the reference's 404 for a patch that does not exist.
        ReadError::Quilt(_) => GatewayError::new(StatusCode::NOT_FOUND, "QUILT_PATCH_NOT_FOUND", e),
    }
}

fn unsatisfiable(value: &str, total: u64) -> GatewayError {
    GatewayError::new(
        StatusCode::RANGE_NOT_SATISFIABLE,
        "INVALID_BYTE_RANGE",
        format!("Range {value:?} is outside the blob's {total} bytes"),
    )
}

fn unavailable(e: impl ToString) -> GatewayError {
    GatewayError::new(StatusCode::SERVICE_UNAVAILABLE, "BLOB_UNAVAILABLE", e)
}

pub(crate) fn internal(e: impl ToString) -> GatewayError {
    GatewayError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(byte_range("bytes=0-9", 100).map_err(|e| e.reason), Ok((0, 9)));
        assert_eq!(byte_range("bytes=90-", 100).map_err(|e| e.reason), Ok((90, 99)));
        assert_eq!(byte_range("bytes=-10", 100).map_err(|e| e.reason), Ok((90, 99)));
        assert_eq!(byte_range("bytes=50-500", 100).map_err(|e| e.reason), Ok((50, 99)));
        assert_eq!(byte_range("bytes=-500", 100).map_err(|e| e.reason), Ok((0, 99)));
        for bad in ["bytes=0-1,5-6", "items=0-1", "bytes=-", "bytes=a-b"] {
            assert_eq!(
                byte_range(bad, 100).map_err(|e| e.status).err(),
                Some(StatusCode::BAD_REQUEST),
                "{bad}"
            );
        }
        for unsatisfiable in ["bytes=100-", "bytes=5-2", "bytes=-0"] {
            assert_eq!(
                byte_range(unsatisfiable, 100).map_err(|e| e.status).err(),
                Some(StatusCode::RANGE_NOT_SATISFIABLE),
                "{unsatisfiable}"
            );
        }
        assert!(byte_range("bytes=0-0", 0).is_err(), "nothing to range over in an empty blob");
    }
}
