//! Quilts, with the reference's routes and headers: `PUT /v1/quilts` (a multipart form, one
//! part per file named by its identifier, `_metadata` for tags), `GET
//! /v1/blobs/by-quilt-patch-id/{id}`, `GET /v1/blobs/by-quilt-id/{quilt_id}/{identifier}` and
//! `GET /v1/quilts/{quilt_id}/patches`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use walrus_core::quilt::{DecodedPatch, QuiltPatchId, Tags};
use walrus_sdk::quilt::{read_patch, tags_json, OpenQuilt, QuiltFile};

use crate::aggregator::{
    byte_range, cache_headers, internal, not_modified, open, parse_blob_id, read_error, requested_type,
};
use crate::publisher::{answer, options, store_error, StoreQuery, STORE_TIMEOUT};
use crate::{Checked, Gateway, GatewayError};

/// The part that carries identifiers' tags (the reference's `_metadata`).
const METADATA_FIELD: &str = "_metadata";
/// Most parts a form may carry (a quilt holds at most `n - f - 1` files).
const PARTS_MAX: usize = 65_535;

/// The reference's header naming a patch's identifier.
const IDENTIFIER_HEADER: &str = "x-quilt-patch-identifier";

fn malformed(message: impl ToString) -> GatewayError {
    GatewayError::bad("MALFORMED_REQUEST", format!("the request is malformed: {}", message.to_string()))
}

/// One `_metadata` entry: an identifier's tags.
#[derive(Debug, serde::Deserialize)]
struct MetadataEntry {
    identifier: String,
    #[serde(default)]
    tags: BTreeMap<String, serde_json::Value>,
}

/// The files of a multipart form: each part named by its identifier, its body the file; a
/// `_metadata` part (a JSON array of `{identifier, tags}`) gives tags. Tag values that are not
/// strings are kept as their JSON text, as the reference does.
async fn form_files(mut form: Multipart) -> Result<Vec<QuiltFile>, GatewayError> {
    let mut files: Vec<QuiltFile> = Vec::new();
    let mut tags: BTreeMap<String, Tags> = BTreeMap::new();
    while let Some(field) = form.next_field().await.map_err(|e| form_error(&e))? {
        if files.len() + tags.len() >= PARTS_MAX {
            return Err(malformed(format!("a form of more than {PARTS_MAX} parts")));
        }
        let name = field.name().unwrap_or_default().to_string();
        let bytes = field.bytes().await.map_err(|e| form_error(&e))?;
        if name == METADATA_FIELD {
            let entries: Vec<MetadataEntry> = serde_json::from_slice(&bytes)
                .map_err(|e| malformed(format!("failed to parse multipart form: {METADATA_FIELD}: {e}")))?;
            for entry in entries {
                let values = entry
                    .tags
                    .into_iter()
                    .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_string)))
                    .collect();
                if tags.insert(entry.identifier.clone(), values).is_some() {
                    return Err(malformed(format!(
                        "duplicate identifiers found in {METADATA_FIELD}: {:?}",
                        entry.identifier
                    )));
                }
            }
            continue;
        }
        // The reference's HTTP API reserves names that start with `_`.
        if name.starts_with('_') {
            return Err(malformed(format!("identifier {name:?} starts with `_`, which is reserved")));
        }
        files.push(QuiltFile { identifier: name, tags: Tags::new(), data: bytes.to_vec() });
    }
    if files.is_empty() {
        return Err(malformed("no files provided in multipart form"));
    }
    for file in &mut files {
        if let Some(tags) = tags.remove(&file.identifier) {
            file.tags = tags;
        }
    }
    Ok(files)
}

fn form_error(e: &axum::extract::multipart::MultipartError) -> GatewayError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        GatewayError::new(StatusCode::PAYLOAD_TOO_LARGE, "BLOB_TOO_LARGE", e.body_text())
    } else {
        malformed(format!("failed to parse multipart form: {}", e.body_text()))
    }
}

/// `PUT /v1/quilts`: the form's files stored as one quilt; answers the reference's
/// `QuiltStoreResult` (`blobStoreResult`, `storedQuiltBlobs`).
pub(crate) async fn store(
    State(gateway): State<Arc<Gateway>>,
    Checked(Query(query)): Checked<Query<StoreQuery>>,
    headers: HeaderMap,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, GatewayError> {
    if let Some(version) = &query.quilt_version {
        if !matches!(version.as_str(), "v1" | "V1" | "1") {
            return Err(malformed(format!("unknown quilt_version {version:?}: this publisher makes v1")));
        }
    }
    let form = form.map_err(|e| malformed(format!("failed to parse multipart form: {}", e.body_text())))?;
    let writers =
        gateway.writers.as_ref().ok_or_else(|| GatewayError::bad("NOT_A_PUBLISHER", "reads only"))?;
    let files = form_files(form).await?;
    let quilt = gateway.reader.encode_quilt(&files).await.map_err(store_error)?;
    // The JWT's size claims bound the quilt blob, as the reference checks them.
    let (options, receiver) = options(&gateway, &query, &headers, quilt.blob.len() as u64)?;
    let _turn = gateway.store_turns.acquire().await.map_err(|_| GatewayError::busy())?;
    let writer = writers.lease().await;
    let stored = tokio::time::timeout(STORE_TIMEOUT, writer.store_encoded_quilt(quilt, options))
        .await
        .map_err(|_| GatewayError::new(StatusCode::GATEWAY_TIMEOUT, "TIMEOUT", "the store timed out"))?
        .map_err(store_error)?;
    let result = answer(writers, &writer, &stored.blob_store_result, receiver).await?;
    let mut body = stored.to_json();
    // The result as settled (with `sharedBlobObject` when shared).
    body["blobStoreResult"] = result;
    Ok((StatusCode::OK, Json(body)).into_response())
}

/// `GET /v1/blobs/by-quilt-patch-id/{quilt_patch_id}`: the patch, from its columns alone.
pub(crate) async fn by_patch_id(
    State(gateway): State<Arc<Gateway>>,
    Checked(Path(id)): Checked<Path<String>>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, GatewayError> {
    let patch_id: QuiltPatchId = id.parse().map_err(|e| {
        GatewayError::bad("INVALID_QUILT_PATCH_ID", format!("{id:?} is not a quilt patch ID: {e}"))
    })?;
    let quilt_id = patch_id.quilt_id;
    if gateway.reader.is_blocked(&quilt_id) {
        return Err(GatewayError::blocked(&quilt_id));
    }
    if let Some(response) = not_modified(&headers, &quilt_id.to_string()) {
        return Ok(response);
    }
    let _permit = Arc::clone(&gateway.reads).try_acquire_owned().map_err(|_| GatewayError::busy())?;
    let blob = open(&gateway, &quilt_id).await?;
    let columns = u64::from(patch_id.end_index.saturating_sub(patch_id.start_index));
    let _budget = take_budget(&gateway, &blob, columns)?;
    let patch = read_patch(&blob, &patch_id).await.map_err(read_error)?;
    respond(&gateway, &method, &headers, &quilt_id, patch)
}

/// `GET /v1/blobs/by-quilt-id/{quilt_id}/{identifier}`: the patch named `identifier`.
pub(crate) async fn by_identifier(
    State(gateway): State<Arc<Gateway>>,
    Checked(Path((id, identifier))): Checked<Path<(String, String)>>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, GatewayError> {
    let quilt_id = parse_blob_id(&id)?;
    if gateway.reader.is_blocked(&quilt_id) {
        return Err(GatewayError::blocked(&quilt_id));
    }
    if let Some(response) = not_modified(&headers, &quilt_id.to_string()) {
        return Ok(response);
    }
    let _permit = Arc::clone(&gateway.reads).try_acquire_owned().map_err(|_| GatewayError::busy())?;
    let quilt = open_quilt(&gateway, &quilt_id).await?;
    let columns =
        quilt.index().patch(&identifier).map_or(1, |p| u64::from(p.end_index.saturating_sub(p.start_index)));
    let _budget = take_budget(&gateway, quilt.blob(), columns)?;
    let patch = quilt.patch(&identifier).await.map_err(read_error)?;
    respond(&gateway, &method, &headers, &quilt_id, patch)
}

/// `GET /v1/quilts/{quilt_id}/patches`: the index, as the reference's array of
/// `{identifier, patch_id, tags}`.
pub(crate) async fn patches(
    State(gateway): State<Arc<Gateway>>,
    Checked(Path(id)): Checked<Path<String>>,
) -> Result<Response, GatewayError> {
    let quilt_id = parse_blob_id(&id)?;
    if gateway.reader.is_blocked(&quilt_id) {
        return Err(GatewayError::blocked(&quilt_id));
    }
    let _permit = Arc::clone(&gateway.reads).try_acquire_owned().map_err(|_| GatewayError::busy())?;
    let quilt = open_quilt(&gateway, &quilt_id).await?;
    let items: Vec<_> = quilt
        .patch_ids()
        .into_iter()
        .zip(&quilt.index().quilt_patches)
        .map(|(id, patch)| {
            serde_json::json!({
                "identifier": id.identifier,
                "patch_id": id.patch_id.to_string(),
                "tags": tags_json(&patch.tags),
            })
        })
        .collect();
    Ok((StatusCode::OK, Json(items)).into_response())
}

/// The quilt's metadata and index, the blob within the aggregator's size limit.
async fn open_quilt(gateway: &Gateway, quilt_id: &walrus_core::BlobId) -> Result<OpenQuilt, GatewayError> {
    let blob = open(gateway, quilt_id).await?;
    OpenQuilt::new(blob).await.map_err(read_error)
}

/// What reading `columns` of `blob` holds (the columns and the patch cut from them) from the
/// read budget, or 429.
fn take_budget(
    gateway: &Gateway,
    blob: &walrus_sdk::OpenBlob,
    columns: u64,
) -> Result<tokio::sync::OwnedSemaphorePermit, GatewayError> {
    let params = blob.params();
    let column_bytes = blob.len().div_ceil(params.secondary_source_symbols() as u64).max(1);
    gateway.read_bytes.try_take(2 * columns.max(1) * column_bytes).ok_or_else(GatewayError::busy)
}

/// A patch's response: its bytes (or the `Range` of them asked for), the quilt ID as the
/// ETag, the identifier in `X-Quilt-Patch-Identifier`, and the tags the aggregator allows as
/// headers (a `content-type` tag gives the type unless the request names one).
fn respond(
    gateway: &Gateway,
    method: &Method,
    request: &HeaderMap,
    quilt_id: &walrus_core::BlobId,
    patch: DecodedPatch,
) -> Result<Response, GatewayError> {
    let total = patch.data.len() as u64;
    let range = match request.get(header::RANGE) {
        None => None,
        Some(value) => Some(byte_range(value.to_str().unwrap_or(""), total)?),
    };
    let (status, body) = match range {
        Some((start, end)) => {
            (StatusCode::PARTIAL_CONTENT, patch.data[start as usize..=end as usize].to_vec())
        }
        None => (StatusCode::OK, patch.data),
    };
    let length = body.len() as u64;
    let body = if *method == Method::HEAD { Vec::new() } else { body };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    // Set below: from the request, else a tag, else octet-stream.
    headers.remove(header::CONTENT_TYPE);
    cache_headers(headers, &quilt_id.to_string());
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some((start, end)) = range {
        let value = format!("bytes {start}-{end}/{total}");
        headers.insert(header::CONTENT_RANGE, HeaderValue::from_str(&value).map_err(internal)?);
    }
    if let Some(requested) = requested_type(request) {
        headers.insert(header::CONTENT_TYPE, requested);
    }
    for (key, value) in &patch.tags {
        let allowed = gateway.config.allowed_headers.iter().any(|a| a.eq_ignore_ascii_case(key));
        if let (true, Ok(name), Ok(value)) =
            (allowed, HeaderName::try_from(key.as_str()), HeaderValue::from_str(value))
        {
            if !headers.contains_key(&name) {
                headers.insert(name, value);
            }
        }
    }
    if !headers.contains_key(header::CONTENT_TYPE) {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    }
    if let Ok(value) = HeaderValue::from_str(&patch.identifier) {
        headers.insert(HeaderName::from_static(IDENTIFIER_HEADER), value);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    Ok(response)
}
