//! What one request may cost the node, taken before the work (or the body's bytes) arrives.
//!
//! - **Uploads**: a `PUT` of metadata or slivers (or a `POST` of an inconsistency proof) takes one of the upload slots
//!   ([`crate::config::NodeConfig::concurrent_uploads_max`]) and its `Content-Length` (the body
//!   limit when it declares none) from the node's upload budget
//!   ([`crate::config::NodeConfig::upload_bytes_max`]) before axum reads the body, and gives
//!   both back when the handler ends. Beyond either: 503 `TOO_MANY_UPLOADS` at once, which the
//!   SDK retries; so bodies being received never hold more than the budget.
//! - **Other bodies**: a batch read, a recovery-symbols request and a shard-sync request are
//!   lists or one signed message, bounded by [`SMALL_BODY_BYTES_MAX`].
//! - **Response memory**: a batch read or a recovery-symbols request takes what it will hold in
//!   memory from the response budget ([`crate::config::NodeConfig::response_bytes_max`]), or is
//!   answered 503 `TOO_MANY_READS`.
//! - **Symbol work**: recovery-symbol computations (which expand slivers) run at most
//!   [`crate::config::NodeConfig::concurrent_symbol_requests_max`] at once; the others wait.
//!
//! The connection count and the header and body timeouts are the shared edge's
//! (`walrus_http`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::OwnedSemaphorePermit;

use crate::node::Node;
use crate::service::ServiceError;

/// Middleware on upload routes: takes the declared body size from the upload budget first.
pub(crate) async fn upload_budget(State(node): State<Arc<Node>>, request: Request, next: Next) -> Response {
    let limit = node.config.body_bytes_max as u64;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let bytes = match declared {
        Some(len) if len > limit => {
            return refuse(request, declared, ServiceError::BodyTooLarge { declared: len, limit }).await
        }
        Some(len) => len,
        None => limit,
    };
    let slot = Arc::clone(&node.uploads).try_acquire_owned().ok();
    let (Some(slot), Some(bytes)) = (slot, node.upload_bytes.try_take(bytes)) else {
        node.metrics.refused_busy.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return refuse(request, declared, ServiceError::TooManyUploads).await;
    };
    let response = next.run(request).await;
    drop((slot, bytes));
    response
}

/// Largest body of a request that is not an upload: a batch read's list (at most two entries
/// of three bytes per sliver pair, 65,536 pairs), a recovery-symbols request, a shard-sync
/// request. Larger: 413 `BODY_TOO_LARGE` before the body is read.
pub const SMALL_BODY_BYTES_MAX: usize = 512 << 10;

/// A refused upload that declares at most this many bytes is read to its end (and dropped)
/// before the answer, so that a client still writing it reads the answer (a 503 it retries, a
/// 413) instead of a connection reset by a server that closed with its bytes unread. Larger
/// ones are answered at once and their connection closed.
pub const DRAIN_BYTES_MAX: u64 = 8 << 20;

/// Answers `error` to an upload, reading its body first if it declared at most
/// [`DRAIN_BYTES_MAX`] (the bytes are dropped as they come: this holds no memory).
async fn refuse(request: Request, declared: Option<u64>, error: ServiceError) -> Response {
    if declared.is_some_and(|len| len <= DRAIN_BYTES_MAX) {
        let mut body = request.into_body();
        let mut read = 0u64;
        while let Some(Ok(frame)) =
            std::future::poll_fn(|cx| http_body::Body::poll_frame(std::pin::Pin::new(&mut body), cx)).await
        {
            read += frame.data_ref().map_or(0, |d| d.len() as u64);
            if read > DRAIN_BYTES_MAX {
                break;
            }
        }
    }
    error.into_response()
}

/// Takes `bytes` of the response budget, or 503 `TOO_MANY_READS`.
pub(crate) fn response_permit(node: &Node, bytes: u64) -> Result<OwnedSemaphorePermit, ServiceError> {
    node.response_bytes.try_take(bytes).ok_or_else(|| {
        node.metrics.refused_busy.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ServiceError::TooManyReads
    })
}
