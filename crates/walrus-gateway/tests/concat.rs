//! `/v1alpha/blobs/concat`: blobs by blob ID or object ID, in order, in one body (GET with
//! `ids=a,b`, POST with `{"ids": […]}`), the reference's ETag; IDs that are malformed or name
//! no blob are refused before the answer starts; `/v1alpha/blobs/{id}/stream` streams one blob;
//! the metrics listener counts the requests.

use base64::Engine as _;
use sha2::Digest as _;
use walrus_sdk::{BlobStoreResult, StoreOptions};

use crate::common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_concatenate_in_order_by_blob_or_object_id() {
    let metrics = std::net::SocketAddr::from(([127, 0, 0, 1], walrus_testkit::free_port()));
    let (net, gateway, writer) = common::daemon(31, |config| {
        config.stream_from_bytes = 1 << 10;
        config.metrics_bind = Some(metrics);
    })
    .await;
    let blobs: Vec<Vec<u8>> = (0..3u8).map(|i| vec![i + 1; 3_000 + 500 * usize::from(i)]).collect();
    let mut ids = Vec::new();
    for blob in &blobs {
        let BlobStoreResult::NewlyCreated(stored) =
            writer.store(blob.clone(), StoreOptions::default()).await.expect("stored")
        else {
            panic!("a new blob");
        };
        ids.push((stored.blob_id.to_string(), stored.object_id.to_string()));
    }
    let expected: Vec<u8> = [&blobs[0][..], &blobs[1][..], &blobs[2][..]].concat();
    let http = walrus_tls::http_client().build().expect("an HTTP client");
    let base = format!("http://{}/v1alpha/blobs/concat", gateway.addr);
    // The second blob by its object ID.
    let named = [ids[0].0.clone(), ids[1].1.clone(), ids[2].0.clone()];
    let answer = http.get(format!("{base}?ids={}", named.join(","))).send().await.expect("answer");
    assert_eq!(answer.status().as_u16(), 200);
    let etag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(named.join(",")));
    assert_eq!(answer.headers()["etag"].to_str().expect("text"), etag);
    assert_eq!(answer.bytes().await.expect("body").to_vec(), expected);
    let posted =
        http.post(&base).json(&serde_json::json!({ "ids": named, "strict_consistency_check": true }));
    assert_eq!(posted.send().await.expect("answer").bytes().await.expect("body").to_vec(), expected);

    // One blob streamed piece by piece, whatever its size.
    let streamed =
        http.get(format!("http://{}/v1alpha/blobs/{}/stream", gateway.addr, ids[1].0)).send().await;
    let streamed = streamed.expect("answer");
    assert_eq!(streamed.headers()["x-walrus-streaming"], "true");
    assert_eq!(streamed.bytes().await.expect("body").to_vec(), blobs[1]);
    let status = |query: String| {
        let request = http.get(format!("{base}?{query}"));
        async move {
            let answer = request.send().await.expect("answer");
            let status = answer.status().as_u16();
            let body: serde_json::Value = answer.json().await.expect("error JSON");
            (status, body["error"]["details"][0]["reason"].as_str().unwrap_or_default().to_string())
        }
    };
    assert_eq!(status(format!("ids={},nonsense", ids[0].0)).await, (400, "INVALID_ID_FORMAT".into()));
    let unknown = format!("0x{}", "ab".repeat(32));
    assert_eq!(status(format!("ids={unknown}")).await, (404, "OBJECT_ID_RESOLUTION_FAILED".into()));
    assert_eq!(status(format!("ids={}&surprise=1", ids[0].0)).await.0, 400, "unknown parameters");
    let too_many = vec![ids[0].0.clone(); 257].join(",");
    assert_eq!(status(format!("ids={too_many}")).await, (400, "INVALID_IDS".into()));
    assert_eq!(status("ids=".into()).await, (400, "INVALID_IDS".into()));
    // The metrics listener counts them: three reads answered 200, five 4xx.
    let text = http
        .get(format!("http://{metrics}/metrics"))
        .send()
        .await
        .expect("answer")
        .text()
        .await
        .expect("text");
    assert!(text.contains("walrus_gateway_requests_total{kind=\"read\",status=\"2xx\"} 3"), "{text}");
    assert!(text.contains("walrus_gateway_requests_total{kind=\"read\",status=\"4xx\"} 5"), "{text}");
    gateway.stop().await.expect("stops");
    net.stop().await;
}
