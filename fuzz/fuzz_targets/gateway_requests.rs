//! The gateway's decoders of request headers: the aggregator's `Range` (`bytes=a-b`, `a-`,
//! `-n`) and the publisher's bearer token (a JWT, checked with HS256).
//!
//! Byte 0 picks the decoder. A range that is accepted lies within the blob, in order; a refused
//! one is 400 or 416. A token never passes with a signature the fuzzer made up; a token signed
//! with the key over fuzzed header and claims is decoded without panicking, and a refusal is
//! never a server error.

#![no_main]

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use walrus_gateway::auth::JwtConfig;
use walrus_gateway::fuzzing::{byte_range, check_token};

const SECRET: &[u8] = b"the fuzzing secret";

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    match selector % 3 {
        0 => range(rest),
        1 => forged_token(rest),
        _ => signed_token(rest),
    }
});

fn range(data: &[u8]) {
    let Some((total, text)) = data.split_first_chunk::<8>() else { return };
    let total = u64::from_le_bytes(*total);
    let Ok(text) = std::str::from_utf8(text) else { return };
    match byte_range(text, total) {
        Ok((start, end)) => assert!(start <= end && end < total, "{text:?} over {total}: {start}-{end}"),
        Err((status, _)) => assert!(status == 400 || status == 416, "{text:?}: {status}"),
    }
}

/// The whole header from the fuzzer: refused with the key (nothing forges HMAC-SHA256), and
/// without one (claims only) at least never a server error.
fn forged_token(data: &[u8]) {
    let refused = check_token(JwtConfig::new(SECRET.to_vec()), data, 3, 1_000);
    let (status, _) = refused.expect_err("a made-up token passed");
    assert!(status.is_client_error() || status == 504, "{status}");
    if let Err((status, _)) = check_token(JwtConfig::without_key(), data, 3, 1_000) {
        assert!(status.is_client_error() || status == 504, "{status}");
    }
}

/// Header and claims from the fuzzer (split at the first 0xff), signed with the key.
fn signed_token(data: &[u8]) {
    let cut = data.iter().position(|b| *b == 0xff).unwrap_or(data.len());
    let (header, claims) = (&data[..cut], data.get(cut + 1..).unwrap_or_default());
    let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let signed = format!("{}.{}", encode(header), encode(claims));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET);
    let signature = ring::hmac::sign(&key, signed.as_bytes());
    let token = format!("Bearer {signed}.{}", encode(signature.as_ref()));
    if let Err((status, _)) = check_token(JwtConfig::new(SECRET.to_vec()), token.as_bytes(), 3, 1_000) {
        assert!(status.is_client_error() || status == 504, "{status}");
    }
}
