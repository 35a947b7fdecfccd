//! A Seal key server (`walrus key-server run`): it holds one IBE master key and answers
//! `POST /v1/fetch_key` with the user secret key of an identity, sealed to the requester's
//! ephemeral X25519 key, only when:
//!
//! 1. the request is signed by a session key whose certificate the user's wallet signed, the
//!    session is live and the request is fresh (time within 60 s, request ID never seen);
//! 2. the identity is `policy ID || nonce` (at most 1 KiB of nonce);
//! 3. the policy object (and the subscription the request names), read from a finalized state
//!    with proofs, allow the user at that state's time and epoch (`walrus_chain::access`).
//!
//! It never sees data. `GET /v1/service` gives its object ID, public key and proof of
//! possession; `GET /metrics` its counters; `GET /health` says OK. Bodies are at most 16 KiB,
//! at most `max_concurrent` requests run at once (429 beyond), and the server has the header,
//! body and connection limits of every server here.

mod replay;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ring::agreement::{agree_ephemeral, EphemeralPrivateKey, UnparsedPublicKey, X25519};
use tokio::sync::Semaphore;
use walrus_chain::access::{allows, key_server_object_id, policy_of_identity, seal_package_id, AccessDenied};
use walrus_chain::objects::{Object, ObjectBody};
use walrus_chain::records::Tag;
use walrus_chain_client::{ChainClient, ClientError};
use walrus_core::ObjectId;
use walrus_seal::bls::Scalar;
use walrus_seal::session::{seal_key, KeyRequest, KeyResponse, SessionError};
use walrus_seal::{full_id, ibe};

/// Largest request body.
pub const REQUEST_BYTES_MAX: usize = 16 * 1024;

/// How a key server is set up.
#[derive(Debug, Clone)]
pub struct KeyServerConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The chain RPC (one or more validators).
    pub chain_url: String,
    /// Requests answered at once; more get 429.
    pub max_concurrent: usize,
    /// How long one request may take (its chain reads included).
    pub request_timeout: Duration,
    /// Request IDs remembered against replays (older ones are refused by their time anyway).
    pub replay_capacity: usize,
    /// The HTTP server's limits.
    pub server: walrus_http::ServerLimits,
}

impl KeyServerConfig {
    /// The defaults, listening on `listen`.
    pub fn new(listen: SocketAddr, chain_url: &str) -> Self {
        KeyServerConfig {
            listen,
            chain_url: chain_url.to_string(),
            max_concurrent: 256,
            request_timeout: Duration::from_secs(10),
            replay_capacity: 1 << 20,
            server: walrus_http::ServerLimits::default(),
        }
    }
}

/// Why a key server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The address cannot be bound.
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    /// The chain cannot be reached or proven.
    #[error("cannot read the chain: {0}")]
    Chain(#[from] ClientError),
}

/// A running key server.
#[derive(Debug)]
pub struct RunningKeyServer {
    /// Its object ID.
    pub object_id: ObjectId,
    /// Its HTTP server.
    pub server: walrus_http::RunningServer,
}

#[derive(Default)]
struct Metrics {
    requests: AtomicU64,
    released: AtomicU64,
    refused: Mutex<BTreeMap<&'static str, u64>>,
}

struct KeyServer {
    master: Scalar,
    object_id: ObjectId,
    public_key: [u8; 96],
    pop: [u8; 48],
    package_id: [u8; 32],
    chain: ChainClient,
    slots: Semaphore,
    replays: replay::Replays,
    timeout: Duration,
    metrics: Metrics,
}

/// Starts a key server with `master` over the chain of `config.chain_url`.
pub async fn start(config: KeyServerConfig, master: Scalar) -> Result<RunningKeyServer, StartError> {
    let chain = ChainClient::new(&config.chain_url);
    let trust = chain.trust().await?;
    let listener =
        walrus_http::bind(config.listen).await.map_err(|e| StartError::Listen(config.listen, e))?;
    let public_key = ibe::public_key(&master).to_bytes();
    let object_id = key_server_object_id(&public_key);
    let server = Arc::new(KeyServer {
        pop: ibe::proof_of_possession(&master, &object_id.0).to_bytes(),
        master,
        object_id,
        public_key,
        package_id: seal_package_id(&trust.chain_id),
        chain,
        slots: Semaphore::new(config.max_concurrent),
        replays: replay::Replays::new(config.replay_capacity),
        timeout: config.request_timeout,
        metrics: Metrics::default(),
    });
    let app = Router::new()
        .route("/v1/fetch_key", post(fetch_key))
        .route("/v1/service", get(service))
        .route("/metrics", get(metrics))
        .route("/health", get(|| async { "OK" }))
        .fallback(|| async { refusal(StatusCode::NOT_FOUND, "NotFound", "no such endpoint".into()) })
        .layer(DefaultBodyLimit::max(REQUEST_BYTES_MAX))
        .with_state(server);
    let server =
        walrus_http::spawn(listener, app, config.server).map_err(|e| StartError::Listen(config.listen, e))?;
    Ok(RunningKeyServer { object_id, server })
}

fn refusal(status: StatusCode, code: &'static str, message: String) -> Response {
    (status, Json(serde_json::json!({ "error": { "code": code, "message": message } }))).into_response()
}

async fn service(State(server): State<Arc<KeyServer>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "objectId": server.object_id.to_string(),
        "publicKey": hex::encode(&server.public_key),
        "pop": hex::encode(&server.pop),
    }))
}

async fn metrics(State(server): State<Arc<KeyServer>>) -> Response {
    let m = &server.metrics;
    let mut text = format!(
        "# TYPE walrus_keyserver_requests_total counter\nwalrus_keyserver_requests_total {}\n\
         # TYPE walrus_keyserver_keys_released_total counter\nwalrus_keyserver_keys_released_total {}\n\
         # TYPE walrus_keyserver_refused_total counter\n",
        m.requests.load(Ordering::Relaxed),
        m.released.load(Ordering::Relaxed)
    );
    for (code, n) in m.refused.lock().expect("metrics lock").iter() {
        text.push_str(&format!("walrus_keyserver_refused_total{{code=\"{code}\"}} {n}\n"));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// A refusal: its status, code and message.
struct Refused(StatusCode, &'static str, String);

impl From<SessionError> for Refused {
    fn from(e: SessionError) -> Self {
        let code = match e {
            SessionError::Expired { .. } => "ExpiredSession",
            SessionError::Stale => "StaleRequest",
            SessionError::WrongPackage => "WrongPackage",
            _ => "InvalidSignature",
        };
        Refused(StatusCode::UNAUTHORIZED, code, e.to_string())
    }
}

impl From<AccessDenied> for Refused {
    fn from(e: AccessDenied) -> Self {
        let code = match e {
            AccessDenied::NotInNamespace => "InvalidIdentity",
            AccessDenied::NoPolicy(_) | AccessDenied::NotAPolicy(_) => "NoPolicy",
            _ => "NoAccess",
        };
        Refused(StatusCode::FORBIDDEN, code, e.to_string())
    }
}

impl From<ClientError> for Refused {
    fn from(e: ClientError) -> Self {
        Refused(StatusCode::SERVICE_UNAVAILABLE, "ChainUnavailable", e.to_string())
    }
}

async fn fetch_key(State(server): State<Arc<KeyServer>>, body: Bytes) -> Response {
    server.metrics.requests.fetch_add(1, Ordering::Relaxed);
    let Ok(_slot) = server.slots.try_acquire() else {
        return refusal(
            StatusCode::TOO_MANY_REQUESTS,
            "Busy",
            "too many requests at once; retry later".into(),
        );
    };
    let answer = match tokio::time::timeout(server.timeout, server.answer(&body)).await {
        Ok(answer) => answer,
        Err(_) => Err(Refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "Timeout",
            "the chain did not answer in time".into(),
        )),
    };
    match answer {
        Ok(response) => {
            server.metrics.released.fetch_add(1, Ordering::Relaxed);
            Json(response).into_response()
        }
        Err(Refused(status, code, message)) => {
            *server.metrics.refused.lock().expect("metrics lock").entry(code).or_default() += 1;
            refusal(status, code, message)
        }
    }
}

impl KeyServer {
    async fn answer(&self, body: &[u8]) -> Result<KeyResponse, Refused> {
        let request: KeyRequest = serde_json::from_slice(body)
            .map_err(|e| Refused(StatusCode::BAD_REQUEST, "InvalidRequest", e.to_string()))?;
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        request.verify(&self.package_id, now_ms)?;
        let policy = policy_of_identity(&request.identity).ok_or(AccessDenied::NotInNamespace)?;
        if !self.replays.first_time(request.request_id, request.timestamp_ms, now_ms) {
            return Err(Refused(
                StatusCode::CONFLICT,
                "Replayed",
                "this request ID was answered before".into(),
            ));
        }
        let mut keys = vec![(Tag::Object, policy.0)];
        keys.extend(request.subscription.map(|s| (Tag::Object, s.0)));
        let records = self.chain.proven_records(&keys).await?;
        let policy_object: Option<Object> = records.get(Tag::Object, &policy.0)?;
        let subscription: Option<Object> = match request.subscription {
            Some(id) => records.get(Tag::Object, &id.0)?,
            None => None,
        };
        // The epoch matters to subscriptions alone (one more proven read).
        let epoch = match &policy_object {
            Some(Object { body: ObjectBody::Policy(p), .. })
                if matches!(p.kind, walrus_chain::access::PolicyKind::Subscription { .. }) =>
            {
                self.chain.system().await?.system.epoch()
            }
            _ => walrus_core::Epoch(0),
        };
        let clock = (records.header.timestamp_ms, epoch);
        let user = request.certificate.user;
        allows(&request.identity, policy_object.as_ref(), user, clock, subscription.as_ref())?;
        let user_key =
            ibe::user_secret_key(&self.master, &full_id(&self.package_id, &request.identity)).to_bytes();
        let rng = ring::rand::SystemRandom::new();
        let failed = |what: &str| Refused(StatusCode::INTERNAL_SERVER_ERROR, "Internal", what.to_string());
        let ephemeral = EphemeralPrivateKey::generate(&X25519, &rng).map_err(|_| failed("no randomness"))?;
        let server_key: [u8; 32] = ephemeral
            .compute_public_key()
            .map_err(|_| failed("no X25519 public key"))?
            .as_ref()
            .try_into()
            .map_err(|_| failed("an X25519 key is 32 bytes"))?;
        let peer = UnparsedPublicKey::new(&X25519, request.enc_key);
        agree_ephemeral(ephemeral, &peer, |shared| {
            seal_key(shared, &request, self.object_id, server_key, &user_key)
        })
        .map_err(|_| {
            Refused(StatusCode::BAD_REQUEST, "InvalidRequest", "enc_key is not an X25519 key".into())
        })
    }
}
