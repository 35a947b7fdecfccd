//! Stores: `PUT /v1/blobs` with the reference's query parameters and `BlobStoreResult` JSON.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use walrus_core::keys::Address;
use walrus_sdk::{BlobStoreResult, StoreError, StoreOptions};

use crate::auth::Upload;
use crate::{Checked, Gateway, GatewayError};

/// Longest a store may take before the publisher answers 504.
pub(crate) const STORE_TIMEOUT: Duration = Duration::from_secs(300);

/// The reference's query parameters of `PUT /v1/blobs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoreQuery {
    #[serde(default)]
    epochs: Option<u32>,
    #[serde(default)]
    permanent: bool,
    #[serde(default)]
    deletable: bool,
    #[serde(default)]
    force: bool,
    /// The spec's `reuse_resources`: resources the wallet owns are always reused.
    #[serde(default, rename = "reuse_resources")]
    _reuse_resources: bool,
    #[serde(default)]
    send_object_to: Option<String>,
    #[serde(default)]
    share: bool,
    #[serde(default)]
    encoding_type: Option<String>,
    /// `PUT /v1/quilts` only: the quilt format (`v1`, the one there is).
    #[serde(default)]
    pub(crate) quilt_version: Option<String>,
}

/// Middleware of `PUT /v1/blobs`: one of the store slots (running or waiting stores), taken
/// before the body is read, or 429 at once.
pub(crate) async fn store_slot(
    State(gateway): State<Arc<Gateway>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match Arc::clone(&gateway.store_slots).try_acquire_owned() {
        Ok(slot) => {
            let response = next.run(request).await;
            drop(slot);
            response
        }
        Err(_) => GatewayError::busy().into_response(),
    }
}

/// `PUT /v1/blobs`.
pub(crate) async fn store(
    State(gateway): State<Arc<Gateway>>,
    Checked(Query(query)): Checked<Query<StoreQuery>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, GatewayError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            GatewayError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "BLOB_TOO_LARGE",
                format!("this publisher takes blobs of at most {} bytes", gateway.config.max_body_bytes),
            )
        } else {
            GatewayError::bad("INVALID_BODY", e.body_text())
        }
    })?;
    let (options, receiver) = options(&gateway, &query, &headers, body.len() as u64)?;
    let writers =
        gateway.writers.as_ref().ok_or_else(|| GatewayError::bad("NOT_A_PUBLISHER", "reads only"))?;
    let _turn = gateway.store_turns.acquire().await.map_err(|_| GatewayError::busy())?;
    let writer = writers.lease().await;
    let outcome = tokio::time::timeout(STORE_TIMEOUT, writer.store(body.to_vec(), options))
        .await
        .map_err(|_| GatewayError::new(StatusCode::GATEWAY_TIMEOUT, "TIMEOUT", "the store timed out"))?
        .map_err(store_error)?;
    let body = answer(writers, &writer, &outcome, receiver).await?;
    Ok((StatusCode::OK, Json(body)).into_response())
}

/// Who gets a new blob object: the publisher's wallet (or nobody, with `--burn-after-store`),
/// `send_object_to`, or everyone (`share=true`: a shared blob).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Receiver {
    Wallet,
    Address(Address),
    Shared,
}

/// The store's options from the reference's query parameters, after the upload's JWT (if
/// required) is checked against them and the stored `size`.
pub(crate) fn options(
    gateway: &Gateway,
    query: &StoreQuery,
    headers: &HeaderMap,
    size: u64,
) -> Result<(StoreOptions, Receiver), GatewayError> {
    if query.permanent && query.deletable {
        return Err(GatewayError::bad("INVALID_BLOB_PERSISTENCE", "a blob is either permanent or deletable"));
    }
    if query.share && query.send_object_to.is_some() {
        return Err(GatewayError::bad("INVALID_QUERY", "send_object_to and share=true exclude each other"));
    }
    if query.share && !query.permanent {
        return Err(GatewayError::bad(
            "INVALID_BLOB_PERSISTENCE",
            "deletable blobs cannot be shared: add permanent=true",
        ));
    }
    if let Some(encoding) = &query.encoding_type {
        if !encoding.eq_ignore_ascii_case("RS2") {
            return Err(GatewayError::bad(
                "UNSUPPORTED_ENCODING",
                format!("only RS2 is supported, not {encoding:?}"),
            ));
        }
    }
    let send_to: Option<Address> = match &query.send_object_to {
        Some(text) => Some(text.parse().map_err(|e| {
            GatewayError::bad("INVALID_ADDRESS", format!("send_object_to {text:?} is not an address: {e}"))
        })?),
        None => None,
    };
    let epochs = query.epochs.unwrap_or(1);
    if epochs == 0 {
        return Err(GatewayError::bad("INVALID_EPOCHS", "epochs must be at least 1"));
    }
    if let Some(auth) = &gateway.auth {
        let upload = Upload { epochs, size, send_object_to: send_to };
        auth.check(headers, &upload)?;
    }
    Ok((
        StoreOptions {
            epochs_ahead: epochs,
            deletable: !query.permanent,
            force: query.force,
            ..StoreOptions::default()
        },
        match (send_to, query.share) {
            (Some(to), _) => Receiver::Address(to),
            (None, true) => Receiver::Shared,
            (None, false) => Receiver::Wallet,
        },
    ))
}

/// The JSON answer to a store that ended with `outcome`: its `BlobStoreResult`, after sending
/// a new object to `send_to`; a blob marked invalid is an internal error, as the reference's.
pub(crate) async fn answer(
    writers: &crate::wallets::Writers,
    writer: &walrus_sdk::Client,
    outcome: &BlobStoreResult,
    receiver: Receiver,
) -> Result<serde_json::Value, GatewayError> {
    Ok(match outcome {
        // As the reference's publisher: an internal error, as it is likely a system error.
        BlobStoreResult::MarkedInvalid { blob_id, event } => {
            let event = serde_json::json!(event.as_ref().map(walrus_chain::EventEnvelope::event_id));
            return Err(GatewayError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                format!(
                    "the blob {blob_id} was marked invalid (event {event}), which is likely a system error, \
                     please report it"
                ),
            ));
        }
        BlobStoreResult::AlreadyCertified { .. } => outcome.to_json(),
        BlobStoreResult::NewlyCreated(stored) => {
            writers.settle(writer, stored.object_id, receiver).await.map_err(|e| {
                GatewayError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "INTERNAL",
                    format!("stored, but the blob object was not settled: {e}"),
                )
            })?;
            let mut json = outcome.to_json();
            if receiver == Receiver::Shared {
                json["newlyCreated"]["sharedBlobObject"] = stored.object_id.to_string().into();
            }
            json
        }
    })
}

pub(crate) fn store_error(e: StoreError) -> GatewayError {
    match e {
        StoreError::TooLarge(_) => GatewayError::new(StatusCode::PAYLOAD_TOO_LARGE, "BLOB_TOO_LARGE", e),
        // The reference's NotEnoughConfirmations: a deadline, to be retried.
        StoreError::NoQuorum { .. } => {
            GatewayError::new(StatusCode::GATEWAY_TIMEOUT, "INSUFFICIENT_CONFIRMATIONS", e)
        }
        StoreError::Blocked(blob_id) => GatewayError::blocked(&blob_id),
        StoreError::Relay { .. } => GatewayError::new(StatusCode::BAD_GATEWAY, "UPLOAD_RELAY", e),
        StoreError::InvalidEpochs { .. } => GatewayError::bad("INVALID_EPOCHS", e),
        StoreError::Quilt(_) => {
            GatewayError::bad("MALFORMED_REQUEST", format!("failed to construct quilt: {e}"))
        }
        StoreError::Chain(_)
        | StoreError::Network(_)
        | StoreError::Task(_)
        | StoreError::NoResult
        | StoreError::Certificate(_)
        | StoreError::NotABlob(_)
        | StoreError::NoObjectCreated
        | StoreError::File(_) => {
            tracing::warn!("store failed: {e}");
            GatewayError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", e)
        }
    }
}
