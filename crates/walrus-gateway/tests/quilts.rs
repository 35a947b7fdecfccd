//! Quilts through the gateway (an in-process network of four nodes, n = 10): `PUT /v1/quilts`
//! with a multipart form as the reference's docs send it (`curl -F`), then each patch by patch
//! ID and by identifier with the reference's headers, a byte range of a patch, the index as
//! `GET /v1/quilts/{id}/patches`; bad forms and bad patch IDs get the reference's errors, and
//! nothing is stored; a quilt of the official encoder stored as a plain blob reads through the
//! quilt routes; with nodes holding 2f shards down, every patch still reads.

use walrus_core::encode::compute_metadata;
use walrus_core::quilt::Tags;
use walrus_core::EncodingParams;
use walrus_sdk::quilt::{quilt_of, QuiltFile};

use crate::common;

const BOUNDARY: &str = "----walrus-quilt-test-boundary";

/// A multipart/form-data body of `parts` (name, bytes), and its content type.
fn form(parts: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for (name, bytes) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        body.extend_from_slice(
            format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

async fn put_form(http: &reqwest::Client, url: &str, parts: &[(&str, &[u8])]) -> reqwest::Response {
    let (content_type, body) = form(parts);
    http.put(url).header("content-type", content_type).body(body).send().await.expect("answer")
}

async fn reason(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.expect("error JSON");
    (status, body["error"]["details"][0]["reason"].as_str().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quilts_store_as_one_blob_and_each_patch_reads_with_the_reference_headers() {
    let (mut net, gateway, writer) = common::daemon(71, |config| config.max_quilt_body_bytes = 1 << 20).await;
    let base = format!("http://{}", gateway.addr);
    let http = walrus_tls::http_client().build().expect("an HTTP client");
    let page = b"<h1>quilt</h1>".to_vec();
    let data: Vec<u8> = (0..50_000u32).map(|i| (i % 241) as u8).collect();
    let metadata = br#"[{"identifier": "index.html", "tags": {"content-type": "text/html", "lang": "en"}},
                        {"identifier": "data.bin", "tags": {"n": 3}}]"#;
    let parts: [(&str, &[u8]); 4] =
        [("index.html", &page), ("style.css", b"h1{}"), ("data.bin", &data), ("_metadata", metadata)];
    let response = put_form(&http, &format!("{base}/v1/quilts?epochs=2"), &parts).await;
    assert_eq!(response.status(), 200);
    let stored: serde_json::Value = response.json().await.expect("JSON");
    let quilt_id =
        stored["blobStoreResult"]["newlyCreated"]["blobObject"]["blobId"].as_str().expect("id").to_string();
    // The quilt the SDK makes of the same files, identifiers and tags (`3` kept as "3").
    let tags = |pairs: &[(&str, &str)]| -> Tags {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    let files = [
        QuiltFile {
            identifier: "index.html".into(),
            tags: tags(&[("content-type", "text/html"), ("lang", "en")]),
            data: page.clone(),
        },
        QuiltFile { identifier: "style.css".into(), tags: Tags::new(), data: b"h1{}".to_vec() },
        QuiltFile { identifier: "data.bin".into(), tags: tags(&[("n", "3")]), data: data.clone() },
    ];
    let params = EncodingParams::new(10).expect("params");
    let quilt = quilt_of(params, &files).expect("a quilt");
    assert_eq!(compute_metadata(params, &quilt.blob).expect("metadata").blob_id().to_string(), quilt_id);
    let patches = stored["storedQuiltBlobs"].as_array().expect("patches");
    let id_of = |name: &str| {
        patches.iter().find(|p| p["identifier"] == name).expect("patch")["quiltPatchId"]
            .as_str()
            .expect("id")
            .to_string()
    };

    // By patch ID: the bytes, the identifier header, the quilt ID as ETag, the allowed tag
    // `content-type` as the type (`lang` is not an allowed header).
    let response = http
        .get(format!("{base}/v1/blobs/by-quilt-patch-id/{}", id_of("index.html")))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["x-quilt-patch-identifier"], "index.html");
    assert_eq!(headers["etag"], quilt_id.as_str());
    assert_eq!(headers["content-type"], "text/html");
    assert!(headers.get("lang").is_none());
    assert_eq!(response.bytes().await.expect("body").as_ref(), page.as_slice());
    // By identifier, and a range of a patch.
    let response =
        http.get(format!("{base}/v1/blobs/by-quilt-id/{quilt_id}/data.bin")).send().await.expect("get");
    assert_eq!(response.headers()["content-type"], "application/octet-stream");
    assert_eq!(response.bytes().await.expect("body").as_ref(), data.as_slice());
    let ranged = http
        .get(format!("{base}/v1/blobs/by-quilt-patch-id/{}", id_of("data.bin")))
        .header("range", "bytes=100-199")
        .send()
        .await
        .expect("get");
    assert_eq!(ranged.status(), 206);
    assert_eq!(ranged.headers()["content-range"], format!("bytes 100-199/{}", data.len()));
    assert_eq!(ranged.bytes().await.expect("body").as_ref(), &data[100..200]);
    // The index.
    let listed = patches_of(&http, &base, &quilt_id).await;
    let listed = listed.as_array().expect("an array");
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0]["identifier"], "data.bin");
    assert_eq!(listed[0]["patch_id"], id_of("data.bin").as_str());
    assert_eq!(listed[0]["tags"]["n"], "3");

    check_refusals(&http, &base, &writer, &quilt_id, &id_of("style.css")).await;
    official_quilt_reads_through_the_quilt_routes(&http, &base).await;

    // Nodes holding 2f = 6 of the 10 shards down: each patch still reads, by ID and by name.
    net.stop_nodes_holding(6).await;
    for (name, bytes) in [("index.html", &page[..]), ("style.css", b"h1{}"), ("data.bin", &data)] {
        let by_id = http.get(format!("{base}/v1/blobs/by-quilt-patch-id/{}", id_of(name))).send().await;
        assert_eq!(by_id.expect("get").bytes().await.expect("body").as_ref(), bytes, "{name} by ID");
        let by_name = http.get(format!("{base}/v1/blobs/by-quilt-id/{quilt_id}/{name}")).send().await;
        assert_eq!(by_name.expect("get").bytes().await.expect("body").as_ref(), bytes, "{name} by name");
    }
    gateway.stop().await.expect("stops");
    net.stop().await;
}

/// A quilt of the official encoder (a golden vector of `walrus-core`, rebuilt here: the same
/// blob ID means the same bytes) stored as a plain blob (`PUT /v1/blobs`) reads through every
/// quilt route, with the official patch IDs.
async fn official_quilt_reads_through_the_quilt_routes(http: &reqwest::Client, base: &str) {
    let path = &format!(
        "{}/../walrus-core/tests/vectors/quilts.json",
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
    );
    let vectors: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("vectors")).expect("JSON");
    let case = vectors["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["name"] == "n10-random-101")
        .expect("the case");
    let files: Vec<QuiltFile> = case["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| QuiltFile {
            identifier: f["identifier"].as_str().expect("identifier").to_string(),
            tags: serde_json::from_value(f["tags"].clone()).expect("tags"),
            data: walrus_core::splitmix::splitmix_bytes(
                f["input"]["seed"].as_u64().expect("seed"),
                f["input"]["len"].as_u64().expect("len") as usize,
            ),
        })
        .collect();
    let quilt_id = case["quiltBlobId"].as_str().expect("quilt ID");
    let quilt = quilt_of(EncodingParams::new(10).expect("params"), &files).expect("a quilt");
    let stored: serde_json::Value = http
        .put(format!("{base}/v1/blobs?epochs=2"))
        .body(quilt.blob)
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(stored["newlyCreated"]["blobObject"]["blobId"], quilt_id, "the official quilt's bytes");
    let listed = patches_of(http, base, quilt_id).await;
    let listed: Vec<&str> =
        listed.as_array().expect("an array").iter().map(|p| p["patch_id"].as_str().expect("ID")).collect();
    let official: Vec<&str> = case["patches"]
        .as_array()
        .expect("patches")
        .iter()
        .map(|p| p["patchId"].as_str().expect("ID"))
        .collect();
    assert_eq!(listed, official);
    for patch in case["patches"].as_array().expect("patches") {
        let name = patch["identifier"].as_str().expect("identifier");
        let want = &files.iter().find(|f| f.identifier == name).expect("file").data;
        let by_id =
            http.get(format!("{base}/v1/blobs/by-quilt-patch-id/{}", patch["patchId"].as_str().expect("ID")));
        assert_eq!(&by_id.send().await.expect("get").bytes().await.expect("body")[..], &want[..], "{name}");
        let by_name = http.get(format!("{base}/v1/blobs/by-quilt-id/{quilt_id}/{name}"));
        assert_eq!(&by_name.send().await.expect("get").bytes().await.expect("body")[..], &want[..], "{name}");
    }
}

/// `GET /v1/quilts/{quilt_id}/patches`, as JSON.
async fn patches_of(http: &reqwest::Client, base: &str, quilt_id: &str) -> serde_json::Value {
    let response = http.get(format!("{base}/v1/quilts/{quilt_id}/patches")).send().await.expect("get");
    response.json().await.expect("JSON")
}

/// A form's parts: name and bytes.
type Parts<'a> = Vec<(&'a str, &'a [u8])>;

/// Bad forms and bad reads get the reference's errors, and a refused form stores nothing.
async fn check_refusals(
    http: &reqwest::Client,
    base: &str,
    writer: &walrus_sdk::Client,
    quilt_id: &str,
    style_id: &str,
) {
    // Refused, with nothing stored.
    let before = writer.owned_blobs().await.expect("blobs").len();
    let url = format!("{base}/v1/quilts?epochs=2");
    let cases: Vec<(&str, Parts, u16, &str)> = vec![
        ("duplicate identifiers", vec![("a", b"1"), ("a", b"2")], 400, "MALFORMED_REQUEST"),
        ("a reserved identifier", vec![("_secret", b"1")], 400, "MALFORMED_REQUEST"),
        ("no files", vec![("_metadata", b"[]")], 400, "MALFORMED_REQUEST"),
        ("malformed _metadata", vec![("a", b"1"), ("_metadata", b"{not json")], 400, "MALFORMED_REQUEST"),
        (
            "too many patches",
            (0..7).map(|i| (["p0", "p1", "p2", "p3", "p4", "p5", "p6"][i], b"x".as_slice())).collect(),
            400,
            "MALFORMED_REQUEST",
        ),
        ("a form above the quilt limit", vec![("big", &[7u8; 1_100_000][..])], 413, "BLOB_TOO_LARGE"),
    ];
    for (what, parts, status, want) in cases {
        assert_eq!(reason(put_form(http, &url, &parts).await).await, (status, want.to_string()), "{what}");
    }
    let not_a_form = http.put(&url).body("plain").send().await.expect("answer");
    assert_eq!(reason(not_a_form).await, (400, "MALFORMED_REQUEST".to_string()));
    assert_eq!(writer.owned_blobs().await.expect("blobs").len(), before, "a refused quilt stored nothing");

    let missing = http.get(format!("{base}/v1/blobs/by-quilt-id/{quilt_id}/nope")).send().await.expect("get");
    assert_eq!(reason(missing).await, (404, "QUILT_PATCH_NOT_FOUND".to_string()));
    let garbage = http.get(format!("{base}/v1/blobs/by-quilt-patch-id/not-an-id")).send().await.expect("get");
    assert_eq!(reason(garbage).await, (400, "INVALID_QUILT_PATCH_ID".to_string()));
    // A patch ID of another quilt: this quilt's ID with another quilt's column range.
    let mut other = style_id.parse::<walrus_core::quilt::QuiltPatchId>().expect("id");
    other.end_index += 1;
    let wrong = http.get(format!("{base}/v1/blobs/by-quilt-patch-id/{other}")).send().await.expect("get");
    assert_eq!(reason(wrong).await, (404, "QUILT_PATCH_NOT_FOUND".to_string()));
}
