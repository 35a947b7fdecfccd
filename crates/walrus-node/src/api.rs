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
use walrus_core::keys::BlsPublicKey;
use walrus_core::messages::SignedMessage;
use walrus_core::metadata::BlobMetadata;
use walrus_core::sliver::UnverifiedSliver;
use walrus_core::{BlobId, ObjectId, SliverIndex, SliverPairIndex, SliverType};
use walrus_node_client::client::SYNC_ANSWER_SLIVER_BYTES;
use walrus_node_client::envelope::error_body;
use walrus_node_client::Reason;

use crate::node::Node;
use crate::pending::PendingError;
use crate::recovery::RecoveryRequest;
use crate::service::{self, ServiceError, Stored};

/// The one place a refusal becomes an HTTP status and the reference's reason code.
pub fn http(error: &ServiceError) -> (StatusCode, Reason) {
    use ServiceError as E;
    const BAD: StatusCode = StatusCode::BAD_REQUEST;
    const BUSY: StatusCode = StatusCode::SERVICE_UNAVAILABLE;
    match error {
        E::InvalidBlobId(_) => (BAD, Reason::InvalidBlobId),
        E::InvalidSliverType => (BAD, Reason::InvalidSliverType),
        E::InvalidSliverPair(_) | E::PairOutOfRange { .. } => (BAD, Reason::InvalidSliverPair),
        E::InvalidObjectId(_) => (BAD, Reason::InvalidObjectId),
        E::BodyRejected { too_large: true, .. } | E::BodyTooLarge { .. } => {
            (StatusCode::PAYLOAD_TOO_LARGE, Reason::BodyTooLarge)
        }
        E::BodyRejected { too_large: false, .. } => (BAD, Reason::InvalidBody),
        E::MetadataBcs(_) | E::InvalidMetadata(_) => (BAD, Reason::InvalidMetadata),
        E::SliverBcs(_) | E::UploadsBcs(_) | E::InvalidSliver(_) => (BAD, Reason::InvalidSliver),
        E::BatchBcs(_) | E::BatchLength | E::DuplicateSliver => (BAD, Reason::InvalidBatch),
        E::RecoveryBcs(_) | E::InvalidTargets { .. } | E::DuplicateTarget => {
            (BAD, Reason::InvalidRecoveryTargets)
        }
        E::ProofBcs(_) | E::InvalidProof(_) => (BAD, Reason::InvalidProof),
        E::NotRegistered(_) | E::NotPermanent(_) | E::NotLiveDeletable(_) => (BAD, Reason::NotRegistered),
        E::InvalidBlob(_) => (BAD, Reason::InvalidBlob),
        E::MetadataNotFound(_) => (StatusCode::NOT_FOUND, Reason::MetadataNotFound),
        E::MetadataFirst => (BAD, Reason::MetadataNotFound),
        E::SliverNotFound | E::NoSlivers => (StatusCode::NOT_FOUND, Reason::SliverNotFound),
        E::ShardNotAssigned(_) => (BAD, Reason::ShardNotAssigned),
        E::SliverIndexMismatch => (BAD, Reason::SliverIndexMismatch),
        E::BatchTooLarge { .. } => (BAD, Reason::BatchTooLarge),
        E::Entry { source, .. } => http(source),
        E::ResponseTooLarge { .. } => (BAD, Reason::ResponseTooLarge),
        E::SyncBcs(_) | E::SyncMalformed(_) => (BAD, Reason::InvalidRequest),
        E::SyncUnauthorized(_) => (StatusCode::FORBIDDEN, Reason::RequestUnauthorized),
        E::SyncEpoch { .. } => (BAD, Reason::InvalidEpoch),
        E::CommitteeNotCurrent { .. } => (BUSY, Reason::CommitteeNotCurrent),
        E::NotInCommittee(_) => (BUSY, Reason::NotInCommittee),
        E::MissingSlivers { .. } => (BAD, Reason::MissingSlivers),
        E::Pending(PendingError::Saturated) => (BAD, Reason::CacheSaturated),
        E::Pending(PendingError::TooLarge) => (BAD, Reason::SliverTooLarge),
        E::TooManyUploads => (BUSY, Reason::TooManyUploads),
        E::TooManyReads => (BUSY, Reason::TooManyReads),
        E::ChallengeInProgress { .. } => (BUSY, Reason::ChallengeInProgress),
        E::ChallengeUnknown(_) => (BUSY, Reason::CommitteeNotCurrent),
        E::ProverNotInCommittee(_) => (BAD, Reason::NotInCommittee),
        E::InvalidChallengeItem | E::ChallengeBcs(_) => (BAD, Reason::InvalidBody),
        E::ChallengeSignature => (StatusCode::UNAUTHORIZED, Reason::RequestUnauthorized),
        E::ChallengeOver(_) => (BAD, Reason::InvalidEpoch),
        E::Stopping => (BUSY, Reason::Internal),
        E::Store(_) | E::CorruptMetadata | E::CorruptSliver | E::Task(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, Reason::Internal)
        }
    }
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        let (status, reason) = http(&self);
        if let ServiceError::Store(e) = self.cause() {
            tracing::error!("store: {e}");
        }
        let mut response = render(status, reason, &self.to_string());
        if let ServiceError::ChallengeInProgress { retry_after_s } = self.cause() {
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(*retry_after_s));
        }
        response
    }
}

/// The reference's error envelope.
fn render(status: StatusCode, reason: Reason, message: &str) -> Response {
    let body = error_body(status.as_u16(), reason.as_str(), message, "storage.walrus.space");
    (status, Json(body)).into_response()
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
    work: impl FnOnce() -> Result<T, ServiceError> + Send + 'static,
) -> Result<T, ServiceError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| ServiceError::Task(e.to_string()))?
}

/// How long a metadata upload or a confirmation request for a blob the node has not seen
/// registered waits for the event follower: a client registers and uploads at once, and the
/// node learns of the registration once a later block proves it, tens of milliseconds after.
const REGISTRATION_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs `work` on the blocking pool, again after each page of events the follower applies
/// while it finds the blob not registered, for up to [`REGISTRATION_WAIT`].
async fn once_registered<T: Send + 'static>(
    node: &Arc<Node>,
    work: impl Fn(&Node) -> Result<T, ServiceError> + Clone + Send + 'static,
) -> Result<T, ServiceError> {
    let deadline = tokio::time::Instant::now() + REGISTRATION_WAIT;
    let mut applied = node.events_applied.subscribe();
    loop {
        applied.borrow_and_update();
        let (worker, work_now) = (Arc::clone(node), work.clone());
        match blocking(move || work_now(&worker)).await {
            Err(ServiceError::NotRegistered(id)) if tokio::time::Instant::now() < deadline => {
                if !matches!(tokio::time::timeout_at(deadline, applied.changed()).await, Ok(Ok(()))) {
                    return Err(ServiceError::NotRegistered(id));
                }
            }
            done => return done,
        }
    }
}

pub(crate) fn blob_id(text: &str) -> Result<BlobId, ServiceError> {
    text.parse().map_err(|_| ServiceError::InvalidBlobId(text.to_string()))
}

fn axis(text: &str) -> Result<SliverType, ServiceError> {
    text.parse().map_err(|_| ServiceError::InvalidSliverType)
}

fn pair(text: &str) -> Result<SliverPairIndex, ServiceError> {
    text.parse::<u16>().map(SliverPairIndex).map_err(|_| ServiceError::InvalidSliverPair(text.to_string()))
}

pub(crate) fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ServiceError> {
    body.map_err(|e| {
        // A body cut off (the client went away, or fell silent past the idle timeout) closes
        // the connection: worth a line, since the client may only see a broken pipe.
        tracing::debug!("request body refused: {}", e.body_text());
        ServiceError::BodyRejected {
            too_large: e.status() == StatusCode::PAYLOAD_TOO_LARGE,
            message: e.body_text(),
        }
    })
}

/// What a write did, as the reference words it.
fn stored(what: &str, stored: Stored) -> Response {
    match stored {
        Stored::Created => success(StatusCode::CREATED, format!("{what} successfully stored")),
        Stored::AlreadyStored => success(StatusCode::OK, format!("{what} already stored")),
        Stored::Buffered => {
            success(StatusCode::ACCEPTED, format!("{what} buffered until the blob is registered"))
        }
    }
}

/// The router with every endpoint.
pub fn router(node: Arc<Node>) -> Router {
    let limit = node.config.body_bytes_max;
    let budget = axum::middleware::from_fn_with_state(Arc::clone(&node), crate::edge::upload_budget);
    // Requests whose bodies are small lists (or one signed message) are bounded far below the
    // upload limit, and take none of the upload budget.
    let small = DefaultBodyLimit::max(crate::edge::SMALL_BODY_BYTES_MAX);
    Router::new()
        .route("/v1/blobs/{blob_id}/metadata", get(get_metadata).put(put_metadata.layer(budget.clone())))
        .route("/v1/blobs/{blob_id}/metadata/status", get(metadata_status))
        .route(
            "/v1/blobs/{blob_id}/slivers",
            put(crate::batch::put_slivers.layer(budget.clone())).post(crate::batch::get_slivers.layer(small)),
        )
        .route(
            "/v1/blobs/{blob_id}/slivers/{pair}/{axis}",
            get(get_sliver).put(put_sliver.layer(budget.clone())),
        )
        .route("/v1/blobs/{blob_id}/slivers/{pair}/{axis}/status", get(sliver_status))
        .route("/v1/blobs/{blob_id}/status", get(blob_status))
        .route(
            "/v1/blobs/{blob_id}/recoverySymbols",
            get(recovery_symbols).post(recovery_symbols_batch.layer(small)),
        )
        .route(
            "/v1/blobs/{blob_id}/inconsistencyProof/{axis}",
            post(inconsistency_proof.layer(budget.clone())),
        )
        .route("/v1/blobs/{blob_id}/confirmation/permanent", get(confirm_permanent))
        .route("/v1/blobs/{blob_id}/confirmation/deletable/{object_id}", get(confirm_deletable))
        .route("/v1/migrate/sync_shard", post(sync_shard.layer(small)))
        .route(
            "/v1/challenges/{epoch}/items",
            post(
                challenge_items
                    .layer(DefaultBodyLimit::max(walrus_node_client::client::CHALLENGE_ITEMS_BYTES_MAX))
                    .layer(budget),
            ),
        )
        .route("/v1/health", get(health))
        .route("/metrics", get(metrics))
        .fallback(|| async { render(StatusCode::NOT_FOUND, Reason::NotFound, "no such endpoint") })
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
    render(status, reason, &message)
}

/// `?pending=true`: buffer the upload if the registration has not been seen yet.
#[derive(Debug, Default, serde::Deserialize)]
struct PendingQuery {
    #[serde(default)]
    pending: bool,
}

async fn put_metadata(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
    Query(query): Query<PendingQuery>,
    payload: Result<Bytes, BytesRejection>,
) -> Result<Response, ServiceError> {
    let blob_id = blob_id(&id)?;
    let metadata: BlobMetadata = bcs::from_bytes(&body(payload)?).map_err(ServiceError::MetadataBcs)?;
    let pending = query.pending;
    let done =
        once_registered(&node, move |node| service::put_metadata(node, blob_id, metadata.clone(), pending))
            .await?;
    Ok(stored("metadata", done))
}

async fn get_metadata(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
) -> Result<Response, ServiceError> {
    let blob_id = blob_id(&id)?;
    Ok(bcs_response(blocking(move || service::metadata(&node, &blob_id)).await?))
}

async fn metadata_status(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
) -> Result<Response, ServiceError> {
    let blob_id = blob_id(&id)?;
    let status = blocking(move || service::metadata_status(&node, &blob_id)).await?;
    Ok(success(StatusCode::OK, status))
}

async fn put_sliver(
    State(node): State<Arc<Node>>,
    Path((id, pair_text, axis_text)): Path<(String, String, String)>,
    Query(query): Query<PendingQuery>,
    payload: Result<Bytes, BytesRejection>,
) -> Result<Response, ServiceError> {
    let (blob_id, pair, axis) = (blob_id(&id)?, pair(&pair_text)?, axis(&axis_text)?);
    let sliver: UnverifiedSliver = bcs::from_bytes(&body(payload)?).map_err(ServiceError::SliverBcs)?;
    let done =
        blocking(move || service::put_sliver(&node, blob_id, pair, axis, sliver, query.pending)).await?;
    Ok(stored("sliver", done))
}

async fn get_sliver(
    State(node): State<Arc<Node>>,
    Path((id, pair_text, axis_text)): Path<(String, String, String)>,
) -> Result<Response, ServiceError> {
    let (blob_id, pair, axis) = (blob_id(&id)?, pair(&pair_text)?, axis(&axis_text)?);
    Ok(bcs_response(blocking(move || service::sliver(&node, &blob_id, pair, axis)).await?))
}

async fn sliver_status(
    State(node): State<Arc<Node>>,
    Path((id, pair_text, axis_text)): Path<(String, String, String)>,
) -> Result<Response, ServiceError> {
    let (blob_id, pair, axis) = (blob_id(&id)?, pair(&pair_text)?, axis(&axis_text)?);
    let stored = blocking(move || service::sliver_status(&node, &blob_id, pair, axis)).await?;
    Ok(success(StatusCode::OK, if stored { "stored" } else { "nonexistent" }))
}

async fn blob_status(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
) -> Result<Response, ServiceError> {
    let blob_id = blob_id(&id)?;
    let status = blocking(move || service::blob_status(&node, &blob_id)).await?;
    Ok(success(StatusCode::OK, status))
}

async fn confirm_permanent(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
) -> Result<Response, ServiceError> {
    let blob_id = blob_id(&id)?;
    let signed = once_registered(&node, move |node| service::confirm_permanent(node, blob_id)).await?;
    Ok(success(StatusCode::OK, json!({ "signed": signed })))
}

async fn confirm_deletable(
    State(node): State<Arc<Node>>,
    Path((id, object)): Path<(String, String)>,
) -> Result<Response, ServiceError> {
    let blob_id = blob_id(&id)?;
    let object_id: ObjectId = object.parse().map_err(|_| ServiceError::InvalidObjectId(object))?;
    let signed =
        once_registered(&node, move |node| service::confirm_deletable(node, blob_id, object_id)).await?;
    Ok(success(StatusCode::OK, json!({ "signed": signed })))
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct TargetQuery {
    target_sliver: u16,
    target_type: String,
}

/// Symbols for the targets, as BCS `Vec<GeneralRecoverySymbol>`. Checked first (no target
/// twice, at most `RECOVERY_TARGETS_MAX`, an answer of at most `RECOVERY_RESPONSE_BYTES_MAX`);
/// then it takes its answer and one sliver's expansion from the response budget, and waits for
/// one of the node's turns of symbol work.
async fn serve_symbols(
    node: Arc<Node>,
    blob_id: BlobId,
    targets: Vec<(SliverType, SliverIndex)>,
) -> Result<Response, ServiceError> {
    service::check_targets(&node, &targets)?;
    let worker = Arc::clone(&node);
    let count = targets.len();
    let (metadata, holds) = blocking(move || service::plan_symbols(&worker, &blob_id, count)).await?;
    let _permit = crate::edge::response_permit(&node, holds)?;
    let _turn = Arc::clone(&node.symbol_turns).acquire_owned().await.map_err(|_| ServiceError::Stopping)?;
    Ok(bcs_response(blocking(move || service::symbols(&node, &metadata, &targets)).await?))
}

async fn recovery_symbols(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
    Query(query): Query<TargetQuery>,
) -> Result<Response, ServiceError> {
    let blob_id = blob_id(&id)?;
    let target = (axis(&query.target_type)?, SliverIndex(query.target_sliver));
    serve_symbols(node, blob_id, vec![target]).await
}

async fn recovery_symbols_batch(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
    payload: Result<Bytes, BytesRejection>,
) -> Result<Response, ServiceError> {
    let blob_id = blob_id(&id)?;
    let request: RecoveryRequest = bcs::from_bytes(&body(payload)?).map_err(ServiceError::RecoveryBcs)?;
    serve_symbols(node, blob_id, request.targets).await
}

/// Checks another node's proof that the blob is inconsistently encoded and, if it holds,
/// answers with this node's signed `InvalidBlobIdMsg`.
async fn inconsistency_proof(
    State(node): State<Arc<Node>>,
    Path((id, axis_text)): Path<(String, String)>,
    payload: Result<Bytes, BytesRejection>,
) -> Result<Response, ServiceError> {
    let (blob_id, axis) = (blob_id(&id)?, axis(&axis_text)?);
    let proof: InconsistencyProof = bcs::from_bytes(&body(payload)?).map_err(ServiceError::ProofBcs)?;
    let signed = blocking(move || service::inconsistency_proof(&node, blob_id, axis, &proof)).await?;
    Ok(success(StatusCode::OK, signed))
}

/// `POST /v1/migrate/sync_shard`: the requester's BLS key in `Authorization`, the signed request
/// as the body ([`crate::shard_sync`]).
async fn sync_shard(
    State(node): State<Arc<Node>>,
    headers: axum::http::HeaderMap,
    payload: Result<Bytes, BytesRejection>,
) -> Result<Response, ServiceError> {
    let requester: BlsPublicKey = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse().ok())
        .ok_or(ServiceError::SyncUnauthorized("no BLS public key in the Authorization header"))?;
    let signed: SignedMessage = bcs::from_bytes(&body(payload)?).map_err(ServiceError::SyncBcs)?;
    // Refused requests cost a signature check, and take none of the response budget. An
    // answer holds at most its sliver budget, or its first sliver if that is larger, and the
    // framing (BCS tags and blob IDs: under 1 MiB for the most slivers an answer carries).
    let worker = Arc::clone(&node);
    let (request, first) = blocking(move || {
        let request = crate::shard_sync::authorize(&worker, &requester, &signed)?;
        crate::challenge::gate(&worker, None)?;
        let (shard, axis, from) = (request.shard_index, request.sliver_type, request.starting_blob_id);
        Ok((request, worker.store.first_shard_sliver_len(shard, axis, &from)?))
    })
    .await?;
    let holds = SYNC_ANSWER_SLIVER_BYTES.max(first.unwrap_or(0)) + (4 << 20);
    let _permit = crate::edge::response_permit(&node, holds)?;
    Ok(bcs_response(blocking(move || crate::shard_sync::serve(&node, &request)).await?))
}

/// `?node_id=` of a challenge-items request: the prover.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ProverQuery {
    node_id: String,
}

/// `POST /v1/challenges/{epoch}/items?node_id=`: a chunk of a prover's items, checked against
/// this node's metadata; the answer says how many arrived and passed, and carries this node's
/// signed result once all have.
async fn challenge_items(
    State(node): State<Arc<Node>>,
    Path(epoch): Path<String>,
    Query(query): Query<ProverQuery>,
    payload: Result<Bytes, BytesRejection>,
) -> Result<Response, ServiceError> {
    let epoch = epoch.parse().map(walrus_core::Epoch).map_err(|_| ServiceError::InvalidChallengeItem)?;
    let prover: ObjectId = query.node_id.parse().map_err(|_| ServiceError::InvalidObjectId(query.node_id))?;
    let chunk: walrus_core::challenge::ChallengeChunk =
        bcs::from_bytes(&body(payload)?).map_err(ServiceError::ChallengeBcs)?;
    let worker = Arc::clone(&node);
    let answer = blocking(move || worker.verifier.receive(&worker, epoch, prover, &chunk)).await?;
    Ok(success(StatusCode::OK, answer))
}

/// `?detailed=true`: each shard's status besides the summary.
#[derive(Debug, Default, serde::Deserialize)]
struct HealthQuery {
    #[serde(default)]
    detailed: bool,
}

/// `GET /v1/health`: the reference's `ServiceHealthInfo`; `shardDetail` (each owned shard's
/// status, and the shards stored but not owned, read-only) when detailed.
async fn health(State(node): State<Arc<Node>>, Query(query): Query<HealthQuery>) -> Response {
    let view = node.view();
    let owned = node.owned_shard_statuses();
    let count = |wanted: &str| owned.iter().filter(|(_, status)| *status == wanted).count();
    let cursor = node.store.event_cursor().ok().flatten();
    // The reference counts every `LockedToMove` shard: read-only and retained.
    let other: Vec<_> = view.read_only.iter().chain(&view.retained).collect();
    let mut body = json!({
        "uptime": node.started.elapsed().as_secs(),
        "epoch": view.epoch.0,
        "publicKey": node.bls.public().to_string(),
        "nodeStatus": if view.shards.is_empty() { "Standby" } else { "Active" },
        "eventProgress": { "persisted": cursor.map(|c| c.height), "pending": 0 },
        "shardSummary": {
            "owned": view.shards.len(),
            "ownedShardStatus": {
                "unknown": 0,
                "ready": count("ready"),
                "inTransfer": count("inTransfer"),
                "inRecovery": count("inRecovery"),
            },
            "readOnly": other.len(),
        },
        "name": node.config.name,
    });
    if query.detailed {
        let shard =
            |(shard, status): (&walrus_core::ShardIndex, &str)| json!({ "shard": shard.0, "status": status });
        body["shardDetail"] = json!({
            "owned": owned.iter().map(|(s, status)| shard((s, status))).collect::<Vec<_>>(),
            "other": other.into_iter().map(|s| shard((s, "readOnly"))).collect::<Vec<_>>(),
        });
        body["challenge"] = challenge_report(&node);
    }
    success(StatusCode::OK, body)
}

/// The detailed health report's storage-challenge part (ours): the gate's phase, this node's
/// last bundle, and the chain's last settlement of it.
fn challenge_report(node: &Node) -> serde_json::Value {
    use std::sync::atomic::Ordering::Relaxed;
    let settled = node.metrics.settlement().map(|[epoch, items, passed, reward_bps, penalty]| {
        json!({ "epoch": epoch, "items": items, "passed": passed, "rewardBps": reward_bps, "penaltyFrost": penalty })
    });
    json!({
        "phase": node.challenge.phase(crate::challenge::now_ms()),
        "currentEpochDrawn": node.challenge.started().map(|s| s.blobs.len()),
        "lastItems": node.metrics.challenge_items.load(Relaxed),
        "lastMissing": node.metrics.challenge_missing.load(Relaxed),
        "lastSettled": settled,
    })
}

async fn metrics(State(node): State<Arc<Node>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], node.metrics.render(&node.view())).into_response()
}
