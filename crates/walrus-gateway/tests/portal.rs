//! Walrus Sites end to end over an in-process network (a chain and four storage nodes, 100
//! shards): a site directory with `ws-resources.json` is published through the SDK (as
//! quilts), served by the portal through an aggregator with the reference's resolution order,
//! headers and 404s; an update of one file of the 200 uploads only that file; a lying
//! aggregator is refused, a slow one cannot hold the portal.

use std::path::Path;

use axum::extract::Request;
use axum::response::IntoResponse;
use walrus_chain::site::base36;
use walrus_chain::Call;
use walrus_core::keys::Ed25519KeyPair;
use walrus_gateway::portal::{start_portal, PortalConfig};
use walrus_gateway::{start, GatewayConfig};
use walrus_sdk::site::SiteOptions;
use walrus_sdk::Client;
use walrus_testkit::Net;

fn write(dir: &Path, path: &str, data: &[u8]) {
    let file = dir.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(file.parent().expect("a parent")).expect("mkdir");
    std::fs::write(file, data).expect("write");
}

const WS_RESOURCES: &str = r#"{
  "headers": { "/index.html": { "Cache-Control": "max-age=3500", "X-Site": "demo" } },
  "routes": { "/app/*": "/index.html" },
  "redirects": { "/old/*": { "location": "/about/", "status_code": 301 } },
  "metadata": { "description": "a demo site" },
  "ignore": ["/drafts/*"]
}"#;

fn site_dir(dir: &Path) {
    write(dir, "/ws-resources.json", WS_RESOURCES.as_bytes());
    write(dir, "/index.html", b"<!doctype html><h1>Home</h1><script src=/js/app.js></script>");
    write(dir, "/about/index.html", b"<!doctype html><h1>About</h1>");
    write(dir, "/about.html", b"<!doctype html><h1>About (flat)</h1>");
    write(dir, "/css/site.css", b"h1 { color: teal }");
    write(dir, "/js/app.js", b"document.title = 'ran';");
    write(dir, "/img/logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>");
    write(dir, "/404.html", b"<!doctype html><h1>Custom not found</h1>");
    write(dir, "/drafts/secret.html", b"not for publishing");
    // 193 more: a 200-file site.
    for i in 0..193 {
        write(dir, &format!("/assets/file-{i:03}.txt"), format!("asset {i}\n").repeat(i + 1).as_bytes());
    }
}

/// A GET of `path` on the portal for the site `label`.
async fn get(http: &reqwest::Client, portal: &str, label: &str, path: &str) -> reqwest::Response {
    let port = portal.rsplit(':').next().expect("port");
    http.get(format!("{portal}{path}"))
        .header("host", format!("{label}.localhost:{port}"))
        .send()
        .await
        .expect("GET")
}

async fn text(response: reqwest::Response) -> (u16, String) {
    (response.status().as_u16(), response.text().await.expect("text"))
}

/// An aggregator that never answers.
async fn silent_aggregator() -> std::net::SocketAddr {
    let app = axum::Router::new().fallback(|| async {
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// An aggregator that flips the last byte of every answer from `upstream`.
async fn lying_aggregator(upstream: String) -> std::net::SocketAddr {
    let http = walrus_tls::http_client().build().expect("an HTTP client");
    let app = axum::Router::new().fallback(move |request: Request| {
        let (http, upstream) = (http.clone(), upstream.clone());
        async move {
            let url = format!("{upstream}{}", request.uri());
            let answer = http.get(url).send().await.expect("upstream");
            let status = answer.status();
            let mut body = answer.bytes().await.expect("body").to_vec();
            if let Some(last) = body.last_mut() {
                *last ^= 1;
            }
            (status, body).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_is_published_served_updated_and_checked() {
    let net = Net::start_shaped(4, 100, 3_600_000, |_| {}, |_, _| Vec::new()).await;
    let wallet = Ed25519KeyPair::from_seed(&[41; 32]);
    net.chain_client.faucet(wallet.address(), 1_000_000_000_000).await.expect("funded");
    let client = Client::new(&net.chain_url, wallet);
    let gateway = start(GatewayConfig::new("127.0.0.1:0".parse().expect("addr")), &net.chain_url, None)
        .await
        .expect("aggregator");
    let aggregator = format!("http://{}", gateway.addr);
    let bind = "127.0.0.1:0".parse().expect("addr");
    let mut config = PortalConfig::new(bind, &net.chain_url, &aggregator);
    config.max_resource_bytes = 4096;
    let portal = start_portal(config.clone()).await.expect("portal");
    let base = format!("http://{}", portal.addr);
    let http = walrus_tls::http_client().redirect(reqwest::redirect::Policy::none()).build().expect("client");

    let dir = tempfile::tempdir().expect("dir");
    site_dir(dir.path());
    let options = SiteOptions { epochs_ahead: 2, site_name: None };
    let report = client.publish_site(dir.path(), &options).await.expect("published");
    assert_eq!((report.uploaded_files, report.unchanged), (200, 0), "the draft is ignored: {report:?}");
    assert!(report.blobs.len() <= 4, "quilts of up to 66 files: {report:?}");
    let written = walrus_sdk::site::WsResources::read(&dir.path().join("ws-resources.json")).expect("config");
    assert_eq!(written.object_id, Some(report.site), "the object ID is written back");
    let label = base36::encode(&report.site);

    // Pages, assets and their headers.
    let home = get(&http, &base, &label, "/").await;
    assert_eq!(home.status(), 200);
    let headers = home.headers().clone();
    assert_eq!(headers["content-type"], "text/html");
    assert_eq!(
        (&headers["cache-control"], &headers["x-site"]),
        (&"max-age=3500".parse().expect("v"), &"demo".parse().expect("v"))
    );
    assert!(headers.get("x-wal-quilt-patch-internal-id").is_none());
    assert!(home.text().await.expect("text").contains("Home"));
    let css = get(&http, &base, &label, "/css/site.css").await;
    assert_eq!(
        (css.headers()["content-type"].to_str().ok(), css.headers()["cache-control"].to_str().ok()),
        (Some("text/css"), Some("no-cache"))
    );
    let etag = css.headers()["etag"].clone();
    let svg = get(&http, &base, &label, "/img/logo.svg").await;
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert_eq!(
        text(get(&http, &base, &label, "/about/").await).await,
        (200, "<!doctype html><h1>About</h1>".into()),
        "/about/ is /about/index.html"
    );
    // Revalidation costs no fetch.
    let port = base.rsplit(':').next().expect("port");
    let again = http
        .get(format!("{base}/css/site.css"))
        .header("host", format!("{label}.localhost:{port}"))
        .header("if-none-match", etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(again.status(), 304);

    // Redirects, routes, the site's 404, ignored files, unknown sites and names.
    let old = get(&http, &base, &label, "/old/page").await;
    assert_eq!((old.status().as_u16(), old.headers()["location"].to_str().ok()), (301, Some("/about/")));
    assert!(text(get(&http, &base, &label, "/app/settings/42").await).await.1.contains("Home"));
    assert_eq!(
        text(get(&http, &base, &label, "/nope.html").await).await,
        (404, "<!doctype html><h1>Custom not found</h1>".into())
    );
    assert_eq!(get(&http, &base, &label, "/drafts/secret.html").await.status(), 404);
    let unknown = text(get(&http, &base, &base36::encode(&walrus_core::ObjectId([7; 32])), "/").await).await;
    assert!(unknown.0 == 404 && unknown.1.contains("Walrus Site not found"), "{unknown:?}");
    assert_eq!(get(&http, &base, "nobody", "/").await.status(), 404);
    let call = Call::SetSiteName { name: "demo".into(), site: Some(report.site) };
    client.chain().execute(client.wallet(), call).await.expect("named");
    assert!(text(get(&http, &base, "demo", "/").await).await.1.contains("Home"), "by name");
    let landing = http.get(format!("{base}/")).send().await.expect("landing");
    assert!(landing.text().await.expect("text").contains("Walrus Sites portal"));

    // An update of one file uploads that file alone; the portal serves it.
    write(dir.path(), "/css/site.css", b"h1 { color: purple }");
    let update = client.update_site(dir.path(), report.site, &options).await.expect("updated");
    assert_eq!((update.uploaded_files, update.uploaded_bytes, update.unchanged), (1, 20, 199), "{update:?}");
    assert_eq!(update.blobs.len(), 1, "{update:?}");
    assert!(update.paid.0 > 0 && update.paid.0 < report.paid.0 / 2, "{update:?} against {report:?}");
    assert_eq!(
        text(get(&http, &base, &label, "/css/site.css").await).await,
        (200, "h1 { color: purple }".into())
    );
    let nothing = client.update_site(dir.path(), report.site, &options).await.expect("no change");
    assert_eq!((nothing.uploaded_files, nothing.transactions, nothing.paid.0), (0, 0, 0), "{nothing:?}");

    let (lied_to, blocking) =
        refusals(&http, (&base, &config), &aggregator, &label, &client, dir.path(), report.site).await;

    // Destroyed, it is gone.
    client.destroy_site(report.site).await.expect("destroyed");
    assert_eq!(get(&http, &base, &label, "/").await.status(), 404);
    for server in [portal, lied_to, blocking, gateway] {
        server.stop().await.expect("stops");
    }
    net.stop().await;
}

/// A lying aggregator's bytes are refused; a resource too large is never buffered; the
/// blocklist takes names and IDs. Returns the extra portals, to stop.
async fn refusals(
    http: &reqwest::Client,
    (base, config): (&str, &PortalConfig),
    aggregator: &str,
    label: &str,
    client: &Client,
    dir: &Path,
    site: walrus_core::ObjectId,
) -> (walrus_gateway::RunningGateway, walrus_gateway::RunningGateway) {
    let options = SiteOptions { epochs_ahead: 2, site_name: None };
    let liar = lying_aggregator(aggregator.to_string()).await;
    let mut lied_to = config.clone();
    lied_to.aggregator_url = format!("http://{liar}");
    let lied_to = start_portal(lied_to).await.expect("portal");
    let (status, page) =
        text(get(http, &format!("http://{}", lied_to.addr), label, "/js/app.js").await).await;
    assert_eq!(status, 422);
    assert!(page.contains("Hash mismatch") && !page.contains("document.title"), "{page}");
    write(dir, "/big.bin", &vec![7u8; 5000]);
    client.update_site(dir, site, &options).await.expect("updated");
    let big = text(get(http, base, label, "/big.bin").await).await;
    assert!(big.0 == 500 && big.1.contains("larger than"), "{big:?}");

    let mut blocking = config.clone();
    blocking.blocklist = ["demo".to_string(), site.to_string()].into();
    let blocking = start_portal(blocking).await.expect("portal");
    let blocked = format!("http://{}", blocking.addr);
    for label in [label, "demo"] {
        let (status, page) = text(get(http, &blocked, label, "/").await).await;
        assert!(status == 404 && page.contains("coffee break"), "{label}: {status} {page}");
    }

    // A client cannot hold more than the portal's requests at once, nor one for longer than
    // the fetch timeout.
    let mut stuck = config.clone();
    stuck.aggregator_url = format!("http://{}", silent_aggregator().await);
    stuck.max_concurrent = 1;
    stuck.fetch_timeout = std::time::Duration::from_secs(2);
    let stuck = start_portal(stuck).await.expect("portal");
    let stuck_url = format!("http://{}", stuck.addr);
    let first = tokio::spawn({
        let (http, url, label) = (http.clone(), stuck_url.clone(), label.to_string());
        async move { text(get(&http, &url, &label, "/js/app.js").await).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(get(http, &stuck_url, label, "/js/app.js").await.status(), 429);
    let (status, page) = first.await.expect("first request");
    assert!(status == 503 && page.contains("cannot answer"), "{status} {page}");
    stuck.stop().await.expect("stops");

    (lied_to, blocking)
}
