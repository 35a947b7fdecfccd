//! The gateway's web page in headless Chromium (Debian's `chromium` and `chromium-driver`,
//! installed by `.ci/run`), driven through ChromeDriver's WebDriver protocol: choose a file,
//! upload it, see its blob ID, read the blob back by ID and see its content; with the gateway
//! gone, see the store fail. Ignored by a plain
//! `cargo test`; `.ci/run` installs both and runs it (without them it fails and says so).

use walrus_testkit::browser::{Driver, CHROMEDRIVER, CHROMIUM};
use walrus_testkit::free_port;

use crate::common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and chromedriver; .ci/run installs them and runs the ignored tests"]
async fn the_page_uploads_a_file_and_reads_it_back_in_chromium() {
    for program in [CHROMEDRIVER, CHROMIUM] {
        assert!(std::path::Path::new(program).exists(), "{program} is not installed (.ci/run installs it)");
    }
    let (net, gateway, _) = common::daemon(12, |_| {}).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("hello.txt");
    let content = "hello from a browser\n".repeat(20);
    std::fs::write(&file, &content).expect("write");

    let driver = Driver::start(free_port()).await;
    let page = format!("http://{}/", gateway.addr);
    driver.open(&page).await;
    driver.type_into("#file", file.to_str().expect("utf-8")).await;
    driver.click("#upload").await;
    let stored = driver.text_when("#result", |t| t.starts_with("Stored") || t.contains("failed")).await;
    assert!(stored.starts_with("Stored: "), "{stored}");
    let blob_id = stored["Stored: ".len()..].split_whitespace().next().expect("a blob ID").to_string();
    let expected = walrus_core::encode::compute_metadata(
        walrus_core::EncodingParams::new(10).expect("n"),
        content.as_bytes(),
    )
    .expect("metadata");
    assert_eq!(blob_id, expected.blob_id().to_string());

    driver.click("#download").await;
    let read = driver.text_when("#read-result", |t| t.ends_with("bytes") || t.contains("failed")).await;
    assert_eq!(read, format!("{} bytes", content.len()));
    let shown = driver.text_when("#content", |t| !t.is_empty()).await;
    assert_eq!(shown.trim_end(), content.trim_end());

    // Two files as a quilt: each listed with a link to its patch, which serves its bytes.
    let other = tmp.path().join("other.txt");
    std::fs::write(&other, "a second file\n").expect("write");
    let both = format!("{}\n{}", file.display(), other.display());
    driver.type_into("#files", &both).await;
    driver.click("#upload-quilt").await;
    let quilt = driver.text_when("#quilt-result", |t| t.starts_with("Quilt") || t.contains("failed")).await;
    assert!(quilt.ends_with("(2 patches)"), "{quilt}");
    let listed = driver.text_when("#patches", |t| !t.is_empty()).await;
    assert_eq!(listed.lines().collect::<Vec<_>>(), ["hello.txt", "other.txt"]);
    let quilt_id = quilt["Quilt: ".len()..].split_whitespace().next().expect("a quilt ID");
    let http = walrus_tls::http_client().build().expect("an HTTP client");
    let base = format!("http://{}", gateway.addr);
    let read =
        http.get(format!("{base}/v1/blobs/by-quilt-id/{quilt_id}/hello.txt")).send().await.expect("patch");
    assert_eq!(read.text().await.expect("text"), content);

    // The gateway gone, a store says that its request failed instead of staying on "Storing…".
    gateway.stop().await.expect("stopped");
    driver.click("#upload").await;
    let failed = driver.text_when("#result", |t| t.contains("failed")).await;
    assert!(failed.starts_with("Store failed: the request did not complete"), "{failed}");
    driver.quit().await;
    net.stop().await;
}
