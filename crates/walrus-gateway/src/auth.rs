//! Optional JWT authentication of the publisher, as the reference's (`--jwt-decode-secret`,
//! `--jwt-algorithm`, `--jwt-expiring-sec`, `--jwt-verify-upload`): stores carry
//! `Authorization: Bearer <JWT>`; `exp` and `jti` are required (a `jti` is accepted once, kept
//! until its `exp`; `exp` has the reference's 60 s of leeway); with an expiring time, `exp - iat`
//! must equal it; with `verify_upload`, the claims `epochs` or `max_epochs`, `size` or
//! `max_size`, and `send_object_to` bound the request. Errors carry the reference's reasons and
//! statuses in its domain `auth.publisher.walrus.space`.
//!
//! Algorithms: every one the reference takes, verified by `ring` as the reference's
//! `jsonwebtoken` does, with the key read from `--jwt-decode-secret` as the reference reads it:
//!
//! - HS256, HS384, HS512: HMAC; the key is the secret;
//! - EdDSA: Ed25519; the key is the raw 32-byte public key;
//! - ES256, ES384: ECDSA on P-256 / P-384 with SHA-256 / SHA-384, signatures `r || s`; the key
//!   is the SEC1 uncompressed point `04 || x || y` (what `jsonwebtoken`'s `from_ec_der` hands
//!   to `ring`);
//! - RS256, RS384, RS512 (RSASSA-PKCS1-v1_5) and PS256, PS384, PS512 (RSASSA-PSS, salt as long
//!   as the digest): the key is a PKCS#1 `RSAPublicKey` in DER with a 2048- to 8192-bit modulus.
//!
//! Keys are checked for their form when the configuration is made (length and prefix of a
//! point, the DER structure, modulus size and exponent of an RSA key), so most wrong keys stop
//! the publisher at start-up rather than refusing every token; a point off its curve is only
//! found by the first signature it fails to verify. As in the reference, authentication without a
//! key (only `--jwt-expiring-sec` or `--jwt-verify-upload`) checks the claims but no signature.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{header, HeaderMap, StatusCode};
use base64::Engine as _;
use ring::{hmac, signature};
use serde::Deserialize;
use walrus_core::keys::Address;

use crate::GatewayError;

/// The reference publisher's authentication error domain.
pub const AUTH_DOMAIN: &str = "auth.publisher.walrus.space";
/// Seconds an expired `exp` is still accepted (the reference's `jsonwebtoken` default).
pub const EXP_LEEWAY_SECS: u64 = 60;

/// A JWT signature algorithm, as the reference's `--jwt-algorithm` names them.
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
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// ECDSA on P-384 with SHA-384.
    Es384,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
}

impl JwtAlgorithm {
    /// Every algorithm.
    pub const ALL: [JwtAlgorithm; 12] = [
        JwtAlgorithm::Hs256,
        JwtAlgorithm::Hs384,
        JwtAlgorithm::Hs512,
        JwtAlgorithm::EdDsa,
        JwtAlgorithm::Es256,
        JwtAlgorithm::Es384,
        JwtAlgorithm::Rs256,
        JwtAlgorithm::Rs384,
        JwtAlgorithm::Rs512,
        JwtAlgorithm::Ps256,
        JwtAlgorithm::Ps384,
        JwtAlgorithm::Ps512,
    ];

    /// The name in a token's header.
    pub fn name(self) -> &'static str {
        match self {
            JwtAlgorithm::Hs256 => "HS256",
            JwtAlgorithm::Hs384 => "HS384",
            JwtAlgorithm::Hs512 => "HS512",
            JwtAlgorithm::EdDsa => "EdDSA",
            JwtAlgorithm::Es256 => "ES256",
            JwtAlgorithm::Es384 => "ES384",
            JwtAlgorithm::Rs256 => "RS256",
            JwtAlgorithm::Rs384 => "RS384",
            JwtAlgorithm::Rs512 => "RS512",
            JwtAlgorithm::Ps256 => "PS256",
            JwtAlgorithm::Ps384 => "PS384",
            JwtAlgorithm::Ps512 => "PS512",
        }
    }

    /// The HMAC of an HS algorithm, or the public-key algorithm of the others.
    fn scheme(self) -> Result<hmac::Algorithm, &'static dyn signature::VerificationAlgorithm> {
        match self {
            JwtAlgorithm::Hs256 => Ok(hmac::HMAC_SHA256),
            JwtAlgorithm::Hs384 => Ok(hmac::HMAC_SHA384),
            JwtAlgorithm::Hs512 => Ok(hmac::HMAC_SHA512),
            JwtAlgorithm::EdDsa => Err(&signature::ED25519),
            JwtAlgorithm::Es256 => Err(&signature::ECDSA_P256_SHA256_FIXED),
            JwtAlgorithm::Es384 => Err(&signature::ECDSA_P384_SHA384_FIXED),
            JwtAlgorithm::Rs256 => Err(&signature::RSA_PKCS1_2048_8192_SHA256),
            JwtAlgorithm::Rs384 => Err(&signature::RSA_PKCS1_2048_8192_SHA384),
            JwtAlgorithm::Rs512 => Err(&signature::RSA_PKCS1_2048_8192_SHA512),
            JwtAlgorithm::Ps256 => Err(&signature::RSA_PSS_2048_8192_SHA256),
            JwtAlgorithm::Ps384 => Err(&signature::RSA_PSS_2048_8192_SHA384),
            JwtAlgorithm::Ps512 => Err(&signature::RSA_PSS_2048_8192_SHA512),
        }
    }

    /// Whether `signature` over `message` verifies under `key`.
    fn verifies(self, key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        match self.scheme() {
            Ok(mac) => hmac::verify(&hmac::Key::new(mac, key), message, signature).is_ok(),
            Err(public) => signature::UnparsedPublicKey::new(public, key).verify(message, signature).is_ok(),
        }
    }

    /// Checks that `key` has the form this algorithm's keys take.
    fn check_key(self, key: &[u8]) -> Result<(), String> {
        let name = self.name();
        match self {
            JwtAlgorithm::Hs256 | JwtAlgorithm::Hs384 | JwtAlgorithm::Hs512 if key.is_empty() => {
                Err(format!("the {name} secret is empty"))
            }
            JwtAlgorithm::Hs256 | JwtAlgorithm::Hs384 | JwtAlgorithm::Hs512 => Ok(()),
            JwtAlgorithm::EdDsa if key.len() != 32 => {
                Err(format!("an EdDSA key is a 32-byte Ed25519 public key, not {} bytes", key.len()))
            }
            JwtAlgorithm::EdDsa => Ok(()),
            JwtAlgorithm::Es256 | JwtAlgorithm::Es384 => {
                let coordinate = if self == JwtAlgorithm::Es256 { 32 } else { 48 };
                if key.len() == 1 + 2 * coordinate && key[0] == 4 {
                    Ok(())
                } else {
                    Err(format!(
                        "an {name} key is the uncompressed point 04 || x || y ({} bytes), not {} bytes \
                         starting {:#04x}",
                        1 + 2 * coordinate,
                        key.len(),
                        key.first().copied().unwrap_or(0)
                    ))
                }
            }
            _ => {
                let bits = rsa_public_key_bits(key).ok_or_else(|| {
                    format!("an {name} key is a PKCS#1 RSAPublicKey in DER, which this is not")
                })?;
                if (2048..=8192).contains(&bits) {
                    Ok(())
                } else {
                    Err(format!("an {name} key has a 2048- to 8192-bit modulus, not {bits} bits"))
                }
            }
        }
    }
}

impl FromStr for JwtAlgorithm {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        JwtAlgorithm::ALL.into_iter().find(|algorithm| algorithm.name() == text).ok_or_else(|| {
            let names: Vec<&str> = JwtAlgorithm::ALL.iter().map(|a| a.name()).collect();
            format!("unknown JWT algorithm {text:?} (one of {})", names.join(", "))
        })
    }
}

/// One DER element of `tag` at the start of `input`: its contents and what follows it.
fn der_element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = input.split_first()?;
    let (&length, rest) = rest.split_first()?;
    if first != tag {
        return None;
    }
    let (length, rest) = match length {
        0..=0x7f => (usize::from(length), rest),
        0x81..=0x84 => {
            let count = usize::from(length & 0x7f);
            let (bytes, rest) = (rest.get(..count)?, rest.get(count..)?);
            // DER: the shortest form, no leading zero bytes.
            let value = bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            if bytes[0] == 0 || value < 0x80 {
                return None;
            }
            (value, rest)
        }
        _ => return None,
    };
    Some((rest.get(..length)?, rest.get(length..)?))
}

/// The modulus size in bits of a PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER,
/// publicExponent INTEGER }` in DER, if that is what `der` is, both integers positive and the
/// modulus odd and the exponent odd, at least 3 and at most 33 bits (as `ring` requires).
fn rsa_public_key_bits(der: &[u8]) -> Option<usize> {
    let (sequence, trailing) = der_element(der, 0x30)?;
    let (modulus, rest) = der_element(sequence, 0x02)?;
    let (exponent, rest) = der_element(rest, 0x02)?;
    if !trailing.is_empty() || !rest.is_empty() {
        return None;
    }
    let positive = |integer: &[u8]| -> Option<Vec<u8>> {
        match integer {
            [] => None,
            [0, next, ..] if *next < 0x80 => None,
            [0, rest @ ..] => Some(rest.to_vec()),
            [first, ..] if *first >= 0x80 => None,
            all => Some(all.to_vec()),
        }
    };
    let (modulus, exponent) = (positive(modulus)?, positive(exponent)?);
    let bits = |n: &[u8]| n.first().map_or(0, |top| n.len() * 8 - top.leading_zeros() as usize);
    let odd = |n: &[u8]| n.last().is_some_and(|low| low & 1 == 1);
    (odd(&modulus) && odd(&exponent) && bits(&exponent) <= 33 && exponent != [1]).then(|| bits(&modulus))
}

/// How tokens are checked.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// The signature algorithm.
    pub algorithm: JwtAlgorithm,
    /// The decoding key (see the module's documentation for its form per algorithm); without
    /// one, as in the reference, signatures are not checked, only the claims.
    pub key: Option<Vec<u8>>,
    /// Check the request against the token's upload claims.
    pub verify_upload: bool,
    /// If set, tokens must carry `iat` with `exp - iat` equal to this many seconds.
    pub expiring_secs: Option<u64>,
    /// Most unexpired `jti`s remembered; beyond, new tokens are refused until some expire.
    pub replay_cache_max: usize,
    /// How often the remembered `jti`s of expired tokens are let go (the reference's
    /// `--jwt-cache-refresh-interval`); zero: at every request.
    pub cache_refresh: std::time::Duration,
}

impl JwtConfig {
    /// HS256 with `secret`, upload claims checked, 100 000 remembered tokens.
    pub fn new(secret: Vec<u8>) -> Self {
        JwtConfig {
            algorithm: JwtAlgorithm::Hs256,
            key: Some(secret),
            verify_upload: true,
            expiring_secs: None,
            replay_cache_max: 100_000,
            cache_refresh: std::time::Duration::from_secs(5),
        }
    }

    /// `algorithm` with the key as the reference reads `--jwt-decode-secret` (hex after `0x`,
    /// else the text's bytes), refused unless it has the form the algorithm's keys take.
    pub fn from_secret_text(algorithm: JwtAlgorithm, text: &str) -> Result<Self, String> {
        let key = match text.strip_prefix("0x") {
            Some(hex_text) => hex::decode(hex_text).map_err(|e| format!("the JWT secret is not hex: {e}"))?,
            None => text.as_bytes().to_vec(),
        };
        algorithm.check_key(&key)?;
        Ok(JwtConfig { algorithm, key: Some(key), ..JwtConfig::new(Vec::new()) })
    }

    /// Claims checked, signatures not (the reference's mode without `--jwt-decode-secret`).
    pub fn without_key() -> Self {
        JwtConfig { key: None, ..JwtConfig::new(Vec::new()) }
    }
}

/// The claims the publisher reads.
#[derive(Debug, Deserialize)]
struct Claims {
    exp: u64,
    jti: String,
    #[serde(default)]
    iat: Option<u64>,
    /// Refused if present: the publisher has no audience (as `jsonwebtoken` by default).
    #[serde(default)]
    aud: Option<serde_json::Value>,
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
pub(crate) struct Upload {
    pub(crate) epochs: u32,
    pub(crate) size: u64,
    pub(crate) send_object_to: Option<Address>,
}

fn refused(status: StatusCode, reason: &'static str, message: impl ToString) -> GatewayError {
    GatewayError::new(status, reason, message).in_domain(AUTH_DOMAIN)
}

fn invalid_token(message: impl ToString) -> GatewayError {
    precondition("INVALID_TOKEN", message)
}

/// The reference's `FailedPrecondition`: 400, with the body's status `FAILED_PRECONDITION`.
fn precondition(reason: &'static str, message: impl ToString) -> GatewayError {
    refused(StatusCode::BAD_REQUEST, reason, message).named("FAILED_PRECONDITION")
}

/// Checks tokens and remembers the `jti`s it accepted.
#[derive(Debug)]
pub(crate) struct Authenticator {
    config: JwtConfig,
    /// The `jti`s used, with their tokens' `exp`, and when the expired ones were last let go.
    seen: Mutex<(BTreeMap<String, u64>, Option<std::time::Instant>)>,
}

impl Authenticator {
    pub(crate) fn new(config: JwtConfig) -> Self {
        Authenticator { config, seen: Mutex::new((BTreeMap::new(), None)) }
    }

    /// Accepts the request's token for `upload`, or says why not, as the reference does.
    pub(crate) fn check(&self, headers: &HeaderMap, upload: &Upload) -> Result<(), GatewayError> {
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
            let mut guard = self.seen.lock().map_err(|_| GatewayError::busy())?;
            let (seen, purged) = &mut *guard;
            // Letting go of expired tokens walks them all: at most once per refresh interval.
            if purged.is_none_or(|at| at.elapsed() >= self.config.cache_refresh)
                || seen.len() >= self.config.replay_cache_max
            {
                seen.retain(|_, exp| exp.saturating_add(EXP_LEEWAY_SECS) >= now);
                *purged = Some(std::time::Instant::now());
            }
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
                    seen.0.remove(&claims.jti);
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
        if let Some(key) = &self.config.key {
            let algorithm = self.config.algorithm;
            if header["alg"] != algorithm.name() {
                return Err(invalid_token(format!(
                    "algorithm {} is not accepted ({} is)",
                    header["alg"],
                    algorithm.name()
                )));
            }
            let signed = &token.as_bytes()[..token.len() - signature.len() - 1];
            if !algorithm.verifies(key, signed, &decode(signature)?) {
                return Err(refused(
                    StatusCode::UNAUTHORIZED,
                    "INVALID_SIGNATURE",
                    "the token's signature does not verify",
                ));
            }
        }
        let claims: Claims = serde_json::from_slice(&decode(payload)?)
            .map_err(|e| invalid_token(format!("the token's claims are invalid: {e}")))?;
        if claims.aud.is_some() {
            return Err(invalid_token("the token names an audience (`aud`); this publisher has none"));
        }
        Ok(claims)
    }
}

fn check_upload(claims: &Claims, upload: &Upload) -> Result<(), GatewayError> {
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
    // Compared as addresses (the reference's `SuiAddress`), not as text.
    let expected: Option<Address> = match claims.send_object_to.as_deref() {
        Some(text) => Some(
            text.parse().map_err(|_| invalid_token(format!("send_object_to {text:?} is not an address")))?,
        ),
        None => None,
    };
    match (expected, upload.send_object_to) {
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
    token("HS256", claims, |signed| {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), signed).as_ref().to_vec()
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use serde_json::Value;

    use super::*;

    /// Tokens signed by Node.js's crypto (OpenSSL) for every algorithm, by
    /// `scripts/gen-jwt-vectors.mjs`.
    fn vectors() -> Value {
        serde_json::from_str(include_str!("../tests/vectors/jwt.json")).expect("JSON")
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers
            .insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).expect("value"));
        headers
    }

    const UPLOAD: Upload = Upload { epochs: 2, size: 1000, send_object_to: None };

    fn outcome(authenticator: &Authenticator, token: &str) -> Result<(), (u16, &'static str)> {
        authenticator.check(&bearer(token), &UPLOAD).map_err(|e| (e.status.as_u16(), e.reason))
    }

    #[test]
    fn every_algorithm_verifies_tokens_signed_by_openssl() {
        let vectors = vectors();
        let cases = vectors["cases"].as_array().expect("cases");
        assert_eq!(cases.len(), JwtAlgorithm::ALL.len());
        for case in cases {
            let text = |key: &str| case[key].as_str().expect("text").to_string();
            let algorithm: JwtAlgorithm = text("alg").parse().expect("algorithm");
            let config = JwtConfig::from_secret_text(algorithm, &text("secret")).expect("the key is taken");
            let authenticator = Authenticator::new(config);
            let name = algorithm.name();
            assert_eq!(outcome(&authenticator, &text("forged")), Err((401, "INVALID_SIGNATURE")), "{name}");
            let valid = text("valid");
            // One byte of the claims changed: the signature no longer covers them.
            let (signed, signature) = valid.rsplit_once('.').expect("three parts");
            let claims = case["claims"].to_string().replace("\"epochs\":2", "\"epochs\":3");
            let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
            let header = signed.split('.').next().expect("header");
            let altered = format!("{header}.{}.{signature}", encode(claims.as_bytes()));
            assert_eq!(outcome(&authenticator, &altered), Err((401, "INVALID_SIGNATURE")), "{name}");
            assert_eq!(outcome(&authenticator, &valid), Ok(()), "{name}");
            assert_eq!(outcome(&authenticator, &valid), Err((429, "TOKEN_ALREADY_USED")), "{name}");
            // Another algorithm's token is refused before its signature is looked at.
            let other = &cases[(cases.iter().position(|c| c == case).expect("found") + 1) % cases.len()];
            let other = other["valid"].as_str().expect("token");
            assert_eq!(outcome(&authenticator, other), Err((400, "INVALID_TOKEN")), "{name}");
        }
    }

    #[test]
    fn keys_of_the_wrong_form_are_refused_at_start_up() {
        let vectors = vectors();
        let weak = vectors["weak_rsa"]["secret"].as_str().expect("secret");
        let refused = JwtConfig::from_secret_text(JwtAlgorithm::Rs256, weak).expect_err("1024 bits");
        assert!(refused.contains("not 1024 bits"), "{refused}");
        let es256 = vectors["cases"][4]["secret"].as_str().expect("secret");
        assert!(JwtConfig::from_secret_text(JwtAlgorithm::Es256, es256).is_ok());
        // The same point for the other curve, compressed, or as text: refused.
        assert!(JwtConfig::from_secret_text(JwtAlgorithm::Es384, es256).is_err());
        let compressed = format!("0x02{}", &es256[4..68]);
        assert!(JwtConfig::from_secret_text(JwtAlgorithm::Es256, &compressed).is_err());
        assert!(JwtConfig::from_secret_text(JwtAlgorithm::Ps256, es256).expect_err("EC").contains("PKCS#1"));
        assert!(JwtConfig::from_secret_text(JwtAlgorithm::Rs256, "plain text").is_err());
        assert!(JwtConfig::from_secret_text(JwtAlgorithm::EdDsa, "short").is_err());
        assert!(JwtConfig::from_secret_text(JwtAlgorithm::Hs256, "").is_err());
        assert!(JwtConfig::from_secret_text(JwtAlgorithm::Hs256, "0xzz").is_err());
        assert_eq!(
            JwtConfig::from_secret_text(JwtAlgorithm::Hs256, "0x00ff").expect("hex").key,
            Some(vec![0, 0xff])
        );
        assert_eq!(
            JwtConfig::from_secret_text(JwtAlgorithm::Hs256, "plain").expect("text").key,
            Some(b"plain".to_vec())
        );
        // A DER length in long form that should have been short, and trailing bytes.
        let rsa = vectors["cases"][6]["secret"].as_str().expect("secret");
        assert!(JwtConfig::from_secret_text(JwtAlgorithm::Rs256, &format!("{rsa}00")).is_err());
        assert_eq!(der_element(&[0x02, 0x81, 0x05, 1, 2, 3, 4, 5], 0x02), None);
        assert_eq!(der_element(&[0x02, 0x81, 0x80], 0x02), None);
    }

    #[test]
    fn algorithms_parse_as_the_reference_names_them() {
        for algorithm in JwtAlgorithm::ALL {
            assert_eq!(algorithm.name().parse::<JwtAlgorithm>(), Ok(algorithm));
        }
        assert!("none".parse::<JwtAlgorithm>().expect_err("refused").contains("PS512"));
        assert!("hs256".parse::<JwtAlgorithm>().is_err());
    }

    #[test]
    fn without_a_key_the_claims_are_checked_but_no_signature() {
        let authenticator = Authenticator::new(JwtConfig::without_key());
        let unsigned = |claims: Value| token("none", &claims, |_| b"no signature".to_vec());
        let far = 33_292_598_400u64;
        assert_eq!(outcome(&authenticator, &unsigned(serde_json::json!({ "exp": far, "jti": "a" }))), Ok(()));
        let capped = unsigned(serde_json::json!({ "exp": far, "jti": "b", "max_epochs": 1 }));
        assert_eq!(outcome(&authenticator, &capped), Err((400, "EPOCHS_ABOVE_MAX")));
        let audience = unsigned(serde_json::json!({ "exp": far, "jti": "c", "aud": "someone" }));
        assert_eq!(outcome(&authenticator, &audience), Err((400, "INVALID_TOKEN")));
        let expired = unsigned(serde_json::json!({ "exp": 1000, "jti": "d" }));
        assert_eq!(outcome(&authenticator, &expired), Err((504, "EXPIRED_SIGNATURE")));
    }
}
