//! The edge's bounds against a misbehaving client: half-sent heads, silent bodies, too many
//! connections.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::routing::{get, post};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

fn limits() -> ServerLimits {
    ServerLimits {
        connections_max: 4,
        header_read_timeout_ms: 300,
        body_idle_timeout_ms: 300,
        shutdown_grace_ms: 500,
    }
}

/// Starts a server with `/ok` and `/echo` (answers the body's length, or the body error).
async fn server(limits: ServerLimits) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let app = Router::new().route("/ok", get(|| async { "ok" })).route(
        "/echo",
        post(|body: Result<Bytes, axum::extract::rejection::BytesRejection>| async move {
            match body {
                Ok(bytes) => format!("{} bytes", bytes.len()),
                Err(e) => format!("body failed: {}", e.body_text()),
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("loopback binds");
    let addr = listener.local_addr().expect("bound");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, app, limits, async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// Sends one request head on a fresh connection and reads until the server closes.
async fn exchange(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream.write_all(bytes).await.expect("writes");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_whole_request_is_served() {
    let (addr, _stop) = server(limits()).await;
    let answer = exchange(addr, b"GET /ok HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("ok"), "{answer}");
}

#[tokio::test]
async fn a_half_sent_head_is_closed_after_the_header_timeout() {
    let (addr, _stop) = server(limits()).await;
    let started = Instant::now();
    let answer = exchange(addr, b"GET /ok HTTP/1.1\r\nhost: x\r\n").await;
    let waited = started.elapsed();
    assert!(!answer.contains("200 OK"), "{answer}");
    assert!(waited >= Duration::from_millis(250) && waited < Duration::from_secs(3), "{waited:?}");
}

#[tokio::test]
async fn a_silent_body_fails_after_the_idle_timeout() {
    let (addr, _stop) = server(limits()).await;
    let started = Instant::now();
    let answer = exchange(
        addr,
        b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\nconnection: close\r\n\r\n0123456789",
    )
    .await;
    let waited = started.elapsed();
    assert!(answer.contains("body failed"), "{answer}");
    assert!(waited >= Duration::from_millis(250) && waited < Duration::from_secs(3), "{waited:?}");
}

#[tokio::test]
async fn a_slow_but_steady_body_is_read_whole() {
    let (addr, _stop) = server(limits()).await;
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\nconnection: close\r\n\r\n")
        .await
        .expect("writes");
    // 10 bytes over 1 s: longer than the idle timeout in total, never silent for that long.
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        stream.write_all(b"x").await.expect("writes");
    }
    let mut out = String::new();
    stream.read_to_string(&mut out).await.expect("reads");
    assert!(out.ends_with("10 bytes"), "{out}");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let limits = ServerLimits { header_read_timeout_ms: 1_000, ..limits() };
    let (addr, _stop) = server(limits).await;
    // Fill every slot with a connection that sends nothing.
    let mut holders = Vec::new();
    for _ in 0..limits.connections_max {
        holders.push(TcpStream::connect(addr).await.expect("connects"));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let answer = exchange(addr, b"GET /ok HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await;
    let waited = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Served only once the holders' header timeout freed their slots.
    assert!(waited >= Duration::from_millis(700), "served while every slot was held: {waited:?}");
    drop(holders);
}

#[tokio::test]
async fn shutdown_does_not_wait_for_a_stuck_client() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("bound");
    let app = Router::new().route("/ok", get(|| async { "ok" }));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let limits = ServerLimits { header_read_timeout_ms: 60_000, ..limits() };
    let server = tokio::spawn(serve(listener, app, limits, async {
        let _ = stopped.await;
    }));
    let mut stuck = TcpStream::connect(addr).await.expect("connects");
    stuck.write_all(b"GET /ok HTTP/1.1\r\nhost").await.expect("writes");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let _ = stop.send(());
    server.await.expect("joins").expect("serves");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
}

/// Over TLS ([`serve_tls`]): a client pinned to the server's key is served, and a client that
/// opens a connection and never starts the handshake is closed after the header timeout (it
/// holds a connection slot no longer than a half-sent head does).
#[tokio::test]
async fn over_tls_a_request_is_served_and_a_stalled_handshake_is_closed() {
    use walrus_tls::rustls::pki_types::ServerName;
    let key = walrus_tls::NetworkKeyPair::generate().expect("key");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("bound");
    let app = Router::new().route("/ok", get(|| async { "ok" }));
    let tls = key.server_config(None).expect("server config");
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_tls(listener, app, limits(), Some(tls), async {
        let _ = stopped.await;
    }));

    let config = walrus_tls::pinned_client_config(*key.public()).expect("client config");
    let connector = walrus_tls::tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.expect("connects");
    let mut stream =
        connector.connect(ServerName::try_from("node").expect("name"), tcp).await.expect("handshake");
    stream.write_all(b"GET /ok HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.expect("writes");
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out).await;
    let answer = String::from_utf8_lossy(&out);
    assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok"), "{answer}");

    let started = Instant::now();
    let answer = exchange(addr, b"").await;
    let waited = started.elapsed();
    assert!(answer.is_empty(), "{answer}");
    assert!(waited >= Duration::from_millis(250) && waited < Duration::from_secs(3), "{waited:?}");
}
