//! The gateway's Prometheus metrics (text format), served on a listener of its own
//! (`--metrics-address`, as the reference's daemon): requests by kind (read, store, other) and
//! status class, and the body bytes answered.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

const KINDS: [&str; 3] = ["read", "store", "other"];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The counters.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    /// Requests answered, by kind and status class.
    requests: [[AtomicU64; 5]; 3],
    /// Bytes of the answers' bodies, as their `Content-Length` says.
    body_bytes: AtomicU64,
}

impl Metrics {
    fn render(&self) -> String {
        let mut out = String::from(
            "# HELP walrus_gateway_requests_total Requests answered, by kind and status class.\n\
             # TYPE walrus_gateway_requests_total counter\n",
        );
        for (kind, row) in KINDS.iter().zip(&self.requests) {
            for (class, count) in CLASSES.iter().zip(row) {
                let count = count.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "walrus_gateway_requests_total{{kind=\"{kind}\",status=\"{class}\"}} {count}"
                );
            }
        }
        out.push_str(
            "# HELP walrus_gateway_body_bytes_total Bytes of the answers' bodies.\n\
             # TYPE walrus_gateway_body_bytes_total counter\n",
        );
        let _ = writeln!(out, "walrus_gateway_body_bytes_total {}", self.body_bytes.load(Ordering::Relaxed));
        out
    }
}

/// Middleware: counts each request by its kind and its answer's status class.
pub(crate) async fn count(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let kind = match *request.method() {
        Method::PUT if path == "/v1/blobs" || path == "/v1/quilts" => 1,
        Method::GET | Method::HEAD | Method::POST
            if path.starts_with("/v1/blobs/")
                || path.starts_with("/v1alpha/")
                || path.starts_with("/v1/quilts/") =>
        {
            0
        }
        _ => 2,
    };
    let response = next.run(request).await;
    let class = usize::from(response.status().as_u16() / 100).clamp(1, 5) - 1;
    metrics.requests[kind][class].fetch_add(1, Ordering::Relaxed);
    let length = response.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
    metrics.body_bytes.fetch_add(length.unwrap_or(0), Ordering::Relaxed);
    response
}

/// The metrics listener's router: `GET /metrics`.
pub(crate) fn router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(metrics): State<Arc<Metrics>>| async move {
                ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], metrics.render()).into_response()
            }),
        )
        .with_state(metrics)
}
