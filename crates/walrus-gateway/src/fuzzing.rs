//! Entry points for the fuzz targets (`fuzz/`): the gateway's decoders of request bytes, the
//! `Range` header and the publisher's bearer token, reachable from outside the crate. Not an
//! API: nothing else calls them.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};

use crate::auth::{Authenticator, JwtConfig, Upload};

/// The aggregator's reading of a `Range` header over a blob of `total` bytes: the inclusive
/// offsets, or the HTTP status and reason of its refusal.
pub fn byte_range(value: &str, total: u64) -> Result<(u64, u64), (StatusCode, &'static str)> {
    crate::aggregator::byte_range(value, total).map_err(|e| (e.status, e.reason))
}

/// The publisher's check of an `Authorization` header's bytes under `config`, for a store of
/// `size` bytes for `epochs` epochs: `Ok`, or the HTTP status and reason of its refusal.
pub fn check_token(
    config: JwtConfig,
    authorization: &[u8],
    epochs: u32,
    size: u64,
) -> Result<(), (StatusCode, &'static str)> {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(authorization) {
        headers.insert(header::AUTHORIZATION, value);
    }
    let upload = Upload { epochs, size, send_object_to: None };
    Authenticator::new(config).check(&headers, &upload).map_err(|e| (e.status, e.reason))
}
