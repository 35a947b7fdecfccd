//! Optional JWT authentication of the publisher, as the reference (`--jwt-decode-secret`):
//! `Authorization: Bearer <JWT>` signed with HS256; `exp` and `jti` are required (each `jti`
//! is accepted once, kept until its `exp`); with `verify_upload`, the claims `epochs` or
//! `max_epochs`, `size` or `max_size`, and `send_object_to` bound the request. Only HS256 is
//! supported here (the reference also takes the ES, RS, PS and EdDSA families).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{header, HeaderMap, StatusCode};
use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::GatewayError;

/// How tokens are checked.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// The HS256 secret.
    pub secret: Vec<u8>,
    /// Check the request against the token's upload claims.
    pub verify_upload: bool,
    /// If set, tokens must carry `iat` and live at most this many seconds (`exp - iat`).
    pub max_lifetime_secs: Option<u64>,
    /// Most unexpired `jti`s remembered; beyond, new tokens are refused until some expire.
    pub replay_cache_max: usize,
}

impl JwtConfig {
    /// HS256 with `secret`, upload claims checked, 100 000 remembered tokens.
    pub fn new(secret: Vec<u8>) -> Self {
        JwtConfig { secret, verify_upload: true, max_lifetime_secs: None, replay_cache_max: 100_000 }
    }
}

/// The claims the publisher reads.
#[derive(Debug, Deserialize)]
struct Claims {
    exp: u64,
    jti: String,
    #[serde(default)]
    iat: Option<u64>,
    #[serde(default)]
    send_object_to: Option<String>,
    #[serde(default)]
    epochs: Option<u32>,
    #[serde(default)]
    max_epochs: Option<u32>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    max_size: Option<u64>,
}

/// What a store asks for, to be checked against the token.
pub(crate) struct Upload<'a> {
    pub(crate) epochs: u32,
    pub(crate) size: u64,
    pub(crate) send_object_to: Option<&'a str>,
}

/// Checks tokens and remembers the `jti`s it accepted.
#[derive(Debug)]
pub(crate) struct Authenticator {
    config: JwtConfig,
    seen: Mutex<BTreeMap<String, u64>>,
}

impl Authenticator {
    pub(crate) fn new(config: JwtConfig) -> Self {
        Authenticator { config, seen: Mutex::new(BTreeMap::new()) }
    }

    /// Accepts the request's token for `upload`, or says why not (401).
    pub(crate) fn check(&self, headers: &HeaderMap, upload: &Upload<'_>) -> Result<(), GatewayError> {
        let denied = |why: &str| GatewayError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", why);
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| denied("this publisher needs `Authorization: Bearer <JWT>`"))?;
        let claims = self.verify(token.trim()).map_err(|why| denied(&why))?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if claims.exp <= now {
            return Err(denied("the token has expired"));
        }
        if let Some(max) = self.config.max_lifetime_secs {
            let iat = claims.iat.ok_or_else(|| denied("the token has no `iat`"))?;
            if claims.exp.saturating_sub(iat) > max {
                return Err(denied("the token lives longer than this publisher allows"));
            }
        }
        if self.config.verify_upload {
            check_upload(&claims, upload).map_err(|why| denied(&why))?;
        }
        let mut seen = self.seen.lock().map_err(|_| denied("the replay cache is unusable"))?;
        seen.retain(|_, exp| *exp > now);
        if seen.contains_key(&claims.jti) {
            return Err(denied("the token was already used"));
        }
        if seen.len() >= self.config.replay_cache_max {
            return Err(GatewayError::busy());
        }
        seen.insert(claims.jti, claims.exp);
        Ok(())
    }

    fn verify(&self, token: &str) -> Result<Claims, String> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("the token is not a JWT (header.payload.signature)".into());
        };
        let decode = |part: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| "the token is not base64url".to_string())
        };
        let header: serde_json::Value = serde_json::from_slice(&decode(header)?)
            .map_err(|_| "the token's header is not JSON".to_string())?;
        if header["alg"] != "HS256" {
            return Err(format!("algorithm {} is not accepted (HS256 only)", header["alg"]));
        }
        let signed = &token[..token.len() - signature.len() - 1];
        let expected = hmac_sha256(&self.config.secret, signed.as_bytes());
        if !constant_time_eq(&decode(signature)?, &expected) {
            return Err("the token's signature does not verify".into());
        }
        serde_json::from_slice(&decode(payload)?).map_err(|e| format!("the token's claims are invalid: {e}"))
    }
}

fn check_upload(claims: &Claims, upload: &Upload<'_>) -> Result<(), String> {
    if claims.epochs.is_some_and(|e| e != upload.epochs) {
        return Err(format!("the token allows epochs = {:?}, not {}", claims.epochs, upload.epochs));
    }
    if claims.max_epochs.is_some_and(|e| upload.epochs > e) {
        return Err(format!("the token allows at most {:?} epochs", claims.max_epochs));
    }
    if claims.size.is_some_and(|s| s != upload.size) {
        return Err(format!("the token allows a blob of {:?} bytes, not {}", claims.size, upload.size));
    }
    if claims.max_size.is_some_and(|s| upload.size > s) {
        return Err(format!("the token allows at most {:?} bytes", claims.max_size));
    }
    if claims.send_object_to.is_some() && claims.send_object_to.as_deref() != upload.send_object_to {
        return Err("the token requires send_object_to to be its own address".into());
    }
    Ok(())
}

/// An HS256 JWT of `claims`, signed with `secret` (for issuing tokens to uploaders, and tests).
pub fn hs256_token(secret: &[u8], claims: &serde_json::Value) -> String {
    let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let signed =
        format!("{}.{}", encode(br#"{"alg":"HS256","typ":"JWT"}"#), encode(claims.to_string().as_bytes()));
    let signature = encode(&hmac_sha256(secret, signed.as_bytes()));
    format!("{signed}.{signature}")
}

/// HMAC-SHA256 (RFC 2104).
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            mac.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
