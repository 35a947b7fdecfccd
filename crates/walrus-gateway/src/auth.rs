//! Optional JWT authentication of the publisher, as the reference's (`--jwt-decode-secret`,
//! `--jwt-algorithm`, `--jwt-expiring-sec`, `--jwt-verify-upload`): stores carry
//! `Authorization: Bearer <JWT>`; `exp` and `jti` are required (a `jti` is accepted once, kept
//! until its `exp`; `exp` has the reference's 60 s of leeway); with an expiring time, `exp - iat`
//! must equal it; with `verify_upload`, the claims `epochs` or `max_epochs`, `size` or
//! `max_size`, and `send_object_to` bound the request. Errors carry the reference's reasons and
//! statuses in its domain `auth.publisher.walrus.space`.
//!
//! Algorithms: HS256, HS384 and HS512 (HMAC on `sha2`), and EdDSA (Ed25519, the key being the
//! 32-byte public key). The reference's ES, RS and PS families are refused at start-up: they
//! would need ECDSA and RSA implementations this project does not carry yet.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{header, HeaderMap, StatusCode};
use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest, Sha256, Sha384, Sha512};
use walrus_core::keys::{Ed25519PublicKey, Ed25519Signature};

use crate::GatewayError;

/// The reference publisher's authentication error domain.
pub const AUTH_DOMAIN: &str = "auth.publisher.walrus.space";
/// Seconds an expired `exp` is still accepted (the reference's `jsonwebtoken` default).
pub const EXP_LEEWAY_SECS: u64 = 60;

/// A JWT signature algorithm this publisher verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256 (the default).
    Hs256,
    /// HMAC with SHA-384.
    Hs384,
    /// HMAC with SHA-512.
    Hs512,
    /// Ed25519.
    EdDsa,
}

impl JwtAlgorithm {
    /// The name in a token's header.
    pub fn name(self) -> &'static str {
        match self {
            JwtAlgorithm::Hs256 => "HS256",
            JwtAlgorithm::Hs384 => "HS384",
            JwtAlgorithm::Hs512 => "HS512",
            JwtAlgorithm::EdDsa => "EdDSA",
        }
    }
}

impl FromStr for JwtAlgorithm {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "HS256" => Ok(JwtAlgorithm::Hs256),
            "HS384" => Ok(JwtAlgorithm::Hs384),
            "HS512" => Ok(JwtAlgorithm::Hs512),
            "EdDSA" => Ok(JwtAlgorithm::EdDsa),
            "ES256" | "ES384" | "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" => {
                Err(format!("JWT algorithm {text} is not supported here (HS256, HS384, HS512 and EdDSA are)"))
            }
            _ => Err(format!("unknown JWT algorithm {text:?}")),
        }
    }
}

/// How tokens are checked.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// The signature algorithm.
    pub algorithm: JwtAlgorithm,
    /// The decoding key: the HMAC secret, or the Ed25519 public key (32 bytes).
    pub key: Vec<u8>,
    /// Check the request against the token's upload claims.
    pub verify_upload: bool,
    /// If set, tokens must carry `iat` with `exp - iat` equal to this many seconds.
    pub expiring_secs: Option<u64>,
    /// Most unexpired `jti`s remembered; beyond, new tokens are refused until some expire.
    pub replay_cache_max: usize,
}

impl JwtConfig {
    /// HS256 with `secret`, upload claims checked, 100 000 remembered tokens.
    pub fn new(secret: Vec<u8>) -> Self {
        JwtConfig {
            algorithm: JwtAlgorithm::Hs256,
            key: secret,
            verify_upload: true,
            expiring_secs: None,
            replay_cache_max: 100_000,
        }
    }

    /// `algorithm` with the key as the reference reads `--jwt-decode-secret`: hex after `0x`,
    /// else the text's bytes.
    pub fn from_secret_text(algorithm: JwtAlgorithm, text: &str) -> Result<Self, String> {
        let key = match text.strip_prefix("0x") {
            Some(hex_text) => hex::decode(hex_text).map_err(|e| format!("the JWT secret is not hex: {e}"))?,
            None => text.as_bytes().to_vec(),
        };
        if algorithm == JwtAlgorithm::EdDsa && key.len() != 32 {
            return Err(format!("an EdDSA key is a 32-byte Ed25519 public key, not {} bytes", key.len()));
        }
        Ok(JwtConfig { algorithm, key, ..JwtConfig::new(Vec::new()) })
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

fn refused(status: StatusCode, reason: &'static str, message: impl ToString) -> GatewayError {
    GatewayError::new(status, reason, message).in_domain(AUTH_DOMAIN)
}

fn invalid_token(message: impl ToString) -> GatewayError {
    refused(StatusCode::BAD_REQUEST, "INVALID_TOKEN", message)
}

fn precondition(reason: &'static str, message: impl ToString) -> GatewayError {
    refused(StatusCode::BAD_REQUEST, reason, message)
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

    /// Accepts the request's token for `upload`, or says why not, as the reference does.
    pub(crate) fn check(&self, headers: &HeaderMap, upload: &Upload<'_>) -> Result<(), GatewayError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| invalid_token("this publisher needs `Authorization: Bearer <JWT>`"))?;
        let claims = self.verify(token.trim())?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if claims.exp.saturating_add(EXP_LEEWAY_SECS) < now {
            return Err(refused(StatusCode::GATEWAY_TIMEOUT, "EXPIRED_SIGNATURE", "the token has expired"));
        }
        if let Some(expiring) = self.config.expiring_secs {
            let iat = claims.iat.ok_or_else(|| invalid_token("the token has no `iat`"))?;
            if claims.exp.checked_sub(iat) != Some(expiring) {
                return Err(precondition(
                    "INVALID_EXPIRATION",
                    format!("the token must expire {expiring} s after it was issued"),
                ));
            }
        }
        if claims.size.is_some() && claims.max_size.is_some() {
            // The reference's reason code, spelled as it spells it.
            return Err(precondition("iNVALID_SIZES", "the token has both `size` and `max_size`"));
        }
        {
            let mut seen = self.seen.lock().map_err(|_| GatewayError::busy())?;
            seen.retain(|_, exp| exp.saturating_add(EXP_LEEWAY_SECS) >= now);
            if seen.contains_key(&claims.jti) {
                return Err(refused(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TOKEN_ALREADY_USED",
                    "the token was already used",
                ));
            }
            if seen.len() >= self.config.replay_cache_max {
                return Err(GatewayError::busy());
            }
            seen.insert(claims.jti.clone(), claims.exp);
        }
        if self.config.verify_upload {
            if let Err(e) = check_upload(&claims, upload) {
                // A refused request does not use the token up.
                if let Ok(mut seen) = self.seen.lock() {
                    seen.remove(&claims.jti);
                }
                return Err(e);
            }
        }
        Ok(())
    }

    fn verify(&self, token: &str) -> Result<Claims, GatewayError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid_token("the token is not a JWT (header.payload.signature)"));
        };
        let decode = |part: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| invalid_token("the token is not base64url"))
        };
        let header: serde_json::Value = serde_json::from_slice(&decode(header)?)
            .map_err(|_| invalid_token("the token's header is not JSON"))?;
        let algorithm = self.config.algorithm;
        if header["alg"] != algorithm.name() {
            return Err(invalid_token(format!(
                "algorithm {} is not accepted ({} is)",
                header["alg"],
                algorithm.name()
            )));
        }
        let signed = &token.as_bytes()[..token.len() - signature.len() - 1];
        let signature = decode(signature)?;
        let genuine = match algorithm {
            JwtAlgorithm::EdDsa => {
                let key = <[u8; 32]>::try_from(self.config.key.as_slice()).map(Ed25519PublicKey);
                let signature = <[u8; 64]>::try_from(signature.as_slice()).map(Ed25519Signature);
                matches!((key, signature), (Ok(key), Ok(signature)) if key.verify(signed, &signature).is_ok())
            }
            hs => constant_time_eq(&signature, &hmac(hs, &self.config.key, signed)),
        };
        if !genuine {
            return Err(refused(
                StatusCode::UNAUTHORIZED,
                "INVALID_SIGNATURE",
                "the token's signature does not verify",
            ));
        }
        serde_json::from_slice(&decode(payload)?)
            .map_err(|e| invalid_token(format!("the token's claims are invalid: {e}")))
    }
}

fn check_upload(claims: &Claims, upload: &Upload<'_>) -> Result<(), GatewayError> {
    if claims.max_size.is_some_and(|max| upload.size > max) {
        return Err(precondition(
            "MAX_SIZE_EXCEEDED",
            format!("the token allows at most {:?} bytes", claims.max_size),
        ));
    }
    if claims.size.is_some_and(|size| upload.size != size) {
        return Err(precondition(
            "SIZE_INCORRECT",
            format!("the token is for a blob of {:?} bytes", claims.size),
        ));
    }
    match (claims.epochs, claims.max_epochs) {
        (Some(epochs), None) if epochs != upload.epochs => {
            return Err(precondition("INVALID_EPOCHS", format!("the token is for epochs = {epochs}")));
        }
        (None, Some(max)) if upload.epochs > max => {
            return Err(precondition("EPOCHS_ABOVE_MAX", format!("the token allows at most {max} epochs")));
        }
        (Some(_), Some(_)) => {
            return Err(precondition("INVALID_EPOCHS", "the token has both `epochs` and `max_epochs`"));
        }
        _ => {}
    }
    match (claims.send_object_to.as_deref(), upload.send_object_to) {
        (Some(expected), Some(actual)) if expected != actual => {
            Err(precondition("INVALID_SEND_OBJECT_TO", "send_object_to does not match the token"))
        }
        (Some(_), None) => Err(precondition("MISSING_SEND_OBJECT_TO", "the token requires send_object_to")),
        _ => Ok(()),
    }
}

/// A JWT of `claims` with header `alg`, signed by `sign` over `header.payload`.
pub fn token(alg: &str, claims: &serde_json::Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let header = serde_json::json!({ "alg": alg, "typ": "JWT" }).to_string();
    let signed = format!("{}.{}", encode(header.as_bytes()), encode(claims.to_string().as_bytes()));
    let signature = encode(&sign(signed.as_bytes()));
    format!("{signed}.{signature}")
}

/// An HS256 JWT of `claims`, signed with `secret` (for issuing tokens to uploaders, and tests).
pub fn hs256_token(secret: &[u8], claims: &serde_json::Value) -> String {
    token("HS256", claims, |signed| hmac(JwtAlgorithm::Hs256, secret, signed))
}

/// HMAC (RFC 2104) with the hash of an HS algorithm (EdDSA has none: empty).
pub fn hmac(algorithm: JwtAlgorithm, key: &[u8], message: &[u8]) -> Vec<u8> {
    match algorithm {
        JwtAlgorithm::Hs256 => hmac_with::<Sha256>(64, key, message),
        JwtAlgorithm::Hs384 => hmac_with::<Sha384>(128, key, message),
        JwtAlgorithm::Hs512 => hmac_with::<Sha512>(128, key, message),
        JwtAlgorithm::EdDsa => Vec::new(),
    }
}

fn hmac_with<D: Digest>(block: usize, key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut padded = vec![0u8; block];
    if key.len() > block {
        let digest = D::digest(key);
        padded[..digest.len()].copy_from_slice(&digest);
    } else {
        padded[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| padded.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = D::new().chain_update(pad(0x36)).chain_update(message).finalize();
    D::new().chain_update(pad(0x5c)).chain_update(inner).finalize().to_vec()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex_of(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2, every hash.
        let (key, message) = (b"Jefe".as_slice(), b"what do ya want for nothing?".as_slice());
        assert_eq!(
            hex_of(&hmac(JwtAlgorithm::Hs256, key, message)),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex_of(&hmac(JwtAlgorithm::Hs384, key, message)),
            "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e\
             8e2240ca5e69e2c78b3239ecfab21649"
        );
        assert_eq!(
            hex_of(&hmac(JwtAlgorithm::Hs512, key, message)),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
             9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
        // Test case 6: a key longer than the block is hashed first.
        let long_key = [0xaa; 131];
        assert_eq!(
            hex_of(&hmac(
                JwtAlgorithm::Hs384,
                &long_key,
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6\
             0c2ef6ab4030fe8296248df163f44952"
        );
    }

    #[test]
    fn algorithms_parse_as_the_reference_names_them() {
        assert_eq!("HS512".parse::<JwtAlgorithm>(), Ok(JwtAlgorithm::Hs512));
        assert_eq!("EdDSA".parse::<JwtAlgorithm>(), Ok(JwtAlgorithm::EdDsa));
        assert!("RS256".parse::<JwtAlgorithm>().expect_err("refused").contains("not supported"));
        assert!("none".parse::<JwtAlgorithm>().is_err());
        let hex = JwtConfig::from_secret_text(JwtAlgorithm::Hs256, "0x00ff").expect("hex");
        assert_eq!(hex.key, vec![0, 0xff]);
        assert_eq!(JwtConfig::from_secret_text(JwtAlgorithm::Hs256, "plain").expect("text").key, b"plain");
        assert!(JwtConfig::from_secret_text(JwtAlgorithm::EdDsa, "short").is_err());
    }
}
