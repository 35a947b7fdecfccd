//! The Walrus Sites portal (`walrus portal`), as the reference's server-side portal serves
//! sites: the host's subdomain names a site (its object ID in base36, or a name registered on
//! chain), the path a resource; the site and its resources are read from the chain with proofs
//! (`walrus_chain_client::sites`), the bytes from an aggregator, and every resource's SHA-256 is
//! checked against the hash the site recorded before a byte is served (422 otherwise).
//!
//! Resolution, as the reference: the resource at the path (`/` is `/index.html`; one trailing
//! `/` is dropped; beyond the reference, `/docs` is also `/docs/index.html`), then the site's redirects, then its routes, then the site's `/404.html`
//! (served with 404), then the portal's 404 page. Responses carry the site's headers, an `ETag`
//! (the recorded hash; `If-None-Match` gets 304 without fetching a byte) and, where the site set
//! none, `Cache-Control: no-cache` (a browser revalidates, since a site may change).

mod pages;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use sha2::{Digest as _, Sha256};
use tokio::sync::Semaphore;
use walrus_chain::site::{base36, check_name, pattern, resource_object_id, Resource, QUILT_PATCH_HEADER};
use walrus_chain_client::{ChainClient, ClientError};
use walrus_core::quilt::QuiltPatchId;
use walrus_core::ObjectId;

use crate::{RunningGateway, StartError};

/// How the portal is set up.
#[derive(Debug, Clone)]
pub struct PortalConfig {
    /// Where to listen.
    pub bind: SocketAddr,
    /// The chain RPC.
    pub chain_url: String,
    /// The aggregator the bytes come from (`http://HOST:PORT`).
    pub aggregator_url: String,
    /// The portal's domain: sites are its subdomains (`localhost`: `http://SITE.localhost:PORT`).
    pub domain: String,
    /// Sites not served: object IDs (hex or base36) and names.
    pub blocklist: BTreeSet<String>,
    /// Largest resource served, in bytes (64 MiB); a larger one is refused, never buffered.
    pub max_resource_bytes: u64,
    /// Requests answered at once; more get 429.
    pub max_concurrent: usize,
    /// How long one aggregator fetch may take.
    pub fetch_timeout: Duration,
    /// The HTTP server's connection and timeout limits.
    pub server: walrus_http::ServerLimits,
}

impl PortalConfig {
    /// The defaults, listening on `bind`.
    pub fn new(bind: SocketAddr, chain_url: &str, aggregator_url: &str) -> Self {
        PortalConfig {
            bind,
            chain_url: chain_url.to_string(),
            aggregator_url: aggregator_url.trim_end_matches('/').to_string(),
            domain: "localhost".into(),
            blocklist: BTreeSet::new(),
            max_resource_bytes: 64 << 20,
            max_concurrent: 64,
            fetch_timeout: Duration::from_secs(60),
            server: walrus_http::ServerLimits::default(),
        }
    }
}

struct Portal {
    config: PortalConfig,
    chain: ChainClient,
    http: reqwest::Client,
    slots: Arc<Semaphore>,
}

/// Starts the portal.
pub async fn start_portal(config: PortalConfig) -> Result<RunningGateway, StartError> {
    let bind = config.bind;
    let listener =
        walrus_http::bind(bind).await.map_err(|source| StartError::Listen { addr: bind, source })?;
    let http = walrus_tls::http_client().build().map_err(|e| StartError::HttpClient(e.to_string()))?;
    let portal = Arc::new(Portal {
        chain: ChainClient::new(&config.chain_url),
        slots: Arc::new(Semaphore::new(config.max_concurrent)),
        http,
        config,
    });
    let limits = portal.config.server;
    let app = Router::new().fallback(serve).with_state(portal);
    walrus_http::spawn(listener, app, limits).map_err(|source| StartError::Listen { addr: bind, source })
}

/// The subdomain of `host` under `domain`: `None` for the bare domain (or another host).
fn subdomain<'a>(host: &'a str, domain: &str) -> Option<&'a str> {
    let host = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    host.strip_suffix(domain)?.strip_suffix('.').filter(|s| !s.is_empty())
}

/// The resource path of a request path: `/` is `/index.html`, one trailing `/` dropped, then
/// percent-decoded (refused if that is not UTF-8).
fn resource_path(path: &str) -> Option<String> {
    let path = match path {
        "/" => "/index.html",
        p if p.len() > 1 => p.strip_suffix('/').unwrap_or(p),
        p => p,
    };
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

async fn serve(State(portal): State<Arc<Portal>>, request: Request) -> Response {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        let mut response = pages::bad_request("only GET and HEAD are served");
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let Ok(_slot) = portal.slots.try_acquire() else { return pages::busy() };
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let Some(label) = subdomain(host, &portal.config.domain).map(str::to_ascii_lowercase) else {
        return match request.uri().path() {
            "/status" => "OK".into_response(),
            _ => pages::landing(&portal.config.domain),
        };
    };
    let Some(path) = resource_path(request.uri().path()) else {
        return pages::bad_request("the path is not UTF-8 once percent-decoded");
    };
    if walrus_chain::site::check_path(&path).is_err() {
        return pages::bad_request("the path is too long or has control characters");
    }
    let site = match portal.resolve(&label).await {
        Ok(Some(site)) => site,
        Ok(None) => return pages::site_not_found(),
        Err(Refused::Blocked) => return pages::blocked(),
        Err(Refused::Chain(e)) => return pages::unavailable(&format!("the chain cannot answer: {e}")),
    };
    portal.site_response(site, &path, request.headers()).await
}

enum Refused {
    Blocked,
    Chain(ClientError),
}

impl Portal {
    /// The site a label names, `None` if none; refused if blocked.
    async fn resolve(&self, label: &str) -> Result<Option<ObjectId>, Refused> {
        let blocked = |id: &ObjectId| {
            let list = &self.config.blocklist;
            list.contains(&id.to_string()) || list.contains(&base36::encode(id))
        };
        if self.config.blocklist.contains(label) {
            return Err(Refused::Blocked);
        }
        let id = match base36::decode(label) {
            Some(id) => id,
            None if check_name(label).is_ok() => {
                match self.chain.proven_site_name(label).await.map_err(Refused::Chain)? {
                    Some(id) => id,
                    None => return Ok(None),
                }
            }
            None => return Ok(None),
        };
        if blocked(&id) {
            return Err(Refused::Blocked);
        }
        Ok(Some(id))
    }

    /// The answer for `path` of `site`, in the reference's order.
    async fn site_response(&self, site: ObjectId, path: &str, request: &HeaderMap) -> Response {
        let chain_down = |e: ClientError| pages::unavailable(&format!("the chain cannot answer: {e}"));
        // `/docs` (and `/docs/`) is also `/docs/index.html`, as static hosts serve it.
        let index = format!("{}/index.html", path.trim_end_matches('/'));
        let proven = match self.chain.proven_site(&site, &[path, &index, "/404.html"]).await {
            Ok(Some(proven)) => proven,
            Ok(None) => return pages::site_not_found(),
            Err(e) => return chain_down(e),
        };
        let found = |path: &str| proven.resources.get(path).and_then(Option::as_ref);
        if let Some(resource) = found(path).or_else(|| found(&index)) {
            return self.resource_response(site, resource, StatusCode::OK, request).await;
        }
        if let Some(redirect) = pattern::best(&proven.site.redirects, path) {
            let mut response =
                StatusCode::from_u16(redirect.status_code).unwrap_or(StatusCode::FOUND).into_response();
            if let Ok(location) = HeaderValue::from_str(&redirect.location) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            return response;
        }
        if let Some(target) = pattern::best(&proven.site.routes, path) {
            match self.chain.proven_site(&site, &[target]).await {
                Ok(Some(routed)) => {
                    if let Some(Some(resource)) = routed.resources.get(target.as_str()) {
                        return self.resource_response(site, resource, StatusCode::OK, request).await;
                    }
                }
                Ok(None) => return pages::site_not_found(),
                Err(e) => return chain_down(e),
            }
        }
        match proven.resources.get("/404.html") {
            Some(Some(resource)) if path != "/404.html" => {
                self.resource_response(site, resource, StatusCode::NOT_FOUND, request).await
            }
            _ => pages::page_not_found(),
        }
    }

    /// The resource's bytes from the aggregator, checked against its hash, with its headers.
    async fn resource_response(
        &self,
        site: ObjectId,
        resource: &Resource,
        status: StatusCode,
        request: &HeaderMap,
    ) -> Response {
        let etag = format!("\"{}\"", hex::encode(resource.blob_hash));
        let mut headers = HeaderMap::new();
        for (name, value) in &resource.headers {
            // Framing is the server's; the patch header is for this portal.
            if matches!(
                name.as_str(),
                "content-length" | "transfer-encoding" | "connection" | QUILT_PATCH_HEADER
            ) {
                continue;
            }
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(name.as_str()), HeaderValue::from_str(value))
            {
                headers.insert(name, value);
            }
        }
        headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-cache"));
        headers.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex"));
        let resource_id = resource_object_id(&site, &resource.path).to_string();
        headers.insert("x-resource-sui-object-id", HeaderValue::from_str(&resource_id).expect("hex"));
        let matches_etag = request
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag || tag.trim() == "*"));
        if matches_etag && status == StatusCode::OK {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            *response.headers_mut() = headers;
            return response;
        }
        let body = match self.fetch(resource).await {
            Ok(body) => body,
            Err(response) => return response,
        };
        if <[u8; 32]>::from(Sha256::digest(&body)) != resource.blob_hash {
            tracing::warn!(%site, path = %resource.path, "the aggregator returned bytes that do not match the site's hash");
            return pages::hash_mismatch();
        }
        let mut response = (status, Body::from(body)).into_response();
        response.headers_mut().extend(headers);
        response
    }

    /// The resource's bytes: its quilt patch, its range, or its whole blob, at most
    /// [`PortalConfig::max_resource_bytes`]; retried twice on a 5xx or a network failure.
    async fn fetch(&self, resource: &Resource) -> Result<Vec<u8>, Response> {
        let base = &self.config.aggregator_url;
        let url = match resource.quilt_patch() {
            Some((start_index, end_index)) => {
                let id = QuiltPatchId { quilt_id: resource.blob_id, start_index, end_index };
                format!("{base}/v1/blobs/by-quilt-patch-id/{id}")
            }
            None => format!("{base}/v1/blobs/{}", resource.blob_id),
        };
        let range = resource.range.map(|r| {
            let (start, end) = (r.start.map(|s| s.to_string()), r.end.map(|e| e.to_string()));
            format!("bytes={}-{}", start.unwrap_or_default(), end.unwrap_or_default())
        });
        let mut last = String::new();
        for attempt in 0..3 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            let mut request = self.http.get(&url).timeout(self.config.fetch_timeout);
            if let Some(range) = &range {
                request = request.header(header::RANGE, range);
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            let status = response.status();
            if status.is_server_error() {
                last = format!("the aggregator answered {status}");
                continue;
            }
            if status == StatusCode::NOT_FOUND {
                return Err(pages::not_found(
                    "Resource not found",
                    "The aggregator does not have this resource's blob.",
                ));
            }
            if !status.is_success() {
                return Err(pages::failed(&format!("the aggregator answered {status}")));
            }
            return self.read_limited(response).await;
        }
        Err(pages::unavailable(&format!("the aggregator cannot answer: {last}")))
    }

    async fn read_limited(&self, mut response: reqwest::Response) -> Result<Vec<u8>, Response> {
        let max = self.config.max_resource_bytes;
        let too_large = || pages::failed(&format!("the resource is larger than this portal's {max} bytes"));
        if response.content_length().is_some_and(|len| len > max) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() as u64 + chunk.len() as u64 > max {
                        return Err(too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                Err(e) => return Err(pages::unavailable(&format!("the aggregator's answer broke off: {e}"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomains_and_paths_as_the_reference_reads_them() {
        assert_eq!(subdomain("docs.localhost:8080", "localhost"), Some("docs"));
        assert_eq!(subdomain("docs.localhost", "localhost"), Some("docs"));
        assert_eq!(subdomain("localhost:8080", "localhost"), None);
        assert_eq!(subdomain("127.0.0.1:8080", "localhost"), None);
        assert_eq!(subdomain("xlocalhost", "localhost"), None);
        assert_eq!(resource_path("/"), Some("/index.html".into()));
        assert_eq!(resource_path("/docs/"), Some("/docs".into()));
        assert_eq!(resource_path("/a%20b.html"), Some("/a b.html".into()));
        assert_eq!(resource_path("/%ff"), None);
        assert_eq!(resource_path("/%2"), None);
    }
}
