//! The gateway over an in-process network (a chain and four storage nodes, n = 10): the
//! publisher stores and the aggregator reads with the reference's paths, headers and JSON, and
//! every error is the reference's error JSON.

use walrus_chain::Call;
use walrus_core::keys::Ed25519KeyPair;
use walrus_core::ObjectId;

use crate::common;

fn data(size: usize) -> Vec<u8> {
    walrus_core::splitmix::splitmix_bytes(size as u64 ^ 0x5eed, size)
}

/// Asserts the reference's error JSON with this status and reason.
/// A PUT of `body` to `url`, answered with JSON.
async fn put_json(http: &reqwest::Client, url: String, body: Vec<u8>) -> serde_json::Value {
    http.put(url).body(body).send().await.expect("put").json().await.expect("JSON")
}

async fn expect_error(response: reqwest::Response, status: u16, reason: &str) {
    assert_eq!(response.status().as_u16(), status);
    let body: serde_json::Value = response.json().await.expect("error JSON");
    assert_eq!(body["error"]["code"], status, "{body}");
    assert_eq!(body["error"]["details"][0]["reason"], reason, "{body}");
    assert_eq!(body["error"]["details"][0]["domain"], "daemon.walrus.space", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publisher_and_aggregator_speak_the_reference_http_api() {
    let dir = tempfile::tempdir().expect("dir");
    let blocklist = dir.path().join("blocklist.yaml");
    std::fs::write(&blocklist, "").expect("empty blocklist");
    let (net, gateway, writer) = common::daemon(9, |config| {
        config.max_body_bytes = 2 << 20;
        config.max_blob_size = 3 << 19;
        // Reads from 512 KiB stream, a row (256 KiB here) at a time.
        config.stream_from_bytes = 1 << 19;
        config.stream_piece_bytes = 1;
        let list = walrus_sdk::Blocklist::load_with(&blocklist, std::time::Duration::ZERO).expect("loaded");
        config.blocklist = Some(list);
    })
    .await;
    let base = format!("http://{}", gateway.addr);
    let http = walrus_tls::http_client().build().expect("an HTTP client");

    let status = http.get(format!("{base}/status")).send().await.expect("status");
    assert_eq!(status.text().await.expect("text"), "OK");
    let api: serde_json::Value =
        http.get(format!("{base}/v1/api")).send().await.expect("api").json().await.expect("JSON");
    assert!(api["paths"]["/v1/blobs"]["put"].is_object());

    // Store: newlyCreated with the blob object as on chain; again: alreadyCertified.
    let blob = data(1 << 20);
    let stored: serde_json::Value = put_json(&http, format!("{base}/v1/blobs?epochs=2"), blob.clone()).await;
    let object = &stored["newlyCreated"]["blobObject"];
    let blob_id = object["blobId"].as_str().expect("blob ID").to_string();
    assert_eq!(object["size"], 1 << 20);
    assert_eq!(object["deletable"], true);
    assert_eq!(object["encodingType"], "RS2");
    assert_eq!(object["storage"]["endEpoch"], 2, "{stored}");
    assert!(
        stored["newlyCreated"]["resourceOperation"]["registerFromScratch"]["encodedLength"].as_u64()
            > Some(0)
    );
    let again: serde_json::Value = put_json(&http, format!("{base}/v1/blobs"), blob.clone()).await;
    assert_eq!(again["alreadyCertified"]["blobId"], blob_id.as_str(), "{again}");

    check_reads(&http, &base, &blob_id, &blob).await;

    // By object ID: allowed attributes become headers.
    let object_id: ObjectId = object["id"].as_str().expect("id").parse().expect("object ID");
    let set = vec![("content-type".to_string(), "text/plain".to_string()), ("x-secret".into(), "no".into())];
    writer
        .chain()
        .execute(writer.wallet(), Call::SetBlobAttributes { blob: object_id, set, remove: vec![] })
        .await
        .expect("attributes");
    let by_object = http.get(format!("{base}/v1/blobs/by-object-id/{object_id}")).send().await.expect("get");
    assert_eq!(by_object.status(), 200);
    assert_eq!(by_object.headers()["content-type"], "text/plain");
    assert!(!by_object.headers().contains_key("x-secret"));
    assert!(by_object.bytes().await.expect("body") == blob);

    check_preflight_and_errors(&http, &base, &blob_id).await;

    // Blocked by the operator while running: neither read nor stored (451), not even as a
    // revalidation (304) by a cache that holds it; unblocked, read.
    let status = |path: String| {
        let request = http.get(format!("{base}/v1/blobs/{path}"));
        async move { request.send().await.expect("get").status().as_u16() }
    };
    std::fs::write(&blocklist, format!("- {blob_id}\n")).expect("blocklist");
    assert!(
        walrus_testkit::eventually(5, || async { status(blob_id.clone()).await == 451 }).await,
        "never blocked"
    );
    for path in [blob_id.clone(), format!("{blob_id}/byte-range?start=0&length=1")] {
        let response = http.get(format!("{base}/v1/blobs/{path}")).send().await.expect("get");
        expect_error(response, 451, "FORBIDDEN_BLOB").await;
    }
    let revalidated =
        http.get(format!("{base}/v1/blobs/{blob_id}")).header("if-none-match", blob_id.as_str());
    expect_error(revalidated.send().await.expect("get"), 451, "FORBIDDEN_BLOB").await;
    let again = http.put(format!("{base}/v1/blobs")).body(blob.clone()).send().await.expect("put");
    expect_error(again, 451, "FORBIDDEN_BLOB").await;
    std::fs::write(&blocklist, "[]\n").expect("blocklist");
    assert!(
        walrus_testkit::eventually(5, || async { status(blob_id.clone()).await == 200 }).await,
        "never unblocked"
    );

    // send_object_to: the new object belongs to the recipient.
    let recipient = Ed25519KeyPair::from_seed(&[10; 32]).address();
    let sent: serde_json::Value =
        put_json(&http, format!("{base}/v1/blobs?permanent=true&send_object_to={recipient}"), data(5_000))
            .await;
    let sent_id: ObjectId =
        sent["newlyCreated"]["blobObject"]["id"].as_str().expect("id").parse().expect("id");
    assert_eq!(sent["newlyCreated"]["blobObject"]["deletable"], false);
    let owner = writer.chain().object(&sent_id).await.expect("object").object.owner;
    assert_eq!(owner, walrus_chain::objects::Owner::Address(recipient));

    gateway.stop().await.expect("stopped");
    net.stop().await;
}

/// Bytes with cache and CORS headers, a range, a conditional request, HEAD.
async fn check_reads(http: &reqwest::Client, base: &str, blob_id: &str, blob: &[u8]) {
    // Read: the bytes, with cache and CORS headers; a range; a conditional request.
    let response = http.get(format!("{base}/v1/blobs/{blob_id}")).send().await.expect("get");
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["etag"], blob_id);
    assert!(headers["cache-control"].to_str().expect("ascii").contains("max-age=86400"));
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(headers["content-type"], "application/octet-stream");
    assert!(response.bytes().await.expect("body") == blob);
    let ranged = http
        .get(format!("{base}/v1/blobs/{blob_id}"))
        .header("range", "bytes=100-199")
        .header("accept", "image/png")
        .send()
        .await
        .expect("get");
    assert_eq!(ranged.status(), 206);
    assert_eq!(ranged.headers()["content-range"], format!("bytes 100-199/{}", 1 << 20).as_str());
    assert_eq!(ranged.headers()["content-type"], "image/png");
    assert!(ranged.bytes().await.expect("body") == blob[100..200]);
    // Streamed from inside a row to the end; and whole, with the strict check (not streamed).
    let tail = http.get(format!("{base}/v1/blobs/{blob_id}")).header("range", "bytes=100-").send().await;
    let tail = tail.expect("get");
    assert_eq!(
        (tail.status().as_u16(), &tail.headers()["content-length"]),
        (206, &"1048476".parse().expect("v"))
    );
    assert!(tail.bytes().await.expect("body") == blob[100..]);
    let strict = http.get(format!("{base}/v1/blobs/{blob_id}?strict_consistency_check=true")).send().await;
    assert!(strict.expect("get").bytes().await.expect("body") == blob);
    let cached = http.get(format!("{base}/v1/blobs/{blob_id}")).header("if-none-match", blob_id).send().await;
    assert_eq!(cached.expect("get").status(), 304);
    let head = http.head(format!("{base}/v1/blobs/{blob_id}")).send().await.expect("head");
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], (1u64 << 20).to_string().as_str());
    // The reference's byte-range endpoint: 200 with an ETag of its own, so that a CDN caches it.
    let url = format!("{base}/v1/blobs/{blob_id}/byte-range?start=1000000&length=48576");
    let part = http.get(&url).send().await.expect("get");
    assert_eq!(part.status(), 200);
    assert_eq!(part.headers()["etag"], format!("{blob_id}-1000000-48576").as_str());
    assert_eq!(part.headers()["content-length"], "48576");
    assert!(part.bytes().await.expect("body") == blob[1_000_000..]);
    let head = http.head(&url).send().await.expect("head");
    assert_eq!(
        (head.status().as_u16(), &head.headers()["content-length"]),
        (200, &"48576".parse().expect("value"))
    );
}

/// A preflight gets CORS answers; errors are the reference's JSON every time.
async fn check_preflight_and_errors(http: &reqwest::Client, base: &str, blob_id: &str) {
    // A preflight gets CORS answers.
    let preflight = http
        .request(reqwest::Method::OPTIONS, format!("{base}/v1/blobs"))
        .header("origin", "http://example.com")
        .header("access-control-request-method", "PUT")
        .send()
        .await
        .expect("options");
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-max-age"], "86400");
    assert!(preflight.headers()["access-control-allow-methods"].to_str().expect("ascii").contains("PUT"));

    // Errors: the reference's JSON every time.
    let unknown =
        walrus_core::encode::compute_metadata(walrus_core::EncodingParams::new(10).expect("n"), b"never")
            .expect("metadata");
    expect_error(
        http.get(format!("{base}/v1/blobs/{}", unknown.blob_id())).send().await.expect("get"),
        404,
        "BLOB_NOT_FOUND",
    )
    .await;
    // Percent-decoded to bytes that are not UTF-8.
    expect_error(http.get(format!("{base}/v1/blobs/%FF")).send().await.expect("get"), 400, "INVALID_PATH")
        .await;
    expect_error(
        http.get(format!("{base}/v1/blobs/not-a-blob-id")).send().await.expect("get"),
        400,
        "INVALID_BLOB_ID",
    )
    .await;
    let bad_range =
        http.get(format!("{base}/v1/blobs/{blob_id}")).header("range", "bytes=5000000-").send().await;
    expect_error(bad_range.expect("get"), 416, "INVALID_BYTE_RANGE").await;
    for (query, reason) in [
        ("start=0&length=0", "INVALID_BYTE_RANGE"),
        ("start=1048000&length=577", "INVALID_BYTE_RANGE"),
        ("start=18446744073709551615&length=2", "INVALID_BYTE_RANGE"),
        ("start=0", "INVALID_QUERY"),
        ("start=0&length=1&extra=1", "INVALID_QUERY"),
    ] {
        let response = http.get(format!("{base}/v1/blobs/{blob_id}/byte-range?{query}")).send().await;
        expect_error(response.expect("get"), 400, reason).await;
    }
    let bad_check =
        http.get(format!("{base}/v1/blobs/{blob_id}?strict_consistency_check=maybe")).send().await;
    expect_error(bad_check.expect("get"), 400, "INVALID_QUERY").await;
    let too_large = http.put(format!("{base}/v1/blobs")).body(vec![0u8; (2 << 20) + 1]).send().await;
    expect_error(too_large.expect("put"), 413, "BLOB_TOO_LARGE").await;
    let both = http.put(format!("{base}/v1/blobs?permanent=true&deletable=true")).body("x").send().await;
    expect_error(both.expect("put"), 400, "INVALID_BLOB_PERSISTENCE").await;
    // More epochs than the chain sells: refused before any fee is spent.
    let beyond = http.put(format!("{base}/v1/blobs?epochs=54")).body("beyond").send().await;
    expect_error(beyond.expect("put"), 400, "INVALID_EPOCHS").await;
    let bad_epochs = http.put(format!("{base}/v1/blobs?epochs=soon")).body("x").send().await;
    expect_error(bad_epochs.expect("put"), 400, "INVALID_QUERY").await;
    let bad_object = http.get(format!("{base}/v1/blobs/by-object-id/0x{}", "00".repeat(32))).send().await;
    expect_error(bad_object.expect("get"), 404, "BLOB_NOT_FOUND").await;
    expect_error(http.get(format!("{base}/nowhere")).send().await.expect("get"), 404, "NOT_FOUND").await;
    for response in [http.post(format!("{base}/v1/blobs/{blob_id}")), http.delete(format!("{base}/v1/blobs"))]
    {
        expect_error(response.send().await.expect("sent"), 405, "METHOD_NOT_ALLOWED").await;
    }
    // Stored, but larger than this aggregator serves (--max-blob-size): 403, as the reference.
    let large: serde_json::Value = put_json(http, format!("{base}/v1/blobs"), data((3 << 19) + 1)).await;
    let large_id = large["newlyCreated"]["blobObject"]["blobId"].as_str().expect("stored");
    for path in [large_id.to_string(), format!("{large_id}/byte-range?start=0&length=1")] {
        let response = http.get(format!("{base}/v1/blobs/{path}")).send().await.expect("get");
        expect_error(response, 403, "BLOB_TOO_LARGE").await;
    }
}
