//! The HTTP gateway (`walrus aggregator`, `walrus publisher`, `walrus daemon`), with the
//! reference daemon's API (`../shared/spec/protocol.md` §7.5–§7.7):
//!
//! - aggregator: `GET`/`HEAD /v1/blobs/{blob_id}` (single `Range`, `ETag`, long-lived
//!   `Cache-Control`), `GET /v1/blobs/{blob_id}/byte-range?start=&length=`,
//!   `GET /v1/blobs/by-object-id/{object_id}` (allowed attributes become headers); ranges fetch
//!   only the slivers that hold them;
//! - publisher: `PUT /v1/blobs?epochs=&permanent=&deletable=&force=&send_object_to=`, answering
//!   the reference's `newlyCreated` / `alreadyCertified` JSON; a body limit and a bounded
//!   number of concurrent stores (429 beyond);
//! - both: `GET /` (a page to upload a file and read a blob by ID), `GET /status` (`OK`), `GET /v1/api` (the OpenAPI description), CORS for any origin,
//!   and the reference's error JSON (AIP-193, domain `daemon.walrus.space`) on every error;
//! - [`relay`]: the upload relay (`walrus upload-relay`), its own server.

mod aggregator;
pub mod auth;
mod concat;
#[doc(hidden)]
pub mod fuzzing;
mod metrics;
pub mod portal;
mod publisher;
mod quilts;
pub mod relay;
pub mod wallets;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::sync::Semaphore;
use walrus_sdk::Client;

/// How the gateway is set up.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Where to listen.
    pub bind: SocketAddr,
    /// Largest blob a `PUT /v1/blobs` may carry (the reference's default: 10 MiB).
    pub max_body_bytes: usize,
    /// Largest form a `PUT /v1/quilts` may carry (the reference's default: 100 MiB).
    pub max_quilt_body_bytes: usize,
    /// Stores running at once (the reference's default: 8).
    pub max_concurrent_stores: usize,
    /// Stores waiting for a turn beyond those (8); more are answered 429.
    pub store_queue: usize,
    /// Reads at once, running or waiting (256 + 320); more are answered 429.
    pub max_concurrent_reads: usize,
    /// Blob attributes (lower case) that `by-object-id` reads return as headers.
    pub allowed_headers: Vec<String>,
    /// Serve the read endpoints (an aggregator or a daemon; a bare publisher does not).
    pub serve_reads: bool,
    /// Largest blob the aggregator serves, in bytes (larger: 403 `BLOB_TOO_LARGE`); 1 GiB by
    /// default (the reference has none): a read that falls back to decoding the whole blob
    /// holds about twice this.
    pub max_blob_size: u64,
    /// Most bytes the reads being answered may hold at once (1 GiB): a buffered read takes twice
    /// its length, a streamed one four pieces; beyond it, 429.
    pub max_read_bytes: usize,
    /// Reads of at least this many bytes (16 MiB) stream: sent piece by piece as the slivers
    /// arrive, holding a few pieces in memory rather than the blob.
    pub stream_from_bytes: u64,
    /// About how many bytes (whole rows of the blob) a streamed piece holds (8 MiB).
    pub stream_piece_bytes: u64,
    /// Require a JWT on stores (`auth`).
    pub jwt: Option<auth::JwtConfig>,
    /// Blob IDs neither read nor stored (451 `FORBIDDEN_BLOB`), as the reference's `--blocklist`.
    pub blocklist: Option<walrus_sdk::Blocklist>,
    /// The HTTP server's connection and timeout limits.
    pub server: walrus_http::ServerLimits,
    /// Sub-wallets that stores run from (the reference's `--sub-wallets-dir`), if any.
    pub sub_wallets: Option<wallets::SubWallets>,
    /// Burn the blob objects stores create (unless `send_object_to` names a receiver).
    pub burn_after_store: bool,
    /// Where to serve Prometheus metrics (`GET /metrics`), if anywhere (the reference's
    /// `--metrics-address`).
    pub metrics_bind: Option<SocketAddr>,
}

/// The default of [`GatewayConfig::max_blob_size`].
pub const MAX_BLOB_SIZE_DEFAULT: u64 = 1 << 30;

impl GatewayConfig {
    /// The reference's defaults, listening on `bind`.
    pub fn new(bind: SocketAddr) -> Self {
        GatewayConfig {
            bind,
            max_body_bytes: 10 << 20,
            max_quilt_body_bytes: 100 << 20,
            max_concurrent_stores: 8,
            store_queue: 8,
            max_concurrent_reads: 576,
            allowed_headers: [
                "content-type",
                "authorization",
                "content-disposition",
                "content-encoding",
                "content-language",
                "content-location",
                "link",
            ]
            .map(String::from)
            .to_vec(),
            serve_reads: true,
            max_blob_size: MAX_BLOB_SIZE_DEFAULT,
            max_read_bytes: 1 << 30,
            stream_from_bytes: 16 << 20,
            stream_piece_bytes: 8 << 20,
            jwt: None,
            blocklist: None,
            server: walrus_http::ServerLimits::default(),
            sub_wallets: None,
            burn_after_store: false,
            metrics_bind: None,
        }
    }
}

/// Shared state of the handlers.
pub(crate) struct Gateway {
    pub(crate) config: GatewayConfig,
    /// For reads and chain queries.
    pub(crate) reader: Client,
    /// For stores; `None` for an aggregator.
    pub(crate) writers: Option<wallets::Writers>,
    pub(crate) reads: Arc<Semaphore>,
    /// Bytes held by the reads being answered.
    pub(crate) read_bytes: walrus_http::ByteBudget,
    pub(crate) store_slots: Arc<Semaphore>,
    pub(crate) store_turns: Arc<Semaphore>,
    pub(crate) auth: Option<auth::Authenticator>,
    pub(crate) metrics: Arc<metrics::Metrics>,
    /// The metrics listener: it stops when the gateway's state goes.
    _metrics_server: Option<walrus_http::RunningServer>,
}

/// Why a gateway cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// No HTTP client could be built (the portal's, for the aggregator).
    #[error("cannot build an HTTP client: {0}")]
    HttpClient(String),
}

/// A running gateway (or portal).
pub type RunningGateway = walrus_http::RunningServer;

/// Starts a gateway over the chain at `chain_url`: an aggregator, and a publisher too when
/// `writer` (a client with a funded wallet) is given.
pub async fn start(
    config: GatewayConfig,
    chain_url: &str,
    writer: Option<Client>,
) -> Result<RunningGateway, StartError> {
    let bind = config.bind;
    let listener =
        walrus_http::bind(bind).await.map_err(|source| StartError::Listen { addr: bind, source })?;
    let writers = match writer {
        Some(writer) => {
            // Sub-wallets refuse the blocklist's blob IDs as the main wallet does.
            let sub = config.sub_wallets.clone().map(|mut sub| {
                sub.clients = sub.clients.into_iter().map(|client| blocking(client, &config)).collect();
                sub
            });
            let burn = config.burn_after_store;
            Some(wallets::Writers::new(blocking(writer, &config), sub, burn).await)
        }
        None => None,
    };
    let metrics = Arc::new(metrics::Metrics::default());
    let metrics_server = match config.metrics_bind {
        Some(addr) => {
            let listener =
                walrus_http::bind(addr).await.map_err(|source| StartError::Listen { addr, source })?;
            let router = metrics::router(Arc::clone(&metrics));
            Some(
                walrus_http::spawn(listener, router, config.server)
                    .map_err(|source| StartError::Listen { addr, source })?,
            )
        }
        None => None,
    };
    let gateway = Arc::new(Gateway {
        metrics,
        _metrics_server: metrics_server,
        reads: Arc::new(Semaphore::new(config.max_concurrent_reads)),
        read_bytes: walrus_http::ByteBudget::new(config.max_read_bytes),
        store_slots: Arc::new(Semaphore::new(config.max_concurrent_stores + config.store_queue)),
        store_turns: Arc::new(Semaphore::new(config.max_concurrent_stores)),
        // A read of a blob paused for a storage challenge is answered 503 with the nodes'
        // Retry-After at once, not held (with its read slot) until the pause ends.
        reader: blocking(
            Client::read_only(chain_url).with_challenge_wait(std::time::Duration::ZERO),
            &config,
        ),
        auth: config.jwt.clone().map(auth::Authenticator::new),
        writers,
        config,
    });
    let limits = gateway.config.server;
    walrus_http::spawn(listener, router(gateway), limits)
        .map_err(|source| StartError::Listen { addr: bind, source })
}

/// `client`, refusing the configured blocklist's blob IDs.
fn blocking(client: Client, config: &GatewayConfig) -> Client {
    match &config.blocklist {
        Some(list) => client.with_blocklist(list.clone()),
        None => client,
    }
}

fn router(gateway: Arc<Gateway>) -> Router {
    let mut app = Router::new()
        .route("/", get(page))
        .route("/status", get(|| async { "OK" }))
        .route("/v1/api", get(openapi));
    if gateway.config.serve_reads {
        app = app
            .route("/v1/blobs/{blob_id}", get(aggregator::blob))
            .route("/v1/blobs/{blob_id}/byte-range", get(aggregator::byte_range_read))
            .route("/v1/blobs/by-object-id/{object_id}", get(aggregator::by_object_id))
            .route("/v1/blobs/by-quilt-patch-id/{quilt_patch_id}", get(quilts::by_patch_id))
            .route("/v1/blobs/by-quilt-id/{quilt_id}/{identifier}", get(quilts::by_identifier))
            .route("/v1/quilts/{quilt_id}/patches", get(quilts::patches))
            .route("/v1alpha/blobs/concat", get(concat::get).post(concat::post))
            .route("/v1alpha/blobs/{blob_id}/stream", get(aggregator::stream));
    }
    if gateway.writers.is_some() {
        // The store slot is taken before the body is read: waiting bodies cannot pile up.
        let slot = axum::middleware::from_fn_with_state(Arc::clone(&gateway), publisher::store_slot);
        app = app.route("/v1/blobs", axum::routing::put(publisher::store).route_layer(slot.clone()));
        // A quilt's form has its own body limit.
        let quilt_limit = axum::extract::DefaultBodyLimit::max(gateway.config.max_quilt_body_bytes);
        app = app.route("/v1/quilts", axum::routing::put(quilts::store).route_layer(slot).layer(quilt_limit));
    }
    app.fallback(|| async { GatewayError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint") })
        .method_not_allowed_fallback(|method: Method| async move {
            let message = format!("{method} is not served here");
            GatewayError::new(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", message)
                .named("UNIMPLEMENTED")
        })
        .layer(axum::extract::DefaultBodyLimit::max(gateway.config.max_body_bytes))
        .layer(axum::middleware::from_fn(cors))
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&gateway.metrics), metrics::count))
        .with_state(gateway)
}

/// A small page to upload a file and read a blob by ID, over this gateway's own API.
async fn page() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], include_str!("page.html")).into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("openapi.json")).into_response()
}

/// CORS for browsers, as the reference: any origin, method and header; preflights cached 24 h.
async fn cors(request: Request, next: Next) -> Response {
    let preflight = request.method() == Method::OPTIONS;
    let asked = request.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS).cloned();
    let mut response =
        if preflight { StatusCode::NO_CONTENT.into_response() } else { next.run(request).await };
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("*"));
    if preflight {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, HEAD, PUT, POST, OPTIONS"),
        );
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.unwrap_or(HeaderValue::from_static("*")));
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    }
    response
}

/// An error as the reference daemon answers it.
#[derive(Debug, thiserror::Error)]
#[error("{reason}: {message}")]
pub(crate) struct GatewayError {
    status: StatusCode,
    reason: &'static str,
    message: String,
    domain: &'static str,
    /// The body's `status` where the reference's differs from the one the HTTP status implies.
    status_name: Option<&'static str>,
    /// A `Retry-After` to send, in whole seconds.
    retry_after_s: Option<u64>,
}

/// The reference daemon's error domain.
const DAEMON_DOMAIN: &str = "daemon.walrus.space";

impl GatewayError {
    pub(crate) fn new(status: StatusCode, reason: &'static str, message: impl ToString) -> Self {
        GatewayError {
            status,
            reason,
            message: message.to_string(),
            domain: DAEMON_DOMAIN,
            status_name: None,
            retry_after_s: None,
        }
    }

    /// The same error with a `Retry-After` of `after` (rounded up to whole seconds).
    pub(crate) fn retry_after(mut self, after: std::time::Duration) -> Self {
        self.retry_after_s = Some(after.as_secs() + u64::from(after.subsec_nanos() > 0));
        self
    }

    /// The same error with the body's `status` named (the reference's `FAILED_PRECONDITION` is
    /// a 400 too, beside `INVALID_ARGUMENT`).
    pub(crate) fn named(self, status_name: &'static str) -> Self {
        GatewayError { status_name: Some(status_name), ..self }
    }

    /// The same error in another domain (the publisher's authentication has its own).
    pub(crate) fn in_domain(self, domain: &'static str) -> Self {
        GatewayError { domain, ..self }
    }

    pub(crate) fn bad(reason: &'static str, message: impl ToString) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason, message)
    }

    pub(crate) fn blocked(blob_id: &walrus_core::BlobId) -> Self {
        let message = format!("blob {blob_id} is blocked by this service");
        Self::new(StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS, "FORBIDDEN_BLOB", message)
    }

    pub(crate) fn busy() -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS", "too many requests; retry later")
    }
}

/// An extractor whose rejection is the reference's error JSON (400 with the rejection's
/// reason), not axum's plain text: `Checked<Query<T>>` (`INVALID_QUERY`), `Checked<Path<T>>`
/// (`INVALID_PATH`: say, bytes that are not UTF-8 once percent-decoded).
pub(crate) struct Checked<X>(pub(crate) X);

/// An axum rejection answered 400 with [`Refusal::REASON`].
pub(crate) trait Refusal {
    const REASON: &'static str;
    fn text(&self) -> String;
}

impl Refusal for axum::extract::rejection::QueryRejection {
    const REASON: &'static str = "INVALID_QUERY";
    fn text(&self) -> String {
        self.body_text()
    }
}

impl Refusal for axum::extract::rejection::PathRejection {
    const REASON: &'static str = "INVALID_PATH";
    fn text(&self) -> String {
        self.body_text()
    }
}

impl<X, S> axum::extract::FromRequestParts<S> for Checked<X>
where
    X: axum::extract::FromRequestParts<S, Rejection: Refusal>,
    S: Send + Sync,
{
    type Rejection = GatewayError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, GatewayError> {
        X::from_request_parts(parts, state)
            .await
            .map(Checked)
            .map_err(|e| GatewayError::bad(<X::Rejection as Refusal>::REASON, e.text()))
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let mut body = walrus_node_client::envelope::error_body(
            self.status.as_u16(),
            self.reason,
            &self.message,
            self.domain,
        );
        if let Some(name) = self.status_name {
            body["error"]["status"] = name.into();
        }
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after_s {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}
