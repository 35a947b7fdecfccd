//! The gateway's web page in headless Chromium (Debian's `chromium` and `chromium-driver`,
//! installed by `.ci/run`), driven through ChromeDriver's WebDriver protocol: choose a file,
//! upload it, see its blob ID, read the blob back by ID and see its content. Ignored by a plain
//! `cargo test`; `.ci/run` installs both and runs it (without them it fails and says so).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use walrus_testkit::free_port;

mod common;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// WebDriver's key for element references.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    process: Child,
    http: reqwest::Client,
    base: String,
    session: String,
}

impl Driver {
    async fn start(port: u16) -> Driver {
        let process = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = walrus_tls::http_client().build().expect("an HTTP client");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut driver = Driver { process, http, base, session: String::new() };
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            },
        }}});
        let session = driver.call("POST", "/session", capabilities).await;
        driver.session = session["sessionId"].as_str().expect("a session").to_string();
        driver
    }

    async fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let answer: Value = request.send().await.expect("webdriver answers").json().await.expect("JSON");
        assert!(answer["value"].get("error").is_none(), "{method} {path}: {answer}");
        answer["value"].clone()
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .call(
                "POST",
                &format!("/session/{}/element", self.session),
                json!({
                    "using": "css selector", "value": css,
                }),
            )
            .await;
        found[ELEMENT].as_str().expect("an element").to_string()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.element(css).await;
        self.call(
            "POST",
            &format!("/session/{}/element/{element}/value", self.session),
            json!({ "text": text }),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let element = self.element(css).await;
        self.call("POST", &format!("/session/{}/element/{element}/click", self.session), json!({})).await;
    }

    /// The element's text once `done` accepts it (within 30 s).
    async fn text_when(&self, css: &str, done: impl Fn(&str) -> bool) -> String {
        let element = self.element(css).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = self
                .call("GET", &format!("/session/{}/element/{element}/text", self.session), json!({}))
                .await;
            let text = text.as_str().unwrap_or_default().to_string();
            if done(&text) {
                return text;
            }
            assert!(Instant::now() < deadline, "{css} never became ready; last text: {text:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

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
    driver.call("POST", &format!("/session/{}/url", driver.session), json!({ "url": page })).await;
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

    driver.call("DELETE", &format!("/session/{}", driver.session), json!({})).await;
    drop(driver);
    gateway.stop().await.expect("stopped");
    net.stop().await;
}
