//! The gateway against clients that try to make it hold more than it pays for: stores that hold
//! their bodies back take their slot before a byte of the body is read (so waiting bodies cannot
//! pile up), quilt forms are bounded in slots, parts and bytes, and reads take what they will
//! hold from the read-memory budget.

use std::io::Write as _;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common;

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

/// `PUT /v1/quilts` against abusive clients: forms held back take the store slots before a
/// byte is read (a third quilt and a blob are refused 429 at once), a form of more parts than a
/// quilt can hold is refused 400 without being stored, and one past the quilt body limit 413.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quilt_forms_that_hold_back_or_overflow_are_bounded() {
    let (net, gateway, writer) = common::daemon(16, |config| {
        config.max_concurrent_stores = 1;
        config.store_queue = 1;
        config.max_quilt_body_bytes = 8 << 20;
    })
    .await;
    let base = format!("http://{}", gateway.addr);
    let boundary = "xyzzy";
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let holders: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut stream = TcpStream::connect(gateway.addr).expect("connects");
            let head = format!(
                "PUT /v1/quilts HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: 1000000\r\n\r\n--{boundary}\r\n"
            );
            stream.write_all(head.as_bytes()).expect("writes");
            stream
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let http = walrus_tls::http_client().build().expect("an HTTP client");
    let started = Instant::now();
    let form =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--{boundary}--\r\n");
    let refused =
        http.put(format!("{base}/v1/quilts")).header("content-type", &content_type).body(form.clone());
    assert_eq!(reason(refused.send().await.expect("answer")).await, (429, "TOO_MANY_REQUESTS".to_string()));
    let blob = http.put(format!("{base}/v1/blobs")).body("a small blob").send().await.expect("answer");
    assert_eq!(reason(blob).await, (429, "TOO_MANY_REQUESTS".to_string()));
    assert!(started.elapsed() < Duration::from_secs(2), "refused at once: {:?}", started.elapsed());
    drop(holders);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let before = writer.owned_blobs().await.expect("blobs").len();
    // 70 000 one-byte parts (about 5 MB, under the body limit): more than any quilt holds.
    let mut many = String::new();
    for i in 0..70_000 {
        many.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"p{i}\"\r\n\r\nx\r\n"));
    }
    many.push_str(&format!("--{boundary}--\r\n"));
    let put = http.put(format!("{base}/v1/quilts")).header("content-type", &content_type).body(many);
    assert_eq!(reason(put.send().await.expect("answer")).await, (400, "MALFORMED_REQUEST".to_string()));
    // One past the limit is refused once the limit is passed: 100 bytes past it, the client
    // waits for the answer (a client still sending when the refusal and the close come may
    // see its connection reset instead of the answer, as with any server that stops reading).
    let (addr, content) = (gateway.addr, content_type.clone());
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).expect("connects");
        let part = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"big\"\r\n\r\n");
        let head = format!(
            "PUT /v1/quilts HTTP/1.1\r\nHost: x\r\nContent-Type: {content}\r\nContent-Length: {}\r\n\r\n{part}",
            9 << 20
        );
        stream.write_all(head.as_bytes()).expect("writes");
        stream.write_all(&vec![b'x'; (8 << 20) + 100 - part.len()]).expect("writes");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        // Until the body is in (the status line may come alone) or the server closes.
        let mut answer = Vec::new();
        let mut buffer = [0u8; 4096];
        while !String::from_utf8_lossy(&answer).contains("BLOB_TOO_LARGE") {
            match std::io::Read::read(&mut stream, &mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => answer.extend_from_slice(&buffer[..read]),
            }
        }
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .expect("joined");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("BLOB_TOO_LARGE"), "{answer}");
    assert_eq!(writer.owned_blobs().await.expect("blobs").len(), before, "nothing was stored");
    let stored = http.put(format!("{base}/v1/quilts")).header("content-type", &content_type).body(form);
    assert_eq!(stored.send().await.expect("answer").status().as_u16(), 200);
    gateway.stop().await.expect("stopped");
    net.stop().await;
}
