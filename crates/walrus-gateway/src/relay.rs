//! The upload relay (`walrus upload-relay`), with the reference's API (`../shared/spec/protocol.md`
//! §7.8; the protocol's types are in [`walrus_sdk::relay`]):
//!
//! - `GET /v1/tip-config`: `"no_tip"` or `{"send_tip": {"address", "kind"}}`;
//! - `POST /v1/blob-upload-relay?blob_id=&tx_id=&nonce=&deletable_blob_object=&encoding_type=`,
//!   body the unencoded blob: the relay encodes it, sends the slivers to the committee and answers
//!   `{"blob_id", "confirmation_certificate"}`; the client certifies on chain.
//!
//! Everything that can be checked before the body arrives is: the blob must be registered on
//! chain (for the persistence asked) with the length the request declares, no longer than the
//! relay's limit, and a tip, if one is asked, must be a fresh `TransferWithMemo` to the relay of
//! enough WAL whose memo commits to this nonce and length. The body then goes to an unnamed
//! temporary file (never memory) and must hash to the memo's digest and encode to the blob ID;
//! only then is anything sent to a node. Uploads run a few at a time (429 beyond), each in its
//! memory budget; a body has a deadline of two minutes plus a second per MiB.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use tokio::sync::Semaphore;
use walrus_chain::block::TxStatus;
use walrus_chain::tx::{Call, TransactionData};
use walrus_chain_client::ClientError;
use walrus_core::keys::Address;
use walrus_core::EncodingParams;
use walrus_sdk::relay::{
    sha256, HashedAuthPackage, RelayParams, RelayQuery, RelayResponse, TipConfig, TipKind, DIGEST_LEN,
};
use walrus_sdk::Client;

use crate::{Checked, GatewayError, RunningGateway, StartError};

/// How a relay is set up.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Where to listen.
    pub bind: SocketAddr,
    /// The tips, and how old a tip may be.
    pub settings: RelaySettings,
    /// Largest blob relayed (the reference's limit: 1 GiB).
    pub max_body_bytes: u64,
    /// Uploads at once; more are answered 429.
    pub max_concurrent_uploads: usize,
    /// Memory each upload's encoding may use (a larger blob is encoded streaming from its file).
    pub memory_budget: usize,
    /// Where request bodies and the encoder's scratch files go (default: the temporary
    /// directory); each upload may take about 3.5 times its blob there.
    pub scratch_dir: Option<PathBuf>,
    /// The HTTP server's connection and timeout limits.
    pub server: walrus_http::ServerLimits,
}

/// The relay's settings file, as the reference's `walrus_upload_relay_config.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelaySettings {
    /// What the relay asks for.
    pub tip_config: TipConfig,
    /// Oldest a tip's transaction may be when its upload arrives, in seconds.
    pub tx_freshness_threshold_secs: u64,
    /// How far in the future (clock skew) a tip's transaction may seem to be, in seconds.
    pub tx_max_future_threshold_secs: u64,
}

impl Default for RelaySettings {
    /// A free relay; tips of up to an hour (the reference's README) if one is configured.
    fn default() -> Self {
        RelaySettings {
            tip_config: TipConfig::NoTip,
            tx_freshness_threshold_secs: 3600,
            tx_max_future_threshold_secs: 30,
        }
    }
}

impl RelayConfig {
    /// A relay on `bind` with `settings`: blobs up to 1 GiB, four uploads at once, 256 MiB each.
    pub fn new(bind: SocketAddr, settings: RelaySettings) -> Self {
        RelayConfig {
            bind,
            settings,
            max_body_bytes: 1 << 30,
            max_concurrent_uploads: 4,
            memory_budget: 256 << 20,
            scratch_dir: None,
            server: walrus_http::ServerLimits::default(),
        }
    }
}

/// Longest the nodes may take to confirm once the blob is encoded.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(300);
/// A body's deadline: this, plus a second per MiB.
const BODY_TIMEOUT_BASE: Duration = Duration::from_secs(120);
/// Bytes gathered before each write to the body's file.
const SPOOL_PIECE_BYTES: usize = 4 << 20;

struct Relay {
    config: RelayConfig,
    client: Client,
    uploads: Arc<Semaphore>,
}

/// Starts a relay over the chain at `chain_url`.
pub async fn start_relay(config: RelayConfig, chain_url: &str) -> Result<RunningGateway, StartError> {
    let bind = config.bind;
    let listener =
        walrus_http::bind(bind).await.map_err(|source| StartError::Listen { addr: bind, source })?;
    let client =
        Client::read_only(chain_url).with_memory_budget(config.memory_budget, config.scratch_dir.clone());
    let relay = Arc::new(Relay {
        uploads: Arc::new(Semaphore::new(config.max_concurrent_uploads.max(1))),
        client,
        config,
    });
    let limits = relay.config.server;
    let app = Router::new()
        .route("/status", get(|| async { "OK" }))
        .route(walrus_sdk::relay::TIP_CONFIG_ROUTE, get(tip_config))
        .route(walrus_sdk::relay::BLOB_UPLOAD_RELAY_ROUTE, post(upload))
        .fallback(|| async { GatewayError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint") })
        .method_not_allowed_fallback(|method: Method| async move {
            GatewayError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                format!("{method} is not served here"),
            )
        })
        .layer(axum::middleware::from_fn(crate::cors))
        .with_state(relay);
    walrus_http::spawn(listener, app, limits).map_err(|source| StartError::Listen { addr: bind, source })
}

async fn tip_config(State(relay): State<Arc<Relay>>) -> Json<TipConfig> {
    Json(relay.config.settings.tip_config.clone())
}

/// `POST /v1/blob-upload-relay`.
async fn upload(
    State(relay): State<Arc<Relay>>,
    Checked(Query(query)): Checked<Query<RelayQuery>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, GatewayError> {
    let _slot = Arc::clone(&relay.uploads).try_acquire_owned().map_err(|_| GatewayError::busy())?;
    let params = query.parse().map_err(|e| GatewayError::bad("INVALID_QUERY", e))?;
    let system = relay.client.chain().system().await.map_err(chain_unavailable)?.system;
    let encoding =
        EncodingParams::new(u64::from(system.params.n_shards)).map_err(crate::aggregator::internal)?;
    let length = registered_length(&relay, &params).await?;
    if length > relay.config.max_body_bytes {
        let message = format!("this relay takes blobs of at most {} bytes", relay.config.max_body_bytes);
        return Err(GatewayError::new(StatusCode::PAYLOAD_TOO_LARGE, "BLOB_TOO_LARGE", message));
    }
    if let Some(declared) = content_length(&headers)? {
        if declared != length {
            let message = format!("the body has {declared} bytes; the blob is registered with {length}");
            return Err(GatewayError::bad("BLOB_LENGTH_MISMATCH", message));
        }
    }
    let committed = match &relay.config.settings.tip_config {
        TipConfig::NoTip => None,
        TipConfig::SendTip { address, kind } => {
            Some(check_tip(&relay, &params, (*address, *kind), encoding, length).await?)
        }
    };
    let deadline = BODY_TIMEOUT_BASE + Duration::from_secs(length >> 20);
    let (file, digest) =
        tokio::time::timeout(deadline, spool(body, length, relay.config.scratch_dir.clone()))
            .await
            .map_err(|_| {
                GatewayError::new(StatusCode::REQUEST_TIMEOUT, "BODY_TIMEOUT", "the body took too long")
            })??;
    if committed.is_some_and(|committed| committed != digest) {
        let message = "the body's SHA-256 is not the one the tip's memo commits to";
        return Err(GatewayError::new(StatusCode::UNAUTHORIZED, "BLOB_DIGEST_MISMATCH", message));
    }
    let (budget, scratch) = (relay.config.memory_budget, relay.config.scratch_dir.clone());
    let blob = tokio::task::spawn_blocking(move || {
        let label = std::path::Path::new("<request body>");
        walrus_sdk::streaming::encode_open_file(encoding, file, label, budget, scratch.as_deref())
    })
    .await
    .map_err(crate::aggregator::internal)?
    .map_err(crate::aggregator::internal)?;
    if *blob.metadata().blob_id() != params.blob_id {
        let message =
            format!("the body encodes to blob {}, not {}", blob.metadata().blob_id(), params.blob_id);
        return Err(GatewayError::bad("BLOB_ID_MISMATCH", message));
    }
    let upload = relay.client.upload_for_certificate(&blob, params.deletable_blob_object);
    let certificate = tokio::time::timeout(CONFIRM_TIMEOUT, upload)
        .await
        .map_err(|_| GatewayError::new(StatusCode::GATEWAY_TIMEOUT, "TIMEOUT", "the nodes took too long"))?
        .map_err(crate::publisher::store_error)?;
    let answer = RelayResponse { blob_id: params.blob_id, confirmation_certificate: certificate };
    Ok((StatusCode::OK, Json(answer)).into_response())
}

/// The blob's length as registered on chain, for the persistence the request asks (a
/// permanent registration, or the deletable object it names).
async fn registered_length(relay: &Relay, params: &RelayParams) -> Result<u64, GatewayError> {
    let view = walrus_sdk::blobs::blob_view(relay.client.chain(), &params.blob_id)
        .await
        .map_err(chain_unavailable)?;
    let objects = view.map(|view| view.objects).unwrap_or_default();
    let blobs = objects.iter().filter_map(|object| object.object.body.blob());
    let found = match params.deletable_blob_object {
        Some(id) => blobs.filter(|blob| blob.id == id && blob.deletable).map(|blob| blob.size).next(),
        None => blobs.filter(|blob| !blob.deletable).map(|blob| blob.size).next(),
    };
    found.ok_or_else(|| {
        let what = match params.deletable_blob_object {
            Some(id) => format!("as the deletable object {id}"),
            None => "as a permanent blob (give deletable_blob_object for a deletable one)".into(),
        };
        let message = format!("blob {} is not registered on chain {what}: register it first", params.blob_id);
        GatewayError::bad("BLOB_NOT_REGISTERED", message)
    })
}

/// The request's `Content-Length`, if it has one.
fn content_length(headers: &HeaderMap) -> Result<Option<u64>, GatewayError> {
    let Some(value) = headers.get(header::CONTENT_LENGTH) else { return Ok(None) };
    let parsed = value.to_str().ok().and_then(|text| text.parse().ok());
    parsed.map(Some).ok_or_else(|| GatewayError::bad("INVALID_HEADER", "Content-Length is not a number"))
}

/// Checks the tip `params` name against the relay's `(address, kind)` for a blob of `length`
/// bytes, and returns the blob digest its memo commits to.
async fn check_tip(
    relay: &Relay,
    params: &RelayParams,
    (address, kind): (Address, TipKind),
    encoding: EncodingParams,
    length: u64,
) -> Result<[u8; DIGEST_LEN], GatewayError> {
    let (Some(tx_id), Some(nonce)) = (params.tx_id, params.nonce) else {
        let message = "this relay asks a tip: give tx_id and nonce (GET /v1/tip-config)";
        return Err(GatewayError::bad("MISSING_TX_ID_OR_NONCE", message));
    };
    let tx = match relay.client.chain().transaction(&tx_id).await {
        Ok(tx) => tx,
        Err(ClientError::Api { status: 404, .. }) => {
            return Err(GatewayError::bad("TIP_NOT_FOUND", format!("no executed transaction {tx_id}")))
        }
        Err(e) => return Err(chain_unavailable(e)),
    };
    let unauthorized = |reason, message: String| GatewayError::new(StatusCode::UNAUTHORIZED, reason, message);
    let timestamp_ms =
        tx.timestamp_ms.ok_or_else(|| chain_unavailable("the chain did not say when it ran"))?;
    check_freshness(&relay.config.settings, timestamp_ms)?;
    let (TxStatus::Success, Some(TransactionData { call: Call::TransferWithMemo { to, amount, memo }, .. })) =
        (&tx.effects.status, tx.data)
    else {
        let message = format!("transaction {tx_id} is not a successful TransferWithMemo");
        return Err(unauthorized("INVALID_TIP_TRANSACTION", message));
    };
    let committed = HashedAuthPackage::from_bytes(&memo).ok_or_else(|| {
        unauthorized(
            "INVALID_AUTH_PACKAGE",
            "the tip's memo is not BCS(sha256(blob), sha256(nonce), length)".into(),
        )
    })?;
    if sha256(&nonce) != committed.nonce_digest {
        return Err(unauthorized(
            "INVALID_NONCE_HASH",
            "the nonce is not the one the tip's memo commits to".into(),
        ));
    }
    if committed.unencoded_length != length {
        let message = format!("the tip pays for {} bytes; the blob has {length}", committed.unencoded_length);
        return Err(unauthorized("BLOB_LENGTH_MISMATCH", message));
    }
    let expected = kind.tip(encoding, length).ok_or_else(|| {
        GatewayError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BLOB_TOO_LARGE",
            "the blob is too large for the system",
        )
    })?;
    if to != address {
        let message = format!("transaction {tx_id} pays {to}, not this relay ({address})");
        return Err(GatewayError::new(StatusCode::PAYMENT_REQUIRED, "NO_TIP_SENT", message));
    }
    if amount.0 < expected {
        let message = format!("the tip is {expected} FROST; transaction {tx_id} paid {}", amount.0);
        return Err(GatewayError::new(StatusCode::PAYMENT_REQUIRED, "INSUFFICIENT_TIP", message));
    }
    Ok(committed.blob_digest)
}

/// A tip's transaction, run at `timestamp_ms`, must be recent and not far in the future.
fn check_freshness(settings: &RelaySettings, timestamp_ms: u64) -> Result<(), GatewayError> {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |now| now.as_millis() as u64);
    if timestamp_ms.saturating_sub(now_ms) > settings.tx_max_future_threshold_secs.saturating_mul(1000) {
        return Err(GatewayError::bad("TIP_IN_FUTURE", "the tip's transaction is too far in the future"));
    }
    let age_ms = now_ms.saturating_sub(timestamp_ms);
    if age_ms > settings.tx_freshness_threshold_secs.saturating_mul(1000) {
        let message = format!(
            "the tip's transaction is {} s old; this relay takes tips of at most {} s",
            age_ms / 1000,
            settings.tx_freshness_threshold_secs
        );
        return Err(GatewayError::bad("TIP_TOO_OLD", message));
    }
    Ok(())
}

/// Writes the body, which must be `length` bytes, to an unnamed temporary file in `dir`;
/// returns the file and the body's SHA-256.
async fn spool(
    mut body: Body,
    length: u64,
    dir: Option<PathBuf>,
) -> Result<(std::fs::File, [u8; DIGEST_LEN]), GatewayError> {
    let mut file = Some(
        match &dir {
            Some(dir) => tempfile::tempfile_in(dir),
            None => tempfile::tempfile(),
        }
        .map_err(crate::aggregator::internal)?,
    );
    let mut hasher = sha2::Sha256::new();
    let (mut received, mut piece) = (0u64, Vec::with_capacity(SPOOL_PIECE_BYTES));
    loop {
        let frame = std::future::poll_fn(|cx| http_body::Body::poll_frame(Pin::new(&mut body), cx)).await;
        let data = match frame {
            None => None,
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => Some(data),
                Err(_) => continue, // Trailers.
            },
            Some(Err(e)) => {
                return Err(GatewayError::bad("INVALID_BODY", format!("the body broke off: {e}")))
            }
        };
        if let Some(data) = &data {
            received += data.len() as u64;
            if received > length {
                let message = format!("the body is longer than the blob's registered {length} bytes");
                return Err(GatewayError::bad("BLOB_LENGTH_MISMATCH", message));
            }
            hasher.update(data);
            piece.extend_from_slice(data);
        }
        if piece.len() >= SPOOL_PIECE_BYTES || (data.is_none() && !piece.is_empty()) {
            let (mut open, full) = (file.take().expect("the file is back after each write"), piece);
            let written = tokio::task::spawn_blocking(move || {
                std::io::Write::write_all(&mut open, &full).map(|()| (open, full))
            });
            let (open, mut emptied) =
                written.await.map_err(crate::aggregator::internal)?.map_err(crate::aggregator::internal)?;
            emptied.clear();
            (file, piece) = (Some(open), emptied);
        }
        if data.is_none() {
            break;
        }
    }
    if received != length {
        let message = format!("the body has {received} bytes; the blob is registered with {length}");
        return Err(GatewayError::bad("BLOB_LENGTH_MISMATCH", message));
    }
    Ok((file.expect("the file is back after each write"), hasher.finalize().into()))
}

/// The chain could not be asked: the relay cannot check the request now.
fn chain_unavailable(e: impl ToString) -> GatewayError {
    GatewayError::new(
        StatusCode::BAD_GATEWAY,
        "CHAIN_UNAVAILABLE",
        format!("cannot ask the chain: {}", e.to_string()),
    )
}
