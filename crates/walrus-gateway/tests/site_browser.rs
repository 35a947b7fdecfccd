//! A Walrus Site in headless Chromium (installed by `.ci/run`; ignored by a plain `cargo
//! test`): a multi-page site (HTML, CSS, JavaScript, SVG and PNG images, a font, a nested
//! folder, a custom 404, headers, routes, redirects and ignored files) is published and loaded
//! through the portal: the page renders with its style, its script runs, its images and font
//! load, its links lead to the other pages, redirects and routes behave as declared, and
//! ignored files are absent.

use std::path::Path;

use base64::Engine as _;
use serde_json::{json, Value};
use walrus_chain::site::base36;
use walrus_core::keys::Ed25519KeyPair;
use walrus_gateway::portal::{start_portal, PortalConfig};
use walrus_gateway::{start, GatewayConfig};
use walrus_sdk::site::SiteOptions;
use walrus_sdk::Client;
use walrus_testkit::browser::{Driver, CHROMEDRIVER, CHROMIUM};
use walrus_testkit::{free_port, Net};

/// A 1x1 PNG.
const PNG: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

const INDEX: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Home</title>
<link rel="stylesheet" href="/css/site.css"></head>
<body><h1 id="title">A Walrus Site</h1>
<img id="png" src="/img/dot.png"><img id="svg" src="/img/logo.svg">
<a id="to-guide" href="/docs/guide/">Guide</a>
<script src="/js/app.js"></script></body></html>"#;

const APP_JS: &str = r#"
document.body.dataset.ran = "yes";
const loaded = (img) => new Promise((ok) => img.complete ? ok(img.naturalWidth > 0)
  : (img.onload = () => ok(img.naturalWidth > 0), img.onerror = () => ok(false)));
window.checks = Promise.all([
  loaded(document.getElementById("png")),
  loaded(document.getElementById("svg")),
  document.fonts.load("16px SiteFont").then((faces) => faces.length > 0, () => false),
]);
"#;

const CSS: &str = "@font-face { font-family: SiteFont; src: url(/fonts/site.ttf); }\n\
                   h1 { color: rgb(0, 128, 128); font-family: SiteFont; }\n";

const WS_RESOURCES: &str = r#"{
  "headers": { "/docs/*": { "Cache-Control": "max-age=600" } },
  "routes": { "/app/*": "/app.html" },
  "redirects": { "/old/*": { "location": "/docs/guide/", "status_code": 301 } },
  "ignore": ["/drafts/*"]
}"#;

fn write(dir: &Path, path: &str, data: &[u8]) {
    let file = dir.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(file.parent().expect("a parent")).expect("mkdir");
    std::fs::write(file, data).expect("write");
}

fn a_font() -> Vec<u8> {
    let fonts = Path::new("/usr/share/fonts/truetype");
    let found = walk(fonts).into_iter().find(|p| p.extension().is_some_and(|e| e == "ttf"));
    std::fs::read(found.expect("a TrueType font under /usr/share/fonts (Chromium's packages bring some)"))
        .expect("font")
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn site(dir: &Path) {
    write(dir, "/ws-resources.json", WS_RESOURCES.as_bytes());
    write(dir, "/index.html", INDEX.as_bytes());
    write(dir, "/css/site.css", CSS.as_bytes());
    write(dir, "/js/app.js", APP_JS.as_bytes());
    write(dir, "/img/dot.png", &base64::engine::general_purpose::STANDARD.decode(PNG).expect("PNG"));
    let svg =
        "<svg xmlns='http://www.w3.org/2000/svg' width='8' height='8'><rect width='8' height='8'/></svg>";
    write(dir, "/img/logo.svg", svg.as_bytes());
    write(dir, "/fonts/site.ttf", &a_font());
    write(
        dir,
        "/docs/guide/index.html",
        b"<!doctype html><title>Guide</title><a id='home' href='/'>Home</a>",
    );
    write(dir, "/app.html", b"<!doctype html><title>App</title><p id='route'>app shell</p>");
    write(dir, "/404.html", b"<!doctype html><title>Not here</title><p id='missing'>custom 404</p>");
    write(dir, "/drafts/secret.html", b"<!doctype html><title>Secret</title>");
}

/// The page's title once it is `title` (within 20 s).
async fn title_is(driver: &Driver, title: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let now = driver.script("return document.title", json!([])).await;
        if now == title {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "title {now} never became {title}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and chromedriver; .ci/run installs them and runs the ignored tests"]
async fn a_published_site_renders_runs_and_navigates_in_chromium() {
    for program in [CHROMEDRIVER, CHROMIUM] {
        assert!(Path::new(program).exists(), "{program} is not installed (.ci/run installs it)");
    }
    let net = Net::start(4).await;
    let wallet = Ed25519KeyPair::from_seed(&[43; 32]);
    net.chain_client.faucet(wallet.address(), 1_000_000_000_000).await.expect("funded");
    let client = Client::new(&net.chain_url, wallet);
    let any = "127.0.0.1:0".parse().expect("addr");
    let gateway = start(GatewayConfig::new(any), &net.chain_url, None).await.expect("aggregator");
    let portal = start_portal(PortalConfig::new(any, &net.chain_url, &format!("http://{}", gateway.addr)))
        .await
        .expect("portal");
    let dir = tempfile::tempdir().expect("dir");
    site(dir.path());
    let options = SiteOptions { epochs_ahead: 2, site_name: None };
    let report = client.publish_site(dir.path(), &options).await.expect("published");
    assert_eq!(report.uploaded_files, 9, "the draft is ignored: {report:?}");
    let origin = format!("http://{}.localhost:{}", base36::encode(&report.site), portal.addr.port());

    let driver = Driver::start(free_port()).await;
    driver.open(&format!("{origin}/")).await;
    title_is(&driver, "Home").await;
    let checks = "const done = arguments[0]; window.checks.then((c) => done(c));";
    let body = json!({ "script": checks, "args": [] });
    let loaded = driver.call("POST", &format!("/session/{}/execute/async", driver.session), body).await;
    assert_eq!(loaded, json!([true, true, true]), "PNG, SVG and font load");
    let page = driver
        .script(
            "return [document.body.dataset.ran, getComputedStyle(document.getElementById('title')).color]",
            json!([]),
        )
        .await;
    assert_eq!(page, json!(["yes", "rgb(0, 128, 128)"]), "the script ran and the style applies");

    // A link to the nested page, and back.
    driver.click("#to-guide").await;
    title_is(&driver, "Guide").await;
    driver.click("#home").await;
    title_is(&driver, "Home").await;
    // A redirect, a route, a missing page, an ignored file.
    driver.open(&format!("{origin}/old/anything")).await;
    title_is(&driver, "Guide").await;
    let url: Value = driver.script("return location.pathname", json!([])).await;
    assert_eq!(url, "/docs/guide/");
    driver.open(&format!("{origin}/app/settings/7")).await;
    title_is(&driver, "App").await;
    for missing in ["/nowhere.html", "/drafts/secret.html"] {
        driver.open(&format!("{origin}{missing}")).await;
        title_is(&driver, "Not here").await;
    }

    driver.quit().await;
    portal.stop().await.expect("stopped");
    gateway.stop().await.expect("stopped");
    net.stop().await;
}
