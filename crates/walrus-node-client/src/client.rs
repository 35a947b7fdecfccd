//! A client of one storage node's REST API: the reference's endpoints and our batch ones, each
//! call with a timeout, errors carrying the node's reason code.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;

use crate::source::SliverSource;
use crate::Reason;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use walrus_core::inconsistency::InconsistencyProof;
use walrus_core::keys::BlsPublicKey;
use walrus_core::messages::{SignedMessage, SyncShardResponse};
use walrus_core::metadata::{UnverifiedBlobMetadataWithId, VerifiedBlobMetadataWithId};
use walrus_core::recovery::{GeneralRecoverySymbol, RecoveryRequest, RECOVERY_RESPONSE_BYTES_MAX};
use walrus_core::sliver::{push_uleb128, SliverRef, SliverUploadRef, UnverifiedSliver};
use walrus_core::{BlobId, ObjectId, SliverIndex, SliverPairIndex, SliverType};

const OCTET_STREAM: &str = "application/octet-stream";

/// An error and its causes, outermost first.
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// Timeout of a metadata, status or confirmation request.
pub const SMALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Most sliver bytes in one batch write.
pub const BATCH_BYTES_MAX: usize = 8 << 20;
/// Timeout of a request carrying slivers.
pub const SLIVER_TIMEOUT: Duration = Duration::from_secs(120);
/// Largest small answer taken (an error body, a confirmation, an attestation).
pub const SMALL_ANSWER_BYTES_MAX: u64 = 64 << 10;
/// Largest metadata answer taken: two hashes per shard, at most 65,535 shards.
pub const METADATA_ANSWER_BYTES_MAX: u64 = 8 << 20;
/// Largest batch-read answer taken: the node's cap on sliver bytes, plus framing.
pub const SLIVERS_ANSWER_BYTES_MAX: u64 = walrus_core::sliver::BATCH_READ_BYTES_MAX + (1 << 20);
/// Sliver bytes a shard-sync answer carries at most (the last sliver may not fit: it then comes
/// alone in the next answer).
pub const SYNC_ANSWER_SLIVER_BYTES: u64 = 32 << 20;
/// Largest shard-sync answer: its sliver bytes, or one sliver of the largest request body, plus
/// framing.
pub const SYNC_ANSWER_BYTES_MAX: u64 = SYNC_ANSWER_SLIVER_BYTES + (64 << 20) + (1 << 20);

/// The longest `Retry-After` a client takes from a node (a longer one is read as this).
pub const RETRY_AFTER_MAX: Duration = Duration::from_secs(300);

/// Why a node request failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// No answer (the message names every cause: "error sending request" alone says little).
    #[error("{url}: {}", causes(.source))]
    Transport {
        /// The request URL.
        url: String,
        /// The cause.
        source: reqwest::Error,
    },
    /// The node refused, with its reason code.
    #[error("{url}: HTTP {status} {reason}: {message}")]
    Refused {
        /// The request URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The reference's reason code (`NOT_REGISTERED`, `MISSING_SLIVERS`, ...).
        reason: Reason,
        /// The node's message.
        message: String,
        /// How long the node asked the client to wait (its `Retry-After`, in whole seconds, at
        /// most [`RETRY_AFTER_MAX`]).
        retry_after: Option<Duration>,
    },
    /// The answer is larger than this client takes for the request.
    #[error("{url}: the answer runs past {cap} bytes")]
    TooLarge {
        /// The request URL.
        url: String,
        /// The most bytes taken.
        cap: u64,
    },
    /// The node's registered address cannot be used (plain HTTP to another machine, or no TLS
    /// client could be made for its key).
    #[error("node at {address}: {reason}")]
    Unusable {
        /// The registered address.
        address: String,
        /// Why.
        reason: String,
    },
    /// The slivers to send could not be read (from the streaming encoder's files).
    #[error("reading the slivers to send: {reason}")]
    Local {
        /// Why.
        reason: String,
    },
    /// The answer does not parse.
    #[error("{url}: unexpected answer: {reason}")]
    Decode {
        /// The request URL.
        url: String,
        /// Why.
        reason: String,
    },
}

impl NodeError {
    /// The node's reason code, if it refused.
    pub fn reason(&self) -> Option<&Reason> {
        match self {
            NodeError::Refused { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// Whether the node refused because the request is for another epoch than its own
    /// (`INVALID_EPOCH`).
    pub fn is_wrong_epoch(&self) -> bool {
        self.reason() == Some(&Reason::InvalidEpoch)
    }
}

/// A client of one storage node.
#[derive(Debug, Clone)]
pub struct NodeClient {
    base: String,
    http: reqwest::Client,
    /// Replaces each request's own timeout, if set.
    timeout: Option<Duration>,
    /// Counts the answer bytes taken, if set.
    received: Option<Arc<AtomicU64>>,
    /// Why every request fails at once, if the node's address cannot be used.
    unusable: Option<Arc<str>>,
}

impl NodeClient {
    /// A client of the node at `base` (a URL: `https://host:port` or `http://host:port`)
    /// through the connection pool `http`, which checks the node's certificate if `base` is
    /// HTTPS. Clients of committee members come from [`crate::NodeConnector`], which turns a
    /// registered address into its URL ([`walrus_tls::node_base_url`]) and pins each one's key.
    pub fn new(base: &str, http: reqwest::Client) -> Self {
        NodeClient {
            base: base.trim_end_matches('/').to_string(),
            http,
            timeout: None,
            received: None,
            unusable: None,
        }
    }

    /// A client whose every request fails with [`NodeError::Unusable`].
    pub(crate) fn unusable(address: &str, reason: String, http: reqwest::Client) -> Self {
        NodeClient {
            base: address.to_string(),
            http,
            timeout: None,
            received: None,
            unusable: Some(reason.into()),
        }
    }

    /// The client with one timeout for every request (a node asking its peers).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The client adding the bytes of every answer it takes to `received`.
    pub fn counting(mut self, received: Arc<AtomicU64>) -> Self {
        self.received = Some(received);
        self
    }

    /// The node's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::Response, NodeError> {
        if let Some(reason) = &self.unusable {
            return Err(NodeError::Unusable { address: self.base.clone(), reason: reason.to_string() });
        }
        let request = match self.timeout {
            Some(timeout) => request.timeout(timeout),
            None => request,
        };
        let response =
            request.send().await.map_err(|source| NodeError::Transport { url: url.into(), source })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok()?.trim().parse::<u64>().ok())
            .map(|seconds| Duration::from_secs(seconds).min(RETRY_AFTER_MAX));
        let bytes = self.read_capped(response, url, SMALL_ANSWER_BYTES_MAX).await.unwrap_or_default();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let error = &body["error"];
        Err(NodeError::Refused {
            url: url.into(),
            status,
            reason: Reason::parse(error["details"][0]["reason"].as_str().unwrap_or("UNKNOWN")),
            message: error["message"].as_str().unwrap_or("").to_string(),
            retry_after,
        })
    }

    /// A `POST` of `value`'s BCS bytes to `url`.
    fn post_bcs(
        &self,
        url: &str,
        value: &(impl serde::Serialize + ?Sized),
        timeout: Duration,
    ) -> Result<reqwest::RequestBuilder, NodeError> {
        let body =
            bcs::to_bytes(value).map_err(|e| NodeError::Decode { url: url.into(), reason: e.to_string() })?;
        Ok(self.http.post(url).header(CONTENT_TYPE, OCTET_STREAM).body(body).timeout(timeout))
    }

    /// An answer's body, refused once it grows past `cap` bytes: a node cannot make this client
    /// buffer more than the request can need.
    async fn read_capped(
        &self,
        mut response: reqwest::Response,
        url: &str,
        cap: u64,
    ) -> Result<Vec<u8>, NodeError> {
        let too_large = || NodeError::TooLarge { url: url.into(), cap };
        if response.content_length().is_some_and(|len| len > cap) {
            return Err(too_large());
        }
        let mut out = Vec::new();
        while let Some(chunk) =
            response.chunk().await.map_err(|source| NodeError::Transport { url: url.into(), source })?
        {
            if (out.len() + chunk.len()) as u64 > cap {
                return Err(too_large());
            }
            out.extend_from_slice(&chunk);
        }
        if let Some(received) = &self.received {
            received.fetch_add(out.len() as u64, Ordering::Relaxed);
        }
        Ok(out)
    }

    async fn bytes(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
        cap: u64,
    ) -> Result<Vec<u8>, NodeError> {
        let response = self.send(request, url).await?;
        self.read_capped(response, url, cap).await
    }

    async fn data(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<serde_json::Value, NodeError> {
        let bytes = self.bytes(request, url, SMALL_ANSWER_BYTES_MAX).await?;
        let body: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| NodeError::Decode { url: url.into(), reason: e.to_string() })?;
        Ok(body["success"]["data"].clone())
    }

    /// `GET /v1/health`: the node's report (`success.data`).
    pub async fn health(&self) -> Result<serde_json::Value, NodeError> {
        self.health_of(false).await
    }

    /// `GET /v1/health`, with each shard's status when `detailed`.
    pub async fn health_of(&self, detailed: bool) -> Result<serde_json::Value, NodeError> {
        let query = if detailed { "?detailed=true" } else { "" };
        let url = format!("{}/v1/health{query}", self.base);
        self.data(self.http.get(&url).timeout(SMALL_TIMEOUT), &url).await
    }

    /// `PUT /v1/blobs/{id}/metadata`.
    pub async fn put_metadata(&self, metadata: &VerifiedBlobMetadataWithId) -> Result<(), NodeError> {
        let url = format!("{}/v1/blobs/{}/metadata", self.base, metadata.blob_id());
        let request = self.http.put(&url).body(metadata.metadata_bcs()).timeout(SMALL_TIMEOUT);
        self.send(request, &url).await.map(drop)
    }

    /// `PUT /v1/blobs/{id}/slivers` (our batch write) of `slivers` of `blob`, sent from the
    /// encoder's buffers (or read, off the async threads, from where it keeps them).
    pub async fn put_slivers<S: SliverSource + ?Sized>(
        &self,
        blob: &Arc<S>,
        slivers: &[(SliverPairIndex, SliverType)],
    ) -> Result<(), NodeError> {
        let url = format!("{}/v1/blobs/{}/slivers", self.base, blob.metadata().blob_id());
        let body = if blob.held_in_memory() {
            UploadBody::new(blob, slivers)
        } else {
            let (source, list) = (Arc::clone(blob), slivers.to_vec());
            tokio::task::spawn_blocking(move || UploadBody::new(&source, &list))
                .await
                .map_err(|e| NodeError::Local { reason: e.to_string() })?
        }
        .map_err(|e| NodeError::Local { reason: e.to_string() })?;
        let request = self.http.put(&url).body(reqwest::Body::wrap(body)).timeout(SLIVER_TIMEOUT);
        self.send(request, &url).await.map(drop)
    }

    /// `PUT /v1/blobs/{id}/slivers/{pair}/{axis}` (the reference's one-sliver write).
    pub async fn put_sliver(&self, blob_id: &BlobId, upload: &SliverUploadRef<'_>) -> Result<(), NodeError> {
        let url = format!("{}/v1/blobs/{blob_id}/slivers/{}/{}", self.base, upload.pair.0, upload.axis);
        let body = bcs::to_bytes(&upload.sliver)
            .map_err(|e| NodeError::Decode { url: url.clone(), reason: e.to_string() })?;
        let request = self.http.put(&url).body(body).timeout(SLIVER_TIMEOUT);
        self.send(request, &url).await.map(drop)
    }

    /// Writes `slivers` of `blob` in batches of at most [`BATCH_BYTES_MAX`] sliver bytes, two
    /// in flight (the node verifies and syncs one while the next arrives); a node whose body
    /// limit refuses a batch (413) gets its slivers one request each. `sent` hears the sliver
    /// bytes of each request the node took. With `in_flight`, each batch first takes a permit
    /// per MiB of its slivers (at least one), and keeps them until its request ends.
    pub async fn put_slivers_chunked<S: SliverSource + ?Sized>(
        &self,
        blob: &Arc<S>,
        slivers: &[(SliverPairIndex, SliverType)],
        sent: &(dyn Fn(u64) + Sync),
        in_flight: Option<&tokio::sync::Semaphore>,
    ) -> Result<(), NodeError> {
        let sliver_len = |axis| blob.sliver_len(axis);
        let mut batches: [Vec<&[(SliverPairIndex, SliverType)]>; 2] = Default::default();
        let mut start = 0;
        while start < slivers.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < slivers.len()
                && (end == start || bytes + sliver_len(slivers[end].1) <= BATCH_BYTES_MAX)
            {
                bytes += sliver_len(slivers[end].1);
                end += 1;
            }
            let lane = batches[0].len() - batches[1].len();
            batches[lane].push(&slivers[start..end]);
            start = end;
        }
        let [even, odd] = batches;
        tokio::try_join!(
            self.put_batches(blob, even, sent, in_flight),
            self.put_batches(blob, odd, sent, in_flight)
        )?;
        Ok(())
    }

    async fn put_batches<S: SliverSource + ?Sized>(
        &self,
        blob: &Arc<S>,
        batches: Vec<&[(SliverPairIndex, SliverType)]>,
        sent: &(dyn Fn(u64) + Sync),
        in_flight: Option<&tokio::sync::Semaphore>,
    ) -> Result<(), NodeError> {
        let metadata = blob.metadata();
        let (blob_id, n) = (metadata.blob_id(), metadata.params().n_shards());
        let symbol_size =
            std::num::NonZeroU16::new(metadata.symbol_size()).unwrap_or(std::num::NonZeroU16::MIN);
        for batch in batches {
            let bytes: usize = batch.iter().map(|(_, axis)| blob.sliver_len(*axis)).sum();
            let _permit = match in_flight {
                Some(limit) => {
                    // (The limit must hold a batch: `BATCH_BYTES_MAX` or its one sliver.)
                    let mib = u32::try_from(bytes.div_ceil(1 << 20).max(1)).unwrap_or(u32::MAX);
                    Some(
                        limit
                            .acquire_many(mib)
                            .await
                            .map_err(|e| NodeError::Local { reason: e.to_string() })?,
                    )
                }
                None => None,
            };
            match self.put_slivers(blob, batch).await {
                Err(NodeError::Refused { status: 413, .. }) => {
                    for (pair, axis) in batch {
                        let index = pair.to_sliver_index(*axis, n);
                        let data = Arc::clone(blob)
                            .sliver(*axis, index)
                            .map_err(|e| NodeError::Local { reason: e.to_string() })?;
                        let sliver = SliverRef { data: &data, symbol_size, index };
                        self.put_sliver(blob_id, &SliverUploadRef { pair: *pair, axis: *axis, sliver })
                            .await?;
                        sent(data.len() as u64);
                    }
                }
                other => {
                    other?;
                    sent(bytes as u64);
                }
            }
        }
        Ok(())
    }

    /// `GET /v1/blobs/{id}/metadata/status`: whether the node stores the blob's metadata.
    pub async fn metadata_stored(&self, blob_id: &BlobId) -> Result<bool, NodeError> {
        let url = format!("{}/v1/blobs/{blob_id}/metadata/status", self.base);
        let data = self.data(self.http.get(&url).timeout(SMALL_TIMEOUT), &url).await?;
        Ok(data == "stored")
    }

    /// `GET /v1/blobs/{id}/slivers/{pair}/{axis}/status`: whether the node stores the sliver.
    pub async fn sliver_stored(
        &self,
        blob_id: &BlobId,
        pair: SliverPairIndex,
        axis: SliverType,
    ) -> Result<bool, NodeError> {
        let url = format!("{}/v1/blobs/{blob_id}/slivers/{}/{axis}/status", self.base, pair.0);
        let data = self.data(self.http.get(&url).timeout(SMALL_TIMEOUT), &url).await?;
        Ok(data == "stored")
    }

    /// `GET /v1/blobs/{id}/confirmation/permanent` or `.../deletable/{object}`.
    pub async fn confirmation(
        &self,
        blob_id: &BlobId,
        deletable: Option<ObjectId>,
    ) -> Result<SignedMessage, NodeError> {
        let url = match deletable {
            None => format!("{}/v1/blobs/{blob_id}/confirmation/permanent", self.base),
            Some(object) => format!("{}/v1/blobs/{blob_id}/confirmation/deletable/{object}", self.base),
        };
        let data = self.data(self.http.get(&url).timeout(SMALL_TIMEOUT), &url).await?;
        serde_json::from_value(data["signed"].clone())
            .map_err(|e| NodeError::Decode { url, reason: e.to_string() })
    }

    /// `GET /v1/blobs/{id}/metadata`, unverified.
    pub async fn metadata(&self, blob_id: &BlobId) -> Result<UnverifiedBlobMetadataWithId, NodeError> {
        let url = format!("{}/v1/blobs/{blob_id}/metadata", self.base);
        let request = self.http.get(&url).timeout(SMALL_TIMEOUT);
        let bytes = self.bytes(request, &url, METADATA_ANSWER_BYTES_MAX).await?;
        bcs::from_bytes(&bytes).map_err(|e| NodeError::Decode { url, reason: e.to_string() })
    }

    /// `POST /v1/blobs/{id}/slivers` (our batch read), unverified, in request order.
    pub async fn slivers(
        &self,
        blob_id: &BlobId,
        wanted: &[(SliverPairIndex, SliverType)],
    ) -> Result<Vec<Option<UnverifiedSliver>>, NodeError> {
        let url = format!("{}/v1/blobs/{blob_id}/slivers", self.base);
        let request = self.post_bcs(&url, wanted, SLIVER_TIMEOUT)?;
        let bytes = self.bytes(request, &url, SLIVERS_ANSWER_BYTES_MAX).await?;
        bcs::from_bytes(&bytes).map_err(|e| NodeError::Decode { url, reason: e.to_string() })
    }
}

impl NodeClient {
    /// `POST /v1/blobs/{id}/recoverySymbols`: the symbols the node can cut for `targets`
    /// (unverified).
    pub async fn recovery_symbols(
        &self,
        blob_id: &BlobId,
        targets: Vec<(SliverType, SliverIndex)>,
    ) -> Result<Vec<GeneralRecoverySymbol>, NodeError> {
        let url = format!("{}/v1/blobs/{blob_id}/recoverySymbols", self.base);
        let request = self.post_bcs(&url, &RecoveryRequest { targets }, SLIVER_TIMEOUT)?;
        let bytes = self.bytes(request, &url, RECOVERY_RESPONSE_BYTES_MAX).await?;
        bcs::from_bytes(&bytes).map_err(|e| NodeError::Decode { url, reason: e.to_string() })
    }

    /// `POST /v1/blobs/{id}/inconsistencyProof/{axis}`: the node's signed attestation that the
    /// blob is inconsistently encoded, if `proof` convinces it.
    pub async fn inconsistency_proof(
        &self,
        blob_id: &BlobId,
        axis: SliverType,
        proof: &InconsistencyProof,
    ) -> Result<SignedMessage, NodeError> {
        let url = format!("{}/v1/blobs/{blob_id}/inconsistencyProof/{axis}", self.base);
        let request = self.post_bcs(&url, proof, SLIVER_TIMEOUT)?;
        let data = self.data(request, &url).await?;
        serde_json::from_value(data).map_err(|e| NodeError::Decode { url, reason: e.to_string() })
    }
}

/// Most bytes of one `POST /v1/challenges/{epoch}/items` body.
pub const CHALLENGE_ITEMS_BYTES_MAX: usize = 16 << 20;

/// A verifier's answer to a chunk of a prover's challenge items.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeAnswer {
    /// The prover's items the verifier has received so far.
    pub received: u64,
    /// All its items.
    pub expected: u64,
    /// Those that passed.
    pub passed: u64,
    /// Once all are in: the verifier's signed `ChallengeResult`.
    pub signed: Option<SignedMessage>,
}

impl NodeClient {
    /// `POST /v1/challenges/{epoch}/items?node_id=`: a signed chunk of prover `node_id`'s
    /// challenge items (BCS `ChallengeChunk`, at most [`CHALLENGE_ITEMS_BYTES_MAX`]) for this
    /// node to verify.
    pub async fn challenge_items(
        &self,
        epoch: walrus_core::Epoch,
        node_id: ObjectId,
        chunk: &walrus_core::challenge::ChallengeChunk,
    ) -> Result<ChallengeAnswer, NodeError> {
        let url = format!("{}/v1/challenges/{}/items?node_id={node_id}", self.base, epoch.0);
        let data = self.data(self.post_bcs(&url, chunk, SLIVER_TIMEOUT)?, &url).await?;
        serde_json::from_value(data).map_err(|e| NodeError::Decode { url, reason: e.to_string() })
    }

    /// `POST /v1/migrate/sync_shard`: slivers of a shard this node served in the last epoch, for
    /// the member that holds it now (`requester`, which signed `request`), unverified.
    pub async fn sync_shard(
        &self,
        request: &SignedMessage,
        requester: &BlsPublicKey,
    ) -> Result<Vec<(BlobId, UnverifiedSliver)>, NodeError> {
        let url = format!("{}/v1/migrate/sync_shard", self.base);
        let request =
            self.post_bcs(&url, request, SLIVER_TIMEOUT)?.header(AUTHORIZATION, requester.to_string());
        let bytes = self.bytes(request, &url, SYNC_ANSWER_BYTES_MAX).await?;
        match bcs::from_bytes(&bytes).map_err(|e| NodeError::Decode { url, reason: e.to_string() })? {
            SyncShardResponse::V1(slivers) => Ok(slivers),
        }
    }
}

/// A batch upload body, BCS `Vec<SliverUpload>`, as a sequence of chunks: the symbols are the
/// encoder's buffers (shared, not copied), between a few bytes of framing.
struct UploadBody {
    chunks: VecDeque<Bytes>,
    remaining: u64,
}

impl UploadBody {
    fn new<S: SliverSource + ?Sized>(
        blob: &Arc<S>,
        slivers: &[(SliverPairIndex, SliverType)],
    ) -> std::io::Result<UploadBody> {
        let metadata = blob.metadata();
        let (n, symbol_size) = (metadata.params().n_shards(), metadata.symbol_size());
        let mut chunks = VecDeque::with_capacity(2 * slivers.len() + 1);
        let mut framing = Vec::new();
        push_uleb128(&mut framing, slivers.len());
        for (pair, axis) in slivers {
            let index = pair.to_sliver_index(*axis, n);
            let data = Arc::clone(blob).sliver(*axis, index)?;
            framing.extend_from_slice(&pair.0.to_le_bytes());
            framing.push(u8::from(*axis == SliverType::Secondary));
            push_uleb128(&mut framing, data.len());
            chunks.push_back(Bytes::from(std::mem::take(&mut framing)));
            chunks.push_back(data);
            framing.extend_from_slice(&symbol_size.to_le_bytes());
            framing.extend_from_slice(&index.0.to_le_bytes());
        }
        chunks.push_back(Bytes::from(framing));
        let remaining = chunks.iter().map(|c| c.len() as u64).sum();
        Ok(UploadBody { chunks, remaining })
    }
}

impl http_body::Body for UploadBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let chunk = this.chunks.pop_front();
        if let Some(chunk) = &chunk {
            this.remaining -= chunk.len() as u64;
        }
        Poll::Ready(chunk.map(|chunk| Ok(http_body::Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn an_upload_body_is_the_bcs_of_the_uploads() {
        let params = walrus_core::EncodingParams::new(10).expect("params");
        let blob = Arc::new(walrus_core::encode::encode_blob(params, &[3u8; 5000]).expect("encode"));
        let slivers: Vec<(SliverPairIndex, SliverType)> =
            [(0, SliverType::Primary), (7, SliverType::Secondary), (7, SliverType::Primary)]
                .map(|(p, axis)| (SliverPairIndex(p), axis))
                .to_vec();
        let body = UploadBody::new(&blob, &slivers).expect("in memory");
        let hint = http_body::Body::size_hint(&body).exact();
        let bytes = body.collect().await.expect("infallible").to_bytes();
        let uploads: Vec<SliverUploadRef<'_>> =
            slivers.iter().map(|(p, axis)| blob.sliver_upload(*p, *axis)).collect();
        assert_eq!(bytes.as_ref(), bcs::to_bytes(&uploads).expect("bcs").as_slice());
        assert_eq!(hint, Some(bytes.len() as u64));
    }

    /// A one-shot HTTP server on loopback answering every request with `head` and then `body`
    /// chunks; returns its address.
    fn answering(head: &'static str, chunks: Vec<Vec<u8>>) -> String {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        std::thread::spawn(move || {
            let Ok((mut stream, _)) = listener.accept() else { return };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(head.as_bytes());
            for chunk in chunks {
                if stream.write_all(&chunk).is_err() {
                    return;
                }
            }
        });
        address
    }

    #[tokio::test]
    async fn answers_larger_than_the_request_can_need_are_refused() {
        let blob_id = BlobId([1; 32]);
        // Declared too large: refused before a byte of the body is read.
        let address = answering("HTTP/1.1 200 OK\r\ncontent-length: 1000000000\r\n\r\n", vec![vec![0; 10]]);
        let error = NodeClient::new(
            &format!("http://{address}"),
            walrus_tls::http_client().build().expect("an HTTP client"),
        )
        .metadata(&blob_id)
        .await;
        assert!(
            matches!(error, Err(NodeError::TooLarge { cap: METADATA_ANSWER_BYTES_MAX, .. })),
            "{error:?}"
        );
        // Not declared (chunked): refused once it runs past the cap.
        let chunk = |len: usize| {
            format!("{len:x}\r\n").into_bytes().into_iter().chain(vec![b'{'; len]).chain(*b"\r\n").collect()
        };
        let address = answering(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
            vec![chunk(40_000), chunk(40_000), b"0\r\n\r\n".to_vec()],
        );
        let received = Arc::new(AtomicU64::new(0));
        let client = NodeClient::new(
            &format!("http://{address}"),
            walrus_tls::http_client().build().expect("an HTTP client"),
        )
        .counting(Arc::clone(&received));
        let error = client.confirmation(&blob_id, None).await;
        assert!(matches!(error, Err(NodeError::TooLarge { cap: SMALL_ANSWER_BYTES_MAX, .. })), "{error:?}");
        assert_eq!(received.load(Ordering::Relaxed), 0, "a refused answer is not counted");
    }
}
