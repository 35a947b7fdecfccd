//! The gateway against clients that try to make it hold more than it pays for: stores that hold
//! their bodies back take their slot before a byte of the body is read (so waiting bodies cannot
//! pile up), and reads take what they will hold from the read-memory budget.

use std::io::Write as _;
use std::net::TcpStream;
use std::time::{Duration, Instant};

mod common;

async fn reason(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.expect("error JSON");
    (status, body["error"]["details"][0]["reason"].as_str().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_that_hold_back_their_bodies_cannot_pile_up() {
    let (net, gateway, _) = common::daemon(15, |config| {
        config.max_concurrent_stores = 1;
        config.store_queue = 1;
    })
    .await;
    let base = format!("http://{}", gateway.addr);
    // Two stores (one running, one waiting: every slot) that declare 1 MB and send 10 bytes.
    let holders: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut stream = TcpStream::connect(gateway.addr).expect("connects");
            stream
                .write_all(b"PUT /v1/blobs HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n0123456789")
                .expect("writes");
            stream
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let http = walrus_tls::http_client().build().expect("an HTTP client");
    let started = Instant::now();
    let refused = http.put(format!("{base}/v1/blobs")).body("a small blob").send().await.expect("answer");
    assert_eq!(reason(refused).await, (429, "TOO_MANY_REQUESTS".to_string()));
    assert!(started.elapsed() < Duration::from_secs(2), "refused at once: {:?}", started.elapsed());
    // Once they hang up, their slots come back.
    drop(holders);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stored = http.put(format!("{base}/v1/blobs")).body("a small blob").send().await.expect("answer");
    assert_eq!(stored.status().as_u16(), 200);
    gateway.stop().await.expect("stopped");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_take_what_they_hold_from_the_read_budget() {
    let (net, gateway, writer) = common::daemon(16, |config| config.max_read_bytes = 1 << 20).await;
    let base = format!("http://{}", gateway.addr);
    let options = walrus_sdk::StoreOptions::default();
    let big = *writer.store(vec![7; 1 << 20], options).await.expect("stored").blob_id();
    let small = *writer.store(vec![8; 100_000], options).await.expect("stored").blob_id();
    let http = walrus_tls::http_client().build().expect("an HTTP client");
    // A buffered read of 1 MiB holds about 2 MiB: more than the whole budget.
    let refused = http.get(format!("{base}/v1/blobs/{big}")).send().await.expect("answer");
    assert_eq!(reason(refused).await, (429, "TOO_MANY_REQUESTS".to_string()));
    let served = http.get(format!("{base}/v1/blobs/{small}")).send().await.expect("answer");
    assert_eq!(served.status().as_u16(), 200);
    assert_eq!(served.bytes().await.expect("body").len(), 100_000);
    // HEAD holds nothing and is answered whatever the size.
    let head = http.head(format!("{base}/v1/blobs/{big}")).send().await.expect("answer");
    assert_eq!(head.status().as_u16(), 200);
    gateway.stop().await.expect("stopped");
    net.stop().await;
}
