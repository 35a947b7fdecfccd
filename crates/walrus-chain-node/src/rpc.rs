//! The chain's HTTP RPC: submit-and-wait, reads of the state, events by long poll, health.
//!
//! Requests carry BCS (`application/octet-stream`) for transactions and query strings otherwise;
//! responses are JSON with IDs in their text forms. Every error is
//! `{"error": {"code": "...", "reason": "..."}}` with a 4xx or 5xx status.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use walrus_chain::system::Committee;
use walrus_chain::{SignedTransaction, TxDigest};
use walrus_chain_client::wire::{
    format_cursor, parse_cursor, AccountView, BlobView, ErrorBody, ErrorDetail, EventPage, ExecutedTx,
    FaucetRequest, FinalizedBlock, GenesisView, Health, ObjectView, OwnedObjectsPage, StateProofView,
    SystemView, EVENTS_PAGE_MAX, OWNED_OBJECTS_PAGE_MAX, TX_BYTES_MAX, WAIT_MAX,
};
use walrus_core::keys::Address;
use walrus_core::{BlobId, ObjectId};

use crate::chain::Chain;
use crate::faucet::Faucet;
use crate::orderer::{Orderer, SubmitError};
use crate::store::{tx_effects, StoreError};
use walrus_chain::admission::AdmissionError;

/// Default wait for a submitted transaction's effects.
pub const SUBMIT_WAIT_DEFAULT: Duration = Duration::from_secs(10);

/// What the handlers share.
#[derive(Clone)]
pub struct Rpc {
    /// The executing chain.
    pub chain: Arc<Chain>,
    /// Where transactions go.
    pub orderer: Arc<dyn Orderer>,
    /// The local network's faucet, if this is one.
    pub faucet: Option<Arc<Faucet>>,
    /// Finality proofs of the blocks the validator finalized.
    pub proofs: walrus_consensus::Proofs,
}

/// An RPC error: status, stable code, reason.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    reason: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, reason: impl ToString) -> Self {
        ApiError { status, code, reason: reason.to_string() }
    }

    pub(crate) fn bad_request(code: &'static str, reason: impl ToString) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, reason)
    }

    fn not_found(code: &'static str, reason: impl ToString) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, reason)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_string(), reason: self.reason } };
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "StoreError", e)
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
        let (status, code) = match &e {
            SubmitError::Refused(refusal) => match refusal {
                AdmissionError::WrongChain(_) => (unprocessable, "WrongChain"),
                AdmissionError::BadSignature => (unprocessable, "BadSignature"),
                AdmissionError::FeeTooLow { .. } => (unprocessable, "FeeTooLow"),
                AdmissionError::StaleNonce { .. } => (unprocessable, "StaleNonce"),
                AdmissionError::NonceTooFarAhead { .. } => (unprocessable, "NonceTooFarAhead"),
                AdmissionError::CannotPayFee { .. } => (unprocessable, "CannotPayFee"),
            },
            SubmitError::Conflict(_) => (StatusCode::CONFLICT, "NonceConflict"),
            SubmitError::Full => (StatusCode::SERVICE_UNAVAILABLE, "MempoolFull"),
            SubmitError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "TransactionTooLarge"),
        };
        ApiError::new(status, code, e)
    }
}

fn parse<T: std::str::FromStr>(what: &'static str, text: &str) -> Result<T, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request("InvalidParameter", format!("{what} {text:?} does not parse")))
}

/// axum's own refusals (a query that does not parse, a wrong method) as error JSON.
fn refusal(status: StatusCode, message: String) -> Response {
    let code = match status {
        StatusCode::METHOD_NOT_ALLOWED => "MethodNotAllowed",
        StatusCode::PAYLOAD_TOO_LARGE => "TooLarge",
        _ => "InvalidParameter",
    };
    ApiError::new(status, code, message).into_response()
}

/// The router with every endpoint.
pub fn router(rpc: Rpc) -> Router {
    Router::new()
        .route("/v1/transactions", post(submit))
        .route("/v1/transactions/{digest}", get(transaction))
        .route("/v1/accounts/{address}", get(account))
        .route("/v1/accounts/{address}/objects", get(owned_objects))
        .route("/v1/objects/{object_id}", get(object))
        .route("/v1/objects/{object_id}/children", get(child_objects))
        .route("/v1/sites/{site}/resource", get(site_resource))
        .route("/v1/names/{name}", get(site_name))
        .route("/v1/key-servers", get(key_servers))
        .route("/v1/system", get(system))
        .route("/v1/committee", get(committee))
        .route("/v1/blobs/{blob_id}", get(blob))
        .route("/v1/blocks/{height}", get(block))
        .route("/v1/events", get(events))
        .route("/v1/state", get(state_proof))
        .route("/v1/records", get(crate::records::records))
        .route("/v1/genesis", get(genesis))
        .route("/v1/health", get(health))
        .route("/v1/faucet", post(faucet))
        .fallback(|| async { ApiError::not_found("NotFound", "no such endpoint") })
        .layer(axum::middleware::from_fn_with_state(
            refusal as walrus_http::RenderRefusal,
            walrus_http::json_rejections,
        ))
        .layer(DefaultBodyLimit::max(TX_BYTES_MAX))
        .with_state(rpc)
}

/// How long to wait, from `?wait_ms=`.
#[derive(Debug, Deserialize)]
struct WaitQuery {
    wait_ms: Option<u64>,
}

fn wait_of(wait_ms: Option<u64>, default: Duration) -> Duration {
    wait_ms.map_or(default, Duration::from_millis).min(WAIT_MAX)
}

async fn submit(
    State(rpc): State<Rpc>,
    Query(query): Query<WaitQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ExecutedTx>, ApiError> {
    let body = body.map_err(|e| {
        let status = e.status();
        let code =
            if status == StatusCode::PAYLOAD_TOO_LARGE { "TransactionTooLarge" } else { "InvalidBody" };
        ApiError::new(
            status,
            code,
            format!("{} (transactions are at most {TX_BYTES_MAX} bytes)", e.body_text()),
        )
    })?;
    let tx: SignedTransaction = bcs::from_bytes(&body).map_err(|e| {
        ApiError::bad_request("MalformedTransaction", format!("not a BCS SignedTransaction: {e}"))
    })?;
    let digest = tx.data.digest();
    let (sender, nonce) = (tx.data.sender, tx.data.nonce);
    let waiter = rpc.chain.wait_for(digest);
    if let Some((height, effects)) = tx_effects(rpc.chain.store(), &digest)? {
        rpc.chain.forget(&digest);
        return Ok(Json(ExecutedTx::new(height, effects)));
    }
    if let Err(e) = rpc.orderer.submit(tx) {
        rpc.chain.forget(&digest);
        return Err(e.into());
    }
    match tokio::time::timeout(wait_of(query.wait_ms, SUBMIT_WAIT_DEFAULT), waiter).await {
        Ok(Ok((height, effects))) => Ok(Json(ExecutedTx::new(height, effects))),
        Ok(Err(_)) => {
            // Dropped from the mempool: its nonce went to another transaction (two processes
            // sharing a wallet), or it waited too long for an earlier nonce or for funds.
            let expected = rpc.chain.state().account(&sender).nonce;
            Err(if expected > nonce {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "StaleNonce",
                    format!("nonce {nonce} was taken by another transaction of this sender; the next is {expected}"),
                )
            } else {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Expired",
                    "the transaction waited too long for an earlier nonce or for funds, and was dropped",
                )
            })
        }
        Err(_) => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "Timeout",
            format!("not final yet; look it up later at /v1/transactions/{digest}"),
        )),
    }
}

async fn transaction(
    State(rpc): State<Rpc>,
    Path(digest): Path<String>,
) -> Result<Json<ExecutedTx>, ApiError> {
    let digest: TxDigest = parse("transaction digest", &digest)?;
    let not_found =
        || ApiError::not_found("TransactionNotFound", format!("no executed transaction {digest}"));
    let (height, effects) = tx_effects(rpc.chain.store(), &digest)?.ok_or_else(not_found)?;
    let store = rpc.chain.store();
    let block = store.block(height)?.ok_or_else(not_found)?;
    let index = store.tx_location(&digest)?.map_or(usize::MAX, |(_, index)| index as usize);
    let data = block.transactions.into_iter().nth(index).map(|tx| tx.data);
    Ok(Json(ExecutedTx { timestamp_ms: Some(block.timestamp_ms), data, ..ExecutedTx::new(height, effects) }))
}

async fn account(State(rpc): State<Rpc>, Path(address): Path<String>) -> Result<Json<AccountView>, ApiError> {
    let address: Address = parse("address", &address)?;
    let account = rpc.chain.state().account(&address);
    Ok(Json(AccountView { address, account }))
}

#[derive(Debug, Deserialize)]
struct OwnedQuery {
    after: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/accounts/{address}/objects?after=ID&limit=N`: from the owner index, so a page
/// costs the same however many objects the chain holds.
async fn owned_objects(
    State(rpc): State<Rpc>,
    Path(address): Path<String>,
    Query(query): Query<OwnedQuery>,
) -> Result<Json<OwnedObjectsPage>, ApiError> {
    let address: Address = parse("address", &address)?;
    objects_page(&rpc, &query, |state, after, limit| state.owned_objects(&address, after, limit))
}

/// `GET /v1/objects/{id}/children?after=ID&limit=N`: the objects an object owns (a site's
/// resources), a page from the children index.
async fn child_objects(
    State(rpc): State<Rpc>,
    Path(parent): Path<String>,
    Query(query): Query<OwnedQuery>,
) -> Result<Json<OwnedObjectsPage>, ApiError> {
    let parent: ObjectId = parse("object ID", &parent)?;
    objects_page(&rpc, &query, |state, after, limit| state.child_objects(&parent, after, limit))
}

/// One page of an index of objects, `read` from the state.
fn objects_page(
    rpc: &Rpc,
    query: &OwnedQuery,
    read: impl Fn(&walrus_chain::State, Option<ObjectId>, usize) -> Vec<(ObjectId, walrus_chain::objects::Object)>,
) -> Result<Json<OwnedObjectsPage>, ApiError> {
    let after: Option<ObjectId> = query.after.as_deref().map(|id| parse("object ID", id)).transpose()?;
    let limit = query.limit.unwrap_or(OWNED_OBJECTS_PAGE_MAX).clamp(1, OWNED_OBJECTS_PAGE_MAX);
    let state = rpc.chain.state();
    let objects: Vec<ObjectView> =
        read(&state, after, limit).into_iter().map(|(id, object)| ObjectView { id, object }).collect();
    let next_cursor = if objects.len() == limit { objects.last().map(|o| o.id) } else { None };
    Ok(Json(OwnedObjectsPage { objects, next_cursor }))
}

#[derive(Debug, Deserialize)]
struct PathQuery {
    path: String,
}

/// `GET /v1/sites/{site}/resource?path=/index.html`: one resource of a site, by path.
async fn site_resource(
    State(rpc): State<Rpc>,
    Path(site): Path<String>,
    Query(query): Query<PathQuery>,
) -> Result<Json<ObjectView>, ApiError> {
    let site: ObjectId = parse("object ID", &site)?;
    walrus_chain::site::check_path(&query.path).map_err(|e| ApiError::bad_request("InvalidParameter", e))?;
    let id = walrus_chain::site::resource_object_id(&site, &query.path);
    let object = rpc.chain.state().object(&id);
    let object = object.ok_or_else(|| {
        ApiError::not_found("ResourceNotFound", format!("site {site} has no {:?}", query.path))
    })?;
    Ok(Json(ObjectView { id, object }))
}

/// `GET /v1/names/{name}`: a registered site name and the site it points to.
async fn site_name(State(rpc): State<Rpc>, Path(name): Path<String>) -> Result<Json<ObjectView>, ApiError> {
    walrus_chain::site::check_name(&name).map_err(|e| ApiError::bad_request("InvalidParameter", e))?;
    let id = walrus_chain::site::name_object_id(&name);
    let object = rpc.chain.state().object(&id);
    let object =
        object.ok_or_else(|| ApiError::not_found("NameNotFound", format!("no site name {name:?}")))?;
    Ok(Json(ObjectView { id, object }))
}

/// `GET /v1/key-servers`: the registered key servers' object IDs (the first 1 000).
async fn key_servers(State(rpc): State<Rpc>) -> Json<walrus_chain_client::wire::KeyServerList> {
    let max = walrus_chain_client::wire::KEY_SERVERS_MAX;
    let key_servers = rpc.chain.state().key_servers.iter().take(max).copied().collect();
    Json(walrus_chain_client::wire::KeyServerList { key_servers })
}

async fn object(State(rpc): State<Rpc>, Path(id): Path<String>) -> Result<Json<ObjectView>, ApiError> {
    let id: ObjectId = parse("object ID", &id)?;
    let object = rpc.chain.state().object(&id);
    let object =
        object.ok_or_else(|| ApiError::not_found("ObjectNotFound", format!("no live object {id}")))?;
    Ok(Json(ObjectView { id, object }))
}

async fn system(State(rpc): State<Rpc>) -> Json<SystemView> {
    let state = rpc.chain.state();
    Json(SystemView {
        height: state.height,
        timestamp_ms: state.timestamp_ms,
        next_epoch_step_ms: state.system.next_step_ms(),
        total_supply: state.total_supply.0,
        burned: state.burned.0,
        system: state.system.clone(),
    })
}

async fn committee(State(rpc): State<Rpc>) -> Json<Committee> {
    Json(rpc.chain.state().system.committee.clone())
}

async fn blob(State(rpc): State<Rpc>, Path(blob_id): Path<String>) -> Result<Json<BlobView>, ApiError> {
    let blob_id: BlobId = parse("blob ID", &blob_id)?;
    let state = rpc.chain.state();
    let objects =
        state.blob_objects(&blob_id).into_iter().map(|(id, object)| ObjectView { id, object }).collect();
    let invalid = state.is_invalid(&blob_id);
    let invalidation = if invalid { rpc.chain.store().invalidation(&blob_id)? } else { None };
    Ok(Json(BlobView { blob_id, invalid, invalidation, objects }))
}

/// `GET /v1/blocks/{height}`: a finalized block with the finalize votes of a quorum of
/// validators on its digest, which a client checks against the genesis validators.
async fn block(State(rpc): State<Rpc>, Path(height): Path<String>) -> Result<Json<FinalizedBlock>, ApiError> {
    let height: u64 = parse("height", &height)?;
    let not_found = || ApiError::not_found("BlockNotFound", format!("no finalized block at height {height}"));
    let block = rpc.chain.store().block(height)?.ok_or_else(not_found)?;
    let (digest, proof) = rpc.proofs.finality_proof(height).await.ok_or_else(|| {
        ApiError::not_found(
            "ProofNotFound",
            format!("this validator holds no finalization of height {height}"),
        )
    })?;
    if digest != block.digest() {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ProofMismatch",
            format!("the finalization of height {height} is for another block"),
        ));
    }
    Ok(Json(FinalizedBlock {
        height,
        block: hex::encode(bcs::to_bytes(&block).expect("a block is plain BCS")),
        proof,
    }))
}

#[derive(Debug, Deserialize)]
struct StateQuery {
    at: Option<u64>,
}

/// Finalized blocks a state proof search looks at, newest first.
const PROOF_SEARCH: u64 = 64;

/// `GET /v1/state[?at=H]`: the newest finalized block this validator holds a certificate for
/// (among those that commit to a state at or below `H`, if given), the state header it commits
/// to, and the system object under that header.
async fn state_proof(
    State(rpc): State<Rpc>,
    Query(query): Query<StateQuery>,
) -> Result<Json<StateProofView>, ApiError> {
    find_state_proof(&rpc, query.at, true).await?.map(Json).ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "NoProvenState",
            format!("no block among the last {PROOF_SEARCH} heights is both finalized with a certificate here and committing to a state at or below the one asked for"),
        )
    })
}

/// The newest finalized block this validator holds a certificate for, among the last
/// [`PROOF_SEARCH`] heights (and among those committing to a state at or below `at`, if given),
/// with the header it commits to and, if `with_system`, the system object under it.
pub(crate) async fn find_state_proof(
    rpc: &Rpc,
    at: Option<u64>,
    with_system: bool,
) -> Result<Option<StateProofView>, ApiError> {
    let head = rpc.chain.head().borrow().0;
    let lag = walrus_chain::state::EXEC_LAG_MAX + 1;
    let top = at.map_or(head, |at| at.saturating_add(lag).min(head));
    let bottom = top.saturating_sub(PROOF_SEARCH).max(1);
    let internal =
        |e: crate::chain::ChainError| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "StoreError", e);
    for height in (bottom..=top).rev() {
        let Some(block) = rpc.chain.store().block(height)? else { continue };
        if at.is_some_and(|at| block.exec.height > at) {
            continue;
        }
        let Some((digest, finality)) = rpc.proofs.finality_proof(height).await else { continue };
        if digest != block.digest() {
            continue;
        }
        let Some(header) = rpc.chain.header_at(block.exec.height).map_err(internal)? else { continue };
        let system = match with_system {
            true => rpc.chain.system_under(&header).map(|bytes| hex::encode(bytes.as_slice())),
            false => None,
        };
        let block = hex::encode(bcs::to_bytes(&block).expect("a block is plain BCS"));
        return Ok(Some(StateProofView { block, finality, header, system }));
    }
    Ok(None)
}

/// `GET /v1/genesis`: the genesis whose digest is the chain ID, for clients that pin the ID.
async fn genesis(State(rpc): State<Rpc>) -> Json<GenesisView> {
    Json(GenesisView { genesis: hex::encode(bcs::to_bytes(rpc.chain.genesis()).expect("plain BCS")) })
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    after: Option<String>,
    limit: Option<usize>,
    wait_ms: Option<u64>,
}

async fn events(
    State(rpc): State<Rpc>,
    Query(query): Query<EventsQuery>,
) -> Result<Json<EventPage>, ApiError> {
    let after = match query.after.as_deref() {
        None | Some("") => None,
        Some(text) => Some(parse_cursor(text).ok_or_else(|| {
            ApiError::bad_request("InvalidParameter", format!("cursor {text:?} is not height:index"))
        })?),
    };
    let limit = query.limit.unwrap_or(EVENTS_PAGE_MAX).clamp(1, EVENTS_PAGE_MAX);
    let deadline = tokio::time::Instant::now() + wait_of(query.wait_ms, Duration::ZERO);
    let mut head = rpc.chain.head();
    loop {
        head.borrow_and_update();
        let events = rpc.chain.store().events_after(after, limit)?;
        if !events.is_empty() || tokio::time::Instant::now() >= deadline {
            let next_cursor = events.last().map(|e| e.cursor).or(after).map(format_cursor);
            return Ok(Json(EventPage { events, next_cursor }));
        }
        // Wakes on the next block; a timeout just ends the wait.
        let _ = tokio::time::timeout_at(deadline, head.changed()).await;
    }
}

/// The state's height with the digest after it (not the published head's, which a block's
/// state precedes while its effects are stored).
async fn health(State(rpc): State<Rpc>) -> Json<Health> {
    let (state, state_digest) = rpc.chain.state_and_digest();
    Json(Health {
        status: "ok".into(),
        chain_id: state.chain_id,
        height: state.height,
        timestamp_ms: state.timestamp_ms,
        epoch: state.system.epoch().0,
        state_digest,
        min_fee: state.system.params.min_fee.0,
        faucet: rpc.faucet.is_some(),
    })
}

async fn faucet(
    State(rpc): State<Rpc>,
    request: Result<Json<FaucetRequest>, JsonRejection>,
) -> Result<Json<ExecutedTx>, ApiError> {
    let Some(faucet) = rpc.faucet.clone() else {
        return Err(ApiError::not_found("NoFaucet", "this network has no faucet (only local networks do)"));
    };
    let Json(request) = request.map_err(|e| ApiError::bad_request("InvalidRequest", e.body_text()))?;
    let (height, effects) = faucet.send(&rpc, request.address, request.amount).await?;
    Ok(Json(ExecutedTx::new(height, effects)))
}
