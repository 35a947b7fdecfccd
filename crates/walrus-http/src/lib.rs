//! The edge every server of ours shares (the storage node's REST API, the chain's RPC, the
//! gateway): an HTTP/1 accept loop that bounds what a client can hold before it has paid for
//! anything.
//!
//! - **Connections**: at most [`ServerLimits::connections_max`] at once. Beyond it the loop
//!   stops accepting (the kernel's backlog holds the rest) until one closes.
//! - **Headers**: a connection that has not sent a whole request head within
//!   [`ServerLimits::header_read_timeout`] is closed (hyper's timer; also the longest a
//!   keep-alive connection may sit idle between requests).
//! - **Bodies**: a request body that sends nothing for [`ServerLimits::body_idle_timeout`] fails
//!   (the handler sees a body error, the connection closes), so a client cannot hold an upload
//!   slot, or the bytes it buffered, by going silent.
//! - **TLS** ([`serve_tls`]): the handshake must end within the header read timeout.
//! - **Shutdown**: connections in flight get [`ServerLimits::shutdown_grace`] to finish, then are
//!   dropped; a stuck client cannot keep a process from stopping.
//!
//! What a request may cost once its head has arrived (body bytes, upload budget, concurrency)
//! is each server's business, counted with [`ByteBudget`]; see `walrus_node::edge` and the
//! gateway's limits.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use bytes::Bytes;
use http_body::Frame;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

/// The limits of one server's edge. In configuration files every field may be left out; the
/// defaults are in [`ServerLimits::default`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerLimits {
    /// Most connections open at once.
    pub connections_max: usize,
    /// Longest wait for a whole request head, in milliseconds (and the longest a keep-alive
    /// connection may sit idle).
    pub header_read_timeout_ms: u64,
    /// Longest silence inside a request body, in milliseconds.
    pub body_idle_timeout_ms: u64,
    /// How long connections in flight may finish after shutdown begins, in milliseconds.
    pub shutdown_grace_ms: u64,
}

/// Default [`ServerLimits::connections_max`]: above the 10,000 half-open connections the
/// abuse tests hold, below the 20,000 file descriptors a process gets here.
pub const CONNECTIONS_MAX_DEFAULT: usize = 16_384;

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            connections_max: CONNECTIONS_MAX_DEFAULT,
            header_read_timeout_ms: 10_000,
            body_idle_timeout_ms: 10_000,
            shutdown_grace_ms: 10_000,
        }
    }
}

impl ServerLimits {
    /// [`ServerLimits::header_read_timeout_ms`] as a duration.
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms)
    }

    /// [`ServerLimits::body_idle_timeout_ms`] as a duration.
    pub fn body_idle_timeout(&self) -> Duration {
        Duration::from_millis(self.body_idle_timeout_ms)
    }

    /// [`ServerLimits::shutdown_grace_ms`] as a duration.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }
}

/// Pending connections the kernel queues for [`serve`] (Linux caps it at `net.core.somaxconn`,
/// 4096 by default). A client that opens connections faster than they are taken (a flood of
/// half-sent heads) overflows a short queue, and every connection that overflows waits a 1 s
/// SYN retransmission, honest ones included.
pub const LISTEN_BACKLOG: u32 = 4096;

/// A listener on `addr` with a [`LISTEN_BACKLOG`] queue (std's and tokio's take 1024).
pub async fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket =
        if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves; then stops accepting
/// and gives the open connections [`ServerLimits::shutdown_grace`] to finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    serve_tls(listener, app, limits, None, shutdown).await
}

/// A server [`spawn`]ed on a task, stopped by [`RunningServer::stop`].
#[derive(Debug)]
pub struct RunningServer {
    /// The address it listens on.
    pub addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    shutdown: tokio::sync::oneshot::Sender<()>,
}

/// Serves `app` on `listener` within `limits` on a task of its own, until stopped.
pub fn spawn(listener: TcpListener, app: Router, limits: ServerLimits) -> std::io::Result<RunningServer> {
    let addr = listener.local_addr()?;
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        serve(listener, app, limits, async {
            let _ = stopped.await;
        })
        .await
    });
    Ok(RunningServer { addr, task, shutdown })
}

impl RunningServer {
    /// Serves until `stop` resolves, then shuts down.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> std::io::Result<()> {
        stop.await;
        self.stop().await
    }

    /// Stops accepting, lets open connections finish (within the shutdown grace) and waits.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(());
        self.task.await.map_err(std::io::Error::other)?
    }
}

/// [`serve`], over TLS with `tls` if given. The handshake must end within
/// [`ServerLimits::header_read_timeout`] (a client that stalls in it holds a connection slot
/// no longer than one that stalls in its request head).
pub async fn serve_tls(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    tls: Option<Arc<walrus_tls::rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let acceptor = tls.map(walrus_tls::tokio_rustls::TlsAcceptor::from);
    let handshake_timeout = limits.header_read_timeout();
    let slots = Arc::new(Semaphore::new(limits.connections_max.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout());
    let idle = limits.body_idle_timeout();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let (stream, _peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was taken:
                    // wait a little rather than spin.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let request = request.map(|body| Body::new(IdleTimeout::new(body, idle)));
            app.clone().oneshot(request)
        });
        match &acceptor {
            None => {
                let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    let _ = connection.await;
                    drop(slot);
                });
            }
            Some(acceptor) => {
                let (acceptor, builder, watcher) = (acceptor.clone(), builder.clone(), graceful.watcher());
                tokio::spawn(async move {
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await
                    {
                        let _ = watcher.watch(builder.serve_connection(TokioIo::new(stream), service)).await;
                    }
                    drop(slot);
                });
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace(), graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after the shutdown grace; dropping them");
    }
    Ok(())
}

/// A byte budget counted in KiB (a semaphore's permits are `u32`).
#[derive(Debug)]
pub struct ByteBudget {
    kib: Arc<Semaphore>,
}

impl ByteBudget {
    /// A budget of `bytes`.
    pub fn new(bytes: usize) -> Self {
        ByteBudget { kib: Arc::new(Semaphore::new(bytes.div_ceil(1024).max(1))) }
    }

    /// Takes `bytes` of the budget now, or `None` if that much is not free.
    pub fn try_take(&self, bytes: u64) -> Option<OwnedSemaphorePermit> {
        let kib = u32::try_from(bytes.div_ceil(1024).max(1)).ok()?;
        Arc::clone(&self.kib).try_acquire_many_owned(kib).ok()
    }
}

/// How a server writes a refusal (status, message) as its own error JSON.
pub type RenderRefusal = fn(axum::http::StatusCode, String) -> axum::response::Response;

/// Middleware that turns axum's own refusals into the server's error JSON:
/// `.layer(axum::middleware::from_fn_with_state(render, walrus_http::json_rejections))`. axum
/// answers a request it cannot take apart (a query or a path that does not parse, a method the
/// route does not serve, a body of the wrong type) with plain text or nothing; such an answer (a
/// 4xx with a plain-text or no body) is given to `render(status, message)` instead. Every other
/// answer passes unchanged. A 405 keeps its `Allow` header.
pub async fn json_rejections(
    axum::extract::State(render): axum::extract::State<RenderRefusal>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let response = next.run(request).await;
    use axum::http::header::{ALLOW, CONTENT_TYPE};
    let status = response.status();
    let plain = response
        .headers()
        .get(CONTENT_TYPE)
        .is_none_or(|v| v.to_str().is_ok_and(|v| v.starts_with("text/plain")));
    if !status.is_client_error() || !plain {
        return response;
    }
    let (parts, body) = response.into_parts();
    // axum's refusals are a line of text.
    let text = axum::body::to_bytes(body, 64 << 10).await.unwrap_or_default();
    let message = match String::from_utf8_lossy(&text).trim() {
        "" => status.canonical_reason().unwrap_or("refused").to_string(),
        text => text.to_string(),
    };
    let mut answer = render(status, message);
    if let Some(allow) = parts.headers.get(ALLOW) {
        answer.headers_mut().insert(ALLOW, allow.clone());
    }
    answer
}

/// Why a body stopped: it sent nothing for the idle timeout.
#[derive(Debug, thiserror::Error)]
#[error("the request body sent nothing for {0:?}")]
pub struct BodyIdle(Duration);

/// A request body that fails when no frame arrives within the idle timeout. A frame only
/// notes the time; the timer is moved when it fires early (at most once per idle period), not
/// on every frame, which would take the timer's lock thousands of times per upload.
struct IdleTimeout<B> {
    inner: B,
    idle: Duration,
    last_frame: tokio::time::Instant,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl<B> IdleTimeout<B> {
    fn new(inner: B, idle: Duration) -> Self {
        let now = tokio::time::Instant::now();
        IdleTimeout { inner, idle, last_frame: now, deadline: Box::pin(tokio::time::sleep_until(now + idle)) }
    }
}

impl<B> http_body::Body for IdleTimeout<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            this.last_frame = tokio::time::Instant::now();
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        loop {
            if this.deadline.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let due = this.last_frame + this.idle;
            if tokio::time::Instant::now() >= due {
                return Poll::Ready(Some(Err(Box::new(BodyIdle(this.idle)))));
            }
            // Frames came since the timer was set: move it, and poll it again to register.
            this.deadline.as_mut().reset(due);
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests;
