//! How a user asks a key server for keys, as Seal does it: the wallet signs a session key once
//! (a certificate: Seal's personal message, signed with Sui's personal-message intent), and
//! every request is signed by that session key. A request names the identity, the optional
//! subscription object that grants it, a fresh request ID and time (a key server refuses
//! replays), and an ephemeral X25519 key: the answer is the user secret key sealed to it with
//! AES-256-GCM under a key derived from the X25519 shared secret ([`seal_key`], [`open_key`]),
//! so that only the requester can read it. The X25519 exchange itself is the caller's (it
//! needs randomness); this module is pure.

use aes_gcm::aead::{Aead, KeyInit as _, Payload};
use aes_gcm::Aes256Gcm;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha3::{Digest as _, Sha3_256};
use walrus_core::hash::blake2b256_parts;
use walrus_core::keys::{Address, Ed25519KeyPair, Ed25519PublicKey, Ed25519Signature};
use walrus_core::ObjectId;

/// Longest session, in minutes (Seal's).
pub const SESSION_TTL_MIN_MAX: u32 = 30;
/// How far a request's time may be from the key server's clock.
pub const REQUEST_SKEW_MS: u64 = 60_000;
/// Longest identity a request names.
pub const REQUEST_IDENTITY_BYTES_MAX: usize = 32 + 1024;

/// Why a certificate or request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The wallet's signature over the session key does not verify, or is not the user's.
    #[error("the session certificate's signature does not verify for {0}")]
    BadCertificate(Address),
    /// The session is over (or starts in the future).
    #[error("the session expired (or has not started): created {creation_ms} ms for {ttl_min} min, now {now_ms} ms")]
    Expired {
        /// When it was created.
        creation_ms: u64,
        /// How long it lasts.
        ttl_min: u32,
        /// The key server's clock.
        now_ms: u64,
    },
    /// A session of more than [`SESSION_TTL_MIN_MAX`] minutes, or none.
    #[error("a session lasts 1 to 30 minutes")]
    BadTtl,
    /// The certificate is for another package (chain).
    #[error("the session is for another package")]
    WrongPackage,
    /// The session key's signature over the request does not verify.
    #[error("the request's signature does not verify")]
    BadRequestSignature,
    /// The request's time is too far from the key server's clock.
    #[error("the request's time is more than 60 s from the key server's clock")]
    Stale,
}

/// The wallet's authorization of a session key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// The user.
    pub user: Address,
    /// The wallet's public key (its address must be `user`).
    pub wallet_key: Ed25519PublicKey,
    /// The session's key.
    pub session_key: Ed25519PublicKey,
    /// The package (here: the chain) the session is for.
    #[serde(with = "walrus_core::hash::hex_digest")]
    pub package_id: [u8; 32],
    /// When it was made (ms since the Unix epoch).
    pub creation_ms: u64,
    /// How long it lasts, in minutes.
    pub ttl_min: u32,
    /// The wallet's signature over [`personal_message`], with Sui's personal-message intent.
    pub signature: Ed25519Signature,
}

/// Seal's personal message: what the wallet signs to authorize a session key.
pub fn personal_message(
    package_id: &[u8; 32],
    ttl_min: u32,
    creation_ms: u64,
    session_key: &Ed25519PublicKey,
) -> String {
    let seconds = creation_ms / 1000;
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "Accessing keys of package 0x{} for {ttl_min} mins from {year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC, session key {}",
        hex::encode(package_id),
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        base64::engine::general_purpose::STANDARD.encode(session_key.0)
    )
}

/// What a Sui wallet signs for a personal message: `Blake2b-256([3, 0, 0] || ULEB128(len) || msg)`.
pub fn personal_message_digest(message: &str) -> [u8; 32] {
    let mut framed = Vec::with_capacity(message.len() + 5);
    walrus_core::sliver::push_uleb128(&mut framed, message.len());
    framed.extend_from_slice(message.as_bytes());
    blake2b256_parts(&[&[3, 0, 0], &framed])
}

impl Certificate {
    /// The wallet's certificate for `session_key`.
    pub fn sign(
        wallet: &Ed25519KeyPair,
        session_key: Ed25519PublicKey,
        package_id: [u8; 32],
        (creation_ms, ttl_min): (u64, u32),
    ) -> Certificate {
        let message = personal_message(&package_id, ttl_min, creation_ms, &session_key);
        let signature = wallet.sign(&personal_message_digest(&message));
        Certificate {
            user: wallet.address(),
            wallet_key: wallet.public(),
            session_key,
            package_id,
            creation_ms,
            ttl_min,
            signature,
        }
    }

    /// Checks the signature, the package and that the session is live at `now_ms` (Seal ends
    /// it 10 s early).
    pub fn verify(&self, package_id: &[u8; 32], now_ms: u64) -> Result<(), SessionError> {
        if self.ttl_min == 0 || self.ttl_min > SESSION_TTL_MIN_MAX {
            return Err(SessionError::BadTtl);
        }
        if &self.package_id != package_id {
            return Err(SessionError::WrongPackage);
        }
        let message = personal_message(&self.package_id, self.ttl_min, self.creation_ms, &self.session_key);
        let genuine = Address::from_ed25519(&self.wallet_key) == self.user
            && self.wallet_key.verify(&personal_message_digest(&message), &self.signature).is_ok();
        if !genuine {
            return Err(SessionError::BadCertificate(self.user));
        }
        let ends = self.creation_ms.saturating_add(u64::from(self.ttl_min) * 60_000).saturating_sub(10_000);
        if now_ms < self.creation_ms.saturating_sub(REQUEST_SKEW_MS) || now_ms >= ends {
            return Err(SessionError::Expired {
                creation_ms: self.creation_ms,
                ttl_min: self.ttl_min,
                now_ms,
            });
        }
        Ok(())
    }
}

/// A request for the user secret key of one identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRequest {
    /// The identity (`policy ID || nonce`), hex.
    #[serde(with = "hex_bytes")]
    pub identity: Vec<u8>,
    /// The subscription that grants access, for a subscription policy.
    pub subscription: Option<ObjectId>,
    /// The requester's ephemeral X25519 public key.
    #[serde(with = "walrus_core::hash::hex_digest")]
    pub enc_key: [u8; 32],
    /// A fresh random ID (a key server answers each ID once).
    #[serde(with = "walrus_core::hash::hex_digest")]
    pub request_id: [u8; 32],
    /// When it was made (ms since the Unix epoch).
    pub timestamp_ms: u64,
    /// The session.
    pub certificate: Certificate,
    /// The session key's signature over [`KeyRequest::signing_bytes`].
    pub signature: Ed25519Signature,
}

impl KeyRequest {
    /// A request signed with the session's key.
    pub fn sign(
        session: &Ed25519KeyPair,
        certificate: Certificate,
        (identity, subscription): (Vec<u8>, Option<ObjectId>),
        (enc_key, request_id, timestamp_ms): ([u8; 32], [u8; 32], u64),
    ) -> KeyRequest {
        let mut request = KeyRequest {
            identity,
            subscription,
            enc_key,
            request_id,
            timestamp_ms,
            certificate,
            signature: Ed25519Signature([0; 64]),
        };
        request.signature = session.sign(&request.signing_bytes());
        request
    }

    /// What the session key signs: every field but the signature.
    pub fn signing_bytes(&self) -> [u8; 32] {
        let subscription = self.subscription.map(|s| s.0).unwrap_or_default();
        blake2b256_parts(&[
            b"walrus-seal/key-request/v1",
            &(self.identity.len() as u64).to_le_bytes(),
            &self.identity,
            &[u8::from(self.subscription.is_some())],
            &subscription,
            &self.enc_key,
            &self.request_id,
            &self.timestamp_ms.to_le_bytes(),
            &self.certificate.session_key.0,
        ])
    }

    /// Checks the certificate, the request's signature by its session key and its time.
    pub fn verify(&self, package_id: &[u8; 32], now_ms: u64) -> Result<(), SessionError> {
        self.certificate.verify(package_id, now_ms)?;
        let key = &self.certificate.session_key;
        key.verify(&self.signing_bytes(), &self.signature).map_err(|_| SessionError::BadRequestSignature)?;
        if self.timestamp_ms.abs_diff(now_ms) > REQUEST_SKEW_MS {
            return Err(SessionError::Stale);
        }
        Ok(())
    }
}

/// A key server's answer: its ephemeral X25519 key and the user secret key sealed to the
/// requester.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyResponse {
    /// The key server.
    pub key_server: ObjectId,
    /// Its ephemeral X25519 public key.
    #[serde(with = "walrus_core::hash::hex_digest")]
    pub server_key: [u8; 32],
    /// The 48-byte user secret key, sealed (64 bytes with the tag), hex.
    #[serde(with = "hex_bytes")]
    pub encrypted_key: Vec<u8>,
}

fn envelope_key(
    shared: &[u8],
    request: &KeyRequest,
    key_server: &ObjectId,
    server_key: &[u8; 32],
) -> [u8; 32] {
    Sha3_256::new()
        .chain_update(b"walrus-seal/key-response/v1")
        .chain_update(shared)
        .chain_update(request.enc_key)
        .chain_update(server_key)
        .chain_update(key_server.0)
        .chain_update(request.signing_bytes())
        .finalize()
        .into()
}

/// Seals `user_key` for the requester of `request` (`shared`: the X25519 shared secret).
pub fn seal_key(
    shared: &[u8],
    request: &KeyRequest,
    key_server: ObjectId,
    server_key: [u8; 32],
    user_key: &[u8; 48],
) -> KeyResponse {
    let cipher = Aes256Gcm::new((&envelope_key(shared, request, &key_server, &server_key)).into());
    let encrypted_key = cipher
        .encrypt(&[0u8; 12].into(), Payload { msg: user_key, aad: &key_server.0 })
        .expect("AES-GCM seals 48 bytes");
    KeyResponse { key_server, server_key, encrypted_key }
}

/// Opens an answer to `request` (`shared`: the X25519 shared secret); `None` if it was not
/// sealed for this request by this key server.
pub fn open_key(shared: &[u8], request: &KeyRequest, response: &KeyResponse) -> Option<[u8; 48]> {
    let key = envelope_key(shared, request, &response.key_server, &response.server_key);
    let cipher = Aes256Gcm::new((&key).into());
    let plain = cipher
        .decrypt(&[0u8; 12].into(), Payload { msg: &response.encrypted_key, aad: &response.key_server.0 })
        .ok()?;
    plain.try_into().ok()
}

/// Serde for byte vectors as hex text.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        let text = text.strip_prefix("0x").unwrap_or(&text);
        if text.len() > 2 * (super::REQUEST_IDENTITY_BYTES_MAX + 64) {
            return Err(serde::de::Error::custom("too long"));
        }
        hex::decode(text).map_err(|_| serde::de::Error::custom("not hex"))
    }
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_personal_message_reads_as_seals() {
        let key = Ed25519PublicKey([0xab; 32]);
        let message = personal_message(&[0x11; 32], 10, 1_733_486_400_123, &key);
        assert_eq!(
            message,
            format!(
                "Accessing keys of package 0x{} for 10 mins from 2024-12-06 12:00:00 UTC, session key q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=",
                "11".repeat(32)
            )
        );
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn certificates_and_requests_verify_and_refuse() {
        let wallet = Ed25519KeyPair::from_seed(&[1; 32]);
        let session = Ed25519KeyPair::from_seed(&[2; 32]);
        let package = [7u8; 32];
        let now = 1_800_000_000_000;
        let certificate = Certificate::sign(&wallet, session.public(), package, (now, 10));
        certificate.verify(&package, now + 1000).expect("live");
        assert_eq!(certificate.verify(&[8; 32], now), Err(SessionError::WrongPackage));
        assert!(matches!(certificate.verify(&package, now + 600_000), Err(SessionError::Expired { .. })));
        let mut forged = certificate.clone();
        forged.user = Ed25519KeyPair::from_seed(&[3; 32]).address();
        assert!(matches!(forged.verify(&package, now), Err(SessionError::BadCertificate(_))));
        let mut longer = certificate.clone();
        longer.ttl_min = 20;
        assert!(matches!(longer.verify(&package, now), Err(SessionError::BadCertificate(_))));

        let request =
            KeyRequest::sign(&session, certificate.clone(), (vec![5; 40], None), ([6; 32], [9; 32], now));
        request.verify(&package, now + 5).expect("valid");
        let mut other = request.clone();
        other.identity = vec![5; 41];
        assert_eq!(other.verify(&package, now), Err(SessionError::BadRequestSignature));
        assert_eq!(request.verify(&package, now + 120_000), Err(SessionError::Stale));
        let stranger = Ed25519KeyPair::from_seed(&[4; 32]);
        let signed_by_stranger =
            KeyRequest::sign(&stranger, certificate, (vec![5; 40], None), ([6; 32], [9; 32], now));
        assert_eq!(signed_by_stranger.verify(&package, now), Err(SessionError::BadRequestSignature));
        let json = serde_json::to_string(&request).expect("JSON");
        assert_eq!(serde_json::from_str::<KeyRequest>(&json).expect("parses"), request);
    }

    #[test]
    fn a_sealed_key_opens_only_for_its_request() {
        let wallet = Ed25519KeyPair::from_seed(&[1; 32]);
        let session = Ed25519KeyPair::from_seed(&[2; 32]);
        let certificate = Certificate::sign(&wallet, session.public(), [7; 32], (1000, 10));
        let request =
            KeyRequest::sign(&session, certificate.clone(), (vec![5; 40], None), ([6; 32], [9; 32], 1000));
        let response = seal_key(b"shared secret", &request, ObjectId([4; 32]), [8; 32], &[0x42; 48]);
        assert_eq!(open_key(b"shared secret", &request, &response), Some([0x42; 48]));
        assert_eq!(open_key(b"other secret", &request, &response), None);
        let replayed =
            KeyRequest::sign(&session, certificate, (vec![5; 40], None), ([6; 32], [10; 32], 1000));
        assert_eq!(open_key(b"shared secret", &replayed, &response), None);
        let mut moved = response.clone();
        moved.key_server = ObjectId([5; 32]);
        assert_eq!(open_key(b"shared secret", &request, &moved), None);
    }
}
