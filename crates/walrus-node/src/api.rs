//! The storage node's REST API, with the reference's paths, BCS bodies and JSON envelopes.
//!
//! Success: `{"success": {"code": <status>, "data": ...}}` (JSON) or raw BCS for metadata and
//! sliver reads. Error: `{"error": {"code", "status", "message", "details": [{"@type":
//! "ErrorInfo", "reason", "domain": "storage.walrus.space", "metadata": {}}]}}` (AIP-193, as the
//! reference and the official SDK expect; the SDK reads `message` and `details[0].reason`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::handler::Handler;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;
use walrus_core::inconsistency::InconsistencyProof;
use walrus_core::messages::{BlobPersistenceType, ProtocolMessage, SignedMessage, StorageConfirmation};
use walrus_core::metadata::{BlobMetadata, UnverifiedBlobMetadataWithId, VerifiedBlobMetadataWithId};
use walrus_core::sliver::UnverifiedSliver;
use walrus_core::{BlobId, ObjectId, ShardIndex, SliverIndex, SliverPairIndex, SliverType};
use walrus_node_client::envelope::error_body;
use walrus_node_client::Reason;
use walrus_store::{BlobStatus, StoreError};

use crate::node::Node;
use crate::pending::PendingError;
use crate::recovery::{symbols_for, RecoveryRequest};
use walrus_core::recovery::{
    symbols_response_bytes, targets_per_request, RECOVERY_RESPONSE_BYTES_MAX, RECOVERY_TARGETS_MAX,
};

/// An API error: HTTP status, the reference's reason code, a message.
#[derive(Debug)]
pub struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) reason: Reason,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, reason: Reason, message: impl ToString) -> Self {
        ApiError { status, reason, message: message.to_string() }
    }

    pub(crate) fn bad(reason: Reason, message: impl ToString) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason, message)
    }

    fn not_found(reason: Reason, message: impl ToString) -> Self {
        Self::new(StatusCode::NOT_FOUND, reason, message)
    }

    pub(crate) fn internal(message: impl ToString) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, Reason::Internal, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            error_body(self.status.as_u16(), self.reason.as_str(), &self.message, "storage.walrus.space");
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!("store: {e}");
        ApiError::internal("the node's store failed")
    }
}

/// A JSON success envelope.
pub(crate) fn success<T: Serialize>(status: StatusCode, data: T) -> Response {
    (status, Json(json!({ "success": { "code": status.as_u16(), "data": data } }))).into_response()
}

pub(crate) fn bcs_response(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
}

/// Runs blocking store work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| ApiError::internal(format!("task failed: {e}")))?
}

pub(crate) fn blob_id(text: &str) -> Result<BlobId, ApiError> {
    text.parse().map_err(|_| ApiError::bad(Reason::InvalidBlobId, format!("{text:?} is not a blob ID")))
}

fn axis(text: &str) -> Result<SliverType, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad(Reason::InvalidSliverType, "the sliver type is primary or secondary"))
}

pub(crate) fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        let status = e.status();
        let reason =
            if status == StatusCode::PAYLOAD_TOO_LARGE { Reason::BodyTooLarge } else { Reason::InvalidBody };
        ApiError::new(status, reason, e.body_text())
    })
}

/// The router with every endpoint.
pub fn router(node: Arc<Node>) -> Router {
    let limit = node.config.body_bytes_max;
    let budget = axum::middleware::from_fn_with_state(Arc::clone(&node), crate::edge::upload_budget);
    Router::new()
        .route("/v1/blobs/{blob_id}/metadata", get(get_metadata).put(put_metadata.layer(budget.clone())))
        .route("/v1/blobs/{blob_id}/metadata/status", get(metadata_status))
        .route(
            "/v1/blobs/{blob_id}/slivers",
            put(crate::batch::put_slivers.layer(budget.clone())).post(crate::batch::get_slivers),
        )
        .route("/v1/blobs/{blob_id}/slivers/{pair}/{axis}", get(get_sliver).put(put_sliver.layer(budget)))
        .route("/v1/blobs/{blob_id}/slivers/{pair}/{axis}/status", get(sliver_status))
        .route("/v1/blobs/{blob_id}/status", get(blob_status))
        .route("/v1/blobs/{blob_id}/recoverySymbols", get(recovery_symbols).post(recovery_symbols_batch))
        .route("/v1/blobs/{blob_id}/inconsistencyProof/{axis}", post(inconsistency_proof))
        .route("/v1/blobs/{blob_id}/confirmation/permanent", get(confirm_permanent))
        .route("/v1/blobs/{blob_id}/confirmation/deletable/{object_id}", get(confirm_deletable))
        .route("/v1/health", get(health))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::not_found(Reason::NotFound, "no such endpoint") })
        .layer(axum::middleware::from_fn_with_state(
            refusal as walrus_http::RenderRefusal,
            walrus_http::json_rejections,
        ))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(node)
}

/// axum's own refusals (a query or path that does not parse, a wrong method) as error JSON.
fn refusal(status: StatusCode, message: String) -> Response {
    let reason = match status {
        StatusCode::METHOD_NOT_ALLOWED => Reason::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => Reason::BodyTooLarge,
        _ => Reason::InvalidRequest,
    };
    ApiError::new(status, reason, message).into_response()
}

/// Checks that the blob is registered (and not invalid) in the node's view.
pub(crate) fn require_registered(node: &Node, blob_id: &BlobId) -> Result<BlobStatus, ApiError> {
    let epoch = node.view().epoch;
    match node.store.blob_status(blob_id, epoch)? {
        BlobStatus::Nonexistent => Err(ApiError::bad(
            Reason::NotRegistered,
            format!("blob {blob_id} is not registered or has expired"),
        )),
        BlobStatus::Invalid { .. } => {
            Err(ApiError::bad(Reason::InvalidBlob, format!("blob {blob_id} is marked invalid")))
        }
        status => Ok(status),
    }
}

pub(crate) fn stored_metadata(node: &Node, blob_id: &BlobId) -> Result<VerifiedBlobMetadataWithId, ApiError> {
    let stored = node.store.metadata(blob_id)?;
    let stored =
        stored.ok_or_else(|| ApiError::not_found(Reason::MetadataNotFound, "no metadata for this blob"))?;
    stored.verify(node.view().params).map_err(|e| {
        tracing::error!("stored metadata of {blob_id} fails verification: {e}");
        ApiError::internal("stored metadata is corrupt")
    })
}

/// `?pending=true`: buffer the upload if the registration has not been seen yet.
#[derive(Debug, Default, serde::Deserialize)]
struct PendingQuery {
    #[serde(default)]
    pending: bool,
}

/// Whether the upload should be buffered: `pending` asked, and the blob not registered yet.
/// Other refusals (invalid blob) stay errors.
fn should_buffer(node: &Node, blob_id: &BlobId, pending: bool) -> Result<bool, ApiError> {
    match require_registered(node, blob_id) {
        Ok(_) => Ok(false),
        Err(e) if pending && e.reason == Reason::NotRegistered => Ok(true),
        Err(e) => Err(e),
    }
}

fn pending_error(e: PendingError) -> ApiError {
    match e {
        PendingError::Saturated => ApiError::bad(Reason::CacheSaturated, e),
        PendingError::TooLarge => ApiError::bad(Reason::SliverTooLarge, e),
    }
}

/// After buffering: if the registration arrived meanwhile, flush now (the follower's flush for
/// it may already have run).
fn flush_if_registered(node: &Node, blob_id: &BlobId) -> Result<(), ApiError> {
    if require_registered(node, blob_id).is_ok() {
        crate::pending::flush(node, blob_id)?;
    }
    Ok(())
}

async fn put_metadata(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
    Query(query): Query<PendingQuery>,
    payload: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let blob_id = blob_id(&id)?;
    let payload = body(payload)?;
    let metadata: BlobMetadata = bcs::from_bytes(&payload)
        .map_err(|e| ApiError::bad(Reason::InvalidMetadata, format!("not BCS BlobMetadata: {e}")))?;
    blocking(move || {
        let buffer = should_buffer(&node, &blob_id, query.pending)?;
        let params = node.view().params;
        let verified = UnverifiedBlobMetadataWithId::new(blob_id, metadata)
            .verify(params)
            .map_err(|e| ApiError::bad(Reason::InvalidMetadata, e))?;
        if buffer {
            node.pending.put_metadata(verified).map_err(pending_error)?;
            flush_if_registered(&node, &blob_id)?;
            return Ok(success(StatusCode::ACCEPTED, "metadata buffered until the blob is registered"));
        }
        // Checked again under the blob's lock: garbage collection may have run meanwhile.
        let _shared = node.blob_locks.shared(&blob_id);
        require_registered(&node, &blob_id)?;
        if node.store.has_metadata(&blob_id)? {
            return Ok(success(StatusCode::OK, "metadata already stored"));
        }
        node.store.put_metadata(&verified)?;
        node.metrics.metadata_stored.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(success(StatusCode::CREATED, "metadata successfully stored"))
    })
    .await
}

async fn get_metadata(State(node): State<Arc<Node>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let blob_id = blob_id(&id)?;
    blocking(move || {
        require_registered(&node, &blob_id).map_err(|_| {
            ApiError::not_found(Reason::MetadataNotFound, format!("blob {blob_id} is not registered"))
        })?;
        Ok(bcs_response(stored_metadata(&node, &blob_id)?.to_bcs()))
    })
    .await
}

async fn metadata_status(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let blob_id = blob_id(&id)?;
    let status = blocking(move || {
        Ok(if node.store.has_metadata(&blob_id)? {
            "stored"
        } else if node.pending.has_metadata(&blob_id) {
            "buffered"
        } else {
            "nonexistent"
        })
    })
    .await?;
    Ok(success(StatusCode::OK, status))
}

/// The shard that holds pair `pair` of `blob_id`, checked to be this node's.
fn own_shard(node: &Node, blob_id: &BlobId, pair: &str) -> Result<(SliverPairIndex, ShardIndex), ApiError> {
    let pair = pair.parse::<u16>().map_err(|_| {
        ApiError::bad(Reason::InvalidSliverPair, format!("{pair:?} is not a sliver pair index"))
    })?;
    own_shard_of(node, blob_id, SliverPairIndex(pair))
}

/// The shard that holds `pair` of `blob_id`, checked to be this node's.
pub(crate) fn own_shard_of(
    node: &Node,
    blob_id: &BlobId,
    pair: SliverPairIndex,
) -> Result<(SliverPairIndex, ShardIndex), ApiError> {
    let view = node.view();
    let n = view.params.n_shards();
    if pair.0 >= n {
        return Err(ApiError::bad(Reason::InvalidSliverPair, format!("sliver pair index must be below {n}")));
    }
    let shard = blob_id.shard_for_pair(pair, n);
    if !view.holds(shard) {
        return Err(ApiError::bad(
            Reason::ShardNotAssigned,
            format!("this node does not hold shard {shard}"),
        ));
    }
    Ok((pair, shard))
}

async fn put_sliver(
    State(node): State<Arc<Node>>,
    Path((id, pair, axis_text)): Path<(String, String, String)>,
    Query(query): Query<PendingQuery>,
    payload: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let blob_id = blob_id(&id)?;
    let axis = axis(&axis_text)?;
    let payload = body(payload)?;
    let sliver: UnverifiedSliver = bcs::from_bytes(&payload)
        .map_err(|e| ApiError::bad(Reason::InvalidSliver, format!("not a BCS sliver: {e}")))?;
    blocking(move || {
        let (pair, shard) = own_shard(&node, &blob_id, &pair)?;
        let buffer = should_buffer(&node, &blob_id, query.pending)?;
        let n = node.view().params.n_shards();
        if sliver.index != pair.to_sliver_index(axis, n) {
            return Err(ApiError::bad(
                Reason::SliverIndexMismatch,
                "the sliver's index does not match its pair",
            ));
        }
        if buffer {
            node.pending.put_sliver(blob_id, shard, axis, sliver).map_err(pending_error)?;
            flush_if_registered(&node, &blob_id)?;
            return Ok(success(StatusCode::ACCEPTED, "sliver buffered until the blob is registered"));
        }
        let _shared = node.blob_locks.shared(&blob_id);
        require_registered(&node, &blob_id)?;
        let metadata = stored_metadata(&node, &blob_id)
            .map_err(|_| ApiError::bad(Reason::MetadataNotFound, "store the blob's metadata first"))?;
        // Verified first: garbage is refused even when the sliver is stored already.
        let verified = sliver.verify(axis, &metadata).map_err(|e| ApiError::bad(Reason::InvalidSliver, e))?;
        if node.store.has_sliver(shard, axis, &blob_id)? {
            return Ok(success(StatusCode::OK, "sliver already stored"));
        }
        node.store.put_slivers(&blob_id, &[(shard, &verified)])?;
        node.metrics.count_sliver(axis);
        Ok(success(StatusCode::CREATED, "sliver successfully stored"))
    })
    .await
}

async fn get_sliver(
    State(node): State<Arc<Node>>,
    Path((id, pair, axis_text)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let blob_id = blob_id(&id)?;
    let axis = axis(&axis_text)?;
    blocking(move || {
        let (_, shard) = own_shard(&node, &blob_id, &pair)?;
        require_registered(&node, &blob_id)?;
        let sliver = node.store.sliver(shard, axis, &blob_id)?;
        let sliver =
            sliver.ok_or_else(|| ApiError::not_found(Reason::SliverNotFound, "this sliver is not stored"))?;
        let metadata = stored_metadata(&node, &blob_id)?;
        let verified = sliver.verify(axis, &metadata).map_err(|e| {
            tracing::error!("stored sliver {blob_id}/{shard}/{axis} fails verification: {e}");
            ApiError::internal("stored sliver is corrupt")
        })?;
        Ok(bcs_response(verified.to_bcs()))
    })
    .await
}

async fn sliver_status(
    State(node): State<Arc<Node>>,
    Path((id, pair, axis_text)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let blob_id = blob_id(&id)?;
    let axis = axis(&axis_text)?;
    let stored = blocking(move || {
        let (_, shard) = own_shard(&node, &blob_id, &pair)?;
        Ok(node.store.has_sliver(shard, axis, &blob_id)?)
    })
    .await?;
    Ok(success(StatusCode::OK, if stored { "stored" } else { "nonexistent" }))
}

async fn blob_status(State(node): State<Arc<Node>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let blob_id = blob_id(&id)?;
    let status = blocking(move || {
        let epoch = node.view().epoch;
        Ok(node.store.blob_status(&blob_id, epoch)?)
    })
    .await?;
    Ok(success(StatusCode::OK, status))
}

/// Signs a confirmation if every shard of this node holds both slivers of the blob.
fn confirm(node: &Node, blob_id: BlobId, blob_type: BlobPersistenceType) -> Result<Response, ApiError> {
    let view = node.view();
    let seen = node.epoch_seen.load(std::sync::atomic::Ordering::Relaxed);
    if view.epoch.0 < seen {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Reason::CommitteeNotCurrent,
            format!("epoch {seen} began and this node has not read its committee yet; retry"),
        ));
    }
    if view.shards.is_empty() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Reason::NotInCommittee,
            format!("this node holds no shards in epoch {}", view.epoch),
        ));
    }
    for shard in &view.shards {
        for axis in [SliverType::Primary, SliverType::Secondary] {
            if !node.store.has_sliver(*shard, axis, &blob_id)? {
                return Err(ApiError::bad(
                    Reason::MissingSlivers,
                    format!("shard {shard} does not have the {axis} sliver yet"),
                ));
            }
        }
    }
    let message = ProtocolMessage::new(view.epoch, StorageConfirmation { blob_id, blob_type });
    let signed = SignedMessage::sign(&node.bls, &message);
    node.metrics.confirmations.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(success(StatusCode::OK, json!({ "signed": signed })))
}

async fn confirm_permanent(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let blob_id = blob_id(&id)?;
    blocking(move || {
        let _shared = node.blob_locks.shared(&blob_id);
        if !matches!(require_registered(&node, &blob_id)?, BlobStatus::Permanent { .. }) {
            return Err(ApiError::bad(Reason::NotRegistered, "no permanent registration of this blob"));
        }
        confirm(&node, blob_id, BlobPersistenceType::Permanent)
    })
    .await
}

async fn confirm_deletable(
    State(node): State<Arc<Node>>,
    Path((id, object)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let blob_id = blob_id(&id)?;
    let object_id: ObjectId = object
        .parse()
        .map_err(|_| ApiError::bad(Reason::InvalidObjectId, format!("{object:?} is not an object ID")))?;
    blocking(move || {
        let _shared = node.blob_locks.shared(&blob_id);
        require_registered(&node, &blob_id)?;
        let epoch = node.view().epoch;
        let registered = node
            .store
            .objects_of(&blob_id)?
            .iter()
            .any(|o| o.object_id == object_id && o.deletable && o.is_live(epoch));
        if !registered {
            return Err(ApiError::bad(
                Reason::NotRegistered,
                format!("{object_id} is not a live deletable blob object"),
            ));
        }
        confirm(&node, blob_id, BlobPersistenceType::Deletable { object_id })
    })
    .await
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct TargetQuery {
    target_sliver: u16,
    target_type: String,
}

/// Symbols for the targets, as BCS `Vec<GeneralRecoverySymbol>`. Checked first: no target
/// twice, at most [`RECOVERY_TARGETS_MAX`], an answer of at most
/// [`RECOVERY_RESPONSE_BYTES_MAX`]; then it takes its answer and one sliver's expansion from the
/// response budget, and waits for one of the node's turns of symbol work.
async fn serve_symbols(
    node: Arc<Node>,
    blob_id: BlobId,
    targets: Vec<(SliverType, SliverIndex)>,
) -> Result<Response, ApiError> {
    let view = node.view();
    let n = view.params.n_shards();
    if targets.is_empty() || targets.len() > RECOVERY_TARGETS_MAX || targets.iter().any(|(_, i)| i.0 >= n) {
        return Err(ApiError::bad(
            Reason::InvalidRecoveryTargets,
            format!("1..={RECOVERY_TARGETS_MAX} targets below {n}"),
        ));
    }
    let distinct: std::collections::BTreeSet<_> = targets.iter().collect();
    if distinct.len() != targets.len() {
        return Err(ApiError::bad(Reason::InvalidRecoveryTargets, "the same target appears twice"));
    }
    let worker = Arc::clone(&node);
    let metadata = blocking(move || {
        require_registered(&worker, &blob_id)?;
        stored_metadata(&worker, &blob_id)
    })
    .await?;
    let (params, symbol_size) = (metadata.params(), metadata.symbol_size());
    let answer = symbols_response_bytes(params, symbol_size, targets.len(), view.shards.len());
    if answer > RECOVERY_RESPONSE_BYTES_MAX {
        return Err(ApiError::bad(
            Reason::ResponseTooLarge,
            format!(
                "the symbols for {} targets could take {answer} bytes; ask for at most {} targets at once",
                targets.len(),
                targets_per_request(params, symbol_size, view.shards.len())
            ),
        ));
    }
    let expansion = (params.n() as u64) * (u64::from(symbol_size) + 64);
    let _permit = crate::edge::response_permit(&node, answer + expansion)?;
    let _turn = Arc::clone(&node.symbol_turns)
        .acquire_owned()
        .await
        .map_err(|_| ApiError::internal("the node is stopping"))?;
    blocking(move || {
        let symbols = symbols_for(&node, &metadata, &targets)?;
        if symbols.is_empty() {
            return Err(ApiError::not_found(
                Reason::SliverNotFound,
                "this node holds no slivers of the blob",
            ));
        }
        Ok(bcs_response(bcs::to_bytes(&symbols).map_err(ApiError::internal)?))
    })
    .await
}

async fn recovery_symbols(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
    Query(query): Query<TargetQuery>,
) -> Result<Response, ApiError> {
    let blob_id = blob_id(&id)?;
    let target = (axis(&query.target_type)?, SliverIndex(query.target_sliver));
    serve_symbols(node, blob_id, vec![target]).await
}

async fn recovery_symbols_batch(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
    payload: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let blob_id = blob_id(&id)?;
    let payload = body(payload)?;
    let request: RecoveryRequest = bcs::from_bytes(&payload).map_err(|e| {
        ApiError::bad(Reason::InvalidRecoveryTargets, format!("not a BCS recovery request: {e}"))
    })?;
    serve_symbols(node, blob_id, request.targets).await
}

/// Checks another node's proof that the blob is inconsistently encoded and, if it holds,
/// answers with this node's signed `InvalidBlobIdMsg`.
async fn inconsistency_proof(
    State(node): State<Arc<Node>>,
    Path((id, axis_text)): Path<(String, String)>,
    payload: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let blob_id = blob_id(&id)?;
    let axis = axis(&axis_text)?;
    let payload = body(payload)?;
    let proof: InconsistencyProof = bcs::from_bytes(&payload)
        .map_err(|e| ApiError::bad(Reason::InvalidProof, format!("not a BCS inconsistency proof: {e}")))?;
    blocking(move || {
        let metadata = stored_metadata(&node, &blob_id)?;
        proof.verify(axis, &metadata).map_err(|e| ApiError::bad(Reason::InvalidProof, e))?;
        Ok(success(StatusCode::OK, crate::invalid::attest(&node, blob_id)))
    })
    .await
}

async fn health(State(node): State<Arc<Node>>) -> Response {
    let view = node.view();
    let cursor = node.store.event_cursor().ok().flatten();
    success(
        StatusCode::OK,
        json!({
            "uptime": node.started.elapsed().as_secs(),
            "epoch": view.epoch.0,
            "publicKey": node.bls.public().to_string(),
            "nodeStatus": if view.shards.is_empty() { "Standby" } else { "Active" },
            "eventProgress": { "persisted": cursor.map(|c| c.height), "pending": 0 },
            "shardSummary": { "owned": view.shards.len(), "readOnly": 0 },
            "name": node.config.name,
        }),
    )
}

async fn metrics(State(node): State<Arc<Node>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], node.metrics.render(&node.view())).into_response()
}
