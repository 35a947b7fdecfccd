//! Headless Chromium for browser tests (Debian's `chromium` and `chromium-driver`, which
//! `.ci/run` installs), driven through ChromeDriver's WebDriver protocol.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Debian's ChromeDriver.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Debian's Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// WebDriver's key for element references.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A ChromeDriver process and one headless Chromium session; both end when it is dropped.
pub struct Driver {
    process: Child,
    http: reqwest::Client,
    base: String,
    /// The WebDriver session.
    pub session: String,
}

impl Driver {
    /// Starts ChromeDriver on `port` and a headless Chromium session.
    pub async fn start(port: u16) -> Driver {
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

    /// A WebDriver call; its `value`, asserted not to be an error.
    pub async fn call(&self, method: &str, path: &str, body: Value) -> Value {
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

    /// The reference of the element `css` selects.
    pub async fn element(&self, css: &str) -> String {
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

    /// Types `text` into the element `css` selects.
    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.element(css).await;
        self.call(
            "POST",
            &format!("/session/{}/element/{element}/value", self.session),
            json!({ "text": text }),
        )
        .await;
    }

    /// Clicks the element `css` selects.
    pub async fn click(&self, css: &str) {
        let element = self.element(css).await;
        self.call("POST", &format!("/session/{}/element/{element}/click", self.session), json!({})).await;
    }

    /// The element's text once `done` accepts it (within 30 s).
    pub async fn text_when(&self, css: &str, done: impl Fn(&str) -> bool) -> String {
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

impl Driver {
    /// Opens `url` in the session.
    pub async fn open(&self, url: &str) {
        self.call("POST", &format!("/session/{}/url", self.session), json!({ "url": url })).await;
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page and returns its value.
    pub async fn script(&self, script: &str, args: Value) -> Value {
        let body = json!({ "script": script, "args": args });
        self.call("POST", &format!("/session/{}/execute/sync", self.session), body).await
    }

    /// Ends the session (ChromeDriver stops when the driver is dropped).
    pub async fn quit(self) {
        self.call("DELETE", &format!("/session/{}", self.session), json!({})).await;
    }
}
