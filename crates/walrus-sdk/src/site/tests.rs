//! The publisher side of Walrus Sites without a network: `ws-resources.json` as the reference
//! reads it, headers and content types, ignored files, and what a deploy uploads and records.

use super::*;

fn write(dir: &Path, path: &str, data: &[u8]) {
    let file = dir.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(file.parent().expect("a parent")).expect("mkdir");
    std::fs::write(file, data).expect("write");
}

/// The reference docs' example configuration, with redirects and ignores.
const EXAMPLE: &str = r#"{
  "headers": {
    "/index.html": { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "max-age=3500" },
    "/*": { "Cache-Control": "max-age=60" }
  },
  "routes": { "/*": "/index.html", "/accounts/*": "/accounts.html" },
  "redirects": { "/old/*": { "location": "/new.html", "status_code": 301 } },
  "metadata": { "link": "https://example.com", "description": "An example", "creator": "us" },
  "site_name": "My Walrus Site",
  "ignore": ["/private/*", "/secret.txt"]
}"#;

#[test]
fn the_reference_configuration_reads_and_drives_headers_and_ignores() {
    let ws: WsResources = serde_json::from_str(EXAMPLE).expect("reads");
    ws.check().expect("valid");
    assert_eq!(ws.site_name.as_deref(), Some("My Walrus Site"));
    assert_eq!(ws.redirects.as_ref().expect("redirects")["/old/*"].status_code, 301);
    // The most specific pattern's headers alone, in lower case, then the defaults.
    let index = ws.headers_for("/index.html");
    assert_eq!(index["content-type"], "text/html; charset=utf-8");
    assert_eq!(index["cache-control"], "max-age=3500");
    assert_eq!(index["content-encoding"], "identity");
    let css = ws.headers_for("/css/site.css");
    assert_eq!((css["content-type"].as_str(), css["cache-control"].as_str()), ("text/css", "max-age=60"));
    assert!(ws.is_ignored("/private/notes/a.txt"));
    assert!(ws.is_ignored("/secret.txt"));
    assert!(!ws.is_ignored("/secret.txt.html"));
}

#[test]
fn bad_configurations_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(WS_RESOURCES);
    assert_eq!(WsResources::read(&path).expect("absent is default"), WsResources::default());
    for (text, expect) in [
        (r#"{"site-name": "x"}"#, "site_name"),
        (r#"{"routes": {"no-slash": "/index.html"}}"#, "starts with '/'"),
        (r#"{"ignore": ["/a/*/b/*/c/*"]}"#, "two '*'"),
        (r#"{"headers": 3}"#, "invalid type"),
        ("{", "EOF"),
    ] {
        std::fs::write(&path, text).expect("write");
        let e = WsResources::read(&path).expect_err(text).to_string();
        assert!(e.contains(expect), "{text}: {e}");
    }
}

#[test]
fn content_types_follow_the_reference_table() {
    for (path, mime) in [
        ("/a.html", "text/html"),
        ("/a/b.js", "text/javascript"),
        ("/x.svg", "image/svg+xml"),
        ("/f.woff2", "font/woff2"),
        ("/m.wasm", "application/octet-stream"),
        ("/LICENSE", "application/octet-stream"),
        ("/IMG.PNG", "application/octet-stream"),
    ] {
        assert_eq!(content_type(path), mime, "{path}");
    }
}

#[test]
fn a_directory_reads_in_path_order_without_its_configuration_or_ignored_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), WS_RESOURCES, EXAMPLE.as_bytes());
    write(dir.path(), "/index.html", b"<h1>hi</h1>");
    write(dir.path(), "/css/site.css", b"body{}");
    write(dir.path(), "/private/key", b"secret");
    write(dir.path(), "/secret.txt", b"secret");
    let ws = WsResources::read(&dir.path().join(WS_RESOURCES)).expect("config");
    let files = read_site_dir(dir.path(), &ws).expect("reads");
    let paths: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["/css/site.css", "/index.html"]);
    assert_eq!(files[1].hash, sha256(b"<h1>hi</h1>"));
}

#[test]
fn a_plan_uploads_only_changed_bytes_and_rerecords_changed_headers() {
    let local = |path: &str, data: &[u8], cache: &str| LocalResource {
        path: path.into(),
        headers: [("cache-control".to_string(), cache.to_string())].into(),
        hash: sha256(data),
        data: data.to_vec(),
    };
    let on_chain = |file: &LocalResource| {
        let mut headers = file.headers.clone();
        headers.insert(walrus_chain::site::QUILT_PATCH_HEADER.into(), "0x0101000200".into());
        Resource {
            path: file.path.clone(),
            headers,
            blob_id: walrus_core::BlobId([7; 32]),
            blob_hash: file.hash,
            range: None,
        }
    };
    let same = local("/same", b"same", "a");
    let changed_bytes = local("/bytes", b"new", "a");
    let changed_headers = local("/headers", b"h", "b");
    let existing = vec![
        on_chain(&same),
        on_chain(&local("/bytes", b"old", "a")),
        on_chain(&local("/headers", b"h", "a")),
        on_chain(&local("/gone", b"g", "a")),
    ];
    let plan = plan(vec![same, changed_bytes.clone(), changed_headers], &existing);
    assert_eq!(plan.unchanged, 1);
    assert_eq!(plan.upload, vec![changed_bytes]);
    assert_eq!(plan.remove, vec!["/gone".to_string()]);
    assert_eq!(plan.rerecord.len(), 1);
    let rerecorded = &plan.rerecord[0];
    assert_eq!((rerecorded.path.as_str(), rerecorded.headers["cache-control"].as_str()), ("/headers", "b"));
    assert_eq!(rerecorded.blob_id, walrus_core::BlobId([7; 32]), "the blob is kept");
    assert_eq!(rerecorded.quilt_patch(), Some((1, 2)), "and its patch");
}
