//! A client of one storage node's REST API: the reference's endpoints and our batch ones, each
//! call with a timeout, errors carrying the node's reason code.

use std::time::Duration;

use walrus_core::messages::SignedMessage;
use walrus_core::metadata::{UnverifiedBlobMetadataWithId, VerifiedBlobMetadataWithId};
use walrus_core::sliver::{SliverUploadRef, UnverifiedSliver};
use walrus_core::{BlobId, ObjectId, SliverPairIndex, SliverType};

/// Timeout of a metadata, status or confirmation request.
pub const SMALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Most sliver bytes in one batch write.
pub const BATCH_BYTES_MAX: usize = 8 << 20;
/// Timeout of a request carrying slivers.
pub const SLIVER_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a node request failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// No answer.
    #[error("{url}: {source}")]
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
        reason: String,
        /// The node's message.
        message: String,
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
    pub fn reason(&self) -> Option<&str> {
        match self {
            NodeError::Refused { reason, .. } => Some(reason),
            _ => None,
        }
    }
}

/// A client of the node at `address` (`host:port`).
#[derive(Debug, Clone)]
pub struct NodeClient {
    base: String,
    http: reqwest::Client,
}

impl NodeClient {
    /// A client sharing the connection pool `http`.
    pub fn new(address: &str, http: reqwest::Client) -> Self {
        let base =
            if address.starts_with("http") { address.to_string() } else { format!("http://{address}") };
        NodeClient { base, http }
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::Response, NodeError> {
        let response =
            request.send().await.map_err(|source| NodeError::Transport { url: url.into(), source })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let error = &body["error"];
        Err(NodeError::Refused {
            url: url.into(),
            status,
            reason: error["details"][0]["reason"].as_str().unwrap_or("UNKNOWN").to_string(),
            message: error["message"].as_str().unwrap_or("").to_string(),
        })
    }

    async fn bytes(&self, request: reqwest::RequestBuilder, url: &str) -> Result<Vec<u8>, NodeError> {
        let response = self.send(request, url).await?;
        let bytes =
            response.bytes().await.map_err(|source| NodeError::Transport { url: url.into(), source })?;
        Ok(bytes.to_vec())
    }

    async fn data(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<serde_json::Value, NodeError> {
        let response = self.send(request, url).await?;
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|e| NodeError::Decode { url: url.into(), reason: e.to_string() })?;
        Ok(body["success"]["data"].clone())
    }

    /// `PUT /v1/blobs/{id}/metadata`.
    pub async fn put_metadata(&self, metadata: &VerifiedBlobMetadataWithId) -> Result<(), NodeError> {
        let url = format!("{}/v1/blobs/{}/metadata", self.base, metadata.blob_id());
        let request = self.http.put(&url).body(metadata.metadata_bcs()).timeout(SMALL_TIMEOUT);
        self.send(request, &url).await.map(drop)
    }

    /// `PUT /v1/blobs/{id}/slivers` (our batch write).
    pub async fn put_slivers(
        &self,
        blob_id: &BlobId,
        slivers: &[SliverUploadRef<'_>],
    ) -> Result<(), NodeError> {
        let url = format!("{}/v1/blobs/{blob_id}/slivers", self.base);
        let body = bcs::to_bytes(slivers)
            .map_err(|e| NodeError::Decode { url: url.clone(), reason: e.to_string() })?;
        let request = self.http.put(&url).body(body).timeout(SLIVER_TIMEOUT);
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

    /// Writes `slivers` in batches of at most [`BATCH_BYTES_MAX`] sliver bytes; a node whose
    /// body limit refuses a batch (413) gets them one request each.
    pub async fn put_slivers_chunked(
        &self,
        blob_id: &BlobId,
        slivers: &[SliverUploadRef<'_>],
    ) -> Result<(), NodeError> {
        let mut start = 0;
        while start < slivers.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < slivers.len()
                && (end == start || bytes + slivers[end].sliver.data.len() <= BATCH_BYTES_MAX)
            {
                bytes += slivers[end].sliver.data.len();
                end += 1;
            }
            match self.put_slivers(blob_id, &slivers[start..end]).await {
                Err(NodeError::Refused { status: 413, .. }) => {
                    for upload in &slivers[start..end] {
                        self.put_sliver(blob_id, upload).await?;
                    }
                }
                other => other?,
            }
            start = end;
        }
        Ok(())
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
        let bytes = self.bytes(self.http.get(&url).timeout(SMALL_TIMEOUT), &url).await?;
        bcs::from_bytes(&bytes).map_err(|e| NodeError::Decode { url, reason: e.to_string() })
    }

    /// `POST /v1/blobs/{id}/slivers` (our batch read), unverified, in request order.
    pub async fn slivers(
        &self,
        blob_id: &BlobId,
        wanted: &[(SliverPairIndex, SliverType)],
    ) -> Result<Vec<Option<UnverifiedSliver>>, NodeError> {
        let url = format!("{}/v1/blobs/{blob_id}/slivers", self.base);
        let body = bcs::to_bytes(wanted)
            .map_err(|e| NodeError::Decode { url: url.clone(), reason: e.to_string() })?;
        let bytes = self.bytes(self.http.post(&url).body(body).timeout(SLIVER_TIMEOUT), &url).await?;
        bcs::from_bytes(&bytes).map_err(|e| NodeError::Decode { url, reason: e.to_string() })
    }
}
