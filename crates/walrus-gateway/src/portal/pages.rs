//! The portal's own pages, worded as the reference portal's templates: its 404, the hash
//! mismatch (422), an unavailable aggregator (503), a failure (500), and its landing page.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\
         <body style=\"font-family: sans-serif; max-width: 40em; margin: 4em auto\">{body}</body></html>\n"
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// 404 with the reference's wording and a line saying what was not found.
pub(crate) fn not_found(message: &str, secondary: &str) -> Response {
    let body = format!("<h1>404</h1><h2>{}</h2><p>{}</p>", escape(message), escape(secondary));
    page(StatusCode::NOT_FOUND, "404 - Page Not Found", &body)
}

/// The page when no site, path or name matches (the reference's callback 404).
pub(crate) fn page_not_found() -> Response {
    not_found("Oops!", "Page not found. We can't seem to find the page you're looking for.")
}

/// The page for a site name or ID that resolves to nothing.
pub(crate) fn site_not_found() -> Response {
    not_found("Invalid URL: Walrus Site not found!", "No site has this object ID or name.")
}

/// The page for a blocked site (the reference answers it as a missing one).
pub(crate) fn blocked() -> Response {
    not_found("Well, this is awkward.", "This site has gone on a coffee break.")
}

/// 422: the bytes the aggregator returned are not those the site recorded.
pub(crate) fn hash_mismatch() -> Response {
    page(
        StatusCode::UNPROCESSABLE_ENTITY,
        "🚨422 Hash mismatch🚨",
        "<h1>422 Hash mismatch!</h1>\
         <p>The blob hash does not match the hash of the contents returned by the aggregator.</p>\
         <p>The aggregator may have tampered with the blob contents!</p>\
         <p><a href=\"/\">Back to the landing page!</a></p>",
    )
}

/// 503: the aggregator or the chain cannot answer now.
pub(crate) fn unavailable(what: &str) -> Response {
    let body = format!("<h1>503</h1><h2>Service temporarily unavailable</h2><p>{}</p>", escape(what));
    page(StatusCode::SERVICE_UNAVAILABLE, "503 - Service Unavailable", &body)
}

/// 500: something else failed.
pub(crate) fn failed(what: &str) -> Response {
    let body = format!("<h1>500</h1><h2>Something went wrong</h2><p>{}</p>", escape(what));
    page(StatusCode::INTERNAL_SERVER_ERROR, "500 - Something went wrong", &body)
}

/// 400: a request the portal cannot take.
pub(crate) fn bad_request(what: &str) -> Response {
    let body = format!("<h1>400</h1><h2>Bad request</h2><p>{}</p>", escape(what));
    page(StatusCode::BAD_REQUEST, "400 - Bad Request", &body)
}

/// 429: too many requests at once.
pub(crate) fn busy() -> Response {
    page(
        StatusCode::TOO_MANY_REQUESTS,
        "429 - Too Many Requests",
        "<h1>429</h1><p>Too many requests; retry later.</p>",
    )
}

/// The portal's own page, at its bare domain.
pub(crate) fn landing(domain: &str) -> Response {
    let body = format!(
        "<h1>Walrus Sites portal</h1><p>Sites are served at <code>http://&lt;site&gt;.{}/</code>, \
         where <code>&lt;site&gt;</code> is a site's object ID in base36 (<code>walrus site convert ID</code>) \
         or a name registered with <code>walrus site name set</code>.</p>",
        escape(domain)
    );
    page(StatusCode::OK, "Walrus Sites portal", &body)
}
